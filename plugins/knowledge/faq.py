"""FAQ pairs: written by hand, imported from CSV, or suggested (from documents by the model, from the
questions customers asked that nothing answered) and approved by a person.

An approved question close enough to the customer's (the collection's ``faq_threshold``) answers
directly, with no model call. Closeness is the larger of two measures: trigram similarity of the
unaccented, lower-cased questions, and, where the collection has embeddings, cosine similarity of
the question vectors.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from kernel.sdk import N_, NotFound, ValidationFailed, audit
from plugins.knowledge.csvfiles import read_rows
from plugins.knowledge.models import Collection, Document, Faq, UnansweredQuestion

__all__ = [
    "FaqImport",
    "FaqMatch",
    "FaqService",
    "normalize_question",
    "record_unanswered",
]

log = structlog.get_logger("plugins.knowledge.faq")

STATUSES = ("suggested", "approved", "rejected")
MAX_QUESTION = 500
MAX_IMPORT_ROWS = 5000
QUESTION_HEADERS = ("question", "pergunta", "pregunta", "q")
ANSWER_HEADERS = ("answer", "resposta", "respuesta", "a")


ABBREVIATIONS = {
    "vc": "voce",
    "vcs": "voces",
    "oce": "voce",
    "pq": "porque",
    "q": "que",
    "oq": "o que",
    "tb": "tambem",
    "tbm": "tambem",
    "pra": "para",
    "pro": "para o",
    "qdo": "quando",
    "qnd": "quando",
    "qto": "quanto",
    "qtos": "quantos",
    "qts": "quantos",
    "hj": "hoje",
    "msg": "mensagem",
    "td": "tudo",
    "tds": "todos",
    "cmg": "comigo",
    "ngm": "ninguem",
    "dps": "depois",
    "vdd": "verdade",
    "obg": "obrigado",
    "pfv": "por favor",
    "pf": "por favor",
    "mt": "muito",
    "mto": "muito",
    "nd": "nada",
    "ta": "esta",
    "fds": "fim de semana",
}
"""How Brazilians abbreviate on WhatsApp, expanded before a question is compared with the FAQ."""


def normalize_question(question: str, *, expand: bool = False) -> str:
    """Lower case, no accents, no punctuation, single spaces: how questions are compared and counted.

    ``expand`` also spells out WhatsApp abbreviations (``vcs`` → ``voces``, ``pq`` → ``porque``).
    """
    folded = unicodedata.normalize("NFKD", question.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = re.sub(r"[^\w\s]", " ", folded).split()
    if expand:
        words = [ABBREVIATIONS.get(word, word) for word in words]
    return " ".join(words)[:MAX_QUESTION]


@dataclass(frozen=True)
class FaqMatch:
    faq: Faq
    score: float
    measure: str
    """``text`` (trigrams) or ``meaning`` (embeddings)."""


@dataclass(frozen=True)
class FaqImport:
    created: int
    skipped: int
    errors: list[dict[str, Any]]


def _question(value: str | None) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise ValidationFailed("Write the question.", errors=[{"field": "question", "message": "required"}])
    if len(value) > MAX_QUESTION:
        raise ValidationFailed(
            "The question is longer than %(count)d characters.",
            errors=[{"field": "question", "message": "too long"}],
            count=MAX_QUESTION,
        )
    return value


class FaqService:
    def __init__(self, session: AsyncSession, actor_id: UUID | None = None) -> None:
        self.session = session
        self.actor_id = actor_id

    async def list(
        self,
        *,
        status: str | None = None,
        collection_id: UUID | None = None,
        query: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Faq], int]:
        statement = select(Faq)
        if status:
            statement = statement.where(Faq.status == status)
        if collection_id:
            statement = statement.where(Faq.collection_id == collection_id)
        if query and query.strip():
            folded = func.atendai_unaccent(func.lower(query.strip()[:200]))
            statement = statement.where(
                func.atendai_unaccent(func.lower(Faq.question + " " + Faq.answer)).contains(folded)
            )
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(statement.order_by(Faq.updated_at.desc(), Faq.id).limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def get(self, faq_id: UUID) -> Faq:
        found = await self.session.get(Faq, faq_id)
        if found is None:
            raise NotFound("FAQ entry not found.")
        return found

    async def create(
        self,
        collection_id: UUID,
        question: str,
        answer: str,
        *,
        status: str = "approved",
        origin: str = "manual",
        document_id: UUID | None = None,
    ) -> Faq:
        collection = await self.session.get(Collection, collection_id)
        if collection is None:
            raise NotFound("Collection not found.")
        if status not in STATUSES:
            raise ValidationFailed("Unknown status.", errors=[{"field": "status", "message": "invalid"}])
        answer = (answer or "").strip()
        if status == "approved" and not answer:
            raise ValidationFailed(
                "An approved entry needs an answer.", errors=[{"field": "answer", "message": "required"}]
            )
        faq = Faq(
            collection_id=collection.id,
            question=_question(question),
            answer=answer,
            status=status,
            origin=origin,
            document_id=document_id,
            language=collection.language,
            hit_count=0,
            created_by=self.actor_id,
        )
        if status == "approved":
            faq.reviewed_by, faq.reviewed_at = self.actor_id, datetime.now(UTC)
        self.session.add(faq)
        await self.session.flush()
        await audit(
            self.session,
            action="knowledge.faq.created",
            target_type="knowledge_faq",
            target_id=faq.id,
            after={"question": faq.question, "status": status, "origin": origin},
        )
        await _embed_later(self.session, collection)
        return faq

    async def update(self, faq_id: UUID, *, question: str | None = None, answer: str | None = None) -> Faq:
        faq = await self.get(faq_id)
        before = {"question": faq.question, "answer": faq.answer}
        if question is not None:
            faq.question = _question(question)
            faq.embedding_dims = None
            await self._clear_vector(faq.id)
        if answer is not None:
            if faq.status == "approved" and not answer.strip():
                raise ValidationFailed(
                    "An approved entry needs an answer.", errors=[{"field": "answer", "message": "required"}]
                )
            faq.answer = answer.strip()
        await self.session.flush()
        await audit(
            self.session,
            action="knowledge.faq.updated",
            target_type="knowledge_faq",
            target_id=faq.id,
            before=before,
            after={"question": faq.question, "answer": faq.answer},
        )
        collection = await self.session.get(Collection, faq.collection_id)
        if collection is not None and question is not None:
            await _embed_later(self.session, collection)
        return faq

    async def _clear_vector(self, faq_id: UUID) -> None:
        from kernel.sdk import database_capabilities

        if (await database_capabilities()).pgvector:
            await self.session.execute(
                text("UPDATE knowledge_faqs SET embedding = NULL WHERE id = :id"), {"id": faq_id}
            )

    async def review(
        self, faq_id: UUID, decision: str, *, answer: str | None = None, question: str | None = None
    ) -> Faq:
        """Approve (optionally with an edited question and answer) or reject a suggestion."""
        if decision not in ("approved", "rejected"):
            raise ValidationFailed("Approve or reject.", errors=[{"field": "decision", "message": "invalid"}])
        faq = await self.get(faq_id)
        if question is not None and _question(question) != faq.question:
            faq.question = _question(question)
            faq.embedding_dims = None
            await self._clear_vector(faq.id)
            collection = await self.session.get(Collection, faq.collection_id)
            if collection is not None:
                await _embed_later(self.session, collection)
        if answer is not None:
            faq.answer = answer.strip()
        if decision == "approved" and not faq.answer:
            raise ValidationFailed(
                "Write the answer before approving.", errors=[{"field": "answer", "message": "required"}]
            )
        before = faq.status
        faq.status = decision
        faq.reviewed_by, faq.reviewed_at = self.actor_id, datetime.now(UTC)
        await self.session.flush()
        await audit(
            self.session,
            action=f"knowledge.faq.{'approved' if decision == 'approved' else 'rejected'}",
            target_type="knowledge_faq",
            target_id=faq.id,
            before={"status": before},
            after={"status": decision, "question": faq.question},
        )
        return faq

    async def delete(self, faq_id: UUID) -> None:
        faq = await self.get(faq_id)
        await audit(
            self.session,
            action="knowledge.faq.deleted",
            target_type="knowledge_faq",
            target_id=faq.id,
            before={"question": faq.question},
        )
        await self.session.delete(faq)
        await self.session.flush()

    async def import_csv(self, collection_id: UUID, data: bytes, *, approve: bool = True) -> FaqImport:
        """Rows of question and answer (headers ``question``/``pergunta``/``pregunta`` and ``answer``/...)."""
        rows = read_rows(data)
        if not rows:
            raise ValidationFailed("The file is empty.", errors=[{"field": "file", "message": "empty"}])
        header = [cell.strip().lower() for cell in rows[0]]
        q_index = next((i for i, name in enumerate(header) if name in QUESTION_HEADERS), None)
        a_index = next((i for i, name in enumerate(header) if name in ANSWER_HEADERS), None)
        start = 1
        if q_index is None or a_index is None:
            q_index, a_index, start = 0, 1, 0
        existing = {
            normalize_question(q)
            for q in (
                await self.session.execute(select(Faq.question).where(Faq.collection_id == collection_id))
            ).scalars()
        }
        created, skipped, errors = 0, 0, []
        for number, row in enumerate(rows[start : start + MAX_IMPORT_ROWS], start=start + 1):
            if not any(cell.strip() for cell in row):
                continue
            question = row[q_index].strip() if len(row) > q_index else ""
            answer = row[a_index].strip() if len(row) > a_index else ""
            if not question or not answer:
                errors.append(
                    {"line": number, "message": N_("The line needs both a question and an answer."), "params": {}}
                )
                continue
            if normalize_question(question) in existing:
                skipped += 1
                continue
            try:
                await self.create(
                    collection_id, question, answer, status="approved" if approve else "suggested", origin="csv"
                )
            except ValidationFailed as failure:
                errors.append({"line": number, "message": failure.detail, "params": dict(failure.params)})
                continue
            existing.add(normalize_question(question))
            created += 1
        return FaqImport(created=created, skipped=skipped, errors=errors)

    async def match(self, question: str, *, collection_ids: Sequence[UUID] | None = None) -> FaqMatch | None:
        """The approved entry that answers ``question`` directly, when one is at least the collection's threshold."""
        from kernel.sdk import database_capabilities

        normalized = normalize_question(question, expand=True)
        if len(normalized) < 3:
            return None
        collections = (
            (
                await self.session.execute(
                    select(Collection).where(Collection.id.in_(list(collection_ids)))
                    if collection_ids is not None
                    else select(Collection)
                )
            )
            .scalars()
            .all()
        )
        if not collections:
            return None
        by_id = {collection.id: collection for collection in collections}
        ids = list(by_id)
        rows = (
            await self.session.execute(
                text(
                    "SELECT id, collection_id, similarity(question_key, :q) AS score "
                    "FROM knowledge_faqs WHERE status = 'approved' AND collection_id = ANY(:ids) "
                    "AND question_key % :q ORDER BY score DESC LIMIT 5"
                ).bindparams(bindparam("ids", type_=ARRAY(Uuid()))),
                {"q": normalized, "ids": ids},
            )
        ).all()
        candidates: list[tuple[UUID, float, str]] = [(row.id, float(row.score), "text") for row in rows]
        embedded = [c for c in collections if c.embedding_model and c.embedding_provider]
        if embedded and (await database_capabilities()).pgvector:
            from plugins.knowledge.search import embed_query, vector_literal

            for collection in embedded:
                try:
                    vector = await embed_query(collection.tenant_id, collection, question)
                except Exception as exc:  # the text measure still answers; say why meaning did not
                    log.warning("knowledge_faq_embedding_failed", collection_id=str(collection.id), error=str(exc))
                    continue
                near = (
                    await self.session.execute(
                        text(
                            "SELECT id, 1 - (embedding <=> CAST(:v AS vector)) AS score FROM knowledge_faqs "
                            "WHERE status = 'approved' AND collection_id = :c AND embedding_dims = :d "
                            "ORDER BY embedding <=> CAST(:v AS vector) LIMIT 3"
                        ),
                        {"v": vector_literal(vector), "c": collection.id, "d": len(vector)},
                    )
                ).all()
                candidates.extend((row.id, float(row.score), "meaning") for row in near)
        best: FaqMatch | None = None
        for faq_id, score, measure in sorted(candidates, key=lambda c: -c[1]):
            faq = await self.session.get(Faq, faq_id)
            if faq is None:
                continue
            if score >= by_id[faq.collection_id].faq_threshold:
                best = FaqMatch(faq=faq, score=round(score, 4), measure=measure)
            break
        if best is not None:
            best.faq.hit_count += 1
            best.faq.last_hit_at = datetime.now(UTC)
            await self.session.flush()
        return best

    async def suggest_from_unanswered(self, *, minimum_times: int = 1, limit: int = 50) -> int:
        """Turn open unanswered questions into suggestions for a person to answer; returns how many."""
        rows = (
            (
                await self.session.execute(
                    select(UnansweredQuestion)
                    .where(UnansweredQuestion.status == "open", UnansweredQuestion.times >= minimum_times)
                    .order_by(UnansweredQuestion.times.desc(), UnansweredQuestion.last_asked_at.desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
        default = (await self.session.execute(select(Collection).order_by(Collection.created_at).limit(1))).scalar()
        made = 0
        for row in rows:
            collection_id = row.collection_id or (default.id if default else None)
            if collection_id is None:
                break
            await self.create(collection_id, row.question, "", status="suggested", origin="unanswered")
            row.status = "suggested"
            made += 1
        await self.session.flush()
        return made

    async def suggest_from_document(self, document_id: UUID, *, count: int = 8) -> list[Faq]:
        """Ask the organization's model for question and answer pairs a customer would ask of the document."""
        from kernel.sdk import current_gateway, organization_model, require_tenant_id

        document = await self.session.get(Document, document_id)
        if document is None:
            raise NotFound("Document not found.")
        model = await organization_model(self.session)
        if model.provider == "offline":
            raise ValidationFailed(
                "Suggesting questions needs an AI model: set one up in the AI settings.",
                errors=[{"field": "model", "message": "offline"}],
            )
        body = document.body[:12000]
        prompt = (
            f"Write up to {count} questions a customer could ask that this document answers, each with its answer "
            "taken only from the document, in the document's language. Reply with JSON only: "
            '[{"question": "...", "answer": "..."}].\n\n'
            f"Title: {document.title}\n\n{body}"
        )
        result = await current_gateway().chat(
            tenant_id=require_tenant_id(), messages=[{"role": "user", "content": prompt}], model=model, tools=[]
        )
        pairs = _parse_pairs(result.text)
        made = []
        for pair in pairs[:count]:
            try:
                made.append(
                    await self.create(
                        document.collection_id,
                        pair["question"],
                        pair["answer"],
                        status="suggested",
                        origin="document",
                        document_id=document.id,
                    )
                )
            except ValidationFailed:
                continue
        return made


def _parse_pairs(answer: str) -> list[dict[str, str]]:
    start, end = answer.find("["), answer.rfind("]")
    if start < 0 or end <= start:
        return []
    try:
        data = json.loads(answer[start : end + 1])
    except ValueError:
        return []
    pairs = []
    for item in data if isinstance(data, list) else []:
        if isinstance(item, dict) and isinstance(item.get("question"), str) and isinstance(item.get("answer"), str):
            pairs.append({"question": item["question"][:MAX_QUESTION], "answer": item["answer"][:4000]})
    return pairs


async def _embed_later(session: AsyncSession, collection: Collection) -> None:
    if not (collection.embedding_model and collection.embedding_provider):
        return
    from kernel.sdk import after_commit, enqueue

    tenant_id = collection.tenant_id

    async def start() -> None:
        try:
            await enqueue("knowledge.embed_faqs", tenant_id=tenant_id, key=f"knowledge.embed_faqs:{tenant_id}")
        except RuntimeError:
            return

    after_commit(session, start)


async def embed_faqs(ctx: Any) -> dict[str, int]:
    """The job: embed the questions of the tenant's FAQ entries that have no vector yet."""
    from kernel.sdk import ModelConfig, current_gateway, database_capabilities, tenant_session
    from plugins.knowledge.search import vector_literal

    if not (await database_capabilities()).pgvector:
        return {"embedded": 0}
    done = 0
    async with tenant_session(ctx.tenant_id) as session:
        collections = (
            (await session.execute(select(Collection).where(Collection.embedding_model.is_not(None)))).scalars().all()
        )
        for collection in collections:
            pending = (
                await session.execute(
                    select(Faq.id, Faq.question).where(Faq.collection_id == collection.id, Faq.embedding_dims.is_(None))
                )
            ).all()
            if not pending:
                continue
            model = ModelConfig(provider=collection.embedding_provider, model=collection.embedding_model)  # type: ignore[arg-type]
            vectors = await current_gateway().embed(
                tenant_id=ctx.tenant_id, texts=[row.question for row in pending], model=model
            )
            for row, vector in zip(pending, vectors, strict=True):
                await session.execute(
                    text(
                        "UPDATE knowledge_faqs SET embedding = CAST(:v AS vector), embedding_dims = :d WHERE id = :id"
                    ),
                    {"v": vector_literal(vector), "d": len(vector), "id": row.id},
                )
                done += 1
        await session.commit()
    return {"embedded": done}


async def record_unanswered(session: AsyncSession, question: str, *, collection_id: UUID | None = None) -> None:
    """Count a customer question nothing answered (the agents call this); the same question is counted once."""
    normalized = normalize_question(question)
    if len(normalized) < 3:
        return
    from kernel.sdk import require_tenant_id

    now = datetime.now(UTC)
    statement = insert(UnansweredQuestion).values(
        tenant_id=require_tenant_id(),
        question=" ".join(question.split())[:MAX_QUESTION],
        normalized=normalized,
        collection_id=collection_id,
        times=1,
        last_asked_at=now,
        status="open",
    )
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "normalized"],
        set_={"times": UnansweredQuestion.times + 1, "last_asked_at": now},
    )
    await session.execute(statement)
