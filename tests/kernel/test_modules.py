"""The modules panel: listing, switching modules on and off (with their dependencies), notifications, pages.

Most tests use the session's app (the example plugin). The dependency rules need a second plugin that
depends on the example: ``reports``, registered into an app of its own over the same database.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from kernel.app import create_app
from kernel.audit.models import AuditEntry
from kernel.auth.models import User
from kernel.auth.passwords import hash_password
from kernel.db.session import set_session_scope
from kernel.notifications.models import Notification
from kernel.plugins.manager import PluginManager
from kernel.plugins.registry import collect_registrations
from kernel.rbac.models import Role
from kernel.runtime import Kernel
from kernel.sdk import NavItem, PluginManifest, hookimpl
from kernel.tenancy.models import Plan
from kernel.testing.isolation import check_tenant_isolation

pytestmark = pytest.mark.asyncio(loop_scope="session")

EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true"}


class ReportsPlugin:
    """A module that needs the example's notes: enabling it enables them, and it holds them on."""

    @hookimpl
    def register_nav(self, kernel: Any) -> list[NavItem]:
        return [NavItem("reports.home", "Reports", "/app/reports/", icon="chart-column", order=95)]


REPORTS = PluginManifest(
    name="reports",
    version="1.2.0",
    title="Reports",
    description="Weekly numbers about your notes.",
    depends=("example",),
    auto_enable=False,
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reports_client(atendai_kernel: Any, atendai_client: Any) -> Any:
    """A client of an app whose plugins are the installed ones plus ``reports`` (same database)."""
    manager = PluginManager(strict=True)
    for _name, loaded in atendai_kernel.plugins.plugins.items():
        manager.register_object(loaded.manifest, loaded.obj, loaded.path)
    manager.register_object(REPORTS, ReportsPlugin())
    kernel = Kernel(settings=atendai_kernel.settings, plugins=manager, database=atendai_kernel.database)
    kernel.registry = collect_registrations(manager, kernel)
    app = create_app(kernel.settings, kernel=kernel)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def add_admin(kernel: Any, tenant_id: Any, *, password: str = "another admin pw 1") -> tuple[User, str]:
    """A second administrator in the organization (active, with a password)."""
    email = f"second-{secrets.token_hex(3)}@example.com"
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        role = (await session.execute(select(Role).where(Role.key == "admin"))).scalar_one()
        user = User(
            tenant_id=tenant_id,
            role_id=role.id,
            email=email,
            name="Bruna Admin",
            password_hash=hash_password(password),
            is_platform_admin=False,
            is_active=True,
            token_version=0,
        )
        session.add(user)
        await session.commit()
    return user, email


async def limited_token(client: Any, tenant: Any, permissions: list[str]) -> dict[str, str]:
    """An API token of the organization holding only ``permissions``."""
    response = await client.post(
        "/api/v1/api-tokens", json={"name": "limited", "permissions": permissions}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def plan_with(kernel: Any, plugins: list[str]) -> str:
    code = f"plan-{secrets.token_hex(3)}"
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        session.add(Plan(code=code, name=f"Basic {code}", allowed_plugins=plugins, features={}, is_default=False))
        await session.commit()
    return code


def module(listing: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in listing if m["name"] == name)


# -- the API ----------------------------------------------------------------------------------------


async def test_the_list_shows_every_installed_module_with_its_state(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await atendai_client.get("/api/v1/modules", headers=tenant.headers)
    assert response.status_code == 200
    example = module(response.json(), "example")
    assert example == {
        "name": "example",
        "title": "Notas",  # the manifest's msgid, in the organization's language (pt-BR), from the plugin's catalog
        "description": example["description"],
        "version": "0.1.0",
        "enabled": True,
        "allowed_by_plan": True,
        "depends": [],
        "required_by": [],
        "has_settings": True,
    }
    assert example["description"]


async def test_disabling_a_module_closes_its_routes_and_enabling_opens_them_again(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    off = await atendai_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    assert off.status_code == 200 and off.json() == {"enabled": [], "disabled": ["example"]}
    closed = await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)
    assert closed.status_code == 403 and closed.json()["type"].endswith("/plugin-disabled")
    listed = module((await atendai_client.get("/api/v1/modules", headers=tenant.headers)).json(), "example")
    assert listed["enabled"] is False

    again = await atendai_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    assert again.json() == {"enabled": [], "disabled": []}  # already off: nothing changed

    on = await atendai_client.post("/api/v1/modules/example/enable", headers=tenant.headers)
    assert on.status_code == 200 and on.json() == {"enabled": ["example"], "disabled": []}
    assert (await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)).status_code == 200


async def test_switching_a_module_is_audited(atendai_kernel, atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await atendai_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    await atendai_client.post("/api/v1/modules/example/enable", headers=tenant.headers)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.target_id, AuditEntry.actor_id)
            .where(AuditEntry.action.like("plugin.%"))
            .order_by(AuditEntry.seq)
        )
        entries = rows.all()
    assert [(a, t) for a, t, _ in entries][-2:] == [("plugin.disabled", "example"), ("plugin.enabled", "example")]
    assert {actor for _, _, actor in entries[-2:]} == {tenant.admin_user_id}


async def test_the_other_administrators_are_notified_but_not_the_one_who_did_it(
    atendai_kernel, atendai_client, make_tenant
):
    tenant = await make_tenant(seed=False)
    colleague, _ = await add_admin(atendai_kernel, tenant.tenant_id)
    await atendai_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    await atendai_client.post("/api/v1/modules/example/enable", headers=tenant.headers)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        rows = (await session.execute(select(Notification).order_by(Notification.created_at))).scalars().all()
    kinds = [(row.user_id, row.kind) for row in rows if row.kind.startswith("module.")]
    assert kinds == [(colleague.id, "module.disabled"), (colleague.id, "module.enabled")]
    assert rows[-1].params["module"] == "Notas" and rows[-1].link == "/app/-/modules"


async def test_enabling_a_module_also_enables_what_it_depends_on(reports_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await reports_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    listing = (await reports_client.get("/api/v1/modules", headers=EN | tenant.headers)).json()
    assert module(listing, "reports")["depends"] == ["example"]
    assert module(listing, "reports")["enabled"] is False  # not auto-enabled
    response = await reports_client.post("/api/v1/modules/reports/enable", headers=tenant.headers)
    assert response.status_code == 200 and response.json()["enabled"] == ["example", "reports"]
    listing = (await reports_client.get("/api/v1/modules", headers=tenant.headers)).json()
    assert module(listing, "example")["required_by"] == ["reports"]


async def test_a_module_is_not_disabled_while_an_enabled_module_needs_it(reports_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await reports_client.post("/api/v1/modules/reports/enable", headers=tenant.headers)
    refused = await reports_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["errors"][0]["dependents"] == ["reports"]
    assert "Reports" in problem["detail"]  # the dependent named by its title
    assert (await reports_client.get("/api/v1/example/notes/", headers=tenant.headers)).status_code == 200
    await reports_client.post("/api/v1/modules/reports/disable", headers=tenant.headers)
    assert (await reports_client.post("/api/v1/modules/example/disable", headers=tenant.headers)).status_code == 200


async def test_a_module_outside_the_plan_is_listed_but_cannot_be_enabled(atendai_kernel, reports_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en", plan_code=await plan_with(atendai_kernel, ["example"]))
    listing = (await reports_client.get("/api/v1/modules", headers=tenant.headers)).json()
    assert module(listing, "reports")["allowed_by_plan"] is False
    assert module(listing, "example")["allowed_by_plan"] is True
    refused = await reports_client.post("/api/v1/modules/reports/enable", headers=tenant.headers)
    assert refused.status_code == 409
    assert (
        module((await reports_client.get("/api/v1/modules", headers=tenant.headers)).json(), "reports")["enabled"]
        is False
    )


async def test_an_unknown_module_answers_404(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    for method, path in (
        ("POST", "/api/v1/modules/nope/enable"),
        ("POST", "/api/v1/modules/nope/disable"),
        ("GET", "/api/v1/modules/nope/settings"),
        ("PUT", "/api/v1/modules/nope/settings"),
    ):
        response = await atendai_client.request(
            method, path, json={} if method == "PUT" else None, headers=tenant.headers
        )
        assert response.status_code == 404, (method, path)


async def test_only_holders_of_the_module_permission_may_manage_modules(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    reader = await limited_token(atendai_client, tenant, ["kernel.user.read"])
    assert (await atendai_client.get("/api/v1/modules", headers=reader)).status_code == 403
    assert (await atendai_client.post("/api/v1/modules/example/disable", headers=reader)).status_code == 403
    assert (await atendai_client.get("/api/v1/modules/example/settings", headers=reader)).status_code == 403
    assert (await atendai_client.get("/app/-/modules", headers=reader)).status_code == 403
    manager = await limited_token(atendai_client, tenant, ["kernel.plugin.manage"])
    assert (await atendai_client.get("/api/v1/modules", headers=manager)).status_code == 200


async def test_one_organization_switching_a_module_leaves_the_other_alone(atendai_client, two_tenants):
    tenant_a, tenant_b = two_tenants
    await atendai_client.post("/api/v1/modules/example/disable", headers=tenant_a.headers)
    await atendai_client.put("/api/v1/modules/example/settings", json={"notes_per_page": 11}, headers=tenant_a.headers)
    listing_b = (await atendai_client.get("/api/v1/modules", headers=tenant_b.headers)).json()
    assert module(listing_b, "example")["enabled"] is True
    settings_b = (await atendai_client.get("/api/v1/modules/example/settings", headers=tenant_b.headers)).json()
    assert settings_b["values"]["notes_per_page"] != 11
    assert (await atendai_client.get("/api/v1/example/notes/", headers=tenant_b.headers)).status_code == 200


async def test_the_isolation_walk_finds_nothing_on_the_modules_routes(
    atendai_app, atendai_client, atendai_kernel, two_tenants
):
    tenant_a, tenant_b = two_tenants
    report = await check_tenant_isolation(atendai_app, atendai_client, atendai_kernel.db.urls.owner, tenant_a, tenant_b)
    assert "POST /api/v1/modules/{name:str}/disable" in report.probed_routes
    assert "PUT /api/v1/modules/{name:str}/settings" in report.probed_routes
    assert "POST /app/-/modules/{name:str}/settings" in report.probed_routes
    mine = ("/modules", "/organization/ai", "/app/-/ai", "/platform/settings", "/platform/ai", "/platform/defaults")
    assert [v for v in report.violations if any(part in v for part in mine)] == []


# -- the pages --------------------------------------------------------------------------------------


async def test_the_modules_page_draws_a_card_and_a_switch_per_module(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/modules", headers=EN)
    assert response.status_code == 200
    html = response.text
    assert 'data-module="example"' in html
    assert 'role="switch" aria-checked="true"' in html
    assert 'hx-post="/app/-/modules/example/disable"' in html
    assert 'href="/app/-/modules/example/settings"' in html
    assert "Version 0.1.0" in html
    assert 'href="/static/css/modules.css"' in html


async def test_switching_a_module_off_on_the_page_reloads_it_so_the_sidebar_redraws(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        before = await browser.get("/app/-/modules")
        assert 'href="/app/example/"' in before.text  # the module's entry in the sidebar
        response = await browser.post("/app/-/modules/example/disable", headers=HTMX)
        assert response.status_code == 200 and response.headers["hx-redirect"] == "/app/-/modules"
        assert "atendai_flash" in response.headers.get("set-cookie", "")
        after = await browser.get("/app/-/modules")
        assert 'href="/app/example/"' not in after.text
        assert 'hx-post="/app/-/modules/example/enable"' in after.text
        assert 'class="toast success"' in after.text  # the flash message, shown once
        assert (await browser.get("/app/example/")).status_code == 404
        back = await browser.post("/app/-/modules/example/enable", headers=HTMX)
        assert back.headers["hx-redirect"] == "/app/-/modules"
        assert (await browser.get("/app/example/")).status_code == 200


async def test_a_refused_disable_answers_a_problem_the_shell_shows_as_a_toast(reports_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    await reports_client.post("/api/v1/modules/reports/enable", headers=tenant.headers)
    response = await reports_client.post("/app/-/modules/example/disable", headers=HTMX | tenant.headers)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Reports" in response.json()["detail"]


async def test_enabling_a_module_with_dependencies_asks_first_and_names_them(reports_client, make_tenant):
    tenant = await make_tenant(seed=False)
    await reports_client.post("/api/v1/modules/example/disable", headers=tenant.headers)
    html = (await reports_client.get("/app/-/modules", headers=EN | tenant.headers)).text
    card = html[html.index('data-module="reports"') :]
    card = card[: card.index("</li>")]
    assert "hx-confirm=" in card and "Notas" in card  # the dependency, by its title
    assert 'hx-post="/app/-/modules/reports/enable"' in card


async def test_modules_outside_the_plan_are_shown_dimmed_without_a_switch(atendai_kernel, reports_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en", plan_code=await plan_with(atendai_kernel, ["example"]))
    html = (await reports_client.get("/app/-/modules", headers=EN | tenant.headers)).text
    card = html[html.index('data-module="reports"') :]
    card = card[: card.index("</li>")]
    assert (
        "module-card unavailable"
        in html[html.index('data-module="reports"') - 80 : html.index('data-module="reports"')]
    )
    assert "Not in your plan" in card and 'role="switch"' not in card


async def test_the_settings_page_draws_the_generated_form(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    async with page_client(tenant) as browser:
        response = await browser.get("/app/-/modules/example/settings", headers=EN)
    assert response.status_code == 200
    html = response.text
    assert 'type="number" id="f-notes_per_page" name="notes_per_page"' in html
    assert 'min="5"' in html and 'max="200"' in html and 'step="1"' in html
    assert '<select id="f-order" name="order">' in html and '<option value="oldest">Oldest first</option>' in html
    assert 'type="checkbox" role="switch" id="f-agents_may_search" name="agents_may_search" checked' in html
    assert '<textarea id="f-tags" name="tags"' in html and "One per line." in html
    assert '<textarea id="f-footer" name="footer"' in html
    assert 'type="password" id="f-export_token" name="export_token"' in html
    assert "Notes per page" in html and "How many notes the Notes page lists." in html


async def test_invalid_settings_on_the_page_show_every_error_inline_and_keep_what_was_typed(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    form = {"notes_per_page": "abc", "order": "sideways", "search_results": "99", "footer": "ok", "tags": "a\nb"}
    async with page_client(tenant) as browser:
        response = await browser.post("/app/-/modules/example/settings", data=form, headers=HTMX)
    assert response.status_code == 422
    html = response.text
    assert 'id="f-notes_per_page-error"' in html and "Enter a whole number." in html
    assert 'id="f-search_results-error"' in html and "Enter a number from 1 to 20." in html
    assert 'id="f-order-error"' in html and "This value is not one of the options." in html
    assert 'value="abc"' in html and 'value="99"' in html
    assert 'class="form-error"' in html  # the summary at the top


async def test_saved_settings_show_a_toast_and_the_secret_only_as_its_hint(page_client, make_tenant):
    tenant = await make_tenant(seed=False, language="en")
    form = {
        "notes_per_page": "20",
        "order": "title",
        "search_results": "5",
        "footer": "Ask Ana",
        "tags": "prices\nhours",
        "export_token": "tok-1234567890-secret",
    }
    async with page_client(tenant) as browser:
        response = await browser.post("/app/-/modules/example/settings", data=form, headers=HTMX)
        assert response.status_code == 200
        assert '"toast"' in response.headers["hx-trigger"]
        assert "tok-1234567890-secret" not in response.text
        assert 'class="secret-hint">tok...cret<' in response.text
        assert 'value="20"' in response.text and "prices\nhours" in response.text
        assert 'name="agents_may_search" checked' not in response.text  # a switch left off is off
        page = await browser.get("/app/-/modules/example/settings")
        assert "tok-1234567890-secret" not in page.text
