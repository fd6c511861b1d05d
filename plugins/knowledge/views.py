"""HTML pages, mounted by the kernel under ``/app/knowledge``: collections and categories here; the
documents, the FAQ, the products and "try a search" each in their own ``views_*.py``.

Every page and form action calls the same services as the JSON API, with the same permission.
:data:`PAGES` is what ``register_routes`` mounts.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import Conflict, Forbidden, ValidationFailed, database_capabilities, gettext, render_page
from kernel.web.shell import form_values, fragment, hx_redirect
from plugins.knowledge.models import Category, Collection
from plugins.knowledge.services import CategoryService, CollectionService
from plugins.knowledge.views_shared import MANAGE, READ, can, form_errors, trigger

__all__ = ["PAGES"]

BASE = "/app/knowledge"
COLLECTION_FIELDS = (
    "name",
    "description",
    "language",
    "embedding_provider",
    "embedding_model",
    "chunk_size",
    "chunk_overlap",
    "faq_threshold",
    "agents_may_read",
)
EMBEDDING_MODELS = {
    "openai": ("text-embedding-3-small", "text-embedding-3-large"),
    "gemini": ("gemini-embedding-001", "text-embedding-004"),
}


# --- context ------------------------------------------------------------------------------------


def _default_values() -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "language": "pt",
        "embedding_provider": "",
        "embedding_model": "",
        "chunk_size": "1200",
        "chunk_overlap": "150",
        "faq_threshold": "0.82",
        "agents_may_read": True,
    }


async def _collections_context(
    session: AsyncSession, *, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    collections = await CollectionService(session).list()
    counts = await CollectionService(session).document_counts()
    categories: dict[UUID, list[Category]] = {}
    for category in await CategoryService(session).list():
        categories.setdefault(category.collection_id, []).append(category)
    capabilities = await database_capabilities()
    return {
        "collections": collections,
        "counts": counts,
        "categories": categories,
        "pgvector": bool(capabilities.pgvector),
        "values": values or _default_values(),
        "errors": errors or {},
        "embedding_models": EMBEDDING_MODELS,
        "base": BASE,
    }


def _number(form: Any, name: str, kind: type, default: Any) -> Any:
    raw = str(form.get(name) or "").strip().replace(",", ".")
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValidationFailed("This value is not valid.", errors=[{"field": name, "message": "invalid"}]) from None


def _collection_values(form: Any) -> dict[str, Any]:
    values = {name: str(form.get(name) or "").strip() for name in COLLECTION_FIELDS}
    values["agents_may_read"] = form.get("agents_may_read") in ("on", "true", "1")
    return values


# --- collections --------------------------------------------------------------------------------


@get("/", opt=READ)
async def collections_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """Every collection with its documents by status, its language and embedding model, and its categories."""
    return render_page(request, "knowledge/collections.html", **await _collections_context(db_session))


@post("/collections", opt=MANAGE, status_code=200)
async def collection_create(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
) -> Response[Any]:
    form = await form_values(request)
    values = _collection_values(form)
    try:
        collection = await CollectionService(db_session).create(
            values["name"],
            description=values["description"],
            language=values["language"] or "pt",
            embedding_provider=values["embedding_provider"] or None,
            embedding_model=values["embedding_model"] or None,
            chunk_size=_number(form, "chunk_size", int, 1200),
            chunk_overlap=_number(form, "chunk_overlap", int, 150),
            faq_threshold=_number(form, "faq_threshold", float, 0.82),
            agents_may_read=values["agents_may_read"],
        )
    except (ValidationFailed, Conflict, Forbidden) as exc:
        context = await _collections_context(db_session, values=values, errors=form_errors(exc, COLLECTION_FIELDS))
        return fragment(request, "knowledge/_collection_form.html", status_code=422, **context)
    return hx_redirect(request, f"{BASE}/", message=gettext("Collection %(name)s created.", name=collection.name))


@delete("/collections/{collection_id:uuid}", opt=MANAGE, status_code=200)
async def collection_delete(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID]
) -> Response[Any]:
    collection = await CollectionService(db_session).get(collection_id)
    name = collection.name
    await CollectionService(db_session).delete(collection_id)
    return hx_redirect(request, f"{BASE}/", message=gettext("Collection %(name)s deleted.", name=name))


# --- categories ---------------------------------------------------------------------------------


async def _categories_fragment(
    request: Request[Any, Any, Any],
    session: AsyncSession,
    collection: Collection,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    message: str | None = None,
    kind: str = "success",
) -> Template:
    answer = fragment(
        request,
        "knowledge/_categories.html",
        status_code=status_code,
        collection=collection,
        collection_categories=list(await CategoryService(session).list(collection.id)),
        can_manage=can(request, MANAGE["permission"]),
        category_errors=errors or {},
        category_typed=typed or {},
        base=BASE,
    )
    if message:
        answer.headers.update(trigger(message, kind))
    return answer


@post("/collections/{collection_id:uuid}/categories", opt=MANAGE, status_code=200)
async def category_create(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], collection_id: FromPath[UUID]
) -> Template:
    collection = await CollectionService(db_session).get(collection_id)
    form = await form_values(request)
    name = str(form.get("name") or "").strip()
    try:
        category = await CategoryService(db_session).create(collection.id, name)
    except (ValidationFailed, Conflict) as exc:
        errors = {"new": next(iter(form_errors(exc, ("name",)).values()))}
        return await _categories_fragment(
            request, db_session, collection, status_code=422, errors=errors, typed={"new": name}
        )
    message = gettext("Category %(name)s added.", name=category.name)
    return await _categories_fragment(request, db_session, collection, message=message)


@post("/categories/{category_id:uuid}", opt=MANAGE, status_code=200)
async def category_rename(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], category_id: FromPath[UUID]
) -> Template:
    category = await CategoryService(db_session).get(category_id)
    collection = await CollectionService(db_session).get(category.collection_id)
    form = await form_values(request)
    name = str(form.get("name") or "").strip()
    key = str(category.id)
    try:
        await _refuse_duplicate_category(db_session, category, name)
        await CategoryService(db_session).rename(category.id, name)
    except (ValidationFailed, Conflict) as exc:
        errors = {key: next(iter(form_errors(exc, ("name",)).values()))}
        return await _categories_fragment(
            request, db_session, collection, status_code=422, errors=errors, typed={key: name}
        )
    message = gettext("Category renamed to %(name)s.", name=name)
    return await _categories_fragment(request, db_session, collection, message=message)


async def _refuse_duplicate_category(session: AsyncSession, category: Category, name: str) -> None:
    """Two categories of a collection may not share a name (the service checks it when adding only)."""
    twin = await session.execute(
        select(Category.id).where(
            Category.collection_id == category.collection_id,
            func.lower(Category.name) == name.strip().lower(),
            Category.id != category.id,
        )
    )
    if name.strip() and twin.first():
        raise Conflict(
            "A category named %(name)s already exists.", errors=[{"field": "name", "message": "taken"}], name=name
        )


@delete("/categories/{category_id:uuid}", opt=MANAGE, status_code=200)
async def category_delete(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], category_id: FromPath[UUID]
) -> Template:
    category = await CategoryService(db_session).get(category_id)
    collection = await CollectionService(db_session).get(category.collection_id)
    name = category.name
    await CategoryService(db_session).delete(category.id)
    message = gettext("Category %(name)s deleted; its documents stay, without a category.", name=name)
    return await _categories_fragment(request, db_session, collection, message=message)


def _pages() -> list[Any]:
    from plugins.knowledge import views_documents, views_faq, views_products, views_search

    return [
        collections_page,
        collection_create,
        collection_delete,
        category_create,
        category_rename,
        category_delete,
        *views_documents.ROUTES,
        *views_faq.ROUTES,
        *views_products.ROUTES,
        *views_search.ROUTES,
    ]


PAGES = _pages()
