"""Kernel shell: the company profile, AI defaults and onboarding of an organization; plan descriptions;
platform-wide settings; notifications.

Revision ID: kernel_0006
Revises: kernel_0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kernel.db.ddl import base_columns, tenant_column
from kernel.db.rls import PLATFORM_SCOPE_SQL, disable_tenant_rls, enable_tenant_rls, grant_app

revision = "kernel_0006"
down_revision = "kernel_0005"
branch_labels = None
depends_on = None


def profile_columns() -> list[sa.Column]:
    return [
        sa.Column("website", sa.String(300), nullable=True),
        sa.Column("contact_email", sa.String(254), nullable=True),
        sa.Column("contact_phone", sa.String(20), nullable=True),
        sa.Column("business_hours", JSONB(), nullable=False, server_default="{}"),
        sa.Column("about", sa.Text(), nullable=False, server_default=""),
        sa.Column("refund_policy", sa.Text(), nullable=False, server_default=""),
        sa.Column("privacy_policy", sa.Text(), nullable=False, server_default=""),
        sa.Column("ai_provider", sa.String(20), nullable=True),
        sa.Column("ai_model", sa.String(120), nullable=True),
        sa.Column("onboarding_dismissed_at", DateTimeUTC(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    for column in profile_columns():
        op.add_column("organizations", column)
    op.add_column("plans", sa.Column("description", sa.String(500), nullable=False, server_default=""))

    op.create_table(
        "platform_settings",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", JSONB(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("key", name="uq_platform_settings_key"),
    )
    # Not a tenant table, yet no tenant's transaction may touch it: only the platform scope sees it.
    op.execute("ALTER TABLE platform_settings ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE platform_settings FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY platform_access ON platform_settings USING ({PLATFORM_SCOPE_SQL}) WITH CHECK ({PLATFORM_SCOPE_SQL})"
    )
    grant_app("platform_settings")

    op.create_table(
        "notifications",
        sa.Column("id", GUID(length=16), primary_key=True),
        tenant_column("notifications"),
        sa.Column(
            "user_id",
            GUID(length=16),
            sa.ForeignKey("users.id", name="fk_notifications_user_id_users", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("message", sa.String(300), nullable=False),
        sa.Column("params", JSONB(), nullable=False),
        sa.Column("domain", sa.String(64), nullable=False),
        sa.Column("link", sa.String(500), nullable=True),
        sa.Column("read_at", DateTimeUTC(timezone=True), nullable=True),
        *base_columns(),
    )
    op.create_index("ix_notifications_tenant_id", "notifications", ["tenant_id"])
    op.create_index("ix_notifications_tenant_user_created", "notifications", ["tenant_id", "user_id", "created_at"])
    enable_tenant_rls("notifications")


def downgrade() -> None:
    disable_tenant_rls("notifications")
    op.drop_table("notifications")
    op.execute("DROP POLICY IF EXISTS platform_access ON platform_settings")
    op.drop_table("platform_settings")
    op.drop_column("plans", "description")
    for column in reversed(profile_columns()):
        op.drop_column("organizations", column.name)
