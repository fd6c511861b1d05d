"""A fake Gemini API (``v1beta``): ``generateContent``, ``streamGenerateContent?alt=sse`` and embeddings.

The ``google-genai`` SDK posts to ``/v1beta/models/{model}:{method}`` with the key in
``x-goog-api-key``; the answers carry ``functionCall`` parts and ``usageMetadata`` as the real API does.
For embeddings the SDK uses ``batchEmbedContents`` (one request per batch); ``embedContent`` is served
too for clients that call it directly.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response, post
from litestar.params import FromPath
from litestar.response import Stream

from tests.fakes import FakeReply, FakeServer

__all__ = ["FakeGemini"]


def _usage(reply: FakeReply) -> dict[str, Any]:
    usage = reply.usage
    metadata = {
        "promptTokenCount": usage.prompt,
        "candidatesTokenCount": usage.completion,
        "totalTokenCount": usage.prompt + usage.completion,
    }
    if usage.cached:
        metadata["cachedContentTokenCount"] = usage.cached
    return metadata


def _response(parts: list[dict[str, Any]], model: str, usage: dict[str, Any] | None, finish: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = "STOP"
    body: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if usage is not None:
        body["usageMetadata"] = usage
    return body


def _parts(reply: FakeReply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
    parts += [{"functionCall": {"name": call.name, "args": call.arguments_object()}} for call in reply.tool_calls]
    return parts


def _stream_bodies(reply: FakeReply, model: str) -> list[dict[str, Any]]:
    """Text split in two chunks, function calls in the last one, usage on the last one."""
    text = reply.text
    half = len(text) // 2
    bodies = [_response([{"text": text[:half]}], model, None, False)] if half else []
    last_parts = [{"text": text[half:]}] if text[half:] else []
    last_parts += [{"functionCall": {"name": c.name, "args": c.arguments_object()}} for c in reply.tool_calls]
    bodies.append(_response(last_parts, model, _usage(reply), True))
    return bodies


def _error(reply: FakeReply) -> Response[dict[str, Any]]:
    headers = {"retry-after": reply.retry_after} if reply.retry_after else {}
    status_names = {429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE", 500: "INTERNAL", 400: "INVALID_ARGUMENT"}
    body = {
        "error": {
            "code": reply.status,
            "message": f"fake error {reply.status}",
            "status": status_names.get(reply.status, "UNKNOWN"),
        }
    }
    return Response(body, status_code=reply.status, headers=headers)


def _content_text(content: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in content.get("parts", []))


class FakeGemini(FakeServer):
    """``base_url`` for the SDK is :attr:`base_url`; the SDK adds ``/v1beta``."""

    def build_app(self) -> Litestar:
        fake = self

        @post("/v1beta/models/{target:str}", status_code=200)
        async def models(request: Request[Any, Any, Any], target: FromPath[str]) -> Any:
            body = (await fake.record(request)).json
            model, _, method = target.partition(":")
            reply = fake.next_reply()
            await fake.wait(reply.delay)
            if reply.is_error:
                return _error(reply)
            if method == "generateContent":
                return _response(_parts(reply), model, _usage(reply), True)
            if method == "streamGenerateContent":
                return _sse(_stream_bodies(reply, model))
            if method == "batchEmbedContents":
                texts = [_content_text(item["content"]) for item in body["requests"]]
                return _embeddings(fake, texts)
            if method == "embedContent":
                return {"embedding": {"values": fake.vector_for(_content_text(body["content"]))}}
            return Response({"error": {"code": 404, "message": method, "status": "NOT_FOUND"}}, status_code=404)

        return Litestar([models], debug=False)


def _embeddings(fake: FakeGemini, texts: list[str]) -> dict[str, Any]:
    return {
        "embeddings": [{"values": fake.vector_for(text)} for text in texts],
        "usageMetadata": {"promptTokenCount": fake.embedding_tokens_per_text * len(texts)},
    }


def _sse(bodies: list[dict[str, Any]]) -> Stream:
    async def emit() -> AsyncIterator[str]:
        for body in bodies:
            yield f"data: {json.dumps(body)}\r\n\r\n"

    return Stream(emit(), media_type="text/event-stream")
