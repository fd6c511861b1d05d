"""The audit trail: append-only, chained per tenant, tamper-evident, isolated, and readable over the API."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from kernel.audit import chain_head, record, verify_all, verify_chain
from kernel.audit.api import CSV_COLUMNS
from kernel.audit.models import AuditEntry
from kernel.audit.service import GENESIS_HASH, MASK, changed_fields
from kernel.db.scope import TenantScopeMissing
from kernel.db.session import set_session_scope
from kernel.db.urls import asyncpg_url
from kernel.tenancy.services import provision_organization
from kernel.testing.isolation import TenantHandle, check_tenant_isolation, create_tenant
from kernel.web import context

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def audit(kernel, tenant_id: UUID | None, **kwargs) -> AuditEntry:
    """One committed entry, written the way a service writes it."""
    kwargs.setdefault("action", "thing.changed")
    kwargs.setdefault("target_type", "thing")
    kwargs.setdefault("target_id", uuid4())
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id, platform=tenant_id is None)
        entry = await record(session, **kwargs)
        await session.commit()
    return entry


async def chain_of(kernel, tenant_id: UUID) -> list[AuditEntry]:
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        rows = await session.execute(
            select(AuditEntry).where(AuditEntry.tenant_id == tenant_id).order_by(AuditEntry.seq)
        )
        return list(rows.scalars())


async def verify(kernel, tenant_id: UUID | None) -> list[str]:
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id, platform=tenant_id is None)
        return await verify_chain(session, tenant_id)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def owner_engine(atendai_kernel) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(asyncpg_url(atendai_kernel.db.urls.owner))
    yield engine
    await engine.dispose()


async def new_tenant(kernel) -> UUID:
    """An organization provisioned through the real service, without logging anyone in."""
    suffix = secrets.token_hex(4)
    async with kernel.db.session() as session:
        result = await provision_organization(
            kernel,
            session,
            slug=f"audit-{suffix}",
            name=f"Audit {suffix}",
            admin_email=f"audit-{suffix}@example.com",
            admin_password="correct horse battery staple",
        )
        await session.commit()
    return result.tenant_id


@pytest_asyncio.fixture(loop_scope="session")
async def tenant_id(atendai_kernel) -> UUID:
    return await new_tenant(atendai_kernel)


@pytest_asyncio.fixture(loop_scope="session")
async def other_tenant_id(atendai_kernel) -> UUID:
    return await new_tenant(atendai_kernel)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api_tenant(atendai_kernel, atendai_client) -> TenantHandle:
    """One logged-in tenant for every API test here (logins are rate limited)."""
    return await create_tenant(atendai_kernel, atendai_client, seed=False)


@asynccontextmanager
async def tampering(owner_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """An owner's session with the append-only trigger off, all rolled back at the end.

    This is what it takes to alter the trail: owner rights and switching the trigger off.
    """
    async with owner_engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.execute(text("SELECT set_config('app.platform', 'on', true)"))
            await connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
            async with AsyncSession(bind=connection, info={"platform": True}) as session:
                yield session
        finally:
            await transaction.rollback()


# -- Recording ---------------------------------------------------------------------------------------


async def test_entries_are_numbered_from_one_and_chained_per_tenant(atendai_kernel, tenant_id):
    for action in ("user.invited", "role.updated", "plugin.disabled"):
        await audit(atendai_kernel, tenant_id, action=action)

    chain = await chain_of(atendai_kernel, tenant_id)
    assert [entry.seq for entry in chain] == list(range(1, len(chain) + 1))
    assert [entry.action for entry in chain[-3:]] == ["user.invited", "role.updated", "plugin.disabled"]
    assert chain[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))
    assert await verify(atendai_kernel, tenant_id) == []


async def test_each_tenant_has_a_chain_of_its_own(atendai_kernel, tenant_id, other_tenant_id):
    await audit(atendai_kernel, other_tenant_id)
    other_before = [(entry.seq, entry.hash) for entry in await chain_of(atendai_kernel, other_tenant_id)]
    first = await audit(atendai_kernel, tenant_id)
    second = await audit(atendai_kernel, tenant_id)
    assert second.seq == first.seq + 1 and second.prev_hash == first.hash
    assert [(entry.seq, entry.hash) for entry in await chain_of(atendai_kernel, other_tenant_id)] == other_before


async def test_only_changed_fields_are_kept(atendai_kernel, tenant_id):
    entry = await audit(
        atendai_kernel,
        tenant_id,
        action="user.updated",
        before={"name": "Ana", "email": "ana@example.com", "is_active": True, "role": "operator"},
        after={"name": "Ana Lima", "email": "ana@example.com", "is_active": True, "role": "supervisor"},
    )
    assert entry.changes == {
        "name": {"before": "Ana", "after": "Ana Lima"},
        "role": {"before": "operator", "after": "supervisor"},
    }


def test_a_creation_and_a_deletion_list_every_field():
    assert changed_fields(None, {"title": "Hi"}) == {"title": {"before": None, "after": "Hi"}}
    assert changed_fields({"title": "Hi"}, None) == {"title": {"before": "Hi", "after": None}}


def test_a_change_of_type_is_a_change():
    assert changed_fields({"limit": 1}, {"limit": True}) == {"limit": {"before": 1, "after": True}}


def test_values_are_stored_as_plain_json():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    some_id = uuid4()
    changes = changed_fields(None, {"price": Decimal("10.50"), "at": when, "owner": some_id, "tags": {"b", "a"}})
    assert changes["price"]["after"] == "10.50"
    assert changes["at"]["after"] == "2026-01-02T03:04:05+00:00"
    assert changes["owner"]["after"] == str(some_id)
    assert changes["tags"]["after"] == ["a", "b"]


async def test_secrets_never_reach_the_trail_in_clear(atendai_kernel, tenant_id, owner_connection):
    clear = ["old-password-123", "new-password-456", "sk-proj-abcdef0123456789", "whsec_0123456789", "tok_live_98765"]
    entry = await audit(
        atendai_kernel,
        tenant_id,
        action="plugin.settings_changed",
        before={"password": clear[0], "settings": {"openai": {"api_key": None}}, "Authorization": None},
        after={
            "password": clear[1],
            "settings": {
                "openai": {"api_key": clear[2]},
                "webhooks": [{"url": "https://x.test", "secret": clear[3]}],
            },
            "Authorization": f"Bearer {clear[4]}",
        },
    )
    row = await (
        await owner_connection.execute("SELECT changes::text FROM audit_log WHERE id = %s", (entry.id,))
    ).fetchone()
    assert not [secret for secret in clear if secret in row[0]]
    assert entry.changes["password"] == {"before": MASK, "after": MASK}
    assert entry.changes["settings"]["after"]["openai"]["api_key"] == "sk-...6789"
    assert entry.changes["settings"]["before"]["openai"]["api_key"] is None
    assert entry.changes["settings"]["after"]["webhooks"][0] == {"url": "https://x.test", "secret": MASK}
    assert entry.changes["Authorization"]["after"] == MASK


async def test_awkward_values_keep_the_chain_valid(atendai_kernel, tenant_id):
    """What jsonb would rewrite (big floats, -0.0, NUL) is stored so the hash still matches on read."""
    await audit(
        atendai_kernel,
        tenant_id,
        after={
            "ratio": 0.1,
            "huge": 1e20,
            "negative_zero": -0.0,
            "tiny": 1e-7,
            "name": "Ação ☃ \x00 done",
            "nested": {"b": [1, 2.5, None], "a": {"ç": True}},
            "big_int": 2**70,
        },
        actor_label="Zoë <zoe@example.com>",
    )
    assert await verify(atendai_kernel, tenant_id) == []


async def test_request_details_fill_in_the_who_and_where(atendai_kernel, tenant_id):
    user_id = uuid4()
    token = context._request.set(context.RequestInfo("req-42", "203.0.113.9", "pytest-agent", actor_id=user_id))
    try:
        entry = await audit(atendai_kernel, tenant_id, action="user.invited")
    finally:
        context._request.reset(token)
    assert (entry.request_id, entry.ip, entry.user_agent) == ("req-42", "203.0.113.9", "pytest-agent")
    assert (entry.actor_type, entry.actor_id) == ("user", user_id)


async def test_outside_a_request_the_actor_is_the_system(atendai_kernel, tenant_id):
    entry = await audit(atendai_kernel, tenant_id)
    assert (entry.actor_type, entry.actor_id, entry.ip, entry.request_id) == ("system", None, None, None)


async def test_the_entry_rolls_back_with_the_change_it_records(atendai_kernel, tenant_id):
    before = [entry.id for entry in await chain_of(atendai_kernel, tenant_id)]
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        await record(session, action="user.invited", target_type="user", target_id=uuid4())
        await session.rollback()
    assert [entry.id for entry in await chain_of(atendai_kernel, tenant_id)] == before


async def test_an_entry_needs_a_tenant_or_the_platform_scope(atendai_kernel):
    async with atendai_kernel.db.session() as session:
        with pytest.raises(TenantScopeMissing):
            await record(session, action="user.invited", target_type="user", target_id=None)


@pytest.mark.parametrize("kwargs", [{"action": ""}, {"target_type": ""}, {"actor_type": "robot"}])
async def test_a_malformed_entry_is_a_programming_error(atendai_kernel, tenant_id, kwargs):
    with pytest.raises(ValueError):
        await audit(atendai_kernel, tenant_id, **kwargs)


async def test_concurrent_writers_keep_one_unbroken_chain(atendai_kernel, tenant_id):
    start = len(await chain_of(atendai_kernel, tenant_id))

    await asyncio.gather(*(audit(atendai_kernel, tenant_id, action=f"thing.n{i}") for i in range(8)))

    chain = await chain_of(atendai_kernel, tenant_id)
    assert [entry.seq for entry in chain] == list(range(1, start + 9))
    assert await verify(atendai_kernel, tenant_id) == []


async def test_platform_entries_form_their_own_chain_seen_only_in_the_platform_scope(
    atendai_kernel, tenant_id, app_connection
):
    entry = await audit(atendai_kernel, None, action="plan.created", actor_type="platform")
    assert entry.tenant_id is None
    assert await verify(atendai_kernel, None) == []
    async with app_connection.transaction():
        await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        seen = await (await app_connection.execute("SELECT count(*) FROM audit_log WHERE tenant_id IS NULL")).fetchone()
    assert seen[0] == 0


async def test_verify_refuses_a_scope_that_cannot_see_the_chain(atendai_kernel, tenant_id, other_tenant_id):
    """Another tenant's scope would see no rows and call the chain intact; it is refused instead."""
    await audit(atendai_kernel, tenant_id)
    async with atendai_kernel.db.session() as session:
        await set_session_scope(session, tenant_id=other_tenant_id)
        with pytest.raises(TenantScopeMissing):
            await verify_chain(session, tenant_id)


async def test_verify_all_checks_every_chain_in_the_platform_scope(atendai_kernel, tenant_id, other_tenant_id):
    await audit(atendai_kernel, tenant_id)
    await audit(atendai_kernel, other_tenant_id)
    async with atendai_kernel.db.session() as session:
        with pytest.raises(TenantScopeMissing):
            await verify_all(session)
        await set_session_scope(session, platform=True)
        results = await verify_all(session)
    assert {tenant_id, other_tenant_id} <= set(results)
    assert all(problems == [] for problems in results.values())


# -- Append-only, tamper-evident -------------------------------------------------------------------

ALTERATIONS = ["UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"]


@pytest.mark.parametrize("statement", ALTERATIONS)
async def test_the_app_role_cannot_alter_the_trail(atendai_kernel, tenant_id, app_connection, statement):
    await audit(atendai_kernel, tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        async with app_connection.transaction():
            await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
            await app_connection.execute(statement)


@pytest.mark.parametrize("statement", ALTERATIONS)
async def test_even_the_owner_is_stopped_by_the_trigger(atendai_kernel, tenant_id, owner_connection, statement):
    await audit(atendai_kernel, tenant_id)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        async with owner_connection.transaction():
            await owner_connection.execute("SELECT set_config('app.platform', 'on', true)")
            await owner_connection.execute(statement)


async def test_removing_an_organization_removes_its_trail(atendai_kernel, tenant_id, owner_connection):
    await audit(atendai_kernel, tenant_id)
    async with owner_connection.transaction(force_rollback=True):
        await owner_connection.execute("SELECT set_config('app.platform', 'on', true)")
        await owner_connection.execute("DELETE FROM organizations WHERE id = %s", (tenant_id,))
        left = await (
            await owner_connection.execute("SELECT count(*) FROM audit_log WHERE tenant_id = %s", (tenant_id,))
        ).fetchone()
    assert left[0] == 0


async def chain_with_steps(kernel, tenant_id: UUID, steps: int = 4) -> list[AuditEntry]:
    for i in range(steps):
        await audit(kernel, tenant_id, action=f"thing.step{i}", after={"step": i})
    return await chain_of(kernel, tenant_id)


async def test_verify_catches_an_edited_entry(atendai_kernel, tenant_id, owner_engine):
    chain = await chain_with_steps(atendai_kernel, tenant_id)
    victim = chain[-2]
    async with tampering(owner_engine) as session:
        await session.execute(text("UPDATE audit_log SET changes = '{}'::jsonb WHERE id = :id"), {"id": victim.id})
        problems = await verify_chain(session, tenant_id)
    assert problems == [f"entry {victim.seq} does not match its hash (its content was altered)"]
    assert await verify(atendai_kernel, tenant_id) == []


async def test_verify_catches_an_edit_that_recomputed_the_hash(atendai_kernel, tenant_id, owner_engine):
    chain = await chain_with_steps(atendai_kernel, tenant_id)
    victim = chain[1]
    async with tampering(owner_engine) as session:
        await session.execute(
            text("UPDATE audit_log SET actor_label = 'someone else', hash = :forged WHERE id = :id"),
            {"id": victim.id, "forged": "f" * 64},
        )
        problems = await verify_chain(session, tenant_id)
    assert f"entry {victim.seq} does not match its hash (its content was altered)" in problems
    assert any(f"entry {victim.seq + 1} does not link" in problem for problem in problems)


async def test_verify_catches_a_removed_entry(atendai_kernel, tenant_id, owner_engine):
    chain = await chain_with_steps(atendai_kernel, tenant_id)
    victim = chain[1]
    async with tampering(owner_engine) as session:
        await session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": victim.id})
        problems = await verify_chain(session, tenant_id)
    assert problems == [
        f"entry {victim.seq} missing before entry {victim.seq + 1} (removed)",
        f"entry {victim.seq + 1} does not link to the entry before it (an entry was removed or altered)",
    ]


async def test_a_kept_head_reveals_a_truncated_trail(atendai_kernel, tenant_id, owner_engine):
    """Dropping the newest entries leaves a whole chain; only a head kept elsewhere shows the loss."""
    chain = await chain_with_steps(atendai_kernel, tenant_id)
    async with tampering(owner_engine) as session:
        kept = await chain_head(session, tenant_id)
        await session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": chain[-1].id})
        assert await verify_chain(session, tenant_id) == []
        assert await chain_head(session, tenant_id) != kept
    assert kept is not None and (kept.seq, kept.hash) == (chain[-1].seq, chain[-1].hash)


# -- Isolation ---------------------------------------------------------------------------------------


async def test_the_app_role_sees_only_its_tenants_entries(atendai_kernel, tenant_id, other_tenant_id, app_connection):
    await audit(atendai_kernel, tenant_id)
    await audit(atendai_kernel, other_tenant_id)
    async with app_connection.transaction():
        await app_connection.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        owners = await (await app_connection.execute("SELECT DISTINCT tenant_id FROM audit_log")).fetchall()
    assert owners == [(tenant_id,)]


async def test_the_api_shows_a_tenant_only_its_own_entries(atendai_kernel, atendai_client, api_tenant, tenant_id):
    mine = await audit(atendai_kernel, api_tenant.tenant_id)
    theirs = await audit(atendai_kernel, tenant_id)

    listed = (await atendai_client.get("/api/v1/audit", params={"limit": 500}, headers=api_tenant.headers)).json()
    exported = await atendai_client.get("/api/v1/audit/export", params={"format": "json"}, headers=api_tenant.headers)

    assert {item["tenant_id"] for item in listed["items"]} == {str(api_tenant.tenant_id)}
    assert str(mine.id) in {item["id"] for item in listed["items"]}
    for body in (json.dumps(listed), exported.text):
        assert str(theirs.id) not in body
        assert str(tenant_id) not in body


async def test_no_route_crosses_tenants_with_audit_entries_on_both_sides(
    atendai_app, atendai_client, atendai_kernel, two_tenants
):
    for tenant in two_tenants:
        await audit(atendai_kernel, tenant.tenant_id, target_id=tenant.admin_user_id, action="user.updated")
    report = await check_tenant_isolation(atendai_app, atendai_client, atendai_kernel.db.urls.owner, *two_tenants)
    assert report.violations == []


# -- API ---------------------------------------------------------------------------------------------


async def history(kernel, tenant: TenantHandle) -> tuple[list[AuditEntry], UUID, UUID]:
    """Six known entries (oldest first) by two actors; tests read them back with ``since`` the first."""
    alice, bob = uuid4(), uuid4()
    rows = [
        ("user.invited", "user", "u1", alice),
        ("user.updated", "user", "u1", alice),
        ("role.updated", "role", "r1", bob),
        ("user.deactivated", "user", "u2", bob),
        ("plugin.disabled", "plugin", "crm", alice),
        ("users.exported", "user", None, bob),
    ]
    entries = [
        await audit(kernel, tenant.tenant_id, action=action, target_type=kind, target_id=target, actor_id=who)
        for action, kind, target, who in rows
    ]
    return entries, alice, bob


async def list_ids(client, tenant: TenantHandle, **params) -> list[str]:
    response = await client.get("/api/v1/audit", params=params, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_listing_is_newest_first_and_filters(atendai_kernel, atendai_client, api_tenant):
    entries, alice, bob = await history(atendai_kernel, api_tenant)
    ids = [str(entry.id) for entry in entries]

    async def listed(**params):
        return await list_ids(atendai_client, api_tenant, since=entries[0].created_at.isoformat(), **params)

    assert await listed() == ids[::-1]
    assert await listed(action="user.updated") == [ids[1]]
    assert await listed(action="user.*") == [ids[3], ids[1], ids[0]]
    assert await listed(target_type="role") == [ids[2]]
    assert await listed(target_type="user", target_id="u1") == [ids[1], ids[0]]
    assert await listed(actor_id=str(bob)) == [ids[5], ids[3], ids[2]]
    assert await listed(actor_id=str(alice), action="plugin.*") == [ids[4]]
    assert await listed(until=entries[2].created_at.isoformat()) == [ids[1], ids[0]]
    later = (entries[-1].created_at + timedelta(seconds=1)).isoformat()
    assert await list_ids(atendai_client, api_tenant, since=later) == []


async def test_action_prefix_is_literal(atendai_kernel, atendai_client, api_tenant):
    """``_`` and ``%`` in a prefix match themselves, not any character."""
    await history(atendai_kernel, api_tenant)
    assert await list_ids(atendai_client, api_tenant, action="user_*") == []
    assert await list_ids(atendai_client, api_tenant, action="%*") == []


async def test_pages_follow_each_other_through_the_cursor(atendai_kernel, atendai_client, api_tenant):
    entries, _, _ = await history(atendai_kernel, api_tenant)
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        params = {"limit": 4, "since": entries[0].created_at.isoformat()} | ({"cursor": cursor} if cursor else {})
        page = (await atendai_client.get("/api/v1/audit", params=params, headers=api_tenant.headers)).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == [str(entry.id) for entry in reversed(entries)]


async def test_an_entry_reads_back_whole(atendai_kernel, atendai_client, api_tenant):
    entry = await audit(
        atendai_kernel,
        api_tenant.tenant_id,
        action="role.updated",
        target_type="role",
        target_id="r9",
        before={"name": "Old"},
        after={"name": "New"},
        actor_label="ana@example.com",
    )
    response = await atendai_client.get("/api/v1/audit", params={"limit": 1}, headers=api_tenant.headers)
    item = response.json()["items"][0]
    assert item["id"] == str(entry.id)
    assert (item["seq"], item["hash"], item["prev_hash"]) == (entry.seq, entry.hash, entry.prev_hash)
    assert item["changes"] == {"name": {"before": "Old", "after": "New"}}
    assert (item["action"], item["target_type"], item["target_id"], item["actor_label"]) == (
        "role.updated",
        "role",
        "r9",
        "ana@example.com",
    )


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/audit", {"actor_id": "not-a-uuid"}, "actor_id"),
        ("/api/v1/audit", {"since": "yesterday"}, "since"),
        ("/api/v1/audit", {"until": "2026-13-40"}, "until"),
        ("/api/v1/audit", {"since": "2026-02-01", "until": "2026-01-01"}, "until"),
        ("/api/v1/audit", {"action": "user.*.x"}, "action"),
        ("/api/v1/audit", {"limit": 0}, "limit"),
        ("/api/v1/audit", {"limit": 501}, "limit"),
        ("/api/v1/audit", {"cursor": "garbage!"}, "cursor"),
        ("/api/v1/audit/export", {"format": "xml"}, "format"),
        ("/api/v1/audit/export", {"since": "soon"}, "since"),
    ],
)
async def test_bad_filters_are_invalid_input(atendai_client, api_tenant, path, params, field):
    response = await atendai_client.get(path, params=params, headers=api_tenant.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]


async def test_export_csv_has_a_header_row_and_the_filtered_entries(atendai_kernel, atendai_client, api_tenant):
    entries, _, _ = await history(atendai_kernel, api_tenant)
    await audit(atendai_kernel, api_tenant.tenant_id, action="user.updated", actor_label='=HYPERLINK("http://x.test")')
    params = {"format": "csv", "action": "user.*", "since": entries[0].created_at.isoformat()}

    response = await atendai_client.get("/api/v1/audit/export", params=params, headers=api_tenant.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('.csv"')
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    records = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]]
    assert [r["action"] for r in records] == ["user.updated", "user.deactivated", "user.updated", "user.invited"]
    assert records[0]["actor_label"] == '\'=HYPERLINK("http://x.test")'
    assert records[-1]["id"] == str(entries[0].id)
    assert records[-1]["target_id"] == "u1" and json.loads(records[-1]["changes"]) == {}


async def test_export_json_is_an_array_of_entries(atendai_kernel, atendai_client, api_tenant):
    entries, _, bob = await history(atendai_kernel, api_tenant)
    params = {"format": "json", "actor_id": str(bob)}

    response = await atendai_client.get("/api/v1/audit/export", params=params, headers=api_tenant.headers)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"].endswith('.json"')
    body = response.json()
    assert [item["action"] for item in body] == ["users.exported", "user.deactivated", "role.updated"]
    assert body[0]["target_id"] is None and body[0]["hash"] == entries[-1].hash
