"""Ingestion throughput through a real server (``atendai serve``, embedded PostgreSQL, in-process worker).

Usage: .venv/bin/python bench/knowledge_ingest.py [--documents 200] [--sections 12]

Uploads ``--documents`` Markdown files of ``--sections`` sections each (Portuguese help-center text)
through the API, then measures:
  * the time until every one is ``ready`` (extract, chunk, BM25 statistics; full text only, no model);
  * the same documents re-indexed unchanged (every passage kept: nothing is rewritten);
  * while a second organization's backlog of the same size is being ingested, how long one document
    of a third organization waits until it is searchable (the per-tenant runner limit at work).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import tempfile
import time

import httpx
from support import ATENDAI, bench_env, free_port, serve

TOPICS = [
    ("Trocas", "Você pode trocar o produto em até {n} dias com a nota fiscal e a embalagem original."),
    ("Entrega", "Pedidos para {city} chegam em {n} dias úteis depois da confirmação do pagamento."),
    ("Pagamento", "Parcelamos em até {n} vezes sem juros no cartão; no PIX há desconto de {n} por cento."),
    ("Garantia", "A garantia do fabricante é de {n} meses e a estendida pode ser contratada no carrinho."),
    ("Lojas", "A loja de {city} abre das {n} horas às vinte e duas, inclusive aos domingos e feriados."),
    ("Tamanhos", "O tamanho M veste {n} a {n} e a tabela de cada produto mostra as medidas em centímetros."),
]
CITIES = ["São Paulo", "Rio de Janeiro", "Belo Horizonte", "Curitiba", "Recife", "Manaus", "Porto Alegre"]


def document(rng: random.Random, index: int, sections: int) -> str:
    parts = [f"# Manual {index}"]
    for section in range(sections):
        title, sentence = rng.choice(TOPICS)
        paragraph = " ".join(
            sentence.format(n=rng.randint(2, 90), city=rng.choice(CITIES)) for _ in range(rng.randint(4, 8))
        )
        parts.append(f"## {title} {section + 1}\n\n{paragraph}")
    return "\n\n".join(parts)


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def create_organization(data_dir: str, slug: str) -> tuple[str, str]:
    """``atendai tenants create`` before the server starts; returns the admin's email and password."""
    email = f"admin@{slug}.example.com"
    done = subprocess.run(
        [*ATENDAI, "tenants", "create", "--slug", slug, "--name", slug, "--admin-email", email],
        env=bench_env(data_dir, free_port()),
        check=True,
        capture_output=True,
        text=True,
    )
    return email, done.stdout.rsplit("password: ", 1)[1].split()[0]


async def collection_of(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.get("/api/v1/knowledge/collections/", headers=headers)
    response.raise_for_status()
    return response.json()[0]["id"]


async def upload(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, texts: list[str], concurrency: int = 1
) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, body: str) -> None:
        async with gate:
            response = await client.post(
                "/api/v1/knowledge/documents/upload",
                data={"collection_id": collection},
                files={"file": (f"manual-{index}.md", body.encode(), "text/markdown")},
                headers=headers,
            )
            response.raise_for_status()

    await asyncio.gather(*(one(index, body) for index, body in enumerate(texts)))


async def passages(client: httpx.AsyncClient, headers: dict[str, str], collection: str) -> int:
    total, offset = 0, 0
    while True:
        page = (
            await client.get(
                "/api/v1/knowledge/documents/",
                params={"collection_id": collection, "limit": 200, "offset": offset},
                headers=headers,
            )
        ).json()
        total += sum(item["chunk_count"] for item in page["items"])
        offset += 200
        if offset >= page["total"]:
            return total


async def wait_ready(client: httpx.AsyncClient, headers: dict[str, str], collection: str, count: int) -> float:
    started = time.perf_counter()
    while True:
        response = await client.get(
            "/api/v1/knowledge/documents/",
            params={"collection_id": collection, "status": "ready", "limit": 1},
            headers=headers,
        )
        response.raise_for_status()
        if response.json()["total"] >= count:
            return time.perf_counter() - started
        await asyncio.sleep(0.05)


async def run(base: str, documents: int, sections: int, logins: dict[str, tuple[str, str]]) -> None:
    rng = random.Random(7)
    texts = [document(rng, i, sections) for i in range(documents)]
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        busy = await login(client, *logins["bench-busy"])
        busy_collection = await collection_of(client, busy)
        began = time.perf_counter()
        await upload(client, busy, busy_collection, texts, concurrency=8)
        uploaded = time.perf_counter() - began
        await wait_ready(client, busy, busy_collection, documents)
        total = time.perf_counter() - began
        chunks = await passages(client, busy, busy_collection)
        print(
            f"ingest {documents} documents ({sections} sections each, {chunks} passages): {total:.1f} s from the "
            f"first upload to the last ready ({documents / total:.1f} documents/s, {chunks / total:.0f} passages/s; "
            f"the uploads, 8 at a time, took {uploaded:.1f} s)"
        )

        began = time.perf_counter()
        (await client.post(f"/api/v1/knowledge/collections/{busy_collection}/reindex", headers=busy)).raise_for_status()
        await asyncio.sleep(0.1)
        await wait_ready(client, busy, busy_collection, documents)
        print(f"re-index unchanged: {time.perf_counter() - began:.1f} s (every passage kept, nothing embedded)")

        other = await login(client, *logins["bench-other"])
        other_collection = await collection_of(client, other)
        quiet = await login(client, *logins["bench-quiet"])
        quiet_collection = await collection_of(client, quiet)
        await upload(client, other, other_collection, [t.replace("Manual", "Guia") for t in texts], concurrency=8)
        waits = []
        for round_ in range(5):
            began = time.perf_counter()
            await upload(client, quiet, quiet_collection, [f"# Aviso {round_}\n\nFechado no feriado de {round_}."])
            await wait_ready(client, quiet, quiet_collection, round_ + 1)
            waits.append(time.perf_counter() - began)
        backlog = (
            await client.get(
                "/api/v1/knowledge/documents/",
                params={"collection_id": other_collection, "status": "queued", "limit": 1},
                headers=other,
            )
        ).json()["total"]
        print(
            f"one document of a quiet organization during another's backlog of {documents}: "
            f"median {statistics.median(waits):.2f} s, worst {max(waits):.2f} s to ready "
            f"({backlog} of the backlog still queued afterwards)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--sections", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="atendai-bench-") as tmp:
        data_dir = os.path.join(tmp, "data")
        subprocess.run([*ATENDAI, "migrate"], env=bench_env(data_dir, free_port()), check=True, capture_output=True)
        logins = {slug: create_organization(data_dir, slug) for slug in ("bench-busy", "bench-other", "bench-quiet")}
        with serve(data_dir) as served:
            asyncio.run(run(served.base_url, args.documents, args.sections, logins))


if __name__ == "__main__":
    main()
