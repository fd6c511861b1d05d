"""The platform's global defaults: registration, the AI model and keys, and each plugin's default settings.

API (``platform.tenant.manage``): ``/api/v1/platform/settings`` (registration and AI),
``/api/v1/platform/ai/test`` and ``/api/v1/platform/modules/{name}/settings``. Page:
``/app/-/platform/defaults``, one form per part, each calling the same services as the API. Platform
administrators belong to no organization: their requests run in the platform scope, so every value
and secret here is the platform's own, and every change is audited in the platform's chain.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.admin.platform_defaults import RegistrationDefaults, registration_defaults, save_registration
from kernel.errors import ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, current_translator
from kernel.llm.api import (
    AiSettingsIn,
    AiSettingsOut,
    AiTestIn,
    AiTestOut,
    connection_out,
    settings_out,
    trial_of,
    update_of,
)
from kernel.llm.settings import KEEP, ConnectionTest, platform_ai, save_platform_ai, try_platform_ai
from kernel.llm.views import ai_form_context, connection_result, form_errors, trial_from_form, update_from_form
from kernel.plugins.settings import error_fields, form_input, plugin_settings, save_plugin_settings
from kernel.rbac.guard import PERMISSION
from kernel.tenancy.modules_api import SettingsOut
from kernel.tenancy.modules_api import settings_out as module_settings_out
from kernel.web.nav import PLATFORM_PAGES
from kernel.web.shell import form_values, fragment, page

__all__ = ["ROUTES", "PlatformSettingsController"]

MANAGE = "platform.tenant.manage"
OPT = {PERMISSION: MANAGE}
DEFAULTS_PAGE = f"{PLATFORM_PAGES}/defaults"


# -- API shapes ---------------------------------------------------------------------------------------


class PlanOut(msgspec.Struct):
    code: str
    name: str
    is_default: bool


class RegistrationOut(msgspec.Struct):
    open: bool
    """Whether ``/auth/register`` accepts new organizations."""
    plan: str | None
    """The plan code new self-registered organizations get; ``null``: the default plan."""
    plans: list[PlanOut]

    @classmethod
    def of(cls, value: RegistrationDefaults) -> RegistrationOut:
        return cls(value.open, value.plan, [PlanOut(p.code, p.name, p.is_default) for p in value.plans])


class PlatformSettingsOut(msgspec.Struct):
    registration: RegistrationOut
    ai: AiSettingsOut


class RegistrationIn(msgspec.Struct, forbid_unknown_fields=True):
    open: bool | msgspec.UnsetType = msgspec.UNSET
    plan: str | msgspec.UnsetType | None = msgspec.UNSET


class PlatformSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Only what is given changes. ``ai.provider: null`` leaves the platform without a model (offline)."""

    registration: RegistrationIn | msgspec.UnsetType = msgspec.UNSET
    ai: AiSettingsIn | msgspec.UnsetType = msgspec.UNSET


def _kept(value: Any) -> Any:
    return KEEP if value is msgspec.UNSET else value


async def _settings_out(kernel: Any, session: AsyncSession) -> PlatformSettingsOut:
    return PlatformSettingsOut(
        registration=RegistrationOut.of(await registration_defaults(kernel, session)),
        ai=settings_out(await platform_ai(kernel, session)),
    )


class PlatformSettingsController(Controller):
    path = "/api/v1/platform"
    tags = ["platform"]

    @get("/settings", opt=OPT, summary="Registration and the AI defaults of the platform (keys as hints)")
    async def read(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> PlatformSettingsOut:
        return await _settings_out(request.app.state.kernel, db_session)

    @put("/settings", opt=OPT, summary="Change registration or the AI defaults")
    async def write(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[PlatformSettingsIn],
    ) -> PlatformSettingsOut:
        kernel = request.app.state.kernel
        if not isinstance(data.registration, msgspec.UnsetType):
            await save_registration(
                kernel, db_session, is_open=_kept(data.registration.open), plan=_kept(data.registration.plan)
            )
        if not isinstance(data.ai, msgspec.UnsetType):
            await save_platform_ai(kernel, db_session, update_of(data.ai))
        return await _settings_out(kernel, db_session)

    @post(
        "/ai/test",
        opt=OPT,
        status_code=200,
        summary="Try the platform's model once (not metered): ok or why it failed",
    )
    async def test(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[AiTestIn]
    ) -> AiTestOut:
        return connection_out(await try_platform_ai(request.app.state.kernel, db_session, trial_of(data)))

    @get("/modules/{name:str}/settings", opt=OPT, summary="A module's default settings for every organization")
    async def read_module(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
    ) -> SettingsOut:
        view = await plugin_settings(request.app.state.kernel, db_session, name, None)
        return module_settings_out(view, request.app.state.catalogs, current_translator().language)

    @put(
        "/modules/{name:str}/settings",
        opt=OPT,
        summary="Replace a module's defaults (organizations' own values still win)",
    )
    async def write_module(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        name: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> SettingsOut:
        catalogs = request.app.state.catalogs
        view = await save_plugin_settings(request.app.state.kernel, db_session, name, None, data, catalogs=catalogs)
        return module_settings_out(view, catalogs, current_translator().language)


# -- the page ---------------------------------------------------------------------------------------


def _ai_context(settings: Any, form: Any = None) -> dict[str, Any]:
    return ai_form_context(
        settings, organization=False, action=f"{DEFAULTS_PAGE}/ai", test_action=f"{DEFAULTS_PAGE}/ai/test", form=form
    )


async def _module_forms(request: Request[Any, Any, Any], session: AsyncSession) -> list[dict[str, Any]]:
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    language = current_translator().language
    forms = []
    for name in kernel.plugin_order():
        if name not in kernel.registry.settings:
            continue
        manifest = kernel.plugins.plugins[name].manifest
        view = await plugin_settings(kernel, session, name, None)
        forms.append(_module_form(name, manifest, view, catalogs, language))
    return sorted(forms, key=lambda form: str(form["title"]).casefold())


def _module_form(
    name: str, manifest: Any, view: Any, catalogs: Any, language: str, *, typed: Any = None, errors: Any = None
) -> dict[str, Any]:
    domains = (name, KERNEL_DOMAIN)
    return {
        "name": name,
        "title": catalogs.gettext(domains, language, manifest.title) if manifest.title else name.capitalize(),
        "fields": form_input(view, catalogs, language, typed=typed),
        "errors": errors or {},
        "action": f"{DEFAULTS_PAGE}/modules/{name}",
    }


def _registration_context(value: RegistrationDefaults, *, errors: Any = None, typed: Any = None) -> dict[str, Any]:
    t = current_translator()
    options = [("", t.gettext("The default plan"))] + [(plan.code, plan.name) for plan in value.plans]
    chosen = value.plan or ""
    is_open = value.open
    if typed is not None:
        chosen = str(typed.get("registration.plan") or "")
        is_open = "registration.open" in typed
    return {
        "registration": value,
        "plan_options": options,
        "registration_values": {"open": is_open, "plan": chosen},
        "registration_errors": errors or {},
    }


@get(DEFAULTS_PAGE, opt=OPT, include_in_schema=False, name="platform-defaults")
async def defaults_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    registration = await registration_defaults(kernel, db_session)
    ai = await platform_ai(kernel, db_session)
    return page(
        request,
        "platform/defaults.html",
        errors={},
        modules=await _module_forms(request, db_session),
        **_registration_context(registration),
        **_ai_context(ai),
    )


@post(f"{DEFAULTS_PAGE}/registration", opt=OPT, include_in_schema=False, status_code=200)
async def registration_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    form = await form_values(request)
    try:
        saved = await save_registration(
            kernel,
            db_session,
            is_open="registration.open" in form,
            plan=str(form.get("registration.plan") or "") if "registration.plan" in form else KEEP,
        )
    except ValidationFailed as exc:
        current = await registration_defaults(kernel, db_session)
        context = _registration_context(current, errors=form_errors(exc), typed=form)
        return fragment(request, "platform/_defaults_registration.html", status_code=422, **context)
    return fragment(
        request,
        "platform/_defaults_registration.html",
        toast_message=current_translator().gettext("Registration settings saved."),
        **_registration_context(saved),
    )


@post(f"{DEFAULTS_PAGE}/ai", opt=OPT, include_in_schema=False, status_code=200)
async def ai_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    form = await form_values(request)
    try:
        saved = await save_platform_ai(kernel, db_session, update_from_form(form, organization=False))
    except ValidationFailed as exc:
        current = await platform_ai(kernel, db_session)
        return fragment(
            request, "ai/_form.html", status_code=422, errors=form_errors(exc), **_ai_context(current, form)
        )
    return fragment(
        request,
        "ai/_form.html",
        toast_message=current_translator().gettext("AI defaults saved."),
        errors={},
        **_ai_context(saved),
    )


@post(f"{DEFAULTS_PAGE}/ai/test", opt=OPT, include_in_schema=False, status_code=200)
async def ai_test(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    form = await form_values(request)
    settings = await platform_ai(kernel, db_session)
    trial = trial_from_form(form, settings)
    try:
        result = await try_platform_ai(kernel, db_session, trial)
    except ValidationFailed as exc:  # malformed input: said in the result box, next to the button pressed
        result = ConnectionTest.refused(trial, settings.effective_provider, exc)
    return connection_result(request, result)


@post(f"{DEFAULTS_PAGE}/modules/{{name:str}}", opt=OPT, include_in_schema=False, status_code=200)
async def module_submit(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
) -> Template:
    kernel = request.app.state.kernel
    catalogs = request.app.state.catalogs
    language = current_translator().language
    form = await form_values(request)
    view = await plugin_settings(kernel, db_session, name, None)
    manifest = kernel.plugins.plugins[name].manifest
    try:
        saved = await save_plugin_settings(kernel, db_session, name, None, form, catalogs=catalogs, from_form=True)
    except ValidationFailed as exc:
        context = _module_form(name, manifest, view, catalogs, language, typed=form, errors=error_fields(exc))
        return fragment(request, "platform/_defaults_module.html", status_code=422, module=context)
    return fragment(
        request,
        "platform/_defaults_module.html",
        toast_message=current_translator().gettext("Defaults saved."),
        module=_module_form(name, manifest, saved, catalogs, language),
    )


ROUTES = [PlatformSettingsController, defaults_page, registration_submit, ai_submit, ai_test, module_submit]
