"""The AI settings page ``/app/-/ai``: provider cards, model, keys per provider, "Test connection", "Save".

The form names its fields like the API's errors (``provider``, ``openai.model``, ``openai.api_key``,
``openai.base_url``, ``openai.organization``, ``gemini.*``); only the chosen provider's fields show.
The helpers below are shared with the platform's defaults page, which edits the same kind of form.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.errors import ValidationFailed
from kernel.i18n.catalogs import N_, current_translator
from kernel.llm.settings import (
    DEFAULT_MODELS,
    KEEP,
    KEYED_PROVIDERS,
    AiSettings,
    AiTrial,
    AiUpdate,
    ConnectionTest,
    ProviderUpdate,
    organization_ai,
    save_organization_ai,
    suggested_models,
    try_organization_ai,
)
from kernel.rbac.guard import PERMISSION
from kernel.web.nav import KERNEL_PAGES
from kernel.web.shell import form_values, fragment, page

__all__ = ["ROUTES", "ai_form_context", "form_errors", "trial_from_form", "update_from_form"]

AI_PAGE = f"{KERNEL_PAGES}/ai"
OPT = {PERMISSION: "kernel.organization.write"}
PROVIDER_LABELS = {"openai": "OpenAI", "gemini": "Google Gemini", "offline": N_("Offline")}
PLATFORM_CHOICE = ""
"""The form's value for "follow the platform's default" (the organization stores ``None``)."""


def update_from_form(form: Any, *, organization: bool) -> AiUpdate:
    """The service's update from the posted form; a field the form did not send is left as it is."""
    provider = str(form.get("provider") or "").strip() if "provider" in form else None
    chosen: Any = KEEP
    if provider is not None:
        chosen = None if provider == PLATFORM_CHOICE else provider
    model: Any = KEEP
    if isinstance(chosen, str) and chosen in KEYED_PROVIDERS and f"{chosen}.model" in form:
        model = str(form.get(f"{chosen}.model") or "")
    elif chosen is None or chosen == "offline":
        model = None
    providers = {}
    for name in KEYED_PROVIDERS:
        fields = {key: form.get(f"{name}.{key}") for key in ("base_url", "organization") if f"{name}.{key}" in form}
        providers[name] = ProviderUpdate(
            api_key=str(form.get(f"{name}.api_key") or "") or None,
            remove_api_key=f"{name}.remove_api_key" in form,
            base_url=str(fields["base_url"] or "") if "base_url" in fields else KEEP,
            organization=str(fields["organization"] or "") if name == "openai" and "organization" in fields else KEEP,
        )
    if not organization and chosen is None:
        chosen = "offline"
    return AiUpdate(provider=chosen, model=model, providers=providers)


def trial_from_form(form: Any, settings: AiSettings) -> AiTrial:
    """What "Test connection" tries: the chosen provider with the values typed for it."""
    chosen = str(form.get("provider") or "").strip()
    provider = chosen or settings.effective_provider
    if provider not in KEYED_PROVIDERS:
        return AiTrial(provider=provider)
    return AiTrial(
        provider=provider,
        model=(str(form.get(f"{provider}.model") or "").strip() or None) if chosen else None,
        api_key=str(form.get(f"{provider}.api_key") or "").strip() or None,
        base_url=str(form.get(f"{provider}.base_url") or "").strip() or None,
        organization=(str(form.get("openai.organization") or "").strip() or None) if provider == "openai" else None,
    )


def form_errors(exc: ValidationFailed) -> dict[str, str]:
    """Messages by form field (the services put a translated ``detail`` on each), ``""`` summing up."""
    t = current_translator()
    messages = {
        str(e["field"]): str(e.get("detail") or "") for e in exc.errors if isinstance(e, dict) and e.get("field")
    }
    summary = t.gettext(exc.detail, **exc.params)
    if summary not in messages.values():  # one field's own sentence is not repeated at the top
        messages[""] = summary
    return messages


def _stored_values(settings: AiSettings, *, organization: bool) -> dict[str, Any]:
    chosen = settings.provider if settings.provider is not None else (PLATFORM_CHOICE if organization else "offline")
    values: dict[str, Any] = {"provider": chosen}
    for name in KEYED_PROVIDERS:
        state = settings.providers[name]
        values[f"{name}.model"] = settings.model if settings.provider == name and settings.model else ""
        values[f"{name}.base_url"] = state.base_url or ""
        if name == "openai":
            values["openai.organization"] = state.organization or ""
    return values


def _typed_values(form: Any, settings: AiSettings, *, organization: bool) -> dict[str, Any]:
    values = _stored_values(settings, organization=organization)
    for key in list(values):
        if key in form:
            values[key] = str(form.get(key) or "")
    for name in KEYED_PROVIDERS:
        values[f"{name}.remove_api_key"] = f"{name}.remove_api_key" in form
    return values


def ai_form_context(
    settings: AiSettings,
    *,
    organization: bool,
    action: str,
    test_action: str,
    form: Any = None,
) -> dict[str, Any]:
    """Everything ``ai/_form.html`` draws: the provider cards, the stored (or typed) values, the hints."""
    t = current_translator()
    platform_label = t.gettext(PROVIDER_LABELS[settings.platform_provider])
    choices = []
    if organization:
        platform_text = (
            t.gettext("Now: the offline mode, no model.")
            if settings.platform_provider == "offline"
            else t.gettext("Now: %(model)s.", model=" · ".join((platform_label, settings.platform_model or "")))
        )
        choices.append(
            {"value": PLATFORM_CHOICE, "label": t.gettext("Platform default"), "icon": "layers", "text": platform_text}
        )
    choices += [
        {
            "value": "openai",
            "label": "OpenAI",
            "icon": "sparkles",
            "text": t.gettext("GPT models, or any OpenAI-compatible server."),
        },
        {
            "value": "gemini",
            "label": "Google Gemini",
            "icon": "brain",
            "text": t.gettext("Gemini models from Google AI Studio."),
        },
        {
            "value": "offline",
            "label": t.gettext("Offline"),
            "icon": "book-open",
            "text": t.gettext("No model: answers come from your knowledge base."),
        },
    ]
    values = (
        _typed_values(form, settings, organization=organization)
        if form is not None
        else _stored_values(settings, organization=organization)
    )
    return {
        "settings": settings,
        "organization_form": organization,
        "choices": choices,
        "values": values,
        "action": action,
        "test_action": test_action,
        "default_models": DEFAULT_MODELS,
        "suggested": suggested_models(),
    }


@get(AI_PAGE, opt=OPT, include_in_schema=False, name="ai-settings")
async def ai_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    settings = await organization_ai(kernel, db_session, request.scope["user"].tenant_id)
    context = ai_form_context(settings, organization=True, action=AI_PAGE, test_action=f"{AI_PAGE}/test")
    return page(request, "ai/index.html", errors={}, **context)


@post(AI_PAGE, opt=OPT, include_in_schema=False, status_code=200)
async def ai_submit(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    tenant_id = request.scope["user"].tenant_id
    form = await form_values(request)
    try:
        saved = await save_organization_ai(kernel, db_session, tenant_id, update_from_form(form, organization=True))
    except ValidationFailed as exc:
        settings = await organization_ai(kernel, db_session, tenant_id)
        context = ai_form_context(settings, organization=True, action=AI_PAGE, test_action=f"{AI_PAGE}/test", form=form)
        return fragment(request, "ai/_form.html", status_code=422, errors=form_errors(exc), **context)
    context = ai_form_context(saved, organization=True, action=AI_PAGE, test_action=f"{AI_PAGE}/test")
    return fragment(
        request,
        "ai/_form.html",
        toast_message=current_translator().gettext("AI settings saved."),
        errors={},
        **context,
    )


def connection_result(request: Request[Any, Any, Any], result: ConnectionTest) -> Template:
    """The result box of "Test connection"."""
    label = PROVIDER_LABELS.get(result.provider, result.provider)
    return fragment(request, "ai/_test_result.html", result=result, provider_label=current_translator().gettext(label))


@post(f"{AI_PAGE}/test", opt=OPT, include_in_schema=False, status_code=200)
async def ai_test(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    kernel = request.app.state.kernel
    tenant_id = request.scope["user"].tenant_id
    form = await form_values(request)
    settings = await organization_ai(kernel, db_session, tenant_id)
    trial = trial_from_form(form, settings)
    try:
        result = await try_organization_ai(kernel, db_session, tenant_id, trial)
    except ValidationFailed as exc:  # malformed input: said in the result box, next to the button pressed
        result = ConnectionTest.refused(trial, settings.effective_provider, exc)
    return connection_result(request, result)


ROUTES = [ai_page, ai_submit, ai_test]
