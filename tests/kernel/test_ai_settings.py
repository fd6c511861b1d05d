"""The organization's AI settings: provider, model, write-only keys, checked base URLs, and "test connection".

"Test connection" talks to the fake OpenAI and Gemini servers of ``tests/fakes`` (real HTTP on
127.0.0.1, which the test settings allow; every other private address stays refused).
"""

from __future__ import annotations

import secrets
import socket
from typing import Any

import pytest
from sqlalchemy import func, select

from kernel.audit.models import AuditEntry
from kernel.db.session import set_session_scope
from kernel.i18n.catalogs import Translator, using_translator
from kernel.llm.credentials import StoredCredentials
from kernel.llm.models import LlmUsage
from kernel.llm.providers.base import ModelConfig
from kernel.llm.settings import AiTrial, organization_model, try_organization_ai
from kernel.secrets_models import StoredSecret
from tests.fakes import FakeReply

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.usefixtures("fresh_fakes")]

HTMX = {"HX-Request": "true"}
KEY = "sk-test-organization-0001"


def a_model() -> str:
    """A model name of its own per test, so one test's failures never trip another's circuit breaker."""
    return f"gpt-4o-mini-{secrets.token_hex(3)}"


async def ledger_rows(kernel: Any, tenant_id: Any) -> list[LlmUsage]:
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        return list((await session.execute(select(LlmUsage).order_by(LlmUsage.created_at))).scalars())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- reading and saving -----------------------------------------------------------------------------


async def test_an_organization_starts_on_the_platforms_default(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.get("/api/v1/organization/ai", headers=tenant.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["provider"] is None and body["model"] is None
    assert (body["effective_provider"], body["effective_model"]) == (body["platform_provider"], body["platform_model"])
    assert body["openai"]["api_key_hint"] is None and body["openai"]["base_url"] is None
    assert "gpt-4o-mini" in body["suggested_models"]["openai"]
    assert "gemini-2.5-flash" in body["suggested_models"]["gemini"]
    assert not any("embedding" in name for names in body["suggested_models"].values() for name in names)


async def test_a_key_is_stored_encrypted_and_shown_only_as_its_hint(atendai_kernel, atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    saved = await atendai_client.put(
        "/api/v1/organization/ai",
        json={"provider": "openai", "model": "gpt-4.1-mini", "openai": {"api_key": KEY, "organization": "org-123"}},
        headers=tenant.headers,
    )
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert KEY not in saved.text
    assert (body["provider"], body["model"], body["effective_model"]) == ("openai", "gpt-4.1-mini", "gpt-4.1-mini")
    assert body["openai"]["api_key_hint"] == "sk-...0001" and body["openai"]["organization"] == "org-123"
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        row = (
            await session.execute(select(StoredSecret).where(StoredSecret.name == "llm.openai.api_key"))
        ).scalar_one()
        model = await organization_model(atendai_kernel, session, tenant.tenant_id)
    assert KEY not in row.ciphertext
    assert (model.provider, model.model, model.api_key) == ("openai", "gpt-4.1-mini", None)
    # The gateway's resolver reads exactly what the page stored.
    credentials = await StoredCredentials(atendai_kernel)(tenant.tenant_id, model)
    assert credentials.api_key.reveal() == KEY and credentials.organization == "org-123"


async def test_a_left_out_key_is_kept_and_remove_api_key_removes_it(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await atendai_client.put("/api/v1/organization/ai", json={"openai": {"api_key": KEY}}, headers=tenant.headers)
    kept = await atendai_client.put(
        "/api/v1/organization/ai", json={"provider": "openai", "openai": {"api_key": ""}}, headers=tenant.headers
    )
    assert kept.json()["openai"]["api_key_hint"] == "sk-...0001"
    removed = await atendai_client.put(
        "/api/v1/organization/ai", json={"openai": {"remove_api_key": True}}, headers=tenant.headers
    )
    assert removed.json()["openai"]["api_key_hint"] is None


async def test_a_base_url_on_a_private_address_is_a_clear_field_error(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    for url in ("http://10.0.0.5:11434/v1", "http://169.254.169.254/latest", "http://127.0.0.2:8000/v1"):
        response = await atendai_client.put(
            "/api/v1/organization/ai", json={"openai": {"base_url": url}}, headers=tenant.headers
        )
        assert response.status_code == 422, url
        error = response.json()["errors"][0]
        assert (error["field"], error["message"]) == ("openai.base_url", "refused")
        assert "is not allowed: it points to a private or internal network" in error["detail"]
        assert "is not allowed" in response.json()["detail"]


async def test_an_allowed_base_url_is_saved_and_can_be_cleared(atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    saved = await atendai_client.put(
        "/api/v1/organization/ai", json={"openai": {"base_url": openai_fake.api_base}}, headers=tenant.headers
    )
    assert saved.status_code == 200 and saved.json()["openai"]["base_url"] == openai_fake.api_base
    cleared = await atendai_client.put(
        "/api/v1/organization/ai", json={"openai": {"base_url": ""}}, headers=tenant.headers
    )
    assert cleared.json()["openai"]["base_url"] is None


async def test_every_invalid_field_is_reported_together(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.put(
        "/api/v1/organization/ai",
        json={
            "model": "gpt 4o",
            "openai": {"api_key": "sk with spaces", "base_url": "ftp://models.example.com", "organization": "o" * 101},
            "gemini": {"base_url": "not a url"},
        },
        headers=tenant.headers,
    )
    assert response.status_code == 422
    fields = {e["field"]: e["message"] for e in response.json()["errors"]}
    assert fields == {
        "model": "invalid",
        "openai.api_key": "invalid",
        "openai.base_url": "invalid",
        "openai.organization": "too long",
        "gemini.base_url": "invalid",
    }
    assert response.json()["detail"].startswith("Check these fields:")


async def test_an_unknown_provider_is_refused(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.put(
        "/api/v1/organization/ai", json={"provider": "anthropic"}, headers=tenant.headers
    )
    assert response.status_code == 400  # not one of the listed values of the API's schema


async def test_choosing_offline_or_the_platform_default_forgets_the_model(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await atendai_client.put(
        "/api/v1/organization/ai", json={"provider": "gemini", "model": "gemini-2.5-pro"}, headers=tenant.headers
    )
    offline = (
        await atendai_client.put("/api/v1/organization/ai", json={"provider": "offline"}, headers=tenant.headers)
    ).json()
    assert (offline["provider"], offline["model"], offline["effective_model"]) == ("offline", None, "offline")
    platform = (
        await atendai_client.put("/api/v1/organization/ai", json={"provider": None}, headers=tenant.headers)
    ).json()
    assert platform["provider"] is None and platform["effective_provider"] == platform["platform_provider"]


async def test_changes_are_audited_without_the_key(atendai_kernel, atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    saved = await atendai_client.put(
        "/api/v1/organization/ai",
        json={"provider": "openai", "openai": {"api_key": KEY, "base_url": openai_fake.api_base}},
        headers=tenant.headers,
    )
    assert saved.status_code == 200
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        entries = (
            (await session.execute(select(AuditEntry).where(AuditEntry.tenant_id == tenant.tenant_id))).scalars().all()
        )
    changed = next(e for e in entries if e.action == "organization.ai_settings_changed")
    assert changed.changes["provider"] == {"before": None, "after": "openai"}
    assert changed.changes["openai.base_url"]["after"] == openai_fake.api_base
    secret_set = [e for e in entries if e.action == "secret.set"]
    assert secret_set and all(KEY not in str(e.changes) for e in entries)


async def test_an_organization_never_sees_or_changes_anothers_keys(atendai_kernel, atendai_client, two_tenants):
    tenant_a, tenant_b = two_tenants
    await atendai_client.put(
        "/api/v1/organization/ai",
        json={"provider": "gemini", "gemini": {"api_key": "AIza-tenant-a-000000000000000"}},
        headers=tenant_a.headers,
    )
    seen_by_b = await atendai_client.get("/api/v1/organization/ai", headers=tenant_b.headers)
    assert "AIz...0000" not in seen_by_b.text and seen_by_b.json()["provider"] != "gemini"
    await atendai_client.put(
        "/api/v1/organization/ai", json={"gemini": {"remove_api_key": True}}, headers=tenant_b.headers
    )
    seen_by_a = (await atendai_client.get("/api/v1/organization/ai", headers=tenant_a.headers)).json()
    assert seen_by_a["gemini"]["api_key_hint"] == "AIz...0000"
    b_credentials = await StoredCredentials(atendai_kernel)(
        tenant_b.tenant_id, ModelConfig(provider="gemini", model="gemini-2.5-flash")
    )
    assert b_credentials.api_key is None or b_credentials.api_key.reveal() != "AIza-tenant-a-000000000000000"


async def test_only_holders_of_the_organization_permission_reach_the_ai_settings(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    created = await atendai_client.post(
        "/api/v1/api-tokens", json={"name": "modules", "permissions": ["kernel.plugin.manage"]}, headers=tenant.headers
    )
    other = {"Authorization": f"Bearer {created.json()['token']}"}
    assert (await atendai_client.get("/api/v1/organization/ai", headers=other)).status_code == 403
    assert (await atendai_client.put("/api/v1/organization/ai", json={}, headers=other)).status_code == 403
    assert (await atendai_client.post("/api/v1/organization/ai/test", json={}, headers=other)).status_code == 403
    assert (await atendai_client.get("/app/-/ai", headers=other)).status_code == 403


# -- test connection --------------------------------------------------------------------------------


async def test_test_connection_tries_unsaved_values_against_the_provider(
    atendai_kernel, atendai_client, openai_fake, make_tenant
):
    tenant = await make_tenant(seed=False, language="en")
    openai_fake.script(FakeReply.say("OK"))
    model = a_model()
    response = await atendai_client.post(
        "/api/v1/organization/ai/test",
        json={"provider": "openai", "model": model, "api_key": KEY, "base_url": openai_fake.api_base},
        headers=tenant.headers,
    )
    assert response.status_code == 200
    result = response.json()
    assert result["ok"] is True and result["reason"] is None
    assert (result["provider"], result["model"], result["reply"]) == ("openai", model, "OK")
    assert result["latency_ms"] >= 0
    sent = openai_fake.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}" and sent.json["model"] == model
    assert sent.json["max_tokens"] == 16  # a tiny test: a few tokens at most
    # Nothing was saved by trying, and the call is in the usage ledger like any other.
    stored = (await atendai_client.get("/api/v1/organization/ai", headers=tenant.headers)).json()
    assert stored["openai"]["api_key_hint"] is None and stored["provider"] is None
    assert [(row.model, row.status) for row in await ledger_rows(atendai_kernel, tenant.tenant_id)] == [(model, "ok")]


async def test_test_connection_uses_what_is_stored_for_what_is_not_typed(atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    model = a_model()
    await atendai_client.put(
        "/api/v1/organization/ai",
        json={"provider": "openai", "model": model, "openai": {"api_key": KEY, "base_url": openai_fake.api_base}},
        headers=tenant.headers,
    )
    result = (await atendai_client.post("/api/v1/organization/ai/test", json={}, headers=tenant.headers)).json()
    assert result["ok"] is True and result["model"] == model
    assert openai_fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_a_wrong_key_is_reported_as_refused_by_the_provider(atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    openai_fake.script(FakeReply.fail(401))
    response = await atendai_client.post(
        "/api/v1/organization/ai/test",
        json={
            "provider": "openai",
            "model": a_model(),
            "api_key": "sk-wrong-key-000",
            "base_url": openai_fake.api_base,
        },
        headers=tenant.headers,
    )
    result = response.json()
    assert response.status_code == 200 and result["ok"] is False
    assert result["status"] == 401 and result["reason"].startswith("The provider refused the API key (HTTP 401)")
    assert "fake error 401" in result["provider_message"] and "sk-wrong-key-000" not in response.text
    assert openai_fake.request_count == 1  # a refused key is not retried


async def test_an_unknown_model_is_named_in_the_reason(atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    openai_fake.script(FakeReply.fail(404))
    result = (
        await atendai_client.post(
            "/api/v1/organization/ai/test",
            json={"provider": "openai", "model": "gpt-9-imaginary", "api_key": KEY, "base_url": openai_fake.api_base},
            headers=tenant.headers,
        )
    ).json()
    assert result["ok"] is False and result["status"] == 404
    assert "does not know the model gpt-9-imaginary" in result["reason"]


async def test_a_slow_provider_is_reported_as_a_timeout(atendai_kernel, atendai_app, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    openai_fake.always(FakeReply.slow(3))
    translator = Translator(catalogs=atendai_app.state.catalogs, language="en", domains=("atendai",))
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        with using_translator(translator):
            result = await try_organization_ai(
                atendai_kernel,
                session,
                tenant.tenant_id,
                AiTrial(provider="openai", model=a_model(), api_key=KEY, base_url=openai_fake.api_base),
                answer_within=0.3,
            )
    assert result.ok is False and result.status is None
    assert result.reason == "The provider did not answer within 0.3 seconds."


async def test_an_unreachable_server_is_reported(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    result = (
        await atendai_client.post(
            "/api/v1/organization/ai/test",
            json={
                "provider": "openai",
                "model": a_model(),
                "api_key": KEY,
                "base_url": f"http://127.0.0.1:{closed_port()}/v1",
            },
            headers=tenant.headers,
        )
    ).json()
    assert result["ok"] is False
    assert result["reason"] == "The server could not be reached. Check the base URL and that the server is running."


async def test_a_refused_address_fails_the_test_without_any_call(atendai_kernel, atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    result = (
        await atendai_client.post(
            "/api/v1/organization/ai/test",
            json={"provider": "openai", "api_key": KEY, "base_url": "http://192.168.1.20:11434/v1"},
            headers=tenant.headers,
        )
    ).json()
    assert result["ok"] is False and result["latency_ms"] == 0
    assert "192.168.1.20 is not allowed" in result["reason"]
    assert await ledger_rows(atendai_kernel, tenant.tenant_id) == []


async def test_gemini_is_tested_with_its_own_key_header(atendai_client, gemini_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    gemini_fake.script(FakeReply.say("OK"))
    result = (
        await atendai_client.post(
            "/api/v1/organization/ai/test",
            json={"provider": "gemini", "api_key": "AIza-test-gemini-0000000000000", "base_url": gemini_fake.base_url},
            headers=tenant.headers,
        )
    ).json()
    assert result["ok"] is True and result["model"] in ("gemini-2.5-flash", result["model"])
    assert gemini_fake.requests[0].headers["x-goog-api-key"] == "AIza-test-gemini-0000000000000"
    assert ":generateContent" in gemini_fake.requests[0].path


async def test_the_offline_mode_needs_no_connection(atendai_kernel, atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    result = (
        await atendai_client.post("/api/v1/organization/ai/test", json={"provider": "offline"}, headers=tenant.headers)
    ).json()
    assert result["ok"] is True and result["provider"] == "offline"
    assert openai_fake.request_count == 0


async def test_a_malformed_trial_is_invalid_input(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    response = await atendai_client.post(
        "/api/v1/organization/ai/test", json={"provider": "openai", "api_key": "two words"}, headers=tenant.headers
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "api_key"


# -- the page ---------------------------------------------------------------------------------------


async def test_the_page_draws_provider_cards_and_the_fields_of_each(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/ai")
    assert response.status_code == 200
    html = response.text
    for value in ("", "openai", "gemini", "offline"):
        assert f'<input type="radio" name="provider" value="{value}" x-model="provider"' in html
    assert 'name="openai.api_key"' in html and 'type="password"' in html
    assert 'name="openai.base_url"' in html and 'name="openai.organization"' in html
    assert 'name="gemini.api_key"' in html and 'name="gemini.model"' in html
    assert '<datalist id="ai-form-openai-models">' in html and '<option value="gpt-4o-mini">' in html
    assert 'hx-post="/app/-/ai/test"' in html and 'data-testid="test-connection"' in html


async def test_saving_on_the_page_shows_a_toast_and_the_key_only_as_its_hint(atendai_kernel, page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    form = {
        "provider": "openai",
        "openai.model": "gpt-4o",
        "openai.api_key": KEY,
        "openai.base_url": "",
        "openai.organization": "",
        "gemini.model": "",
        "gemini.api_key": "",
        "gemini.base_url": "",
    }
    async with page_client(tenant) as browser:
        response = await browser.post("/app/-/ai", data=form, headers=HTMX)
        assert response.status_code == 200 and '"toast"' in response.headers["hx-trigger"]
        assert KEY not in response.text and 'data-testid="openai-key-hint">sk-...0001<' in response.text
        assert 'value="gpt-4o"' in response.text
        page = await browser.get("/app/-/ai")
    assert KEY not in page.text
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        model = await organization_model(atendai_kernel, session, tenant.tenant_id)
    assert (model.provider, model.model) == ("openai", "gpt-4o")


async def test_a_refused_base_url_on_the_page_is_an_inline_error_that_keeps_the_typing(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    form = {"provider": "openai", "openai.model": "llama3.1:8b", "openai.base_url": "http://10.1.1.1:11434/v1"}
    async with page_client(tenant) as browser:
        response = await browser.post("/app/-/ai", data=form, headers=HTMX)
    assert response.status_code == 422
    html = response.text
    assert 'id="ai-form-openai-base-url-error"' in html and "10.1.1.1 is not allowed" in html
    assert 'value="http://10.1.1.1:11434/v1"' in html and 'value="llama3.1:8b"' in html


async def test_test_connection_on_the_page_answers_a_result_box(page_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    openai_fake.script(FakeReply.say("OK"), FakeReply.fail(401))
    form = {
        "provider": "openai",
        "openai.model": "gpt-4o-mini",
        "openai.api_key": KEY,
        "openai.base_url": openai_fake.api_base,
    }
    async with page_client(tenant) as browser:
        ok = await browser.post("/app/-/ai/test", data=form, headers=HTMX)
        failed = await browser.post("/app/-/ai/test", data=form, headers=HTMX)
        malformed = await browser.post("/app/-/ai/test", data={**form, "openai.api_key": "a b"}, headers=HTMX)
    assert ok.status_code == 200 and 'data-ok="true"' in ok.text and "Connected" in ok.text
    assert "OpenAI answered with gpt-4o-mini in" in ok.text
    assert 'data-ok="false"' in failed.text and "refused the API key (HTTP 401)" in failed.text
    assert 'data-ok="false"' in malformed.text and "An API key has no spaces." in malformed.text


async def test_the_usage_ledger_counts_the_test_calls(atendai_kernel, atendai_client, openai_fake, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    openai_fake.script(FakeReply.fail(401))
    await atendai_client.post(
        "/api/v1/organization/ai/test",
        json={"provider": "openai", "model": "gpt-4o-mini", "api_key": KEY, "base_url": openai_fake.api_base},
        headers=tenant.headers,
    )
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        count = (await session.execute(select(func.count(LlmUsage.id)).where(LlmUsage.status == "error"))).scalar_one()
    assert count == 1
