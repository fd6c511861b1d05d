"""Delivering outbox events to subscribers, the tenant's real-time channel, and (later) webhooks.

Any number of processes may dispatch at once: each claims a batch of pending events with
``FOR UPDATE SKIP LOCKED``, so no two work on the same event, and a process that dies mid-batch only
releases its locks, leaving the events for the next one.

Each (event, subscriber) pair is handled in one transaction that also inserts its ``event_deliveries``
row (unique on the pair). The handler gets that transaction's session: what it writes through it
commits together with the delivery mark, so a crash can never apply a subscriber's effect twice, and
a second dispatcher racing on the same pair finds the row and skips it. Inline subscribers run in the
dispatcher; ``job`` subscribers run as SAQ jobs with retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from kernel.db.scope import tenant_scope
from kernel.db.session import set_session_scope
from kernel.events.envelope import Event
from kernel.events.models import EventDelivery, OutboxEvent
from kernel.sdk import JobSpec, Subscription
from kernel.tenancy.services import enabled_plugins

__all__ = ["DELIVER_JOB", "Dispatcher", "deliver", "subscriber_name"]

DELIVER_JOB = "kernel.deliver_event"
MAX_ATTEMPTS = 12
log = structlog.get_logger("kernel.events")


def subscriber_name(plugin: str, subscription: Subscription) -> str:
    if subscription.name:
        return subscription.name
    handler = subscription.handler
    return f"{plugin}:{handler.__module__}.{handler.__qualname__}"


def _envelope(row: OutboxEvent) -> Event:
    return Event(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        version=row.version,
        occurred_at=row.occurred_at,
        actor=row.actor,
        payload=row.payload,
    )


def _find(kernel: Any, subscriber: str) -> Subscription | None:
    for plugin, subscription in kernel.registry.subscriptions:
        if subscriber_name(plugin, subscription) == subscriber:
            return subscription
    return None


async def deliver(kernel: Any, event_id: UUID, tenant_id: UUID, subscriber: str) -> bool:
    """Handle one (event, subscriber) pair exactly once; ``False`` when it was already handled."""
    subscription = _find(kernel, subscriber)
    if subscription is None:
        log.warning("subscriber_gone", subscriber=subscriber, event_id=str(event_id))
        return False
    with tenant_scope(tenant_id):
        async with kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant_id)
            row = (await session.execute(select(OutboxEvent).where(OutboxEvent.id == event_id))).scalar_one_or_none()
            if row is None:
                return False
            claimed = await session.execute(
                insert(EventDelivery)
                .values(id=_uuid7(), tenant_id=tenant_id, event_id=event_id, subscriber=subscriber, **_stamps())
                .on_conflict_do_nothing(constraint="uq_event_deliveries_event_subscriber")
                .returning(EventDelivery.id)
            )
            if claimed.scalar_one_or_none() is None:
                return False
            await _call(subscription.handler, _envelope(row), session)
            await session.commit()
    return True


async def _call(handler: Callable[..., Any], event: Event, session: Any) -> None:
    params = inspect.signature(handler).parameters
    result = handler(event, session) if "session" in params else handler(event)
    if inspect.isawaitable(result):
        await result


def _stamps() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"created_at": now, "updated_at": now}


def _uuid7() -> UUID:
    from uuid_utils.compat import uuid7

    return uuid7()


async def _deliver_job(ctx: Any, *, event_id: str, subscriber: str) -> bool:
    return await deliver(ctx.kernel, UUID(event_id), ctx.tenant_id, subscriber)


DELIVER_JOB_SPEC = JobSpec(name=DELIVER_JOB, function=_deliver_job, timeout=120, retries=8)


class Dispatcher:
    """Moves events from the outbox to their subscribers, the real-time channel and the job queue."""

    def __init__(
        self,
        kernel: Any,
        *,
        jobs: Any | None = None,
        publish: Callable[[UUID, Event], Any] | None = None,
        poll_interval: float = 1.0,
        batch_size: int = 100,
    ) -> None:
        self.kernel = kernel
        self.jobs = jobs
        self.publish = publish
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def dispatch_pending(self) -> int:
        """Dispatch one batch of due events; returns how many were completed."""
        now = datetime.now(UTC)
        completed = 0
        async with self.kernel.db.session() as session:
            await set_session_scope(session, platform=True)
            rows = (
                (
                    await session.execute(
                        select(OutboxEvent)
                        .where(OutboxEvent.dispatched_at.is_(None), OutboxEvent.next_attempt_at <= now)
                        .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
                        .limit(self.batch_size)
                        # NO KEY UPDATE: deliveries insert rows referencing these events (a KEY SHARE lock).
                        .with_for_update(skip_locked=True, key_share=True)
                    )
                )
                .scalars()
                .all()
            )
            enabled_by_tenant: dict[UUID, frozenset[str]] = {}
            for row in rows:
                if row.tenant_id not in enabled_by_tenant:
                    enabled_by_tenant[row.tenant_id] = await enabled_plugins(session, row.tenant_id)
                try:
                    await self._dispatch_one(row, enabled_by_tenant[row.tenant_id])
                except Exception as exc:  # one bad subscriber must not stop the others' events
                    row.attempts += 1
                    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    log.warning("event_dispatch_failed", event=row.name, event_id=str(row.id), error=row.last_error)
                    if row.attempts >= MAX_ATTEMPTS:
                        row.dispatched_at = datetime.now(UTC)  # given up: kept, with its error, for inspection
                    else:
                        row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=min(300, 2**row.attempts))
                    continue
                row.dispatched_at = datetime.now(UTC)
                completed += 1
            await session.commit()
        return completed

    async def _dispatch_one(self, row: OutboxEvent, enabled: frozenset[str]) -> None:
        event = _envelope(row)
        for plugin, subscription in self.kernel.registry.subscriptions_for(row.name, enabled):
            name = subscriber_name(plugin, subscription)
            if subscription.mode == "inline" or self.jobs is None:
                await deliver(self.kernel, row.id, row.tenant_id, name)
            else:
                await self.jobs.enqueue(
                    DELIVER_JOB,
                    tenant_id=row.tenant_id,
                    key=f"event:{row.id}:{name}",
                    event_id=str(row.id),
                    subscriber=name,
                )
        if self.publish is not None:
            result = self.publish(row.tenant_id, event)
            if inspect.isawaitable(result):
                await result

    async def run(self) -> None:
        """Dispatch until cancelled: at once when woken by a local commit, else every ``poll_interval``."""
        while True:
            try:
                while await self.dispatch_pending() >= self.batch_size:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event_dispatcher_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            self._wake.clear()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name="atendai-event-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
