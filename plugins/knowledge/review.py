"""Stale content: documents whose review date has come are told to their collection's owners.

A platform-wide job runs every morning; each organization's owners get one notification per
collection with documents due, and each document is told once per review date (changing the date
arms it again).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text

from kernel.sdk import N_
from plugins.knowledge.models import Collection, Document

__all__ = ["notify_due_reviews", "review_sweep"]


async def notify_due_reviews(session: Any, today: date | None = None) -> int:
    """Notify the current tenant's owners of documents due for review; returns how many documents."""
    from kernel.sdk import notify
    from plugins.knowledge.sources import owners_of

    today = today or datetime.now(UTC).date()
    due = (
        (
            await session.execute(
                select(Document).where(
                    Document.review_at.is_not(None), Document.review_at <= today, Document.review_notified_at.is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    by_collection: dict[UUID, list[Document]] = defaultdict(list)
    for document in due:
        by_collection[document.collection_id].append(document)
    now = datetime.now(UTC)
    for collection_id, documents in by_collection.items():
        collection = await session.get(Collection, collection_id)
        if collection is None:
            continue
        first = documents[0]
        await notify(
            session,
            kind="knowledge.review.due",
            message=N_("%(count)s documents of %(collection)s are due for review, starting with %(title)s."),
            domain="knowledge",
            params={"count": len(documents), "collection": collection.name, "title": first.title},
            link=f"/app/knowledge/documents?collection_id={collection.id}&review_due=true",
            **await owners_of(session, collection),
        )
        for document in documents:
            document.review_notified_at = now
    await session.flush()
    return len(due)


async def review_sweep(ctx: Any) -> dict[str, int]:
    """The daily job: for every organization with documents due, notify their owners."""
    from kernel.sdk import platform_session, tenant_session

    today = datetime.now(UTC).date()
    async with platform_session() as session:
        tenants = (
            (
                await session.execute(
                    text(
                        "SELECT DISTINCT tenant_id FROM knowledge_documents "
                        "WHERE review_at <= :today AND review_notified_at IS NULL"
                    ),
                    {"today": today},
                )
            )
            .scalars()
            .all()
        )
    told = 0
    for tenant_id in tenants:
        async with tenant_session(tenant_id) as session:
            told += await notify_due_reviews(session, today)
            await session.commit()
    return {"tenants": len(tenants), "documents": told}
