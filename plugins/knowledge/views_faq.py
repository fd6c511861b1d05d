"""The FAQ page: the review queue (suggestions), the approved and the rejected entries; approving with
an edited question and answer, rejecting, writing an entry, importing CSV, and turning the questions
customers asked that nothing answered into suggestions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from litestar import Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import Conflict, NotFound, ValidationFailed, gettext, ngettext, render_page
from kernel.web.listing import Listing
from kernel.web.shell import form_values, fragment
from plugins.knowledge.faq import FaqService
from plugins.knowledge.models import Faq
from plugins.knowledge.services import CollectionService
from plugins.knowledge.views_shared import (
    FAQ_READ,
    FAQ_STATUSES,
    FAQ_WRITE,
    actor_id,
    done,
    form_errors,
    import_line_message,
    parse_uuid,
    targets,
    trigger,
)

__all__ = ["ROUTES"]

FAQ = "/app/knowledge/faq"
LIST_ID = "faq-list"
IMPORT_BODY_LIMIT = 10 * 1024 * 1024


def _listing(request: Request[Any, Any, Any]) -> Listing:
    listing = Listing.from_request(
        request, sorts=("updated",), default_sort="updated", filters=("status", "collection_id"), per_page=25
    )
    chosen = dict(listing.filters)
    if chosen.get("status") not in FAQ_STATUSES:
        chosen["status"] = "suggested"
    if "collection_id" in chosen and parse_uuid(chosen["collection_id"]) is None:
        chosen.pop("collection_id")
    return replace(listing, filters=chosen)


async def _list_context(session: AsyncSession, listing: Listing) -> dict[str, Any]:
    service = FaqService(session)
    collection_id = parse_uuid(listing.filters.get("collection_id"))
    status = listing.filters["status"]
    rows, total = await service.list(
        status=status,
        collection_id=collection_id,
        query=listing.q or None,
        limit=listing.per_page,
        offset=listing.offset,
    )
    listing = replace(listing, total=total)
    if not rows and total and listing.page > listing.pages:
        listing = replace(listing, page=listing.pages)
        rows, total = await service.list(
            status=status,
            collection_id=collection_id,
            query=listing.q or None,
            limit=listing.per_page,
            offset=listing.offset,
        )
    counts = {}
    for name in FAQ_STATUSES:
        _, counts[name] = await service.list(status=name, collection_id=collection_id, query=listing.q or None, limit=1)
    collections = list(await CollectionService(session).list())
    return {
        "listing": listing,
        "status": status,
        "rows": rows,
        "counts": counts,
        "collections": collections,
        "collection_names": {c.id: c.name for c in collections},
        "faq_path": FAQ,
    }


def _new_context(collections: list[Any], values: dict[str, str] | None = None, errors: Any = None) -> dict[str, Any]:
    first = str(collections[0].id) if collections else ""
    return {
        "new_values": values or {"collection_id": first, "question": "", "answer": ""},
        "new_errors": errors or {},
        "collections": collections,
        "faq_path": FAQ,
    }


def _import_context(
    collections: list[Any], *, collection_id: str = "", errors: Any = None, result: Any = None
) -> dict[str, Any]:
    return {
        "import_collection_id": collection_id or (str(collections[0].id) if collections else ""),
        "import_errors": errors or {},
        "import_result": result,
        "collections": collections,
        "faq_path": FAQ,
    }


@get("/faq", opt=FAQ_READ)
async def faq_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """The review queue first; the approved and rejected entries a tab away."""
    context = await _list_context(db_session, _listing(request))
    if targets(request, LIST_ID):
        return fragment(request, "knowledge/_faq_list.html", **context)
    context.update(_new_context(context["collections"]))
    context.update(_import_context(context["collections"]))
    return render_page(request, "knowledge/faq.html", **context)


@post("/faq/new", opt=FAQ_WRITE, status_code=200)
async def faq_create(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    form = await form_values(request)
    values = {name: str(form.get(name) or "").strip() for name in ("collection_id", "question", "answer")}
    collections = list(await CollectionService(db_session).list())
    try:
        collection_id = parse_uuid(values["collection_id"])
        if collection_id is None:
            raise ValidationFailed("Choose a collection.", errors=[{"field": "collection_id", "message": "required"}])
        await FaqService(db_session, actor_id(request)).create(collection_id, values["question"], values["answer"])
    except (ValidationFailed, NotFound, Conflict) as exc:
        errors = form_errors(exc, ("collection_id", "question", "answer"))
        return fragment(
            request, "knowledge/_faq_new.html", status_code=422, **_new_context(collections, values, errors)
        )
    answer = fragment(
        request, "knowledge/_faq_new.html", **_new_context(collections, {**values, "question": "", "answer": ""})
    )
    answer.headers.update(
        trigger(gettext("Question added: it answers customers from now on."), "success", "faq-changed", "faq-added")
    )
    return answer


@post("/faq/import", opt=FAQ_WRITE, status_code=200, request_max_body_size=IMPORT_BODY_LIMIT)
async def faq_import(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """Question and answer rows from CSV: how many were added, skipped as duplicates, and each bad line."""
    form = await form_values(request)
    collection_value = str(form.get("collection_id") or "")
    upload = form.get("file")
    collections = list(await CollectionService(db_session).list())
    try:
        collection_id = parse_uuid(collection_value)
        if collection_id is None:
            raise ValidationFailed("Choose a collection.", errors=[{"field": "collection_id", "message": "required"}])
        await CollectionService(db_session).get(collection_id)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ValidationFailed("Choose a CSV file.", errors=[{"field": "file", "message": "required"}])
        result = await FaqService(db_session, actor_id(request)).import_csv(collection_id, await upload.read())
    except (ValidationFailed, NotFound) as exc:
        errors = form_errors(exc, ("collection_id", "file"))
        if errors.get("file") and not isinstance(upload, UploadFile):
            errors["file"] = gettext("Choose a CSV file.")
        context = _import_context(collections, collection_id=collection_value, errors=errors)
        return fragment(request, "knowledge/_faq_import.html", status_code=422, **context)
    lines = [(error.get("line"), import_line_message(error)) for error in result.errors]
    context = _import_context(
        collections,
        collection_id=collection_value,
        result={"created": result.created, "skipped": result.skipped, "errors": lines},
    )
    answer = fragment(request, "knowledge/_faq_import.html", **context)
    message = ngettext("%(num)d question imported.", "%(num)d questions imported.", result.created)
    answer.headers.update(trigger(message, "success" if not lines else "warning", "faq-changed"))
    return answer


@post("/faq/suggestions", opt=FAQ_WRITE, status_code=200)
async def faq_suggest(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[None]:
    """Every open question customers asked that nothing answered becomes a suggestion to answer here."""
    made = await FaqService(db_session, actor_id(request)).suggest_from_unanswered()
    if not made:
        return Response(None, status_code=204, headers=trigger(gettext("No unanswered questions are waiting."), "info"))
    message = ngettext(
        "%(num)d suggestion added to the review queue.", "%(num)d suggestions added to the review queue.", made
    )
    return done(message, "faq-changed")


async def _item(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    faq: Faq,
    *,
    values: dict[str, str],
    errors: dict[str, str],
) -> Template:
    collections = list(await CollectionService(session).list())
    return fragment(
        request,
        "knowledge/_faq_item.html",
        status_code=422,
        faq=faq,
        values=values,
        errors=errors,
        editing=True,
        collection_names={c.id: c.name for c in collections},
        faq_path=FAQ,
    )


@post("/faq/{faq_id:uuid}/review", opt=FAQ_WRITE, status_code=200)
async def faq_review(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], faq_id: FromPath[UUID]
) -> Response[Any]:
    """Approve (with the question and answer as edited here) or reject."""
    service = FaqService(db_session, actor_id(request))
    faq = await service.get(faq_id)
    form = await form_values(request)
    decision = str(form.get("decision") or "")
    values = {name: str(form.get(name) or "") for name in ("question", "answer")}
    edited = {name: value for name, value in values.items() if name in form}
    try:
        faq = await service.review(faq.id, decision, question=edited.get("question"), answer=edited.get("answer"))
    except ValidationFailed as exc:
        await db_session.rollback()
        faq = await service.get(faq_id)
        return await _item(request, db_session, faq, values=values, errors=form_errors(exc, ("question", "answer")))
    if decision == "approved":
        return done(gettext("Approved: it answers customers from now on."), "faq-changed")
    return done(gettext("Rejected."), "faq-changed")


@post("/faq/{faq_id:uuid}", opt=FAQ_WRITE, status_code=200)
async def faq_update(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], faq_id: FromPath[UUID]
) -> Response[Any]:
    service = FaqService(db_session, actor_id(request))
    faq = await service.get(faq_id)
    form = await form_values(request)
    values = {name: str(form.get(name) or "") for name in ("question", "answer")}
    try:
        await service.update(faq.id, question=values["question"], answer=values["answer"])
    except ValidationFailed as exc:
        await db_session.rollback()
        faq = await service.get(faq_id)
        return await _item(request, db_session, faq, values=values, errors=form_errors(exc, ("question", "answer")))
    return done(gettext("Saved."), "faq-changed")


@delete("/faq/{faq_id:uuid}", opt=FAQ_WRITE, status_code=200)
async def faq_delete(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], faq_id: FromPath[UUID]
) -> Response[None]:
    await FaqService(db_session, actor_id(request)).delete(faq_id)
    return done(gettext("Question deleted."), "faq-changed")


ROUTES = [faq_page, faq_create, faq_import, faq_suggest, faq_review, faq_update, faq_delete]
