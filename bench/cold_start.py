"""Time from `atendai serve` to the first 200 from /readyz, on a fresh data dir (cold) and again (warm).

Usage: .venv/bin/python bench/cold_start.py [--runs 3]
Cold includes initdb of the embedded PostgreSQL and every migration; warm reuses the data dir.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_to_ready(data_dir: str) -> float:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "ATENDAI_"))}
    env.update(ATENDAI_DATA_DIR=data_dir, ATENDAI_PORT=str(port), ATENDAI_LOG_LEVEL="WARNING")
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "kernel.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while time.perf_counter() - started < 120:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the server did not become ready in 120 s")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="atendai-bench-") as tmp:
            data_dir = os.path.join(tmp, "data")
            cold.append(time_to_ready(data_dir))
            warm.append(time_to_ready(data_dir))
    print(
        f"cold start to first 200 (fresh data dir, initdb + migrations): median {statistics.median(cold):.2f} s  runs {[round(x, 2) for x in cold]}"
    )
    print(
        f"warm start to first 200 (existing data dir):                  median {statistics.median(warm):.2f} s  runs {[round(x, 2) for x in warm]}"
    )


if __name__ == "__main__":
    main()
