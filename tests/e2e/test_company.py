"""The company profile in a real browser: brand colours applied to the shell, the logo in the menu,
business hours kept, an inline error that keeps what was typed, and the page on a phone and a desktop."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]

COMPANY = "/app/-/company"
ACCENT = "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"


async def open_company(open_page, base_url, tenant, *, viewport=DESKTOP):
    page = await open_page(locale="en", viewport=viewport)
    await log_in(page, base_url, tenant.email, tenant.password, next_path=COMPANY)
    await page.wait_for_selector("#company-hours [x-data]")
    return page


async def saved(page, section: str) -> None:
    """Wait for a section's htmx request to finish (its card is drawn again)."""
    async with page.expect_response(lambda response: response.url.endswith(f"{COMPANY}/{section}")) as answer:
        await page.click(f"#company-{section} button[type=submit]")
    assert (await answer.value).status == 200


async def test_a_new_brand_colour_is_previewed_live_and_then_applies_to_every_page(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant(seed=False, language="en")
    page = await open_company(open_page, base_url, tenant)
    assert await page.evaluate(ACCENT) == "#7c3aed"
    default_button = await page.evaluate("getComputedStyle(document.querySelector('.btn-primary')).backgroundImage")

    await page.fill("#f-brand_primary", "#0ea5e9")
    assert await page.evaluate(ACCENT) == "#0ea5e9", "the preview changes while picking"
    await page.fill("#f-brand_primary", "#1e1b4b")  # a navy that does not read as text on the dark background
    # Alpine redraws on its next tick: wait for the warning rather than look at once.
    await page.locator("#f-brand_primary-warning").wait_for(state="visible", timeout=5_000)
    await page.fill("#f-brand_primary", "#0ea5e9")
    await page.locator("#f-brand_primary-warning").wait_for(state="hidden", timeout=5_000)
    await saved(page, "brand")

    await page.reload()
    assert await page.evaluate(ACCENT) == "#0ea5e9"
    # Sky blue and the default pink leave no text colour readable on the whole gradient (the dark text
    # the blue needs is 4.0:1 on the pink), so the primary buttons take the blue alone, with dark text.
    button = await page.evaluate(
        "(() => { const s = getComputedStyle(document.querySelector('.btn-primary')); return [s.backgroundImage, s.backgroundColor, s.color]; })()"
    )
    assert button[0] != default_button and "rgb(14, 165, 233)" in button[0] + button[1]
    assert button[2] == "rgb(18, 16, 26)"
    await page.locator("#company-brand").scroll_into_view_if_needed()
    await page.screenshot(path=screenshot_path("company-brand-applied"))

    await page.goto(f"{base_url}/app/")
    assert await page.evaluate(ACCENT) == "#0ea5e9"
    current = await page.evaluate("getComputedStyle(document.querySelector('.skip-link')).backgroundColor")
    assert current == "rgb(14, 165, 233)"

    page = await open_company(open_page, base_url, tenant)
    async with page.expect_response(lambda response: response.url.endswith(f"{COMPANY}/brand")):
        await page.click("[data-testid=reset-colours]")
    await page.reload()
    assert await page.evaluate(ACCENT) == "#7c3aed"


async def test_an_uploaded_logo_shows_in_the_menu(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant(seed=False, language="en")
    page = await open_company(open_page, base_url, tenant)
    picture = io.BytesIO()
    Image.new("RGB", (300, 300), (14, 165, 233)).save(picture, format="PNG")
    await page.set_input_files(
        "#f-logo", files=[{"name": "logo.png", "mimeType": "image/png", "buffer": picture.getvalue()}]
    )
    assert await page.locator("[data-testid=logo-preview] img").first.get_attribute("src") != ""
    async with page.expect_navigation():
        await page.click("[data-testid=upload-logo]")
    logo = page.locator(".sidebar-brand img")
    assert (await logo.get_attribute("src")).startswith("/media/public/")
    assert await logo.evaluate("image => image.complete && image.naturalWidth") == 300
    assert await page.locator(".toast.success").count() == 1
    await page.screenshot(path=screenshot_path("company-logo"))


async def test_business_hours_are_kept_after_a_reload(open_page, base_url, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    page = await open_company(open_page, base_url, tenant)
    await page.check("[data-testid=hours-enabled]")
    monday = page.locator(".hours-day[data-day=mon]")
    await monday.locator("input[type=time]").nth(1).fill("12:00")
    await page.click("[data-testid=add-mon]")
    await monday.locator("input[type=time]").nth(2).fill("13:00")
    await monday.locator("input[type=time]").nth(3).fill("18:00")
    await page.click("[data-testid=copy-monday]")
    await page.check(".hours-day[data-day=sat] input[role=switch]")
    await page.locator(".hours-day[data-day=sat] input[type=time]").nth(1).fill("13:00")
    await saved(page, "hours")

    await page.reload()
    await page.wait_for_selector("#company-hours [x-data]")
    for day in ("mon", "fri"):
        times = page.locator(f".hours-day[data-day={day}] input[type=time]")
        assert [await times.nth(i).input_value() for i in range(4)] == ["09:00", "12:00", "13:00", "18:00"]
    saturday = page.locator(".hours-day[data-day=sat] input[type=time]")
    assert [await saturday.nth(i).input_value() for i in range(2)] == ["09:00", "13:00"]
    assert not await page.locator(".hours-day[data-day=sun] input[role=switch]").is_checked()
    assert await page.locator("[data-testid=open-now] .badge").count() == 1


async def test_an_invalid_phone_shows_an_inline_error_and_keeps_what_was_typed(
    open_page, base_url, make_tenant, screenshot_path
):
    tenant = await make_tenant(seed=False, language="en")
    page = await open_company(open_page, base_url, tenant)
    await page.fill("#f-website", "paoquente.com.br")
    await page.fill("#f-contact_phone", "12 34")
    async with page.expect_response(lambda response: response.url.endswith(f"{COMPANY}/contact")) as answer:
        await page.click("#company-contact button[type=submit]")
    assert (await answer.value).status == 422
    error = page.locator("#f-contact_phone-error")
    await error.wait_for()
    assert "area code" in await error.inner_text()
    assert await page.input_value("#f-contact_phone") == "12 34"
    assert await page.input_value("#f-website") == "paoquente.com.br"
    assert await page.get_attribute("#f-contact_phone", "aria-invalid") == "true"
    await page.locator("#company-contact").screenshot(path=screenshot_path("company-contact-error"))


async def test_the_page_fits_a_phone_and_a_desktop(open_page, base_url, make_tenant, screenshot_path):
    tenant = await make_tenant(seed=False, language="en")
    for name, viewport in (("company-desktop", DESKTOP), ("company-phone", PHONE)):
        page = await open_company(open_page, base_url, tenant, viewport=viewport)
        await page.check("[data-testid=hours-enabled]")
        await page.click("[data-testid=add-mon]")  # a second interval on Monday
        await assert_fits(page)
        # A window as tall as the page: sticky bars stay where they belong in the picture.
        height = await page.evaluate("document.documentElement.scrollHeight")
        await page.set_viewport_size({"width": viewport["width"], "height": height})
        await page.screenshot(path=screenshot_path(name))
