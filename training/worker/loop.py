"""The training worker: wait on the event feed, claim a training job, run SFT + GRPO (or DPO), register the model.

Protocol (the service's ``/v1/training-jobs`` routes):

- The worker claims with a lease and heartbeats from a background thread (progress = optimizer steps,
  the latest metrics, the last checkpoint URI). A 409 on a heartbeat means the lease is lost: training
  stops at the end of the step and nothing is registered.
- Checkpoints are saved every ``save_steps`` and copied to the artifact store
  (``<artifacts>/jobs/<job>/checkpoints/checkpoint-N``). A re-claimed job downloads its last checkpoint
  and resumes with ``trainer.train(resume_from_checkpoint=...)``; the SFT warm start is stored once
  (``<artifacts>/jobs/<job>/sft``) so a resumed job trains on the same starting weights.
- SIGTERM: the current step finishes, a checkpoint is saved and uploaded, the lease is released.
- GRPO records every rollout (``training.derived.rollouts``) in the work folder and copies the file into each
  checkpoint; a resumed job continues from the checkpoint's copy. At the end the rollouts are pushed as a
  derived ``rollouts`` version of the training dataset (with a reward-curve PNG) before the model is
  registered, and the model's config names it (``rollouts_dataset_id``).
- ``method: dpo`` trains TRL's ``DPOTrainer`` on a ``preferences`` version (``training.trainers.dpo``) with the same
  checkpoints, leases and registration.
- Between jobs it long-polls ``/v1/events`` from a cursor kept in ``<state_dir>/cursor`` (so a restart
  resumes where it stopped) and claims again on every wake-up; claiming also re-queues expired leases.

Started by ``toolforge worker`` (``app/cli/worker.py``, which builds the ``WorkerOptions``). Under
``accelerate launch -m app.cli worker`` every process runs this loop; the main process talks to the service and
the others learn the claimed job from the event feed (``job.running`` with this worker's id), so no
collective operation is held open while the worker idles.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.client import ServiceClient, ServiceError
from training.worker.job import JobResult, process_rank, run_job

log = logging.getLogger("toolforge.worker")
WAKE_TYPES = ["dataset.ready", "job.queued", "job.requeued"]


@dataclass
class WorkerOptions:
    """How a worker reaches the service and where it keeps things.

    Attributes:
        url: the service root URL.
        api_key: a ``worker``-scope key.
        artifacts: artifact root (a folder or an fsspec URL) for checkpoints and weights.
        work_dir: local scratch (datasets, trainer output).
        state_dir: where the event cursor is kept.
        worker_id: this worker's lease identity (default: host-pid-random).
        lease_seconds: lease asked for on claim.
        heartbeat_seconds: interval between heartbeats (default: a third of the lease).
        poll_wait: long-poll wait on the event feed.
        once: handle at most one job, then exit.
        idle_timeout: with `once`, give up after this many seconds without a job (None: wait forever).
    """

    url: str
    api_key: str | None
    artifacts: str
    work_dir: Path
    state_dir: Path
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    lease_seconds: int = 120
    heartbeat_seconds: float | None = None
    poll_wait: float = 30.0
    once: bool = False
    idle_timeout: float | None = None


class StopSignal:
    """Set by SIGTERM/SIGINT: finish the current step, checkpoint, release the lease, exit."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.event.set())

    def is_set(self) -> bool:
        return self.event.is_set()


OUTAGE_MAX_WAIT = 30.0  # seconds between claims while the service is unreachable


def read_cursor(state_dir: Path) -> int:
    """The stored event cursor (0 when none)."""
    try:
        return int((state_dir / "cursor").read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_cursor(state_dir: Path, cursor: int) -> None:
    """Store the event cursor atomically."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=state_dir, delete=False) as fh:
        fh.write(f"{cursor}\n")
    os.replace(fh.name, state_dir / "cursor")


def _wait_for_assignment(client: ServiceClient, opts: WorkerOptions, stop: StopSignal) -> dict[str, Any] | None:
    """Non-main processes: wait until the main process has claimed a job under this worker id."""
    cursor = 0
    while not stop.is_set():
        page = client.events(cursor, opts.poll_wait, ["job.running"])
        cursor = page["next_cursor"]
        for event in page["data"]:
            if event["payload"].get("owner") == opts.worker_id:
                job = client.job(event["subject_id"])
                if job["status"] == "running" and job["lease_owner"] == opts.worker_id:
                    return job
    return None


def run_worker(opts: WorkerOptions, client: ServiceClient | None = None, stop: StopSignal | None = None,
               on_result: Callable[[JobResult], None] | None = None) -> int:
    """Serve training jobs until stopped (or one job with ``once``).

    Args:
        opts: worker options.
        client: the service client (default: one for ``opts.url``).
        stop: the stop signal (default: installed for SIGTERM/SIGINT).
        on_result: called with each job's outcome.

    Returns:
        The process exit code: 0, or 1 when the last job failed, the service refused the worker (4xx) or,
        with ``once`` and `idle_timeout`, stayed unreachable that long. An unreachable service (or a 5xx) is
        waited out: claims are retried with a backoff from 2 s up to 30 s.
    """
    client = client or ServiceClient(opts.url, opts.api_key)
    if stop is None:
        stop = StopSignal()
        stop.install()
    rank, _ = process_rank()
    cursor = read_cursor(opts.state_dir)
    idle_since = time.monotonic()
    code = 0
    outage = 0  # consecutive failed claims: the wait before the next grows with it
    while not stop.is_set():
        try:
            job = client.claim(opts.worker_id, opts.lease_seconds) if rank == 0 else _wait_for_assignment(
                client, opts, stop)
        except ServiceError as exc:
            if not exc.transient:  # a wrong key or scope does not fix itself: say so and stop
                log.error("the service refused the worker: %s", exc)
                return 1
            outage += 1
            delay = min(OUTAGE_MAX_WAIT, 2.0 ** min(outage, 5))
            if opts.once and opts.idle_timeout is not None:
                left = opts.idle_timeout - (time.monotonic() - idle_since)
                if left <= 0:
                    log.error("could not reach the service at %s within %ss: %s", opts.url, opts.idle_timeout, exc)
                    return 1
                delay = min(delay, left)
            log.warning("service unavailable (%s); waiting %.0f s", exc, delay)
            stop.event.wait(delay)
            continue
        if outage:
            log.info("service reachable again after %d failed attempt(s)", outage)
            outage = 0
        if job is not None:
            log.info("claimed %s (attempt %s)", job["id"], job.get("attempts"))
            result = run_job(job, opts, client, stop)
            log.info("job %s: %s", job["id"], result.status)
            if on_result:
                on_result(result)
            code = 1 if result.status == "failed" else 0
            if opts.once:
                return code
            idle_since = time.monotonic()
            continue
        if opts.once and opts.idle_timeout is not None and time.monotonic() - idle_since > opts.idle_timeout:
            log.info("no training job within %ss", opts.idle_timeout)
            return 0
        # The feed only wakes us early; the claim above decides. Claiming also re-queues expired leases,
        # which publish no event, so the wait is bounded.
        try:
            page = client.events(cursor, opts.poll_wait, WAKE_TYPES)
        except ServiceError as exc:
            log.warning("event feed unavailable (%s); retrying", exc)
            stop.event.wait(min(opts.poll_wait, 5.0))
            continue
        if page["next_cursor"] != cursor:
            cursor = page["next_cursor"]
            write_cursor(opts.state_dir, cursor)
    return code
