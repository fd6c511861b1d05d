"""Browser tests: Playwright driving Debian's Chromium (headless) against the app served for real."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kernel.testing.server import serving

CHROMIUM = os.environ.get("ATENDAI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def base_url(atendai_app: Any, atendai_client: Any) -> AsyncIterator[str]:
    async with serving(atendai_app) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: ./install.sh test installs Debian's chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
def screenshot_path() -> Any:
    ARTIFACTS.mkdir(exist_ok=True)

    def path(name: str) -> str:
        return str(ARTIFACTS / f"{name}.png")

    return path


PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1440, "height": 900}


@pytest_asyncio.fixture(loop_scope="session")
async def open_page(browser: Any) -> AsyncIterator[Any]:
    """``page = await open_page(locale="pt-BR", viewport=DESKTOP)``: a fresh browser context's page.

    Every context made here is closed at the end of the test.
    """
    contexts: list[Any] = []

    async def factory(*, locale: str = "pt-BR", viewport: dict[str, int] | None = None) -> Any:
        context = await browser.new_context(locale=locale, viewport=viewport or DESKTOP)
        contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(10_000)
        return page

    yield factory
    for context in contexts:
        await context.close()


async def log_in(page: Any, base_url: str, email: str, password: str, *, next_path: str = "/app/") -> None:
    """Log in through the form and wait for the page the person was going to."""
    await page.goto(f"{base_url}/auth/login?next={next_path}")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}{next_path}*")


async def assert_fits(page: Any) -> None:
    """No horizontal scrolling: the page is no wider than the window."""
    width, viewport = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px window"
