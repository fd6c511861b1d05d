"""Roles of an organization. System roles take their permissions from the registry; custom roles list theirs."""

from __future__ import annotations

from sqlalchemy import Boolean, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.db.base import Base, TenantScoped

__all__ = ["Role"]


class Role(TenantScoped, Base):
    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "key", name="uq_roles_tenant_key"),)

    key: Mapped[str] = mapped_column(String(50))
    """``admin``, ``supervisor``, ``operator``, ``analyst`` for system roles; a slug for custom ones."""
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    permissions: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True)
    """Explicit permission names of a custom role; ``None`` on system roles (defaults from the registry)."""
