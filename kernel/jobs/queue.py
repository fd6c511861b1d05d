"""Background jobs on SAQ: one queue on Redis when configured, on PostgreSQL otherwise.

Every job carries its tenant (a job without one is refused unless its spec says ``platform_wide``),
runs inside that tenant's scope, has an explicit timeout, retries with exponential backoff and jitter,
and may heartbeat (``await ctx.heartbeat()``) so a long job is not taken for dead. A job whose worker
died (no heartbeat, or past its timeout) is swept and run again; jobs must therefore make their
effects idempotent, e.g. by writing through a unique key in the same transaction as their result.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from saq import CronJob, Job, Queue, Worker

from kernel.db.scope import platform_scope, tenant_scope
from kernel.db.urls import libpq_url
from kernel.sdk import JobSpec

__all__ = ["QUEUE_NAME", "JobContext", "JobRefused", "Jobs"]

QUEUE_NAME = "atendai"
RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 300.0
log = structlog.get_logger("kernel.jobs")


def build_queue(url: str) -> Queue:
    """SAQ's queue; on PostgreSQL one that leaves its schema alone (``atendai migrate`` keeps it current)."""
    if url.startswith("postgres"):
        from saq.queue.postgres import PostgresQueue

        class MigratedPostgresQueue(PostgresQueue):
            async def init_db(self) -> None:
                """Nothing to do: the owner created and upgraded the tables; the app role may not."""

        return MigratedPostgresQueue.from_url(url, name=QUEUE_NAME)
    return Queue.from_url(url, name=QUEUE_NAME)


class _QuietWorker(Worker):
    """A worker that leaves SIGINT and SIGTERM to its host (uvicorn, or ``atendai worker``)."""

    SIGNALS: list[int] = []


class JobRefused(ValueError):
    """The job cannot be queued: unknown name, or no tenant for a tenant job."""


@dataclass
class JobContext:
    """What a job function receives first: the kernel, its tenant, and a way to say it is alive."""

    kernel: Any
    tenant_id: UUID | None
    job: Job

    async def heartbeat(self) -> None:
        await self.job.update()


class Jobs:
    """The queue, the job specs (kernel's and plugins'), and an optional worker in this process."""

    def __init__(self, kernel: Any, extra: list[JobSpec] | None = None) -> None:
        self.kernel = kernel
        self.specs: dict[str, JobSpec] = {name: spec for name, (_, spec) in kernel.registry.jobs.items()}
        for spec in extra or []:
            self.specs[spec.name] = spec
        for spec in self.specs.values():
            if spec.cron and not spec.platform_wide:
                raise JobRefused(f"cron job {spec.name!r} must be platform_wide (it runs for no tenant)")
        self.queue: Queue = build_queue(self.url)
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        settings = self.kernel.settings
        return settings.redis_url or libpq_url(self.kernel.db.urls.app)

    async def connect(self) -> None:
        await self.queue.connect()

    async def close(self) -> None:
        await self.stop_worker()
        await self.queue.disconnect()

    async def enqueue(
        self, name: str, *, tenant_id: UUID | None, key: str | None = None, scheduled: int = 0, **kwargs: Any
    ) -> Job | None:
        """Queue ``name`` for ``tenant_id``. With ``key``, a job with the same key already queued is kept instead."""
        spec = self.specs.get(name)
        if spec is None:
            raise JobRefused(f"no job named {name!r}")
        if tenant_id is None and not spec.platform_wide:
            raise JobRefused(f"job {name!r} needs a tenant")
        options: dict[str, Any] = {
            "timeout": spec.timeout,
            "retries": spec.retries,
            "retry_delay": RETRY_DELAY_SECONDS,
            "retry_backoff": MAX_RETRY_DELAY_SECONDS,
            "heartbeat": spec.heartbeat,
            "scheduled": scheduled,
        }
        if key:
            options["key"] = key
        return await self.queue.enqueue(name, tenant_id=str(tenant_id) if tenant_id else None, **options, **kwargs)

    def functions(self) -> list[tuple[str, Callable[..., Awaitable[Any]]]]:
        return [(name, self._wrap(spec)) for name, spec in self.specs.items()]

    def _wrap(self, spec: JobSpec) -> Callable[..., Awaitable[Any]]:
        kernel = self.kernel

        async def run(ctx: dict[str, Any], *, tenant_id: str | None = None, **kwargs: Any) -> Any:
            if tenant_id is None and not spec.platform_wide:
                raise JobRefused(f"job {spec.name!r} arrived without a tenant")
            tenant = UUID(tenant_id) if tenant_id else None
            scope = tenant_scope(tenant) if tenant else platform_scope()
            with scope:
                structlog.contextvars.bind_contextvars(job=spec.name, tenant_id=tenant_id)
                try:
                    return await spec.function(JobContext(kernel=kernel, tenant_id=tenant, job=ctx["job"]), **kwargs)
                finally:
                    structlog.contextvars.unbind_contextvars("job", "tenant_id")

        return run

    def cron_jobs(self) -> list[CronJob]:
        wrapped = dict(self.functions())
        return [
            CronJob(wrapped[name], cron=spec.cron, timeout=spec.timeout, retries=spec.retries, unique=True)
            for name, spec in self.specs.items()
            if spec.cron
        ]

    def build_worker(self, concurrency: int = 10) -> Worker:
        return _QuietWorker(
            self.queue,
            functions=self.functions(),
            cron_jobs=self.cron_jobs(),
            concurrency=concurrency,
            timers={"sweep": 5, "abort": 1, "schedule": 1, "stats": 10},
            # PostgreSQL's LISTEN wakes a worker on new jobs but not when a retry's delay is up: poll.
            poll_interval=0.5 if self.url.startswith("postgres") else 0.0,
            # Running jobs get this long to finish before they are cancelled (and later retried); the
            # worker's own dequeue loops also wait it out, so it is the shutdown time too.
            shutdown_grace_period_s=3,
        )

    async def start_worker(self, concurrency: int = 10) -> None:
        """Run a worker inside this process (the embedded default)."""
        if self._worker_task is not None:
            return
        self._worker = self.build_worker(concurrency)
        self._worker_task = asyncio.create_task(self._worker.start(), name="atendai-worker")
        log.info("worker_started", queue=QUEUE_NAME, concurrency=concurrency)

    async def stop_worker(self) -> None:
        if self._worker is None or self._worker_task is None:
            return
        await self._worker.stop()
        self._worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._worker_task
        self._worker = None
        self._worker_task = None
