"""AI settings: the organization's model and keys, the platform's defaults, and "test connection".

An organization picks its default provider (``openai``, ``gemini``, or ``offline``: no model, answers
come from the knowledge base) and model (``organizations.ai_provider`` / ``ai_model``; nothing chosen
means the platform's ``ai.provider`` / ``ai.model``). API keys, base URLs and the OpenAI organization
id are stored encrypted under the names :mod:`kernel.llm.credentials` reads (``llm.<provider>.api_key``,
``llm.<provider>.base_url``, ``llm.openai.organization``): the organization's own, or the platform's
without a tenant. Keys are write-only; only their masked hint is ever shown.

A base URL an organization types must pass the outgoing-address rules (:func:`kernel.http.check_url`):
private and internal addresses are refused unless the operator allowed them (``ATENDAI_HTTP_ALLOW``).

"Test connection" asks the model for one word: for an organization through :meth:`LlmGateway.chat`
(metered like any call), for the platform through :meth:`LlmGateway.probe` (no tenant, no ledger).
The answer says whether it worked, which model answered, how long it took and, when it failed, why
in plain words (a refused key, an unknown model, a timeout, an unreachable server, a refused address).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, NoReturn
from uuid import UUID

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.service import record
from kernel.db.scope import in_platform_scope
from kernel.db.session import set_session_scope
from kernel.errors import NotFound, ProviderError, QuotaExceeded, ValidationFailed
from kernel.http import AllowList, OutgoingRequestFailed, UnsafeURL, check_url
from kernel.i18n.catalogs import N_, current_translator, gettext
from kernel.llm.credentials import secret_name
from kernel.llm.gateway import current_gateway
from kernel.llm.pricing import DEFAULT_PRICES
from kernel.llm.providers.base import Credentials, ModelConfig, ProviderFailure, redact
from kernel.secrets import Secret, SecretUnreadable, delete_secret, get_secret, list_secrets, put_secret
from kernel.tenancy.models import Organization
from kernel.tenancy.platform_settings import get_platform_settings, set_platform_setting

__all__ = [
    "DEFAULT_MODELS",
    "KEEP",
    "PROVIDERS",
    "AiSettings",
    "AiTrial",
    "AiUpdate",
    "ConnectionTest",
    "ProviderState",
    "ProviderUpdate",
    "organization_ai",
    "organization_model",
    "platform_ai",
    "platform_model",
    "save_organization_ai",
    "save_platform_ai",
    "suggested_models",
    "try_organization_ai",
    "try_platform_ai",
]

log = structlog.get_logger("kernel.llm.settings")

PROVIDERS: Final = ("openai", "gemini", "offline")
KEYED_PROVIDERS: Final = ("openai", "gemini")
DEFAULT_MODELS: Final = {"openai": "gpt-4o-mini", "gemini": "gemini-2.5-flash", "offline": "offline"}
PLATFORM_PROVIDER = "ai.provider"
PLATFORM_MODEL = "ai.model"
TEST_TIMEOUT = 15.0
"""Seconds the test call may take per attempt: a local server loading its model can be slow to start."""
TEST_MAX_TOKENS = 16
TEST_MESSAGES: Final = (
    {"role": "system", "content": "This is a connection test. Answer with one word."},
    {"role": "user", "content": "Reply with the word OK."},
)
MAX_MODEL, MAX_KEY, MAX_URL, MAX_ORGANIZATION = 120, 500, 500, 100
MODEL_RE = re.compile(r"^[A-Za-z0-9._:/@+\-]+$")
NO_SPACE_RE = re.compile(r"^\S+$")


class _Keep:
    """The "leave it as it is" marker of an update (``None`` means "remove")."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final = _Keep()


def suggested_models() -> dict[str, list[str]]:
    """Chat models the price table knows, per provider: suggestions for the model field."""
    models: dict[str, list[str]] = {"openai": [], "gemini": []}
    for name in DEFAULT_PRICES:
        if "embedding" in name or name == "offline":
            continue
        models["gemini" if name.startswith("gemini") else "openai"].append(name)
    return models


# -- what is stored ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderState:
    """One provider's connection settings, as may be shown (the key only as its hint)."""

    api_key_hint: str | None = None
    api_key_updated_at: datetime | None = None
    base_url: str | None = None
    organization: str | None = None
    platform_key: bool = False
    """The platform holds a key for this provider, used when the organization has none."""


@dataclass(frozen=True)
class AiSettings:
    provider: str | None
    """The chosen provider (``None``: an organization follows the platform's default)."""
    model: str | None
    effective_provider: str
    effective_model: str
    platform_provider: str
    platform_model: str
    providers: dict[str, ProviderState]


async def _platform_values(kernel: Any, session: AsyncSession) -> tuple[str, str]:
    """The platform's default provider and model (``offline`` when nothing is set)."""
    if session.info.get("platform", in_platform_scope()):
        stored = await get_platform_settings(session, [PLATFORM_PROVIDER, PLATFORM_MODEL])
    else:
        # A tenant's session is never switched to the platform scope: read through a session of its own.
        async with kernel.db.session() as reader:
            stored = await get_platform_settings(reader, [PLATFORM_PROVIDER, PLATFORM_MODEL])
    provider = stored.get(PLATFORM_PROVIDER)
    if provider not in PROVIDERS:
        provider = "offline"
    model = stored.get(PLATFORM_MODEL) if provider != "offline" else None
    return provider, str(model or DEFAULT_MODELS[provider])


async def platform_model(kernel: Any, session: AsyncSession) -> tuple[str, str]:
    """``(provider, model)`` organizations use when they chose none."""
    return await _platform_values(kernel, session)


async def _read_plain(session: AsyncSession, name: str, tenant_id: UUID | None) -> str | None:
    """A stored non-key value (a base URL, an organization id); unreadable values count as missing."""
    try:
        return await get_secret(session, name, tenant_id=tenant_id)
    except SecretUnreadable:
        log.warning("llm_setting_unreadable", name=name, tenant_id=str(tenant_id) if tenant_id else None)
        return None


async def _provider_states(
    session: AsyncSession, tenant_id: UUID | None, platform_keys: set[str]
) -> dict[str, ProviderState]:
    stored = {info.name: info for info in await list_secrets(session, tenant_id=tenant_id)}
    states = {}
    for provider in KEYED_PROVIDERS:
        key = stored.get(secret_name(provider, "api_key"))
        base_url = await _read_plain(session, secret_name(provider, "base_url"), tenant_id)
        organization = (
            await _read_plain(session, secret_name(provider, "organization"), tenant_id)
            if provider == "openai"
            else None
        )
        states[provider] = ProviderState(
            api_key_hint=key.hint if key else None,
            api_key_updated_at=key.updated_at if key else None,
            base_url=base_url,
            organization=organization,
            platform_key=provider in platform_keys,
        )
    return states


async def _platform_key_names(kernel: Any) -> set[str]:
    """Which providers the platform holds a key for (names only: the organization never sees them)."""
    async with kernel.db.session() as reader:
        await set_session_scope(reader, platform=True)
        names = {info.name for info in await list_secrets(reader, tenant_id=None)}
    return {provider for provider in KEYED_PROVIDERS if secret_name(provider, "api_key") in names}


async def _organization(session: AsyncSession, tenant_id: UUID) -> Organization:
    org = await session.get(Organization, tenant_id)
    if org is None:
        raise NotFound("Organization not found.")
    return org


async def organization_ai(kernel: Any, session: AsyncSession, tenant_id: UUID) -> AiSettings:
    """The organization's AI settings, with what it actually uses (its own choice, else the platform's)."""
    org = await _organization(session, tenant_id)
    platform_provider, platform_model_name = await _platform_values(kernel, session)
    provider, model = _effective(org.ai_provider, org.ai_model, platform_provider, platform_model_name)
    return AiSettings(
        provider=org.ai_provider,
        model=org.ai_model,
        effective_provider=provider,
        effective_model=model,
        platform_provider=platform_provider,
        platform_model=platform_model_name,
        providers=await _provider_states(session, tenant_id, await _platform_key_names(kernel)),
    )


def _effective(
    provider: str | None, model: str | None, platform_provider: str, platform_model_name: str
) -> tuple[str, str]:
    if provider is None or provider not in PROVIDERS:
        return platform_provider, platform_model_name
    if provider == "offline":
        return "offline", DEFAULT_MODELS["offline"]
    if model:
        return provider, model
    if provider == platform_provider:
        return provider, platform_model_name
    return provider, DEFAULT_MODELS[provider]


async def organization_model(kernel: Any, session: AsyncSession, tenant_id: UUID) -> ModelConfig:
    """The organization's default model as a :class:`ModelConfig` for the gateway.

    The key, base URL and organization id are left out: the gateway's credentials resolver reads
    them (the organization's, else the platform's) when the call is made.
    """
    settings = await organization_ai(kernel, session, tenant_id)
    return ModelConfig(provider=settings.effective_provider, model=settings.effective_model)  # type: ignore[arg-type]


async def platform_ai(kernel: Any, session: AsyncSession) -> AiSettings:
    """The platform's AI defaults (``session`` in the platform scope)."""
    provider, model = await _platform_values(kernel, session)
    stored = await get_platform_settings(session, [PLATFORM_PROVIDER, PLATFORM_MODEL])
    own_provider = stored.get(PLATFORM_PROVIDER) if stored.get(PLATFORM_PROVIDER) in PROVIDERS else None
    return AiSettings(
        provider=own_provider,
        model=stored.get(PLATFORM_MODEL) if provider != "offline" else None,
        effective_provider=provider,
        effective_model=model,
        platform_provider=provider,
        platform_model=model,
        providers=await _provider_states(session, None, set()),
    )


# -- changing it ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderUpdate:
    """Changes to one provider's connection: ``KEEP`` leaves a value, ``None`` (or ``""``) removes it."""

    api_key: str | None = None
    """A new key; ``None`` or empty keeps the stored one (keys are write-only)."""
    remove_api_key: bool = False
    base_url: str | _Keep | None = KEEP
    organization: str | _Keep | None = KEEP


@dataclass(frozen=True)
class AiUpdate:
    provider: str | _Keep | None = KEEP
    """``None``: follow the platform's default (an organization), or no default at all (the platform)."""
    model: str | _Keep | None = KEEP
    providers: dict[str, ProviderUpdate] = field(default_factory=dict)


def _error(field_name: str, code: str, msgid: str, **params: Any) -> dict[str, Any]:
    return {"field": field_name, "message": code, "detail": current_translator().gettext(msgid, **params)}


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _url_format_error(url: str, field_name: str) -> dict[str, Any] | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return _error(field_name, "invalid", N_("%(url)s is not a valid web address."), url=url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return _error(field_name, "invalid", N_("%(url)s is not a valid web address."), url=url)
    if parsed.userinfo:
        return _error(field_name, "invalid", N_("Addresses with a user name or password in them are not allowed."))
    return None


async def _url_error(kernel: Any, url: str, field_name: str, *, checked: bool) -> dict[str, Any] | None:
    """Why ``url`` cannot be a model server's address; ``checked``: apply the outgoing-address rules too."""
    if len(url) > MAX_URL:
        return _error(field_name, "too long", N_("Use at most %(count)d characters."), count=MAX_URL)
    problem = _url_format_error(url, field_name)
    if problem is not None or not checked:
        return problem
    try:
        await check_url(url, allow=AllowList.from_settings(kernel.settings))
    except (UnsafeURL, OutgoingRequestFailed) as exc:
        return {
            "field": field_name,
            "message": "refused" if isinstance(exc, UnsafeURL) else "unreachable",
            "detail": current_translator().gettext(exc.detail, **exc.params),
        }
    return None


async def _validate(kernel: Any, update: AiUpdate, *, organization: bool) -> tuple[AiUpdate, list[dict[str, Any]]]:
    """The update with its text cleaned, and every problem found (all fields at once)."""
    errors: list[dict[str, Any]] = []
    provider = update.provider
    if isinstance(provider, str):
        provider = provider.strip() or None
    if provider is not None and not isinstance(provider, _Keep) and provider not in PROVIDERS:
        errors.append(_error("provider", "unknown", N_("This value is not one of the options.")))
    model = update.model if isinstance(update.model, _Keep) else _clean(update.model)
    if isinstance(model, str):
        if len(model) > MAX_MODEL:
            errors.append(_error("model", "too long", N_("Use at most %(count)d characters."), count=MAX_MODEL))
        elif not MODEL_RE.match(model):
            errors.append(
                _error("model", "invalid", N_("A model name has no spaces: letters, digits and . _ : / @ + - only."))
            )
    providers: dict[str, ProviderUpdate] = {}
    for name, change in update.providers.items():
        if name not in KEYED_PROVIDERS:
            errors.append(_error(name, "unknown", N_("This value is not one of the options.")))
            continue
        key = _clean(change.api_key)
        if key is not None and len(key) > MAX_KEY:
            errors.append(_error(f"{name}.api_key", "too long", N_("Use at most %(count)d characters."), count=MAX_KEY))
        elif key is not None and not NO_SPACE_RE.match(key):
            errors.append(_error(f"{name}.api_key", "invalid", N_("An API key has no spaces.")))
        base_url = change.base_url if isinstance(change.base_url, _Keep) else _clean(change.base_url)
        if isinstance(base_url, str):
            problem = await _url_error(kernel, base_url, f"{name}.base_url", checked=organization)
            if problem is not None:
                errors.append(problem)
        org_id = change.organization if isinstance(change.organization, _Keep) else _clean(change.organization)
        if name != "openai":
            org_id = KEEP
        elif isinstance(org_id, str):
            if len(org_id) > MAX_ORGANIZATION:
                errors.append(
                    _error(
                        "openai.organization",
                        "too long",
                        N_("Use at most %(count)d characters."),
                        count=MAX_ORGANIZATION,
                    )
                )
            elif not NO_SPACE_RE.match(org_id):
                errors.append(_error("openai.organization", "invalid", N_("An organization id has no spaces.")))
        providers[name] = ProviderUpdate(
            api_key=key, remove_api_key=change.remove_api_key, base_url=base_url, organization=org_id
        )
    return AiUpdate(provider=provider, model=model, providers=providers), errors


FIELD_LABELS: Final = {
    "provider": N_("Provider"),
    "model": N_("Model"),
    "api_key": N_("API key"),
    "base_url": N_("Base URL"),
    "organization": N_("OpenAI organization id"),
    "openai.api_key": N_("OpenAI API key"),
    "openai.base_url": N_("OpenAI base URL"),
    "openai.organization": N_("OpenAI organization id"),
    "gemini.api_key": N_("Gemini API key"),
    "gemini.base_url": N_("Gemini base URL"),
}
"""How a field is named in a message that lists several."""


def _raise(errors: list[dict[str, Any]]) -> NoReturn:
    """One problem: its own sentence. Several: a summary naming the fields (each keeps its sentence)."""
    if len(errors) == 1:
        raise ValidationFailed(errors[0]["detail"], errors=errors)
    t = current_translator()
    names = dict.fromkeys(t.gettext(FIELD_LABELS.get(str(e["field"]), str(e["field"]))) for e in errors)
    raise ValidationFailed("Check these fields: %(fields)s.", errors=errors, fields=", ".join(names))


async def _apply_connections(
    session: AsyncSession, providers: dict[str, ProviderUpdate], tenant_id: UUID | None
) -> None:
    """Store the keys, base URLs and organization ids (each audited by the secrets store)."""
    for provider, change in providers.items():
        key_name = secret_name(provider, "api_key")
        if change.api_key:
            await put_secret(session, key_name, change.api_key, tenant_id=tenant_id)
        elif change.remove_api_key:
            await delete_secret(session, key_name, tenant_id=tenant_id)
        for what in ("base_url", "organization"):
            value = getattr(change, what)
            if isinstance(value, _Keep):
                continue
            name = secret_name(provider, what)
            if value is None:
                await delete_secret(session, name, tenant_id=tenant_id)
            elif value != await _read_plain(session, name, tenant_id):
                await put_secret(session, name, value, tenant_id=tenant_id)


def _snapshot(settings: AiSettings) -> dict[str, Any]:
    """What the audit trail compares (keys are audited by the secrets store, as their hints)."""
    values: dict[str, Any] = {"provider": settings.provider, "model": settings.model}
    for provider, state in settings.providers.items():
        values[f"{provider}.base_url"] = state.base_url
        if provider == "openai":
            values["openai.organization"] = state.organization
    return values


async def save_organization_ai(kernel: Any, session: AsyncSession, tenant_id: UUID, update: AiUpdate) -> AiSettings:
    """Change the organization's AI settings; every invalid field is reported at once. Audited."""
    clean, errors = await _validate(kernel, update, organization=True)
    if errors:
        _raise(errors)
    before = await organization_ai(kernel, session, tenant_id)
    org = await _organization(session, tenant_id)
    if not isinstance(clean.provider, _Keep):
        org.ai_provider = clean.provider
    if not isinstance(clean.model, _Keep):
        org.ai_model = clean.model
    if org.ai_provider in (None, "offline"):
        org.ai_model = None  # the platform's default and the offline mode bring their own model
    await session.flush()
    await _apply_connections(session, clean.providers, tenant_id)
    after = await organization_ai(kernel, session, tenant_id)
    if _snapshot(before) != _snapshot(after):
        await record(
            session,
            action="organization.ai_settings_changed",
            target_type="organization",
            target_id=tenant_id,
            before=_snapshot(before),
            after=_snapshot(after),
        )
    return after


async def save_platform_ai(kernel: Any, session: AsyncSession, update: AiUpdate) -> AiSettings:
    """Change the platform's AI defaults (``session`` in the platform scope). Audited in the platform's chain."""
    clean, errors = await _validate(kernel, update, organization=False)
    if errors:
        _raise(errors)
    before = await platform_ai(kernel, session)
    provider = before.provider if isinstance(clean.provider, _Keep) else clean.provider
    model = before.model if isinstance(clean.model, _Keep) else clean.model
    if provider in (None, "offline"):
        model = None
    await set_platform_setting(session, PLATFORM_PROVIDER, provider)
    await set_platform_setting(session, PLATFORM_MODEL, model)
    await _apply_connections(session, clean.providers, None)
    after = await platform_ai(kernel, session)
    if _snapshot(before) != _snapshot(after):
        await record(
            session,
            action="platform.ai_defaults_changed",
            target_type="platform",
            target_id="ai",
            before=_snapshot(before),
            after=_snapshot(after),
            tenant_id=None,
        )
    return after


# -- test connection ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AiTrial:
    """Values to try before saving them; each one missing comes from what is stored."""

    provider: str | None = None
    model: str | None = None
    api_key: str | None = None
    base_url: str | None = None
    organization: str | None = None


@dataclass(frozen=True)
class ConnectionTest:
    ok: bool
    provider: str
    model: str
    latency_ms: int
    reply: str = ""
    """What the model wrote (cut short)."""
    reason: str | None = None
    """Why it failed, in plain words and the reader's language."""
    status: int | None = None
    """The provider's HTTP status, when it answered with an error."""
    provider_message: str | None = None
    """The provider's own error text (keys removed)."""

    @classmethod
    def refused(cls, trial: Any, default_provider: str, exc: ValidationFailed) -> ConnectionTest:
        """A test that never reached the provider: the input was malformed (a key with spaces)."""
        return cls(
            ok=False,
            provider=trial.provider or default_provider,
            model=trial.model or "",
            latency_ms=0,
            reason=current_translator().gettext(exc.detail, **exc.params),
        )


def _elapsed(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _failure_reason(
    failure: ProviderFailure | None, provider: str, model: str, timeout: float
) -> tuple[str, int | None]:
    """A sentence for a failed call: what a person should check."""
    if failure is None:
        return gettext("The AI provider %(provider)s did not answer. Try again in a moment.", provider=provider), None
    status = failure.status
    if failure.circuit_open:
        reason = gettext("Calls to this model are paused after repeated failures. Try again in a minute.")
    elif status in (401, 403):
        reason = gettext(
            "The provider refused the API key (HTTP %(status)s). Check that it is complete and still active.",
            status=status,
        )
    elif status == 404:
        reason = gettext("The provider does not know the model %(model)s (HTTP 404). Check its name.", model=model)
    elif status == 402:
        reason = gettext("The provider refused the request: the account has no credit (HTTP 402).")
    elif status == 429:
        reason = gettext(
            "The provider is limiting requests or the account's quota is used up (HTTP 429). Check the plan and "
            "billing at the provider, or try again later."
        )
    elif status is not None and (status >= 500 or status == 408):
        reason = gettext(
            "The provider had a problem of its own (HTTP %(status)s). Try again in a moment.", status=status
        )
    elif status is not None:
        reason = gettext("The provider refused the request (HTTP %(status)s). Its message is below.", status=status)
    elif failure.message.startswith("no API key"):
        reason = gettext("There is no API key for %(provider)s yet. Enter one.", provider=provider)
    elif failure.message.startswith(("no answer within", "the request timed out")):
        # Messages the gateway and the providers give a timeout (kernel/llm/gateway.py, providers/*.py).
        seconds = f"{timeout:g}"
        reason = gettext("The provider did not answer within %(seconds)s seconds.", seconds=seconds)
    elif failure.message.startswith("connection failed"):
        reason = gettext("The server could not be reached. Check the base URL and that the server is running.")
    else:
        reason = gettext("The call failed before the provider answered. The details are below.")
    return reason, status


def _provider_text(failure: ProviderFailure | None, *secrets: Any) -> str | None:
    if failure is None or not failure.message:
        return None
    text = redact(failure.message, *secrets)
    return re.sub(r"^HTTP \d+: ", "", text)[:300] or None


async def _run_test(
    call: Any, provider: str, model: str, answer_within: float, typed_key: str | None
) -> ConnectionTest:
    """Make the test call and turn every way it can fail into a :class:`ConnectionTest`."""
    started = time.perf_counter()
    try:
        result = await call()
    except ProviderError as exc:
        failure = exc.__cause__ if isinstance(exc.__cause__, ProviderFailure) else None
        reason, status = _failure_reason(failure, provider, model, answer_within)
        return ConnectionTest(
            ok=False,
            provider=provider,
            model=model,
            latency_ms=_elapsed(started),
            reason=reason,
            status=status,
            provider_message=_provider_text(failure, typed_key),
        )
    except (UnsafeURL, OutgoingRequestFailed, QuotaExceeded) as exc:
        return ConnectionTest(
            ok=False,
            provider=provider,
            model=model,
            latency_ms=_elapsed(started),
            reason=gettext(exc.detail, **exc.params),
        )
    except SecretUnreadable:
        return ConnectionTest(
            ok=False,
            provider=provider,
            model=model,
            latency_ms=_elapsed(started),
            reason=gettext("The stored API key cannot be read (the encryption keys changed). Enter it again."),
        )
    return ConnectionTest(
        ok=True,
        provider=result.provider,
        model=result.model,
        latency_ms=result.latency_ms or _elapsed(started),
        reply=result.text.strip()[:200],
    )


async def _check_trial(
    kernel: Any, trial: AiTrial, provider: str, *, organization: bool
) -> tuple[AiTrial, ConnectionTest | None]:
    """The trial cleaned up, for ``provider``; a failed result right away when its base URL is refused.

    Malformed values (a key with spaces, an unknown provider) raise :class:`ValidationFailed`.
    """
    keyed = provider in KEYED_PROVIDERS
    change = ProviderUpdate(api_key=trial.api_key, organization=trial.organization if provider == "openai" else KEEP)
    clean, errors = await _validate(
        kernel,
        AiUpdate(
            provider=trial.provider if trial.provider else KEEP,
            model=trial.model if trial.model else KEEP,
            providers={provider: change} if keyed else {},
        ),
        organization=organization,
    )
    if errors:
        # A trial's fields are flat (``api_key``, not ``openai.api_key``): it is for one provider.
        _raise([{**error, "field": str(error["field"]).rsplit(".", 1)[-1]} for error in errors])
    checked = clean.providers.get(provider, ProviderUpdate())
    cleaned = AiTrial(
        provider=provider,
        model=None if isinstance(clean.model, _Keep) else clean.model,
        api_key=checked.api_key if keyed else None,
        base_url=_clean(trial.base_url) if keyed else None,
        organization=checked.organization if isinstance(checked.organization, str) else None,
    )
    if cleaned.base_url is not None:
        problem = await _url_error(kernel, cleaned.base_url, "base_url", checked=organization)
        if problem is not None:
            return cleaned, ConnectionTest(
                ok=False, provider=provider, model=cleaned.model or "", latency_ms=0, reason=str(problem["detail"])
            )
    return cleaned, None


def _offline_result() -> ConnectionTest:
    """Nothing to connect to: the offline mode answers from the knowledge base, so it always works."""
    return ConnectionTest(ok=True, provider="offline", model=DEFAULT_MODELS["offline"], latency_ms=0)


async def try_organization_ai(
    kernel: Any, session: AsyncSession, tenant_id: UUID, trial: AiTrial, *, answer_within: float = TEST_TIMEOUT
) -> ConnectionTest:
    """Ask the organization's model (or the values being tried) for one word, through the gateway.

    The call is metered in the usage ledger like any other. Raises :class:`ValidationFailed` only for
    malformed input; a refused key, an unknown model, a refused address and so on come back as a
    failed :class:`ConnectionTest` with the reason.
    """
    stored = await organization_ai(kernel, session, tenant_id)
    requested = _clean(trial.provider)
    if requested is not None and requested not in PROVIDERS:
        _raise([_error("provider", "unknown", N_("This value is not one of the options."))])
    provider = requested or stored.effective_provider
    trial, refused = await _check_trial(kernel, trial, provider, organization=True)
    if provider == "offline":
        return _offline_result()
    model = trial.model or (
        stored.effective_model
        if provider == stored.effective_provider
        else _effective(provider, None, stored.platform_provider, stored.platform_model)[1]
    )
    if refused is not None:
        return replace(refused, model=model)
    config = ModelConfig(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        api_key=Secret(trial.api_key) if trial.api_key else None,
        base_url=trial.base_url,
        organization=trial.organization,
        max_tokens=TEST_MAX_TOKENS,
        timeout=answer_within,
    )
    gateway = current_gateway(kernel)
    return await _run_test(
        lambda: gateway.chat(tenant_id=tenant_id, messages=list(TEST_MESSAGES), model=config, max_tool_rounds=0),
        provider,
        model,
        answer_within,
        trial.api_key,
    )


async def _platform_credentials(session: AsyncSession, provider: str, trial: AiTrial) -> Credentials:
    """The platform's stored key, base URL and organization id, with the values being tried on top."""
    api_key: Any = Secret(trial.api_key) if trial.api_key else None
    if api_key is None:
        stored = await get_secret(session, secret_name(provider, "api_key"), tenant_id=None)
        api_key = Secret(stored) if stored else None
    base_url = trial.base_url or await _read_plain(session, secret_name(provider, "base_url"), None)
    organization = None
    if provider == "openai":
        organization = trial.organization or await _read_plain(session, secret_name("openai", "organization"), None)
    return Credentials(api_key=api_key, base_url=base_url, organization=organization)


async def try_platform_ai(
    kernel: Any, session: AsyncSession, trial: AiTrial, *, answer_within: float = TEST_TIMEOUT
) -> ConnectionTest:
    """Ask the platform's default model (or the values being tried) for one word, once.

    No organization pays for it: :meth:`LlmGateway.probe` calls the provider without a tenant, so
    nothing goes to the usage ledger, and without retries. ``session`` is in the platform scope.
    """
    stored = await platform_ai(kernel, session)
    requested = _clean(trial.provider)
    if requested is not None and requested not in PROVIDERS:
        _raise([_error("provider", "unknown", N_("This value is not one of the options."))])
    provider = requested or stored.effective_provider
    trial, refused = await _check_trial(kernel, trial, provider, organization=False)
    if provider == "offline":
        return _offline_result()
    model = trial.model or (
        stored.effective_model if provider == stored.effective_provider else DEFAULT_MODELS[provider]
    )
    if refused is not None:
        return replace(refused, model=model)
    config = ModelConfig(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        max_tokens=TEST_MAX_TOKENS,
        timeout=answer_within,
    )
    gateway = current_gateway(kernel)

    async def call() -> Any:
        credentials = await _platform_credentials(session, provider, trial)
        return await gateway.probe(messages=list(TEST_MESSAGES), model=config, credentials=credentials)

    return await _run_test(call, provider, model, answer_within, trial.api_key)
