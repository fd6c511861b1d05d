"""Stored secrets: encrypted values (API keys, provider tokens) of a tenant or of the platform."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base

__all__ = ["StoredSecret"]


class StoredSecret(Base):
    """One secret value, encrypted with the installation's keys (``ATENDAI_SECRETS_KEYS``).

    ``tenant_id`` is ``None`` for platform-wide secrets (global AI defaults), visible only in the
    platform scope; ``hint`` is a masked preview safe to show (``sk-...abcd``).
    """

    __tablename__ = "stored_secrets"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_stored_secrets_tenant_name"),)

    tenant_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    ciphertext: Mapped[str] = mapped_column(Text)
    hint: Mapped[str] = mapped_column(String(40), default="")
