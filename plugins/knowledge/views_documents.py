"""The documents pages: the list (filters, title search as you type, live ingestion status), the
upload dialog, and the editor (Markdown with a live preview, metadata, versions, passages).

Rows still queued or processing make their table ask again every 2 seconds until none is left;
the editor's status panel does the same for its document.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from litestar import Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import (
    Conflict,
    NotFound,
    QuotaExceeded,
    ValidationFailed,
    gettext,
    load_plugin_settings,
    ngettext,
    render_page,
)
from kernel.web.listing import Listing
from kernel.web.shell import form_values, fragment, hx_redirect
from plugins.knowledge.models import Category, Collection, Document
from plugins.knowledge.services import (
    CategoryService,
    CollectionService,
    DocumentFilters,
    DocumentService,
    error_message,
)
from plugins.knowledge.views_shared import (
    DOCUMENT_KINDS,
    DOCUMENT_STATUSES,
    PENDING,
    READ,
    WRITE,
    actor_id,
    form_errors,
    pair_rows,
    pairs,
    parse_date,
    parse_uuid,
    render_markdown,
    say,
    targets,
    trigger,
)

__all__ = ["ROUTES", "failure_text"]

DOCUMENTS = "/app/knowledge/documents"
TABLE_ID = "documents-table"
UPLOAD_BODY_LIMIT = 210 * 1024 * 1024
"""A few files at the largest size an organization may allow (100 MB each); the service checks each file."""
EDITOR_FIELDS = ("title", "collection_id", "category_id", "body", "review_at", "meta")
SHOWN_TEXT = 20000
"""Characters of an upload's extracted text shown on its page (the passages hold all of it)."""


def failure_text(document: Document) -> str | None:
    """Why a document failed (or searches by words only), in the reader's language."""
    explained = error_message(document.error_code, document.error_params)
    if explained is None:
        return None
    msgid, params = explained
    return gettext(msgid, **params)


async def _collections(session: AsyncSession) -> tuple[list[Collection], dict[UUID, list[Category]]]:
    collections = list(await CollectionService(session).list())
    grouped: dict[UUID, list[Category]] = {}
    for category in await CategoryService(session).list():
        grouped.setdefault(category.collection_id, []).append(category)
    return collections, grouped


# --- the list -----------------------------------------------------------------------------------


def _listing(request: Request[Any, Any, Any]) -> Listing:
    listing = Listing.from_request(
        request,
        sorts=("updated",),
        default_sort="updated",
        default_direction="desc",
        filters=("collection_id", "category_id", "status", "kind"),
        per_page=25,
    )
    chosen = dict(listing.filters)
    for name in ("collection_id", "category_id"):
        if name in chosen and parse_uuid(chosen[name]) is None:
            chosen.pop(name)
    if chosen.get("status") not in (None, *DOCUMENT_STATUSES):
        chosen.pop("status")
    if chosen.get("kind") not in (None, *DOCUMENT_KINDS):
        chosen.pop("kind")
    return replace(listing, filters=chosen)


async def _rows(session: AsyncSession, listing: Listing) -> tuple[list[Document], Listing]:
    filters = DocumentFilters(
        collection_id=parse_uuid(listing.filters.get("collection_id")),
        category_id=parse_uuid(listing.filters.get("category_id")),
        status=listing.filters.get("status"),
        kind=listing.filters.get("kind"),
        query=listing.q or None,
    )
    service = DocumentService(session)
    rows, total = await service.list(filters, limit=listing.per_page, offset=listing.offset)
    listing = replace(listing, total=total)
    if not rows and total and listing.page > listing.pages:
        listing = replace(listing, page=listing.pages)
        rows, total = await service.list(filters, limit=listing.per_page, offset=listing.offset)
    return rows, listing


async def _table_context(session: AsyncSession, listing: Listing) -> dict[str, Any]:
    rows, listing = await _rows(session, listing)
    collections, categories = await _collections(session)
    category_names = {c.id: c.name for group in categories.values() for c in group}
    return {
        "listing": listing,
        "rows": rows,
        "failures": {row.id: failure_text(row) for row in rows},
        "pending": any(row.status in PENDING for row in rows),
        "collections": collections,
        "collection_names": {c.id: c.name for c in collections},
        "categories": categories,
        "category_names": category_names,
        "documents_path": DOCUMENTS,
    }


async def _upload_context(
    session: AsyncSession,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    results: list[UploadResult] | None = None,
) -> dict[str, Any]:
    settings = await load_plugin_settings(session, "knowledge")
    collections, categories = await _collections(session)
    first = str(collections[0].id) if collections else ""
    return {
        "upload_values": values or {"collection_id": first, "category_id": ""},
        "upload_errors": errors or {},
        "upload_results": results or [],
        "upload_collections": collections,
        "upload_categories": categories,
        "max_upload_mb": settings.max_upload_mb,
    }


@get("/documents", opt=READ)
async def documents_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The documents, filtered and searched from the query string; htmx asks for the table alone."""
    context = await _table_context(db_session, _listing(request))
    if targets(request, TABLE_ID):
        return fragment(request, "knowledge/_documents_table.html", **context)
    context.update(await _upload_context(db_session))
    context["open_upload"] = request.query_params.get("upload") == "1"
    return render_page(request, "knowledge/documents.html", **context)


# --- upload -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadResult:
    filename: str
    document: Document | None = None
    error: str | None = None


def _files(form: Any) -> list[UploadFile]:
    return [item for item in form.getall("files", []) if isinstance(item, UploadFile) and item.filename]


async def _check_target(session: AsyncSession, collection_id: UUID | None, category_id: UUID | None) -> None:
    if collection_id is None:
        raise ValidationFailed("Choose a collection.", errors=[{"field": "collection_id", "message": "required"}])
    await CollectionService(session).get(collection_id)
    if category_id is not None:
        category = await CategoryService(session).get(category_id)
        if category.collection_id != collection_id:
            raise ValidationFailed(
                "That category belongs to another collection.",
                errors=[{"field": "category_id", "message": "invalid"}],
            )


@post("/documents/upload", opt=WRITE, status_code=200, request_max_body_size=UPLOAD_BODY_LIMIT)
async def upload_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """One or more files into a collection; each refused file says why, the others are queued for reading."""
    form = await form_values(request)
    values = {"collection_id": str(form.get("collection_id") or ""), "category_id": str(form.get("category_id") or "")}
    collection_id, category_id = parse_uuid(values["collection_id"]), parse_uuid(values["category_id"])
    files = _files(form)
    try:
        await _check_target(db_session, collection_id, category_id)
        if not files:
            raise ValidationFailed("Choose one or more files.", errors=[{"field": "files", "message": "required"}])
    except ValidationFailed as exc:
        errors = form_errors(exc, ("collection_id", "category_id", "files"))
        if "files" in errors and not files:
            errors["files"] = gettext("Choose one or more files.")
        context = await _upload_context(db_session, values=values, errors=errors)
        return fragment(request, "knowledge/_upload_form.html", status_code=422, **context)
    assert collection_id is not None
    settings = await load_plugin_settings(db_session, "knowledge")
    service = DocumentService(db_session, actor_id(request))
    results: list[UploadResult] = []
    for upload in files:
        data = await upload.read()
        content_type = upload.content_type if upload.content_type not in ("", "application/octet-stream") else None
        try:
            async with db_session.begin_nested():
                document = await service.upload(
                    collection_id,
                    upload.filename,
                    data,
                    content_type=content_type,
                    category_id=category_id,
                    max_bytes=settings.max_upload_mb * 1024 * 1024,
                )
        except (ValidationFailed, Conflict, QuotaExceeded) as exc:
            results.append(UploadResult(upload.filename, error=say(exc)))
            continue
        results.append(UploadResult(upload.filename, document=document))
    uploaded = sum(1 for result in results if result.document is not None)
    refused = len(results) - uploaded
    context = await _upload_context(db_session, values=values, results=results)
    if not uploaded:
        return fragment(request, "knowledge/_upload_form.html", status_code=422, **context)
    answer = fragment(request, "knowledge/_upload_form.html", **context)
    message = ngettext(
        "%(num)d file uploaded: it is being read now.", "%(num)d files uploaded: they are being read now.", uploaded
    )
    events = ("documents-changed",) if refused else ("documents-changed", "upload-done")
    answer.headers.update(trigger(message, "success" if not refused else "warning", *events))
    return answer


# --- the editor ---------------------------------------------------------------------------------


def _editor_values(document: Document | None, collection_id: str = "") -> dict[str, Any]:
    if document is None:
        return {
            "title": "",
            "collection_id": collection_id,
            "category_id": "",
            "body": "",
            "review_at": "",
            "meta": pair_rows({}),
        }
    return {
        "title": document.title,
        "collection_id": str(document.collection_id),
        "category_id": str(document.category_id or ""),
        "body": document.body,
        "review_at": document.review_at.isoformat() if document.review_at else "",
        "meta": pair_rows(document.meta),
    }


def _typed_values(form: Any) -> dict[str, Any]:
    keys, values = form.getall("meta_key", []), form.getall("meta_value", [])
    rows = [(str(k), str(v)) for k, v in zip(keys, values, strict=False)] or [("", "")]
    return {
        "title": str(form.get("title") or ""),
        "collection_id": str(form.get("collection_id") or ""),
        "category_id": str(form.get("category_id") or ""),
        "body": str(form.get("body") or ""),
        "review_at": str(form.get("review_at") or ""),
        "meta": rows,
    }


async def _editor_context(
    session: AsyncSession,
    document: Document | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    collections, categories = await _collections(session)
    default_collection = str(collections[0].id) if collections else ""
    values = values or _editor_values(document, default_collection)
    context: dict[str, Any] = {
        "document": document,
        "values": values,
        "errors": errors or {},
        "collections": collections,
        "categories": categories,
        "preview": render_markdown(values["body"]),
        "documents_path": DOCUMENTS,
        "expected_version": expected_version if expected_version is not None else (document.version if document else 0),
        "versions": [],
        "collection": None,
        "failure": None,
        "shown_text": SHOWN_TEXT,
        "stale": False,
    }
    if document is not None:
        context["collection"] = next((c for c in collections if c.id == document.collection_id), None)
        context["failure"] = failure_text(document)
        if document.kind == "editor":
            context["versions"] = await DocumentService(session).versions(document.id)
    return context


@get("/documents/new", opt=WRITE)
async def document_new_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    context = await _editor_context(db_session, None)
    wanted = parse_uuid(request.query_params.get("collection_id"))
    if wanted and any(c.id == wanted for c in context["collections"]):
        context["values"]["collection_id"] = str(wanted)
    return render_page(request, "knowledge/editor.html", **context)


@post("/documents/new", opt=WRITE, status_code=200)
async def document_create(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    form = await form_values(request)
    typed = _typed_values(form)
    try:
        collection_id = parse_uuid(typed["collection_id"])
        if collection_id is None:
            raise ValidationFailed("Choose a collection.", errors=[{"field": "collection_id", "message": "required"}])
        document = await DocumentService(db_session, actor_id(request)).create_text(
            collection_id,
            typed["title"],
            typed["body"],
            category_id=parse_uuid(typed["category_id"]),
            meta=pairs(form, "meta_key", "meta_value"),
            review_at=parse_date(typed["review_at"], "review_at"),
        )
    except (ValidationFailed, Conflict, QuotaExceeded, NotFound) as exc:
        await db_session.rollback()
        context = await _editor_context(db_session, None, values=typed, errors=form_errors(exc, EDITOR_FIELDS))
        return fragment(request, "knowledge/_editor.html", status_code=422, **context)
    return hx_redirect(
        request, f"{DOCUMENTS}/{document.id}", message=gettext("Document created: it is being indexed now.")
    )


@post("/documents/preview", opt=READ, status_code=200)
async def markdown_preview(request: Request[Any, Any, Any]) -> Template:
    """The editor's live preview: the Markdown rendered as the pages and agents' citations show it."""
    form = await form_values(request)
    return fragment(request, "knowledge/_preview.html", preview=render_markdown(str(form.get("body") or "")))


@get("/documents/{document_id:uuid}", opt=READ)
async def document_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
) -> Template:
    document = await DocumentService(db_session).get(document_id)
    return render_page(request, "knowledge/editor.html", **await _editor_context(db_session, document))


@post("/documents/{document_id:uuid}", opt=WRITE, status_code=200)
async def document_save(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
) -> Template:
    """Save with the version the person opened: someone else's newer save is not overwritten."""
    service = DocumentService(db_session, actor_id(request))
    document = await service.get(document_id)
    form = await form_values(request)
    typed = _typed_values(form)
    typed["collection_id"] = str(document.collection_id)
    try:
        expected = int(str(form.get("expected_version") or "0"))
    except ValueError:
        expected = 0
    try:
        # A field the form did not post is left as it is (the editor always posts them all).
        changes: dict[str, Any] = {
            "title": typed["title"],
            "body": typed["body"] if document.kind == "editor" and "body" in form else None,
            "meta": pairs(form, "meta_key", "meta_value") if "meta_key" in form else None,
        }
        if "category_id" in form:
            changes["category_id"] = parse_uuid(typed["category_id"])
        if "review_at" in form:
            changes["review_at"] = parse_date(typed["review_at"], "review_at")
        document = await service.update(document.id, expected_version=expected or None, **changes)
    except (ValidationFailed, Conflict) as exc:
        await db_session.rollback()
        document = await service.get(document_id)
        if document.kind != "editor":
            typed["body"] = document.body
        context = await _editor_context(
            db_session, document, values=typed, errors=form_errors(exc, EDITOR_FIELDS), expected_version=expected
        )
        context["stale"] = isinstance(exc, Conflict)
        return fragment(request, "knowledge/_editor.html", status_code=422, **context)
    context = await _editor_context(db_session, document)
    answer = fragment(request, "knowledge/_editor.html", **context)
    answer.headers.update(trigger(gettext("Saved (version %(version)d).", version=document.version)))
    return answer


@delete("/documents/{document_id:uuid}", opt=WRITE, status_code=200)
async def document_delete(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
) -> Response[Any]:
    service = DocumentService(db_session, actor_id(request))
    document = await service.get(document_id)
    title = document.title
    await service.delete(document.id)
    return hx_redirect(request, DOCUMENTS, message=gettext("Document %(title)s deleted.", title=title))


@post("/documents/{document_id:uuid}/reindex", opt=WRITE, status_code=200)
async def document_reindex(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
) -> Template:
    document = await DocumentService(db_session, actor_id(request)).reindex(document_id)
    answer = fragment(request, "knowledge/_document_status.html", document=document, failure=failure_text(document))
    answer.headers.update(trigger(gettext("The document is queued to be indexed again.")))
    return answer


@get("/documents/{document_id:uuid}/status", opt=READ)
async def document_status(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
) -> Template:
    """The editor's status panel, asked again every 2 seconds while the document is being indexed."""
    document = await DocumentService(db_session).get(document_id)
    return fragment(request, "knowledge/_document_status.html", document=document, failure=failure_text(document))


@get("/documents/{document_id:uuid}/chunks", opt=READ)
async def document_chunks(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], document_id: FromPath[UUID]
) -> Template:
    """The passages the document was cut into, loaded when the person opens the section."""
    chunks = await DocumentService(db_session).chunks(document_id)
    return fragment(request, "knowledge/_chunks.html", chunks=chunks)


@post("/documents/{document_id:uuid}/versions/{version:int}/restore", opt=WRITE, status_code=200)
async def version_restore(
    request: Request[Any, Any, Any],
    db_session: NamedDependency[AsyncSession],
    document_id: FromPath[UUID],
    version: FromPath[int],
) -> Response[Any]:
    document = await DocumentService(db_session, actor_id(request)).restore(document_id, version)
    return hx_redirect(
        request,
        f"{DOCUMENTS}/{document.id}",
        message=gettext("Version %(old)d restored as version %(new)d.", old=version, new=document.version),
    )


ROUTES = [
    documents_page,
    upload_submit,
    document_new_page,
    document_create,
    markdown_preview,
    document_page,
    document_save,
    document_delete,
    document_reindex,
    document_status,
    document_chunks,
    version_restore,
]
