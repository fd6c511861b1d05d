"""Running the tools a model asks for: arguments checked against the tool's JSON schema, handler in the tenant's scope.

Nothing a model sends is trusted. Arguments that are not JSON, not an object, or not valid for the
tool's ``parameters`` schema go back to the model as an error it can correct; so does a handler that
raises or takes too long. None of these stops the conversation; each is logged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import msgspec
import structlog
from jsonschema import exceptions as schema_errors
from jsonschema import validators

from kernel.db.scope import tenant_scope
from kernel.errors import KernelError
from kernel.llm.providers.base import ToolCall

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

    from kernel.sdk import LLMTool

__all__ = ["DEFAULT_TOOL_TIMEOUT", "MAX_RESULT_CHARS", "ToolBox", "ToolCallMade"]

log = structlog.get_logger("kernel.llm")

DEFAULT_TOOL_TIMEOUT = 30.0
MAX_RESULT_CHARS = 16_000
"""A tool result longer than this is cut, so one chatty tool cannot fill the model's context."""
MAX_REPORTED_PROBLEMS = 5


@dataclass(frozen=True)
class ToolCallMade:
    """One tool call of a conversation: what the model asked, what it got back, or why it failed."""

    name: str
    arguments: dict[str, Any] | None
    """The parsed arguments (``None`` when they were not a JSON object)."""
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def content_for_model(self) -> str:
        """The tool message the model reads: ``{"result": ...}`` or ``{"error": ...}``, JSON, bounded."""
        if self.error is not None:
            return json.dumps({"error": self.error}, ensure_ascii=False)
        encoded = msgspec.json.encode({"result": self.result}, enc_hook=str).decode()
        if len(encoded) <= MAX_RESULT_CHARS:
            return encoded
        return json.dumps({"result": encoded[:MAX_RESULT_CHARS], "truncated": True}, ensure_ascii=False)


def _validator(tool: LLMTool) -> Validator:
    schema = tool.parameters
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except schema_errors.SchemaError as exc:
        raise ValueError(f"LLM tool {tool.name!r} has an invalid parameters schema: {exc.message}") from exc
    return cls(schema)


def _parse(arguments_json: str) -> tuple[dict[str, Any] | None, str | None]:
    """The arguments as a dict, or the reason they are unusable. An empty string means no arguments."""
    if not arguments_json.strip():
        return {}, None
    try:
        value = json.loads(arguments_json)
    except ValueError as exc:
        return None, f"The arguments are not valid JSON ({exc.msg}). Send a JSON object."
    if not isinstance(value, dict):
        return None, "The arguments must be a JSON object."
    return value, None


def _problems(validator: Validator, arguments: dict[str, Any]) -> str | None:
    errors = sorted(validator.iter_errors(arguments), key=schema_errors.relevance)
    if not errors:
        return None
    described = []
    for error in errors[:MAX_REPORTED_PROBLEMS]:
        where = "/".join(str(part) for part in error.absolute_path)
        described.append(f"{where}: {error.message}" if where else error.message)
    return "Invalid arguments: " + "; ".join(described) + ". Fix them and call the tool again."


class ToolBox:
    """The tools of one conversation, by name, with their schema validators built once."""

    def __init__(self, tools: Sequence[LLMTool] | None, *, timeout: float = DEFAULT_TOOL_TIMEOUT) -> None:
        self.timeout = timeout
        self._tools: dict[str, LLMTool] = {}
        self._validators: dict[str, Validator] = {}
        for tool in tools or ():
            if tool.name in self._tools:
                raise ValueError(f"the LLM tool {tool.name!r} was given twice")
            self._tools[tool.name] = tool
            self._validators[tool.name] = _validator(tool)

    def __bool__(self) -> bool:
        return bool(self._tools)

    @property
    def tools(self) -> list[LLMTool]:
        return list(self._tools.values())

    async def run(self, call: ToolCall, tenant_id: UUID) -> ToolCallMade:
        """Check and run one call; every failure becomes a :class:`ToolCallMade` with ``error`` set."""
        tool = self._tools.get(call.name)
        arguments, problem = _parse(call.arguments_json)
        if tool is None:
            problem = f"There is no tool named {call.name!r}. Use one of: {', '.join(self._tools)}."
        elif arguments is not None and problem is None:
            problem = _problems(self._validators[call.name], arguments)
        if problem is not None or tool is None or arguments is None:
            log.info("llm_tool_call_refused", tool=call.name, reason=problem)
            return ToolCallMade(name=call.name, arguments=arguments, error=problem)
        return await self._invoke(tool, arguments, tenant_id)

    async def _invoke(self, tool: LLMTool, arguments: dict[str, Any], tenant_id: UUID) -> ToolCallMade:
        try:
            with tenant_scope(tenant_id):
                async with asyncio.timeout(self.timeout):
                    result = await tool.handler(**arguments)
        except TimeoutError:
            log.warning("llm_tool_timed_out", tool=tool.name, timeout=self.timeout)
            error = f"The tool did not finish within {self.timeout:g} seconds."
        except KernelError as exc:
            log.info("llm_tool_refused", tool=tool.name, error=str(exc))
            error = str(exc)
        except Exception:
            # A plugin bug must not end the customer's conversation; the model hears that the tool failed.
            log.exception("llm_tool_failed", tool=tool.name)
            error = "The tool failed with an internal error."
        else:
            return ToolCallMade(name=tool.name, arguments=arguments, result=result)
        return ToolCallMade(name=tool.name, arguments=arguments, error=error)
