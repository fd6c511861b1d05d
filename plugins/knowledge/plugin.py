"""Hook implementations only: each a few lines, delegating to the modules beside it.

Importing this module has no side effects (no I/O, no database): the kernel imports it at start-up.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kernel.sdk import (
    Feature,
    JobSpec,
    MigrationSpec,
    Permission,
    Routes,
    SettingsSpec,
    hookimpl,
)


@hookimpl
def register_routes(kernel: Any) -> Routes:
    from plugins.knowledge.api import API
    from plugins.knowledge.views import PAGES

    return Routes(api=API, pages=PAGES)


@hookimpl
def register_nav(kernel: Any) -> list[Any]:
    from kernel.sdk import N_, NavItem

    return [
        NavItem(
            "knowledge.documents",
            N_("Knowledge"),
            "/app/knowledge/documents",
            icon="book-open",
            section="service",
            order=50,
            permission="knowledge.document.read",
        ),
        NavItem(
            "knowledge.faq",
            N_("FAQ"),
            "/app/knowledge/faq",
            icon="circle-help",
            section="service",
            order=55,
            permission="knowledge.faq.read",
        ),
        NavItem(
            "knowledge.products",
            N_("Products"),
            "/app/knowledge/products",
            icon="package",
            section="sales",
            order=50,
            permission="knowledge.product.read",
        ),
    ]


@hookimpl
def register_onboarding_steps(kernel: Any) -> list[Any]:
    from kernel.sdk import N_, OnboardingStep
    from plugins.knowledge.services import added_knowledge

    return [
        OnboardingStep(
            "knowledge.first_document",
            N_("Add knowledge"),
            "/app/knowledge/documents?upload=1",
            added_knowledge,
            N_("Upload the files your team already uses, or write a document: your AI agents answer from them."),
            icon="book-open",
            order=40,
            permission="knowledge.document.write",
        )
    ]


@hookimpl
def register_migrations(kernel: Any) -> MigrationSpec:
    return MigrationSpec(
        branch="knowledge", location="plugins.knowledge:migrations/versions", models="plugins.knowledge.models"
    )


@hookimpl
def register_permissions(kernel: Any) -> list[Permission]:
    everyone = ("admin", "supervisor", "operator", "analyst")
    return [
        Permission("knowledge.document.read", "Read and search the knowledge", everyone),
        Permission("knowledge.document.write", "Write, upload, import and delete documents", ("admin", "supervisor")),
        Permission("knowledge.collection.manage", "Create and configure collections and categories", ("admin",)),
        Permission("knowledge.faq.read", "Read the FAQ", everyone),
        Permission("knowledge.faq.write", "Write, import and review FAQ entries", ("admin", "supervisor")),
        Permission("knowledge.product.read", "Read the product catalog", everyone),
        Permission("knowledge.product.write", "Edit, import and export products", ("admin", "supervisor")),
    ]


@hookimpl
def register_events(kernel: Any) -> list[Any]:
    from plugins.knowledge import events

    return [
        events.DOCUMENT_CREATED,
        events.DOCUMENT_UPDATED,
        events.DOCUMENT_DELETED,
        events.DOCUMENT_INDEXED,
        events.PRODUCT_UPDATED,
    ]


@hookimpl
def register_jobs(kernel: Any) -> list[JobSpec]:
    from plugins.knowledge.faq import embed_faqs
    from plugins.knowledge.ingest import run_ingestion, sweep
    from plugins.knowledge.review import review_sweep
    from plugins.knowledge.sources import crawl_source
    from plugins.knowledge.translate import translate_document

    return [
        # A runner drains its tenant's queue; the heartbeat, not the timeout, tells a dead one.
        JobSpec("knowledge.ingest", run_ingestion, timeout=6 * 3600, heartbeat=600, retries=3),
        JobSpec("knowledge.sweep", sweep, timeout=120, retries=1, cron="* * * * *", platform_wide=True),
        JobSpec("knowledge.embed_faqs", embed_faqs, timeout=600, retries=5),
        JobSpec("knowledge.crawl", crawl_source, timeout=1800, heartbeat=300, retries=2),
        JobSpec("knowledge.translate", translate_document, timeout=1800, heartbeat=300, retries=2),
        JobSpec("knowledge.review", review_sweep, timeout=600, retries=2, cron="0 11 * * *", platform_wide=True),
    ]


@hookimpl
def register_llm_tools(kernel: Any) -> list[Any]:
    from plugins.knowledge.tools import SEARCH_KNOWLEDGE, SEARCH_PRODUCTS

    return [SEARCH_KNOWLEDGE, SEARCH_PRODUCTS]


@hookimpl
def register_settings(kernel: Any) -> SettingsSpec:
    from plugins.knowledge.settings import KnowledgeSettings

    return SettingsSpec(schema=KnowledgeSettings)


@hookimpl
def register_features(kernel: Any) -> list[Feature]:
    return [
        Feature("knowledge.documents", kind="quota", default=2000, description="Documents an organization may keep"),
        Feature("knowledge.embeddings", kind="flag", default=True, description="Search by meaning (embeddings)"),
    ]


@hookimpl
def register_cli(cli: Any) -> None:
    from plugins.knowledge.cli import knowledge

    cli.add_command(knowledge)


@hookimpl
async def on_plugin_enabled(kernel: Any, tenant_id: UUID, session: Any) -> None:
    from plugins.knowledge.demo import ensure_default_collection

    await ensure_default_collection(session)


@hookimpl
async def seed_demo(kernel: Any, tenant_id: UUID, session: Any) -> None:
    from plugins.knowledge.demo import seed

    await seed(session)
