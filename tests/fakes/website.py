"""A small website on 127.0.0.1 for import and crawl tests: fixed routes, conditional GETs, delays."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

__all__ = ["FakeSite", "Route", "serve"]

Route = tuple[int, str, bytes, dict[str, str]]
"""status, content type, body, extra headers (``X-Test-Delay`` makes the server wait that many seconds)."""


class FakeSite(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Route]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes = routes
        self.requests: list[str] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeSite

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        routes = self.server.routes
        not_found: Route = (404, "text/html", b"<h1>404</h1>", {})
        status, content_type, body, headers = routes.get(self.path) or routes.get(urlsplit(self.path).path, not_found)
        extra = dict(headers)
        time.sleep(float(extra.pop("X-Test-Delay", "0")))
        if self._unchanged(extra):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _unchanged(self, headers: dict[str, str]) -> bool:
        etag, modified = headers.get("ETag"), headers.get("Last-Modified")
        return bool(
            (etag and self.headers.get("If-None-Match") == etag)
            or (modified and self.headers.get("If-Modified-Since") == modified)
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests look at ``requests`` instead."""


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Route]], FakeSite]]:
    sites: list[FakeSite] = []

    def start(routes: dict[str, Route]) -> FakeSite:
        site = FakeSite(routes)
        threading.Thread(target=site.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        sites.append(site)
        return site

    yield start
    for site in sites:
        site.shutdown()
        site.server_close()
