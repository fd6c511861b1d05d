"""Login, lockouts, access tokens, refresh rotation, logout, cookies with CSRF, invitations and resets."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import jwt as pyjwt
import msgspec
import pytest
from asgi_lifespan import LifespanManager

from kernel.auth.jwt import AUDIENCE, ISSUER, encode_access

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def login(client, tenant, password=None):
    return await client.post(
        "/api/v1/auth/login", json={"email": tenant.email, "password": password or tenant.password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def mails_to(settings, address: str) -> list[email.message.Message]:
    folder = Path(settings.data_dir) / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            found.append(message)
    return found


def link_token(message: email.message.Message) -> str:
    body = message.get_payload(decode=True).decode()
    return re.search(r"token=([\w-]+)", body).group(1)


# --- login and lockout ----------------------------------------------------------------------------


async def test_login_returns_tokens_and_sets_secure_cookies(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await login(atendai_client, tenant)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert body["access_token"] and body["refresh_token"] and body["csrf_token"]
    assert response.headers["cache-control"] == "no-store"
    cookies = response.headers.get_list("set-cookie")
    access = next(c for c in cookies if c.startswith("atendai_access="))
    assert f"atendai_access={body['access_token']}" in access and "Path=/;" in access
    refresh = next(c for c in cookies if c.startswith("atendai_refresh="))
    assert "HttpOnly" in access and "SameSite=lax" in access
    assert "HttpOnly" in refresh and "Path=/api/v1/auth" in refresh and "SameSite=strict" in refresh


async def test_account_is_locked_after_too_many_failures_even_for_the_right_password(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    for _ in range(5):
        assert (await login(atendai_client, tenant, "wrong password!")).status_code == 401
    locked = await login(atendai_client, tenant)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert locked.json()["type"].endswith("/too-many-attempts")


async def test_a_client_address_gets_a_limited_number_of_attempts(atendai_kernel, make_tenant):
    from kernel.app import create_app
    from kernel.runtime import Kernel

    strict = Kernel(
        settings=msgspec.structs.replace(atendai_kernel.settings, login_ip_attempts=3),
        plugins=atendai_kernel.plugins,
        registry=atendai_kernel.registry,
        database=atendai_kernel.database,
    )
    app = create_app(strict.settings, kernel=strict)
    tenant = await make_tenant(seed=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    try:
        async with LifespanManager(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            statuses = [(await login(client, tenant, f"guess {i}")).status_code for i in range(3)]
            blocked = await login(client, tenant)
    finally:
        atendai_kernel.connect()  # the strict kernel made itself the process's current one
    assert statuses == [401, 401, 401]
    assert blocked.status_code == 429


# --- access tokens ---------------------------------------------------------------------------------


async def test_expired_forged_none_and_foreign_tokens_are_refused(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    secret = atendai_kernel.settings.secret_key
    claims = {"sub": str(tenant.admin_user_id), "tid": str(tenant.tenant_id), "ver": 0, "typ": "access", "jti": "x"}
    now = datetime.now(UTC)
    good_times = {"iat": now, "exp": now + timedelta(minutes=5)}
    expired, _ = encode_access(
        secret,
        user_id=tenant.admin_user_id,
        tenant_id=tenant.tenant_id,
        token_version=0,
        lifetime=timedelta(seconds=-60),
    )
    candidates = {
        "expired": expired,
        "forged": pyjwt.encode(
            {**claims, **good_times, "aud": AUDIENCE, "iss": ISSUER}, "not-our-secret", algorithm="HS256"
        ),
        "alg none": pyjwt.encode({**claims, **good_times, "aud": AUDIENCE, "iss": ISSUER}, None, algorithm="none"),
        "wrong audience": pyjwt.encode(
            {**claims, **good_times, "aud": "other", "iss": ISSUER}, secret, algorithm="HS256"
        ),
        "wrong issuer": pyjwt.encode(
            {**claims, **good_times, "aud": AUDIENCE, "iss": "other"}, secret, algorithm="HS256"
        ),
        "wrong type": pyjwt.encode(
            {**claims, **good_times, "typ": "refresh", "aud": AUDIENCE, "iss": ISSUER}, secret, algorithm="HS256"
        ),
        "garbage": "not.a.token",
    }
    for name, token in candidates.items():
        response = await atendai_client.get("/api/v1/users/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.headers["content-type"].startswith("application/problem+json"), name
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 200


async def test_ending_a_users_sessions_rejects_their_tokens_at_once(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    other = (await login(atendai_client, tenant)).json()
    ended = await atendai_client.post(f"/api/v1/users/{tenant.admin_user_id}/end-sessions", headers=tenant.headers)
    assert ended.status_code == 204
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(other["access_token"]))).status_code == 401
    refreshed = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
    assert refreshed.status_code == 401


# --- refresh and logout ----------------------------------------------------------------------------


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(atendai_client, make_tenant, owner_connection):
    tenant = await make_tenant(seed=False)
    first = (await login(atendai_client, tenant)).json()
    second = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(rotated["access_token"]))).status_code == 200

    # A minute later the old token shows up again: someone kept a copy.
    await owner_connection.execute(
        "UPDATE refresh_tokens SET rotated_at = rotated_at - interval '1 minute' WHERE user_id = %s AND rotated_at IS NOT NULL",
        (tenant.admin_user_id,),
    )
    stolen = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert stolen.status_code == 401
    # The family is dead: the legitimate holder of the newest token must log in again too.
    after = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert after.status_code == 401


async def test_two_tabs_renewing_at_once_keep_the_session(atendai_client, make_tenant):
    import asyncio

    tenant = await make_tenant(seed=False)
    token = (await login(atendai_client, tenant)).json()["refresh_token"]
    answers = await asyncio.gather(
        *(atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": token}) for _ in range(2))
    )
    assert sorted(answer.status_code for answer in answers) == [200, 401]
    winner = next(answer for answer in answers if answer.status_code == 200).json()
    # The tab that lost retries with the browser's new cookie; the session goes on, no alarm raised.
    again = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": winner["refresh_token"]})
    assert again.status_code == 200
    log = await atendai_client.get(
        "/api/v1/audit/?action=auth.refresh_reused", headers=bearer(again.json()["access_token"])
    )
    assert log.json()["items"] == []


async def test_logout_revokes_the_refresh_and_the_access_token(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    tokens = (await login(atendai_client, tenant)).json()
    out = await atendai_client.post(
        "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=bearer(tokens["access_token"])
    )
    assert out.status_code == 204
    assert any(c.startswith("atendai_access=") and "Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(tokens["access_token"]))).status_code == 401
    again = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


# --- browser cookies and CSRF ------------------------------------------------------------------------


async def test_cookie_sessions_need_the_csrf_header_for_changes(atendai_app, make_tenant):
    tenant = await make_tenant(seed=False)
    transport = httpx.ASGITransport(app=atendai_app)
    # A dotted host name, as browsers see it (cookie jars treat dotless hosts specially).
    async with httpx.AsyncClient(transport=transport, base_url="http://atendai.test") as browser:
        logged = await login(browser, tenant)
        csrf = logged.json()["csrf_token"]
        reading = await browser.get("/api/v1/users/me")
        assert reading.status_code == 200, (reading.text, browser.cookies)  # the cookie alone reads
        without = await browser.patch("/api/v1/users/me", json={"name": "Ana"})
        assert without.status_code == 403 and without.json()["type"].endswith("/csrf-failed")
        wrong = await browser.patch("/api/v1/users/me", json={"name": "Ana"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        right = await browser.patch("/api/v1/users/me", json={"name": "Ana"}, headers={"X-CSRF-Token": csrf})
        assert right.status_code == 200 and right.json()["name"] == "Ana"
        refreshed = await browser.post("/api/v1/auth/refresh")  # the refresh cookie is sent to /api/v1/auth
        assert refreshed.status_code == 200


# --- invitations and password reset ------------------------------------------------------------------


async def test_invited_user_sets_a_password_once_and_logs_in(atendai_client, atendai_settings, make_tenant):
    tenant = await make_tenant(seed=False)
    address = f"new-{uuid4().hex[:6]}@example.com"
    invited = await atendai_client.post(
        "/api/v1/users/", json={"email": address, "role": "operator", "name": "Bia"}, headers=tenant.headers
    )
    assert invited.status_code == 201 and invited.json()["invited"] is True
    assert (
        await atendai_client.post("/api/v1/auth/login", json={"email": address, "password": "x"})
    ).status_code == 401
    [message] = mails_to(atendai_settings, address)
    assert "Atendai" in message["Subject"]
    token = link_token(message)
    accepted = await atendai_client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "a good new password"}
    )
    assert accepted.status_code == 200
    me = await atendai_client.get("/api/v1/users/me", headers=bearer(accepted.json()["access_token"]))
    assert me.json()["user"]["role"] == "operator" and me.json()["user"]["invited"] is False
    reused = await atendai_client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "another one pw"}
    )
    assert reused.status_code == 401


async def test_password_reset_mails_only_real_accounts_and_ends_other_sessions(
    atendai_client, atendai_settings, make_tenant
):
    tenant = await make_tenant(seed=False)
    unknown = await atendai_client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    known = await atendai_client.post("/api/v1/auth/password-reset", json={"email": tenant.email})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json()
    assert mails_to(atendai_settings, "nobody@example.com") == []
    token = link_token(mails_to(atendai_settings, tenant.email)[-1])

    short = await atendai_client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert short.status_code == 422
    done = await atendai_client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "brand new password 1"}
    )
    assert done.status_code == 204
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 401
    assert (await login(atendai_client, tenant)).status_code == 401
    assert (await login(atendai_client, tenant, "brand new password 1")).status_code == 200
    again = await atendai_client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": "brand new password 2"}
    )
    assert again.status_code == 401


async def test_changing_ones_own_password_needs_the_current_one(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    wrong = await atendai_client.patch(
        "/api/v1/users/me",
        json={"current_password": "nope", "new_password": "another long password"},
        headers=tenant.headers,
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "current_password"
    right = await atendai_client.patch(
        "/api/v1/users/me",
        json={"current_password": tenant.password, "new_password": "another long password", "language": "es"},
        headers=tenant.headers,
    )
    assert right.status_code == 200 and right.json()["language"] == "es"
    assert (await login(atendai_client, tenant, "another long password")).status_code == 200


async def test_a_null_language_goes_back_to_the_organization_default(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    chosen = await atendai_client.patch("/api/v1/users/me", json={"language": "es"}, headers=tenant.headers)
    untouched = await atendai_client.patch("/api/v1/users/me", json={"name": "Ana"}, headers=tenant.headers)
    cleared = await atendai_client.patch("/api/v1/users/me", json={"language": None}, headers=tenant.headers)
    assert chosen.json()["language"] == "es" and untouched.json()["language"] == "es"
    assert cleared.status_code == 200 and cleared.json()["language"] is None and cleared.json()["name"] == "Ana"
    other = await atendai_client.patch(
        f"/api/v1/users/{tenant.admin_user_id}", json={"language": "en"}, headers=tenant.headers
    )
    back = await atendai_client.patch(
        f"/api/v1/users/{tenant.admin_user_id}", json={"language": None}, headers=tenant.headers
    )
    assert other.json()["language"] == "en" and back.json()["language"] is None


async def test_api_tokens_list_with_their_status_and_creator(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "Sync", "permissions": ["kernel.user.read"]}, headers=tenant.headers
    )
    assert created.status_code == 201
    token_id = created.json()["api_token"]["id"]
    await atendai_client.delete(f"/api/v1/api-tokens/{token_id}", headers=tenant.headers)
    [listed] = [
        t
        for t in (await atendai_client.get("/api/v1/api-tokens/", headers=tenant.headers)).json()
        if t["id"] == token_id
    ]
    assert listed["status"] == "revoked" and listed["created_by_name"] == tenant.email.split("@")[0]
    assert "token" not in listed and "token_hash" not in listed


def test_password_hashes_are_argon2id_and_a_change_of_cost_keeps_old_ones_working():
    from kernel.auth import passwords

    before = (passwords._hasher.time_cost, passwords._hasher.memory_cost)
    try:
        passwords.configure_hashing(3, 65536)
        strong = passwords.hash_password("correct horse battery staple")
        assert strong.startswith("$argon2id$v=19$m=65536,t=3,")
        passwords.configure_hashing(1, 1024)
        assert passwords.verify_password(strong, "correct horse battery staple")
        assert passwords.needs_rehash(strong)  # redone with the current cost at the next login
    finally:
        passwords.configure_hashing(*before)


def test_production_refuses_a_password_hash_cost_below_rfc_9106():
    from kernel.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match="ATENDAI_PASSWORD_HASH_TIME_COST"):
        load_settings(env_file=None, environment="production", secret_key="x", password_hash_time_cost=1)
