"""The shell's own pages: login, logout and the home page every plugin's navigation hangs from.

Forms post to the server (no JavaScript needed); a successful login sets the same cookies as the API
(``atendai_access``, ``atendai_refresh``, ``atendai_csrf``) and goes to the page the person wanted.
Form posts must come from our own origin, which stops another site from logging a visitor in or out.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from kernel.auth import services
from kernel.auth.api import _clear_cookies, _token_response
from kernel.auth.middleware import PUBLIC, REFRESH_COOKIE
from kernel.i18n.catalogs import translator
from kernel.rbac.guard import AUTHENTICATED
from kernel.web.templates import page

__all__ = ["app_home", "login_form", "login_submit", "logout_submit"]


def _safe_next(target: str | None) -> str:
    """Only a path of our own: never an absolute URL an attacker chose."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/app/"


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return False
    return urlparse(origin).netloc == request.headers.get("host", "")


def _login_page(
    request: Request[Any, Any, Any],
    *,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    next_path: str | None = None,
) -> Template:
    current = translator()
    return Template(
        template_name="auth/login.html",
        context={
            "language": current.language if current else "pt-BR",
            "error": error,
            "email": email,
            "next": _safe_next(next_path or request.query_params.get("next")),
        },
        status_code=status,
    )


@get("/auth/login", opt={PUBLIC: True}, include_in_schema=False, name="login")
async def login_form(request: Request[Any, Any, Any]) -> Template:
    return _login_page(request)


@post("/auth/login", opt={PUBLIC: True}, include_in_schema=False, status_code=303)
async def login_submit(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    t = translator()
    say = t.gettext if t else (lambda text, **_: text)
    email = data.get("email", "").strip()
    again = {"email": email, "next_path": data.get("next")}  # a failed attempt keeps both
    if not _same_origin(request):
        return _login_page(
            request, error=say("The form expired. Reload the page and try again."), email=email, status=403
        )
    kernel = request.app.state.kernel
    try:
        async with kernel.db.session() as session:
            user = await services.authenticate(
                kernel, request.app.state.auth_store, session, email, data.get("password", "")
            )
            issued = await services.issue_tokens(kernel, session, user)
            await session.commit()
    except services.TooManyAttempts as exc:
        message = t.ngettext(exc.detail, exc.plural or exc.detail, exc.count or 1, **exc.params) if t else exc.detail
        return _login_page(request, error=message, status=429, **again)
    except services.InvalidCredentials as exc:
        return _login_page(request, error=say(exc.detail, **exc.params), status=401, **again)
    response = _token_response(request, issued)
    return Redirect(path=_safe_next(data.get("next")), status_code=303, cookies=response.cookies)


@post("/auth/logout", opt={PUBLIC: True, "ends_session": True}, include_in_schema=False, status_code=303)
async def logout_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    if _same_origin(request):
        presented = request.cookies.get(REFRESH_COOKIE)
        if presented:
            kernel = request.app.state.kernel
            async with kernel.db.session() as session:
                await services.revoke_refresh_token(session, presented)
                await session.commit()
        from kernel.auth.api import _revoke_presented_access_token

        await _revoke_presented_access_token(request)
    return Redirect(path="/auth/login", status_code=303, cookies=_clear_cookies())


@get("/app/", opt={AUTHENTICATED: True}, include_in_schema=False, name="home")
async def app_home(request: Request[Any, Any, Any]) -> Template:
    return page(request, "app/home.html")
