"""The tenant isolation harness, usable by the kernel's tests and any plugin's.

``check_tenant_isolation`` takes two seeded tenants and, with tenant A's token, calls every route the
app has (every method, every path parameter filled with tenant B's ids, request bodies sampled from the
OpenAPI schema with B's ids in every uuid field). It reports a violation when a request that names one
of B's ids succeeds, when a response shows one of B's ids, when any of B's rows changed, and when B
has no rows at all in a tenant table (the plugin's ``seed_demo`` must give the check something to probe).

``rls_catalog_problems`` reads PostgreSQL's catalog: every table with a ``tenant_id`` column must have
row-level security enabled *and* forced, with a policy on ``app.tenant_id`` for reads and writes.
"""

from __future__ import annotations

import itertools
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from litestar import Litestar
from litestar.routes import HTTPRoute
from psycopg import sql

from kernel.db.session import set_session_scope
from kernel.db.urls import libpq_url

__all__ = [
    "IsolationReport",
    "TenantHandle",
    "check_tenant_isolation",
    "create_tenant",
    "rls_catalog_problems",
    "tenant_tables",
]

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SKIPPED_PREFIXES = ("/schema", "/static")
PARAM_RE = re.compile(r"\{(\w+)(?::(\w+))?\}")
MAX_COMBINATIONS = 60
ENDS_SESSION = "ends_session"
"""Route ``opt`` flag for routes that end the caller's session (logout): the walk skips them."""


@dataclass(frozen=True)
class TenantHandle:
    tenant_id: uuid.UUID
    slug: str
    admin_user_id: uuid.UUID
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class IsolationReport:
    requests: int = 0
    probed_routes: set[str] = field(default_factory=set)
    violations: list[str] = field(default_factory=list)


async def create_tenant(kernel: Any, client: Any, *, seed: bool = True, **kwargs: Any) -> TenantHandle:
    """Provision an organization through the real service, seed it, and log its admin in through the API."""
    from kernel.tenancy.services import provision_organization, seed_demo_data

    suffix = secrets.token_hex(4)
    slug = kwargs.pop("slug", f"t-{suffix}")
    email = kwargs.pop("admin_email", f"admin-{suffix}@example.com")
    password = kwargs.pop("admin_password", "correct horse battery staple")
    async with kernel.db.session() as session:
        result = await provision_organization(
            kernel,
            session,
            slug=slug,
            name=kwargs.pop("name", f"Tenant {suffix}"),
            admin_email=email,
            admin_password=password,
            **kwargs,
        )
        if seed:
            await _seed_kernel_data(kernel, session, result.tenant_id, suffix)
            await seed_demo_data(kernel, session, result.tenant_id)
        await session.commit()
    await settle_events(kernel, result.tenant_id)
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return TenantHandle(
        tenant_id=result.tenant_id,
        slug=slug,
        admin_user_id=result.admin_user_id,
        email=email,
        password=password,
        token=response.json()["access_token"],
    )


async def settle_events(kernel: Any, tenant_id: uuid.UUID, within: float = 15.0) -> None:
    """Wait until every event of the tenant is dispatched and delivered to every subscriber.

    Background delivery would otherwise change the tenant's rows while a test looks at them.
    """
    import asyncio
    import time

    from sqlalchemy import func, select

    from kernel.events.dispatcher import Dispatcher, subscriber_name
    from kernel.events.models import EventDelivery, OutboxEvent
    from kernel.tenancy.services import enabled_plugins

    deadline = time.monotonic() + within
    while True:
        await Dispatcher(kernel, jobs=None).dispatch_pending()
        async with kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant_id)
            enabled = await enabled_plugins(session, tenant_id)
            events = (await session.execute(select(OutboxEvent.name, OutboxEvent.dispatched_at))).all()
            delivered = (await session.execute(select(func.count(EventDelivery.id)))).scalar_one()
        expected = sum(
            len({subscriber_name(p, s) for p, s in kernel.registry.subscriptions_for(name, enabled)})
            for name, _ in events
        )
        if all(dispatched for _, dispatched in events) and delivered >= expected:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"events of tenant {tenant_id} did not settle in {within} s")
        await asyncio.sleep(0.05)


async def _seed_kernel_data(kernel: Any, session: Any, tenant_id: uuid.UUID, suffix: str) -> None:
    """What a lived-in organization has beyond its admin, so every kernel table has rows to probe."""
    from kernel.auth.actor import Actor
    from kernel.auth.services import create_api_token
    from kernel.auth.users import invite_user
    from kernel.llm.models import LlmUsage
    from kernel.notifications.models import Notification
    from kernel.rbac.models import Role
    from kernel.secrets_models import StoredSecret

    await set_session_scope(session, tenant_id=tenant_id)
    admin = Actor(
        kind="user",
        user_id=None,
        tenant_id=tenant_id,
        email="seed",
        name="seed",
        is_platform_admin=False,
        enabled_plugins=frozenset(),
        role="admin",
    )
    operator, _ = await invite_user(
        session, admin, email=f"operator-{suffix}@example.com", name="Operator", role_key="operator", language=None
    )
    session.add(
        Role(
            tenant_id=tenant_id,
            key="night-shift",
            name="Night shift",
            description="",
            is_system=False,
            permissions=["kernel.user.read"],
        )
    )
    await create_api_token(
        session,
        tenant_id=tenant_id,
        name="CRM sync",
        permissions=["kernel.user.read"],
        grantable=frozenset({"kernel.user.read"}),
        created_by=None,
    )
    session.add(
        StoredSecret(
            tenant_id=tenant_id, name="llm.openai.api_key", ciphertext="not-a-real-ciphertext", hint="sk-...seed"
        )
    )
    session.add(
        Notification(
            tenant_id=tenant_id,
            user_id=operator.id,
            kind="kernel.seed",
            message="Welcome to the team.",
            params={},
            domain="atendai",
            link="/app/",
        )
    )
    session.add(
        LlmUsage(
            tenant_id=tenant_id,
            provider="offline",
            model="offline",
            operation="chat",
            prompt_tokens=10,
            completion_tokens=5,
            cached_tokens=0,
            latency_ms=3,
            cost_micros=0,
            status="ok",
        )
    )
    await session.flush()


async def tenant_tables(conn: psycopg.AsyncConnection[Any]) -> dict[str, str]:
    """Every public table owned by a tenant, with the column naming the tenant."""
    rows = await conn.execute(
        """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """
    )
    tables = {name: "tenant_id" for (name,) in await rows.fetchall()}
    tables["organizations"] = "id"
    return tables


async def rls_catalog_problems(conn: psycopg.AsyncConnection[Any], app_role: str) -> list[str]:
    problems: list[str] = []
    for table, column in (await tenant_tables(conn)).items():
        row = await (
            await conn.execute(
                """
                SELECT c.relrowsecurity, c.relforcerowsecurity,
                       pg_get_userbyid(c.relowner) = %s AS app_owns_it,
                       has_table_privilege(%s, c.oid, 'SELECT') AS app_can_read
                FROM pg_class c WHERE c.oid = %s::regclass
                """,
                (app_role, app_role, f"public.{table}"),
            )
        ).fetchone()
        assert row is not None
        enabled, forced, app_owns_it, app_can_read = row
        if not enabled:
            problems.append(f"{table}: row-level security is not enabled")
        if not forced:
            problems.append(f"{table}: row-level security is not forced (the owner bypasses it)")
        if app_owns_it:
            problems.append(f"{table}: owned by the application role, which then bypasses its policies")
        if not app_can_read:
            problems.append(f"{table}: the application role cannot read it")
        policies = await (
            await conn.execute(
                """
                SELECT polname, polcmd, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
                FROM pg_policy WHERE polrelid = %s::regclass
                """,
                (f"public.{table}",),
            )
        ).fetchall()
        keyed = [
            p
            for p in policies
            if p[1] == "*"
            and column in (p[2] or "")
            and "app.tenant_id" in (p[2] or "")
            and "app.tenant_id" in (p[3] or "")
        ]
        if not keyed:
            problems.append(f"{table}: no policy keys reads and writes on {column} = app.tenant_id")
    role = await (
        await conn.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (app_role,))
    ).fetchone()
    if role is None or role[0] or role[1]:
        problems.append(f"application role {app_role!r} is missing, a superuser, or bypasses row-level security")
    return problems


async def _snapshot(conn: psycopg.AsyncConnection[Any], tenant_id: uuid.UUID) -> dict[str, dict[str, str]]:
    """Every row of the tenant, as a hash of its text, keyed by table and id."""
    tables = await tenant_tables(conn)
    snapshot: dict[str, dict[str, str]] = {}
    async with conn.transaction():
        await conn.execute("SELECT set_config('app.platform', 'on', true)")
        for table, column in tables.items():
            query = sql.SQL("SELECT t.id::text, md5(t::text) FROM {} t WHERE {} = %s").format(
                sql.Identifier(table), sql.Identifier(column)
            )
            rows = await (await conn.execute(query, (tenant_id,))).fetchall()
            snapshot[table] = dict(rows)  # type: ignore[arg-type]
    return snapshot


def _sample(schema: dict[str, Any], components: dict[str, Any], foreign_id: str, depth: int = 0) -> Any:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _sample(options[0], components, foreign_id, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if schema.get("format") == "uuid":
        return foreign_id
    if kind == "object" or "properties" in schema:
        if depth > 3:
            return {}
        return {
            name: _sample(prop, components, foreign_id, depth + 1)
            for name, prop in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [_sample(schema.get("items", {}), components, foreign_id, depth + 1)]
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": 1, "number": 1, "boolean": True}.get(kind or "", "isolation probe")


def _request_schemas(app: Litestar) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, Any]]:
    spec = app.openapi_schema.to_schema()
    components = spec.get("components", {}).get("schemas", {})
    bodies: dict[tuple[str, str], dict[str, Any]] = {}
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            schema = next(iter(content.values()), {}).get("schema") if content else None
            if schema:
                bodies[(path, method.upper())] = schema
    return bodies, components


async def check_tenant_isolation(
    app: Litestar, client: Any, owner_url: str, tenant_a: TenantHandle, tenant_b: TenantHandle
) -> IsolationReport:
    """Call every route as tenant A with tenant B's ids; report every read or write that crossed."""
    report = IsolationReport()
    async with await psycopg.AsyncConnection.connect(libpq_url(owner_url), autocommit=True) as conn:
        before = await _snapshot(conn, tenant_b.tenant_id)
        for table, rows in before.items():
            if not rows:
                # Nothing of B's to reach for here, so the check would prove nothing for this table.
                report.violations.append(f"tenant B has no rows in {table}: seed_demo must create some to probe it")
        foreign_ids = [str(tenant_b.tenant_id), str(tenant_b.admin_user_id)]
        foreign_ids += [next(iter(rows)) for rows in before.values() if rows]
        foreign_ids = list(dict.fromkeys(foreign_ids))
        every_foreign_id = {row_id for rows in before.values() for row_id in rows} | set(foreign_ids)
        bodies, components = _request_schemas(app)

        for route in app.routes:
            if not isinstance(route, HTTPRoute) or route.path.startswith(SKIPPED_PREFIXES):
                continue
            openapi_path = PARAM_RE.sub(lambda m: "{" + m.group(1) + "}", route.path)
            params = PARAM_RE.findall(route.path)
            for method in sorted(route.methods):
                if method in ("HEAD", "OPTIONS"):
                    continue
                handler = route.route_handler_map[method][0] if route.route_handler_map else None
                if handler is not None and handler.opt.get(ENDS_SESSION):
                    continue  # logging tenant A out would blind the rest of the walk
                if params and all(kind in ("int", "float", "decimal") for _, kind in params):
                    continue
                combos = itertools.islice(itertools.product(foreign_ids, repeat=len(params)), MAX_COMBINATIONS)
                for combo in combos if params else [()]:
                    path = route.path
                    for value in combo:
                        path = PARAM_RE.sub(value, path, count=1)
                    body = None
                    schema = bodies.get((openapi_path, method))
                    if schema is not None:
                        body = _sample(schema, components, foreign_ids[0])
                    elif method in ("POST", "PUT", "PATCH"):
                        body = {}
                    response = await client.request(method, path, json=body, headers=tenant_a.headers)
                    report.requests += 1
                    if response.status_code == 401 and not (handler is not None and handler.opt.get("public")):
                        report.violations.append(
                            f"{method} {path} refused tenant A's credentials: the walk proves nothing from here"
                        )
                    if params:
                        report.probed_routes.add(f"{method} {route.path}")
                    sent = set(combo) | (
                        {foreign_ids[0]} if body is not None and foreign_ids[0] in str(body) else set()
                    )
                    if sent and response.status_code < 400:
                        report.violations.append(
                            f"{method} {path} with tenant B's id answered {response.status_code} to tenant A"
                        )
                    # An error may echo what the request carried (the path in ``instance``); that is no leak.
                    visible = every_foreign_id - sent if response.status_code >= 400 else every_foreign_id
                    leaked = sorted(i for i in visible if i in response.text)
                    if leaked:
                        report.violations.append(f"{method} {path} showed tenant B's ids to tenant A: {leaked[:3]}")

        after = await _snapshot(conn, tenant_b.tenant_id)
        for table in before:
            if before[table] != after.get(table):
                report.violations.append(f"tenant B's rows in {table} changed while tenant A called the API")
    return report
