"""Row-level security for tenant tables, one call per table in a migration.

The policy reads ``app.tenant_id``, which the session sets per transaction with
``set_config(..., true)``; ``NULLIF`` keeps an unset value from failing the ``uuid`` cast. A second
policy opens the table in the platform scope (``app.platform = 'on'``). ``FORCE`` makes the owner obey
the policy too; the application connects as a role that owns nothing, and gets plain DML grants.
"""

from __future__ import annotations

from alembic import op

__all__ = ["CURRENT_TENANT_SQL", "PLATFORM_SCOPE_SQL", "disable_tenant_rls", "enable_tenant_rls", "grant_app"]

CURRENT_TENANT_SQL = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"
PLATFORM_SCOPE_SQL = "coalesce(current_setting('app.platform', true), '') = 'on'"


def grant_app(table: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> None:
    """Grant ``privileges`` on ``table`` to the application role named by the migration runner."""
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT {privileges} ON %I TO %I', '{table}', "
        "current_setting('atendai.app_role')); END $$"
    )


def enable_tenant_rls(
    table: str, column: str = "tenant_id", privileges: str = "SELECT, INSERT, UPDATE, DELETE"
) -> None:
    """Enable and force row-level security on ``table`` keyed on ``column``, and grant the app role."""
    match = f"{column} = {CURRENT_TENANT_SQL}"
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({match}) WITH CHECK ({match})")
    op.execute(
        f"CREATE POLICY platform_access ON {table} USING ({PLATFORM_SCOPE_SQL}) WITH CHECK ({PLATFORM_SCOPE_SQL})"
    )
    grant_app(table, privileges)


def disable_tenant_rls(table: str) -> None:
    """Undo :func:`enable_tenant_rls` (for downgrades)."""
    op.execute(f"DROP POLICY IF EXISTS platform_access ON {table}")
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
    op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
