"""The example plugin end to end: API, page, translation, tool, subscriber, and tenant isolation."""

from __future__ import annotations

import pytest
from atendai_example.tools import SEARCH_NOTES

from kernel.db.scope import tenant_scope
from kernel.testing.isolation import check_tenant_isolation

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_notes_api_round_trip(atendai_client, make_tenant):
    tenant = await make_tenant()
    created = await atendai_client.post(
        "/api/v1/example/notes/", json={"title": "Prices", "body": "PIX gets 5% off"}, headers=tenant.headers
    )
    assert created.status_code == 201
    note_id = created.json()["id"]
    changed = await atendai_client.patch(
        f"/api/v1/example/notes/{note_id}", json={"body": "PIX gets 10% off"}, headers=tenant.headers
    )
    assert changed.json()["body"] == "PIX gets 10% off"
    found = await atendai_client.get("/api/v1/example/notes/", params={"q": "pix"}, headers=tenant.headers)
    assert [n["title"] for n in found.json()] == ["Prices"]
    assert (await atendai_client.delete(f"/api/v1/example/notes/{note_id}", headers=tenant.headers)).status_code == 204
    gone = await atendai_client.get(f"/api/v1/example/notes/{note_id}", headers=tenant.headers)
    assert gone.status_code == 404 and gone.json()["detail"] == "Nota não encontrada."


@pytest.mark.parametrize(("language", "title"), [("pt-BR", "Notas"), ("en", "Notes"), ("es", "Notas")])
async def test_page_lists_notes_in_the_organizations_language(atendai_client, make_tenant, language, title):
    tenant = await make_tenant(language=language)
    # The organization's language wins over the browser's; a user's own preference would win over both.
    page = await atendai_client.get("/app/example/", headers={**tenant.headers, "Accept-Language": "de"})
    assert page.status_code == 200
    assert f"<h1>{title}</h1>" in page.text
    assert "Opening hours" in page.text
    assert 'href="/app/example/"' in page.text  # the plugin's own nav entry


async def test_page_without_notes_says_so_in_spanish(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="es")
    notes = (await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)).json()
    for note in notes:
        await atendai_client.delete(f"/api/v1/example/notes/{note['id']}", headers=tenant.headers)
    page = await atendai_client.get("/app/example/", headers=tenant.headers)
    assert "Todavía no hay notas." in page.text


async def test_static_files_are_served_per_plugin(atendai_client):
    response = await atendai_client.get("/static/plugins/example/example.css")
    assert response.status_code == 200 and ".notes" in response.text


async def test_search_tool_sees_only_the_current_tenants_notes(two_tenants):
    tenant_a, tenant_b = two_tenants
    with tenant_scope(tenant_b.tenant_id):
        result_b = await SEARCH_NOTES.handler(query="Opening")
    with tenant_scope(tenant_a.tenant_id):
        result_a = await SEARCH_NOTES.handler(query="Opening", limit=50)
    assert len(result_a["notes"]) == len(result_b["notes"]) == 1


async def test_a_new_note_gets_its_word_count_from_the_subscriber_job(atendai_client, make_tenant):
    import asyncio

    tenant = await make_tenant(seed=False)
    created = await atendai_client.post(
        "/api/v1/example/notes/", json={"title": "Hours", "body": "open every day from nine"}, headers=tenant.headers
    )
    note_id = created.json()["id"]
    assert created.json()["word_count"] is None
    for _ in range(100):  # the event is dispatched after commit and the job runs in the worker
        note = (await atendai_client.get(f"/api/v1/example/notes/{note_id}", headers=tenant.headers)).json()
        if note["word_count"] is not None:
            break
        await asyncio.sleep(0.1)
    assert note["word_count"] == 5


async def test_example_routes_keep_tenants_apart(atendai_app, atendai_client, atendai_kernel, two_tenants):
    report = await check_tenant_isolation(atendai_app, atendai_client, atendai_kernel.db.urls.owner, *two_tenants)
    assert report.violations == []
