"""The ingestion pipeline: extract → clean → chunk → keep unchanged chunks, drop vanished ones, add new
ones → embed what has no vector → index.

Every chunk carries the SHA-256 of its title and text. Re-ingesting a document matches the new
chunks to the stored ones by hash: unchanged chunks keep their rows and their embeddings, so an
unchanged document embeds nothing and an edited one embeds only the chunks whose text changed. The
term statistics BM25 needs (``knowledge_terms``, the collection's chunk count and total length) change
in the same transaction as the chunks.

Documents wait in the table itself (``status = 'queued'``). A tenant has a few runner jobs at most
(``parallel_ingestion`` in its settings, keyed per slot so the queue holds one per slot), each taking
the tenant's next queued document with ``FOR UPDATE SKIP LOCKED`` until none is left, so one
tenant's 2,000 PDFs occupy two worker slots and every other tenant's runners still get theirs. A
sweep every minute starts runners for documents left waiting and requeues documents whose runner died.
"""

from __future__ import annotations

import asyncio
import json
import mimetypes
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from plugins.knowledge.chunking import Chunk as PlannedChunk
from plugins.knowledge.chunking import chunk_blocks
from plugins.knowledge.events import DOCUMENT_INDEXED, DocumentIndexed
from plugins.knowledge.extraction import Block, Extracted, ExtractionFailed, extract, extract_markdown
from plugins.knowledge.models import Chunk, Collection, Document
from plugins.knowledge.search import vector_literal

__all__ = [
    "EMBED_BATCH",
    "IngestReport",
    "blocks_to_markdown",
    "claim_next",
    "ingest_document",
    "queue_ingestion",
    "run_ingestion",
    "sweep",
    "title_from_filename",
]

log = structlog.get_logger("plugins.knowledge.ingest")

EMBED_BATCH = 64
STALE_PROCESSING = timedelta(minutes=15)
WAITING_TOO_LONG = timedelta(seconds=20)
RUNNER_JOB = "knowledge.ingest"


@dataclass(frozen=True)
class IngestReport:
    document_id: UUID
    status: str
    kept: int = 0
    added: int = 0
    removed: int = 0
    embedded: int = 0
    error_code: str | None = None


# --- queueing ---------------------------------------------------------------------------------


async def _parallel_slots(session: AsyncSession) -> int:
    from kernel.sdk import load_plugin_settings

    settings = await load_plugin_settings(session, "knowledge")
    return max(1, int(settings.parallel_ingestion))


async def start_runners(tenant_id: UUID, slots: int) -> None:
    """Queue the tenant's runner jobs (one per slot; a slot whose runner is queued or running is kept)."""
    from kernel.sdk import enqueue

    for slot in range(slots):
        try:
            await enqueue(RUNNER_JOB, tenant_id=tenant_id, key=f"{RUNNER_JOB}:{tenant_id}:{slot}", slot=slot)
        except RuntimeError:  # no queue in this process (a CLI command): the sweep or `reindex` runs it
            return


async def queue_ingestion(session: AsyncSession, document: Document) -> None:
    """Mark ``document`` for (re-)ingestion; its tenant's runners start once the transaction commits."""
    from kernel.sdk import after_commit

    document.status = "queued"
    document.progress = 0
    document.error_code = None
    document.error_params = {}
    slots = await _parallel_slots(session)
    tenant_id = document.tenant_id
    after_commit(session, lambda: start_runners(tenant_id, slots), key=f"{RUNNER_JOB}:{tenant_id}")


async def claim_next(session: AsyncSession, tenant_id: UUID) -> UUID | None:
    """Take the tenant's oldest queued document (skipping those another runner holds)."""
    row = (
        await session.execute(
            text(
                "UPDATE knowledge_documents SET status = 'processing', progress = 5, updated_at = now() "
                "WHERE id = (SELECT id FROM knowledge_documents WHERE tenant_id = :tenant AND status = 'queued' "
                "ORDER BY updated_at, id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id"
            ),
            {"tenant": tenant_id},
        )
    ).first()
    return row.id if row else None


async def run_ingestion(ctx: Any, slot: int = 0) -> dict[str, int]:
    """The runner job: ingest the tenant's queued documents one after another until none is left."""
    from kernel.sdk import tenant_session

    done = 0
    while True:
        async with tenant_session(ctx.tenant_id) as session:
            document_id = await claim_next(session, ctx.tenant_id)
            await session.commit()
        if document_id is None:
            break
        await ctx.heartbeat()
        await ingest_document(ctx.tenant_id, document_id)
        done += 1
    return {"documents": done, "slot": slot}


async def sweep(ctx: Any) -> dict[str, int]:
    """Every minute, for every tenant: requeue documents whose runner died, start runners for waiting ones,
    and queue the re-crawls that are due."""
    from kernel.sdk import platform_session, tenant_session

    now = datetime.now(UTC)
    async with platform_session() as session:
        requeued = (
            await session.execute(
                text(
                    "UPDATE knowledge_documents SET status = 'queued', progress = 0 "
                    "WHERE status = 'processing' AND updated_at < :stale RETURNING id"
                ),
                {"stale": now - STALE_PROCESSING},
            )
        ).all()
        waiting = (
            await session.execute(
                text(
                    "SELECT tenant_id, count(*) AS n FROM knowledge_documents "
                    "WHERE status = 'queued' AND updated_at < :waiting GROUP BY tenant_id"
                ),
                {"waiting": now - WAITING_TOO_LONG},
            )
        ).all()
        await session.commit()
    for row in waiting:
        async with tenant_session(row.tenant_id) as session:
            slots = await _parallel_slots(session)
        await start_runners(row.tenant_id, min(slots, row.n))
    crawls = await _start_due_crawls(now)
    translations = await _restart_lost_translations(now)
    return {"requeued": len(requeued), "tenants": len(waiting), "crawls": crawls, "translations": translations}


async def _restart_lost_translations(now: datetime) -> int:
    """Translations whose job never started or died: queued again (the job key keeps one at a time)."""
    from kernel.sdk import enqueue, platform_session
    from plugins.knowledge.translate import TRANSLATE_JOB

    async with platform_session() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT tenant_id, id FROM knowledge_documents WHERE status = 'translating' AND updated_at < :stale"
                ),
                {"stale": now - STALE_PROCESSING},
            )
        ).all()
    for row in rows:
        await enqueue(TRANSLATE_JOB, tenant_id=row.tenant_id, key=f"{TRANSLATE_JOB}:{row.id}", document_id=str(row.id))
    return len(rows)


async def _start_due_crawls(now: datetime) -> int:
    """Queue the re-crawls whose time has come (and imports whose start was lost)."""
    from kernel.sdk import enqueue, platform_session
    from plugins.knowledge.sources import CRAWL_JOB, due_sources

    async with platform_session() as session:
        due = await due_sources(session, now)
    for tenant_id, source_id in due:
        await enqueue(CRAWL_JOB, tenant_id=tenant_id, key=f"{CRAWL_JOB}:{source_id}", source_id=str(source_id))
    return len(due)


# --- one document -----------------------------------------------------------------------------


def blocks_to_markdown(blocks: list[Block]) -> str:
    """The extracted text as Markdown, for the document's preview and its versions."""
    parts = []
    for block in blocks:
        if block.kind == "heading":
            parts.append("#" * max(1, min(block.level or 1, 6)) + " " + block.text)
        else:
            parts.append(block.text)
    return "\n\n".join(parts)


async def _extract(document: Document) -> Extracted:
    from kernel.sdk import storage

    if document.kind == "editor" or not document.storage_key:
        return extract_markdown(document.body)
    data = await storage().get(document.storage_key)
    filename = document.filename or "document"
    content_type = document.content_type
    if document.kind == "url" and "." not in filename.rsplit("/", 1)[-1]:
        filename += mimetypes.guess_extension((content_type or "text/html").split(";")[0].strip()) or ".html"
    # Extraction is CPU-bound (PDF parsing): off the event loop, so the process keeps serving.
    return await asyncio.to_thread(extract, data, filename=filename, content_type=content_type)


def title_from_filename(filename: str | None) -> str:
    """The title an upload gets when none is given: the file's name without extension, spaced."""
    name = (filename or "").strip()
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.replace("_", " ").replace("-", " ").strip() or name


async def _set_status(tenant_id: UUID, document_id: UUID, version: int, **values: Any) -> bool:
    """Update a document still at ``version`` and still being processed; ``False`` when it moved on."""
    from kernel.sdk import emit, tenant_session

    async with tenant_session(tenant_id) as session:
        result = await session.execute(
            update(Document)
            .where(Document.id == document_id, Document.version == version, Document.status == "processing")
            .values(**values)
        )
        changed = result.rowcount == 1  # type: ignore[attr-defined]
        if changed and values.get("status") in ("ready", "failed"):
            await emit(
                session,
                DOCUMENT_INDEXED,
                DocumentIndexed(
                    document_id=document_id,
                    status=values["status"],
                    chunk_count=values.get("chunk_count"),
                    error_code=values.get("error_code"),
                ),
            )
        await session.commit()
        return changed


async def ingest_document(tenant_id: UUID, document_id: UUID) -> IngestReport:
    """Bring one document's chunks, statistics and embeddings in line with its current text."""
    from kernel.sdk import tenant_session

    async with tenant_session(tenant_id) as session:
        document = await session.get(Document, document_id)
        if document is None:
            return IngestReport(document_id, "missing")
        collection = await session.get(Collection, document.collection_id)
        assert collection is not None
        version = document.version
        if document.status != "processing":
            document.status = "processing"
            await session.commit()
        session.expunge_all()

    try:
        extracted = await _extract(document)
        blocks = extracted.blocks
        if not any(block.text.strip() for block in blocks):
            raise ExtractionFailed("no_text")
        planned = chunk_blocks(blocks, size=collection.chunk_size, overlap=collection.chunk_overlap)
        if not planned:
            raise ExtractionFailed("no_text")
    except Exception as exc:
        if isinstance(exc, ExtractionFailed):
            code, params = exc.code, dict(exc.params)
        else:
            log.exception("knowledge_extraction_failed", document_id=str(document_id))
            code, params = "corrupt", {"detail": type(exc).__name__}
        await _set_status(
            tenant_id, document_id, version, status="failed", progress=100, error_code=code, error_params=params
        )
        return IngestReport(document_id, "failed", error_code=code)

    async with tenant_session(tenant_id) as session:
        locked = (
            await session.execute(select(Document).where(Document.id == document_id).with_for_update())
        ).scalar_one_or_none()
        if locked is None or locked.version != version or locked.status != "processing":
            await session.rollback()
            return IngestReport(document_id, "superseded")
        kept, added, removed = await apply_chunks(session, locked, collection, planned)
        if locked.kind != "editor":
            locked.body = blocks_to_markdown(blocks)
        if locked.kind == "file" and extracted.title and locked.title == title_from_filename(locked.filename):
            locked.title = extracted.title[:300]  # the file's own title beats one made from its name
        locked.chunk_count = len(planned)
        locked.progress = 40
        await session.commit()

    embedded = 0
    error: tuple[str, dict[str, Any]] | None = None
    if collection.embedding_model and collection.embedding_provider:
        try:
            embedded = await embed_missing(tenant_id, collection, document_id, version)
        except Exception as exc:
            log.warning("knowledge_embedding_failed", document_id=str(document_id), error=str(exc))
            error = ("embedding_failed", {"detail": str(getattr(exc, "detail", None) or exc)[:300]})
    finished = await _set_status(
        tenant_id,
        document_id,
        version,
        status="ready",
        progress=100,
        indexed_at=datetime.now(UTC),
        chunk_count=len(planned),
        error_code=error[0] if error else None,
        error_params=error[1] if error else {},
    )
    return IngestReport(
        document_id,
        "ready" if finished else "superseded",
        kept=kept,
        added=added,
        removed=removed,
        embedded=embedded,
        error_code=error[0] if error else None,
    )


async def apply_chunks(
    session: AsyncSession, document: Document, collection: Collection, planned: list[PlannedChunk]
) -> tuple[int, int, int]:
    """Replace the document's chunks by ``planned``, keeping rows whose hash is unchanged.

    Returns (kept, added, removed). Term statistics and the collection's totals change with them.
    """
    existing = (
        await session.execute(
            select(Chunk.id, Chunk.content_sha256, Chunk.ordinal).where(Chunk.document_id == document.id)
        )
    ).all()
    by_hash: dict[str, list[UUID]] = defaultdict(list)
    for row in sorted(existing, key=lambda r: r.ordinal):
        by_hash[row.content_sha256].append(row.id)
    keep: list[tuple[UUID, PlannedChunk]] = []
    new: list[PlannedChunk] = []
    for chunk in planned:
        matches = by_hash.get(chunk.sha256)
        if matches:
            keep.append((matches.pop(0), chunk))
        else:
            new.append(chunk)
    vanished = [chunk_id for ids in by_hash.values() for chunk_id in ids]

    if vanished:
        await _count_terms(session, collection, vanished, sign=-1)
        await session.execute(delete(Chunk).where(Chunk.id.in_(vanished)))
    if keep:
        # One executemany for every kept row: their text (and so their vector) did not change.
        await session.execute(
            text(
                "UPDATE knowledge_chunks SET ordinal = :ordinal, page = :page, category_id = :category, "
                "meta = CAST(:meta AS jsonb) WHERE id = :id"
            ),
            [
                {
                    "id": chunk_id,
                    "ordinal": chunk.ordinal,
                    "page": chunk.page,
                    "category": document.category_id,
                    "meta": json.dumps(document.meta or {}),
                }
                for chunk_id, chunk in keep
            ],
        )
    rows = [
        Chunk(
            collection_id=collection.id,
            document_id=document.id,
            category_id=document.category_id,
            ordinal=chunk.ordinal,
            title=chunk.title[:300],
            content=chunk.content,
            content_sha256=chunk.sha256,
            language=collection.language,
            page=chunk.page,
            meta=dict(document.meta or {}),
        )
        for chunk in new
    ]
    session.add_all(rows)
    await session.flush()
    if rows:
        ids = [row.id for row in rows]
        await session.execute(
            text(
                "UPDATE knowledge_chunks c SET length = coalesce((SELECT sum(cardinality(u.positions) + "
                "coalesce(cardinality(array_positions(u.weights, 'A')), 0)) FROM unnest(c.tsv) u), 0) "
                "WHERE c.id = ANY(:ids)"
            ).bindparams(bindparam("ids", type_=ARRAY(Uuid()))),
            {"ids": ids},
        )
        await _count_terms(session, collection, ids, sign=1)
    return len(keep), len(rows), len(vanished)


async def _count_terms(session: AsyncSession, collection: Collection, chunk_ids: list[UUID], *, sign: int) -> None:
    """Add (``sign=1``) or remove (``-1``) the chunks' lexemes and lengths from the collection's statistics."""
    ids = bindparam("ids", type_=ARRAY(Uuid()))
    totals = (
        await session.execute(
            text(
                "SELECT count(*) AS n, coalesce(sum(length), 0) AS total FROM knowledge_chunks WHERE id = ANY(:ids)"
            ).bindparams(ids),
            {"ids": chunk_ids},
        )
    ).one()
    await session.execute(
        text(
            "UPDATE knowledge_collections SET chunk_count = greatest(0, chunk_count + :n), "
            "total_length = greatest(0, total_length + :total), updated_at = now() WHERE id = :collection"
        ),
        {"n": sign * totals.n, "total": sign * int(totals.total), "collection": collection.id},
    )
    counts = text(
        "SELECT u.lexeme, count(*) AS n FROM knowledge_chunks c CROSS JOIN LATERAL unnest(c.tsv) u "
        "WHERE c.id = ANY(:ids) GROUP BY u.lexeme ORDER BY u.lexeme"
    )
    if sign > 0:
        # Rows are locked in lexeme order, so two runners of one collection never deadlock on them.
        await session.execute(
            text(
                "INSERT INTO knowledge_terms (id, tenant_id, collection_id, lexeme, df, created_at, updated_at) "
                f"SELECT gen_random_uuid(), :tenant, :collection, t.lexeme, t.n, now(), now() FROM ({counts.text}) t "
                "ON CONFLICT (collection_id, lexeme) DO UPDATE SET df = knowledge_terms.df + excluded.df, "
                "updated_at = now()"
            ).bindparams(ids),
            {"ids": chunk_ids, "tenant": collection.tenant_id, "collection": collection.id},
        )
    else:
        await session.execute(
            text(
                f"WITH t AS ({counts.text}), locked AS (SELECT k.id FROM knowledge_terms k JOIN t "
                "ON k.collection_id = :collection AND k.lexeme = t.lexeme ORDER BY k.lexeme FOR UPDATE) "
                "UPDATE knowledge_terms k SET df = greatest(0, k.df - t.n), updated_at = now() FROM t "
                "WHERE k.collection_id = :collection AND k.lexeme = t.lexeme AND k.id IN (SELECT id FROM locked)"
            ).bindparams(ids),
            {"ids": chunk_ids, "collection": collection.id},
        )
        await session.execute(
            text("DELETE FROM knowledge_terms WHERE collection_id = :collection AND df <= 0"),
            {"collection": collection.id},
        )


async def embed_missing(tenant_id: UUID, collection: Collection, document_id: UUID, version: int) -> int:
    """Embed the document's chunks that have no vector yet, a batch per transaction; returns how many."""
    from kernel.sdk import ModelConfig, ValidationFailed, current_gateway, database_capabilities, tenant_session

    if not (await database_capabilities()).pgvector:
        return 0
    model = ModelConfig(provider=collection.embedding_provider, model=collection.embedding_model)  # type: ignore[arg-type]
    async with tenant_session(tenant_id) as session:
        pending = (
            await session.execute(
                select(Chunk.id, Chunk.title, Chunk.content)
                .where(Chunk.document_id == document_id, Chunk.embedding_dims.is_(None))
                .order_by(Chunk.ordinal)
            )
        ).all()
        total = (await session.execute(select(Chunk.id).where(Chunk.document_id == document_id))).scalars().all()
    done = 0
    for start in range(0, len(pending), EMBED_BATCH):
        batch = pending[start : start + EMBED_BATCH]
        vectors = await current_gateway().embed(
            tenant_id=tenant_id, texts=[embedding_text(row.title, row.content) for row in batch], model=model
        )
        dims = len(vectors[0]) if vectors else 0
        async with tenant_session(tenant_id) as session:
            fixed = (
                await session.execute(select(Collection.embedding_dims).where(Collection.id == collection.id))
            ).scalar()
            if fixed is None:
                await session.execute(
                    update(Collection).where(Collection.id == collection.id).values(embedding_dims=dims)
                )
            elif fixed != dims:
                raise ValidationFailed(
                    "The embedding model answered vectors of %(got)d dimensions; this collection uses %(want)d.",
                    got=dims,
                    want=fixed,
                )
            await session.execute(
                text(
                    "UPDATE knowledge_chunks SET embedding = CAST(:vector AS vector), embedding_dims = :dims "
                    "WHERE id = :id"
                ),
                [
                    {"vector": vector_literal(vector), "dims": dims, "id": row.id}
                    for row, vector in zip(batch, vectors, strict=True)
                ],
            )
            done += len(batch)
            embedded_now = len(total) - len(pending) + done
            await session.execute(
                update(Document)
                .where(Document.id == document_id, Document.version == version)
                .values(
                    embedded_count=embedded_now,
                    progress=40 + int(60 * embedded_now / max(1, len(total))) - 1,
                )
            )
            await session.commit()
    if not pending:
        async with tenant_session(tenant_id) as session:
            await session.execute(update(Document).where(Document.id == document_id).values(embedded_count=len(total)))
            await session.commit()
    return done


def embedding_text(title: str, content: str) -> str:
    return f"{title}\n{content}" if title else content
