"""A plugin used only by the event and job tests: it subscribes to the example's notes and runs jobs.

Importable by a child process too, so tests can kill a dispatcher or worker in the middle of work.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import func, select

from kernel.sdk import JobSpec, PluginManifest, Subscription, hookimpl

MANIFEST = PluginManifest(name="probe", version="0", depends=("example",))
SLEEP_ENV = "PROBE_SLEEP"
MARKER_ENV = "PROBE_MARKER"


async def _pause_if_asked() -> None:
    """In a child process started by a test: say we are in the middle of the work, then hang."""
    marker = os.environ.get(MARKER_ENV)
    if marker:
        Path(marker).write_text("started")
    if os.environ.get(SLEEP_ENV):
        await asyncio.sleep(float(os.environ[SLEEP_ENV]))


async def echo_note(event: Any, session: Any) -> None:
    """Inline subscriber: writes one 'seen' note per event, through the delivery's session."""
    from atendai_example.models import Note

    await _pause_if_asked()
    session.add(Note(title=f"seen {event.id}", body=event.payload["title"]))


async def stamp_note(ctx: Any, *, note_id: str) -> None:
    """A job whose effect is idempotent: it appends once per run, so a duplicate run would show."""
    from atendai_example.models import Note

    from kernel.sdk import tenant_session

    await ctx.heartbeat()
    await _pause_if_asked()
    async with tenant_session(ctx.tenant_id) as session:
        note = (await session.execute(select(Note).where(Note.id == UUID(note_id)).with_for_update())).scalar_one()
        if "[stamped]" not in note.body:
            note.body += " [stamped]"
        note.word_count = (note.word_count or 0) + 1  # counts runs that got this far
        await session.commit()


async def failing_then_ok(ctx: Any, *, note_id: str) -> None:
    """Fails on its first two runs, then succeeds: proves retries with backoff.

    It counts its runs in the note's ``word_count``, which the word-count subscriber first set to 1.
    """
    from atendai_example.models import Note

    from kernel.sdk import tenant_session

    async with tenant_session(ctx.tenant_id) as session:
        note = (await session.execute(select(Note).where(Note.id == UUID(note_id)).with_for_update())).scalar_one()
        note.word_count = (note.word_count or 0) + 1
        tries = note.word_count
        await session.commit()
    if tries < 4:
        raise RuntimeError(f"try {tries} fails on purpose")


async def count_seen(session: Any) -> int:
    from atendai_example.models import Note

    return (await session.execute(select(func.count(Note.id)).where(Note.title.like("seen %")))).scalar_one()


class ProbePlugin:
    @hookimpl
    def register_subscriptions(self, kernel: Any) -> list[Subscription]:
        return [Subscription("example.note.created", echo_note, mode="inline", name="probe.echo")]

    @hookimpl
    def register_jobs(self, kernel: Any) -> list[JobSpec]:
        return [
            JobSpec("probe.stamp", stamp_note, timeout=5, retries=3, heartbeat=2),
            JobSpec("probe.flaky", failing_then_ok, timeout=5, retries=4),
        ]


def probe_kernel(settings: Any) -> Any:
    """A kernel with every installed plugin plus the probe."""
    from kernel.runtime import build_kernel

    return build_kernel(settings, extra_plugins=[(MANIFEST, ProbePlugin())])
