"""The knowledge pages in a real browser, in Portuguese: a file uploaded with its progress, its row going
live to "Pronto", then found by "try a search" without the accent; a suggested FAQ entry edited,
approved and answering directly; and the pages on a phone and a wide desktop."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kernel.sdk import tenant_session
from plugins.knowledge.faq import FaqService
from plugins.knowledge.models import Collection, Document
from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]

DOCUMENTS = "/app/knowledge/documents"
SEARCH = "/app/knowledge/search"
FAQ = "/app/knowledge/faq"
PRODUCTS = "/app/knowledge/products"
PROMOTION = (
    "# Promoção relâmpago\n\n"
    "A promoção relâmpago de aniversário dá 40% de desconto nos tênis de corrida até domingo, "
    "só na loja do centro.\n"
)


async def open_knowledge(open_page, base_url, tenant, path: str, *, viewport=DESKTOP):
    page = await open_page(locale="pt-BR", viewport=viewport)
    await log_in(page, base_url, tenant.email, tenant.password, next_path=path)
    return page


async def full_screenshot(page, path: str) -> None:
    """A window as tall as the page, so the picture shows all of it with the bars where they belong."""
    size = page.viewport_size
    height = await page.evaluate("document.documentElement.scrollHeight")
    await page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    await page.screenshot(path=path)
    await page.set_viewport_size(size)


async def test_an_uploaded_file_goes_live_to_ready_and_is_found_without_its_accents(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant()
    page = await open_knowledge(open_page, base_url, tenant, DOCUMENTS)
    await page.wait_for_selector("#documents-table tr[data-document='Trocas e devoluções']")
    await full_screenshot(page, screenshot_path("knowledge-documents"))

    await page.click("[data-testid=upload-open]")
    dialog = page.locator("#upload-dialog")
    await dialog.wait_for(state="visible")
    await page.set_input_files(
        "#upload-files",
        files=[{"name": "promocao-relampago.md", "mimeType": "text/markdown", "buffer": PROMOTION.encode()}],
    )
    await page.locator(".kn-chosen li").first.wait_for()
    assert await page.locator("#upload-progress").count() == 1  # shown while the file is sent
    await dialog.screenshot(path=screenshot_path("knowledge-upload"))
    async with page.expect_response(lambda response: response.url.endswith(f"{DOCUMENTS}/upload")) as answer:
        await page.click("[data-testid=upload-submit]")
    assert (await answer.value).status == 200
    await dialog.wait_for(state="hidden")  # everything was accepted: the dialog closes by itself

    await page.locator("#documents-table tr[data-document='promocao relampago']").wait_for()
    # The row shows its status live (the table asks again every 2 s) until it is ready, when the title
    # made from the file's name gives way to the file's own heading.
    row = page.locator("#documents-table tr[data-document='Promoção relâmpago'][data-status='ready']")
    await row.wait_for(timeout=30_000)
    assert "Pronto" in await row.inner_text()
    assert await page.get_attribute("#documents-table", "data-pending") == "no"
    await page.locator(".toast.success").first.wait_for()

    await page.goto(f"{base_url}{SEARCH}")
    await page.locator("#search-q").press_sequentially("promocao", delay=40)
    first = page.locator("#search-results .kn-hit").first
    await first.wait_for()
    await page.wait_for_function(
        "() => document.querySelector('#search-results .kn-hit')?.dataset.document === 'Promoção relâmpago'"
    )
    assert "<mark>" in await first.locator(".kn-snippet").inner_html()
    assert "q=promocao" in page.url  # the address keeps the search
    await full_screenshot(page, screenshot_path("knowledge-search"))


async def test_the_editor_previews_markdown_as_it_is_typed(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    async with tenant_session(tenant.tenant_id) as session:
        document = (await session.execute(select(Document).where(Document.title == "Trocas e devoluções"))).scalar_one()
    page = await open_knowledge(open_page, base_url, tenant, f"{DOCUMENTS}/{document.id}")
    body = page.locator("#f-body")
    await body.press("Control+End")
    await body.press_sequentially("\n\n## Troca na loja\n\nTambém **trocamos** na loja física.", delay=5)
    await page.locator("#markdown-preview h2", has_text="Troca na loja").wait_for()
    assert await page.locator("#markdown-preview strong", has_text="trocamos").count() == 1
    async with page.expect_response(lambda response: response.url.endswith(str(document.id))) as answer:
        await page.click("[data-testid=save-document]")
    assert (await answer.value).status == 200
    await page.locator("[data-testid=versions] li[data-version='2']").wait_for()
    await page.click(".kn-chunks-card summary")
    await page.locator("[data-testid=chunks] li").first.wait_for()
    await assert_fits(page)
    await full_screenshot(page, screenshot_path("knowledge-editor"))


async def test_a_suggestion_is_edited_approved_and_then_answers_directly(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant()
    question = "Vocês fazem entrega aos domingos?"
    async with tenant_session(tenant.tenant_id) as session:
        collection = (await session.execute(select(Collection).order_by(Collection.created_at))).scalars().first()
        faq = await FaqService(session).create(collection.id, question, "", status="suggested", origin="unanswered")
        await session.commit()
    page = await open_knowledge(open_page, base_url, tenant, FAQ)
    item = page.locator(f"#faq-{faq.id}")
    await item.wait_for()
    assert await page.get_attribute("[data-tab=suggested]", "aria-current") == "page"
    await full_screenshot(page, screenshot_path("knowledge-faq-queue"))

    await item.locator("textarea[name=answer]").fill("Não: entregamos de segunda a sábado.")
    async with page.expect_response(lambda response: response.url.endswith(f"{faq.id}/review")) as answer:
        await item.locator("[data-testid=approve]").click()
    assert (await answer.value).status == 204
    await item.wait_for(state="detached")  # the queue is drawn again without it

    await page.click("[data-tab=approved]")
    approved = page.locator(f"#faq-{faq.id}")
    await approved.wait_for()
    assert "Não: entregamos de segunda a sábado." in await approved.inner_text()
    assert re.search(r"status=approved", page.url)

    await page.goto(f"{base_url}{SEARCH}")
    await page.locator("#search-q").press_sequentially(question, delay=10)
    direct = page.locator("[data-testid=direct-answer]")
    await direct.wait_for()
    assert "Não: entregamos de segunda a sábado." in await direct.inner_text()


async def test_the_knowledge_pages_fit_a_phone_and_a_wide_desktop(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    for label, viewport in (("360", PHONE), ("1440", DESKTOP)):
        page = await open_knowledge(open_page, base_url, tenant, DOCUMENTS, viewport=viewport)
        for path, name in (
            (DOCUMENTS, "documents"),
            ("/app/knowledge/", "collections"),
            (FAQ, "faq"),
            (PRODUCTS, "products"),
            (f"{SEARCH}?q=prazo+para+devolver", "search"),
            (f"{DOCUMENTS}/new", "new-document"),
            (f"{PRODUCTS}/new", "new-product"),
        ):
            answer = await page.goto(f"{base_url}{path}")
            assert answer is not None and answer.status == 200, path
            await assert_fits(page)
            if name in ("documents", "products", "collections", "faq", "search") or label == "360":
                await full_screenshot(page, screenshot_path(f"knowledge-{name}-{label}"))
        if label == "360":
            # On a phone each row is a card, its cells labelled; the menu opens the other pages.
            cell = page.locator("#products-table td[data-label]:not(.primary-cell)").first
            await page.goto(f"{base_url}{PRODUCTS}")
            assert await cell.evaluate("cell => getComputedStyle(cell).display") == "flex"
