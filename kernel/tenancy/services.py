"""Organizations: provisioning, suspension, plans, and per-tenant plugin enablement."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.service import record
from kernel.auth.models import User
from kernel.auth.passwords import hash_password, normalize_email
from kernel.db.scope import current_tenant_id, in_platform_scope, tenant_scope
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, NotFound, ValidationFailed
from kernel.i18n.catalogs import SUPPORTED_LANGUAGES
from kernel.rbac.api import seed_system_roles
from kernel.tenancy.models import Organization, OrganizationStatus, Plan, TenantPlugin

__all__ = [
    "DEFAULT_PLAN_CODE",
    "ProvisionedOrganization",
    "change_organization_plan",
    "change_organization_status",
    "create_platform_admin",
    "disable_plugin",
    "enable_plugin",
    "enabled_plugins",
    "ensure_default_plan",
    "in_tenant",
    "plugins_to_disable_for",
    "provision_invited_organization",
    "provision_organization",
    "seed_demo_data",
    "set_organization_status",
    "time_zones",
    "validate_language",
    "validate_timezone",
]

DEFAULT_PLAN_CODE = "default"
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class ProvisionedOrganization:
    tenant_id: UUID
    slug: str
    admin_user_id: UUID
    admin_email: str
    enabled_plugins: tuple[str, ...]


async def _maybe_await(value: Any) -> Any:
    if isinstance(value, Awaitable):
        return await value
    return value


async def ensure_default_plan(session: AsyncSession) -> Plan:
    """The plan new organizations get when none is named: every installed plugin allowed."""
    plan = (await session.execute(select(Plan).where(Plan.is_default.is_(True)))).scalar_one_or_none()
    if plan is None:
        plan = (await session.execute(select(Plan).where(Plan.code == DEFAULT_PLAN_CODE))).scalar_one_or_none()
    if plan is None:
        plan = Plan(code=DEFAULT_PLAN_CODE, name="Default", allowed_plugins=None, features={}, is_default=True)
        try:
            await add_unique(session, plan, LookupError())
        except LookupError:  # another request created it a moment ago: use that one
            plan = (await session.execute(select(Plan).where(Plan.code == DEFAULT_PLAN_CODE))).scalar_one()
    return plan


def validate_slug(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            "The slug must be 1 to 40 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
            errors=[{"field": "slug", "message": "invalid slug"}],
        )
    return slug


def validate_email(email: str) -> str:
    email = normalize_email(email)
    if not EMAIL_RE.match(email):
        raise ValidationFailed("The email address is not valid.", errors=[{"field": "email", "message": "invalid"}])
    return email


_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
"""Names the system's time zone database lists that are not places: ``localtime`` is the server's own."""


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this server knows (``America/Sao_Paulo``, ``UTC``, ...)."""
    return frozenset(available_timezones() - _NOT_ZONES)


def validate_timezone(timezone: str) -> str:
    """An IANA time zone name this system knows (``America/Sao_Paulo``)."""
    timezone = timezone.strip()
    if timezone not in time_zones():
        raise ValidationFailed(
            "%(timezone)s is not a known time zone.",
            errors=[{"field": "timezone", "message": "invalid"}],
            timezone=timezone,
        )
    return timezone


def validate_language(language: str) -> str:
    """One of the languages the interface speaks (pt-BR, en, es)."""
    language = language.strip()
    if language not in SUPPORTED_LANGUAGES:
        raise ValidationFailed(
            "%(language)s is not a supported language.",
            errors=[{"field": "language", "message": "unknown"}],
            language=language,
        )
    return language


def validate_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "The password must have at least %(count)d characters.",
            errors=[{"field": "password", "message": "too short"}],
            count=MIN_PASSWORD_LENGTH,
        )


async def provision_organization(
    kernel: Any,
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str,
    admin_name: str | None = None,
    plan_code: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
) -> ProvisionedOrganization:
    """Create an organization, its first admin and its plan's plugins, in the caller's transaction.

    Runs in the platform scope to check the slug and the email across tenants, then switches the
    transaction to the new tenant, so seeds from ``on_plugin_enabled`` land under row-level security.
    """
    return await _provision(
        kernel,
        session,
        slug=slug,
        name=name,
        admin_email=admin_email,
        admin_password=admin_password,
        admin_name=admin_name,
        plan_code=plan_code,
        timezone=timezone,
        language=language,
    )


async def provision_invited_organization(
    kernel: Any,
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_name: str | None = None,
    plan_code: str | None = None,
    timezone: str | None = None,
    language: str | None = None,
    who: Mapping[str, Any] | None = None,
) -> tuple[ProvisionedOrganization, str]:
    """Like :func:`provision_organization`, but the first admin gets no password: an invitation instead.

    Returns the organization and the invitation secret to mail (``kernel.auth.users.send_invitation``);
    the admin chooses a password through that link. The time zone and language are checked here, since
    a person typed them. ``who`` (``actor_type``, ``actor_id``, ``actor_label``) names the platform
    administrator in the new organization's audit entries. Leaves the session in the new tenant's
    scope, like provisioning does.
    """
    from kernel.auth.services import start_user_token

    timezone = validate_timezone(timezone) if timezone else None
    language = validate_language(language) if language else None
    provisioned = await _provision(
        kernel,
        session,
        slug=slug,
        name=name,
        admin_email=admin_email,
        admin_password=None,
        admin_name=(admin_name or "").strip() or None,
        plan_code=plan_code,
        timezone=timezone,
        language=language,
        who=who,
    )
    admin = await session.get(User, provisioned.admin_user_id)
    assert admin is not None  # created just above, in this transaction
    secret = await start_user_token(session, admin, "invite")
    return provisioned, secret


async def _provision(
    kernel: Any,
    session: AsyncSession,
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str | None,
    admin_name: str | None,
    plan_code: str | None,
    timezone: str | None,
    language: str | None,
    who: Mapping[str, Any] | None = None,
) -> ProvisionedOrganization:
    slug = validate_slug(slug)
    email = validate_email(admin_email)
    if admin_password is not None:  # None: the admin is invited and chooses one
        validate_new_password(admin_password)
    if not name.strip():
        raise ValidationFailed("The organization needs a name.", errors=[{"field": "name", "message": "required"}])

    await set_session_scope(session, platform=True)
    if (await session.execute(select(Organization.id).where(Organization.slug == slug))).first():
        raise Conflict("The address %(slug)s is already taken.", slug=slug)
    await _ensure_email_free(session, email)
    if plan_code:
        plan = (await session.execute(select(Plan).where(Plan.code == plan_code))).scalar_one_or_none()
        if plan is None:
            raise NotFound("There is no plan %(plan)s.", plan=plan_code)
    else:
        plan = await ensure_default_plan(session)
    org = Organization(
        slug=slug,
        name=name.strip(),
        status=OrganizationStatus.ACTIVE,
        plan_id=plan.id,
        timezone=timezone or kernel.settings.default_timezone,
        language=language or kernel.settings.default_language,
    )
    await add_unique(session, org, Conflict("The address %(slug)s is already taken.", slug=slug))

    await set_session_scope(session, tenant_id=org.id)
    roles = await seed_system_roles(session)
    admin = await _add_user(
        session, tenant_id=org.id, email=email, password=admin_password, name=admin_name, role_id=roles["admin"].id
    )
    enabled: list[str] = []
    with tenant_scope(org.id):
        for plugin in kernel.plugin_order():
            manifest = kernel.plugins.plugins[plugin].manifest
            if manifest.auto_enable and plan.allows(plugin) and all(dep in enabled for dep in manifest.depends):
                await _enable(kernel, session, org.id, plugin, who=who)
                enabled.append(plugin)
    await record(
        session,
        action="organization.created",
        target_type="organization",
        target_id=org.id,
        tenant_id=org.id,
        after={"slug": slug, "name": org.name, "plan": plan.code, "admin_email": email, "plugins": enabled},
        **(who or {}),
    )
    return ProvisionedOrganization(
        tenant_id=org.id, slug=slug, admin_user_id=admin.id, admin_email=email, enabled_plugins=tuple(enabled)
    )


async def create_platform_admin(session: AsyncSession, *, email: str, password: str, name: str | None = None) -> User:
    """A super-admin: no organization, the platform scope after login."""
    email = validate_email(email)
    validate_new_password(password)
    await set_session_scope(session, platform=True)
    await _ensure_email_free(session, email)
    return await _add_user(session, tenant_id=None, email=email, password=password, name=name)


async def _ensure_email_free(session: AsyncSession, email: str) -> None:
    """Emails are unique across the platform; the caller is in the platform scope."""
    if (await session.execute(select(User.id).where(User.email == email))).first():
        raise Conflict("A user with this email already exists.")


async def _add_user(
    session: AsyncSession,
    *,
    tenant_id: UUID | None,
    email: str,
    password: str | None,
    name: str | None,
    role_id: UUID | None = None,
) -> User:
    """A user; without a password (``None``) until they accept their invitation."""
    user = User(
        tenant_id=tenant_id,
        role_id=role_id,
        email=email,
        name=(name or email.split("@")[0]).strip(),
        password_hash=hash_password(password) if password is not None else None,
        is_platform_admin=tenant_id is None,
        is_active=True,
        token_version=0,
    )
    await add_unique(session, user, Conflict("A user with this email already exists."))
    return user


async def add_unique(session: AsyncSession, row: Any, taken: Exception) -> None:
    """Insert ``row``; when a unique value was taken meanwhile (two requests at once), raise ``taken``.

    The checks before an insert catch the usual case with a clear message; this catches the race
    between two of them, in a savepoint, so the transaction stays usable and nothing answers 500.
    """
    from sqlalchemy.exc import IntegrityError

    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError as exc:
        raise taken from exc


async def seed_demo_data(kernel: Any, session: AsyncSession, tenant_id: UUID) -> None:
    """Run ``seed_demo`` of the tenant's enabled plugins, in dependency order, in the caller's transaction."""
    await set_session_scope(session, tenant_id=tenant_id)
    enabled = await enabled_plugins(session, tenant_id)
    with tenant_scope(tenant_id):
        for _, result in kernel.plugins.call_each(
            "seed_demo", only=enabled, kernel=kernel, tenant_id=tenant_id, session=session
        ):
            await _maybe_await(result)


async def enabled_plugins(session: AsyncSession, tenant_id: UUID) -> frozenset[str]:
    rows = await session.execute(
        select(TenantPlugin.plugin).where(TenantPlugin.tenant_id == tenant_id, TenantPlugin.enabled.is_(True))
    )
    return frozenset(rows.scalars())


async def _enable(
    kernel: Any, session: AsyncSession, tenant_id: UUID, plugin: str, *, who: Mapping[str, Any] | None = None
) -> None:
    row = (await session.execute(select(TenantPlugin).where(TenantPlugin.plugin == plugin))).scalar_one_or_none()
    if row is None:
        session.add(TenantPlugin(tenant_id=tenant_id, plugin=plugin, enabled=True, settings={}))
    else:
        row.enabled = True
    await session.flush()
    for _, result in kernel.plugins.call_each(
        "on_plugin_enabled", only=plugin, kernel=kernel, tenant_id=tenant_id, session=session
    ):
        await _maybe_await(result)
    await record(
        session, action="plugin.enabled", target_type="plugin", target_id=plugin, tenant_id=tenant_id, **(who or {})
    )


async def enable_plugin(kernel: Any, session: AsyncSession, tenant_id: UUID, plugin: str) -> list[str]:
    """Enable ``plugin`` (and the plugins it depends on) for the current tenant; returns what was enabled."""
    if plugin not in kernel.plugins.plugins:
        raise NotFound("There is no module %(plugin)s.", plugin=plugin)
    org = await session.get(Organization, tenant_id)
    if org is None:
        raise NotFound("Organization not found.")
    plan = await session.get(Plan, org.plan_id) if org.plan_id else None
    already = await enabled_plugins(session, tenant_id)
    newly: list[str] = []
    for name in _with_dependencies(kernel, plugin):
        if name in already:
            continue
        if plan is not None and not plan.allows(name):
            raise Conflict("The plan %(plan)s does not include the module %(plugin)s.", plan=plan.name, plugin=name)
        await _enable(kernel, session, tenant_id, name)
        newly.append(name)
    return newly


async def disable_plugin(
    kernel: Any, session: AsyncSession, tenant_id: UUID, plugin: str, *, who: Mapping[str, Any] | None = None
) -> None:
    """Disable ``plugin`` for the current tenant; refused while an enabled plugin depends on it.

    ``who`` (``actor_type``, ``actor_id``, ``actor_label``) names the actor in the audit entry when it
    is not the request's own user (a platform administrator acting on the organization).
    """
    enabled = await enabled_plugins(session, tenant_id)
    if plugin not in enabled:
        return
    dependents = sorted(
        name
        for name in enabled
        if name in kernel.plugins.plugins and plugin in kernel.plugins.plugins[name].manifest.depends
    )
    if dependents:
        raise Conflict(
            "Disable %(dependents)s first: they depend on %(plugin)s.", dependents=", ".join(dependents), plugin=plugin
        )
    row = (await session.execute(select(TenantPlugin).where(TenantPlugin.plugin == plugin))).scalar_one()
    row.enabled = False
    await session.flush()
    for _, result in kernel.plugins.call_each(
        "on_plugin_disabled", only=plugin, kernel=kernel, tenant_id=tenant_id, session=session
    ):
        await _maybe_await(result)
    await record(
        session, action="plugin.disabled", target_type="plugin", target_id=plugin, tenant_id=tenant_id, **(who or {})
    )


def _with_dependencies(kernel: Any, plugin: str) -> list[str]:
    order = kernel.plugin_order()
    needed: set[str] = set()
    stack = [plugin]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack.extend(kernel.plugins.plugins[name].manifest.depends)
    return [name for name in order if name in needed]


async def set_organization_status(
    session: AsyncSession, slug: str, status: str, *, reason: str | None = None
) -> Organization:
    """Suspend or reactivate an organization (platform scope). Suspended tenants cannot log in."""
    if status not in (OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED):
        raise ValidationFailed("Unknown status %(status)s.", status=status)
    org = (await session.execute(select(Organization).where(Organization.slug == slug))).scalar_one_or_none()
    if org is None:
        raise NotFound("There is no organization %(slug)s.", slug=slug)
    return await change_organization_status(session, org, status, reason=reason)


async def change_organization_status(
    session: AsyncSession,
    org: Organization,
    status: str,
    *,
    reason: str | None = None,
    who: Mapping[str, Any] | None = None,
) -> Organization:
    """Set ``org``'s status, audited in its chain with the optional ``reason`` (shown in the audit log)."""
    if status not in (OrganizationStatus.ACTIVE, OrganizationStatus.SUSPENDED):
        raise ValidationFailed("Unknown status %(status)s.", status=status)
    before = org.status
    org.status = status
    await session.flush()
    after: dict[str, Any] = {"status": status}
    if reason:
        after["reason"] = reason
    await record(
        session,
        action=f"organization.{'suspended' if status == OrganizationStatus.SUSPENDED else 'activated'}",
        target_type="organization",
        target_id=org.id,
        tenant_id=org.id,
        before={"status": before},
        after=after,
        **(who or {}),
    )
    return org


def plugins_to_disable_for(kernel: Any, plan: Plan, enabled: frozenset[str]) -> list[str]:
    """The enabled plugins ``plan`` does not allow, plus those depending on them, dependents first.

    A plugin the plan allows still has to go when something it depends on goes: it cannot run
    without it. Installed plugins come in reverse load order (each dependent before what it needs);
    names no longer installed, which nothing can depend on, come last.
    """
    installed = kernel.plugins.plugins
    leaving = {name for name in enabled if not plan.allows(name)}
    grew = True
    while grew:
        grew = False
        for name in enabled - leaving:
            if name in installed and any(dep in leaving for dep in installed[name].manifest.depends):
                leaving.add(name)
                grew = True
    ordered = [name for name in reversed(kernel.plugin_order()) if name in leaving]
    return ordered + sorted(leaving - set(ordered))


async def change_organization_plan(
    kernel: Any, session: AsyncSession, org: Organization, plan: Plan, *, who: Mapping[str, Any] | None = None
) -> list[str]:
    """Move ``org`` to ``plan``; returns the modules that had to be disabled (dependents first).

    Enabled modules the new plan does not allow are disabled (their data is kept, as with any
    disabling), so the organization never runs a module its plan excludes. Modules the new plan adds
    are not enabled: the organization's admins choose them. Audited in the organization's chain.
    """
    if org.plan_id == plan.id:
        return []
    previous = await session.get(Plan, org.plan_id) if org.plan_id else None
    async with in_tenant(session, org.id):
        leaving = plugins_to_disable_for(kernel, plan, await enabled_plugins(session, org.id))
        for name in leaving:
            await disable_plugin(kernel, session, org.id, name, who=who)
    org.plan_id = plan.id
    await session.flush()
    after: dict[str, Any] = {"plan": plan.code}
    if leaving:
        after["disabled_plugins"] = leaving
    await record(
        session,
        action="organization.plan_changed",
        target_type="organization",
        target_id=org.id,
        tenant_id=org.id,
        before={"plan": previous.code if previous else None},
        after=after,
        **(who or {}),
    )
    return leaving


@asynccontextmanager
async def in_tenant(session: AsyncSession, tenant_id: UUID) -> AsyncIterator[None]:
    """Work inside one organization (session and context scope), then return to the scope before.

    Platform services use it to run a tenant's own rules (plugin hooks, notifications) under that
    tenant's row-level security, in the same transaction.
    """
    had = {key: session.info[key] for key in ("tenant_id", "platform") if key in session.info}
    await set_session_scope(session, tenant_id=tenant_id)
    try:
        with tenant_scope(tenant_id):
            yield
    except BaseException:
        # The transaction may be failing: restore the scope without talking to the database.
        session.info["tenant_id"] = had.get("tenant_id", current_tenant_id())
        session.info["platform"] = had.get("platform", in_platform_scope())
        raise
    await set_session_scope(
        session, tenant_id=had.get("tenant_id", current_tenant_id()), platform=had.get("platform", in_platform_scope())
    )
