"""The knowledge pages over HTTP, as the browser uses them: every page in Portuguese, the title search
as you type, uploads, the editor's versions and stale saves, FAQ review, products, permissions and
tenants kept apart. Uploaded documents go through the real ingestion (the in-process worker)."""

from __future__ import annotations

import dataclasses
import json
import re
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from kernel.sdk import database_capabilities, tenant_session
from kernel.testing.mail import link_token, mails_to
from plugins.knowledge.faq import FaqService
from plugins.knowledge.models import Collection, Document, DocumentVersion, Faq, Product
from plugins.knowledge.services import DocumentService
from tests.plugins.knowledge.test_search_and_ingestion import wait_indexed

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "/app/knowledge"
PT = {"Accept-Language": "pt-BR"}
HTMX = {"HX-Request": "true", **PT}


# --- helpers -------------------------------------------------------------------------------------


async def first_collection(tenant_id: UUID) -> Collection:
    async with tenant_session(tenant_id) as session:
        return (await session.execute(select(Collection).order_by(Collection.created_at))).scalars().first()


async def documents_titled(tenant_id: UUID, title: str) -> list[Document]:
    async with tenant_session(tenant_id) as session:
        return list((await session.execute(select(Document).where(Document.title == title))).scalars())


async def add_member(client, admin, role: str) -> tuple[str, str]:
    """A colleague of ``admin`` with ``role``, invited and accepted; returns their email and password."""
    address, password = f"{role}-{uuid4().hex[:6]}@example.com", "a long password 1"
    invited = await client.post("/api/v1/users/", json={"email": address, "role": role}, headers=admin.headers)
    assert invited.status_code == 201, invited.text
    token = link_token(mails_to(client._transport.app.state.kernel.settings, address)[-1])
    accepted = await client.post("/api/v1/auth/invitations/accept", json={"token": token, "password": password})
    assert accepted.status_code == 200, accepted.text
    return address, password


def text_of(html: str) -> str:
    """The visible words of a page's main part, for assertions on what a person reads."""
    main = html[html.find("<main") :] if "<main" in html else html
    main = re.sub(r"<svg.*?</svg>", " ", main, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


@pytest_asyncio.fixture(loop_scope="session")
async def tenant(make_tenant):
    return await make_tenant()


# --- every page ----------------------------------------------------------------------------------


async def test_every_knowledge_page_renders_in_portuguese(page_client, tenant):
    async with tenant_session(tenant.tenant_id) as session:
        document = (await session.execute(select(Document).order_by(Document.title))).scalars().first()
        product = (await session.execute(select(Product))).scalars().first()
    pages = {
        f"{BASE}/": "Bases de conhecimento",
        f"{BASE}/documents": "Documentos",
        f"{BASE}/documents/new": "Novo documento",
        f"{BASE}/documents/{document.id}": "Versões",
        f"{BASE}/faq": "Fila de revisão",
        f"{BASE}/products": "Produtos",
        f"{BASE}/products/new": "Novo produto",
        f"{BASE}/products/{product.id}": "Camiseta básica algodão",
        f"{BASE}/search": "Experimente uma busca",
    }
    async with page_client(tenant) as client:
        for path, words in pages.items():
            response = await client.get(path, headers=PT)
            assert response.status_code == 200, (path, response.text[:500])
            assert response.headers["content-type"].startswith("text/html"), path
            assert '<html lang="pt-BR"' in response.text, path
            assert words in text_of(response.text), path
        home = await client.get("/app/", headers=PT)
    for entry in ("knowledge.documents", "knowledge.faq", "knowledge.products"):
        assert f'data-nav="{entry}"' in home.text


async def test_the_sidebar_marks_the_knowledge_pages(page_client, tenant):
    async with page_client(tenant) as client:
        html = (await client.get(f"{BASE}/documents", headers=PT)).text
    assert re.findall(r'<a href="([^"]+)" data-nav="[^"]+" aria-current="page"', html) == [f"{BASE}/documents"]


async def test_the_collections_page_shows_counts_language_and_search_mode(page_client, tenant):
    async with page_client(tenant) as client:
        text = text_of((await client.get(f"{BASE}/", headers=PT)).text)
    assert "Atendimento" in text and "2 documentos" in text and "2 prontos" in text
    assert "Português" in text and "Somente texto" in text and "Políticas" in text


# --- documents -----------------------------------------------------------------------------------


async def test_searching_titles_as_you_type_answers_the_table_alone(page_client, tenant):
    async with page_client(tenant) as client:
        response = await client.get(
            f"{BASE}/documents", params={"q": "trocas"}, headers={**HTMX, "HX-Target": "documents-table"}
        )
        typo = await client.get(
            f"{BASE}/documents", params={"q": "horario"}, headers={**HTMX, "HX-Target": "documents-table"}
        )
        nothing = await client.get(
            f"{BASE}/documents", params={"q": "zzzz-nada"}, headers={**HTMX, "HX-Target": "documents-table"}
        )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="documents-table"') and "<html" not in response.text
    assert 'data-document="Trocas e devoluções"' in response.text
    assert 'data-document="Horário de atendimento"' not in response.text
    assert 'data-document="Horário de atendimento"' in typo.text  # without the accent
    assert "Nenhum documento corresponde a estes filtros." in text_of(nothing.text)


async def test_the_documents_are_filtered_by_status_and_kind(page_client, tenant):
    async with page_client(tenant) as client:
        ready = await client.get(f"{BASE}/documents", params={"status": "ready", "kind": "editor"}, headers=PT)
        failed = await client.get(f"{BASE}/documents", params={"status": "failed"}, headers=PT)
        bogus = await client.get(f"{BASE}/documents", params={"status": "bogus", "collection_id": "x"}, headers=PT)
    assert 'data-document="Trocas e devoluções"' in ready.text and "Pronto" in text_of(ready.text)
    assert 'data-document="Trocas e devoluções"' not in failed.text
    assert bogus.status_code == 200 and 'data-document="Trocas e devoluções"' in bogus.text


async def test_a_txt_uploaded_through_the_page_becomes_a_ready_document(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    collection = await first_collection(tenant.tenant_id)
    body = "Promoção de verão: toda a loja com 20% de desconto até sexta-feira.".encode()
    async with page_client(tenant) as client:
        response = await client.post(
            f"{BASE}/documents/upload",
            data={"collection_id": str(collection.id), "category_id": ""},
            files=[("files", ("promocao-verao.txt", body, "text/plain"))],
            headers=HTMX,
        )
        assert response.status_code == 200, response.text
        assert "documents-changed" in response.headers["hx-trigger"]
        assert "upload-done" in response.headers["hx-trigger"]
        [document] = await documents_titled(tenant.tenant_id, "promocao verao")
        assert document.kind == "file" and document.filename == "promocao-verao.txt"
        assert document.created_by == tenant.admin_user_id
        indexed = await wait_indexed(tenant.tenant_id, document.id)
        assert indexed.status == "ready" and indexed.chunk_count == 1
        table = await client.get(f"{BASE}/documents", headers={**HTMX, "HX-Target": "documents-table"})
        editor = await client.get(f"{BASE}/documents/{document.id}", headers=PT)
    row = re.search(rf'<tr id="document-{document.id}".*?</tr>', table.text, re.S).group(0)
    assert 'data-status="ready"' in row and "Pronto" in text_of(row)
    assert 'hx-trigger="documents-changed from:body"' in table.text  # nothing pending: no more polling
    assert "Promoção de verão" in editor.text and "promocao-verao.txt" in editor.text


async def test_a_file_that_cannot_be_read_says_why_in_its_row_and_page(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    collection = await first_collection(tenant.tenant_id)
    async with page_client(tenant) as client:
        response = await client.post(
            f"{BASE}/documents/upload",
            data={"collection_id": str(collection.id)},
            files=[("files", ("contrato.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"))],
            headers=HTMX,
        )
        assert response.status_code == 200, response.text
        [document] = await documents_titled(tenant.tenant_id, "contrato")
        failed = await wait_indexed(tenant.tenant_id, document.id)
        table = await client.get(
            f"{BASE}/documents", params={"status": "failed"}, headers={**HTMX, "HX-Target": "documents-table"}
        )
        page = await client.get(f"{BASE}/documents/{document.id}", headers=PT)
    assert failed.status == "failed" and failed.error_code == "corrupt"
    row = text_of(re.search(rf'<tr id="document-{document.id}".*?</tr>', table.text, re.S).group(0))
    assert "Falhou" in row and "Não foi possível ler o arquivo; ele pode estar corrompido." in row
    assert "Falhou" in text_of(page.text) and 'data-testid="reindex"' in page.text


async def test_rows_still_being_indexed_make_the_table_poll(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    collection = await first_collection(tenant.tenant_id)
    async with tenant_session(tenant.tenant_id) as session:
        # A row a runner is reading right now (written directly: no job is queued to finish it).
        session.add(
            Document(
                collection_id=collection.id,
                title="Ainda lendo",
                kind="editor",
                body="Texto.",
                language="pt",
                status="processing",
                progress=40,
                error_params={},
                chunk_count=0,
                embedded_count=0,
                meta={},
                version=1,
            )
        )
        await session.commit()
    async with page_client(tenant) as client:
        table = await client.get(f"{BASE}/documents", headers={**HTMX, "HX-Target": "documents-table"})
    opening = table.text.lstrip().split(">", 1)[0]
    assert 'data-pending="yes"' in opening and "every 2s" in opening
    assert '<progress class="kn-progress" max="100" value="40"' in table.text and "Processando" in text_of(table.text)


async def test_refused_files_say_why_and_keep_the_form(page_client, tenant):
    collection = await first_collection(tenant.tenant_id)
    async with page_client(tenant) as client:
        kept = str(collection.id)
        wrong_type = await client.post(
            f"{BASE}/documents/upload",
            data={"collection_id": kept},
            files=[("files", ("planilha.exe", b"MZ...", "application/octet-stream"))],
            headers=HTMX,
        )
        first = await client.post(
            f"{BASE}/documents/upload",
            data={"collection_id": kept},
            files=[("files", ("aviso.txt", b"Aviso: fechado no feriado.", "text/plain"))],
            headers=HTMX,
        )
        duplicate = await client.post(
            f"{BASE}/documents/upload",
            data={"collection_id": kept},
            files=[
                ("files", ("aviso-copia.txt", b"Aviso: fechado no feriado.", "text/plain")),
                ("files", ("vazio.txt", b"", "text/plain")),
            ],
            headers=HTMX,
        )
        none_chosen = await client.post(f"{BASE}/documents/upload", data={"collection_id": kept}, headers=HTMX)
    assert wrong_type.status_code == 422
    assert "Não é possível ler este tipo de arquivo" in text_of(wrong_type.text)
    assert f'<option value="{kept}" selected>' in wrong_type.text  # the chosen collection stays
    assert first.status_code == 200
    assert duplicate.status_code == 422
    assert "Este arquivo já está na base de conhecimento como aviso" in text_of(duplicate.text)
    assert "O arquivo está vazio." in text_of(duplicate.text)
    assert none_chosen.status_code == 422 and "Escolha um ou mais arquivos." in text_of(none_chosen.text)


async def test_the_editor_saves_versions_and_refuses_a_stale_save(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    collection = await first_collection(tenant.tenant_id)
    async with page_client(tenant) as client:
        created = await client.post(
            f"{BASE}/documents/new",
            data={
                "title": "Entrega",
                "collection_id": str(collection.id),
                "category_id": "",
                "body": "# Entrega\n\nEntregamos em 3 dias úteis.",
                "review_at": "2030-01-31",
                "meta_key": ["loja", ""],
                "meta_value": ["Centro", ""],
            },
            headers=HTMX,
        )
        assert created.status_code == 200, created.text
        path = created.headers["hx-redirect"]
        document_id = UUID(path.rsplit("/", 1)[-1])
        saved = await client.post(
            path,
            data={"title": "Entrega", "expected_version": "1", "body": "# Entrega\n\nEntregamos em 2 dias úteis."},
            headers=HTMX,
        )
        stale = await client.post(
            path,
            data={"title": "Entrega", "expected_version": "1", "body": "# Entrega\n\nEntregamos amanhã."},
            headers=HTMX,
        )
        page = await client.get(path, headers=PT)
    assert saved.status_code == 200, saved.text
    assert json.loads(saved.headers["hx-trigger"])["toast"]["message"] == "Salvo (versão 2)."
    assert stale.status_code == 422
    assert "Alguém salvou este documento depois que você o abriu (versão 2)" in text_of(stale.text)
    assert "Entregamos amanhã." in stale.text  # what was typed is not lost
    async with tenant_session(tenant.tenant_id) as session:
        document = await session.get(Document, document_id)
        versions = (
            await session.execute(
                select(func.count(DocumentVersion.id)).where(DocumentVersion.document_id == document_id)
            )
        ).scalar_one()
    assert document.version == 2 and versions == 2 and "2 dias" in document.body
    assert document.meta == {"loja": "Centro"} and document.review_at.isoformat() == "2030-01-31"
    assert 'data-version="1"' in page.text and 'data-version="2"' in page.text


async def test_a_version_is_restored_from_the_editor(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    collection = await first_collection(tenant.tenant_id)
    async with tenant_session(tenant.tenant_id) as session:
        service = DocumentService(session)
        document = await service.create_text(collection.id, "Frete", "Frete grátis acima de R$ 200.")
        await service.update(document.id, body="Frete grátis acima de R$ 300.")
        await session.commit()
    async with page_client(tenant) as client:
        restored = await client.post(f"{BASE}/documents/{document.id}/versions/1/restore", headers=HTMX)
    assert restored.status_code == 200 and restored.headers["hx-redirect"] == f"{BASE}/documents/{document.id}"
    async with tenant_session(tenant.tenant_id) as session:
        again = await session.get(Document, document.id)
    assert again.version == 3 and "R$ 200" in again.body


async def test_the_markdown_preview_is_rendered_without_raw_html(page_client, tenant):
    async with page_client(tenant) as client:
        response = await client.post(
            f"{BASE}/documents/preview",
            data={"body": "## Prazo\n\n**7 dias** <script>alert(1)</script> [x](javascript:alert(1))"},
            headers=HTMX,
        )
    assert response.status_code == 200
    assert "<h2>Prazo</h2>" in response.text and "<strong>7 dias</strong>" in response.text
    assert "<script>" not in response.text and 'href="javascript:' not in response.text


async def test_the_passages_and_status_of_a_document_are_shown_on_request(page_client, tenant):
    [document] = await documents_titled(tenant.tenant_id, "Trocas e devoluções")
    async with page_client(tenant) as client:
        chunks = await client.get(f"{BASE}/documents/{document.id}/chunks", headers=HTMX)
        status = await client.get(f"{BASE}/documents/{document.id}/status", headers=HTMX)
    assert chunks.status_code == 200 and 'data-testid="chunks"' in chunks.text and "Prazo" in chunks.text
    assert status.status_code == 200 and 'data-status="ready"' in status.text and "every 2s" not in status.text


# --- FAQ -----------------------------------------------------------------------------------------


async def suggested(tenant_id: UUID, question: str) -> UUID:
    collection = await first_collection(tenant_id)
    async with tenant_session(tenant_id) as session:
        faq = await FaqService(session).create(collection.id, question, "", status="suggested", origin="unanswered")
        await session.commit()
        return faq.id


async def test_a_suggestion_is_approved_with_an_edited_answer_from_the_page(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    faq_id = await suggested(tenant.tenant_id, "Vocês entregam aos sábados?")
    async with page_client(tenant) as client:
        queue = await client.get(f"{BASE}/faq", headers=PT)
        without_answer = await client.post(
            f"{BASE}/faq/{faq_id}/review",
            data={"decision": "approved", "question": "Vocês entregam aos sábados?", "answer": ""},
            headers=HTMX,
        )
        approved = await client.post(
            f"{BASE}/faq/{faq_id}/review",
            data={"decision": "approved", "question": "Vocês entregam aos sábados?", "answer": "Sim, até as 13h."},
            headers=HTMX,
        )
        listed = await client.get(f"{BASE}/faq", params={"status": "approved"}, headers=PT)
    assert 'data-faq="Vocês entregam aos sábados?"' in queue.text and 'data-testid="approve"' in queue.text
    assert without_answer.status_code == 422
    assert "Escreva a resposta antes de aprovar." in text_of(without_answer.text)
    assert approved.status_code == 204 and "faq-changed" in approved.headers["hx-trigger"]
    assert 'data-faq="Vocês entregam aos sábados?"' in listed.text and "Sim, até as 13h." in listed.text
    async with tenant_session(tenant.tenant_id) as session:
        faq = await session.get(Faq, faq_id)
    assert faq.status == "approved" and faq.answer == "Sim, até as 13h." and faq.reviewed_by == tenant.admin_user_id


async def test_a_suggestion_is_rejected_from_the_page(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    faq_id = await suggested(tenant.tenant_id, "Qual a cor do céu?")
    async with page_client(tenant) as client:
        rejected = await client.post(
            f"{BASE}/faq/{faq_id}/review",
            data={"decision": "rejected", "question": "Qual a cor do céu?", "answer": ""},
            headers=HTMX,
        )
        tab = await client.get(f"{BASE}/faq", params={"status": "rejected"}, headers={**HTMX, "HX-Target": "faq-list"})
    assert rejected.status_code == 204
    assert tab.text.lstrip().startswith('<div id="faq-list"') and 'data-faq="Qual a cor do céu?"' in tab.text
    async with tenant_session(tenant.tenant_id) as session:
        assert (await session.get(Faq, faq_id)).status == "rejected"


async def test_faq_entries_are_added_imported_and_suggested_from_the_page(page_client, tenant):
    collection = await first_collection(tenant.tenant_id)
    csv_file = "pergunta,resposta\nAceitam PIX?,Sim.\nSó pergunta,\nAceitam PIX?,Repetida\n".encode()
    async with page_client(tenant) as client:
        added = await client.post(
            f"{BASE}/faq/new",
            data={"collection_id": str(collection.id), "question": "Tem estacionamento?", "answer": "Sim, gratuito."},
            headers=HTMX,
        )
        missing = await client.post(
            f"{BASE}/faq/new", data={"collection_id": str(collection.id), "question": "", "answer": ""}, headers=HTMX
        )
        imported = await client.post(
            f"{BASE}/faq/import",
            data={"collection_id": str(collection.id)},
            files={"file": ("faq.csv", csv_file, "text/csv")},
            headers=HTMX,
        )
        suggestions = await client.post(f"{BASE}/faq/suggestions", headers=HTMX)
        queue = await client.get(f"{BASE}/faq", headers=PT)
    assert added.status_code == 200 and "faq-added" in added.headers["hx-trigger"]
    assert missing.status_code == 422
    assert "Uma pergunta frequente aprovada precisa ter resposta." in text_of(missing.text)
    assert imported.status_code == 200
    result = text_of(imported.text)
    assert "1 adicionada" in result and "1 ignorada" in result and "Linha 3" in result
    assert suggestions.status_code == 204 and "faq-changed" in suggestions.headers["hx-trigger"]
    assert 'data-faq="Vocês entregam no interior?"' in queue.text  # the seeded unanswered question


# --- products ------------------------------------------------------------------------------------


async def test_a_product_priced_with_a_comma_is_stored_in_cents(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        created = await client.post(
            f"{BASE}/products/new",
            data={
                "name": "Caneca de cerâmica",
                "sku": "CAN-010",
                "price": "49,90",
                "currency": "BRL",
                "stock": "12",
                "active": "on",
                "attribute_key": ["cor"],
                "attribute_value": ["azul"],
            },
            headers=HTMX,
        )
        bad_price = await client.post(
            f"{BASE}/products/new", data={"name": "Prato", "price": "quarenta", "currency": "BRL"}, headers=HTMX
        )
        taken = await client.post(
            f"{BASE}/products/new",
            data={"name": "Outra", "sku": "can-010", "price": "1", "currency": "BRL"},
            headers=HTMX,
        )
        listed = await client.get(f"{BASE}/products", params={"q": "CAN-010"}, headers=PT)
        export = await client.get("/api/v1/knowledge/products/export.csv")
    assert created.status_code == 200 and created.headers["hx-redirect"] == f"{BASE}/products"
    async with tenant_session(tenant.tenant_id) as session:
        product = (await session.execute(select(Product).where(Product.sku == "CAN-010"))).scalar_one()
    assert product.price_cents == 4990 and product.stock == 12 and product.attributes == {"cor": "azul"}
    assert bad_price.status_code == 422 and "quarenta não é um preço válido." in text_of(bad_price.text)
    assert taken.status_code == 422 and "Outro produto já usa o SKU can-010." in text_of(taken.text)
    assert "R$\xa049,90" in listed.text and 'data-product="Caneca de cerâmica"' in listed.text
    # The page links to the API's export, which the session cookie opens.
    assert export.status_code == 200 and "CAN-010,Caneca de cerâmica,,49.90,BRL,12,true" in export.text


async def test_products_are_edited_imported_and_deleted_from_the_page(page_client, make_tenant):
    tenant = await make_tenant()
    async with tenant_session(tenant.tenant_id) as session:
        product = (await session.execute(select(Product))).scalars().first()
    rows = 'sku,name,price,stock\nCAM-001,Camiseta básica algodão,59.90,3\nNOVO-1,Boné,"29,90",\nX,,1,1\n'
    async with page_client(tenant) as client:
        form = await client.get(f"{BASE}/products/{product.id}", headers=PT)
        saved = await client.post(
            f"{BASE}/products/{product.id}",
            data={"name": product.name, "sku": "CAM-001", "price": "1.234,50", "currency": "BRL", "stock": ""},
            headers=HTMX,
        )
        imported = await client.post(
            f"{BASE}/products/import", files={"file": ("produtos.csv", rows.encode(), "text/csv")}, headers=HTMX
        )
        deleted = await client.delete(f"{BASE}/products/{product.id}", headers=HTMX)
    assert 'value="49,90"' in form.text  # the price in the reader's own notation
    assert saved.status_code == 200
    assert imported.status_code == 200
    result = text_of(imported.text)
    assert "1 adicionado" in result and "1 atualizado" in result and "Linha 4" in result
    assert deleted.status_code == 200
    async with tenant_session(tenant.tenant_id) as session:
        assert await session.get(Product, product.id) is None
        cap = (await session.execute(select(Product).where(Product.sku == "NOVO-1"))).scalar_one()
    assert cap.price_cents == 2990 and cap.stock is None


# --- try a search --------------------------------------------------------------------------------


async def test_trying_a_search_shows_the_faq_answer_and_the_ranked_passages(page_client, tenant):
    async with page_client(tenant) as client:
        response = await client.get(
            f"{BASE}/search",
            params={"q": "Qual o prazo para devolver um produto?"},
            headers={**HTMX, "HX-Target": "search-results"},
        )
        typo = await client.get(
            f"{BASE}/search", params={"q": "horaro de atendimento"}, headers={**HTMX, "HX-Target": "search-results"}
        )
    assert response.status_code == 200 and response.text.lstrip().startswith('<div id="search-results"')
    assert 'data-testid="direct-answer"' in response.text
    assert "Você pode devolver em até 7 dias corridos após o recebimento." in response.text
    first = re.search(r'<li class="card compact kn-hit" data-document="([^"]+)"', response.text).group(1)
    assert first == "Trocas e devoluções" and "<mark>" in response.text
    assert "Palavras: #1" in text_of(response.text) and "Texto completo" in text_of(response.text)
    assert 'data-document="Horário de atendimento"' in typo.text
    async with tenant_session(tenant.tenant_id) as session:
        faq = (await session.execute(select(Faq).where(Faq.question.like("Qual o prazo%")))).scalar_one()
    assert faq.hit_count == 0  # trying is not a customer being answered


# --- permissions and tenants ---------------------------------------------------------------------


async def test_an_operator_reads_the_pages_but_gets_403_on_every_write(page_client, atendai_client, make_tenant):
    admin = await make_tenant()
    email, password = await add_member(atendai_client, admin, "operator")
    collection = await first_collection(admin.tenant_id)
    async with tenant_session(admin.tenant_id) as session:
        document = (await session.execute(select(Document))).scalars().first()
        faq = (await session.execute(select(Faq))).scalars().first()
        product = (await session.execute(select(Product))).scalars().first()
    writes = [
        ("POST", f"{BASE}/collections"),
        ("POST", f"{BASE}/collections/{collection.id}/categories"),
        ("DELETE", f"{BASE}/collections/{collection.id}"),
        ("GET", f"{BASE}/documents/new"),
        ("POST", f"{BASE}/documents/new"),
        ("POST", f"{BASE}/documents/upload"),
        ("POST", f"{BASE}/documents/{document.id}"),
        ("DELETE", f"{BASE}/documents/{document.id}"),
        ("POST", f"{BASE}/documents/{document.id}/reindex"),
        ("POST", f"{BASE}/documents/{document.id}/versions/1/restore"),
        ("POST", f"{BASE}/faq/new"),
        ("POST", f"{BASE}/faq/import"),
        ("POST", f"{BASE}/faq/suggestions"),
        ("POST", f"{BASE}/faq/{faq.id}/review"),
        ("DELETE", f"{BASE}/faq/{faq.id}"),
        ("GET", f"{BASE}/products/new"),
        ("POST", f"{BASE}/products/new"),
        ("POST", f"{BASE}/products/import"),
        ("POST", f"{BASE}/products/{product.id}"),
        ("DELETE", f"{BASE}/products/{product.id}"),
    ]
    async with page_client(email=email, password=password) as client:
        for path in (
            f"{BASE}/",
            f"{BASE}/documents",
            f"{BASE}/documents/{document.id}",
            f"{BASE}/faq",
            f"{BASE}/search",
        ):
            page = await client.get(path, headers=PT)
            assert page.status_code == 200, path
            assert 'data-testid="upload-open"' not in page.text and 'data-testid="save-document"' not in page.text
        for method, path in writes:
            response = await client.request(
                method, path, data={"name": "x"} if method == "POST" else None, headers=HTMX
            )
            assert response.status_code == 403, (method, path, response.status_code)
    async with tenant_session(admin.tenant_id) as session:
        assert await session.get(Document, document.id) is not None


async def test_another_organization_s_ids_answer_404(page_client, two_tenants):
    tenant_a, tenant_b = two_tenants
    async with tenant_session(tenant_b.tenant_id) as session:
        document = (await session.execute(select(Document))).scalars().first()
        faq = (await session.execute(select(Faq))).scalars().first()
        product = (await session.execute(select(Product))).scalars().first()
        collection = (await session.execute(select(Collection))).scalars().first()
    async with page_client(tenant_a) as client:
        editor = await client.get(f"{BASE}/documents/{document.id}", headers=PT)
        status = await client.get(f"{BASE}/documents/{document.id}/status", headers=HTMX)
        save = await client.post(f"{BASE}/documents/{document.id}", data={"title": "x"}, headers=HTMX)
        review = await client.post(f"{BASE}/faq/{faq.id}/review", data={"decision": "rejected"}, headers=HTMX)
        product_page = await client.get(f"{BASE}/products/{product.id}", headers=PT)
        upload = await client.post(
            f"{BASE}/documents/upload",
            data={"collection_id": str(collection.id)},
            files=[("files", ("a.txt", b"texto", "text/plain"))],
            headers=HTMX,
        )
    assert editor.status_code == 404 and document.title not in editor.text
    assert status.status_code == 404 and save.status_code == 404 and review.status_code == 404
    assert product_page.status_code == 404 and upload.status_code == 404
    async with tenant_session(tenant_b.tenant_id) as session:
        assert (await session.get(Faq, faq.id)).status == faq.status


# --- collections and onboarding ------------------------------------------------------------------


async def test_collections_and_categories_are_managed_from_the_page(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        created = await client.post(
            f"{BASE}/collections",
            data={
                "name": "Vendas",
                "language": "es",
                "chunk_size": "800",
                "chunk_overlap": "100",
                "faq_threshold": "0,9",
            },
            headers=HTMX,
        )
        duplicate = await client.post(f"{BASE}/collections", data={"name": "vendas"}, headers=HTMX)
        too_small = await client.post(f"{BASE}/collections", data={"name": "Outra", "chunk_size": "10"}, headers=HTMX)
        async with tenant_session(tenant.tenant_id) as session:
            sales = (await session.execute(select(Collection).where(Collection.name == "Vendas"))).scalar_one()
        added = await client.post(f"{BASE}/collections/{sales.id}/categories", data={"name": "Preços"}, headers=HTMX)
        again = await client.post(f"{BASE}/collections/{sales.id}/categories", data={"name": "preços"}, headers=HTMX)
        category_id = re.search(r'hx-post="/app/knowledge/categories/([0-9a-f-]+)"', added.text).group(1)
        renamed = await client.post(f"{BASE}/categories/{category_id}", data={"name": "Tabela de preços"}, headers=HTMX)
        deleted = await client.delete(f"{BASE}/categories/{category_id}", headers=HTMX)
        removed = await client.delete(f"{BASE}/collections/{sales.id}", headers=HTMX)
    assert created.status_code == 200 and created.headers["hx-redirect"] == f"{BASE}/"
    assert sales.language == "es" and sales.chunk_size == 800 and sales.faq_threshold == 0.9
    assert duplicate.status_code == 422 and "Já existe uma base de conhecimento chamada vendas." in text_of(
        duplicate.text
    )
    assert too_small.status_code == 422 and "O tamanho do trecho vai de 200 a 8.000 caracteres." in text_of(
        too_small.text
    )
    assert added.status_code == 200 and 'data-category="Preços"' in added.text
    assert again.status_code == 422 and "Já existe uma categoria chamada preços." in text_of(again.text)
    assert renamed.status_code == 200 and 'data-category="Tabela de preços"' in renamed.text
    assert deleted.status_code == 200 and "data-category=" not in deleted.text
    assert removed.status_code == 200
    async with tenant_session(tenant.tenant_id) as session:
        assert await session.get(Collection, sales.id) is None


async def test_a_collection_with_an_embedding_model_says_when_the_server_cannot_search_by_meaning(
    page_client, make_tenant, monkeypatch
):
    tenant = await make_tenant(seed=False)
    async with tenant_session(tenant.tenant_id) as session:
        session.add(
            Collection(
                name="Com significado",
                description="",
                language="pt",
                embedding_provider="openai",
                embedding_model="text-embedding-3-small",
                chunk_size=1200,
                chunk_overlap=150,
                faq_threshold=0.82,
                owner_ids=[],
                agents_may_read=True,
                chunk_count=0,
                total_length=0,
            )
        )
        await session.commit()

    async def without_pgvector():
        return dataclasses.replace(await database_capabilities(), pgvector=False)

    monkeypatch.setattr("plugins.knowledge.views.database_capabilities", without_pgvector)
    async with page_client(tenant) as client:
        text = text_of((await client.get(f"{BASE}/", headers=PT)).text)
    assert "A busca por significado não está disponível neste servidor: somente busca por texto." in text


async def test_adding_knowledge_ticks_the_onboarding_step(atendai_client, page_client, make_tenant):
    tenant = await make_tenant()

    async def step() -> bool:
        answer = await atendai_client.get("/api/v1/onboarding/", headers=tenant.headers)
        return {s["id"]: s["done"] for s in answer.json()["steps"]}["knowledge.first_document"]

    assert await step() is False  # the demo's sample documents do not count
    collection = await first_collection(tenant.tenant_id)
    async with page_client(tenant) as client:
        await client.post(
            f"{BASE}/documents/new",
            data={"title": "Nossa loja", "collection_id": str(collection.id), "body": "Rua das Flores, 10."},
            headers=HTMX,
        )
    assert await step() is True
