"""Row-level security keeps the search indexes: tenant searches plan the GIN and trigram indexes.

``atendai migrate`` marks the text-search and trigram functions leakproof (``kernel.db.leakproof``),
and the trigram indexes cover generated, folded columns, so the app role's queries can use them under
the policies. Without the leakproof marks (a rolled-back catalog change here) the same queries cannot.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg
import pytest
from psycopg import sql

from kernel.db.leakproof import leakproof_search_state
from kernel.db.urls import libpq_url

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(autouse=True)
async def migrated_by_a_superuser(owner_connection):
    """Only a superuser may mark functions leakproof: elsewhere ``atendai migrate`` warns instead."""
    row = await (
        await owner_connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    ).fetchone()
    if not (row and row[0]):
        pytest.skip("the test database's owner is not a superuser")


QUERIES = {
    "ix_knowledge_chunks_tsv": "SELECT id FROM knowledge_chunks WHERE tsv @@ CAST('entreg | praz' AS tsquery)",
    "ix_knowledge_documents_trgm": "SELECT id FROM knowledge_documents WHERE 'politica de trocas' <% title_key",
    "ix_knowledge_faqs_trgm": "SELECT id FROM knowledge_faqs WHERE question_key % 'qual o prazo de entrega'",
    "ix_knowledge_products_trgm": "SELECT id FROM knowledge_products WHERE 'camiseta azul' <% name_key",
    "ix_knowledge_terms_trgm": "SELECT lexeme FROM knowledge_terms WHERE lexeme % 'garantai'",
}


def _indexes(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= _indexes(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= _indexes(item)
    return found


async def _planned_indexes(conn: psycopg.AsyncConnection[Any], tenant_id: Any, query: str) -> set[str]:
    await conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
    # Sequential scans off: the question is whether the index may be used at all, not whether it is cheaper.
    await conn.execute("SET LOCAL enable_seqscan = off")
    row = await (await conn.execute(f"EXPLAIN (FORMAT JSON) {query}")).fetchone()
    assert row is not None
    plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    return _indexes(plan)


async def test_migrate_marks_the_search_functions_leakproof(atendai_kernel):
    def state() -> dict[str, bool]:
        with psycopg.connect(libpq_url(atendai_kernel.db.urls.owner)) as conn:
            return leakproof_search_state(conn)

    marks = await asyncio.to_thread(state)
    assert set(marks) == {
        "ts_match_vq(tsvector,tsquery)",
        "similarity_op(text,text)",
        "word_similarity_op(text,text)",
        "word_similarity_commutator_op(text,text)",
    }
    assert all(marks.values()), marks


@pytest.mark.parametrize("index", sorted(QUERIES))
async def test_tenant_queries_use_the_search_indexes(index, make_tenant, app_connection):
    tenant = await make_tenant()
    async with app_connection.transaction(force_rollback=True):
        planned = await _planned_indexes(app_connection, tenant.tenant_id, QUERIES[index])
    assert index in planned, planned


async def test_without_leakproof_marks_the_policy_keeps_the_index_out(make_tenant, owner_connection, atendai_kernel):
    tenant = await make_tenant()
    role = atendai_kernel.settings.database_app_role
    async with owner_connection.transaction(force_rollback=True):
        await owner_connection.execute("ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) NOT LEAKPROOF")
        await owner_connection.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        planned = await _planned_indexes(owner_connection, tenant.tenant_id, QUERIES["ix_knowledge_chunks_tsv"])
    assert "ix_knowledge_chunks_tsv" not in planned, planned
