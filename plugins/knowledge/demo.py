"""A new organization's first collection, and the sample knowledge of demo organizations.

The demo fills every table of the plugin (the isolation harness probes each one), and indexes its
documents in place so that search works at once, without waiting for the job queue.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.knowledge.chunking import chunk_blocks
from plugins.knowledge.extraction import extract_markdown
from plugins.knowledge.models import (
    Category,
    Collection,
    Document,
    Faq,
    Product,
    ProductDocument,
    Source,
    UnansweredQuestion,
)

__all__ = ["DEFAULT_COLLECTION", "ensure_default_collection", "index_now", "seed"]

DEFAULT_COLLECTION = "Atendimento"

EXCHANGES = """# Trocas e devoluções

## Prazo

Você pode devolver qualquer produto em até 7 dias corridos após o recebimento, sem precisar explicar o motivo.
Produtos com defeito podem ser trocados em até 90 dias.

## Como pedir

Envie o número do pedido pelo WhatsApp. Geramos uma etiqueta de postagem gratuita para os Correios.
O reembolso é feito no mesmo meio de pagamento, em até 10 dias úteis depois que o produto chegar.
"""

HOURS = """# Horário de atendimento

Atendemos de segunda a sexta, das 9h às 18h, e aos sábados das 9h às 13h.
Em feriados nacionais a loja fica fechada. Pedidos feitos fora do horário são respondidos no dia útil seguinte.
"""


async def ensure_default_collection(session: AsyncSession) -> Collection:
    """The organization's first collection (full text only until someone picks an embedding model)."""
    found = (await session.execute(select(Collection).order_by(Collection.created_at).limit(1))).scalar_one_or_none()
    if found is not None:
        return found
    collection = Collection(
        name=DEFAULT_COLLECTION,
        description="",
        language="pt",
        chunk_size=1200,
        chunk_overlap=150,
        faq_threshold=0.82,
        owner_ids=[],
        agents_may_read=True,
        chunk_count=0,
        total_length=0,
    )
    session.add(collection)
    await session.flush()
    return collection


async def index_now(session: AsyncSession, document: Document, collection: Collection) -> None:
    """Chunk and index an editor document in the caller's transaction (no embeddings)."""
    from plugins.knowledge.ingest import apply_chunks

    planned = chunk_blocks(
        extract_markdown(document.body).blocks, size=collection.chunk_size, overlap=collection.chunk_overlap
    )
    await apply_chunks(session, document, collection, planned)
    await session.refresh(collection)
    document.chunk_count = len(planned)
    document.status, document.progress, document.indexed_at = "ready", 100, datetime.now(UTC)


async def seed(session: AsyncSession) -> None:
    collection = await ensure_default_collection(session)
    if (await session.execute(select(func.count(Document.id)))).scalar_one():
        return
    category = Category(collection_id=collection.id, name="Políticas", description="Trocas, prazos e horários")
    session.add(category)
    await session.flush()
    source = Source(
        collection_id=collection.id,
        category_id=category.id,
        url="https://example.com/ajuda",
        mode="page",
        page_limit=1,
        status="ready",
        pages_found=0,
        pages_failed=0,
    )
    session.add(source)
    documents = []
    for title, body in (("Trocas e devoluções", EXCHANGES), ("Horário de atendimento", HOURS)):
        document = Document(
            collection_id=collection.id,
            category_id=category.id,
            title=title,
            kind="editor",
            body=body,
            language="pt",
            status="processing",
            progress=0,
            error_params={},
            chunk_count=0,
            embedded_count=0,
            meta={"setor": "atendimento"},
            version=1,
        )
        session.add(document)
        await session.flush()
        from plugins.knowledge.services import DocumentService

        DocumentService(session)._version(document, note="created")
        await index_now(session, document, collection)
        documents.append(document)
    session.add(
        Faq(
            collection_id=collection.id,
            question="Qual o prazo para devolver um produto?",
            answer="Você pode devolver em até 7 dias corridos após o recebimento.",
            status="approved",
            origin="manual",
            language="pt",
            hit_count=0,
        )
    )
    session.add(
        UnansweredQuestion(
            collection_id=collection.id,
            question="Vocês entregam no interior?",
            normalized="voces entregam no interior",
            times=1,
            last_asked_at=datetime.now(UTC),
            status="open",
        )
    )
    product = Product(
        name="Camiseta básica algodão",
        sku="CAM-001",
        description="Camiseta 100% algodão, gola redonda, tamanhos P a GG.",
        price_cents=4990,
        currency="BRL",
        stock=25,
        attributes={"cor": "preta"},
        images=[],
        active=True,
    )
    session.add(product)
    await session.flush()
    session.add(ProductDocument(product_id=product.id, document_id=documents[0].id))
    await session.flush()
