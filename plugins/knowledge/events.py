"""Events the knowledge plugin emits (the catalog webhooks offer)."""

from __future__ import annotations

from uuid import UUID

import msgspec

from kernel.sdk import EventType

__all__ = [
    "DOCUMENT_CREATED",
    "DOCUMENT_DELETED",
    "DOCUMENT_INDEXED",
    "DOCUMENT_UPDATED",
    "PRODUCT_UPDATED",
    "DocumentChanged",
    "DocumentIndexed",
    "ProductChanged",
]


class DocumentChanged(msgspec.Struct):
    document_id: UUID
    collection_id: UUID
    title: str
    version: int
    kind: str


class DocumentIndexed(msgspec.Struct):
    document_id: UUID
    status: str
    """``ready`` or ``failed``."""
    chunk_count: int | None = None
    error_code: str | None = None


class ProductChanged(msgspec.Struct):
    product_id: UUID
    name: str
    sku: str | None
    price_cents: int
    currency: str
    stock: int | None
    active: bool
    deleted: bool = False


DOCUMENT_CREATED = EventType(
    "knowledge.document.created", 1, DocumentChanged, "A document was written, uploaded or imported."
)
DOCUMENT_UPDATED = EventType("knowledge.document.updated", 1, DocumentChanged, "A document's text or details changed.")
DOCUMENT_DELETED = EventType("knowledge.document.deleted", 1, DocumentChanged, "A document was deleted.")
DOCUMENT_INDEXED = EventType(
    "knowledge.document.indexed", 1, DocumentIndexed, "A document finished ingestion: searchable, or failed."
)
PRODUCT_UPDATED = EventType(
    "knowledge.product.updated", 1, ProductChanged, "A product was created, changed or deleted."
)
