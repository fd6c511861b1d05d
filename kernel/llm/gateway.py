"""The LLM gateway: the one door every plugin uses to reach a language or embedding model.

``chat`` / ``stream_chat`` / ``embed`` add, around each provider call: the tenant's monthly quota,
a per-call timeout, retries with exponential backoff and full jitter (honouring ``Retry-After``), a
circuit breaker per endpoint and model, an optional fallback model, the tool-calling loop, and one
ledger row per call. Plugins never import an SDK, so every token is metered and every key stays here.

The gateway lives in ``kernel.state["llm"]``; its breakers and SDK clients are per process.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from uuid import UUID

import structlog

from kernel.errors import ProviderError, ValidationFailed
from kernel.llm.breaker import BreakerBoard, BreakerPolicy, CircuitBreaker
from kernel.llm.pricing import PriceTable
from kernel.llm.providers import make_provider
from kernel.llm.providers.base import (
    ChatRequest,
    Completion,
    Credentials,
    EmbeddingResult,
    Message,
    ModelConfig,
    Provider,
    ProviderFailure,
    TokenUsage,
    redact,
)
from kernel.llm.tools import DEFAULT_TOOL_TIMEOUT, ToolBox, ToolCallMade
from kernel.llm.usage import MonthUsage, Operation, UsageEntry, UsageLedger

if TYPE_CHECKING:
    from kernel.runtime import Kernel
    from kernel.sdk import LLMTool

__all__ = [
    "STATE_KEY",
    "ChatResult",
    "CredentialsResolver",
    "LlmGateway",
    "RetryPolicy",
    "config_credentials",
    "current_gateway",
]

STATE_KEY = "llm"
"""Where the application keeps its gateway: ``kernel.state["llm"]``."""

log = structlog.get_logger("kernel.llm")
T = TypeVar("T", Completion, EmbeddingResult)
Sleep = Callable[[float], Awaitable[None]]
MessageInput = Mapping[str, Any] | Message


class CredentialsResolver(Protocol):
    """Where a call's key, base URL and organization come from (a tenant's stored secrets, later)."""

    async def __call__(self, tenant_id: UUID, model: ModelConfig) -> Credentials: ...


async def config_credentials(tenant_id: UUID, model: ModelConfig) -> Credentials:
    """The default resolver: whatever the :class:`ModelConfig` carries."""
    return Credentials(api_key=model.api_key, base_url=model.base_url, organization=model.organization)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    """Tries per provider call, the first included."""
    base_delay: float = 0.5
    max_delay: float = 8.0
    retry_after_cap: float = 20.0
    """A longer ``Retry-After`` is cut to this: a customer is waiting for the reply."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before try ``attempt + 1``: the server's ``Retry-After``, else full jitter."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_cap)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class ChatResult:
    """The answer of one ``chat`` (all rounds of the tool loop together)."""

    text: str
    """Everything the model wrote, across rounds, exactly as ``stream_chat`` streamed it."""
    tool_calls_made: list[ToolCallMade]
    usage: TokenUsage
    """Summed over the rounds, as the providers reported them."""
    provider: str
    model: str
    """The provider and model that wrote the final answer."""
    latency_ms: int
    offline: bool = False
    fallback_used: bool = False
    cost_micros: int = 0
    rounds: int = 1


@dataclass
class _Run:
    """The state of one gateway operation: who pays, which models, and how it went so far."""

    tenant_id: UUID
    primary: ModelConfig
    fallback: ModelConfig | None = None
    operation: Operation = "chat"
    agent_id: UUID | None = None
    conversation_id: UUID | None = None
    on_fallback: bool = False
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_micros: int = 0
    rounds: int = 0
    started: float = field(default_factory=time.perf_counter)

    def targets(self) -> list[tuple[ModelConfig, bool]]:
        """Models to try, in order. Once the fallback answered, the rest of the run stays with it."""
        if self.on_fallback and self.fallback is not None:
            return [(self.fallback, True)]
        chain = [(self.primary, False)]
        if self.fallback is not None:
            chain.append((self.fallback, True))
        return chain

    def entry(self, model: ModelConfig, status: Any, **fields: Any) -> UsageEntry:
        return UsageEntry(
            tenant_id=self.tenant_id,
            provider=model.provider,
            model=model.model,
            operation=self.operation,
            status=status,
            agent_id=self.agent_id,
            conversation_id=self.conversation_id,
            **fields,
        )


@dataclass(frozen=True)
class _Answered:
    """End of one streamed round (internal to ``stream_chat``)."""

    completion: Completion
    model: ModelConfig


def _elapsed_ms(since: float) -> int:
    return int((time.perf_counter() - since) * 1000)


def _as_failure(exc: BaseException, model: ModelConfig) -> ProviderFailure:
    if isinstance(exc, ProviderFailure):
        return exc
    return ProviderFailure.unreachable(f"no answer within {model.timeout:g} s")


def _provider_error(model: ModelConfig, failure: ProviderFailure | None) -> ProviderError:
    if failure is not None and failure.circuit_open:
        return ProviderError(
            "The AI provider %(provider)s is unavailable right now. Try again in a moment.", provider=model.provider
        )
    if failure is not None and failure.status is not None and 400 <= failure.status < 500 and failure.status != 429:
        return ProviderError(
            "The AI provider %(provider)s refused the request (HTTP %(status)s). Check the model and its key.",
            provider=model.provider,
            status=failure.status,
        )
    return ProviderError("The AI provider %(provider)s did not answer. Try again in a moment.", provider=model.provider)


async def _timed(stream: AsyncIterator[Any], idle_seconds: float) -> AsyncIterator[Any]:
    """``stream`` with a limit on the wait for each item (a long answer may take long; silence may not)."""
    try:
        while True:
            try:
                async with asyncio.timeout(idle_seconds):
                    item = await anext(stream)
            except StopAsyncIteration:
                return
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


class LlmGateway:
    """Chat, streaming chat and embeddings for every plugin, metered per tenant."""

    def __init__(
        self,
        kernel: Kernel | None = None,
        *,
        credentials: CredentialsResolver | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        prices: PriceTable | None = None,
        providers: Mapping[str, Provider] | None = None,
        tool_timeout: float = DEFAULT_TOOL_TIMEOUT,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kernel = kernel
        self.credentials: CredentialsResolver = credentials or config_credentials
        self.retry = retry or RetryPolicy()
        self.breakers = BreakerBoard(breaker, clock)
        self.prices = prices or PriceTable()
        self.ledger = UsageLedger(self.prices)
        self.providers: dict[str, Provider] = dict(providers or {})
        """Providers by name, created on first use (``providers`` replaces or adds some, e.g. in tests)."""
        self.tool_timeout = tool_timeout
        self._sleep = sleep

    # -- public surface ----------------------------------------------------------------------

    async def chat(
        self,
        *,
        tenant_id: UUID,
        messages: Sequence[MessageInput],
        model: ModelConfig,
        tools: Sequence[LLMTool] | None = None,
        agent_id: UUID | None = None,
        conversation_id: UUID | None = None,
        fallback: ModelConfig | None = None,
        max_tool_rounds: int = 5,
        context_passages: Sequence[str] | None = None,
    ) -> ChatResult:
        """Answer ``messages``, running the tools the model asks for, for at most ``max_tool_rounds`` rounds.

        After the last round with tools the model is asked once more with tool calls switched off, so
        the loop always ends with text. ``context_passages`` is what the ``offline`` provider may answer
        with (real models read passages from ``messages``).

        Raises :class:`QuotaExceeded` when the tenant's month is used up and :class:`ProviderError`
        when neither the model nor its fallback answered.
        """
        run = _Run(tenant_id, model, fallback, "chat", agent_id, conversation_id)
        transcript = self._transcript(messages)
        toolbox = ToolBox(tools, timeout=self.tool_timeout)
        made: list[ToolCallMade] = []
        texts: list[str] = []
        for round_index in range(max(0, max_tool_rounds) + 1):
            request = self._request_builder(transcript, toolbox, round_index < max_tool_rounds, context_passages)
            completion, answered_by = await self._complete(run, request)
            texts.append(completion.text)
            if not await self._run_tools(
                run, completion, answered_by, transcript, toolbox, made, round_index < max_tool_rounds
            ):
                break
        return self._result(run, "".join(texts), made, answered_by)

    async def stream_chat(
        self,
        *,
        tenant_id: UUID,
        messages: Sequence[MessageInput],
        model: ModelConfig,
        tools: Sequence[LLMTool] | None = None,
        agent_id: UUID | None = None,
        conversation_id: UUID | None = None,
        fallback: ModelConfig | None = None,
        max_tool_rounds: int = 5,
        context_passages: Sequence[str] | None = None,
    ) -> AsyncIterator[str | ChatResult]:
        """Like :meth:`chat`, yielding text deltas as they arrive and, last, the :class:`ChatResult`.

        A failure before the first delta of a round is retried and may go to the fallback; once text
        has been shown it cannot be taken back, so a failure after that raises :class:`ProviderError`.
        """
        run = _Run(tenant_id, model, fallback, "chat", agent_id, conversation_id)
        transcript = self._transcript(messages)
        toolbox = ToolBox(tools, timeout=self.tool_timeout)
        made: list[ToolCallMade] = []
        texts: list[str] = []
        answer: _Answered | None = None
        for round_index in range(max(0, max_tool_rounds) + 1):
            request = self._request_builder(transcript, toolbox, round_index < max_tool_rounds, context_passages)
            async with aclosing(self._stream_round(run, request)) as items:
                async for item in items:
                    if isinstance(item, _Answered):
                        answer = item
                    else:
                        texts.append(item)
                        yield item
            assert answer is not None
            more = await self._run_tools(
                run, answer.completion, answer.model, transcript, toolbox, made, round_index < max_tool_rounds
            )
            if not more:
                break
        assert answer is not None
        yield self._result(run, "".join(texts), made, answer.model)

    async def embed(
        self,
        *,
        tenant_id: UUID,
        texts: Sequence[str],
        model: ModelConfig,
        agent_id: UUID | None = None,
    ) -> list[list[float]]:
        """One vector per text, in order; large inputs go out in batches (one ledger row per batch)."""
        if not texts:
            return []
        if model.provider == "offline":
            raise ValidationFailed("The offline provider computes no embeddings; choose an embedding model.")
        run = _Run(tenant_id, model, None, "embedding", agent_id)
        provider = self._provider(model)
        size = provider.max_embedding_batch
        vectors: list[list[float]] = []
        for start in range(0, len(texts), size):
            batch = list(texts[start : start + size])
            await self._check_quota(run)
            try:
                result = await self._call_target(run, model, False, self._embedder(model, batch))
            except ProviderFailure as failure:
                raise _provider_error(model, failure) from failure
            vectors.extend(result.vectors)
        return vectors

    async def probe(
        self, *, messages: Sequence[MessageInput], model: ModelConfig, credentials: Credentials
    ) -> ChatResult:
        """Call ``model`` once with ``credentials``, for no tenant: no quota, no ledger row, no retry, no breaker.

        Only for checking a platform-wide configuration (the platform's "test connection"), which no
        organization pays for. Every call made on an organization's behalf goes through :meth:`chat`.
        Raises :class:`ProviderError` (its ``__cause__`` the provider's failure) when there is no answer.
        """
        provider = self._provider(model)
        request = ChatRequest(
            model=model, credentials=credentials, messages=self._transcript(messages), tool_choice="none"
        )
        started = time.perf_counter()
        try:
            async with asyncio.timeout(model.timeout):
                completion = await provider.complete(request)
        except (ProviderFailure, TimeoutError) as exc:
            failure = _as_failure(exc, model)
            raise _provider_error(model, failure) from failure
        return ChatResult(
            text=completion.text,
            tool_calls_made=[],
            usage=completion.usage,
            provider=model.provider,
            model=model.model,
            latency_ms=_elapsed_ms(started),
            offline=model.provider == "offline",
        )

    async def month_usage(self, tenant_id: UUID) -> MonthUsage:
        """The tenant's tokens, cost and calls this calendar month (UTC), with its plan's quota."""
        return await self.ledger.month_usage(tenant_id)

    async def aclose(self) -> None:
        """Close the SDK clients (their connection pools); call at shutdown."""
        for provider in self.providers.values():
            await provider.aclose()

    # -- one round ---------------------------------------------------------------------------

    def _transcript(self, messages: Sequence[MessageInput]) -> list[Message]:
        try:
            return [m if isinstance(m, Message) else Message.from_dict(m) for m in messages]
        except ValueError as exc:
            raise ValidationFailed("The conversation sent to the AI model is malformed.") from exc

    def _provider(self, model: ModelConfig) -> Provider:
        provider = self.providers.get(model.provider)
        if provider is None:
            provider = make_provider(model.provider)
            if provider is None:
                raise ValidationFailed("There is no AI provider named %(provider)s.", provider=model.provider)
            self.providers[model.provider] = provider
        return provider

    @staticmethod
    def _request_builder(
        transcript: list[Message], toolbox: ToolBox, tools_allowed: bool, passages: Sequence[str] | None
    ) -> Callable[[ModelConfig, Credentials], ChatRequest]:
        def build(model: ModelConfig, credentials: Credentials) -> ChatRequest:
            return ChatRequest(
                model=model,
                credentials=credentials,
                messages=list(transcript),
                tools=toolbox.tools,
                tool_choice="auto" if tools_allowed else "none",
                context_passages=tuple(passages or ()),
            )

        return build

    async def _complete(
        self, run: _Run, build: Callable[[ModelConfig, Credentials], ChatRequest]
    ) -> tuple[Completion, ModelConfig]:
        """One round, non-streaming: the primary, then the fallback if the primary gave no answer."""
        await self._check_quota(run)
        run.rounds += 1
        last: ProviderFailure | None = None
        for model, is_fallback in run.targets():
            try:
                completion = await self._call_target(run, model, is_fallback, self._completer(model, build))
            except ProviderFailure as failure:
                last = failure
                continue
            run.on_fallback = run.on_fallback or is_fallback
            return completion, model
        raise _provider_error(run.targets()[-1][0], last) from last

    async def _call_target(
        self,
        run: _Run,
        model: ModelConfig,
        is_fallback: bool,
        call: Callable[[Provider, Credentials], Awaitable[T]],
    ) -> T:
        """One model: breaker, retries, ledger row. Raises :class:`ProviderFailure` when it gave no answer."""
        provider = self._provider(model)
        credentials = await self.credentials(run.tenant_id, model)
        breaker = self._breaker(provider, credentials, model)
        if not breaker.allow():
            refused = _circuit_open()
            await self._record_failure(run, model, credentials, refused, 0)
            raise refused
        started = time.perf_counter()
        try:
            result = await self._with_retries(model, lambda: call(provider, credentials))
        except ProviderFailure as failure:
            self._judge(breaker, failure)
            await self._record_failure(run, model, credentials, failure, _elapsed_ms(started))
            raise
        except BaseException:
            breaker.release()
            raise
        breaker.record_success()
        await self._record_success(run, model, is_fallback, result.usage, _elapsed_ms(started))
        return result

    async def _with_retries(self, model: ModelConfig, attempt: Callable[[], Awaitable[T]]) -> T:
        for number in range(1, self.retry.attempts + 1):
            try:
                async with asyncio.timeout(model.timeout):
                    return await attempt()
            except (ProviderFailure, TimeoutError) as exc:
                failure = _as_failure(exc, model)
            if not failure.retryable or number >= self.retry.attempts:
                raise failure
            log.info("llm_retry", provider=model.provider, model=model.model, attempt=number, reason=failure.message)
            await self._sleep(self.retry.delay(number, failure.retry_after))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream_round(
        self, run: _Run, build: Callable[[ModelConfig, Credentials], ChatRequest]
    ) -> AsyncIterator[str | _Answered]:
        """One streamed round: deltas, then :class:`_Answered`. Same fallback rules as ``_complete``."""
        await self._check_quota(run)
        run.rounds += 1
        last: ProviderFailure | None = None
        for model, is_fallback in run.targets():
            provider = self._provider(model)
            credentials = await self.credentials(run.tenant_id, model)
            breaker = self._breaker(provider, credentials, model)
            if not breaker.allow():
                last = _circuit_open()
                await self._record_failure(run, model, credentials, last, 0)
                continue
            started = time.perf_counter()
            emitted: list[bool] = []
            completion: Completion | None = None
            try:
                attempts = self._stream_attempts(provider, build(model, credentials), emitted)
                async with aclosing(attempts) as items:
                    async for item in items:
                        if isinstance(item, str):
                            yield item
                        else:
                            completion = item
            except ProviderFailure as failure:
                self._judge(breaker, failure)
                await self._record_failure(run, model, credentials, failure, _elapsed_ms(started))
                if emitted:
                    raise _provider_error(model, failure) from failure
                last = failure
                continue
            except BaseException:
                breaker.release()
                raise
            completion = completion or Completion(text="")
            breaker.record_success()
            await self._record_success(run, model, is_fallback, completion.usage, _elapsed_ms(started))
            run.on_fallback = run.on_fallback or is_fallback
            yield _Answered(completion, model)
            return
        raise _provider_error(run.targets()[-1][0], last) from last

    async def _stream_attempts(
        self, provider: Provider, request: ChatRequest, emitted: list[bool]
    ) -> AsyncIterator[str | Completion]:
        """The provider's stream with retries, but only while nothing has been passed on yet."""
        model = request.model
        for number in range(1, self.retry.attempts + 1):
            try:
                async with aclosing(_timed(provider.stream(request), model.timeout)) as items:
                    async for item in items:
                        if isinstance(item, str):
                            emitted.append(True)
                        yield item
                return
            except (ProviderFailure, TimeoutError) as exc:
                failure = _as_failure(exc, model)
            if emitted or not failure.retryable or number >= self.retry.attempts:
                raise failure
            log.info("llm_retry", provider=model.provider, model=model.model, attempt=number, reason=failure.message)
            await self._sleep(self.retry.delay(number, failure.retry_after))

    # -- tools, results, ledger ----------------------------------------------------------------

    async def _run_tools(
        self,
        run: _Run,
        completion: Completion,
        answered_by: ModelConfig,
        transcript: list[Message],
        toolbox: ToolBox,
        made: list[ToolCallMade],
        tools_allowed: bool,
    ) -> bool:
        """Run the round's tool calls into the transcript; ``False`` when the conversation is done."""
        if not (completion.tool_calls and tools_allowed and toolbox):
            return False
        transcript.append(completion.as_message(answered_by.provider))
        for call in completion.tool_calls:
            outcome = await toolbox.run(call, run.tenant_id)
            made.append(outcome)
            transcript.append(
                Message(role="tool", content=outcome.content_for_model(), tool_call_id=call.id, name=call.name)
            )
        return True

    def _result(self, run: _Run, text: str, made: list[ToolCallMade], answered_by: ModelConfig) -> ChatResult:
        return ChatResult(
            text=text,
            tool_calls_made=made,
            usage=run.usage,
            provider=answered_by.provider,
            model=answered_by.model,
            latency_ms=_elapsed_ms(run.started),
            offline=answered_by.provider == "offline",
            fallback_used=run.on_fallback,
            cost_micros=run.cost_micros,
            rounds=run.rounds,
        )

    @staticmethod
    def _completer(
        model: ModelConfig, build: Callable[[ModelConfig, Credentials], ChatRequest]
    ) -> Callable[[Provider, Credentials], Awaitable[Completion]]:
        async def call(provider: Provider, credentials: Credentials) -> Completion:
            return await provider.complete(build(model, credentials))

        return call

    @staticmethod
    def _embedder(
        model: ModelConfig, batch: list[str]
    ) -> Callable[[Provider, Credentials], Awaitable[EmbeddingResult]]:
        async def call(provider: Provider, credentials: Credentials) -> EmbeddingResult:
            return await provider.embed(model, credentials, batch)

        return call

    def _breaker(self, provider: Provider, credentials: Credentials, model: ModelConfig) -> CircuitBreaker:
        base_url = credentials.base_url or provider.default_base_url
        return self.breakers.get(provider.name, base_url, model.model)

    @staticmethod
    def _judge(breaker: CircuitBreaker, failure: ProviderFailure) -> None:
        """Only an unwell provider counts against the breaker; a refused key proves the endpoint is up."""
        if failure.unhealthy:
            breaker.record_failure()
        else:
            breaker.record_success()

    async def _check_quota(self, run: _Run) -> None:
        if run.primary.provider == "offline" and run.fallback is None:
            return  # no model, no tokens: the offline answer stays available when the month is used up
        await self.ledger.check_quota(run.entry(run.primary, "quota_exceeded"))

    async def _record_success(
        self, run: _Run, model: ModelConfig, is_fallback: bool, usage: TokenUsage, latency_ms: int
    ) -> None:
        status = "fallback" if is_fallback else "ok"
        cost = await self.ledger.record(run.entry(model, status, usage=usage, latency_ms=latency_ms))
        run.usage = run.usage + usage
        run.cost_micros += cost

    async def _record_failure(
        self, run: _Run, model: ModelConfig, credentials: Credentials, failure: ProviderFailure, latency_ms: int
    ) -> None:
        error = redact(failure.message, credentials.api_key, model.api_key)
        log.warning("llm_call_failed", provider=model.provider, model=model.model, error=error)
        await self.ledger.record(run.entry(model, "error", latency_ms=latency_ms, error=error))


def current_gateway(kernel: Kernel | None = None) -> LlmGateway:
    """The process's gateway (``kernel.state["llm"]``), for tools, jobs and subscribers."""
    if kernel is None:
        from kernel.runtime import current_kernel

        kernel = current_kernel()
    gateway = kernel.state.get(STATE_KEY)
    if not isinstance(gateway, LlmGateway):
        raise RuntimeError("the LLM gateway is not set up in this process (kernel.state['llm'])")
    return gateway


def _circuit_open() -> ProviderFailure:
    return ProviderFailure("circuit open: the provider was not called", circuit_open=True)
