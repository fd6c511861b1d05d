"""The first-steps checklist ticks itself, follows permissions and modules, and can be hidden."""

from __future__ import annotations

import pytest

from kernel.db.session import set_session_scope
from kernel.tenancy.models import Organization

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def checklist(client, tenant) -> dict[str, bool]:
    answer = await client.get("/api/v1/onboarding/", headers={**tenant.headers, "Accept-Language": "en"})
    assert answer.status_code == 200, answer.text
    return {step["id"]: step["done"] for step in answer.json()["steps"]}


async def test_a_new_organization_starts_with_every_step_to_do(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    steps = await checklist(atendai_client, tenant)
    assert steps == {
        "kernel.company": False,
        "kernel.ai": False,
        "knowledge.first_document": False,
        "example.first_note": False,
        "kernel.team": False,
    }


async def test_steps_tick_themselves_when_the_work_is_done(atendai_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        org = await session.get(Organization, tenant.tenant_id)
        org.about, org.ai_provider = "Pães artesanais desde 1998.", "offline"
        await session.commit()
    invited = await atendai_client.post(
        "/api/v1/users/", json={"email": f"team-{tenant.slug}@example.com", "role": "operator"}, headers=tenant.headers
    )
    assert invited.status_code == 201
    note = await atendai_client.post(
        "/api/v1/example/notes/", json={"title": "Horário de Natal", "body": "Abrimos às 7h."}, headers=tenant.headers
    )
    assert note.status_code in (200, 201), note.text
    collections = (await atendai_client.get("/api/v1/knowledge/collections/", headers=tenant.headers)).json()
    document = await atendai_client.post(
        "/api/v1/knowledge/documents/",
        json={"collection_id": collections[0]["id"], "title": "Cardápio", "body": "Pão de fermentação natural."},
        headers=tenant.headers,
    )
    assert document.status_code == 201, document.text
    assert await checklist(atendai_client, tenant) == {
        "kernel.company": True,
        "kernel.ai": True,
        "knowledge.first_document": True,
        "example.first_note": True,
        "kernel.team": True,
    }


async def test_the_home_page_shows_the_checklist_until_everything_is_done(page_client, atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as client:
        home = (await client.get("/app/", headers={"Accept-Language": "en"})).text
        assert 'id="first-steps"' in home and 'data-step="kernel.company"' in home
        assert 'href="/app/-/ai"' in home and "0 of 5 done" in home
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        org = await session.get(Organization, tenant.tenant_id)
        org.about = "Sobre nós"
        await session.commit()
    async with page_client(tenant) as client:
        assert "1 of 5 done" in (await client.get("/app/", headers={"Accept-Language": "en"})).text


async def test_a_module_s_step_shows_only_while_the_module_is_enabled(atendai_client, atendai_kernel, make_tenant):
    from kernel.tenancy.services import disable_plugin

    tenant = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        await disable_plugin(atendai_kernel, session, tenant.tenant_id, "example")
        await session.commit()
    assert "example.first_note" not in await checklist(atendai_client, tenant)


async def test_an_operator_sees_only_the_steps_they_may_do(atendai_client, make_tenant):
    from tests.kernel.test_rbac import invite_and_accept

    tenant = await make_tenant(seed=False)
    operator = await invite_and_accept(atendai_client, tenant, "operator")
    answer = await atendai_client.get("/api/v1/onboarding/", headers=operator)
    assert answer.status_code == 200 and answer.json()["steps"] == []


async def test_an_administrator_can_hide_the_checklist(page_client, atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        hidden = await client.post("/app/-/onboarding/dismiss", headers={"HX-Request": "true"})
        assert hidden.status_code == 200 and "HX-Trigger" in hidden.headers
        assert 'id="first-steps"' not in (await client.get("/app/")).text
    state = await atendai_client.get("/api/v1/onboarding/", headers=tenant.headers)
    assert state.json()["dismissed"] is True
    log = await atendai_client.get("/api/v1/audit/?action=onboarding.dismissed", headers=tenant.headers)
    assert len(log.json()["items"]) == 1


async def test_an_operator_cannot_hide_the_checklist(atendai_client, make_tenant):
    from tests.kernel.test_rbac import invite_and_accept

    tenant = await make_tenant(seed=False)
    operator = await invite_and_accept(atendai_client, tenant, "operator")
    answer = await atendai_client.post("/api/v1/onboarding/dismiss", headers=operator)
    assert answer.status_code == 403


async def test_hiding_one_organization_s_checklist_leaves_the_others(atendai_client, two_tenants):
    first, second = two_tenants
    assert (await atendai_client.post("/api/v1/onboarding/dismiss", headers=first.headers)).status_code == 204
    assert (await atendai_client.get("/api/v1/onboarding/", headers=second.headers)).json()["dismissed"] is False
