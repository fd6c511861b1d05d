"""Authentication of every request that is not marked public.

* ``Authorization: Bearer <jwt>``: an access token (API clients, scripts);
* ``Authorization: Bearer atd_...``: an API token (integrations);
* the ``atendai_access`` cookie: the browser's session, with a double-submit CSRF check on every
  unsafe method (the ``X-CSRF-Token`` header must equal the ``atendai_csrf`` cookie).
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from kernel.auth.actor import Actor, load_api_token_actor, load_user_actor
from kernel.auth.jwt import InvalidAccessToken, decode_access
from kernel.auth.secrets import API_TOKEN_PREFIX, same_secret
from kernel.cache import cache_key
from kernel.db.scope import set_current_scope
from kernel.errors import Forbidden
from kernel.i18n.catalogs import N_
from kernel.web.context import set_request_actor

__all__ = [
    "ACCESS_COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "PUBLIC",
    "REFRESH_COOKIE",
    "AuthMiddleware",
    "auth_middleware",
    "browser_origin_guard",
    "revoked_key",
]

PUBLIC = "public"
"""Route ``opt`` key marking a route as reachable without authentication."""
ACCESS_COOKIE = "atendai_access"
REFRESH_COOKIE = "atendai_refresh"
CSRF_COOKIE = "atendai_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    slug, title = "csrf-failed", N_("Forbidden")


def revoked_key(jti: str) -> str:
    return cache_key(None, "revoked-access", jti)


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        kernel = connection.app.state.kernel
        header = connection.headers.get("authorization")
        actor: Actor | None
        if header:
            scheme, _, credential = header.partition(" ")
            credential = credential.strip()
            if scheme.lower() != "bearer" or not credential:
                raise NotAuthorizedException("Use 'Authorization: Bearer <token>'.")
            if credential.startswith(API_TOKEN_PREFIX):
                actor = await load_api_token_actor(kernel, credential)
            else:
                actor = await self._from_access_token(connection, credential)
        else:
            cookie = connection.cookies.get(ACCESS_COOKIE)
            if not cookie:
                raise NotAuthorizedException("Authentication required.")
            actor = await self._from_access_token(connection, cookie)
            if actor is not None and connection.scope.get("method", "GET") not in SAFE_METHODS:
                _check_csrf(connection)
        if actor is None:
            raise NotAuthorizedException("The token is not valid.")
        set_current_scope(actor.tenant_id, platform=actor.tenant_id is None)
        kind = "platform" if actor.kind == "user" and actor.tenant_id is None else actor.kind
        set_request_actor(actor.user_id, kind, actor.audit_label)
        structlog.contextvars.bind_contextvars(
            tenant_id=str(actor.tenant_id) if actor.tenant_id else None,
            user_id=str(actor.user_id) if actor.user_id else None,
            api_token_id=str(actor.api_token_id) if actor.api_token_id else None,
        )
        return AuthenticationResult(user=actor, auth=actor.kind)

    async def _from_access_token(self, connection: ASGIConnection[Any, Any, Any, Any], token: str) -> Actor | None:
        kernel = connection.app.state.kernel
        try:
            claims = decode_access(kernel.settings.secret_key, token)
        except InvalidAccessToken:
            return None
        if await connection.app.state.auth_store.get(revoked_key(claims.jti)):
            return None
        return await load_user_actor(kernel, claims)


def _check_csrf(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    header = connection.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not same_secret(cookie, header):
        raise CsrfFailed("The form expired or came from another site. Reload the page and try again.")


def browser_origin_guard(connection: ASGIConnection[Any, Any, Any, Any], _: Any) -> None:
    """Public routes that set or clear a session refuse posts a browser sent from another site.

    Browsers name the page's site in ``Origin`` (or ``Referer``) on every cross-site post, including a
    ``<form enctype="text/plain">`` that smuggles JSON; scripts and apps send neither and pass. Without
    this, another site could log a visitor into an account of its choosing, or log them out.
    """
    from urllib.parse import urlparse

    if connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    origin = connection.headers.get("origin") or connection.headers.get("referer")
    if not origin:
        return
    host = urlparse(origin).netloc
    settings = connection.app.state.kernel.settings
    if host in (connection.headers.get("host", ""), urlparse(settings.base_url).netloc):
        return
    raise CsrfFailed("The form expired or came from another site. Reload the page and try again.")


def auth_middleware() -> DefineMiddleware:
    return DefineMiddleware(
        AuthMiddleware,
        exclude=["^/schema", "^/static/", "^/healthz$", "^/readyz$", "^/favicon.ico$"],
        exclude_from_auth_key=PUBLIC,
    )
