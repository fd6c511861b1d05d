"""``atendai knowledge ...``: re-index from the command line, with a progress bar."""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

import click

__all__ = ["knowledge"]


@click.group()
def knowledge() -> None:
    """Knowledge base: collections, documents, search."""


@knowledge.command("reindex")
@click.option("--tenant", "tenant", required=True, help="Organization slug or id.")
@click.option("--collection", "collection", default=None, help="Only this collection (name or id).")
def reindex(tenant: str, collection: str | None) -> None:
    """Index an organization's documents again here and now: passages whose text is unchanged keep their
    embeddings; changed ones are embedded again; vanished ones are removed."""
    asyncio.run(_reindex(tenant, collection))


async def _reindex(tenant: str, collection: str | None) -> None:
    from sqlalchemy import func, or_, select

    from kernel.config import load_settings
    from kernel.runtime import build_kernel
    from kernel.sdk import platform_session, tenant_session
    from kernel.tenancy.models import Organization
    from plugins.knowledge.ingest import ingest_document
    from plugins.knowledge.models import Collection, Document

    kernel = build_kernel(load_settings())
    kernel.connect()
    kernel.ensure_migrated()
    try:
        async with platform_session() as session:
            conditions = [Organization.slug == tenant]
            with contextlib.suppress(ValueError):
                conditions.append(Organization.id == UUID(tenant))
            organization = (await session.execute(select(Organization).where(or_(*conditions)))).scalar_one_or_none()
        if organization is None:
            raise click.ClickException(f"no organization {tenant!r}")
        async with tenant_session(organization.id) as session:
            statement = select(Document.id)
            if collection:
                match = [func.lower(Collection.name) == collection.lower()]
                with contextlib.suppress(ValueError):
                    match.append(Collection.id == UUID(collection))
                ids = list((await session.execute(select(Collection.id).where(or_(*match)))).scalars())
                if not ids:
                    raise click.ClickException(f"no collection {collection!r}")
                statement = statement.where(Document.collection_id.in_(ids))
            document_ids = list((await session.execute(statement.order_by(Document.created_at))).scalars())
        totals = {"added": 0, "kept": 0, "removed": 0, "embedded": 0, "failed": 0}
        with click.progressbar(document_ids, label="Indexing", show_pos=True) as bar:
            for document_id in bar:
                report = await ingest_document(organization.id, document_id)
                for key in ("added", "kept", "removed", "embedded"):
                    totals[key] += getattr(report, key)
                totals["failed"] += report.status == "failed"
        click.echo(
            f"{len(document_ids)} documents: {totals['added']} passages added, {totals['kept']} unchanged, "
            f"{totals['removed']} removed, {totals['embedded']} embedded, {totals['failed']} failed"
        )
    finally:
        await kernel.db.dispose()
