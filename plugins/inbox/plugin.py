"""Hook implementations only: each a few lines, delegating to the modules beside it.

Importing this module has no side effects (no I/O, no database): the kernel imports it at start-up.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kernel.sdk import Feature, JobSpec, MigrationSpec, Permission, Routes, SettingsSpec, hookimpl


@hookimpl
def atendai_addhooks(pluginmanager: Any) -> None:
    from plugins.inbox import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def register_routes(kernel: Any) -> Routes:
    from plugins.inbox.api import API
    from plugins.inbox.views import PAGES
    from plugins.inbox.webchat import WEBCHAT_ROUTES

    return Routes(api=[*API, *WEBCHAT_ROUTES], pages=PAGES)


@hookimpl
def register_nav(kernel: Any) -> list[Any]:
    from kernel.sdk import N_, NavItem

    return [
        NavItem(
            "inbox.board",
            N_("Attendance"),
            "/app/inbox/board",
            icon="kanban-square",
            section="service",
            order=10,
            permission="inbox.conversation.read",
        ),
        NavItem(
            "inbox.conversations",
            N_("Conversations"),
            "/app/inbox/conversations",
            icon="message-square",
            section="service",
            order=15,
            permission="inbox.conversation.read",
        ),
        NavItem(
            "inbox.search",
            N_("History search"),
            "/app/inbox/search",
            icon="search",
            section="service",
            order=20,
            permission="inbox.history.search",
        ),
        NavItem(
            "inbox.canned",
            N_("Canned responses"),
            "/app/inbox/canned-responses",
            icon="message-circle",
            section="service",
            order=60,
            permission="inbox.board.manage",
        ),
        NavItem(
            "inbox.teams",
            N_("Teams"),
            "/app/inbox/teams",
            icon="users",
            section="settings",
            order=30,
            permission="inbox.team.manage",
        ),
    ]


@hookimpl
def register_migrations(kernel: Any) -> MigrationSpec:
    return MigrationSpec(branch="inbox", location="plugins.inbox:migrations/versions", models="plugins.inbox.models")


@hookimpl
def register_permissions(kernel: Any) -> list[Permission]:
    everyone = ("admin", "supervisor", "operator", "analyst")
    attendants = ("admin", "supervisor", "operator")
    return [
        Permission("inbox.conversation.read", "Read conversations and the attendance board", everyone),
        Permission("inbox.conversation.reply", "Reply, write notes, take and transfer own conversations", attendants),
        Permission("inbox.conversation.assign", "Assign and transfer anyone's conversations", ("admin", "supervisor")),
        Permission("inbox.contact.read", "Read contacts", everyone),
        Permission("inbox.contact.write", "Create, edit and merge contacts", attendants),
        Permission("inbox.contact.privacy", "Export and erase a contact's data (LGPD)", ("admin",)),
        Permission("inbox.team.manage", "Manage teams and their members", ("admin",)),
        Permission("inbox.board.manage", "Manage stages, channels and canned responses", ("admin", "supervisor")),
        Permission("inbox.history.search", "Search the history of every conversation", everyone),
    ]


@hookimpl
def register_events(kernel: Any) -> list[Any]:
    from plugins.inbox.events import EVENTS

    return list(EVENTS)


@hookimpl
def register_subscriptions(kernel: Any) -> list[Any]:
    from plugins.inbox.realtime import subscriptions

    return subscriptions()


@hookimpl
def startup(kernel: Any) -> None:
    from plugins.inbox.realtime import register_topics

    register_topics()


@hookimpl
def register_jobs(kernel: Any) -> list[JobSpec]:
    from plugins.inbox.jobs import deliver_message, wait_sweep

    return [
        JobSpec("inbox.deliver", deliver_message, timeout=60, retries=6),
        JobSpec("inbox.wait_sweep", wait_sweep, timeout=120, retries=1, cron="* * * * *", platform_wide=True),
    ]


@hookimpl
def register_settings(kernel: Any) -> SettingsSpec:
    from plugins.inbox.settings import InboxSettings

    return SettingsSpec(schema=InboxSettings)


@hookimpl
def register_features(kernel: Any) -> list[Feature]:
    return [
        Feature("inbox.teams", kind="quota", default=20, description="Teams an organization may have"),
        Feature("inbox.channels", kind="quota", default=10, description="Channels an organization may connect"),
    ]


@hookimpl
async def on_plugin_enabled(kernel: Any, tenant_id: UUID, session: Any) -> None:
    from plugins.inbox.demo import ensure_defaults

    await ensure_defaults(session)


@hookimpl
async def seed_demo(kernel: Any, tenant_id: UUID, session: Any) -> None:
    from plugins.inbox.demo import seed

    await seed(session)
