"""Web sources: a page, or a small site (its sitemap, else a same-domain crawl with a page limit),
imported into a collection through the kernel's safe HTTP client, and re-crawled on a schedule.

Each page becomes a ``url`` document (the page as fetched is kept in storage). A re-crawl asks with
the page's ETag and Last-Modified, so an unchanged page costs one 304; a page whose text changed is
re-ingested (only its changed passages are embedded again). Pages that changed or broke are told to
the collection's owners in the bell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import N_, NotFound, ValidationFailed, audit
from plugins.knowledge.crawl import Page, crawl, fetch, normalize_url
from plugins.knowledge.models import Collection, Document, Source

__all__ = ["CrawlReport", "SourceService", "crawl_source", "owners_of", "start_crawl"]

log = structlog.get_logger("plugins.knowledge.sources")

MODES = ("page", "site")
CRAWL_JOB = "knowledge.crawl"
PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/pdf")


@dataclass
class CrawlReport:
    found: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    broken: list[dict[str, Any]] = field(default_factory=list)


def _check_url(url: str) -> str:
    try:
        normalized = normalize_url((url or "").strip())
    except ValueError:
        normalized = ""
    if not normalized.startswith(("http://", "https://")):
        raise ValidationFailed(
            "Type a web address starting with http:// or https://.", errors=[{"field": "url", "message": "invalid"}]
        )
    return normalized


async def start_crawl(session: AsyncSession, source: Source) -> None:
    """Queue the source's crawl once the transaction commits (one queued or running crawl per source)."""
    from kernel.sdk import after_commit, enqueue

    source.status = "queued"
    tenant_id, source_id = source.tenant_id, source.id

    async def go() -> None:
        try:
            await enqueue(CRAWL_JOB, tenant_id=tenant_id, key=f"{CRAWL_JOB}:{source_id}", source_id=str(source_id))
        except RuntimeError:  # no queue in this process: the sweep starts it
            return

    after_commit(session, go)


class SourceService:
    def __init__(self, session: AsyncSession, actor_id: UUID | None = None) -> None:
        self.session = session
        self.actor_id = actor_id

    async def list(self, collection_id: UUID | None = None) -> Sequence[Source]:
        statement = select(Source).order_by(Source.created_at.desc())
        if collection_id:
            statement = statement.where(Source.collection_id == collection_id)
        return (await self.session.execute(statement)).scalars().all()

    async def get(self, source_id: UUID) -> Source:
        found = await self.session.get(Source, source_id)
        if found is None:
            raise NotFound("Web source not found.")
        return found

    async def create(
        self,
        collection_id: UUID,
        url: str,
        *,
        mode: str = "page",
        page_limit: int | None = None,
        recrawl_hours: int | None = None,
        category_id: UUID | None = None,
    ) -> Source:
        from kernel.sdk import load_plugin_settings

        collection = await self.session.get(Collection, collection_id)
        if collection is None:
            raise NotFound("Collection not found.")
        if mode not in MODES:
            raise ValidationFailed("Import one page or a site.", errors=[{"field": "mode", "message": "invalid"}])
        settings = await load_plugin_settings(self.session, "knowledge")
        limit = 1 if mode == "page" else (page_limit or settings.crawl_page_limit)
        if not 1 <= limit <= settings.crawl_page_limit:
            raise ValidationFailed(
                "A site import reads from 1 to %(count)d pages.",
                errors=[{"field": "page_limit", "message": "out of range"}],
                count=settings.crawl_page_limit,
            )
        if recrawl_hours is not None and not 1 <= recrawl_hours <= 24 * 90:
            raise ValidationFailed(
                "Re-crawl every 1 hour to 90 days, or never.",
                errors=[{"field": "recrawl_hours", "message": "out of range"}],
            )
        if category_id is not None:
            from plugins.knowledge.services import CategoryService

            category = await CategoryService(self.session).get(category_id)
            if category.collection_id != collection.id:
                raise ValidationFailed(
                    "That category belongs to another collection.",
                    errors=[{"field": "category_id", "message": "invalid"}],
                )
        source = Source(
            collection_id=collection.id,
            category_id=category_id,
            url=_check_url(url),
            mode=mode,
            page_limit=limit,
            recrawl_hours=recrawl_hours,
            status="queued",
            pages_found=0,
            pages_failed=0,
            created_by=self.actor_id,
        )
        self.session.add(source)
        await self.session.flush()
        await audit(
            self.session,
            action="knowledge.source.created",
            target_type="knowledge_source",
            target_id=source.id,
            after={"url": source.url, "mode": mode, "page_limit": limit},
        )
        await start_crawl(self.session, source)
        return source

    async def crawl_now(self, source_id: UUID) -> Source:
        source = await self.get(source_id)
        await start_crawl(self.session, source)
        await self.session.flush()
        return source

    async def delete(self, source_id: UUID, *, with_documents: bool = False) -> None:
        source = await self.get(source_id)
        if with_documents:
            from plugins.knowledge.services import DocumentService

            ids = (await self.session.execute(select(Document.id).where(Document.source_id == source.id))).scalars()
            service = DocumentService(self.session, self.actor_id)
            for document_id in list(ids):
                await service.delete(document_id)
        await audit(
            self.session,
            action="knowledge.source.deleted",
            target_type="knowledge_source",
            target_id=source.id,
            before={"url": source.url},
        )
        await self.session.delete(source)
        await self.session.flush()


async def owners_of(session: AsyncSession, collection: Collection) -> dict[str, Any]:
    """Whom to tell about a collection: its owners, else whoever may manage collections."""
    owners = [UUID(owner) for owner in collection.owner_ids or []]
    return {"user_ids": owners} if owners else {"permission": "knowledge.collection.manage"}


def _title(page: Page) -> str | None:
    if page.media_type not in ("text/html", "application/xhtml+xml"):
        return None
    from plugins.knowledge.extraction import ExtractionFailed, extract_html

    try:
        return extract_html(page.body, url=page.url, encoding=page.charset).title
    except ExtractionFailed:
        return None


async def _store(tenant_id: UUID, source: Source, page: Page, report: CrawlReport) -> None:
    from kernel.sdk import tenant_session
    from plugins.knowledge.services import DocumentService

    async with tenant_session(tenant_id) as session:
        _document, changed = await DocumentService(session).store_page(
            source.collection_id,
            page.url,
            page.body,
            content_type=page.content_type or page.media_type,
            title=_title(page),
            source_id=source.id,
            category_id=source.category_id,
            etag=page.etag,
            last_modified=page.last_modified,
        )
        existed = _document.version > 1 or not changed
        await session.commit()
    if not changed:
        report.unchanged += 1
    elif existed:
        report.changed += 1
    else:
        report.created += 1


async def crawl_source(ctx: Any, source_id: str) -> dict[str, Any]:
    """The job: fetch the source's pages, store new and changed ones, report broken ones to the owners."""
    from kernel.sdk import notify, safe_http_client, tenant_session

    tenant_id = ctx.tenant_id
    async with tenant_session(tenant_id) as session:
        source = await session.get(Source, UUID(source_id))
        if source is None:
            return {"missing": True}
        source.status = "crawling"
        await session.commit()
        known = {
            row.url: row
            for row in (
                await session.execute(
                    select(Document.url, Document.etag, Document.last_modified).where(Document.source_id == source.id)
                )
            ).all()
        }
        session.expunge_all()
    first_run = source.last_run_at is None
    report = CrawlReport()
    async with safe_http_client(timeout=30.0) as client:
        if source.mode == "page":
            previous = known.get(source.url)
            pages = [
                await fetch(
                    client,
                    source.url,
                    etag=previous.etag if previous else None,
                    last_modified=previous.last_modified if previous else None,
                )
            ]
        else:
            pages = [page async for page in crawl(client, source.url, limit=source.page_limit)]
    for page in pages:
        await ctx.heartbeat()
        if page.status == 304:
            report.found += 1
            report.unchanged += 1
            continue
        if not page.ok or not page.body:
            if page.error != "unsupported_type" and page.error != "robots_disallowed":
                report.broken.append({"url": page.url, "status": page.status, "error": page.error})
            continue
        report.found += 1
        try:
            await _store(tenant_id, source, page, report)
        except Exception as exc:
            log.warning("knowledge_page_not_stored", url=page.url, error=str(exc))
            report.broken.append({"url": page.url, "status": page.status, "error": "not_stored"})
    now = datetime.now(UTC)
    async with tenant_session(tenant_id) as session:
        stored = await session.get(Source, UUID(source_id))
        if stored is None:
            return {"missing": True}
        stored.pages_found = report.found
        stored.pages_failed = len(report.broken)
        stored.last_run_at = now
        stored.next_run_at = now + timedelta(hours=stored.recrawl_hours) if stored.recrawl_hours else None
        stored.status = "ready" if report.found else "failed"
        stored.error = (
            "; ".join(f"{b['url']} ({b['status'] or b['error']})" for b in report.broken[:10])[:2000]
            if report.broken
            else None
        )
        collection = await session.get(Collection, stored.collection_id)
        assert collection is not None
        recipients = await owners_of(session, collection)
        link = f"/app/knowledge/documents?collection_id={collection.id}&kind=url"
        if report.broken and not first_run:
            await notify(
                session,
                kind="knowledge.source.broken",
                message=N_("%(count)s pages of %(url)s could not be read on the last re-crawl."),
                domain="knowledge",
                params={"count": len(report.broken), "url": stored.url},
                link=link,
                **recipients,
            )
        if report.changed and not first_run:
            await notify(
                session,
                kind="knowledge.source.changed",
                message=N_("%(count)s pages of %(url)s changed and are being indexed again."),
                domain="knowledge",
                params={"count": report.changed, "url": stored.url},
                link=link,
                **recipients,
            )
        await session.commit()
    return {
        "found": report.found,
        "created": report.created,
        "changed": report.changed,
        "unchanged": report.unchanged,
        "broken": len(report.broken),
    }


async def due_sources(session: AsyncSession, now: datetime) -> list[tuple[UUID, UUID]]:
    """(tenant, source) of every source whose re-crawl time has come, across tenants (platform scope)."""
    rows = await session.execute(
        text(
            "SELECT tenant_id, id FROM knowledge_sources WHERE "
            "(next_run_at IS NOT NULL AND next_run_at <= :now AND status NOT IN ('queued', 'crawling')) "
            "OR (status = 'queued' AND updated_at < :waiting)"
        ),
        {"now": now, "waiting": now - timedelta(seconds=30)},
    )
    return [(row.tenant_id, row.id) for row in rows]
