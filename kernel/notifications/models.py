"""Notifications: what a person should look at, shown under the bell and pushed over the WebSocket."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["Notification"]


class Notification(TenantScoped, Base):
    """One notice for one user. The text is a msgid of ``domain`` with ``params``, translated when read."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_tenant_user_created", "tenant_id", "user_id", "created_at"),)

    user_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(100))
    """``<plugin or kernel>.<what>``, e.g. ``kernel.invitation_accepted``: lets clients pick an icon."""
    message: Mapped[str] = mapped_column(String(300))
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    domain: Mapped[str] = mapped_column(String(64), default="atendai")
    link: Mapped[str | None] = mapped_column(String(500), nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
