"""The one guard that enforces route permissions.

Every route declares in its ``opt`` either ``permission`` (the permission it needs), ``authenticated``
(any signed-in caller, e.g. one's own profile) or ``public`` (no authentication). A route that declares
none of them is refused to everyone: forgetting to protect a route closes it instead of opening it.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from kernel.errors import Forbidden
from kernel.i18n.catalogs import N_
from kernel.plugins.routing import plugin_enabled_guard

__all__ = ["AUTHENTICATED", "PERMISSION", "MissingPermission", "permission_guard", "route_access"]

PERMISSION = "permission"
AUTHENTICATED = "authenticated"
PUBLIC = "public"
UNGUARDED_PREFIXES = ("/schema", "/static/")


class MissingPermission(Forbidden):
    slug, title = "missing-permission", N_("Forbidden")


def route_access(handler: BaseRouteHandler) -> str | None:
    """``public``, ``authenticated``, the permission name, or ``None`` when the route declares nothing."""
    opt = handler.opt
    if opt.get(PUBLIC):
        return PUBLIC
    if opt.get(PERMISSION):
        return str(opt[PERMISSION])
    if opt.get(AUTHENTICATED):
        return AUTHENTICATED
    return None


def permission_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    if connection.scope["path"].startswith(UNGUARDED_PREFIXES):
        return
    # A disabled plugin's routes answer as missing (pages) or disabled (API), not as forbidden.
    plugin_enabled_guard(connection, handler)
    access = route_access(handler)
    if access in (PUBLIC, AUTHENTICATED):
        return
    if access is None:
        raise MissingPermission("This route declares no permission, so it is closed.")
    actor = connection.scope.get("user")
    if actor is None or not actor.can(access):
        raise MissingPermission(
            "You need the permission %(permission)s for this.", errors=[{"permission": access}], permission=access
        )
