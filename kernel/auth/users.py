"""Users of an organization: invite, change, deactivate, end sessions; every change audited.

Also the flows a person goes through on their own: accepting an invitation, resetting a forgotten
password, changing their profile and password. The JSON API and the pages call these same functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar.stores.base import Store
from sqlalchemy import ColumnElement, Select, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.auth.actor import Actor, refuse_while_impersonating
from kernel.auth.models import User
from kernel.auth.passwords import hash_password, normalize_email, verify_password
from kernel.auth.secrets import hash_secret
from kernel.auth.services import (
    RESET_LIFETIME,
    IssuedTokens,
    TooManyAttempts,
    _audit,
    end_sessions,
    issue_tokens,
    redeem_user_token,
    start_user_token,
)
from kernel.cache import cache_key, increment
from kernel.db.scope import tenant_scope
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, NotFound, ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, N_, SUPPORTED_LANGUAGES, Translator
from kernel.mail import Mail
from kernel.rbac.models import Role
from kernel.tenancy.models import Organization
from kernel.web.context import current_request

__all__ = [
    "RESET_MAILS_PER_ACCOUNT",
    "USER_STATUSES",
    "accept_invitation",
    "change_own_password",
    "change_user",
    "confirm_password_reset",
    "deactivate_user",
    "get_user",
    "invite_user",
    "list_users",
    "request_password_reset",
    "resend_invitation",
    "send_invitation",
    "update_own_profile",
    "user_status",
    "users_query",
]

USER_STATUSES = ("active", "invited", "deactivated")
"""``invited``: no password yet; ``deactivated``: cannot log in (whether or not they had accepted)."""
RESET_MAILS_PER_ACCOUNT = 3
"""Reset links mailed to one address per link lifetime (an hour); more requests are answered the same
way but send nothing, so nobody can flood a mailbox through the form."""


def snapshot(user: User, role_key: str | None) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "is_active": user.is_active,
        "role": role_key,
        "language": user.language,
    }


async def role_by_key(session: AsyncSession, key: str) -> Role:
    role = (await session.execute(select(Role).where(Role.key == key))).scalar_one_or_none()
    if role is None:
        raise ValidationFailed("There is no role %(role)s.", errors=[{"field": "role", "message": "unknown"}], role=key)
    return role


def _check_assignable(actor: Actor, role: Role) -> None:
    """The role given to someone may not grant more than the actor holds."""
    from kernel.rbac.permissions import check_within_reach, role_permissions
    from kernel.runtime import current_kernel

    declared = current_kernel().registry.declared_permissions
    check_within_reach(actor, role_permissions(role.key, role.is_system, role.permissions, declared))


def user_status(user: User) -> str:
    """``active``, ``invited`` (no password yet) or ``deactivated``."""
    if not user.is_active:
        return "deactivated"
    return "invited" if user.password_hash is None else "active"


def _status_condition(status: str) -> ColumnElement[bool]:
    if status == "deactivated":
        return User.is_active.is_(False)
    if status == "invited":
        return User.is_active.is_(True) & User.password_hash.is_(None)
    return User.is_active.is_(True) & User.password_hash.is_not(None)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users_query(q: str | None = None, role: str | None = None, status: str | None = None) -> Select[Any]:
    """``(User, Role)`` rows of the organization: ``q`` in the name or email, a role key, a status.

    An unknown status is refused (it would silently match nobody); an unknown role matches nobody.
    """
    statement = select(User, Role).outerjoin(Role, Role.id == User.role_id)
    if q and q.strip():
        pattern = f"%{_escape_like(q.strip())}%"
        statement = statement.where(or_(User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")))
    if role:
        statement = statement.where(Role.key == role)
    if status:
        if status not in USER_STATUSES:
            raise ValidationFailed(
                "Unknown status %(status)s: use active, invited or deactivated.",
                errors=[{"field": "status", "message": "unknown"}],
                status=status,
            )
        statement = statement.where(_status_condition(status))
    return statement


async def list_users(
    session: AsyncSession, *, q: str | None = None, role: str | None = None, status: str | None = None
) -> list[tuple[User, str | None]]:
    rows = await session.execute(users_query(q, role, status).order_by(User.name, User.email))
    return [(user, role_row.key if role_row else None) for user, role_row in rows.tuples()]


async def get_user(session: AsyncSession, user_id: UUID) -> tuple[User, str | None]:
    row = (
        await session.execute(select(User, Role.key).outerjoin(Role, Role.id == User.role_id).where(User.id == user_id))
    ).first()
    if row is None:
        raise NotFound("User not found.")
    return row[0], row[1]


async def invite_user(
    session: AsyncSession, actor: Actor, *, email: str, name: str | None, role_key: str, language: str | None
) -> tuple[User, str]:
    """Create the user without a password and return the invitation secret to mail them."""
    from kernel.tenancy.services import _ensure_email_free, add_unique, validate_email

    refuse_while_impersonating(actor)  # a new login would outlive the impersonation
    tenant_id = actor.tenant_id
    assert tenant_id is not None
    email = validate_email(email)
    _check_language(language)
    role = await role_by_key(session, role_key)
    _check_assignable(actor, role)
    await set_session_scope(session, platform=True)
    try:
        await _ensure_email_free(session, email)
    finally:
        # Back to the organization even when the address is taken: the caller may go on querying.
        await set_session_scope(session, tenant_id=tenant_id)
    user = User(
        tenant_id=tenant_id,
        email=email,
        name=(name or email.split("@")[0]).strip(),
        password_hash=None,
        is_platform_admin=False,
        is_active=True,
        role_id=role.id,
        language=language,
        token_version=0,
    )
    await add_unique(session, user, Conflict("A user with this email already exists."))
    secret = await start_user_token(session, user, "invite")
    await _audit(session, "user.invited", "user", user.id, after=snapshot(user, role.key), **_who(actor))
    return user, secret


async def change_user(
    session: AsyncSession, actor: Actor, user_id: UUID, changes: dict[str, Any]
) -> tuple[User, str | None]:
    user, role_key = await get_user(session, user_id)
    before = snapshot(user, role_key)
    if "name" in changes and changes["name"] is not None:
        if not str(changes["name"]).strip():
            raise ValidationFailed("The name cannot be empty.", errors=[{"field": "name", "message": "required"}])
        user.name = str(changes["name"]).strip()
    if "language" in changes:
        _check_language(changes["language"])
        user.language = changes["language"]
    if changes.get("role") is not None and changes["role"] != role_key:
        role = await role_by_key(session, changes["role"])
        _check_assignable(actor, role)
        if role_key == "admin":
            await _keep_an_admin(session, user)
        user.role_id = role.id
        role_key = role.key
    if changes.get("is_active") is not None and changes["is_active"] != user.is_active:
        if not changes["is_active"]:
            await _deactivate(session, actor, user, role_key)
        else:
            user.is_active = True
    await session.flush()
    await _audit(session, "user.updated", "user", user.id, before=before, after=snapshot(user, role_key), **_who(actor))
    return user, role_key


async def deactivate_user(session: AsyncSession, actor: Actor, user_id: UUID) -> None:
    user, role_key = await get_user(session, user_id)
    if not user.is_active:
        return
    before = snapshot(user, role_key)
    await _deactivate(session, actor, user, role_key)
    await _audit(
        session, "user.deactivated", "user", user.id, before=before, after=snapshot(user, role_key), **_who(actor)
    )


async def end_user_sessions(session: AsyncSession, actor: Actor, user_id: UUID) -> None:
    user, _ = await get_user(session, user_id)
    await end_sessions(session, user)
    await _audit(session, "user.sessions_ended", "user", user.id, **_who(actor))


async def _deactivate(session: AsyncSession, actor: Actor, user: User, role_key: str | None) -> None:
    if user.id == actor.user_id:
        raise Conflict("You cannot deactivate yourself.")
    if role_key == "admin":
        await _keep_an_admin(session, user)
    user.is_active = False
    await end_sessions(session, user)


async def _keep_an_admin(session: AsyncSession, leaving: User) -> None:
    """Refuse to let the last administrator who can log in stop being one.

    Changes to administrators of one organization take turns (a transaction lock), so two admins
    demoting each other at the same moment cannot both succeed. An invited administrator who never
    set a password does not count: nobody could log in as them.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"admins:{leaving.tenant_id}"}
    )
    others = (
        await session.execute(
            select(func.count(User.id))
            .join(Role, Role.id == User.role_id)
            .where(
                Role.key == "admin",
                User.is_active.is_(True),
                User.password_hash.is_not(None),
                User.id != leaving.id,
            )
        )
    ).scalar_one()
    if others == 0:
        raise Conflict("The organization must keep at least one active administrator.")


def _check_language(language: str | None) -> None:
    if language is not None and language not in SUPPORTED_LANGUAGES:
        raise ValidationFailed(
            "%(language)s is not a supported language.",
            errors=[{"field": "language", "message": "unsupported"}],
            language=language,
        )


def _who(actor: Actor) -> dict[str, Any]:
    return {"actor_type": actor.kind, "actor_id": actor.user_id, "actor_label": actor.audit_label}


async def resend_invitation(kernel: Any, catalogs: Any, session: AsyncSession, actor: Actor, user_id: UUID) -> User:
    """Mail a new invitation link to a user who has not accepted yet; the earlier link stops working."""
    user, _ = await get_user(session, user_id)
    if user.password_hash is not None:
        raise Conflict("This user already accepted the invitation.")
    if not user.is_active:
        raise Conflict("This user is deactivated: reactivate them first.")
    secret = await start_user_token(session, user, "invite")
    await _audit(session, "user.invitation_resent", "user", user.id, **_who(actor))
    await send_invitation(kernel, catalogs, session, user, secret)
    return user


async def accept_invitation(
    kernel: Any, session: AsyncSession, presented: str, password: str, name: str | None = None
) -> tuple[User, IssuedTokens]:
    """Set the invited user's password (and name), log them in, and tell the people who manage users.

    Everything happens in the caller's transaction: the password, the audit entry, the notification
    and the new session commit together (the notification is pushed to open pages after the commit).
    """
    from kernel.notifications.service import notify

    if name is not None and not name.strip():
        raise ValidationFailed("The name cannot be empty.", errors=[{"field": "name", "message": "required"}])
    user = await redeem_user_token(session, presented, "invite", password)
    if name is not None:
        user.name = name.strip()[:200]
    user.last_login_at = datetime.now(UTC)  # accepting logs the person in
    await _audit(
        session,
        "user.invitation_accepted",
        "user",
        user.id,
        actor_type="user",
        actor_id=user.id,
        actor_label=user.email,
    )
    if user.tenant_id is not None:
        # A public request has no tenant of its own: the notification belongs to the user's organization.
        with tenant_scope(user.tenant_id):
            await notify(
                session,
                kind="kernel.invitation_accepted",
                message=N_("%(name)s accepted the invitation and joined the team."),
                params={"name": user.name},
                link=f"/app/-/users/{user.id}",
                permission="kernel.user.write",
                exclude=[user.id],
            )
    issued = await issue_tokens(kernel, session, user)
    return user, issued


async def request_password_reset(kernel: Any, catalogs: Any, store: Store, session: AsyncSession, email: str) -> None:
    """Mail a reset link if the address has an active account with a password; say nothing either way.

    Limited per client address (the login's ``login_ip_attempts`` per ``login_ip_window_seconds``,
    counted separately: ``429`` beyond it) and per account (:data:`RESET_MAILS_PER_ACCOUNT` mails per
    hour, silently: the answer must not tell whether the address exists).
    """
    settings = kernel.settings
    request = current_request()
    if request is not None and request.ip:
        ip_key = cache_key(None, "password-reset", "ip", request.ip)
        if int(await store.get(ip_key) or 0) >= settings.login_ip_attempts:
            raise TooManyAttempts(await store.expires_in(ip_key) or settings.login_ip_window_seconds)
        await increment(store, ip_key, settings.login_ip_window_seconds)
    address = normalize_email(email)
    if not address:
        return
    await set_session_scope(session, platform=True)
    user = (await session.execute(select(User).where(User.email == address))).scalar_one_or_none()
    if user is None or not user.is_active or user.password_hash is None:
        return
    account_key = cache_key(None, "password-reset", "account", hash_secret(address))
    if await increment(store, account_key, int(RESET_LIFETIME.total_seconds())) > RESET_MAILS_PER_ACCOUNT:
        return
    if user.tenant_id is not None:
        await set_session_scope(session, tenant_id=user.tenant_id)
    secret = await start_user_token(session, user, "reset")
    await send_password_reset(kernel, catalogs, session, user, secret)


async def confirm_password_reset(session: AsyncSession, presented: str, password: str) -> User:
    """Set a new password with a reset link (used once); every session of the user ends."""
    user = await redeem_user_token(session, presented, "reset", password)
    await _audit_own(session, "user.password_reset", user)
    return user


async def _audit_own(session: AsyncSession, action: str, user: User) -> None:
    """An entry for what a person did to their own account (they are the actor, even before login)."""
    await _audit(session, action, "user", user.id, actor_type="user", actor_id=user.id, actor_label=user.email)


def _own_user_id(actor: Actor) -> UUID:
    if actor.kind != "user" or actor.user_id is None:
        raise ValidationFailed("API tokens have no profile.")
    return actor.user_id


async def update_own_profile(session: AsyncSession, actor: Actor, changes: dict[str, Any]) -> tuple[User, str | None]:
    """Change one's own ``name`` and/or ``language`` (``None``: the organization's default)."""
    refuse_while_impersonating(actor)  # the person's own preferences stay theirs
    allowed = {key: value for key, value in changes.items() if key in ("name", "language")}
    return await change_user(session, actor, _own_user_id(actor), allowed)


async def change_own_password(session: AsyncSession, actor: Actor, current: str, new: str) -> User:
    """Change one's own password, proving the current one first."""
    from kernel.tenancy.services import validate_new_password

    user, _ = await get_user(session, _own_user_id(actor))
    refuse_while_impersonating(actor)
    if not verify_password(user.password_hash, current or ""):
        raise ValidationFailed(
            "The current password is not right.", errors=[{"field": "current_password", "message": "wrong"}]
        )
    validate_new_password(new)
    user.password_hash = hash_password(new)
    await session.flush()
    await _audit_own(session, "user.password_changed", user)
    return user


async def send_invitation(kernel: Any, catalogs: Any, session: AsyncSession, user: User, secret: str) -> None:
    org = await session.get(Organization, user.tenant_id)
    language = user.language or (org.language if org else kernel.settings.default_language)
    t = Translator(catalogs=catalogs, language=language, domains=(KERNEL_DOMAIN,))
    link = f"{kernel.settings.base_url}/auth/invitation?token={secret}"
    organization = org.name if org else "Atendai"
    await kernel.state["mailer"].send(
        Mail(
            to=user.email,
            subject=t.gettext("You are invited to %(organization)s on Atendai", organization=organization),
            text=t.gettext(
                "Hello %(name)s,\n\nYou were invited to join %(organization)s on Atendai. "
                "Choose your password here (the link works for 7 days):\n\n%(link)s\n",
                name=user.name,
                organization=organization,
                link=link,
            ),
        )
    )


async def send_password_reset(kernel: Any, catalogs: Any, session: AsyncSession, user: User, secret: str) -> None:
    org = await session.get(Organization, user.tenant_id) if user.tenant_id else None
    language = user.language or (org.language if org else kernel.settings.default_language)
    t = Translator(catalogs=catalogs, language=language, domains=(KERNEL_DOMAIN,))
    link = f"{kernel.settings.base_url}/auth/reset?token={secret}"
    await kernel.state["mailer"].send(
        Mail(
            to=user.email,
            subject=t.gettext("Reset your Atendai password"),
            text=t.gettext(
                "Hello %(name)s,\n\nSomeone (hopefully you) asked to reset your password. "
                "Choose a new one here (the link works for 1 hour):\n\n%(link)s\n\n"
                "If it was not you, ignore this message: your password stays as it is.\n",
                name=user.name,
                link=link,
            ),
        )
    )
