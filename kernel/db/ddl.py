"""Column helpers for hand-written migrations, matching what ``Base`` and ``TenantScoped`` declare."""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC

__all__ = ["base_columns", "foreign_key", "id_column", "tenant_column"]


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


def id_column() -> sa.Column:
    """The UUIDv7 primary key every model has."""
    return sa.Column("id", GUID(length=16), primary_key=True)


def foreign_key(
    table: str, column: str, target: str, *, nullable: bool = False, ondelete: str | None = "CASCADE"
) -> sa.Column:
    """A UUID column referencing ``target.id``, with the constraint name autogenerate would give it."""
    return sa.Column(
        column,
        GUID(length=16),
        sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}", ondelete=ondelete),
        nullable=nullable,
    )
