"""Base classes for every table: UUIDv7 keys, UTC audit timestamps, and the tenant mixin."""

from __future__ import annotations

from uuid import UUID

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import GUID
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

__all__ = ["Base", "TenantScoped"]

Base = UUIDv7AuditBase
"""Declarative base: ``id`` (UUIDv7), ``created_at`` and ``updated_at`` (UTC)."""


class TenantScoped:
    """Marks a table as owned by one tenant.

    The session stamps ``tenant_id`` on insert and filters every ORM query to the current tenant, and
    the table's migration must call :func:`kernel.db.rls.enable_tenant_rls` so PostgreSQL enforces the
    same rule on its own (the catalog test fails otherwise).
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[UUID]:
        return mapped_column(GUID, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False, index=True)
