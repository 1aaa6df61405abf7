"""MLflow tracking of a training job: one run per job, named after it, tagged with ToolForge's ids.

Used when ``MLFLOW_TRACKING_URI`` is set and mlflow is installed (the ``tracking`` extra). The run is
ToolForge's own, not transformers' ``MLflowCallback``: that one names runs at random, carries no ids and
kills the job when the tracker fails. Here:

- the run is named ``<dataset name>-<method>-<job id>`` and tagged ``toolforge.job_id``,
  ``toolforge.dataset_id``, ``toolforge.registry_digest``, ``toolforge.generator_version``,
  ``toolforge.base_model``, ``toolforge.method`` and, once registered, ``toolforge.model_id``;
- the config is logged as parameters and ``config.json``; the dataset's manifest and card as artifacts;
  the dataset itself through ``mlflow.log_input``;
- metrics of every phase are logged: a trainer's name ``x/y`` becomes ``<phase>.x.y`` (``sft.loss``,
  ``grpo.reward``, ``grpo.rewards.tool_call_reward.mean``) and ToolForge's per-behaviour rewards
  ``reward/<behaviour>/<stat>`` become ``toolforge.<behaviour>.reward_<stat>``. No name is a path prefix
  of another (a file store keeps ``reward`` as a file, so ``reward/execution/mean`` could not be stored),
  and none can collide with what TRL logs;
- any tracker failure logs one warning and turns tracking off for the job; the job goes on.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger("toolforge.worker")

BEHAVIOUR_METRIC = re.compile(r"^reward/(execution|clarification|refusal)/(\w+)$")
TAG_PREFIX = "toolforge."


def metric_name(name: str, phase: str) -> str:
    """The MLflow name of a logged metric.

    Args:
        name: the name a trainer (or ToolForge's reward) logged.
        phase: ``sft``, ``grpo`` or ``dpo``.

    Returns:
        ``toolforge.<behaviour>.reward_<stat>`` for ToolForge's per-behaviour rewards, else
        ``<phase>.<name with / as .>``.

    >>> metric_name("reward/execution/mean", "grpo"), metric_name("reward", "grpo")
    ('toolforge.execution.reward_mean', 'grpo.reward')
    >>> metric_name("rewards/tool_call_reward/mean", "grpo"), metric_name("loss", "sft")
    ('grpo.rewards.tool_call_reward.mean', 'sft.loss')
    """
    match = BEHAVIOUR_METRIC.match(name)
    if match:
        return f"toolforge.{match.group(1)}.reward_{match.group(2)}"
    return f"{phase}.{name.replace('/', '.')}"


def run_name(job: Mapping[str, Any], dataset: Mapping[str, Any], method: str) -> str:
    """``<dataset name>-<method>-<job id>``."""
    return f"{dataset.get('name', 'dataset')}-{method}-{job['id']}"


def run_tags(job: Mapping[str, Any], dataset: Mapping[str, Any], manifest: Mapping[str, Any] | None,
             cfg: Mapping[str, Any]) -> dict[str, str]:
    """ToolForge's ids for a job's run (tags are strings; missing ids are left out)."""
    manifest = manifest or {}
    tags = {
        "job_id": job.get("id"),
        "dataset_id": job.get("dataset_id") or dataset.get("id"),
        "dataset_name": dataset.get("name"),
        "registry_digest": dataset.get("registry_digest") or manifest.get("registry_digest"),
        "generator_version": manifest.get("generator_version"),
        "base_model": cfg.get("base_model"),
        "method": cfg.get("method"),
    }
    return {TAG_PREFIX + k: str(v) for k, v in tags.items() if v not in (None, "")}


class Tracker:
    """One job's MLflow run; a no-op when tracking is off or after the first tracker failure.

    Args:
        enabled: start a run at all (see `Tracker.from_env`).
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.run_id: str | None = None
        self._mlflow: Any = None
        self._client: Any = None

    @classmethod
    def from_env(cls) -> Tracker:
        """A tracker that is on when ``MLFLOW_TRACKING_URI`` is set and mlflow can be imported."""
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            return cls(False)
        try:
            import mlflow  # noqa: F401
        except ImportError:
            log.warning("MLFLOW_TRACKING_URI is set but mlflow is not installed (pip install '.[tracking]'); "
                        "metrics go to the service only")
            return cls(False)
        return cls(True)

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.enabled:
            return None
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a tracker problem must never fail the job
            log.warning("MLflow tracking off for this job: %s failed (%s: %s)", what, type(exc).__name__,
                        str(exc).splitlines()[0][:300] if str(exc) else "")
            self.enabled = False
            return None

    def start(self, name: str, tags: Mapping[str, str], params: Mapping[str, Any]) -> None:
        """Create the run (named `name`, tagged with `tags`) and log `params` and ``config.json``."""

        def start() -> None:
            import mlflow
            from mlflow.tracking import MlflowClient

            self._mlflow = mlflow
            self._client = MlflowClient()
            experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "toolforge")
            found = self._client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else self._client.create_experiment(experiment)
            run = self._client.create_run(experiment_id, run_name=name, tags=dict(tags))
            self.run_id = run.info.run_id
            flat = [mlflow.entities.Param(k, str(v)[:6000]) for k, v in sorted(params.items())]
            self._client.log_batch(self.run_id, params=flat)
            self._client.log_dict(self.run_id, dict(params), "config.json")

        self._guard("starting the run", start)

    def log_metrics(self, metrics: Mapping[str, Any], step: int, phase: str) -> None:
        """Log a trainer's numeric logs at `step` under phase-qualified names (see `metric_name`)."""
        if not self.enabled or self.run_id is None:
            return

        def log_batch() -> None:
            from mlflow.entities import Metric

            stamp = _now_ms()
            batch = [Metric(metric_name(k, phase), float(v), stamp, step) for k, v in metrics.items()
                     if isinstance(v, int | float) and not isinstance(v, bool)]
            if batch:
                self._client.log_batch(self.run_id, metrics=batch)

        self._guard("logging metrics", log_batch)

    def set_tag(self, key: str, value: str) -> None:
        """Tag the run (``toolforge.<key>``)."""
        if self.run_id is not None:
            self._guard("tagging the run", lambda: self._client.set_tag(self.run_id, TAG_PREFIX + key, value))

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        """Upload one file to the run's artifacts."""
        if self.run_id is not None:
            self._guard(f"uploading {path.name}", lambda: self._client.log_artifact(self.run_id, str(path), folder))

    def log_dataset(self, dataset: Mapping[str, Any], source_uri: str, digest: str | None, context: str) -> None:
        """Record the dataset version as the run's input (``mlflow.log_input``), by URI and digest."""
        if self.run_id is None:
            return

        def log_input() -> None:
            from mlflow.data.http_dataset_source import HTTPDatasetSource
            from mlflow.data.meta_dataset import MetaDataset

            data = MetaDataset(HTTPDatasetSource(source_uri), name=f"{dataset.get('name', 'dataset')}",
                               digest=(digest or "")[:36] or None)
            self._client.log_inputs(self.run_id, datasets=[_dataset_input(data, context)])

        self._guard("logging the dataset input", log_input)

    def end(self, status: str = "FINISHED") -> None:
        """Close the run (``FINISHED``, ``FAILED`` or ``KILLED``)."""
        if self.run_id is not None:
            self._guard("closing the run", lambda: self._client.set_terminated(self.run_id, status))


def _dataset_input(data: Any, context: str) -> Any:
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    return DatasetInput(dataset=data._to_mlflow_entity(), tags=[InputTag(MLFLOW_DATASET_CONTEXT, context)])


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def read_manifest(path: Path | None) -> dict[str, Any] | None:
    """A downloaded manifest.json, or None."""
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
