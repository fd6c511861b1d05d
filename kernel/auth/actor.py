"""The authenticated caller of a request, worked out from an access token or an API token.

Each request re-reads the user (or API token), its organization's status and language, the
organization's enabled plugins and the user's role in one query, so a suspension, a disabled plugin, a
changed role or a bumped ``token_version`` takes effect on the very next request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import func, select, update

from kernel.auth.jwt import AccessClaims
from kernel.auth.models import ApiToken, User
from kernel.auth.secrets import hash_secret
from kernel.db.session import set_session_scope
from kernel.rbac.models import Role
from kernel.rbac.permissions import effective_permissions, role_permissions
from kernel.tenancy.models import Organization, OrganizationStatus, TenantPlugin

__all__ = ["Actor", "load_api_token_actor", "load_user_actor"]

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
    api_token_id: UUID | None = None
    token_jti: str | None = None
    token_expires_at: datetime | None = None

    def can(self, permission: str) -> bool:
        if permission.startswith("platform."):
            return self.is_platform_admin and self.kind == "user"
        return permission in self.permissions

    @property
    def audit_label(self) -> str:
        return self.email if self.kind == "user" else f"API token {self.name}"


def _enabled_plugins_of(tenant_column: Any) -> Any:
    return (
        select(func.coalesce(func.array_agg(TenantPlugin.plugin), []))
        .where(TenantPlugin.tenant_id == tenant_column, TenantPlugin.enabled.is_(True))
        .scalar_subquery()
    )


async def load_user_actor(kernel: Any, claims: AccessClaims) -> Actor | None:
    """The actor behind a valid access token, or ``None`` when the token no longer stands."""
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=claims.tenant_id, platform=claims.tenant_id is None)
        row = (
            await session.execute(
                select(
                    User,
                    Organization.status,
                    Organization.language,
                    Organization.timezone,
                    Role,
                    _enabled_plugins_of(User.tenant_id),
                )
                .outerjoin(Organization, Organization.id == User.tenant_id)
                .outerjoin(Role, Role.id == User.role_id)
                .where(User.id == claims.user_id)
            )
        ).first()
    if row is None:
        return None
    user, org_status, org_language, org_timezone, role, plugins = row
    if not user.is_active or user.token_version != claims.token_version or user.tenant_id != claims.tenant_id:
        return None
    if user.tenant_id is None and not user.is_platform_admin:
        return None
    if user.tenant_id is not None and org_status != OrganizationStatus.ACTIVE:
        return None
    enabled = frozenset(plugins or ())
    permissions: frozenset[str] = frozenset()
    if role is not None:
        granted = role_permissions(role.key, role.is_system, role.permissions, kernel.registry.declared_permissions)
        permissions = effective_permissions(granted, kernel.registry.permission_owners, enabled)
    return Actor(
        kind="user",
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        enabled_plugins=enabled,
        permissions=permissions,
        role=role.key if role else None,
        language=user.language,
        tenant_language=org_language,
        tenant_timezone=org_timezone,
        token_jti=claims.jti,
        token_expires_at=claims.expires_at,
    )


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
