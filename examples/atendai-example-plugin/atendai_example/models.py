"""The plugin's one table. ``TenantScoped`` gives it ``tenant_id``; its migration enables RLS."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kernel.sdk import Base, TenantScoped


class Note(TenantScoped, Base):
    __tablename__ = "example_notes"

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    word_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Filled in by the ``example.note.created`` subscriber."""
