"""Products and their CSV, the FAQ review queue and import, the agents' tools, collection changes that
re-index, the ``reindex`` command, and ingestion that one tenant's backlog cannot starve."""

from __future__ import annotations

import asyncio
import csv
import io
from uuid import UUID

import pytest
import pytest_asyncio
from click.testing import CliRunner
from sqlalchemy import func, select

from kernel.db.scope import tenant_scope
from kernel.sdk import tenant_session
from plugins.knowledge.models import Chunk, Document, UnansweredQuestion
from plugins.knowledge.services import CollectionService, DocumentService
from tests.plugins.knowledge.test_search_and_ingestion import wait_indexed

pytestmark = pytest.mark.asyncio(loop_scope="session")

API = "/api/v1/knowledge"


@pytest_asyncio.fixture(loop_scope="session")
async def tenant(make_tenant):
    return await make_tenant(seed=False)


async def collection_of(tenant_id: UUID, name: str, **options) -> UUID:
    async with tenant_session(tenant_id) as session:
        collection = await CollectionService(session).create(name, **options)
        await session.commit()
        return collection.id


# --- products --------------------------------------------------------------------------------------


async def test_products_are_kept_in_cents_found_by_sku_or_name_and_round_trip_through_csv(atendai_client, tenant):
    created = await atendai_client.post(
        f"{API}/products",
        json={"name": "Tênis de corrida Veloz", "sku": "TEN-42", "price_cents": 29990, "stock": 3},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    clash = await atendai_client.post(
        f"{API}/products", json={"name": "Outro", "sku": "ten-42"}, headers=tenant.headers
    )
    assert clash.status_code == 409 and clash.json()["errors"][0]["field"] == "sku"
    bad = await atendai_client.post(f"{API}/products", json={"name": "Caro", "price_cents": -1}, headers=tenant.headers)
    assert bad.status_code == 422

    upload = (
        "sku;name;description;price;currency;stock;active\n"
        "CAM-1;Camiseta básica;Algodão;49,90;BRL;10;true\n"
        "TEN-42;Tênis de corrida Veloz;Amortecimento;1.299,90;BRL;0;true\n"
        ";Sem nome de preço;x;abc;BRL;;true\n"
    ).encode("cp1252")
    imported = await atendai_client.post(
        f"{API}/products/import", files={"file": ("produtos.csv", upload, "text/csv")}, headers=tenant.headers
    )
    assert imported.status_code == 201, imported.text
    result = imported.json()
    assert (result["created"], result["updated"]) == (1, 1)
    assert [error["line"] for error in result["errors"]] == [4]
    assert "abc" in result["errors"][0]["message"], "the refused value is named in the message"

    listed = (await atendai_client.get(f"{API}/products", params={"q": "camisa"}, headers=tenant.headers)).json()
    assert listed["items"][0]["name"] == "Camiseta básica" and listed["items"][0]["price_cents"] == 4990
    exported = await atendai_client.get(f"{API}/products/export.csv", headers=tenant.headers)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    by_sku = {row["sku"]: row for row in rows}
    assert by_sku["TEN-42"]["price"] == "1299.90" and by_sku["TEN-42"]["stock"] == "0"
    assert by_sku["CAM-1"]["name"] == "Camiseta básica"


async def test_the_search_products_tool_answers_price_and_stock(atendai_kernel, make_tenant):
    handle = await make_tenant(seed=True)  # the demo catalog has CAM-001
    tool = atendai_kernel.registry.llm_tools["search_products"][1]
    with tenant_scope(handle.tenant_id):
        by_sku = await tool.handler(sku="cam-001")
        by_words = await tool.handler(query="camiseta de algodao")
        nothing = await tool.handler(query="geladeira frost free")
    assert by_sku["products"][0]["price"] == {"cents": 4990, "currency": "BRL"}
    assert by_sku["products"][0]["in_stock"] is True and by_sku["products"][0]["stock"] == 25
    assert by_words["products"][0]["sku"] == "CAM-001"
    assert nothing["products"] == []


async def test_the_search_knowledge_tool_reads_only_collections_open_to_agents(atendai_kernel, tenant):
    open_one = await collection_of(tenant.tenant_id, "Aberta")
    closed = await collection_of(tenant.tenant_id, "Interna", agents_may_read=False)
    async with tenant_session(tenant.tenant_id) as session:
        service = DocumentService(session)
        public = await service.create_text(open_one, "Frete", "Entregamos em Manaus em até 12 dias úteis.")
        internal = await service.create_text(closed, "Margens", "A margem em Manaus é de 40 por cento.")
        await session.commit()
    await wait_indexed(tenant.tenant_id, public.id)
    await wait_indexed(tenant.tenant_id, internal.id)
    tool = atendai_kernel.registry.llm_tools["search_knowledge"][1]
    with tenant_scope(tenant.tenant_id):
        found = await tool.handler(query="Manaus")
        named = await tool.handler(query="Manaus", collection="aberta")
        unknown = await tool.handler(query="Manaus", collection="Nenhuma")
    assert [p["document"] for p in found["passages"]] == ["Frete"]
    assert found["passages"][0]["source"] == 1
    assert [p["document"] for p in named["passages"]] == ["Frete"]
    assert unknown["passages"] == [] and "Nenhuma" in unknown["reason"]


# --- FAQ -----------------------------------------------------------------------------------------


async def test_the_faq_review_queue_import_and_suggestions(atendai_client, tenant):
    collection = await collection_of(tenant.tenant_id, "Perguntas")
    upload = (
        "pergunta,resposta\nVocês entregam no sábado?,Sim, das 8h às 12h.\nTem loja física?,\nTem loja física?,Sim.\n"
    )
    imported = await atendai_client.post(
        f"{API}/faqs/import",
        data={"collection_id": str(collection)},
        files={"file": ("faq.csv", upload.encode(), "text/csv")},
        headers=tenant.headers,
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["created"] == 2 and [e["line"] for e in imported.json()["errors"]] == [3]

    async with tenant_session(tenant.tenant_id) as session:
        from plugins.knowledge.faq import record_unanswered

        await record_unanswered(session, "Vocês aceitam VR?", collection_id=collection)
        await record_unanswered(session, "voces aceitam vr", collection_id=collection)
        await session.commit()
        asked = (await session.execute(select(UnansweredQuestion))).scalars().all()
    assert [(q.question, q.times) for q in asked] == [("Vocês aceitam VR?", 2)]

    made = await atendai_client.post(f"{API}/faqs/suggestions", headers=tenant.headers)
    assert made.json() == {"suggested": 1}
    queue = (await atendai_client.get(f"{API}/faqs", params={"status": "suggested"}, headers=tenant.headers)).json()
    assert [item["question"] for item in queue["items"]] == ["Vocês aceitam VR?"]
    suggestion = queue["items"][0]
    empty = await atendai_client.post(
        f"{API}/faqs/{suggestion['id']}/review", json={"decision": "approved"}, headers=tenant.headers
    )
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "answer"
    approved = await atendai_client.post(
        f"{API}/faqs/{suggestion['id']}/review",
        json={"decision": "approved", "answer": "Aceitamos VR e VA nas lojas físicas."},
        headers=tenant.headers,
    )
    assert approved.status_code == 201 and approved.json()["status"] == "approved"
    match = await atendai_client.post(f"{API}/faqs/match", json={"question": "vcs aceitam vr?"}, headers=tenant.headers)
    assert match.json()["match"]["answer"].startswith("Aceitamos VR")


async def test_a_faq_suggestion_from_a_document_needs_a_model(atendai_client, tenant):
    collection = await collection_of(tenant.tenant_id, "Sem IA")
    async with tenant_session(tenant.tenant_id) as session:
        document = await DocumentService(session).create_text(collection, "Aviso", "Fechamos às 18h.")
        await session.commit()
    response = await atendai_client.post(f"{API}/faqs/from-document/{document.id}", headers=tenant.headers)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "model"


# --- collections, the command and the runners ------------------------------------------------


async def test_a_new_passage_size_rechunks_the_collection(atendai_client, tenant):
    collection = await collection_of(tenant.tenant_id, "Grande")
    body = "\n\n".join(f"Parágrafo {i}: " + "texto de exemplo sobre prazos e entregas " * 6 for i in range(12))
    async with tenant_session(tenant.tenant_id) as session:
        document = await DocumentService(session).create_text(collection, "Manual", body)
        await session.commit()
    before = (await wait_indexed(tenant.tenant_id, document.id)).chunk_count
    changed = await atendai_client.patch(
        f"{API}/collections/{collection}", json={"chunk_size": 300, "chunk_overlap": 0}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text
    await asyncio.sleep(0.2)
    after = await wait_indexed(tenant.tenant_id, document.id)
    assert after.chunk_count > before
    async with tenant_session(tenant.tenant_id) as session:
        stored = (await session.execute(select(func.count(Chunk.id)).where(Chunk.document_id == document.id))).scalar()
        totals = await CollectionService(session).get(collection)
    assert stored == after.chunk_count == totals.chunk_count


async def test_the_reindex_command_shows_progress_and_totals(atendai_settings, make_tenant):
    from plugins.knowledge.cli import knowledge

    demo = await make_tenant(seed=True)  # two indexed documents
    env = {
        "DATABASE_URL": atendai_settings.database_url,
        "ATENDAI_DATA_DIR": atendai_settings.data_dir,
        "ATENDAI_SECRET_KEY": atendai_settings.secret_key,
        "ATENDAI_LOG_LEVEL": "WARNING",
    }

    def run(*args: str):
        return CliRunner().invoke(knowledge, ["reindex", *args], env=env, catch_exceptions=False)

    result = await asyncio.to_thread(run, "--tenant", demo.slug)
    assert result.exit_code == 0, result.output
    assert "Indexing" in result.output and "2 documents" in result.output
    assert "0 passages added" in result.output and "0 failed" in result.output
    missing = await asyncio.to_thread(CliRunner().invoke, knowledge, ["reindex", "--tenant", "no-such-org"], env=env)
    assert missing.exit_code != 0 and "no organization" in missing.output


async def test_one_tenants_backlog_does_not_starve_another(make_tenant):
    busy, quiet = await make_tenant(seed=False), await make_tenant(seed=False)
    busy_collection = await collection_of(busy.tenant_id, "Muitos")
    quiet_collection = await collection_of(quiet.tenant_id, "Poucos")
    text = "\n\n".join(f"# Seção {i}\n\n" + "conteúdo de ajuda sobre entregas e trocas " * 40 for i in range(30))
    async with tenant_session(busy.tenant_id) as session:
        backlog = [
            (await DocumentService(session).create_text(busy_collection, f"Manual {i}", text)).id for i in range(40)
        ]
        await session.commit()
    await asyncio.sleep(0.3)
    async with tenant_session(quiet.tenant_id) as session:
        single = (await DocumentService(session).create_text(quiet_collection, "Aviso", "Fechado no feriado.")).id
        await session.commit()
    await wait_indexed(quiet.tenant_id, single, timeout=60)
    async with tenant_session(busy.tenant_id) as session:
        waiting = (
            await session.execute(
                select(func.count(Document.id)).where(Document.id.in_(backlog), Document.status != "ready")
            )
        ).scalar()
    assert waiting > 0, "the busy tenant's backlog was still being worked on"
    for document_id in backlog:
        await wait_indexed(busy.tenant_id, document_id, timeout=120)


async def test_product_pictures_are_cleaned_public_and_svg_is_refused(atendai_client, tenant):
    from PIL import Image

    product = (
        await atendai_client.post(f"{API}/products", json={"name": "Caneca azul"}, headers=tenant.headers)
    ).json()
    photo = io.BytesIO()
    Image.new("RGB", (2400, 1600), "navy").save(photo, format="JPEG")
    added = await atendai_client.post(
        f"{API}/products/{product['id']}/images",
        files={"file": ("caneca.jpg", photo.getvalue(), "image/jpeg")},
        headers=tenant.headers,
    )
    assert added.status_code == 201, added.text
    url = added.json()["image_urls"][0]
    picture = await atendai_client.get(url)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(picture.content)) as stored:
        assert max(stored.size) == 1200
    svg = await atendai_client.post(
        f"{API}/products/{product['id']}/images",
        files={"file": ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>", "image/svg+xml")},
        headers={**tenant.headers, "Accept-Language": "pt-BR"},
    )
    assert svg.status_code == 422 and svg.json()["errors"][0]["message"] == "svg"
    key = added.json()["images"][0]
    removed = await atendai_client.delete(
        f"{API}/products/{product['id']}/images", params={"key": key}, headers=tenant.headers
    )
    assert removed.status_code == 204


async def test_the_plan_limits_documents_and_search_by_meaning(atendai_client, atendai_kernel, make_tenant):
    from kernel.tenancy.models import Organization, Plan

    handle = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        from kernel.db.session import set_session_scope

        await set_session_scope(session, platform=True)
        plan = Plan(
            code=f"tiny-{handle.slug}",
            name="Tiny",
            allowed_plugins=None,
            features={"knowledge.documents": 1, "knowledge.embeddings": False},
        )
        session.add(plan)
        await session.flush()
        organization = await session.get(Organization, handle.tenant_id)
        organization.plan_id = plan.id
        await session.commit()
    collection = await collection_of(handle.tenant_id, "Limitada")
    first = await atendai_client.post(
        f"{API}/documents",
        json={"collection_id": str(collection), "title": "Um", "body": "texto"},
        headers=handle.headers,
    )
    assert first.status_code == 201
    second = await atendai_client.post(
        f"{API}/documents",
        json={"collection_id": str(collection), "title": "Dois", "body": "texto"},
        headers=handle.headers,
    )
    assert second.status_code == 429 and second.headers["content-type"].startswith("application/problem+json")
    meaning = await atendai_client.post(
        f"{API}/collections",
        json={"name": "Com vetores", "embedding_provider": "openai", "embedding_model": "text-embedding-3-small"},
        headers=handle.headers,
    )
    assert meaning.status_code == 403 and meaning.json()["errors"][0]["field"] == "embedding_model"


async def test_the_sweep_requeues_a_document_whose_runner_died(tenant):
    from sqlalchemy import text

    from plugins.knowledge.ingest import sweep

    collection = await collection_of(tenant.tenant_id, "Varredura")
    async with tenant_session(tenant.tenant_id) as session:
        document = await DocumentService(session).create_text(collection, "Órfão", "Um runner morreu aqui.")
        await session.commit()
    await wait_indexed(tenant.tenant_id, document.id)
    async with tenant_session(tenant.tenant_id) as session:
        await session.execute(
            text(
                "UPDATE knowledge_documents SET status = 'processing', updated_at = now() - interval '1 hour' "
                "WHERE id = :id"
            ),
            {"id": document.id},
        )
        await session.commit()
    report = await sweep(None)
    assert report["requeued"] >= 1
    async with tenant_session(tenant.tenant_id) as session:
        await session.execute(
            text("UPDATE knowledge_documents SET updated_at = now() - interval '1 minute' WHERE id = :id"),
            {"id": document.id},
        )
        await session.commit()
    await sweep(None)  # the document waited past the threshold: its tenant's runners are started
    assert (await wait_indexed(tenant.tenant_id, document.id)).status == "ready"


async def test_an_integration_reads_and_edits_with_an_api_token_of_its_scope(atendai_client, tenant):
    collection = await collection_of(tenant.tenant_id, "Integração")

    async def token(*permissions: str) -> dict[str, str]:
        made = await atendai_client.post(
            "/api/v1/api-tokens", json={"name": "ERP", "permissions": list(permissions)}, headers=tenant.headers
        )
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['token']}"}

    writer = await token("knowledge.document.read", "knowledge.document.write", "knowledge.product.write")
    reader = await token("knowledge.document.read")
    written = await atendai_client.post(
        f"{API}/documents",
        json={"collection_id": str(collection), "title": "Tabela de frete", "body": "Frete fixo de R$ 15."},
        headers=writer,
    )
    assert written.status_code == 201, written.text
    document_id = written.json()["id"]
    assert (await atendai_client.get(f"{API}/documents/{document_id}", headers=reader)).status_code == 200
    refused = await atendai_client.patch(f"{API}/documents/{document_id}", json={"title": "X"}, headers=reader)
    assert refused.status_code == 403
    edited = await atendai_client.patch(
        f"{API}/documents/{document_id}", json={"body": "Frete fixo de R$ 12.", "expected_version": 1}, headers=writer
    )
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = await atendai_client.patch(
        f"{API}/documents/{document_id}", json={"body": "Outro", "expected_version": 1}, headers=writer
    )
    assert stale.status_code == 409
    versions = (await atendai_client.get(f"{API}/documents/{document_id}/versions", headers=reader)).json()
    assert [v["version"] for v in versions] == [2, 1]
    product = await atendai_client.post(
        f"{API}/products", json={"name": "Frete expresso", "price_cents": 2500}, headers=writer
    )
    assert product.status_code == 201
