"""Operations metrics in Prometheus format at ``/metrics``.

* request latency and counts per route (Litestar's Prometheus middleware, grouped by route template);
* the job queue's depth and the outbox lag (age of the oldest undelivered event), read at scrape time;
* LLM call latency and failures, observed by the gateway through :func:`observe_llm_call`.

With ``ATENDAI_METRICS_TOKEN`` set, scrapes must send ``Authorization: Bearer <token>``; without it the
endpoint is open, so keep it behind the reverse proxy.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from litestar import Request, Response, get
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import Gauge, Histogram
from sqlalchemy import func, select

from kernel.auth.middleware import PUBLIC
from kernel.db.session import set_session_scope
from kernel.errors import KernelError

__all__ = ["build_prometheus_config", "metrics_endpoint", "observe_llm_call"]

QUEUE_DEPTH = Gauge("atendai_jobs_queued", "Jobs waiting in the queue")
JOBS_ACTIVE = Gauge("atendai_jobs_active", "Jobs being worked on")
OUTBOX_PENDING = Gauge("atendai_outbox_pending_events", "Events not yet delivered")
OUTBOX_LAG = Gauge("atendai_outbox_lag_seconds", "Age of the oldest event not yet delivered")
LLM_LATENCY = Histogram(
    "atendai_llm_call_seconds",
    "Latency of calls to language and embedding models",
    ["provider", "operation", "status"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 60),
)


class MetricsForbidden(KernelError):
    status, slug, title = 401, "unauthorized", "Authentication required"


def observe_llm_call(provider: str, operation: str, status: str, seconds: float) -> None:
    """Count one model call: ``status`` is ``ok``, ``error``, ``fallback`` or ``quota_exceeded``."""
    LLM_LATENCY.labels(provider=provider, operation=operation, status=status).observe(seconds)


def build_prometheus_config() -> PrometheusConfig:
    return PrometheusConfig(
        app_name="atendai",
        prefix="atendai",
        group_path=True,  # label by route template, not by ids: bounded cardinality
        exclude=["^/metrics", "^/static/", "^/healthz$", "^/readyz$"],
    )


async def _refresh(kernel: Any) -> None:
    jobs = kernel.state.get("jobs")
    if jobs is not None:
        info = await jobs.queue.info()
        QUEUE_DEPTH.set(info.get("queued", 0))
        JOBS_ACTIVE.set(info.get("active", 0))
    from kernel.events.models import OutboxEvent

    async with kernel.db.session() as session:
        await set_session_scope(session, platform=True)
        pending, oldest = (
            await session.execute(
                select(func.count(OutboxEvent.id), func.min(OutboxEvent.occurred_at)).where(
                    OutboxEvent.dispatched_at.is_(None)
                )
            )
        ).one()
    OUTBOX_PENDING.set(pending)
    OUTBOX_LAG.set(max(0.0, time.time() - oldest.timestamp()) if oldest else 0.0)


@get("/metrics", opt={PUBLIC: True}, include_in_schema=False, name="metrics")
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    kernel = request.app.state.kernel
    token = kernel.settings.metrics_token
    if token:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise MetricsForbidden()
    await _refresh(kernel)
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
