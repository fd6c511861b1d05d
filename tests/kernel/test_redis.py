"""With REDIS_URL: shared stores, the job queue and event delivery run on a real Redis."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
import pytest_asyncio
from sqlalchemy import select

from kernel.cache import build_store, cache_key, increment
from kernel.db.session import set_session_scope
from kernel.events.dispatcher import Dispatcher
from kernel.runtime_services import start_background
from kernel.testing.isolation import create_tenant
from tests.kernel.test_events_and_jobs import probe_aside

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_two_processes_share_login_counters_through_redis(atendai_redis_url):
    first, second = build_store(atendai_redis_url, "auth"), build_store(atendai_redis_url, "auth")
    key = cache_key(None, "login", "account", f"shared-{time.time_ns()}")
    assert await increment(first, key, 60) == 1
    assert await increment(second, key, 60) == 2
    assert 0 < (await first.expires_in(key)) <= 60


@pytest_asyncio.fixture(loop_scope="session")
async def redis_kernel(atendai_kernel, atendai_client, atendai_redis_url):
    """The probe kernel with REDIS_URL set: its queue lives in Redis."""
    settings = msgspec.structs.replace(atendai_kernel.settings, redis_url=atendai_redis_url)
    async with probe_aside(atendai_kernel, settings) as kernel:
        yield kernel


async def test_jobs_and_event_deliveries_run_on_the_redis_queue(redis_kernel, atendai_client):
    from atendai_example.models import Note
    from atendai_example.services import NoteService

    from kernel.db.scope import tenant_scope

    tenant = await create_tenant(redis_kernel, atendai_client, seed=False)
    await Dispatcher(redis_kernel, jobs=None).dispatch_pending()
    await start_background(redis_kernel, worker=True)
    jobs = redis_kernel.state["jobs"]
    assert jobs.url.startswith("redis://")
    with tenant_scope(tenant.tenant_id):
        async with redis_kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant.tenant_id)
            note = await NoteService(session).create("Redis", "four words in here")
            await session.commit()

    async def wait_for(predicate):
        deadline = time.monotonic() + 20
        while True:
            async with redis_kernel.db.session() as session:
                await set_session_scope(session, tenant_id=tenant.tenant_id)
                stored = (await session.execute(select(Note).where(Note.id == note.id))).scalar_one()
            if predicate(stored):
                return stored
            assert time.monotonic() < deadline, (stored.body, stored.word_count)
            await asyncio.sleep(0.1)

    assert (await wait_for(lambda n: n.word_count is not None)).word_count == 4  # count_words, a job on Redis
    await jobs.enqueue("probe.stamp", tenant_id=tenant.tenant_id, note_id=str(note.id))
    stored = await wait_for(lambda n: "[stamped]" in n.body)
    assert stored.word_count == 5  # and exactly one run of the stamp job
