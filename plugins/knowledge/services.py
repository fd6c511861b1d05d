"""Business rules for collections, categories, documents and their versions. No HTTP here: the API,
the pages, the tools, the jobs and the CLI call these. FAQ pairs and products have their own modules.

Other plugins (the agents) use this module, as their ``depends`` allows: :func:`search` (with
``for_agents=True``: only collections open to agents), :class:`FaqService` (``match`` gives the entry
that answers a question directly) and :func:`record_unanswered` (a question nothing answered).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import func, literal_column, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import (
    N_,
    Conflict,
    NotFound,
    ValidationFailed,
    audit,
    emit,
    storage,
    tenant_storage_key,
)
from plugins.knowledge.events import (
    DOCUMENT_CREATED,
    DOCUMENT_DELETED,
    DOCUMENT_UPDATED,
    DocumentChanged,
)
from plugins.knowledge.faq import FaqMatch, FaqService, record_unanswered
from plugins.knowledge.ingest import _count_terms, queue_ingestion, title_from_filename
from plugins.knowledge.models import Category, Chunk, Collection, Document, DocumentVersion
from plugins.knowledge.search import Hit, SearchResult, search

__all__ = [
    "EXTRACTION_MESSAGES",
    "LANGUAGES",
    "UPLOAD_TYPES",
    "CategoryService",
    "CollectionService",
    "DocumentFilters",
    "DocumentService",
    "FaqMatch",
    "FaqService",
    "Hit",
    "SearchResult",
    "added_knowledge",
    "error_message",
    "record_unanswered",
    "search",
]

LANGUAGES = ("pt", "en", "es")
EMBEDDING_PROVIDERS = ("openai", "gemini")
UPLOAD_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTRACTION_MESSAGES = {
    "no_text": N_(
        "No text could be read from this file. It looks like a scanned document (pages of images): "
        "run it through OCR, or upload or paste its text."
    ),
    "unsupported_type": N_("This file type cannot be read. Upload PDF, DOCX, TXT, MD, HTML, CSV or XLSX."),
    "corrupt": N_("The file could not be read; it may be damaged."),
    "encrypted": N_("The PDF is protected by a password. Upload a copy without the password."),
    "too_large": N_("The file is too large to read."),
    "embedding_failed": N_(
        "Indexed for text search, but the embedding model failed, so search by meaning is off for it: %(detail)s"
    ),
    "fetch_failed": N_("The page could not be fetched: %(detail)s"),
    "translation_failed": N_("The translation failed: %(detail)s"),
}
MAX_TITLE = 300
_SLUG_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def error_message(code: str | None, params: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]] | None:
    """The msgid and parameters that explain a document's ``error_code`` to a person."""
    if not code:
        return None
    msgid = EXTRACTION_MESSAGES.get(code, EXTRACTION_MESSAGES["corrupt"])
    values = {"detail": "", "pages": "", **(params or {})}
    return msgid, values


def _required(value: str | None, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed("Fill in %(field)s.", errors=[{"field": field, "message": "required"}], field=field)
    if len(value) > limit:
        raise ValidationFailed(
            "%(field)s is longer than %(count)d characters.",
            errors=[{"field": field, "message": "too long"}],
            field=field,
            count=limit,
        )
    return value


# --- collections --------------------------------------------------------------------------------


class CollectionService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self) -> Sequence[Collection]:
        return (await self.session.execute(select(Collection).order_by(Collection.name))).scalars().all()

    async def get(self, collection_id: UUID) -> Collection:
        found = await self.session.get(Collection, collection_id)
        if found is None:
            raise NotFound("Collection not found.")
        return found

    async def document_counts(self) -> dict[UUID, dict[str, int]]:
        rows = await self.session.execute(
            select(Document.collection_id, Document.status, func.count(Document.id)).group_by(
                Document.collection_id, Document.status
            )
        )
        counts: dict[UUID, dict[str, int]] = {}
        for collection_id, status, n in rows.all():
            counts.setdefault(collection_id, {})[status] = n
        return counts

    def _check(self, language: str, chunk_size: int, chunk_overlap: int, faq_threshold: float) -> None:
        if language not in LANGUAGES:
            raise ValidationFailed(
                "Choose Portuguese, English or Spanish.", errors=[{"field": "language", "message": "invalid"}]
            )
        if not 200 <= chunk_size <= 8000:
            raise ValidationFailed(
                "Passage size goes from 200 to 8000 characters.",
                errors=[{"field": "chunk_size", "message": "out of range"}],
            )
        if not 0 <= chunk_overlap <= chunk_size // 2:
            raise ValidationFailed(
                "The overlap goes from 0 to half the passage size.",
                errors=[{"field": "chunk_overlap", "message": "out of range"}],
            )
        if not 0.3 <= faq_threshold <= 1.0:
            raise ValidationFailed(
                "The FAQ threshold goes from 0.3 to 1.", errors=[{"field": "faq_threshold", "message": "out of range"}]
            )

    async def _unique_name(self, name: str, exclude: UUID | None = None) -> None:
        statement = select(Collection.id).where(func.lower(Collection.name) == name.lower())
        if exclude:
            statement = statement.where(Collection.id != exclude)
        if (await self.session.execute(statement)).first():
            raise Conflict(
                "A collection named %(name)s already exists.", errors=[{"field": "name", "message": "taken"}], name=name
            )

    async def create(
        self,
        name: str,
        *,
        description: str = "",
        language: str = "pt",
        embedding_provider: str | None = None,
        embedding_model: str | None = None,
        chunk_size: int = 1200,
        chunk_overlap: int = 150,
        faq_threshold: float = 0.82,
        agents_may_read: bool = True,
        owner_ids: Sequence[UUID] = (),
    ) -> Collection:
        name = _required(name, "name", 120)
        self._check(language, chunk_size, chunk_overlap, faq_threshold)
        provider, model = self._embedding(embedding_provider, embedding_model)
        await self._embeddings_allowed(model)
        await self._unique_name(name)
        collection = Collection(
            name=name,
            description=description.strip(),
            language=language,
            embedding_provider=provider,
            embedding_model=model,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            faq_threshold=faq_threshold,
            agents_may_read=agents_may_read,
            owner_ids=[str(owner) for owner in owner_ids],
            chunk_count=0,
            total_length=0,
        )
        self.session.add(collection)
        await self.session.flush()
        await audit(
            self.session,
            action="knowledge.collection.created",
            target_type="knowledge_collection",
            target_id=collection.id,
            after={"name": name, "language": language, "embedding_model": model},
        )
        return collection

    async def _embeddings_allowed(self, model: str | None) -> None:
        from kernel.sdk import Forbidden, plan_feature

        if model and (await plan_feature(self.session, "knowledge.embeddings")) is False:
            raise Forbidden(
                "Your plan does not include search by meaning; leave the embedding model empty.",
                errors=[{"field": "embedding_model", "message": "not in plan"}],
            )

    @staticmethod
    def _embedding(provider: str | None, model: str | None) -> tuple[str | None, str | None]:
        provider = (provider or "").strip() or None
        model = (model or "").strip() or None
        if provider is None and model is None:
            return None, None
        if provider not in EMBEDDING_PROVIDERS or not model:
            raise ValidationFailed(
                "An embedding model needs a provider (OpenAI or Gemini) and a model name.",
                errors=[{"field": "embedding_model", "message": "invalid"}],
            )
        return provider, model[:120]

    async def update(self, collection_id: UUID, **changes: Any) -> Collection:
        """Change a collection; new language, passage sizes or embedding model re-index its documents."""
        collection = await self.get(collection_id)
        before = {key: getattr(collection, key) for key in changes if hasattr(collection, key)}
        if "name" in changes and changes["name"] is not None:
            name = _required(changes["name"], "name", 120)
            await self._unique_name(name, exclude=collection.id)
            collection.name = name
        if changes.get("description") is not None:
            collection.description = changes["description"].strip()
        language = changes.get("language") or collection.language
        size = changes.get("chunk_size") or collection.chunk_size
        overlap = changes["chunk_overlap"] if changes.get("chunk_overlap") is not None else collection.chunk_overlap
        threshold = changes.get("faq_threshold") or collection.faq_threshold
        self._check(language, size, overlap, threshold)
        reindex = (language, size, overlap) != (collection.language, collection.chunk_size, collection.chunk_overlap)
        new_embedding = False
        if "embedding_model" in changes or "embedding_provider" in changes:
            provider, model = self._embedding(
                changes.get("embedding_provider", collection.embedding_provider),
                changes.get("embedding_model", collection.embedding_model),
            )
            new_embedding = (provider, model) != (collection.embedding_provider, collection.embedding_model)
            if new_embedding:
                await self._embeddings_allowed(model)
            collection.embedding_provider, collection.embedding_model = provider, model
        collection.language, collection.chunk_size, collection.chunk_overlap = language, size, overlap
        collection.faq_threshold = threshold
        if changes.get("agents_may_read") is not None:
            collection.agents_may_read = bool(changes["agents_may_read"])
        if changes.get("owner_ids") is not None:
            collection.owner_ids = [str(owner) for owner in changes["owner_ids"]]
        if new_embedding:
            await self._forget_embeddings(collection)
        if reindex:
            await self._rechunk(collection)
        if reindex or new_embedding:
            await self.reindex(collection.id)
        await self.session.flush()
        await audit(
            self.session,
            action="knowledge.collection.updated",
            target_type="knowledge_collection",
            target_id=collection.id,
            before=before,
            after={key: getattr(collection, key) for key in before},
        )
        return collection

    async def _forget_embeddings(self, collection: Collection) -> None:
        from kernel.sdk import database_capabilities

        collection.embedding_dims = None
        if (await database_capabilities()).pgvector:
            await self.session.execute(
                text("UPDATE knowledge_chunks SET embedding = NULL, embedding_dims = NULL WHERE collection_id = :c"),
                {"c": collection.id},
            )
        await self.session.execute(
            update(Document).where(Document.collection_id == collection.id).values(embedded_count=0)
        )

    async def _rechunk(self, collection: Collection) -> None:
        """Drop every chunk (a new language or passage size makes different ones) and the statistics."""
        await self.session.execute(text("DELETE FROM knowledge_chunks WHERE collection_id = :c"), {"c": collection.id})
        await self.session.execute(text("DELETE FROM knowledge_terms WHERE collection_id = :c"), {"c": collection.id})
        collection.chunk_count = 0
        collection.total_length = 0

    async def reindex(self, collection_id: UUID) -> int:
        """Queue every document of the collection for ingestion again; returns how many."""
        documents = (
            (await self.session.execute(select(Document).where(Document.collection_id == collection_id)))
            .scalars()
            .all()
        )
        for document in documents:
            await queue_ingestion(self.session, document)
        return len(documents)

    async def delete(self, collection_id: UUID) -> None:
        collection = await self.get(collection_id)
        await audit(
            self.session,
            action="knowledge.collection.deleted",
            target_type="knowledge_collection",
            target_id=collection.id,
            before={"name": collection.name},
        )
        await self.session.delete(collection)
        await self.session.flush()


class CategoryService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, collection_id: UUID | None = None) -> Sequence[Category]:
        statement = select(Category).order_by(Category.name)
        if collection_id:
            statement = statement.where(Category.collection_id == collection_id)
        return (await self.session.execute(statement)).scalars().all()

    async def get(self, category_id: UUID) -> Category:
        found = await self.session.get(Category, category_id)
        if found is None:
            raise NotFound("Category not found.")
        return found

    async def _unique_name(self, collection_id: UUID, name: str, exclude: UUID | None = None) -> None:
        statement = select(Category.id).where(
            Category.collection_id == collection_id, func.lower(Category.name) == name.lower()
        )
        if exclude is not None:
            statement = statement.where(Category.id != exclude)
        if (await self.session.execute(statement)).first():
            raise Conflict(
                "A category named %(name)s already exists.", errors=[{"field": "name", "message": "taken"}], name=name
            )

    async def create(self, collection_id: UUID, name: str, description: str = "") -> Category:
        await CollectionService(self.session).get(collection_id)
        name = _required(name, "name", 120)
        await self._unique_name(collection_id, name)
        category = Category(collection_id=collection_id, name=name, description=description.strip())
        self.session.add(category)
        await self.session.flush()
        return category

    async def rename(self, category_id: UUID, name: str, description: str | None = None) -> Category:
        category = await self.get(category_id)
        name = _required(name, "name", 120)
        await self._unique_name(category.collection_id, name, exclude=category.id)
        category.name = name
        if description is not None:
            category.description = description.strip()
        await self.session.flush()
        return category

    async def delete(self, category_id: UUID) -> None:
        category = await self.get(category_id)
        await self.session.execute(update(Chunk).where(Chunk.category_id == category_id).values(category_id=None))
        await self.session.delete(category)
        await self.session.flush()


async def added_knowledge(session: AsyncSession) -> bool:
    """The onboarding step: the organization added knowledge of its own.

    The demo's sample documents are written by nobody (``created_by`` is empty) and are never files
    or imported pages, so a document that someone wrote, or any upload or import, ticks the step.
    """
    statement = select(Document.id).where(or_(Document.created_by.is_not(None), Document.kind != "editor")).limit(1)
    return (await session.execute(statement)).first() is not None


# --- documents ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentFilters:
    collection_id: UUID | None = None
    category_id: UUID | None = None
    status: str | None = None
    kind: str | None = None
    query: str | None = None
    review_due: bool = False


def _changed(document: Document) -> DocumentChanged:
    return DocumentChanged(
        document_id=document.id,
        collection_id=document.collection_id,
        title=document.title,
        version=document.version,
        kind=document.kind,
    )


def _sha(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
    return digest.hexdigest()


def _check_meta(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict) or len(meta) > 30:
        raise ValidationFailed(
            "Metadata is a list of up to 30 name and value pairs.", errors=[{"field": "meta", "message": "invalid"}]
        )
    clean: dict[str, Any] = {}
    for key, value in meta.items():
        key = str(key).strip()[:60]
        if not key:
            continue
        if not isinstance(value, str | int | float | bool):
            raise ValidationFailed(
                "Metadata values are text, numbers or yes/no.", errors=[{"field": "meta", "message": "invalid"}]
            )
        clean[key] = value[:300] if isinstance(value, str) else value
    return clean


class DocumentService:
    def __init__(self, session: AsyncSession, actor_id: UUID | None = None) -> None:
        self.session = session
        self.actor_id = actor_id

    async def list(
        self, filters: DocumentFilters = DocumentFilters(), *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Document], int]:
        statement = select(Document)
        if filters.collection_id:
            statement = statement.where(Document.collection_id == filters.collection_id)
        if filters.category_id:
            statement = statement.where(Document.category_id == filters.category_id)
        if filters.status:
            statement = statement.where(Document.status == filters.status)
        if filters.kind:
            statement = statement.where(Document.kind == filters.kind)
        if filters.review_due:
            statement = statement.where(Document.review_at.is_not(None), Document.review_at <= date.today())
        order: list[Any] = [Document.updated_at.desc(), Document.id]
        if filters.query and filters.query.strip():
            term = filters.query.strip()[:200]
            folded = func.atendai_unaccent(func.lower(term))
            title = literal_column("knowledge_documents.title_key")
            statement = statement.where(or_(title.contains(folded), func.word_similarity(folded, title) >= 0.4))
            order = [func.word_similarity(folded, title).desc(), *order]
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = (await self.session.execute(statement.order_by(*order).limit(limit).offset(offset))).scalars().all()
        return list(rows), total

    async def titles(self, prefix: str, *, limit: int = 8, collection_id: UUID | None = None) -> list[Document]:
        """Autocomplete: documents whose title starts with, contains, or is close to ``prefix``."""
        term = " ".join(prefix.split())[:120]
        if not term:
            return []
        folded = func.atendai_unaccent(func.lower(term))
        title = literal_column("knowledge_documents.title_key")
        statement = select(Document).where(
            or_(title.startswith(folded), title.contains(folded), func.word_similarity(folded, title) >= 0.5)
        )
        if collection_id:
            statement = statement.where(Document.collection_id == collection_id)
        statement = statement.order_by(
            title.startswith(folded).desc(), func.word_similarity(folded, title).desc(), Document.title
        ).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def get(self, document_id: UUID) -> Document:
        found = await self.session.get(Document, document_id)
        if found is None:
            raise NotFound("Document not found.")
        return found

    async def _category(self, collection_id: UUID, category_id: UUID | None) -> UUID | None:
        if category_id is None:
            return None
        category = await CategoryService(self.session).get(category_id)
        if category.collection_id != collection_id:
            raise ValidationFailed(
                "That category belongs to another collection.", errors=[{"field": "category_id", "message": "invalid"}]
            )
        return category.id

    async def _new(self, collection_id: UUID, **values: Any) -> Document:
        from kernel.sdk import QuotaExceeded, plan_feature

        collection = await CollectionService(self.session).get(collection_id)
        quota = await plan_feature(self.session, "knowledge.documents")
        if isinstance(quota, int) and not isinstance(quota, bool):
            count = (await self.session.execute(select(func.count(Document.id)))).scalar_one()
            if count >= quota:
                raise QuotaExceeded(
                    "Your plan allows %(count)d documents; delete some or change plans to add more.", count=quota
                )
        document = Document(
            collection_id=collection.id,
            language=collection.language,
            status="queued",
            progress=0,
            error_params={},
            chunk_count=0,
            embedded_count=0,
            version=1,
            created_by=self.actor_id,
            updated_by=self.actor_id,
            **values,
        )
        document.meta = _check_meta(values.get("meta"))
        document.category_id = await self._category(collection.id, values.get("category_id"))
        self.session.add(document)
        await self.session.flush()
        self._version(document, note="created")
        await queue_ingestion(self.session, document)
        await emit(self.session, DOCUMENT_CREATED, _changed(document))
        await audit(
            self.session,
            action="knowledge.document.created",
            target_type="knowledge_document",
            target_id=document.id,
            after={"title": document.title, "kind": document.kind, "collection_id": str(collection.id)},
        )
        return document

    def _version(self, document: Document, note: str = "") -> None:
        self.session.add(
            DocumentVersion(
                document_id=document.id,
                version=document.version,
                title=document.title,
                body=document.body,
                storage_key=document.storage_key,
                content_sha256=document.content_sha256,
                changed_by=self.actor_id,
                note=note[:300],
            )
        )

    async def create_text(
        self,
        collection_id: UUID,
        title: str,
        body: str,
        *,
        category_id: UUID | None = None,
        meta: dict[str, Any] | None = None,
        review_at: date | None = None,
        language: str | None = None,
        translated_from_id: UUID | None = None,
    ) -> Document:
        """A document written in the editor (Markdown)."""
        document = await self._new(
            collection_id,
            title=_required(title, "title", MAX_TITLE),
            kind="editor",
            body=body,
            content_sha256=_sha(body),
            category_id=category_id,
            meta=meta,
            review_at=review_at,
            translated_from_id=translated_from_id,
        )
        if language in LANGUAGES:
            document.language = language
        return document

    async def upload(
        self,
        collection_id: UUID,
        filename: str,
        data: bytes,
        *,
        content_type: str | None = None,
        title: str | None = None,
        category_id: UUID | None = None,
        meta: dict[str, Any] | None = None,
        review_at: date | None = None,
        max_bytes: int = 25 * 1024 * 1024,
    ) -> Document:
        """A file to read (PDF, DOCX, TXT, MD, HTML, CSV, XLSX): stored as it came, then ingested."""
        from kernel.sdk import require_tenant_id

        filename = (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1][:200] or "document"
        extension = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
        if extension not in UPLOAD_TYPES:
            raise ValidationFailed(
                "This file type cannot be read. Upload PDF, DOCX, TXT, MD, HTML, CSV or XLSX.",
                errors=[{"field": "file", "message": "unsupported type"}],
            )
        if not data:
            raise ValidationFailed("The file is empty.", errors=[{"field": "file", "message": "empty"}])
        if len(data) > max_bytes:
            raise ValidationFailed(
                "The file is larger than %(size)d MB.",
                errors=[{"field": "file", "message": "too large"}],
                size=max_bytes // (1024 * 1024),
            )
        digest = _sha(data)
        duplicate = (
            await self.session.execute(
                select(Document.id, Document.title).where(
                    Document.collection_id == collection_id, Document.content_sha256 == digest
                )
            )
        ).first()
        if duplicate:
            raise Conflict(
                "This file is already in the collection as %(title)s.",
                errors=[{"field": "file", "message": "duplicate"}],
                title=duplicate.title,
            )
        safe_name = _SLUG_SAFE.sub("-", filename).strip("-") or "document" + extension
        key = tenant_storage_key(require_tenant_id(), f"knowledge/{safe_name}", data)
        await storage().put(key, data, content_type or UPLOAD_TYPES[extension])
        return await self._new(
            collection_id,
            title=_required(title or title_from_filename(filename), "title", MAX_TITLE),
            kind="file",
            filename=filename,
            content_type=content_type or UPLOAD_TYPES[extension],
            storage_key=key,
            size_bytes=len(data),
            content_sha256=digest,
            category_id=category_id,
            meta=meta,
            review_at=review_at,
        )

    async def store_page(
        self,
        collection_id: UUID,
        url: str,
        body: bytes,
        *,
        content_type: str,
        title: str | None,
        source_id: UUID | None,
        category_id: UUID | None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> tuple[Document, bool]:
        """Create or refresh the document of an imported web page; returns it and whether it changed."""
        from kernel.sdk import require_tenant_id

        digest = _sha(body)
        existing = (
            await self.session.execute(
                select(Document).where(Document.collection_id == collection_id, Document.url == url)
            )
        ).scalar_one_or_none()
        kind_type = content_type.split(";")[0].strip().lower() or "text/html"
        extension = mimetypes.guess_extension(kind_type) or ".html"
        key = tenant_storage_key(require_tenant_id(), f"knowledge/pages/page{extension}", body)
        if existing is not None:
            existing.etag, existing.last_modified = etag, last_modified
            if existing.content_sha256 == digest:
                return existing, False
            await storage().put(key, body, kind_type)
            existing.storage_key, existing.content_sha256, existing.size_bytes = key, digest, len(body)
            existing.content_type = kind_type
            if title:
                existing.title = title[:MAX_TITLE]
            existing.version += 1
            existing.updated_by = None
            self._version(existing, note="re-crawled")
            await queue_ingestion(self.session, existing)
            await self.session.flush()
            await emit(self.session, DOCUMENT_UPDATED, _changed(existing))
            return existing, True
        await storage().put(key, body, kind_type)
        document = await self._new(
            collection_id,
            title=(title or url)[:MAX_TITLE],
            kind="url",
            url=url,
            filename=url.rstrip("/").rsplit("/", 1)[-1][:200] or "page",
            content_type=kind_type,
            storage_key=key,
            size_bytes=len(body),
            content_sha256=digest,
            source_id=source_id,
            category_id=category_id,
            etag=etag,
            last_modified=last_modified,
        )
        return document, True

    async def update(
        self,
        document_id: UUID,
        *,
        title: str | None = None,
        body: str | None = None,
        category_id: UUID | object | None = ...,
        meta: dict[str, Any] | None = None,
        review_at: date | object | None = ...,
        note: str = "",
        expected_version: int | None = None,
    ) -> Document:
        """Change a document. A new text keeps the old one as a version and re-indexes (changed passages only)."""
        document = await self.get(document_id)
        if expected_version is not None and expected_version != document.version:
            raise Conflict(
                "Someone saved this document after you opened it (version %(version)d). Reload to see their changes.",
                errors=[{"field": "version", "message": "stale"}],
                version=document.version,
            )
        before = {"title": document.title, "category_id": document.category_id, "meta": document.meta}
        reindex = False
        text_changed = False
        if title is not None:
            document.title = _required(title, "title", MAX_TITLE)
            text_changed = text_changed or document.title != before["title"]
        if body is not None and document.kind == "editor" and body != document.body:
            document.body = body
            document.content_sha256 = _sha(body)
            text_changed = reindex = True
        if category_id is not ...:
            document.category_id = await self._category(document.collection_id, category_id)  # type: ignore[arg-type]
            reindex = reindex or document.category_id != before["category_id"]
        if meta is not None:
            document.meta = _check_meta(meta)
            reindex = reindex or document.meta != before["meta"]
        if review_at is not ...:
            document.review_at = review_at  # type: ignore[assignment]
            document.review_notified_at = None
        document.updated_by = self.actor_id
        if text_changed:
            document.version += 1
            self._version(document, note=note or "edited")
        if reindex:
            await queue_ingestion(self.session, document)
        await self.session.flush()
        await emit(self.session, DOCUMENT_UPDATED, _changed(document))
        await audit(
            self.session,
            action="knowledge.document.updated",
            target_type="knowledge_document",
            target_id=document.id,
            before={key: str(value) if isinstance(value, UUID) else value for key, value in before.items()},
            after={
                "title": document.title,
                "category_id": str(document.category_id) if document.category_id else None,
                "meta": document.meta,
                "version": document.version,
            },
        )
        return document

    async def versions(self, document_id: UUID) -> list[DocumentVersion]:
        await self.get(document_id)
        rows = await self.session.execute(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == document_id)
            .order_by(DocumentVersion.version.desc())
        )
        return list(rows.scalars())

    async def restore(self, document_id: UUID, version: int) -> Document:
        document = await self.get(document_id)
        if document.kind != "editor":
            raise ValidationFailed(
                "Only documents written here can go back to an earlier text; upload the older file instead."
            )
        old = (
            await self.session.execute(
                select(DocumentVersion).where(
                    DocumentVersion.document_id == document_id, DocumentVersion.version == version
                )
            )
        ).scalar_one_or_none()
        if old is None:
            raise NotFound("That version does not exist.")
        return await self.update(document_id, title=old.title, body=old.body, note=f"restored version {version}")

    async def reindex(self, document_id: UUID) -> Document:
        document = await self.get(document_id)
        await queue_ingestion(self.session, document)
        await self.session.flush()
        return document

    async def delete(self, document_id: UUID) -> None:
        document = await self.get(document_id)
        collection = await CollectionService(self.session).get(document.collection_id)
        chunk_ids = list(
            (await self.session.execute(select(Chunk.id).where(Chunk.document_id == document.id))).scalars()
        )
        if chunk_ids:
            await _count_terms(self.session, collection, chunk_ids, sign=-1)
        await emit(self.session, DOCUMENT_DELETED, _changed(document))
        await audit(
            self.session,
            action="knowledge.document.deleted",
            target_type="knowledge_document",
            target_id=document.id,
            before={"title": document.title, "kind": document.kind},
        )
        await self.session.delete(document)
        await self.session.flush()

    async def chunks(self, document_id: UUID) -> list[Chunk]:
        await self.get(document_id)
        rows = await self.session.execute(select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.ordinal))
        return list(rows.scalars())
