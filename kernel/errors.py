"""Typed errors and their RFC 9457 problem details.

Services raise these; the app turns them (and Litestar's own HTTP errors) into
``application/problem+json`` bodies with a stable ``type``. No stack trace ever reaches a client.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Request, Response
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
        if count is not None:
            params.setdefault("count", count)  # a "%(count)d" in the detail is filled with or without a plural
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


def _is_page(request: Request[Any, Any, Any]) -> bool:
    return request.url.path == "/app" or request.url.path.startswith("/app/")


def _wants_html(request: Request[Any, Any, Any]) -> bool:
    """A page the browser navigated to (not an htmx or fetch call): errors are drawn as a page."""
    if not _is_page(request) or request.headers.get("hx-request") == "true":
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or (request.method == "GET" and "application/json" not in accept)


def _error_page(request: Request[Any, Any, Any], status: int, title: str, detail: str | None) -> Response[Any]:
    from litestar.response import Template

    from kernel.i18n.catalogs import use_translator
    from kernel.web.shell import shell_context

    if translator() is None:
        use_translator(_translator_for(request))  # errors before routing have no translator yet
    context = shell_context(request)
    context.update(status=status, title=title, detail=detail)
    return Template(template_name="error.html", context=context, status_code=status)


def handle_kernel_error(request: Request[Any, Any, Any], exc: KernelError) -> Response[Any]:
    t = _translator_for(request)
    title = t.gettext(exc.title)
    detail = (
        t.ngettext(exc.detail, exc.plural, exc.count, **exc.params)
        if exc.plural is not None and exc.count is not None
        else t.gettext(exc.detail, **exc.params)
    )
    if _wants_html(request):
        return _error_page(request, exc.status, title, detail)
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=title,
        detail=detail,
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
    if _is_page(request) and exc.status_code == 401:
        # A page, not an API call: renew the session from the refresh cookie, or log in, and come back.
        from kernel.web.shell import login_redirect_path

        target = login_redirect_path(request)
        if request.headers.get("hx-request") == "true":
            return Response(None, status_code=200, headers={"HX-Redirect": target})
        return Redirect(path=target, status_code=303)
    if _wants_html(request) and exc.status_code in (403, 404, 405):
        messages = {
            403: N_("You do not have permission to see this page."),
            404: N_("This page does not exist, or it is not available to your organization."),
            405: N_("This page cannot be used this way."),
        }
        return _error_page(request, exc.status_code, title, t.gettext(messages[exc.status_code]))
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
    t = _translator_for(request)
    if _wants_html(request):
        try:
            return _error_page(
                request,
                HTTP_500_INTERNAL_SERVER_ERROR,
                t.gettext(title),
                t.gettext("Something went wrong on our side. Try again in a moment."),
            )
        except Exception:  # the error page itself failed: fall back to the problem document
            log.exception("error_page_failed", path=request.url.path)
    return problem_response(request, status=HTTP_500_INTERNAL_SERVER_ERROR, slug=slug, title=t.gettext(title))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    KernelError: handle_kernel_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
