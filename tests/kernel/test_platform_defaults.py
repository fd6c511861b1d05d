"""The platform's global defaults: registration, the AI model and keys (with an unmetered test), module defaults.

Platform administrators belong to no organization; their requests run in the platform scope. Each
test puts the platform's settings and secrets back as they were, since every organization reads them.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import delete, func, select

from kernel.audit.models import AuditEntry
from kernel.db.session import set_session_scope
from kernel.llm.credentials import StoredCredentials
from kernel.llm.providers.base import ModelConfig
from kernel.plugins.settings import load_plugin_settings
from kernel.secrets import Secret
from kernel.secrets_models import StoredSecret
from kernel.tenancy.models import Plan, PlatformSetting
from kernel.tenancy.platform_settings import registration_open
from kernel.tenancy.services import create_platform_admin
from tests.fakes import FakeReply
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.asyncio(loop_scope="session")

HTMX = {"HX-Request": "true"}
PASSWORD = "platform admin pw 1"
KEY = "sk-platform-default-0001"
KEYS = ("registration.open", "registration.plan", "ai.provider", "ai.model", "plugin.example")
SECRETS = (
    "llm.openai.api_key",
    "llm.openai.base_url",
    "llm.openai.organization",
    "llm.gemini.base_url",
    "plugin.example.export_token",
)


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture(autouse=True)
def fresh_fake(openai_fake: FakeOpenAI) -> None:
    openai_fake.reset()


@pytest_asyncio.fixture(autouse=True, loop_scope="session")
async def platform_restored(atendai_kernel: Any) -> AsyncIterator[None]:
    """Put the platform's settings and secrets back as they were before the test."""
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        settings = (await session.execute(select(PlatformSetting).where(PlatformSetting.key.in_(KEYS)))).scalars()
        kept_settings = {row.key: row.value for row in settings}
        stored = (
            await session.execute(
                select(StoredSecret).where(StoredSecret.tenant_id.is_(None), StoredSecret.name.in_(SECRETS))
            )
        ).scalars()
        kept_secrets = {row.name: (row.ciphertext, row.hint) for row in stored}
    yield
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        await session.execute(delete(PlatformSetting).where(PlatformSetting.key.in_(KEYS)))
        await session.execute(
            delete(StoredSecret).where(StoredSecret.tenant_id.is_(None), StoredSecret.name.in_(SECRETS))
        )
        session.add_all(PlatformSetting(key=key, value=value) for key, value in kept_settings.items())
        session.add_all(
            StoredSecret(tenant_id=None, name=name, ciphertext=ciphertext, hint=hint)
            for name, (ciphertext, hint) in kept_secrets.items()
        )
        await session.commit()


@pytest_asyncio.fixture(loop_scope="session")
async def platform_admin(atendai_kernel: Any, atendai_client: Any) -> dict[str, Any]:
    email = f"root-{secrets.token_hex(3)}@example.com"
    async with atendai_kernel.db.session() as session:
        await create_platform_admin(session, email=email, password=PASSWORD, name="Root")
        await session.commit()
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    return {"email": email, "headers": {"Authorization": f"Bearer {login.json()['access_token']}"}}


async def platform_entries(kernel: Any, action: str) -> list[AuditEntry]:
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        rows = await session.execute(
            select(AuditEntry)
            .where(AuditEntry.tenant_id.is_(None), AuditEntry.action == action)
            .order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


async def test_an_organizations_user_cannot_reach_the_platform_routes(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    for method, path in (
        ("GET", "/api/v1/platform/settings"),
        ("PUT", "/api/v1/platform/settings"),
        ("POST", "/api/v1/platform/ai/test"),
        ("GET", "/api/v1/platform/modules/example/settings"),
        ("PUT", "/api/v1/platform/modules/example/settings"),
        ("GET", "/app/-/platform/defaults"),
        ("POST", "/app/-/platform/defaults/registration"),
        ("POST", "/app/-/platform/defaults/ai"),
        ("POST", "/app/-/platform/defaults/ai/test"),
        ("POST", "/app/-/platform/defaults/modules/example"),
    ):
        body = {} if method in ("PUT", "POST") else None
        response = await atendai_client.request(method, path, json=body, headers=tenant.headers)
        assert response.status_code == 403, (method, path)


async def test_registration_can_be_closed_and_given_a_plan(atendai_kernel, atendai_client, platform_admin):
    code = f"starter-{secrets.token_hex(3)}"
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        session.add(Plan(code=code, name="Starter", allowed_plugins=["example"], features={}, is_default=False))
        await session.commit()
    response = await atendai_client.put(
        "/api/v1/platform/settings",
        json={"registration": {"open": False, "plan": code}},
        headers=platform_admin["headers"],
    )
    assert response.status_code == 200, response.text
    registration = response.json()["registration"]
    assert (registration["open"], registration["plan"]) == (False, code)
    assert code in [plan["code"] for plan in registration["plans"]]
    async with atendai_kernel.db.session() as session:
        assert await registration_open(atendai_kernel, session) is False
    entry = (await platform_entries(atendai_kernel, "platform.registration_changed"))[-1]
    assert entry.changes["plan"] == {"before": None, "after": code} and entry.changes["open"]["after"] is False


async def test_an_unknown_plan_is_refused(atendai_client, platform_admin):
    response = await atendai_client.put(
        "/api/v1/platform/settings",
        json={"registration": {"plan": "no-such-plan"}},
        headers={**platform_admin["headers"], "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "registration.plan"


async def test_the_platforms_ai_default_reaches_organizations_without_their_own(
    atendai_kernel, atendai_client, platform_admin, openai_fake, make_tenant
):
    saved = await atendai_client.put(
        "/api/v1/platform/settings",
        json={
            "ai": {
                "provider": "openai",
                "model": "gpt-4.1-mini",
                "openai": {"api_key": KEY, "base_url": openai_fake.api_base},
            }
        },
        headers=platform_admin["headers"],
    )
    assert saved.status_code == 200, saved.text
    ai = saved.json()["ai"]
    assert (ai["provider"], ai["model"], ai["openai"]["api_key_hint"]) == ("openai", "gpt-4.1-mini", "sk-...0001")
    assert KEY not in saved.text

    tenant = await make_tenant(seed=False, language="en")
    seen = (await atendai_client.get("/api/v1/organization/ai", headers=tenant.headers)).json()
    assert (seen["effective_provider"], seen["effective_model"]) == ("openai", "gpt-4.1-mini")
    assert seen["openai"]["platform_key"] is True and seen["openai"]["api_key_hint"] is None  # not the platform's hint
    assert "sk-...0001" not in str(seen)
    credentials = await StoredCredentials(atendai_kernel)(
        tenant.tenant_id, ModelConfig(provider="openai", model="gpt-4.1-mini")
    )
    assert credentials.api_key.reveal() == KEY and credentials.base_url == openai_fake.api_base
    entry = (await platform_entries(atendai_kernel, "platform.ai_defaults_changed"))[-1]
    assert entry.changes["provider"] == {"before": None, "after": "openai"} and KEY not in str(entry.changes)


async def test_the_platforms_test_connection_calls_once_and_charges_nobody(
    atendai_kernel, atendai_client, owner_connection, platform_admin, openai_fake
):
    before = await (await owner_connection.execute("SELECT count(*) FROM llm_usage")).fetchone()
    openai_fake.script(FakeReply.say("OK"))
    ok = await atendai_client.post(
        "/api/v1/platform/ai/test",
        json={"provider": "openai", "model": "gpt-4o-mini", "api_key": KEY, "base_url": openai_fake.api_base},
        headers=platform_admin["headers"],
    )
    assert ok.status_code == 200 and ok.json()["ok"] is True and ok.json()["reply"] == "OK"
    assert openai_fake.requests[0].headers["authorization"] == f"Bearer {KEY}"
    after = await (await owner_connection.execute("SELECT count(*) FROM llm_usage")).fetchone()
    assert after == before  # no organization's ledger got a row


async def test_the_platforms_test_reports_a_refused_key_after_a_single_call(
    atendai_client, platform_admin, openai_fake
):
    openai_fake.always(FakeReply.fail(401))
    result = (
        await atendai_client.post(
            "/api/v1/platform/ai/test",
            json={"provider": "openai", "model": "gpt-4o-mini", "api_key": "sk-bad", "base_url": openai_fake.api_base},
            headers={**platform_admin["headers"], "Accept-Language": "en"},
        )
    ).json()
    assert result["ok"] is False and result["status"] == 401
    assert result["reason"].startswith("The provider refused the API key")
    assert openai_fake.request_count == 1


async def test_the_platforms_test_uses_the_stored_defaults(atendai_client, platform_admin, openai_fake):
    await atendai_client.put(
        "/api/v1/platform/settings",
        json={"ai": {"provider": "openai", "openai": {"api_key": KEY, "base_url": openai_fake.api_base}}},
        headers=platform_admin["headers"],
    )
    result = (await atendai_client.post("/api/v1/platform/ai/test", json={}, headers=platform_admin["headers"])).json()
    assert result["ok"] is True and result["model"] == "gpt-4o-mini"
    assert openai_fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_module_defaults_apply_until_an_organization_sets_its_own(atendai_client, platform_admin, make_tenant):
    tenant_a = await make_tenant(seed=False, language="en")
    tenant_b = await make_tenant(seed=False, language="en")
    defaults = await atendai_client.put(
        "/api/v1/platform/modules/example/settings", json={"notes_per_page": 20}, headers=platform_admin["headers"]
    )
    assert defaults.status_code == 200 and defaults.json()["values"]["notes_per_page"] == 20
    await atendai_client.put("/api/v1/modules/example/settings", json={"notes_per_page": 30}, headers=tenant_a.headers)
    await atendai_client.put(
        "/api/v1/platform/modules/example/settings", json={"notes_per_page": 25}, headers=platform_admin["headers"]
    )
    seen_a = (await atendai_client.get("/api/v1/modules/example/settings", headers=tenant_a.headers)).json()
    seen_b = (await atendai_client.get("/api/v1/modules/example/settings", headers=tenant_b.headers)).json()
    assert seen_a["values"]["notes_per_page"] == 30
    assert seen_b["values"]["notes_per_page"] == 25
    field_b = next(f for f in seen_b["fields"] if f["name"] == "notes_per_page")
    assert field_b["inherited"] is True and field_b["default"] == 25


async def test_a_platform_secret_default_is_used_but_never_shown_to_organizations(
    atendai_kernel, atendai_client, platform_admin, make_tenant
):
    await atendai_client.put(
        "/api/v1/platform/modules/example/settings",
        json={"export_token": "platform-export-token-1"},
        headers=platform_admin["headers"],
    )
    tenant = await make_tenant(seed=False, language="en")
    seen = (await atendai_client.get("/api/v1/modules/example/settings", headers=tenant.headers)).json()
    assert seen["secrets"]["export_token"] == {"set": True, "hint": None, "source": "platform"}
    assert seen["values"]["export_token"] is None
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        settings = await load_plugin_settings(session, atendai_kernel, "example", tenant.tenant_id)
    assert isinstance(settings.export_token, Secret) and settings.export_token.reveal() == "platform-export-token-1"
    entry = (await platform_entries(atendai_kernel, "plugin.defaults_changed"))[-1]
    assert entry.target_id == "example" and "platform-export-token-1" not in str(entry.changes)


async def test_invalid_module_defaults_are_refused_field_by_field(atendai_client, platform_admin):
    response = await atendai_client.put(
        "/api/v1/platform/modules/example/settings",
        json={"notes_per_page": 0, "agents_may_search": "perhaps"},
        headers={**platform_admin["headers"], "Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"notes_per_page", "agents_may_search"}


# -- the page ---------------------------------------------------------------------------------------


async def test_the_page_has_registration_ai_and_module_defaults(page_client, platform_admin):
    async with page_client(email=platform_admin["email"], password=PASSWORD) as browser:
        response = await browser.get("/app/-/platform/defaults", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.text
    assert 'id="registration-form"' in html and 'name="registration.open"' in html
    assert '<select id="f-registration-plan" name="registration.plan"' in html
    assert 'id="platform-ai-form"' in html and 'hx-post="/app/-/platform/defaults/ai/test"' in html
    assert (
        'value=""' not in html[html.index('id="platform-ai-form"') : html.index("</fieldset>")]
    )  # no "platform default"
    assert 'id="defaults-form-example"' in html and 'name="notes_per_page"' in html


async def test_saving_registration_on_the_page_shows_a_toast(atendai_kernel, page_client, platform_admin):
    async with page_client(email=platform_admin["email"], password=PASSWORD) as browser:
        response = await browser.post(
            "/app/-/platform/defaults/registration", data={"registration.plan": ""}, headers=HTMX
        )
    assert response.status_code == 200 and '"toast"' in response.headers["hx-trigger"]
    assert 'name="registration.open"' in response.text
    assert 'name="registration.open" checked' not in response.text  # the switch was left off
    async with atendai_kernel.db.session() as session:
        assert await registration_open(atendai_kernel, session) is False


async def test_invalid_module_defaults_on_the_page_are_inline_errors(page_client, platform_admin):
    async with page_client(email=platform_admin["email"], password=PASSWORD) as browser:
        response = await browser.post(
            "/app/-/platform/defaults/modules/example",
            data={"notes_per_page": "2", "order": "newest", "search_results": "5"},
            headers={**HTMX, "Accept-Language": "en"},
        )
    assert response.status_code == 422
    assert 'id="f-notes_per_page-error"' in response.text and "Enter a number from 5 to 200." in response.text
    assert 'value="2"' in response.text


async def test_the_platform_ai_form_on_the_page_saves_and_tests(
    atendai_kernel, page_client, platform_admin, openai_fake
):
    form = {
        "provider": "openai",
        "openai.model": "gpt-4o-mini",
        "openai.api_key": KEY,
        "openai.base_url": openai_fake.api_base,
        "openai.organization": "",
        "gemini.model": "",
        "gemini.api_key": "",
        "gemini.base_url": "",
    }
    async with page_client(email=platform_admin["email"], password=PASSWORD) as browser:
        saved = await browser.post("/app/-/platform/defaults/ai", data=form, headers=HTMX)
        tested = await browser.post(
            "/app/-/platform/defaults/ai/test", data={**form, "openai.api_key": ""}, headers=HTMX
        )
    assert saved.status_code == 200 and "sk-...0001" in saved.text and KEY not in saved.text
    assert 'data-ok="true"' in tested.text
    assert openai_fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"  # the key it had just stored
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        rows = (
            await session.execute(
                select(func.count(StoredSecret.id)).where(
                    StoredSecret.tenant_id.is_(None), StoredSecret.name == "llm.openai.api_key"
                )
            )
        ).scalar_one()
    assert rows == 1
