"""Modules, a module's settings form, the AI settings with "Test connection", and the platform's defaults.

Driven in Chromium against the app served for real; "Test connection" reaches the fake OpenAI server
of ``tests/fakes`` over HTTP, as it would reach OpenAI.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from kernel.tenancy.services import create_platform_admin
from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in
from tests.fakes import FakeReply
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]

KEY = "sk-e2e-right-key-0001"


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


async def full_screenshot(page: Any, path: str) -> None:
    """A whole-page picture from the top (the shell's sticky bars stay in place)."""
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=path, full_page=True)


async def confirm(page: Any) -> None:
    """Press the action button of the shell's confirmation dialog."""
    await page.locator("#confirm-dialog[open] [data-confirm-ok]").click()


async def test_disabling_a_module_hides_it_and_enabling_brings_it_back(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant()
    page = await open_page(viewport=DESKTOP)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/modules")
    notes_entry = page.locator('[data-nav="example.notes"]')
    await notes_entry.wait_for()
    await assert_fits(page)
    await full_screenshot(page, screenshot_path("modules-desktop"))

    toggle = page.locator('[data-testid="toggle-example"]')
    assert await toggle.get_attribute("aria-checked") == "true"
    await toggle.click()
    async with page.expect_navigation():
        await confirm(page)
    await page.locator('[data-testid="toggle-example"][aria-checked="false"]').wait_for()
    assert await notes_entry.count() == 0  # the sidebar was drawn again without the module
    assert await page.locator(".toast.success").count() == 1
    gone = await page.goto(f"{base_url}/app/example/")
    assert gone is not None and gone.status == 404

    await page.goto(f"{base_url}/app/-/modules")
    async with page.expect_navigation():
        await page.locator('[data-testid="toggle-example"]').click()  # enabling needs no question
    await page.locator('[data-testid="toggle-example"][aria-checked="true"]').wait_for()
    await notes_entry.wait_for()
    back = await page.goto(f"{base_url}/app/example/")
    assert back is not None and back.status == 200


async def test_the_modules_page_fits_a_phone(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    page = await open_page(viewport=PHONE)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/modules")
    await page.locator('[data-module="example"]').wait_for()
    await assert_fits(page)
    await full_screenshot(page, screenshot_path("modules-phone"))
    await page.goto(f"{base_url}/app/-/modules/example/settings")
    await page.locator("#settings-form").wait_for()
    await assert_fits(page)


async def test_a_modules_settings_show_an_invalid_number_inline_then_save(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant()
    page = await open_page(viewport=DESKTOP)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/modules")
    await page.click('a[href="/app/-/modules/example/settings"]')
    await page.wait_for_url(f"{base_url}/app/-/modules/example/settings")
    await page.fill("#f-notes_per_page", "1000")
    await page.fill("#f-tags", "prices\nopening hours")
    await page.click("#settings-form button[type=submit]")
    error = page.locator("#f-notes_per_page-error")
    await error.wait_for()
    assert "200" in await error.inner_text()
    assert await page.input_value("#f-notes_per_page") == "1000"  # what was typed stays
    assert await page.input_value("#f-tags") == "prices\nopening hours"
    await full_screenshot(page, screenshot_path("module-settings-error"))

    await page.fill("#f-notes_per_page", "20")
    await page.fill("#f-export_token", "export-token-0123456789")
    await page.click("#settings-form button[type=submit]")
    await page.locator(".toast.success").wait_for()
    await page.locator("#settings-form .secret-hint").wait_for()
    assert await page.locator("#settings-form .secret-hint").inner_text() == "exp...6789"
    assert await page.locator("#f-notes_per_page-error").count() == 0
    await page.reload()
    assert await page.input_value("#f-notes_per_page") == "20"
    assert await page.input_value("#f-export_token") == ""  # a secret is never sent back
    await assert_fits(page)


async def test_ai_settings_test_the_connection_then_report_a_wrong_key(
    open_page, base_url, make_tenant, openai_fake, screenshot_path
):
    tenant = await make_tenant()
    page = await open_page(viewport=DESKTOP)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/ai")
    await page.click('label[data-provider="openai"]')
    section = page.locator('[data-section="openai"]')
    await section.wait_for(state="visible")
    assert await page.locator('[data-section="gemini"]').is_hidden()
    await page.fill("#ai-form-openai-model", "gpt-4o-mini")
    await page.fill("#ai-form-openai-api-key", KEY)
    await page.fill("#ai-form-openai-base-url", openai_fake.api_base)
    await full_screenshot(page, screenshot_path("ai-settings"))

    openai_fake.reset()
    openai_fake.script(FakeReply.say("OK"))
    await page.click('[data-testid="test-connection"]')
    result = page.locator('[data-testid="test-result"]')
    await result.wait_for()
    assert await result.get_attribute("data-ok") == "true", await result.inner_text()
    assert "gpt-4o-mini" in await result.inner_text()
    assert openai_fake.requests[0].headers["authorization"] == f"Bearer {KEY}"
    await full_screenshot(page, screenshot_path("ai-test-ok"))

    openai_fake.script(FakeReply.fail(401))
    await page.fill("#ai-form-openai-api-key", "sk-e2e-wrong-key-9999")
    await page.click('[data-testid="test-connection"]')
    await page.locator('[data-testid="test-result"][data-ok="false"]').wait_for()
    assert "401" in await page.locator('[data-testid="test-reason"]').inner_text()
    await full_screenshot(page, screenshot_path("ai-test-failed"))

    await page.fill("#ai-form-openai-api-key", KEY)
    await page.click("#ai-form button[type=submit]")
    await page.locator(".toast.success").wait_for()
    assert await page.locator('[data-testid="openai-key-hint"]').inner_text() == "sk-...0001"
    await assert_fits(page)


async def test_the_ai_settings_fit_a_phone(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant()
    page = await open_page(viewport=PHONE)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/ai")
    await page.click('label[data-provider="gemini"]')
    await page.locator('[data-section="gemini"]').wait_for(state="visible")
    assert await page.locator('[data-section="openai"]').is_hidden()
    await assert_fits(page)
    await full_screenshot(page, screenshot_path("ai-settings-phone"))


async def test_the_platforms_global_defaults(atendai_kernel, open_page, base_url, screenshot_path):
    email = f"root-{secrets.token_hex(3)}@example.com"
    password = "platform admin pw 1"
    async with atendai_kernel.db.session() as session:
        await create_platform_admin(session, email=email, password=password, name="Root")
        await session.commit()
    page = await open_page(viewport=DESKTOP)
    await log_in(page, base_url, email, password, next_path="/app/-/platform/defaults")
    await page.locator("#registration-form").wait_for()
    await page.locator("#defaults-example summary").click()
    await page.locator("#defaults-form-example #f-notes_per_page").wait_for(state="visible")
    await assert_fits(page)
    await full_screenshot(page, screenshot_path("platform-defaults"))

    phone = await open_page(viewport=PHONE)
    await log_in(phone, base_url, email, password, next_path="/app/-/platform/defaults")
    await phone.locator("#platform-ai-form").wait_for()
    await assert_fits(phone)
    await full_screenshot(phone, screenshot_path("platform-defaults-phone"))
