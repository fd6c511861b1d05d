"""The ``kernel`` object every hook receives: settings, plugins, what they registered, the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kernel.config import Settings
from kernel.db.migrate import MigrationPlan
from kernel.db.session import Database, DatabaseUrls, resolve_database_urls
from kernel.plugins.manager import HookProxy, PluginManager
from kernel.plugins.registry import Registry, collect_registrations

__all__ = ["Kernel", "build_kernel", "current_kernel"]

_current: Kernel | None = None


def current_kernel() -> Kernel:
    """The process's kernel (set when it connects to its database)."""
    if _current is None:
        raise RuntimeError("no kernel is running in this process")
    return _current


@dataclass
class Kernel:
    settings: Settings
    plugins: PluginManager
    registry: Registry = field(default_factory=Registry)
    database: Database | None = None
    state: dict[str, Any] = field(default_factory=dict)
    """Room for plugins' process-wide clients, keyed by plugin name (set in ``startup``)."""

    @property
    def db(self) -> Database:
        if self.database is None:
            raise RuntimeError("the kernel has no database yet; call kernel.connect() first")
        return self.database

    def connect(self, urls: DatabaseUrls | None = None) -> Database:
        """Open the application's database (starting the embedded server when configured so)."""
        global _current
        if self.database is None:
            self.database = Database(self.settings, urls or resolve_database_urls(self.settings))
        _current = self
        return self.database

    def migration_plan(self) -> MigrationPlan:
        urls = self.db.urls
        return MigrationPlan(
            owner_url=urls.owner,
            app_role=self.settings.database_app_role,
            app_password=self.settings.database_app_password,
            plugins=tuple(self.registry.migrations.values()),
            leakproof_search=self.settings.database_leakproof_search,
        )

    def ensure_migrated(self) -> None:
        """Bring the database to every head once per process (the embedded default does this at start)."""
        if not self.state.get("migrated"):
            from kernel.db import migrate

            migrate.upgrade(self.migration_plan())
            self.state["migrated"] = True

    def hooks_for(self, enabled: frozenset[str]) -> HookProxy:
        """Hook callers limited to the plugins a tenant has enabled."""
        return self.plugins.hooks_for(enabled)

    def plugin_order(self) -> list[str]:
        return self.plugins.names()


def build_kernel(settings: Settings, *, extra_plugins: list[tuple[Any, Any]] | None = None) -> Kernel:
    """Discover and load the installed plugins and gather their registrations. No I/O beyond imports."""
    from kernel.auth.passwords import configure_hashing

    configure_hashing(settings.password_hash_time_cost, settings.password_hash_memory_kib)
    manager = PluginManager(strict=settings.strict_plugins)
    manager.load(PluginManager.discover(settings.plugin_allowlist))
    for manifest, obj in extra_plugins or []:
        manager.register_object(manifest, obj)
    kernel = Kernel(settings=settings, plugins=manager)
    kernel.registry = collect_registrations(manager, kernel)
    return kernel
