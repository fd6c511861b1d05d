"""The event envelope: who, which tenant, what happened, when, and a typed payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec
from uuid_utils.compat import uuid7

__all__ = ["Event", "new_event"]


class Event(msgspec.Struct, kw_only=True, frozen=True):
    """One occurrence of an event type. ``id`` (UUIDv7) is what subscribers deduplicate on."""

    id: UUID
    tenant_id: UUID
    name: str
    version: int
    occurred_at: datetime
    actor: str | None
    """``user:<id>``, ``agent:<id>``, ``system`` or ``None``."""
    payload: dict[str, Any]

    @classmethod
    def build(
        cls, tenant_id: UUID, name: str, version: int, payload: msgspec.Struct, actor: str | None = None
    ) -> Event:
        return cls(
            id=uuid7(),
            tenant_id=tenant_id,
            name=name,
            version=version,
            occurred_at=datetime.now(UTC),
            actor=actor,
            payload=msgspec.to_builtins(payload),
        )


def new_event(tenant_id: UUID, name: str, version: int, payload: msgspec.Struct, actor: str | None = None) -> Event:
    return Event.build(tenant_id, name, version, payload, actor)
