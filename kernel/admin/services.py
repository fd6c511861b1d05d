"""The platform administration's rules: organizations, plans, the plugin catalog, the overview, impersonation.

Everything here runs in the platform scope (the view across tenants) and is audited in the platform's
own chain; a change to one organization is also written to that organization's chain, so its admins
see what the platform did to it. Work that belongs to one organization (disabling its modules,
notifying its admins) runs inside that organization with :func:`kernel.tenancy.services.in_tenant`.

No HTTP here: the JSON API (``kernel.admin.api``) and the pages (``kernel.admin.views``) both call
these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.models import AuditEntry
from kernel.audit.service import record
from kernel.auth.models import User
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, N_, N_plural
from kernel.rbac.models import Role
from kernel.tenancy.models import Organization, OrganizationStatus, Plan, TenantPlugin

__all__ = [
    "IMPERSONATION_LIFETIME",
    "ORGANIZATION_SORTS",
    "Impersonation",
    "OrganizationDetail",
    "OrganizationInput",
    "OrganizationRow",
    "Overview",
    "PlanFeature",
    "PlanInput",
    "PlanRow",
    "PluginEntry",
    "UserRow",
    "create_organization",
    "create_plan",
    "delete_plan",
    "end_impersonation",
    "get_plan",
    "list_organizations",
    "list_plans",
    "organization_detail",
    "overview",
    "parse_feature_form",
    "plan_features",
    "plugin_catalog",
    "plugin_titles",
    "set_organization_active",
    "start_impersonation",
    "update_organization",
    "update_plan",
    "who",
]

IMPERSONATION_LIFETIME = timedelta(minutes=30)
"""How long an impersonation lasts; it cannot be renewed (no refresh token is issued)."""
PLAN_CODE_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")
MAX_REASON_LENGTH = 500
MAX_NAME_LENGTH = 200
MAX_PLAN_NAME_LENGTH = 120
MAX_DESCRIPTION_LENGTH = 500
RECENT_AUDIT_ENTRIES = 10
ADMIN_ROLE = "admin"
MAX_QUOTA = 2**53 - 1
"""The largest quota: every JSON reader (browsers included) still reads it exactly."""
KERNEL = "kernel"

ORGANIZATION_SORTS = ("name", "created", "users")
ORGANIZATION_STATUSES = (OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED)


# -- who did it ------------------------------------------------------------------------------------


def who(actor: Any) -> dict[str, Any]:
    """The audit fields of a platform administrator's action."""
    return {"actor_type": "platform", "actor_id": actor.user_id, "actor_label": actor.email}


async def _platform(session: AsyncSession) -> None:
    """Every function here reads and writes across tenants, and its own audit entries are the platform's."""
    await set_session_scope(session, platform=True)


async def _record_platform(session: AsyncSession, actor: Any, **fields: Any) -> None:
    await _platform(session)
    await record(session, **fields, **who(actor))


class _Problems:
    """Collects invalid fields so one answer names them all (a form shows each beside its field)."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []
        self.first: tuple[str, dict[str, Any]] | None = None

    def add(self, field_name: str, reason: str, detail: str, /, **params: Any) -> None:
        self.errors.append({"field": field_name, "message": reason})
        if self.first is None:
            self.first = (detail, params)

    def raise_any(self) -> None:
        if not self.errors or self.first is None:
            return
        detail, params = self.first
        if len({error["field"] for error in self.errors}) > 1:
            detail, params = "Some fields need attention.", {}
        raise ValidationFailed(detail, errors=self.errors, **params)


# -- plans -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanFeature:
    """A flag or quota a plan can set: the kernel's own and those plugins register."""

    key: str
    plugin: str
    kind: Literal["flag", "quota"]
    default: int | bool | None
    """``None``: no limit (a quota nobody set is not enforced)."""
    description: str
    """A msgid of ``plugin``'s catalog (the kernel's for the kernel's own)."""


KERNEL_FEATURES = (
    PlanFeature(
        "kernel.llm_tokens_per_month",
        KERNEL,
        "quota",
        None,
        N_("AI tokens an organization may use per month"),
    ),
)


def plan_features(kernel: Any) -> list[PlanFeature]:
    """Every feature a plan can set, the kernel's first, then by plugin in load order."""
    order = {name: index for index, name in enumerate(kernel.plugin_order())}
    registered = sorted(kernel.registry.features.items(), key=lambda item: (order.get(item[1][0], 10**6), item[0]))
    return [
        *KERNEL_FEATURES,
        *(
            PlanFeature(key, plugin, feature.kind, feature.default, feature.description)
            for key, (plugin, feature) in registered
        ),
    ]


@dataclass
class PlanInput:
    """What a new plan (or a change to one) says. ``allowed_plugins=None`` allows every installed plugin."""

    code: str
    name: str
    description: str = ""
    is_default: bool = False
    allowed_plugins: list[str] | None = None
    features: dict[str, Any] = field(default_factory=dict)
    """Feature key -> value; ``None`` (or a missing key) is the feature's default."""


@dataclass(frozen=True)
class PlanRow:
    plan: Plan
    organizations: int


async def _organizations_on(session: AsyncSession, plan_id: UUID) -> int:
    return (
        await session.execute(select(func.count(Organization.id)).where(Organization.plan_id == plan_id))
    ).scalar_one()


async def list_plans(session: AsyncSession) -> list[PlanRow]:
    """Every plan with the number of organizations on it, the default first, then by name."""
    await _platform(session)
    counts = (
        select(Organization.plan_id, func.count(Organization.id).label("n")).group_by(Organization.plan_id).subquery()
    )
    rows = await session.execute(
        select(Plan, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.plan_id == Plan.id)
        .order_by(Plan.is_default.desc(), func.lower(Plan.name), Plan.code)
    )
    return [PlanRow(plan, int(count)) for plan, count in rows.tuples()]


async def get_plan(session: AsyncSession, plan_id: UUID) -> PlanRow:
    await _platform(session)
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("Plan not found.")
    return PlanRow(plan, await _organizations_on(session, plan.id))


def _check_allowed_plugins(kernel: Any, allowed: list[str] | None, problems: _Problems) -> list[str] | None:
    """Installed plugins only, and each with what it depends on (or it could never be enabled)."""
    if allowed is None:
        return None
    installed = kernel.plugins.plugins
    chosen = sorted(set(allowed), key=lambda name: kernel.plugin_order().index(name) if name in installed else 0)
    unknown = sorted(name for name in chosen if name not in installed)
    if unknown:
        problems.add("allowed_plugins", "unknown", "There is no module %(plugin)s.", plugin=", ".join(unknown))
        return chosen
    for name in chosen:
        missing = [dep for dep in installed[name].manifest.depends if dep not in chosen]
        if missing:
            problems.add(
                "allowed_plugins",
                "missing dependency",
                "The module %(plugin)s needs %(dependency)s: allow both, or neither.",
                plugin=name,
                dependency=", ".join(missing),
            )
            break
    return chosen


def _check_features(
    kernel: Any, values: Mapping[str, Any], problems: _Problems, *, keep_unknown: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The features to store: known keys with values of the right kind; ``None`` drops a key (its default)."""
    known = {feature.key: feature for feature in plan_features(kernel)}
    stored = dict(keep_unknown or {})
    for key, value in values.items():
        feature = known.get(key)
        if feature is None:
            problems.add(f"features.{key}", "unknown", "There is no feature %(feature)s.", feature=key)
            continue
        if value is None:
            stored.pop(key, None)
        elif feature.kind == "flag":
            if not isinstance(value, bool):
                problems.add(
                    f"features.{key}", "invalid", "The feature %(feature)s is on or off (true or false).", feature=key
                )
                continue
            stored[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.add(
                    f"features.{key}",
                    "invalid",
                    "The feature %(feature)s is a whole number, 0 or more.",
                    feature=key,
                )
                continue
            if value > MAX_QUOTA:
                problems.add(f"features.{key}", "too large", "The feature %(feature)s is too large.", feature=key)
                continue
            stored[key] = value
    return stored


def parse_feature_form(kernel: Any, form: Any) -> dict[str, Any]:
    """Features from a plan form's ``features.<key>`` fields: a switch absent is off, an empty number the default.

    A flag left at its default is stored as nothing, so it follows the default. A number that is not
    a whole number stays as typed, for the service to refuse beside its field.
    """
    values: dict[str, Any] = {}
    for feature in plan_features(kernel):
        name = f"features.{feature.key}"
        if feature.kind == "flag":
            checked = form.get(name) is not None
            values[feature.key] = None if checked == bool(feature.default) else checked
            continue
        raw = str(form.get(name) or "").strip()
        values[feature.key] = None if not raw else int(raw) if raw.isascii() and raw.isdigit() else raw
    return values


def _check_plan_texts(name: str | None, description: str | None, problems: _Problems) -> tuple[str | None, str | None]:
    if name is not None:
        name = name.strip()
        if not name:
            problems.add("name", "required", "The plan needs a name.")
        elif len(name) > MAX_PLAN_NAME_LENGTH:
            problems.add(
                "name", "too long", "The name can have at most %(count)d characters.", count=MAX_PLAN_NAME_LENGTH
            )
    if description is not None:
        description = description.strip()
        if len(description) > MAX_DESCRIPTION_LENGTH:
            problems.add(
                "description",
                "too long",
                "The description can have at most %(count)d characters.",
                count=MAX_DESCRIPTION_LENGTH,
            )
    return name, description


def _plan_snapshot(plan: Plan) -> dict[str, Any]:
    return {
        "code": plan.code,
        "name": plan.name,
        "description": plan.description,
        "is_default": plan.is_default,
        "allowed_plugins": list(plan.allowed_plugins) if plan.allowed_plugins is not None else None,
        "features": dict(plan.features or {}),
    }


async def _make_the_only_default(session: AsyncSession, plan: Plan) -> None:
    """Only one plan is the default: choosing one unsets the others."""
    others = (await session.execute(select(Plan).where(Plan.is_default.is_(True), Plan.id != plan.id))).scalars()
    for other in others:
        other.is_default = False
    plan.is_default = True


async def create_plan(kernel: Any, session: AsyncSession, actor: Any, data: PlanInput) -> Plan:
    """A new plan; audited in the platform chain."""
    await _platform(session)
    problems = _Problems()
    code = data.code.strip().lower()
    if not code:
        problems.add("code", "required", "The plan needs a code.")
    elif not PLAN_CODE_RE.match(code):
        problems.add(
            "code",
            "invalid",
            "The code must be 1 to 50 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
        )
    elif (await session.execute(select(Plan.id).where(Plan.code == code))).first():
        problems.add("code", "taken", "Another plan already has the code %(code)s.", code=code)
    name, description = _check_plan_texts(data.name, data.description, problems)
    allowed = _check_allowed_plugins(kernel, data.allowed_plugins, problems)
    features = _check_features(kernel, data.features, problems)
    problems.raise_any()
    plan = Plan(
        code=code,
        name=name or "",
        description=description or "",
        allowed_plugins=allowed,
        features=features,
        is_default=False,
    )
    session.add(plan)
    await session.flush()
    if data.is_default:
        await _make_the_only_default(session, plan)
        await session.flush()
    await _record_platform(
        session, actor, action="plan.created", target_type="plan", target_id=plan.id, after=_plan_snapshot(plan)
    )
    return plan


async def update_plan(
    kernel: Any, session: AsyncSession, actor: Any, plan_id: UUID, changes: Mapping[str, Any]
) -> tuple[Plan, dict[str, list[str]]]:
    """Change a plan (its code never changes); returns the modules disabled per organization slug.

    ``changes`` holds only what changes: ``name``, ``description``, ``is_default`` (only ``True``:
    another plan becomes the default by being chosen), ``allowed_plugins`` (``None``: every plugin)
    and ``features`` (merged: a key set to ``None`` goes back to its default). When the plan stops
    allowing modules, the organizations on it that enabled them have them disabled, dependents first.
    """
    await _platform(session)
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("Plan not found.")
    problems = _Problems()
    if "code" in changes and changes["code"] is not None and str(changes["code"]).strip().lower() != plan.code:
        problems.add("code", "immutable", "The code of a plan cannot change: organizations and settings refer to it.")
    if changes.get("is_default") is False and plan.is_default:
        problems.add(
            "is_default",
            "required",
            "A plan stays the default until another plan is made the default.",
        )
    name, description = _check_plan_texts(changes.get("name"), changes.get("description"), problems)
    allowed = plan.allowed_plugins
    if "allowed_plugins" in changes:
        allowed = _check_allowed_plugins(kernel, changes["allowed_plugins"], problems)
    features = dict(plan.features or {})
    if changes.get("features") is not None:
        features = _check_features(kernel, changes["features"], problems, keep_unknown=plan.features)
    problems.raise_any()

    before = _plan_snapshot(plan)
    if name is not None:
        plan.name = name
    if description is not None:
        plan.description = description
    plan.allowed_plugins = allowed
    plan.features = features
    if changes.get("is_default"):
        await _make_the_only_default(session, plan)
    await session.flush()
    # Only a new list of modules can take some away from the organizations on the plan.
    disabled = await _enforce_plan(kernel, session, actor, plan) if "allowed_plugins" in changes else {}
    after = _plan_snapshot(plan)
    if disabled:
        after["disabled_plugins"] = disabled
    await _record_platform(
        session, actor, action="plan.updated", target_type="plan", target_id=plan.id, before=before, after=after
    )
    return plan, disabled


async def _enforce_plan(kernel: Any, session: AsyncSession, actor: Any, plan: Plan) -> dict[str, list[str]]:
    """Disable, in each organization on ``plan``, the modules it no longer allows."""
    from kernel.tenancy.services import disable_plugin, enabled_plugins, in_tenant, plugins_to_disable_for

    if plan.allowed_plugins is None:
        return {}
    organizations = (
        (await session.execute(select(Organization).where(Organization.plan_id == plan.id).order_by(Organization.slug)))
        .scalars()
        .all()
    )
    disabled: dict[str, list[str]] = {}
    for org in organizations:
        async with in_tenant(session, org.id):
            leaving = plugins_to_disable_for(kernel, plan, await enabled_plugins(session, org.id))
            for name in leaving:
                await disable_plugin(kernel, session, org.id, name, who=who(actor))
        if leaving:
            disabled[org.slug] = leaving
    await _platform(session)
    return disabled


async def delete_plan(session: AsyncSession, actor: Any, plan_id: UUID) -> None:
    """Delete a plan nobody uses: no organization, not the default, not the registration plan."""
    from kernel.tenancy.platform_settings import get_platform_setting

    await _platform(session)
    plan = await session.get(Plan, plan_id)
    if plan is None:
        raise NotFound("Plan not found.")
    used = await _organizations_on(session, plan.id)
    if used:
        singular, plural = N_plural(
            "%(count)d organization is on this plan: move it to another plan first.",
            "%(count)d organizations are on this plan: move them to another plan first.",
        )
        raise Conflict(singular, plural=plural, count=used)
    if plan.is_default:
        raise Conflict("This is the default plan: make another plan the default before deleting it.")
    if await get_platform_setting(session, "registration.plan") == plan.code:
        raise Conflict("New registrations get this plan (Global defaults): choose another one there first.")
    before = _plan_snapshot(plan)
    await session.delete(plan)
    await session.flush()
    await _record_platform(session, actor, action="plan.deleted", target_type="plan", target_id=plan_id, before=before)


# -- organizations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrganizationRow:
    organization: Organization
    plan: Plan | None
    users: int
    modules: int


def _users_count() -> Any:
    return (
        select(func.count(User.id)).where(User.tenant_id == Organization.id).correlate(Organization).scalar_subquery()
    )


def _modules_count() -> Any:
    return (
        select(func.count(TenantPlugin.id))
        .where(TenantPlugin.tenant_id == Organization.id, TenantPlugin.enabled.is_(True))
        .correlate(Organization)
        .scalar_subquery()
    )


def organizations_statement(q: str = "", status: str | None = None, plan_code: str | None = None) -> Select[Any]:
    """Organizations with their plan and counts, matching a search on name and slug and the filters."""
    statement = select(Organization, Plan, _users_count(), _modules_count()).outerjoin(
        Plan, Plan.id == Organization.plan_id
    )
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(Organization.name.ilike(pattern, escape="\\"), Organization.slug.ilike(pattern, escape="\\"))
        )
    if status:
        statement = statement.where(Organization.status == status)
    if plan_code:
        statement = statement.where(Plan.code == plan_code)
    return statement


def organization_sort_columns() -> dict[str, Any]:
    """The columns each sort key orders by (the id breaks ties, so pages never overlap)."""
    return {
        "name": (func.lower(Organization.name), Organization.id),
        "created": (Organization.created_at, Organization.id),
        "users": (_users_count(), Organization.id),
    }


async def list_organizations(session: AsyncSession, listing: Any) -> tuple[list[OrganizationRow], Any]:
    """One page of organizations for a :class:`kernel.web.listing.Listing` (search ``q``, ``status``, ``plan``)."""
    await _platform(session)
    statement = organizations_statement(listing.q, listing.filters.get("status"), listing.filters.get("plan"))
    rows, listing = await listing.fetch(session, statement, organization_sort_columns())
    return [OrganizationRow(org, plan, int(users), int(modules)) for org, plan, users, modules in rows], listing


@dataclass(frozen=True)
class UserRow:
    user: User
    role: str | None

    @property
    def status(self) -> str:
        if not self.user.is_active:
            return "inactive"
        return "invited" if self.user.password_hash is None else "active"


@dataclass(frozen=True)
class OrganizationDetail:
    organization: Organization
    plan: Plan | None
    users: list[UserRow]
    modules: list[str]
    """Enabled modules, in load order (names no longer installed last)."""
    audit: list[AuditEntry]
    """The organization's latest audit entries, newest first."""


async def _organization(session: AsyncSession, tenant_id: UUID) -> Organization:
    org = await session.get(Organization, tenant_id)
    if org is None:
        raise NotFound("Organization not found.")
    return org


async def organization_detail(kernel: Any, session: AsyncSession, tenant_id: UUID) -> OrganizationDetail:
    await _platform(session)
    org = await _organization(session, tenant_id)
    plan = await session.get(Plan, org.plan_id) if org.plan_id else None
    users = (
        await session.execute(
            select(User, Role.key)
            .outerjoin(Role, Role.id == User.role_id)
            .where(User.tenant_id == org.id)
            .order_by(func.lower(User.name), User.email)
        )
    ).tuples()
    enabled = set(
        (
            await session.execute(
                select(TenantPlugin.plugin).where(TenantPlugin.tenant_id == org.id, TenantPlugin.enabled.is_(True))
            )
        ).scalars()
    )
    order = kernel.plugin_order()
    modules = [name for name in order if name in enabled] + sorted(enabled - set(order))
    audit = (
        await session.execute(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == org.id)
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(RECENT_AUDIT_ENTRIES)
        )
    ).scalars()
    return OrganizationDetail(org, plan, [UserRow(user, role) for user, role in users], modules, list(audit))


@dataclass
class OrganizationInput:
    """A new organization from the panel: its first admin is invited by mail to choose a password."""

    name: str
    slug: str
    admin_email: str
    admin_name: str = ""
    plan: str | None = None
    """A plan code; the default plan when empty."""
    language: str | None = None
    timezone: str | None = None


async def create_organization(kernel: Any, session: AsyncSession, actor: Any, data: OrganizationInput) -> UUID:
    """Provision the organization, mail its admin an invitation; audited in its chain and the platform's."""
    from kernel.auth.users import send_invitation
    from kernel.tenancy.services import (
        _ensure_email_free,
        provision_invited_organization,
        validate_email,
        validate_language,
        validate_slug,
        validate_timezone,
    )

    await _platform(session)
    problems = _Problems()
    # Checked up front so the form can say every problem beside its field, not one at a time.
    name = data.name.strip()
    if not name:
        problems.add("name", "required", "The organization needs a name.")
    elif len(name) > MAX_NAME_LENGTH:
        problems.add("name", "too long", "The name can have at most %(count)d characters.", count=MAX_NAME_LENGTH)
    slug = data.slug.strip().lower()
    try:
        slug = validate_slug(slug)
    except ValidationFailed as exc:
        problems.add("slug", "invalid", exc.detail)
    else:
        if (await session.execute(select(Organization.id).where(Organization.slug == slug))).first():
            problems.add("slug", "taken", "The address %(slug)s is already taken.", slug=slug)
    try:
        email = validate_email(data.admin_email)
    except ValidationFailed as exc:
        problems.add("admin_email", "invalid", exc.detail)
    else:
        try:
            await _ensure_email_free(session, email)
        except Conflict as exc:
            problems.add("admin_email", "taken", exc.detail)
    if data.plan and not (await session.execute(select(Plan.id).where(Plan.code == data.plan))).first():
        problems.add("plan", "unknown", "There is no plan %(plan)s.", plan=data.plan)
    for field_name, value, check in (
        ("language", data.language, validate_language),
        ("timezone", data.timezone, validate_timezone),
    ):
        if value:
            try:
                check(value)
            except ValidationFailed as exc:
                problems.add(field_name, "invalid", exc.detail, **exc.params)
    problems.raise_any()

    provisioned, secret = await provision_invited_organization(
        kernel,
        session,
        slug=slug,
        name=name,
        admin_email=data.admin_email,
        admin_name=data.admin_name,
        plan_code=data.plan or None,
        timezone=data.timezone or None,
        language=data.language or None,
        who=who(actor),
    )
    await _platform(session)
    await _record_platform(
        session,
        actor,
        action="organization.created",
        target_type="organization",
        target_id=provisioned.tenant_id,
        after={
            "slug": provisioned.slug,
            "name": name,
            "plan": data.plan or None,
            "admin_email": provisioned.admin_email,
            "plugins": list(provisioned.enabled_plugins),
        },
    )
    admin = await session.get(User, provisioned.admin_user_id)
    assert admin is not None  # created above, in this transaction
    await send_invitation(kernel, kernel.state["catalogs"], session, admin, secret)
    await _platform(session)
    return provisioned.tenant_id


async def update_organization(
    kernel: Any, session: AsyncSession, actor: Any, tenant_id: UUID, *, name: str | None = None, plan: str | None = None
) -> tuple[Organization, list[str]]:
    """Rename the organization and/or move it to another plan; returns the modules the plan change disabled."""
    from kernel.tenancy.services import change_organization_plan

    await _platform(session)
    org = await _organization(session, tenant_id)
    problems = _Problems()
    if name is not None:
        name = name.strip()
        if not name:
            problems.add("name", "required", "The organization needs a name.")
        elif len(name) > MAX_NAME_LENGTH:
            problems.add("name", "too long", "The name can have at most %(count)d characters.", count=MAX_NAME_LENGTH)
    new_plan = None
    if plan is not None:
        new_plan = (await session.execute(select(Plan).where(Plan.code == plan))).scalar_one_or_none()
        if new_plan is None:
            problems.add("plan", "unknown", "There is no plan %(plan)s.", plan=plan)
    problems.raise_any()

    disabled: list[str] = []
    if name is not None and name != org.name:
        before = {"name": org.name}
        org.name = name
        await session.flush()
        await record(
            session,
            action="organization.updated",
            target_type="organization",
            target_id=org.id,
            tenant_id=org.id,
            before=before,
            after={"name": name},
            **who(actor),
        )
        await _record_platform(
            session,
            actor,
            action="organization.updated",
            target_type="organization",
            target_id=org.id,
            before=before,
            after={"name": name},
        )
    if new_plan is not None and new_plan.id != org.plan_id:
        previous = await session.get(Plan, org.plan_id) if org.plan_id else None
        disabled = await change_organization_plan(kernel, session, org, new_plan, who=who(actor))
        after: dict[str, Any] = {"plan": new_plan.code}
        if disabled:
            after["disabled_plugins"] = disabled
        await _record_platform(
            session,
            actor,
            action="organization.plan_changed",
            target_type="organization",
            target_id=org.id,
            before={"plan": previous.code if previous else None},
            after=after,
        )
    return org, disabled


async def set_organization_active(
    session: AsyncSession, actor: Any, tenant_id: UUID, *, active: bool, reason: str | None = None
) -> Organization:
    """Suspend (with an optional reason, kept in the audit log) or reactivate an organization."""
    from kernel.tenancy.services import change_organization_status

    await _platform(session)
    org = await _organization(session, tenant_id)
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            "The reason can have at most %(count)d characters.",
            errors=[{"field": "reason", "message": "too long"}],
            count=MAX_REASON_LENGTH,
        )
    status = OrganizationStatus.ACTIVE if active else OrganizationStatus.SUSPENDED
    if org.status == status:
        return org
    before = {"status": org.status}
    await change_organization_status(session, org, status, reason=reason, who=who(actor))
    after: dict[str, Any] = {"status": status}
    if reason:
        after["reason"] = reason
    await _record_platform(
        session,
        actor,
        action=f"organization.{'activated' if active else 'suspended'}",
        target_type="organization",
        target_id=org.id,
        before=before,
        after=after,
    )
    return org


# -- impersonation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Impersonation:
    access_token: str
    expires_at: datetime
    user: User
    organization: Organization


async def _user_to_impersonate(session: AsyncSession, org: Organization, user_id: UUID | None) -> User:
    if user_id is not None:
        user = (
            await session.execute(select(User).where(User.id == user_id, User.tenant_id == org.id))
        ).scalar_one_or_none()
        if user is None:
            raise NotFound("User not found.")
        if not user.is_active:
            raise Conflict("This user is deactivated: an impersonation needs an active user.")
        return user
    user = (
        await session.execute(
            select(User)
            .join(Role, Role.id == User.role_id)
            .where(User.tenant_id == org.id, User.is_active.is_(True), Role.key == ADMIN_ROLE)
            .order_by(User.created_at, User.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if user is None:
        raise Conflict("This organization has no active administrator to act as.")
    return user


async def start_impersonation(
    kernel: Any, session: AsyncSession, actor: Any, tenant_id: UUID, *, reason: str, user_id: UUID | None = None
) -> Impersonation:
    """A short access token for one of the organization's users, carrying the administrator's id.

    No refresh token: the impersonation ends when the token expires
    (:data:`IMPERSONATION_LIFETIME`) or is ended. Recorded in the organization's chain and the
    platform's, and the organization's admins are notified, so nobody is looked at unseen.
    """
    from kernel.auth.jwt import encode_access
    from kernel.notifications.service import notify
    from kernel.tenancy.services import in_tenant

    await _platform(session)
    if not actor.can("platform.tenant.manage") or actor.user_id is None:
        raise Forbidden("Only a platform administrator can impersonate.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "Say why you need to act as this user: it is recorded and shown to the organization.",
            errors=[{"field": "reason", "message": "required"}],
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            "The reason can have at most %(count)d characters.",
            errors=[{"field": "reason", "message": "too long"}],
            count=MAX_REASON_LENGTH,
        )
    org = await _organization(session, tenant_id)
    if org.status != OrganizationStatus.ACTIVE:
        raise Conflict("This organization is suspended: reactivate it before acting as one of its users.")
    user = await _user_to_impersonate(session, org, user_id)
    token, claims = encode_access(
        kernel.settings.secret_key,
        user_id=user.id,
        tenant_id=org.id,
        token_version=user.token_version,
        lifetime=IMPERSONATION_LIFETIME,
        impersonator_id=actor.user_id,
    )
    details = {
        "administrator": actor.email,
        "user": user.email,
        "organization": org.slug,
        "reason": reason,
        "expires_at": claims.expires_at,
    }
    await record(
        session,
        action="platform.impersonation_started",
        target_type="user",
        target_id=user.id,
        tenant_id=org.id,
        after=details,
        **who(actor),
    )
    await _record_platform(
        session, actor, action="platform.impersonation_started", target_type="user", target_id=user.id, after=details
    )
    async with in_tenant(session, org.id):
        admins = (
            await session.execute(
                select(User.id)
                .join(Role, Role.id == User.role_id)
                .where(User.tenant_id == org.id, User.is_active.is_(True), Role.key == ADMIN_ROLE)
            )
        ).scalars()
        await notify(
            session,
            kind="platform.impersonation_started",
            message=N_(
                "Platform support (%(administrator)s) is acting as %(user)s for %(minutes)d minutes. Reason: %(reason)s"
            ),
            params={
                "administrator": actor.email,
                "user": user.email,
                "reason": reason,
                "minutes": int(IMPERSONATION_LIFETIME.total_seconds() // 60),
            },
            link="/app/-/audit",
            user_ids=list(admins),
            domain=KERNEL_DOMAIN,
        )
    await _platform(session)
    return Impersonation(token, claims.expires_at, user, org)


async def end_impersonation(session: AsyncSession, store: Any, actor: Any) -> UUID:
    """End the caller's impersonation: its token stops working at once. Returns the organization's id.

    The token goes on the logout deny-list (``kernel.auth.middleware.revoked_key``) until it would have
    expired; the end is recorded in the organization's chain and the platform's.
    """
    from kernel.auth.middleware import revoked_key

    if actor.impersonator_id is None or actor.tenant_id is None:
        raise Forbidden("This session is not an impersonation.")
    if actor.token_jti and actor.token_expires_at:
        remaining = int((actor.token_expires_at - datetime.now(UTC)).total_seconds()) + 5
        if remaining > 0:
            await store.set(revoked_key(actor.token_jti), b"1", expires_in=remaining)
    ender = {"actor_type": "platform", "actor_id": actor.impersonator_id, "actor_label": actor.audit_label}
    details = {"administrator": actor.impersonator_email, "user": actor.email, "organization": actor.tenant_slug}
    await set_session_scope(session, platform=True)
    await record(
        session,
        action="platform.impersonation_ended",
        target_type="user",
        target_id=actor.user_id,
        tenant_id=actor.tenant_id,
        after=details,
        **ender,
    )
    await record(
        session,
        action="platform.impersonation_ended",
        target_type="user",
        target_id=actor.user_id,
        after=details,
        **ender,
    )
    return actor.tenant_id


# -- plugin catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PluginEntry:
    name: str
    title: str
    description: str
    version: str
    distribution: str | None
    depends: tuple[str, ...]
    features: tuple[PlanFeature, ...]
    auto_enable: bool
    organizations: int
    health: Literal["ok", "failed"]
    reason: str | None = None
    """Why it failed to load."""


async def _organizations_per_plugin(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(TenantPlugin.plugin, func.count(TenantPlugin.id))
        .where(TenantPlugin.enabled.is_(True))
        .group_by(TenantPlugin.plugin)
    )
    return {plugin: int(count) for plugin, count in rows.tuples()}


async def plugin_catalog(kernel: Any, session: AsyncSession, catalogs: Any, language: str) -> list[PluginEntry]:
    """Every installed plugin in load order, translated, then the ones that failed to load."""
    await _platform(session)
    counts = await _organizations_per_plugin(session)
    features = plan_features(kernel)
    entries = []
    for name in kernel.plugin_order():
        loaded = kernel.plugins.plugins[name]
        manifest = loaded.manifest
        domains = (name, KERNEL_DOMAIN)
        entries.append(
            PluginEntry(
                name=name,
                title=catalogs.gettext(domains, language, manifest.title) if manifest.title else name,
                description=catalogs.gettext(domains, language, manifest.description) if manifest.description else "",
                version=manifest.version,
                distribution=loaded.distribution,
                depends=tuple(manifest.depends),
                features=tuple(feature for feature in features if feature.plugin == name),
                auto_enable=manifest.auto_enable,
                organizations=counts.get(name, 0),
                health="ok",
            )
        )
    for name, reason in sorted(kernel.plugins.failed.items()):
        entries.append(
            PluginEntry(
                name=name,
                title=name,
                description="",
                version="",
                distribution=None,
                depends=(),
                features=(),
                auto_enable=False,
                organizations=counts.get(name, 0),
                health="failed",
                reason=reason,
            )
        )
    return entries


def plugin_titles(kernel: Any, catalogs: Any, language: str) -> dict[str, str]:
    """Each installed plugin's translated title, by name (for checkboxes and module lists)."""
    titles = {}
    for name in kernel.plugin_order():
        manifest = kernel.plugins.plugins[name].manifest
        titles[name] = catalogs.gettext((name, KERNEL_DOMAIN), language, manifest.title) if manifest.title else name
    return titles


# -- overview ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    organizations_active: int
    organizations_suspended: int
    users: int
    plans: int
    modules_healthy: int
    modules_failed: int
    newest: list[OrganizationRow]
    audit: list[AuditEntry]
    """The platform chain's latest entries, newest first."""


async def overview(kernel: Any, session: AsyncSession, *, newest: int = 5) -> Overview:
    await _platform(session)
    by_status = dict(
        (await session.execute(select(Organization.status, func.count(Organization.id)).group_by(Organization.status)))
        .tuples()
        .all()
    )
    users = (await session.execute(select(func.count(User.id)).where(User.tenant_id.is_not(None)))).scalar_one()
    plans = (await session.execute(select(func.count(Plan.id)))).scalar_one()
    rows = await session.execute(
        organizations_statement().order_by(Organization.created_at.desc(), Organization.id.desc()).limit(newest)
    )
    audit = (
        await session.execute(
            select(AuditEntry)
            .where(AuditEntry.tenant_id.is_(None))
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
            .limit(RECENT_AUDIT_ENTRIES)
        )
    ).scalars()
    return Overview(
        organizations_active=int(by_status.get(OrganizationStatus.ACTIVE, 0)),
        organizations_suspended=int(by_status.get(OrganizationStatus.SUSPENDED, 0)),
        users=int(users),
        plans=int(plans),
        modules_healthy=len(kernel.plugins.plugins),
        modules_failed=len(kernel.plugins.failed),
        newest=[OrganizationRow(org, plan, int(u), int(m)) for org, plan, u, m in rows.tuples()],
        audit=list(audit),
    )
