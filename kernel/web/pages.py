"""The shell's own pages: login, logout and the home page every plugin's navigation hangs from.

Forms post to the server (no JavaScript needed); a successful login sets the same cookies as the API
(``atendai_access``, ``atendai_refresh``, ``atendai_csrf``) and goes to the page the person wanted.
Form posts must come from our own origin, which stops another site from logging a visitor in or out.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from kernel.auth import services
from kernel.auth.api import _clear_cookies, _token_response
from kernel.auth.middleware import ACCESS_COOKIE, PUBLIC, REFRESH_COOKIE
from kernel.i18n.catalogs import SUPPORTED_LANGUAGES, translator
from kernel.rbac.guard import AUTHENTICATED
from kernel.tenancy.platform_settings import registration_open
from kernel.web.nav import PLATFORM_PAGES
from kernel.web.shell import FLASH_COOKIE, shell_context
from kernel.web.templates import LANGUAGE_COOKIE, page

__all__ = ["ROUTES", "app_home", "auth_page", "login_form", "login_submit", "logout_submit", "same_origin"]


def _safe_next(target: str | None) -> str:
    """Only a path of our own: never an absolute URL an attacker chose."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/app/"


def same_origin(request: Request[Any, Any, Any]) -> bool:
    """The form was posted from one of our own pages (``Origin``, else ``Referer``, names our host)."""
    return _same_origin(request)


def auth_page(request: Request[Any, Any, Any], template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A page outside the shell (login, registration, password links): language switch and toasts only."""
    values = shell_context(request)
    values.update(context)
    cookies = [Cookie(key=FLASH_COOKIE, value="", max_age=0, path="/")] if values["flash_messages"] else []
    return Template(template_name=template, context=values, status_code=status_code, cookies=cookies)


def _same_origin(request: Request[Any, Any, Any]) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin:
        return False
    return urlparse(origin).netloc == request.headers.get("host", "")


async def _login_page(
    request: Request[Any, Any, Any],
    *,
    error: str | None = None,
    email: str = "",
    status: int = 200,
    next_path: str | None = None,
) -> Template:
    kernel = request.app.state.kernel
    async with kernel.db.session() as session:
        open_for_registration = await registration_open(kernel, session)
    return auth_page(
        request,
        "auth/login.html",
        status_code=status,
        error=error,
        email=email,
        next=_safe_next(next_path or request.query_params.get("next")),
        registration_open=open_for_registration,
    )


@get("/auth/login", opt={PUBLIC: True}, include_in_schema=False, name="login")
async def login_form(request: Request[Any, Any, Any]) -> Template:
    return await _login_page(request)


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
        return await _login_page(
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
        return await _login_page(request, error=message, status=429, **again)
    except services.InvalidCredentials as exc:
        return await _login_page(request, error=say(exc.detail, **exc.params), status=401, **again)
    response = _token_response(request, issued)
    return Redirect(path=_safe_next(data.get("next")), status_code=303, cookies=response.cookies)


@post("/auth/logout", opt={PUBLIC: True, "ends_session": True}, include_in_schema=False, status_code=303)
async def logout_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    if not _same_origin(request):
        # Another site cannot log the visitor out: the session and its cookies stay as they are.
        return Redirect(path="/app/", status_code=303)
    presented = request.cookies.get(REFRESH_COOKIE)
    if presented:
        kernel = request.app.state.kernel
        async with kernel.db.session() as session:
            await services.revoke_refresh_token(session, presented)
            await session.commit()
    from kernel.auth.api import _revoke_presented_access_token

    await _revoke_presented_access_token(request)
    return Redirect(path="/auth/login", status_code=303, cookies=_clear_cookies())


@post("/auth/language", opt={PUBLIC: True}, include_in_schema=False, status_code=303)
async def language_submit(
    request: Request[Any, Any, Any],
    data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response[Any]:
    """Switch the language: a cookie for this browser, and the person's own preference when logged in."""
    language = data.get("language", "")
    target = _safe_next(data.get("next"))
    if language not in SUPPORTED_LANGUAGES or not _same_origin(request):
        return Redirect(path=target, status_code=303)
    await _remember_language(request, language)
    cookie = Cookie(
        key=LANGUAGE_COOKIE, value=language, max_age=365 * 24 * 3600, path="/", httponly=True, samesite="lax"
    )
    return Redirect(path=target, status_code=303, cookies=[cookie])


async def _remember_language(request: Request[Any, Any, Any], language: str) -> None:
    from kernel.auth.jwt import InvalidAccessToken, decode_access
    from kernel.auth.models import User
    from kernel.db.session import set_session_scope

    token = request.cookies.get(ACCESS_COOKIE)
    if not token:
        return
    kernel = request.app.state.kernel
    try:
        claims = decode_access(kernel.settings.secret_key, token)
    except InvalidAccessToken:
        return
    if claims.impersonator_id is not None:
        return  # an administrator looking around does not change the person's preference
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=claims.tenant_id, platform=claims.tenant_id is None)
        user = await session.get(User, claims.user_id)
        if user is not None and user.token_version == claims.token_version and user.language != language:
            user.language = language
            await session.commit()


@get("/app/", opt={AUTHENTICATED: True}, include_in_schema=False, name="home")
async def app_home(request: Request[Any, Any, Any]) -> Response[Any]:
    actor = request.scope["user"]
    if actor.tenant_id is None:
        return Redirect(path=f"{PLATFORM_PAGES}/", status_code=303)
    from kernel.tenancy.onboarding import home_context

    kernel = request.app.state.kernel
    context = await home_context(kernel, request, actor)
    return page(request, "app/home.html", **context)


ROUTES = [login_form, login_submit, logout_submit, language_submit, app_home]
