"""Provisioning, suspension and per-tenant plugin enablement."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kernel.auth.models import User
from kernel.db.scope import TenantScopeMissing, tenant_scope
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, ValidationFailed
from kernel.tenancy.models import Organization, TenantPlugin
from kernel.tenancy.services import disable_plugin, provision_organization, set_organization_status

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_provisioning_creates_the_organization_admin_and_plan_plugins(atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        org = (await session.execute(select(Organization))).scalar_one()
        users = (await session.execute(select(User))).scalars().all()
        plugins = (await session.execute(select(TenantPlugin.plugin, TenantPlugin.enabled))).all()
    assert org.slug == tenant.slug and org.language == "pt-BR" and org.status == "active"
    assert [u.email for u in users] == [tenant.email]
    assert ("example", True) in plugins


async def test_on_plugin_enabled_seeds_run_inside_the_new_tenant(atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    notes = (await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)).json()
    assert [n["title"] for n in notes] == ["Welcome"]


@pytest.mark.parametrize("slug", ["", "-bad", "ação", "way-too-long-" * 5, "a b", "trailing-"])
async def test_invalid_slugs_are_refused(atendai_kernel, slug):
    async with atendai_kernel.db.session() as session:
        with pytest.raises(ValidationFailed):
            await provision_organization(
                atendai_kernel,
                session,
                slug=slug,
                name="X",
                admin_email="x@example.com",
                admin_password="long enough pw",
            )


async def test_a_taken_slug_or_email_is_a_conflict(atendai_kernel, make_tenant):
    tenant = await make_tenant(seed=False)
    async with atendai_kernel.db.session() as session:
        with pytest.raises(Conflict, match="already taken"):
            await provision_organization(
                atendai_kernel,
                session,
                slug=tenant.slug,
                name="X",
                admin_email="new@example.com",
                admin_password="long enough pw",
            )
        await session.rollback()
        with pytest.raises(Conflict, match="email"):
            await provision_organization(
                atendai_kernel,
                session,
                slug="fresh-slug-x1",
                name="X",
                admin_email=tenant.email.upper(),
                admin_password="long enough pw",
            )


async def test_suspension_blocks_login_and_existing_tokens(atendai_kernel, atendai_client, make_tenant):
    tenant = await make_tenant(seed=False)
    assert (await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)).status_code == 200
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        await set_organization_status(session, tenant.slug, "suspended")
        await session.commit()
    assert (await atendai_client.get("/api/v1/example/notes/", headers=tenant.headers)).status_code == 401
    login = await atendai_client.post("/api/v1/auth/login", json={"email": tenant.email, "password": tenant.password})
    assert login.status_code == 401
    assert login.json()["detail"] == "Esta empresa está suspensa."  # the organization's language, pt-BR


async def test_disabling_a_plugin_closes_its_routes_for_that_tenant_only(atendai_kernel, atendai_client, two_tenants):
    tenant_a, tenant_b = two_tenants
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_a.tenant_id)
        with tenant_scope(tenant_a.tenant_id):
            await disable_plugin(atendai_kernel, session, tenant_a.tenant_id, "example")
        await session.commit()

    api_a = await atendai_client.get("/api/v1/example/notes/", headers=tenant_a.headers)
    page_a = await atendai_client.get("/app/example/", headers=tenant_a.headers)
    assert api_a.status_code == 403
    assert api_a.headers["content-type"].startswith("application/problem+json")
    assert api_a.json()["type"].endswith("/plugin-disabled")
    assert page_a.status_code == 404

    assert (await atendai_client.get("/api/v1/example/notes/", headers=tenant_b.headers)).status_code == 200
    assert (await atendai_client.get("/app/example/", headers=tenant_b.headers)).status_code == 200


async def test_orm_queries_are_filtered_to_the_current_tenant(atendai_kernel, two_tenants):
    from atendai_example.models import Note

    tenant_a, _tenant_b = two_tenants
    with tenant_scope(tenant_a.tenant_id):
        async with atendai_kernel.db.session() as session:
            owners = set((await session.execute(select(Note.tenant_id))).scalars())
    assert owners == {tenant_a.tenant_id}


async def test_orm_refuses_tenant_tables_with_no_tenant_set(atendai_kernel, two_tenants):
    from atendai_example.models import Note

    async with atendai_kernel.db.session() as session:
        with pytest.raises(TenantScopeMissing):
            await session.execute(select(Note))


async def test_orm_stamps_and_guards_the_tenant_on_insert(atendai_kernel, two_tenants):
    from atendai_example.models import Note

    tenant_a, tenant_b = two_tenants
    with tenant_scope(tenant_a.tenant_id):
        async with atendai_kernel.db.session() as session:
            note = Note(title="stamped", body="")
            session.add(note)
            await session.flush()
            assert note.tenant_id == tenant_a.tenant_id
            session.add(Note(title="smuggled", body="", tenant_id=tenant_b.tenant_id))
            with pytest.raises(TenantScopeMissing, match="another tenant"):
                await session.flush()
            await session.rollback()


async def test_the_orm_filter_adds_the_tenant_to_the_sql_itself(atendai_kernel, two_tenants):
    """Layer one on its own: the WHERE clause names the tenant, before row-level security is involved."""
    from atendai_example.models import Note
    from sqlalchemy import event

    tenant_a, _ = two_tenants
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    engine = atendai_kernel.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with tenant_scope(tenant_a.tenant_id):
            async with atendai_kernel.db.session() as session:
                await session.execute(select(Note.title).where(Note.title != ""))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    query, parameters = next((s, p) for s, p in statements if "FROM example_notes" in s)
    assert "example_notes.tenant_id = " in query
    assert str(tenant_a.tenant_id) in {str(p) for p in parameters}


async def test_a_platform_admin_logs_in_to_the_platform_scope_without_tenant_modules(atendai_kernel, atendai_client):
    import secrets

    from kernel.tenancy.services import create_platform_admin

    email = f"root-{secrets.token_hex(3)}@example.com"
    async with atendai_kernel.db.session() as session:
        user = await create_platform_admin(session, email=email, password="platform admin pw 1")
        await session.commit()
    assert user.tenant_id is None and user.is_platform_admin
    login = await atendai_client.post("/api/v1/auth/login", json={"email": email, "password": "platform admin pw 1"})
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    # Tenant modules are not the platform's: their routes are closed to it.
    assert (await atendai_client.get("/api/v1/example/notes/", headers=headers)).status_code == 403
