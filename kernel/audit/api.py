"""JSON API for the audit trail: list with filters, and export as CSV or JSON.

Read-only on purpose: entries are written by services through :func:`kernel.audit.service.record`,
never through HTTP. Row-level security limits a tenant to its own entries; the platform scope sees all.
"""

from __future__ import annotations

import base64
import binascii
import csv
import dataclasses
import io
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIFormat
from litestar.params import FromQuery, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.audit.models import AuditEntry
from kernel.audit.service import AuditFilter, ListCursor, list_entries
from kernel.errors import ValidationFailed

__all__ = ["AuditController", "AuditEntryOut", "AuditPage", "PlatformAuditController"]

PERMISSION = "kernel.audit.read"
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
EXPORT_CAP = 50_000
EXPORT_FORMATS = ("csv", "json")
CSV_COLUMNS = (
    "created_at",
    "seq",
    "tenant_id",
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
    "id",
    "prev_hash",
    "hash",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class AuditEntryOut(msgspec.Struct):
    id: UUID
    seq: int
    tenant_id: UUID | None
    created_at: datetime
    actor_type: str
    actor_id: UUID | None
    actor_label: str | None
    action: str
    target_type: str
    target_id: str | None
    changes: dict[str, Any]
    ip: str | None
    user_agent: str | None
    request_id: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls(**{name: getattr(entry, name) for name in cls.__struct_fields__})


class AuditPage(msgspec.Struct):
    items: list[AuditEntryOut]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; ``None`` on the last page."""


class _Errors:
    """Collects every bad filter, so one response names them all."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_any(self) -> None:
        if self.items:
            raise ValidationFailed("Some filters are not valid.", errors=self.items)


def _parse_uuid(value: str | None, field: str, errors: _Errors) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        errors.add(field, "not a UUID")
        return None


def _parse_datetime(value: str | None, field: str, errors: _Errors) -> datetime | None:
    """An ISO 8601 date or date-time; one without an offset is taken as UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        errors.add(field, "not an ISO 8601 date-time")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_action(action: str | None, errors: _Errors) -> str | None:
    if action and "*" in action[:-1]:
        errors.add("action", "a '*' may only end the action, as in 'user.*'")
    return action or None


async def provide_filters(
    actor_id: Annotated[
        str | None, QueryParameter(format=OpenAPIFormat.UUID, description="Only this user's (or token's) actions.")
    ] = None,
    action: Annotated[str | None, QueryParameter(description="An exact action, or a prefix ending in '*'.")] = None,
    target_type: FromQuery[str | None] = None,
    target_id: FromQuery[str | None] = None,
    since: Annotated[
        str | None, QueryParameter(format=OpenAPIFormat.DATE_TIME, description="ISO 8601; entries at or after it.")
    ] = None,
    until: Annotated[
        str | None, QueryParameter(format=OpenAPIFormat.DATE_TIME, description="ISO 8601; entries before it.")
    ] = None,
) -> AuditFilter:
    """The filters both listing and export take, validated together."""
    errors = _Errors()
    filters = AuditFilter(
        actor_id=_parse_uuid(actor_id, "actor_id", errors),
        action=_check_action(action, errors),
        target_type=target_type or None,
        target_id=target_id or None,
        since=_parse_datetime(since, "since", errors),
        until=_parse_datetime(until, "until", errors),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        errors.add("until", "must be later than since")
    errors.raise_any()
    return filters


def encode_cursor(entry: AuditEntry) -> str:
    raw = f"{entry.created_at.isoformat()}|{entry.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> ListCursor:
    """The position a previous page ended at; anything else is refused as a bad filter."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, entry_id = raw.split("|")
        return ListCursor(created_at=datetime.fromisoformat(created_at), id=UUID(entry_id))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(
            "The cursor is not one this API returned.", errors=[{"field": "cursor", "message": "invalid"}]
        ) from exc


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(
            "The limit must be between 1 and %(max)d.",
            errors=[{"field": "limit", "message": f"between 1 and {MAX_LIMIT}"}],
            max=MAX_LIMIT,
        )


def _csv_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (``=HYPERLINK(...)``) is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _csv_row(entry: AuditEntryOut) -> list[Any]:
    values = msgspec.to_builtins(entry)
    values["changes"] = msgspec.json.encode(entry.changes).decode()
    return [_csv_cell(values[column]) if values[column] is not None else "" for column in CSV_COLUMNS]


def render_csv(entries: list[AuditEntryOut]) -> bytes:
    """UTF-8 with a byte-order mark, so spreadsheets read accented names right; one header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_row(entry) for entry in entries)
    return buffer.getvalue().encode("utf-8-sig")


def _download(body: bytes, export_format: str, truncated: bool) -> Response[bytes]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    headers = {"Content-Disposition": f'attachment; filename="audit-log-{stamp}.{export_format}"'}
    if truncated:
        headers["X-Export-Truncated"] = "true"
    media_type = "text/csv; charset=utf-8" if export_format == "csv" else "application/json"
    return Response(content=body, media_type=media_type, headers=headers)


async def _list_page(session: AsyncSession, filters: AuditFilter, limit: int, cursor: str | None) -> AuditPage:
    _check_limit(limit)
    after = decode_cursor(cursor) if cursor else None
    entries = await list_entries(session, filters, limit=limit + 1, after=after)
    page = entries[:limit]
    next_cursor = encode_cursor(page[-1]) if len(entries) > limit else None
    return AuditPage(items=[AuditEntryOut.of(entry) for entry in page], next_cursor=next_cursor)


async def _export(session: AsyncSession, filters: AuditFilter, export_format: str) -> Response[bytes]:
    if export_format not in EXPORT_FORMATS:
        raise ValidationFailed(
            "The export format must be csv or json.", errors=[{"field": "format", "message": "csv or json"}]
        )
    entries = await list_entries(session, filters, limit=EXPORT_CAP + 1)
    rows = [AuditEntryOut.of(entry) for entry in entries[:EXPORT_CAP]]
    body = render_csv(rows) if export_format == "csv" else msgspec.json.encode(rows)
    return _download(body, export_format, truncated=len(entries) > EXPORT_CAP)


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    dependencies = {"filters": Provide(provide_filters)}

    @get("/", opt={"permission": PERMISSION}, summary="List audit entries, newest first")
    async def list_audit_entries(
        self,
        db_session: NamedDependency[AsyncSession],
        filters: NamedDependency[AuditFilter],
        limit: Annotated[int, QueryParameter(description=f"1 to {MAX_LIMIT}.")] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page.")] = None,
    ) -> AuditPage:
        return await _list_page(db_session, filters, limit, cursor)

    @get("/export", opt={"permission": PERMISSION}, summary="Download audit entries as CSV or JSON")
    async def export_audit_entries(
        self,
        db_session: NamedDependency[AsyncSession],
        filters: NamedDependency[AuditFilter],
        export_format: Annotated[str, QueryParameter(name="format", description="csv or json.")] = "csv",
    ) -> Response[bytes]:
        return await _export(db_session, filters, export_format)


PLATFORM_PERMISSION = "platform.audit.read"


async def provide_platform_filters(
    filters: NamedDependency[AuditFilter],
    tenant: Annotated[
        str | None,
        QueryParameter(description="An organization's id, or 'platform' for the platform's own entries."),
    ] = None,
) -> AuditFilter:
    """The same filters as an organization's, plus which organization (platform administrators see all)."""
    if not tenant:
        return filters
    if tenant == "platform":
        return dataclasses.replace(filters, platform_only=True)
    errors = _Errors()
    tenant_id = _parse_uuid(tenant, "tenant", errors)
    errors.raise_any()
    return dataclasses.replace(filters, tenant_id=tenant_id)


class PlatformAuditController(Controller):
    """Every organization's trail and the platform's own, for platform administrators."""

    path = "/api/v1/platform/audit"
    tags = ["platform"]
    dependencies = {"filters": Provide(provide_filters), "platform_filters": Provide(provide_platform_filters)}

    @get("/", opt={"permission": PLATFORM_PERMISSION}, summary="List audit entries of every organization")
    async def list_platform_entries(
        self,
        db_session: NamedDependency[AsyncSession],
        platform_filters: NamedDependency[AuditFilter],
        limit: Annotated[int, QueryParameter(description=f"1 to {MAX_LIMIT}.")] = DEFAULT_LIMIT,
        cursor: Annotated[str | None, QueryParameter(description="next_cursor of the previous page.")] = None,
    ) -> AuditPage:
        return await _list_page(db_session, platform_filters, limit, cursor)

    @get("/export", opt={"permission": PLATFORM_PERMISSION}, summary="Download platform-wide audit entries")
    async def export_platform_entries(
        self,
        db_session: NamedDependency[AsyncSession],
        platform_filters: NamedDependency[AuditFilter],
        export_format: Annotated[str, QueryParameter(name="format", description="csv or json.")] = "csv",
    ) -> Response[bytes]:
        return await _export(db_session, platform_filters, export_format)
