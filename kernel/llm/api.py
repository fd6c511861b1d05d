"""AI settings API: ``/api/v1/organization/ai``, the organization's model and keys, and "test connection".

Every route needs ``kernel.organization.write``; the page ``/app/-/ai`` calls the same services. The
shapes here are shared with the platform's defaults (``/api/v1/platform/settings``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.llm.settings import (
    KEEP,
    AiSettings,
    AiTrial,
    AiUpdate,
    ConnectionTest,
    ProviderState,
    ProviderUpdate,
    organization_ai,
    save_organization_ai,
    suggested_models,
    try_organization_ai,
)
from kernel.rbac.guard import PERMISSION

__all__ = [
    "ROUTES",
    "AiSettingsIn",
    "AiSettingsOut",
    "AiTestIn",
    "AiTestOut",
    "OrganizationAiController",
    "connection_out",
    "settings_out",
    "trial_of",
    "update_of",
]

WRITE_PERMISSION = "kernel.organization.write"
ProviderName = Literal["openai", "gemini", "offline"]


class ProviderOut(msgspec.Struct):
    api_key_hint: str | None
    """The stored key, masked (``sk-...abcd``); never the key itself."""
    api_key_updated_at: datetime | None
    base_url: str | None
    organization: str | None
    platform_key: bool
    """The platform holds a key for this provider, used while the organization has none."""

    @classmethod
    def of(cls, state: ProviderState) -> ProviderOut:
        return cls(state.api_key_hint, state.api_key_updated_at, state.base_url, state.organization, state.platform_key)


class AiSettingsOut(msgspec.Struct):
    provider: ProviderName | None
    """The organization's choice; ``null``: the platform's default (for the platform: none, offline)."""
    model: str | None
    effective_provider: ProviderName
    effective_model: str
    platform_provider: ProviderName
    platform_model: str
    openai: ProviderOut
    gemini: ProviderOut
    suggested_models: dict[str, list[str]]


class OpenAIIn(msgspec.Struct, forbid_unknown_fields=True):
    api_key: str | None = None
    """A new key; left out (or empty) keeps the stored one."""
    remove_api_key: bool = False
    base_url: str | msgspec.UnsetType | None = msgspec.UNSET
    """An OpenAI-compatible server (Azure, Ollama, vLLM); ``null`` or ``""``: OpenAI's own."""
    organization: str | msgspec.UnsetType | None = msgspec.UNSET


class GeminiIn(msgspec.Struct, forbid_unknown_fields=True):
    api_key: str | None = None
    remove_api_key: bool = False
    base_url: str | msgspec.UnsetType | None = msgspec.UNSET


class AiSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    """Only what is given changes. ``provider: null`` follows the platform's default."""

    provider: ProviderName | msgspec.UnsetType | None = msgspec.UNSET
    model: str | msgspec.UnsetType | None = msgspec.UNSET
    openai: OpenAIIn | msgspec.UnsetType = msgspec.UNSET
    gemini: GeminiIn | msgspec.UnsetType = msgspec.UNSET


class AiTestIn(msgspec.Struct, forbid_unknown_fields=True):
    """Values to try before saving; each one left out comes from what is stored."""

    provider: ProviderName | None = None
    model: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    organization: str | None = None


class AiTestOut(msgspec.Struct):
    ok: bool
    provider: str
    model: str
    latency_ms: int
    reply: str
    reason: str | None
    """Why it failed, in plain words."""
    status: int | None
    """The provider's HTTP status when it answered with an error (401: the key was refused)."""
    provider_message: str | None


def _kept(value: Any) -> Any:
    return KEEP if value is msgspec.UNSET else value


def update_of(data: AiSettingsIn) -> AiUpdate:
    """The service's update from the API's body."""
    providers: dict[str, ProviderUpdate] = {}
    if not isinstance(data.openai, msgspec.UnsetType):
        providers["openai"] = ProviderUpdate(
            api_key=data.openai.api_key,
            remove_api_key=data.openai.remove_api_key,
            base_url=_kept(data.openai.base_url),
            organization=_kept(data.openai.organization),
        )
    if not isinstance(data.gemini, msgspec.UnsetType):
        providers["gemini"] = ProviderUpdate(
            api_key=data.gemini.api_key, remove_api_key=data.gemini.remove_api_key, base_url=_kept(data.gemini.base_url)
        )
    return AiUpdate(provider=_kept(data.provider), model=_kept(data.model), providers=providers)


def trial_of(data: AiTestIn) -> AiTrial:
    return AiTrial(data.provider, data.model, data.api_key, data.base_url, data.organization)


def settings_out(settings: AiSettings) -> AiSettingsOut:
    return AiSettingsOut(
        provider=settings.provider,  # type: ignore[arg-type]
        model=settings.model,
        effective_provider=settings.effective_provider,  # type: ignore[arg-type]
        effective_model=settings.effective_model,
        platform_provider=settings.platform_provider,  # type: ignore[arg-type]
        platform_model=settings.platform_model,
        openai=ProviderOut.of(settings.providers["openai"]),
        gemini=ProviderOut.of(settings.providers["gemini"]),
        suggested_models=suggested_models(),
    )


def connection_out(result: ConnectionTest) -> AiTestOut:
    return AiTestOut(
        ok=result.ok,
        provider=result.provider,
        model=result.model,
        latency_ms=result.latency_ms,
        reply=result.reply,
        reason=result.reason,
        status=result.status,
        provider_message=result.provider_message,
    )


class OrganizationAiController(Controller):
    path = "/api/v1/organization/ai"
    tags = ["organization"]

    @get("/", opt={PERMISSION: WRITE_PERMISSION}, summary="The organization's AI provider, model and keys (as hints)")
    async def read(self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> AiSettingsOut:
        kernel = request.app.state.kernel
        return settings_out(await organization_ai(kernel, db_session, request.scope["user"].tenant_id))

    @put("/", opt={PERMISSION: WRITE_PERMISSION}, summary="Change the AI provider, model, keys or base URLs")
    async def write(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[AiSettingsIn]
    ) -> AiSettingsOut:
        kernel = request.app.state.kernel
        saved = await save_organization_ai(kernel, db_session, request.scope["user"].tenant_id, update_of(data))
        return settings_out(saved)

    @post(
        "/test",
        opt={PERMISSION: WRITE_PERMISSION},
        status_code=200,
        summary="Try the model (stored values, or ones not saved yet): ok or why it failed",
    )
    async def test(
        self, request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], data: JSONBody[AiTestIn]
    ) -> AiTestOut:
        kernel = request.app.state.kernel
        result = await try_organization_ai(kernel, db_session, request.scope["user"].tenant_id, trial_of(data))
        return connection_out(result)


ROUTES = [OrganizationAiController]
