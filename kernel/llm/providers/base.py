"""The provider-neutral language of the gateway: model configs, messages, completions, failures.

Every provider converts these to and from its own SDK's types, so the gateway's loop (retries,
breaker, tools, ledger) is written once and knows nothing about OpenAI or Gemini wire formats.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from kernel.sdk import LLMTool

__all__ = [
    "DEFAULT_TIMEOUT",
    "ChatRequest",
    "ClientCache",
    "Completion",
    "Credentials",
    "EmbeddingResult",
    "Message",
    "ModelConfig",
    "Provider",
    "ProviderFailure",
    "ProviderName",
    "Revealable",
    "TokenUsage",
    "ToolCall",
    "key_fingerprint",
    "parse_retry_after",
    "plain_key",
    "redact",
]

ProviderName = Literal["openai", "gemini", "offline"]
Role = Literal["system", "user", "assistant", "tool"]
DEFAULT_TIMEOUT = 45.0
"""Seconds one provider request may take before it counts as failed (and is retried)."""
MAX_ERROR_TEXT = 500


@runtime_checkable
class Revealable(Protocol):
    """A secret wrapper (such as the secrets module's ``Secret``) that shows its value only on request."""

    def reveal(self) -> str: ...


@dataclass(frozen=True)
class ModelConfig:
    """Which model to call and how; the key is kept out of ``repr`` so configs can be logged."""

    provider: ProviderName
    model: str
    api_key: str | Revealable | None = field(default=None, repr=False)
    base_url: str | None = None
    """Any OpenAI-compatible server (Ollama, vLLM, Azure proxies) or a Gemini endpoint; ``None``: the vendor's."""
    organization: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Credentials:
    """What a :class:`CredentialsResolver` hands the provider for one call."""

    api_key: str | Revealable | None = field(default=None, repr=False)
    base_url: str | None = None
    organization: str | None = None


def plain_key(value: str | Revealable | None) -> str | None:
    """The key as the SDK needs it; the only place a wrapped secret is revealed."""
    if value is None:
        return None
    return value.reveal() if isinstance(value, Revealable) else value


def key_fingerprint(value: str | Revealable | None) -> str:
    """A short hash of the key, to tell cached clients apart without keeping the key as a dict key."""
    plain = plain_key(value) or ""
    return hashlib.sha256(plain.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenUsage:
    """Tokens as the provider reported them. ``prompt`` includes ``cached`` (both vendors count it so)."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(self.prompt + other.prompt, self.completion + other.completion, self.cached + other.cached)


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asked for; ``id`` is the provider's (Gemini may send none)."""

    id: str | None
    name: str
    arguments_json: str


@dataclass(frozen=True)
class Message:
    """One turn of the conversation in the gateway's own shape.

    ``native`` keeps the provider's own object for an assistant turn (Gemini's thought signatures
    must be sent back as received); a provider uses it only when ``native_provider`` is its name.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    native: Any = None
    native_provider: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Accept the caller's ``{"role": ..., "content": ...}`` dicts."""
        role = data.get("role")
        if role not in ("system", "user", "assistant"):
            raise ValueError(f"unsupported message role {role!r}; pass system, user or assistant messages")
        return cls(role=role, content=str(data.get("content") or ""))


@dataclass(frozen=True)
class ChatRequest:
    """Everything one provider call needs."""

    model: ModelConfig
    credentials: Credentials
    messages: Sequence[Message]
    tools: Sequence[LLMTool] = ()
    tool_choice: Literal["auto", "none"] = "auto"
    """``none``: the tools stay declared (the history mentions them) but the model must answer in text."""
    context_passages: Sequence[str] = ()


@dataclass(frozen=True)
class Completion:
    """One provider answer: text and/or tool calls, the usage it reported, and its native message."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage = field(default_factory=TokenUsage)
    native: Any = None

    def as_message(self, provider: str) -> Message:
        return Message(
            role="assistant",
            content=self.text,
            tool_calls=self.tool_calls,
            native=self.native,
            native_provider=provider,
        )


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    usage: TokenUsage = field(default_factory=TokenUsage)


class ProviderFailure(Exception):
    """A provider call that did not produce an answer, classified for the retry loop and the breaker.

    ``retryable``: worth another attempt (429, 5xx, timeouts, connection errors). ``unhealthy``: says
    the provider itself is down (5xx, timeouts, connection errors), which is what opens the breaker; a
    401 or a 429 are about the caller's key, so they do not close the door for every tenant.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        unhealthy: bool = False,
        retry_after: float | None = None,
        circuit_open: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.unhealthy = unhealthy
        self.retry_after = retry_after
        self.circuit_open = circuit_open

    @classmethod
    def from_status(cls, status: int, message: str, headers: Mapping[str, str] | None = None) -> ProviderFailure:
        server_side = status >= 500 or status == 408
        return cls(
            message,
            status=status,
            retryable=server_side or status == 429,
            unhealthy=server_side,
            retry_after=parse_retry_after(headers),
        )

    @classmethod
    def unreachable(cls, message: str) -> ProviderFailure:
        """Timeouts and connection errors: retried, and counted against the provider's health."""
        return cls(message, retryable=True, unhealthy=True)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); ``None`` if absent."""
    if not headers:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


_KEY_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"AIza[0-9A-Za-z_\-]{20,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"(?i)((?:api[_-]?)?key=)[^&\s]+"),
)


def redact(text: str, *secrets: str | Revealable | None) -> str:
    """Error text safe for the ledger and logs: known keys and anything shaped like a key removed."""
    for secret in secrets:
        plain = plain_key(secret)
        if plain and len(plain) >= 4:
            text = text.replace(plain, "***")
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text[:MAX_ERROR_TEXT]


class Provider(Protocol):
    """What the gateway needs from a provider; each SDK's exceptions become :class:`ProviderFailure`."""

    name: str
    uses_network: bool
    default_base_url: str
    """The endpoint used when the credentials name none (part of the breaker's key)."""
    max_embedding_batch: int

    async def complete(self, request: ChatRequest) -> Completion: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        """Text deltas as they arrive, then one :class:`Completion` with the whole answer and usage."""
        ...

    async def embed(self, model: ModelConfig, credentials: Credentials, texts: Sequence[str]) -> EmbeddingResult: ...

    async def aclose(self) -> None: ...


class ClientCache:
    """SDK clients kept per (endpoint, key, options), so calls reuse connection pools.

    Bounded (least recently used goes first) because every tenant with its own key gets its own
    client; an evicted client is closed in the background.
    """

    def __init__(self, *, size: int = 64) -> None:
        self.size = size
        self._clients: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Any | None:
        client = self._clients.get(key)
        if client is not None:
            self._clients.move_to_end(key)
        return client

    def put(self, key: tuple[Any, ...], client: Any) -> list[Any]:
        """Store ``client``; returns the evicted clients, which the caller closes."""
        self._clients[key] = client
        self._clients.move_to_end(key)
        evicted = []
        while len(self._clients) > self.size:
            evicted.append(self._clients.popitem(last=False)[1])
        return evicted

    def drain(self) -> list[Any]:
        clients = list(self._clients.values())
        self._clients.clear()
        return clients
