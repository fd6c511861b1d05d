"""Events through the outbox and jobs on the queue, including processes killed in the middle."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from kernel.db.scope import tenant_scope
from kernel.db.session import set_session_scope
from kernel.events.dispatcher import Dispatcher
from kernel.events.models import EventDelivery, OutboxEvent
from kernel.jobs.queue import JobRefused, Jobs
from kernel.runtime_services import start_background, stop_background
from kernel.testing.isolation import create_tenant
from tests.kernel.probe_plugin import MARKER_ENV, SLEEP_ENV, count_seen, probe_kernel

pytestmark = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]


@asynccontextmanager
async def probe_aside(atendai_kernel, settings=None):
    """A kernel with the probe plugin; the app's own dispatcher and worker step aside meanwhile."""
    await stop_background(atendai_kernel)
    kernel = probe_kernel(settings or atendai_kernel.settings)
    kernel.connect(atendai_kernel.db.urls)
    try:
        yield kernel
    finally:
        await stop_background(kernel)
        await kernel.db.dispose()
        atendai_kernel.connect()
        await start_background(atendai_kernel, worker=True)


@pytest_asyncio.fixture(loop_scope="session")
async def probe(atendai_kernel, atendai_client):
    async with probe_aside(atendai_kernel) as kernel:
        yield kernel


async def kill_mid_work(script: str, settings, marker: Path) -> None:
    """Run ``script`` in a child that pauses in the probe's work, and kill it there (SIGKILL)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=child_env(settings, **{SLEEP_ENV: "60", MARKER_ENV: str(marker)})
    )
    try:
        await asyncio.to_thread(wait_for, marker)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)


async def dispatch_all(kernel, tenant_id, rounds: int = 50) -> None:
    """Dispatch batches until the tenant has no due event left.

    The test database is shared: other organizations' events may fill a batch before this one's.
    """
    for _ in range(rounds):
        await Dispatcher(kernel, jobs=None).dispatch_pending()
        async with kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant_id)
            due = (
                await session.execute(
                    select(func.count(OutboxEvent.id)).where(
                        OutboxEvent.dispatched_at.is_(None), OutboxEvent.next_attempt_at <= func.now()
                    )
                )
            ).scalar_one()
        if not due:
            return


async def new_tenant(kernel, client):
    tenant = await create_tenant(kernel, client, seed=False)
    await dispatch_all(kernel, tenant.tenant_id)  # the seed note's event, out of the way
    return tenant


async def write_note(kernel, tenant_id, title="Prices", body="PIX has 5% off", commit=True):
    from atendai_example.services import NoteService

    with tenant_scope(tenant_id):
        async with kernel.db.session() as session:
            await set_session_scope(session, tenant_id=tenant_id)
            note = await NoteService(session).create(title, body)
            if commit:
                await session.commit()
            else:
                await session.rollback()
            return note.id


async def counts(kernel, tenant_id):
    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        outbox = (await session.execute(select(func.count(OutboxEvent.id)))).scalar_one()
        pending = (
            await session.execute(select(func.count(OutboxEvent.id)).where(OutboxEvent.dispatched_at.is_(None)))
        ).scalar_one()
        deliveries = dict(
            (await session.execute(select(EventDelivery.subscriber, func.count()).group_by(EventDelivery.subscriber)))
            .tuples()
            .all()
        )
        seen = await count_seen(session)
    return {"outbox": outbox, "pending": pending, "deliveries": deliveries, "seen": seen}


def child_env(settings, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATENDAI_", "DATABASE_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        ATENDAI_SECRET_KEY=settings.secret_key,
        ATENDAI_DATA_DIR=settings.data_dir,
        ATENDAI_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def wait_for(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"the child never reached {path.name}"
        time.sleep(0.05)


# --- events ---------------------------------------------------------------------------------------


async def test_an_event_rolled_back_with_its_change_is_never_delivered(probe, atendai_client):
    tenant = await new_tenant(probe, atendai_client)
    await write_note(probe, tenant.tenant_id, commit=False)
    await dispatch_all(probe, tenant.tenant_id)
    state = await counts(probe, tenant.tenant_id)
    assert state["outbox"] == 1  # only the welcome note's event; the rolled-back note left none
    assert state["seen"] == 1


async def test_racing_dispatchers_deliver_each_event_once_per_subscriber(probe, atendai_client):
    tenant = await new_tenant(probe, atendai_client)
    for i in range(5):
        await write_note(probe, tenant.tenant_id, title=f"note {i}")
    await asyncio.gather(*(Dispatcher(probe, jobs=None, batch_size=2).dispatch_pending() for _ in range(4)))
    await dispatch_all(probe, tenant.tenant_id)
    state = await counts(probe, tenant.tenant_id)
    assert state["pending"] == 0
    assert state["seen"] == 6  # five notes and the welcome note, each echoed exactly once
    assert state["deliveries"] == {"probe.echo": 6, "example.count_words": 6}


async def test_a_tenant_without_the_plugin_is_not_heard_by_its_subscribers(probe, atendai_client):
    from kernel.tenancy.services import disable_plugin

    tenant = await new_tenant(probe, atendai_client)
    async with probe.db.session() as session:
        await set_session_scope(session, tenant_id=tenant.tenant_id)
        with tenant_scope(tenant.tenant_id):
            await disable_plugin(probe, session, tenant.tenant_id, "probe")
        await session.commit()
    await write_note(probe, tenant.tenant_id)
    await dispatch_all(probe, tenant.tenant_id)
    state = await counts(probe, tenant.tenant_id)
    assert state["deliveries"].get("probe.echo", 0) == 1  # the welcome note's, before disabling
    assert state["deliveries"]["example.count_words"] == 2


async def test_job_subscribers_are_delivered_by_the_worker(probe, atendai_client):
    tenant = await new_tenant(probe, atendai_client)
    await start_background(probe, worker=True)
    note_id = await write_note(probe, tenant.tenant_id, body="one two three")
    from atendai_example.models import Note

    for _ in range(100):
        async with probe.db.session() as session:
            await set_session_scope(session, tenant_id=tenant.tenant_id)
            words = (await session.execute(select(Note.word_count).where(Note.id == note_id))).scalar_one()
        if words is not None:
            break
        await asyncio.sleep(0.1)
    assert words == 3


async def test_a_dispatcher_killed_mid_delivery_leaves_the_event_to_the_next(
    probe, atendai_client, atendai_settings, tmp_path
):
    tenant = await new_tenant(probe, atendai_client)
    await write_note(probe, tenant.tenant_id, title="survives")
    marker = tmp_path / "started"
    script = textwrap.dedent(
        """
        import asyncio
        from kernel.config import load_settings
        from kernel.events.dispatcher import Dispatcher
        from tests.kernel.probe_plugin import probe_kernel

        async def main():
            kernel = probe_kernel(load_settings(env_file=None))
            kernel.connect()
            await Dispatcher(kernel, jobs=None).dispatch_pending()

        asyncio.run(main())
        """
    )
    await kill_mid_work(script, atendai_settings, marker)
    await dispatch_all(probe, tenant.tenant_id)
    state = await counts(probe, tenant.tenant_id)
    assert state["pending"] == 0
    assert state["seen"] == 2 and state["deliveries"]["probe.echo"] == 2


# --- jobs ------------------------------------------------------------------------------------------


async def test_a_job_without_a_tenant_is_refused(probe):
    jobs = Jobs(probe)
    await jobs.connect()
    try:
        with pytest.raises(JobRefused, match="needs a tenant"):
            await jobs.enqueue("probe.stamp", tenant_id=None, note_id="x")
        with pytest.raises(JobRefused, match="no job named"):
            await jobs.enqueue("probe.nothing", tenant_id=None)
    finally:
        await jobs.close()


async def note_of(kernel, tenant_id, note_id):
    from atendai_example.models import Note

    async with kernel.db.session() as session:
        await set_session_scope(session, tenant_id=tenant_id)
        return (await session.execute(select(Note).where(Note.id == note_id))).scalar_one()


async def wait_note(kernel, tenant_id, note_id, predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        note = await note_of(kernel, tenant_id, note_id)
        if predicate(note):
            return note
        assert time.monotonic() < deadline, f"timed out; last seen: {note.body!r} {note.word_count!r}"
        await asyncio.sleep(0.1)


async def test_a_failing_job_is_retried_with_backoff_until_it_succeeds(probe, atendai_client):
    tenant = await new_tenant(probe, atendai_client)
    note_id = await write_note(probe, tenant.tenant_id, body="x")
    await Dispatcher(probe, jobs=None).dispatch_pending()
    await start_background(probe, worker=True)
    await probe.state["jobs"].enqueue("probe.flaky", tenant_id=tenant.tenant_id, note_id=str(note_id))
    note = await wait_note(probe, tenant.tenant_id, note_id, lambda n: (n.word_count or 0) >= 4)
    assert note.word_count == 4  # count_words set 1, then three runs: fail, fail, succeed


async def test_a_worker_killed_mid_job_is_replaced_and_the_job_takes_effect_once(
    probe, atendai_client, atendai_settings, tmp_path
):
    tenant = await new_tenant(probe, atendai_client)
    note_id = await write_note(probe, tenant.tenant_id, body="x")
    await Dispatcher(probe, jobs=None).dispatch_pending()
    marker = tmp_path / "started"
    script = textwrap.dedent(
        """
        import asyncio
        from kernel.config import load_settings
        from kernel.jobs.queue import Jobs
        from tests.kernel.probe_plugin import probe_kernel

        async def main():
            kernel = probe_kernel(load_settings(env_file=None))
            kernel.connect()
            jobs = Jobs(kernel)
            await jobs.connect()
            await jobs.build_worker(concurrency=1).start()

        asyncio.run(main())
        """
    )
    jobs = Jobs(probe)
    await jobs.connect()
    await jobs.enqueue("probe.stamp", tenant_id=tenant.tenant_id, note_id=str(note_id))
    await kill_mid_work(script, atendai_settings, marker)
    assert "[stamped]" not in (await note_of(probe, tenant.tenant_id, note_id)).body
    await jobs.close()
    await start_background(probe, worker=True)  # a fresh worker sweeps the dead one's job and runs it again
    note = await wait_note(probe, tenant.tenant_id, note_id, lambda n: "[stamped]" in n.body, timeout=45)
    assert note.body.count("[stamped]") == 1
    assert note.word_count == 2  # count_words' 1, plus exactly one completed run of the job


async def test_cron_jobs_are_platform_wide_and_scheduled_by_every_worker(probe):
    from kernel.sdk import JobSpec

    async def tick(ctx):
        return None

    with pytest.raises(JobRefused, match="platform_wide"):
        Jobs(probe, extra=[JobSpec("probe.tick", tick, cron="* * * * *")])
    jobs = Jobs(probe, extra=[JobSpec("probe.tick", tick, cron="*/5 * * * *", platform_wide=True)])
    worker = jobs.build_worker()
    crons = {job.cron for job in worker.cron_jobs}
    assert "*/5 * * * *" in crons  # beside the installed plugins' own (e.g. the knowledge sweep)
    assert all(job.function.__name__ == "run" for job in worker.cron_jobs)
    assert len(worker.cron_jobs) == sum(1 for spec in jobs.specs.values() if spec.cron)
