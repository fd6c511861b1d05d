"""Knowledge: collections, categories, sources, documents and versions, chunks and term statistics,
FAQ pairs, unanswered questions, products.

Search columns are generated ``tsvector`` columns in the collection's language (the kernel's
``atendai_pt``/``atendai_en``/``atendai_es`` configurations, unaccented) with GIN indexes. Where
pgvector is installed, ``embedding`` columns and partial HNSW indexes (one per common size) are added;
without it the plugin searches by full text only.

Revision ID: knowledge_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import GUID, DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from kernel.db.ddl import base_columns, foreign_key, id_column, tenant_column
from kernel.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "knowledge_0001"
down_revision = None
branch_labels = ("knowledge",)
depends_on = "kernel_0007"

TABLES = (
    "knowledge_collections",
    "knowledge_categories",
    "knowledge_sources",
    "knowledge_documents",
    "knowledge_document_versions",
    "knowledge_chunks",
    "knowledge_terms",
    "knowledge_faqs",
    "knowledge_unanswered",
    "knowledge_products",
    "knowledge_product_documents",
)
VECTOR_DIMS = (256, 384, 512, 768, 1024, 1536)
HALFVEC_DIMS = (3072,)


def _by_language(*parts: tuple[str, str]) -> str:
    """A tsvector of weighted ``(expression, weight)`` parts in the row's language configuration."""

    def vector(config: str) -> str:
        return " || ".join(f"setweight(to_tsvector('{config}', coalesce({expr}, '')), '{w}')" for expr, w in parts)

    return (
        f"CASE language WHEN 'en' THEN {vector('atendai_en')} "
        f"WHEN 'es' THEN {vector('atendai_es')} ELSE {vector('atendai_pt')} END"
    )


def _has_pgvector() -> bool:
    return bool(op.get_bind().execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")).scalar())


def upgrade() -> None:
    table = "knowledge_collections"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("embedding_provider", sa.String(20), nullable=True),
        sa.Column("embedding_model", sa.String(120), nullable=True),
        sa.Column("embedding_dims", sa.SmallInteger(), nullable=True),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunk_overlap", sa.Integer(), nullable=False),
        sa.Column("faq_threshold", sa.Float(), nullable=False),
        sa.Column("owner_ids", JSONB(), nullable=False),
        sa.Column("agents_may_read", sa.Boolean(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("total_length", sa.BigInteger(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_knowledge_collections_tenant_id")),
    )
    op.create_index(op.f("ix_knowledge_collections_tenant_id"), table, ["tenant_id"])

    table = "knowledge_categories"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections"),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("collection_id", "name", name=op.f("uq_knowledge_categories_collection_id")),
    )
    op.create_index(op.f("ix_knowledge_categories_tenant_id"), table, ["tenant_id"])

    table = "knowledge_sources"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections"),
        foreign_key(table, "category_id", "knowledge_categories", nullable=True, ondelete="SET NULL"),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("page_limit", sa.Integer(), nullable=False),
        sa.Column("recrawl_hours", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pages_found", sa.Integer(), nullable=False),
        sa.Column("pages_failed", sa.Integer(), nullable=False),
        sa.Column("last_run_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("next_run_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_by", GUID(length=16), nullable=True),
        *base_columns(),
    )
    op.create_index(op.f("ix_knowledge_sources_tenant_id"), table, ["tenant_id"])
    op.execute("CREATE INDEX ix_knowledge_sources_due ON knowledge_sources (next_run_at) WHERE next_run_at IS NOT NULL")

    table = "knowledge_documents"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections"),
        foreign_key(table, "category_id", "knowledge_categories", nullable=True, ondelete="SET NULL"),
        foreign_key(table, "source_id", "knowledge_sources", nullable=True, ondelete="SET NULL"),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("content_type", sa.String(120), nullable=True),
        sa.Column("storage_key", sa.String(400), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("url", sa.String(2000), nullable=True),
        sa.Column("etag", sa.String(300), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        foreign_key(table, "translated_from_id", "knowledge_documents", nullable=True, ondelete="SET NULL"),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("progress", sa.SmallInteger(), nullable=False),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_params", JSONB(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("embedded_count", sa.Integer(), nullable=False),
        sa.Column("meta", JSONB(), nullable=False),
        sa.Column("review_at", sa.Date(), nullable=True),
        sa.Column("review_notified_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("indexed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_by", GUID(length=16), nullable=True),
        sa.Column("updated_by", GUID(length=16), nullable=True),
        *base_columns(),
    )
    op.create_index(op.f("ix_knowledge_documents_tenant_id"), table, ["tenant_id"])
    op.execute(
        "CREATE INDEX ix_knowledge_documents_trgm ON knowledge_documents "
        "USING gin (atendai_unaccent(lower(title)) gin_trgm_ops)"
    )
    # The runners' queue and the sweep look only at documents still waiting for work.
    op.execute(
        "CREATE INDEX ix_knowledge_documents_pending ON knowledge_documents (tenant_id, updated_at) "
        "WHERE status IN ('queued', 'processing', 'translating')"
    )
    op.execute(
        "CREATE INDEX ix_knowledge_documents_review ON knowledge_documents (review_at) "
        "WHERE review_at IS NOT NULL AND review_notified_at IS NULL"
    )

    table = "knowledge_document_versions"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "document_id", "knowledge_documents"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("storage_key", sa.String(400), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("changed_by", GUID(length=16), nullable=True),
        sa.Column("note", sa.String(300), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("document_id", "version", name=op.f("uq_knowledge_document_versions_document_id")),
    )
    op.create_index(op.f("ix_knowledge_document_versions_tenant_id"), table, ["tenant_id"])

    table = "knowledge_chunks"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections"),
        foreign_key(table, "document_id", "knowledge_documents"),
        sa.Column("category_id", GUID(length=16), nullable=True),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("meta", JSONB(), nullable=False),
        sa.Column("embedding_dims", sa.SmallInteger(), nullable=True),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        *base_columns(),
    )
    op.create_index(op.f("ix_knowledge_chunks_tenant_id"), table, ["tenant_id"])
    op.create_index("ix_knowledge_chunks_collection", table, ["tenant_id", "collection_id"])
    op.create_index(op.f("ix_knowledge_chunks_document_id"), table, ["document_id"])
    op.execute(
        f"ALTER TABLE knowledge_chunks ADD COLUMN tsv tsvector "
        f"GENERATED ALWAYS AS ({_by_language(('title', 'A'), ('content', 'B'))}) STORED"
    )
    op.execute("CREATE INDEX ix_knowledge_chunks_tsv ON knowledge_chunks USING gin (tsv)")

    table = "knowledge_terms"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections"),
        sa.Column("lexeme", sa.Text(), nullable=False),
        sa.Column("df", sa.Integer(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("collection_id", "lexeme", name=op.f("uq_knowledge_terms_collection_id")),
    )
    op.create_index(op.f("ix_knowledge_terms_tenant_id"), table, ["tenant_id"])
    op.execute("CREATE INDEX ix_knowledge_terms_trgm ON knowledge_terms USING gin (lexeme gin_trgm_ops)")

    table = "knowledge_faqs"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections"),
        sa.Column("question", sa.String(500), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("origin", sa.String(12), nullable=False),
        foreign_key(table, "document_id", "knowledge_documents", nullable=True, ondelete="SET NULL"),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("embedding_dims", sa.SmallInteger(), nullable=True),
        sa.Column("hit_count", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("created_by", GUID(length=16), nullable=True),
        sa.Column("reviewed_by", GUID(length=16), nullable=True),
        sa.Column("reviewed_at", DateTimeUTC(timezone=True), nullable=True),
        *base_columns(),
    )
    op.create_index(op.f("ix_knowledge_faqs_tenant_id"), table, ["tenant_id"])
    op.execute(
        f"ALTER TABLE knowledge_faqs ADD COLUMN tsv tsvector "
        f"GENERATED ALWAYS AS ({_by_language(('question', 'A'), ('answer', 'B'))}) STORED"
    )
    op.execute("CREATE INDEX ix_knowledge_faqs_tsv ON knowledge_faqs USING gin (tsv)")
    op.execute(
        "CREATE INDEX ix_knowledge_faqs_trgm ON knowledge_faqs "
        "USING gin (atendai_unaccent(lower(question)) gin_trgm_ops)"
    )

    table = "knowledge_unanswered"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "collection_id", "knowledge_collections", nullable=True, ondelete="SET NULL"),
        sa.Column("question", sa.String(500), nullable=False),
        sa.Column("normalized", sa.String(500), nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.Column("last_asked_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "normalized", name=op.f("uq_knowledge_unanswered_tenant_id")),
    )
    op.create_index(op.f("ix_knowledge_unanswered_tenant_id"), table, ["tenant_id"])

    table = "knowledge_products"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("sku", sa.String(80), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("attributes", JSONB(), nullable=False),
        sa.Column("images", JSONB(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *base_columns(),
        sa.UniqueConstraint("tenant_id", "sku", name=op.f("uq_knowledge_products_tenant_id")),
    )
    op.create_index(op.f("ix_knowledge_products_tenant_id"), table, ["tenant_id"])
    op.execute(
        "ALTER TABLE knowledge_products ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('atendai_pt', coalesce(name, '')), 'A') || "
        "setweight(to_tsvector('simple', coalesce(sku, '')), 'A') || "
        "setweight(to_tsvector('atendai_pt', coalesce(description, '')), 'B')) STORED"
    )
    op.execute("CREATE INDEX ix_knowledge_products_tsv ON knowledge_products USING gin (tsv)")
    op.execute(
        "CREATE INDEX ix_knowledge_products_trgm ON knowledge_products "
        "USING gin (atendai_unaccent(lower(name)) gin_trgm_ops)"
    )

    table = "knowledge_product_documents"
    op.create_table(
        table,
        id_column(),
        tenant_column(table),
        foreign_key(table, "product_id", "knowledge_products"),
        foreign_key(table, "document_id", "knowledge_documents"),
        *base_columns(),
        sa.UniqueConstraint("product_id", "document_id", name=op.f("uq_knowledge_product_documents_product_id")),
    )
    op.create_index(op.f("ix_knowledge_product_documents_tenant_id"), table, ["tenant_id"])

    if _has_pgvector():
        op.execute("ALTER TABLE knowledge_chunks ADD COLUMN embedding vector")
        op.execute("ALTER TABLE knowledge_faqs ADD COLUMN embedding vector")
        for dims in VECTOR_DIMS:
            op.execute(
                f"CREATE INDEX ix_knowledge_chunks_embedding_{dims} ON knowledge_chunks "
                f"USING hnsw ((embedding::vector({dims})) vector_cosine_ops) WHERE embedding_dims = {dims}"
            )
        for dims in HALFVEC_DIMS:
            op.execute(
                f"CREATE INDEX ix_knowledge_chunks_embedding_{dims} ON knowledge_chunks "
                f"USING hnsw ((embedding::halfvec({dims})) halfvec_cosine_ops) WHERE embedding_dims = {dims}"
            )

    for name in TABLES:
        enable_tenant_rls(name)


def downgrade() -> None:
    for name in reversed(TABLES):
        disable_tenant_rls(name)
        op.drop_table(name)
