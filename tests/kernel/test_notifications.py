"""Notifications: who receives them, the push after commit, the bell's pages and the API, tenant by tenant."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from websockets.asyncio.client import connect

from kernel.db.scope import tenant_scope
from kernel.db.session import set_session_scope
from kernel.i18n.catalogs import N_
from kernel.notifications.service import notify
from kernel.testing.server import serving

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ws_url(atendai_app: Any, atendai_client: Any) -> AsyncIterator[str]:
    async with serving(atendai_app) as base:
        yield base.replace("http://", "ws://") + "/ws"


async def send(kernel: Any, tenant_id: Any, *, commit: bool = True, **fields: Any) -> list[Any]:
    with tenant_scope(tenant_id):
        async with kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant_id)
            rows = await notify(session, **fields)
            if commit:
                await session.commit()
            else:
                await session.rollback()
    return rows


async def test_notifications_reach_the_holders_of_a_permission(atendai_client, atendai_kernel, make_tenant):
    from tests.kernel.test_shell import add_member

    tenant = await make_tenant(seed=False)
    email, password = await add_member(atendai_client, tenant, "operator")
    rows = await send(
        atendai_kernel,
        tenant.tenant_id,
        kind="kernel.test",
        message=N_("%(name)s accepted the invitation and joined the team."),
        params={"name": "Bia"},
        link="/app/-/users",
        permission="kernel.user.write",
    )
    assert [row.user_id for row in rows] == [tenant.admin_user_id]
    await atendai_client.patch("/api/v1/users/me", json={"language": "en"}, headers=tenant.headers)
    mine = await atendai_client.get("/api/v1/notifications/", headers=tenant.headers)
    tests = [item for item in mine.json()["items"] if item["kind"] == "kernel.test"]
    assert [item["text"] for item in tests] == ["Bia accepted the invitation and joined the team."]
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    operator = {"Authorization": f"Bearer {login.json()['access_token']}"}
    theirs = (await atendai_client.get("/api/v1/notifications/", headers=operator)).json()["items"]
    assert [item for item in theirs if item["kind"] == "kernel.test"] == []


async def test_the_text_is_translated_for_each_reader(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    await send(
        atendai_kernel,
        tenant.tenant_id,
        kind="kernel.test",
        message=N_("Invite, change and deactivate users"),
        user_ids=[tenant.admin_user_id],
    )
    portuguese = await atendai_client.get("/api/v1/notifications/", headers=tenant.headers)
    await atendai_client.patch("/api/v1/users/me", json={"language": "en"}, headers=tenant.headers)
    english = await atendai_client.get("/api/v1/notifications/", headers=tenant.headers)
    assert english.json()["items"][0]["text"] == "Invite, change and deactivate users"
    assert portuguese.json()["items"][0]["text"] == "Convidar, alterar e desativar usuários"


async def test_the_push_goes_out_after_commit_and_never_after_a_rollback(ws_url, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    topic = f"notifications.user.{tenant.admin_user_id}"
    async with connect(ws_url, additional_headers={"Authorization": f"Bearer {tenant.token}"}) as socket:
        await socket.send(json.dumps({"op": "subscribe", "topics": [topic]}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["op"] == "subscribed"
        await send(
            atendai_kernel,
            tenant.tenant_id,
            commit=False,
            kind="kernel.test",
            message="Never sent",
            user_ids=[tenant.admin_user_id],
        )
        rows = await send(
            atendai_kernel, tenant.tenant_id, kind="kernel.test", message="Sent", user_ids=[tenant.admin_user_id]
        )
        frame = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert frame["topic"] == topic
    assert frame["data"] == {"id": str(rows[0].id), "kind": "kernel.test", "text": "Sent"}


async def test_marking_read_one_and_all(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    rows = []
    for text in ("One", "Two", "Three"):
        rows += await send(
            atendai_kernel, tenant.tenant_id, kind="kernel.test", message=text, user_ids=[tenant.admin_user_id]
        )
    read = await atendai_client.post(f"/api/v1/notifications/{rows[0].id}/read", headers=tenant.headers)
    assert read.status_code == 204
    assert (await atendai_client.get("/api/v1/notifications/", headers=tenant.headers)).json()["unread"] == 2
    assert (await atendai_client.post("/api/v1/notifications/read-all", headers=tenant.headers)).status_code == 204
    assert (await atendai_client.get("/api/v1/notifications/", headers=tenant.headers)).json()["unread"] == 0


async def test_no_one_reads_or_marks_another_organization_s_notifications(atendai_client, atendai_kernel, two_tenants):
    first, second = two_tenants
    theirs = await send(
        atendai_kernel, second.tenant_id, kind="kernel.test", message="Private", user_ids=[second.admin_user_id]
    )
    listing = await atendai_client.get("/api/v1/notifications/?limit=100", headers=first.headers)
    assert str(theirs[0].id) not in listing.text
    marked = await atendai_client.post(f"/api/v1/notifications/{theirs[0].id}/read", headers=first.headers)
    assert marked.status_code == 404
    assert (await atendai_client.get("/api/v1/notifications/", headers=second.headers)).json()["unread"] >= 1


async def test_a_colleague_cannot_read_my_notifications(atendai_client, atendai_kernel, make_tenant):
    from tests.kernel.test_shell import add_member

    tenant = await make_tenant(seed=False)
    email, password = await add_member(atendai_client, tenant, "supervisor")
    mine = await send(
        atendai_kernel, tenant.tenant_id, kind="kernel.test", message="Mine", user_ids=[tenant.admin_user_id]
    )
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    colleague = {"Authorization": f"Bearer {login.json()['access_token']}"}
    assert (await atendai_client.post(f"/api/v1/notifications/{mine[0].id}/read", headers=colleague)).status_code == 404


async def test_the_bell_shows_the_count_and_the_panel_opens_a_notification(page_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    rows = await send(
        atendai_kernel,
        tenant.tenant_id,
        kind="kernel.test",
        message="Look here",
        link="/app/-/audit",
        user_ids=[tenant.admin_user_id],
    )
    async with page_client(tenant) as client:
        badge = await client.get("/app/-/notifications/badge")
        assert 'data-testid="unread-count">1<' in badge.text
        panel = await client.get("/app/-/notifications/panel")
        assert "Look here" in panel.text and f"/app/-/notifications/{rows[0].id}" in panel.text
        opened = await client.get(f"/app/-/notifications/{rows[0].id}")
        assert opened.status_code == 303 and opened.headers["location"] == "/app/-/audit"
        assert "unread-count" not in (await client.get("/app/-/notifications/badge")).text


async def test_a_notification_link_never_leaves_the_site(page_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    rows = await send(
        atendai_kernel,
        tenant.tenant_id,
        kind="kernel.test",
        message="Off site",
        link="//evil.example/",
        user_ids=[tenant.admin_user_id],
    )
    async with page_client(tenant) as client:
        opened = await client.get(f"/app/-/notifications/{rows[0].id}")
    assert opened.headers["location"] == "/app/"


async def test_api_tokens_have_no_notifications(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "sync", "permissions": ["kernel.user.read"]}, headers=tenant.headers
    )
    token = {"Authorization": f"Bearer {created.json()['token']}"}
    answer = await atendai_client.get("/api/v1/notifications/", headers=token)
    assert answer.status_code == 422
