"""The knowledge plugin's tables: collections and categories, documents and their versions, chunks
and their term statistics, imported sources, FAQ pairs, unanswered questions, and products.

Columns that only the migration knows are listed in each table's ``info["migration_only"]``: the
generated ``tsv`` columns and folded ``*_key`` texts (read by the search SQL, never by the ORM) and,
where pgvector is installed,
the ``embedding`` columns, which exist on one server and not on another.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import GUID, DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from kernel.sdk import Base, TenantScoped

__all__ = [
    "Category",
    "Chunk",
    "Collection",
    "Document",
    "DocumentVersion",
    "Faq",
    "Product",
    "ProductDocument",
    "Source",
    "Term",
    "UnansweredQuestion",
]

VECTOR_DIMS = (256, 384, 512, 768, 1024, 1536)
"""Embedding sizes with an HNSW index of their own (a partial index on ``embedding_dims``)."""
HALFVEC_DIMS = (3072,)
"""Larger sizes, indexed as half-precision vectors (pgvector indexes ``vector`` up to 2,000 dimensions)."""
SEARCH_COLUMNS = ("tsv",)
VECTOR_COLUMNS = ("embedding",)


def _vector_indexes(table: str) -> tuple[str, ...]:
    return tuple(f"ix_{table}_embedding_{dims}" for dims in (*VECTOR_DIMS, *HALFVEC_DIMS))


def _migration_only(table: str, *, vectors: bool, trigram_key: str | None = None) -> dict[str, tuple[str, ...]]:
    names = (*SEARCH_COLUMNS, f"ix_{table}_tsv")
    if vectors:
        names += (*VECTOR_COLUMNS, *_vector_indexes(table))
    if trigram_key:
        names += (trigram_key, f"ix_{table}_trgm")
    return {"migration_only": names}


class Collection(TenantScoped, Base):
    """A knowledge base ("Atendimento", "Vendas"): its language, chunking and fixed embedding model."""

    __tablename__ = "knowledge_collections"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(2), default="pt")
    """``pt``, ``en`` or ``es``: picks the text-search configuration of its chunks."""
    embedding_provider: Mapped[str | None] = mapped_column(String(20), nullable=True)
    embedding_model: Mapped[str | None] = mapped_column(String(120), nullable=True)
    """None: full-text search only. Fixed at creation; changing it re-embeds every chunk."""
    embedding_dims: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    chunk_size: Mapped[int] = mapped_column(Integer, default=1200)
    chunk_overlap: Mapped[int] = mapped_column(Integer, default=150)
    faq_threshold: Mapped[float] = mapped_column(Float, default=0.82)
    """A FAQ question at least this close to the customer's answers without a model call."""
    owner_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    """Users told about stale documents and broken sources (the organization's admins when empty)."""
    agents_may_read: Mapped[bool] = mapped_column(Boolean, default=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    total_length: Mapped[int] = mapped_column(BigInteger, default=0)
    """Sum of the chunks' lengths in lexemes: with ``chunk_count``, the average length BM25 needs."""


class Category(TenantScoped, Base):
    __tablename__ = "knowledge_categories"
    __table_args__ = (UniqueConstraint("collection_id", "name"),)

    collection_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_collections.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")


class Source(TenantScoped, Base):
    """A web address imported as one page, from its sitemap, or by crawling its site; re-crawled on a schedule."""

    __tablename__ = "knowledge_sources"
    __table_args__ = {"info": {"migration_only": ("ix_knowledge_sources_due",)}}

    collection_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_collections.id", ondelete="CASCADE"))
    category_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("knowledge_categories.id", ondelete="SET NULL"), nullable=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    mode: Mapped[str] = mapped_column(String(10), default="page")
    """``page`` (that address only), ``site`` (its sitemap, else a same-domain crawl)."""
    page_limit: Mapped[int] = mapped_column(Integer, default=1)
    recrawl_hours: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    """``queued``, ``crawling``, ``ready`` or ``failed``."""
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pages_found: Mapped[int] = mapped_column(Integer, default=0)
    pages_failed: Mapped[int] = mapped_column(Integer, default=0)
    last_run_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)


class Document(TenantScoped, Base):
    __tablename__ = "knowledge_documents"
    __table_args__ = {
        "info": {
            "migration_only": (
                "title_key",
                "ix_knowledge_documents_trgm",
                "ix_knowledge_documents_pending",
                "ix_knowledge_documents_review",
            )
        }
    }

    collection_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_collections.id", ondelete="CASCADE"))
    category_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("knowledge_categories.id", ondelete="SET NULL"), nullable=True
    )
    source_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("knowledge_sources.id", ondelete="SET NULL"), nullable=True
    )
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10), default="editor")
    """``editor`` (Markdown written here), ``file`` (an upload) or ``url`` (an imported page)."""
    body: Mapped[str] = mapped_column(Text, default="")
    """The Markdown of an editor document; the extracted text of a file or page."""
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(120), nullable=True)
    storage_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    """The original file (uploads and imported PDFs), in the kernel's storage."""
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    etag: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(100), nullable=True)
    language: Mapped[str] = mapped_column(String(2), default="pt")
    translated_from_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("knowledge_documents.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(String(12), default="queued")
    """``queued``, ``processing``, ``ready`` or ``failed``."""
    progress: Mapped[int] = mapped_column(SmallInteger, default=0)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedded_count: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    """Free key/value pairs (``{"loja": "Centro"}``) that searches can filter on."""
    review_at: Mapped[date | None] = mapped_column(Date, nullable=True)
    review_notified_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    indexed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    updated_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)


class DocumentVersion(TenantScoped, Base):
    """Each saved state of a document's text: who changed it, and what it was."""

    __tablename__ = "knowledge_document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version"),)

    document_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_documents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    storage_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    content_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    changed_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    note: Mapped[str] = mapped_column(String(300), default="")


class Chunk(TenantScoped, Base):
    """A searchable piece of a document. ``tsv`` (generated) and ``embedding`` are the migration's."""

    __tablename__ = "knowledge_chunks"
    __table_args__ = (
        Index("ix_knowledge_chunks_collection", "tenant_id", "collection_id"),
        {"info": _migration_only("knowledge_chunks", vectors=True)},
    )

    collection_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_collections.id", ondelete="CASCADE"))
    document_id: Mapped[UUID] = mapped_column(
        GUID, ForeignKey("knowledge_documents.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300), default="")
    content: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(2), default="pt")
    length: Mapped[int] = mapped_column(Integer, default=0)
    """Lexemes in ``tsv`` (title counted twice, as BM25 weighs it): the document length BM25 normalizes by."""
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    embedding_dims: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    """Set when ``embedding`` holds a vector; the partial vector indexes are keyed on it."""
    hit_count: Mapped[int] = mapped_column(Integer, default=0)


class Term(TenantScoped, Base):
    """How many chunks of a collection hold a lexeme: the document frequency BM25's IDF needs.

    Kept in step by the ingestion, in the transaction that adds or removes the chunks; its lexemes
    are also the vocabulary that typo correction looks words up in (trigram index).
    """

    __tablename__ = "knowledge_terms"
    __table_args__ = (
        UniqueConstraint("collection_id", "lexeme"),
        {"info": {"migration_only": ("ix_knowledge_terms_trgm",)}},
    )

    collection_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_collections.id", ondelete="CASCADE"))
    lexeme: Mapped[str] = mapped_column(Text)
    df: Mapped[int] = mapped_column(Integer, default=0)


class Faq(TenantScoped, Base):
    """A question and its answer; approved ones answer directly when a customer asks the same."""

    __tablename__ = "knowledge_faqs"
    __table_args__ = {"info": _migration_only("knowledge_faqs", vectors=True, trigram_key="question_key")}

    collection_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_collections.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(500))
    answer: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default="approved")
    """``suggested`` (waits for a person), ``approved`` or ``rejected``."""
    origin: Mapped[str] = mapped_column(String(12), default="manual")
    """``manual``, ``csv``, ``document`` (suggested from a document) or ``unanswered`` (from customers)."""
    document_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("knowledge_documents.id", ondelete="SET NULL"), nullable=True
    )
    language: Mapped[str] = mapped_column(String(2), default="pt")
    embedding_dims: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)
    created_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    reviewed_by: Mapped[UUID | None] = mapped_column(GUID, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


class UnansweredQuestion(TenantScoped, Base):
    """A customer question the knowledge could not answer, counted; the FAQ suggestions start here."""

    __tablename__ = "knowledge_unanswered"
    __table_args__ = (UniqueConstraint("tenant_id", "normalized"),)

    collection_id: Mapped[UUID | None] = mapped_column(
        GUID, ForeignKey("knowledge_collections.id", ondelete="SET NULL"), nullable=True
    )
    question: Mapped[str] = mapped_column(String(500))
    normalized: Mapped[str] = mapped_column(String(500))
    times: Mapped[int] = mapped_column(Integer, default=1)
    last_asked_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    status: Mapped[str] = mapped_column(String(10), default="open")
    """``open``, ``suggested`` (a FAQ suggestion was written) or ``dismissed``."""


class Product(TenantScoped, Base):
    """An item of the catalog: what the general agent quotes for price and stock questions."""

    __tablename__ = "knowledge_products"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sku"),
        {"info": _migration_only("knowledge_products", vectors=False, trigram_key="name_key")},
    )

    name: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str | None] = mapped_column(String(80), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    price_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="BRL")
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """None: stock is not tracked (always available)."""
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    images: Mapped[list[str]] = mapped_column(JSONB, default=list)
    """Storage keys of the product's pictures."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ProductDocument(TenantScoped, Base):
    __tablename__ = "knowledge_product_documents"
    __table_args__ = (UniqueConstraint("product_id", "document_id"),)

    product_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_products.id", ondelete="CASCADE"))
    document_id: Mapped[UUID] = mapped_column(GUID, ForeignKey("knowledge_documents.id", ondelete="CASCADE"))
