"""What the plugins registered, gathered once while the app is built and checked for clashes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from kernel.plugins.manager import PluginLoadError, PluginManager
from kernel.sdk import (
    EventType,
    Feature,
    JobSpec,
    LLMTool,
    MigrationSpec,
    NavItem,
    OnboardingStep,
    Permission,
    Routes,
    SettingsSpec,
    Subscription,
)

__all__ = ["Registry", "collect_registrations"]

log = structlog.get_logger("kernel.plugins")


@dataclass
class Registry:
    """Everything plugins contributed, keyed by the contributing plugin where that matters."""

    routes: dict[str, Routes] = field(default_factory=dict)
    migrations: dict[str, MigrationSpec] = field(default_factory=dict)
    permissions: dict[str, tuple[str, Permission]] = field(default_factory=dict)
    nav: list[tuple[str, NavItem]] = field(default_factory=list)
    events: dict[str, tuple[str, EventType]] = field(default_factory=dict)
    subscriptions: list[tuple[str, Subscription]] = field(default_factory=list)
    jobs: dict[str, tuple[str, JobSpec]] = field(default_factory=dict)
    llm_tools: dict[str, tuple[str, LLMTool]] = field(default_factory=dict)
    settings: dict[str, SettingsSpec] = field(default_factory=dict)
    features: dict[str, tuple[str, Feature]] = field(default_factory=dict)
    dashboard_metrics: list[tuple[str, Any]] = field(default_factory=list)
    onboarding_steps: list[tuple[str, OnboardingStep]] = field(default_factory=list)

    def owner_of_permission(self, name: str) -> str | None:
        entry = self.permissions.get(name)
        return entry[0] if entry else None

    @property
    def declared_permissions(self) -> dict[str, Permission]:
        return {name: perm for name, (_, perm) in self.permissions.items()}

    @property
    def permission_owners(self) -> dict[str, str]:
        return {name: owner for name, (owner, _) in self.permissions.items()}

    def tools_for(self, enabled: frozenset[str]) -> list[LLMTool]:
        """The LLM tools of the plugins in ``enabled``."""
        return [tool for plugin, tool in self.llm_tools.values() if plugin in enabled]

    def nav_for(self, enabled: frozenset[str]) -> list[NavItem]:
        return sorted((item for plugin, item in self.nav if plugin in enabled), key=lambda i: (i.order, i.id))

    def subscriptions_for(self, event: str, enabled: frozenset[str]) -> list[tuple[str, Subscription]]:
        return [(p, s) for p, s in self.subscriptions if s.event == event and p in enabled]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def collect_registrations(plugins: PluginManager, kernel: Any) -> Registry:
    """Call every ``register_*`` hook once and check the results; a clash is a start-up error."""
    from kernel.rbac.permissions import KERNEL, KERNEL_PERMISSIONS, PLATFORM_PERMISSIONS
    from kernel.web.nav import KERNEL_NAV

    registry = Registry()
    for perm in (*KERNEL_PERMISSIONS, *PLATFORM_PERMISSIONS):
        registry.permissions[perm.name] = (KERNEL, perm)
    registry.nav.extend((KERNEL, item) for item in KERNEL_NAV)
    for plugin, value in _call(plugins, "register_routes", kernel):
        if value is None:
            continue
        registry.routes[plugin] = value if isinstance(value, Routes) else Routes(api=_as_list(value))
    for plugin, value in _call(plugins, "register_migrations", kernel):
        specs = _as_list(value)
        if len(specs) > 1:
            raise PluginLoadError(f"plugin {plugin!r} returned several migration branches; a plugin has one")
        for spec in specs:
            _expect(plugin, spec, MigrationSpec)
            if spec.branch != plugin:
                raise PluginLoadError(
                    f"plugin {plugin!r}: its migration branch must be named {plugin!r}, not {spec.branch!r}"
                )
            registry.migrations[plugin] = spec
    for plugin, value in _call(plugins, "register_permissions", kernel):
        for perm in _as_list(value):
            _expect(plugin, perm, Permission)
            _prefixed(plugin, perm.name, "permission")
            _unique(registry.permissions, perm.name, plugin, "permission")
            registry.permissions[perm.name] = (plugin, perm)
    for plugin, value in _call(plugins, "register_nav", kernel):
        for item in _as_list(value):
            _expect(plugin, item, NavItem)
            registry.nav.append((plugin, item))
    _unique_list([item.id for _, item in registry.nav], "nav item")
    for plugin, value in _call(plugins, "register_events", kernel):
        for event in _as_list(value):
            _expect(plugin, event, EventType)
            _unique(registry.events, event.name, plugin, "event")
            registry.events[event.name] = (plugin, event)
    for plugin, value in _call(plugins, "register_subscriptions", kernel):
        for sub in _as_list(value):
            _expect(plugin, sub, Subscription)
            registry.subscriptions.append((plugin, sub))
    for plugin, value in _call(plugins, "register_jobs", kernel):
        for job in _as_list(value):
            _expect(plugin, job, JobSpec)
            _prefixed(plugin, job.name, "job")
            _unique(registry.jobs, job.name, plugin, "job")
            registry.jobs[job.name] = (plugin, job)
    for plugin, value in _call(plugins, "register_llm_tools", kernel):
        for tool in _as_list(value):
            _expect(plugin, tool, LLMTool)
            _unique(registry.llm_tools, tool.name, plugin, "LLM tool")
            registry.llm_tools[tool.name] = (plugin, tool)
    for plugin, value in _call(plugins, "register_settings", kernel):
        if value is not None:
            _expect(plugin, value, SettingsSpec)
            registry.settings[plugin] = value
    for plugin, value in _call(plugins, "register_features", kernel):
        for feature in _as_list(value):
            _expect(plugin, feature, Feature)
            _prefixed(plugin, feature.key, "feature")
            _unique(registry.features, feature.key, plugin, "feature")
            registry.features[feature.key] = (plugin, feature)
    _check_manifest_features(plugins, registry)
    for plugin, value in _call(plugins, "register_dashboard_metrics", kernel):
        registry.dashboard_metrics.extend((plugin, metric) for metric in _as_list(value))
    from kernel.tenancy.onboarding import KERNEL_STEPS

    registry.onboarding_steps.extend((KERNEL, step) for step in KERNEL_STEPS)
    for plugin, value in _call(plugins, "register_onboarding_steps", kernel):
        for step in _as_list(value):
            _expect(plugin, step, OnboardingStep)
            _prefixed(plugin, step.id, "onboarding step")
            registry.onboarding_steps.append((plugin, step))
    _unique_list([step.id for _, step in registry.onboarding_steps], "onboarding step")
    _check_subscriptions(registry)
    return registry


def _call(plugins: PluginManager, hook: str, kernel: Any) -> list[tuple[str, Any]]:
    results = []
    for plugin, value in plugins.call_each(hook, kernel=kernel):
        if hasattr(value, "__await__"):
            getattr(value, "close", lambda: None)()
            raise PluginLoadError(f"plugin {plugin!r}: {hook} must return its value, not an awaitable")
        results.append((plugin, value))
    return results


def _expect(plugin: str, value: Any, kind: type) -> None:
    if not isinstance(value, kind):
        raise PluginLoadError(f"plugin {plugin!r} returned {type(value).__name__} where {kind.__name__} was expected")


def _prefixed(plugin: str, name: str, what: str) -> None:
    if not name.startswith(f"{plugin}."):
        raise PluginLoadError(f"plugin {plugin!r}: {what} {name!r} must be named '{plugin}.<...>'")


def _unique(existing: dict[str, tuple[str, Any]], name: str, plugin: str, what: str) -> None:
    if name in existing:
        raise PluginLoadError(f"{what} {name!r} is declared by both {existing[name][0]!r} and {plugin!r}")


def _unique_list(names: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise PluginLoadError(f"{what} {name!r} is declared twice")
        seen.add(name)


def _check_manifest_features(plugins: PluginManager, registry: Registry) -> None:
    """The manifest lists a plugin's features without importing it; the hook must say the same."""
    for name, loaded in plugins.plugins.items():
        declared = {key for key, (owner, _) in registry.features.items() if owner == name}
        listed = set(loaded.manifest.features)
        if declared != listed:
            raise PluginLoadError(
                f"plugin {name!r}: plugin.toml lists features {sorted(listed)} but register_features "
                f"returns {sorted(declared)}"
            )


def _check_subscriptions(registry: Registry) -> None:
    for plugin, sub in registry.subscriptions:
        if sub.event not in registry.events and not sub.event.startswith("kernel."):
            log.warning("subscription_to_unknown_event", plugin=plugin, event=sub.event)
