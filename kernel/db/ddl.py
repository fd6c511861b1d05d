"""Column helpers for hand-written migrations, matching what ``Base`` and ``TenantScoped`` declare."""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

__all__ = ["base_columns", "tenant_column"]


def base_columns() -> list[sa.Column]:
    """advanced-alchemy's sentinel (for batched inserts) and the audit timestamps, as on every model."""
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def tenant_column(table: str, *, nullable: bool = False) -> sa.Column:
    """``tenant_id`` referencing the organization, with the constraint name autogenerate would give it."""
    return sa.Column(
        "tenant_id",
        GUID(length=16),
        sa.ForeignKey("organizations.id", name=f"fk_{table}_tenant_id_organizations", ondelete="CASCADE"),
        nullable=nullable,
    )
