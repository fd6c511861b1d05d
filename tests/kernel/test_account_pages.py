"""One's own profile: name, language, password, and the sessions (devices) one is logged in on."""

from __future__ import annotations

import json
import re

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")
EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true", **EN}
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def triggers(response) -> dict:
    return json.loads(response.headers.get("hx-trigger", "{}"))


async def api_login(client, tenant, user_agent: str = FIREFOX) -> dict:
    """Another session of the same person (another device)."""
    response = await client.post(
        "/api/v1/auth/login",
        json={"email": tenant.email, "password": tenant.password},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_profile_shows_the_person_and_the_devices_they_are_logged_in_on(
    page_client, make_tenant, atendai_client
):
    tenant = await make_tenant(seed=False, language="en")
    await api_login(atendai_client, tenant)
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/profile", headers=EN)
    assert response.status_code == 200
    html = response.text
    assert 'id="profile-form"' in html and 'id="password-form"' in html and tenant.email in html
    assert 'option value="" selected>Organization default' in html
    sessions = html[html.index('id="sessions"') :]
    assert "Firefox on Windows" in sessions
    assert sessions.count("data-session=") >= 3  # the fixture's API login, this browser, the one above
    assert "This device" in sessions and 'data-testid="end-other-sessions"' in sessions
    this_device = re.search(r'<li data-session="[^"]+">(?:(?!</li>).)*This device.*?</li>', sessions, re.S).group(0)
    assert "hx-delete" not in this_device  # this browser logs out with the menu, not from here


async def test_saving_name_and_language_applies_on_the_next_page(page_client, make_tenant, atendai_client):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        saved = await browser.post("/app/-/profile", data={"name": "Maria Clara", "language": "es"}, headers=HTMX)
        after = await browser.get("/app/-/profile")
        empty = await browser.post("/app/-/profile", data={"name": " ", "language": "en"}, headers=HTMX)
        reset = await browser.post("/app/-/profile", data={"name": "Maria Clara", "language": ""}, headers=HTMX)
    assert saved.status_code == 200 and saved.headers["hx-redirect"] == "/app/-/profile"
    assert '<html lang="es">' in after.text and 'value="Maria Clara"' in after.text
    assert empty.status_code == 422 and 'id="f-name-error"' in empty.text
    assert 'option value="en" selected' in empty.text  # what was chosen stays chosen
    assert reset.status_code == 200
    me = (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).json()["user"]
    assert me["name"] == "Maria Clara" and me["language"] is None


async def test_changing_the_password_needs_the_current_one_and_the_same_new_one_twice(
    page_client, make_tenant, atendai_client
):
    tenant = await make_tenant(seed=False, language="en")
    new = "a brand new password"
    async with page_client(tenant) as browser:
        wrong = await browser.post(
            "/app/-/profile/password",
            data={"current_password": "nope", "new_password": new, "confirm": new},
            headers=HTMX,
        )
        different = await browser.post(
            "/app/-/profile/password",
            data={"current_password": tenant.password, "new_password": new, "confirm": new + "!"},
            headers=HTMX,
        )
        short = await browser.post(
            "/app/-/profile/password",
            data={"current_password": tenant.password, "new_password": "short", "confirm": "short"},
            headers=HTMX,
        )
        done = await browser.post(
            "/app/-/profile/password",
            data={"current_password": tenant.password, "new_password": new, "confirm": new},
            headers=HTMX,
        )
        still_here = await browser.get("/app/-/profile", headers=EN)
    assert wrong.status_code == 422 and 'id="f-current_password-error"' in wrong.text
    assert "The current password is not right." in wrong.text and tenant.password not in wrong.text
    assert different.status_code == 422 and 'id="f-confirm-error"' in different.text
    assert short.status_code == 422 and 'id="f-new_password-error"' in short.text
    assert "The password must have at least 10 characters." in short.text
    assert done.status_code == 200 and triggers(done)["toast"] == {"kind": "success", "message": "Password changed."}
    assert new not in done.text
    assert still_here.status_code == 200
    login = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": new})
    assert login.status_code == 200


async def test_logging_out_everywhere_else_keeps_this_browser_logged_in(page_client, make_tenant, atendai_client):
    tenant = await make_tenant(seed=False, language="en")
    elsewhere = await api_login(atendai_client, tenant)
    async with page_client(tenant) as browser:
        old_csrf = browser.cookies["atendai_csrf"]
        response = await browser.post("/app/-/profile/end-sessions", headers=HTMX)
        assert response.status_code == 204
        assert triggers(response)["sessions-changed"]
        assert triggers(response)["toast"]["message"] == "You were logged out everywhere else."
        assert browser.cookies["atendai_csrf"] != old_csrf  # fresh session cookies for this browser
        browser.headers["X-CSRF-Token"] = browser.cookies["atendai_csrf"]
        after = await browser.get("/app/-/profile", headers=EN)
        saved = await browser.post("/app/-/profile", data={"name": "Still me", "language": ""}, headers=HTMX)
    assert after.status_code == 200
    assert after.text[after.text.index('id="sessions"') :].count("data-session=") == 1
    assert saved.status_code == 200
    gone = await atendai_client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {elsewhere['access_token']}"}
    )
    assert gone.status_code == 401
    refreshed = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]})
    assert refreshed.status_code == 401
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 401


async def test_ending_one_session_logs_out_only_that_device(page_client, make_tenant, atendai_client):
    tenant = await make_tenant(seed=False, language="en")
    phone = await api_login(atendai_client, tenant, "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile Safari/537.36")
    laptop = await api_login(atendai_client, tenant)
    sessions = (await atendai_client.get("/api/v1/users/me/sessions", headers=tenant.headers)).json()
    phone_session = next(s for s in sessions if s["user_agent"] and "Android" in s["user_agent"])
    async with page_client(tenant) as browser:
        page = await browser.get("/app/-/profile", headers=EN)
        assert "Chrome on Android" in page.text
        response = await browser.delete(f"/app/-/profile/sessions/{phone_session['id']}", headers=HTMX)
        missing = await browser.delete(f"/app/-/profile/sessions/{phone_session['id']}", headers=HTMX)
    assert response.status_code == 204 and triggers(response)["sessions-changed"]
    assert missing.status_code == 404
    assert (
        await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    ).status_code == 401
    assert (
        await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    ).status_code == 200


async def test_one_cannot_end_a_session_of_someone_else(page_client, two_tenants, make_tenant, atendai_client):
    tenant_a, tenant_b = two_tenants
    neighbour = await make_tenant(seed=False)
    for other in (tenant_b, neighbour):
        sessions = (await atendai_client.get("/api/v1/users/me/sessions", headers=other.headers)).json()
        async with page_client(tenant_a) as browser:
            page_answer = await browser.delete(f"/app/-/profile/sessions/{sessions[0]['id']}", headers=HTMX)
        api_answer = await atendai_client.delete(
            f"/api/v1/users/me/sessions/{sessions[0]['id']}", headers=tenant_a.headers
        )
        assert page_answer.status_code == api_answer.status_code == 404
        left = (await atendai_client.get("/api/v1/users/me/sessions", headers=other.headers)).json()
        assert {s["id"] for s in left} == {s["id"] for s in sessions}


async def test_the_sessions_api_lists_ones_devices_and_ends_the_others(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    other = await api_login(atendai_client, tenant)
    listed = await atendai_client.get("/api/v1/users/me/sessions", headers=tenant.headers)
    assert listed.status_code == 200
    assert {"id", "started_at", "last_used_at", "expires_at", "ip", "user_agent", "current"} <= set(listed.json()[0])
    assert any(s["user_agent"] == FIREFOX for s in listed.json())
    ended = await atendai_client.post("/api/v1/users/me/end-sessions", headers=tenant.headers)
    assert ended.status_code == 200
    fresh = ended.json()
    assert fresh["access_token"] and fresh["refresh_token"]
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 401
    assert (
        await atendai_client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {other['access_token']}"})
    ).status_code == 401
    mine = await atendai_client.get(
        "/api/v1/users/me/sessions", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert len(mine.json()) == 1


async def test_an_api_token_has_no_profile_nor_sessions(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "Bot", "permissions": ["kernel.user.read"]}, headers=tenant.headers
    )
    bot = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await atendai_client.get("/api/v1/users/me/sessions", headers=bot)).status_code == 422
    assert (await atendai_client.post("/api/v1/users/me/end-sessions", headers=bot)).status_code == 422
    assert (await atendai_client.get("/app/-/profile", headers={**bot, **EN})).status_code == 422


async def test_the_profile_page_needs_a_session(atendai_app):
    transport = httpx.ASGITransport(app=atendai_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://atendai.test") as anonymous:
        response = await anonymous.get("/app/-/profile")
    assert response.status_code == 303 and response.headers["location"].startswith("/api/v1/auth/resume?next=")


async def test_an_administrator_acting_as_someone_cannot_touch_their_password_or_sessions(
    atendai_client, atendai_kernel, make_tenant
):
    from datetime import timedelta
    from uuid import uuid4

    from kernel.auth.jwt import encode_access
    from kernel.auth.models import User
    from kernel.db.session import set_session_scope
    from kernel.tenancy.services import create_platform_admin

    tenant = await make_tenant(seed=False, language="en")
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        root = await create_platform_admin(session, email=f"root-{uuid4().hex[:6]}@example.com", password="x" * 16)
        person = await session.get(User, tenant.admin_user_id)
        await session.commit()
    token, _ = encode_access(
        atendai_kernel.settings.secret_key,
        user_id=person.id,
        tenant_id=tenant.tenant_id,
        token_version=person.token_version,
        lifetime=timedelta(minutes=5),
        impersonator_id=root.id,
    )
    acting = {"Authorization": f"Bearer {token}", **EN}
    sessions = (await atendai_client.get("/api/v1/users/me/sessions", headers=acting)).json()
    password = await atendai_client.patch(
        "/api/v1/users/me",
        json={"current_password": tenant.password, "new_password": "taken over password"},
        headers=acting,
    )
    everywhere = await atendai_client.post("/api/v1/users/me/end-sessions", headers=acting)
    one = await atendai_client.delete(f"/api/v1/users/me/sessions/{sessions[0]['id']}", headers=acting)
    page = await atendai_client.get("/app/-/profile", headers=acting)
    assert password.status_code == everywhere.status_code == one.status_code == 403
    assert page.status_code == 200 and "their password stays theirs" in page.text
    assert 'data-testid="end-other-sessions"' not in page.text and "hx-delete" not in page.text
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 200
