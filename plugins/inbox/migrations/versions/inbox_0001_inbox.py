"""Inbox: contacts and identities, channels, stages, teams, conversations, messages, transfers,
canned responses.

Messages carry a generated ``tsv`` (``atendai_pt``, unaccented) with a GIN index for the history
search, and a partial unique index on ``(tenant_id, channel_id, provider_message_id)``: a channel that
delivers the same message twice gets it stored once.

Revision ID: inbox_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from kernel.db.ddl import base_columns, foreign_key, id_column, tenant_column
from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "inbox_0001"
down_revision = None
branch_labels = ("inbox",)
depends_on = "kernel_0007"

TABLES = (
    "inbox_contacts",
    "inbox_contact_identities",
    "inbox_teams",
    "inbox_team_members",
    "inbox_channels",
    "inbox_stages",
    "inbox_conversation_counters",
    "inbox_conversations",
    "inbox_messages",
    "inbox_transfers",
    "inbox_canned_responses",
)


def _when(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, DateTimeUTC(timezone=True), nullable=nullable)


def _tenant_index(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])


def upgrade() -> None:
    table = "inbox_contacts"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phones", ARRAY(sa.String(20)), nullable=False),
        sa.Column("emails", ARRAY(sa.String(254)), nullable=False),
        sa.Column("avatar_key", sa.String(400), nullable=True),
        sa.Column("language", sa.String(5), nullable=True),
        sa.Column("tags", ARRAY(sa.String(60)), nullable=False),
        sa.Column("attributes", JSONB(), nullable=False),
        foreign_key(table, "merged_into_id", "inbox_contacts", nullable=True, ondelete="SET NULL"),
        _when("erased_at"),
        _when("last_seen_at"),
        *base_columns(),
    )
    _tenant_index(table)
    op.execute(
        "ALTER TABLE inbox_contacts ADD COLUMN name_key text NOT NULL "
        "GENERATED ALWAYS AS (atendai_unaccent(lower(name))) STORED"
    )
    op.execute("CREATE INDEX ix_inbox_contacts_trgm ON inbox_contacts USING gin (name_key gin_trgm_ops)")

    table = "inbox_contact_identities"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "contact_id", "inbox_contacts"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("display", sa.String(200), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "kind", "address", name=op.f("uq_inbox_contact_identities_tenant_id")),
    )
    _tenant_index(table)
    op.create_index(op.f("ix_inbox_contact_identities_contact_id"), table, ["contact_id"])

    table = "inbox_teams"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("assignment", sa.String(12), nullable=False),
        sa.Column("capacity", sa.SmallInteger(), nullable=False),
        sa.Column("last_assigned_user_id", GUID(length=16), nullable=True),
        sa.Column("hours", JSONB(), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_inbox_teams_tenant_id")),
    )
    _tenant_index(table)

    table = "inbox_team_members"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "team_id", "inbox_teams"),
        foreign_key(table, "user_id", "users"),
        sa.Column("capacity", sa.SmallInteger(), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("team_id", "user_id", name=op.f("uq_inbox_team_members_team_id")),
    )
    _tenant_index(table)
    op.create_index(op.f("ix_inbox_team_members_user_id"), table, ["user_id"])

    table = "inbox_channels"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("public_key", sa.String(40), nullable=False),
        sa.Column("settings", JSONB(), nullable=False),
        foreign_key(table, "team_id", "inbox_teams", nullable=True, ondelete="SET NULL"),
        sa.Column("agent_id", GUID(length=16), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("public_key", name=op.f("uq_inbox_channels_public_key")),
    )
    _tenant_index(table)

    table = "inbox_stages"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        *base_columns(),
    )
    _tenant_index(table)

    table = "inbox_conversation_counters"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_inbox_conversation_counters_tenant_id")),
    )
    _tenant_index(table)

    table = "inbox_conversations"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("number", sa.BigInteger(), nullable=False),
        foreign_key(table, "channel_id", "inbox_channels"),
        foreign_key(table, "contact_id", "inbox_contacts"),
        foreign_key(table, "identity_id", "inbox_contact_identities", nullable=True, ondelete="SET NULL"),
        foreign_key(table, "stage_id", "inbox_stages", ondelete=None),
        sa.Column("owner_kind", sa.String(8), nullable=False),
        foreign_key(table, "owner_user_id", "users", nullable=True, ondelete="SET NULL"),
        sa.Column("owner_agent_id", GUID(length=16), nullable=True),
        foreign_key(table, "team_id", "inbox_teams", nullable=True, ondelete="SET NULL"),
        sa.Column("ai_paused", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.String(6), nullable=False),
        sa.Column("tags", ARRAY(sa.String(60)), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        _when("snoozed_until"),
        sa.Column("unread_count", sa.Integer(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        _when("last_message_at"),
        sa.Column("last_message_preview", sa.String(200), nullable=False),
        _when("last_inbound_at"),
        _when("first_response_at"),
        _when("waiting_since"),
        _when("wait_alerted_at"),
        _when("resolved_at"),
        sa.Column("csat_score", sa.SmallInteger(), nullable=True),
        sa.Column("csat_comment", sa.String(1000), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_inbox_conversations_tenant_id")),
    )
    _tenant_index(table)
    op.create_index("ix_inbox_conversations_board", table, ["tenant_id", "stage_id", "last_message_at"])
    op.create_index("ix_inbox_conversations_contact", table, ["tenant_id", "contact_id", "channel_id"])
    # The wait-alert sweep and the "waiting" filter look only at conversations that wait for a reply.
    op.execute(
        "CREATE INDEX ix_inbox_conversations_waiting ON inbox_conversations (waiting_since) "
        "WHERE waiting_since IS NOT NULL AND resolved_at IS NULL"
    )
    op.execute(
        "CREATE INDEX ix_inbox_conversations_owner ON inbox_conversations (tenant_id, owner_user_id) "
        "WHERE resolved_at IS NULL"
    )

    table = "inbox_messages"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "conversation_id", "inbox_conversations"),
        foreign_key(table, "channel_id", "inbox_channels"),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("sender_kind", sa.String(7), nullable=False),
        foreign_key(table, "sender_user_id", "users", nullable=True, ondelete="SET NULL"),
        sa.Column("sender_agent_id", GUID(length=16), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("media", JSONB(), nullable=True),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(9), nullable=False),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("provider_message_id", sa.String(200), nullable=True),
        foreign_key(table, "reply_to_id", "inbox_messages", nullable=True, ondelete="SET NULL"),
        _when("sent_at"),
        _when("delivered_at"),
        _when("read_at"),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        *base_columns(),
    )
    _tenant_index(table)
    op.create_index("ix_inbox_messages_conversation", table, ["conversation_id", "created_at"])
    op.execute(
        "CREATE UNIQUE INDEX ix_inbox_messages_provider ON inbox_messages (tenant_id, channel_id, provider_message_id) "
        "WHERE provider_message_id IS NOT NULL"
    )
    op.execute(
        "ALTER TABLE inbox_messages ADD COLUMN tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('atendai_pt', coalesce(body, ''))) STORED"
    )
    op.execute("CREATE INDEX ix_inbox_messages_tsv ON inbox_messages USING gin (tsv)")

    table = "inbox_transfers"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "conversation_id", "inbox_conversations"),
        sa.Column("from_kind", sa.String(8), nullable=False),
        sa.Column("from_id", GUID(length=16), nullable=True),
        sa.Column("to_kind", sa.String(11), nullable=False),
        sa.Column("to_id", GUID(length=16), nullable=True),
        sa.Column("destination", sa.String(200), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("summary_source", sa.String(8), nullable=False),
        sa.Column("by_kind", sa.String(7), nullable=False),
        sa.Column("by_user_id", GUID(length=16), nullable=True),
        *base_columns(),
    )
    _tenant_index(table)
    op.create_index(op.f("ix_inbox_transfers_conversation_id"), table, ["conversation_id"])

    table = "inbox_canned_responses"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("shortcut", sa.String(40), nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        foreign_key(table, "team_id", "inbox_teams", nullable=True),
        sa.Column("created_by", GUID(length=16), nullable=True),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "shortcut", name=op.f("uq_inbox_canned_responses_tenant_id")),
    )
    _tenant_index(table)

    for name in TABLES:
        enable_tenant_rls(name)


def downgrade() -> None:
    for name in reversed(TABLES):
        disable_tenant_rls(name)
        op.drop_table(name)
