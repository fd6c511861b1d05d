"""Key-value stores for rate limits, revocations and hot reads: Redis when configured, memory otherwise.

Every key is built by :func:`cache_key`, which puts the tenant first (``t:<tenant>:...``, or
``t:-:...`` for platform-wide keys), so no two tenants can ever share an entry by accident.
"""

from __future__ import annotations

from uuid import UUID

from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore

__all__ = ["build_store", "cache_key", "increment"]


def cache_key(tenant_id: UUID | None, *parts: object) -> str:
    return ":".join(["t", str(tenant_id) if tenant_id else "-", *(str(part) for part in parts)])


def build_store(redis_url: str | None, namespace: str) -> Store:
    """A store named ``namespace``: a Redis store when ``REDIS_URL`` is set, else process memory."""
    if redis_url:
        from litestar.stores.redis import RedisStore

        return RedisStore.with_client(url=redis_url, namespace=f"atendai:{namespace}")
    return MemoryStore()


async def increment(store: Store, key: str, window_seconds: int) -> int:
    """Count one more event under ``key`` within a window that starts at the first event."""
    current = await store.get(key)
    count = int(current) + 1 if current else 1
    remaining = await store.expires_in(key) if current else None
    await store.set(key, str(count).encode(), expires_in=remaining if remaining and remaining > 0 else window_seconds)
    return count
