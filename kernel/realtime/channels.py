"""Tenant-scoped channels: their names, who may join which topic, the backend, and server-side publishing.

A channel's name always carries its tenant (``t:<tenant uuid>:<topic>``) and is only ever built by
:func:`channel_name`, so no code path can put two tenants on one channel. Clients never send channel
names: they name *topics* (``events``, ``conversation.<uuid>``), and the socket joins the channel of its
own tenant. Which topics an actor may join is decided by :class:`TopicRule` entries in
:data:`TOPICS`; a topic that no rule covers is refused, as an undeclared route is.

The backend is Litestar's: Redis pub/sub, PostgreSQL ``LISTEN``/``NOTIFY`` or process memory, chosen by
``ATENDAI_REALTIME_BACKEND`` (see :func:`backend_kind`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import structlog
from litestar import Litestar
from litestar.channels import ChannelsBackend, ChannelsPlugin

from kernel.cache import cache_key
from kernel.config import Settings, SettingsError
from kernel.db.urls import libpq_url

if TYPE_CHECKING:
    from kernel.auth.actor import Actor
    from kernel.runtime import Kernel

__all__ = [
    "CHANNELS_STATE_KEY",
    "KERNEL_TOPICS",
    "TOPICS",
    "TenantChannelsBackend",
    "TopicRegistry",
    "TopicRule",
    "backend_kind",
    "build_channels_plugin",
    "channel_name",
    "channels_of",
    "is_valid_topic",
    "parse_channel",
    "publish",
    "register_topic",
    "topic_allowed",
]

log = structlog.get_logger("kernel.realtime")

CHANNELS_STATE_KEY = "realtime.channels"
"""Key of the app's :class:`ChannelsPlugin` in ``kernel.state``, for publishers that hold only the kernel."""
MAX_TOPIC_LENGTH = 200
# Dotted lower-case words; a uuid is one word. No ':' so that a topic can never spell another tenant's channel.
_TOPIC_RE = re.compile(r"[a-z][a-z0-9_-]*(?:\.[a-z0-9][a-z0-9_-]*)*")
SUBSCRIBER_BACKLOG = 1_000
"""Messages held for one slow socket per topic; older ones are dropped first (real time is best effort)."""
POSTGRES_MAX_PAYLOAD = 7_999
"""``NOTIFY`` refuses payloads of 8000 bytes or more."""
STREAM_RESTART_SECONDS = 1.0

BackendKind = Literal["memory", "redis", "postgres"]


# --- names ------------------------------------------------------------------------------------------


def is_valid_topic(topic: str) -> bool:
    return len(topic) <= MAX_TOPIC_LENGTH and _TOPIC_RE.fullmatch(topic) is not None


def channel_name(tenant_id: UUID, topic: str) -> str:
    """The one way to name a channel: ``t:<tenant uuid>:<topic>`` (the shape of :func:`kernel.cache.cache_key`).

    The tenant must be a real ``UUID`` (never a string a client sent), and platform-wide channels do
    not exist: every message belongs to exactly one organization.
    """
    if not isinstance(tenant_id, UUID):
        raise TypeError(f"tenant_id must be a UUID, not {type(tenant_id).__name__}")
    if not is_valid_topic(topic):
        raise ValueError(f"malformed topic {topic!r}: use dotted lower-case words, e.g. 'conversation.<uuid>'")
    return cache_key(tenant_id, topic)


def parse_channel(name: str) -> tuple[UUID, str]:
    """``(tenant_id, topic)`` of a name built by :func:`channel_name`; ``ValueError`` for anything else."""
    prefix, _, rest = name.partition(":")
    tenant, separator, topic = rest.partition(":")
    if prefix != "t" or not separator:
        raise ValueError(f"not a channel name: {name!r}")
    try:
        tenant_id = UUID(tenant)
    except ValueError as exc:
        raise ValueError(f"not a channel name (tenant): {name!r}") from exc
    if str(tenant_id) != tenant or not is_valid_topic(topic):
        raise ValueError(f"not a channel name: {name!r}")
    return tenant_id, topic


# --- who may join which topic -----------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRule:
    """Who may subscribe to ``prefix`` and the topics below it (``prefix.<anything>``).

    ``permission`` ``None`` means any member of the organization. ``personal`` rules cover
    ``<prefix>.<user id>`` and admit only that user, signed in as themself (not an API token).
    ``plugin`` limits the topic to organizations that have that plugin enabled.
    """

    prefix: str
    permission: str | None = None
    personal: bool = False
    plugin: str | None = None

    def covers(self, topic: str) -> bool:
        return topic == self.prefix or topic.startswith(self.prefix + ".")

    def admits(self, actor: Actor, topic: str) -> bool:
        if self.plugin is not None and self.plugin not in actor.enabled_plugins:
            return False
        if self.permission is not None and not actor.can(self.permission):
            return False
        if self.personal:
            return actor.kind == "user" and actor.user_id is not None and topic == f"{self.prefix}.{actor.user_id}"
        return True


class TopicRegistry:
    """The topic rules; the most specific rule covering a topic decides, and no rule means no."""

    def __init__(self, rules: Iterable[TopicRule] = ()) -> None:
        self._rules: dict[str, TopicRule] = {}
        for rule in rules:
            self.add(rule)

    def register(
        self, prefix: str, permission: str | None = None, *, personal: bool = False, plugin: str | None = None
    ) -> TopicRule:
        return self.add(TopicRule(prefix, permission, personal=personal, plugin=plugin))

    def add(self, rule: TopicRule) -> TopicRule:
        """Add ``rule``; registering the same rule again is harmless, a different rule for its prefix is not."""
        if not is_valid_topic(rule.prefix):
            raise ValueError(f"malformed topic prefix {rule.prefix!r}")
        existing = self._rules.get(rule.prefix)
        if existing is not None and existing != rule:
            raise ValueError(f"topic {rule.prefix!r} is already registered as {existing}")
        self._rules[rule.prefix] = rule
        return rule

    def unregister(self, prefix: str) -> None:
        self._rules.pop(prefix, None)

    def rule_for(self, topic: str) -> TopicRule | None:
        covering = [rule for rule in self._rules.values() if rule.covers(topic)]
        return max(covering, key=lambda rule: len(rule.prefix), default=None)

    def allows(self, actor: Actor, topic: str) -> bool:
        if actor.tenant_id is None or not is_valid_topic(topic):
            return False
        rule = self.rule_for(topic)
        return rule is not None and rule.admits(actor, topic)

    def __iter__(self) -> Iterator[TopicRule]:
        return iter(self._rules.values())


KERNEL_TOPICS = (
    TopicRule("events"),
    TopicRule("notifications.user", personal=True),
)
TOPICS = TopicRegistry(KERNEL_TOPICS)
"""The process's topic rules: the kernel's, plus what plugins add with :func:`register_topic`."""


def register_topic(
    prefix: str, permission: str | None = None, *, personal: bool = False, plugin: str | None = None
) -> TopicRule:
    """Let actors with ``permission`` (any member when ``None``) subscribe to ``prefix`` and below."""
    return TOPICS.register(prefix, permission, personal=personal, plugin=plugin)


def topic_allowed(actor: Actor, topic: str) -> bool:
    return TOPICS.allows(actor, topic)


# --- backends ---------------------------------------------------------------------------------------


def _same_name(channel: str) -> str:
    return channel


def _redis_name(channel: str) -> str:
    # Pub/sub channels are global to the Redis server: keep ours apart from other applications'.
    return f"atendai:rt:{channel}"


def _postgres_name(channel: str) -> str:
    # NOTIFY refuses, and LISTEN silently truncates, names over 63 bytes; ours reach ~90.
    return "atendai_rt_" + hashlib.blake2b(channel.encode(), digest_size=16).hexdigest()


class TenantChannelsBackend(ChannelsBackend):
    """A Litestar backend behind the names the server needs, and one that keeps running after an error.

    Without this wrapper one failed publish (Redis away, a payload too large for ``NOTIFY``) ends the
    plugin's single publishing task, and a broken listener ends its single receiving task: real time
    would stop for the whole process, silently. Here a failed publish is logged and dropped, and the
    event stream is restarted after a pause.
    """

    def __init__(
        self,
        inner: ChannelsBackend,
        kind: BackendKind,
        *,
        wire_name: Callable[[str], str] = _same_name,
        max_payload: int | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.inner = inner
        self.kind = kind
        self._wire_name = wire_name
        self._max_payload = max_payload
        self._close = close
        self._channels_by_wire: dict[str, str] = {}

    async def on_startup(self) -> None:
        await self.inner.on_startup()

    async def on_shutdown(self) -> None:
        try:
            await self.inner.on_shutdown()
        finally:
            if self._close is not None:
                await self._close()

    async def publish(self, data: bytes, channels: Iterable[str]) -> None:
        names = [self._wire_name(channel) for channel in channels]
        if self._max_payload is not None and len(data) > self._max_payload:
            log.error("realtime_message_too_large", backend=self.kind, size=len(data), limit=self._max_payload)
            return
        try:
            await self.inner.publish(data, names)
        except Exception:
            log.exception("realtime_publish_failed", backend=self.kind, channels=len(names))

    async def subscribe(self, channels: Iterable[str]) -> None:
        names = {self._wire_name(channel): channel for channel in channels}
        self._channels_by_wire.update(names)
        await self.inner.subscribe(list(names))

    async def unsubscribe(self, channels: Iterable[str]) -> None:
        names = [self._wire_name(channel) for channel in channels]
        await self.inner.unsubscribe(names)
        for name in names:
            self._channels_by_wire.pop(name, None)

    async def stream_events(self) -> AsyncGenerator[tuple[str, bytes], None]:
        while True:
            try:
                async for name, payload in self.inner.stream_events():
                    channel = self._channels_by_wire.get(name)
                    if channel is not None:
                        yield channel, payload
            except Exception:
                log.exception("realtime_stream_failed", backend=self.kind)
            await asyncio.sleep(STREAM_RESTART_SECONDS)

    async def get_history(self, channel: str, limit: int | None = None) -> list[bytes]:
        return await self.inner.get_history(self._wire_name(channel), limit)


def backend_kind(settings: Settings) -> BackendKind:
    """``ATENDAI_REALTIME_BACKEND``, with ``auto`` meaning Redis when ``REDIS_URL`` is set, else memory."""
    if settings.realtime_backend != "auto":
        return settings.realtime_backend
    return "redis" if settings.redis_url else "memory"


def _build_backend(settings: Settings, database_url: str | None) -> TenantChannelsBackend:
    kind = backend_kind(settings)
    if kind == "redis":
        if not settings.redis_url:
            raise SettingsError("ATENDAI_REALTIME_BACKEND: 'redis' needs REDIS_URL")
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        client = Redis.from_url(settings.redis_url)
        return TenantChannelsBackend(
            RedisChannelsPubSubBackend(redis=client), kind, wire_name=_redis_name, close=client.aclose
        )
    if kind == "postgres":
        from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend

        if database_url is None:
            from kernel.db.session import resolve_database_urls

            database_url = resolve_database_urls(settings).app
        return TenantChannelsBackend(
            AsyncPgChannelsBackend(dsn=libpq_url(database_url)),
            kind,
            wire_name=_postgres_name,
            max_payload=POSTGRES_MAX_PAYLOAD,
        )
    from litestar.channels.backends.memory import MemoryChannelsBackend

    # No history: it would keep every channel ever published to, and clients re-read state over HTTP.
    return TenantChannelsBackend(MemoryChannelsBackend(history=0), kind)


def build_channels_plugin(
    settings: Settings, *, kernel: Kernel | None = None, database_url: str | None = None
) -> ChannelsPlugin:
    """The app's channels. With ``kernel``, it is also kept in ``kernel.state`` for :func:`publish`.

    ``database_url`` (default: the kernel's application URL) is only used by the PostgreSQL backend;
    it connects as the application role, which needs no privilege to ``LISTEN`` and ``NOTIFY``.
    """
    if database_url is None and kernel is not None and backend_kind(settings) == "postgres":
        database_url = kernel.db.urls.app
    plugin = ChannelsPlugin(
        backend=_build_backend(settings, database_url),
        arbitrary_channels_allowed=True,
        subscriber_max_backlog=SUBSCRIBER_BACKLOG,
        subscriber_backlog_strategy="dropleft",
    )
    if kernel is not None:
        kernel.state[CHANNELS_STATE_KEY] = plugin
    return plugin


# --- publishing -------------------------------------------------------------------------------------


def channels_of(target: Litestar | Kernel | ChannelsPlugin) -> ChannelsPlugin:
    """The channels of an app, of the app built on a kernel, or the plugin itself."""
    if isinstance(target, ChannelsPlugin):
        return target
    if isinstance(target, Litestar):
        return target.plugins.get(ChannelsPlugin)
    plugin = target.state.get(CHANNELS_STATE_KEY)
    if plugin is None:
        raise RuntimeError("this kernel has no real-time channels: build the app, or call build_channels_plugin()")
    return plugin


def publish(target: Litestar | Kernel | ChannelsPlugin, tenant_id: UUID, topic: str, data: dict[str, Any]) -> bool:
    """Send ``data`` to the sockets of ``tenant_id`` subscribed to ``topic``; returns at once.

    Subscribers receive ``{"op": "message", "topic": topic, "data": data}``. Delivery is best effort
    (a socket that is not connected misses the message), so send what a client needs to refresh, such as
    ids and a type, not whole records. ``data`` must encode to JSON; keep it under ~7 KB, the limit of
    the PostgreSQL backend.

    Returns ``False``, with a log line and without raising, when the channels are not running (before
    the app's start-up finished, after its shutdown began): a caller such as the event dispatcher must
    not fail, and retry, the rest of its work because a real-time push could not go out.
    """
    channels = channels_of(target)
    name = channel_name(tenant_id, topic)
    try:
        channels.publish({"channel": topic, "data": data}, name)
    except RuntimeError:  # Litestar's "not yet initialized": its publishing queue exists only while it runs
        log.warning("realtime_not_running", topic=topic)
        return False
    return True
