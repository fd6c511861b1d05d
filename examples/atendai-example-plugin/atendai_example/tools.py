"""LLM tools: what an AI agent may ask this plugin."""

from __future__ import annotations

from typing import Any

from atendai_example.services import NoteService
from kernel.sdk import LLMTool, load_plugin_settings, tenant_session


async def search_notes(query: str, limit: int = 5) -> dict[str, Any]:
    """Notes of the current tenant whose title or body mention ``query``, as many as its settings allow."""
    async with tenant_session() as session:
        settings = await load_plugin_settings(session, "example")
        if not settings.agents_may_search:
            return {"notes": [], "reason": "The team keeps its notes to itself."}
        notes = await NoteService(session).list(query, limit=max(1, min(limit, settings.search_results)))
    return {"notes": [{"title": note.title, "body": note.body[:500]} for note in notes]}


SEARCH_NOTES = LLMTool(
    name="example_search_notes",
    description="Search the team's notes by a word or phrase and return the matching notes.",
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Word or phrase to look for"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    handler=search_notes,
    permission="example.note.read",
    feature="example.notes",
)
