"""Mounting plugin routes, and the per-tenant enablement guard on them."""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.static_files import create_static_files_router

from kernel.errors import PluginDisabled
from kernel.plugins.registry import Registry

__all__ = ["plugin_enabled_guard", "plugin_routers", "plugin_static_routers"]


def plugin_enabled_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A plugin's routes exist for a tenant only while the tenant has it enabled.

    Pages answer 404 (the module is simply not there); the API answers 403 problem details, so an
    integration learns why its call stopped working.
    """
    plugin = handler.opt.get("plugin")
    if plugin is None or handler.opt.get("public"):
        return
    actor = connection.scope.get("user")
    enabled = getattr(actor, "enabled_plugins", frozenset())
    if plugin in enabled:
        return
    if handler.opt.get("surface") == "page":
        raise NotFoundException()
    raise PluginDisabled("The module %(plugin)s is not enabled for this organization.", plugin=plugin)


def plugin_routers(registry: Registry) -> list[Router]:
    routers: list[Router] = []
    for plugin, routes in registry.routes.items():
        if routes.api:
            routers.append(
                Router(
                    path=f"/api/v1/{plugin}",
                    route_handlers=list(routes.api),
                    opt={"plugin": plugin, "surface": "api"},
                    guards=[plugin_enabled_guard],
                    tags=[plugin],
                )
            )
        if routes.pages:
            routers.append(
                Router(
                    path=f"/app/{plugin}",
                    route_handlers=list(routes.pages),
                    opt={"plugin": plugin, "surface": "page"},
                    guards=[plugin_enabled_guard],
                    include_in_schema=False,
                )
            )
    return routers


def plugin_static_routers(plugins: Any) -> list[Any]:
    routers = []
    for name, loaded in plugins.plugins.items():
        static = loaded.path / "static" if loaded.path else None
        if static and static.is_dir():
            routers.append(
                create_static_files_router(
                    path=f"/static/plugins/{name}", directories=[static], name=f"static-{name}", include_in_schema=False
                )
            )
    return routers
