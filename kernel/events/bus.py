"""Emitting events: written to the outbox in the caller's transaction, delivered after commit.

A change and its event commit or roll back together, so no subscriber ever hears of a change that
did not happen, and none misses one that did.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from kernel.db.scope import current_tenant_id
from kernel.events.envelope import Event
from kernel.events.models import OutboxEvent
from kernel.sdk import EventType
from kernel.web.context import current_request

__all__ = ["UnknownEvent", "emit", "install_commit_signal"]

EMITTED = "atendai_events_emitted"


class UnknownEvent(ValueError):
    """The event type is not in the catalog, or its payload is not the declared Struct."""


async def emit(
    session: AsyncSession, event_type: EventType, payload: msgspec.Struct, *, actor: str | None = None
) -> Event:
    """Write ``event_type`` with ``payload`` to the outbox of the session's tenant; returns the envelope."""
    from kernel.runtime import current_kernel

    registered = current_kernel().registry.events.get(event_type.name)
    if registered is None or registered[1] is not event_type:
        raise UnknownEvent(f"event {event_type.name!r} is not declared by any plugin (register_events)")
    if not isinstance(payload, event_type.payload):
        raise UnknownEvent(f"event {event_type.name!r} needs a {event_type.payload.__name__} payload")
    tenant_id = session.info.get("tenant_id") or current_tenant_id()
    if tenant_id is None:
        raise UnknownEvent("events belong to a tenant: none is set")
    if actor is None:
        request = current_request()
        actor = f"user:{request.actor_id}" if request and request.actor_id else None
    envelope = Event.build(tenant_id, event_type.name, event_type.version, payload, actor=actor)
    session.add(
        OutboxEvent(
            id=envelope.id,
            tenant_id=tenant_id,
            name=envelope.name,
            version=envelope.version,
            payload=envelope.payload,
            actor=envelope.actor,
            occurred_at=envelope.occurred_at,
            next_attempt_at=datetime.now(UTC),
            attempts=0,
        )
    )
    session.info[EMITTED] = True
    return envelope


def install_commit_signal(sync_session_maker: Any, wake: Any) -> None:
    """Call ``wake()`` after a transaction that emitted events commits (the local dispatcher runs at once)."""

    def after_commit(session: Session) -> None:
        if session.info.pop(EMITTED, False):
            wake()

    def after_rollback(session: Session) -> None:
        session.info.pop(EMITTED, None)

    sa_event.listen(sync_session_maker, "after_commit", after_commit)
    sa_event.listen(sync_session_maker, "after_rollback", after_rollback)
