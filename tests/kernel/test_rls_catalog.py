"""Row-level security is on, forced and keyed on the tenant for every tenant table."""

from __future__ import annotations

import pytest
from psycopg import sql

from kernel.testing.isolation import rls_catalog_problems, tenant_tables

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_every_tenant_table_has_forced_row_level_security(owner_connection, atendai_kernel):
    problems = await rls_catalog_problems(owner_connection, atendai_kernel.settings.database_app_role)
    assert problems == []


async def test_catalog_knows_the_kernel_and_plugin_tables(owner_connection):
    tables = await tenant_tables(owner_connection)
    assert {"organizations", "users", "tenant_plugins", "example_notes"} <= set(tables)


async def test_app_role_sees_no_rows_without_a_tenant(two_tenants, owner_connection, app_connection):
    for table in await tenant_tables(owner_connection):
        total = await (
            await owner_connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        ).fetchone()
        seen = await (
            await app_connection.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        ).fetchone()
        assert seen[0] == 0, f"{table}: the app role saw {seen[0]} rows with no tenant set"
        if table in ("organizations", "users", "tenant_plugins", "example_notes"):
            assert total[0] >= 2, f"{table} should hold both tenants' rows for this check to mean anything"


async def test_app_role_sees_only_its_tenant_rows(two_tenants, app_connection):
    tenant_a, _tenant_b = two_tenants
    async with app_connection.transaction():
        await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_a.tenant_id),))
        owners = await (await app_connection.execute("SELECT DISTINCT tenant_id FROM example_notes")).fetchall()
        orgs = await (await app_connection.execute("SELECT id FROM organizations")).fetchall()
    assert owners == [(tenant_a.tenant_id,)]
    assert orgs == [(tenant_a.tenant_id,)]


async def test_app_role_cannot_write_into_another_tenant(two_tenants, app_connection):
    import psycopg

    tenant_a, tenant_b = two_tenants
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        async with app_connection.transaction():
            await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_a.tenant_id),))
            await app_connection.execute(
                "INSERT INTO example_notes (id, tenant_id, title, body, created_at, updated_at)"
                " VALUES (gen_random_uuid(), %s, 'x', '', now(), now())",
                (tenant_b.tenant_id,),
            )


async def test_app_role_cannot_move_a_row_to_another_tenant(two_tenants, app_connection):
    import psycopg

    tenant_a, tenant_b = two_tenants
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        async with app_connection.transaction():
            await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_a.tenant_id),))
            await app_connection.execute("UPDATE example_notes SET tenant_id = %s", (tenant_b.tenant_id,))


async def test_catalog_check_catches_a_table_without_forced_policy(owner_connection, atendai_kernel):
    """The catalog check is not hollow: drop a policy and un-force RLS (rolled back) and it complains."""
    app_role = atendai_kernel.settings.database_app_role
    async with owner_connection.transaction(force_rollback=True):
        await owner_connection.execute("DROP POLICY tenant_isolation ON example_notes")
        await owner_connection.execute("ALTER TABLE example_notes NO FORCE ROW LEVEL SECURITY")
        problems = await rls_catalog_problems(owner_connection, app_role)
    assert "example_notes: row-level security is not forced (the owner bypasses it)" in problems
    assert "example_notes: no policy keys reads and writes on tenant_id = app.tenant_id" in problems
    assert await rls_catalog_problems(owner_connection, app_role) == []


async def test_catalog_check_catches_a_new_tenant_table_without_rls(owner_connection, atendai_kernel):
    app_role = atendai_kernel.settings.database_app_role
    async with owner_connection.transaction(force_rollback=True):
        await owner_connection.execute("CREATE TABLE forgotten (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)")
        problems = await rls_catalog_problems(owner_connection, app_role)
    assert "forgotten: row-level security is not enabled" in problems
