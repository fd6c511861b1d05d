"""Sessions and the secrets around them: login with lockouts, rotating refresh tokens, logout,
invitations, password resets, ending sessions, and API tokens.

Refresh tokens are opaque, stored hashed, and rotate on every use inside a *family* that starts at
login. Presenting a token that was already rotated means someone kept a copy: the whole family is
revoked, which logs out both the thief and the user.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from litestar.stores.base import Store
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.auth.actor import refuse_while_impersonating
from kernel.auth.jwt import AccessClaims, encode_access
from kernel.auth.models import ApiToken, RefreshToken, User, UserToken
from kernel.auth.passwords import hash_password, needs_rehash, normalize_email, verify_password
from kernel.auth.secrets import hash_secret, new_api_token, new_secret
from kernel.cache import cache_key, increment
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, Forbidden, KernelError, NotFound, ValidationFailed
from kernel.i18n.catalogs import N_, N_plural
from kernel.tenancy.models import Organization, OrganizationStatus
from kernel.web.context import current_request

__all__ = [
    "ApiTokenRow",
    "InvalidCredentials",
    "InvalidToken",
    "IssuedTokens",
    "SessionInfo",
    "TooManyAttempts",
    "active_sessions",
    "api_token_status",
    "authenticate",
    "create_api_token",
    "end_other_sessions",
    "end_session_family",
    "end_sessions",
    "find_user_token",
    "issue_api_token",
    "issue_tokens",
    "list_api_tokens",
    "redeem_user_token",
    "revoke_api_token",
    "revoke_family",
    "rotate_refresh_token",
    "start_user_token",
    "withdraw_api_token",
]

log = structlog.get_logger("kernel.auth")
INVITE_LIFETIME = timedelta(days=7)
ROTATION_GRACE = timedelta(seconds=10)
"""A refresh token rotated this recently is refused without alarm when shown again (parallel tabs)."""
RESET_LIFETIME = timedelta(hours=1)


class InvalidCredentials(KernelError):
    status, slug, title = 401, "invalid-credentials", N_("Invalid email or password")


class InvalidToken(KernelError):
    status, slug, title = 401, "invalid-token", N_("Authentication required")


class TooManyAttempts(KernelError):
    status, slug, title = 429, "too-many-attempts", N_("Too many requests")

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        singular, plural = N_plural("Try again in %(minutes)d minute.", "Try again in %(minutes)d minutes.")
        super().__init__(
            singular, plural=plural, count=minutes, minutes=minutes, headers={"Retry-After": str(retry_after)}
        )
        self.retry_after = retry_after
        self.minutes = minutes


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    access_claims: AccessClaims
    refresh_token: str
    refresh_expires_at: datetime
    family_id: UUID | None = None
    """The session (refresh-token family) these tokens belong to."""


# --- login -------------------------------------------------------------------------------------


async def _check_not_locked(store: Store, account_key: str, ip_key: str | None, settings: Any) -> None:
    if await store.get(account_key + ":locked"):
        raise TooManyAttempts(await store.expires_in(account_key + ":locked") or settings.login_lockout_minutes * 60)
    if ip_key and int(await store.get(ip_key) or 0) >= settings.login_ip_attempts:
        raise TooManyAttempts(await store.expires_in(ip_key) or settings.login_ip_window_seconds)


async def authenticate(kernel: Any, store: Store, session: AsyncSession, email: str, password: str) -> User:
    """The user with this email and password, counting failures per account and attempts per address.

    After ``login_max_failures`` failures the account is locked for ``login_lockout_minutes`` (even the
    right password is refused meanwhile); an address gets ``login_ip_attempts`` tries per window.
    """
    settings = kernel.settings
    email = normalize_email(email)
    request = current_request()
    account_key = cache_key(None, "login", "account", hash_secret(email))
    ip_key = cache_key(None, "login", "ip", request.ip) if request and request.ip else None
    await _check_not_locked(store, account_key, ip_key, settings)
    if ip_key:
        await increment(store, ip_key, settings.login_ip_window_seconds)

    await set_session_scope(session, platform=True)
    row = (
        await session.execute(
            select(User, Organization.status)
            .outerjoin(Organization, Organization.id == User.tenant_id)
            .where(User.email == email)
        )
    ).first()
    user, org_status = row if row else (None, None)
    valid = verify_password(user.password_hash if user else None, password)
    if user is None or not valid or not user.is_active:
        failures = await increment(store, account_key, settings.login_lockout_minutes * 60)
        if failures >= settings.login_max_failures:
            await store.set(account_key + ":locked", b"1", expires_in=settings.login_lockout_minutes * 60)
            log.warning("login_locked", failures=failures)
        raise InvalidCredentials()
    if user.tenant_id is not None and org_status != OrganizationStatus.ACTIVE:
        raise InvalidCredentials("This organization is suspended.")
    await store.delete(account_key)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    return user


# --- tokens ------------------------------------------------------------------------------------


async def issue_tokens(kernel: Any, session: AsyncSession, user: User, family_id: UUID | None = None) -> IssuedTokens:
    """A new access token and a refresh token (a new family at login, the same family on rotation)."""
    settings = kernel.settings
    access, claims = encode_access(
        settings.secret_key,
        user_id=user.id,
        tenant_id=user.tenant_id,
        token_version=user.token_version,
        lifetime=timedelta(minutes=settings.access_token_minutes),
    )
    refresh = new_secret()
    expires_at = datetime.now(UTC) + timedelta(days=settings.refresh_token_days)
    request = current_request()
    family_id = family_id or uuid.uuid4()
    session.add(
        RefreshToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            family_id=family_id,
            token_hash=hash_secret(refresh),
            expires_at=expires_at,
            ip=request.ip if request else None,
            user_agent=request.user_agent if request else None,
        )
    )
    await session.flush()
    return IssuedTokens(access, claims, refresh, expires_at, family_id)


async def rotate_refresh_token(kernel: Any, session: AsyncSession, presented: str) -> tuple[User, IssuedTokens]:
    """Trade a refresh token for new tokens. A reused (already rotated) token revokes its whole family."""
    now = datetime.now(UTC)
    await set_session_scope(session, platform=True)
    token = (
        await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == hash_secret(presented)).with_for_update()
        )
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise InvalidToken("The session has ended. Log in again.")
    if token.rotated_at is not None and now - token.rotated_at <= ROTATION_GRACE:
        # Two tabs of one browser renewed at the same moment: the other one won, and this browser's
        # cookie already holds the new token. Not a theft: refuse this one, keep the family.
        raise InvalidToken("The session was renewed elsewhere a moment ago. Try again.")
    if token.rotated_at is not None:
        await revoke_family(session, token.family_id)
        await _audit(
            session,
            "auth.refresh_reused",
            "user",
            token.user_id,
            tenant_id=token.tenant_id,
            after={"family_id": str(token.family_id)},
        )
        await session.commit()
        log.warning("refresh_token_reused", user_id=str(token.user_id), family_id=str(token.family_id))
        raise InvalidToken("The session has ended. Log in again.")
    user = await session.get(User, token.user_id)
    org = await session.get(Organization, user.tenant_id) if user and user.tenant_id else None
    if user is None or not user.is_active or (org is not None and org.status != OrganizationStatus.ACTIVE):
        raise InvalidToken("The session has ended. Log in again.")
    token.rotated_at = now
    issued = await issue_tokens(kernel, session, user, family_id=token.family_id)
    return user, issued


async def revoke_family(session: AsyncSession, family_id: UUID) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def revoke_refresh_token(session: AsyncSession, presented: str) -> None:
    """Logout: end the family of the presented refresh token (an unknown token is ignored)."""
    await set_session_scope(session, platform=True)
    family = (
        await session.execute(select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_secret(presented)))
    ).scalar_one_or_none()
    if family is not None:
        await revoke_family(session, family)


async def end_sessions(session: AsyncSession, user: User) -> None:
    """End every session of ``user``: access tokens stop at once, refresh tokens are revoked."""
    user.token_version += 1
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await session.flush()


@dataclass(frozen=True)
class SessionInfo:
    """One signed-in browser or client of a user: a refresh-token family that still stands."""

    family_id: UUID
    started_at: datetime
    """When the person logged in (the family's first token)."""
    last_used_at: datetime
    """When the session was last renewed (its newest token)."""
    expires_at: datetime
    ip: str | None
    user_agent: str | None


async def active_sessions(session: AsyncSession, user_id: UUID) -> list[SessionInfo]:
    """The user's sessions that can still be renewed, most recently used first.

    A family stands while its newest token is neither rotated, revoked nor expired; that token was
    issued at the last renewal, from the address and user agent that renewed it.
    """
    now = datetime.now(UTC)
    heads = (
        (
            await session.execute(
                select(RefreshToken).where(
                    RefreshToken.user_id == user_id,
                    RefreshToken.revoked_at.is_(None),
                    RefreshToken.rotated_at.is_(None),
                    RefreshToken.expires_at > now,
                )
            )
        )
        .scalars()
        .all()
    )
    if not heads:
        return []
    families = {head.family_id for head in heads}
    started = dict(
        (
            await session.execute(
                select(RefreshToken.family_id, func.min(RefreshToken.created_at))
                .where(RefreshToken.user_id == user_id, RefreshToken.family_id.in_(families))
                .group_by(RefreshToken.family_id)
            )
        )
        .tuples()
        .all()
    )
    found = [
        SessionInfo(
            family_id=head.family_id,
            started_at=started.get(head.family_id, head.created_at),
            last_used_at=head.created_at,
            expires_at=head.expires_at,
            ip=head.ip,
            user_agent=head.user_agent,
        )
        for head in heads
    ]
    return sorted(found, key=lambda info: info.last_used_at, reverse=True)


async def end_session_family(session: AsyncSession, actor: Any, family_id: UUID) -> None:
    """End one of the actor's own sessions; another person's (or an unknown) family is not found."""
    if actor.kind != "user" or actor.user_id is None:
        raise ValidationFailed("API tokens have no sessions.")
    refuse_while_impersonating(actor)
    owned = (
        await session.execute(
            select(RefreshToken.id)
            .where(
                RefreshToken.family_id == family_id,
                RefreshToken.user_id == actor.user_id,
                RefreshToken.revoked_at.is_(None),
            )
            .limit(1)
        )
    ).first()
    if owned is None:
        raise NotFound("Session not found.")
    await revoke_family(session, family_id)
    await _audit(
        session,
        "user.session_ended",
        "user",
        actor.user_id,
        after={"family_id": str(family_id)},
        actor_type="user",
        actor_id=actor.user_id,
        actor_label=actor.audit_label,
    )


async def end_other_sessions(kernel: Any, session: AsyncSession, actor: Any) -> IssuedTokens:
    """Log the actor out everywhere, then open one fresh session for the caller so they stay here.

    Every access token of the user stops at once (``token_version``) and every refresh token is
    revoked; the returned tokens belong to a new family.
    """
    if actor.kind != "user" or actor.user_id is None:
        raise ValidationFailed("API tokens have no sessions.")
    refuse_while_impersonating(actor)  # new tokens here would be the person's own, without the mark
    user = await session.get(User, actor.user_id)
    if user is None:
        raise NotFound("User not found.")
    await end_sessions(session, user)
    await _audit(
        session,
        "user.sessions_ended",
        "user",
        user.id,
        actor_type="user",
        actor_id=user.id,
        actor_label=actor.audit_label,
    )
    return await issue_tokens(kernel, session, user)


# --- invitations and password resets ------------------------------------------------------------


async def start_user_token(session: AsyncSession, user: User, purpose: str) -> str:
    """A single-use token for ``invite`` or ``reset``; earlier unused ones of the same purpose stop working."""
    lifetime = INVITE_LIFETIME if purpose == "invite" else RESET_LIFETIME
    now = datetime.now(UTC)
    await session.execute(
        update(UserToken)
        .where(UserToken.user_id == user.id, UserToken.purpose == purpose, UserToken.used_at.is_(None))
        .values(used_at=now)
    )
    secret = new_secret()
    session.add(
        UserToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_secret(secret),
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return secret


async def find_user_token(
    session: AsyncSession, presented: str, purpose: str, *, lock: bool = False
) -> tuple[UserToken, User]:
    """The unused, unexpired ``invite`` or ``reset`` token and its active user, without using it.

    Raises :class:`InvalidToken` for an unknown, used or expired token. Leaves the session in the
    platform scope: the token names its tenant only once it is found.
    """
    await set_session_scope(session, platform=True)
    statement = select(UserToken).where(UserToken.token_hash == hash_secret(presented), UserToken.purpose == purpose)
    token = (await session.execute(statement.with_for_update() if lock else statement)).scalar_one_or_none()
    if token is None or token.used_at is not None or token.expires_at <= datetime.now(UTC):
        raise InvalidToken("This link is no longer valid. Ask for a new one.")
    user = await session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise InvalidToken("This link is no longer valid. Ask for a new one.")
    return token, user


async def redeem_user_token(session: AsyncSession, presented: str, purpose: str, new_password: str) -> User:
    """Use an invitation or reset token once to set the password; every other session of the user ends."""
    from kernel.tenancy.services import validate_new_password

    validate_new_password(new_password)
    token, user = await find_user_token(session, presented, purpose, lock=True)
    token.used_at = datetime.now(UTC)
    user.password_hash = hash_password(new_password)
    await end_sessions(session, user)
    await set_session_scope(session, tenant_id=user.tenant_id, platform=user.tenant_id is None)
    return user


# --- API tokens -----------------------------------------------------------------------------------


async def create_api_token(
    session: AsyncSession,
    *,
    tenant_id: UUID,
    name: str,
    permissions: list[str],
    grantable: frozenset[str],
    created_by: UUID | None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A new API token limited to ``permissions``, which must be among what its creator holds."""
    name = name.strip()
    if not name:
        raise ValidationFailed("The token needs a name.", errors=[{"field": "name", "message": "required"}])
    if not permissions:
        raise ValidationFailed(
            "Choose at least one permission.", errors=[{"field": "permissions", "message": "required"}]
        )
    beyond = sorted(set(permissions) - grantable)
    if beyond:
        raise ValidationFailed(
            "A token cannot hold permissions you do not have: %(permissions)s",
            errors=[{"field": "permissions", "message": "not grantable", "values": beyond}],
            permissions=", ".join(beyond),
        )
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise ValidationFailed("The expiry must be in the future.", errors=[{"field": "expires_at", "message": "past"}])
    secret = new_api_token()
    token = ApiToken(
        tenant_id=tenant_id,
        name=name,
        prefix=secret[:12],
        token_hash=hash_secret(secret),
        permissions=sorted(set(permissions)),
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token, secret


async def revoke_api_token(session: AsyncSession, token_id: UUID) -> ApiToken:
    token = (await session.execute(select(ApiToken).where(ApiToken.id == token_id))).scalar_one_or_none()
    if token is None:
        raise NotFound("API token not found.")
    if token.revoked_at is not None:
        raise Conflict("This token was already revoked.")
    token.revoked_at = datetime.now(UTC)
    await session.flush()
    return token


@dataclass(frozen=True)
class ApiTokenRow:
    """An API token as lists show it: never its secret, with the name of who created it."""

    token: ApiToken
    created_by_name: str | None
    status: str
    """``active``, ``expired`` or ``revoked``."""


def api_token_status(token: ApiToken, now: datetime | None = None) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= (now or datetime.now(UTC)):
        return "expired"
    return "active"


async def list_api_tokens(session: AsyncSession) -> list[ApiTokenRow]:
    """The organization's API tokens, newest first."""
    now = datetime.now(UTC)
    rows = await session.execute(
        select(ApiToken, User.name)
        .outerjoin(User, User.id == ApiToken.created_by)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    return [ApiTokenRow(token, name, api_token_status(token, now)) for token, name in rows.tuples()]


async def issue_api_token(
    session: AsyncSession, actor: Any, *, name: str, permissions: list[str], expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create an API token for the actor's organization, limited to what the actor holds, and audit it."""
    if actor.tenant_id is None:
        raise Forbidden("API tokens belong to an organization.")
    refuse_while_impersonating(actor)  # a token would outlive the impersonation and its administrator
    token, secret = await create_api_token(
        session,
        tenant_id=actor.tenant_id,
        name=name,
        permissions=permissions,
        grantable=actor.permissions,
        created_by=actor.user_id,
        expires_at=expires_at,
    )
    await _audit(
        session,
        "api_token.created",
        "api_token",
        token.id,
        after={"name": token.name, "permissions": token.permissions, "expires_at": token.expires_at},
        actor_type=actor.kind,
        actor_id=actor.user_id,
        actor_label=actor.audit_label,
    )
    return token, secret


async def withdraw_api_token(session: AsyncSession, actor: Any, token_id: UUID) -> ApiToken:
    """Revoke an API token of the organization and audit it (it stops working on its next request)."""
    token = await revoke_api_token(session, token_id)
    await _audit(
        session,
        "api_token.revoked",
        "api_token",
        token.id,
        after={"name": token.name},
        actor_type=actor.kind,
        actor_id=actor.user_id,
        actor_label=actor.audit_label,
    )
    return token


async def _audit(session: AsyncSession, action: str, target_type: str, target_id: Any, **fields: Any) -> None:
    from kernel.audit.service import record

    await record(session, action=action, target_type=target_type, target_id=target_id, **fields)
