"""The modules panel's rules: what an organization can see of the installed plugins, and switching them.

The JSON API (``/api/v1/modules``) and the page (``/app/-/modules``) both call these. Enabling and
disabling go through :func:`kernel.tenancy.services.enable_plugin` / ``disable_plugin`` (which run the
plugins' hooks and audit); this module adds the catalogue a person reads (translated titles, plan,
dependencies both ways) and tells the organization's other administrators what changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import Conflict, NotFound
from kernel.i18n.catalogs import KERNEL_DOMAIN, N_
from kernel.notifications.service import notify
from kernel.tenancy.models import Organization, Plan
from kernel.tenancy.services import disable_plugin, enable_plugin, enabled_plugins

__all__ = ["MANAGE_PERMISSION", "ModuleInfo", "disable_module", "enable_module", "module_catalogue", "module_info"]

MANAGE_PERMISSION = "kernel.plugin.manage"
MODULES_PAGE = "/app/-/modules"


@dataclass(frozen=True)
class ModuleInfo:
    """One installed plugin as an organization sees it, texts in the reader's language."""

    name: str
    title: str
    description: str
    version: str
    icon: str
    enabled: bool
    allowed_by_plan: bool
    depends: tuple[str, ...]
    """What it needs directly (its manifest's ``depends``)."""
    required_by: tuple[str, ...]
    """The enabled plugins that depend on it: while they are enabled it cannot be disabled."""
    will_enable: tuple[str, ...]
    """The plugins enabling it would switch on as well (its dependencies, all the way down, not yet enabled)."""
    has_settings: bool


def _text(catalogs: Any, plugin: str, language: str, msgid: str) -> str:
    return catalogs.gettext((plugin, KERNEL_DOMAIN), language, msgid) if msgid else ""


def _dependencies(kernel: Any, plugin: str) -> set[str]:
    """Everything ``plugin`` needs, directly or through another plugin (itself excluded)."""
    needed: set[str] = set()
    stack = list(kernel.plugins.plugins[plugin].manifest.depends)
    while stack:
        name = stack.pop()
        if name in needed or name not in kernel.plugins.plugins:
            continue
        needed.add(name)
        stack.extend(kernel.plugins.plugins[name].manifest.depends)
    return needed


def _icon(kernel: Any, plugin: str) -> str:
    """The icon of the plugin's first sidebar entry: what people already know it by."""
    items = sorted((item for owner, item in kernel.registry.nav if owner == plugin), key=lambda item: item.order)
    return items[0].icon if items else "puzzle"


async def _plan(session: AsyncSession, tenant_id: UUID) -> Plan | None:
    org = await session.get(Organization, tenant_id)
    if org is None:
        raise NotFound("Organization not found.")
    return await session.get(Plan, org.plan_id) if org.plan_id else None


def _require_installed(kernel: Any, plugin: str) -> None:
    if plugin not in kernel.plugins.plugins:
        raise NotFound("There is no module %(plugin)s.", plugin=plugin)


async def module_catalogue(
    kernel: Any, session: AsyncSession, tenant_id: UUID, catalogs: Any, language: str
) -> list[ModuleInfo]:
    """Every installed plugin for this organization, by title: the plan's first, then the others."""
    plan = await _plan(session, tenant_id)
    enabled = await enabled_plugins(session, tenant_id)
    plugins = kernel.plugins.plugins
    modules = []
    for name in kernel.plugin_order():
        manifest = plugins[name].manifest
        required_by = tuple(
            sorted(other for other in enabled if other in plugins and name in plugins[other].manifest.depends)
        )
        will_enable = tuple(dep for dep in kernel.plugin_order() if dep in _dependencies(kernel, name) - enabled)
        modules.append(
            ModuleInfo(
                name=name,
                title=_text(catalogs, name, language, manifest.title) or name.capitalize(),
                description=_text(catalogs, name, language, manifest.description),
                version=manifest.version,
                icon=_icon(kernel, name),
                enabled=name in enabled,
                allowed_by_plan=plan is None or plan.allows(name),
                depends=tuple(manifest.depends),
                required_by=required_by,
                will_enable=will_enable,
                has_settings=name in kernel.registry.settings,
            )
        )
    return sorted(modules, key=lambda m: (not m.allowed_by_plan, m.title.casefold(), m.name))


async def module_info(
    kernel: Any, session: AsyncSession, tenant_id: UUID, plugin: str, catalogs: Any, language: str
) -> ModuleInfo:
    """One module of :func:`module_catalogue`; :class:`NotFound` when it is not installed."""
    _require_installed(kernel, plugin)
    for module in await module_catalogue(kernel, session, tenant_id, catalogs, language):
        if module.name == plugin:
            return module
    raise NotFound("There is no module %(plugin)s.", plugin=plugin)  # pragma: no cover - listed above


async def enable_module(
    kernel: Any,
    session: AsyncSession,
    actor: Any,
    plugin: str,
    catalogs: Any,
) -> list[str]:
    """Enable ``plugin`` and what it depends on; returns what was switched on (empty: it already was).

    The organization's other administrators are notified. :class:`Conflict` when the plan leaves one
    of them out.
    """
    _require_installed(kernel, plugin)
    newly = await enable_plugin(kernel, session, actor.tenant_id, plugin)
    for name in newly:
        await _tell_admins(kernel, session, actor, name, catalogs, enabled=True)
    return newly


async def disable_module(
    kernel: Any,
    session: AsyncSession,
    actor: Any,
    plugin: str,
    catalogs: Any,
    language: str,
) -> bool:
    """Disable ``plugin`` (its data stays); ``False`` when it was not enabled.

    :class:`Conflict` naming the enabled modules that depend on it: they must be disabled first.
    """
    _require_installed(kernel, plugin)
    enabled = await enabled_plugins(session, actor.tenant_id)
    if plugin not in enabled:
        return False
    plugins = kernel.plugins.plugins
    dependents = sorted(other for other in enabled if other in plugins and plugin in plugins[other].manifest.depends)
    if dependents:
        titles = [_text(catalogs, name, language, plugins[name].manifest.title) or name for name in dependents]
        raise Conflict(
            "Disable %(dependents)s first: they depend on %(plugin)s.",
            errors=[{"field": "name", "message": "required by", "dependents": dependents}],
            dependents=", ".join(titles),
            plugin=_text(catalogs, plugin, language, plugins[plugin].manifest.title) or plugin,
        )
    await disable_plugin(kernel, session, actor.tenant_id, plugin)
    await _tell_admins(kernel, session, actor, plugin, catalogs, enabled=False)
    return True


async def _tell_admins(
    kernel: Any, session: AsyncSession, actor: Any, plugin: str, catalogs: Any, *, enabled: bool
) -> None:
    """Notify the people who manage modules (not the one who just did it)."""
    # The title goes in the organization's language: the message itself is translated per reader.
    language = getattr(actor, "tenant_language", None) or kernel.settings.default_language
    title = _text(catalogs, plugin, language, kernel.plugins.plugins[plugin].manifest.title) or plugin
    await notify(
        session,
        kind="module.enabled" if enabled else "module.disabled",
        message=N_("%(actor)s enabled the module %(module)s.")
        if enabled
        else N_("%(actor)s disabled the module %(module)s."),
        params={"actor": actor.name or actor.email, "module": title},
        link=MODULES_PAGE,
        permission=MANAGE_PERMISSION,
        exclude=[actor.user_id] if actor.user_id else [],
    )
