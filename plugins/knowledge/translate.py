"""Translating a document into another language with the organization's model.

The translation is a new editor document linked to its original (``translated_from_id``), in the
collection chosen (by default the original's), so it is searched with that collection's language
configuration. The model translates section by section (Markdown headings kept), which keeps each
call small and the text's structure intact. The new document is created at once with the status
``translating`` and filled in by a job; ingestion starts when the text is in.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import ValidationFailed, audit
from plugins.knowledge.models import Collection, Document

__all__ = ["LANGUAGE_NAMES", "request_translation", "translate_document", "translation_parts"]

log = structlog.get_logger("plugins.knowledge.translate")

LANGUAGE_NAMES = {"pt": "Brazilian Portuguese", "en": "English", "es": "Latin American Spanish"}
PART_CHARS = 6000
TRANSLATE_JOB = "knowledge.translate"
_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)


def translation_parts(markdown: str, limit: int = PART_CHARS) -> list[str]:
    """The text cut before headings into parts of at most ``limit`` characters (paragraphs kept whole)."""
    starts = [match.start() for match in _HEADING.finditer(markdown)]
    sections = [
        markdown[a:b] for a, b in zip([0, *starts], [*starts, len(markdown)], strict=True) if markdown[a:b].strip()
    ]
    parts: list[str] = []
    for section in sections:
        if parts and len(parts[-1]) + len(section) <= limit:
            parts[-1] += section
            continue
        while len(section) > limit:
            cut = section.rfind("\n\n", 0, limit)
            cut = cut if cut > 0 else section.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            parts.append(section[:cut])
            section = section[cut:]
        parts.append(section)
    return parts


async def request_translation(
    session: AsyncSession,
    document_id: UUID,
    language: str,
    *,
    collection_id: UUID | None = None,
    actor_id: UUID | None = None,
) -> Document:
    """Create the translated document (empty, ``translating``) and queue the job that writes it."""
    from kernel.sdk import after_commit, enqueue, organization_model
    from plugins.knowledge.services import DocumentService

    if language not in LANGUAGE_NAMES:
        raise ValidationFailed(
            "Choose Portuguese, English or Spanish.", errors=[{"field": "language", "message": "invalid"}]
        )
    original = await DocumentService(session).get(document_id)
    if not original.body.strip():
        raise ValidationFailed("This document has no text to translate yet.")
    if original.language == language and collection_id in (None, original.collection_id):
        raise ValidationFailed(
            "The document is already in that language.", errors=[{"field": "language", "message": "same"}]
        )
    if (await organization_model(session)).provider == "offline":
        raise ValidationFailed(
            "Translating needs an AI model: set one up in the AI settings.",
            errors=[{"field": "model", "message": "offline"}],
        )
    target = collection_id or original.collection_id
    if await session.get(Collection, target) is None:
        from kernel.sdk import NotFound

        raise NotFound("Collection not found.")
    document = Document(
        collection_id=target,
        category_id=original.category_id if target == original.collection_id else None,
        title=f"{original.title} ({language})"[:300],
        kind="editor",
        body="",
        language=language,
        translated_from_id=original.id,
        status="translating",
        progress=0,
        error_params={},
        chunk_count=0,
        embedded_count=0,
        meta=dict(original.meta or {}),
        version=1,
        created_by=actor_id,
        updated_by=actor_id,
    )
    session.add(document)
    await session.flush()
    await audit(
        session,
        action="knowledge.document.translation_requested",
        target_type="knowledge_document",
        target_id=document.id,
        after={"from": str(original.id), "language": language},
    )
    tenant_id, new_id = document.tenant_id, document.id

    async def go() -> None:
        try:
            await enqueue(TRANSLATE_JOB, tenant_id=tenant_id, key=f"{TRANSLATE_JOB}:{new_id}", document_id=str(new_id))
        except RuntimeError:
            return

    after_commit(session, go)
    return document


def _prompt(language: str, title: str, part: str) -> str:
    return (
        f"Translate the following Markdown into {LANGUAGE_NAMES[language]}. Keep the Markdown structure, "
        "numbers, prices, product codes, names and links exactly as they are. Reply with the translation only.\n\n"
        f"Document: {title}\n\n{part}"
    )


async def translate_document(ctx: Any, document_id: str) -> dict[str, Any]:
    """The job: translate the original part by part into the new document, then index it."""
    from kernel.sdk import current_gateway, emit, organization_model, tenant_session
    from plugins.knowledge.events import DOCUMENT_CREATED
    from plugins.knowledge.ingest import queue_ingestion
    from plugins.knowledge.services import DocumentService, _changed

    tenant_id = ctx.tenant_id
    async with tenant_session(tenant_id) as session:
        document = await session.get(Document, UUID(document_id))
        if document is None or document.status != "translating" or document.translated_from_id is None:
            return {"skipped": True}
        original = await session.get(Document, document.translated_from_id)
        model = await organization_model(session)
        if original is None:
            document.status, document.error_code = "failed", "corrupt"
            await session.commit()
            return {"failed": "original deleted"}
        body, title, language = original.body, original.title, document.language
    translated: list[str] = []
    parts = translation_parts(body)
    try:
        for index, part in enumerate(parts):
            await ctx.heartbeat()
            result = await current_gateway().chat(
                tenant_id=tenant_id,
                messages=[{"role": "user", "content": _prompt(language, title, part)}],
                model=model,
                tools=[],
            )
            translated.append(result.text.strip())
            async with tenant_session(tenant_id) as session:
                row = await session.get(Document, UUID(document_id))
                if row is not None:
                    row.progress = int(90 * (index + 1) / len(parts))
                    await session.commit()
    except Exception as exc:
        log.warning("knowledge_translation_failed", document_id=document_id, error=str(exc))
        async with tenant_session(tenant_id) as session:
            row = await session.get(Document, UUID(document_id))
            if row is not None:
                row.status, row.progress = "failed", 100
                row.error_code = "translation_failed"
                row.error_params = {"detail": str(getattr(exc, "detail", None) or exc)[:300]}
                await session.commit()
        return {"failed": row.error_code if row else "missing"}
    async with tenant_session(tenant_id) as session:
        row = await session.get(Document, UUID(document_id))
        if row is None:
            return {"skipped": True}
        row.body = "\n\n".join(translated)
        service = DocumentService(session)
        from plugins.knowledge.services import _sha

        row.content_sha256 = _sha(row.body)
        service._version(row, note="translated")
        await queue_ingestion(session, row)
        await session.flush()
        await emit(session, DOCUMENT_CREATED, _changed(row))
        await session.commit()
    return {"parts": len(parts)}
