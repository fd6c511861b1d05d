"""Real time: channel names, topic rules, and ``/ws`` served by a real server, tenant against tenant.

WebSockets need a real ASGI server: uvicorn runs here as a task in the test's own event loop (the
app's database pool belongs to that loop), and the ``websockets`` library is the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from kernel.auth.actor import Actor
from kernel.auth.jwt import encode_access
from kernel.config import load_settings
from kernel.realtime import channels as realtime_channels
from kernel.realtime import ws as realtime_ws
from kernel.realtime.channels import (
    TOPICS,
    TopicRegistry,
    TopicRule,
    backend_kind,
    channel_name,
    channels_of,
    parse_channel,
    publish,
)
from kernel.testing.isolation import TenantHandle, create_tenant
from kernel.testing.server import serving as serve_http

QUIET_SECONDS = 0.2
"""How long a socket must stay silent to count as 'received nothing'."""


# --- a server and a client --------------------------------------------------------------------------


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """The app served for real by uvicorn in this loop; yields the ``/ws`` URL."""
    async with serve_http(app) as base:
        yield base.replace("http://", "ws://") + "/ws"


@asynccontextmanager
async def ws_client(
    url: str, token: str | None = None, *, query_token: str | None = None, **kwargs: Any
) -> AsyncIterator[ClientConnection]:
    headers = dict(kwargs.pop("additional_headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if query_token:
        url = f"{url}?access_token={query_token}"
    async with connect(url, additional_headers=headers, open_timeout=5, **kwargs) as client:
        yield client


async def call(client: ClientConnection, frame: dict[str, Any] | str) -> dict[str, Any]:
    await client.send(frame if isinstance(frame, str) else json.dumps(frame))
    return await receive(client)


async def receive(client: ClientConnection, within: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(client.recv(), within))


async def assert_silent(client: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.recv(), QUIET_SECONDS)


async def close_code(client: ClientConnection, within: float = 5.0) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(client.recv(), within)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ws_url(atendai_app: Any, atendai_client: Any) -> AsyncIterator[str]:
    """The session's app (its lifespan already run by ``atendai_client``), served for real."""
    async with serving(atendai_app) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenants(atendai_kernel: Any, atendai_client: Any) -> tuple[TenantHandle, TenantHandle]:
    """Two organizations shared by the tests that leave their sessions alone (each costs a login)."""
    return (
        await create_tenant(atendai_kernel, atendai_client, seed=False),
        await create_tenant(atendai_kernel, atendai_client, seed=False),
    )


# --- names ------------------------------------------------------------------------------------------


def test_channel_names_carry_the_tenant_and_read_back():
    tenant, conversation = uuid4(), uuid4()
    assert channel_name(tenant, "events") == f"t:{tenant}:events"
    name = channel_name(tenant, f"conversation.{conversation}")
    assert parse_channel(name) == (tenant, f"conversation.{conversation}")
    assert parse_channel(channel_name(tenant, "notifications.user.x")) == (tenant, "notifications.user.x")


@pytest.mark.parametrize(
    "topic", ["", "Events", "events.", ".events", "events..x", "t:other:events", "events x", "1events", "é", "a" * 201]
)
def test_malformed_topics_build_no_channel(topic):
    with pytest.raises(ValueError):
        channel_name(uuid4(), topic)


def test_a_channel_needs_a_real_tenant_uuid():
    with pytest.raises(TypeError):
        channel_name(str(uuid4()), "events")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        channel_name(None, "events")  # type: ignore[arg-type]


SOME_TENANT = UUID("0190a6e2-5b1c-7c4e-9f30-2d6c8a1b4e07")
OTHER_TENANT = UUID("0190a6e2-5b1c-7c4e-9f30-2d6c8a1b4e08")
"""Fixed ids: parallel test processes must collect the same test names."""


@pytest.mark.parametrize(
    "name",
    [
        "events",
        "t::events",
        "t:not-a-uuid:events",
        f"x:{SOME_TENANT}:events",
        f"t:{str(SOME_TENANT).upper()}:events",
        f"t:{SOME_TENANT.hex}:events",
        f"t:{SOME_TENANT}",
        f"t:{SOME_TENANT}:",
        f"t:{SOME_TENANT}:Events",
        f"t:{SOME_TENANT}:t:{OTHER_TENANT}:events",
    ],
)
def test_malformed_channel_names_are_refused(name):
    with pytest.raises(ValueError):
        parse_channel(name)


# --- topic rules ------------------------------------------------------------------------------------


def make_actor(**overrides: Any) -> Actor:
    values: dict[str, Any] = {
        "kind": "user",
        "user_id": uuid4(),
        "tenant_id": uuid4(),
        "email": "someone@example.com",
        "name": "Someone",
        "is_platform_admin": False,
        "enabled_plugins": frozenset({"inbox"}),
        "permissions": frozenset({"inbox.read"}),
    }
    values.update(overrides)
    return Actor(**values)


def test_kernel_topics_admit_members_and_only_the_user_to_their_notifications():
    member = make_actor()
    assert TOPICS.allows(member, "events")
    assert TOPICS.allows(member, f"notifications.user.{member.user_id}")
    assert not TOPICS.allows(member, f"notifications.user.{uuid4()}")
    assert not TOPICS.allows(member, "notifications.user")
    assert not TOPICS.allows(member, f"notifications.user.{member.user_id}.more")
    assert not TOPICS.allows(make_actor(kind="api_token"), f"notifications.user.{member.user_id}")
    assert not TOPICS.allows(member, "nobody-declared-this")
    assert not TOPICS.allows(make_actor(tenant_id=None, is_platform_admin=True), "events")


def test_the_most_specific_rule_decides_and_plugins_must_be_enabled():
    rules = TopicRegistry(
        [
            TopicRule("conversation", "inbox.read", plugin="inbox"),
            TopicRule("conversation.internal", "inbox.admin", plugin="inbox"),
        ]
    )
    reader = make_actor()
    assert rules.allows(reader, f"conversation.{uuid4()}")
    assert not rules.allows(reader, "conversation.internal")
    assert not rules.allows(reader, "conversation.internal.notes")
    assert not rules.allows(make_actor(permissions=frozenset()), "conversation")
    assert not rules.allows(make_actor(enabled_plugins=frozenset()), "conversation")
    assert rules.allows(make_actor(permissions=frozenset({"inbox.read", "inbox.admin"})), "conversation.internal")


def test_registering_is_idempotent_but_never_silently_changes_a_rule():
    rules = TopicRegistry()
    rules.register("orders", "shop.read")
    rules.register("orders", "shop.read")
    with pytest.raises(ValueError):
        rules.register("orders", None)
    with pytest.raises(ValueError):
        rules.register("Orders.*")


def test_the_backend_follows_the_settings():
    def kind(**values: Any) -> str:
        return backend_kind(load_settings(env_file=None, secret_key="x", **values))

    assert kind() == "memory"
    assert kind(redis_url="redis://127.0.0.1:6379/0") == "redis"
    assert kind(realtime_backend="postgres", redis_url="redis://127.0.0.1:6379/0") == "postgres"
    assert kind(realtime_backend="memory", redis_url="redis://127.0.0.1:6379/0") == "memory"


async def test_publishing_before_the_channels_run_is_dropped_not_raised():
    plugin = realtime_channels.build_channels_plugin(load_settings(env_file=None, secret_key="x"))
    assert publish(plugin, uuid4(), "events", {"x": 1}) is False


# --- the socket: tenant against tenant --------------------------------------------------------------


async def assert_tenants_stay_apart(a_url: str, b_url: str, a_publisher: Any, b_publisher: Any, a: Any, b: Any):
    """A and B both listen to ``events``: each receives exactly its own tenant's messages."""
    async with ws_client(a_url, a.token) as sock_a, ws_client(b_url, query_token=b.token) as sock_b:
        assert await call(sock_a, {"op": "subscribe", "topics": ["events"]}) == {
            "op": "subscribed",
            "topics": ["events"],
        }
        assert (await call(sock_b, {"op": "subscribe", "topics": ["events"]}))["op"] == "subscribed"

        assert publish(a_publisher, a.tenant_id, "events", {"secret": "for A"})
        assert publish(b_publisher, b.tenant_id, "events", {"secret": "for B"})

        assert await receive(sock_a) == {"op": "message", "topic": "events", "data": {"secret": "for A"}}
        # B's first message is B's own, though A's was published first: A's never reached B.
        assert await receive(sock_b) == {"op": "message", "topic": "events", "data": {"secret": "for B"}}
        await assert_silent(sock_a)
        await assert_silent(sock_b)


async def test_an_event_for_one_tenant_never_reaches_another(ws_url, atendai_app, tenants):
    a, b = tenants
    # Through the app and through the kernel (what the event dispatcher holds).
    await assert_tenants_stay_apart(ws_url, ws_url, atendai_app, atendai_app.state.kernel, a, b)


async def test_a_client_cannot_name_another_tenants_channel(ws_url, tenants):
    a, b = tenants
    async with ws_client(ws_url, a.token) as sock:
        for topic in (f"t:{b.tenant_id}:events", channel_name(b.tenant_id, "events")):
            reply = await call(sock, {"op": "subscribe", "topics": [topic]})
            assert reply["op"] == "error" and reply["code"] == "bad_request"
            assert reply["topics"] == [topic]


async def test_unsubscribed_topics_stop_arriving(ws_url, atendai_app, tenants):
    tenant, _ = tenants
    async with ws_client(ws_url, tenant.token) as sock:
        await call(sock, {"op": "subscribe", "topics": ["events"]})
        reply = await call(sock, {"op": "unsubscribe", "topics": ["events"], "id": "u1"})
        assert reply == {"op": "unsubscribed", "topics": ["events"], "id": "u1"}
        publish(atendai_app, tenant.tenant_id, "events", {"late": True})
        await assert_silent(sock)


# --- the socket: authentication ---------------------------------------------------------------------


async def test_missing_and_invalid_credentials_are_closed_with_4401(ws_url, atendai_client, atendai_kernel, tenants):
    tenant, _ = tenants
    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "ws", "permissions": ["kernel.user.read"]}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    api_token = created.json()["token"]
    expired, _ = encode_access(
        atendai_kernel.settings.secret_key,
        user_id=tenant.admin_user_id,
        tenant_id=tenant.tenant_id,
        token_version=0,
        lifetime=timedelta(seconds=-60),
    )
    attempts = {
        "nothing": {},
        "garbage bearer": {"token": "not.a.token"},
        "expired": {"token": expired},
        "garbage query token": {"query_token": "not.a.token"},
        "API token in the URL": {"query_token": api_token},
        "basic auth": {"additional_headers": {"Authorization": "Basic eDp5"}},
    }
    for name, credentials in attempts.items():
        async with ws_client(ws_url, **credentials) as sock:
            assert await close_code(sock) == realtime_ws.CLOSE_UNAUTHORIZED, name
    # The API token itself is fine in a header.
    async with ws_client(ws_url, api_token) as sock:
        assert (await call(sock, {"op": "ping"})) == {"op": "pong"}


async def test_the_session_cookie_works_only_from_our_own_origin(ws_url, tenants):
    tenant, _ = tenants
    cookie = {"Cookie": f"atendai_access={tenant.token}"}
    own_origin = ws_url.replace("ws://", "http://").removesuffix("/ws")
    async with ws_client(ws_url, additional_headers=cookie, origin=own_origin) as sock:
        assert (await call(sock, {"op": "ping", "id": 7})) == {"op": "pong", "id": 7}
    async with ws_client(ws_url, additional_headers=cookie, origin="https://evil.example") as sock:
        assert await close_code(sock) == realtime_ws.CLOSE_UNAUTHORIZED


async def test_a_platform_account_has_no_channels(ws_url, atendai_kernel):
    from kernel.tenancy.services import create_platform_admin

    async with atendai_kernel.db.session() as session:
        user = await create_platform_admin(
            session, email=f"root-{uuid4().hex[:6]}@example.com", password="pw 123456789"
        )
        await session.commit()
    token, _ = encode_access(
        atendai_kernel.settings.secret_key,
        user_id=user.id,
        tenant_id=None,
        token_version=0,
        lifetime=timedelta(minutes=5),
    )
    async with ws_client(ws_url, token) as sock:
        assert await close_code(sock) == realtime_ws.CLOSE_FORBIDDEN


async def test_the_socket_closes_when_the_token_expires(ws_url, atendai_kernel, tenants):
    tenant, _ = tenants
    short, _ = encode_access(
        atendai_kernel.settings.secret_key,
        user_id=tenant.admin_user_id,
        tenant_id=tenant.tenant_id,
        token_version=0,
        lifetime=timedelta(seconds=2),
    )
    async with ws_client(ws_url, short) as sock:
        assert (await call(sock, {"op": "subscribe", "topics": ["events"]}))["op"] == "subscribed"
        assert await close_code(sock, within=4) == realtime_ws.CLOSE_UNAUTHORIZED


async def test_ending_a_users_sessions_closes_their_sockets(ws_url, atendai_client, make_tenant, monkeypatch):
    monkeypatch.setattr(realtime_ws, "RECHECK_SECONDS", 0.1)
    tenant = await make_tenant(seed=False)
    async with ws_client(ws_url, tenant.token) as sock:
        assert (await call(sock, {"op": "ping"})) == {"op": "pong"}
        ended = await atendai_client.post(f"/api/v1/users/{tenant.admin_user_id}/end-sessions", headers=tenant.headers)
        assert ended.status_code == 204
        assert await close_code(sock) == realtime_ws.CLOSE_UNAUTHORIZED


# --- the socket: topics and permissions -------------------------------------------------------------


@pytest.fixture
def test_topics():
    """Topic rules a plugin might register, removed again afterwards."""
    prefixes = {"rt-test.audit": "kernel.audit.read", "rt-test.restricted": "rt_test.nobody_has_this"}
    for prefix, permission in prefixes.items():
        TOPICS.register(prefix, permission)
    yield
    for prefix in prefixes:
        TOPICS.unregister(prefix)


async def test_topics_need_their_permission(ws_url, atendai_client, tenants, test_topics):
    tenant, _ = tenants
    async with ws_client(ws_url, tenant.token) as admin:
        assert (await call(admin, {"op": "subscribe", "topics": ["rt-test.audit"]}))["op"] == "subscribed"
        refused = await call(admin, {"op": "subscribe", "topics": ["events", "rt-test.restricted", "undeclared"]})
        assert refused["op"] == "error" and refused["code"] == "forbidden"
        assert refused["topics"] == ["rt-test.restricted", "undeclared"]

    created = await atendai_client.post(
        "/api/v1/api-tokens/", json={"name": "users only", "permissions": ["kernel.user.read"]}, headers=tenant.headers
    )
    async with ws_client(ws_url, created.json()["token"]) as integration:
        assert (await call(integration, {"op": "subscribe", "topics": ["events"]}))["op"] == "subscribed"
        refused = await call(integration, {"op": "subscribe", "topics": ["rt-test.audit"]})
        assert refused["code"] == "forbidden"


async def test_a_user_gets_only_their_own_notifications(ws_url, atendai_app, tenants):
    tenant, _ = tenants
    mine = f"notifications.user.{tenant.admin_user_id}"
    theirs = f"notifications.user.{uuid4()}"
    async with ws_client(ws_url, tenant.token) as sock:
        refused = await call(sock, {"op": "subscribe", "topics": [theirs]})
        assert refused["code"] == "forbidden" and refused["topics"] == [theirs]
        assert (await call(sock, {"op": "subscribe", "topics": [mine]}))["op"] == "subscribed"
        publish(atendai_app, tenant.tenant_id, theirs, {"n": 1})
        publish(atendai_app, tenant.tenant_id, mine, {"n": 2})
        assert await receive(sock) == {"op": "message", "topic": mine, "data": {"n": 2}}


async def test_a_topic_taken_away_is_dropped_from_connected_sockets(ws_url, tenants, monkeypatch):
    monkeypatch.setattr(realtime_ws, "RECHECK_SECONDS", 0.1)
    tenant, _ = tenants
    TOPICS.register("rt-test.revoked")
    try:
        async with ws_client(ws_url, tenant.token) as sock:
            await call(sock, {"op": "subscribe", "topics": ["events", "rt-test.revoked"]})
            TOPICS.unregister("rt-test.revoked")
            assert await receive(sock) == {"op": "unsubscribed", "topics": ["rt-test.revoked"], "reason": "forbidden"}
    finally:
        TOPICS.unregister("rt-test.revoked")


async def test_bad_frames_get_bad_request_and_the_socket_stays_open(ws_url, tenants, monkeypatch):
    tenant, _ = tenants
    async with ws_client(ws_url, tenant.token) as sock:
        for frame in (
            "not json",
            "[]",
            json.dumps({"topics": ["events"]}),
            json.dumps({"op": "dance"}),
            json.dumps({"op": "subscribe", "topics": "events"}),
            json.dumps({"op": "subscribe", "topics": []}),
            json.dumps({"op": "subscribe", "topics": ["Events"]}),
            json.dumps({"op": "ping", "pad": "x" * 9000}),
        ):
            reply = await call(sock, frame)
            assert reply["op"] == "error" and reply["code"] == "bad_request", frame
        await sock.send(b"\x00binary")
        assert (await receive(sock))["code"] == "bad_request"
        monkeypatch.setattr(realtime_ws, "MAX_TOPICS", 1)
        two = [f"notifications.user.{tenant.admin_user_id}", "events"]
        assert (await call(sock, {"op": "subscribe", "topics": two}))["code"] == "bad_request"
        assert await call(sock, {"op": "ping"}) == {"op": "pong"}


# --- other backends: two app instances, as two processes would be -----------------------------------


@asynccontextmanager
async def second_instance(atendai_kernel: Any, **settings: Any) -> AsyncIterator[tuple[Any, str]]:
    """Another app on the same database with other settings, its channels running, served for real."""
    from kernel.app import create_app
    from kernel.runtime import Kernel

    kernel = Kernel(
        settings=msgspec.structs.replace(atendai_kernel.settings, **settings),
        plugins=atendai_kernel.plugins,
        registry=atendai_kernel.registry,
        database=atendai_kernel.database,
    )
    try:
        app = create_app(kernel.settings, kernel=kernel)
        async with channels_of(app), serving(app) as url:
            yield app, url
    finally:
        atendai_kernel.connect()  # create_app made the other kernel the process's current one


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_tenants_stay_apart_across_instances(backend, request, atendai_client, atendai_kernel, tenants):
    settings: dict[str, Any] = {"realtime_backend": backend}
    if backend == "redis":
        settings["redis_url"] = request.getfixturevalue("atendai_redis_url")  # skips when no Redis answers
    a, b = tenants
    async with (
        second_instance(atendai_kernel, **settings) as (one, one_url),
        second_instance(atendai_kernel, **settings) as (two, two_url),
    ):
        assert channels_of(one) is not channels_of(two)
        # A listens on instance one and B on instance two; each message is published by the other instance.
        await assert_tenants_stay_apart(one_url, two_url, two, one, a, b)


def test_postgres_channel_names_fit_notify():
    name = channel_name(UUID(int=0), "notifications.user." + str(UUID(int=1)))
    assert len(name) > 63
    wire = realtime_channels._postgres_name(name)
    assert len(wire) <= 63 and wire != realtime_channels._postgres_name(channel_name(UUID(int=2), "events"))


async def test_a_committed_event_is_pushed_to_its_tenants_open_pages_without_its_payload(
    ws_url, atendai_client, tenants
):
    """End to end: an API call writes a note, the outbox event is dispatched, the socket hears of it."""
    a, b = tenants
    async with ws_client(ws_url, a.token) as socket_a, ws_client(ws_url, b.token) as socket_b:
        assert (await call(socket_a, {"op": "subscribe", "topics": ["events"]}))["op"] == "subscribed"
        assert (await call(socket_b, {"op": "subscribe", "topics": ["events"]}))["op"] == "subscribed"
        created = await atendai_client.post(
            "/api/v1/example/notes/", json={"title": "Live", "body": "secret body"}, headers=a.headers
        )
        assert created.status_code == 201
        message = await receive(socket_a, within=10)
        assert message["op"] == "message" and message["topic"] == "events"
        assert message["data"]["name"] == "example.note.created"
        assert "secret body" not in json.dumps(message)
        await assert_silent(socket_b)
