"""Kernel runtime: the transactional event outbox and per-subscriber deliveries; SAQ's queue schema.

Revision ID: kernel_0005
Revises: kernel_0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kernel.db.ddl import base_columns, tenant_column
from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "kernel_0005"
down_revision = "kernel_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_outbox",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("event_outbox"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=True),
        sa.Column("occurred_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("dispatched_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        *base_columns(),
    )
    op.create_index("ix_event_outbox_tenant_id", "event_outbox", ["tenant_id"])
    op.create_index(
        "ix_event_outbox_pending",
        "event_outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("dispatched_at IS NULL"),
    )
    enable_tenant_rls("event_outbox")

    op.create_table(
        "event_deliveries",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("event_deliveries"),
        sa.Column(
            "event_id",
            GUID(length=16),
            sa.ForeignKey("event_outbox.id", name="fk_event_deliveries_event_id_event_outbox", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("subscriber", sa.String(200), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("event_id", "subscriber", name="uq_event_deliveries_event_subscriber"),
    )
    op.create_index("ix_event_deliveries_tenant_id", "event_deliveries", ["tenant_id"])
    op.create_index("ix_event_deliveries_event_id", "event_deliveries", ["event_id"])
    enable_tenant_rls("event_deliveries")


def downgrade() -> None:
    for table in ("event_deliveries", "event_outbox"):
        disable_tenant_rls(table)
        op.drop_table(table)
