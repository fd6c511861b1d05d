"""Per-request context: a request id, one structured log line per request, and a clean tenant scope."""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

import structlog
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from kernel.db.scope import isolated_scope
from kernel.i18n.catalogs import reset_translator, restore_translator

__all__ = ["RequestContextMiddleware", "RequestInfo", "current_request"]


@dataclass(frozen=True)
class RequestInfo:
    """Who is on the other end of the current request (for the audit trail and rate limits)."""

    request_id: str
    ip: str | None
    user_agent: str | None
    actor_id: UUID | None = None
    """The authenticated user (for an API token, the person who created it), set by authentication."""
    actor_type: str | None = None
    """``user`` or ``api_token``, as the audit trail names them."""
    actor_label: str | None = None
    """How the audit trail names the caller: an email, ``API token <name>``, or ``admin@x (as user@y)``."""


_request: ContextVar[RequestInfo | None] = ContextVar("atendai_request", default=None)


def current_request() -> RequestInfo | None:
    """The current request's id, client address, user agent and user; ``None`` outside a request."""
    return _request.get()


def set_request_actor(actor_id: UUID | None, actor_type: str | None = None, actor_label: str | None = None) -> None:
    """Remember who the request's caller is, so audit entries written anywhere in it name them."""
    info = _request.get()
    if info is not None:
        _request.set(replace(info, actor_id=actor_id, actor_type=actor_type, actor_label=actor_label))


_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
log = structlog.get_logger("kernel.http")


class RequestContextMiddleware:
    """Outermost ASGI middleware. Nothing a request sets (tenant, log fields) outlives it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status: dict[str, Any] = {"code": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        client = scope.get("client")
        user_agent = headers.get(b"user-agent", b"").decode("latin-1")[:500] or None
        token = _request.set(RequestInfo(request_id, client[0] if client else None, user_agent))
        started = time.perf_counter()
        saved = structlog.contextvars.get_contextvars()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        translator_token = reset_translator()
        try:
            with isolated_scope():
                await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    status=status["code"],
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**saved)
            _request.reset(token)
            restore_translator(translator_token)
