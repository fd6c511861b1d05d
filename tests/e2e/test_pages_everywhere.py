"""Every page of the shell at a phone's width and a wide desktop's, in the three languages: no horizontal
scrolling, nothing loaded from outside the site, and no error on the browser's console."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]

TENANT_PAGES = (
    "/app/",
    "/app/-/company",
    "/app/-/users",
    "/app/-/roles",
    "/app/-/roles/new",
    "/app/-/modules",
    "/app/-/ai",
    "/app/-/api-tokens",
    "/app/-/audit",
    "/app/-/profile",
    "/app/-/styleguide",
    "/app/-/welcome",
    "/app/example/",
    "/app/knowledge/",
    "/app/knowledge/documents",
    "/app/knowledge/documents/new",
    "/app/knowledge/faq",
    "/app/knowledge/products",
    "/app/knowledge/products/new",
    "/app/knowledge/search",
)
PLATFORM_PAGES = (
    "/app/-/platform/",
    "/app/-/platform/tenants",
    "/app/-/platform/plans",
    "/app/-/platform/plugins",
    "/app/-/platform/defaults",
    "/app/-/platform/audit",
)
PUBLIC_PAGES = ("/auth/login", "/auth/register", "/auth/forgot")
LANGUAGES = ("pt-BR", "en", "es")


def watch(page: Any, base_url: str) -> dict[str, list[str]]:
    """Collect requests to other origins and console errors while the page is used."""
    seen: dict[str, list[str]] = {"outside": [], "errors": []}
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith((base_url, "data:", "blob:")) else seen["outside"].append(request.url)
        ),
    )
    page.on("console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    return seen


async def visit_all(
    page: Any, base_url: str, paths: tuple[str, ...], language: str, label: str, screenshot_path: Any
) -> None:
    seen = watch(page, base_url)
    for path in paths:
        answer = await page.goto(f"{base_url}{path}")
        assert answer is not None and answer.status == 200, f"{path}: {answer.status if answer else 'no answer'}"
        assert await page.get_attribute("html", "lang") == language, path
        await assert_fits(page)
        if language == "pt-BR":  # one set of pictures to look at; the other languages are checked by measure
            name = path.strip("/").replace("/", "_").replace("-", "") or "home"
            await page.screenshot(path=screenshot_path(f"sweep-{label}-{name}"), full_page=True)
    assert seen["outside"] == [], seen["outside"]
    assert seen["errors"] == [], seen["errors"]


async def choose_language(page: Any, language: str) -> None:
    await page.evaluate(
        """async (language) => {
            const body = new URLSearchParams({language, next: location.pathname});
            await fetch('/auth/language', {method: 'POST', body, credentials: 'same-origin'});
        }""",
        language,
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_organization_page_fits(open_page, base_url, make_tenant, screenshot_path, viewport, language):
    tenant = await make_tenant()
    page = await open_page(locale=language, viewport=viewport)
    await log_in(page, base_url, tenant.email, tenant.password)
    await choose_language(page, language)
    role = await page.request.get(f"{base_url}/api/v1/roles/")
    custom = next(r["id"] for r in await role.json() if not r["is_system"])
    documents = await (await page.request.get(f"{base_url}/api/v1/knowledge/documents/")).json()
    products = await (await page.request.get(f"{base_url}/api/v1/knowledge/products/")).json()
    details = (
        f"/app/-/users/{tenant.admin_user_id}",
        f"/app/-/roles/{custom}",
        "/app/-/modules/example/settings",
        f"/app/knowledge/documents/{documents['items'][0]['id']}",
        f"/app/knowledge/products/{products['items'][0]['id']}",
    )
    await visit_all(page, base_url, TENANT_PAGES + details, language, f"{viewport['width']}", screenshot_path)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_every_platform_page_fits(open_page, base_url, atendai_kernel, screenshot_path, viewport, language):
    from uuid import uuid4

    from kernel.tenancy.services import create_platform_admin

    email, password = f"sweep-{uuid4().hex[:6]}@platform.example", "a long platform password"
    async with atendai_kernel.db.session() as session:
        await create_platform_admin(session, email=email, password=password)
        await session.commit()
    page = await open_page(locale=language, viewport=viewport)
    await log_in(page, base_url, email, password, next_path="/app/-/platform/")
    await choose_language(page, language)
    tenants = await (await page.request.get(f"{base_url}/api/v1/platform/tenants")).json()
    plans = await (await page.request.get(f"{base_url}/api/v1/platform/plans")).json()
    details = (
        f"/app/-/platform/tenants/{tenants['items'][0]['id']}",
        "/app/-/platform/plans/new",
        f"/app/-/platform/plans/{plans[0]['id']}",
    )
    await visit_all(
        page, base_url, PLATFORM_PAGES + details, language, f"platform-{viewport['width']}", screenshot_path
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
async def test_public_pages_fit_in_every_language(open_page, base_url, screenshot_path, viewport):
    for language in LANGUAGES:
        page = await open_page(locale=language, viewport=viewport)
        await visit_all(page, base_url, PUBLIC_PAGES, language, f"public-{viewport['width']}", screenshot_path)


async def test_the_api_reference_loads_nothing_from_outside(open_page, base_url):
    page = await open_page()
    seen = watch(page, base_url)
    for path in ("/schema", "/schema/swagger"):
        # Both render the whole spec in the browser, which takes a while on a busy machine.
        await page.goto(f"{base_url}{path}", wait_until="domcontentloaded", timeout=60_000)
        await page.wait_for_load_state("networkidle", timeout=60_000)
    assert seen["outside"] == []
