"""Kernel identity: roles, a role per user, refresh tokens, API tokens, invitation and reset tokens.

Revision ID: kernel_0002
Revises: kernel_0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kernel.db.ddl import base_columns, tenant_column
from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "kernel_0002"
down_revision = "kernel_0001"
branch_labels = None
depends_on = None


def _user(table: str, column: str = "user_id", nullable: bool = False, ondelete: str = "CASCADE") -> sa.Column:
    return sa.Column(
        column,
        GUID(length=16),
        sa.ForeignKey("users.id", name=f"fk_{table}_{column}_users", ondelete=ondelete),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "roles",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("roles", nullable=False),
        sa.Column("key", sa.String(50), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("is_system", sa.Boolean(), nullable=False),
        sa.Column("permissions", JSONB(), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "key", name="uq_roles_tenant_key"),
    )
    op.create_index("ix_roles_tenant_id", "roles", ["tenant_id"])
    enable_tenant_rls("roles")

    op.add_column("users", sa.Column("role_id", GUID(length=16), nullable=True))
    op.create_foreign_key("fk_users_role_id_roles", "users", "roles", ["role_id"], ["id"], ondelete="RESTRICT")

    op.create_table(
        "refresh_tokens",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("refresh_tokens", nullable=True),
        _user("refresh_tokens"),
        sa.Column("family_id", GUID(length=16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("rotated_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(500), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    for column in ("tenant_id", "user_id", "family_id"):
        op.create_index(f"ix_refresh_tokens_{column}", "refresh_tokens", [column])
    enable_tenant_rls("refresh_tokens")

    op.create_table(
        "api_tokens",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("api_tokens", nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("permissions", JSONB(), nullable=False),
        _user("api_tokens", "created_by", nullable=True, ondelete="SET NULL"),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("last_used_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("revoked_at", DateTimeUTC(timezone=True), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_tenant_id", "api_tokens", ["tenant_id"])
    enable_tenant_rls("api_tokens")

    op.create_table(
        "user_tokens",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("user_tokens", nullable=True),
        _user("user_tokens"),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("used_at", DateTimeUTC(timezone=True), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("token_hash", name="uq_user_tokens_token_hash"),
    )
    op.create_index("ix_user_tokens_tenant_id", "user_tokens", ["tenant_id"])
    op.create_index("ix_user_tokens_user_id", "user_tokens", ["user_id"])
    enable_tenant_rls("user_tokens")


def downgrade() -> None:
    for table in ("user_tokens", "api_tokens", "refresh_tokens"):
        disable_tenant_rls(table)
        op.drop_table(table)
    op.drop_constraint("fk_users_role_id_roles", "users", type_="foreignkey")
    op.drop_column("users", "role_id")
    disable_tenant_rls("roles")
    op.drop_table("roles")
