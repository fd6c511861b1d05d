"""Hooks the inbox publishes for other plugins (added through ``atendai_addhooks``)."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("atendai")


@hookspec
def register_channels(kernel: Any) -> Any:
    """Channel adapters (:class:`plugins.inbox.channels.ChannelAdapter`) this plugin offers, by ``kind``.

    The inbox calls an adapter's ``send`` from its delivery job (with retries) and expects inbound
    messages through :meth:`plugins.inbox.services.InboxService.receive`. Example (the whatsapp
    plugin)::

        @hookimpl
        def register_channels(kernel):
            return [WhatsAppAdapter()]
    """
