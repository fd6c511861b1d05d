"""LLM tools: what an AI agent may ask the knowledge base and the catalog."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kernel.sdk import LLMTool, load_plugin_settings, tenant_session
from plugins.knowledge.models import Collection
from plugins.knowledge.products import ProductService
from plugins.knowledge.search import search

__all__ = ["SEARCH_KNOWLEDGE", "SEARCH_PRODUCTS", "search_knowledge", "search_products"]


async def _collection_ids(session: Any, collection: str | None) -> list[UUID] | None:
    """``None`` (every collection) without a name; the collection named (or with that id) otherwise."""
    if not collection or not collection.strip():
        return None
    from sqlalchemy import func, select

    wanted = collection.strip()
    try:
        by_id = await session.get(Collection, UUID(wanted))
    except ValueError:  # not an id: a name
        by_id = None
    if by_id is not None:
        return [by_id.id]
    statement = select(Collection.id).where(func.lower(Collection.name) == wanted.lower())
    return list((await session.execute(statement)).scalars())


async def search_knowledge(query: str, collection: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Passages of the tenant's knowledge (collections open to agents) that answer ``query``."""
    async with tenant_session() as session:
        settings = await load_plugin_settings(session, "knowledge")
        ids = await _collection_ids(session, collection)
        if ids == []:
            return {"passages": [], "reason": f"no collection named {collection!r}"}
        result = await search(
            session,
            query,
            collection_ids=ids,
            limit=max(1, min(limit or settings.search_results, settings.search_results)),
            for_agents=True,
        )
        await session.commit()
    return {
        "passages": [
            {
                "source": index,
                "document": hit.document_title,
                "section": hit.title,
                "text": hit.content[:1500],
                "url": hit.url,
                "page": hit.page,
                "score": hit.score,
            }
            for index, hit in enumerate(result.hits, start=1)
        ],
        "mode": result.mode,
    }


async def search_products(query: str | None = None, sku: str | None = None, limit: int = 5) -> dict[str, Any]:
    """Active products matching ``sku`` exactly or ``query`` by name and description, with price and stock."""
    async with tenant_session() as session:
        products = await ProductService(session).search(query, sku=sku, limit=limit)
    return {
        "products": [
            {
                "name": product.name,
                "sku": product.sku,
                "price": {"cents": product.price_cents, "currency": product.currency},
                "in_stock": product.stock is None or product.stock > 0,
                "stock": product.stock,
                "description": product.description[:600],
                "attributes": product.attributes,
            }
            for product in products
        ]
    }


SEARCH_KNOWLEDGE = LLMTool(
    name="search_knowledge",
    description=(
        "Search the company's knowledge base (documents, policies, help articles) and return the passages "
        "that answer a question. Cite passages by their source number."
    ),
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "The question or keywords, in the customer's language"},
            "collection": {"type": "string", "description": "Only this collection (its name), if given"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 20},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    handler=search_knowledge,
    permission="knowledge.document.read",
)

SEARCH_PRODUCTS = LLMTool(
    name="search_products",
    description=(
        "Look up products of the catalog by name, description or SKU code and return price, currency and stock."
    ),
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Product name or description"},
            "sku": {"type": "string", "description": "The product code, when the customer gave one"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        },
        "additionalProperties": False,
    },
    handler=search_products,
    permission="knowledge.product.read",
)
