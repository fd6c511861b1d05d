"""Hook implementations only: each a few lines, delegating to the modules beside it.

Importing this module has no side effects (no I/O, no database): the kernel imports it at start-up.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from kernel.sdk import (
    Feature,
    MigrationSpec,
    NavItem,
    OnboardingStep,
    Permission,
    Routes,
    SettingsSpec,
    Subscription,
    hookimpl,
)


@hookimpl
def register_routes(kernel: Any) -> Routes:
    from atendai_example.api import NotesController
    from atendai_example.views import notes_page

    return Routes(api=[NotesController], pages=[notes_page])


@hookimpl
def register_migrations(kernel: Any) -> MigrationSpec:
    return MigrationSpec(
        branch="example", location="atendai_example:migrations/versions", models="atendai_example.models"
    )


@hookimpl
def register_permissions(kernel: Any) -> list[Permission]:
    return [
        Permission("example.note.read", "Read notes", ("admin", "supervisor", "operator", "analyst")),
        Permission("example.note.write", "Write and delete notes", ("admin", "supervisor")),
    ]


@hookimpl
def register_nav(kernel: Any) -> list[NavItem]:
    return [
        NavItem("example.notes", "Notes", "/app/example/", icon="file-text", order=90, permission="example.note.read")
    ]


@hookimpl
def register_onboarding_steps(kernel: Any) -> list[OnboardingStep]:
    from atendai_example.services import wrote_a_note

    return [
        OnboardingStep(
            "example.first_note",
            "Write your first note",
            "/app/example/",
            wrote_a_note,
            "Notes are what your AI agents can search.",
            icon="file-text",
            order=50,
            permission="example.note.write",
        )
    ]


@hookimpl
def register_events(kernel: Any) -> list[Any]:
    from atendai_example.events import NOTE_CREATED

    return [NOTE_CREATED]


@hookimpl
def register_subscriptions(kernel: Any) -> list[Subscription]:
    from atendai_example.subscribers import count_words

    return [Subscription("example.note.created", count_words, mode="job", name="example.count_words")]


@hookimpl
def register_llm_tools(kernel: Any) -> list[Any]:
    from atendai_example.tools import SEARCH_NOTES

    return [SEARCH_NOTES]


@hookimpl
def register_settings(kernel: Any) -> SettingsSpec:
    from atendai_example.settings import ExampleSettings

    return SettingsSpec(schema=ExampleSettings, secret_fields=("export_token",))


@hookimpl
def register_features(kernel: Any) -> list[Feature]:
    return [Feature("example.notes", kind="quota", default=1000, description="Notes an organization may keep")]


@hookimpl
async def on_plugin_enabled(kernel: Any, tenant_id: UUID, session: Any) -> None:
    from atendai_example.services import NoteService

    service = NoteService(session)
    if await service.count() == 0:
        await service.create("Welcome", "Notes written here can be searched by your AI agents.")


@hookimpl
async def seed_demo(kernel: Any, tenant_id: UUID, session: Any) -> None:
    from atendai_example.services import NoteService

    service = NoteService(session)
    if not await service.list("Opening hours"):
        await service.create("Opening hours", "Monday to Friday, 9:00 to 18:00. Saturdays 9:00 to 13:00.")
