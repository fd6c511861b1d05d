"""The default install: no DATABASE_URL, the embedded PostgreSQL starts, migrates, serves, and stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_starts_the_embedded_database_and_stops_it_on_exit(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "ATENDAI_"))}
    env.update(ATENDAI_DATA_DIR=str(tmp_path / "data"), ATENDAI_PORT=str(port), ATENDAI_LOG_JSON="true")
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "kernel.cli", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        ready = None
        while time.monotonic() - started < 90 and server.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.json()["checks"] == {"database": "ok"}, (
            server.stdout.read1().decode() if server.stdout else ""
        )
        assert (tmp_path / "data" / "postgres" / "PG_VERSION").read_text().strip() == "18"
        assert ready.json()["database"]["pgvector"] is True  # the embedded server ships pgvector
        assert (tmp_path / "data" / "secret_key").stat().st_mode & 0o077 == 0
    finally:
        server.send_signal(signal.SIGINT)
        output = server.communicate(timeout=60)[0].decode()
    assert server.returncode == 0, output
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists(), "the embedded server kept running"
