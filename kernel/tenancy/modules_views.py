"""The modules panel: ``/app/-/modules`` (switch modules on and off) and each module's settings form.

A switch posts with htmx; after a change the whole page is loaded again (``HX-Redirect`` with a
flash message) so the sidebar shows the modules that are on now. A refused change (a plan without the
module, enabled modules that depend on it) answers a problem document, which the shell shows as a toast.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Response, Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import ValidationFailed
from kernel.i18n.catalogs import current_translator
from kernel.plugins.settings import error_fields, form_input, plugin_settings, save_plugin_settings
from kernel.rbac.guard import PERMISSION
from kernel.tenancy.modules import MANAGE_PERMISSION, disable_module, enable_module, module_catalogue, module_info
from kernel.web.nav import KERNEL_PAGES
from kernel.web.shell import form_values, fragment, hx_redirect, page

__all__ = ["ROUTES"]

MODULES = f"{KERNEL_PAGES}/modules"
OPT = {PERMISSION: MANAGE_PERMISSION}


def _language() -> str:
    return current_translator().language


def _titles(modules: list[Any], names: list[str]) -> str:
    by_name = {module.name: module.title for module in modules}
    return ", ".join(by_name.get(name, name) for name in names)


@get(MODULES, opt=OPT, include_in_schema=False, name="modules")
async def modules_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    actor = request.scope["user"]
    modules = await module_catalogue(kernel, db_session, actor.tenant_id, request.app.state.catalogs, _language())
    return page(
        request,
        "modules/index.html",
        modules=[m for m in modules if m.allowed_by_plan],
        unavailable=[m for m in modules if not m.allowed_by_plan],
        join_titles=lambda names: _titles(modules, list(names)),
    )


@post(f"{MODULES}/{{name:str}}/enable", opt=OPT, include_in_schema=False, status_code=200)
async def enable_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
) -> Response[Any]:
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    actor = request.scope["user"]
    newly = await enable_module(kernel, db_session, actor, name, catalogs)
    modules = await module_catalogue(kernel, db_session, actor.tenant_id, catalogs, _language())
    t = current_translator()
    if not newly:
        message = t.gettext("%(module)s was already enabled.", module=_titles(modules, [name]))
    elif len(newly) == 1:
        message = t.gettext("%(module)s enabled.", module=_titles(modules, newly))
    else:
        message = t.gettext("Enabled: %(modules)s.", modules=_titles(modules, newly))
    return hx_redirect(request, MODULES, message=message)


@post(f"{MODULES}/{{name:str}}/disable", opt=OPT, include_in_schema=False, status_code=200)
async def disable_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
) -> Response[Any]:
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    actor = request.scope["user"]
    module = await module_info(kernel, db_session, actor.tenant_id, name, catalogs, _language())
    await disable_module(kernel, db_session, actor, name, catalogs, _language())
    message = current_translator().gettext("%(module)s disabled. Its data is kept.", module=module.title)
    return hx_redirect(request, MODULES, message=message)


async def _settings_context(request: Request[Any, Any, Any], db_session: AsyncSession, name: str) -> dict[str, Any]:
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    actor = request.scope["user"]
    module = await module_info(kernel, db_session, actor.tenant_id, name, catalogs, _language())
    view = await plugin_settings(kernel, db_session, name, actor.tenant_id)
    return {"module": module, "view": view, "action": f"{MODULES}/{name}/settings"}


@get(f"{MODULES}/{{name:str}}/settings", opt=OPT, include_in_schema=False, name="module-settings")
async def settings_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
) -> Template:
    context = await _settings_context(request, db_session, name)
    fields = form_input(context["view"], request.app.state.catalogs, _language())
    return page(request, "modules/settings.html", fields=fields, errors={}, **context)


@post(f"{MODULES}/{{name:str}}/settings", opt=OPT, include_in_schema=False, status_code=200)
async def settings_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
) -> Template:
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    form = await form_values(request)
    context = await _settings_context(request, db_session, name)
    try:
        view = await save_plugin_settings(
            kernel, db_session, name, request.scope["user"].tenant_id, form, catalogs=catalogs, from_form=True
        )
    except ValidationFailed as exc:
        fields = form_input(context["view"], catalogs, _language(), typed=form)
        return fragment(
            request, "modules/_settings_form.html", status_code=422, fields=fields, errors=error_fields(exc), **context
        )
    context["view"] = view
    return fragment(
        request,
        "modules/_settings_form.html",
        toast_message=current_translator().gettext("Settings saved."),
        fields=form_input(view, catalogs, _language()),
        errors={},
        **context,
    )


ROUTES = [modules_page, enable_submit, disable_submit, settings_page, settings_submit]
