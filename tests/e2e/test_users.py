"""In a browser: inviting a colleague who joins, managing them, and the people pages on a phone and a desktop."""

from __future__ import annotations

import email as email_lib
import re
from pathlib import Path
from uuid import uuid4

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, assert_fits, log_in

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.e2e]


def invitation_token(settings, address: str) -> str:
    """The token of the newest invitation mailed to ``address`` (the file mailer writes .eml files)."""
    folder = Path(settings.data_dir) / "mail"
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = email_lib.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            body = message.get_payload(decode=True).decode()
            return re.search(r"/auth/invitation\?token=([\w-]+)", body).group(1)
    raise AssertionError(f"no invitation was mailed to {address}")


async def test_an_admin_invites_a_colleague_who_joins_and_is_then_managed(
    base_url, open_page, make_tenant, atendai_settings, screenshot_path
):
    tenant = await make_tenant(language="en", name="Padaria Aurora")
    admin = await open_page(locale="en", viewport=DESKTOP)
    await log_in(admin, base_url, tenant.email, tenant.password, next_path="/app/-/users")
    assert await admin.locator("h1").inner_text() == "Users"

    # The invitation dialog: a mistake stays in the dialog, then the invitation goes out.
    await admin.click("[data-testid=invite-open]")
    dialog = admin.locator("#invite-dialog")
    await dialog.wait_for(state="visible")
    await admin.fill("#f-email", "not an email")
    await admin.click("[data-testid=invite-submit]")
    await admin.locator("#f-email-error").wait_for()
    assert await dialog.is_visible()
    address = f"bia-{uuid4().hex[:6]}@example.com"
    await admin.fill("#f-email", address)
    await admin.fill("#f-name", "Bia Lima")
    await admin.select_option("#f-role", "operator")
    await admin.click("[data-testid=invite-submit]")
    await dialog.wait_for(state="hidden")
    await admin.locator(".toast", has_text=f"Invitation sent to {address}.").wait_for()
    row = admin.locator(f'tr[data-user="{address}"]')
    await row.wait_for()
    assert await row.locator("[data-testid=status]").inner_text() == "Invited"

    # The colleague opens the mailed link in their own browser, chooses a password and lands home.
    colleague = await open_page(locale="en", viewport=DESKTOP)
    await colleague.goto(f"{base_url}/auth/invitation?token={invitation_token(atendai_settings, address)}")
    assert await colleague.locator("h1").inner_text() == "Join Padaria Aurora"
    await colleague.fill("#password", "a good long password")
    await colleague.fill("#confirm", "a good long password")
    await colleague.screenshot(path=screenshot_path("invitation-accept"))
    await colleague.click("button[type=submit]")
    await colleague.wait_for_url(f"{base_url}/app/")
    await colleague.locator(".toast", has_text="Welcome to Padaria Aurora!").wait_for()

    # The admin's bell lights up without a reload, and its notification leads to the new colleague.
    await admin.locator("[data-testid=unread-count]").wait_for(timeout=15_000)
    await admin.click("[data-testid=bell]")
    notice = admin.locator("#notifications-panel a", has_text="Bia Lima accepted the invitation")
    await notice.click()
    await admin.wait_for_url(re.compile(r".*/app/-/users/[0-9a-f-]+$"))
    assert await admin.locator("h1").inner_text() == "Bia Lima"
    assert await admin.locator("section[aria-labelledby=facts-title] header .badge").inner_text() == "Active"
    assert await admin.locator("[data-testid=received] li", has_text="Invited a user").count() == 1
    await assert_fits(admin)
    await admin.screenshot(path=screenshot_path("user-detail"), full_page=True)

    # Back in the list: a new role from the inline picker, then deactivation after confirming.
    await admin.goto(f"{base_url}/app/-/users")
    row = admin.locator(f'tr[data-user="{address}"]')
    assert await row.locator("[data-testid=status]").inner_text() == "Active"
    await row.locator("[data-testid=role-select]").select_option("supervisor")
    await admin.locator(".toast", has_text="Role changed.").wait_for()
    assert await admin.locator(f'tr[data-user="{address}"] [data-testid=role-select]').input_value() == "supervisor"
    await admin.locator(f'tr[data-user="{address}"] [data-testid=row-actions]').click()
    await admin.locator(f'tr[data-user="{address}"] [data-testid=deactivate]').click()
    confirm = admin.locator("#confirm-dialog")
    await confirm.wait_for(state="visible")
    assert "Deactivate Bia Lima?" in await confirm.locator("[data-confirm-message]").inner_text()
    await confirm.locator("[data-confirm-ok]").click()
    await admin.locator(".toast", has_text="User deactivated.").wait_for()
    await admin.locator(f'tr[data-user="{address}"] [data-testid=status]', has_text="Deactivated").wait_for()

    # The colleague's session ended with the deactivation: their next page asks them to log in.
    await colleague.goto(f"{base_url}/app/")
    assert "/auth/login" in colleague.url


async def test_the_users_list_fits_a_phone_and_a_desktop(
    base_url, open_page, make_tenant, atendai_client, screenshot_path
):
    tenant = await make_tenant(language="en", name="Padaria Aurora")
    for role, name in (("supervisor", "Carla Mendes"), ("analyst", "Rafael Oliveira dos Santos Junior")):
        address = f"{name.split()[0].lower()}-{uuid4().hex[:4]}@um-endereco-bem-comprido.example.com"
        invited = await atendai_client.post(
            "/api/v1/users/", json={"email": address, "role": role, "name": name}, headers=tenant.headers
        )
        assert invited.status_code == 201
    desktop = await open_page(locale="en", viewport=DESKTOP)
    await log_in(desktop, base_url, tenant.email, tenant.password, next_path="/app/-/users")
    await assert_fits(desktop)
    await desktop.screenshot(path=screenshot_path("users-desktop"), full_page=True)
    for width in (1024, 800):  # the sidebar drawer and the table's narrow columns
        await desktop.set_viewport_size({"width": width, "height": 900})
        await assert_fits(desktop)

    phone = await open_page(locale="en", viewport=PHONE)
    await log_in(phone, base_url, tenant.email, tenant.password, next_path="/app/-/users")
    await assert_fits(phone)
    await phone.locator("[data-testid=row-actions]").first.click()
    await phone.locator(".menu-panel:visible").first.wait_for()
    await assert_fits(phone)
    await phone.screenshot(path=screenshot_path("users-phone"), full_page=True)
    await phone.keyboard.press("Escape")
    # The headers are hidden on a phone: the sort is a choice above the cards, kept in the address.
    await phone.select_option("#users-sort", "created")
    await phone.wait_for_url(re.compile(r".*sort=created.*"))
    await phone.fill("#users-q", "carla")
    await phone.wait_for_url(re.compile(r".*q=carla.*"))
    assert "sort=created" in phone.url
    await phone.wait_for_function("document.querySelectorAll('tr[data-user]').length === 1")
    assert "carla" in await phone.locator("tr[data-user]").get_attribute("data-user")
    await phone.keyboard.press("Escape")
    await phone.click("[data-testid=invite-open]")
    await phone.locator("#invite-dialog").wait_for(state="visible")
    await assert_fits(phone)
    await phone.screenshot(path=screenshot_path("users-invite-phone"))


async def test_the_role_editor_groups_permissions_and_fits_both_sizes(
    base_url, open_page, make_tenant, screenshot_path
):
    tenant = await make_tenant(language="en")
    desktop = await open_page(locale="en", viewport=DESKTOP)
    await log_in(desktop, base_url, tenant.email, tenant.password, next_path="/app/-/roles")
    await assert_fits(desktop)
    await desktop.screenshot(path=screenshot_path("roles-desktop"), full_page=True)
    await desktop.click("tr[data-role=supervisor] a:has-text('Duplicate')")
    await desktop.wait_for_url(re.compile(r".*/app/-/roles/new\?from="))
    assert await desktop.input_value("#f-name") == "Supervisor (copy)"
    assert await desktop.input_value("#f-key") == "supervisor-copy"  # suggested from the name
    await desktop.fill("#f-name", "Turno da noite")
    assert await desktop.input_value("#f-key") == "turno-da-noite"
    group = desktop.locator("fieldset[data-plugin=kernel]")
    await group.locator(".select-all input").check()
    assert await group.locator("input[name=permissions]:not(:checked)").count() == 0
    await desktop.screenshot(path=screenshot_path("role-editor"))
    await desktop.click("[data-testid=role-save]")
    await desktop.wait_for_url(f"{base_url}/app/-/roles")
    await desktop.locator(".toast", has_text="Role Turno da noite created.").wait_for()
    assert await desktop.locator("tr[data-role=turno-da-noite]").count() == 1

    phone = await open_page(locale="en", viewport=PHONE)
    await log_in(phone, base_url, tenant.email, tenant.password, next_path="/app/-/roles")
    await assert_fits(phone)
    await phone.screenshot(path=screenshot_path("roles-phone"), full_page=True)
    await phone.goto(f"{base_url}/app/-/roles/new")
    await assert_fits(phone)
    await phone.locator("fieldset[data-plugin=kernel]").scroll_into_view_if_needed()
    await phone.screenshot(path=screenshot_path("role-editor-phone"))


async def test_the_profile_lists_devices_and_logs_out_everywhere_else(
    base_url, open_page, make_tenant, screenshot_path
):
    tenant = await make_tenant(language="en")
    other_device = await open_page(locale="en", viewport=PHONE)
    await log_in(other_device, base_url, tenant.email, tenant.password)
    page = await open_page(locale="en", viewport=DESKTOP)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/profile")
    await assert_fits(page)
    assert await page.locator("#sessions .badge", has_text="This device").count() == 1
    await page.screenshot(path=screenshot_path("profile"), full_page=True)

    await page.click("[data-testid=end-other-sessions]")
    await page.locator("#confirm-dialog [data-confirm-ok]").click()
    await page.locator(".toast", has_text="You were logged out everywhere else.").wait_for()
    # The list redraws itself: only this browser is left.
    await page.wait_for_function("document.querySelectorAll('#sessions [data-session]').length === 1")
    # This browser carries on (fresh cookies); the other device must log in again.
    await page.fill("#f-name", "Still Here")
    await page.click("#profile-form button[type=submit]")
    await page.locator(".toast", has_text="Profile saved.").wait_for()
    await other_device.goto(f"{base_url}/app/")
    assert "/auth/login" in other_device.url

    phone = await open_page(locale="en", viewport=PHONE)
    await log_in(phone, base_url, tenant.email, tenant.password, next_path="/app/-/profile")
    await assert_fits(phone)
    await phone.screenshot(path=screenshot_path("profile-phone"), full_page=True)


async def test_api_tokens_show_their_secret_once(base_url, open_page, make_tenant, screenshot_path):
    tenant = await make_tenant(language="en")
    page = await open_page(locale="en", viewport=DESKTOP)
    await log_in(page, base_url, tenant.email, tenant.password, next_path="/app/-/api-tokens")
    await page.click("[data-testid=token-open]")
    await page.fill("#f-name", "Zapier")
    await page.locator("#token-dialog fieldset[data-plugin=kernel] input[value='kernel.user.read']").check()
    await page.click("[data-testid=token-submit]")
    secret = await page.locator("[data-testid=token-secret]").input_value()
    assert secret.startswith("atd_")
    await page.screenshot(path=screenshot_path("api-token-created"))
    await page.click("#token-dialog button:has-text('Done')")
    await page.locator("tr[data-token=Zapier]").wait_for()
    await page.locator("#token-dialog-body #token-form").wait_for(state="attached")  # closing wipes the secret
    assert secret not in await page.content()
    await page.click("[data-testid=token-open]")
    await page.locator("#token-dialog #f-name").wait_for()  # a fresh form, the secret gone
    assert await page.input_value("#token-dialog #f-name") == ""
    await assert_fits(page)
    await page.keyboard.press("Escape")
    await page.set_viewport_size(PHONE)
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("api-tokens-phone"), full_page=True)


async def test_the_password_and_invitation_pages_work_on_a_phone(
    base_url, open_page, make_tenant, atendai_settings, screenshot_path
):
    tenant = await make_tenant(language="en")
    page = await open_page(locale="en", viewport=PHONE)
    await page.goto(f"{base_url}/auth/login")
    await page.click("a[href='/auth/forgot']")
    await page.fill("#email", tenant.email)
    await page.click("button[type=submit]")
    await page.locator(".alert", has_text="is on its way").wait_for()
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("forgot-sent"))

    folder = Path(atendai_settings.data_dir) / "mail"
    mails = [email_lib.message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]
    body = next(m for m in reversed(mails) if m["To"] == tenant.email).get_payload(decode=True).decode()
    token = re.search(r"/auth/reset\?token=([\w-]+)", body).group(1)
    await page.goto(f"{base_url}/auth/reset?token={token}")
    await page.fill("#password", "a new long password")
    await page.fill("#confirm", "not the same one")
    await page.click("button[type=submit]")
    await page.locator("#confirm-error").wait_for()
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("reset-error"))
    await page.fill("#password", "a new long password")
    await page.fill("#confirm", "a new long password")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base_url}/auth/login")
    await page.locator(".toast", has_text="Your password was changed.").wait_for()

    await page.goto(f"{base_url}/auth/reset?token={token}")
    assert await page.locator("h1").inner_text() == "This link no longer works"
    await assert_fits(page)
    await page.screenshot(path=screenshot_path("link-invalid"))
