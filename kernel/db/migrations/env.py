"""Alembic environment for the kernel and every plugin branch (driven by ``kernel.db.migrate``)."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from advanced_alchemy.base import metadata_registry
from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config
attributes: dict[str, Any] = config.attributes

for module in attributes.get("model_modules", ()):
    importlib.import_module(module)

target_metadata = metadata_registry.get(None)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if not reflected or compare_to is not None:
        return True
    # Tables we do not model (SAQ's queue tables, plugins not installed here) are not ours to diff.
    if type_ == "table":
        return False
    # Columns and indexes that only a migration knows (generated search vectors, pgvector columns that
    # exist where the extension does) are named in the model's ``__table_args__`` info.
    if type_ in ("column", "index"):
        modelled = target_metadata.tables.get(obj.table.name)
        if modelled is not None and name in modelled.info.get("migration_only", ()):
            return False
    return True


def do_run_migrations(connection: Connection) -> None:
    connection.execute(text("SELECT set_config('atendai.app_role', :role, false)"), {"role": attributes["app_role"]})
    connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        compare_type=True,
        version_table="alembic_version",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(attributes["url"], poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `atendai migrate`")
asyncio.run(run_migrations_online())
