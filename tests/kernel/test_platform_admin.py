"""The platform administration: organizations, plans, the plugin catalog and the overview, by API and by page."""

from __future__ import annotations

import email
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from kernel.admin import services as admin_services
from kernel.audit.models import AuditEntry
from kernel.auth.actor import Actor
from kernel.auth.models import User
from kernel.db.session import set_session_scope
from kernel.errors import ValidationFailed
from kernel.i18n.formatting import format_number
from kernel.rbac.guard import PERMISSION
from kernel.runtime import build_kernel
from kernel.sdk import PluginManifest
from kernel.tenancy.models import Organization, Plan, TenantPlugin
from kernel.tenancy.services import change_organization_plan, create_platform_admin, provision_organization

pytestmark = pytest.mark.asyncio(loop_scope="session")
EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true", "Accept-Language": "en"}


@dataclass(frozen=True)
class PlatformAdmin:
    user_id: UUID
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **EN}


async def new_platform_admin(kernel, client) -> PlatformAdmin:
    address = f"root-{secrets.token_hex(4)}@example.com"
    password = "platform admin password"
    async with kernel.db.session() as session:
        user = await create_platform_admin(session, email=address, password=password, name="Root Admin")
        await session.commit()
    response = await client.post("/api/v1/auth/login", json={"email": address, "password": password})
    response.raise_for_status()
    return PlatformAdmin(user.id, address, password, response.json()["access_token"])


@pytest_asyncio.fixture(loop_scope="session")
async def admin(atendai_kernel, atendai_client) -> PlatformAdmin:
    return await new_platform_admin(atendai_kernel, atendai_client)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def create_org(client, admin, **fields):
    body = {
        "name": fields.pop("name", "Padaria Central"),
        "slug": fields.pop("slug", unique("org")),
        "admin_email": fields.pop("admin_email", f"{unique('owner')}@example.com"),
        **fields,
    }
    response = await client.post("/api/v1/platform/tenants", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def create_plan(client, admin, **fields):
    body = {"code": fields.pop("code", unique("plan")), "name": fields.pop("name", "Starter"), **fields}
    response = await client.post("/api/v1/platform/plans", json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def audit_actions(kernel, tenant_id: UUID | None, target_id: str | None = None) -> list[AuditEntry]:
    """A chain's entries, oldest first (``None``: the platform's chain)."""
    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        statement = select(AuditEntry).where(
            AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id
        )
        if target_id is not None:
            statement = statement.where(AuditEntry.target_id == target_id)
        return list((await session.execute(statement.order_by(AuditEntry.seq))).scalars())


def mails_to(settings, address: str) -> list[email.message.Message]:
    folder = Path(settings.data_dir) / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            found.append(message)
    return found


def platform_routes(app) -> list[tuple[str, str, str]]:
    """(method, path, permission) of every route that needs a platform permission."""
    found = []
    for route in app.routes:
        for method, (handler, *_rest) in getattr(route, "route_handler_map", {}).items():
            permission = str(handler.opt.get(PERMISSION) or "")
            if permission.startswith("platform.") and method not in ("HEAD", "OPTIONS"):
                found.append((method, route.path, permission))
    return sorted(found)


# --- access -----------------------------------------------------------------------------------------


async def test_a_tenant_admin_gets_403_on_every_platform_route(atendai_app, atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    routes = platform_routes(atendai_app)
    paths = {path for _, path, _ in routes}
    assert {"/api/v1/platform/tenants", "/api/v1/platform/plans/{plan_id:uuid}", "/app/-/platform/plugins"} <= paths
    for method, path, _ in routes:
        concrete = re.sub(r"\{[^}]+\}", str(tenant.tenant_id), path)
        response = await atendai_client.request(method, concrete, json={}, headers={**tenant.headers, **EN})
        assert response.status_code == 403, f"{method} {concrete} answered {response.status_code}"


async def test_platform_pages_refuse_a_tenant_admin_with_an_error_page(page_client, make_tenant):
    tenant = await make_tenant(seed=False)
    async with page_client(tenant) as client:
        for path in ("/app/-/platform/", "/app/-/platform/tenants", "/app/-/platform/plans", "/app/-/platform/plugins"):
            response = await client.get(path, headers=EN)
            assert response.status_code == 403 and "<html" in response.text, path


async def test_a_platform_admin_lands_on_the_overview(page_client, atendai_kernel, atendai_client, admin):
    async with page_client(email=admin.email, password=admin.password) as client:
        home = await client.get("/app/", headers=EN)
        assert home.status_code == 303 and home.headers["location"] == "/app/-/platform/"
        overview = await client.get("/app/-/platform/", headers=EN)
    assert overview.status_code == 200
    assert 'data-nav="platform.tenants"' in overview.text and 'data-nav="kernel.users"' not in overview.text


# --- organizations: API ---------------------------------------------------------------------------------


async def test_a_new_organization_gets_its_admin_invited_by_mail(atendai_kernel, atendai_client, admin):
    owner = f"{unique('owner')}@example.com"
    created = await create_org(
        atendai_client,
        admin,
        name="Loja da Ana",
        admin_email=owner,
        admin_name="Ana Souza",
        language="es",
        timezone="America/Bogota",
    )
    org = created["organization"]
    assert org["name"] == "Loja da Ana" and org["status"] == "active" and org["language"] == "es"
    assert org["timezone"] == "America/Bogota" and org["plan"]["code"]
    assert [(u["email"], u["name"], u["role"], u["status"]) for u in created["users"]] == [
        (owner, "Ana Souza", "admin", "invited")
    ]
    assert "example" in created["enabled_modules"]

    [mail] = mails_to(atendai_kernel.settings, owner)
    body = mail.get_payload(decode=True).decode()
    token = re.search(r"token=([\w-]+)", body).group(1)
    assert "Loja da Ana" in mail["Subject"]
    accepted = await atendai_client.post(
        "/api/v1/auth/invitations/accept", json={"token": token, "password": "a strong new password"}
    )
    assert accepted.status_code == 200
    me = await atendai_client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {accepted.json()['access_token']}"}
    )
    assert me.json()["tenant_id"] == org["id"]


async def test_creating_an_organization_is_audited_in_its_chain_and_the_platforms(
    atendai_kernel, atendai_client, admin
):
    org = (await create_org(atendai_client, admin))["organization"]
    tenant_chain = await audit_actions(atendai_kernel, UUID(org["id"]))
    created = [e for e in tenant_chain if e.action == "organization.created"]
    assert len(created) == 1 and created[0].actor_id == admin.user_id and created[0].actor_label == admin.email
    assert created[0].actor_type == "platform"
    enabled = [e for e in tenant_chain if e.action == "plugin.enabled"]
    assert enabled and all(e.actor_type == "platform" and e.actor_label == admin.email for e in enabled)
    platform_chain = await audit_actions(atendai_kernel, None, org["id"])
    assert [e.action for e in platform_chain] == ["organization.created"]
    assert platform_chain[0].changes["slug"]["after"] == org["slug"]


async def test_every_bad_field_of_a_new_organization_is_named(atendai_client, admin, make_tenant):
    tenant = await make_tenant(seed=False)
    response = await atendai_client.post(
        "/api/v1/platform/tenants",
        json={
            "name": " ",
            "slug": tenant.slug,
            "admin_email": tenant.email.upper(),
            "plan": "no-such-plan",
            "language": "fr",
            "timezone": "Mars/Olympus",
        },
        headers=admin.headers,
    )
    assert response.status_code == 422
    fields = {error["field"]: error["message"] for error in response.json()["errors"]}
    assert fields == {
        "name": "required",
        "slug": "taken",
        "admin_email": "taken",
        "plan": "unknown",
        "language": "invalid",
        "timezone": "invalid",
    }


async def test_a_single_bad_field_gets_its_own_sentence(atendai_client, admin):
    response = await atendai_client.post(
        "/api/v1/platform/tenants",
        json={"name": "Ok", "slug": "-bad-", "admin_email": f"{unique('x')}@example.com"},
        headers=admin.headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("The slug must be 1 to 40 lowercase letters")
    assert response.json()["errors"] == [{"field": "slug", "message": "invalid"}]


async def test_organizations_are_searched_filtered_sorted_and_paged(atendai_client, admin):
    marker = unique("zq")
    plan = await create_plan(atendai_client, admin, name="Filter plan")
    first = (await create_org(atendai_client, admin, name=f"{marker} Alpha", slug=f"{marker}-a"))["organization"]
    second = (await create_org(atendai_client, admin, name=f"{marker} Beta", slug=f"{marker}-b", plan=plan["code"]))[
        "organization"
    ]
    third = (await create_org(atendai_client, admin, name=f"{marker} Gamma", slug=f"{marker}-c"))["organization"]
    await atendai_client.post(f"/api/v1/platform/tenants/{third['id']}/suspend", json={}, headers=admin.headers)

    async def names(**query):
        response = await atendai_client.get("/api/v1/platform/tenants", params=query, headers=admin.headers)
        assert response.status_code == 200, response.text
        return response.json()

    assert [o["slug"] for o in (await names(q=marker))["items"]] == [first["slug"], second["slug"], third["slug"]]
    assert [o["slug"] for o in (await names(q=f"{marker}-B"))["items"]] == [second["slug"]]
    assert [o["slug"] for o in (await names(q=marker, status="suspended"))["items"]] == [third["slug"]]
    assert [o["slug"] for o in (await names(q=marker, plan=plan["code"]))["items"]] == [second["slug"]]
    newest_first = await names(q=marker, sort="created", dir="desc", per_page=2, page=1)
    assert newest_first["total"] == 3 and [o["slug"] for o in newest_first["items"]] == [third["slug"], second["slug"]]
    assert [o["slug"] for o in (await names(q=marker, sort="created", dir="desc", per_page=2, page=2))["items"]] == [
        first["slug"]
    ]
    row = (await names(q=f"{marker}-a"))["items"][0]
    assert row["users"] == 1 and row["modules"] >= 1
    bad = await atendai_client.get("/api/v1/platform/tenants", params={"sort": "password"}, headers=admin.headers)
    assert bad.status_code == 400


async def test_a_search_with_like_wildcards_matches_them_literally(atendai_client, admin):
    await create_org(atendai_client, admin, name=f"{unique('plain')} shop")
    response = await atendai_client.get("/api/v1/platform/tenants", params={"q": "%"}, headers=admin.headers)
    assert response.status_code == 200 and response.json()["items"] == []


async def test_renaming_an_organization_is_audited(atendai_kernel, atendai_client, admin):
    org = (await create_org(atendai_client, admin, name="Old name"))["organization"]
    response = await atendai_client.patch(
        f"/api/v1/platform/tenants/{org['id']}", json={"name": "New name"}, headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["organization"]["organization"]["name"] == "New name"
    assert response.json()["disabled_modules"] == []
    tenant_entry = [
        e for e in await audit_actions(atendai_kernel, UUID(org["id"])) if e.action == "organization.updated"
    ]
    assert tenant_entry[0].changes == {"name": {"before": "Old name", "after": "New name"}}
    assert "organization.updated" in [e.action for e in await audit_actions(atendai_kernel, None, org["id"])]


async def test_a_plan_without_a_module_disables_it_and_says_so(atendai_kernel, atendai_client, admin):
    created = await create_org(atendai_client, admin)
    org = created["organization"]
    enabled = created["enabled_modules"]
    assert "example" in enabled
    bare = await create_plan(atendai_client, admin, name="Bare", allowed_plugins=[])
    response = await atendai_client.patch(
        f"/api/v1/platform/tenants/{org['id']}", json={"plan": bare["code"]}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert sorted(body["disabled_modules"]) == sorted(enabled)
    assert body["organization"]["enabled_modules"] == []
    assert body["organization"]["organization"]["plan"]["code"] == bare["code"]
    chain = [e.action for e in await audit_actions(atendai_kernel, UUID(org["id"]))]
    assert chain[-len(enabled) - 1 :] == ["plugin.disabled"] * len(enabled) + ["organization.plan_changed"]


class Quiet:
    """A plugin with no hooks: enough to be enabled and disabled."""


def kernel_with_a_dependency(atendai_kernel):
    """The installed plugins plus ``alpha`` and ``beta`` (which depends on alpha), on the test database."""
    kernel = build_kernel(
        atendai_kernel.settings,
        extra_plugins=[
            (PluginManifest(name="alpha", version="1"), Quiet()),
            (PluginManifest(name="beta", version="1", depends=("alpha",)), Quiet()),
        ],
    )
    kernel.database = atendai_kernel.database
    return kernel


async def test_changing_the_plan_disables_dependents_before_what_they_need(atendai_kernel):
    kernel = kernel_with_a_dependency(atendai_kernel)
    slug = unique("chain")
    async with kernel.db.session() as session:
        made = await provision_organization(
            kernel, session, slug=slug, name="Chain", admin_email=f"{slug}@example.com", admin_password="long enough pw"
        )
        installed = [name for name in made.enabled_plugins if name not in ("alpha", "beta")]
        assert "example" in installed and made.enabled_plugins[-2:] == ("alpha", "beta")
        await set_session_scope(session, platform=True)
        only_example = Plan(code=unique("only-installed"), name="Installed", allowed_plugins=installed, features={})
        session.add(only_example)
        await session.flush()
        org = await session.get(Organization, made.tenant_id)
        disabled = await change_organization_plan(kernel, session, org, only_example)
        await session.commit()
    assert disabled == ["beta", "alpha"]
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=made.tenant_id)
        rows = dict((await session.execute(select(TenantPlugin.plugin, TenantPlugin.enabled))).tuples().all())
    assert rows == {**dict.fromkeys(installed, True), "alpha": False, "beta": False}
    chain = [(e.action, e.target_id) for e in await audit_actions(kernel, made.tenant_id)]
    assert chain[-3:] == [
        ("plugin.disabled", "beta"),
        ("plugin.disabled", "alpha"),
        ("organization.plan_changed", str(made.tenant_id)),
    ]


async def test_a_plan_cannot_allow_a_module_without_what_it_depends_on(atendai_kernel):
    kernel = kernel_with_a_dependency(atendai_kernel)
    actor = Actor("user", None, None, "root@example.com", "Root", True, frozenset())
    async with kernel.db.session() as session:
        with pytest.raises(ValidationFailed) as caught:
            await admin_services.create_plan(
                kernel, session, actor, admin_services.PlanInput(code=unique("p"), name="P", allowed_plugins=["beta"])
            )
    assert caught.value.errors == [{"field": "allowed_plugins", "message": "missing dependency"}]
    assert caught.value.params == {"plugin": "beta", "dependency": "alpha"}


async def test_suspending_with_a_reason_locks_the_organization_out_until_reactivated(
    atendai_kernel, atendai_client, admin, make_tenant
):
    tenant = await make_tenant(seed=False)
    response = await atendai_client.post(
        f"/api/v1/platform/tenants/{tenant.tenant_id}/suspend",
        json={"reason": "Unpaid invoice 42"},
        headers=admin.headers,
    )
    assert response.status_code == 200 and response.json()["organization"]["status"] == "suspended"
    assert (await atendai_client.get("/api/v1/users/me", headers=tenant.headers)).status_code == 401
    login = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": tenant.password})
    assert login.status_code == 401
    for chain in (
        await audit_actions(atendai_kernel, tenant.tenant_id),
        await audit_actions(atendai_kernel, None, str(tenant.tenant_id)),
    ):
        suspended = [e for e in chain if e.action == "organization.suspended"]
        assert suspended[0].changes["reason"]["after"] == "Unpaid invoice 42"
        assert suspended[0].changes["status"] == {"before": "active", "after": "suspended"}

    again = await atendai_client.post(f"/api/v1/platform/tenants/{tenant.tenant_id}/activate", headers=admin.headers)
    assert again.status_code == 200 and again.json()["organization"]["status"] == "active"
    login = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": tenant.password})
    assert login.status_code == 200
    assert "organization.activated" in [e.action for e in await audit_actions(atendai_kernel, tenant.tenant_id)]


async def test_suspending_twice_changes_nothing_the_second_time(atendai_kernel, atendai_client, admin, make_tenant):
    tenant = await make_tenant(seed=False)
    for _ in range(2):
        response = await atendai_client.post(
            f"/api/v1/platform/tenants/{tenant.tenant_id}/suspend", headers=admin.headers
        )
        assert response.status_code == 200
    actions = [e.action for e in await audit_actions(atendai_kernel, tenant.tenant_id)]
    assert actions.count("organization.suspended") == 1


async def test_an_unknown_organization_is_not_found(atendai_client, admin):
    missing = "00000000-0000-7000-8000-000000000000"
    for method, path in (
        ("GET", f"/api/v1/platform/tenants/{missing}"),
        ("PATCH", f"/api/v1/platform/tenants/{missing}"),
        ("POST", f"/api/v1/platform/tenants/{missing}/suspend"),
        ("POST", f"/api/v1/platform/tenants/{missing}/activate"),
    ):
        response = await atendai_client.request(method, path, json={}, headers=admin.headers)
        assert response.status_code == 404, (method, path)


async def test_the_detail_lists_users_with_role_status_and_last_login(atendai_client, admin, make_tenant):
    tenant = await make_tenant()  # seeded: an invited operator besides the admin
    response = await atendai_client.get(f"/api/v1/platform/tenants/{tenant.tenant_id}", headers=admin.headers)
    assert response.status_code == 200
    users = {u["email"]: u for u in response.json()["users"]}
    assert users[tenant.email]["role"] == "admin" and users[tenant.email]["status"] == "active"
    assert users[tenant.email]["last_login_at"] is not None
    operator = next(u for u in users.values() if u["role"] == "operator")
    assert operator["status"] == "invited" and operator["last_login_at"] is None


# --- organizations: pages ---------------------------------------------------------------------------


async def test_the_organizations_page_lists_searches_and_keeps_the_filters(page_client, atendai_client, admin):
    marker = unique("pg")
    await create_org(atendai_client, admin, name=f"{marker} Sorveteria", slug=f"{marker}-s")
    async with page_client(email=admin.email, password=admin.password) as client:
        listed = await client.get(f"/app/-/platform/tenants?q={marker}&status=active", headers=EN)
    assert listed.status_code == 200
    assert f'data-slug="{marker}-s"' in listed.text and f"{marker} Sorveteria" in listed.text
    assert 'id="new-organization"' in listed.text
    assert 'value="active" selected' in listed.text
    async with page_client(email=admin.email, password=admin.password) as client:
        nothing = await client.get("/app/-/platform/tenants?q=nothing-matches-this", headers=EN)
    assert "No organization matches." in nothing.text


async def test_the_new_organization_form_shows_errors_beside_fields_and_keeps_what_was_typed(page_client, admin):
    async with page_client(email=admin.email, password=admin.password) as client:
        response = await client.post(
            "/app/-/platform/tenants",
            data={
                "name": "Açaí do Zé",
                "slug": "Bad Slug!",
                "admin_email": "not-an-email",
                "plan": "",
                "language": "en",
                "timezone": "America/Manaus",
            },
            headers=HTMX,
        )
    assert response.status_code == 422
    assert 'value="Açaí do Zé"' in response.text and 'value="Bad Slug!"' in response.text
    assert 'id="f-slug-error"' in response.text and 'id="f-admin_email-error"' in response.text
    assert 'value="America/Manaus"' in response.text


async def test_creating_an_organization_from_the_page_opens_its_detail(page_client, atendai_kernel, admin):
    slug = unique("pgnew")
    owner = f"{slug}@example.com"
    async with page_client(email=admin.email, password=admin.password) as client:
        response = await client.post(
            "/app/-/platform/tenants",
            data={
                "name": "Pet Shop Bidu",
                "slug": slug,
                "admin_email": owner,
                "admin_name": "Bidu",
                "plan": "",
                "language": "pt-BR",
                "timezone": "America/Sao_Paulo",
            },
            headers=HTMX,
        )
        assert response.status_code == 200, response.text
        target = response.headers["HX-Redirect"]
        assert target.startswith("/app/-/platform/tenants/")
        detail = await client.get(target, headers=EN)
    assert detail.status_code == 200
    assert "Pet Shop Bidu" in detail.text and owner in detail.text and 'data-testid="impersonate"' in detail.text
    assert "Created the organization" in detail.text or "organization.created" in detail.text
    assert len(mails_to(atendai_kernel.settings, owner)) == 1


async def test_the_detail_page_changes_name_and_plan_and_warns_about_disabled_modules(
    page_client, atendai_client, admin
):
    org = (await create_org(atendai_client, admin))["organization"]
    bare = await create_plan(atendai_client, admin, name="Nothing", allowed_plugins=[])
    async with page_client(email=admin.email, password=admin.password) as client:
        empty = await client.post(
            f"/app/-/platform/tenants/{org['id']}", data={"name": "", "plan": bare["code"]}, headers=HTMX
        )
        assert empty.status_code == 422 and 'id="f-name-error"' in empty.text
        saved = await client.post(
            f"/app/-/platform/tenants/{org['id']}", data={"name": "Renamed", "plan": bare["code"]}, headers=HTMX
        )
        assert saved.status_code == 200 and saved.headers["HX-Redirect"] == f"/app/-/platform/tenants/{org['id']}"
        page = await client.get(saved.headers["HX-Redirect"], headers=EN)
    assert "Renamed" in page.text
    # The toast carried over, with the modules' titles.
    assert re.search(r"they were disabled: [^<]*\bNotes\b", page.text)


async def test_suspending_and_reactivating_from_the_page(page_client, atendai_client, atendai_kernel, admin):
    org = (await create_org(atendai_client, admin))["organization"]
    async with page_client(email=admin.email, password=admin.password) as client:
        too_long = await client.post(
            f"/app/-/platform/tenants/{org['id']}/suspend", data={"reason": "x" * 501}, headers=HTMX
        )
        assert too_long.status_code == 422 and 'id="suspend-reason-error"' in too_long.text
        suspended = await client.post(
            f"/app/-/platform/tenants/{org['id']}/suspend", data={"reason": "Chargeback"}, headers=HTMX
        )
        assert suspended.status_code == 200
        page = await client.get(f"/app/-/platform/tenants/{org['id']}", headers=EN)
        assert 'data-testid="activate"' in page.text and "Reason: Chargeback" in page.text
        activated = await client.post(f"/app/-/platform/tenants/{org['id']}/activate", headers=HTMX)
        assert activated.status_code == 200
    detail = await atendai_client.get(f"/api/v1/platform/tenants/{org['id']}", headers=admin.headers)
    assert detail.json()["organization"]["status"] == "active"


# --- plans --------------------------------------------------------------------------------------------


async def test_a_plan_is_created_listed_and_read_with_its_organizations(atendai_client, admin):
    plan = await create_plan(
        atendai_client,
        admin,
        name="Pro",
        description="For teams",
        allowed_plugins=["example"],
        features={"example.notes": 50, "kernel.llm_tokens_per_month": 100000},
    )
    assert plan["allowed_plugins"] == ["example"] and plan["features"] == {
        "example.notes": 50,
        "kernel.llm_tokens_per_month": 100000,
    }
    await create_org(atendai_client, admin, plan=plan["code"])
    await create_org(atendai_client, admin)  # on the default plan, which exists from then on
    listed = (await atendai_client.get("/api/v1/platform/plans", headers=admin.headers)).json()
    mine = next(p for p in listed if p["code"] == plan["code"])
    assert mine["organizations"] == 1 and mine["description"] == "For teams"
    assert listed[0]["is_default"] is True and not any(p["is_default"] for p in listed[1:])
    one = await atendai_client.get(f"/api/v1/platform/plans/{plan['id']}", headers=admin.headers)
    assert one.json()["organizations"] == 1


async def test_only_one_plan_is_the_default(atendai_client, admin):
    first = await create_plan(atendai_client, admin, is_default=True)
    second = await create_plan(atendai_client, admin, is_default=True)
    plans = (await atendai_client.get("/api/v1/platform/plans", headers=admin.headers)).json()
    assert [p["code"] for p in plans if p["is_default"]] == [second["code"]]
    refused = await atendai_client.patch(
        f"/api/v1/platform/plans/{second['id']}", json={"is_default": False}, headers=admin.headers
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "is_default"
    back = await atendai_client.patch(
        f"/api/v1/platform/plans/{first['id']}", json={"is_default": True}, headers=admin.headers
    )
    assert back.status_code == 200 and back.json()["plan"]["is_default"] is True
    plans = (await atendai_client.get("/api/v1/platform/plans", headers=admin.headers)).json()
    assert [p["code"] for p in plans if p["is_default"]] == [first["code"]]


async def test_a_plans_code_is_checked_and_never_changes(atendai_client, admin):
    plan = await create_plan(atendai_client, admin)
    taken = await atendai_client.post(
        "/api/v1/platform/plans", json={"code": plan["code"], "name": "Again"}, headers=admin.headers
    )
    assert taken.status_code == 422 and taken.json()["errors"] == [{"field": "code", "message": "taken"}]
    bad = await atendai_client.post(
        "/api/v1/platform/plans", json={"code": "Not OK", "name": "X"}, headers=admin.headers
    )
    assert bad.status_code == 422 and bad.json()["errors"] == [{"field": "code", "message": "invalid"}]
    renamed = await atendai_client.patch(
        f"/api/v1/platform/plans/{plan['id']}", json={"code": "other-code"}, headers=admin.headers
    )
    assert renamed.status_code == 422 and renamed.json()["errors"] == [{"field": "code", "message": "immutable"}]
    same = await atendai_client.patch(
        f"/api/v1/platform/plans/{plan['id']}", json={"code": plan["code"], "name": "Renamed"}, headers=admin.headers
    )
    assert (
        same.status_code == 200
        and same.json()["plan"]["name"] == "Renamed"
        and same.json()["plan"]["code"] == plan["code"]
    )


async def test_plan_features_are_typed_and_merged(atendai_client, admin):
    bad = await atendai_client.post(
        "/api/v1/platform/plans",
        json={"code": unique("f"), "name": "F", "features": {"example.notes": -1, "nobody.thing": True}},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    assert {e["field"]: e["message"] for e in bad.json()["errors"]} == {
        "features.example.notes": "invalid",
        "features.nobody.thing": "unknown",
    }
    flag_as_number = await atendai_client.post(
        "/api/v1/platform/plans",
        json={"code": unique("f"), "name": "F", "features": {"example.notes": True}},
        headers=admin.headers,
    )
    assert flag_as_number.status_code == 422
    huge = await atendai_client.post(
        "/api/v1/platform/plans",
        json={"code": unique("f"), "name": "F", "features": {"example.notes": 2**53}},
        headers=admin.headers,
    )
    assert huge.status_code == 422 and huge.json()["errors"] == [
        {"field": "features.example.notes", "message": "too large"}
    ]
    plan = await create_plan(atendai_client, admin, features={"example.notes": 10, "kernel.llm_tokens_per_month": 5})
    merged = await atendai_client.patch(
        f"/api/v1/platform/plans/{plan['id']}",
        json={"features": {"example.notes": None, "kernel.llm_tokens_per_month": 0}},
        headers=admin.headers,
    )
    assert merged.status_code == 200 and merged.json()["plan"]["features"] == {"kernel.llm_tokens_per_month": 0}


async def test_a_plan_that_stops_allowing_a_module_disables_it_where_it_was_enabled(
    atendai_kernel, atendai_client, admin
):
    plan = await create_plan(atendai_client, admin, name="Shrinking")
    created = await create_org(atendai_client, admin, plan=plan["code"])
    org = created["organization"]
    unknown = await atendai_client.patch(
        f"/api/v1/platform/plans/{plan['id']}", json={"allowed_plugins": ["ghost"]}, headers=admin.headers
    )
    assert unknown.status_code == 422 and unknown.json()["errors"] == [
        {"field": "allowed_plugins", "message": "unknown"}
    ]
    shrunk = await atendai_client.patch(
        f"/api/v1/platform/plans/{plan['id']}", json={"allowed_plugins": []}, headers=admin.headers
    )
    assert shrunk.status_code == 200, shrunk.text
    assert list(shrunk.json()["disabled_modules"]) == [org["slug"]]
    assert sorted(shrunk.json()["disabled_modules"][org["slug"]]) == sorted(created["enabled_modules"])
    detail = (await atendai_client.get(f"/api/v1/platform/tenants/{org['id']}", headers=admin.headers)).json()
    assert detail["enabled_modules"] == []
    entry = [e for e in await audit_actions(atendai_kernel, None, plan["id"]) if e.action == "plan.updated"][-1]
    assert entry.changes["allowed_plugins"] == {"before": None, "after": []}


async def test_a_plan_in_use_or_the_default_cannot_be_deleted(atendai_kernel, atendai_client, admin):
    used = await create_plan(atendai_client, admin)
    await create_org(atendai_client, admin, plan=used["code"])
    refused = await atendai_client.delete(f"/api/v1/platform/plans/{used['id']}", headers=admin.headers)
    assert (
        refused.status_code == 409
        and refused.json()["detail"] == "1 organization is on this plan: move it to another plan first."
    )
    await create_org(atendai_client, admin)  # on the default plan, which exists from then on
    plans = (await atendai_client.get("/api/v1/platform/plans", headers=admin.headers)).json()
    default = next(p for p in plans if p["is_default"])
    assert (
        await atendai_client.delete(f"/api/v1/platform/plans/{default['id']}", headers=admin.headers)
    ).status_code == 409
    spare = await create_plan(atendai_client, admin)
    assert (
        await atendai_client.delete(f"/api/v1/platform/plans/{spare['id']}", headers=admin.headers)
    ).status_code == 204
    assert (await atendai_client.get(f"/api/v1/platform/plans/{spare['id']}", headers=admin.headers)).status_code == 404
    assert [e.action for e in await audit_actions(atendai_kernel, None, spare["id"])] == [
        "plan.created",
        "plan.deleted",
    ]


async def test_the_registration_plan_cannot_be_deleted(atendai_kernel, atendai_client, admin):
    from kernel.tenancy.platform_settings import set_platform_setting

    plan = await create_plan(atendai_client, admin)
    async with atendai_kernel.db.session() as session:
        await set_platform_setting(session, "registration.plan", plan["code"])
        await session.commit()
    try:
        response = await atendai_client.delete(f"/api/v1/platform/plans/{plan['id']}", headers=admin.headers)
        assert response.status_code == 409 and "Global defaults" in response.json()["detail"]
    finally:
        async with atendai_kernel.db.session() as session:
            await set_platform_setting(session, "registration.plan", None)
            await session.commit()


async def test_the_plan_form_shows_modules_and_features_with_their_descriptions(page_client, admin):
    async with page_client(email=admin.email, password=admin.password) as client:
        response = await client.get("/app/-/platform/plans/new", headers=EN)
    assert response.status_code == 200
    assert 'name="modules" value="example"' in response.text and "Notes" in response.text
    assert 'name="features.example.notes"' in response.text and "Notes an organization may keep" in response.text
    assert 'name="features.kernel.llm_tokens_per_month"' in response.text and 'placeholder="1000"' in response.text


async def test_the_plan_form_keeps_what_was_typed_when_it_is_refused(page_client, admin):
    async with page_client(email=admin.email, password=admin.password) as client:
        response = await client.post(
            "/app/-/platform/plans",
            data={
                "code": "",
                "name": "Gold",
                "modules_mode": "chosen",
                "modules": "example",
                "features.example.notes": "ten",
            },
            headers=HTMX,
        )
    assert response.status_code == 422
    assert 'value="Gold"' in response.text and 'value="ten"' in response.text
    assert 'id="f-code-error"' in response.text and 'id="f-feature-2-error"' in response.text
    assert re.search(r'value="example"\s+checked', response.text)


async def test_plans_are_created_edited_and_deleted_from_the_pages(page_client, atendai_client, admin):
    code = unique("pgplan")
    async with page_client(email=admin.email, password=admin.password) as client:
        created = await client.post(
            "/app/-/platform/plans",
            data={
                "code": code,
                "name": "Page plan",
                "description": "d",
                "modules_mode": "chosen",
                "modules": "example",
                "features.example.notes": "25",
                "features.kernel.llm_tokens_per_month": "",
            },
            headers=HTMX,
        )
        assert created.status_code == 200 and created.headers["HX-Redirect"] == "/app/-/platform/plans"
        plan = next(
            p
            for p in (await atendai_client.get("/api/v1/platform/plans", headers=admin.headers)).json()
            if p["code"] == code
        )
        assert plan["allowed_plugins"] == ["example"] and plan["features"].pop("example.notes") == 25
        assert all(value is False for value in plan["features"].values()), "unticked flags are stored as off"
        listed = await client.get("/app/-/platform/plans", headers=EN)
        assert f'data-code="{code}"' in listed.text
        edited = await client.post(
            f"/app/-/platform/plans/{plan['id']}",
            data={"name": "Page plan 2", "description": "", "modules_mode": "all", "features.example.notes": ""},
            headers=HTMX,
        )
        assert edited.status_code == 200
        again = (await atendai_client.get(f"/api/v1/platform/plans/{plan['id']}", headers=admin.headers)).json()
        assert again["name"] == "Page plan 2" and again["allowed_plugins"] is None
        assert "example.notes" not in again["features"] and not any(again["features"].values())
        edit_page = await client.get(f"/app/-/platform/plans/{plan['id']}", headers=EN)
        assert code in edit_page.text and 'name="code"' not in edit_page.text
        deleted = await client.delete(f"/app/-/platform/plans/{plan['id']}", headers=HTMX)
        assert deleted.status_code == 200
    assert (await atendai_client.get(f"/api/v1/platform/plans/{plan['id']}", headers=admin.headers)).status_code == 404


# --- plugin catalog and overview ------------------------------------------------------------------------


async def test_the_plugin_catalog_lists_installed_and_failed_plugins(
    atendai_kernel, atendai_client, page_client, admin, monkeypatch
):
    monkeypatch.setitem(atendai_kernel.plugins.failed, "broken", "ImportError: No module named 'broken_dep'")
    response = await atendai_client.get("/api/v1/platform/plugins", headers=admin.headers)
    assert response.status_code == 200
    by_name = {p["name"]: p for p in response.json()}
    example = by_name["example"]
    assert example["title"] == "Notes" and example["version"] == "0.1.0" and example["health"] == "ok"
    assert example["distribution"] == "atendai-example-plugin" and example["auto_enable"] is True
    assert example["features"] == [
        {"key": "example.notes", "kind": "quota", "default": 1000, "description": "Notes an organization may keep"}
    ]
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        enabled = (
            await session.execute(
                select(func.count(TenantPlugin.id)).where(
                    TenantPlugin.plugin == "example", TenantPlugin.enabled.is_(True)
                )
            )
        ).scalar_one()
    assert example["organizations"] == enabled
    assert by_name["broken"]["health"] == "failed" and "broken_dep" in by_name["broken"]["reason"]
    async with page_client(email=admin.email, password=admin.password) as client:
        page = await client.get("/app/-/platform/plugins", headers=EN)
    assert page.status_code == 200 and 'data-plugin="broken"' in page.text and "broken_dep" in page.text


async def test_the_overview_counts_what_the_database_holds(atendai_kernel, atendai_client, page_client, admin):
    await create_org(atendai_client, admin)
    response = await atendai_client.get("/api/v1/platform/overview", headers=admin.headers)
    assert response.status_code == 200
    body = response.json()
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        active = (
            await session.execute(select(func.count(Organization.id)).where(Organization.status == "active"))
        ).scalar_one()
        people = (await session.execute(select(func.count(User.id)).where(User.tenant_id.is_not(None)))).scalar_one()
        plans = (await session.execute(select(func.count(Plan.id)))).scalar_one()
    assert (body["organizations_active"], body["users"], body["plans"]) == (active, people, plans)
    assert body["modules_healthy"] == len(atendai_kernel.plugins.plugins) and body["modules_failed"] == 0
    assert len(body["newest"]) == 5
    async with page_client(email=admin.email, password=admin.password) as client:
        page = await client.get("/app/-/platform/", headers=EN)
    assert page.status_code == 200
    shown = re.search(r'data-stat="organizations-active">.*?<span class="value">([^<]+)</span>', page.text, re.S)
    assert shown and shown.group(1) == format_number(active, language="en")
    assert "Latest platform activity" in page.text and 'href="/app/-/platform/audit?tenant=platform"' in page.text
