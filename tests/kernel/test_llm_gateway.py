"""The LLM gateway against real SDK clients and local fake providers, with the real database behind it.

Every test runs the ``openai`` and ``google-genai`` clients unchanged against the HTTP fakes in
``tests/fakes`` (uvicorn on 127.0.0.1), so headers, SSE parsing and error mapping are the SDKs' own.
Retry sleeps are recorded instead of slept, and the breaker reads a clock the test moves.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from atendai_example.models import Note
from prometheus_client import REGISTRY
from sqlalchemy import select

from kernel.db.scope import current_tenant_id
from kernel.errors import ProviderError, QuotaExceeded
from kernel.llm import (
    OFFLINE_MARKER,
    QUOTA_FEATURE,
    BreakerPolicy,
    BreakerState,
    ChatResult,
    LlmGateway,
    ModelConfig,
    PriceTable,
    RetryPolicy,
    TokenUsage,
)
from kernel.llm.breaker import CircuitBreaker
from kernel.llm.models import LlmUsage
from kernel.llm.providers import best_passage
from kernel.llm.providers.base import redact
from kernel.sdk import LLMTool, tenant_session
from kernel.tenancy.models import Plan
from kernel.testing.isolation import TenantHandle, create_tenant
from kernel.web import context
from tests.fakes import FakeReply, FakeServer, FakeUsage, fake_vector
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.usefixtures("fresh_fakes")]

OPENAI_KEY = "sk-test-" + "a" * 24
GEMINI_KEY = "AIza" + "b" * 30
PROVIDERS = ["openai", "gemini"]


# -- fixtures -------------------------------------------------------------------------------------


class RecordedSleeps(list[float]):
    """Stands in for ``asyncio.sleep``: the retry delays are asserted, not waited for."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture(loop_scope="session")
async def gateway(atendai_kernel: Any, sleeps: RecordedSleeps, clock: Clock) -> AsyncIterator[LlmGateway]:
    gateway = LlmGateway(
        atendai_kernel,
        retry=RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2, retry_after_cap=5.0),
        breaker=BreakerPolicy(failure_threshold=2, window=60.0, cooldown=30.0),
        sleep=sleeps,
        clock=clock,
    )
    yield gateway
    await gateway.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenant(atendai_kernel: Any, atendai_client: Any) -> TenantHandle:
    """One organization for most tests; each test tells its ledger rows apart by conversation id."""
    return await create_tenant(atendai_kernel, atendai_client, seed=False)


def fake_for(provider: str, openai_fake: FakeOpenAI, gemini_fake: FakeGemini) -> FakeServer:
    return openai_fake if provider == "openai" else gemini_fake


def model_for(provider: str, openai_fake: FakeOpenAI, gemini_fake: FakeGemini, **overrides: Any) -> ModelConfig:
    if provider == "openai":
        values: dict[str, Any] = {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "api_key": OPENAI_KEY,
            "base_url": openai_fake.api_base,
            "organization": "org-acme",
        }
    else:
        values = {
            "provider": "gemini",
            "model": "gemini-2.5-flash",
            "api_key": GEMINI_KEY,
            "base_url": gemini_fake.base_url,
        }
    values.update(overrides)
    return ModelConfig(**values)


async def ledger(tenant_id: UUID, conversation_id: UUID | None = None) -> list[LlmUsage]:
    async with tenant_session(tenant_id) as session:
        statement = select(LlmUsage).order_by(LlmUsage.created_at, LlmUsage.id)
        if conversation_id is not None:
            statement = statement.where(LlmUsage.conversation_id == conversation_id)
        return list((await session.execute(statement)).scalars())


def observed_calls(provider: str, status: str) -> float:
    labels = {"provider": provider, "operation": "chat", "status": status}
    return REGISTRY.get_sample_value("atendai_llm_call_seconds_count", labels) or 0.0


def expected_cost(model: str, usage: FakeUsage) -> int:
    return PriceTable().cost_micros(model, TokenUsage(usage.prompt, usage.completion, usage.cached))


async def notes_tool(atendai_kernel: Any) -> LLMTool:
    """The example plugin's real tool, gathered the way the agents plugin gathers tools."""
    (tool,) = atendai_kernel.registry.tools_for(frozenset({"example"}))
    return tool


async def _fail(**arguments: Any) -> Any:
    raise RuntimeError("database exploded")


BROKEN_TOOL = LLMTool(
    name="broken",
    description="Always fails.",
    parameters={"type": "object", "properties": {}, "additionalProperties": False},
    handler=_fail,
)


async def _whoami() -> dict[str, Any]:
    async with tenant_session() as session:
        notes = len((await session.execute(select(Note))).scalars().all())
    return {"tenant": str(current_tenant_id()), "notes": notes}


WHOAMI_TOOL = LLMTool(
    name="whoami",
    description="The current organization and how many notes it has.",
    parameters={"type": "object", "properties": {}},
    handler=_whoami,
)

USER_ASKS = [{"role": "system", "content": "You are Acme's assistant."}, {"role": "user", "content": "Any notes?"}]


def tool_messages(fake: FakeServer, index: int) -> list[Any]:
    """The tool results the gateway sent back in request ``index``, in either wire format."""
    body = fake.requests[index].json
    if isinstance(fake, FakeOpenAI):
        return [m["content"] for m in body["messages"] if m["role"] == "tool"]
    return [p["functionResponse"]["response"] for c in body["contents"] for p in c["parts"] if "functionResponse" in p]


# -- tool calling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_tool_round_trip_runs_the_plugin_tool_in_the_tenant_scope(
    provider, atendai_kernel, gateway, tenant, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    first, second = FakeUsage(prompt=900, completion=20, cached=300), FakeUsage(prompt=1100, completion=40)
    fake.script(
        FakeReply.call("example_search_notes", {"query": "Welcome"}, usage=first),
        FakeReply.call("whoami", {}, usage=first),
        FakeReply.say("You have a Welcome note.", usage=second),
    )
    conversation = uuid4()
    tools = [await notes_tool(atendai_kernel), WHOAMI_TOOL]

    result = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=USER_ASKS,
        model=model_for(provider, openai_fake, gemini_fake),
        tools=tools,
        conversation_id=conversation,
    )

    assert result.text == "You have a Welcome note."
    assert (result.provider, result.offline, result.fallback_used, result.rounds) == (provider, False, False, 3)
    search, whoami = result.tool_calls_made
    assert search.error is None and search.arguments == {"query": "Welcome"}
    assert [n["title"] for n in search.result["notes"]] == ["Welcome"]
    assert whoami.result == {"tenant": str(tenant.tenant_id), "notes": 1}
    assert "Welcome" in str(tool_messages(fake, 1)) and str(tenant.tenant_id) in str(tool_messages(fake, 2))

    first_request = fake.requests[0]
    if provider == "openai":
        assert [t["function"]["name"] for t in first_request.json["tools"]] == ["example_search_notes", "whoami"]
        assert first_request.json["messages"][0] == {"role": "system", "content": "You are Acme's assistant."}
        assert first_request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
        assert first_request.headers["openai-organization"] == "org-acme"
    else:
        declared = first_request.json["tools"][0]["functionDeclarations"]
        assert [d["name"] for d in declared] == ["example_search_notes", "whoami"]
        assert first_request.json["systemInstruction"]["parts"][0]["text"] == "You are Acme's assistant."
        assert first_request.headers["x-goog-api-key"] == GEMINI_KEY
        assert first_request.path == "/v1beta/models/gemini-2.5-flash:generateContent"

    rows = await ledger(tenant.tenant_id, conversation)
    assert [(r.status, r.operation, r.provider) for r in rows] == [("ok", "chat", provider)] * 3
    assert [(r.prompt_tokens, r.completion_tokens, r.cached_tokens) for r in rows] == [
        (900, 20, 300),
        (900, 20, 300),
        (1100, 40, 0),
    ]
    model = rows[0].model
    assert [r.cost_micros for r in rows] == [expected_cost(model, u) for u in (first, first, second)]
    assert result.usage == TokenUsage(2900, 80, 600)
    assert result.cost_micros == sum(r.cost_micros for r in rows) > 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_bad_arguments_and_failing_tools_go_back_to_the_model(
    provider, atendai_kernel, gateway, tenant, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    fake.script(
        FakeReply.call("example_search_notes", {"limit": "many"}),
        FakeReply.call("broken", {}),
        FakeReply.call("no_such_tool", {}),
        FakeReply.call("example_search_notes", {"query": "Welcome", "limit": 1}),
        FakeReply.say("Sorted."),
    )
    result = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=USER_ASKS,
        model=model_for(provider, openai_fake, gemini_fake),
        tools=[await notes_tool(atendai_kernel), BROKEN_TOOL],
    )

    assert result.text == "Sorted."
    invalid, broken, unknown, fixed = result.tool_calls_made
    assert invalid.error.startswith("Invalid arguments") and "'query' is a required property" in invalid.error
    assert "limit: 'many' is not of type 'integer'" in invalid.error
    assert broken.error == "The tool failed with an internal error."
    assert "database exploded" not in str(tool_messages(fake, 2))
    assert unknown.error.startswith("There is no tool named 'no_such_tool'")
    assert fixed.ok and fixed.result["notes"][0]["title"] == "Welcome"
    assert "is a required property" in str(tool_messages(fake, 1))


async def test_arguments_that_are_not_json_are_an_error_for_the_model(
    gateway, tenant, atendai_kernel, openai_fake, gemini_fake
):
    openai_fake.script(FakeReply.call("example_search_notes", '{"query": "Wel'), FakeReply.say("Retrying is hard."))
    result = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=USER_ASKS,
        model=model_for("openai", openai_fake, gemini_fake),
        tools=[await notes_tool(atendai_kernel)],
    )
    assert result.tool_calls_made[0].arguments is None
    assert result.tool_calls_made[0].error.startswith("The arguments are not valid JSON")
    assert result.text == "Retrying is hard."


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_after_the_last_tool_round_the_model_must_answer_in_text(
    provider, gateway, tenant, atendai_kernel, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    fake.always(FakeReply.call("example_search_notes", {"query": "Welcome"}))
    result = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=USER_ASKS,
        model=model_for(provider, openai_fake, gemini_fake),
        tools=[await notes_tool(atendai_kernel)],
        max_tool_rounds=2,
    )

    assert fake.request_count == 3 and result.rounds == 3
    assert len(result.tool_calls_made) == 2  # the third call's request was not run
    if provider == "openai":
        assert [r.json["tool_choice"] for r in fake.requests] == ["auto", "auto", "none"]
    else:
        modes = [r.json["toolConfig"]["functionCallingConfig"]["mode"] for r in fake.requests]
        assert modes == ["AUTO", "AUTO", "NONE"]


# -- streaming ------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_streaming_yields_the_text_and_runs_tools_between_rounds(
    provider, gateway, tenant, atendai_kernel, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    usage = FakeUsage(prompt=321, completion=45, cached=100)
    fake.script(
        FakeReply.call("example_search_notes", {"query": "Welcome"}),
        FakeReply.say("Your notes are in order, all of them.", usage=usage),
    )
    conversation = uuid4()
    items = [
        item
        async for item in gateway.stream_chat(
            tenant_id=tenant.tenant_id,
            messages=USER_ASKS,
            model=model_for(provider, openai_fake, gemini_fake),
            tools=[await notes_tool(atendai_kernel)],
            conversation_id=conversation,
        )
    ]

    *deltas, result = items
    assert isinstance(result, ChatResult) and all(isinstance(d, str) for d in deltas)
    assert len(deltas) > 1 and "".join(deltas) == "Your notes are in order, all of them." == result.text
    assert result.tool_calls_made[0].result["notes"][0]["title"] == "Welcome"
    if provider == "openai":
        assert fake.requests[0].json["stream"] is True
        assert fake.requests[0].json["stream_options"] == {"include_usage": True}
    else:
        assert fake.requests[0].path.endswith(":streamGenerateContent") and fake.requests[0].query == {"alt": "sse"}
    rows = await ledger(tenant.tenant_id, conversation)
    assert [r.status for r in rows] == ["ok", "ok"]
    assert (rows[1].prompt_tokens, rows[1].completion_tokens, rows[1].cached_tokens) == (321, 45, 100)
    assert rows[1].cost_micros == expected_cost(rows[1].model, usage)


# -- reliability ----------------------------------------------------------------------------------


async def test_an_outage_opens_the_breaker_and_the_fallback_answers(
    gateway, tenant, clock, sleeps, openai_fake, gemini_fake
):
    openai_fake.always(FakeReply.fail(503))
    gemini_fake.always(FakeReply.say("Answered by the fallback."))
    conversation = uuid4()
    primary = model_for("openai", openai_fake, gemini_fake)
    fallback = model_for("gemini", openai_fake, gemini_fake)

    async def ask() -> ChatResult:
        return await gateway.chat(
            tenant_id=tenant.tenant_id,
            messages=USER_ASKS,
            model=primary,
            fallback=fallback,
            conversation_id=conversation,
        )

    for _ in range(2):
        result = await ask()
        assert (result.text, result.provider, result.fallback_used) == ("Answered by the fallback.", "gemini", True)
    assert openai_fake.request_count == 6  # two calls, three attempts each
    assert len(sleeps) == 4 and all(0 <= s <= 0.2 for s in sleeps)
    assert set(gateway.breakers.states().values()) == {BreakerState.OPEN, BreakerState.CLOSED}

    result = await ask()
    assert result.fallback_used and openai_fake.request_count == 6  # the open breaker kept the primary uncalled

    rows = await ledger(tenant.tenant_id, conversation)
    assert [(r.provider, r.status) for r in rows] == [("openai", "error"), ("gemini", "fallback")] * 3
    assert "HTTP 503" in rows[0].error and "circuit open" in rows[4].error
    assert all(OPENAI_KEY not in (r.error or "") for r in rows)

    with pytest.raises(ProviderError, match="unavailable right now"):
        await gateway.chat(tenant_id=tenant.tenant_id, messages=USER_ASKS, model=primary)

    clock.now += 31  # cool-down over: one trial call goes through, and its success closes the breaker
    openai_fake.always(FakeReply.say("Back again."))
    result = await gateway.chat(tenant_id=tenant.tenant_id, messages=USER_ASKS, model=primary, fallback=fallback)
    assert (result.text, result.fallback_used) == ("Back again.", False)
    assert set(gateway.breakers.states().values()) == {BreakerState.CLOSED}


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_429_is_retried_after_the_time_the_provider_asks_for(
    provider, gateway, tenant, sleeps, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    fake.script(FakeReply.fail(429, retry_after="2"), FakeReply.fail(429, retry_after="120"), FakeReply.say("Finally."))
    conversation = uuid4()
    result = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=USER_ASKS,
        model=model_for(provider, openai_fake, gemini_fake),
        conversation_id=conversation,
    )
    assert result.text == "Finally." and fake.request_count == 3
    assert sleeps == [2.0, 5.0]  # the second Retry-After is capped by the policy
    assert [r.status for r in await ledger(tenant.tenant_id, conversation)] == ["ok"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_provider_slower_than_the_timeout_is_retried_then_reported(
    provider, gateway, tenant, sleeps, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    fake.always(FakeReply.slow(3.0))
    conversation = uuid4()
    with pytest.raises(ProviderError, match="did not answer"):
        await gateway.chat(
            tenant_id=tenant.tenant_id,
            messages=USER_ASKS,
            # Long enough for each attempt to reach the fake even on a busy machine (parallel test runs).
            model=model_for(provider, openai_fake, gemini_fake, timeout=0.6),
            conversation_id=conversation,
        )
    assert fake.request_count == 3 and len(sleeps) == 2
    (row,) = await ledger(tenant.tenant_id, conversation)
    assert row.status == "error"
    assert "timed out" in row.error or "no answer within" in row.error
    assert row.latency_ms >= 3 * 600


# -- ledger and quota -----------------------------------------------------------------------------


async def test_the_ledger_keeps_each_tenants_rows_to_itself(gateway, make_tenant, openai_fake, gemini_fake):
    first, second = await make_tenant(seed=False), await make_tenant(seed=False)
    usage = FakeUsage(prompt=1000, completion=50, cached=200)
    openai_fake.script(FakeReply.say("Hi.", usage=usage))
    agent, conversation = uuid4(), uuid4()
    calls_before = observed_calls("openai", "ok")
    token = context._request.set(context.RequestInfo("req-llm-1", None, None))
    try:
        await gateway.chat(
            tenant_id=first.tenant_id,
            messages=USER_ASKS,
            model=model_for("openai", openai_fake, gemini_fake),
            agent_id=agent,
            conversation_id=conversation,
        )
    finally:
        context._request.reset(token)

    (row,) = await ledger(first.tenant_id)
    assert (row.tenant_id, row.agent_id, row.conversation_id, row.request_id) == (
        first.tenant_id,
        agent,
        conversation,
        "req-llm-1",
    )
    assert (row.provider, row.model, row.operation, row.status) == ("openai", "gpt-4o-mini", "chat", "ok")
    # gpt-4o-mini: 800 uncached x 0.15 + 200 cached x 0.075 + 50 out x 0.60 micro-dollars
    assert row.cost_micros == 120 + 15 + 30 == 165
    assert await ledger(second.tenant_id) == []
    month = await gateway.month_usage(first.tenant_id)
    assert (month.tokens, month.cached_tokens, month.cost_micros, month.calls, month.quota) == (1050, 200, 165, 1, None)
    assert (await gateway.month_usage(second.tenant_id)).tokens == 0
    assert observed_calls("openai", "ok") == calls_before + 1  # and /metrics counted it


async def test_a_used_up_monthly_quota_refuses_the_call_and_says_so_in_the_ledger(
    atendai_kernel, gateway, make_tenant, openai_fake, gemini_fake
):
    code = "tiny-" + secrets.token_hex(3)
    async with atendai_kernel.db.session() as session:
        session.add(Plan(code=code, name="Tiny", allowed_plugins=None, features={QUOTA_FEATURE: 10}))
        await session.commit()
    tenant = await make_tenant(seed=False, plan_code=code)
    model = model_for("openai", openai_fake, gemini_fake)

    await gateway.chat(tenant_id=tenant.tenant_id, messages=USER_ASKS, model=model)  # 17 tokens: over the quota now
    with pytest.raises(QuotaExceeded) as raised:
        await gateway.chat(tenant_id=tenant.tenant_id, messages=USER_ASKS, model=model)

    assert raised.value.detail == "The monthly AI quota of this organization is used up."
    assert openai_fake.request_count == 1
    rows = await ledger(tenant.tenant_id)
    assert [r.status for r in rows] == ["ok", "quota_exceeded"]
    assert rows[1].error == "monthly quota of 10 tokens reached (17 used)"
    month = await gateway.month_usage(tenant.tenant_id)
    assert (month.quota, month.remaining, month.exhausted) == (10, 0, True)


# -- offline and embeddings -----------------------------------------------------------------------


async def test_the_offline_provider_answers_with_the_best_passage_without_network(
    gateway, tenant, openai_fake, gemini_fake
):
    passages = [
        "Entregamos em todo o Brasil em até 5 dias úteis.",
        "Nosso horário de funcionamento é de segunda a sexta, das 9h às 18h.",
        "Aceitamos Pix, boleto e cartão.",
    ]
    conversation = uuid4()
    result = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=[{"role": "user", "content": "Oi"}, {"role": "user", "content": "Qual o horario de funcionamento?"}],
        model=ModelConfig(provider="offline", model="offline"),
        context_passages=passages,
        conversation_id=conversation,
    )
    assert result.text == f"{OFFLINE_MARKER} {passages[1]}"
    assert (result.offline, result.provider, result.usage) == (True, "offline", TokenUsage())
    assert openai_fake.request_count == gemini_fake.request_count == 0
    (row,) = await ledger(tenant.tenant_id, conversation)
    assert (row.provider, row.status, row.prompt_tokens, row.cost_micros) == ("offline", "ok", 0, 0)

    nothing = await gateway.chat(
        tenant_id=tenant.tenant_id,
        messages=[{"role": "user", "content": "xyz"}],
        model=ModelConfig(provider="offline", model="offline"),
        context_passages=passages,
    )
    assert nothing.text == OFFLINE_MARKER


@pytest.mark.parametrize(
    ("provider", "model"), [("openai", "text-embedding-3-small"), ("gemini", "gemini-embedding-001")]
)
async def test_embeddings_come_back_in_order_and_are_metered(
    provider, model, gateway, tenant, openai_fake, gemini_fake
):
    fake = fake_for(provider, openai_fake, gemini_fake)
    fake.embedding_tokens_per_text = 50_000
    texts = ["horário de funcionamento", "formas de pagamento"]
    agent = uuid4()
    try:
        vectors = await gateway.embed(
            tenant_id=tenant.tenant_id,
            texts=texts,
            model=model_for(provider, openai_fake, gemini_fake, model=model),
            agent_id=agent,
        )
    finally:
        fake.embedding_tokens_per_text = 3
    assert vectors == [pytest.approx(fake_vector(text, fake.embedding_dims)) for text in texts]
    if provider == "gemini":
        assert fake.requests[0].path == f"/v1beta/models/{model}:batchEmbedContents"
    async with tenant_session(tenant.tenant_id) as session:
        (row,) = (await session.execute(select(LlmUsage).where(LlmUsage.agent_id == agent))).scalars()
    assert (row.operation, row.status, row.prompt_tokens, row.completion_tokens) == ("embedding", "ok", 100_000, 0)
    assert row.cost_micros == {"openai": 2_000, "gemini": 15_000}[provider]


async def test_a_stream_goes_to_the_fallback_when_the_primary_fails_before_any_text(
    gateway, tenant, openai_fake, gemini_fake
):
    openai_fake.always(FakeReply.fail(500))
    gemini_fake.script(FakeReply.say("Streamed by the fallback."))
    items = [
        item
        async for item in gateway.stream_chat(
            tenant_id=tenant.tenant_id,
            messages=USER_ASKS,
            model=model_for("openai", openai_fake, gemini_fake),
            fallback=model_for("gemini", openai_fake, gemini_fake),
        )
    ]
    *deltas, result = items
    assert "".join(deltas) == "Streamed by the fallback." == result.text
    assert (result.provider, result.fallback_used, openai_fake.request_count) == ("gemini", True, 3)


# -- the parts on their own (async only to share the module's event loop mark) --------------------


async def test_error_text_for_the_ledger_never_keeps_a_key():
    text = f"401 for key {OPENAI_KEY} and {GEMINI_KEY}, Authorization: Bearer abcdefgh12345678, url ?key=secret123"
    cleaned = redact(text, OPENAI_KEY)
    assert OPENAI_KEY not in cleaned and GEMINI_KEY not in cleaned
    assert "abcdefgh12345678" not in cleaned and "secret123" not in cleaned


async def test_prices_find_dated_model_names_and_unknown_models_cost_nothing():
    prices = PriceTable()
    usage = TokenUsage(prompt=1_000_000, completion=1_000_000, cached=0)
    assert prices.cost_micros("gpt-4o-mini-2024-07-18", usage) == 750_000
    assert prices.cost_micros("models/gemini-2.5-flash-lite", usage) == 500_000
    assert prices.cost_micros("llama3.1:8b", usage) == 0


async def test_the_best_passage_ignores_accents_and_case():
    passages = ["Frete grátis acima de R$ 200.", "PROMOÇÃO de Natal: 20% off."]
    assert best_passage("tem promocao?", passages) == passages[1]
    assert best_passage("bom dia", passages) is None


async def test_a_half_open_breaker_lets_one_trial_through_and_reopens_if_it_fails():
    clock = Clock()
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, window=10, cooldown=5), clock)
    breaker.record_failure()
    clock.now += 11  # the first failure left the window
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    clock.now += 5
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    clock.now += 5
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
