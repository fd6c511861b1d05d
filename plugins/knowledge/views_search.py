"""The "try a search" page: what an AI agent would retrieve for a customer's question, and why.

The FAQ entry that answers directly (with its closeness), then the passages with their document,
section, highlighted snippet, fused score and the position each ranking gave them. Trying does not
count as a use of the FAQ entry: its hit count is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import database_capabilities, load_plugin_settings, render_page
from kernel.web.shell import fragment
from plugins.knowledge.faq import FaqService
from plugins.knowledge.search import search
from plugins.knowledge.services import CollectionService
from plugins.knowledge.views_shared import READ, parse_uuid, targets

__all__ = ["ROUTES"]

SEARCH = "/app/knowledge/search"
RESULTS_ID = "search-results"
MAX_QUERY = 300


@dataclass(frozen=True)
class DirectAnswer:
    id: UUID
    question: str
    answer: str
    score: float
    measure: str


async def _direct_answer(session: AsyncSession, query: str, collection_ids: list[UUID] | None) -> DirectAnswer | None:
    """The FAQ entry that would answer, read inside a savepoint that is rolled back (no hit is counted)."""
    savepoint = await session.begin_nested()
    try:
        found = await FaqService(session).match(query, collection_ids=collection_ids)
        answer = (
            DirectAnswer(found.faq.id, found.faq.question, found.faq.answer, found.score, found.measure)
            if found
            else None
        )
    finally:
        await savepoint.rollback()
    return answer


@get("/search", opt=READ)
async def search_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    query = " ".join((request.query_params.get("q") or "").split())[:MAX_QUERY]
    collections = [c for c in await CollectionService(db_session).list() if c.agents_may_read]
    chosen = parse_uuid(request.query_params.get("collection_id"))
    if chosen not in {c.id for c in collections}:
        chosen = None
    ids = [chosen] if chosen else None
    settings = await load_plugin_settings(db_session, "knowledge")
    result = None
    direct = None
    if query:
        result = await search(db_session, query, collection_ids=ids, limit=settings.search_results, for_agents=True)
        direct = await _direct_answer(db_session, query, ids or [c.id for c in collections])
    context = {
        "query": query,
        "collection_id": str(chosen or ""),
        "collections": collections,
        "result": result,
        "snippets": [Markup(hit.snippet) for hit in result.hits] if result else [],  # noqa: S704 - escaped by search
        "direct": direct,
        "pgvector": bool((await database_capabilities()).pgvector),
        "passages": settings.search_results,
        "search_path": SEARCH,
    }
    if targets(request, RESULTS_ID):
        return fragment(request, "knowledge/_search_results.html", **context)
    return render_page(request, "knowledge/search.html", **context)


ROUTES = [search_page]
