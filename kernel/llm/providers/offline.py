"""The ``offline`` provider: no key, no network, no model. It answers with the best passage it was given.

An installation without any API key still answers from its knowledge base, and a tenant whose
provider is down can fall back to it. Its answers always start with :data:`OFFLINE_MARKER` (and the
result says ``offline=True``), so the UI can show that no AI wrote them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Sequence

from kernel.llm.providers.base import (
    ChatRequest,
    Completion,
    Credentials,
    EmbeddingResult,
    ModelConfig,
    ProviderFailure,
)

__all__ = ["OFFLINE_MARKER", "OfflineProvider", "best_passage", "words_of"]

OFFLINE_MARKER = "[offline]"
MIN_WORD_LENGTH = 3
_WORD = re.compile(r"\w+")


def words_of(text: str) -> set[str]:
    """Lower-case words without accents (``Promoção`` matches ``promocao``), short words left out."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return {w for w in _WORD.findall(plain) if len(w) >= MIN_WORD_LENGTH or w.isdigit()}


def best_passage(question: str, passages: Sequence[str]) -> str | None:
    """The passage sharing the most words with ``question`` (the first one on a tie); ``None`` if none share any."""
    wanted = words_of(question)
    best: str | None = None
    best_overlap = 0
    for passage in passages:
        overlap = len(wanted & words_of(passage))
        if overlap > best_overlap:
            best, best_overlap = passage, overlap
    return best


class OfflineProvider:
    name = "offline"
    default_base_url = ""
    uses_network = False
    max_embedding_batch = 1_000_000

    async def complete(self, request: ChatRequest) -> Completion:
        question = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        passage = best_passage(question, request.context_passages)
        text = f"{OFFLINE_MARKER} {passage.strip()}" if passage else OFFLINE_MARKER
        return Completion(text=text)

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        completion = await self.complete(request)
        yield completion.text
        yield completion

    async def embed(self, model: ModelConfig, credentials: Credentials, texts: Sequence[str]) -> EmbeddingResult:
        raise ProviderFailure("the offline provider computes no embeddings")

    async def aclose(self) -> None:
        return None
