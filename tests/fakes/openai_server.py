"""A fake OpenAI-compatible API: ``/v1/chat/completions`` (JSON and SSE) and ``/v1/embeddings``.

The bodies follow the public wire format closely enough for the ``openai`` SDK to parse them into
its own types: ``chat.completion`` objects, ``chat.completion.chunk`` events ending in ``[DONE]``
(with a usage chunk when the client asked for ``stream_options.include_usage``), tool calls in both
modes, and error bodies with an optional ``Retry-After``.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.response import Stream

from tests.fakes import FakeReply, FakeServer

__all__ = ["FakeOpenAI"]


def _usage(reply: FakeReply) -> dict[str, Any]:
    usage = reply.usage
    return {
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "total_tokens": usage.prompt + usage.completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached},
    }


def _tool_calls(reply: FakeReply) -> list[dict[str, Any]]:
    return [
        {"id": f"call_{index}", "type": "function", "function": {"name": call.name, "arguments": call.arguments_json()}}
        for index, call in enumerate(reply.tool_calls)
    ]


def _completion(reply: FakeReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(reply),
    }


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> str:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }
    return f"data: {json.dumps(body)}\n\n"


def _text_pieces(text: str) -> list[str]:
    """Split like a model streams: a word (with its leading space) per chunk."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]] if text else []


def _stream_events(reply: FakeReply, model: str, include_usage: bool) -> list[str]:
    events = [_chunk(model, {"role": "assistant", "content": ""})]
    events += [_chunk(model, {"content": piece}) for piece in _text_pieces(reply.text)]
    for index, call in enumerate(_tool_calls(reply)):
        arguments = call["function"]["arguments"]
        head = {"index": index, "id": call["id"], "type": "function", "function": {"name": call["function"]["name"]}}
        head["function"]["arguments"] = ""
        events.append(_chunk(model, {"tool_calls": [head]}))
        half = len(arguments) // 2
        for fragment in (arguments[:half], arguments[half:]):
            events.append(_chunk(model, {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}))
    events.append(_chunk(model, {}, "tool_calls" if reply.tool_calls else "stop"))
    if include_usage:
        usage_event = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": _usage(reply),
        }
        events.append(f"data: {json.dumps(usage_event)}\n\n")
    events.append("data: [DONE]\n\n")
    return events


def _error(reply: FakeReply) -> Response[dict[str, Any]]:
    headers = {"retry-after": reply.retry_after} if reply.retry_after else {}
    body = {"error": {"message": f"fake error {reply.status}", "type": "server_error", "code": None}}
    return Response(body, status_code=reply.status, headers=headers)


def _embedding_item(index: int, vector: list[float], encoding: str) -> dict[str, Any]:
    data: Any = vector
    if encoding == "base64":
        data = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return {"object": "embedding", "index": index, "embedding": data}


class FakeOpenAI(FakeServer):
    """``base_url`` for the SDK is :attr:`api_base` (with ``/v1``)."""

    @property
    def api_base(self) -> str:
        return f"{self.base_url}/v1"

    def build_app(self) -> Litestar:
        fake = self

        @post("/v1/chat/completions", status_code=200)
        async def chat_completions(request: Request[Any, Any, Any]) -> Any:
            body = (await fake.record(request)).json
            reply = fake.next_reply()
            await fake.wait(reply.delay)
            if reply.is_error:
                return _error(reply)
            if not body.get("stream"):
                return _completion(reply, body["model"])
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _stream_events(reply, body["model"], include_usage)

            async def emit() -> AsyncIterator[str]:
                for event in events:
                    yield event

            return Stream(emit(), media_type="text/event-stream")

        @post("/v1/embeddings", status_code=200)
        async def embeddings(request: Request[Any, Any, Any]) -> Any:
            body = (await fake.record(request)).json
            reply = fake.next_reply()
            await fake.wait(reply.delay)
            if reply.is_error:
                return _error(reply)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            encoding = body.get("encoding_format") or "float"
            tokens = fake.embedding_tokens_per_text * len(texts)
            return {
                "object": "list",
                "model": body["model"],
                "data": [_embedding_item(i, fake.vector_for(text), encoding) for i, text in enumerate(texts)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }

        return Litestar([chat_completions, embeddings], debug=False)
