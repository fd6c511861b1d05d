"""Users of an organization: invite, change, deactivate, end sessions; every change audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.auth.actor import Actor
from kernel.auth.models import User
from kernel.auth.services import _audit, end_sessions, start_user_token
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, NotFound, ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, SUPPORTED_LANGUAGES, Translator
from kernel.mail import Mail
from kernel.rbac.models import Role
from kernel.tenancy.models import Organization

__all__ = ["change_user", "deactivate_user", "get_user", "invite_user", "list_users", "send_invitation"]


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


async def list_users(session: AsyncSession) -> list[tuple[User, str | None]]:
    rows = await session.execute(
        select(User, Role.key).outerjoin(Role, Role.id == User.role_id).order_by(User.name, User.email)
    )
    return [(user, key) for user, key in rows.tuples()]


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
    from kernel.tenancy.services import _ensure_email_free, validate_email

    tenant_id = actor.tenant_id
    assert tenant_id is not None
    email = validate_email(email)
    _check_language(language)
    role = await role_by_key(session, role_key)
    await set_session_scope(session, platform=True)
    await _ensure_email_free(session, email)
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
    session.add(user)
    await session.flush()
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
    others = (
        await session.execute(
            select(func.count(User.id))
            .join(Role, Role.id == User.role_id)
            .where(Role.key == "admin", User.is_active.is_(True), User.id != leaving.id)
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
