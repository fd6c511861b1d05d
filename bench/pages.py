"""The shell in a real browser against a real server: registration to home page, and page render times.

Usage: .venv/bin/python bench/pages.py [--renders 50]
Starts ``atendai serve`` on a fresh embedded data directory, drives Debian's Chromium (Playwright) through
the registration wizard (organization, account, company basics with a logo) and times each step and the
whole way to the home page. Then, with the new administrator's session, renders each panel ``--renders``
times over HTTP and reports p50/p95. Machine time only: a person adds their typing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from support import serve

CHROMIUM = os.environ.get("ATENDAI_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
PANELS = (
    "/app/",
    "/app/-/company",
    "/app/-/users",
    "/app/-/roles",
    "/app/-/modules",
    "/app/-/ai",
    "/app/-/audit",
    "/app/-/styleguide",
)


def logo_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), "#7c3aed").save(buffer, format="PNG")
    return buffer.getvalue()


async def register(base: str, logo: str) -> tuple[dict[str, float], dict[str, str]]:
    from playwright.async_api import async_playwright

    steps: dict[str, float] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = await (await browser.new_context(locale="pt-BR")).new_page()
        began = time.perf_counter()
        mark = began
        await page.goto(f"{base}/auth/register")
        await page.fill("#f-organization_name", "Padaria Pão Quente")
        await page.wait_for_selector("#f-slug-status [data-status=available]")
        steps["open the wizard, type the name, address checked live"] = time.perf_counter() - mark
        mark = time.perf_counter()
        await page.click("button[type=submit]")
        await page.wait_for_selector("#f-name")
        steps["step 1 -> step 2"] = time.perf_counter() - mark
        await page.fill("#f-name", "Ana Souza")
        await page.fill("#f-email", "ana@padaria.example")
        await page.fill("#f-password", "pão de queijo 2026")
        await page.fill("#f-password_confirmation", "pão de queijo 2026")
        mark = time.perf_counter()
        await page.click("button.btn-primary")
        await page.wait_for_url(f"{base}/app/-/welcome")
        steps["step 2 -> organization created, logged in, step 3"] = time.perf_counter() - mark
        await page.set_input_files("#f-logo", logo)
        mark = time.perf_counter()
        await page.click("#welcome-form button.btn-primary")
        await page.wait_for_url(f"{base}/app/")
        await page.wait_for_selector("#first-steps")
        steps["step 3 (logo upload) -> home page with first steps"] = time.perf_counter() - mark
        steps["total: wizard opened -> home page"] = time.perf_counter() - began
        cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
        await browser.close()
    return steps, cookies


async def render_times(base: str, cookies: dict[str, str], renders: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=30) as client:
        for path in PANELS:
            await client.get(path)  # warm-up
            samples = []
            for _ in range(renders):
                started = time.perf_counter()
                answer = await client.get(path)
                answer.raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            timings[path] = sorted(samples)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atendai-bench-") as tmp, serve(os.path.join(tmp, "data")) as served:
        logo = Path(tmp, "logo.png")
        logo.write_bytes(logo_png())
        steps, cookies = asyncio.run(register(served.base_url, str(logo)))
        for name, seconds in steps.items():
            print(f"{name:<55} {seconds:6.2f} s")
        timings = asyncio.run(render_times(served.base_url, cookies, args.renders))
        for path, samples in timings.items():
            p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
            print(
                f"GET {path:<24} p50 {statistics.median(samples):6.1f} ms  p95 {p95:6.1f} ms  ({len(samples)} renders)"
            )


if __name__ == "__main__":
    main()
