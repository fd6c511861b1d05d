"""The event catalog: every event type the organization's modules emit, with its payload schema."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get

from kernel.i18n.catalogs import translator
from kernel.rbac.guard import AUTHENTICATED

__all__ = ["EventCatalogController"]


class EventTypeOut(msgspec.Struct):
    name: str
    version: int
    plugin: str
    description: str
    payload_schema: dict[str, Any]


class EventCatalogController(Controller):
    path = "/api/v1/events"
    tags = ["events"]

    @get("/catalog", opt={AUTHENTICATED: True}, summary="Event types of the enabled modules (for webhooks)")
    async def catalog(self, request: Request[Any, Any, Any]) -> list[EventTypeOut]:
        registry = request.app.state.kernel.registry
        enabled = request.scope["user"].enabled_plugins
        current = translator()
        out = []
        for name, (plugin, event_type) in sorted(registry.events.items()):
            if plugin != "kernel" and plugin not in enabled:
                continue
            description = (
                current.gettext(event_type.description)
                if current and event_type.description
                else event_type.description
            )
            schema = msgspec.json.schema(event_type.payload)
            out.append(EventTypeOut(name, event_type.version, plugin, description, schema))
        return out
