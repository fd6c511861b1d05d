"""Example plugin: notes.

Revision ID: example_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op

from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "example_0001"
down_revision = None
branch_labels = ("example",)
depends_on = "kernel_0001"


def upgrade() -> None:
    op.create_table(
        "example_notes",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "tenant_id",
            GUID(length=16),
            sa.ForeignKey(
                "organizations.id", name=op.f("fk_example_notes_tenant_id_organizations"), ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_example_notes_tenant_id"), "example_notes", ["tenant_id"])
    enable_tenant_rls("example_notes")


def downgrade() -> None:
    disable_tenant_rls("example_notes")
    op.drop_table("example_notes")
