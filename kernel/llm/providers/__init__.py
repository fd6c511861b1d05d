"""Model providers behind the gateway: ``openai`` (and compatible servers), ``gemini`` and ``offline``."""

from __future__ import annotations

from kernel.llm.providers.base import (
    ChatRequest,
    Completion,
    Credentials,
    EmbeddingResult,
    Message,
    ModelConfig,
    Provider,
    ProviderFailure,
    ProviderName,
    TokenUsage,
    ToolCall,
)
from kernel.llm.providers.offline import OFFLINE_MARKER, OfflineProvider, best_passage

__all__ = [
    "OFFLINE_MARKER",
    "ChatRequest",
    "Completion",
    "Credentials",
    "EmbeddingResult",
    "Message",
    "ModelConfig",
    "OfflineProvider",
    "Provider",
    "ProviderFailure",
    "ProviderName",
    "TokenUsage",
    "ToolCall",
    "best_passage",
    "make_provider",
]


def make_provider(name: str) -> Provider | None:
    """A new provider by name, ``None`` for an unknown one.

    The SDKs are imported here, when a provider is first used: together they take over a second to
    import, which every process start and CLI command would otherwise pay.
    """
    if name == "openai":
        from kernel.llm.providers.openai import OpenAIProvider

        return OpenAIProvider()
    if name == "gemini":
        from kernel.llm.providers.gemini import GeminiProvider

        return GeminiProvider()
    if name == "offline":
        return OfflineProvider()
    return None
