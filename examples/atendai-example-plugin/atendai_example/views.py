"""HTML pages, mounted by the kernel under ``/app/example``."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from atendai_example.services import NoteService
from kernel.sdk import load_plugin_settings, render_page


@get("/", opt={"permission": "example.note.read"}, name="example:notes")
async def notes_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    settings = await load_plugin_settings(db_session, "example")
    notes = await NoteService(db_session).list(limit=settings.notes_per_page, order=settings.order)
    return render_page(request, "example/notes.html", notes=notes, footer=settings.footer)
