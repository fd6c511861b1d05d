"""Starting and stopping the kernel's background machinery: the job queue, its worker, the dispatcher.

The app's lifespan and ``atendai worker`` both go through here, so the two run the same code.
"""

from __future__ import annotations

from typing import Any

import structlog

from kernel.events.bus import install_commit_signal
from kernel.events.dispatcher import DELIVER_JOB_SPEC, Dispatcher
from kernel.jobs.queue import Jobs
from kernel.llm import STATE_KEY as LLM_STATE_KEY
from kernel.llm import LlmGateway
from kernel.llm.credentials import StoredCredentials

__all__ = ["start_background", "stop_background"]

log = structlog.get_logger("kernel.runtime")


async def start_background(kernel: Any, *, worker: bool, publish: Any = None, dispatch: bool = True) -> None:
    """Connect the queue, start the event dispatcher (``dispatch``), and a worker when ``worker`` is true.

    App processes dispatch, since they hold the real-time channels events are pushed to; ``atendai
    worker`` only runs jobs (event deliveries to job subscribers among them).
    """
    kernel.state.setdefault(LLM_STATE_KEY, LlmGateway(kernel, credentials=StoredCredentials(kernel)))
    # Remembered, so a restart (tests pause and resume the background) pushes to the same channels.
    publish = kernel.state.setdefault("publish", publish) if publish is not None else kernel.state.get("publish")
    jobs = Jobs(kernel, extra=[DELIVER_JOB_SPEC])
    await jobs.connect()
    kernel.state["jobs"] = jobs
    dispatcher = Dispatcher(kernel, jobs=jobs, publish=publish)
    kernel.state["dispatcher"] = dispatcher
    if not kernel.state.get("commit_signal"):
        install_commit_signal(kernel.db.config.create_session_maker().kw["sync_session_class"], _wake_current(kernel))
        kernel.state["commit_signal"] = True
    if dispatch:
        dispatcher.start()
    if worker:
        await jobs.start_worker(kernel.settings.worker_concurrency)


def _wake_current(kernel: Any) -> Any:
    def wake() -> None:
        dispatcher = kernel.state.get("dispatcher")
        if dispatcher is not None:
            dispatcher.wake()

    return wake


async def stop_background(kernel: Any) -> None:
    dispatcher = kernel.state.pop("dispatcher", None)
    if dispatcher is not None:
        await dispatcher.stop()
    jobs = kernel.state.pop("jobs", None)
    if jobs is not None:
        await jobs.close()
    gateway = kernel.state.pop(LLM_STATE_KEY, None)
    if gateway is not None:
        await gateway.aclose()
