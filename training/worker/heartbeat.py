"""Heartbeats of one job from a background thread, and the trainer callback that feeds them.

The heartbeat carries the latest progress (optimizer steps), metrics and checkpoint URI; a 409 answer
means the lease is lost and training stops at the end of the step.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.client import LeaseLost, ServiceClient, ServiceError
from training.worker.artifacts import join_uri, upload_dir

if TYPE_CHECKING:
    from training.worker.loop import StopSignal
    from training.worker.tracking import Tracker

log = logging.getLogger("toolforge.worker")


class Heartbeat:
    """Background heartbeats for one job, carrying the latest progress, metrics and checkpoint URI."""

    def __init__(self, client: ServiceClient, job_id: str, worker_id: str, interval: float,
                 lease_seconds: int | None = None):
        self.client, self.job_id, self.worker_id, self.interval = client, job_id, worker_id, interval
        self.lease_seconds = lease_seconds  # renewed at the length claimed (else the service's default)
        self.lost = threading.Event()
        self.state: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def update(self, **fields: Any) -> None:
        """Record progress fields for the next heartbeat."""
        with self._lock:
            self.state.update({k: v for k, v in fields.items() if v is not None})

    def beat(self) -> None:
        """Send one heartbeat now (sets `lost` on 409; network errors wait for the next beat)."""
        with self._lock:
            fields = dict(self.state)
        try:
            self.client.heartbeat(self.job_id, self.worker_id, lease_seconds=self.lease_seconds, **fields)
        except LeaseLost as exc:
            log.error("lease on %s lost: %s", self.job_id, exc)
            self.lost.set()
        except ServiceError as exc:
            log.warning("heartbeat failed (will retry): %s", exc)

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and not self.lost.is_set():
            self.beat()


def trainer_callback(heartbeat: Heartbeat, stop: StopSignal, checkpoints_uri: str, is_main: bool,
                     phase: str = "grpo", before_upload: Callable[[Path], Any] | None = None,
                     tracker: Tracker | None = None) -> Any:
    """A ``TrainerCallback`` reporting to the service, uploading checkpoints and obeying stop requests.

    `before_upload` is called with each local checkpoint folder before it is copied to the store
    (the rollout recorder puts its rows there, so a resumed job keeps them). With a `tracker`, every
    logged number also goes to the job's MLflow run.
    """
    from transformers import TrainerCallback

    class WorkerCallback(TrainerCallback):
        def __init__(self) -> None:
            self.metrics: dict[str, float] = {}
            self.last_step = 0
            self.step_started = time.monotonic()

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            heartbeat.update(progress_done=state.global_step, progress_total=state.max_steps)

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            heartbeat.update(progress_done=state.global_step, progress_total=state.max_steps)
            if stop.is_set() and state.global_step < state.max_steps:
                control.should_save = True  # checkpoint this step, then stop
                control.should_training_stop = True
            if heartbeat.lost.is_set():
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN201
            numbers = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, int | float)}
            self.metrics.update(numbers)
            heartbeat.update(metrics={**self.metrics, "step": state.global_step, "phase": phase})
            if tracker is not None:
                tracker.log_metrics(numbers, state.global_step, phase)

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if is_main and not heartbeat.lost.is_set():
                local = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if before_upload is not None:
                    before_upload(local)
                uri = upload_dir(local, join_uri(checkpoints_uri, local.name))
                heartbeat.update(checkpoint_uri=uri)
                heartbeat.beat()
                log.info("checkpoint %s", uri)

    return WorkerCallback()
