"""The authenticated caller of a request, worked out from an access token or an API token.

Each request re-reads the user (or API token), its organization's status and language, the
organization's enabled plugins and the user's role in one query, so a suspension, a disabled plugin, a
changed role or a bumped ``token_version`` takes effect on the very next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import bindparam, func, select, update

from kernel.auth.jwt import AccessClaims
from kernel.auth.models import ApiToken, User
from kernel.auth.secrets import hash_secret
from kernel.db.session import set_session_scope
from kernel.rbac.models import Role
from kernel.rbac.permissions import effective_permissions, role_permissions
from kernel.tenancy.models import Organization, OrganizationStatus, TenantPlugin

__all__ = ["Actor", "load_api_token_actor", "load_user_actor", "refuse_while_impersonating"]

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user (with a session) or an integration (with an API token)."""

    kind: Literal["user", "api_token"]
    user_id: UUID | None
    tenant_id: UUID | None
    email: str
    name: str
    is_platform_admin: bool
    enabled_plugins: frozenset[str]
    permissions: frozenset[str] = field(default_factory=frozenset)
    role: str | None = None
    language: str | None = None
    """The user's own language preference, if any."""
    tenant_language: str | None = None
    """The organization's default language."""
    tenant_timezone: str | None = None
    tenant_name: str | None = None
    tenant_slug: str | None = None
    brand_primary: str | None = None
    brand_accent: str | None = None
    logo_path: str | None = None
    api_token_id: UUID | None = None
    token_jti: str | None = None
    token_expires_at: datetime | None = None
    impersonator_id: UUID | None = None
    """The platform administrator acting as this user, when the session is an impersonation."""
    impersonator_email: str | None = None

    def can(self, permission: str) -> bool:
        if permission.startswith("platform."):
            return self.is_platform_admin and self.kind == "user" and self.impersonator_id is None
        return permission in self.permissions

    @property
    def audit_label(self) -> str:
        if self.kind != "user":
            return f"API token {self.name}"
        if self.impersonator_email:
            return f"{self.impersonator_email} (as {self.email})"
        return self.email


def refuse_while_impersonating(actor: Any) -> None:
    """Some acts stay the person's own: a platform administrator acting as them may not do them.

    Changing their password or profile, ending their sessions, and creating what outlives the
    impersonation (API tokens, invitations of new users): each would leave access or changes behind
    that no longer carry the administrator's name.
    """
    from kernel.errors import Forbidden

    if getattr(actor, "impersonator_id", None) is not None:
        raise Forbidden("Not while acting as someone else.")


def _enabled_plugins_of(tenant_column: Any) -> Any:
    return (
        select(func.coalesce(func.array_agg(TenantPlugin.plugin), []))
        .where(TenantPlugin.tenant_id == tenant_column, TenantPlugin.enabled.is_(True))
        .scalar_subquery()
    )


@lru_cache(maxsize=1)
def _user_actor_query() -> Any:
    """One row with what a request needs to know of its user, built once (only its parameter changes).

    Columns rather than entities: the organization row also holds the business hours, policies and the
    agents' text, which no request check reads.
    """
    return (
        select(
            User.id,
            User.tenant_id,
            User.email,
            User.name,
            User.is_active,
            User.is_platform_admin,
            User.token_version,
            User.language,
            Organization.status,
            Organization.language,
            Organization.timezone,
            Organization.name,
            Organization.slug,
            Organization.brand_primary,
            Organization.brand_accent,
            Organization.logo_path,
            Role.key,
            Role.is_system,
            Role.permissions,
            _enabled_plugins_of(User.tenant_id),
        )
        .outerjoin(Organization, Organization.id == User.tenant_id)
        .outerjoin(Role, Role.id == User.role_id)
        .where(User.id == bindparam("user_id"))
    )


async def load_user_actor(kernel: Any, claims: AccessClaims) -> Actor | None:
    """The actor behind a valid access token, or ``None`` when the token no longer stands."""
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=claims.tenant_id, platform=claims.tenant_id is None)
        row = (await session.execute(_user_actor_query(), {"user_id": claims.user_id})).first()
    if row is None:
        return None
    (
        user_id,
        tenant_id,
        email,
        name,
        is_active,
        is_platform_admin,
        token_version,
        language,
        org_status,
        org_language,
        org_timezone,
        org_name,
        org_slug,
        brand_primary,
        brand_accent,
        logo_path,
        role_key,
        role_is_system,
        role_grants,
        plugins,
    ) = row
    if not is_active or token_version != claims.token_version or tenant_id != claims.tenant_id:
        return None
    if tenant_id is None and not is_platform_admin:
        return None
    if tenant_id is not None and org_status != OrganizationStatus.ACTIVE:
        return None
    impersonator_email = None
    if claims.impersonator_id is not None:
        impersonator_email = await _active_platform_admin_email(kernel, claims.impersonator_id)
        if impersonator_email is None:
            return None
    enabled = frozenset(plugins or ())
    permissions: frozenset[str] = frozenset()
    if role_key is not None:
        granted = role_permissions(role_key, role_is_system, role_grants, kernel.registry.declared_permissions)
        permissions = effective_permissions(granted, kernel.registry.permission_owners, enabled)
    return Actor(
        kind="user",
        user_id=user_id,
        tenant_id=tenant_id,
        email=email,
        name=name,
        is_platform_admin=is_platform_admin,
        enabled_plugins=enabled,
        permissions=permissions,
        role=role_key,
        language=language,
        tenant_language=org_language,
        tenant_timezone=org_timezone,
        tenant_name=org_name,
        tenant_slug=org_slug,
        brand_primary=brand_primary,
        brand_accent=brand_accent,
        logo_path=logo_path,
        token_jti=claims.jti,
        token_expires_at=claims.expires_at,
        impersonator_id=claims.impersonator_id,
        impersonator_email=impersonator_email,
    )


async def _active_platform_admin_email(kernel: Any, user_id: UUID) -> str | None:
    """An impersonation stands only while its platform administrator is still one, and active."""
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        row = (
            await session.execute(
                select(User.email).where(User.id == user_id, User.is_platform_admin.is_(True), User.is_active.is_(True))
            )
        ).first()
    return row[0] if row else None


async def load_api_token_actor(kernel: Any, token: str) -> Actor | None:
    """The actor behind an API token, or ``None`` if it is unknown, revoked, expired or its organization is off."""
    now = datetime.now(UTC)
    async with kernel.db.session() as session:
        # The token names no tenant until it is found: look it up in the platform scope, by hash only.
        await set_session_scope(session, platform=True)
        row = (
            await session.execute(
                select(
                    ApiToken,
                    Organization.status,
                    Organization.language,
                    Organization.timezone,
                    _enabled_plugins_of(ApiToken.tenant_id),
                )
                .join(Organization, Organization.id == ApiToken.tenant_id)
                .where(ApiToken.token_hash == hash_secret(token))
            )
        ).first()
        if row is None:
            return None
        api_token, org_status, org_language, org_timezone, plugins = row
        if api_token.revoked_at is not None or org_status != OrganizationStatus.ACTIVE:
            return None
        if api_token.expires_at is not None and api_token.expires_at <= now:
            return None
        if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_RESOLUTION:
            await session.execute(update(ApiToken).where(ApiToken.id == api_token.id).values(last_used_at=now))
            await session.commit()
    enabled = frozenset(plugins or ())
    declared = kernel.registry.declared_permissions
    granted = frozenset(name for name in api_token.permissions if name in declared and not name.startswith("platform."))
    return Actor(
        kind="api_token",
        user_id=api_token.created_by,
        tenant_id=api_token.tenant_id,
        email="",
        name=api_token.name,
        is_platform_admin=False,
        enabled_plugins=enabled,
        permissions=effective_permissions(granted, kernel.registry.permission_owners, enabled),
        tenant_language=org_language,
        tenant_timezone=org_timezone,
        api_token_id=api_token.id,
    )
