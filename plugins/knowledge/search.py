"""Search over a tenant's knowledge: BM25 over PostgreSQL full text, typo correction, titles by
trigram, vectors by pgvector, fused by reciprocal rank.

Customers type questions, not keywords. An AND query finds almost nothing for "qual o prazo pra
devolver um produto com defeito?", and ``ts_rank_cd`` over an OR query ranks by raw term counts, so
the lexical side here is BM25: the question's lexemes (in the collection's unaccented configuration,
stop words gone) are OR-ed to find candidates through the GIN index, and each candidate is scored
with IDF-weighted, length-normalized term frequency from the chunk's own ``tsvector`` (titles count
twice). Document frequencies come from ``knowledge_terms``, which ingestion keeps in step. Lexemes
that no chunk holds are looked up in that vocabulary by trigram similarity (``garantai`` →
``garant``), and document titles are matched by trigram on their own, so typos still find things.

With an embedding model on the collection and pgvector on the server, the query's embedding is
compared by cosine distance (HNSW, partial index per vector size, iterative scan so the tenant
filter does not starve the result). The ranked lists are fused by reciprocal rank (k = 60).
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Float, String, Uuid

from plugins.knowledge.models import Collection

__all__ = [
    "BM25_B",
    "BM25_K1",
    "RRF_K",
    "TS_CONFIGS",
    "Hit",
    "SearchResult",
    "embed_query",
    "search",
    "vector_literal",
]

RRF_K = 60
BM25_K1 = 1.2
BM25_B = 0.75
CANDIDATES = 40
"""How deep each ranked list goes before fusion."""
PRESCORE_LIMIT = 400
"""Chunks scored with BM25 at most: the best by the IDF of the query terms they hold."""
FINDER_SHARE = 0.05
FINDER_MINIMUM = 2000
"""The rarest query lexemes find the candidates, until their passages make up this share of the
collection (or this many passages, whichever is more: a small collection uses every lexeme)."""
TYPO_SIMILARITY = 0.45
TITLE_SIMILARITY = 0.5
TS_CONFIGS = {"pt": "atendai_pt", "en": "atendai_en", "es": "atendai_es"}
HIGHLIGHT_START, HIGHLIGHT_STOP = "\x02", "\x03"
_SAFE_LEXEME = re.compile(r"^[\w.\-]+$")
_ADVANCED = re.compile(r'"|(?:^|\s)-\w|\bor\b', re.IGNORECASE)

Mode = Literal["auto", "hybrid", "fulltext", "vector"]


@dataclass(frozen=True)
class Hit:
    chunk_id: UUID
    document_id: UUID
    collection_id: UUID
    document_title: str
    title: str
    content: str
    snippet: str
    """HTML: the content around the matched words, escaped, with the words in ``<mark>``."""
    score: float
    """The fused reciprocal-rank score (higher is better)."""
    ranks: dict[str, int] = field(default_factory=dict)
    """Position in each list that found it: ``lexical``, ``vector``, ``title`` (1 is first)."""
    lexical_score: float | None = None
    """BM25."""
    vector_score: float | None = None
    """Cosine similarity."""
    page: int | None = None
    url: str | None = None
    category_id: UUID | None = None


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[Hit]
    mode: Literal["hybrid", "fulltext", "vector"]
    corrections: dict[str, str] = field(default_factory=dict)
    """Query lexemes no chunk holds, and the vocabulary lexeme searched instead."""
    vector_available: bool = False
    """pgvector is installed and a searched collection has an embedding model."""
    notes: list[str] = field(default_factory=list)
    """Why a part of the search did not run (e.g. ``no_pgvector``, ``embedding_failed``)."""


def vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"


def _tsquery_literal(lexemes: Iterable[str]) -> str:
    return " | ".join(f"'{lexeme}'" for lexeme in lexemes)


async def _collections(session: AsyncSession, collection_ids: Sequence[UUID] | None) -> list[Collection]:
    statement = select(Collection).order_by(Collection.name)
    if collection_ids is not None:
        statement = statement.where(Collection.id.in_(list(collection_ids)))
    return list((await session.execute(statement)).scalars())


async def _query_lexemes(session: AsyncSession, config: str, query: str) -> list[str]:
    rows = await session.execute(
        text("SELECT DISTINCT lexeme FROM unnest(to_tsvector(CAST(:config AS regconfig), :query))"),
        {"config": config, "query": query},
    )
    return sorted(lexeme for lexeme in rows.scalars() if _SAFE_LEXEME.match(lexeme))


async def _document_frequencies(
    session: AsyncSession, collection_ids: list[UUID], lexemes: list[str]
) -> dict[str, int]:
    rows = await session.execute(
        text(
            "SELECT lexeme, sum(df)::int FROM knowledge_terms "
            "WHERE collection_id = ANY(:collections) AND lexeme = ANY(:lexemes) AND df > 0 GROUP BY lexeme"
        ).bindparams(
            bindparam("collections", type_=ARRAY(Uuid())),
            bindparam("lexemes", type_=ARRAY(String())),
        ),
        {"collections": collection_ids, "lexemes": lexemes},
    )
    return {lexeme: df for lexeme, df in rows.all()}


async def _correct(session: AsyncSession, collection_ids: list[UUID], lexeme: str) -> tuple[str, int] | None:
    """The vocabulary lexeme closest to ``lexeme`` by trigrams (a typo's likely intent), with its df."""
    if len(lexeme) < 4:
        return None
    await session.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :limit, true)"), {"limit": "0.3"})
    row = (
        await session.execute(
            text(
                "SELECT lexeme, sum(df)::int AS df, similarity(lexeme, :lexeme) AS sim FROM knowledge_terms "
                "WHERE collection_id = ANY(:collections) AND lexeme % :lexeme AND df > 0 "
                "GROUP BY lexeme ORDER BY sim DESC, df DESC LIMIT 1"
            ).bindparams(bindparam("collections", type_=ARRAY(Uuid()))),
            {"collections": collection_ids, "lexeme": lexeme},
        )
    ).first()
    if row is None or row.sim < TYPO_SIMILARITY:
        return None
    return row.lexeme, row.df


def _filters(category_ids: Sequence[UUID] | None, meta: dict[str, Any] | None, alias: str = "c") -> str:
    clauses = []
    if category_ids:
        clauses.append(f"AND {alias}.category_id = ANY(:categories)")
    if meta:
        clauses.append(f"AND {alias}.meta @> :meta")
    return " ".join(clauses)


def _filter_params(category_ids: Sequence[UUID] | None, meta: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if category_ids:
        params["categories"] = list(category_ids)
    if meta:
        params["meta"] = meta
    return params


def _bind_filters(statement: Any, params: dict[str, Any]) -> Any:
    binds = [bindparam("collections", type_=ARRAY(Uuid()))]
    if "categories" in params:
        binds.append(bindparam("categories", type_=ARRAY(Uuid())))
    if "meta" in params:
        binds.append(bindparam("meta", type_=JSONB()))
    return statement.bindparams(*binds)


@dataclass
class _Lexical:
    ranked: list[tuple[UUID, float]]
    corrections: dict[str, str]
    tsquery: str


async def _lexical(
    session: AsyncSession,
    collections: list[Collection],
    query: str,
    *,
    category_ids: Sequence[UUID] | None,
    meta: dict[str, Any] | None,
    advanced: str | None,
) -> _Lexical:
    """BM25 over the collections of one language; ``advanced`` is a ``websearch_to_tsquery`` that must match."""
    config = TS_CONFIGS.get(collections[0].language, "atendai_pt")
    ids = [collection.id for collection in collections]
    lexemes = await _query_lexemes(session, config, query)
    if not lexemes:
        return _Lexical([], {}, "")
    total_chunks = sum(collection.chunk_count for collection in collections)
    if total_chunks == 0:
        return _Lexical([], {}, _tsquery_literal(lexemes))
    average_length = max(1.0, sum(collection.total_length for collection in collections) / total_chunks)
    frequencies = await _document_frequencies(session, ids, lexemes)
    corrections: dict[str, str] = {}
    weights: dict[str, float] = {}
    dfs: dict[str, int] = {}
    for lexeme in lexemes:
        df = frequencies.get(lexeme)
        penalty = 1.0
        if df is None:
            corrected = await _correct(session, ids, lexeme)
            if corrected is None:
                continue
            corrections[lexeme], df = corrected
            lexeme, penalty = corrected[0], 0.8
        idf = math.log(1 + (total_chunks - df + 0.5) / (df + 0.5))
        weights[lexeme] = max(weights.get(lexeme, 0.0), idf * penalty)
        dfs[lexeme] = df
    if not weights:
        return _Lexical([], corrections, "")
    # Candidates come from the rarest lexemes, until their passages make up FINDER_SHARE of the
    # collection (FINDER_MINIMUM at least): a common word ("entrega" in half the passages) would make every passage a candidate
    # while adding little to any score. Every lexeme still scores the candidates.
    finders: list[str] = []
    covered = 0
    for lexeme in sorted(weights, key=lambda name: (dfs[name], name)):
        if finders and covered + dfs[lexeme] > max(FINDER_SHARE * total_chunks, FINDER_MINIMUM):
            break
        finders.append(lexeme)
        covered += dfs[lexeme]
    terms = sorted(weights)
    params: dict[str, Any] = {
        "collections": ids,
        "tenant": collections[0].tenant_id,
        "finders": _tsquery_literal(sorted(finders)),
        "lexemes": terms,
        "idfs": [weights[lexeme] for lexeme in terms],
        "queries": [f"'{lexeme}'" for lexeme in terms],
        "avgdl": average_length,
        "k1": BM25_K1,
        "b": BM25_B,
        "limit": CANDIDATES,
        "prescore": PRESCORE_LIMIT,
        **_filter_params(category_ids, meta),
    }
    must = ""
    if advanced:
        must = "AND c.tsv @@ websearch_to_tsquery(CAST(:config AS regconfig), :advanced)"
        params.update(config=config, advanced=advanced)
    statement = text(
        f"""
        WITH q AS (
            SELECT lexeme, idf, CAST(query AS tsquery) AS tsq
            FROM unnest(CAST(:lexemes AS text[]), CAST(:idfs AS float8[]), CAST(:queries AS text[]))
                AS q(lexeme, idf, query)
        ),
        candidates AS (
            SELECT c.id, c.length, c.tsv
            FROM knowledge_chunks c
            WHERE c.tenant_id = :tenant AND c.collection_id = ANY(:collections)
              AND c.tsv @@ CAST(:finders AS tsquery) {must} {_filters(category_ids, meta)}
            ORDER BY (SELECT sum(q.idf) FROM q WHERE c.tsv @@ q.tsq) DESC
            LIMIT :prescore
        )
        SELECT candidates.id,
               sum(q.idf * tf.n * (CAST(:k1 AS float8) + 1) / (tf.n + CAST(:k1 AS float8) * (1 - CAST(:b AS float8)
                   + CAST(:b AS float8) * candidates.length / CAST(:avgdl AS float8)))) AS score
        FROM candidates
        CROSS JOIN LATERAL unnest(candidates.tsv) AS u
        JOIN q ON q.lexeme = u.lexeme
        CROSS JOIN LATERAL (
            SELECT cardinality(u.positions) + coalesce(cardinality(array_positions(u.weights, 'A')), 0) AS n
        ) AS tf
        GROUP BY candidates.id
        ORDER BY score DESC, candidates.id
        LIMIT :limit
        """
    )
    statement = _bind_filters(statement, params).bindparams(
        bindparam("lexemes", type_=ARRAY(String())),
        bindparam("idfs", type_=ARRAY(Float())),
        bindparam("queries", type_=ARRAY(String())),
    )
    rows = (await session.execute(statement, params)).all()
    return _Lexical([(row.id, float(row.score)) for row in rows], corrections, params["finders"])


async def _titles(
    session: AsyncSession,
    collection_ids: list[UUID],
    tenant_id: UUID,
    query: str,
    *,
    category_ids: Sequence[UUID] | None,
    meta: dict[str, Any] | None,
) -> list[tuple[UUID, float]]:
    """The first chunk of each document whose title is close to the query by trigrams."""
    params = {
        "collections": collection_ids,
        "tenant": tenant_id,
        "query": query,
        "threshold": TITLE_SIMILARITY,
        "limit": CANDIDATES,
        **_filter_params(category_ids, meta),
    }
    statement = text(
        f"""
        SELECT DISTINCT ON (d.id) c.id, word_similarity(atendai_unaccent(lower(:query)), d.title_key) AS sim
        FROM knowledge_documents d
        JOIN knowledge_chunks c ON c.document_id = d.id
        WHERE d.tenant_id = :tenant AND d.collection_id = ANY(:collections)
          AND atendai_unaccent(lower(:query)) <% d.title_key
          {_filters(category_ids, meta)}
        ORDER BY d.id, c.ordinal
        """
    )
    await session.execute(
        text("SELECT set_config('pg_trgm.word_similarity_threshold', :limit, true)"), {"limit": str(TITLE_SIMILARITY)}
    )
    rows = (await session.execute(_bind_filters(statement, params), params)).all()
    ranked = sorted(((row.id, float(row.sim)) for row in rows if row.sim >= TITLE_SIMILARITY), key=lambda r: -r[1])
    return ranked[:CANDIDATES]


async def embed_query(tenant_id: UUID, collection: Collection, query: str) -> list[float]:
    from kernel.sdk import ModelConfig, current_gateway

    model = ModelConfig(provider=collection.embedding_provider, model=collection.embedding_model)  # type: ignore[arg-type]
    vectors = await current_gateway().embed(tenant_id=tenant_id, texts=[query], model=model)
    return vectors[0]


async def _vector(
    session: AsyncSession,
    collection_ids: list[UUID],
    tenant_id: UUID,
    vector: list[float],
    *,
    category_ids: Sequence[UUID] | None,
    meta: dict[str, Any] | None,
) -> list[tuple[UUID, float]]:
    dims = len(vector)
    cast = f"halfvec({dims})" if dims > 2000 else f"vector({dims})"
    await session.execute(text("SELECT set_config('hnsw.iterative_scan', 'strict_order', true)"))
    await session.execute(text("SELECT set_config('hnsw.ef_search', '100', true)"))
    params = {
        "collections": collection_ids,
        "tenant": tenant_id,
        "vector": vector_literal(vector),
        "dims": dims,
        "limit": CANDIDATES,
        **_filter_params(category_ids, meta),
    }
    statement = text(
        f"""
        SELECT c.id, 1 - (CAST(c.embedding AS {cast}) <=> CAST(:vector AS {cast})) AS similarity
        FROM knowledge_chunks c
        WHERE c.tenant_id = :tenant AND c.collection_id = ANY(:collections) AND c.embedding_dims = :dims
          {_filters(category_ids, meta)}
        ORDER BY CAST(c.embedding AS {cast}) <=> CAST(:vector AS {cast})
        LIMIT :limit
        """
    )
    rows = (await session.execute(_bind_filters(statement, params), params)).all()
    return [(row.id, float(row.similarity)) for row in rows]


def fuse(lists: dict[str, list[tuple[UUID, float]]], k: int = RRF_K) -> list[tuple[UUID, float, dict[str, int]]]:
    """Reciprocal rank fusion: each list adds ``1 / (k + rank)`` to the items it ranked."""
    scores: dict[UUID, float] = defaultdict(float)
    ranks: dict[UUID, dict[str, int]] = defaultdict(dict)
    for name, ranked in lists.items():
        for position, (item, _score) in enumerate(ranked, start=1):
            scores[item] += 1.0 / (k + position)
            ranks[item][name] = position
    order = sorted(scores, key=lambda item: (-scores[item], min(ranks[item].values()), str(item)))
    return [(item, scores[item], ranks[item]) for item in order]


def _snippet(headline: str | None, content: str) -> str:
    if not headline or HIGHLIGHT_START not in headline:
        cut = content[:280]
        return html.escape(cut + ("…" if len(content) > 280 else ""))
    escaped = html.escape(headline)
    return escaped.replace(HIGHLIGHT_START, "<mark>").replace(HIGHLIGHT_STOP, "</mark>")


async def _hits(
    session: AsyncSession,
    fused: list[tuple[UUID, float, dict[str, int]]],
    scores: dict[str, dict[UUID, float]],
    tsquery: dict[str, str],
) -> list[Hit]:
    if not fused:
        return []
    ids = [item for item, _score, _ranks in fused]
    statement = text(
        """
        SELECT c.id, c.document_id, c.collection_id, c.title, c.content, c.page, c.category_id, c.language,
               d.title AS document_title, d.url,
               CASE WHEN :pt <> '' AND c.language NOT IN ('en', 'es') THEN ts_headline('atendai_pt', c.content,
                    CAST(:pt AS tsquery), :options)
                    WHEN :en <> '' AND c.language = 'en' THEN ts_headline('atendai_en', c.content,
                    CAST(:en AS tsquery), :options)
                    WHEN :es <> '' AND c.language = 'es' THEN ts_headline('atendai_es', c.content,
                    CAST(:es AS tsquery), :options) END AS headline
        FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id
        WHERE c.id = ANY(:ids)
        """
    ).bindparams(bindparam("ids", type_=ARRAY(Uuid())))
    options = (
        f"StartSel={HIGHLIGHT_START}, StopSel={HIGHLIGHT_STOP}, MaxWords=40, MinWords=15, "
        'MaxFragments=2, FragmentDelimiter=" … "'
    )
    rows = {
        row.id: row
        for row in await session.execute(
            statement,
            {
                "ids": ids,
                "pt": tsquery.get("pt", ""),
                "en": tsquery.get("en", ""),
                "es": tsquery.get("es", ""),
                "options": options,
            },
        )
    }
    hits = []
    for item, score, ranks in fused:
        row = rows.get(item)
        if row is None:
            continue
        hits.append(
            Hit(
                chunk_id=row.id,
                document_id=row.document_id,
                collection_id=row.collection_id,
                document_title=row.document_title,
                title=row.title,
                content=row.content,
                snippet=_snippet(row.headline, row.content),
                score=round(score, 6),
                ranks=dict(ranks),
                lexical_score=scores["lexical"].get(item),
                vector_score=scores["vector"].get(item),
                page=row.page,
                url=row.url,
                category_id=row.category_id,
            )
        )
    return hits


async def search(
    session: AsyncSession,
    query: str,
    *,
    collection_ids: Sequence[UUID] | None = None,
    category_ids: Sequence[UUID] | None = None,
    meta: dict[str, Any] | None = None,
    limit: int = 8,
    mode: Mode = "auto",
    for_agents: bool = False,
) -> SearchResult:
    """The chunks that best answer ``query`` in the current tenant's collections (all, or ``collection_ids``).

    ``mode`` ``auto`` is hybrid where the collection has embeddings and full text elsewhere. Filters:
    categories, and ``meta`` (documents whose metadata contains those pairs). ``for_agents`` leaves
    out collections closed to the AI agents.
    """
    from kernel.sdk import database_capabilities

    query = " ".join(query.split())[:1000]
    # A prepared statement's generic plan cannot use the partial vector indexes (the size is a
    # parameter) and ignores how many passages this tenant has: plan each search for its values.
    await session.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"))
    collections = await _collections(session, collection_ids)
    if for_agents:
        collections = [collection for collection in collections if collection.agents_may_read]
    if not query or not collections:
        return SearchResult(query=query, hits=[], mode="fulltext")
    tenant_id = collections[0].tenant_id
    ids = [collection.id for collection in collections]
    capabilities = await database_capabilities()
    embedded = [c for c in collections if c.embedding_model and c.embedding_provider]
    vector_available = bool(capabilities.pgvector and embedded)
    notes: list[str] = []
    if embedded and not capabilities.pgvector:
        notes.append("no_pgvector")
    want_lexical = mode != "vector"
    want_vector = mode in ("auto", "hybrid", "vector") and vector_available

    lists: dict[str, list[tuple[UUID, float]]] = {}
    corrections: dict[str, str] = {}
    tsqueries: dict[str, str] = {}
    if want_lexical:
        advanced = query if _ADVANCED.search(query) else None
        by_language: dict[str, list[Collection]] = defaultdict(list)
        for collection in collections:
            by_language[collection.language].append(collection)
        lexical: list[tuple[UUID, float]] = []
        for language, group in by_language.items():
            found = await _lexical(session, group, query, category_ids=category_ids, meta=meta, advanced=advanced)
            lexical.extend(found.ranked)
            corrections.update(found.corrections)
            if found.tsquery:
                tsqueries[language] = found.tsquery
        lists["lexical"] = sorted(lexical, key=lambda r: -r[1])[:CANDIDATES]
        lists["title"] = await _titles(session, ids, tenant_id, query, category_ids=category_ids, meta=meta)
    if want_vector:
        vector_hits: list[tuple[UUID, float]] = []
        by_model: dict[tuple[str, str], list[Collection]] = defaultdict(list)
        for collection in embedded:
            by_model[(collection.embedding_provider or "", collection.embedding_model or "")].append(collection)
        for group in by_model.values():
            try:
                vector = await embed_query(tenant_id, group[0], query)
            except Exception:
                notes.append("embedding_failed")
                continue
            vector_hits.extend(
                await _vector(session, [c.id for c in group], tenant_id, vector, category_ids=category_ids, meta=meta)
            )
        lists["vector"] = sorted(vector_hits, key=lambda r: -r[1])[:CANDIDATES]
    fused = fuse(lists)[: max(1, min(limit, 50))]
    scores = {name: dict(lists.get(name, [])) for name in ("lexical", "vector", "title")}
    hits = await _hits(session, fused, scores, tsqueries)
    used = "hybrid" if want_lexical and want_vector else ("vector" if want_vector else "fulltext")
    return SearchResult(
        query=query,
        hits=hits,
        mode=used,
        corrections=corrections,
        vector_available=vector_available,
        notes=notes,
    )
