"""The event catalog and the Prometheus metrics."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_the_event_catalog_lists_enabled_modules_events_with_schemas(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    catalog = (await atendai_client.get("/api/v1/events/catalog", headers=tenant.headers)).json()
    created = next(item for item in catalog if item["name"] == "example.note.created")
    assert created["version"] == 1 and created["plugin"] == "example"
    assert "note_id" in str(created["payload_schema"])


async def test_metrics_expose_requests_queue_and_outbox(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)
    text = (await atendai_client.get("/metrics")).text
    assert "atendai_requests_total" in text and 'path="/api/v1/example/notes"' in text
    assert "atendai_jobs_queued" in text and "atendai_outbox_lag_seconds" in text
    assert "atendai_llm_call_seconds" in text
    assert str(tenant.tenant_id) not in text  # labels are route templates, never ids
