"""The database as the application sees it: the app-role engine, sessions, and the tenant guard rails.

Two layers keep each tenant's rows its own:

1. the session sets ``app.tenant_id`` (and ``app.platform``) at the start of every transaction with
   ``set_config(..., true)``, so PostgreSQL's row-level security filters and checks every statement,
   raw SQL included, and nothing leaks through a pooled connection;
2. the ORM adds ``tenant_id = <current tenant>`` to every query of a :class:`TenantScoped` model and
   stamps ``tenant_id`` on new rows, so code reads naturally and fails early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from advanced_alchemy.config import AsyncSessionConfig
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from kernel.config import Settings
from kernel.db.base import TenantScoped
from kernel.db.embedded import start_embedded
from kernel.db.scope import TenantScopeMissing, current_tenant_id, in_platform_scope
from kernel.db.urls import app_url_from_owner, asyncpg_url

__all__ = ["ALL_TENANTS", "Database", "DatabaseUrls", "resolve_database_urls", "set_session_scope"]

ALL_TENANTS = "atendai_all_tenants"
"""Execution option that skips the ORM tenant filter for one statement (RLS still applies)."""


@dataclass(frozen=True)
class DatabaseUrls:
    owner: str
    """Runs migrations and owns the tables."""
    app: str
    """What the application connects as: no superuser, no BYPASSRLS, owns nothing."""
    embedded: bool


def resolve_database_urls(settings: Settings) -> DatabaseUrls:
    """The owner and application URLs, starting the embedded server when no ``DATABASE_URL`` is set."""
    if settings.embedded:
        owner = start_embedded(settings.data_path()).owner_url
    else:
        assert settings.database_url is not None
        owner = settings.database_url
    app = settings.database_app_url or app_url_from_owner(
        owner, settings.database_app_role, settings.database_app_password
    )
    return DatabaseUrls(owner=owner, app=app, embedded=settings.embedded)


class Database:
    """The application's engine and sessions. One per process, built by ``create_app`` or the CLI."""

    def __init__(self, settings: Settings, urls: DatabaseUrls | None = None) -> None:
        self.settings = settings
        self.urls = urls or resolve_database_urls(settings)
        self.config = SQLAlchemyAsyncConfig(
            connection_string=asyncpg_url(self.urls.app),
            session_config=AsyncSessionConfig(expire_on_commit=False),
            # Pages answer a successful form post with a redirect (303): that must commit too.
            before_send_handler="autocommit_include_redirects",
            create_all=False,
            session_dependency_key="db_session",
            engine_config=_engine_config(settings),
        )
        install_tenant_guards(self.config)

    @property
    def engine(self) -> Any:
        return self.config.get_engine()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for work outside a request (jobs, CLI); the caller commits."""
        maker = self.config.create_session_maker()
        async with maker() as session:
            yield session

    async def dispose(self) -> None:
        await self.config.get_engine().dispose()


def _engine_config(settings: Settings) -> Any:
    from advanced_alchemy.config import EngineConfig

    # hide_parameters: a failed statement's log line never carries the values (password hashes, tokens).
    return EngineConfig(pool_size=settings.database_pool_size, pool_pre_ping=True, hide_parameters=True)


def install_tenant_guards(config: SQLAlchemyAsyncConfig) -> None:
    """Attach the tenant listeners to the sync sessions behind ``config``'s async sessions.

    advanced-alchemy replaces ``sync_session_class`` with its own sessionmaker, so listeners on a
    Session subclass would never fire; they must go on that sessionmaker.
    """
    sync_maker = config.create_session_maker().kw["sync_session_class"]
    if getattr(sync_maker, "_atendai_guarded", False):
        return
    event.listen(sync_maker, "after_begin", _set_transaction_scope)
    event.listen(sync_maker, "do_orm_execute", _filter_to_tenant)
    event.listen(sync_maker, "before_flush", _stamp_tenant)
    sync_maker._atendai_guarded = True


def _scope_of(session: Session) -> tuple[UUID | None, bool]:
    tenant_id = session.info.get("tenant_id", current_tenant_id())
    platform = session.info.get("platform", in_platform_scope())
    return tenant_id, platform


def _set_transaction_scope(session: Session, transaction: Any, connection: Any) -> None:
    tenant_id, platform = _scope_of(session)
    connection.execute(
        text("SELECT set_config('app.tenant_id', :tenant, true), set_config('app.platform', :platform, true)"),
        {"tenant": str(tenant_id) if tenant_id else "", "platform": "on" if platform else ""},
    )


def _filter_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load or state.execution_options.get(ALL_TENANTS):
        return
    tenant_id, platform = _scope_of(state.session)
    if platform:
        return
    if tenant_id is None:
        if _touches_tenant_table(state):
            raise TenantScopeMissing("a tenant table was queried with no tenant set")
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


def _touches_tenant_table(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantScoped) for mapper in state.all_mappers)


def _stamp_tenant(session: Session, flush_context: Any, instances: Any) -> None:
    tenant_id, platform = _scope_of(session)
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if obj.tenant_id is None:
            if tenant_id is None:
                raise TenantScopeMissing(f"cannot add {type(obj).__name__} with no tenant set")
            obj.tenant_id = tenant_id
        elif tenant_id is not None and obj.tenant_id != tenant_id and not platform:
            raise TenantScopeMissing(f"{type(obj).__name__} belongs to another tenant than the current one")


async def set_session_scope(session: AsyncSession, *, tenant_id: UUID | None = None, platform: bool = False) -> None:
    """Point an open session at one tenant (or the platform scope) for its current and later transactions."""
    session.info["tenant_id"] = tenant_id
    session.info["platform"] = platform
    if session.in_transaction():
        await session.execute(
            text("SELECT set_config('app.tenant_id', :tenant, true), set_config('app.platform', :platform, true)"),
            {"tenant": str(tenant_id) if tenant_id else "", "platform": "on" if platform else ""},
        )
