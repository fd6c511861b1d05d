"""A platform administrator acting as an organization's user: short, audited twice, visible, and contained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import pytest_asyncio
from sqlalchemy import func, select, update

from kernel.audit.models import AuditEntry
from kernel.auth.jwt import decode_access
from kernel.auth.models import RefreshToken, User
from kernel.db.session import set_session_scope
from tests.kernel.test_platform_admin import EN, HTMX, PlatformAdmin, audit_actions, new_platform_admin

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def admin(atendai_kernel, atendai_client) -> PlatformAdmin:
    return await new_platform_admin(atendai_kernel, atendai_client)


async def impersonate(client, admin, tenant, **body):
    response = await client.post(
        f"/api/v1/platform/tenants/{tenant.tenant_id}/impersonate",
        json={"reason": "Ticket 981: checking the inbox", **body},
        headers=admin.headers,
    )
    return response


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **EN}


async def set_user(kernel, user_id: UUID, **values) -> None:
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        await session.execute(update(User).where(User.id == user_id).values(**values))
        await session.commit()


async def refresh_tokens_of(kernel, user_id: UUID) -> int:
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        return (
            await session.execute(select(func.count(RefreshToken.id)).where(RefreshToken.user_id == user_id))
        ).scalar_one()


# --- starting --------------------------------------------------------------------------------------


async def test_impersonation_gives_a_short_token_for_the_oldest_admin_and_no_refresh_token(
    atendai_kernel, atendai_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    before = await refresh_tokens_of(atendai_kernel, tenant.admin_user_id)
    response = await impersonate(atendai_client, admin, tenant)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "refresh_token" not in body and body["token_type"] == "Bearer"
    assert body["user_id"] == str(tenant.admin_user_id) and body["tenant_id"] == str(tenant.tenant_id)
    assert 29 * 60 <= body["expires_in"] <= 30 * 60
    claims = decode_access(atendai_kernel.settings.secret_key, body["access_token"])
    assert claims.impersonator_id == admin.user_id and claims.user_id == tenant.admin_user_id
    assert claims.expires_at - datetime.now(UTC) <= timedelta(minutes=30)
    me = await atendai_client.get("/api/v1/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["user"]["email"] == tenant.email
    assert await refresh_tokens_of(atendai_kernel, tenant.admin_user_id) == before


async def test_impersonation_is_recorded_in_both_chains_with_who_whom_and_why(
    atendai_kernel, atendai_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    assert (await impersonate(atendai_client, admin, tenant)).status_code == 200
    for chain in (
        await audit_actions(atendai_kernel, tenant.tenant_id),
        await audit_actions(atendai_kernel, None, str(tenant.admin_user_id)),
    ):
        [entry] = [e for e in chain if e.action == "platform.impersonation_started"]
        assert entry.actor_type == "platform" and entry.actor_id == admin.user_id and entry.actor_label == admin.email
        assert entry.target_type == "user" and entry.target_id == str(tenant.admin_user_id)
        assert entry.changes["administrator"]["after"] == admin.email
        assert entry.changes["user"]["after"] == tenant.email
        assert entry.changes["reason"]["after"] == "Ticket 981: checking the inbox"


async def test_the_organizations_admins_are_notified(atendai_client, admin, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    assert (await impersonate(atendai_client, admin, tenant)).status_code == 200
    notes = await atendai_client.get("/api/v1/notifications/", headers={**tenant.headers, **EN})
    texts = [item["text"] for item in notes.json()["items"]]
    assert any(admin.email in text and "Ticket 981" in text and "30 minutes" in text for text in texts), texts


async def test_impersonation_can_name_the_user_to_act_as(atendai_kernel, atendai_client, admin, make_tenant):
    tenant = await make_tenant()  # seeded: an invited operator too
    detail = (await atendai_client.get(f"/api/v1/platform/tenants/{tenant.tenant_id}", headers=admin.headers)).json()
    operator = next(u for u in detail["users"] if u["role"] == "operator")
    response = await impersonate(atendai_client, admin, tenant, user_id=operator["id"])
    assert response.status_code == 200 and response.json()["user_email"] == operator["email"]
    me = await atendai_client.get("/api/v1/users/me", headers=bearer(response.json()["access_token"]))
    assert me.json()["user"]["role"] == "operator"


async def test_impersonation_needs_a_reason(atendai_client, admin, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await impersonate(atendai_client, admin, tenant, reason="   ")
    assert response.status_code == 422 and response.json()["errors"] == [{"field": "reason", "message": "required"}]
    missing = await atendai_client.post(
        f"/api/v1/platform/tenants/{tenant.tenant_id}/impersonate", json={}, headers=admin.headers
    )
    assert missing.status_code == 400


async def test_a_suspended_organization_cannot_be_impersonated(atendai_client, admin, make_tenant):
    tenant = await make_tenant(seed=False)
    await atendai_client.post(f"/api/v1/platform/tenants/{tenant.tenant_id}/suspend", headers=admin.headers)
    response = await impersonate(atendai_client, admin, tenant)
    assert response.status_code == 409 and "suspended" in response.json()["detail"]


async def test_an_inactive_user_cannot_be_impersonated(atendai_kernel, atendai_client, admin, make_tenant):
    tenant = await make_tenant(seed=False)
    await set_user(atendai_kernel, tenant.admin_user_id, is_active=False)
    named = await impersonate(atendai_client, admin, tenant, user_id=str(tenant.admin_user_id))
    assert named.status_code == 409 and "deactivated" in named.json()["detail"]
    default = await impersonate(atendai_client, admin, tenant)
    assert default.status_code == 409 and "no active administrator" in default.json()["detail"]


async def test_a_user_of_another_organization_cannot_be_named(atendai_client, admin, two_tenants):
    tenant_a, tenant_b = two_tenants
    response = await impersonate(atendai_client, admin, tenant_a, user_id=str(tenant_b.admin_user_id))
    assert response.status_code == 404


async def test_an_impersonation_cannot_start_another_or_reach_platform_routes(
    atendai_client, page_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    token = (await impersonate(atendai_client, admin, tenant)).json()["access_token"]
    for path in ("/api/v1/platform/tenants", "/api/v1/platform/plans", "/api/v1/platform/plugins"):
        assert (await atendai_client.get(path, headers=bearer(token))).status_code == 403, path
    again = await atendai_client.post(
        f"/api/v1/platform/tenants/{tenant.tenant_id}/impersonate", json={"reason": "x"}, headers=bearer(token)
    )
    assert again.status_code == 403
    page = await atendai_client.get("/app/-/platform/", headers=bearer(token))
    assert page.status_code == 403


# --- while impersonating ---------------------------------------------------------------------------


async def test_an_impersonation_sees_only_its_own_organization(atendai_client, admin, two_tenants):
    tenant_a, tenant_b = two_tenants
    token = (await impersonate(atendai_client, admin, tenant_a)).json()["access_token"]
    users = await atendai_client.get("/api/v1/users/", headers=bearer(token))
    assert users.status_code == 200
    emails = {u["email"] for u in users.json()}
    assert tenant_a.email in emails and tenant_b.email not in emails
    other = await atendai_client.get(f"/api/v1/users/{tenant_b.admin_user_id}", headers=bearer(token))
    assert other.status_code == 404


async def test_actions_while_impersonating_carry_the_administrators_label(
    atendai_kernel, atendai_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    token = (await impersonate(atendai_client, admin, tenant)).json()["access_token"]
    changed = await atendai_client.patch(
        "/api/v1/organization", json={"about": "Checked by support"}, headers=bearer(token)
    )
    assert changed.status_code == 200, changed.text
    chain = await audit_actions(atendai_kernel, tenant.tenant_id)
    [entry] = [e for e in chain if e.action == "organization.updated"]
    assert entry.actor_label == f"{admin.email} (as {tenant.email})"


async def test_an_impersonation_ends_when_the_administrator_is_deactivated(atendai_kernel, atendai_client, make_tenant):
    admin = await new_platform_admin(atendai_kernel, atendai_client)
    tenant = await make_tenant(seed=False)
    token = (await impersonate(atendai_client, admin, tenant)).json()["access_token"]
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(token))).status_code == 200
    await set_user(atendai_kernel, admin.user_id, is_active=False)
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(token))).status_code == 401


async def test_an_impersonation_ends_when_the_administrator_is_demoted(atendai_kernel, atendai_client, make_tenant):
    admin = await new_platform_admin(atendai_kernel, atendai_client)
    tenant = await make_tenant(seed=False)
    token = (await impersonate(atendai_client, admin, tenant)).json()["access_token"]
    await set_user(atendai_kernel, admin.user_id, is_platform_admin=False)
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(token))).status_code == 401


async def test_the_language_switch_keeps_the_users_own_preference(atendai_kernel, page_client, admin, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(email=admin.email, password=admin.password) as client:
        started = await client.post(
            f"/app/-/platform/tenants/{tenant.tenant_id}/impersonate", data={"reason": "Language check"}, headers=HTMX
        )
        assert started.status_code == 200
        switched = await client.post("/auth/language", data={"language": "es", "next": "/app/"})
        assert switched.status_code == 303
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        user = await session.get(User, tenant.admin_user_id)
    assert user.language is None


# --- ending ------------------------------------------------------------------------------------------


async def test_ending_an_impersonation_revokes_its_token_and_is_audited(
    atendai_kernel, atendai_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    token = (await impersonate(atendai_client, admin, tenant)).json()["access_token"]
    ended = await atendai_client.post("/api/v1/impersonation/end", headers=bearer(token))
    assert ended.status_code == 204
    assert (await atendai_client.get("/api/v1/users/me", headers=bearer(token))).status_code == 401
    for chain in (
        await audit_actions(atendai_kernel, tenant.tenant_id),
        await audit_actions(atendai_kernel, None, str(tenant.admin_user_id)),
    ):
        [entry] = [e for e in chain if e.action == "platform.impersonation_ended"]
        assert entry.actor_type == "platform" and entry.actor_id == admin.user_id
        assert entry.actor_label == f"{admin.email} (as {tenant.email})"


async def test_ending_is_refused_to_a_session_that_is_not_an_impersonation(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await atendai_client.post("/api/v1/impersonation/end", headers={**tenant.headers, **EN})
    assert response.status_code == 403
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 200


async def test_the_browser_impersonates_and_comes_back_to_the_platform_panel(
    atendai_kernel, page_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(email=admin.email, password=admin.password) as client:
        admin_refresh = client.cookies.get("atendai_refresh", path="/api/v1/auth")
        started = await client.post(
            f"/app/-/platform/tenants/{tenant.tenant_id}/impersonate",
            data={"reason": "Browser check", "user_id": str(tenant.admin_user_id), "user_label": tenant.email},
            headers=HTMX,
        )
        assert started.status_code == 200 and started.headers["HX-Redirect"] == "/app/"
        set_cookies = started.headers.get_list("set-cookie")
        assert any(c.startswith("atendai_access=") for c in set_cookies)
        assert not any(c.startswith("atendai_refresh=") for c in set_cookies)
        assert client.cookies.get("atendai_refresh", path="/api/v1/auth") == admin_refresh

        home = await client.get("/app/", headers=EN)
        assert home.status_code == 200 and "impersonation-banner" in home.text and tenant.email in home.text
        assert (await client.get("/app/-/platform/tenants", headers=EN)).status_code == 403

        ended = await client.post("/app/-/impersonation/end", headers=HTMX)
        assert ended.status_code == 200
        target = ended.headers["HX-Redirect"]
        assert target == f"/api/v1/auth/resume?next=/app/-/platform/tenants/{tenant.tenant_id}"
        resumed = await client.get(target)
        assert (
            resumed.status_code == 303 and resumed.headers["location"] == f"/app/-/platform/tenants/{tenant.tenant_id}"
        )
        back = await client.get(resumed.headers["location"], headers=EN)
    assert back.status_code == 200 and "impersonation-banner" not in back.text
    assert "Impersonation ended." in back.text
    chain = [e.action for e in await audit_actions(atendai_kernel, tenant.tenant_id)]
    assert chain[-2:] == ["platform.impersonation_started", "platform.impersonation_ended"]


async def test_refresh_cannot_turn_an_impersonation_into_the_users_session(
    atendai_kernel, atendai_client, page_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    before = await refresh_tokens_of(atendai_kernel, tenant.admin_user_id)
    async with page_client(email=admin.email, password=admin.password) as client:
        started = await client.post(
            f"/app/-/platform/tenants/{tenant.tenant_id}/impersonate", data={"reason": "Refresh check"}, headers=HTMX
        )
        assert started.status_code == 200
        acting = await client.get("/api/v1/users/me")
        assert acting.json()["user"]["email"] == tenant.email
        refreshed = await client.post("/api/v1/auth/refresh")
        assert refreshed.status_code == 200
        claims = decode_access(atendai_kernel.settings.secret_key, client.cookies.get("atendai_access"))
        assert claims.user_id == admin.user_id and claims.tenant_id is None and claims.impersonator_id is None
        me = await client.get("/api/v1/users/me")
        assert me.json()["is_platform_admin"] is True and me.json()["tenant_id"] is None
    # The API's impersonation token has no refresh token to present at all.
    api_started = (await impersonate(atendai_client, admin, tenant)).json()
    refused = await atendai_client.post("/api/v1/auth/refresh", json={"refresh_token": api_started["access_token"]})
    assert refused.status_code == 401
    assert await refresh_tokens_of(atendai_kernel, tenant.admin_user_id) == before


async def test_the_platform_chain_stays_intact(atendai_kernel, atendai_client, admin, make_tenant):
    from kernel.audit.service import verify_chain

    tenant = await make_tenant(seed=False)
    token = (await impersonate(atendai_client, admin, tenant)).json()["access_token"]
    await atendai_client.post("/api/v1/impersonation/end", headers=bearer(token))
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        assert await verify_chain(session, None) == []
        assert await verify_chain(session, tenant.tenant_id) == []
        total = (
            await session.execute(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.tenant_id.is_(None), AuditEntry.action.like("platform.impersonation_%")
                )
            )
        ).scalar_one()
    assert total >= 2
