"""Everything a plugin author imports: the hook marker and the values hooks return.

A plugin imports ``kernel.sdk`` and nothing else from the kernel (plus the ``services`` module of a
plugin it declares in ``depends``). The hooks themselves are documented in ``kernel/hookspecs.py`` and
``docs/plugins/hooks.md``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import msgspec
import pluggy

from kernel.db.base import Base, TenantScoped
from kernel.db.scope import current_tenant_id, require_tenant_id
from kernel.errors import (
    Conflict,
    Forbidden,
    KernelError,
    NotFound,
    ProviderError,
    QuotaExceeded,
    ValidationFailed,
)
from kernel.events.envelope import Event
from kernel.i18n.catalogs import N_, gettext, ngettext
from kernel.llm import OFFLINE_MARKER, ChatResult, ModelConfig, TokenUsage, ToolCallMade, current_gateway
from kernel.storage import media_url
from kernel.storage import tenant_key as tenant_storage_key
from kernel.storage.images import ImageRefused, clean_image

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

__all__ = [
    "N_",
    "OFFLINE_MARKER",
    "Base",
    "ChatResult",
    "Conflict",
    "Event",
    "EventType",
    "Feature",
    "Forbidden",
    "Fragment",
    "ImageRefused",
    "JobSpec",
    "KernelError",
    "LLMTool",
    "MigrationSpec",
    "ModelConfig",
    "NavItem",
    "NotFound",
    "OnboardingStep",
    "Permission",
    "PluginManifest",
    "ProviderError",
    "QuotaExceeded",
    "Routes",
    "SettingsSpec",
    "Subscription",
    "TenantScoped",
    "TokenUsage",
    "ToolCallMade",
    "ValidationFailed",
    "after_commit",
    "audit",
    "clean_image",
    "current_gateway",
    "current_tenant_id",
    "database_capabilities",
    "emit",
    "enqueue",
    "gettext",
    "hookimpl",
    "load_plugin_settings",
    "media_url",
    "ngettext",
    "notify",
    "organization_model",
    "plan_feature",
    "platform_session",
    "render_page",
    "require_tenant_id",
    "safe_http_client",
    "storage",
    "tenant_session",
    "tenant_storage_key",
]

PROJECT = "atendai"
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorate a plugin's hook implementations with ``@hookimpl``."""

RoleName = Literal["admin", "supervisor", "operator", "analyst"]


class PluginManifest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A plugin's ``plugin.toml``: read without importing the plugin's code."""

    name: str
    """Unique, lowercase; it names the routes (``/api/v1/<name>``), templates, translations and branch."""
    version: str
    kernel: str = ">=0.1"
    """Kernel versions this plugin works with, as a PEP 440 specifier."""
    title: str = ""
    """Translatable title (a msgid of the plugin's own catalog)."""
    description: str = ""
    depends: tuple[str, ...] = ()
    """Plugins that must be loaded (and enabled for a tenant) before this one."""
    features: tuple[str, ...] = ()
    """Feature keys this plugin offers to plans (flags and quotas)."""
    auto_enable: bool = True
    """Enabled for new tenants whose plan allows it."""


@dataclass(frozen=True)
class Routes:
    """What ``register_routes`` returns: JSON handlers under ``/api/v1/<plugin>``, pages under ``/app/<plugin>``."""

    api: Sequence[Any] = ()
    pages: Sequence[Any] = ()


@dataclass(frozen=True)
class MigrationSpec:
    """A plugin's Alembic branch: ``location`` is ``"package:folder"`` of its version files."""

    branch: str
    location: str
    models: str | None = None
    """Module that defines the plugin's models, imported so autogenerate and ``migrate --check`` see them."""


@dataclass(frozen=True)
class Permission:
    """A permission ``<plugin>.<noun>.<verb>`` and the seeded roles that get it by default."""

    name: str
    description: str
    default_roles: tuple[RoleName, ...] = ("admin",)


@dataclass(frozen=True)
class NavItem:
    """An entry of the sidebar. ``label`` is a msgid of the plugin's catalog."""

    id: str
    label: str
    href: str
    icon: str = "circle"
    section: str = "main"
    order: int = 100
    permission: str | None = None


@dataclass(frozen=True)
class EventType:
    """An event a plugin emits: ``<noun>.<past-tense verb>``, versioned, with a typed payload."""

    name: str
    version: int
    payload: type[msgspec.Struct]
    description: str = ""


@dataclass(frozen=True)
class Subscription:
    """Run ``handler(event, session)`` for every ``event`` of the tenants that enabled the subscriber's plugin.

    ``session`` is a tenant-scoped session whose transaction also records the delivery: write through
    it, and the effect happens exactly once even if a process dies. ``mode="job"`` runs the handler
    as a background job with retries; ``"inline"`` runs it in the dispatcher.
    """

    event: str
    handler: Callable[..., Awaitable[None] | None]
    mode: Literal["inline", "job"] = "job"
    name: str | None = None
    """Stable subscriber id (idempotency is per subscriber and event id); defaults to the handler's path."""


@dataclass(frozen=True)
class JobSpec:
    """A background task (SAQ) named ``<plugin>.<name>``; ``cron`` makes it periodic."""

    name: str
    function: Callable[..., Awaitable[Any]]
    timeout: int = 60
    retries: int = 5
    heartbeat: int = 0
    """Seconds a running job may go without ``ctx.heartbeat()`` before it is taken for dead (0: off)."""
    cron: str | None = None
    platform_wide: bool = False
    """A job without a tenant is refused unless it says it works across tenants."""


@dataclass(frozen=True)
class LLMTool:
    """A tool the AI agents may call: JSON-schema ``parameters`` and an async ``handler(**arguments)``."""

    name: str
    description: str
    parameters: dict[str, Any]
    handler: Callable[..., Awaitable[Any]]
    permission: str | None = None
    feature: str | None = None


@dataclass(frozen=True)
class SettingsSpec:
    """A plugin's per-tenant settings: a Struct with defaults; ``secret_fields`` are encrypted and masked."""

    schema: type[msgspec.Struct]
    secret_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Feature:
    """A flag or quota a plan can grant, e.g. ``whatsapp.numbers`` (quota) or ``crm.custom_fields`` (flag)."""

    key: str
    kind: Literal["flag", "quota"]
    default: int | bool
    description: str = ""


@dataclass(frozen=True)
class OnboardingStep:
    """A step of the first-steps checklist on the home page, ticked when ``is_done(session)`` says so.

    ``title`` and ``description`` are msgids of the plugin's catalog; ``href`` is the page where the
    step is done. ``is_done`` is ``async def is_done(session) -> bool`` with a session scoped to the
    organization being shown. Steps with a ``permission`` show only to people who hold it.
    """

    id: str
    title: str
    href: str
    is_done: Callable[..., Awaitable[bool]]
    description: str = ""
    icon: str = "circle-check"
    order: int = 100
    permission: str | None = None


@dataclass
class Fragment:
    """HTML a plugin contributes to a named slot of a page, rendered from its own template."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


async def load_plugin_settings(session: AsyncSession, plugin: str, *, tenant_id: UUID | None = None) -> Any:
    """A plugin's settings for one organization (the current one by default), as its settings Struct.

    The Struct's defaults, overlaid by the platform administrator's defaults and then by the
    organization's own values. Secret fields come back wrapped in :class:`kernel.secrets.Secret` (call
    ``.reveal()`` where the value is really needed). See ``docs/modules.md``.
    """
    from kernel.plugins.settings import load_plugin_settings as load
    from kernel.runtime import current_kernel

    return await load(session, current_kernel(), plugin, tenant_id or require_tenant_id())


def render_page(request: Any, template: str, **context: Any) -> Any:
    """Render ``template`` (which extends ``base.html``) inside the shell: sidebar, top bar, theme, toasts.

    Besides ``context``, the template receives ``actor``, ``language``, ``nav`` and ``nav_sections``.
    """
    from kernel.web.shell import page

    return page(request, template, **context)


@asynccontextmanager
async def tenant_session(tenant_id: UUID | None = None) -> AsyncIterator[AsyncSession]:
    """A database session for one tenant outside a request (tools, jobs, subscribers); the caller commits.

    ``tenant_id`` defaults to the current tenant; with neither, it raises instead of seeing nothing.
    """
    from kernel.db.scope import tenant_scope
    from kernel.db.session import set_session_scope
    from kernel.runtime import current_kernel

    tenant = tenant_id or require_tenant_id()
    with tenant_scope(tenant):
        async with current_kernel().db.session() as session:
            await set_session_scope(session, tenant_id=tenant)
            yield session


async def audit(session: AsyncSession, *, action: str, target_type: str, target_id: Any, **fields: Any) -> None:
    """Record a change in the tenant's audit trail, in the caller's transaction (see ``kernel.audit.service.record``).

    ``fields`` may carry ``before`` and ``after`` (dicts: only changed fields are kept, secrets masked),
    ``actor_type``, ``actor_id``, ``actor_label``; who, address and request id default to the request's.
    """
    from kernel.audit.service import record

    await record(session, action=action, target_type=target_type, target_id=target_id, **fields)


async def emit(
    session: AsyncSession, event_type: EventType, payload: msgspec.Struct, *, actor: str | None = None
) -> Event:
    """Record that ``event_type`` happened, in the caller's transaction; subscribers hear of it after commit.

    Subscribers are ``async def handler(event, session)``: write through ``session`` and your change
    commits together with the delivery record, so it is applied exactly once.
    """
    from kernel.events.bus import emit as emit_event

    return await emit_event(session, event_type, payload, actor=actor)


def safe_http_client(**options: Any) -> Any:
    """The HTTP client for addresses users type in (webhooks, imports, provider servers).

    It refuses private, loopback, link-local and metadata addresses (unless the operator's
    ``ATENDAI_HTTP_ALLOW`` lists them), pins the checked address, and limits redirects, time and size.
    See ``docs/outgoing-http.md``.
    """
    from kernel.http import AllowList, safe_client
    from kernel.runtime import current_kernel

    options.setdefault("allow", AllowList.from_settings(current_kernel().settings))
    return safe_client(**options)


async def enqueue(
    name: str, *, tenant_id: UUID | None = None, key: str | None = None, scheduled: int = 0, **kwargs: Any
) -> Any:
    """Queue the job ``name`` (a :class:`JobSpec` of any plugin) for the current tenant, or ``tenant_id``.

    With ``key``, a job with that key still queued or running is kept and this call adds nothing.
    ``scheduled`` is a Unix time before which it does not start. Returns the job, or ``None`` when kept.
    """
    from kernel.runtime import current_kernel

    jobs = current_kernel().state.get("jobs")
    if jobs is None:
        raise RuntimeError("the job queue is not running in this process")
    tenant = tenant_id or current_tenant_id()
    return await jobs.enqueue(name, tenant_id=tenant, key=key, scheduled=scheduled, **kwargs)


def storage() -> Any:
    """The kernel's file storage (local disk or S3-compatible): ``put``, ``get``, ``delete`` by key.

    Keys for a tenant's files come from ``kernel.storage.tenant_key(tenant_id, name, data)``.
    """
    from kernel.runtime import current_kernel
    from kernel.storage import current_storage

    return current_storage(current_kernel())


async def database_capabilities() -> Any:
    """What the PostgreSQL server offers (``pgvector``, ``unaccent``, ``pg_trgm``), read once per process."""
    from kernel.db.capabilities import detect_capabilities
    from kernel.runtime import current_kernel

    kernel = current_kernel()
    found = kernel.state.get("capabilities")
    if found is None:
        found = kernel.state["capabilities"] = await detect_capabilities(kernel.db.engine)
    return found


async def notify(session: AsyncSession, *, kind: str, message: str, domain: str, **options: Any) -> list[Any]:
    """Notify the current tenant's people (``user_ids`` and/or holders of ``permission``) in the bell.

    ``message`` is a msgid of the plugin's catalog (``domain``) with ``params``; ``link`` opens on click.
    It reaches their pages live after the caller's transaction commits.
    """
    from kernel.notifications.service import notify as send

    return await send(session, kind=kind, message=message, domain=domain, **options)


_AFTER_COMMIT_KEY = "atendai.after_commit"
_background: set[Any] = set()


def after_commit(session: AsyncSession, work: Callable[[], Awaitable[Any]], *, key: str | None = None) -> None:
    """Run ``await work()`` once the session's current transaction commits (never if it rolls back).

    For side effects that must not see uncommitted rows, such as queueing a job about a row written
    in this transaction. With ``key``, work already registered under that key in this transaction is
    not added again (e.g. one "start the runners" for a thousand rows). Best effort: a process that
    dies in between loses it, so pair it with a sweep.
    """
    import asyncio

    from sqlalchemy import event

    pending: dict[str, Callable[[], Awaitable[Any]]] | None = session.info.get(_AFTER_COMMIT_KEY)
    name = key or f"work-{id(work)}"
    if pending is not None:
        pending.setdefault(name, work)
        return
    session.info[_AFTER_COMMIT_KEY] = {name: work}

    def committed(_session: Any) -> None:
        tasks = session.info.pop(_AFTER_COMMIT_KEY, {})
        event.remove(session.sync_session, "after_rollback", rolled_back)
        loop = asyncio.get_running_loop()
        for job in tasks.values():
            task = loop.create_task(job())
            _background.add(task)
            task.add_done_callback(_background.discard)

    def rolled_back(_session: Any) -> None:
        session.info.pop(_AFTER_COMMIT_KEY, None)
        if event.contains(session.sync_session, "after_commit", committed):
            event.remove(session.sync_session, "after_commit", committed)

    event.listen(session.sync_session, "after_commit", committed, once=True)
    event.listen(session.sync_session, "after_rollback", rolled_back, once=True)


@asynccontextmanager
async def platform_session() -> AsyncIterator[AsyncSession]:
    """A session across every tenant, for a ``platform_wide`` job: the caller names tenants in its queries.

    Raw SQL (``text``) is not filtered by the ORM, and row-level security lets the platform scope
    through; ORM statements need ``execution_options(atendai_all_tenants=True)``.
    """
    from kernel.db.session import set_session_scope
    from kernel.runtime import current_kernel

    async with current_kernel().db.session() as session:
        await set_session_scope(session, platform=True)
        yield session


async def organization_model(session: AsyncSession, tenant_id: UUID | None = None) -> ModelConfig:
    """The organization's default chat model (its AI settings, else the platform's; ``offline`` without one)."""
    from kernel.llm.settings import organization_model as effective
    from kernel.runtime import current_kernel

    return await effective(current_kernel(), session, tenant_id or require_tenant_id())


async def plan_feature(session: AsyncSession, key: str, *, tenant_id: UUID | None = None) -> Any:
    """The value of a feature (flag or quota, see :class:`Feature`) on the organization's plan.

    The plan's own value, else the default the plugin registered; ``None`` for an unknown feature.
    """
    from sqlalchemy import select

    from kernel.runtime import current_kernel
    from kernel.tenancy.models import Organization, Plan

    tenant = tenant_id or require_tenant_id()
    statement = (
        select(Plan.features).join(Organization, Organization.plan_id == Plan.id).where(Organization.id == tenant)
    )
    features = (await session.execute(statement.execution_options(atendai_all_tenants=True))).scalar_one_or_none()
    if features and key in features:
        return features[key]
    registered = current_kernel().registry.features.get(key)
    return registered[1].default if registered else None
