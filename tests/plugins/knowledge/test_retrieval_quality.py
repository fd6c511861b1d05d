"""Retrieval quality on our Portuguese gold set (tests/plugins/knowledge/gold/loja.py): recall@k and
MRR of the knowledge search, beside the naive PostgreSQL baseline (an AND query ranked by
``ts_rank_cd``) it replaces. The numbers are written to ``test-artifacts/retrieval-quality.json`` and
quoted in docs/knowledge.md; the floors below are what a change must not fall under."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import text

from kernel.sdk import tenant_session
from plugins.knowledge.search import search
from plugins.knowledge.services import CollectionService, DocumentService
from tests.plugins.knowledge.gold.loja import DOCUMENTS, QUESTIONS
from tests.plugins.knowledge.test_search_and_ingestion import wait_indexed

pytestmark = pytest.mark.asyncio(loop_scope="session")

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


def scores(ranks: list[int | None]) -> dict[str, float]:
    """recall@1, recall@3, recall@5 and MRR@10 from the 1-based rank of each question's document."""
    n = len(ranks)
    return {
        "recall@1": sum(1 for r in ranks if r is not None and r <= 1) / n,
        "recall@3": sum(1 for r in ranks if r is not None and r <= 3) / n,
        "recall@5": sum(1 for r in ranks if r is not None and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r is not None and r <= 10) / n,
    }


def rank_of(titles: list[str], expected: str) -> int | None:
    distinct = list(dict.fromkeys(titles))
    return distinct.index(expected) + 1 if expected in distinct else None


async def baseline(tenant_id: UUID, collection_id: UUID, question: str) -> list[str]:
    """What most projects do: ``websearch_to_tsquery`` (every word must match), ranked by ``ts_rank_cd``."""
    async with tenant_session(tenant_id) as session:
        rows = await session.execute(
            text(
                "SELECT d.title FROM knowledge_chunks c JOIN knowledge_documents d ON d.id = c.document_id, "
                "websearch_to_tsquery('atendai_pt', :q) q WHERE c.collection_id = :c AND c.tsv @@ q "
                "ORDER BY ts_rank_cd(c.tsv, q) DESC LIMIT 10"
            ),
            {"q": question, "c": collection_id},
        )
        return list(rows.scalars())


async def test_portuguese_gold_set_recall(make_tenant):
    tenant = await make_tenant(seed=False)
    async with tenant_session(tenant.tenant_id) as session:
        collection = await CollectionService(session).create("Central de ajuda", chunk_size=400, chunk_overlap=60)
        ids = [
            (await DocumentService(session).create_text(collection.id, title, body)).id
            for title, body in DOCUMENTS.items()
        ]
        await session.commit()
        collection_id = collection.id
    for document_id in ids:
        assert (await wait_indexed(tenant.tenant_id, document_id)).status == "ready"

    ours: list[int | None] = []
    naive: list[int | None] = []
    misses = []
    for question, expected in QUESTIONS:
        async with tenant_session(tenant.tenant_id) as session:
            result = await search(session, question, collection_ids=[collection_id], limit=10, mode="fulltext")
        rank = rank_of([hit.document_title for hit in result.hits], expected)
        ours.append(rank)
        if rank != 1:
            misses.append({"question": question, "expected": expected, "rank": rank})
        naive.append(rank_of(await baseline(tenant.tenant_id, collection_id, question), expected))

    report = {
        "questions": len(QUESTIONS),
        "documents": len(DOCUMENTS),
        "bm25_hybrid_fulltext": scores(ours),
        "baseline_and_ts_rank_cd": scores(naive),
        "not_first": misses,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "retrieval-quality.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    ours_scores, naive_scores = report["bm25_hybrid_fulltext"], report["baseline_and_ts_rank_cd"]
    assert ours_scores["recall@5"] >= 0.9, report
    assert ours_scores["mrr@10"] >= 0.75, report
    assert ours_scores["recall@5"] > naive_scores["recall@5"] + 0.3, report
