"""Typed errors and their RFC 9457 problem details.

Services raise these; the app turns them (and Litestar's own HTTP errors) into
``application/problem+json`` bodies with a stable ``type``. No stack trace ever reaches a client.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from kernel.i18n.catalogs import KERNEL_DOMAIN, N_, Translator, negotiate_language, translator

__all__ = [
    "Conflict",
    "Forbidden",
    "KernelError",
    "NotFound",
    "PluginDisabled",
    "ProviderError",
    "QuotaExceeded",
    "ValidationFailed",
    "problem_response",
]

PROBLEM_BASE = "https://atendai.dev/problems/"
log = structlog.get_logger("kernel.errors")


class KernelError(Exception):
    """Base of every error a service may raise on purpose.

    ``detail`` is an English msgid with ``%(name)s`` placeholders filled from ``params``, so the
    response can be translated into the caller's language: ``NotFound("No plan %(plan)s.", plan=code)``.
    """

    status = 400
    slug = "bad-request"
    title = N_("Bad request")

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        plural: str | None = None,
        count: int | None = None,
        **params: Any,
    ) -> None:
        self.detail = detail or self.title
        self.plural = plural
        """With ``count``: the plural form of ``detail``, chosen per language at response time."""
        self.count = count
        self.params = params
        super().__init__(self.detail % params if params else self.detail)
        self.errors = errors or []
        self.headers = headers or {}


class NotFound(KernelError):
    status, slug, title = 404, "not-found", N_("Not found")


class Forbidden(KernelError):
    status, slug, title = 403, "forbidden", N_("Forbidden")


class PluginDisabled(Forbidden):
    slug, title = "plugin-disabled", N_("Module not enabled")


class Conflict(KernelError):
    status, slug, title = 409, "conflict", N_("Conflict")


class ValidationFailed(KernelError):
    status, slug, title = 422, "validation-failed", N_("Invalid input")


class QuotaExceeded(KernelError):
    status, slug, title = 429, "quota-exceeded", N_("Quota exceeded")


class ProviderError(KernelError):
    status, slug, title = 502, "provider-error", N_("An outside service failed")


_HTTP_TITLES = {
    400: ("bad-request", N_("Bad request")),
    401: ("unauthorized", N_("Authentication required")),
    403: ("forbidden", N_("Forbidden")),
    404: ("not-found", N_("Not found")),
    405: ("method-not-allowed", N_("Method not allowed")),
    409: ("conflict", N_("Conflict")),
    413: ("payload-too-large", N_("Payload too large")),
    415: ("unsupported-media-type", N_("Unsupported media type")),
    422: ("validation-failed", N_("Invalid input")),
    429: ("too-many-requests", N_("Too many requests")),
    500: ("internal-error", N_("Internal error")),
    503: ("unavailable", N_("Service unavailable")),
}


def problem_response(
    request: Request[Any, Any, Any],
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    request_id = request.scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    return Response(body, status_code=status, media_type="application/problem+json", headers=headers)


def _translator_for(request: Request[Any, Any, Any]) -> Translator:
    """The request's translator, or one chosen here (errors can happen before the request's is set)."""
    current = translator()
    if current is not None:
        return current
    actor = request.scope.get("user")
    state = request.app.state
    language = negotiate_language(
        [getattr(actor, "language", None), getattr(actor, "tenant_language", None)],
        request.headers.get("accept-language"),
        state.kernel.settings.default_language,
    )
    return Translator(catalogs=state.catalogs, language=language, domains=(KERNEL_DOMAIN,))


def handle_kernel_error(request: Request[Any, Any, Any], exc: KernelError) -> Response[dict[str, Any]]:
    t = _translator_for(request)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=t.gettext(exc.title),
        detail=(
            t.ngettext(exc.detail, exc.plural, exc.count, **exc.params)
            if exc.plural is not None and exc.count is not None
            else t.gettext(exc.detail, **exc.params)
        ),
        errors=exc.errors,
        headers=exc.headers or None,
    )


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    t = _translator_for(request)
    slug, english_title = _HTTP_TITLES.get(exc.status_code, ("http-error", N_("Request failed")))
    title = t.gettext(english_title)
    errors: list[dict[str, Any]] | None = None
    detail: str | None = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [
            {"field": item.get("key"), "message": item.get("message"), "source": item.get("source")}
            for item in exc.extra
            if isinstance(item, dict)
        ]
        detail = t.gettext("Some fields are missing or have the wrong type.")
    elif exc.status_code == 401:
        detail = t.gettext("Log in again: the session is missing, expired or was ended.")
    is_page = request.url.path == "/app" or request.url.path.startswith("/app/")
    if is_page and exc.status_code == 401:
        # A page, not an API call: send the person to the login form and back here afterwards.
        return Redirect(path=f"/auth/login?next={quote(request.url.path)}", status_code=303)
    if is_page and exc.status_code == 404:
        return Response(
            f"<!doctype html><title>{title}</title><h1>{title}</h1>",
            status_code=404,
            media_type=MediaType.HTML,
        )
    return problem_response(
        request,
        status=exc.status_code,
        slug=slug,
        title=title,
        detail=detail,
        errors=errors,
        headers=exc.headers,
    )


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    slug, title = _HTTP_TITLES[500]
    return problem_response(
        request, status=HTTP_500_INTERNAL_SERVER_ERROR, slug=slug, title=_translator_for(request).gettext(title)
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    KernelError: handle_kernel_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
