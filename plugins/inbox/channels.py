"""Channel adapters: how a message leaves for its channel, and the built-in web chat.

Other plugins offer adapters through the ``register_channels`` hook (see ``hookspecs.py``). The inbox
calls :meth:`ChannelAdapter.send` from its delivery job; a :class:`ChannelError` with
``retryable=True`` (a timeout, a 5xx, a rate limit) is tried again with backoff, any other error marks
the message failed with the adapter's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

__all__ = [
    "ChannelAdapter",
    "ChannelError",
    "Outgoing",
    "Sent",
    "WebChatAdapter",
    "adapter_for",
    "adapters",
    "webchat_topic",
]


@dataclass(frozen=True)
class Outgoing:
    """A message to deliver, with what the adapter needs to address it."""

    tenant_id: UUID
    channel_id: UUID
    channel_kind: str
    channel_settings: dict[str, Any]
    conversation_id: UUID
    message_id: UUID
    to_kind: str
    """The identity kind of the recipient (``whatsapp``, ``webchat``, ...)."""
    to_address: str
    kind: str
    body: str
    media: dict[str, Any] | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    reply_to_provider_id: str | None = None
    sender_name: str = ""


@dataclass(frozen=True)
class Sent:
    provider_message_id: str | None
    status: str = "sent"
    """``sent``, or ``delivered`` when the channel confirms on the spot (the web chat)."""


class ChannelError(Exception):
    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:300]
        self.retryable = retryable


@runtime_checkable
class ChannelAdapter(Protocol):
    kind: str
    """The ``inbox_channels.kind`` this adapter serves."""
    title: str
    """A msgid naming the channel kind in the UI."""
    media_kinds: frozenset[str]
    """Message kinds beyond ``text`` it can send (``image``, ``audio``, ``document``, ...)."""

    async def send(self, message: Outgoing) -> Sent: ...


def webchat_topic(visitor_id: str) -> str:
    """The real-time topic a web chat visitor's socket listens on (inside the tenant's channels)."""
    return f"webchat.{visitor_id}"


class WebChatAdapter:
    """The web chat widget: a reply is pushed to the visitor's socket; the widget fetches missed ones."""

    kind = "webchat"
    title = "Web chat"
    media_kinds = frozenset({"image", "audio", "video", "document"})

    async def send(self, message: Outgoing) -> Sent:
        from kernel.realtime.channels import publish
        from kernel.runtime import current_kernel

        kernel = current_kernel()
        try:
            published = publish(
                kernel,
                message.tenant_id,
                webchat_topic(message.to_address),
                {
                    "type": "message",
                    "message_id": str(message.message_id),
                    "conversation_id": str(message.conversation_id),
                },
            )
        except RuntimeError:
            # No real-time channels in this process (a command such as `atendai demo`): the widget
            # fetches the message when it next connects.
            published = False
        # The visitor reads the message through the widget's API; the id is our own.
        return Sent(provider_message_id=str(message.message_id), status="delivered" if published else "sent")


def adapters(kernel: Any) -> dict[str, ChannelAdapter]:
    """Every adapter by kind: the web chat's and those other plugins register (gathered once)."""
    found: dict[str, ChannelAdapter] | None = kernel.state.get("inbox.adapters")
    if found is None:
        found = {"webchat": WebChatAdapter()}
        if hasattr(kernel.plugins.hook, "register_channels"):
            for _plugin, result in kernel.plugins.call_each("register_channels", kernel=kernel):
                for adapter in result if isinstance(result, list | tuple) else [result]:
                    if adapter is not None:
                        found[adapter.kind] = adapter
        kernel.state["inbox.adapters"] = found
    return found


def adapter_for(kernel: Any, kind: str) -> ChannelAdapter | None:
    return adapters(kernel).get(kind)
