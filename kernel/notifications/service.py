"""Notify people: a row per recipient, and a push to their open pages once the transaction commits.

``notify(session, kind=..., message=N_("%(name)s accepted the invitation"), params={...}, link=...,
permission="kernel.user.read")`` reaches everyone in the organization holding the permission (or the
listed ``user_ids``). The text is a msgid translated into each reader's language when it is read, and
the push (topic ``notifications.user.<id>``, see ``docs/realtime.md``) carries the text in the
recipient's language so the bell and a toast can show it at once. Nothing is pushed if the
transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.auth.models import User
from kernel.db.scope import require_tenant_id
from kernel.i18n.catalogs import KERNEL_DOMAIN, Translator
from kernel.notifications.models import Notification

__all__ = ["get_notification", "list_notifications", "mark_all_read", "mark_read", "notify", "render", "unread_count"]

log = structlog.get_logger("kernel.notifications")
PENDING_KEY = "atendai_pending_notifications"


async def _recipients(
    session: AsyncSession, kernel: Any, user_ids: Iterable[UUID] | None, permission: str | None
) -> list[User]:
    from kernel.rbac.models import Role
    from kernel.rbac.permissions import effective_permissions, role_permissions
    from kernel.tenancy.services import enabled_plugins

    statement = select(User, Role).outerjoin(Role, Role.id == User.role_id).where(User.is_active.is_(True))
    if user_ids is not None:
        statement = statement.where(User.id.in_(list(user_ids)))
    rows = (await session.execute(statement)).tuples().all()
    if permission is None:
        return [user for user, _ in rows]
    enabled = await enabled_plugins(session, require_tenant_id())
    declared = kernel.registry.declared_permissions
    chosen = []
    for user, role in rows:
        if role is None:
            continue
        granted = role_permissions(role.key, role.is_system, role.permissions, declared)
        if permission in effective_permissions(granted, kernel.registry.permission_owners, enabled):
            chosen.append(user)
    return chosen


async def notify(
    session: AsyncSession,
    *,
    kind: str,
    message: str,
    params: dict[str, Any] | None = None,
    link: str | None = None,
    user_ids: Iterable[UUID] | None = None,
    permission: str | None = None,
    domain: str = KERNEL_DOMAIN,
    exclude: Iterable[UUID] = (),
) -> list[Notification]:
    """Notify the current tenant's active users (``user_ids``, and/or those holding ``permission``)."""
    from kernel.runtime import current_kernel

    kernel = current_kernel()
    skip = set(exclude)
    recipients = [u for u in await _recipients(session, kernel, user_ids, permission) if u.id not in skip]
    created = []
    for user in recipients:
        row = Notification(
            user_id=user.id, kind=kind, message=message, params=dict(params or {}), domain=domain, link=link
        )
        session.add(row)
        created.append((row, user))
    await session.flush()
    pending = session.info.setdefault(PENDING_KEY, [])
    pending.extend(created)
    if len(pending) == len(created):  # the first notification of this transaction: push after commit
        event.listen(session.sync_session, "after_commit", _push_after_commit, once=True)
        event.listen(session.sync_session, "after_rollback", _forget, once=True)
    return [row for row, _ in created]


def _forget(session: Any) -> None:
    session.info.pop(PENDING_KEY, None)


def _push_after_commit(session: Any) -> None:
    from kernel.realtime import publish
    from kernel.runtime import current_kernel

    pending = session.info.pop(PENDING_KEY, [])
    if not pending:
        return
    kernel = current_kernel()
    catalogs = kernel.state.get("catalogs")
    for row, user in pending:
        text = render(row, _translator(catalogs, user, kernel)) if catalogs is not None else row.message
        try:
            publish(
                kernel,
                row.tenant_id,
                f"notifications.user.{user.id}",
                {"id": str(row.id), "kind": row.kind, "text": text},
            )
        except Exception:  # real time is best effort; the notification is stored either way
            log.warning("notification_push_failed", exc_info=True)


def _translator(catalogs: Any, user: User, kernel: Any) -> Translator:
    language = user.language or kernel.settings.default_language
    return Translator(catalogs=catalogs, language=language, domains=(KERNEL_DOMAIN,))


def render(row: Notification, translator: Translator) -> str:
    """The notification's text in ``translator``'s language (its plugin's catalog first)."""
    domains = (row.domain, KERNEL_DOMAIN) if row.domain != KERNEL_DOMAIN else (KERNEL_DOMAIN,)
    localized = Translator(catalogs=translator.catalogs, language=translator.language, domains=domains)
    return localized.gettext(row.message, **row.params) if row.params else localized.gettext(row.message)


async def list_notifications(session: AsyncSession, user_id: UUID, *, limit: int = 20) -> list[Notification]:
    rows = await session.execute(
        select(Notification)
        .where(Notification.user_id == user_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    return list(rows.scalars())


async def get_notification(session: AsyncSession, user_id: UUID, notification_id: UUID) -> Notification | None:
    """One of the person's notifications; ``None`` for anyone else's (or none)."""
    rows = await session.execute(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    return rows.scalar_one_or_none()


async def unread_count(session: AsyncSession, user_id: UUID) -> int:
    return (
        await session.execute(
            select(func.count(Notification.id)).where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
    ).scalar_one()


async def mark_read(session: AsyncSession, user_id: UUID, notification_id: UUID) -> bool:
    """Mark one of the person's notifications read; ``False`` when it is not theirs (or does not exist)."""
    result = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    if result.rowcount:
        return True
    exists = await session.execute(
        select(Notification.id).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    return exists.first() is not None


async def mark_all_read(session: AsyncSession, user_id: UUID) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=datetime.now(UTC))
    )
    return int(result.rowcount or 0)
