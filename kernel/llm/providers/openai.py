"""OpenAI and every OpenAI-compatible server (Ollama, vLLM, LM Studio, gateways) through ``openai.AsyncOpenAI``.

The SDK's own retries are off (``max_retries=0``): the gateway retries, so one policy (backoff, jitter,
Retry-After, breaker) covers every provider and the ledger sees each failure once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
import openai
from openai import AsyncOpenAI

from kernel.llm.providers.base import (
    ChatRequest,
    ClientCache,
    Completion,
    Credentials,
    EmbeddingResult,
    Message,
    ModelConfig,
    ProviderFailure,
    TokenUsage,
    ToolCall,
    key_fingerprint,
    plain_key,
)

__all__ = ["DEFAULT_OPENAI_URL", "OpenAIProvider", "to_openai_messages", "usage_of"]

DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
KEYLESS = "unused"
"""Local OpenAI-compatible servers ignore the key, but the SDK insists on one."""


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The gateway's turns as chat-completions messages.

    A tool call that came without an id (from Gemini, before a fallback to an OpenAI model) gets one
    here, and the tool results that follow take the same ids in order, so the pairs still match.
    """
    result: list[dict[str, Any]] = []
    unanswered: list[str] = []
    for index, message in enumerate(messages):
        if message.role == "assistant":
            result.append(_assistant_message(message, index, unanswered))
        elif message.role == "tool":
            call_id = message.tool_call_id or (unanswered.pop(0) if unanswered else f"call_{index}")
            result.append({"role": "tool", "tool_call_id": call_id, "content": message.content})
        else:
            result.append({"role": message.role, "content": message.content})
    return result


def _assistant_message(message: Message, index: int, unanswered: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"role": "assistant", "content": message.content or None}
    calls = []
    for position, call in enumerate(message.tool_calls):
        call_id = call.id
        if call_id is None:
            call_id = f"call_{index}_{position}"
            unanswered.append(call_id)
        calls.append(
            {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_json}}
        )
    if calls:
        entry["tool_calls"] = calls
    return entry


def _tool_specs(request: ChatRequest) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in request.tools
    ]


def _uses_vendor_api(base_url: str) -> bool:
    return "api.openai.com" in base_url


def _create_arguments(request: ChatRequest, base_url: str) -> dict[str, Any]:
    model = request.model
    arguments: dict[str, Any] = {"model": model.model, "messages": to_openai_messages(request.messages)}
    if model.temperature is not None:
        arguments["temperature"] = model.temperature
    if model.max_tokens is not None:
        # OpenAI's newer models accept only ``max_completion_tokens``; compatible servers know ``max_tokens``.
        limit_name = "max_completion_tokens" if _uses_vendor_api(base_url) else "max_tokens"
        arguments[limit_name] = model.max_tokens
    if request.tools:
        arguments["tools"] = _tool_specs(request)
        arguments["tool_choice"] = request.tool_choice
    return arguments


def usage_of(usage: Any) -> TokenUsage:
    """``prompt_tokens``, ``completion_tokens`` and ``prompt_tokens_details.cached_tokens``, as reported."""
    if usage is None:
        return TokenUsage()
    details = getattr(usage, "prompt_tokens_details", None)
    return TokenUsage(
        prompt=usage.prompt_tokens or 0,
        completion=getattr(usage, "completion_tokens", 0) or 0,
        cached=(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0,
    )


def to_failure(exc: Exception) -> ProviderFailure:
    """The SDK's (and its transport's) exceptions, classified for retries and the breaker."""
    if isinstance(exc, openai.APIStatusError):
        return ProviderFailure.from_status(exc.status_code, f"HTTP {exc.status_code}: {exc}", exc.response.headers)
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException | httpx.TimeoutException):
        return ProviderFailure.unreachable("the request timed out")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError | httpx.TransportError):
        return ProviderFailure.unreachable(f"connection failed: {exc}")
    return ProviderFailure(f"{type(exc).__name__}: {exc}")


PROVIDER_EXCEPTIONS = (openai.OpenAIError, httpx2.HTTPError, httpx.HTTPError)


@dataclass
class _StreamState:
    """What the deltas of one streamed answer add up to."""

    text: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    usage: TokenUsage = field(default_factory=TokenUsage)

    def add_tool_deltas(self, deltas: Sequence[Any]) -> None:
        for delta in deltas:
            call = self.calls.setdefault(delta.index, {"id": None, "name": "", "arguments": []})
            if delta.id:
                call["id"] = delta.id
            function = delta.function
            if function is not None:
                call["name"] += function.name or ""
                call["arguments"].append(function.arguments or "")

    def completion(self) -> Completion:
        calls = tuple(
            ToolCall(id=c["id"], name=c["name"], arguments_json="".join(c["arguments"]))
            for _, c in sorted(self.calls.items())
        )
        return Completion(text="".join(self.text), tool_calls=calls, usage=self.usage)


class OpenAIProvider:
    name = "openai"
    default_base_url = DEFAULT_OPENAI_URL
    uses_network = True
    max_embedding_batch = 512

    def __init__(self, *, cache_size: int = 64) -> None:
        self._clients = ClientCache(size=cache_size)

    def _client(self, model: ModelConfig, credentials: Credentials) -> AsyncOpenAI:
        base_url = credentials.base_url or DEFAULT_OPENAI_URL
        key = plain_key(credentials.api_key)
        if not key and _uses_vendor_api(base_url):
            raise ProviderFailure("no API key is configured for this model")
        cache_key = (
            base_url,
            credentials.organization,
            key_fingerprint(credentials.api_key),
            model.timeout,
            id(asyncio.get_running_loop()),
        )
        client = self._clients.get(cache_key)
        if client is None:
            # Everything explicit: the SDK would otherwise read OPENAI_API_KEY / OPENAI_BASE_URL from the
            # process environment, and a tenant's call must never borrow the platform's key by accident.
            client = AsyncOpenAI(
                api_key=key or KEYLESS,
                base_url=base_url,
                organization=credentials.organization,
                timeout=model.timeout,
                max_retries=0,
            )
            # The SDK fills an absent organization or project from OPENAI_ORG_ID / OPENAI_PROJECT_ID.
            client.organization = credentials.organization
            client.project = None
            for old in self._clients.put(cache_key, client):
                asyncio.get_running_loop().create_task(old.close())
        return client

    async def complete(self, request: ChatRequest) -> Completion:
        client = self._client(request.model, request.credentials)
        arguments = _create_arguments(request, str(client.base_url))
        try:
            response = await client.chat.completions.create(**arguments)
        except PROVIDER_EXCEPTIONS as exc:
            raise to_failure(exc) from exc
        if not response.choices:
            return Completion(text="", usage=usage_of(response.usage))
        message = response.choices[0].message
        calls = tuple(
            ToolCall(id=call.id, name=call.function.name, arguments_json=call.function.arguments or "")
            for call in message.tool_calls or ()
            if getattr(call, "function", None) is not None
        )
        return Completion(text=message.content or "", tool_calls=calls, usage=usage_of(response.usage))

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        client = self._client(request.model, request.credentials)
        arguments = _create_arguments(request, str(client.base_url))
        state = _StreamState()
        try:
            stream = await client.chat.completions.create(
                **arguments, stream=True, stream_options={"include_usage": True}
            )
            async with stream:
                async for chunk in stream:
                    for delta in self._absorb(chunk, state):
                        yield delta
        except PROVIDER_EXCEPTIONS as exc:
            raise to_failure(exc) from exc
        yield state.completion()

    @staticmethod
    def _absorb(chunk: Any, state: _StreamState) -> list[str]:
        """Fold one chunk into ``state``; returns the text it carried (to pass on at once)."""
        if chunk.usage is not None:
            state.usage = usage_of(chunk.usage)
        if not chunk.choices:
            return []
        delta = chunk.choices[0].delta
        if delta.tool_calls:
            state.add_tool_deltas(delta.tool_calls)
        if delta.content:
            state.text.append(delta.content)
            return [delta.content]
        return []

    async def embed(self, model: ModelConfig, credentials: Credentials, texts: Sequence[str]) -> EmbeddingResult:
        client = self._client(model, credentials)
        try:
            response = await client.embeddings.create(model=model.model, input=list(texts), encoding_format="float")
        except PROVIDER_EXCEPTIONS as exc:
            raise to_failure(exc) from exc
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda item: item.index)]
        usage = TokenUsage(prompt=response.usage.prompt_tokens or 0) if response.usage else TokenUsage()
        return EmbeddingResult(vectors=vectors, usage=usage)

    async def aclose(self) -> None:
        for client in self._clients.drain():
            await client.close()
