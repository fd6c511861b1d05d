"""A platform administrator in the browser: plans, a new organization, impersonation and suspension."""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from kernel.audit.models import AuditEntry
from kernel.db.session import set_session_scope
from kernel.tenancy.services import create_platform_admin, provision_organization, set_organization_status
from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]
PASSWORD = "platform admin password"


async def new_admin(kernel) -> str:
    address = f"root-{secrets.token_hex(4)}@example.com"
    async with kernel.db.session() as session:
        await create_platform_admin(session, email=address, password=PASSWORD, name="Paula Plataforma")
        await session.commit()
    return address


async def neighbours(kernel, suffix: str) -> None:
    """Two other organizations, one suspended, so the list has something to sort and filter."""
    for slug, name in ((f"padaria-{suffix}", "Padaria Pão Quente"), (f"clinica-{suffix}", "Clínica Sorriso")):
        async with kernel.db.session() as session:
            await provision_organization(
                kernel, session, slug=slug, name=name, admin_email=f"{slug}@example.com", admin_password=PASSWORD
            )
            await session.commit()
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        await set_organization_status(session, f"clinica-{suffix}", "suspended", reason="Unpaid")
        await session.commit()


async def chain_actions(kernel, tenant_id) -> list[str]:
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        rows = await session.execute(
            select(AuditEntry.action).where(AuditEntry.tenant_id == tenant_id).order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


async def test_a_platform_admin_runs_plans_organizations_and_impersonation(
    atendai_kernel, base_url, open_page, screenshot_path
):
    admin_email = await new_admin(atendai_kernel)
    suffix = secrets.token_hex(3)
    await neighbours(atendai_kernel, suffix)
    page = await open_page(locale="en", viewport=DESKTOP)
    await log_in(page, base_url, admin_email, PASSWORD, next_path="/app/-/platform/")
    assert await page.locator("h1").inner_text() == "Platform overview"
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-overview"), full_page=True)

    # A plan that allows only the chosen modules.
    await page.click("a[data-nav='platform.plans']")
    await page.wait_for_url(f"{base_url}/app/-/platform/plans")
    await page.click("[data-testid=new-plan]")
    await page.wait_for_url(f"{base_url}/app/-/platform/plans/new")
    await page.fill("#f-code", f"notes-only-{suffix}")
    await page.fill("#f-name", f"Notes only {suffix}")
    await page.fill("#f-description", "Small shops that only keep notes.")
    assert not await page.locator("#f-modules-example").is_visible()
    await page.check("input[name=modules_mode][value=chosen]")
    await page.check("#f-modules-example")
    await page.fill("input[name='features.example.notes']", "200")
    await assert_fits(page)
    await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=screenshot_path("platform-plan-form"), full_page=True)
    await page.click("#plan-form button[type=submit]")
    await page.wait_for_url(f"{base_url}/app/-/platform/plans")
    row = page.locator(f"tr[data-code='notes-only-{suffix}']")
    assert "Notes" in await row.inner_text()
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-plans"), full_page=True)

    # An organization on that plan, its slug suggested from the name.
    await page.click("a[data-nav='platform.tenants']")
    await page.wait_for_url(f"{base_url}/app/-/platform/tenants")
    await page.click("[data-testid=new-organization]")
    await page.fill("#f-name", f"Açougue São Jorge {suffix}")
    assert await page.input_value("#f-slug") == f"acougue-sao-jorge-{suffix}"
    await page.select_option("#f-plan", f"notes-only-{suffix}")
    owner = f"jorge-{suffix}@example.com"
    await page.fill("#f-admin_email", owner)
    await page.fill("#f-admin_name", "Jorge Silva")
    await page.click("#new-organization-form button[type=submit]")
    await page.wait_for_url(f"{base_url}/app/-/platform/tenants/*")
    tenant_id = page.url.rsplit("/", 1)[-1]
    assert (await page.locator("h1").inner_text()).startswith("Açougue São Jorge")
    assert "Notes" in await page.locator("[data-testid=enabled-modules]").inner_text()

    # It is found in the list.
    await page.click("a[data-nav='platform.tenants']")
    await page.wait_for_url(f"{base_url}/app/-/platform/tenants")
    rows = "document.querySelectorAll('#tenants-table tbody tr').length"
    await page.fill("#tenants-q", suffix)
    await page.wait_for_url(re.compile(rf"[?&]q={suffix}"))  # the address keeps the search
    await page.wait_for_function(f"{rows} === 3")
    await page.fill("#tenants-q", f"sao-jorge-{suffix}")
    await page.wait_for_function(f"{rows} === 1")
    assert await page.locator(f"tr[data-slug='acougue-sao-jorge-{suffix}']").count() == 1
    await page.select_option("#tenants-status", "suspended")
    await page.wait_for_url(re.compile(r"[?&]status=suspended"))
    await page.wait_for_selector("#tenants-table .empty-state")
    await page.fill("#tenants-q", suffix)
    await page.wait_for_function(f"{rows} === 1")
    assert await page.locator(f"tr[data-slug='clinica-{suffix}']").count() == 1
    await page.select_option("#tenants-status", "")
    await page.wait_for_function(f"{rows} === 3")
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-tenants"), full_page=True)

    # Impersonate its admin: the banner says so, and it is audited.
    await page.goto(f"{base_url}/app/-/platform/tenants/{tenant_id}")
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-tenant"), full_page=True)
    await page.click(f"tr[data-email='{owner}'] [data-testid=impersonate]")
    assert owner in await page.locator("#impersonate-form strong").inner_text()
    await page.fill("#impersonate-reason", "Setting up the catalogue with the owner on the phone")
    await page.screenshot(path=screenshot_path("platform-impersonate-dialog"))
    await page.click("#impersonate-form button[type=submit]")
    await page.wait_for_url(f"{base_url}/app/")
    banner = page.locator(".impersonation-banner")
    assert owner in await banner.inner_text()
    assert "platform.impersonation_started" in await chain_actions(atendai_kernel, tenant_id)
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-impersonating"), full_page=True)

    # Ending it goes back to the organization on the platform panel.
    await banner.locator("button").click()
    await page.wait_for_url(f"{base_url}/app/-/platform/tenants/{tenant_id}")
    assert await page.locator(".impersonation-banner").count() == 0
    assert (await chain_actions(atendai_kernel, tenant_id))[-1] == "platform.impersonation_ended"

    # Suspend it, with a reason.
    await page.click("[data-testid=suspend]")
    await page.fill("#suspend-reason", "Asked to pause the account")
    await page.click("#suspend-form button[type=submit]")
    await page.wait_for_selector("[data-testid=activate]")
    assert "Suspended" in await page.locator(".page-header").inner_text()
    assert (await chain_actions(atendai_kernel, tenant_id))[-1] == "organization.suspended"


async def test_the_platform_pages_fit_a_phone(atendai_kernel, base_url, open_page, screenshot_path):
    admin_email = await new_admin(atendai_kernel)
    page = await open_page(locale="pt-BR", viewport=PHONE)
    await log_in(page, base_url, admin_email, PASSWORD, next_path="/app/-/platform/")
    for path, name in (
        ("/app/-/platform/", "platform-overview-phone"),
        ("/app/-/platform/tenants", "platform-tenants-phone"),
        ("/app/-/platform/plans", "platform-plans-phone"),
        ("/app/-/platform/plans/new", "platform-plan-form-phone"),
        ("/app/-/platform/plugins", "platform-plugins-phone"),
    ):
        await page.goto(f"{base_url}{path}")
        await assert_fits(page)
        await page.screenshot(path=screenshot_path(name), full_page=True)
    await page.goto(f"{base_url}/app/-/platform/tenants")
    await page.click("[data-testid=new-organization]")
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-new-organization-phone"))
    first = page.locator("#tenants-table tbody tr a").first
    await page.keyboard.press("Escape")
    await page.goto(f"{base_url}{await first.get_attribute('href')}")
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("platform-tenant-phone"), full_page=True)
