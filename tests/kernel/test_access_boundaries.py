"""Where one person's power ends: impersonation, role assignment, the last administrator, other sites."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from sqlalchemy import select

from kernel.audit.models import AuditEntry
from kernel.db.session import set_session_scope
from tests.kernel.test_platform_admin import new_platform_admin
from tests.kernel.test_shell import add_member

pytestmark = pytest.mark.asyncio(loop_scope="session")
EVIL = {"Origin": "https://evil.example"}


async def impersonate(client, kernel, tenant) -> dict[str, str]:
    admin = await new_platform_admin(kernel, client)
    answer = await client.post(
        f"/api/v1/platform/tenants/{tenant.tenant_id}/impersonate", json={"reason": "ticket 42"}, headers=admin.headers
    )
    assert answer.status_code in (200, 201), answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def entries(kernel, tenant_id, action):
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        rows = await session.execute(select(AuditEntry).where(AuditEntry.action == action))
        return list(rows.scalars())


# -- impersonation ------------------------------------------------------------------------------------


async def test_an_impersonation_creates_nothing_that_outlives_it(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    acting = await impersonate(atendai_client, atendai_kernel, tenant)
    token = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "backdoor", "permissions": ["kernel.user.write"]}, headers=acting
    )
    invite = await atendai_client.post(
        "/api/v1/users/", json={"email": f"new-{uuid4().hex[:6]}@example.com", "role": "admin"}, headers=acting
    )
    profile = await atendai_client.patch("/api/v1/users/me", json={"name": "Changed"}, headers=acting)
    assert (token.status_code, invite.status_code, profile.status_code) == (403, 403, 403)


async def test_what_an_impersonation_changes_is_recorded_in_the_administrator_s_name(
    atendai_client, atendai_kernel, make_tenant
):
    tenant = await make_tenant(seed=False)
    acting = await impersonate(atendai_client, atendai_kernel, tenant)
    assert (await atendai_client.post("/api/v1/onboarding/dismiss", headers=acting)).status_code == 204
    assert (
        await atendai_client.put("/api/v1/organization/ai", json={"provider": "offline"}, headers=acting)
    ).status_code == 200
    for action in ("onboarding.dismissed", "organization.ai_settings_changed"):
        [entry] = await entries(atendai_kernel, tenant.tenant_id, action)
        assert entry.actor_label.endswith(f"(as {tenant.email})") and entry.actor_label.startswith("root-")


async def test_an_api_token_s_changes_are_recorded_as_the_token(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/api-tokens/",
        json={"name": "erp-sync", "permissions": ["kernel.organization.write"]},
        headers=tenant.headers,
    )
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await atendai_client.post("/api/v1/onboarding/dismiss", headers=token)).status_code == 204
    [entry] = await entries(atendai_kernel, tenant.tenant_id, "onboarding.dismissed")
    assert (entry.actor_type, entry.actor_label) == ("api_token", "API token erp-sync")


# -- roles ------------------------------------------------------------------------------------------


async def test_nobody_hands_out_more_than_they_hold(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "people", "name": "People", "permissions": ["kernel.user.read", "kernel.user.write"]},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    email, password = await add_member(atendai_client, tenant, "operator")
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    me = (
        await atendai_client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
    ).json()
    await atendai_client.patch(f"/api/v1/users/{me['user']['id']}", json={"role": "people"}, headers=tenant.headers)
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    people = {"Authorization": f"Bearer {login.json()['access_token']}"}

    promote = await atendai_client.patch(f"/api/v1/users/{me['user']['id']}", json={"role": "admin"}, headers=people)
    invite = await atendai_client.post(
        "/api/v1/users/", json={"email": f"x-{uuid4().hex[:6]}@example.com", "role": "admin"}, headers=people
    )
    operator = await atendai_client.post(
        "/api/v1/users/", json={"email": f"y-{uuid4().hex[:6]}@example.com", "role": "operator"}, headers=people
    )
    assert (promote.status_code, invite.status_code) == (403, 403)
    assert "kernel.user.read" not in promote.json()["detail"] and promote.json()["errors"][0]["values"]
    # The operator role reads notes, which "people" does not: not theirs to hand out either.
    assert operator.status_code == 403


async def test_a_role_editor_cannot_widen_a_role_beyond_their_own(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "roles-only", "name": "Roles", "permissions": ["kernel.role.read", "kernel.role.write"]},
        headers=tenant.headers,
    )
    email, password = await add_member(atendai_client, tenant, "operator")
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    me = (
        await atendai_client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )
    ).json()
    await atendai_client.patch(f"/api/v1/users/{me['user']['id']}", json={"role": "roles-only"}, headers=tenant.headers)
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    editor = {"Authorization": f"Bearer {login.json()['access_token']}"}
    roles = (await atendai_client.get("/api/v1/roles/", headers=editor)).json()
    own = next(role for role in roles if role["key"] == "roles-only")
    widened = await atendai_client.patch(
        f"/api/v1/roles/{own['id']}",
        json={"permissions": ["kernel.role.read", "kernel.role.write", "kernel.api_token.write"]},
        headers=editor,
    )
    created = await atendai_client.post(
        "/api/v1/roles/",
        json={"key": "all-tokens", "name": "T", "permissions": ["kernel.api_token.write"]},
        headers=editor,
    )
    assert (widened.status_code, created.status_code) == (403, 403)


# -- the last administrator -----------------------------------------------------------------------------


async def test_an_invited_administrator_does_not_count_as_the_last_one(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    invited = await atendai_client.post(
        "/api/v1/users/", json={"email": f"typo-{uuid4().hex[:6]}@exmaple.com", "role": "admin"}, headers=tenant.headers
    )
    assert invited.status_code == 201
    demote = await atendai_client.patch(
        f"/api/v1/users/{tenant.admin_user_id}", json={"role": "operator"}, headers=tenant.headers
    )
    assert demote.status_code == 409


async def test_two_administrators_demoting_each_other_at_once_leave_one(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    email, password = await add_member(atendai_client, tenant, "admin")
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    other = {"Authorization": f"Bearer {login.json()['access_token']}"}
    other_id = (await atendai_client.get("/api/v1/users/me", headers=other)).json()["user"]["id"]
    answers = await asyncio.gather(
        atendai_client.patch(f"/api/v1/users/{other_id}", json={"role": "operator"}, headers=tenant.headers),
        atendai_client.patch(f"/api/v1/users/{tenant.admin_user_id}", json={"role": "operator"}, headers=other),
    )
    assert sorted(answer.status_code for answer in answers) == [200, 409]


# -- other sites --------------------------------------------------------------------------------------


async def test_another_site_cannot_log_a_visitor_in_or_out(atendai_client, page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    body = f'{{"email": "{tenant.email}", "password": "{tenant.password}"}}'
    smuggled = await atendai_client.post(
        "/api/v1/auth/login", content=body.encode(), headers={"Content-Type": "text/plain", **EVIL}
    )
    assert smuggled.status_code == 403 and "set-cookie" not in smuggled.headers
    registered = await atendai_client.post(
        "/api/v1/auth/register",
        json={
            "organization_name": "X",
            "slug": f"x-{uuid4().hex[:6]}",
            "name": "X",
            "email": "x@x.example",
            "password": "a long password",
        },
        headers=EVIL,
    )
    assert registered.status_code == 403
    async with page_client(tenant) as client:
        away = await client.post("/auth/logout", headers=EVIL)
        assert away.status_code == 303 and not away.headers.get_list("set-cookie")
        api_away = await client.post("/api/v1/auth/logout", headers=EVIL)
        assert api_away.status_code == 403
        assert (await client.get("/app/")).status_code == 200  # still logged in


async def test_scripts_and_apps_without_an_origin_still_log_in(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    answer = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": tenant.password})
    assert answer.status_code == 200 and answer.json()["access_token"]


async def test_a_browser_renewing_from_its_cookie_gets_no_token_in_the_body(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        renewed = await client.post("/api/v1/auth/refresh")
    assert renewed.status_code == 200
    assert renewed.json()["access_token"] is None and renewed.json()["refresh_token"] is None
    assert renewed.json()["expires_in"] > 0 and "atendai_access=" in renewed.headers["set-cookie"]


# -- races ----------------------------------------------------------------------------------------------


async def test_two_registrations_of_one_address_at_once_give_a_conflict_not_an_error(atendai_client):
    slug = f"race-{uuid4().hex[:6]}"

    def attempt(number: int):
        return atendai_client.post(
            "/api/v1/auth/register",
            json={
                "organization_name": "Race",
                "slug": slug,
                "name": "R",
                "email": f"{slug}-{number}@x.example",
                "password": "a long password",
            },
        )

    answers = await asyncio.gather(attempt(1), attempt(2))
    assert sorted(answer.status_code for answer in answers) == [201, 409]


async def test_a_tenant_transaction_cannot_see_or_write_the_platform_settings(app_connection, make_tenant):
    import psycopg

    tenant = await make_tenant(seed=False)
    key = f"test.{uuid4().hex[:8]}"
    insert = (
        "INSERT INTO platform_settings (id, key, value, created_at, updated_at) "
        "VALUES (gen_random_uuid(), %s, '1', now(), now())"
    )
    async with app_connection.transaction():
        await app_connection.execute("SELECT set_config('app.platform', 'on', true)")
        await app_connection.execute(insert, (key,))
    try:
        async with app_connection.transaction():
            await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant.tenant_id),))
            seen = await (
                await app_connection.execute("SELECT count(*) FROM platform_settings WHERE key = %s", (key,))
            ).fetchone()
        assert seen[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            async with app_connection.transaction():
                await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant.tenant_id),))
                await app_connection.execute(insert, (key + ".tenant",))
    finally:
        async with app_connection.transaction():
            await app_connection.execute("SELECT set_config('app.platform', 'on', true)")
            await app_connection.execute("DELETE FROM platform_settings WHERE key = %s", (key,))
