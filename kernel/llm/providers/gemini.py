"""Google Gemini through the ``google-genai`` SDK (``genai.Client``), the maintained successor of ``google-generativeai``.

Automatic function calling is off: the gateway runs tools itself (validated, tenant-scoped, metered).
The SDK's retries are off too (one attempt); the gateway's policy applies instead.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx2
import structlog
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from pydantic import ValidationError

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

__all__ = ["DEFAULT_GEMINI_URL", "GeminiProvider", "to_gemini_contents", "usage_of"]

DEFAULT_GEMINI_URL = "https://generativelanguage.googleapis.com/"
API_VERSION = "v1beta"
log = structlog.get_logger("kernel.llm")

try:  # aiohttp is optional for the SDK; when installed it is its default async transport.
    import aiohttp

    _AIOHTTP_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError,)
except ImportError:  # pragma: no cover - depends on the environment
    _AIOHTTP_ERRORS = ()


def _arguments(call: ToolCall) -> dict[str, Any]:
    try:
        value = json.loads(call.arguments_json or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _tool_response(message: Message) -> types.Part:
    """A tool result as a ``functionResponse``; the gateway's content is a JSON object already."""
    try:
        payload = json.loads(message.content)
    except ValueError:
        payload = {"result": message.content}
    if not isinstance(payload, dict):
        payload = {"result": payload}
    return types.Part(
        function_response=types.FunctionResponse(id=message.tool_call_id, name=message.name, response=payload)
    )


def _model_content(message: Message) -> types.Content:
    if message.native_provider == "gemini" and isinstance(message.native, types.Content):
        return message.native  # keeps thought signatures, which Gemini wants back as sent
    parts = [types.Part(text=message.content)] if message.content else []
    parts += [
        types.Part(function_call=types.FunctionCall(id=call.id, name=call.name, args=_arguments(call)))
        for call in message.tool_calls
    ]
    return types.Content(role="model", parts=parts)


def to_gemini_contents(messages: Sequence[Message]) -> tuple[str | None, list[types.Content]]:
    """System messages become the system instruction; consecutive tool results share one user turn."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content) or None
    contents: list[types.Content] = []
    for message in messages:
        if message.role == "user":
            contents.append(types.Content(role="user", parts=[types.Part(text=message.content)]))
        elif message.role == "assistant":
            contents.append(_model_content(message))
        elif message.role == "tool":
            part = _tool_response(message)
            previous = contents[-1] if contents else None
            if (
                previous is not None
                and previous.role == "user"
                and all(p.function_response for p in previous.parts or [])
            ):
                (previous.parts or []).append(part)
            else:
                contents.append(types.Content(role="user", parts=[part]))
    return system, contents


def _config(request: ChatRequest, system: str | None) -> types.GenerateContentConfig:
    model = request.model
    config = types.GenerateContentConfig(
        system_instruction=system,
        temperature=model.temperature,
        max_output_tokens=model.max_tokens,
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    if request.tools:
        declarations = [
            types.FunctionDeclaration(name=t.name, description=t.description, parameters_json_schema=t.parameters)
            for t in request.tools
        ]
        config.tools = [types.Tool(function_declarations=declarations)]
        mode = (
            types.FunctionCallingConfigMode.NONE
            if request.tool_choice == "none"
            else types.FunctionCallingConfigMode.AUTO
        )
        config.tool_config = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode=mode))
    return config


def usage_of(metadata: Any) -> TokenUsage:
    """``promptTokenCount``, ``candidatesTokenCount`` (+ ``thoughtsTokenCount``, billed as output), ``cachedContentTokenCount``."""
    if metadata is None:
        return TokenUsage()
    return TokenUsage(
        prompt=metadata.prompt_token_count or 0,
        completion=(metadata.candidates_token_count or 0) + (metadata.thoughts_token_count or 0),
        cached=metadata.cached_content_token_count or 0,
    )


def _headers_of(exc: genai_errors.APIError) -> Any:
    return getattr(exc.response, "headers", None)


def to_failure(exc: BaseException) -> ProviderFailure:
    if isinstance(exc, genai_errors.APIError):
        return ProviderFailure.from_status(exc.code, f"HTTP {exc.code}: {exc.status} {exc.message}", _headers_of(exc))
    if isinstance(exc, httpx2.TimeoutException | httpx.TimeoutException):
        return ProviderFailure.unreachable("the request timed out")
    if isinstance(exc, (httpx2.TransportError, httpx.TransportError, *_AIOHTTP_ERRORS)):
        return ProviderFailure.unreachable(f"connection failed: {exc}")
    return ProviderFailure(f"{type(exc).__name__}: {exc}")


PROVIDER_EXCEPTIONS: tuple[type[BaseException], ...] = (
    genai_errors.APIError,
    httpx2.HTTPError,
    httpx.HTTPError,
    ValidationError,
    *_AIOHTTP_ERRORS,
)


@dataclass
class _Answer:
    """The parts of one answer (from one response or many stream chunks) and the last usage seen."""

    parts: list[types.Part] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)

    def absorb(self, response: types.GenerateContentResponse) -> str:
        """Add a response's parts; returns its visible text (thoughts are not the answer)."""
        if response.usage_metadata is not None:
            self.usage = usage_of(response.usage_metadata)
        candidate = response.candidates[0] if response.candidates else None
        if candidate is None or candidate.content is None:
            if response.prompt_feedback is not None and response.prompt_feedback.block_reason:
                log.warning("gemini_prompt_blocked", reason=str(response.prompt_feedback.block_reason))
            return ""
        new_parts = list(candidate.content.parts or [])
        self.parts.extend(new_parts)
        return "".join(p.text for p in new_parts if p.text and not p.thought)

    def completion(self) -> Completion:
        calls = tuple(
            ToolCall(
                id=p.function_call.id,
                name=p.function_call.name or "",
                arguments_json=json.dumps(p.function_call.args or {}),
            )
            for p in self.parts
            if p.function_call is not None
        )
        text = "".join(p.text for p in self.parts if p.text and not p.thought)
        return Completion(
            text=text, tool_calls=calls, usage=self.usage, native=types.Content(role="model", parts=self.parts)
        )


class GeminiProvider:
    name = "gemini"
    default_base_url = DEFAULT_GEMINI_URL
    uses_network = True
    max_embedding_batch = 100

    def __init__(self, *, cache_size: int = 64) -> None:
        self._clients = ClientCache(size=cache_size)

    def _client(self, model: ModelConfig, credentials: Credentials) -> genai.Client:
        key = plain_key(credentials.api_key)
        if not key:
            # Without a key the SDK would read GOOGLE_API_KEY / GEMINI_API_KEY from the process environment.
            raise ProviderFailure("no API key is configured for this model")
        base_url = credentials.base_url or DEFAULT_GEMINI_URL
        cache_key = (base_url, key_fingerprint(key), model.timeout, id(asyncio.get_running_loop()))
        client = self._clients.get(cache_key)
        if client is None:
            options = types.HttpOptions(
                base_url=base_url,
                api_version=API_VERSION,
                timeout=int(model.timeout * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            client = genai.Client(api_key=key, http_options=options)
            for old in self._clients.put(cache_key, client):
                asyncio.get_running_loop().create_task(old.aio.aclose())
        return client

    async def complete(self, request: ChatRequest) -> Completion:
        client = self._client(request.model, request.credentials)
        system, contents = to_gemini_contents(request.messages)
        try:
            response = await client.aio.models.generate_content(
                model=request.model.model, contents=contents, config=_config(request, system)
            )
        except PROVIDER_EXCEPTIONS as exc:
            raise to_failure(exc) from exc
        answer = _Answer()
        answer.absorb(response)
        return answer.completion()

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | Completion]:
        client = self._client(request.model, request.credentials)
        system, contents = to_gemini_contents(request.messages)
        answer = _Answer()
        chunks: Any = None
        try:
            chunks = await client.aio.models.generate_content_stream(
                model=request.model.model, contents=contents, config=_config(request, system)
            )
            async for chunk in chunks:
                text = answer.absorb(chunk)
                if text:
                    yield text
        except PROVIDER_EXCEPTIONS as exc:
            raise to_failure(exc) from exc
        finally:
            if chunks is not None and hasattr(chunks, "aclose"):
                await chunks.aclose()  # an abandoned stream must not keep its connection
        yield answer.completion()

    async def embed(self, model: ModelConfig, credentials: Credentials, texts: Sequence[str]) -> EmbeddingResult:
        client = self._client(model, credentials)
        try:
            response = await client.aio.models.embed_content(model=model.model, contents=list(texts))
        except PROVIDER_EXCEPTIONS as exc:
            raise to_failure(exc) from exc
        vectors = [list(embedding.values or []) for embedding in response.embeddings or []]
        metadata = response.usage_metadata
        usage = TokenUsage(prompt=(metadata.prompt_token_count or 0) if metadata else 0)
        return EmbeddingResult(vectors=vectors, usage=usage)

    async def aclose(self) -> None:
        for client in self._clients.drain():
            await client.aio.aclose()
