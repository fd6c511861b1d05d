"""The LLM gateway: the only door to language and embedding models.

Plugins reach it as ``kernel.state["llm"]`` (an :class:`LlmGateway`); see ``docs/llm-gateway.md``.
"""

from __future__ import annotations

from kernel.llm.breaker import BreakerPolicy, BreakerState
from kernel.llm.gateway import (
    STATE_KEY,
    ChatResult,
    CredentialsResolver,
    LlmGateway,
    RetryPolicy,
    config_credentials,
    current_gateway,
)
from kernel.llm.pricing import Price, PriceTable
from kernel.llm.providers import OFFLINE_MARKER
from kernel.llm.providers.base import Credentials, Message, ModelConfig, TokenUsage
from kernel.llm.tools import ToolCallMade
from kernel.llm.usage import QUOTA_FEATURE, MonthUsage

__all__ = [
    "OFFLINE_MARKER",
    "QUOTA_FEATURE",
    "STATE_KEY",
    "BreakerPolicy",
    "BreakerState",
    "ChatResult",
    "Credentials",
    "CredentialsResolver",
    "LlmGateway",
    "Message",
    "ModelConfig",
    "MonthUsage",
    "Price",
    "PriceTable",
    "RetryPolicy",
    "TokenUsage",
    "ToolCallMade",
    "config_credentials",
    "current_gateway",
]
