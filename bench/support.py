"""What the benchmarks share: a free port and ``atendai serve`` on a fresh embedded data directory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ATENDAI", "Served", "bench_env", "free_port", "serve"]

ATENDAI = [sys.executable, "-m", "kernel.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_env(data_dir: str, port: int) -> dict[str, str]:
    """The environment of a clean install: no database server, no settings of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "ATENDAI_"))}
    env.update(ATENDAI_DATA_DIR=data_dir, ATENDAI_PORT=str(port), ATENDAI_LOG_LEVEL="WARNING")
    return env


@dataclass(frozen=True)
class Served:
    base_url: str
    data_dir: Path
    seconds_to_ready: float


@contextmanager
def serve(data_dir: str, *, demo: bool = False, timeout: float = 120) -> Iterator[Served]:
    """``atendai serve`` on ``data_dir`` (``atendai demo`` first when asked), until the block ends."""
    port = free_port()
    env = bench_env(data_dir, port)
    if demo:
        subprocess.run([*ATENDAI, "demo"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    server = subprocess.Popen([*ATENDAI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if time.perf_counter() - started > timeout:
                raise RuntimeError(f"the server did not become ready in {timeout:.0f} s")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield Served(f"http://127.0.0.1:{port}", Path(data_dir), time.perf_counter() - started)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
