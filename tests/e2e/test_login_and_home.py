"""A person logs in with the form, lands where they wanted, sees their modules, and logs out."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]


async def test_login_home_module_page_and_logout(browser, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    context = await browser.new_context(locale="pt-BR", viewport={"width": 1280, "height": 800})
    page = await context.new_page()

    await page.goto(f"{base_url}/app/example/")
    assert "/auth/login" in page.url
    await page.screenshot(path=screenshot_path("login"))

    await page.fill("#password", "not the password")
    await page.fill("#email", tenant.email)
    await page.click("button[type=submit]")
    assert await page.locator(".form-error").inner_text() == "E-mail ou senha inválidos"

    await page.fill("#password", tenant.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/app/example")
    assert await page.locator("h1").inner_text() == "Notas"
    assert await page.locator(".note h2").first.inner_text() in {"Opening hours", "Welcome"}
    await page.screenshot(path=screenshot_path("notes"))

    await page.click("a.sidebar-brand")
    await page.wait_for_url(f"{base_url}/app/")
    assert (await page.locator("h1").inner_text()).startswith("Olá")
    await page.screenshot(path=screenshot_path("home"))

    await page.click("[data-testid=user-menu]")
    await page.click("button:has-text('Sair')")
    await page.wait_for_url(f"{base_url}/auth/login")
    await page.goto(f"{base_url}/app/")
    assert "/auth/login" in page.url
    await context.close()


async def test_the_home_page_fits_a_phone(browser, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    context = await browser.new_context(locale="pt-BR", viewport={"width": 360, "height": 740})
    page = await context.new_page()
    await page.goto(f"{base_url}/auth/login")
    await page.fill("#email", tenant.email)
    await page.fill("#password", tenant.password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/app/")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    await page.screenshot(path=screenshot_path("home-phone"), full_page=True)
    await context.close()
