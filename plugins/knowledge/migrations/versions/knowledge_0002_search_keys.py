"""Knowledge: folded copies of titles, questions and product names for the trigram indexes.

Row-level security lets only leakproof functions into index conditions. ``lower`` and
``atendai_unaccent`` are not, so an index on ``atendai_unaccent(lower(title))`` served no tenant
query. Generated columns hold the folded text instead (``title_key``, ``question_key``, ``name_key``)
and the trigram indexes cover them: with pg_trgm's operators leakproof (see ``kernel.db.leakproof``)
``key <% query`` uses the index.

Revision ID: knowledge_0002
Revises: knowledge_0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "knowledge_0002"
down_revision = "knowledge_0001"
branch_labels = None
depends_on = None

KEYS = (
    ("knowledge_documents", "title_key", "title"),
    ("knowledge_faqs", "question_key", "question"),
    ("knowledge_products", "name_key", "name"),
)


def upgrade() -> None:
    for table, key, source in KEYS:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_trgm")
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {key} text NOT NULL "
            f"GENERATED ALWAYS AS (atendai_unaccent(lower({source}))) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_trgm ON {table} USING gin ({key} gin_trgm_ops)")


def downgrade() -> None:
    for table, key, source in KEYS:
        op.execute(f"DROP INDEX IF EXISTS ix_{table}_trgm")
        op.execute(f"ALTER TABLE {table} DROP COLUMN {key}")
        op.execute(
            f"CREATE INDEX ix_{table}_trgm ON {table} USING gin (atendai_unaccent(lower({source})) gin_trgm_ops)"
        )
