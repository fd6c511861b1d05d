"""Pytest fixtures for the kernel and any plugin (registered as the ``atendai`` pytest11 plugin).

* A real PostgreSQL per test session: the embedded server by default, or the server at
  ``ATENDAI_TEST_DATABASE_URL``; a fresh database is created, migrated with every installed plugin,
  and dropped at the end.
* ``atendai_app`` / ``atendai_client``: the real app through Litestar's test client.
* ``make_tenant`` / ``two_tenants``: organizations with an admin and a token, seeded by every plugin's
  ``seed_demo``; ``check_tenant_isolation`` walks every route with one tenant's token and the other's ids.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from psycopg import sql
from sqlalchemy.engine import make_url

from kernel.config import Settings, load_settings
from kernel.db import migrate
from kernel.db.embedded import stop_embedded
from kernel.db.urls import libpq_url
from kernel.runtime import Kernel, build_kernel
from kernel.testing.isolation import TenantHandle, check_tenant_isolation, create_tenant

__all__ = ["TenantHandle", "check_tenant_isolation"]

TEST_DATABASE_ENV = "ATENDAI_TEST_DATABASE_URL"


@pytest.fixture(scope="session")
def atendai_server_url() -> Iterator[str]:
    """Superuser URL of the PostgreSQL server the tests use (any database on it)."""
    configured = os.environ.get(TEST_DATABASE_ENV)
    if configured:
        yield configured
        return
    from kernel.db.embedded import start_embedded

    # Not under pytest's basetemp: pytest prunes old basetemps, which would pull the data directory
    # from under a server still in use by another test session on the same machine.
    data_dir = Path(os.environ.get("ATENDAI_TEST_EMBEDDED_DIR") or tempfile.mkdtemp(prefix="atendai-test-pg-"))
    yield start_embedded(data_dir).owner_url
    if not os.environ.get("ATENDAI_TEST_EMBEDDED_DIR"):
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def atendai_settings(atendai_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings pointing at a fresh database of its own, dropped when the session ends."""
    name = f"atendai_test_{uuid.uuid4().hex[:10]}"
    admin_url = libpq_url(atendai_server_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))
    database_url = make_url(atendai_server_url).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(
        env_file=None,
        environment="test",
        database_url=database_url,
        data_dir=str(tmp_path_factory.mktemp("atendai-data")),
        secret_key="test-secret-" + uuid.uuid4().hex,
        auto_migrate=False,
        # Every test client shares one address; tests of the per-address limit use their own address.
        login_ip_attempts=100_000,
        registration_per_hour=100_000,
        # Cheap password hashes: hundreds of tests log in, and the cost is not what they test.
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
        worker_in_process=True,
        mail_backend="file",
        # The fake model servers of the tests listen on 127.0.0.1; every other private address stays refused.
        http_allow="127.0.0.1/32",
        log_level=os.environ.get("ATENDAI_TEST_LOG_LEVEL", "WARNING"),
        log_json=False,
    )
    yield settings
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


_SESSION_KERNEL: list[Kernel] = []


@pytest.fixture(autouse=True)
def _keep_the_session_kernel_current() -> Iterator[None]:
    """A test (or a module's fixture) that builds a second app makes its kernel the process's current
    one; the session's kernel is current again after every test, so later tests never publish or look
    things up through an app that has stopped."""
    from kernel import runtime

    yield
    if _SESSION_KERNEL:
        runtime._current = _SESSION_KERNEL[0]


@pytest.fixture(scope="session")
def atendai_kernel(atendai_settings: Settings) -> Kernel:
    """The kernel with every installed plugin, its database migrated to all heads."""
    kernel = build_kernel(atendai_settings)
    kernel.connect()
    migrate.upgrade(kernel.migration_plan())
    _SESSION_KERNEL[:] = [kernel]
    return kernel


@pytest.fixture(scope="session")
def atendai_app(atendai_kernel: Kernel) -> Any:
    from kernel.app import create_app

    return create_app(atendai_kernel.settings, kernel=atendai_kernel)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def atendai_client(atendai_app: Any) -> AsyncIterator[Any]:
    """An httpx client calling the app in the test's own event loop (with its lifespan run)."""
    import httpx
    from asgi_lifespan import LifespanManager

    # The app itself, not manager.app: that wrapper shares one state dict across all requests.
    async with LifespanManager(atendai_app):
        transport = httpx.ASGITransport(app=atendai_app)

        # An API client: it sends its Bearer token and keeps no cookies (browser tests make their own).
        async def forget_cookies(response: httpx.Response) -> None:
            client.cookies.clear()

        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks={"response": [forget_cookies]}
        ) as client:
            yield client
    await atendai_app.state.kernel.db.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def owner_connection(atendai_kernel: Kernel) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection as the database owner (bypasses nothing: FORCE RLS applies unless superuser)."""
    conn = await psycopg.AsyncConnection.connect(libpq_url(atendai_kernel.db.urls.owner), autocommit=True)
    yield conn
    await conn.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def app_connection(atendai_kernel: Kernel) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A raw connection as the application role, for proving what row-level security lets through."""
    conn = await psycopg.AsyncConnection.connect(libpq_url(atendai_kernel.db.urls.app), autocommit=True)
    yield conn
    await conn.close()


@pytest.fixture
def make_tenant(atendai_kernel: Kernel, atendai_client: Any) -> Callable[..., Awaitable[TenantHandle]]:
    """``await make_tenant(seed=True)``: a new organization, its admin logged in, optionally seeded."""

    async def factory(*, seed: bool = True, **kwargs: Any) -> TenantHandle:
        return await create_tenant(atendai_kernel, atendai_client, seed=seed, **kwargs)

    return factory


@pytest_asyncio.fixture(loop_scope="session")
async def two_tenants(make_tenant: Callable[..., Awaitable[TenantHandle]]) -> tuple[TenantHandle, TenantHandle]:
    return await make_tenant(), await make_tenant()


REDIS_ENV = "ATENDAI_TEST_REDIS_URL"


@pytest.fixture(scope="session")
def atendai_redis_url() -> str:
    """A Redis database of its own for the session (emptied first). ``./install.sh test`` starts one."""
    import redis

    url = os.environ.get(REDIS_ENV, "redis://127.0.0.1:6379/15")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        # Parallel test processes (pytest-xdist) each get a database of their own: 15, 14, 13...
        parsed = make_url(url)
        base = int(parsed.database or 15) if str(parsed.database or "").isdigit() else 15
        url = url.rsplit("/", 1)[0] + f"/{max(0, base - int(worker[2:]))}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get(REDIS_ENV):
            pytest.fail(f"{REDIS_ENV}={url} does not answer: {exc}")
        pytest.skip(f"no Redis answers at {url} (./install.sh test starts one)")
    client.flushdb()
    client.close()
    return url


PAGE_BASE_URL = "http://atendai.test"


@pytest.fixture
def page_client(atendai_app: Any) -> Any:
    """``async with page_client(tenant) as client:`` a browser-like client logged in through the login form.

    It keeps cookies (the session), sends the CSRF header and an ``Origin`` of the site on every request,
    so page forms can be posted as htmx would (add ``headers={"HX-Request": "true"}`` for htmx answers).
    ``page_client()`` without a tenant gives an anonymous one (login, registration pages).
    """
    from contextlib import asynccontextmanager

    import httpx

    @asynccontextmanager
    async def factory(
        tenant: TenantHandle | None = None, *, email: str | None = None, password: str | None = None
    ) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=atendai_app)
        async with httpx.AsyncClient(
            transport=transport, base_url=PAGE_BASE_URL, headers={"Origin": PAGE_BASE_URL}
        ) as client:
            login_email = email or (tenant.email if tenant else None)
            if login_email:
                response = await client.post(
                    "/auth/login",
                    data={"email": login_email, "password": password or tenant.password},  # type: ignore[union-attr]
                )
                assert response.status_code == 303, response.text
                client.headers["X-CSRF-Token"] = client.cookies["atendai_csrf"]
            yield client

    return factory
