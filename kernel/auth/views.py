"""Pages about people and access: users, roles, one's own profile, API tokens, and the public pages a
mailed link opens (forgotten password, reset, invitation).

Every action here calls the same service function as its JSON API twin (``kernel.auth.users``,
``kernel.auth.services``, ``kernel.rbac.api``) with the same permission. Shell pages post with htmx:
invalid input comes back as the form with ``422`` and inline errors, other kernel errors become a
toast. The public pages are plain forms that work without JavaScript, checked for our own origin.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Request, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath
from litestar.response import Redirect, Response, Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.labels import action_label, field_label
from kernel.audit.models import AuditEntry
from kernel.audit.service import AuditFilter, list_entries
from kernel.auth import services, users
from kernel.auth.actor import Actor
from kernel.auth.api import _token_response, current_session_id
from kernel.auth.middleware import PUBLIC
from kernel.auth.models import ApiToken, User
from kernel.errors import Conflict, KernelError, NotFound, ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, N_, current_translator, gettext, ngettext
from kernel.rbac import api as roles_service
from kernel.rbac.guard import AUTHENTICATED, PERMISSION
from kernel.rbac.models import Role
from kernel.rbac.permissions import KERNEL, SYSTEM_ROLES, role_permissions
from kernel.tenancy.models import Organization
from kernel.web.listing import Listing
from kernel.web.nav import KERNEL_PAGES
from kernel.web.pages import auth_page, same_origin
from kernel.web.shell import FLASH_COOKIE, LANGUAGE_NAMES, field_errors, flash, form_values, fragment, hx_redirect, page

__all__ = ["ROUTES", "describe_user_agent", "permission_groups"]

USERS = f"{KERNEL_PAGES}/users"
ROLES = f"{KERNEL_PAGES}/roles"
PROFILE = f"{KERNEL_PAGES}/profile"
API_TOKENS = f"{KERNEL_PAGES}/api-tokens"

READ_USERS = {PERMISSION: "kernel.user.read"}
WRITE_USERS = {PERMISSION: "kernel.user.write"}
READ_ROLES = {PERMISSION: "kernel.role.read"}
WRITE_ROLES = {PERMISSION: "kernel.role.write"}
TOKENS = {PERMISSION: "kernel.api_token.write"}
SIGNED_IN = {AUTHENTICATED: True}
ENDS_SESSION = "ends_session"
"""Route flag: the route ends the caller's other sessions (the isolation walk keeps its token alive)."""

ACTIVITY_LIMIT = 30
FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

STATUS_LABELS = {"active": N_("Active"), "invited": N_("Invited"), "deactivated": N_("Deactivated")}
STATUS_BADGES = {"active": "success", "invited": "info", "deactivated": "danger"}
TOKEN_STATUS_LABELS = {"active": N_("Active"), "expired": N_("Expired"), "revoked": N_("Revoked")}
TOKEN_STATUS_BADGES = {"active": "success", "expired": "warning", "revoked": "danger"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
USER_SORTS = {
    "name": (func.lower(User.name), User.email),
    "email": User.email,
    # Never logged in counts as the oldest login: last when the newest come first.
    "last_login": (func.coalesce(User.last_login_at, _EPOCH), User.email),
    "created": (User.created_at, User.id),
}


# --- small helpers -------------------------------------------------------------------------------


def _actor(request: Request[Any, Any, Any]) -> Actor:
    return request.scope["user"]


def _trigger(message: str | None = None, kind: str = "success", *events: str) -> dict[str, str]:
    """An ``HX-Trigger`` header: an optional toast plus page events (``users-changed``...)."""
    payload: dict[str, Any] = {name: True for name in events}
    if message:
        payload["toast"] = {"kind": kind, "message": message}
    return {"HX-Trigger": json.dumps(payload, ensure_ascii=True)}


def _done(message: str, *events: str) -> Response[None]:
    """Nothing to swap: a toast, and events that make the page redraw what changed."""
    return Response(None, status_code=204, headers=_trigger(message, "success", *events))


def _params(exc: KernelError) -> dict[str, Any]:
    """The error's placeholders; ``count`` passed to a singular message lands on ``exc.count``, not params."""
    if exc.count is not None and exc.plural is None and "count" not in exc.params:
        return {**exc.params, "count": exc.count}
    return exc.params


def _say_error(exc: KernelError) -> str:
    if exc.plural is not None and exc.count is not None:
        return ngettext(exc.detail, exc.plural, exc.count, **exc.params)
    return gettext(exc.detail, **_params(exc))


def _errors(exc: ValidationFailed) -> dict[str, str]:
    """Translated messages per form field (see :func:`kernel.web.shell.field_errors`)."""
    exc.params = _params(exc)
    return field_errors(exc)


def _language_options() -> list[tuple[str, str]]:
    return [("", gettext("Organization default")), *LANGUAGE_NAMES.items()]


def _clean(value: str | None, limit: int = 300) -> str:
    return (value or "").strip()[:limit]


@dataclass(frozen=True)
class RoleChoice:
    id: UUID
    key: str
    name: str
    description: str
    is_system: bool


def _role_choice(role: Role) -> RoleChoice:
    if role.is_system:
        return RoleChoice(role.id, role.key, gettext(role.name), gettext(role.description), True)
    return RoleChoice(role.id, role.key, role.name, role.description, False)


_SYSTEM_ORDER = {system.key: rank for rank, system in enumerate(SYSTEM_ROLES)}


def _in_order(roles: Iterable[Role]) -> list[Role]:
    """System roles from the most to the least powerful, then custom roles by name."""
    return sorted(roles, key=lambda role: (not role.is_system, _SYSTEM_ORDER.get(role.key, 99), role.name.lower()))


async def _roles(session: AsyncSession) -> list[RoleChoice]:
    """The organization's roles, system ones first (in their translated names), then custom ones."""
    return [_role_choice(role) for role in _in_order((await session.execute(select(Role))).scalars())]


@dataclass(frozen=True)
class PermissionChoice:
    name: str
    description: str


@dataclass(frozen=True)
class PermissionGroup:
    plugin: str
    title: str
    enabled: bool
    """The organization has the module enabled (its permissions only take effect then)."""
    permissions: tuple[PermissionChoice, ...]


def permission_groups(request: Request[Any, Any, Any], *, within: Iterable[str] | None = None) -> list[PermissionGroup]:
    """Declared tenant permissions grouped by the plugin that declares them, in the reader's language.

    The kernel's group is "General"; each plugin's group carries its manifest title from its own
    catalog. ``within`` limits the choice (an API token can only hold what its creator holds).
    """
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    language = current_translator().language
    allowed = frozenset(within) if within is not None else None
    enabled = _actor(request).enabled_plugins
    grouped: dict[str, list[PermissionChoice]] = {}
    for name, (owner, perm) in sorted(kernel.registry.permissions.items()):
        if name.startswith("platform.") or (allowed is not None and name not in allowed):
            continue
        domains = (KERNEL_DOMAIN,) if owner == KERNEL else (owner, KERNEL_DOMAIN)
        grouped.setdefault(owner, []).append(
            PermissionChoice(name, catalogs.gettext(domains, language, perm.description))
        )
    groups = []
    for owner, choices in grouped.items():
        if owner == KERNEL:
            title = gettext("General")
        else:
            loaded = kernel.plugins.plugins.get(owner)
            msgid = loaded.manifest.title if loaded is not None and loaded.manifest.title else owner
            title = catalogs.gettext((owner, KERNEL_DOMAIN), language, msgid)
        groups.append(PermissionGroup(owner, title, owner == KERNEL or owner in enabled, tuple(choices)))
    # The kernel first, then the organization's modules, then the modules it has not enabled.
    return sorted(groups, key=lambda g: (g.plugin != KERNEL, not g.enabled, g.title.lower()))


_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)
_PROGRAM_RE = re.compile(r"^([A-Za-z][\w.-]{0,40})/[\d.]+")
_MOBILE_RE = re.compile(r"Mobile|Android|iPhone|iPad")


def describe_user_agent(user_agent: str | None) -> str:
    """A short, readable name for a device: "Chrome on Windows", "curl", or "Unknown device"."""
    if not user_agent:
        return gettext("Unknown device")
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return gettext("%(browser)s on %(system)s", browser=browser, system=system)
    if browser or system:
        return browser or system or ""
    program = _PROGRAM_RE.match(user_agent)
    return program.group(1) if program else gettext("Unknown device")


# --- users: list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserRow:
    user: User
    role: RoleChoice | None
    status: str


def _user_row(user: User, role: Role | None) -> UserRow:
    return UserRow(user, _role_choice(role) if role is not None else None, users.user_status(user))


def _invite_context(roles: Sequence[RoleChoice], values: dict[str, str] | None = None, errors: Any = None) -> dict:
    default_role = "operator" if any(r.key == "operator" for r in roles) else (roles[0].key if roles else "")
    return {
        "roles": roles,
        "role_options": [(role.key, role.name) for role in roles],
        "language_options": _language_options(),
        "values": values or {"email": "", "name": "", "role": default_role, "language": ""},
        "errors": errors or {},
    }


@get(USERS, opt=READ_USERS, include_in_schema=False)
async def users_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The users panel: search, role and status filters, sort and pages from the query string."""
    listing = Listing.from_request(
        request, sorts=tuple(USER_SORTS), default_sort="name", filters=("role", "status"), per_page=25
    )
    if listing.filters.get("status") not in (None, *users.USER_STATUSES):
        listing = replace(listing, filters={k: v for k, v in listing.filters.items() if k != "status"})
    statement = users.users_query(listing.q, listing.filters.get("role"), listing.filters.get("status"))
    rows, listing = await listing.fetch(db_session, statement, USER_SORTS)
    roles = await _roles(db_session)
    return page(
        request,
        "users/index.html",
        listing=listing,
        rows=[_user_row(user, role) for user, role in rows],
        statuses=[(key, gettext(label)) for key, label in STATUS_LABELS.items()],
        status_labels=STATUS_LABELS,
        status_badges=STATUS_BADGES,
        **_invite_context(roles),
    )


@post(f"{USERS}/invite", opt=WRITE_USERS, include_in_schema=False, status_code=200)
async def invite_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The invitation dialog's form: mails the invitation, or comes back with what to fix."""
    form = await form_values(request)
    values = {name: _clean(form.get(name)) for name in ("email", "name", "role", "language")}
    roles = await _roles(db_session)
    try:
        user, secret = await users.invite_user(
            db_session,
            _actor(request),
            email=values["email"],
            name=values["name"] or None,
            role_key=values["role"],
            language=values["language"] or None,
        )
        await users.send_invitation(request.app.state.kernel, request.app.state.catalogs, db_session, user, secret)
    except ValidationFailed as exc:
        return fragment(
            request, "users/_invite_form.html", status_code=422, **_invite_context(roles, values, _errors(exc))
        )
    except Conflict as exc:  # the address belongs to someone already
        return fragment(
            request,
            "users/_invite_form.html",
            status_code=422,
            **_invite_context(roles, values, {"email": _say_error(exc)}),
        )
    answer = fragment(request, "users/_invite_form.html", **_invite_context(roles))
    answer.headers.update(
        _trigger(
            gettext("Invitation sent to %(email)s.", email=user.email), "success", "users-changed", "invitation-sent"
        )
    )
    return answer


@post(f"{USERS}/{{user_id:uuid}}/role", opt=WRITE_USERS, include_in_schema=False, status_code=200)
async def user_role_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Template:
    """The inline role picker of the list: saves, then redraws the row as it now is."""
    form = await form_values(request)
    message, kind = gettext("Role changed."), "success"
    try:
        await users.change_user(db_session, _actor(request), user_id, {"role": _clean(form.get("role"), 50)})
    except (Conflict, ValidationFailed) as exc:
        await db_session.rollback()
        message, kind = _say_error(exc), "error"
    row = (await db_session.execute(users.users_query().where(User.id == user_id))).first()
    if row is None:
        raise NotFound("User not found.")
    answer = fragment(
        request,
        "users/_row.html",
        row=_user_row(row[0], row[1]),
        roles=await _roles(db_session),
        status_labels=STATUS_LABELS,
        status_badges=STATUS_BADGES,
    )
    answer.headers.update(_trigger(message, kind))
    return answer


@post(f"{USERS}/{{user_id:uuid}}/resend-invitation", opt=WRITE_USERS, include_in_schema=False, status_code=204)
async def user_resend_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Response[None]:
    """Mail a new invitation link (the earlier one stops working)."""
    kernel = request.app.state.kernel
    user = await users.resend_invitation(kernel, request.app.state.catalogs, db_session, _actor(request), user_id)
    return _done(gettext("Invitation sent again to %(email)s.", email=user.email), "users-changed")


@post(f"{USERS}/{{user_id:uuid}}/end-sessions", opt=WRITE_USERS, include_in_schema=False, status_code=204)
async def user_end_sessions_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Response[None]:
    """Log the user out of every device."""
    await users.end_user_sessions(db_session, _actor(request), user_id)
    return _done(gettext("Every session of this user was ended."), "users-changed")


@post(f"{USERS}/{{user_id:uuid}}/deactivate", opt=WRITE_USERS, include_in_schema=False, status_code=204)
async def user_deactivate_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Response[None]:
    """Deactivate the user: logged out at once, history kept."""
    await users.deactivate_user(db_session, _actor(request), user_id)
    return _done(gettext("User deactivated."), "users-changed")


@post(f"{USERS}/{{user_id:uuid}}/reactivate", opt=WRITE_USERS, include_in_schema=False, status_code=204)
async def user_reactivate_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Response[None]:
    """Let a deactivated user log in again."""
    await users.change_user(db_session, _actor(request), user_id, {"is_active": True})
    return _done(gettext("User reactivated."), "users-changed")


# --- users: one user -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


@dataclass(frozen=True)
class ActivityItem:
    at: datetime
    action: str
    label: str
    actor: str | None
    actor_href: str | None
    target: str | None
    target_href: str | None
    changes: tuple[Change, ...] = ()
    created: bool = False
    """Every change starts from nothing (a creation): only the new values are worth showing."""


@dataclass
class _Names:
    """Readable names for the ids an audit page mentions, looked up once per kind."""

    users: dict[str, tuple[str, str]] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    role_keys: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)


async def _names_for(request: Request[Any, Any, Any], session: AsyncSession, entries: Iterable[AuditEntry]) -> _Names:
    names = _Names()
    wanted: dict[str, set[UUID]] = {"user": set(), "role": set(), "api_token": set()}
    for entry in entries:
        if entry.actor_id is not None:
            wanted["user"].add(entry.actor_id)
        if entry.target_type in wanted and entry.target_id:
            try:
                wanted[entry.target_type].add(UUID(entry.target_id))
            except ValueError:
                continue
    if wanted["user"]:
        rows = await session.execute(select(User.id, User.name, User.email).where(User.id.in_(wanted["user"])))
        names.users = {str(uid): (name, email) for uid, name, email in rows.tuples()}
    for role in (await session.execute(select(Role))).scalars():
        choice = _role_choice(role)
        names.role_keys[role.key] = choice.name
        if role.id in wanted["role"]:
            names.roles[str(role.id)] = choice.name
    if wanted["api_token"]:
        rows = await session.execute(select(ApiToken.id, ApiToken.name).where(ApiToken.id.in_(wanted["api_token"])))
        names.tokens = {str(tid): name for tid, name in rows.tuples()}
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    language = current_translator().language
    for name, loaded in kernel.plugins.plugins.items():
        title = loaded.manifest.title or name
        names.plugins[name] = catalogs.gettext((name, KERNEL_DOMAIN), language, title)
    return names


def _shown(field_name: str, value: Any, names: _Names) -> str:
    """An audit value as a person reads it."""
    if value is None:
        if field_name == "language":
            return gettext("Organization default")
        return "—"
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if field_name == "role" and isinstance(value, str):
        return names.role_keys.get(value, value)
    if field_name == "language" and isinstance(value, str):
        return LANGUAGE_NAMES.get(value, value)
    if isinstance(value, list):
        if len(value) > 6:
            return ngettext("%(num)d item", "%(num)d items", len(value))
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)[:300]
    return str(value)[:300]


def _target(entry: AuditEntry, names: _Names) -> tuple[str | None, str | None]:
    target_id = entry.target_id or ""
    if entry.target_type == "user" and target_id in names.users:
        name, email = names.users[target_id]
        return f"{name} ({email})", f"{USERS}/{target_id}"
    if entry.target_type == "role" and target_id in names.roles:
        return names.roles[target_id], f"{ROLES}/{target_id}"
    if entry.target_type == "api_token" and target_id in names.tokens:
        return names.tokens[target_id], None
    if entry.target_type == "plugin":
        return names.plugins.get(target_id, target_id), None
    before_name = next(
        (c.get("before") for f, c in (entry.changes or {}).items() if f == "name" and isinstance(c, dict)), None
    )
    return (str(before_name) if before_name else None), None


def _activity(entries: Iterable[AuditEntry], names: _Names, subject: UUID | None = None) -> list[ActivityItem]:
    """Entries as a person reads them; ``subject`` (the page's user) is not named again as a target."""
    items = []
    for entry in entries:
        actor = names.users.get(str(entry.actor_id)) if entry.actor_id else None
        about_subject = subject is not None and entry.target_type == "user" and entry.target_id == str(subject)
        target, target_href = (None, None) if about_subject else _target(entry, names)
        recorded = [change for change in (entry.changes or {}).values() if isinstance(change, dict)]
        changes = tuple(
            Change(
                field_name,
                field_label(field_name),
                _shown(field_name, change.get("before"), names),
                _shown(field_name, change.get("after"), names),
            )
            for field_name, change in (entry.changes or {}).items()
            if isinstance(change, dict) and field_name != "family_id"
        )
        items.append(
            ActivityItem(
                at=entry.created_at,
                action=entry.action,
                label=action_label(entry.action),
                actor=actor[0] if actor else entry.actor_label,
                actor_href=f"{USERS}/{entry.actor_id}" if actor else None,
                target=target,
                target_href=target_href,
                changes=changes,
                created=bool(recorded) and all(change.get("before") is None for change in recorded),
            )
        )
    return items


async def _user_context(request: Request[Any, Any, Any], session: AsyncSession, user_id: UUID) -> dict[str, Any]:
    row = (await session.execute(users.users_query().where(User.id == user_id))).first()
    if row is None:
        raise NotFound("User not found.")
    user, role = row
    actor = _actor(request)
    roles = await _roles(session)
    context: dict[str, Any] = {
        "row": _user_row(user, role),
        "roles": roles,
        "role_options": [(choice.key, choice.name) for choice in roles],
        "language_options": _language_options(),
        "status_labels": STATUS_LABELS,
        "status_badges": STATUS_BADGES,
        "values": {"name": user.name, "role": role.key if role else "", "language": user.language or ""},
        "errors": {},
        "performed": [],
        "received": [],
        "invited_by": None,
        "can_see_activity": actor.can("kernel.audit.read"),
    }
    if context["can_see_activity"]:
        performed = await list_entries(session, AuditFilter(actor_id=user.id), limit=ACTIVITY_LIMIT)
        received = await list_entries(
            session, AuditFilter(target_type="user", target_id=str(user.id)), limit=ACTIVITY_LIMIT
        )
        invited = await list_entries(
            session, AuditFilter(action="user.invited", target_type="user", target_id=str(user.id)), limit=1
        )
        names = await _names_for(request, session, [*performed, *received, *invited])
        context["performed"] = _activity(performed, names, user.id)
        context["received"] = _activity(received, names, user.id)
        if invited:
            context["invited_by"] = _activity(invited, names)[0]
    return context


@get(f"{USERS}/{{user_id:uuid}}", opt=READ_USERS, include_in_schema=False)
async def user_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Template:
    """One person: their facts, the change form for writers, and their activity."""
    return page(request, "users/detail.html", **await _user_context(request, db_session, user_id))


@post(f"{USERS}/{{user_id:uuid}}", opt=WRITE_USERS, include_in_schema=False, status_code=200)
async def user_update_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], user_id: FromPath[UUID]
) -> Response[Any]:
    """Change a user's name, role and language."""
    form = await form_values(request)
    values = {"name": _clean(form.get("name"), 200), "role": _clean(form.get("role"), 50)}
    values["language"] = _clean(form.get("language"), 10)
    changes = {"name": values["name"], "language": values["language"] or None}
    if values["role"]:
        changes["role"] = values["role"]
    try:
        await users.change_user(db_session, _actor(request), user_id, changes)
    except (ValidationFailed, Conflict) as exc:
        await db_session.rollback()  # nothing half-changed may commit with the answer
        context = await _user_context(request, db_session, user_id)
        errors = _errors(exc) if isinstance(exc, ValidationFailed) else {"": _say_error(exc)}
        context.update(values=values, errors=errors)
        return fragment(request, "users/_edit_form.html", status_code=422, **context)
    return _done(gettext("Changes saved."), "users-changed")


# --- roles ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleRow:
    role: RoleChoice
    users: int
    permissions: int


@get(ROLES, opt=READ_ROLES, include_in_schema=False)
async def roles_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """Every role with its kind, holders and number of permissions."""
    declared = request.app.state.kernel.registry.declared_permissions
    counts = await roles_service.role_user_counts(db_session)
    roles = _in_order((await db_session.execute(select(Role))).scalars())
    rows = [
        RoleRow(
            _role_choice(role),
            counts.get(role.id, 0),
            len(role_permissions(role.key, role.is_system, role.permissions, declared)),
        )
        for role in roles
    ]
    return page(request, "roles/index.html", rows=rows)


def _role_form(
    request: Request[Any, Any, Any],
    *,
    role: RoleChoice | None,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    readonly: bool = False,
) -> dict[str, Any]:
    return {
        "role": role,
        "values": values,
        "errors": errors or {},
        "readonly": readonly,
        "groups": permission_groups(request),
    }


async def _get_role(session: AsyncSession, role_id: UUID) -> Role:
    role = (await session.execute(select(Role).where(Role.id == role_id))).scalar_one_or_none()
    if role is None:
        raise NotFound("Role not found.")
    return role


def _granted(request: Request[Any, Any, Any], role: Role) -> list[str]:
    declared = request.app.state.kernel.registry.declared_permissions
    return sorted(role_permissions(role.key, role.is_system, role.permissions, declared))


@get(f"{ROLES}/new", opt=WRITE_ROLES, include_in_schema=False)
async def role_new_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """A new custom role; ``?from=<role id>`` starts from a copy of another role (a system one, typically)."""
    values: dict[str, Any] = {"name": "", "key": "", "description": "", "permissions": []}
    source = request.query_params.get("from")
    if source:
        try:
            original = await _get_role(db_session, UUID(source))
        except ValueError:
            original = None
        if original is not None:
            shown = _role_choice(original)
            values = {
                "name": gettext("%(role)s (copy)", role=shown.name)[:100],
                "key": "",
                "description": shown.description,
                "permissions": _granted(request, original),
            }
    return page(request, "roles/edit.html", **_role_form(request, role=None, values=values))


def _role_values(form: Any) -> dict[str, Any]:
    return {
        "name": _clean(form.get("name"), 100),
        "key": _clean(form.get("key"), 50).lower(),
        "description": _clean(form.get("description"), 500),
        "permissions": [str(name) for name in form.getall("permissions")] if "permissions" in form else [],
    }


def _suggested_key(name: str) -> str:
    """A role key from its name: ``Night shift`` -> ``night-shift`` (what the form suggests too)."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    key = re.sub(r"[^a-z0-9]+", "-", plain).strip("-")
    key = re.sub(r"^[^a-z]+", "", key)[:49].strip("-")
    return key


@post(f"{ROLES}/new", opt=WRITE_ROLES, include_in_schema=False, status_code=200)
async def role_create_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Response[Any]:
    """Create a custom role (the key is suggested from the name when left empty)."""
    values = _role_values(await form_values(request))
    declared = request.app.state.kernel.registry.declared_permissions
    try:
        await roles_service.create_role(
            db_session,
            _actor(request),
            declared,
            key=values["key"] or _suggested_key(values["name"]),
            name=values["name"],
            permissions=values["permissions"],
            description=values["description"],
        )
    except ValidationFailed as exc:
        context = _role_form(request, role=None, values=values, errors=_errors(exc))
        return fragment(request, "roles/_form.html", status_code=422, **context)
    except Conflict as exc:  # the key is taken
        context = _role_form(request, role=None, values=values, errors={"key": _say_error(exc)})
        return fragment(request, "roles/_form.html", status_code=422, **context)
    return hx_redirect(request, ROLES, message=gettext("Role %(name)s created.", name=values["name"]))


@get(f"{ROLES}/{{role_id:uuid}}", opt=READ_ROLES, include_in_schema=False)
async def role_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], role_id: FromPath[UUID]
) -> Template:
    """A role's editor (custom roles, for writers) or its read-only view."""
    role = await _get_role(db_session, role_id)
    shown = _role_choice(role)
    values = {
        "name": shown.name,
        "key": role.key,
        "description": shown.description,
        "permissions": _granted(request, role),
    }
    readonly = role.is_system or not _actor(request).can("kernel.role.write")
    holders = (await roles_service.role_user_counts(db_session)).get(role.id, 0)
    context = _role_form(request, role=shown, values=values, readonly=readonly)
    return page(request, "roles/edit.html", holders=holders, **context)


@post(f"{ROLES}/{{role_id:uuid}}", opt=WRITE_ROLES, include_in_schema=False, status_code=200)
async def role_update_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], role_id: FromPath[UUID]
) -> Response[Any]:
    """Save a custom role."""
    role = await _get_role(db_session, role_id)
    values = _role_values(await form_values(request))
    values["key"] = role.key
    declared = request.app.state.kernel.registry.declared_permissions
    try:
        await roles_service.update_role(
            db_session,
            _actor(request),
            declared,
            role_id,
            name=values["name"],
            description=values["description"],
            permissions=values["permissions"],
        )
    except ValidationFailed as exc:
        await db_session.rollback()
        context = _role_form(request, role=_role_choice(role), values=values, errors=_errors(exc))
        return fragment(request, "roles/_form.html", status_code=422, **context)
    return hx_redirect(request, ROLES, message=gettext("Role %(name)s saved.", name=values["name"]))


@delete(f"{ROLES}/{{role_id:uuid}}", opt=WRITE_ROLES, include_in_schema=False, status_code=200)
async def role_delete_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], role_id: FromPath[UUID]
) -> Response[Any]:
    """Delete a custom role nobody holds."""
    role = await roles_service.delete_role(db_session, _actor(request), role_id)
    return hx_redirect(request, ROLES, message=gettext("Role %(name)s deleted.", name=role.name))


# --- my profile ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    id: UUID
    device: str
    mobile: bool
    user_agent: str | None
    ip: str | None
    started_at: datetime
    last_used_at: datetime
    current: bool


def _own_user(request: Request[Any, Any, Any]) -> UUID:
    actor = _actor(request)
    if actor.kind != "user" or actor.user_id is None:
        raise ValidationFailed("API tokens have no profile.")
    return actor.user_id


async def _sessions(request: Request[Any, Any, Any], session: AsyncSession, user_id: UUID) -> list[SessionRow]:
    current = current_session_id(request)
    rows = [
        SessionRow(
            id=info.family_id,
            device=describe_user_agent(info.user_agent),
            mobile=bool(info.user_agent and _MOBILE_RE.search(info.user_agent)),
            user_agent=info.user_agent,
            ip=info.ip,
            started_at=info.started_at,
            last_used_at=info.last_used_at,
            current=info.family_id == current,
        )
        for info in await services.active_sessions(session, user_id)
    ]
    return sorted(rows, key=lambda row: not row.current)  # this device first


async def _profile_context(request: Request[Any, Any, Any], session: AsyncSession) -> dict[str, Any]:
    user_id = _own_user(request)
    user, _ = await users.get_user(session, user_id)
    role = (await session.execute(select(Role).where(Role.id == user.role_id))).scalar_one_or_none()
    return {
        "user": user,
        "role": _role_choice(role) if role else None,
        "language_options": _language_options(),
        "values": {"name": user.name, "language": user.language or ""},
        "errors": {},
        "password_errors": {},
        "sessions": await _sessions(request, session, user_id),
        "can_end_sessions": _actor(request).impersonator_id is None,
        "min_length": _min_length(),
    }


@get(PROFILE, opt=SIGNED_IN, include_in_schema=False)
async def profile_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """One's own profile, password and sessions."""
    return page(request, "account/profile.html", **await _profile_context(request, db_session))


@post(PROFILE, opt=SIGNED_IN, include_in_schema=False, status_code=200)
async def profile_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    """Save one's own name and language."""
    form = await form_values(request)
    values = {"name": _clean(form.get("name"), 200), "language": _clean(form.get("language"), 10)}
    try:
        await users.update_own_profile(
            db_session, _actor(request), {"name": values["name"], "language": values["language"] or None}
        )
    except ValidationFailed as exc:
        await db_session.rollback()
        context = await _profile_context(request, db_session)
        context.update(values=values, errors=_errors(exc))
        return fragment(request, "account/_profile_form.html", status_code=422, **context)
    # A new language shows on the next page: go there rather than redraw one form in it.
    return hx_redirect(request, PROFILE, message=gettext("Profile saved."))


@post(f"{PROFILE}/password", opt=SIGNED_IN, include_in_schema=False, status_code=200)
async def password_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """Change one's own password (the current one, then the new one twice)."""
    form = await form_values(request)
    current, new, confirmation = (str(form.get(name) or "") for name in ("current_password", "new_password", "confirm"))
    errors: dict[str, str] = {}
    if new != confirmation:
        errors["confirm"] = gettext("The two passwords are not the same.")
    else:
        try:
            await users.change_own_password(db_session, _actor(request), current, new)
        except ValidationFailed as exc:
            await db_session.rollback()
            found = _errors(exc)
            errors = {("new_password" if key == "password" else key): text for key, text in found.items()}
    context = await _profile_context(request, db_session)
    if errors:
        context["password_errors"] = errors
        return fragment(request, "account/_password_form.html", status_code=422, **context)
    answer = fragment(request, "account/_password_form.html", **context)
    answer.headers.update(_trigger(gettext("Password changed."), "success"))
    return answer


@post(f"{PROFILE}/end-sessions", opt={**SIGNED_IN, ENDS_SESSION: True}, include_in_schema=False, status_code=204)
async def end_other_sessions_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Response[None]:
    """Log out everywhere else; this browser gets fresh session cookies and stays logged in."""
    issued = await services.end_other_sessions(request.app.state.kernel, db_session, _actor(request))
    cookies = _token_response(request, issued).cookies
    headers = _trigger(gettext("You were logged out everywhere else."), "success", "sessions-changed")
    return Response(None, status_code=204, headers=headers, cookies=cookies)


@delete(f"{PROFILE}/sessions/{{session_id:uuid}}", opt=SIGNED_IN, include_in_schema=False, status_code=204)
async def end_session_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], session_id: FromPath[UUID]
) -> Response[None]:
    """End one of one's own sessions (that device must log in again)."""
    await services.end_session_family(db_session, _actor(request), session_id)
    return _done(gettext("Session ended: that device must log in again."), "sessions-changed")


# --- API tokens ----------------------------------------------------------------------------------


def _token_form(request: Request[Any, Any, Any], values: dict[str, Any] | None = None, errors: Any = None) -> dict:
    actor = _actor(request)
    tomorrow = datetime.now(ZoneInfo(current_translator().timezone)).date() + timedelta(days=1)
    return {
        "values": values or {"name": "", "permissions": [], "expires_at": ""},
        "errors": errors or {},
        "groups": permission_groups(request, within=actor.permissions),
        "min_date": tomorrow.isoformat(),
    }


@get(API_TOKENS, opt=TOKENS, include_in_schema=False)
async def api_tokens_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The organization's API tokens and the dialog that creates one."""
    return page(
        request,
        "api_tokens/index.html",
        rows=await services.list_api_tokens(db_session),
        status_labels=TOKEN_STATUS_LABELS,
        status_badges=TOKEN_STATUS_BADGES,
        **_token_form(request),
    )


@get(f"{API_TOKENS}/new", opt=TOKENS, include_in_schema=False)
async def api_token_form(request: Request[Any, Any, Any]) -> Template:
    """A blank creation form (the dialog is reset with it once a secret has been shown)."""
    return fragment(request, "api_tokens/_form.html", **_token_form(request))


def _expiry(value: str) -> datetime | None:
    """The end of the chosen day in the organization's time zone (the token works through that day)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "Pick a date for the expiry.", errors=[{"field": "expires_at", "message": "invalid"}]
        ) from None
    zone = ZoneInfo(current_translator().timezone)
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone).astimezone(UTC)


@post(API_TOKENS, opt=TOKENS, include_in_schema=False, status_code=200)
async def api_token_create_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Template:
    """Create a token and show its secret, this once."""
    form = await form_values(request)
    values = {
        "name": _clean(form.get("name"), 100),
        "permissions": [str(name) for name in form.getall("permissions")] if "permissions" in form else [],
        "expires_at": _clean(form.get("expires_at"), 10),
    }
    try:
        token, secret = await services.issue_api_token(
            db_session,
            _actor(request),
            name=values["name"],
            permissions=values["permissions"],
            expires_at=_expiry(values["expires_at"]),
        )
    except ValidationFailed as exc:
        return fragment(request, "api_tokens/_form.html", status_code=422, **_token_form(request, values, _errors(exc)))
    answer = fragment(request, "api_tokens/_created.html", token=token, secret=secret)
    answer.headers.update(
        _trigger(gettext("API token %(name)s created.", name=token.name), "success", "tokens-changed")
    )
    return answer


@delete(f"{API_TOKENS}/{{token_id:uuid}}", opt=TOKENS, include_in_schema=False, status_code=204)
async def api_token_revoke_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], token_id: FromPath[UUID]
) -> Response[None]:
    """Revoke a token: it stops working on its next request."""
    token = await services.withdraw_api_token(db_session, _actor(request), token_id)
    return _done(gettext("API token %(name)s revoked.", name=token.name), "tokens-changed")


# --- public pages: forgotten password, reset, invitation -----------------------------------------


def _public_page(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A page outside the shell; a message carried here from a redirect is shown once, then forgotten."""
    answer = auth_page(request, template, status_code=status_code, **context)
    if request.cookies.get(FLASH_COOKIE):
        answer.cookies.append(Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/"))
    return answer


def _expired_form() -> str:
    return gettext("The form expired. Reload the page and try again.")


def _link_invalid(request: Request[Any, Any, Any], purpose: str) -> Template:
    return _public_page(request, "auth/link_invalid.html", status_code=410, purpose=purpose)


def _new_password_errors(password: str, confirmation: str) -> dict[str, str]:
    """What is wrong with a new password and its confirmation (the service's own rule for length)."""
    from kernel.tenancy.services import validate_new_password

    errors: dict[str, str] = {}
    try:
        validate_new_password(password)
    except ValidationFailed as exc:
        errors["password"] = _say_error(exc)
    if password != confirmation:
        errors["confirm"] = gettext("The two passwords are not the same.")
    return errors


def _min_length() -> int:
    from kernel.tenancy.services import MIN_PASSWORD_LENGTH

    return MIN_PASSWORD_LENGTH


@get("/auth/forgot", opt={PUBLIC: True}, include_in_schema=False)
async def forgot_form(request: Request[Any, Any, Any]) -> Template:
    """Ask for a password reset link."""
    return _public_page(request, "auth/forgot.html", values={"email": ""}, errors={}, sent=False)


@post("/auth/forgot", opt={PUBLIC: True}, include_in_schema=False, status_code=200)
async def forgot_submit(request: Request[Any, Any, Any], data: FormData) -> Template:
    """Mail a reset link if the address has an account; the answer is the same either way."""
    email = _clean(data.get("email"), 254)
    values = {"email": email}
    if not same_origin(request):
        return _public_page(request, "auth/forgot.html", status_code=403, values=values, errors={"": _expired_form()})
    if not email:
        errors = {"email": gettext("This field is required.")}
        return _public_page(request, "auth/forgot.html", status_code=422, values=values, errors=errors, sent=False)
    kernel = request.app.state.kernel
    try:
        async with kernel.db.session() as session:
            await users.request_password_reset(
                kernel, request.app.state.catalogs, request.app.state.auth_store, session, email
            )
            await session.commit()
    except services.TooManyAttempts as exc:
        message = ngettext(exc.detail, exc.plural or exc.detail, exc.count or 1, **exc.params)
        return _public_page(
            request, "auth/forgot.html", status_code=429, values=values, errors={"": message}, sent=False
        )
    return _public_page(request, "auth/forgot.html", values=values, errors={}, sent=True)


@get("/auth/reset", opt={PUBLIC: True}, include_in_schema=False)
async def reset_form(request: Request[Any, Any, Any]) -> Template:
    """Choose a new password from a mailed reset link."""
    token = request.query_params.get("token") or ""
    kernel = request.app.state.kernel
    try:
        async with kernel.db.session() as session:
            _, user = await services.find_user_token(session, token, "reset")
    except services.InvalidToken:
        return _link_invalid(request, "reset")
    return _public_page(request, "auth/reset.html", token=token, email=user.email, errors={}, min_length=_min_length())


@post("/auth/reset", opt={PUBLIC: True}, include_in_schema=False, status_code=303)
async def reset_submit(request: Request[Any, Any, Any], data: FormData) -> Response[Any]:
    """Set the new password, then go to log in."""
    token = data.get("token", "")
    password, confirmation = data.get("password", ""), data.get("confirm", "")
    kernel = request.app.state.kernel
    async with kernel.db.session() as session:
        try:
            _, user = await services.find_user_token(session, token, "reset")
        except services.InvalidToken:
            return _link_invalid(request, "reset")
        email = user.email
        errors = {"": _expired_form()} if not same_origin(request) else _new_password_errors(password, confirmation)
        if errors:
            status = 403 if "" in errors else 422
            return _public_page(
                request,
                "auth/reset.html",
                status_code=status,
                token=token,
                email=email,
                errors=errors,
                min_length=_min_length(),
            )
        try:
            await users.confirm_password_reset(session, token, password)
        except services.InvalidToken:
            return _link_invalid(request, "reset")
        await session.commit()
    message = gettext("Your password was changed. Log in with the new one.")
    return Redirect(path="/auth/login", status_code=303, cookies=[flash(message)])


async def _invitation(session: AsyncSession, token: str) -> tuple[User, str]:
    _, user = await services.find_user_token(session, token, "invite")
    organization = await session.get(Organization, user.tenant_id) if user.tenant_id else None
    return user, organization.name if organization else "Atendai"


@get("/auth/invitation", opt={PUBLIC: True}, include_in_schema=False)
async def invitation_form(request: Request[Any, Any, Any]) -> Template:
    """Accept an invitation: the organization, the invited address, a name and a password."""
    token = request.query_params.get("token") or ""
    kernel = request.app.state.kernel
    try:
        async with kernel.db.session() as session:
            user, organization = await _invitation(session, token)
    except services.InvalidToken:
        return _link_invalid(request, "invite")
    return _public_page(
        request,
        "auth/invitation.html",
        token=token,
        email=user.email,
        organization=organization,
        values={"name": user.name},
        errors={},
        min_length=_min_length(),
    )


@post("/auth/invitation", opt={PUBLIC: True}, include_in_schema=False, status_code=303)
async def invitation_submit(request: Request[Any, Any, Any], data: FormData) -> Response[Any]:
    """Join the organization: set the password, log in, and go home with a welcome."""
    token = data.get("token", "")
    name = _clean(data.get("name"), 200)
    password, confirmation = data.get("password", ""), data.get("confirm", "")
    kernel = request.app.state.kernel
    async with kernel.db.session() as session:
        try:
            user, organization = await _invitation(session, token)
        except services.InvalidToken:
            return _link_invalid(request, "invite")
        if not same_origin(request):
            errors = {"": _expired_form()}
        else:
            errors = _new_password_errors(password, confirmation)
            if not name:
                errors["name"] = gettext("This field is required.")
        if errors:
            return _public_page(
                request,
                "auth/invitation.html",
                status_code=403 if "" in errors else 422,
                token=token,
                email=user.email,
                organization=organization,
                values={"name": name},
                errors=errors,
                min_length=_min_length(),
            )
        try:
            user, issued = await users.accept_invitation(kernel, session, token, password, name)
        except services.InvalidToken:
            return _link_invalid(request, "invite")
        await session.commit()
    cookies = [
        *_token_response(request, issued).cookies,
        flash(gettext("Welcome to %(organization)s!", organization=organization)),
    ]
    return Redirect(path="/app/", status_code=303, cookies=cookies)


ROUTES = [
    users_page,
    invite_submit,
    user_role_submit,
    user_resend_submit,
    user_end_sessions_submit,
    user_deactivate_submit,
    user_reactivate_submit,
    user_page,
    user_update_submit,
    roles_page,
    role_new_page,
    role_create_submit,
    role_page,
    role_update_submit,
    role_delete_submit,
    profile_page,
    profile_submit,
    password_submit,
    end_other_sessions_submit,
    end_session_submit,
    api_tokens_page,
    api_token_form,
    api_token_create_submit,
    api_token_revoke_submit,
    forgot_form,
    forgot_submit,
    reset_form,
    reset_submit,
    invitation_form,
    invitation_submit,
]
