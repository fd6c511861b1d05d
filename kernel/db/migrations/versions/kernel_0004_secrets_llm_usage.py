"""Kernel runtime: encrypted stored secrets and the LLM usage ledger.

Revision ID: kernel_0004
Revises: kernel_0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID
from alembic import op

from kernel.db.ddl import base_columns, tenant_column
from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "kernel_0004"
down_revision = "kernel_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_secrets",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("stored_secrets", nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("hint", sa.String(40), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "name", name="uq_stored_secrets_tenant_name"),
    )
    op.create_index("ix_stored_secrets_tenant_id", "stored_secrets", ["tenant_id"])
    enable_tenant_rls("stored_secrets")

    op.create_table(
        "llm_usage",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("llm_usage", nullable=False),
        sa.Column("agent_id", GUID(length=16), nullable=True),
        sa.Column("conversation_id", GUID(length=16), nullable=True),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("model", sa.String(120), nullable=False),
        sa.Column("operation", sa.String(20), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        *base_columns(),
    )
    op.create_index("ix_llm_usage_tenant_id", "llm_usage", ["tenant_id"])
    op.create_index("ix_llm_usage_tenant_created", "llm_usage", ["tenant_id", "created_at"])
    enable_tenant_rls("llm_usage", privileges="SELECT, INSERT")


def downgrade() -> None:
    for table in ("llm_usage", "stored_secrets"):
        disable_tenant_rls(table)
        op.drop_table(table)
