"""The audit viewer of an organization and of the platform, and the platform-wide audit API."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def platform_admin(atendai_kernel):
    from kernel.tenancy.services import create_platform_admin

    email, password = f"ops-{uuid4().hex[:6]}@platform.example", "a long platform password"
    async with atendai_kernel.db.session() as session:
        await create_platform_admin(session, email=email, password=password)
        await session.commit()
    return email, password


async def platform_headers(client, email: str, password: str) -> dict[str, str]:
    answer = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_the_viewer_lists_the_organization_s_entries_with_words_for_actions(page_client, make_tenant):
    tenant = await make_tenant(language="en")
    async with page_client(tenant) as client:
        html = (await client.get("/app/-/audit", headers={"Accept-Language": "en"})).text
    assert "Invited a user" in html and "<code>user.invited</code>" in html
    assert 'data-action="organization.created"' in html
    assert html.count("<tr data-action=") >= 3


async def test_filters_narrow_the_list_and_feed_the_export_links(page_client, make_tenant):
    tenant = await make_tenant(language="en")
    async with page_client(tenant) as client:
        html = (await client.get("/app/-/audit?action=user.*", headers={"Accept-Language": "en"})).text
        actions = set(re.findall(r'<tr data-action="([^"]+)"', html))
        assert actions and all(action.startswith("user.") for action in actions)
        export = re.search(r'href="(/api/v1/audit/export\?[^"]+format=csv)"', html).group(1).replace("&amp;", "&")
        assert "action=user.%2A" in export
        downloaded = await client.get(export)
    assert downloaded.status_code == 200 and downloaded.headers["content-type"].startswith("text/csv")
    lines = downloaded.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("created_at,") and all(",user." in line for line in lines[1:])


async def test_dates_are_days_in_the_organization_s_time_zone(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        html = (await client.get("/app/-/audit?since=2999-01-01", headers={"Accept-Language": "en"})).text
        assert "No entries match these filters." in html
        export = re.search(r'href="(/api/v1/audit/export\?[^"]+format=json)"', html).group(1).replace("&amp;", "&")
    # 2999-01-01 00:00 in São Paulo (UTC-3) is 03:00 UTC.
    assert "since=2999-01-01T00%3A00%3A00-03%3A00" in export


async def test_bad_filters_are_reported_on_their_fields(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        answer = await client.get(
            "/app/-/audit?since=yesterday&action=us*er&actor_id=nope", headers={"Accept-Language": "en"}
        )
    assert answer.status_code == 200
    assert "Use a date like 2026-12-31." in answer.text and "A * may only end the action" in answer.text
    assert answer.text.count('aria-invalid="true"') == 3


async def test_older_entries_load_with_a_cursor(page_client, atendai_kernel, make_tenant):
    from kernel.audit.service import record
    from kernel.db.session import set_session_scope

    tenant = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        for number in range(60):
            await record(session, action="example.tested", target_type="note", target_id=str(number))
        await session.commit()
    async with page_client(tenant) as client:
        first = (await client.get("/app/-/audit?action=example.tested")).text
        assert first.count('data-action="example.tested"') == 50
        more = re.search(r'hx-get="([^"]+cursor=[^"]+)"', first).group(1).replace("&amp;", "&")
        second = (await client.get(more)).text
    assert second.count('data-action="example.tested"') == 10 and 'hx-select="#audit-rows > tr"' not in second
    assert 'hx-select="#audit-rows > tr"' in first


async def test_an_operator_cannot_open_the_audit_log(page_client, atendai_client, make_tenant):
    from tests.kernel.test_shell import add_member

    tenant = await make_tenant(seed=False)
    email, password = await add_member(atendai_client, tenant, "operator")
    async with page_client(email=email, password=password) as client:
        answer = await client.get("/app/-/audit")
    assert answer.status_code == 403


async def test_the_viewer_shows_only_the_own_organization(page_client, two_tenants):
    first, second = two_tenants
    async with page_client(first) as client:
        html = (await client.get(f"/app/-/audit?target_id={second.tenant_id}")).text
        mine = (await client.get(f"/app/-/audit?target_id={first.tenant_id}")).text
    assert 'data-action="' not in html
    assert 'data-action="organization.created"' in mine


async def test_the_platform_audit_api_filters_by_organization(atendai_client, two_tenants, platform_admin):
    first, second = two_tenants
    headers = await platform_headers(atendai_client, *platform_admin)
    one = await atendai_client.get(f"/api/v1/platform/audit/?tenant={first.tenant_id}", headers=headers)
    assert one.status_code == 200
    assert {item["tenant_id"] for item in one.json()["items"]} == {str(first.tenant_id)}
    platform_only = await atendai_client.get("/api/v1/platform/audit/?tenant=platform", headers=headers)
    assert all(item["tenant_id"] is None for item in platform_only.json()["items"])
    bad = await atendai_client.get("/api/v1/platform/audit/?tenant=nope", headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "tenant"
    export = await atendai_client.get(
        f"/api/v1/platform/audit/export?format=json&tenant={second.tenant_id}", headers=headers
    )
    assert export.status_code == 200 and {row["tenant_id"] for row in export.json()} == {str(second.tenant_id)}


async def test_a_tenant_administrator_cannot_read_the_platform_audit(atendai_client, page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    assert (await atendai_client.get("/api/v1/platform/audit/", headers=tenant.headers)).status_code == 403
    assert (await atendai_client.get("/api/v1/platform/audit/export", headers=tenant.headers)).status_code == 403
    async with page_client(tenant) as client:
        assert (await client.get("/app/-/platform/audit")).status_code == 403


async def test_the_platform_viewer_names_each_entry_s_organization(page_client, make_tenant, platform_admin):
    tenant = await make_tenant(seed=False)
    email, password = platform_admin
    async with page_client(email=email, password=password) as client:
        html = (await client.get(f"/app/-/platform/audit?tenant={tenant.tenant_id}")).text
    assert 'data-action="organization.created"' in html
    assert f"Tenant {tenant.slug.removeprefix('t-')}" in html
