"""A plugin's settings: typed values at run time, and a form generated from the same ``msgspec.Struct``.

A plugin declares its settings with ``register_settings`` (a :class:`kernel.sdk.SettingsSpec`). The
value an organization gets is layered, each layer only naming what it changes:

1. the Struct's own defaults;
2. the platform's defaults, the platform setting ``plugin.<name>`` (a JSON object);
3. the organization's values, ``tenant_plugins.settings`` (a JSON object).

Secret fields never sit in those JSON objects: each is stored encrypted with :mod:`kernel.secrets` as
``plugin.<name>.<field>`` (the organization's, else the platform's) and comes back wrapped in a
:class:`~kernel.secrets.Secret`, which never prints its value.

The form is described with ``msgspec.inspect``: the label and help text come from
``Annotated[..., msgspec.Meta(title=..., description=...)]`` (msgids of the plugin's catalog), the
widget from the type (text, textarea, number, switch, select, one-per-line list, password, JSON), the
limits from ``Meta`` (``ge``/``le``, ``min_length``/``max_length``, ``pattern``). Saving converts each
field on its own, so every invalid field is reported at once with a sentence a person understands.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import msgspec
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.service import record
from kernel.db.scope import in_platform_scope
from kernel.db.session import set_session_scope
from kernel.errors import Conflict, NotFound, ValidationFailed
from kernel.i18n.catalogs import KERNEL_DOMAIN, N_, N_plural, current_translator
from kernel.secrets import Secret, delete_secret, get_secret, list_secrets, put_secret
from kernel.tenancy.models import Organization, Plan, TenantPlugin
from kernel.tenancy.platform_settings import get_platform_setting, set_platform_setting

if TYPE_CHECKING:
    from kernel.sdk import SettingsSpec

__all__ = [
    "FieldSpec",
    "FormField",
    "SecretState",
    "SettingsView",
    "Widget",
    "describe",
    "error_fields",
    "form_input",
    "load_plugin_settings",
    "platform_key",
    "plugin_settings",
    "save_plugin_settings",
    "secret_name",
    "settings_spec",
]

log = structlog.get_logger("kernel.plugins.settings")

Widget = Literal["text", "textarea", "number", "switch", "select", "lines", "password", "json"]
REMOVE_CHECKBOX = "remove_secret"
"""Form checkbox list: the secret fields to remove (an empty password field means "keep")."""
MAX_SECRET_LENGTH = 4000

_MESSAGES = {
    "required": N_("This field is required."),
    "integer": N_("Enter a whole number."),
    "number": N_("Enter a number."),
    "range": N_("Enter a number from %(min)s to %(max)s."),
    "min": N_("Enter a number of at least %(min)s."),
    "max": N_("Enter a number of at most %(max)s."),
    "above": N_("Enter a number greater than %(min)s."),
    "below": N_("Enter a number less than %(max)s."),
    "multiple": N_("Enter a multiple of %(step)s."),
    "short": N_plural("Use at least %(count)d character.", "Use at least %(count)d characters."),
    "long": N_plural("Use at most %(count)d character.", "Use at most %(count)d characters."),
    "pattern": N_("This value is not in the expected format."),
    "choice": N_("This value is not one of the options."),
    "few lines": N_plural("Enter at least %(count)d line.", "Enter at least %(count)d lines."),
    "many lines": N_plural("Enter at most %(count)d line.", "Enter at most %(count)d lines."),
    "line long": N_plural(
        "Each line may have at most %(count)d character.", "Each line may have at most %(count)d characters."
    ),
    "line short": N_plural(
        "Each line needs at least %(count)d character.", "Each line needs at least %(count)d characters."
    ),
    "json": N_("Enter valid JSON."),
    "unknown": N_("There is no setting named %(name)s."),
    "invalid": N_("This value is not valid."),
}
_CODES = {
    "required": "required",
    "short": "too short",
    "long": "too long",
    "few lines": "too short",
    "many lines": "too long",
    "line long": "too long",
    "line short": "too short",
    "min": "too small",
    "above": "too small",
    "max": "too large",
    "below": "too large",
    "range": "out of range",
    "choice": "unknown",
    "unknown": "unknown",
}
"""The machine code an API client reads in ``errors[].message`` (``invalid`` unless listed)."""


def secret_name(plugin: str, name: str) -> str:
    """Where a secret field is stored with :func:`kernel.secrets.put_secret`."""
    return f"plugin.{plugin}.{name}"


def platform_key(plugin: str) -> str:
    """The platform setting that holds a plugin's defaults."""
    return f"plugin.{plugin}"


# -- describing a Struct ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One setting as the form and the converter see it (labels are msgids of the plugin's catalog)."""

    name: str
    encode_name: str
    annotation: Any
    """The field's full type, given to ``msgspec.convert`` (constraints included)."""
    inner: Any
    """``msgspec.inspect`` type without ``Optional`` and ``Annotated``."""
    widget: Widget
    label: str
    description: str = ""
    placeholder: str = ""
    required: bool = False
    """No default: someone has to set it before the plugin can use its settings."""
    nullable: bool = False
    secret: bool = False
    integer: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    item_min_length: int | None = None
    item_max_length: int | None = None
    options: tuple[tuple[str, str], ...] = ()
    """``(value, label msgid)`` for a select."""
    default: Any = None
    """The Struct's default as JSON (``None`` for a required field)."""

    @property
    def json_type(self) -> str:
        """The JSON type of a value, for API clients."""
        if self.widget == "switch":
            return "boolean"
        if self.widget == "number":
            return "integer" if self.integer else "number"
        if self.widget == "lines":
            return "array"
        if self.widget == "json":
            return "object"
        return "string"


def _humanize(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").strip().capitalize() or name


def _unwrap(info: Any) -> tuple[Any, dict[str, Any], dict[str, Any], bool]:
    """The type inside ``Annotated``/``Optional``, with ``Meta`` texts and extras, and whether ``None`` is allowed."""
    schema: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    nullable = False
    while True:
        if isinstance(info, msgspec.inspect.Metadata):
            schema.update(info.extra_json_schema or {})
            extra.update(info.extra or {})
            info = info.type
            continue
        if isinstance(info, msgspec.inspect.UnionType):
            others = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
            if len(others) == 1 and len(others) < len(info.types):
                nullable = True
                info = others[0]
                continue
        return info, schema, extra, nullable


def _literal_values(annotation: Any) -> tuple[Any, ...] | None:
    """A ``Literal``'s values in the order the plugin wrote them (``msgspec.inspect`` sorts them)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return typing.get_args(annotation)
    if origin is typing.Annotated:
        return _literal_values(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _literal_values(arg)
            if found is not None:
                return found
    return None


def _options(inner: Any, extra: Mapping[str, Any], annotation: Any) -> tuple[tuple[str, str], ...]:
    labels = extra.get("labels") or {}
    if isinstance(inner, msgspec.inspect.LiteralType):
        values = [str(v) for v in (_literal_values(annotation) or inner.values)]
    else:
        values = [str(member.value) for member in inner.cls]
    return tuple((value, str(labels.get(value) or _humanize(value))) for value in values)


def _widget(inner: Any, extra: Mapping[str, Any], secret: bool) -> Widget:
    if secret:
        return "password"
    if isinstance(inner, msgspec.inspect.StrType):
        return "textarea" if extra.get("widget") == "textarea" else "text"
    if isinstance(inner, msgspec.inspect.BoolType):
        return "switch"
    if isinstance(inner, msgspec.inspect.IntType | msgspec.inspect.FloatType):
        return "number"
    if isinstance(inner, msgspec.inspect.LiteralType | msgspec.inspect.EnumType):
        return "select"
    if isinstance(inner, msgspec.inspect.ListType) and isinstance(_unwrap(inner.item_type)[0], msgspec.inspect.StrType):
        return "lines"
    # Anything richer (a mapping, a nested Struct, a list of numbers) is edited as JSON.
    return "json"


def _default_of(info: msgspec.structs.FieldInfo) -> tuple[bool, Any]:
    if info.default is not msgspec.NODEFAULT:
        return True, msgspec.to_builtins(info.default)
    if info.default_factory is not msgspec.NODEFAULT:
        return True, msgspec.to_builtins(info.default_factory())
    return False, None


@lru_cache(maxsize=128)
def _describe(schema: type[msgspec.Struct], secret_fields: tuple[str, ...]) -> tuple[FieldSpec, ...]:
    struct_info = msgspec.inspect.type_info(schema)
    if not isinstance(struct_info, msgspec.inspect.StructType):
        raise TypeError(f"settings schema {schema!r} is not a msgspec.Struct")
    annotations = {f.name: f for f in msgspec.structs.fields(schema)}
    unknown = set(secret_fields) - set(annotations)
    if unknown:
        raise ValueError(f"secret_fields names fields {sorted(unknown)} that {schema.__name__} does not have")
    specs = []
    for info in struct_info.fields:
        inner, texts, extra, nullable = _unwrap(info.type)
        secret = info.name in secret_fields
        has_default, default = _default_of(annotations[info.name])
        if secret and (not isinstance(inner, msgspec.inspect.StrType) or not has_default):
            # A secret never sits in the JSON layers, so the Struct must be whole without it.
            raise TypeError(f'secret field {schema.__name__}.{info.name} must be a str with a default ("" or None)')
        widget = _widget(inner, extra, secret)
        spec: dict[str, Any] = {}
        if isinstance(inner, msgspec.inspect.IntType | msgspec.inspect.FloatType):
            spec.update(
                integer=isinstance(inner, msgspec.inspect.IntType),
                minimum=inner.ge,
                maximum=inner.le,
                exclusive_minimum=inner.gt,
                exclusive_maximum=inner.lt,
                multiple_of=inner.multiple_of,
            )
        elif isinstance(inner, msgspec.inspect.StrType):
            spec.update(min_length=inner.min_length, max_length=inner.max_length, pattern=inner.pattern)
        elif isinstance(inner, msgspec.inspect.LiteralType | msgspec.inspect.EnumType):
            spec["options"] = _options(inner, extra, annotations[info.name].type)
        elif widget == "lines":
            item = _unwrap(inner.item_type)[0]
            spec.update(
                min_length=inner.min_length,
                max_length=inner.max_length,
                item_min_length=item.min_length,
                item_max_length=item.max_length,
            )
        specs.append(
            FieldSpec(
                name=info.name,
                encode_name=info.encode_name,
                annotation=annotations[info.name].type,
                inner=inner,
                widget=widget,
                label=str(texts.get("title") or _humanize(info.name)),
                description=str(texts.get("description") or ""),
                placeholder=str(extra.get("placeholder") or ""),
                required=not has_default,
                nullable=nullable,
                secret=secret,
                default=default,
                **spec,
            )
        )
    return tuple(specs)


def describe(spec: SettingsSpec) -> tuple[FieldSpec, ...]:
    """The fields of a plugin's settings, in the Struct's order. Raises on a malformed spec (a plugin bug)."""
    return _describe(spec.schema, tuple(spec.secret_fields))


def settings_spec(kernel: Any, plugin: str) -> SettingsSpec:
    """The plugin's declared settings; :class:`NotFound` for an unknown plugin or one without settings."""
    if plugin not in kernel.plugins.plugins:
        raise NotFound("There is no module %(plugin)s.", plugin=plugin)
    spec = kernel.registry.settings.get(plugin)
    if spec is None:
        raise NotFound("The module %(plugin)s has no settings.", plugin=plugin)
    return spec


# -- converting one field -----------------------------------------------------------------------------


def _number_text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _as_number(raw: Any, integer: bool) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            return None
    else:
        return None
    if integer and not number.is_integer():
        return None
    return number


def _explain(spec: FieldSpec, raw: Any) -> tuple[str, dict[str, Any]]:
    """Why ``raw`` does not fit ``spec``: a key of ``_MESSAGES`` and its parameters."""
    if raw is None:
        return "required", {}
    inner = spec.inner
    if spec.widget == "number":
        number = _as_number(raw, spec.integer)
        if number is None:
            return ("integer" if spec.integer else "number"), {}
        low = spec.minimum if spec.minimum is not None else spec.exclusive_minimum
        high = spec.maximum if spec.maximum is not None else spec.exclusive_maximum
        too_low = (spec.minimum is not None and number < spec.minimum) or (
            spec.exclusive_minimum is not None and number <= spec.exclusive_minimum
        )
        too_high = (spec.maximum is not None and number > spec.maximum) or (
            spec.exclusive_maximum is not None and number >= spec.exclusive_maximum
        )
        if (too_low or too_high) and spec.minimum is not None and spec.maximum is not None:
            return "range", {"min": _number_text(low), "max": _number_text(high)}
        if too_low:
            return ("min" if spec.minimum is not None else "above"), {"min": _number_text(low)}
        if too_high:
            return ("max" if spec.maximum is not None else "below"), {"max": _number_text(high)}
        if spec.multiple_of:
            return "multiple", {"step": _number_text(spec.multiple_of)}
        return "invalid", {}
    if isinstance(inner, msgspec.inspect.StrType):
        if not isinstance(raw, str):
            return "invalid", {}
        if spec.min_length is not None and len(raw) < spec.min_length:
            return ("required" if not raw else "short"), {"count": spec.min_length}
        if spec.max_length is not None and len(raw) > spec.max_length:
            return "long", {"count": spec.max_length}
        if spec.pattern is not None:
            return "pattern", {}
        return "invalid", {}
    if spec.widget == "select":
        return "choice", {}
    if spec.widget == "lines":
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            return "invalid", {}
        if spec.min_length is not None and len(raw) < spec.min_length:
            return "few lines", {"count": spec.min_length}
        if spec.max_length is not None and len(raw) > spec.max_length:
            return "many lines", {"count": spec.max_length}
        if spec.item_max_length is not None and any(len(item) > spec.item_max_length for item in raw):
            return "line long", {"count": spec.item_max_length}
        if spec.item_min_length is not None and any(len(item) < spec.item_min_length for item in raw):
            return "line short", {"count": spec.item_min_length}
    return "invalid", {}


def _error(spec: FieldSpec, key: str, params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "field": spec.name,
        "message": _CODES.get(key, "invalid"),
        "detail": _say(_MESSAGES[key], params),
    }


def _say(message: str | tuple[str, str], params: Mapping[str, Any]) -> str:
    """A message, or the plural form a ``count`` asks for (``"Use at least 1 character."``)."""
    t = current_translator()
    if isinstance(message, tuple):
        return t.ngettext(message[0], message[1], int(params["count"]), **params)
    return t.gettext(message, **params)


def _convert(spec: FieldSpec, raw: Any) -> tuple[Any, dict[str, Any] | None]:
    """``raw`` as the field's type (``msgspec`` decides), or the reason it is not valid."""
    if raw is None and not spec.nullable:
        return None, _error(spec, "required", {})
    try:
        value = msgspec.convert(raw, spec.annotation, strict=False)
    except msgspec.ValidationError:
        return None, _error(spec, *_explain(spec, raw))
    return msgspec.to_builtins(value), None


def _from_form(spec: FieldSpec, form: Any) -> tuple[bool, Any, dict[str, Any] | None]:
    """What the form says for ``spec``: ``(present, value before conversion, early error)``."""
    if spec.widget == "switch":
        return True, spec.name in form, None
    if spec.name not in form:
        return False, None, None
    text = str(form.get(spec.name) or "").replace("\r\n", "\n")
    if spec.widget == "lines":
        return True, [line.strip() for line in text.split("\n") if line.strip()], None
    if spec.widget == "json":
        if not text.strip():
            return True, None, None
        try:
            return True, json.loads(text), None
        except ValueError:
            return True, None, _error(spec, "json", {})
    if spec.widget != "textarea":
        text = text.strip()
    if spec.widget == "number" and "," in text and "." not in text:
        text = text.replace(",", ".")  # a decimal comma, as people type it in Brazil and Latin America
    if not text and (spec.nullable or spec.widget in ("number", "select")):
        return True, None, None
    return True, text, None


@dataclass
class _Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    """Non-secret fields that were given, as JSON."""
    secrets_set: dict[str, str] = field(default_factory=dict)
    secrets_removed: set[str] = field(default_factory=set)
    errors: list[dict[str, Any]] = field(default_factory=list)


def _parse(specs: tuple[FieldSpec, ...], data: Any, *, from_form: bool) -> _Parsed:
    """Convert every field on its own so that all the mistakes are reported together."""
    parsed = _Parsed()
    by_name = {spec.name: spec for spec in specs}
    if not from_form:
        if not isinstance(data, Mapping):
            raise ValidationFailed("The settings must be a JSON object.")
        for name in data:
            if name not in by_name:
                parsed.errors.append(
                    {
                        "field": str(name),
                        "message": "unknown",
                        "detail": current_translator().gettext(_MESSAGES["unknown"], name=str(name)),
                    }
                )
    removed = set(data.getall(REMOVE_CHECKBOX, [])) if from_form else set()
    for spec in specs:
        if spec.secret:
            _parse_secret(spec, data, parsed, from_form=from_form, remove=spec.name in removed)
            continue
        if from_form:
            present, raw, early = _from_form(spec, data)
            if early is not None:
                parsed.errors.append(early)
                continue
        else:
            present, raw = spec.name in data, data.get(spec.name)
        if not present:
            continue
        value, error = _convert(spec, raw)
        if error is not None:
            parsed.errors.append(error)
        else:
            parsed.values[spec.name] = value
    return parsed


def _parse_secret(spec: FieldSpec, data: Any, parsed: _Parsed, *, from_form: bool, remove: bool) -> None:
    """A secret is write-only: a value replaces it, ``null`` (or the form's remove box) removes it, empty keeps it."""
    if remove:
        parsed.secrets_removed.add(spec.name)
        return
    if spec.name not in data:
        return
    raw = data.get(spec.name)
    if raw is None and not from_form:
        parsed.secrets_removed.add(spec.name)
        return
    if not isinstance(raw, str):
        parsed.errors.append(_error(spec, "invalid", {}))
        return
    value = raw.strip()
    if not value:
        return
    limit = min(spec.max_length or MAX_SECRET_LENGTH, MAX_SECRET_LENGTH)
    if len(value) > limit:
        parsed.errors.append(_error(spec, "long", {"count": limit}))
        return
    _, error = _convert(spec, value)
    if error is not None:
        parsed.errors.append(error)
        return
    parsed.secrets_set[spec.name] = value


def _check_stored(specs: tuple[FieldSpec, ...], stored: Any, where: str, plugin: str) -> dict[str, Any]:
    """Stored values that still fit the Struct (a plugin upgrade may rename or retype a field)."""
    if not isinstance(stored, Mapping):
        return {}
    kept: dict[str, Any] = {}
    for spec in specs:
        if spec.secret or spec.name not in stored:
            continue
        value, error = _convert(spec, stored[spec.name])
        if error is None:
            kept[spec.name] = value
        else:
            log.warning("plugin_setting_ignored", plugin=plugin, field=spec.name, stored_in=where)
    return kept


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON (``1`` and ``true`` differ, which Python's ``==`` would not see)."""
    return msgspec.json.encode(a) == msgspec.json.encode(b)


# -- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretState:
    """What may be shown of a secret field: whether it is set, by whom, and (for one's own) the hint."""

    set: bool = False
    hint: str | None = None
    source: Literal["organization", "platform"] | None = None


@dataclass(frozen=True)
class SettingsView:
    """A plugin's settings as one layer sees them (an organization's, or the platform's defaults)."""

    plugin: str
    fields: tuple[FieldSpec, ...]
    values: dict[str, Any]
    """Effective non-secret values, as JSON (a required field nobody set is missing)."""
    own: dict[str, Any]
    """What this layer itself stores (the rest is inherited)."""
    inherited: dict[str, Any]
    """What the layers below give: the Struct's defaults, plus the platform's for an organization."""
    secrets: dict[str, SecretState]


def _is_platform(session: AsyncSession) -> bool:
    return bool(session.info.get("platform", in_platform_scope()))


@asynccontextmanager
async def _platform_reader(kernel: Any, session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session that may read the platform's rows: ``session`` itself in the platform scope, else a short one.

    A tenant's session is never switched to the platform scope, not even for a moment: the reads of
    platform defaults go through a session of their own.
    """
    if _is_platform(session):
        yield session
        return
    async with kernel.db.session() as reader:
        await set_session_scope(reader, platform=True)
        yield reader


async def _platform_layer(
    kernel: Any, session: AsyncSession, plugin: str, specs: tuple[FieldSpec, ...]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The platform's defaults for ``plugin`` and the hints of its secrets, by field."""
    async with _platform_reader(kernel, session) as reader:
        stored = await get_platform_setting(reader, platform_key(plugin))
        hints = await _secret_hints(reader, plugin, None)
    return _check_stored(specs, stored, "platform", plugin), hints


async def _secret_hints(session: AsyncSession, plugin: str, tenant_id: UUID | None) -> dict[str, str]:
    prefix = secret_name(plugin, "")
    return {
        info.name.removeprefix(prefix): info.hint
        for info in await list_secrets(session, tenant_id=tenant_id)
        if info.name.startswith(prefix)
    }


async def _tenant_row(session: AsyncSession, plugin: str, tenant_id: UUID) -> TenantPlugin | None:
    statement = select(TenantPlugin).where(TenantPlugin.tenant_id == tenant_id, TenantPlugin.plugin == plugin)
    return (await session.execute(statement)).scalar_one_or_none()


def _defaults(specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    return {spec.name: spec.default for spec in specs if not spec.secret and not spec.required}


async def plugin_settings(kernel: Any, session: AsyncSession, plugin: str, tenant_id: UUID | None) -> SettingsView:
    """The organization's view of ``plugin``'s settings (``tenant_id`` ``None``: the platform's defaults)."""
    specs = describe(settings_spec(kernel, plugin))
    platform_values, platform_hints = await _platform_layer(kernel, session, plugin, specs)
    defaults = _defaults(specs)
    if tenant_id is None:
        secrets = {name: SecretState(True, hint, "platform") for name, hint in platform_hints.items()}
        return SettingsView(
            plugin=plugin,
            fields=specs,
            values={**defaults, **platform_values},
            own=platform_values,
            inherited=defaults,
            secrets=_all_secrets(specs, secrets),
        )
    row = await _tenant_row(session, plugin, tenant_id)
    own = _check_stored(specs, row.settings if row else None, "organization", plugin)
    hints = await _secret_hints(session, plugin, tenant_id)
    secrets = {name: SecretState(True, None, "platform") for name in platform_hints}
    # The platform's hint is not the organization's to see: it only learns that a value is there.
    secrets.update({name: SecretState(True, hint, "organization") for name, hint in hints.items()})
    inherited = {**defaults, **platform_values}
    return SettingsView(
        plugin=plugin,
        fields=specs,
        values={**inherited, **own},
        own=own,
        inherited=inherited,
        secrets=_all_secrets(specs, secrets),
    )


def _all_secrets(specs: tuple[FieldSpec, ...], known: Mapping[str, SecretState]) -> dict[str, SecretState]:
    return {spec.name: known.get(spec.name, SecretState()) for spec in specs if spec.secret}


async def load_plugin_settings(session: AsyncSession, kernel: Any, plugin: str, tenant_id: UUID) -> msgspec.Struct:
    """The plugin's settings for one organization, as its Struct: defaults, then the platform's, then the organization's.

    Secret fields hold a :class:`kernel.secrets.Secret` (call ``reveal()`` where the value is needed)
    when the organization or the platform stored one, else the field's default. ``session`` is the
    organization's (a request's ``db_session`` or ``kernel.sdk.tenant_session()``). Raises
    :class:`ValidationFailed` when a setting without a default was never set.
    """
    spec = settings_spec(kernel, plugin)
    specs = describe(spec)
    view = await plugin_settings(kernel, session, plugin, tenant_id)
    missing = [f.name for f in specs if f.required and f.name not in view.values]
    if missing:
        raise ValidationFailed(
            "The module %(plugin)s is not set up yet: %(fields)s.",
            errors=[{"field": name, "message": "required"} for name in missing],
            plugin=plugin,
            fields=", ".join(missing),
        )
    values = {f.encode_name: view.values[f.name] for f in specs if not f.secret and f.name in view.values}
    try:
        settings = msgspec.convert(values, spec.schema, strict=False)
    except msgspec.ValidationError:
        # Each layer fits field by field but not together (a plugin's cross-field check): the defaults win.
        log.warning("plugin_settings_rejected", plugin=plugin, tenant_id=str(tenant_id))
        fallback = {f.encode_name: f.default for f in specs if not f.required and not f.secret}
        fallback.update({f.encode_name: values[f.encode_name] for f in specs if f.required})
        settings = msgspec.convert(fallback, spec.schema, strict=False)
    secrets: dict[str, Secret] = {}
    for f in specs:
        if not f.secret or not view.secrets[f.name].set:
            continue
        owner = tenant_id if view.secrets[f.name].source == "organization" else None
        async with _secret_reader(kernel, session, owner) as reader:
            value = await get_secret(reader, secret_name(plugin, f.name), tenant_id=owner)
        if value is not None:
            secrets[f.name] = Secret(value)
    return msgspec.structs.replace(settings, **secrets) if secrets else settings


@asynccontextmanager
async def _secret_reader(kernel: Any, session: AsyncSession, owner: UUID | None) -> AsyncIterator[AsyncSession]:
    if owner is not None:
        yield session
        return
    async with _platform_reader(kernel, session) as reader:
        yield reader


# -- the form --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FormField:
    """One field of the generated form, translated, with what it shows."""

    name: str
    label: str
    description: str
    widget: Widget
    value: Any
    """What the input shows: text, ``True``/``False`` for a switch, one item per line for a list."""
    placeholder: str = ""
    required: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)
    options: tuple[tuple[str, str], ...] = ()
    secret: SecretState | None = None
    inherited: bool = False
    """The value comes from the layers below (the platform's or the plugin's default)."""


def _display(spec: FieldSpec, value: Any) -> Any:
    if spec.widget == "switch":
        return bool(value)
    if value is None:
        return ""
    if spec.widget == "lines":
        return "\n".join(str(item) for item in value)
    if spec.widget == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if spec.widget == "number":
        return _number_text(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
    return str(value)


def form_input(
    view: SettingsView,
    catalogs: Any,
    language: str,
    *,
    typed: Any = None,
) -> list[FormField]:
    """The form's fields for ``view``, labels in ``language`` (the plugin's catalog first).

    ``typed`` is the posted form after an error, so the person sees what they typed, not what is stored.
    """
    domains = (view.plugin, KERNEL_DOMAIN)
    fields = []
    for spec in view.fields:
        if spec.secret:
            value: Any = ""
        elif typed is not None:
            value = spec.name in typed if spec.widget == "switch" else str(typed.get(spec.name) or "")
        else:
            value = _display(spec, view.values.get(spec.name))
        attrs: dict[str, Any] = {}
        if spec.widget == "number":
            attrs.update(
                min=_number_text(spec.minimum) or None,
                max=_number_text(spec.maximum) or None,
                step=_number_text(spec.multiple_of) if spec.multiple_of else ("1" if spec.integer else "any"),
                inputmode="numeric" if spec.integer else "decimal",
            )
        elif spec.widget in ("text", "textarea", "password"):
            attrs.update(maxlength=spec.max_length, minlength=spec.min_length)
        if spec.widget == "password":
            attrs["autocomplete"] = "new-password"
        options = tuple((value_, catalogs.gettext(domains, language, label)) for value_, label in spec.options)
        if spec.widget == "select" and (spec.nullable or spec.required):
            options = (("", "—"), *options)
        fields.append(
            FormField(
                name=spec.name,
                label=catalogs.gettext(domains, language, spec.label),
                description=catalogs.gettext(domains, language, spec.description) if spec.description else "",
                widget=spec.widget,
                value=value,
                placeholder=catalogs.gettext(domains, language, spec.placeholder) if spec.placeholder else "",
                required=spec.required,
                attrs=attrs,
                options=options,
                secret=view.secrets.get(spec.name) if spec.secret else None,
                inherited=not spec.secret and spec.name not in view.own,
            )
        )
    return fields


# -- saving ----------------------------------------------------------------------------------------


async def _check_plan(session: AsyncSession, tenant_id: UUID, plugin: str) -> None:
    org = await session.get(Organization, tenant_id)
    if org is None:
        raise NotFound("Organization not found.")
    plan = await session.get(Plan, org.plan_id) if org.plan_id else None
    if plan is not None and not plan.allows(plugin):
        raise Conflict("The plan %(plan)s does not include the module %(plugin)s.", plan=plan.name, plugin=plugin)


def _whole(
    spec: SettingsSpec, specs: tuple[FieldSpec, ...], values: Mapping[str, Any], plugin: str, catalogs: Any
) -> None:
    """Build the Struct from every layer once, so a plugin's own cross-field checks (``__post_init__``) run."""
    payload = {f.encode_name: values[f.name] for f in specs if not f.secret and f.name in values}
    try:
        msgspec.convert(payload, spec.schema, strict=False)
    except msgspec.ValidationError as exc:
        # ``__post_init__`` raised: its message is the plugin's own, a msgid of its catalog.
        message = str(exc).split(" - at ")[0]
        reason = catalogs.gettext((plugin, KERNEL_DOMAIN), current_translator().language, message)
        raise ValidationFailed("The settings do not fit together: %(reason)s", reason=reason) from None


def _invalid(parsed: _Parsed, specs: tuple[FieldSpec, ...], catalogs: Any, plugin: str) -> ValidationFailed:
    language = current_translator().language
    labels = {spec.name: catalogs.gettext((plugin, KERNEL_DOMAIN), language, spec.label) for spec in specs}
    names = list(dict.fromkeys(labels.get(e["field"], e["field"]) for e in parsed.errors))
    return ValidationFailed("Check these settings: %(fields)s.", errors=parsed.errors, fields=", ".join(names))


async def save_plugin_settings(
    kernel: Any,
    session: AsyncSession,
    plugin: str,
    tenant_id: UUID | None,
    data: Any,
    *,
    catalogs: Any,
    from_form: bool = False,
) -> SettingsView:
    """Replace the organization's settings of ``plugin`` (``tenant_id`` ``None``: the platform's defaults).

    ``data`` is a JSON object (API) or the posted form (``from_form``). A field left out goes back to
    the value it inherits; a value equal to the inherited one is not stored, so it keeps following the
    platform's default. Secrets: a value replaces the stored one, ``null`` (or the form's remove box)
    removes it, an empty or missing value keeps it. Every invalid field is reported at once
    (:class:`ValidationFailed`, ``errors[].field``). Audited as ``plugin.settings_changed`` (the
    organization's) or ``plugin.defaults_changed`` (the platform's), in the caller's transaction.
    """
    spec = settings_spec(kernel, plugin)
    specs = describe(spec)
    if tenant_id is not None:
        await _check_plan(session, tenant_id, plugin)
    parsed = _parse(specs, data, from_form=from_form)
    if parsed.errors:
        raise _invalid(parsed, specs, catalogs, plugin)
    view = await plugin_settings(kernel, session, plugin, tenant_id)
    missing = [f for f in specs if f.required and f.name not in parsed.values]
    if missing:
        parsed.errors.extend(_error(f, "required", {}) for f in missing)
        raise _invalid(parsed, specs, catalogs, plugin)
    _whole(spec, specs, {**view.inherited, **parsed.values}, plugin, catalogs)
    # Only what differs from the inherited value is the layer's own: the rest keeps following the defaults.
    own = {
        name: value
        for name, value in parsed.values.items()
        if name not in view.inherited or not _same(value, view.inherited[name])
    }

    before = dict(view.own)
    before.update({name: state.hint for name, state in _own_secrets(view, tenant_id).items()})
    if tenant_id is None:
        await set_platform_setting(session, platform_key(plugin), own or None)
    else:
        row = await _tenant_row(session, plugin, tenant_id)
        if row is None:
            # Settings may be prepared before the module is enabled; the row then says "not enabled".
            row = TenantPlugin(tenant_id=tenant_id, plugin=plugin, enabled=False, settings={})
            session.add(row)
        row.settings = own
        await session.flush()
    hints = {name: state.hint for name, state in _own_secrets(view, tenant_id).items()}
    for name in parsed.secrets_removed:
        if await delete_secret(session, secret_name(plugin, name), tenant_id=tenant_id):
            hints.pop(name, None)
    for name, value in parsed.secrets_set.items():
        hints[name] = (await put_secret(session, secret_name(plugin, name), value, tenant_id=tenant_id)).hint
    after = {**own, **hints}
    if not _same(_sorted(before), _sorted(after)):
        await record(
            session,
            action="plugin.defaults_changed" if tenant_id is None else "plugin.settings_changed",
            target_type="plugin",
            target_id=plugin,
            before=before,
            after=after,
            tenant_id=tenant_id,
        )
    return await plugin_settings(kernel, session, plugin, tenant_id)


def _own_secrets(view: SettingsView, tenant_id: UUID | None) -> dict[str, SecretState]:
    source = "platform" if tenant_id is None else "organization"
    return {name: state for name, state in view.secrets.items() if state.set and state.source == source}


def _sorted(values: Mapping[str, Any]) -> dict[str, Any]:
    return dict(sorted(values.items()))


def error_fields(exc: ValidationFailed) -> dict[str, str]:
    """Messages for a page from a settings :class:`ValidationFailed`: one per field, and ``""`` summing them up."""
    messages = {
        str(e["field"]): str(e.get("detail") or "") for e in exc.errors if isinstance(e, dict) and e.get("field")
    }
    messages[""] = current_translator().gettext(exc.detail, **exc.params)
    return messages
