"""A new customer goes from nothing to their home page; languages switch; the shell works on a phone."""

from __future__ import annotations

import io
import time
from uuid import uuid4

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]


def png_logo() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (96, 96), "#db2777")
    ImageDraw.Draw(image).ellipse((16, 16, 80, 80), fill="#ffffff")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_new_customer_registers_their_organization_and_lands_on_the_first_steps(
    open_page, base_url, screenshot_path, tmp_path
):
    page = await open_page(locale="pt-BR", viewport=DESKTOP)
    suffix = uuid4().hex[:6]
    started = time.perf_counter()

    await page.goto(f"{base_url}/auth/login")
    await page.click("a[href='/auth/register']")
    await page.wait_for_url(f"{base_url}/auth/register")
    await page.fill("#f-organization_name", f"Padaria Pão Quente {suffix}")
    # The address follows the name, and the live check says it is free.
    assert await page.input_value("#f-slug") == f"padaria-pao-quente-{suffix}"
    await page.wait_for_selector("#f-slug-status [data-status=available]")
    await page.screenshot(path=screenshot_path("register-step-1"))
    await page.click("button[type=submit]")

    await page.wait_for_selector("#f-name")
    await page.fill("#f-name", "Ana Souza")
    await page.fill("#f-email", f"ana-{suffix}@padaria.example")
    await page.fill("#f-password", "pão de queijo 2026")
    await page.fill("#f-password_confirmation", "pão de queijo diferente")
    await page.click("button:has-text('Criar a organização'), button.btn-primary")
    # A mistake is shown on its field, and what was typed stays.
    await page.wait_for_selector("#f-password_confirmation-error")
    assert await page.input_value("#f-email") == f"ana-{suffix}@padaria.example"
    await page.fill("#f-password", "pão de queijo 2026")
    await page.fill("#f-password_confirmation", "pão de queijo 2026")
    await page.screenshot(path=screenshot_path("register-step-2"))
    await page.click("button.btn-primary")

    await page.wait_for_url(f"{base_url}/app/-/welcome")
    logo = tmp_path / "logo.png"
    logo.write_bytes(png_logo())
    await page.set_input_files("#f-logo", str(logo))
    await page.select_option("#f-timezone", "America/Manaus")
    await page.screenshot(path=screenshot_path("register-step-3"))
    await page.click("#welcome-form button.btn-primary")

    await page.wait_for_url(f"{base_url}/app/")
    elapsed = time.perf_counter() - started
    assert await page.locator("#first-steps").is_visible()
    assert await page.locator(".sidebar-brand img").count() == 1
    assert await page.locator(".sidebar-brand .brand-name").inner_text() == f"Padaria Pão Quente {suffix}"
    assert await page.locator("[data-step='kernel.company'].done").count() == 1  # the logo ticked it
    assert await page.locator("[data-step='kernel.ai']:not(.done)").count() == 1
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("register-home"), full_page=True)
    print(f"\nregistration to home page in the browser: {elapsed:.1f} s")

    # Everything the wizard did is in the organization's audit log, in words, and can be exported.
    await page.click("[data-nav='kernel.audit']")
    await page.wait_for_url(f"{base_url}/app/-/audit")
    for action in (
        "organization.registered",
        "organization.created",
        "organization.logo_changed",
        "organization.updated",
    ):
        assert await page.locator(f"tr[data-action='{action}']").count() == 1, action
    registered = page.locator("tr[data-action='organization.registered']")
    assert "Ana" in await registered.inner_text() or f"ana-{suffix}" in await registered.inner_text()
    await page.select_option("#f-actor_id", label=f"Ana Souza <ana-{suffix}@padaria.example>")
    await page.wait_for_url("**actor_id=**")
    async with page.expect_download() as download:
        await page.click("[data-testid=export-csv]")
    exported = (await (await download.value).path()).read_text(encoding="utf-8-sig")
    assert exported.startswith("created_at,") and "organization.logo_changed" in exported
    await page.screenshot(path=screenshot_path("register-audit"), full_page=True)


async def test_the_interface_switches_to_english_and_spanish(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    page = await open_page(locale="pt-BR")
    await page.goto(f"{base_url}/auth/login")
    assert await page.locator("h1").inner_text() == "Entrar"
    await page.click(".auth-languages button[lang=en]")
    await page.wait_for_selector("h1:has-text('Log in')")
    await page.click(".auth-languages button[lang=es]")
    await page.wait_for_selector("h1:has-text('Iniciar sesión')")
    await page.fill("#email", tenant.email)
    await page.fill("#password", tenant.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/app/")
    assert (await page.locator("h1").inner_text()).startswith("Hola")
    assert await page.locator("[data-nav='kernel.users'] span").inner_text() == "Usuarios"
    await page.screenshot(path=screenshot_path("home-es"))

    await page.click("[data-testid=language-menu]")
    await page.click(".menu-panel button[lang=en]")
    await page.wait_for_selector("h1:has-text('Hello')")
    assert await page.locator("[data-nav='kernel.users'] span").inner_text() == "Users"
    assert await page.get_attribute("html", "lang") == "en"
    await page.screenshot(path=screenshot_path("home-en"))
    # The choice is the person's own now: a new browser logging in gets it too.
    again = await open_page(locale="pt-BR")
    await log_in(again, base_url, tenant.email, tenant.password)
    assert await again.get_attribute("html", "lang") == "en"


async def test_the_shell_on_a_phone_opens_its_menu_as_a_drawer(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    page = await open_page(viewport=PHONE)
    await log_in(page, base_url, tenant.email, tenant.password)
    await assert_fits(page)
    sidebar = page.locator("#sidebar")
    assert not await sidebar.is_visible() or (await sidebar.bounding_box())["x"] < 0
    await page.screenshot(path=screenshot_path("shell-phone"), full_page=True)
    await page.click(".menu-button")
    await page.wait_for_timeout(300)
    assert (await sidebar.bounding_box())["x"] >= 0
    await page.screenshot(path=screenshot_path("shell-phone-menu"))
    await page.keyboard.press("Escape")
    await page.wait_for_timeout(300)
    assert (await sidebar.bounding_box())["x"] < 0


async def test_the_bell_counts_a_new_notification_without_a_reload(open_page, base_url, make_tenant, atendai_kernel):
    from kernel.db.scope import tenant_scope
    from kernel.db.session import set_session_scope
    from kernel.notifications.service import notify

    tenant = await make_tenant(seed=False)  # no demo data: its notifications would be counted too
    page = await open_page()
    await log_in(page, base_url, tenant.email, tenant.password)
    await page.wait_for_timeout(500)  # the socket subscribes
    with tenant_scope(tenant.tenant_id):
        async with atendai_kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant.tenant_id)
            await notify(
                session,
                kind="kernel.test",
                message="A customer is waiting.",
                user_ids=[tenant.admin_user_id],
                link="/app/-/audit",
            )
            await session.commit()
    await page.wait_for_selector("[data-testid=unread-count]")
    assert await page.locator("[data-testid=unread-count]").inner_text() == "1"
    await page.click("[data-testid=bell]")
    await page.click(".notifications-list a")
    await page.wait_for_url(f"{base_url}/app/-/audit")
    assert await page.locator("[data-testid=unread-count]").count() == 0


async def test_the_styleguide_board_moves_cards_and_puts_back_a_refused_move(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant()
    page = await open_page()
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/styleguide")
    await page.wait_for_selector("#styleguide-chart[data-chart-ready]")
    card = page.locator("[data-card-id=c1]")
    await card.focus()
    await page.keyboard.press("Space")
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Space")
    await page.wait_for_timeout(300)
    assert await page.locator("[data-kanban-column=doing] [data-card-id=c1]").count() == 1
    await card.focus()
    await page.keyboard.press("Space")
    await page.keyboard.press("ArrowRight")
    await page.keyboard.press("Space")
    await page.wait_for_selector(".toast.error")
    assert await page.locator("[data-kanban-column=doing] [data-card-id=c1]").count() == 1
    await page.screenshot(path=screenshot_path("styleguide"), full_page=True)
