"""The audit trail: one helper records a mutation, one function proves the trail was not altered.

Every service, kernel or plugin, that changes something someone must answer for calls :func:`record`
in the transaction that makes the change, so the entry commits or rolls back with it.

Each tenant's entries form a chain (the platform's own entries, ``tenant_id`` NULL, form another): an
entry's ``hash`` is SHA-256 over the previous entry's hash and the canonical JSON of its own content.
The application role may only insert, so editing or removing a row takes the database owner, and
:func:`verify_chain` then says which entry no longer fits. Removing the newest entries leaves a shorter
chain that is still whole: compare it with a head kept elsewhere (:func:`chain_head`) to catch that.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import ColumnElement, and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from uuid_utils.compat import uuid7

from kernel.audit.models import AuditEntry
from kernel.db.scope import TenantScopeMissing, current_tenant_id, in_platform_scope
from kernel.web.context import current_request

__all__ = [
    "ACTOR_TYPES",
    "GENESIS_HASH",
    "MASK",
    "AuditFilter",
    "ChainHead",
    "ListCursor",
    "chain_head",
    "changed_fields",
    "entry_hash",
    "is_secret_field",
    "list_entries",
    "record",
    "to_jsonable",
    "verify_all",
    "verify_chain",
]

ActorType = Literal["user", "api_token", "system", "platform"]
ACTOR_TYPES: tuple[str, ...] = ("user", "api_token", "system", "platform")
GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of a chain's first entry."""
MASK = "***"
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "key_hash", "authorization")
API_KEY_MARKERS = ("api_key", "apikey")
HASHED_FIELDS = (
    "id",
    "tenant_id",
    "seq",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "changes",
    "ip",
    "user_agent",
    "request_id",
    "created_at",
)
"""What an entry's hash covers: everything it says, not its bookkeeping (``updated_at``)."""
JSON_SAFE_INTEGER = 2**53
VERIFY_BATCH = 1000


@dataclass(frozen=True)
class ChainHead:
    """The newest entry of a chain: keep it outside the database to detect a truncated trail."""

    seq: int
    hash: str


# -- Recording -----------------------------------------------------------------------------------


async def record(
    session: AsyncSession,
    *,
    action: str,
    target_type: str,
    target_id: str | UUID | int | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    actor_type: ActorType | None = None,
    actor_id: UUID | None = None,
    actor_label: str | None = None,
    tenant_id: UUID | None = None,
) -> AuditEntry:
    """Append an entry for a mutation, in the caller's transaction (it commits or rolls back with it).

    ``before``/``after`` are the object's fields before and after the change (``None`` for a creation
    or a deletion); only the fields that differ are kept, secrets masked. The tenant, the actor and the
    request's address, user agent and id default to the current ones. Flushes the session, and holds
    the chain's lock until the transaction ends: commit soon after.
    """
    _check_names(action, target_type, actor_type)
    request = current_request()
    if actor_id is None and request is not None and request.actor_id is not None:
        # Nobody named: the request's caller did it (an API token, or an administrator acting as someone).
        actor_id = request.actor_id
        actor_type = actor_type or request.actor_type  # type: ignore[assignment]
        actor_label = actor_label or request.actor_label
    entry = AuditEntry(
        id=uuid7(),
        tenant_id=_tenant_of(session, tenant_id),
        actor_type=actor_type or _default_actor_type(actor_id),
        actor_id=actor_id,
        actor_label=_clip(actor_label, 254),
        action=action,
        target_type=target_type,
        target_id=_clip(str(target_id), 200) if target_id is not None else None,
        changes=changed_fields(before, after),
        ip=_clip(request.ip, 64) if request else None,
        user_agent=_clip(request.user_agent, 500) if request else None,
        request_id=_clip(request.request_id, 64) if request else None,
    )
    await _append(session, entry)
    return entry


def _check_names(action: str, target_type: str, actor_type: str | None) -> None:
    """Programming errors, not user input: fail loudly rather than write a meaningless entry."""
    if not action or len(action) > 100:
        raise ValueError("an audit action is 1 to 100 characters, like 'user.invited'")
    if not target_type or len(target_type) > 100:
        raise ValueError("an audit target type is 1 to 100 characters, like 'user'")
    if actor_type is not None and actor_type not in ACTOR_TYPES:
        raise ValueError(f"unknown audit actor type {actor_type!r}; use one of {', '.join(ACTOR_TYPES)}")


def _tenant_of(session: AsyncSession, tenant_id: UUID | None) -> UUID | None:
    """The entry's tenant: the one given, else the session's, else the current one.

    No tenant is allowed only in the platform scope, where platform-level entries belong; anywhere
    else it would mean a forgotten scope, and the entry would land in the wrong chain.
    """
    if tenant_id is not None:
        return tenant_id
    tenant_id = session.info.get("tenant_id", current_tenant_id())
    if tenant_id is None and not session.info.get("platform", in_platform_scope()):
        raise TenantScopeMissing("an audit entry needs a tenant, or the platform scope for a platform-level one")
    return tenant_id


def _default_actor_type(actor_id: UUID | None) -> ActorType:
    if actor_id is None:
        return "system"
    # A request runs in the platform scope only for a platform admin (see kernel.auth).
    return "platform" if in_platform_scope() else "user"


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


async def _append(session: AsyncSession, entry: AuditEntry) -> None:
    """Link ``entry`` to its chain's newest entry and insert it.

    The transaction-level advisory lock makes concurrent writers of one chain take turns until each
    commits or rolls back; under READ COMMITTED the head read after the lock sees the previous writer's
    committed entry, so two entries never claim the same place.
    """
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": _lock_key(entry.tenant_id)}
    )
    head = await chain_head(session, entry.tenant_id)
    entry.seq = head.seq + 1 if head else 1
    entry.prev_hash = head.hash if head else GENESIS_HASH
    entry.created_at = entry.updated_at = datetime.now(UTC)
    entry.hash = entry_hash(entry.prev_hash, {name: getattr(entry, name) for name in HASHED_FIELDS})
    session.add(entry)
    await session.flush()


def _lock_key(tenant_id: UUID | None) -> str:
    return f"audit:{tenant_id}" if tenant_id is not None else "audit:platform"


def _of_tenant(tenant_id: UUID | None) -> ColumnElement[bool]:
    """``= tenant`` or ``IS NULL``: a plain ``=`` would never match the platform's NULL chain."""
    return AuditEntry.tenant_id.is_(None) if tenant_id is None else AuditEntry.tenant_id == tenant_id


async def chain_head(session: AsyncSession, tenant_id: UUID | None) -> ChainHead | None:
    """The newest entry of ``tenant_id``'s chain (``None``: the platform's), or ``None`` if it is empty."""
    row = (
        await session.execute(
            select(AuditEntry.seq, AuditEntry.hash)
            .where(_of_tenant(tenant_id))
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        )
    ).first()
    return ChainHead(seq=row.seq, hash=row.hash) if row else None


# -- Changes, secrets, canonical form --------------------------------------------------------------


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{field: {"before": x, "after": y}}`` for the fields that differ, as JSON, secrets masked."""
    old, new = before or {}, after or {}
    changes: dict[str, dict[str, Any]] = {}
    for field in [*old, *(name for name in new if name not in old)]:
        was, now = to_jsonable(old.get(field)), to_jsonable(new.get(field))
        if field in old and field in new and _same(was, now):
            continue
        name = str(field)
        changes[name] = {"before": _mask(name, was), "after": _mask(name, now)}
    return changes


def _same(was: Any, now: Any) -> bool:
    """Equal and of one type: ``1 == True`` in Python, but changing 1 to true is a change."""
    return type(was) is type(now) and was == now


def to_jsonable(value: Any) -> Any:
    """A JSON value that survives PostgreSQL's ``jsonb`` unchanged, so the hash still matches on read.

    ``jsonb`` stores numbers as ``numeric``: ``1e+16`` comes back as ``10000000000000000`` (an int)
    and ``-0.0`` as ``0.0``; floats that large (and NaN, infinities) are kept as strings instead.
    """
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value + 0.0 if math.isfinite(value) and abs(value) < JSON_SAFE_INTEGER else str(value)
    if isinstance(value, str):
        return value.replace("\x00", "")  # jsonb refuses NUL characters
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(item) for item in value), key=repr)
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    return str(value)


def is_secret_field(name: str) -> bool:
    """Whether a field's name says it holds a secret (``password``, ``api_key``, ``webhook_secret``...)."""
    key = name.lower().replace("-", "_")
    return any(marker in key for marker in SECRET_MARKERS)


def _mask(name: str, value: Any) -> Any:
    """Hide secrets, at any depth: plugin settings nest provider keys inside objects."""
    if is_secret_field(name):
        return _masked_secret(name, value)
    if isinstance(value, dict):
        return {key: _mask(key, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(name, item) for item in value]
    return value


def _masked_secret(name: str, value: Any) -> Any:
    """``None`` stays ``None`` (set vs unset is worth seeing); an API key keeps ``sk-...abcd`` to be
    recognised; every other secret becomes ``***``."""
    if value is None:
        return None
    key = name.lower().replace("-", "_")
    api_key = any(marker in key for marker in API_KEY_MARKERS) and "hash" not in key
    if api_key and isinstance(value, str) and len(value) > 8:
        return f"{value[:3]}...{value[-4:]}"
    return MASK


def entry_hash(prev_hash: str, values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the previous hash and the canonical JSON of an entry's hashed fields."""
    content = {name: _canonical(values[name]) for name in HASHED_FIELDS}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, UUID):
        return str(value)
    return value


# -- Verification ----------------------------------------------------------------------------------


async def verify_chain(session: AsyncSession, tenant_id: UUID | None) -> list[str]:
    """Problems in ``tenant_id``'s chain (``None``: the platform's); an empty list means it is intact.

    Recomputes every hash in ``seq`` order and checks each link and that numbers run 1, 2, 3... with
    no gap, so an edited, inserted or removed row shows. The session must see the chain: the tenant's
    scope or the platform scope; any other scope would see no rows and report an empty, intact chain.
    """
    _require_sight_of(session, tenant_id)
    problems: list[str] = []
    expected_seq, prev_hash = 1, GENESIS_HASH
    async for row in _chain_rows(session, tenant_id):
        problems.extend(_link_problems(row, expected_seq, prev_hash))
        expected_seq, prev_hash = row["seq"] + 1, row["hash"]
    return problems


async def verify_all(session: AsyncSession) -> dict[UUID | None, list[str]]:
    """Every chain's problems, keyed by tenant id (``None``: the platform's chain); needs the platform scope."""
    if not session.info.get("platform", in_platform_scope()):
        raise TenantScopeMissing("verifying every tenant's audit trail needs the platform scope")
    tenants = (await session.execute(select(AuditEntry.tenant_id).distinct())).scalars().all()
    return {tenant_id: await verify_chain(session, tenant_id) for tenant_id in tenants}


def _require_sight_of(session: AsyncSession, tenant_id: UUID | None) -> None:
    if session.info.get("platform", in_platform_scope()):
        return
    if tenant_id is None or session.info.get("tenant_id", current_tenant_id()) != tenant_id:
        raise TenantScopeMissing("verifying a chain needs its tenant's scope or the platform scope")


async def _chain_rows(session: AsyncSession, tenant_id: UUID | None) -> AsyncIterator[Mapping[str, Any]]:
    """The chain's rows in ``seq`` order, a batch at a time, read fresh from the database.

    Plain rows rather than ORM objects: the session's identity map could hand back an entry as it was
    when this session wrote it, hiding a change made since.
    """
    last_seq = 0
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntry.__table__)
                    .where(_of_tenant(tenant_id), AuditEntry.seq > last_seq)
                    .order_by(AuditEntry.seq)
                    .limit(VERIFY_BATCH)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            yield row
        if len(rows) < VERIFY_BATCH:
            return
        last_seq = rows[-1]["seq"]


def _link_problems(row: Mapping[str, Any], expected_seq: int, prev_hash: str) -> list[str]:
    seq = row["seq"]
    problems: list[str] = []
    if seq > expected_seq:
        missing = str(expected_seq) if seq == expected_seq + 1 else f"{expected_seq} to {seq - 1}"
        problems.append(f"entry {missing} missing before entry {seq} (removed)")
    elif seq < expected_seq:
        problems.append(f"entry {seq} appears out of order after entry {expected_seq - 1}")
    if row["prev_hash"] != prev_hash:
        problems.append(f"entry {seq} does not link to the entry before it (an entry was removed or altered)")
    if entry_hash(row["prev_hash"], row) != row["hash"]:
        problems.append(f"entry {seq} does not match its hash (its content was altered)")
    return problems


# -- Reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListCursor:
    """Where a page ended: the last entry's time and id (newest first, id breaks ties)."""

    created_at: datetime
    id: UUID


@dataclass(frozen=True)
class AuditFilter:
    """What to list or export. Empty fields do not filter."""

    actor_id: UUID | None = None
    action: str | None = None
    """An exact action, or a prefix ending in ``*`` (``user.*``)."""
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive, so consecutive windows never share an entry."""
    tenant_id: UUID | None = None
    """Platform scope only: one organization's entries."""
    platform_only: bool = False
    """Platform scope only: the platform's own chain (entries of no organization)."""

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.platform_only:
            conditions.append(AuditEntry.tenant_id.is_(None))
        elif self.tenant_id is not None:
            conditions.append(AuditEntry.tenant_id == self.tenant_id)
        if self.actor_id is not None:
            conditions.append(AuditEntry.actor_id == self.actor_id)
        if self.action:
            conditions.append(_action_matches(self.action))
        if self.target_type:
            conditions.append(AuditEntry.target_type == self.target_type)
        if self.target_id:
            conditions.append(AuditEntry.target_id == self.target_id)
        if self.since is not None:
            conditions.append(AuditEntry.created_at >= self.since)
        if self.until is not None:
            conditions.append(AuditEntry.created_at < self.until)
        return conditions


def _action_matches(action: str) -> ColumnElement[bool]:
    if not action.endswith("*"):
        return AuditEntry.action == action
    prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return AuditEntry.action.like(f"{prefix}%", escape="\\")


async def list_entries(
    session: AsyncSession, filters: AuditFilter, *, limit: int, after: ListCursor | None = None
) -> list[AuditEntry]:
    """Entries the session may see, newest first, matching ``filters``, starting after ``after``.

    Row-level security already limits a tenant to its own entries; the explicit tenant condition
    lets PostgreSQL use the ``(tenant_id, created_at)`` index.
    """
    statement = select(AuditEntry).where(*filters.conditions())
    tenant_id = session.info.get("tenant_id", current_tenant_id())
    if tenant_id is not None:
        statement = statement.where(AuditEntry.tenant_id == tenant_id)
    if after is not None:
        statement = statement.where(
            or_(
                AuditEntry.created_at < after.created_at,
                and_(AuditEntry.created_at == after.created_at, AuditEntry.id < after.id),
            )
        )
    statement = statement.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).limit(limit)
    return list((await session.execute(statement)).scalars().all())
