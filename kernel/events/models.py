"""The transactional outbox and the record of deliveries (one row per event and subscriber)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["EventDelivery", "OutboxEvent"]


class OutboxEvent(TenantScoped, Base):
    """An event written in the same transaction as the change it describes; ``id`` is the event id."""

    __tablename__ = "event_outbox"
    __table_args__ = (Index("ix_event_outbox_pending", "next_attempt_at", postgresql_where="dispatched_at IS NULL"),)

    name: Mapped[str] = mapped_column(String(120))
    version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    actor: Mapped[str | None] = mapped_column(String(120), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class EventDelivery(TenantScoped, Base):
    """Subscriber ``subscriber`` has handled event ``event_id``: written in the handler's own transaction."""

    __tablename__ = "event_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "subscriber", name="uq_event_deliveries_event_subscriber"),)

    event_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("event_outbox.id", ondelete="CASCADE"), index=True)
    subscriber: Mapped[str] = mapped_column(String(200))
