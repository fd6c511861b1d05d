"""Kernel foundation: search extensions, plans, organizations, users, tenant plugins.

Revision ID: kernel_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kernel.db.rls import disable_tenant_rls, enable_tenant_rls, grant_app

revision = "kernel_0001"
down_revision = None
branch_labels = ("kernel",)
depends_on = None

# pgvector is optional (features that need it say so); the text-search ones are needed by search.
REQUIRED_EXTENSIONS = ("unaccent", "pg_trgm")
OPTIONAL_EXTENSIONS = ("vector",)


def _timestamps() -> list[sa.Column]:
    """advanced-alchemy's sentinel (for batched inserts) and audit columns, as on every model."""
    return [
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
    ]


def _create_extensions() -> None:
    bind = op.get_bind()
    available = {row[0] for row in bind.execute(sa.text("SELECT name FROM pg_available_extensions"))}
    for name in (*REQUIRED_EXTENSIONS, *OPTIONAL_EXTENSIONS):
        if name not in available:
            if name in REQUIRED_EXTENSIONS:
                raise RuntimeError(f"PostgreSQL extension {name!r} is not installed on the server (postgresql-contrib)")
            continue
        savepoint = bind.begin_nested()
        try:
            bind.execute(sa.text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
            savepoint.commit()
        except sa.exc.DBAPIError:
            savepoint.rollback()
            if name in REQUIRED_EXTENSIONS:
                raise


def upgrade() -> None:
    _create_extensions()

    op.create_table(
        "plans",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("allowed_plugins", JSONB(), nullable=True),
        sa.Column("features", JSONB(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("code", name=op.f("uq_plans_code")),
    )
    grant_app("plans")

    op.create_table(
        "organizations",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column(
            "plan_id",
            GUID(length=16),
            sa.ForeignKey("plans.id", name=op.f("fk_organizations_plan_id_plans"), ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("language", sa.String(10), nullable=False),
        sa.Column("brand_primary", sa.String(9), nullable=True),
        sa.Column("brand_accent", sa.String(9), nullable=True),
        sa.Column("logo_path", sa.String(500), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    enable_tenant_rls("organizations", column="id")

    op.create_table(
        "users",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "tenant_id",
            GUID(length=16),
            sa.ForeignKey("organizations.id", name=op.f("fk_users_tenant_id_organizations"), ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("is_platform_admin", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(10), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("last_login_at", DateTimeUTC(timezone=True), nullable=True),
        *_timestamps(),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_tenant_id"), "users", ["tenant_id"])
    enable_tenant_rls("users")

    op.create_table(
        "tenant_plugins",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "tenant_id",
            GUID(length=16),
            sa.ForeignKey(
                "organizations.id", name=op.f("fk_tenant_plugins_tenant_id_organizations"), ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("plugin", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", JSONB(), nullable=False),
        *_timestamps(),
        sa.UniqueConstraint("tenant_id", "plugin", name="uq_tenant_plugins_tenant_plugin"),
    )
    op.create_index(op.f("ix_tenant_plugins_tenant_id"), "tenant_plugins", ["tenant_id"])
    enable_tenant_rls("tenant_plugins")


def downgrade() -> None:
    for table in ("tenant_plugins", "users", "organizations"):
        disable_tenant_rls(table)
    op.drop_table("tenant_plugins")
    op.drop_table("users")
    op.drop_table("organizations")
    op.drop_table("plans")
