"""The evaluation job: load a held-out dataset, generate with a backend, score with the training reward.

Edge module: reading datasets (a local folder, a JSON Lines file, a dataset version on the service,
or an external benchmark), calling a backend, writing ``completions.jsonl`` and ``metrics.json``,
registering the evaluation with the service, and following the event feed. Every judgement is
``training.rewards.scoring.score_completion``; every number is ``training.evaluation.metrics``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from generators.records import SAMPLES_FILE, file_sha256, find_tool, iter_jsonl
from training.client import ServiceClient, ServiceError
from training.evaluation import benchmarks as benchmarks_io
from training.evaluation.backends import Backend, Progress
from training.evaluation.metrics import SampleResult, argument_counts, schema_complexity, summarize
from training.rewards.scoring import binary_reward, expected_calls, loads_json, read_ground_truth, score_completion

EVAL_SPLITS = ("heldout", "external")  # generated from held-out tools, or an external benchmark
FORMATS = ("toolforge", "bfcl", "when2call")


class EvaluationError(RuntimeError):
    """The evaluation cannot run; the message says what to change."""


@dataclass
class EvalDataset:
    """Rows to evaluate on and where they came from."""

    rows: list[dict[str, Any]]
    source: str
    dataset_id: str | None = None
    fmt: str = "toolforge"
    skipped: dict[str, int] = field(default_factory=dict)
    verified_files: list[str] = field(default_factory=list)


# --- loading -----------------------------------------------------------------------------------------


def _read_jsonl(path: Path, skipped: Counter[str]) -> list[dict[str, Any]]:
    rows = []
    for _, row, error in iter_jsonl(path, loads_json):
        if error is not None:
            skipped["invalid JSON line"] += 1
            continue
        if isinstance(row, dict) and "prompt" in row and "reward_model" in row:
            rows.append(row)
        else:
            skipped["row without prompt or reward_model"] += 1
    return rows


def _verify_folder(folder: Path) -> list[str]:
    """Check every file listed in ``manifest.json`` against its sha256; return the names checked."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return []
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    checked = []
    for name, meta in (manifest.get("files") or {}).items():
        path = folder / name
        if not path.is_file():
            continue  # a partial copy (e.g. only the JSONL) is fine; present files must match
        if file_sha256(path) != meta.get("sha256"):
            raise EvaluationError(f"{path}: sha256 does not match manifest.json; the dataset was modified")
        checked.append(name)
    return checked


def download_dataset(client: ServiceClient, dataset_id: str, cache_dir: Path) -> Path:
    """Download a ready dataset version's ``samples.jsonl`` (verified by sha256) into `cache_dir`.

    Args:
        client: the service client (with its key).
        dataset_id: the dataset version id.
        cache_dir: the parent folder; the file goes to ``cache_dir/dataset_id/samples.jsonl`` and is
            reused when already there with the right digest.

    Returns:
        The local path of ``samples.jsonl``.

    Raises:
        EvaluationError: the dataset is unknown or not ready, the download fails, or the digest differs.
    """
    try:
        version = client.dataset(dataset_id)
    except ServiceError as exc:
        raise EvaluationError(f"dataset {dataset_id} on {client.base_url}: {exc}") from exc
    if version.get("status") != "ready":
        raise EvaluationError(f"dataset {dataset_id} is {version.get('status')}, not ready")
    meta = next((f for f in version.get("files", []) if f["name"] == SAMPLES_FILE), None)
    if meta is None:
        raise EvaluationError(f"dataset {dataset_id} has no {SAMPLES_FILE}")
    try:
        return client.download(f"/v1/datasets/{dataset_id}/files/{SAMPLES_FILE}",
                               cache_dir / dataset_id / SAMPLES_FILE, meta["sha256"])
    except ServiceError as exc:  # ChecksumMismatch included: nothing is left at the target
        raise EvaluationError(f"download of {dataset_id}/{SAMPLES_FILE} failed: {exc}") from exc


def service_client(url: str, api_key: str | None, timeout: float = 60.0) -> ServiceClient:
    """The service's client (``training.client.ServiceClient``) for evaluation.

    Args:
        url: the service URL.
        api_key: its key (bearer token), if any.
        timeout: seconds per request.

    Returns:
        The client (the caller closes it).
    """
    return ServiceClient(url, api_key, timeout=timeout)


def load_dataset(
    source: str,
    *,
    fmt: str = "toolforge",
    answers: str | None = None,
    client: ServiceClient | None = None,
    cache_dir: Path | None = None,
    allow_train: bool = False,
    limit: int | None = None,
) -> EvalDataset:
    """Load evaluation rows from a folder, a JSON Lines file, a service dataset id or a benchmark file.

    Args:
        source: a dataset folder (``samples.jsonl`` + ``manifest.json``), a ``.jsonl`` file, a dataset
            version id on the service (needs `client`), or a benchmark file (``fmt`` bfcl/when2call).
        fmt: ``toolforge``, ``bfcl`` or ``when2call``.
        answers: BFCL's possible-answer file.
        client: a service client, to resolve a dataset id.
        cache_dir: where downloaded datasets are kept (default ``~/.cache/toolforge/datasets``).
        allow_train: accept rows generated from training tools (off: evaluation is on held-out tools).
        limit: keep only the first `limit` rows.

    Returns:
        The rows and their provenance.

    Raises:
        EvaluationError: the source cannot be found or read, or it holds training-split rows.
    """
    skipped: Counter[str] = Counter()
    path = Path(source)
    dataset_id, verified = None, []
    if fmt in ("bfcl", "when2call"):
        if not path.is_file():
            raise EvaluationError(f"{source} is not a file")
        rows, skipped = benchmarks_io.read_benchmark(fmt, path, answers)
    elif fmt != "toolforge":
        raise EvaluationError(f"unknown format {fmt!r}; use one of {FORMATS}")
    elif path.is_dir():
        if not (path / "samples.jsonl").is_file():
            raise EvaluationError(f"{path} has no samples.jsonl")
        verified = _verify_folder(path)
        rows = _read_jsonl(path / "samples.jsonl", skipped)
    elif path.is_file():
        rows = _read_jsonl(path, skipped)
    elif client is not None:
        xdg = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        cache = cache_dir or xdg / "toolforge" / "datasets"
        jsonl = download_dataset(client, source, cache)
        dataset_id, verified = source, ["samples.jsonl"]
        rows = _read_jsonl(jsonl, skipped)
    else:
        raise EvaluationError(f"{source} is neither a local folder or file nor (without --url) a dataset id")
    splits = Counter(str((r.get("extra_info") or {}).get("tool_split")) for r in rows)
    foreign = {s: n for s, n in splits.items() if s not in EVAL_SPLITS}
    if foreign and not allow_train:
        raise EvaluationError(
            f"{sum(foreign.values())} row(s) come from tool split(s) {sorted(foreign)}; evaluation uses "
            "held-out tools (generate with --split heldout) - pass --allow-train-tools to evaluate anyway"
        )
    if limit is not None:
        rows = rows[:limit]
    if not rows:
        raise EvaluationError(f"no usable rows in {source} (skipped: {dict(skipped)})")
    return EvalDataset(rows, source, dataset_id, fmt, dict(skipped), verified)


# --- scoring -----------------------------------------------------------------------------------------


def _tools_of(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = row.get("tools") or []
    if isinstance(tools, str):
        tools = loads_json(tools)
    return [loads_json(t) if isinstance(t, str) else t for t in tools]


def score_row(row: Mapping[str, Any], completion: str) -> SampleResult:
    """Score one completion against its row with the shared reward (tiered and binary).

    BFCL rows carry every allowed value in their ground truth (``benchmarks_io.bfcl_ground_truth``), so
    the shared reward alone judges them, as ``toolforge score`` and the TRL reward do. Rows read before
    that (``extra_info.bfcl_possible_answer`` but one value per argument) get that ground truth rebuilt
    from the answer first. Argument counts of rows with allowed values use them too.

    Args:
        row: a ToolForge sample row.
        completion: the model's reply text.

    Returns:
        The scored sample.
    """
    gt = row["reward_model"]
    tools = _tools_of(row)
    extra = row.get("extra_info") or {}
    expected, payload = read_ground_truth(gt)
    possible = extra.get("bfcl_possible_answer")
    if expected == "execution" and possible and not isinstance(payload.get("allowed"), dict):
        domain = str(extra.get("domain") or "")
        gt = benchmarks_io.bfcl_ground_truth(possible, tools, domain.removeprefix("bfcl:"))
        expected, payload = read_ground_truth(gt)
    tiered = score_completion(completion, gt, tools, "tiered")
    reward, reward_binary, reason = tiered.reward, binary_reward(tiered.reward), tiered.reason
    called = tuple(c.name for c in tiered.calls)
    wants = expected_calls(payload) if expected == "execution" else []
    expected_names = tuple(str(w.get("name")) for w in wants)
    target_name = payload.get("name") if expected == "execution" else payload.get("tool")
    target = find_tool(tools, target_name)
    tp = fp = fn = 0
    if wants and all(isinstance(w.get("allowed"), dict) for w in wants):
        answer = [{str(w.get("name")): w["allowed"]} for w in wants]
        tp, fp, fn = benchmarks_io.bfcl_argument_counts(tiered.calls, answer)
    elif expected == "execution":
        want = payload.get("parameters", payload.get("arguments")) or {}
        props = ((target or {}).get("function", target or {}).get("parameters") or {}).get("properties") or {}
        got = next((c.arguments for c in tiered.calls if c.name == target_name), None)
        tp, fp, fn = argument_counts(got, want, props)
        fp += sum(len(c.arguments) for c in tiered.calls if c.name != target_name)
    depth, params = schema_complexity(target)
    return SampleResult(
        sample_id=str(extra.get("sample_id", "")),
        expected=expected,
        predicted=tiered.predicted_behavior,
        reward=reward,
        reward_binary=reward_binary,
        reason=reason,
        called=called,
        expected_calls=expected_names,
        offered=benchmarks_io.offered_names(tools),
        arg_tp=tp,
        arg_fp=fp,
        arg_fn=fn,
        domain=extra.get("domain"),
        n_tools=extra.get("n_tools", len(tools)),
        schema_depth=depth,
        param_count=params,
    )


# --- running -----------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    """One finished evaluation: completions, scored samples, metrics and timings."""

    completions: list[str]
    results: list[SampleResult]
    metrics: dict[str, Any]


def evaluate_rows(
    rows: Sequence[Mapping[str, Any]],
    backend: Backend,
    *,
    progress: Progress | None = None,
    meta: Mapping[str, Any] | None = None,
) -> EvalRun:
    """Generate a completion per row with `backend`, score them and compute every metric.

    Args:
        rows: ToolForge sample rows.
        backend: the generation backend.
        progress: called with the number of rows finished since the last call.
        meta: extra fields for ``metrics["meta"]`` (model, dataset...).

    Returns:
        The run; ``metrics`` is ``training.evaluation.metrics.summarize`` plus ``meta`` (backend settings,
        generation and scoring seconds, samples per second, backend errors).
    """
    start = time.perf_counter()
    completions = backend.generate(rows, progress)
    generated = time.perf_counter()
    if len(completions) != len(rows):
        raise EvaluationError(f"backend returned {len(completions)} completions for {len(rows)} rows")
    results = [score_row(r, c) for r, c in zip(rows, completions, strict=True)]
    scored = time.perf_counter()
    metrics = summarize(results)
    errors = Counter(backend.errors)
    metrics["meta"] = {
        **backend.describe(),
        **(meta or {}),
        "generation_seconds": round(generated - start, 3),
        "scoring_seconds": round(scored - generated, 3),
        "samples_per_second": round(len(rows) / (generated - start), 3) if generated > start else None,
        "backend_errors": sum(errors.values()),
        "backend_error_reasons": dict(errors.most_common(10)),
    }
    return EvalRun(completions, results, metrics)


def check_backend_errors(metrics: Mapping[str, Any], max_rate: float) -> None:
    """Refuse a run whose backend failed on more than `max_rate` of the rows (its scores would mean nothing).

    Args:
        metrics: the run's metrics (``n`` and ``meta.backend_errors``).
        max_rate: the largest acceptable share of failed requests (0 to 1).

    Raises:
        EvaluationError: too many failed requests; the message gives the count and the commonest reason.

    >>> check_backend_errors({"n": 100, "meta": {"backend_errors": 5}}, 0.05)
    >>> check_backend_errors({"n": 100, "meta": {"backend_errors": 6, "backend_error_reasons": {"501": 6}}}, 0.05)
    Traceback (most recent call last):
    ...
    training.evaluation.run.EvaluationError: 6 of 100 backend requests failed (6.0% > 5.0%; most often: 501)
    """
    n = metrics.get("n") or 0
    meta = metrics.get("meta") or {}
    errors = meta.get("backend_errors") or 0
    if n and errors / n > max_rate:
        reasons = meta.get("backend_error_reasons") or {}
        top = f"; most often: {next(iter(reasons))}" if reasons else ""
        raise EvaluationError(f"{errors} of {n} backend requests failed ({errors / n:.1%} > {max_rate:.1%}{top})")


def write_run(run: EvalRun, out_dir: Path) -> dict[str, Path]:
    """Write ``completions.jsonl`` (one line per sample, with its score) and ``metrics.json``.

    Args:
        run: a finished evaluation.
        out_dir: the output folder (created).

    Returns:
        ``{"completions": path, "metrics": path}``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    completions = out_dir / "completions.jsonl"
    with open(completions, "wb") as fh:
        for text, result in zip(run.completions, run.results, strict=True):
            line = {"sample_id": result.sample_id, "completion": text, "expected": result.expected,
                    "predicted": result.predicted, "reward": result.reward, "reason": result.reason}
            fh.write(orjson.dumps(line) + b"\n")
    metrics = out_dir / "metrics.json"
    metrics.write_text(json.dumps(run.metrics, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"completions": completions, "metrics": metrics}


def register_evaluation(
    client: ServiceClient,
    *,
    dataset_id: str,
    metrics: Mapping[str, Any],
    model_id: str | None = None,
    endpoint: str | None = None,
    report_uri: str | None = None,
) -> dict[str, Any]:
    """Record an evaluation in the service (``POST /v1/evaluations``), linked to its model version.

    Args:
        client: a service client with a ``worker`` key.
        dataset_id: the held-out dataset version on the service.
        metrics: the evaluation's metrics (``evaluate_rows(...).metrics``).
        model_id: the model version evaluated.
        endpoint: the endpoint evaluated (when there is no model version).
        report_uri: where the report files are.

    Returns:
        The created evaluation.

    Raises:
        EvaluationError: the service refused it.
    """
    body = {"model_id": model_id, "endpoint": endpoint, "dataset_id": dataset_id,
            "metrics": json.loads(json.dumps(metrics)), "report_uri": report_uri}
    try:
        return client.create_evaluation(body)
    except ServiceError as exc:
        raise EvaluationError(f"POST /v1/evaluations: {exc}") from exc


# --- following the event feed ----------------------------------------------------------------------


def read_cursor(path: Path) -> int:
    """The last event id handled (0 when the cursor file does not exist).

    Args:
        path: the cursor file.

    Returns:
        The cursor.
    """
    try:
        return int(path.read_text(encoding="utf-8").strip() or 0)
    except FileNotFoundError:
        return 0


def write_cursor(path: Path, cursor: int) -> None:
    """Store the cursor atomically (write a temporary file, then rename).

    Args:
        path: the cursor file.
        cursor: the last event id handled.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{cursor}\n", encoding="utf-8")
    os.replace(tmp, path)


def model_events(client: ServiceClient, cursor_file: Path, *, wait: float = 30.0,
                 stop_when_idle: bool = False) -> Iterator[dict[str, Any]]:
    """Yield ``model.ready`` events marked ``evaluate: true``, long-polling from the stored cursor.

    The cursor advances past an event only after the caller has handled it (the generator resumes),
    so a crash re-delivers the event being worked on and never skips one.

    Args:
        client: a service client with a ``read`` key.
        cursor_file: where the cursor is kept between runs.
        wait: seconds each long-poll may wait.
        stop_when_idle: return after a poll that brings no event (tests, cron-style runs).

    Yields:
        The events (``{"id", "type", "subject_id", "payload", ...}``).
    """
    cursor = read_cursor(cursor_file)
    while True:
        try:
            page = client.events(cursor, wait, ["model.ready"])
        except ServiceError as exc:
            raise EvaluationError(f"event feed at {client.base_url}: {exc}") from exc
        for event in page["data"]:
            if event["type"] == "model.ready" and event["payload"].get("evaluate"):
                yield event
            cursor = event["id"]
            write_cursor(cursor_file, cursor)
        if not page["data"] and stop_when_idle:
            return


def artifact_path(uri: str) -> Path:
    """A model version's ``artifact_uri`` as a local path (plain path or ``file://`` URL).

    Args:
        uri: the artifact URI.

    Returns:
        The local path.

    Raises:
        EvaluationError: the URI is remote (download it first) or the path does not exist.

    >>> artifact_path("file:///") == Path("/")
    True
    """
    if "://" in uri and not uri.startswith("file://"):
        raise EvaluationError(f"artifact {uri} is not local; the evaluator reads paths and file:// URLs")
    path = Path(uri.removeprefix("file://"))
    if not path.exists():
        raise EvaluationError(f"artifact {path} does not exist on this machine")
    return path


def follow(
    client: ServiceClient,
    dataset: EvalDataset,
    make_backend: Callable[[Path], Backend],
    out_root: Path,
    cursor_file: Path,
    *,
    wait: float = 30.0,
    stop_when_idle: bool = False,
    on_event: Callable[[str, str], None] | None = None,
    max_backend_error_rate: float = 0.05,
) -> list[dict[str, Any]]:
    """Evaluate every new model version announced with ``evaluate: true`` and register the evaluations.

    Args:
        client: a service client (``read`` and ``worker`` scopes).
        dataset: the held-out dataset (its ``dataset_id`` must be a dataset on the service).
        make_backend: builds a backend for a local model folder.
        out_root: evaluation files go to ``out_root/<model_id>/``.
        cursor_file: the stored event cursor (resumed on restart).
        wait: long-poll seconds.
        stop_when_idle: return once the feed has no new event.
        on_event: called with ``(model_id, message)`` for progress lines.
        max_backend_error_rate: a run with more failed backend requests is skipped, not registered.

    Returns:
        The evaluations created (a model that fails is reported through `on_event` and skipped).
    """
    if dataset.dataset_id is None:
        raise EvaluationError("--follow registers evaluations: --dataset must be a dataset id on the service")
    created = []
    for event in model_events(client, cursor_file, wait=wait, stop_when_idle=stop_when_idle):
        model_id = event["subject_id"]
        try:
            path = artifact_path(client.model(model_id)["artifact_uri"])
            run = evaluate_rows(dataset.rows, make_backend(path),
                                meta={"model_id": model_id, "dataset_id": dataset.dataset_id})
            out = out_root / model_id
            write_run(run, out)
            check_backend_errors(run.metrics, max_backend_error_rate)
            created.append(register_evaluation(client, dataset_id=dataset.dataset_id, metrics=run.metrics,
                                               model_id=model_id, report_uri=str(out.resolve())))
            if on_event:
                accuracy = run.metrics["overall"]["accuracy"]
                on_event(model_id, f"accuracy {accuracy:.3f}, evaluation {created[-1]['id']}")
        except (EvaluationError, ServiceError, OSError, KeyError, ValueError) as exc:
            if on_event:
                on_event(model_id, f"skipped: {exc}")
    return created
