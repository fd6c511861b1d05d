"""Event subscribers."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from atendai_example.services import NoteService
from kernel.sdk import Event


async def count_words(event: Event, session: AsyncSession) -> None:
    """Store the word count of a new note.

    It runs as a job after the note's transaction committed. Writing through ``session`` makes the
    change commit together with the kernel's delivery record, so it happens exactly once.
    """
    await NoteService(session).record_word_count(UUID(str(event.payload["note_id"])))
