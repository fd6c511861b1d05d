"""The inbox's background work: delivering replies, and the wait-alert sweep."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text

__all__ = ["deliver_message", "wait_sweep"]

log = structlog.get_logger("plugins.inbox")


async def deliver_message(ctx: Any, message_id: str) -> dict[str, str]:
    """Hand one queued reply to its channel adapter; a retryable channel error is raised to retry."""
    from kernel.sdk import tenant_session
    from plugins.inbox.channels import ChannelError
    from plugins.inbox.services import InboxService

    job = getattr(ctx, "job", None)
    final = job is None or (job.attempts or 0) >= (job.retries or 1)
    async with tenant_session(ctx.tenant_id) as session:
        try:
            status = await InboxService(session).deliver(UUID(message_id), final_attempt=final)
        except ChannelError as error:
            await session.commit()  # keep the attempt count and the last error for the thread's view
            log.info("inbox_delivery_retry", message_id=message_id, reason=error.reason)
            raise
        await session.commit()
    return {"status": status}


async def wait_sweep(ctx: Any) -> dict[str, int]:
    """Every minute: wait alerts past each priority's threshold, and replies whose delivery was not queued."""
    from kernel.sdk import enqueue, platform_session, tenant_session
    from plugins.inbox.services import InboxService

    async with platform_session() as session:
        tenants = list(
            (
                await session.execute(
                    text(
                        "SELECT DISTINCT c.tenant_id FROM inbox_conversations c "
                        "JOIN tenant_plugins tp ON tp.tenant_id = c.tenant_id AND tp.plugin = 'inbox' AND tp.enabled "
                        "WHERE c.waiting_since IS NOT NULL AND c.resolved_at IS NULL "
                        "AND c.waiting_since < now() - interval '1 minute' "
                        "AND (c.wait_alerted_at IS NULL OR c.wait_alerted_at < c.waiting_since)"
                    )
                )
            ).scalars()
        )
        # Replies whose delivery job was never queued (written where no queue runs) or got lost.
        stuck = (
            await session.execute(
                text(
                    "SELECT tenant_id, id FROM inbox_messages WHERE status = 'queued' "
                    "AND created_at < now() - interval '1 minute' AND created_at > now() - interval '2 days' "
                    "ORDER BY created_at LIMIT 500"
                )
            )
        ).all()
    for tenant_id, message_id in stuck:
        # The key keeps a job that is still queued or running: nothing is sent twice.
        await enqueue("inbox.deliver", tenant_id=tenant_id, key=f"deliver:{message_id}", message_id=str(message_id))
    alerted = 0
    for tenant_id in tenants:
        try:
            async with tenant_session(tenant_id) as session:
                alerted += len(await InboxService(session).wait_alerts())
                await session.commit()
        except Exception:
            log.exception("inbox_wait_sweep_failed", tenant_id=str(tenant_id))
    return {"tenants": len(tenants), "alerted": alerted, "requeued": len(stuck)}
