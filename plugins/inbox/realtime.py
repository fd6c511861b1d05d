"""Live pages: committed inbox events become pushes on the organization's ``inbox`` topics.

``inbox.board`` tells the board and the list which conversation changed; ``inbox.conversation.<id>``
tells that conversation's open pages. A push carries ids and the event's name only (pages fetch what
they show with their own permissions), and it is sent after the change committed, by the event
dispatcher, so a page never fetches a state that may still roll back.
"""

from __future__ import annotations

from typing import Any

from kernel.sdk import Subscription

__all__ = ["LIVE_EVENTS", "register_topics", "subscriptions"]

LIVE_EVENTS = (
    "conversation.created",
    "conversation.assigned",
    "conversation.transferred",
    "conversation.stage_changed",
    "conversation.resolved",
    "conversation.wait_alert",
    "message.received",
    "message.sent",
    "message.status_updated",
    "csat.received",
)


def register_topics() -> None:
    from kernel.realtime import register_topic

    register_topic("inbox", "inbox.conversation.read", plugin="inbox")


async def push(event: Any, session: Any) -> None:
    from kernel.realtime import publish
    from kernel.runtime import current_kernel

    conversation_id = event.payload.get("conversation_id")
    if not conversation_id:
        return
    data = {"type": event.name, "conversation_id": str(conversation_id)}
    if event.payload.get("message_id"):
        data["message_id"] = str(event.payload["message_id"])
    kernel = current_kernel()
    publish(kernel, event.tenant_id, "inbox.board", data)
    publish(kernel, event.tenant_id, f"inbox.conversation.{conversation_id}", data)


def subscriptions() -> list[Subscription]:
    return [Subscription(name, push, mode="inline", name=f"inbox.live.{name}") for name in LIVE_EVENTS]
