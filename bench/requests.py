"""Latency of authenticated API reads through a real server (uvicorn) on the embedded database.

Usage: .venv/bin/python bench/requests.py [--requests 500] [--concurrency 8]
Measures GET /api/v1/example/notes/ (auth: JWT decode, one query for user + organization + enabled
plugins, RLS-scoped transaction, one query for notes) and GET /healthz for a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

import httpx
from support import serve


async def measure(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], total: int, concurrency: int
) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            queue.get_nowait()
            started = time.perf_counter()
            response = await client.get(path, headers=headers)
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(len(latencies) * 0.95) - 1]
    print(
        f"{path:<28} {total} requests, concurrency {concurrency}: {total / elapsed:7.0f} req/s  p50 {p50:6.1f} ms  p95 {p95:6.1f} ms"
    )
    return latencies


async def run(base: str, total: int, concurrency: int, password: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        login = await client.post(
            "/api/v1/auth/login", json={"email": "admin@demo.atendai.local", "password": password}
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        await measure(client, "/healthz", {}, 50, concurrency)  # warm-up
        await measure(client, "/healthz", {}, total, concurrency)
        await measure(client, "/api/v1/example/notes/", headers, total, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="atendai-bench-") as tmp,
        serve(os.path.join(tmp, "data"), demo=True) as served,
    ):
        password = (served.data_dir / "demo-login.txt").read_text().split("\n")[1]
        asyncio.run(run(served.base_url, args.requests, args.concurrency, password))


if __name__ == "__main__":
    main()
