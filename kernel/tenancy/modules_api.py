"""Modules API: ``/api/v1/modules``, the organization's plugins, switching them, and their settings.

Every route needs ``kernel.plugin.manage``; the page ``/app/-/modules`` calls the same services.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.i18n.catalogs import current_translator
from kernel.plugins.settings import SettingsView, form_input, plugin_settings, save_plugin_settings
from kernel.rbac.guard import PERMISSION
from kernel.tenancy.modules import MANAGE_PERMISSION, ModuleInfo, disable_module, enable_module, module_catalogue

__all__ = ["ROUTES", "ModulesController", "SettingsFieldOut", "SettingsOut", "settings_out"]


class ModuleOut(msgspec.Struct):
    name: str
    title: str
    description: str
    version: str
    enabled: bool
    allowed_by_plan: bool
    depends: list[str]
    required_by: list[str]
    """Enabled modules that depend on this one."""
    has_settings: bool

    @classmethod
    def of(cls, module: ModuleInfo) -> ModuleOut:
        return cls(
            name=module.name,
            title=module.title,
            description=module.description,
            version=module.version,
            enabled=module.enabled,
            allowed_by_plan=module.allowed_by_plan,
            depends=list(module.depends),
            required_by=list(module.required_by),
            has_settings=module.has_settings,
        )


class ModulesChangedOut(msgspec.Struct):
    enabled: list[str] = msgspec.field(default_factory=list)
    """What was switched on (the module and any dependency that was off)."""
    disabled: list[str] = msgspec.field(default_factory=list)


class OptionOut(msgspec.Struct):
    value: str
    label: str


class SettingsFieldOut(msgspec.Struct):
    name: str
    label: str
    description: str
    widget: Literal["text", "textarea", "number", "switch", "select", "lines", "password", "json"]
    type: Literal["string", "integer", "number", "boolean", "array", "object"]
    required: bool
    nullable: bool
    secret: bool
    default: Any
    """What the field falls back to when this layer does not set it (``null`` for a secret)."""
    inherited: bool
    """The current value is the fallback, not this layer's own."""
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    options: list[OptionOut] = msgspec.field(default_factory=list)


class SecretOut(msgspec.Struct):
    set: bool
    """A value is stored (by this layer or, for an organization, by the platform)."""
    hint: str | None
    """The masked value (``sk-...abcd``), only for a secret this layer stored itself."""
    source: Literal["organization", "platform"] | None


class SettingsOut(msgspec.Struct):
    plugin: str
    values: dict[str, Any]
    """Effective values; a secret field shows its hint (or ``null``), never its value."""
    secrets: dict[str, SecretOut]
    fields: list[SettingsFieldOut]


def settings_out(view: SettingsView, catalogs: Any, language: str) -> SettingsOut:
    """The API's answer for a settings view: values, secret states and the form's description."""
    shown = {f.name: f for f in form_input(view, catalogs, language)}
    values = {spec.name: view.values.get(spec.name) for spec in view.fields if not spec.secret}
    values.update({name: state.hint for name, state in view.secrets.items()})
    fields = []
    for spec in view.fields:
        form = shown[spec.name]
        fields.append(
            SettingsFieldOut(
                name=spec.name,
                label=form.label,
                description=form.description,
                widget=spec.widget,
                type=spec.json_type,  # type: ignore[arg-type]
                required=spec.required,
                nullable=spec.nullable,
                secret=spec.secret,
                default=None if spec.secret else view.inherited.get(spec.name),
                inherited=form.inherited,
                minimum=spec.minimum if spec.minimum is not None else spec.exclusive_minimum,
                maximum=spec.maximum if spec.maximum is not None else spec.exclusive_maximum,
                min_length=spec.min_length,
                max_length=spec.max_length,
                pattern=spec.pattern,
                options=[OptionOut(value, label) for value, label in form.options if value != ""],
            )
        )
    secrets = {name: SecretOut(state.set, state.hint, state.source) for name, state in view.secrets.items()}
    return SettingsOut(plugin=view.plugin, values=values, secrets=secrets, fields=fields)


def _catalogs(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.catalogs


class ModulesController(Controller):
    path = "/api/v1/modules"
    tags = ["modules"]

    @get("/", opt={PERMISSION: MANAGE_PERMISSION}, summary="Every installed module and its state here")
    async def list_modules(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]
    ) -> list[ModuleOut]:
        kernel = request.app.state.kernel
        actor = request.scope["user"]
        modules = await module_catalogue(
            kernel, db_session, actor.tenant_id, _catalogs(request), current_translator().language
        )
        return [ModuleOut.of(module) for module in modules]

    @post(
        "/{name:str}/enable",
        opt={PERMISSION: MANAGE_PERMISSION},
        status_code=200,
        summary="Enable a module (and the modules it depends on)",
    )
    async def enable(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
    ) -> ModulesChangedOut:
        kernel = request.app.state.kernel
        newly = await enable_module(kernel, db_session, request.scope["user"], name, _catalogs(request))
        return ModulesChangedOut(enabled=newly)

    @post(
        "/{name:str}/disable",
        opt={PERMISSION: MANAGE_PERMISSION},
        status_code=200,
        summary="Disable a module (refused while enabled modules depend on it); its data is kept",
    )
    async def disable(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
    ) -> ModulesChangedOut:
        kernel = request.app.state.kernel
        changed = await disable_module(
            kernel, db_session, request.scope["user"], name, _catalogs(request), current_translator().language
        )
        return ModulesChangedOut(disabled=[name] if changed else [])

    @get(
        "/{name:str}/settings",
        opt={PERMISSION: MANAGE_PERMISSION},
        summary="A module's settings (secrets as hints) and the description of its form",
    )
    async def read_settings(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], name: FromPath[str]
    ) -> SettingsOut:
        kernel = request.app.state.kernel
        view = await plugin_settings(kernel, db_session, name, request.scope["user"].tenant_id)
        return settings_out(view, _catalogs(request), current_translator().language)

    @put(
        "/{name:str}/settings",
        opt={PERMISSION: MANAGE_PERMISSION},
        summary="Replace a module's settings (left-out fields inherit; secrets: a value sets, null removes)",
    )
    async def write_settings(
        self,
        request: Request[Any, Any, Any],
        db_session: NamedDependency[AsyncSession],
        name: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> SettingsOut:
        kernel = request.app.state.kernel
        catalogs = _catalogs(request)
        view = await save_plugin_settings(
            kernel, db_session, name, request.scope["user"].tenant_id, data, catalogs=catalogs
        )
        return settings_out(view, catalogs, current_translator().language)


ROUTES = [ModulesController]
