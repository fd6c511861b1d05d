"""History search: every message of the organization, by Portuguese full text (unaccented), newest first.

``não consigo pagar`` and ``nao consigo pagar`` are the same search: messages keep a generated
``tsvector`` in ``atendai_pt`` (unaccent + Portuguese stemmer) with a GIN index, and the query goes
through ``websearch_to_tsquery`` in the same configuration, so quoted phrases and ``-word`` work.
Filters narrow by date, the person or AI agent who wrote, the conversation's tags and channel; each
hit names its conversation and carries a highlighted snippet, so the page can jump to it.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

__all__ = ["HistoryHit", "search_history"]

START, STOP = "\x02", "\x03"
_MARK = re.compile(f"{START}(.*?){STOP}", re.S)


@dataclass(frozen=True)
class HistoryHit:
    message_id: UUID
    conversation_id: UUID
    conversation_number: int
    contact_id: UUID
    contact_name: str
    direction: str
    sender_kind: str
    sender_user_id: UUID | None
    sender_agent_id: UUID | None
    private: bool
    created_at: datetime
    snippet: str
    """HTML: the text escaped, matches in ``<mark>``."""


def _snippet(headline: str) -> str:
    escaped = html.escape(headline)
    return _MARK.sub(lambda m: f"<mark>{m.group(1)}</mark>", escaped)


async def search_history(
    session: AsyncSession,
    query: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: UUID | None = None,
    agent_id: UUID | None = None,
    tag: str | None = None,
    channel_id: UUID | None = None,
    contact_id: UUID | None = None,
    include_private: bool = True,
    limit: int = 20,
    offset: int = 0,
) -> list[HistoryHit]:
    query = " ".join(query.split())[:300]
    if not query:
        return []
    from kernel.sdk import require_tenant_id

    clauses = []
    # The tenant named in the query itself (row-level security only filters after the index has read
    # every organization's matches), and a plan for these very values: a common word walks the
    # (tenant_id, created_at) index newest first, a rare one uses the GIN index.
    params: dict[str, Any] = {
        "q": query,
        "tenant": require_tenant_id(),
        "limit": max(1, min(limit, 100)),
        "offset": max(0, offset),
    }
    await session.execute(text("SELECT set_config('plan_cache_mode', 'force_custom_plan', true)"))
    if since is not None:
        clauses.append("AND m.created_at >= :since")
        params["since"] = since
    if until is not None:
        clauses.append("AND m.created_at < :until")
        params["until"] = until
    if user_id is not None:
        clauses.append("AND m.sender_user_id = :user_id")
        params["user_id"] = user_id
    if agent_id is not None:
        clauses.append("AND m.sender_agent_id = :agent_id")
        params["agent_id"] = agent_id
    if channel_id is not None:
        clauses.append("AND m.channel_id = :channel_id")
        params["channel_id"] = channel_id
    if contact_id is not None:
        clauses.append("AND c.contact_id = :contact_id")
        params["contact_id"] = contact_id
    if tag:
        clauses.append("AND c.tags @> :tags")
        params["tags"] = [tag.strip().lower()]
    if not include_private:
        clauses.append("AND NOT m.private")
    statement = text(
        f"""
        WITH q AS (SELECT websearch_to_tsquery('atendai_pt', :q) AS tsq)
        SELECT m.id, m.conversation_id, c.number, c.contact_id, coalesce(p.name, '') AS contact_name,
               m.direction, m.sender_kind, m.sender_user_id, m.sender_agent_id, m.private, m.created_at,
               ts_headline('atendai_pt', m.body, q.tsq,
                           'StartSel=' || chr(2) || ',StopSel=' || chr(3) || ',MaxWords=30,MinWords=12,MaxFragments=2')
                   AS headline
        FROM inbox_messages m
        CROSS JOIN q
        JOIN inbox_conversations c ON c.id = m.conversation_id AND c.tenant_id = :tenant
        LEFT JOIN inbox_contacts p ON p.id = c.contact_id AND p.tenant_id = :tenant
        WHERE m.tenant_id = :tenant AND m.tsv @@ q.tsq {" ".join(clauses)}
        ORDER BY m.created_at DESC, m.id DESC
        LIMIT :limit OFFSET :offset
        """  # noqa: S608 - the clauses are fixed strings; values are bound
    )
    if "tags" in params:
        statement = statement.bindparams(bindparam("tags", type_=ARRAY(String())))
    rows = await session.execute(statement, params)
    return [
        HistoryHit(
            message_id=row.id,
            conversation_id=row.conversation_id,
            conversation_number=row.number,
            contact_id=row.contact_id,
            contact_name=row.contact_name,
            direction=row.direction,
            sender_kind=row.sender_kind,
            sender_user_id=row.sender_user_id,
            sender_agent_id=row.sender_agent_id,
            private=row.private,
            created_at=row.created_at,
            snippet=_snippet(row.headline or ""),
        )
        for row in rows
    ]
