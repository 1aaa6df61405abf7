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
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.client import LeaseLost, ServiceClient, ServiceError
from training.trainers.config import TrainingConfig, lora_config

log = logging.getLogger("toolforge.worker")
WAKE_TYPES = ["dataset.ready", "job.queued", "job.requeued"]
SAMPLES_FILE = "samples.jsonl"


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


# --- artifact store -----------------------------------------------------------------------------------


def join_uri(root: str, *parts: str) -> str:
    """Join path parts onto a folder path or fsspec URL.

    >>> join_uri("s3://bucket/tf/", "jobs", "job_1")
    's3://bucket/tf/jobs/job_1'
    """
    return "/".join([root.rstrip("/"), *parts])


def upload_dir(local: Path, uri: str) -> str:
    """Copy a local folder to `uri` (folder or fsspec URL); a ``_COMPLETE`` marker is written last.

    Args:
        local: the folder.
        uri: destination.

    Returns:
        `uri`.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(uri)
    for path in sorted(p for p in Path(local).rglob("*") if p.is_file()):
        dest = f"{root}/{path.relative_to(local).as_posix()}"
        fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        fs.put_file(str(path), dest)
    with fs.open(f"{root}/_COMPLETE", "wb") as fh:
        fh.write(b"ok\n")
    return uri


def download_dir(uri: str, local: Path) -> Path | None:
    """Copy a folder written by ``upload_dir`` to `local`; None when it is absent or incomplete.

    Args:
        uri: the stored folder.
        local: destination folder.

    Returns:
        `local`, or None.
    """
    import fsspec

    fs, root = fsspec.core.url_to_fs(uri)
    if not fs.exists(f"{root}/_COMPLETE"):
        return None
    for path in fs.find(root):
        rel = path[len(root):].lstrip("/")
        if rel == "_COMPLETE":
            continue
        target = Path(local) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fs.get_file(path, str(target))
    return Path(local)


# --- heartbeats ---------------------------------------------------------------------------------------


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


def _trainer_callback(heartbeat: Heartbeat, stop: StopSignal, checkpoints_uri: str, main: bool,
                      phase: str = "grpo", before_upload: Callable[[Path], Any] | None = None) -> Any:
    """A ``TrainerCallback`` reporting to the service, uploading checkpoints and obeying stop requests.

    `before_upload` is called with each local checkpoint folder before it is copied to the store
    (the rollout recorder puts its rows there, so a resumed job keeps them).
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

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if main and not heartbeat.lost.is_set():
                local = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if before_upload is not None:
                    before_upload(local)
                uri = upload_dir(local, join_uri(checkpoints_uri, local.name))
                heartbeat.update(checkpoint_uri=uri)
                heartbeat.beat()
                log.info("checkpoint %s", uri)

    return WorkerCallback()


# --- one job ------------------------------------------------------------------------------------------


@dataclass
class JobResult:
    """How a job ended for this worker: succeeded, released, lost or failed."""

    status: str
    model: dict[str, Any] | None = None
    error: str | None = None


def _world() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def fetch_dataset(client: ServiceClient, dataset_id: str, work_dir: Path,
                  file_name: str | None = None) -> tuple[dict[str, Any], Path]:
    """Download a dataset version's rows file, verifying its sha256.

    Args:
        client: the service client.
        dataset_id: the dataset version.
        work_dir: local cache root.
        file_name: the file to fetch (default: ``samples.jsonl``, or ``<kind>.jsonl`` for a derived version).

    Returns:
        The dataset's public record and the local file.
    """
    dataset = client.dataset(dataset_id)
    kind = dataset.get("kind") or "samples"
    file_name = file_name or (SAMPLES_FILE if kind == "samples" else f"{kind}.jsonl")
    files = {f["name"]: f for f in dataset.get("files", [])}
    if file_name not in files:
        raise ServiceError(f"dataset {dataset_id} has no {file_name} (status {dataset.get('status')})")
    entry = files[file_name]
    path = client.download(entry["url"], work_dir / "datasets" / dataset_id / file_name, entry["sha256"])
    return dataset, path


def run_job(job: dict[str, Any], opts: WorkerOptions, client: ServiceClient, stop: StopSignal) -> JobResult:
    """Train one claimed job to a registered model version (or release/abandon it).

    Args:
        job: the claimed job (``payload.config``, ``dataset_id``, ``checkpoint_uri``).
        opts: worker options.
        client: the service client.
        stop: the stop signal.

    Returns:
        The outcome. Config errors and training errors fail the job with their message.
    """
    rank, world = _world()
    main = rank == 0
    job_id = job["id"]
    try:
        cfg = TrainingConfig.from_dict(job.get("payload", {}).get("config") or {})
    except ValueError as exc:
        if main:
            client.fail(job_id, opts.worker_id, f"invalid training config: {exc}")
        return JobResult("failed", error=str(exc))
    interval = opts.heartbeat_seconds or max(1.0, opts.lease_seconds / 3)
    with Heartbeat(client, job_id, opts.worker_id, interval, opts.lease_seconds) as heartbeat:
        if not main:
            heartbeat._stop.set()  # only the main process reports
        try:
            return _train(job, cfg, opts, client, stop, heartbeat, main, world)
        except LeaseLost as exc:
            return JobResult("lost", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any training failure is reported on the job
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            log.error("job %s failed: %s", job_id, error)
            if main and not heartbeat.lost.is_set():
                try:
                    client.fail(job_id, opts.worker_id, error)
                except ServiceError as report_exc:
                    log.error("could not report the failure: %s", report_exc)
            return JobResult("failed", error=error)


def _train(job: dict[str, Any], cfg: TrainingConfig, opts: WorkerOptions, client: ServiceClient,
           stop: StopSignal, heartbeat: Heartbeat, main: bool, world: int) -> JobResult:
    from training.derived.rollouts import ROLLOUTS_FILE, RolloutRecorder
    from training.trainers.grpo import make_trainer, read_jsonl
    from training.trainers.sft import run_sft

    job_id = job["id"]
    job_uri = join_uri(opts.artifacts, "jobs", job_id)
    work = opts.work_dir / "jobs" / job_id
    dataset, samples = fetch_dataset(client, job["dataset_id"], opts.work_dir)
    wanted = "preferences" if cfg.method == "dpo" else "samples"
    if dataset.get("kind", "samples") != wanted:
        raise ValueError(f"{cfg.method} trains on a {wanted} version; {job['dataset_id']} is "
                         f"{dataset.get('kind')}" + (" (make pairs with `toolforge preferences --push`)"
                                                     if cfg.method == "dpo" else ""))
    rows = read_jsonl(samples, cfg.max_samples)
    heartbeat.update(metrics={"phase": "starting", "samples": len(rows)})
    heartbeat.beat()

    model_path: str | Path = cfg.base_model
    sft_uri = ""
    if cfg.sft_warmup_steps:
        sft_uri = join_uri(job_uri, "sft")
        local_sft = work / "sft"
        if download_dir(sft_uri, local_sft) is None:  # not stored yet: this attempt runs it
            heartbeat.update(metrics={"phase": "sft"}, progress_done=0, progress_total=cfg.sft_warmup_steps)
            run_sft(cfg.base_model, rows, local_sft, max_steps=cfg.sft_warmup_steps,
                    learning_rate=cfg.sft_learning_rate, batch_size=cfg.sft_batch_size,
                    use_cpu=bool(cfg.use_cpu), bf16=bool(cfg.bf16), seed=cfg.seed, lora=lora_config(cfg),
                    on_log=_sft_progress(heartbeat, cfg.sft_warmup_steps))
            if main:
                upload_dir(local_sft, sft_uri)
        model_path = local_sft
    if heartbeat.lost.is_set() or stop.is_set():
        return _stop_early(client, job_id, opts.worker_id, heartbeat)

    resume = None
    if job.get("checkpoint_uri"):
        name = job["checkpoint_uri"].rstrip("/").rsplit("/", 1)[-1]
        resume = download_dir(job["checkpoint_uri"], work / cfg.method / name)
        log.info("resuming %s from %s", job_id, job["checkpoint_uri"])

    report_to = _trackers()
    recorder = None
    if cfg.method == "grpo":
        # One file per process: each records the completions it scored.
        recorder = RolloutRecorder(work / "rollouts" / f"rank{int(os.environ.get('RANK', '0'))}-{ROLLOUTS_FILE}")
        kept = recorder.restore(resume, _checkpoint_step(resume))
        if resume is not None:
            log.info("kept %d rollouts from the checkpoint", kept)
    callback = _trainer_callback(heartbeat, stop, join_uri(job_uri, "checkpoints"), main, phase=cfg.method,
                                 before_upload=recorder.snapshot if recorder is not None else None)
    if cfg.method == "dpo":
        from training.trainers.dpo import make_dpo_trainer

        trainer = make_dpo_trainer(cfg, model_path, rows, work / "dpo", callbacks=[callback], report_to=report_to,
                                   world_size=world)
    else:
        trainer = make_trainer(cfg, model_path, rows, work / "grpo", callbacks=[callback], report_to=report_to,
                               world_size=world, recorder=recorder)
    # Reset the SFT warm start's progress; on_train_begin sets the trainer's own step count.
    heartbeat.update(metrics={"phase": cfg.method}, progress_done=0, progress_total=max(cfg.max_steps, 0))
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    state = trainer.state
    if heartbeat.lost.is_set() or (stop.is_set() and state.global_step < state.max_steps):
        return _stop_early(client, job_id, opts.worker_id, heartbeat)

    final = work / "final"
    trainer.save_model(str(final))  # full weights, or only the LoRA adapter
    if not main:
        return JobResult("succeeded")
    trainer.processing_class.save_pretrained(str(final))
    artifact_uri = upload_dir(final, join_uri(opts.artifacts, "models", job_id))
    metrics = {k: v for k, v in callback.metrics.items() if isinstance(v, float)}
    metrics |= {"global_step": state.global_step, "train_seconds": round(time.monotonic() - started, 3),
                "samples": len(rows)}
    rollouts_id = None
    if recorder is not None:
        rollouts_id = push_rollouts(client, recorder, dataset, job_id, cfg, work / "rollouts")
        with open(recorder.path, "rb") as fh:
            metrics["rollouts"] = sum(1 for line in fh if line.strip())
    model = {
        "name": f"{dataset.get('name', 'dataset')}-{cfg.method}",
        "dataset_id": job["dataset_id"],
        "base_model": cfg.base_model,
        # `evaluate` travels in the config: the model-version body has no field of its own for it.
        "config": {**cfg.to_dict(), "sft_model_uri": sft_uri or None, "adapter": cfg.lora,
                   "rollouts_dataset_id": rollouts_id},
        "metrics": metrics,
        "artifact_uri": artifact_uri,
    }
    client.complete(job_id, opts.worker_id, model)
    return JobResult("succeeded", model=model)


def _sft_progress(heartbeat: Heartbeat, total: int) -> Callable[[dict[str, float]], None]:
    """An ``on_log`` for ``run_sft`` that reports SFT steps and loss on the heartbeat (one log per step)."""
    done = [0]

    def report(logs: dict[str, float]) -> None:
        if "loss" not in logs:  # the closing summary (train_runtime...) is not a step
            return
        done[0] += 1
        heartbeat.update(progress_done=done[0], progress_total=total,
                         metrics={"phase": "sft", "sft_loss": float(logs["loss"])})

    return report


def _checkpoint_step(checkpoint: Path | None) -> int | None:
    """The step of a ``checkpoint-N`` folder (None without one).

    >>> _checkpoint_step(Path("/w/grpo/checkpoint-12"))
    12
    """
    if checkpoint is None:
        return None
    tail = Path(checkpoint).name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def push_rollouts(client: ServiceClient, recorder: Any, dataset: dict[str, Any], job_id: str,
                  cfg: TrainingConfig, work: Path) -> str | None:
    """Publish a job's rollouts as a derived ``rollouts`` version of its dataset, with a reward-curve chart.

    A failure is logged, not raised: the trained model is still registered (without the link).

    Args:
        client: the service client.
        recorder: the job's ``RolloutRecorder``.
        dataset: the training dataset's public record.
        job_id: the training job.
        cfg: its settings (recorded in the version's meta).
        work: scratch folder for the chart.

    Returns:
        The rollouts version id, or None when there was nothing to push or the push failed.
    """
    from training.derived.rollouts import CHART_FILE, ROLLOUTS_FILE, plot_reward_curve, read_rows, rollout_stats

    rows = read_rows(recorder.path) if recorder.path.exists() else []
    if not rows:
        return None
    files = {ROLLOUTS_FILE: recorder.path}
    try:
        files[CHART_FILE] = plot_reward_curve(rollout_stats(rows), work / CHART_FILE,
                                              title=f"{dataset.get('name', 'dataset')} GRPO rollouts")
    except ImportError:
        log.warning("matplotlib is not installed; pushing the rollouts without a reward-curve chart")
    meta = {"job_id": job_id, "method": cfg.method, "base_model": cfg.base_model, "reward": cfg.reward,
            "num_generations": cfg.num_generations, "prompts_per_step": cfg.prompts_per_step,
            "max_steps": cfg.max_steps, "seed": cfg.seed}
    try:
        version = client.push_derived(dataset["id"], "rollouts", f"{dataset.get('name', 'dataset')}-rollouts",
                                      files, meta)
    except ServiceError as exc:
        log.error("could not push the rollouts of %s: %s", job_id, exc)
        return None
    log.info("rollouts of %s: %s (%d rows)", job_id, version["id"], len(rows))
    return version["id"]


def _stop_early(client: ServiceClient, job_id: str, worker_id: str, heartbeat: Heartbeat) -> JobResult:
    if heartbeat.lost.is_set():
        return JobResult("lost")
    try:
        client.release(job_id, worker_id)
    except ServiceError as exc:
        log.warning("release failed (the lease will expire instead): %s", exc)
    return JobResult("released")


def _trackers() -> list[str] | None:
    """``["mlflow"]`` when MLFLOW_TRACKING_URI is set and mlflow is installed; else None."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    try:
        import mlflow  # noqa: F401
    except ImportError:
        log.warning("MLFLOW_TRACKING_URI is set but mlflow is not installed; metrics go to the service only")
        return None
    return ["mlflow"]


# --- the loop -----------------------------------------------------------------------------------------


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
        The process exit code: 0, or 1 when the last job failed.
    """
    client = client or ServiceClient(opts.url, opts.api_key)
    if stop is None:
        stop = StopSignal()
        stop.install()
    rank, _ = _world()
    cursor = read_cursor(opts.state_dir)
    idle_since = time.monotonic()
    code = 0
    while not stop.is_set():
        if rank == 0:
            job = client.claim(opts.worker_id, opts.lease_seconds)
        else:
            job = _wait_for_assignment(client, opts, stop)
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
