"""Importing a site through the safe HTTP client, re-crawling it (changed and broken pages told to the
owners), translating a document with the organization's model, and review dates coming due."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from uuid import UUID

import pytest
import pytest_asyncio
from sqlalchemy import select

from kernel.notifications.models import Notification
from kernel.sdk import tenant_session
from kernel.tenancy.models import Organization
from plugins.knowledge.models import Document, Source
from plugins.knowledge.review import notify_due_reviews
from plugins.knowledge.services import CollectionService, DocumentService
from plugins.knowledge.translate import translation_parts
from tests.fakes import FakeReply
from tests.fakes.fixtures import openai_fake  # noqa: F401
from tests.plugins.knowledge.test_search_and_ingestion import api_search, wait_indexed

pytestmark = pytest.mark.asyncio(loop_scope="session")

API = "/api/v1/knowledge"


def page(title: str, body: str) -> tuple[int, str, bytes, dict[str, str]]:
    html = f"<html><head><title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    return (200, "text/html; charset=utf-8", html.encode(), {})


async def wait_source(tenant_id: UUID, source_id: UUID, *, after=None, timeout: float = 30.0) -> Source:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with tenant_session(tenant_id) as session:
            source = await session.get(Source, source_id)
            assert source is not None
            finished = source.status in ("ready", "failed") and (after is None or source.last_run_at != after)
            if finished:
                return source
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"source still {source.status} after {timeout} s")
        await asyncio.sleep(0.1)


async def url_documents(tenant_id: UUID, source_id: UUID) -> dict[str, Document]:
    async with tenant_session(tenant_id) as session:
        rows = (await session.execute(select(Document).where(Document.source_id == source_id))).scalars().all()
    return {row.url.rsplit("/", 1)[-1]: row for row in rows}


async def notifications(tenant_id: UUID, user_id: UUID) -> list[Notification]:
    async with tenant_session(tenant_id) as session:
        rows = await session.execute(select(Notification).where(Notification.user_id == user_id))
        return list(rows.scalars())


@pytest_asyncio.fixture(loop_scope="session")
async def tenant(make_tenant):
    return await make_tenant(seed=False)


async def a_collection(tenant_id: UUID, name: str, **options) -> UUID:
    async with tenant_session(tenant_id) as session:
        collection = await CollectionService(session).create(name, **options)
        await session.commit()
        return collection.id


async def test_a_site_is_imported_searched_and_recrawled(atendai_client, tenant, serve):
    site = serve(
        {
            "/": page("Loja Exemplo", '<p>Bem-vindo.</p><a href="/trocas">Trocas</a> <a href="/horario">Horário</a>'),
            "/trocas": page("Trocas e devoluções", "<p>A devolução pode ser pedida em até sete dias.</p>"),
            "/horario": page("Horário", "<p>Abrimos de segunda a sábado, das nove às dezoito horas.</p>"),
            "/robots.txt": (200, "text/plain", b"User-agent: *\nAllow: /\n", {}),
        }
    )
    collection = await a_collection(tenant.tenant_id, "Site da loja")
    response = await atendai_client.post(
        f"{API}/sources",
        json={"collection_id": str(collection), "url": site.url("/"), "mode": "site", "page_limit": 10},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    source_id = UUID(response.json()["id"])
    source = await wait_source(tenant.tenant_id, source_id)
    assert source.status == "ready" and source.pages_found == 3 and source.pages_failed == 0
    documents = await url_documents(tenant.tenant_id, source_id)
    assert set(documents) == {"", "trocas", "horario"}
    for document in documents.values():
        assert (await wait_indexed(tenant.tenant_id, document.id)).status == "ready"
    found = await api_search(atendai_client, tenant, "devolucao em quantos dias", collection_id=str(collection))
    assert found["hits"][0]["document_title"] == "Trocas e devoluções"
    assert found["hits"][0]["url"] == site.url("/trocas")

    # Re-crawl: one page changed, one broke, one is the same.
    site.routes["/horario"] = page("Horário", "<p>Agora abrimos também aos domingos, das dez às catorze horas.</p>")
    site.routes["/trocas"] = (500, "text/html", b"erro", {})
    before = source.last_run_at
    again = await atendai_client.post(f"{API}/sources/{source_id}/crawl", headers=tenant.headers)
    assert again.status_code == 201
    source = await wait_source(tenant.tenant_id, source_id, after=before)
    assert source.pages_failed == 1 and "trocas" in (source.error or "")
    documents = await url_documents(tenant.tenant_id, source_id)
    horario = await wait_indexed(tenant.tenant_id, documents["horario"].id)
    assert horario.version == 2 and "domingos" in horario.body
    assert documents["trocas"].version == 1, "a broken page keeps its last good text"
    kinds = {n.kind for n in await notifications(tenant.tenant_id, tenant.admin_user_id)}
    assert {"knowledge.source.broken", "knowledge.source.changed"} <= kinds


async def test_a_private_address_is_refused_unless_the_operator_allows_it(atendai_client, tenant):
    collection = await a_collection(tenant.tenant_id, "Intranet")
    response = await atendai_client.post(
        f"{API}/sources",
        json={"collection_id": str(collection), "url": "http://10.1.2.3/politicas", "mode": "page"},
        headers=tenant.headers,
    )
    assert response.status_code == 201
    source = await wait_source(tenant.tenant_id, UUID(response.json()["id"]))
    assert source.status == "failed" and source.pages_found == 0
    assert "10.1.2.3" in (source.error or "")
    bad = await atendai_client.post(
        f"{API}/sources",
        json={"collection_id": str(collection), "url": "ftp://example.com/x", "mode": "page"},
        headers=tenant.headers,
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "url"


async def test_a_document_is_translated_into_a_linked_version(atendai_client, make_tenant, openai_fake):  # noqa: F811
    from kernel.secrets import put_secret

    openai_fake.reset()
    handle = await make_tenant(seed=False)
    async with tenant_session(handle.tenant_id) as session:
        await put_secret(session, "llm.openai.api_key", "sk-test-translate-01", tenant_id=handle.tenant_id)
        await put_secret(session, "llm.openai.base_url", openai_fake.api_base, tenant_id=handle.tenant_id)
        organization = await session.get(Organization, handle.tenant_id)
        organization.ai_provider, organization.ai_model = "openai", "gpt-4o-mini"
        await session.commit()
    source_collection = await a_collection(handle.tenant_id, "Português")
    english = await a_collection(handle.tenant_id, "English", language="en")
    async with tenant_session(handle.tenant_id) as session:
        original = await DocumentService(session).create_text(
            source_collection, "Trocas", "# Trocas\n\nVocê pode devolver em até 7 dias.\n\n# Frete\n\nO frete é grátis."
        )
        await session.commit()
    await wait_indexed(handle.tenant_id, original.id)
    openai_fake.script(
        FakeReply.say("# Exchanges\n\nYou may return it within 7 days.\n\n# Shipping\n\nShipping is free.")
    )
    response = await atendai_client.post(
        f"{API}/documents/{original.id}/translate",
        json={"language": "en", "collection_id": str(english)},
        headers=handle.headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "translating"
    translated = await wait_indexed(handle.tenant_id, UUID(response.json()["id"]))
    assert translated.status == "ready"
    assert translated.translated_from_id == original.id and translated.language == "en"
    assert "within 7 days" in translated.body and "Shipping is free" in translated.body
    prompts = [r.json["messages"][-1]["content"] for r in openai_fake.requests if r.path.endswith("/completions")]
    assert len(prompts) == 1 and "English" in prompts[0] and "devolver" in prompts[0]
    found = await api_search(atendai_client, handle, "returns within days", collection_id=str(english))
    assert found["hits"] and found["hits"][0]["document_id"] == str(translated.id)


async def test_translation_without_a_model_is_refused_with_a_reason(atendai_client, tenant):
    collection = await a_collection(tenant.tenant_id, "Sem modelo")
    async with tenant_session(tenant.tenant_id) as session:
        document = await DocumentService(session).create_text(collection, "Aviso", "Fechado no feriado.")
        await session.commit()
    response = await atendai_client.post(
        f"{API}/documents/{document.id}/translate", json={"language": "es"}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "model"


async def test_long_texts_are_translated_in_parts_cut_before_headings():
    text = "# Um\n\n" + "palavra " * 500 + "\n\n# Dois\n\nCurto.\n\n# Três\n\n" + "frase longa. " * 900
    parts = translation_parts(text, limit=3000)
    assert "".join(parts) == text
    assert all(len(part) <= 3000 for part in parts)
    assert parts[0].startswith("# Um") and any(part.startswith("# Três") for part in parts)


async def test_documents_due_for_review_are_told_to_the_owners_once(tenant):
    collection = await a_collection(tenant.tenant_id, "Revisões", owner_ids=[tenant.admin_user_id])
    async with tenant_session(tenant.tenant_id) as session:
        service = DocumentService(session)
        due = await service.create_text(collection, "Tabela de preços", "Preços de 2025.")
        await service.update(due.id, review_at=date.today() - timedelta(days=1))
        later = await service.create_text(collection, "Política nova", "Vale a partir de hoje.")
        await service.update(later.id, review_at=date.today() + timedelta(days=30))
        await session.commit()
    async with tenant_session(tenant.tenant_id) as session:
        assert await notify_due_reviews(session) == 1
        await session.commit()
    async with tenant_session(tenant.tenant_id) as session:
        assert await notify_due_reviews(session) == 0, "each review date is told once"
        await session.commit()
    told = [n for n in await notifications(tenant.tenant_id, tenant.admin_user_id) if n.kind == "knowledge.review.due"]
    assert len(told) == 1 and told[0].params["title"] == "Tabela de preços"
    assert "review_due=true" in (told[0].link or "")
