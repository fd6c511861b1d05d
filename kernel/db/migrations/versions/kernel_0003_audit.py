"""Kernel audit trail: the append-only, hash-chained ``audit_log``.

The application role gets SELECT and INSERT only. A trigger also refuses UPDATE, DELETE and TRUNCATE
to everyone else, the owner included, except the deletes cascading from a removed organization;
whoever disables it to tamper anyway still breaks the hash chain.

Revision ID: kernel_0003
Revises: kernel_0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "kernel_0003"
down_revision = "kernel_0002"
branch_labels = None
depends_on = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A delete cascading from a removed organization runs inside the foreign key's trigger.
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", GUID(length=16), primary_key=True),
        sa.Column(
            "tenant_id",
            GUID(length=16),
            sa.ForeignKey("organizations.id", name="fk_audit_log_tenant_id_organizations", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("actor_type", sa.String(20), nullable=False),
        sa.Column("actor_id", GUID(length=16), nullable=True),
        sa.Column("actor_label", sa.String(254), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("target_type", sa.String(100), nullable=False),
        sa.Column("target_id", sa.String(200), nullable=True),
        sa.Column("changes", JSONB(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(500), nullable=True),
        sa.Column("request_id", sa.String(64), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_log_tenant_seq", postgresql_nulls_not_distinct=True),
    )
    op.create_index("ix_audit_log_tenant_created", "audit_log", ["tenant_id", "created_at"])
    op.create_index(
        "ix_audit_log_tenant_action",
        "audit_log",
        ["tenant_id", "action"],
        postgresql_ops={"action": "text_pattern_ops"},
    )
    op.create_index("ix_audit_log_tenant_target", "audit_log", ["tenant_id", "target_type", "target_id"])
    op.create_index("ix_audit_log_tenant_actor", "audit_log", ["tenant_id", "actor_id"])
    enable_tenant_rls("audit_log", privileges="SELECT, INSERT")

    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )


def downgrade() -> None:
    disable_tenant_rls("audit_log")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
