"""One claimed training job: fetch its dataset, SFT warm start, GRPO or DPO, checkpoints, rollouts, registration.

Config errors and training errors fail the job with their message; a lost lease or a stop request
ends it early (released, so the next worker resumes from the last checkpoint).
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generators.records import SAMPLES_FILE
from training.client import LeaseLost, ServiceClient, ServiceError
from training.prompts import rerender_rows, write_marker
from training.trainers.config import TrainingConfig
from training.trainers.loading import lora_config
from training.worker.artifacts import download_dir, join_uri, upload_dir
from training.worker.heartbeat import Heartbeat, trainer_callback
from training.worker.tracking import Tracker, read_manifest, run_name, run_tags

if TYPE_CHECKING:
    from training.worker.loop import StopSignal, WorkerOptions

log = logging.getLogger("toolforge.worker")


@dataclass
class JobResult:
    """How a job ended for this worker: succeeded, released, lost or failed."""

    status: str
    model: dict[str, Any] | None = None
    error: str | None = None


def process_rank() -> tuple[int, int]:
    """``(rank, world size)`` of this process under accelerate/torchrun; ``(0, 1)`` alone."""
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
    rank, world = process_rank()
    is_main = rank == 0
    job_id = job["id"]
    try:
        cfg = TrainingConfig.from_dict(job.get("payload", {}).get("config") or {})
    except ValueError as exc:
        if is_main:
            client.fail(job_id, opts.worker_id, f"invalid training config: {exc}")
        return JobResult("failed", error=str(exc))
    interval = opts.heartbeat_seconds or max(1.0, opts.lease_seconds / 3)
    with Heartbeat(client, job_id, opts.worker_id, interval, opts.lease_seconds) as heartbeat:
        if not is_main:
            heartbeat._stop.set()  # only the main process reports
        try:
            return _train(job, cfg, opts, client, stop, heartbeat, is_main, world)
        except LeaseLost as exc:
            return JobResult("lost", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - any training failure is reported on the job
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}"
            log.error("job %s failed: %s", job_id, error)
            if is_main and not heartbeat.lost.is_set():
                try:
                    client.fail(job_id, opts.worker_id, error)
                except ServiceError as report_exc:
                    log.error("could not report the failure: %s", report_exc)
            return JobResult("failed", error=error)


def _train(job: dict[str, Any], cfg: TrainingConfig, opts: WorkerOptions, client: ServiceClient,
           stop: StopSignal, heartbeat: Heartbeat, is_main: bool, world: int) -> JobResult:
    tracker = Tracker.from_env() if is_main else Tracker(False)
    try:
        result = _train_job(job, cfg, opts, client, stop, heartbeat, is_main, world, tracker)
    except BaseException:
        tracker.end("FAILED")
        raise
    tracker.end("FINISHED" if result.status == "succeeded" else "KILLED")
    return result


def _start_run(tracker: Tracker, client: ServiceClient, job: dict[str, Any], dataset: dict[str, Any],
               cfg: TrainingConfig, work_dir: Path) -> None:
    """Open the job's MLflow run: name, ids, config, the dataset's manifest and card, the dataset as input."""
    if not tracker.enabled:
        return
    files = {f["name"]: f for f in dataset.get("files", [])}
    local: dict[str, Path] = {}
    for name in ("manifest.json", "README.md"):
        if name in files:
            try:
                local[name] = client.download(files[name]["url"], work_dir / "datasets" / dataset["id"] / name,
                                              files[name]["sha256"])
            except ServiceError as exc:
                log.warning("MLflow: %s of %s not logged: %s", name, dataset["id"], exc)
    tracker.start(run_name(job, dataset, cfg.method), run_tags(job, dataset, read_manifest(local.get("manifest.json")),
                                                               cfg.to_dict()), cfg.to_dict())
    for path in local.values():
        tracker.log_artifact(path, "dataset")
    samples = files.get(SAMPLES_FILE) or next(iter(files.values()), None)
    if samples is not None:
        url = str(client.http.base_url.join(samples["url"]))
        tracker.log_dataset(dataset, url, samples.get("sha256"), "training")


def _train_job(job: dict[str, Any], cfg: TrainingConfig, opts: WorkerOptions, client: ServiceClient,
               stop: StopSignal, heartbeat: Heartbeat, is_main: bool, world: int, tracker: Tracker) -> JobResult:
    from generators.records import read_jsonl
    from training.derived.rollouts import ROLLOUTS_FILE, RolloutRecorder
    from training.trainers.grpo import make_trainer
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
    if wanted == "samples":  # the tools as the model will read them, in SFT and GRPO alike
        rows = rerender_rows(rows, cfg.prompt_template)
    _start_run(tracker, client, job, dataset, cfg, opts.work_dir)
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
                    template=cfg.prompt_template, group_by_length=cfg.sft_group_by_length,
                    on_log=_sft_progress(heartbeat, cfg.sft_warmup_steps, tracker))
            if is_main:
                upload_dir(local_sft, sft_uri)
        model_path = local_sft
    if heartbeat.lost.is_set() or stop.is_set():
        return _stop_early(client, job_id, opts.worker_id, heartbeat)

    resume = None
    if job.get("checkpoint_uri"):
        name = job["checkpoint_uri"].rstrip("/").rsplit("/", 1)[-1]
        resume = download_dir(job["checkpoint_uri"], work / cfg.method / name)
        log.info("resuming %s from %s", job_id, job["checkpoint_uri"])

    report_to = None  # transformers' MLflowCallback is replaced by the job's own run (training.worker.tracking)
    recorder = None
    if cfg.method == "grpo":
        # One file per process: each records the completions it scored.
        recorder = RolloutRecorder(work / "rollouts" / f"rank{int(os.environ.get('RANK', '0'))}-{ROLLOUTS_FILE}")
        kept = recorder.restore(resume, _checkpoint_step(resume))
        if resume is not None:
            log.info("kept %d rollouts from the checkpoint", kept)
    callback = trainer_callback(heartbeat, stop, join_uri(job_uri, "checkpoints"), is_main, phase=cfg.method,
                                before_upload=recorder.snapshot if recorder is not None else None,
                                tracker=tracker)
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
    if not is_main:
        return JobResult("succeeded")
    trainer.processing_class.save_pretrained(str(final))
    write_marker(final, cfg.prompt_template if cfg.method == "grpo" else "qwen2_5")
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
    if tracker.run_id is not None:
        model["config"]["mlflow_run_id"] = tracker.run_id
    registered = client.complete(job_id, opts.worker_id, model)
    if registered.get("id"):
        tracker.set_tag("model_id", str(registered["id"]))
    return JobResult("succeeded", model=model)


def _sft_progress(heartbeat: Heartbeat, total: int, tracker: Tracker | None = None
                  ) -> Callable[[dict[str, float]], None]:
    """An ``on_log`` for ``run_sft`` that reports SFT steps and loss on the heartbeat (one log per step)
    and, when tracking, logs them to the job's MLflow run."""
    done = [0]

    def report(logs: dict[str, float]) -> None:
        if tracker is not None:
            tracker.log_metrics(logs, done[0] + ("loss" in logs), "sft")
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
    from generators.records import read_jsonl
    from training.derived.rollouts import CHART_FILE, ROLLOUTS_FILE, plot_reward_curve, rollout_stats

    rows = read_jsonl(recorder.path) if recorder.path.exists() else []
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

