"""The public pages a mailed link opens: forgotten password, reset, invitation, and a link that no longer works."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import msgspec
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update

from kernel.auth.models import UserToken
from kernel.db.session import set_session_scope
from kernel.notifications.models import Notification
from kernel.testing.mail import link_token, mails_to

pytestmark = pytest.mark.asyncio(loop_scope="session")
BASE = "http://atendai.test"
EN = {"Accept-Language": "en"}
FORM = {"Origin": BASE, **EN}


def flashed(response) -> list[str]:
    """The messages a response leaves for the next page (the flash cookie)."""
    cookie = response.cookies.get("atendai_flash")
    if not cookie:
        return []
    return [m["message"] for m in json.loads(base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4)))]


@pytest.fixture
async def browser(atendai_app):
    transport = httpx.ASGITransport(app=atendai_app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def invite(client, admin, name: str = "Bia Lima") -> dict:
    address = f"new-{uuid4().hex[:6]}@example.com"
    response = await client.post(
        "/api/v1/users/", json={"email": address, "role": "operator", "name": name}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


# --- forgotten password ----------------------------------------------------------------------------


async def test_the_forgot_form_answers_the_same_whether_or_not_the_address_has_an_account(
    browser, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    form = await browser.get("/auth/forgot", headers=EN)
    known = await browser.post("/auth/forgot", data={"email": tenant.email}, headers=FORM)
    unknown = await browser.post("/auth/forgot", data={"email": "nobody-here@example.com"}, headers=FORM)
    assert form.status_code == 200 and 'action="/auth/forgot"' in form.text and 'href="/auth/login"' in form.text
    assert known.status_code == unknown.status_code == 200
    assert "a link to choose a new password is on its way" in known.text
    assert known.text.replace(tenant.email, "X") == unknown.text.replace("nobody-here@example.com", "X")
    assert len(mails_to(atendai_settings, tenant.email)) == 1
    assert mails_to(atendai_settings, "nobody-here@example.com") == []


async def test_the_forgot_form_needs_an_address_and_a_post_from_this_site(browser):
    empty = await browser.post("/auth/forgot", data={"email": " "}, headers=FORM)
    foreign = await browser.post(
        "/auth/forgot", data={"email": "a@example.com"}, headers={"Origin": "https://evil.example", **EN}
    )
    assert empty.status_code == 422 and 'id="email-error"' in empty.text
    assert foreign.status_code == 403 and "The form expired" in foreign.text


async def test_reset_links_are_limited_per_address_and_per_account(atendai_kernel, make_tenant, atendai_settings):
    from kernel.app import create_app
    from kernel.runtime import Kernel

    tenant = await make_tenant(seed=False)
    strict = Kernel(
        settings=msgspec.structs.replace(atendai_kernel.settings, login_ip_attempts=5),
        plugins=atendai_kernel.plugins,
        registry=atendai_kernel.registry,
        database=atendai_kernel.database,
    )
    app = create_app(strict.settings, kernel=strict)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            pages = [await client.post("/auth/forgot", data={"email": tenant.email}, headers=FORM) for _ in range(5)]
            blocked = await client.post("/auth/forgot", data={"email": tenant.email}, headers=FORM)
            api_blocked = await client.post("/api/v1/auth/password-reset", json={"email": tenant.email})
    finally:
        # Building that app made its kernel the process's current one (real-time pushes go through it):
        # hand the role back to the session's kernel for the tests that follow.
        atendai_kernel.connect()
    assert [page.status_code for page in pages] == [200] * 5
    assert all("on its way" in page.text for page in pages)  # the same answer, mail or not
    assert len(mails_to(atendai_settings, tenant.email)) == 3  # at most three links an hour per account
    assert blocked.status_code == 429 and "Try again in" in blocked.text
    assert api_blocked.status_code == 429 and int(api_blocked.headers["retry-after"]) > 0


# --- reset -----------------------------------------------------------------------------------------


async def test_a_reset_link_sets_a_new_password_once_and_sends_the_person_to_log_in(
    browser, atendai_client, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    await atendai_client.post("/api/v1/auth/password-reset", json={"email": tenant.email})
    token = link_token(mails_to(atendai_settings, tenant.email)[-1])
    form = await browser.get(f"/auth/reset?token={token}", headers=EN)
    assert form.status_code == 200 and tenant.email in form.text and f'value="{token}"' in form.text
    assert 'autocomplete="new-password"' in form.text

    mismatch = await browser.post(
        "/auth/reset",
        data={"token": token, "password": "long enough pw 1", "confirm": "long enough pw 2"},
        headers=FORM,
    )
    short = await browser.post(
        "/auth/reset", data={"token": token, "password": "short", "confirm": "short"}, headers=FORM
    )
    assert mismatch.status_code == 422 and 'id="confirm-error"' in mismatch.text
    assert "long enough pw" not in mismatch.text  # passwords are never sent back
    assert short.status_code == 422 and 'id="password-error"' in short.text
    assert "at least 10 characters" in short.text, short.text[short.text.find("<form") :][:3000]

    done = await browser.post(
        "/auth/reset", data={"token": token, "password": "my new password", "confirm": "my new password"}, headers=FORM
    )
    assert done.status_code == 303 and done.headers["location"] == "/auth/login"
    assert flashed(done) == ["Your password was changed. Log in with the new one."]
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 401
    login = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": "my new password"})
    assert login.status_code == 200

    again = await browser.get(f"/auth/reset?token={token}", headers=EN)
    reused = await browser.post(
        "/auth/reset", data={"token": token, "password": "third password!", "confirm": "third password!"}, headers=FORM
    )
    assert again.status_code == reused.status_code == 410
    assert "This link no longer works" in again.text and 'href="/auth/forgot"' in again.text


async def test_a_broken_expired_or_foreign_origin_reset_never_shows_raw_errors(
    browser, atendai_client, atendai_kernel, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    await atendai_client.post("/api/v1/auth/password-reset", json={"email": tenant.email})
    token = link_token(mails_to(atendai_settings, tenant.email)[-1])
    foreign = await browser.post(
        "/auth/reset",
        data={"token": token, "password": "my new password", "confirm": "my new password"},
        headers={"Origin": "https://evil.example", **EN},
    )
    assert foreign.status_code == 403 and "The form expired" in foreign.text
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        await session.execute(
            update(UserToken)
            .where(UserToken.user_id == tenant.admin_user_id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        await session.commit()
    for path in (f"/auth/reset?token={token}", "/auth/reset?token=garbage", "/auth/reset", "/auth/invitation"):
        response = await browser.get(path, headers=EN)
        assert response.status_code == 410, path
        assert response.headers["content-type"].startswith("text/html") and "This link no longer works" in response.text
    posted = await browser.post("/auth/reset", data={"token": token, "password": "x", "confirm": "x"}, headers=FORM)
    assert posted.status_code == 410 and "Traceback" not in posted.text


# --- invitation ------------------------------------------------------------------------------------


async def test_accepting_an_invitation_logs_the_person_in_and_tells_the_admins(
    browser, atendai_client, atendai_kernel, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False, name="Padaria Aurora")
    invited = await invite(atendai_client, tenant, name="Bia")
    token = link_token(mails_to(atendai_settings, invited["email"])[-1])

    form = await browser.get(f"/auth/invitation?token={token}", headers=EN)
    assert form.status_code == 200 and "Join Padaria Aurora" in form.text
    assert invited["email"] in form.text and 'value="Bia"' in form.text

    errors = await browser.post(
        "/auth/invitation",
        data={"token": token, "name": "", "password": "a good password", "confirm": "another password"},
        headers=FORM,
    )
    assert errors.status_code == 422
    assert 'id="name-error"' in errors.text and 'id="confirm-error"' in errors.text
    assert "Join Padaria Aurora" in errors.text and "a good password" not in errors.text

    joined = await browser.post(
        "/auth/invitation",
        data={"token": token, "name": "Bia Lima", "password": "a good password", "confirm": "a good password"},
        headers=FORM,
    )
    assert joined.status_code == 303 and joined.headers["location"] == "/app/"
    assert flashed(joined) == ["Welcome to Padaria Aurora!"]
    assert {"atendai_access", "atendai_refresh", "atendai_csrf", "atendai_session"} <= set(joined.cookies)
    home = await browser.get("/app/", headers=EN)
    assert home.status_code == 200 and "Welcome to Padaria Aurora!" in home.text

    me = (await atendai_client.get(f"/api/v1/users/{invited['id']}", headers=tenant.headers)).json()
    assert me["name"] == "Bia Lima" and me["invited"] is False
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        notes = (await session.execute(select(Notification))).scalars().all()
    assert [(n.user_id, n.kind, n.params, n.link) for n in notes] == [
        (tenant.admin_user_id, "kernel.invitation_accepted", {"name": "Bia Lima"}, f"/app/-/users/{invited['id']}")
    ]
    used = await browser.get(f"/auth/invitation?token={token}", headers=EN)
    assert used.status_code == 410 and "send the invitation again" in used.text


async def test_accepting_through_the_api_tells_the_admins_too(
    atendai_client, atendai_kernel, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    invited = await invite(atendai_client, tenant)
    token = link_token(mails_to(atendai_settings, invited["email"])[-1])
    accepted = await atendai_client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "a good password", "name": "  "}
    )
    assert accepted.status_code == 200
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        notes = (await session.execute(select(Notification))).scalars().all()
    assert len(notes) == 1 and notes[0].user_id == tenant.admin_user_id
    assert notes[0].params == {"name": "Bia Lima"}  # a blank name keeps the invited one


async def test_an_invitation_form_posted_from_another_site_is_refused(
    browser, atendai_client, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    invited = await invite(atendai_client, tenant)
    token = link_token(mails_to(atendai_settings, invited["email"])[-1])
    response = await browser.post(
        "/auth/invitation",
        data={"token": token, "name": "X", "password": "a good password", "confirm": "a good password"},
        headers={"Origin": "https://evil.example", **EN},
    )
    assert response.status_code == 403 and "atendai_access" not in response.cookies
    still = (await atendai_client.get(f"/api/v1/users/{invited['id']}", headers=tenant.headers)).json()
    assert still["invited"] is True


async def test_the_invitation_of_a_deactivated_user_no_longer_works(
    browser, atendai_client, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    invited = await invite(atendai_client, tenant)
    token = link_token(mails_to(atendai_settings, invited["email"])[-1])
    await atendai_client.delete(f"/api/v1/users/{invited['id']}", headers=tenant.headers)
    response = await browser.get(f"/auth/invitation?token={token}", headers=EN)
    assert response.status_code == 410 and "This link no longer works" in response.text


async def test_a_reset_link_does_not_open_the_invitation_page_nor_the_other_way_round(
    browser, atendai_client, make_tenant, atendai_settings
):
    tenant = await make_tenant(seed=False)
    invited = await invite(atendai_client, tenant)
    invitation = link_token(mails_to(atendai_settings, invited["email"])[-1])
    await atendai_client.post("/api/v1/auth/password-reset", json={"email": tenant.email})
    reset = link_token(mails_to(atendai_settings, tenant.email)[-1])
    assert (await browser.get(f"/auth/reset?token={invitation}", headers=EN)).status_code == 410
    assert (await browser.get(f"/auth/invitation?token={reset}", headers=EN)).status_code == 410
