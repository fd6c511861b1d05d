"""Event subscribers."""

from __future__ import annotations

from uuid import UUID

from atendai_example.services import NoteService
from kernel.sdk import Event, tenant_session


async def count_words(event: Event) -> None:
    """Store the word count of a new note (runs as a job, after the note's transaction committed)."""
    async with tenant_session(event.tenant_id) as session:
        await NoteService(session).record_word_count(UUID(str(event.payload["note_id"])))
        await session.commit()
