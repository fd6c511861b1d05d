"""Finding, ordering, loading and isolating plugins.

1. Every plugin, first-party included, is an entry point of the group ``atendai.plugins``.
2. Its ``plugin.toml`` is read *without importing the plugin* (the package folder is located, not run),
   so names, kernel ranges and ``depends`` are checked and ordered before any plugin code runs.
3. Plugins load in dependency order. A missing or cyclic dependency is a start-up error naming the
   plugins. A plugin that fails to import or declares an unknown hook is skipped with a loud log line
   (and so are the plugins that depend on it), unless ``ATENDAI_STRICT_PLUGINS=1`` makes it fatal.
"""

from __future__ import annotations

import graphlib
import importlib.util
import tomllib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import msgspec
import pluggy
import structlog
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from kernel import __version__, hookspecs
from kernel.sdk import PROJECT, PluginManifest

__all__ = ["ENTRY_POINT_GROUP", "LoadedPlugin", "PluginLoadError", "PluginManager"]

ENTRY_POINT_GROUP = "atendai.plugins"
log = structlog.get_logger("kernel.plugins")


class PluginLoadError(RuntimeError):
    """The set of plugins cannot start: the message names the plugins and what is wrong."""


@dataclass
class Candidate:
    """A plugin found through its entry point, manifest read, code not yet imported."""

    manifest: PluginManifest
    entry_point: EntryPoint | None
    path: Path | None
    obj: Any = None

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def distribution(self) -> str | None:
        dist = getattr(self.entry_point, "dist", None)
        return dist.name if dist else None


@dataclass
class LoadedPlugin:
    manifest: PluginManifest
    obj: Any
    path: Path | None
    distribution: str | None

    @property
    def name(self) -> str:
        return self.manifest.name


@dataclass
class PluginManager:
    """The pluggy manager plus what the kernel knows of each plugin."""

    strict: bool = False
    pm: pluggy.PluginManager = field(init=False)
    plugins: dict[str, LoadedPlugin] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    _subset_cache: dict[frozenset[str], HookProxy] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        # Historic: every plugin registered from now on gets the call, so it can publish its own hooks.
        self.pm.hook.atendai_addhooks.call_historic(kwargs={"pluginmanager": self.pm})

    # -- discovery ---------------------------------------------------------------------------

    @staticmethod
    def discover(allowlist: Iterable[str] | None = None) -> list[Candidate]:
        """Entry points of ``atendai.plugins`` with their manifests, restricted to ``allowlist``."""
        allowed = set(allowlist) if allowlist is not None else None
        found: dict[str, Candidate] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            path = _package_dir(ep.module)
            manifest = read_manifest(path / "plugin.toml") if path else None
            if manifest is None:
                raise PluginLoadError(f"plugin {ep.name!r} ({ep.value}) has no plugin.toml beside its code")
            if manifest.name != ep.name:
                raise PluginLoadError(f"plugin entry point {ep.name!r} points at a manifest named {manifest.name!r}")
            if ep.name in found:
                raise PluginLoadError(f"two installed packages both provide the plugin {ep.name!r}")
            found[ep.name] = Candidate(manifest=manifest, entry_point=ep, path=path)
        if allowed is not None:
            missing = sorted(allowed - set(found))
            if missing:
                raise PluginLoadError(f"ATENDAI_PLUGINS names plugins that are not installed: {', '.join(missing)}")
        return list(found.values())

    # -- loading ------------------------------------------------------------------------------

    def load(self, candidates: list[Candidate]) -> None:
        """Check versions and dependencies, then import and register plugins in dependency order."""
        by_name = {c.name: c for c in candidates}
        for candidate in candidates:
            _check_kernel_range(candidate.manifest)
            for dep in candidate.manifest.depends:
                if dep not in by_name:
                    raise PluginLoadError(
                        f"plugin {candidate.name!r} depends on {dep!r}, which is not installed or not allowed"
                    )
        for name in order_by_dependencies([c.manifest for c in candidates]):
            self._load_one(by_name[name])
        self.pm.check_pending()

    def _load_one(self, candidate: Candidate) -> None:
        broken_deps = [d for d in candidate.manifest.depends if d not in self.plugins]
        if broken_deps:
            self._fail(candidate.name, f"its dependencies did not load: {', '.join(broken_deps)}")
            return
        try:
            obj = candidate.obj if candidate.obj is not None else candidate.entry_point.load()  # type: ignore[union-attr]
            if isinstance(obj, type):
                obj = obj()
            self.pm.register(obj, name=candidate.name)
        except Exception as exc:
            self._fail(candidate.name, f"{type(exc).__name__}: {exc}", exc)
            return
        unknown = self._unknown_hooks(obj)
        if unknown:
            self.pm.unregister(obj)
            self._fail(candidate.name, f"implements unknown hooks: {', '.join(unknown)}")
            return
        self.plugins[candidate.name] = LoadedPlugin(
            manifest=candidate.manifest, obj=obj, path=candidate.path, distribution=candidate.distribution
        )
        log.debug("plugin_loaded", plugin=candidate.name, version=candidate.manifest.version)

    def _unknown_hooks(self, obj: Any) -> list[str]:
        callers = self.pm.get_hookcallers(obj) or []
        return sorted(
            caller.name
            for caller in callers
            if not caller.has_spec() and any(not impl.optionalhook for impl in caller.get_hookimpls())
        )

    def _fail(self, name: str, reason: str, exc: BaseException | None = None) -> None:
        if self.strict:
            raise PluginLoadError(f"plugin {name!r} failed to load: {reason}") from exc
        self.failed[name] = reason
        log.error("plugin_skipped", plugin=name, reason=reason, strict=False)

    def register_object(self, manifest: PluginManifest, obj: Any, path: Path | None = None) -> None:
        """Register an in-memory plugin (tests, embedding); the same checks as an installed one."""
        self._load_one(Candidate(manifest=manifest, entry_point=None, path=path, obj=obj))

    # -- calling ------------------------------------------------------------------------------

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def names(self) -> list[str]:
        return list(self.plugins)

    def call_each(
        self, hook_name: str, *, only: str | Collection[str] | None = None, reverse: bool = False, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call ``hook_name`` on each plugin in load order and say who returned what.

        ``only`` limits the call to one plugin or a set (e.g. a tenant's enabled plugins); ``reverse``
        calls dependents before what they depend on (for shutdown).
        """
        wanted = {only} if isinstance(only, str) else (set(only) if only is not None else None)
        caller = getattr(self.pm.hook, hook_name)
        results: list[tuple[str, Any]] = []
        impls = caller.get_hookimpls()  # registration (dependency) order
        for impl in reversed(impls) if reverse else impls:
            if wanted is not None and impl.plugin_name not in wanted:
                continue
            args = [kwargs[arg] for arg in impl.argnames]
            results.append((impl.plugin_name, impl.function(*args)))
        return results

    def hooks_for(self, enabled: frozenset[str]) -> HookProxy:
        """Hook callers that skip every plugin not in ``enabled`` (cached per set)."""
        disabled = frozenset(self.plugins) - enabled
        proxy = self._subset_cache.get(disabled)
        if proxy is None:
            proxy = HookProxy(self.pm, [self.plugins[name].obj for name in disabled])
            self._subset_cache[disabled] = proxy
        return proxy


class HookProxy:
    """``proxy.<hook>(**kwargs)`` calls the hook without the removed plugins (pluggy's subset caller)."""

    def __init__(self, pm: pluggy.PluginManager, removed: list[Any]) -> None:
        self._pm = pm
        self._removed = removed
        self._callers: dict[str, Callable[..., Any]] = {}

    def __getattr__(self, name: str) -> Callable[..., Any]:
        caller = self._callers.get(name)
        if caller is None:
            caller = self._pm.subset_hook_caller(name, self._removed) if self._removed else getattr(self._pm.hook, name)
            self._callers[name] = caller
        return caller


def read_manifest(path: Path) -> PluginManifest | None:
    if not path.is_file():
        return None
    try:
        return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), PluginManifest)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise PluginLoadError(f"{path}: invalid plugin manifest: {exc}") from exc


def order_by_dependencies(manifests: list[PluginManifest]) -> list[str]:
    """Names in an order where each plugin comes after everything it depends on (stable by name)."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for manifest in sorted(manifests, key=lambda m: m.name):
        sorter.add(manifest.name, *manifest.depends)
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise PluginLoadError(f"plugins depend on each other in a cycle: {cycle}") from exc


def _check_kernel_range(manifest: PluginManifest) -> None:
    try:
        spec = SpecifierSet(manifest.kernel)
    except InvalidSpecifier as exc:
        raise PluginLoadError(f"plugin {manifest.name!r}: invalid kernel range {manifest.kernel!r}") from exc
    if not spec.contains(Version(__version__), prereleases=True):
        raise PluginLoadError(
            f"plugin {manifest.name!r} needs kernel {manifest.kernel}, but this is kernel {__version__}"
        )


def _package_dir(module: str) -> Path | None:
    """The folder of the package holding ``module``, found without running the module itself."""
    package = module.rpartition(".")[0] if "." in module else module
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return Path(spec.origin).parent if spec.origin else None
