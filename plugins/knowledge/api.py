"""JSON API, mounted by the kernel under ``/api/v1/knowledge``: collections and categories, documents
(written, uploaded, imported), search, FAQ pairs and products. Users and API tokens alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import load_plugin_settings
from plugins.knowledge.faq import FaqService
from plugins.knowledge.models import Category, Collection, Document, DocumentVersion, Faq, Product
from plugins.knowledge.permissions import FAQ_READ, FAQ_WRITE, MANAGE, PRODUCT_READ, PRODUCT_WRITE, READ, WRITE
from plugins.knowledge.products import ProductService
from plugins.knowledge.search import SearchResult, search
from plugins.knowledge.services import (
    CategoryService,
    CollectionService,
    DocumentFilters,
    DocumentService,
)

UPLOAD_BODY_LIMIT = 105 * 1024 * 1024


def _actor(request: Request[Any, Any, Any]) -> UUID | None:
    return getattr(request.user, "user_id", None)


async def _known_collections(session: AsyncSession, ids: list[UUID] | None) -> list[UUID] | None:
    """The ids as given, once each is a collection of this organization (404 otherwise)."""
    service = CollectionService(session)
    for collection_id in ids or []:
        await service.get(collection_id)
    return ids


class _Patch(msgspec.Struct, forbid_unknown_fields=True):
    def changes(self) -> dict[str, Any]:
        return {
            name: getattr(self, name) for name in self.__struct_fields__ if getattr(self, name) is not msgspec.UNSET
        }


# --- collections ---------------------------------------------------------------------------------


class CollectionIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    description: str = ""
    language: Literal["pt", "en", "es"] = "pt"
    embedding_provider: Literal["openai", "gemini"] | None = None
    embedding_model: str | None = None
    chunk_size: int = 1200
    chunk_overlap: int = 150
    faq_threshold: float = 0.82
    agents_may_read: bool = True
    owner_ids: list[UUID] = []


class CollectionPatch(_Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    language: Literal["pt", "en", "es"] | msgspec.UnsetType = msgspec.UNSET
    embedding_provider: Literal["openai", "gemini"] | msgspec.UnsetType | None = msgspec.UNSET
    embedding_model: str | msgspec.UnsetType | None = msgspec.UNSET
    chunk_size: int | msgspec.UnsetType = msgspec.UNSET
    chunk_overlap: int | msgspec.UnsetType = msgspec.UNSET
    faq_threshold: float | msgspec.UnsetType = msgspec.UNSET
    agents_may_read: bool | msgspec.UnsetType = msgspec.UNSET
    owner_ids: list[UUID] | msgspec.UnsetType = msgspec.UNSET


class CollectionOut(msgspec.Struct):
    id: UUID
    name: str
    description: str
    language: str
    embedding_provider: str | None
    embedding_model: str | None
    embedding_dims: int | None
    chunk_size: int
    chunk_overlap: int
    faq_threshold: float
    agents_may_read: bool
    owner_ids: list[str]
    chunk_count: int
    created_at: datetime

    @classmethod
    def of(cls, c: Collection) -> CollectionOut:
        return cls(
            id=c.id,
            name=c.name,
            description=c.description,
            language=c.language,
            embedding_provider=c.embedding_provider,
            embedding_model=c.embedding_model,
            embedding_dims=c.embedding_dims,
            chunk_size=c.chunk_size,
            chunk_overlap=c.chunk_overlap,
            faq_threshold=c.faq_threshold,
            agents_may_read=c.agents_may_read,
            owner_ids=list(c.owner_ids or []),
            chunk_count=c.chunk_count,
            created_at=c.created_at,
        )


class CategoryIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    description: str = ""


class CategoryOut(msgspec.Struct):
    id: UUID
    collection_id: UUID
    name: str
    description: str

    @classmethod
    def of(cls, c: Category) -> CategoryOut:
        return cls(id=c.id, collection_id=c.collection_id, name=c.name, description=c.description)


class ReindexOut(msgspec.Struct):
    queued: int


class CollectionsController(Controller):
    path = "/collections"
    tags = ["knowledge"]

    @get("/", opt=READ, summary="List collections")
    async def list_collections(self, db_session: NamedDependency[AsyncSession]) -> list[CollectionOut]:
        return [CollectionOut.of(c) for c in await CollectionService(db_session).list()]

    @post("/", opt=MANAGE, summary="Create a collection")
    async def create_collection(
        self, db_session: NamedDependency[AsyncSession], data: JSONBody[CollectionIn]
    ) -> CollectionOut:
        values = msgspec.structs.asdict(data)
        name = values.pop("name")
        return CollectionOut.of(await CollectionService(db_session).create(name, **values))

    @get("/{collection_id:uuid}", opt=READ, summary="Read a collection")
    async def get_collection(
        self, db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID]
    ) -> CollectionOut:
        return CollectionOut.of(await CollectionService(db_session).get(collection_id))

    @patch("/{collection_id:uuid}", opt=MANAGE, summary="Change a collection (new sizes or model re-index it)")
    async def update_collection(
        self, db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID], data: JSONBody[CollectionPatch]
    ) -> CollectionOut:
        return CollectionOut.of(await CollectionService(db_session).update(collection_id, **data.changes()))

    @delete("/{collection_id:uuid}", opt=MANAGE, summary="Delete a collection and everything in it")
    async def delete_collection(self, db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID]) -> None:
        await CollectionService(db_session).delete(collection_id)

    @post("/{collection_id:uuid}/reindex", opt=MANAGE, summary="Index every document of the collection again")
    async def reindex_collection(
        self, db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID]
    ) -> ReindexOut:
        await CollectionService(db_session).get(collection_id)
        return ReindexOut(queued=await CollectionService(db_session).reindex(collection_id))

    @get("/{collection_id:uuid}/categories", opt=READ, summary="List a collection's categories")
    async def list_categories(
        self, db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID]
    ) -> list[CategoryOut]:
        await CollectionService(db_session).get(collection_id)
        return [CategoryOut.of(c) for c in await CategoryService(db_session).list(collection_id)]

    @post("/{collection_id:uuid}/categories", opt=MANAGE, summary="Add a category")
    async def create_category(
        self, db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID], data: JSONBody[CategoryIn]
    ) -> CategoryOut:
        return CategoryOut.of(await CategoryService(db_session).create(collection_id, data.name, data.description))


class CategoriesController(Controller):
    path = "/categories"
    tags = ["knowledge"]

    @patch("/{category_id:uuid}", opt=MANAGE, summary="Rename a category")
    async def rename_category(
        self, db_session: NamedDependency[AsyncSession], category_id: FromPath[UUID], data: JSONBody[CategoryIn]
    ) -> CategoryOut:
        return CategoryOut.of(await CategoryService(db_session).rename(category_id, data.name, data.description))

    @delete("/{category_id:uuid}", opt=MANAGE, summary="Delete a category (its documents stay, uncategorized)")
    async def delete_category(self, db_session: NamedDependency[AsyncSession], category_id: FromPath[UUID]) -> None:
        await CategoryService(db_session).delete(category_id)


# --- documents ----------------------------------------------------------------------------------


class DocumentIn(msgspec.Struct, forbid_unknown_fields=True):
    collection_id: UUID
    title: str
    body: str = ""
    category_id: UUID | None = None
    meta: dict[str, str | int | float | bool] = {}
    review_at: date | None = None


class DocumentPatch(_Patch):
    title: str | msgspec.UnsetType = msgspec.UNSET
    body: str | msgspec.UnsetType = msgspec.UNSET
    category_id: UUID | msgspec.UnsetType | None = msgspec.UNSET
    meta: dict[str, str | int | float | bool] | msgspec.UnsetType = msgspec.UNSET
    review_at: date | msgspec.UnsetType | None = msgspec.UNSET
    note: str | msgspec.UnsetType = msgspec.UNSET
    expected_version: int | msgspec.UnsetType = msgspec.UNSET
    """Refuse (409) when someone saved a newer version meanwhile."""


class DocumentOut(msgspec.Struct):
    id: UUID
    collection_id: UUID
    category_id: UUID | None
    title: str
    kind: str
    status: str
    progress: int
    error_code: str | None
    error_params: dict[str, Any]
    chunk_count: int
    embedded_count: int
    version: int
    language: str
    filename: str | None
    content_type: str | None
    size_bytes: int | None
    url: str | None
    meta: dict[str, Any]
    review_at: date | None
    translated_from_id: UUID | None
    indexed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    body: str | None = None

    @classmethod
    def of(cls, d: Document, *, body: bool = False) -> DocumentOut:
        return cls(
            id=d.id,
            collection_id=d.collection_id,
            category_id=d.category_id,
            title=d.title,
            kind=d.kind,
            status=d.status,
            progress=d.progress,
            error_code=d.error_code,
            error_params=dict(d.error_params or {}),
            chunk_count=d.chunk_count,
            embedded_count=d.embedded_count,
            version=d.version,
            language=d.language,
            filename=d.filename,
            content_type=d.content_type,
            size_bytes=d.size_bytes,
            url=d.url,
            meta=dict(d.meta or {}),
            review_at=d.review_at,
            translated_from_id=d.translated_from_id,
            indexed_at=d.indexed_at,
            created_at=d.created_at,
            updated_at=d.updated_at,
            body=d.body if body else None,
        )


class DocumentPage(msgspec.Struct):
    items: list[DocumentOut]
    total: int
    limit: int
    offset: int


class VersionOut(msgspec.Struct):
    version: int
    title: str
    body: str
    changed_by: UUID | None
    note: str
    created_at: datetime

    @classmethod
    def of(cls, v: DocumentVersion) -> VersionOut:
        return cls(
            version=v.version, title=v.title, body=v.body, changed_by=v.changed_by, note=v.note, created_at=v.created_at
        )


class ChunkOut(msgspec.Struct):
    id: UUID
    ordinal: int
    title: str
    content: str
    page: int | None
    embedded: bool


class TitleOut(msgspec.Struct):
    id: UUID
    title: str
    collection_id: UUID


@dataclass
class DocumentUpload:
    file: UploadFile
    collection_id: UUID
    title: str | None = None
    category_id: UUID | None = None


class DocumentsController(Controller):
    path = "/documents"
    tags = ["knowledge"]

    @get("/", opt=READ, summary="List documents (filters, title search, pages)")
    async def list_documents(
        self,
        db_session: NamedDependency[AsyncSession],
        collection_id: FromQuery[UUID | None] = None,
        category_id: FromQuery[UUID | None] = None,
        status: FromQuery[Literal["queued", "processing", "ready", "failed"] | None] = None,
        kind: FromQuery[Literal["editor", "file", "url"] | None] = None,
        q: FromQuery[str | None] = None,
        review_due: FromQuery[bool] = False,
        limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=200)]] = 50,
        offset: FromQuery[Annotated[int, msgspec.Meta(ge=0)]] = 0,
    ) -> DocumentPage:
        filters = DocumentFilters(collection_id, category_id, status, kind, q, review_due)
        rows, total = await DocumentService(db_session).list(filters, limit=limit, offset=offset)
        return DocumentPage(items=[DocumentOut.of(d) for d in rows], total=total, limit=limit, offset=offset)

    @get("/titles", opt=READ, summary="Autocomplete document titles")
    async def document_titles(
        self,
        db_session: NamedDependency[AsyncSession],
        q: FromQuery[str] = "",
        collection_id: FromQuery[UUID | None] = None,
    ) -> list[TitleOut]:
        rows = await DocumentService(db_session).titles(q, collection_id=collection_id)
        return [TitleOut(id=d.id, title=d.title, collection_id=d.collection_id) for d in rows]

    @post("/", opt=WRITE, summary="Write a document (Markdown)")
    async def create_document(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[DocumentIn]
    ) -> DocumentOut:
        document = await DocumentService(db_session, _actor(request)).create_text(
            data.collection_id,
            data.title,
            data.body,
            category_id=data.category_id,
            meta=dict(data.meta),
            review_at=data.review_at,
        )
        return DocumentOut.of(document, body=True)

    @post(
        "/upload",
        opt=WRITE,
        summary="Upload a file (multipart: file, collection_id, title?, category_id?)",
        request_max_body_size=UPLOAD_BODY_LIMIT,
    )
    async def upload_document(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[DocumentUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> DocumentOut:
        settings = await load_plugin_settings(db_session, "knowledge")
        content = await data.file.read()
        document = await DocumentService(db_session, _actor(request)).upload(
            data.collection_id,
            data.file.filename,
            content,
            content_type=data.file.content_type,
            title=data.title,
            category_id=data.category_id,
            max_bytes=settings.max_upload_mb * 1024 * 1024,
        )
        return DocumentOut.of(document)

    @get("/{document_id:uuid}", opt=READ, summary="Read a document with its text")
    async def get_document(self, db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]) -> DocumentOut:
        return DocumentOut.of(await DocumentService(db_session).get(document_id), body=True)

    @patch("/{document_id:uuid}", opt=WRITE, summary="Change a document (a new text re-indexes changed passages)")
    async def update_document(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        document_id: FromPath[UUID],
        data: JSONBody[DocumentPatch],
    ) -> DocumentOut:
        changes = data.changes()
        if "meta" in changes:
            changes["meta"] = dict(changes["meta"])
        document = await DocumentService(db_session, _actor(request)).update(document_id, **changes)
        return DocumentOut.of(document, body=True)

    @delete("/{document_id:uuid}", opt=WRITE, summary="Delete a document")
    async def delete_document(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
    ) -> None:
        await DocumentService(db_session, _actor(request)).delete(document_id)

    @get("/{document_id:uuid}/versions", opt=READ, summary="A document's earlier texts")
    async def list_versions(
        self, db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
    ) -> list[VersionOut]:
        return [VersionOut.of(v) for v in await DocumentService(db_session).versions(document_id)]

    @post("/{document_id:uuid}/versions/{version:int}/restore", opt=WRITE, summary="Go back to an earlier text")
    async def restore_version(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        document_id: FromPath[UUID],
        version: FromPath[int],
    ) -> DocumentOut:
        document = await DocumentService(db_session, _actor(request)).restore(document_id, version)
        return DocumentOut.of(document, body=True)

    @get("/{document_id:uuid}/chunks", opt=READ, summary="The passages a document was cut into")
    async def list_chunks(
        self, db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
    ) -> list[ChunkOut]:
        chunks = await DocumentService(db_session).chunks(document_id)
        return [
            ChunkOut(
                id=c.id,
                ordinal=c.ordinal,
                title=c.title,
                content=c.content,
                page=c.page,
                embedded=bool(c.embedding_dims),
            )
            for c in chunks
        ]

    @post("/{document_id:uuid}/reindex", opt=WRITE, summary="Index the document again")
    async def reindex_document(
        self, db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
    ) -> DocumentOut:
        return DocumentOut.of(await DocumentService(db_session).reindex(document_id))


class TranslateIn(msgspec.Struct, forbid_unknown_fields=True):
    language: Literal["pt", "en", "es"]
    collection_id: UUID | None = None
    """Where the translation goes (a collection in that language); the original's by default."""


@post(
    "/documents/{document_id:uuid}/translate",
    opt=WRITE,
    tags=["knowledge"],
    summary="Translate a document with the organization's model (a new linked document, filled by a job)",
)
async def translate_document_api(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    document_id: FromPath[UUID],
    data: JSONBody[TranslateIn],
) -> DocumentOut:
    from plugins.knowledge.translate import request_translation

    document = await request_translation(
        db_session, document_id, data.language, collection_id=data.collection_id, actor_id=_actor(request)
    )
    return DocumentOut.of(document)


# --- web sources --------------------------------------------------------------------------------


class SourceIn(msgspec.Struct, forbid_unknown_fields=True):
    collection_id: UUID
    url: str
    mode: Literal["page", "site"] = "page"
    page_limit: Annotated[int, msgspec.Meta(ge=1, le=500)] | None = None
    recrawl_hours: Annotated[int, msgspec.Meta(ge=1, le=2160)] | None = None
    category_id: UUID | None = None


class SourceOut(msgspec.Struct):
    id: UUID
    collection_id: UUID
    category_id: UUID | None
    url: str
    mode: str
    page_limit: int
    recrawl_hours: int | None
    status: str
    error: str | None
    pages_found: int
    pages_failed: int
    last_run_at: datetime | None
    next_run_at: datetime | None

    @classmethod
    def of(cls, s: Any) -> SourceOut:
        return cls(
            id=s.id,
            collection_id=s.collection_id,
            category_id=s.category_id,
            url=s.url,
            mode=s.mode,
            page_limit=s.page_limit,
            recrawl_hours=s.recrawl_hours,
            status=s.status,
            error=s.error,
            pages_found=s.pages_found,
            pages_failed=s.pages_failed,
            last_run_at=s.last_run_at,
            next_run_at=s.next_run_at,
        )


class SourcesController(Controller):
    path = "/sources"
    tags = ["knowledge"]

    @get("/", opt=READ, summary="List web sources (imported pages and sites)")
    async def list_sources(
        self, db_session: NamedDependency[AsyncSession], collection_id: FromQuery[UUID | None] = None
    ) -> list[SourceOut]:
        from plugins.knowledge.sources import SourceService

        return [SourceOut.of(s) for s in await SourceService(db_session).list(collection_id)]

    @post("/", opt=WRITE, summary="Import a page or a site (crawled by a job; re-crawled every recrawl_hours)")
    async def create_source(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[SourceIn]
    ) -> SourceOut:
        from plugins.knowledge.sources import SourceService

        source = await SourceService(db_session, _actor(request)).create(
            data.collection_id,
            data.url,
            mode=data.mode,
            page_limit=data.page_limit,
            recrawl_hours=data.recrawl_hours,
            category_id=data.category_id,
        )
        return SourceOut.of(source)

    @get("/{source_id:uuid}", opt=READ, summary="Read a web source")
    async def get_source(self, db_session: NamedDependency[AsyncSession], source_id: FromPath[UUID]) -> SourceOut:
        from plugins.knowledge.sources import SourceService

        return SourceOut.of(await SourceService(db_session).get(source_id))

    @post("/{source_id:uuid}/crawl", opt=WRITE, summary="Crawl the source again now")
    async def crawl_source_now(self, db_session: NamedDependency[AsyncSession], source_id: FromPath[UUID]) -> SourceOut:
        from plugins.knowledge.sources import SourceService

        return SourceOut.of(await SourceService(db_session).crawl_now(source_id))

    @delete("/{source_id:uuid}", opt=WRITE, summary="Stop importing a source (its documents stay unless asked)")
    async def delete_source(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        source_id: FromPath[UUID],
        with_documents: FromQuery[bool] = False,
    ) -> None:
        from plugins.knowledge.sources import SourceService

        await SourceService(db_session, _actor(request)).delete(source_id, with_documents=with_documents)


# --- search -------------------------------------------------------------------------------------


class HitOut(msgspec.Struct):
    chunk_id: UUID
    document_id: UUID
    collection_id: UUID
    document_title: str
    title: str
    snippet: str
    content: str
    score: float
    ranks: dict[str, int]
    lexical_score: float | None
    vector_score: float | None
    page: int | None
    url: str | None


class FaqHitOut(msgspec.Struct):
    id: UUID
    question: str
    answer: str
    score: float
    measure: str


class SearchOut(msgspec.Struct):
    query: str
    mode: str
    vector_available: bool
    corrections: dict[str, str]
    notes: list[str]
    hits: list[HitOut]
    faq: FaqHitOut | None = None


def search_out(result: SearchResult, faq: Any = None) -> SearchOut:
    return SearchOut(
        query=result.query,
        mode=result.mode,
        vector_available=result.vector_available,
        corrections=result.corrections,
        notes=result.notes,
        hits=[
            HitOut(
                chunk_id=h.chunk_id,
                document_id=h.document_id,
                collection_id=h.collection_id,
                document_title=h.document_title,
                title=h.title,
                snippet=h.snippet,
                content=h.content,
                score=h.score,
                ranks=h.ranks,
                lexical_score=h.lexical_score,
                vector_score=h.vector_score,
                page=h.page,
                url=h.url,
            )
            for h in result.hits
        ],
        faq=FaqHitOut(
            id=faq.faq.id, question=faq.faq.question, answer=faq.faq.answer, score=faq.score, measure=faq.measure
        )
        if faq
        else None,
    )


@get("/search", opt=READ, tags=["knowledge"], summary="Search the knowledge (hybrid, full text or by meaning)")
async def search_knowledge_api(
    db_session: NamedDependency[AsyncSession],
    q: FromQuery[str],
    collection_id: FromQuery[list[UUID] | None] = None,
    category_id: FromQuery[list[UUID] | None] = None,
    meta: FromQuery[str | None] = None,
    mode: FromQuery[Literal["auto", "hybrid", "fulltext", "vector"]] = "auto",
    limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=50)]] = 8,
    faq: FromQuery[bool] = True,
) -> SearchOut:
    """``meta`` is a JSON object of metadata pairs the documents must have, e.g. ``{"loja": "Centro"}``."""
    from kernel.sdk import ValidationFailed

    filters: dict[str, Any] | None = None
    if meta:
        try:
            filters = msgspec.json.decode(meta)
        except msgspec.DecodeError:
            filters = None
        if not isinstance(filters, dict):
            raise ValidationFailed(
                "meta is a JSON object of names and values.", errors=[{"field": "meta", "message": "invalid"}]
            )
    collection_id = await _known_collections(db_session, collection_id)
    for category in category_id or []:
        await CategoryService(db_session).get(category)
    result = await search(
        db_session, q, collection_ids=collection_id, category_ids=category_id, meta=filters, limit=limit, mode=mode
    )
    match = await FaqService(db_session).match(q, collection_ids=collection_id) if faq else None
    return search_out(result, match)


# --- FAQ ----------------------------------------------------------------------------------------


class FaqIn(msgspec.Struct, forbid_unknown_fields=True):
    collection_id: UUID
    question: str
    answer: str = ""
    status: Literal["suggested", "approved"] = "approved"


class FaqPatch(msgspec.Struct, forbid_unknown_fields=True):
    question: str | None = None
    answer: str | None = None


class FaqReview(msgspec.Struct, forbid_unknown_fields=True):
    decision: Literal["approved", "rejected"]
    question: str | None = None
    answer: str | None = None


class FaqOut(msgspec.Struct):
    id: UUID
    collection_id: UUID
    question: str
    answer: str
    status: str
    origin: str
    document_id: UUID | None
    hit_count: int
    created_at: datetime
    reviewed_at: datetime | None

    @classmethod
    def of(cls, f: Faq) -> FaqOut:
        return cls(
            id=f.id,
            collection_id=f.collection_id,
            question=f.question,
            answer=f.answer,
            status=f.status,
            origin=f.origin,
            document_id=f.document_id,
            hit_count=f.hit_count,
            created_at=f.created_at,
            reviewed_at=f.reviewed_at,
        )


class FaqPage(msgspec.Struct):
    items: list[FaqOut]
    total: int


class FaqQuestion(msgspec.Struct, forbid_unknown_fields=True):
    question: str
    collection_id: list[UUID] | None = None


class FaqMatchOut(msgspec.Struct):
    match: FaqHitOut | None


class ImportOut(msgspec.Struct):
    created: int
    updated: int
    skipped: int
    errors: list[dict[str, Any]]
    """``{"line": n, "message": ...}`` for each refused line, in the caller's language."""


def _lines(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from kernel.sdk import gettext

    return [
        {"line": error["line"], "message": gettext(error["message"], **dict(error.get("params") or {}))}
        for error in errors
    ]


class SuggestedOut(msgspec.Struct):
    suggested: int


@dataclass
class CsvUpload:
    file: UploadFile
    collection_id: UUID | None = None


class FaqController(Controller):
    path = "/faqs"
    tags = ["knowledge"]

    @get("/", opt=FAQ_READ, summary="List FAQ entries (the review queue is status=suggested)")
    async def list_faqs(
        self,
        db_session: NamedDependency[AsyncSession],
        status: FromQuery[Literal["suggested", "approved", "rejected"] | None] = None,
        collection_id: FromQuery[UUID | None] = None,
        q: FromQuery[str | None] = None,
        limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=500)]] = 100,
        offset: FromQuery[Annotated[int, msgspec.Meta(ge=0)]] = 0,
    ) -> FaqPage:
        rows, total = await FaqService(db_session).list(
            status=status, collection_id=collection_id, query=q, limit=limit, offset=offset
        )
        return FaqPage(items=[FaqOut.of(f) for f in rows], total=total)

    @post("/", opt=FAQ_WRITE, summary="Write a FAQ entry")
    async def create_faq(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[FaqIn]
    ) -> FaqOut:
        faq = await FaqService(db_session, _actor(request)).create(
            data.collection_id, data.question, data.answer, status=data.status
        )
        return FaqOut.of(faq)

    @post("/match", opt=FAQ_READ, summary="The approved entry that answers a question directly, if any")
    async def match_faq(self, db_session: NamedDependency[AsyncSession], data: JSONBody[FaqQuestion]) -> FaqMatchOut:
        ids = await _known_collections(db_session, data.collection_id)
        found = await FaqService(db_session).match(data.question, collection_ids=ids)
        return FaqMatchOut(
            match=FaqHitOut(
                id=found.faq.id,
                question=found.faq.question,
                answer=found.faq.answer,
                score=found.score,
                measure=found.measure,
            )
            if found
            else None
        )

    @post(
        "/import",
        opt=FAQ_WRITE,
        summary="Import question/answer rows from CSV (multipart: file, collection_id)",
        request_max_body_size=10 * 1024 * 1024,
    )
    async def import_faqs(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: Annotated[CsvUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImportOut:
        from kernel.sdk import ValidationFailed

        if data.collection_id is None:
            raise ValidationFailed("Choose a collection.", errors=[{"field": "collection_id", "message": "required"}])
        result = await FaqService(db_session, _actor(request)).import_csv(data.collection_id, await data.file.read())
        return ImportOut(created=result.created, updated=0, skipped=result.skipped, errors=_lines(result.errors))

    @post("/suggestions", opt=FAQ_WRITE, summary="Turn unanswered customer questions into suggestions")
    async def suggest_from_unanswered(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> SuggestedOut:
        return SuggestedOut(suggested=await FaqService(db_session, _actor(request)).suggest_from_unanswered())

    @post("/from-document/{document_id:uuid}", opt=FAQ_WRITE, summary="Ask the model for suggestions from a document")
    async def suggest_from_document(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
    ) -> list[FaqOut]:
        made = await FaqService(db_session, _actor(request)).suggest_from_document(document_id)
        return [FaqOut.of(f) for f in made]

    @get("/{faq_id:uuid}", opt=FAQ_READ, summary="Read a FAQ entry")
    async def get_faq(self, db_session: NamedDependency[AsyncSession], faq_id: FromPath[UUID]) -> FaqOut:
        return FaqOut.of(await FaqService(db_session).get(faq_id))

    @patch("/{faq_id:uuid}", opt=FAQ_WRITE, summary="Change a FAQ entry")
    async def update_faq(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        faq_id: FromPath[UUID],
        data: JSONBody[FaqPatch],
    ) -> FaqOut:
        faq = await FaqService(db_session, _actor(request)).update(faq_id, question=data.question, answer=data.answer)
        return FaqOut.of(faq)

    @post("/{faq_id:uuid}/review", opt=FAQ_WRITE, summary="Approve or reject a suggestion")
    async def review_faq(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        faq_id: FromPath[UUID],
        data: JSONBody[FaqReview],
    ) -> FaqOut:
        faq = await FaqService(db_session, _actor(request)).review(
            faq_id, data.decision, answer=data.answer, question=data.question
        )
        return FaqOut.of(faq)

    @delete("/{faq_id:uuid}", opt=FAQ_WRITE, summary="Delete a FAQ entry")
    async def delete_faq(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], faq_id: FromPath[UUID]
    ) -> None:
        await FaqService(db_session, _actor(request)).delete(faq_id)


# --- products -----------------------------------------------------------------------------------


class ProductIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    sku: str | None = None
    description: str = ""
    price_cents: int = 0
    currency: str = "BRL"
    stock: int | None = None
    attributes: dict[str, str] = {}
    images: list[str] = []
    active: bool = True
    document_ids: list[UUID] = []


class ProductPatch(_Patch):
    name: str | msgspec.UnsetType = msgspec.UNSET
    sku: str | msgspec.UnsetType | None = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    price_cents: int | msgspec.UnsetType = msgspec.UNSET
    currency: str | msgspec.UnsetType = msgspec.UNSET
    stock: int | msgspec.UnsetType | None = msgspec.UNSET
    attributes: dict[str, str] | msgspec.UnsetType = msgspec.UNSET
    images: list[str] | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    document_ids: list[UUID] | msgspec.UnsetType = msgspec.UNSET


class ProductOut(msgspec.Struct):
    id: UUID
    name: str
    sku: str | None
    description: str
    price_cents: int
    currency: str
    stock: int | None
    attributes: dict[str, Any]
    images: list[str]
    """Storage keys; ``image_urls`` are where a browser fetches them."""
    image_urls: list[str]
    active: bool
    updated_at: datetime

    @classmethod
    def of(cls, p: Product) -> ProductOut:
        from kernel.sdk import media_url

        return cls(
            id=p.id,
            name=p.name,
            sku=p.sku,
            description=p.description,
            price_cents=p.price_cents,
            currency=p.currency,
            stock=p.stock,
            attributes=dict(p.attributes or {}),
            images=list(p.images or []),
            image_urls=[media_url(key) for key in p.images or []],
            active=p.active,
            updated_at=p.updated_at,
        )


class ProductPage(msgspec.Struct):
    items: list[ProductOut]
    total: int


@dataclass
class ImageUpload:
    file: UploadFile


class ProductsController(Controller):
    path = "/products"
    tags = ["knowledge"]

    @get("/", opt=PRODUCT_READ, summary="List or search products")
    async def list_products(
        self,
        db_session: NamedDependency[AsyncSession],
        q: FromQuery[str | None] = None,
        active: FromQuery[bool | None] = None,
        limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=500)]] = 50,
        offset: FromQuery[Annotated[int, msgspec.Meta(ge=0)]] = 0,
    ) -> ProductPage:
        rows, total = await ProductService(db_session).list(query=q, active=active, limit=limit, offset=offset)
        return ProductPage(items=[ProductOut.of(p) for p in rows], total=total)

    @post("/", opt=PRODUCT_WRITE, summary="Add a product")
    async def create_product(self, db_session: NamedDependency[AsyncSession], data: JSONBody[ProductIn]) -> ProductOut:
        return ProductOut.of(await ProductService(db_session).create(**msgspec.structs.asdict(data)))

    @get("/export.csv", opt=PRODUCT_READ, summary="Every product as CSV")
    async def export_products(self, db_session: NamedDependency[AsyncSession]) -> Response[str]:
        body = await ProductService(db_session).export_csv()
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="products.csv"'},
        )

    @post(
        "/import",
        opt=PRODUCT_WRITE,
        summary="Create or update products from CSV (multipart: file; sku matches existing ones)",
        request_max_body_size=20 * 1024 * 1024,
    )
    async def import_products(
        self,
        db_session: NamedDependency[AsyncSession],
        data: Annotated[CsvUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImportOut:
        result = await ProductService(db_session).import_csv(await data.file.read())
        return ImportOut(created=result.created, updated=result.updated, skipped=0, errors=_lines(result.errors))

    @get("/{product_id:uuid}", opt=PRODUCT_READ, summary="Read a product")
    async def get_product(self, db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID]) -> ProductOut:
        return ProductOut.of(await ProductService(db_session).get(product_id))

    @patch("/{product_id:uuid}", opt=PRODUCT_WRITE, summary="Change a product")
    async def update_product(
        self, db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID], data: JSONBody[ProductPatch]
    ) -> ProductOut:
        return ProductOut.of(await ProductService(db_session).update(product_id, **data.changes()))

    @post(
        "/{product_id:uuid}/images",
        opt=PRODUCT_WRITE,
        summary="Add a picture (multipart field file: PNG, JPEG, WebP or GIF, at most 8 MB)",
        request_max_body_size=9 * 1024 * 1024,
    )
    async def add_product_image(
        self,
        db_session: NamedDependency[AsyncSession],
        product_id: FromPath[UUID],
        data: Annotated[ImageUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ProductOut:
        product = await ProductService(db_session).add_image(
            product_id, await data.file.read(), filename=data.file.filename, content_type=data.file.content_type
        )
        return ProductOut.of(product)

    @delete("/{product_id:uuid}/images", opt=PRODUCT_WRITE, summary="Remove a picture (by its storage key)")
    async def remove_product_image(
        self, db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID], key: FromQuery[str]
    ) -> None:
        await ProductService(db_session).remove_image(product_id, key)

    @delete("/{product_id:uuid}", opt=PRODUCT_WRITE, summary="Delete a product")
    async def delete_product(self, db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID]) -> None:
        await ProductService(db_session).delete(product_id)


API = [
    CollectionsController,
    CategoriesController,
    DocumentsController,
    translate_document_api,
    SourcesController,
    search_knowledge_api,
    FaqController,
    ProductsController,
]
