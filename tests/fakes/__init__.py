"""Local stand-ins for the model providers: real HTTP servers that the real SDK clients talk to.

Each fake is a small Litestar app served by uvicorn on ``127.0.0.1`` (a random port) in a background
thread, so the OpenAI and Google SDKs run their whole request path (headers, JSON, SSE, errors) as
they would against the real service. A test scripts what the next calls answer and reads back what
was sent::

    with FakeOpenAI() as fake:
        fake.script(FakeReply.call("lookup", {"q": "x"}), FakeReply.say("done"))
        ...  # point a ModelConfig at fake.base_url
        assert fake.requests[0].json["tools"][0]["function"]["name"] == "lookup"

Replies are consumed in order; when the script is empty the ``fallback_reply`` answers (plain text
unless :meth:`FakeServer.always` set another one, e.g. a 503 for an outage).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn
from litestar import Litestar, Request

__all__ = ["FakeReply", "FakeServer", "FakeToolCall", "FakeUsage", "RecordedRequest", "fake_vector"]

START_TIMEOUT = 10.0


@dataclass(frozen=True)
class FakeUsage:
    """Token counts the fake reports, so tests can compare the ledger with what the provider said."""

    prompt: int = 12
    completion: int = 5
    cached: int = 0


@dataclass(frozen=True)
class FakeToolCall:
    """A function call the fake asks for; ``arguments`` as a string is sent verbatim (invalid JSON too)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)

    def arguments_object(self) -> dict[str, Any]:
        return json.loads(self.arguments) if isinstance(self.arguments, str) else self.arguments


@dataclass(frozen=True)
class FakeReply:
    """One scripted answer: text, tool calls, or an HTTP error, optionally after a delay."""

    text: str = ""
    tool_calls: tuple[FakeToolCall, ...] = ()
    status: int = 200
    retry_after: str | None = None
    delay: float = 0.0
    usage: FakeUsage = field(default_factory=FakeUsage)

    @classmethod
    def say(cls, text: str, *, usage: FakeUsage | None = None, delay: float = 0.0) -> FakeReply:
        return cls(text=text, usage=usage or FakeUsage(), delay=delay)

    @classmethod
    def call(
        cls, name: str, arguments: dict[str, Any] | str | None = None, *, usage: FakeUsage | None = None
    ) -> FakeReply:
        call = FakeToolCall(name, {} if arguments is None else arguments)
        return cls(tool_calls=(call,), usage=usage or FakeUsage())

    @classmethod
    def fail(cls, status: int, *, retry_after: str | None = None) -> FakeReply:
        return cls(status=status, retry_after=retry_after)

    @classmethod
    def slow(cls, seconds: float, text: str = "late") -> FakeReply:
        return cls(text=text, delay=seconds)

    @property
    def is_error(self) -> bool:
        return self.status >= 400


@dataclass(frozen=True)
class RecordedRequest:
    """What a client sent: header names are lower-case, ``json`` is the parsed body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


def fake_vector(text: str, dims: int) -> list[float]:
    """A deterministic embedding (same text, same vector) so tests can compare results exactly."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(digest[i % len(digest)] / 255, 6) for i in range(dims)]


class FakeServer:
    """Scripted replies, recorded requests, and the uvicorn thread that serves :meth:`build_app`."""

    def __init__(self, *, embedding_dims: int = 8, embedding_tokens_per_text: int = 3) -> None:
        self.embedding_dims = embedding_dims
        self.embedding_tokens_per_text = embedding_tokens_per_text
        self.requests: list[RecordedRequest] = []
        self._concepts: list[tuple[str, list[float]]] = []
        self._script: deque[FakeReply] = deque()
        self._fallback_reply = FakeReply.say("ok")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- scripting -------------------------------------------------------------------------------

    def script(self, *replies: FakeReply) -> None:
        """Queue the answers of the next calls, in order."""
        with self._lock:
            self._script.extend(replies)

    def always(self, reply: FakeReply | None) -> None:
        """What every call answers once the script is used up (``None``: a plain ``ok`` text)."""
        with self._lock:
            self._fallback_reply = reply or FakeReply.say("ok")

    def embed_like(self, phrase: str, vector: list[float]) -> None:
        """Texts containing ``phrase`` (case-insensitive) embed as ``vector``: a stand-in for meaning, so a
        test can make two texts with no word in common close, as a real embedding model would."""
        with self._lock:
            self._concepts.append((phrase.lower(), list(vector)))

    def vector_for(self, text: str) -> list[float]:
        lowered = text.lower()
        with self._lock:
            for phrase, vector in self._concepts:
                if phrase in lowered:
                    return vector
        return fake_vector(text, self.embedding_dims)

    def reset(self) -> None:
        """Forget the script, the recorded requests, ``embed_like`` phrases and any ``always`` reply (between tests)."""
        with self._lock:
            self._concepts.clear()
            self._script.clear()
            self.requests.clear()
            self._fallback_reply = FakeReply.say("ok")

    def next_reply(self) -> FakeReply:
        with self._lock:
            return self._script.popleft() if self._script else self._fallback_reply

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    async def record(self, request: Request[Any, Any, Any]) -> RecordedRequest:
        body = await request.body()
        recorded = RecordedRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={key.lower(): value for key, value in request.headers.items()},
            json=json.loads(body) if body else None,
        )
        with self._lock:
            self.requests.append(recorded)
        return recorded

    async def wait(self, seconds: float) -> None:
        """Sleep like a slow provider, but give up at once when the server stops."""
        if seconds > 0:
            await asyncio.to_thread(self._stopping.wait, seconds)

    # -- serving -------------------------------------------------------------------------------

    def build_app(self) -> Litestar:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.build_app(), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
