"""Knowledge search and ingestion on a real PostgreSQL: Portuguese full text without accents, typos,
BM25 for questions, hybrid ranking with the fake embedding server, incremental re-embedding, failing
loudly on scanned PDFs, FAQ direct answers, and tenants kept apart.

Documents go through the real pipeline: the in-process worker's runner jobs pick them up after commit.
"""

from __future__ import annotations

import asyncio
import io
from uuid import UUID

import pytest
import pytest_asyncio

from kernel.sdk import database_capabilities, tenant_session
from plugins.knowledge.faq import FaqService
from plugins.knowledge.models import Document
from plugins.knowledge.services import CollectionService, DocumentService
from tests.fakes.fixtures import openai_fake  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")

API = "/api/v1/knowledge"
EMBEDDING_MODEL = "text-embedding-3-small"


async def wait_indexed(tenant_id: UUID, document_id: UUID, timeout: float = 30.0) -> Document:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with tenant_session(tenant_id) as session:
            document = await session.get(Document, document_id)
            assert document is not None
            if document.status in ("ready", "failed"):
                return document
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"document still {document.status} after {timeout} s")
        await asyncio.sleep(0.1)


async def new_collection(tenant_id: UUID, name: str = "Atendimento 2", **options) -> UUID:
    async with tenant_session(tenant_id) as session:
        collection = await CollectionService(session).create(name, **options)
        await session.commit()
        return collection.id


async def write(tenant_id: UUID, collection_id: UUID, title: str, body: str) -> Document:
    async with tenant_session(tenant_id) as session:
        document = await DocumentService(session).create_text(collection_id, title, body)
        await session.commit()
        document_id = document.id
    return await wait_indexed(tenant_id, document_id)


async def api_search(client, tenant, query: str, **params) -> dict:
    response = await client.get(f"{API}/search", params={"q": query, **params}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest_asyncio.fixture(loop_scope="session")
async def tenant(make_tenant):
    return await make_tenant(seed=False)


@pytest_asyncio.fixture(loop_scope="session")
async def pgvector() -> bool:
    return (await database_capabilities()).pgvector


@pytest_asyncio.fixture(loop_scope="session")
async def embedding_tenant(make_tenant, atendai_kernel, openai_fake):  # noqa: F811
    """An organization whose OpenAI key and server are the fake's."""
    from kernel.secrets import put_secret

    handle = await make_tenant(seed=False)
    async with tenant_session(handle.tenant_id) as session:
        await put_secret(session, "llm.openai.api_key", "sk-test-knowledge-0001", tenant_id=handle.tenant_id)
        await put_secret(session, "llm.openai.base_url", openai_fake.api_base, tenant_id=handle.tenant_id)
        await session.commit()
    return handle


def embedded_texts(fake) -> list[str]:
    texts: list[str] = []
    for request in fake.requests:
        if request.path.endswith("/embeddings"):
            body = request.json["input"]
            texts.extend(body if isinstance(body, list) else [body])
    return texts


async def test_portuguese_search_ignores_accents_and_case(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id)
    document = await write(
        tenant.tenant_id,
        collection,
        "Promoção de inverno",
        "# Promoção de inverno\n\nA promoção vale até domingo: casacos com 30% de desconto na loja física.",
    )
    assert document.status == "ready" and document.chunk_count == 1
    for query in ("PROMOCAO", "promocao de inverno", "Promoção"):
        found = await api_search(atendai_client, tenant, query, collection_id=str(collection))
        assert found["hits"], query
        assert found["hits"][0]["document_title"] == "Promoção de inverno"
        assert found["mode"] == "fulltext"
    assert "<mark>" in found["hits"][0]["snippet"]


async def test_typos_find_the_word_meant(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id, "Garantias")
    await write(
        tenant.tenant_id,
        collection,
        "Garantia estendida",
        "Oferecemos garantia estendida de 12 meses para eletrodomésticos comprados na loja.",
    )
    await write(tenant.tenant_id, collection, "Entrega", "Entregamos em todo o Brasil pelos Correios.")
    found = await api_search(atendai_client, tenant, "garantai dos eletrodomesticos", collection_id=str(collection))
    assert found["hits"][0]["document_title"] == "Garantia estendida"
    assert found["corrections"], "the misspelt word was corrected from the collection's vocabulary"
    # A title typed with a typo is found by its trigrams too.
    titled = await api_search(atendai_client, tenant, "garantia extendida", collection_id=str(collection))
    assert titled["hits"][0]["document_title"] == "Garantia estendida"


async def test_questions_rank_the_passage_that_answers_them_first(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id, "Políticas")
    await write(
        tenant.tenant_id,
        collection,
        "Trocas e devoluções",
        "# Prazo\n\nVocê pode devolver o produto em até 7 dias. Produtos com defeito são trocados em até 90 dias.",
    )
    await write(
        tenant.tenant_id,
        collection,
        "Horário de atendimento",
        "Atendemos de segunda a sexta das 9h às 18h e aos sábados das 9h às 13h.",
    )
    await write(
        tenant.tenant_id,
        collection,
        "Entregas",
        "O prazo de entrega é de 3 a 5 dias úteis para capitais. O produto sai do nosso centro em São Paulo.",
    )
    found = await api_search(
        atendai_client, tenant, "qual o prazo pra devolver um produto com defeito?", collection_id=str(collection)
    )
    assert found["hits"][0]["document_title"] == "Trocas e devoluções"
    assert found["hits"][0]["lexical_score"] > 0
    hours = await api_search(atendai_client, tenant, "voces atendem no sabado?", collection_id=str(collection))
    assert hours["hits"][0]["document_title"] == "Horário de atendimento"


async def test_reingesting_embeds_only_what_changed(embedding_tenant, openai_fake, pgvector):  # noqa: F811
    if not pgvector:
        pytest.skip("pgvector is not installed on this server")
    openai_fake.reset()
    tenant_id = embedding_tenant.tenant_id
    collection = await new_collection(
        tenant_id,
        "Com embeddings",
        embedding_provider="openai",
        embedding_model=EMBEDDING_MODEL,
        chunk_size=200,
        chunk_overlap=0,
    )
    sections = [
        "# Pagamento\n\nAceitamos PIX, boleto e cartão de crédito em até 10 vezes sem juros para compras acima de cem reais.",
        "# Entrega\n\nEnviamos pelos Correios e por transportadora; o código de rastreio chega por WhatsApp no mesmo dia.",
        "# Trocas\n\nTrocas em até 7 dias com a nota fiscal e a embalagem original, sem custo de frete para o cliente.",
    ]
    document = await write(tenant_id, collection, "Guia do cliente", "\n\n".join(sections))
    assert document.status == "ready", document.error_code
    first = embedded_texts(openai_fake)
    assert len(first) == document.chunk_count >= 3
    assert document.embedded_count == document.chunk_count

    async with tenant_session(tenant_id) as session:
        await DocumentService(session).reindex(document.id)
        await session.commit()
    again = await wait_indexed(tenant_id, document.id)
    assert again.status == "ready"
    assert embedded_texts(openai_fake) == first, "an unchanged document embeds nothing"

    changed = sections[1].replace("no mesmo dia", "em até duas horas")
    async with tenant_session(tenant_id) as session:
        await DocumentService(session).update(document.id, body="\n\n".join([sections[0], changed, sections[2]]))
        await session.commit()
    edited = await wait_indexed(tenant_id, document.id)
    new_texts = embedded_texts(openai_fake)[len(first) :]
    assert edited.status == "ready" and edited.version == 2
    assert len(new_texts) == 1 and "duas horas" in new_texts[0], new_texts
    assert edited.embedded_count == edited.chunk_count


async def test_hybrid_search_finds_by_meaning_what_words_miss(atendai_client, embedding_tenant, openai_fake, pgvector):  # noqa: F811
    if not pgvector:
        pytest.skip("pgvector is not installed on this server")
    openai_fake.reset()
    phone = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    openai_fake.embed_like("smartphone", phone)
    openai_fake.embed_like("celular", [0.98, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    openai_fake.embed_like("notebook", [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    tenant_id = embedding_tenant.tenant_id
    collection = await new_collection(
        tenant_id, "Assistência", embedding_provider="openai", embedding_model=EMBEDDING_MODEL
    )
    await write(tenant_id, collection, "Conserto de smartphone", "Trocamos a tela do seu smartphone em uma hora.")
    await write(tenant_id, collection, "Conserto de notebook", "Formatamos e limpamos notebooks em dois dias.")
    hybrid = await api_search(atendai_client, embedding_tenant, "meu celular", collection_id=str(collection))
    assert hybrid["mode"] == "hybrid" and hybrid["vector_available"]
    assert hybrid["hits"][0]["document_title"] == "Conserto de smartphone"
    assert "vector" in hybrid["hits"][0]["ranks"]
    assert hybrid["hits"][0]["vector_score"] > 0.9
    words_only = await api_search(
        atendai_client, embedding_tenant, "meu celular", collection_id=str(collection), mode="fulltext"
    )
    assert words_only["hits"] == []
    # Words and meaning agree: the passage both lists rank first gets both reciprocal ranks.
    both = await api_search(atendai_client, embedding_tenant, "smartphone tela", collection_id=str(collection))
    assert both["hits"][0]["document_title"] == "Conserto de smartphone"
    assert set(both["hits"][0]["ranks"]) >= {"lexical", "vector"}


async def test_without_pgvector_search_says_it_is_full_text_only(atendai_client, tenant, pgvector):
    if pgvector:
        pytest.skip("this server has pgvector")
    collection = await new_collection(
        tenant.tenant_id, "Sem vetores", embedding_provider="openai", embedding_model=EMBEDDING_MODEL
    )
    await write(tenant.tenant_id, collection, "Frete grátis", "Frete grátis para compras acima de 200 reais.")
    found = await api_search(atendai_client, tenant, "frete gratis", collection_id=str(collection))
    assert found["mode"] == "fulltext"
    assert found["vector_available"] is False
    assert "no_pgvector" in found["notes"]
    assert found["hits"][0]["document_title"] == "Frete grátis"


def scanned_pdf() -> bytes:
    """A PDF whose only page is a picture of text, as a scanner makes."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (600, 300), "white")
    ImageDraw.Draw(picture).text((20, 20), "Contrato de prestação de serviços", fill="black")
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(io.BytesIO(buffer.getvalue()), x=10, y=10, w=180)
    return bytes(pdf.output())


async def test_a_scanned_pdf_fails_with_a_reason(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id, "Contratos")
    scan = scanned_pdf()
    response = await atendai_client.post(
        f"{API}/documents/upload",
        data={"collection_id": str(collection)},
        files={"file": ("contrato-escaneado.pdf", scan, "application/pdf")},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    document = await wait_indexed(tenant.tenant_id, UUID(response.json()["id"]))
    assert document.status == "failed"
    assert document.error_code == "no_text"
    shown = (await atendai_client.get(f"{API}/documents/{document.id}", headers=tenant.headers)).json()
    assert shown["status"] == "failed" and shown["error_code"] == "no_text"
    # The same file again is refused as a duplicate, with a translated problem.
    again = await atendai_client.post(
        f"{API}/documents/upload",
        data={"collection_id": str(collection)},
        files={"file": ("copia.pdf", scan, "application/pdf")},
        headers={**tenant.headers, "Accept-Language": "pt-BR"},
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_an_upload_takes_its_own_heading_as_title(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id, "Títulos")
    response = await atendai_client.post(
        f"{API}/documents/upload",
        data={"collection_id": str(collection)},
        files={"file": ("promocao-relampago.md", "# Promoção relâmpago\n\nSó hoje.".encode(), "text/markdown")},
        headers=tenant.headers,
    )
    assert response.json()["title"] == "promocao relampago"
    document = await wait_indexed(tenant.tenant_id, UUID(response.json()["id"]))
    assert document.title == "Promoção relâmpago"
    named = await atendai_client.post(
        f"{API}/documents/upload",
        data={"collection_id": str(collection), "title": "Oferta do dia"},
        files={"file": ("oferta.md", "# Outra coisa\n\nAmanhã.".encode(), "text/markdown")},
        headers=tenant.headers,
    )
    assert (await wait_indexed(tenant.tenant_id, UUID(named.json()["id"]))).title == "Oferta do dia"


async def test_an_unreadable_file_type_is_refused_at_once(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id, "Arquivos")
    response = await atendai_client.post(
        f"{API}/documents/upload",
        data={"collection_id": str(collection)},
        files={"file": ("planilha.exe", b"MZ\x90\x00", "application/octet-stream")},
        headers=tenant.headers,
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


async def test_a_close_faq_question_answers_directly(atendai_client, tenant):
    collection = await new_collection(tenant.tenant_id, "FAQ")
    async with tenant_session(tenant.tenant_id) as session:
        await FaqService(session).create(
            collection, "Qual o prazo para devolver um produto?", "Você pode devolver em até 7 dias corridos."
        )
        await session.commit()
    response = await atendai_client.post(
        f"{API}/faqs/match",
        json={"question": "qual o prazo pra devolver o produto", "collection_id": [str(collection)]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    match = response.json()["match"]
    assert match is not None and match["answer"].startswith("Você pode devolver")
    assert match["score"] >= 0.82 and match["measure"] == "text"
    unrelated = await atendai_client.post(
        f"{API}/faqs/match",
        json={"question": "vocês vendem camisetas de time?", "collection_id": [str(collection)]},
        headers=tenant.headers,
    )
    assert unrelated.json()["match"] is None
    async with tenant_session(tenant.tenant_id) as session:
        faqs, _ = await FaqService(session).list(collection_id=collection)
        assert faqs[0].hit_count == 1


async def test_one_tenant_never_finds_anothers_knowledge(atendai_client, make_tenant):
    alpha, beta = await make_tenant(seed=False), await make_tenant(seed=False)
    collection = await new_collection(alpha.tenant_id, "Segredos")
    document = await write(alpha.tenant_id, collection, "Receita secreta", "O molho leva xarope de jabuticaba.")
    assert (await api_search(atendai_client, alpha, "jabuticaba"))["hits"]
    assert (await api_search(atendai_client, beta, "jabuticaba"))["hits"] == []
    foreign = await atendai_client.get(f"{API}/documents/{document.id}", headers=beta.headers)
    assert foreign.status_code == 404
    foreign_search = await atendai_client.get(
        f"{API}/search", params={"q": "jabuticaba", "collection_id": str(collection)}, headers=beta.headers
    )
    assert foreign_search.status_code == 404
    titles = await atendai_client.get(f"{API}/documents/titles", params={"q": "Receita"}, headers=beta.headers)
    assert titles.json() == []
