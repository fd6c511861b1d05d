"""``/ws``: one WebSocket per browser tab or client, carrying the topics it subscribes to.

The socket authenticates itself instead of going through the app's authentication middleware, for two
reasons: a browser cannot set headers on a WebSocket (so a short-lived access token may also come as
``?access_token=``), and a refused handshake reaches a browser only as an anonymous failure, while a
close code (4401) tells the page to refresh its token and reconnect. The header and cookie checks are
the middleware's own (:class:`kernel.auth.middleware.AuthMiddleware`), so both stay one code path.

Protocol, JSON text frames (see ``docs/realtime.md``)::

    -> {"op": "subscribe", "topics": ["events"], "id": 1}   <- {"op": "subscribed", "topics": [...], "id": 1}
    -> {"op": "unsubscribe", "topics": ["events"]}          <- {"op": "unsubscribed", "topics": [...]}
    -> {"op": "ping"}                                       <- {"op": "pong"}
                                                            <- {"op": "message", "topic": "events", "data": {...}}
                                                            <- {"op": "error", "code": "forbidden", ...}
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec
import structlog
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.channels.subscriber import Subscriber
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from litestar.types import Receive, Scope, Send

from kernel.auth.actor import Actor, load_user_actor
from kernel.auth.jwt import InvalidAccessToken, decode_access
from kernel.auth.middleware import PUBLIC, AuthMiddleware, revoked_key
from kernel.auth.secrets import API_TOKEN_PREFIX
from kernel.errors import Forbidden
from kernel.realtime.channels import channel_name, channels_of, is_valid_topic, topic_allowed

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_UNAUTHORIZED",
    "TOKEN_QUERY_PARAM",
    "RealtimeSession",
    "authenticate_socket",
    "realtime_socket",
]

CLOSE_UNAUTHORIZED = 4401
"""No valid credential, or it expired or was revoked: refresh the token and reconnect."""
CLOSE_FORBIDDEN = 4403
"""The account has no organization (platform administrators), so it has no channels."""
TOKEN_QUERY_PARAM = "access_token"  # noqa: S105 - a parameter name, not a secret
RECHECK_SECONDS = 60.0
"""How often a connected socket's credential and permissions are read again."""
EXPIRY_MARGIN_SECONDS = 0.05
MAX_FRAME_CHARS = 8_192
MAX_TOPICS = 100
"""Topics one socket may hold at once."""

log = structlog.get_logger("kernel.realtime")


class ClientFrame(msgspec.Struct):
    op: str
    topics: list[str] = msgspec.field(default_factory=list)
    id: str | int | None = None
    """Echoed in the reply, so a client can match answers to requests."""


class _Published(msgspec.Struct):
    channel: str
    data: msgspec.Raw


_decode_frame = msgspec.json.Decoder(ClientFrame).decode
_decode_published = msgspec.json.Decoder(_Published).decode
_encode = msgspec.json.Encoder().encode


# --- authentication ---------------------------------------------------------------------------------


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("only authenticate_request() of this middleware is used")


_middleware_auth = AuthMiddleware(app=_unused_app, exclude_from_auth_key=PUBLIC)


async def authenticate_socket(socket: WebSocket[Any, Any, Any]) -> Actor | None:
    """The actor behind the socket's credential, or ``None``.

    Tried in order: the ``Authorization`` header (access or API token), ``?access_token=`` (access
    tokens only), the ``atendai_access`` cookie (only from our own origin).
    """
    has_header = bool(socket.headers.get("authorization"))
    query_token = socket.query_params.get(TOKEN_QUERY_PARAM)
    if query_token and not has_header:
        return await _actor_from_query_token(socket, query_token)
    if not has_header and not _same_origin(socket):
        return None
    try:
        result = await _middleware_auth.authenticate_request(socket)
    except (NotAuthorizedException, Forbidden):
        return None
    return result.user


async def _actor_from_query_token(socket: WebSocket[Any, Any, Any], token: str) -> Actor | None:
    # API tokens live for months and URLs end up in logs and proxies' histories: headers only for them.
    if token.startswith(API_TOKEN_PREFIX):
        return None
    kernel = socket.app.state.kernel
    try:
        claims = decode_access(kernel.settings.secret_key, token)
    except InvalidAccessToken:
        return None
    if await socket.app.state.auth_store.get(revoked_key(claims.jti)):
        return None
    return await load_user_actor(kernel, claims)


def _same_origin(socket: WebSocket[Any, Any, Any]) -> bool:
    """Refuse cookie logins from other sites' pages (cross-site WebSocket hijacking).

    Browsers always send ``Origin`` on a WebSocket handshake; other clients may omit it, and cannot
    be tricked into sending someone's cookie.
    """
    origin = socket.headers.get("origin")
    if not origin:
        return True
    netloc = urlsplit(origin).netloc.lower()
    allowed = {
        socket.headers.get("host", "").lower(),
        urlsplit(socket.app.state.kernel.settings.base_url).netloc.lower(),
    }
    return bool(netloc) and netloc in allowed


# --- the route --------------------------------------------------------------------------------------


@websocket("/ws", opt={PUBLIC: True}, name="realtime")
async def realtime_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """Authenticate, then serve the protocol until the client leaves or its credential stops standing."""
    actor = await authenticate_socket(socket)
    await socket.accept()
    if actor is None:
        await socket.close(code=CLOSE_UNAUTHORIZED, reason="unauthorized")
        return
    if actor.tenant_id is None:
        await socket.close(code=CLOSE_FORBIDDEN, reason="no organization")
        return
    structlog.contextvars.bind_contextvars(tenant_id=str(actor.tenant_id), user_id=str(actor.user_id))
    await RealtimeSession(socket, channels_of(socket.app), actor).run()


class RealtimeSession:
    """One connected socket: its actor, its subscriptions, and the tasks that serve them."""

    def __init__(self, socket: WebSocket[Any, Any, Any], channels: ChannelsPlugin, actor: Actor) -> None:
        assert actor.tenant_id is not None
        self.socket = socket
        self.channels = channels
        self.actor = actor
        self.tenant_id: UUID = actor.tenant_id
        """Fixed for the socket's life: every channel it joins is built from this, never from input."""
        self._subscribers: dict[str, Subscriber] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._send_lock = asyncio.Lock()

    async def run(self) -> None:
        reader = asyncio.create_task(self._read_loop())
        watchdog = asyncio.create_task(self._watch())
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            watchdog.cancel()
            await asyncio.gather(reader, watchdog, return_exceptions=True)
            await self._drop_all()
        if reader in done:
            reader.result()  # re-raises an unexpected error; a disconnect ends quietly
            return
        with suppress(WebSocketDisconnect, OSError):
            await self.socket.close(code=watchdog.result(), reason="unauthorized")

    # --- frames from the client

    async def _read_loop(self) -> None:
        while True:
            try:
                text = await self.socket.receive_text()
            except WebSocketDisconnect:
                return
            await self._send(await self._answer(text))

    async def _answer(self, text: str) -> dict[str, Any]:
        if len(text) > MAX_FRAME_CHARS:
            return _error("bad_request", f"Frames are limited to {MAX_FRAME_CHARS} characters.")
        try:
            frame = _decode_frame(text)
        except msgspec.DecodeError as exc:
            return _error("bad_request", f"Not a valid frame: {exc}")
        if frame.op == "subscribe":
            reply = await self._subscribe(frame.topics)
        elif frame.op == "unsubscribe":
            reply = await self._unsubscribe(frame.topics)
        elif frame.op == "ping":
            reply = {"op": "pong"}
        else:
            reply = _error("bad_request", f"Unknown op {frame.op!r}: use subscribe, unsubscribe or ping.")
        if frame.id is not None:
            reply["id"] = frame.id
        return reply

    async def _subscribe(self, requested: list[str]) -> dict[str, Any]:
        """All the topics or none: a client learns exactly which ones it may not have."""
        topics = list(dict.fromkeys(requested))
        if not topics:
            return _error("bad_request", "Name at least one topic.")
        malformed = [topic for topic in topics if not is_valid_topic(topic)]
        if malformed:
            return _error("bad_request", "Topics are dotted lower-case words.", malformed)
        forbidden = [topic for topic in topics if not topic_allowed(self.actor, topic)]
        if forbidden:
            return _error("forbidden", "You may not subscribe to these topics.", forbidden)
        new = [topic for topic in topics if topic not in self._subscribers]
        if len(self._subscribers) + len(new) > MAX_TOPICS:
            return _error("bad_request", f"A connection holds at most {MAX_TOPICS} topics.")
        for topic in new:
            await self._start(topic)
        return {"op": "subscribed", "topics": topics}

    async def _unsubscribe(self, requested: list[str]) -> dict[str, Any]:
        topics = list(dict.fromkeys(requested))
        if not topics:
            return _error("bad_request", "Name at least one topic.")
        for topic in topics:
            await self._stop(topic)
        return {"op": "unsubscribed", "topics": topics}

    # --- subscriptions

    async def _start(self, topic: str) -> None:
        subscriber = await self.channels.subscribe(channel_name(self.tenant_id, topic))
        self._subscribers[topic] = subscriber
        task = asyncio.create_task(self._forward(topic, subscriber))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop(self, topic: str) -> None:
        subscriber = self._subscribers.pop(topic, None)
        if subscriber is not None:
            # Ends the subscriber's stream, so its forwarding task finishes on its own.
            await self.channels.unsubscribe(subscriber, channel_name(self.tenant_id, topic))

    async def _drop_all(self) -> None:
        for topic in list(self._subscribers):
            await self._stop(topic)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _forward(self, topic: str, subscriber: Subscriber) -> None:
        try:
            async for payload in subscriber.iter_events():
                if self._subscribers.get(topic) is not subscriber:
                    continue  # queued before an unsubscribe: the client no longer wants it
                message = _relay(topic, payload)
                if message is not None:
                    await self._send_raw(message)
        except (WebSocketDisconnect, OSError):
            return  # the client left; the read loop ends the session

    # --- the credential over time

    async def _watch(self) -> int:
        """Close code once the credential stops standing; meanwhile, keep the actor current."""
        while True:
            await asyncio.sleep(self._seconds_until_check())
            if self._token_expired():
                return CLOSE_UNAUTHORIZED
            actor = await authenticate_socket(self.socket)
            if actor is None or (actor.tenant_id, actor.user_id, actor.api_token_id) != (
                self.actor.tenant_id,
                self.actor.user_id,
                self.actor.api_token_id,
            ):
                return CLOSE_UNAUTHORIZED
            self.actor = actor
            await self._drop_forbidden()

    def _seconds_until_check(self) -> float:
        expires = self.actor.token_expires_at
        if expires is None:
            return RECHECK_SECONDS
        remaining = (expires - datetime.now(UTC)).total_seconds() + EXPIRY_MARGIN_SECONDS
        return max(0.0, min(RECHECK_SECONDS, remaining))

    def _token_expired(self) -> bool:
        expires = self.actor.token_expires_at
        return expires is not None and expires <= datetime.now(UTC)

    async def _drop_forbidden(self) -> None:
        """A changed role or a disabled plugin takes topics away from sockets already connected."""
        lost = [topic for topic in self._subscribers if not topic_allowed(self.actor, topic)]
        for topic in lost:
            await self._stop(topic)
        if lost:
            await self._send({"op": "unsubscribed", "topics": lost, "reason": "forbidden"})

    # --- frames to the client

    async def _send(self, message: dict[str, Any]) -> None:
        await self._send_raw(_encode(message))

    async def _send_raw(self, data: bytes) -> None:
        async with self._send_lock:  # forwarders and replies share one socket
            await self.socket.send_text(data)


def _relay(topic: str, payload: bytes) -> bytes | None:
    """The client frame for a published payload, without decoding its ``data``."""
    try:
        published = _decode_published(payload)
    except msgspec.DecodeError:
        log.warning("realtime_malformed_message", topic=topic)
        return None
    if published.channel != topic:
        log.warning("realtime_topic_mismatch", topic=topic)
        return None
    return _encode({"op": "message", "topic": topic, "data": published.data})


def _error(code: str, detail: str, topics: list[str] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"op": "error", "code": code, "detail": detail}
    if topics is not None:
        error["topics"] = topics
    return error
