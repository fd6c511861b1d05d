"""The attendance pages in a real browser, in Portuguese: a customer's message appears on the board
without a reload, a card dragged to "Resolvido" resolves its conversation, an operator answers from the
conversation view (the thread updates live when the customer writes again), and a transfer shows its
summary before it is sent."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from kernel.sdk import tenant_session
from plugins.inbox.models import Conversation, Message
from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in
from tests.plugins.inbox.conftest import receive, set_inbox_settings, webchat_of

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]

BOARD = "/app/inbox/board"


async def seeded_tenant(make_tenant):
    tenant = await make_tenant(seed=True)
    await set_inbox_settings(tenant.tenant_id, business_hours={"always_open": True})
    return tenant


async def test_the_board_updates_live_and_a_card_dragged_to_resolved_resolves(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await seeded_tenant(make_tenant)
    page = await open_page(locale="pt-BR", viewport=DESKTOP)
    await log_in(page, base_url, tenant.email, tenant.password, next_path=BOARD)
    await page.wait_for_selector("[data-testid=column-new] [data-testid=card]")
    await page.wait_for_timeout(600)  # the socket subscribes

    channel_id = await webchat_of(tenant.tenant_id)
    message, _ = await receive(
        tenant.tenant_id, channel_id, "visitor-live", "Vocês entregam em Campinas?", name="Paula Dias"
    )
    card = page.locator(f"[data-card-id='{message.conversation_id}']")
    await card.wait_for(timeout=10_000)
    assert "Vocês entregam em Campinas?" in await card.inner_text()
    await page.screenshot(path=screenshot_path("inbox-board"))

    target = page.locator("[data-testid=column-resolved] .kanban-cards")
    await card.drag_to(target)
    for _ in range(50):
        async with tenant_session(tenant.tenant_id) as session:
            resolved_at = (await session.get(Conversation, message.conversation_id)).resolved_at
        if resolved_at is not None:
            break
        await asyncio.sleep(0.1)
    assert resolved_at is not None, "dropping the card on Resolvido resolves the conversation"
    await page.locator(f"[data-testid=column-resolved] [data-card-id='{message.conversation_id}']").wait_for()
    await assert_fits(page)


async def test_an_operator_answers_and_the_thread_follows_the_customer_live(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await seeded_tenant(make_tenant)
    channel_id = await webchat_of(tenant.tenant_id)
    first, _ = await receive(
        tenant.tenant_id, channel_id, "visitor-thread", "Oi, meu pedido 5531 não chegou", name="Rafael Nunes"
    )
    page = await open_page(locale="pt-BR", viewport=DESKTOP)
    await log_in(
        page, base_url, tenant.email, tenant.password, next_path=f"/app/inbox/conversations/{first.conversation_id}"
    )
    await page.wait_for_selector("[data-testid=message]")
    await page.wait_for_timeout(600)

    await page.fill("[data-testid=composer-input]", "Olá Rafael! Vou verificar agora.")
    await page.keyboard.press("Control+Enter")
    await page.locator("[data-testid=message]", has_text="Olá Rafael! Vou verificar agora.").wait_for()
    await page.locator("[data-testid=owner-badge][data-owner=person]").first.wait_for()

    await receive(tenant.tenant_id, channel_id, "visitor-thread", "Obrigado! O número é 5531-B")
    await page.locator("[data-testid=message]", has_text="O número é 5531-B").wait_for(timeout=10_000)
    await page.screenshot(path=screenshot_path("inbox-conversation"))

    # The transfer dialog shows the summary before it goes.
    await page.click("[data-testid=action-transfer]")
    summary = page.locator("[data-testid=transfer-summary]")
    await summary.wait_for()
    assert "5531" in await summary.input_value()
    await page.screenshot(path=screenshot_path("inbox-transfer-preview"))
    options = await page.locator("[data-testid=transfer-target] option").all_inner_texts()
    team_label = next(o for o in options if "Atendimento" in o)
    await page.select_option("[data-testid=transfer-target]", label=team_label)
    await summary.fill("Pedido 5531-B não chegou; cliente aguarda retorno.")
    await page.click("[data-testid=transfer-submit]")
    await page.locator("[data-testid=conversation-summary]", has_text="Pedido 5531-B não chegou").wait_for()
    async with tenant_session(tenant.tenant_id) as session:
        notes = (
            (
                await session.execute(
                    select(Message).where(Message.conversation_id == first.conversation_id, Message.private.is_(True))
                )
            )
            .scalars()
            .all()
        )
    assert any(n.body.startswith("Pedido 5531-B") for n in notes)

    await page.set_viewport_size(PHONE)
    await page.wait_for_timeout(300)
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("inbox-conversation-phone"))


async def test_a_visitor_chats_through_the_widget_and_an_operator_answers_live(
    open_page, base_url, make_tenant, screenshot_path, serve
):
    from plugins.inbox.demo import ensure_webchat

    tenant = await seeded_tenant(make_tenant)
    async with tenant_session(tenant.tenant_id) as session:
        key = (await ensure_webchat(session)).public_key
        await session.commit()
    shop = serve(
        {
            "/loja.html": (
                200,
                "text/html; charset=utf-8",
                (
                    "<!doctype html><html lang='pt-BR'><head><title>Loja</title>"
                    "<style>* { font-family: serif !important; color: red !important; }</style></head>"
                    "<body><h1>Loja da Ana</h1>"
                    f"<script src='{base_url}/static/plugins/inbox/widget.js' data-key='{key}' async></script>"
                    "</body></html>"
                ).encode(),
                {},
            )
        }
    )
    visitor = await open_page(locale="pt-BR", viewport=DESKTOP)
    await visitor.goto(shop.url("/loja.html"))
    await visitor.click("[data-testid=launcher]")
    await visitor.locator("[data-testid=panel]").wait_for()
    await visitor.fill("[data-testid=input]", "Oi! Vocês têm o tênis 42 em azul?")
    await visitor.click("[data-testid=send]")

    operator = await open_page(locale="pt-BR", viewport=DESKTOP)
    await log_in(operator, base_url, tenant.email, tenant.password, next_path=BOARD)
    card = operator.locator("[data-testid=card]", has_text="tênis 42 em azul")
    await card.wait_for(timeout=15_000)
    await card.locator("a").click()
    await operator.locator("[data-testid=message]", has_text="tênis 42 em azul").wait_for()
    await operator.wait_for_timeout(600)  # the conversation's socket subscribes

    await operator.fill("[data-testid=composer-input]", "Temos sim! Quer que eu separe um par?")
    await operator.click("[data-testid=composer-send]")
    reply = visitor.locator("[data-testid=message]", has_text="Temos sim! Quer que eu separe um par?")
    await reply.wait_for(timeout=15_000)
    await visitor.screenshot(path=screenshot_path("inbox-widget"))

    await visitor.fill("[data-testid=input]", "Quero sim, obrigado!")
    await visitor.click("[data-testid=send]")
    await operator.locator("[data-testid=message]", has_text="Quero sim, obrigado!").wait_for(timeout=15_000)
    await operator.screenshot(path=screenshot_path("inbox-operator-live"))

    await visitor.set_viewport_size(PHONE)
    await visitor.wait_for_timeout(300)
    await visitor.screenshot(path=screenshot_path("inbox-widget-phone"))
