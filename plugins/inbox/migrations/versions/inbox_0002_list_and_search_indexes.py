"""Inbox: indexes for the lists and the history search of organizations with millions of messages.

Measured by ``bench/inbox.py`` (500,000 conversations, 5,000,000 messages): lists newest first read
50 rows instead of sorting half a million, and the history search walks an organization's messages
newest first instead of every organization's matches (docs/performance.md, "Inbox").

Revision ID: inbox_0002
Revises: inbox_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "inbox_0002"
down_revision = "inbox_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX ix_inbox_conversations_recent ON inbox_conversations "
        "(tenant_id, last_message_at DESC NULLS LAST, id DESC)"
    )
    op.execute("DROP INDEX IF EXISTS ix_inbox_conversations_board")
    op.execute(
        "CREATE INDEX ix_inbox_conversations_board ON inbox_conversations "
        "(tenant_id, stage_id, last_message_at DESC NULLS LAST, id DESC)"
    )
    op.execute("CREATE INDEX ix_inbox_messages_tenant_created ON inbox_messages (tenant_id, created_at DESC, id DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_inbox_messages_tenant_created")
    op.execute("DROP INDEX IF EXISTS ix_inbox_conversations_board")
    op.execute(
        "CREATE INDEX ix_inbox_conversations_board ON inbox_conversations (tenant_id, stage_id, last_message_at)"
    )
    op.execute("DROP INDEX IF EXISTS ix_inbox_conversations_recent")
