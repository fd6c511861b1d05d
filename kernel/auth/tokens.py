"""Who is calling: access tokens, the request's actor, and the login endpoint.

Access tokens are short-lived JWTs (HS256 pinned, ``aud``/``iss`` checked) carrying the user id, the
tenant id (``tid``, absent for platform admins) and the user's ``token_version``; browsers get the same
token in an HttpOnly cookie, the API reads ``Authorization: Bearer``. Every request re-reads the user,
its organization and the organization's enabled plugins in one query, so a suspension, a disabled
plugin or a bumped ``token_version`` takes effect at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
import structlog
from litestar import Request, post
from litestar.connection import ASGIConnection
from litestar.params import JSONBody
from litestar.security.jwt import JWTCookieAuth, Token
from sqlalchemy import func, select

from kernel.auth.models import User
from kernel.auth.passwords import normalize_email, verify_password
from kernel.db.scope import set_current_scope
from kernel.db.session import set_session_scope
from kernel.errors import KernelError
from kernel.tenancy.models import Organization, OrganizationStatus, TenantPlugin
from kernel.web.context import set_request_actor

__all__ = ["AUDIENCE", "ISSUER", "Actor", "build_auth", "issue_access_token", "login"]

AUDIENCE = "atendai"
ISSUER = "atendai"
PUBLIC = "public"
"""Route ``opt`` key marking a route as reachable without a token."""


@dataclass(frozen=True)
class Actor:
    """The authenticated caller of a request."""

    user_id: UUID
    tenant_id: UUID | None
    email: str
    name: str
    is_platform_admin: bool
    enabled_plugins: frozenset[str]
    language: str | None = None
    """The user's own language preference, if any."""
    tenant_language: str | None = None
    """The organization's default language."""


class InvalidCredentials(KernelError):
    status, slug, title = 401, "invalid-credentials", "Invalid email or password"


async def retrieve_actor(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Actor | None:
    kernel = connection.app.state.kernel
    try:
        user_id = UUID(token.sub)
        tenant_id = UUID(token.extras["tid"]) if token.extras.get("tid") else None
    except (KeyError, ValueError):
        return None
    plugins_subquery = (
        select(func.coalesce(func.array_agg(TenantPlugin.plugin), []))
        .where(TenantPlugin.tenant_id == User.tenant_id, TenantPlugin.enabled.is_(True))
        .scalar_subquery()
    )
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id, platform=tenant_id is None)
        row = (
            await session.execute(
                select(User, Organization.status, Organization.language, plugins_subquery)
                .outerjoin(Organization, Organization.id == User.tenant_id)
                .where(User.id == user_id)
            )
        ).first()
    if row is None:
        return None
    user, org_status, org_language, plugins = row
    if not user.is_active or user.token_version != token.extras.get("ver"):
        return None
    if tenant_id is not None and (user.tenant_id != tenant_id or org_status != OrganizationStatus.ACTIVE):
        return None
    if tenant_id is None and not user.is_platform_admin:
        return None
    set_current_scope(tenant_id, platform=tenant_id is None)
    set_request_actor(user.id)
    structlog.contextvars.bind_contextvars(tenant_id=str(tenant_id) if tenant_id else None, user_id=str(user_id))
    return Actor(
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        enabled_plugins=frozenset(plugins or ()),
        language=user.language,
        tenant_language=org_language,
    )


def build_auth(settings: Any) -> JWTCookieAuth[Actor]:
    assert settings.secret_key, "load_settings always provides a secret key"
    return JWTCookieAuth[Actor](
        retrieve_user_handler=retrieve_actor,
        token_secret=settings.secret_key,
        algorithm="HS256",
        default_token_expiration=timedelta(minutes=settings.access_token_minutes),
        accepted_audiences=[AUDIENCE],
        accepted_issuers=[ISSUER],
        require_claims=["exp", "sub", "aud", "iss"],
        exclude=["^/schema", "^/static/", "^/healthz$", "^/readyz$", "^/favicon.ico$"],
        exclude_opt_key=PUBLIC,
        key="atendai_token",
        secure=settings.environment == "production",
        samesite="lax",
        description="Access token from POST /api/v1/auth/login.",
    )


def issue_access_token(auth: JWTCookieAuth[Actor], user: User) -> str:
    return auth.create_token(
        identifier=str(user.id),
        token_issuer=ISSUER,
        token_audience=AUDIENCE,
        token_extras={"tid": str(user.tenant_id) if user.tenant_id else None, "ver": user.token_version},
    )


class LoginIn(msgspec.Struct, forbid_unknown_fields=True):
    email: str = msgspec.field()
    password: str = msgspec.field()


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int


@post(
    "/api/v1/auth/login", opt={PUBLIC: True}, tags=["auth"], summary="Log in with email and password", status_code=200
)
async def login(request: Request[Any, Any, Any], data: JSONBody[LoginIn]) -> TokenOut:
    kernel = request.app.state.kernel
    auth: JWTCookieAuth[Actor] = request.app.state.auth
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        row = (
            await session.execute(
                select(User, Organization.status)
                .outerjoin(Organization, Organization.id == User.tenant_id)
                .where(User.email == normalize_email(data.email))
            )
        ).first()
        user, org_status = row if row else (None, None)
        valid = verify_password(user.password_hash if user else None, data.password)
        if user is None or not valid or not user.is_active:
            raise InvalidCredentials()
        if user.tenant_id is not None and org_status != OrganizationStatus.ACTIVE:
            raise InvalidCredentials("This organization is suspended.")
        user.last_login_at = datetime.now(UTC)
        await session.commit()
    token = issue_access_token(auth, user)
    return TokenOut(
        access_token=token,
        token_type="Bearer",  # noqa: S106 - the OAuth token type, not a secret
        expires_in=int(auth.default_token_expiration.total_seconds()),
    )
