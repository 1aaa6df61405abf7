"""MLflow tracking of a job against a real local MLflow (SQLite backend): names, ids, metrics, artifacts."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest

from training.client import ServiceClient
from training.trainers.config import TrainingConfig
from training.worker.job import _sft_progress, _start_run
from training.worker.tracking import Tracker, metric_name

mlflow = pytest.importorskip("mlflow")
# MLflow's own SQLAlchemy store uses APIs SQLAlchemy 2.1 deprecates; nothing of ours triggers these.
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning",
                                        "ignore::DeprecationWarning:mlflow.*", "ignore::FutureWarning:mlflow.*")

# What TRL 1.16's GRPOTrainer and SFTTrainer log, and ToolForge's own per-behaviour rewards.
TRL_GRPO = ["loss", "grad_norm", "learning_rate", "reward", "reward_std", "rewards/tool_call_reward/mean",
            "rewards/tool_call_reward/std", "completions/mean_length", "completions/clipped_ratio", "kl",
            "entropy", "frac_reward_zero_std", "num_tokens", "epoch"]
OURS = [f"reward/{b}/{s}" for b in ("execution", "clarification", "refusal") for s in ("mean", "std")]


def test_no_metric_name_collides_or_is_a_path_prefix_of_another():
    names = [metric_name(n, "grpo") for n in TRL_GRPO + OURS] + [metric_name(n, "sft") for n in ("loss", "epoch")]
    assert len(set(names)) == len(names)
    assert not any("/" in n for n in names)  # a file store keeps 'a' as a file: 'a/b' could not be stored
    assert {metric_name(n, "grpo") for n in OURS} == {f"toolforge.{b}.reward_{s}" for b in (
        "execution", "clarification", "refusal") for s in ("mean", "std")}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root}/mlflow.db"
    client = mlflow.tracking.MlflowClient(uri)
    client.create_experiment("toolforge-test", artifact_location=(root / "artifacts").as_uri())
    return uri, client


@pytest.fixture
def tracking(store, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store[0])
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "toolforge-test")
    return store[1]


MANIFEST = {"generator_version": "0.7.1", "registry_digest": "d" * 64, "spec": {"name": "ds"}}
DATASET = {"id": "ds_1", "name": "weather", "kind": "samples", "registry_digest": "d" * 64, "files": [
    {"name": "samples.jsonl", "sha256": "a" * 64, "size": 10, "url": "/v1/datasets/ds_1/files/samples.jsonl"},
    {"name": "manifest.json", "url": "/v1/datasets/ds_1/files/manifest.json"},
    {"name": "README.md", "url": "/v1/datasets/ds_1/files/README.md"}]}


def _service() -> ServiceClient:
    import hashlib

    bodies = {"manifest.json": json.dumps(MANIFEST).encode(), "README.md": b"# weather\n"}
    for f in DATASET["files"]:
        if f["name"] in bodies:
            f["sha256"] = hashlib.sha256(bodies[f["name"]]).hexdigest()
    return ServiceClient("http://svc", "k", transport=httpx.MockTransport(
        lambda request: httpx.Response(200, content=bodies[request.url.path.rsplit("/", 1)[-1]])))


class _Heartbeat:
    def update(self, **fields):  # noqa: ANN003, ANN201
        pass


def test_a_job_run_carries_its_name_ids_phases_artifacts_and_input(tracking, tmp_path):
    cfg = TrainingConfig.from_dict({"base_model": "tiny", "max_steps": 2, "sft_warmup_steps": 2})
    job = {"id": "job_42", "dataset_id": "ds_1"}
    tracker = Tracker.from_env()
    _start_run(tracker, _service(), job, DATASET, cfg, tmp_path)
    sft = _sft_progress(_Heartbeat(), 2, tracker)  # the SFT phase, as run_sft reports it
    sft({"loss": 2.0, "learning_rate": 1e-3})
    sft({"loss": 1.5, "learning_rate": 5e-4})
    tracker.log_metrics({"reward": 0.5, "reward/execution/mean": 0.25, "rewards/tool_call_reward/mean": 0.5,
                         "loss": 0.1}, 1, "grpo")
    tracker.set_tag("model_id", "mdl_7")
    tracker.end()

    run = tracking.get_run(tracker.run_id)
    assert run.info.run_name == "weather-grpo-job_42" and run.info.status == "FINISHED"
    tags = {k: v for k, v in run.data.tags.items() if k.startswith("toolforge.")}
    assert tags == {"toolforge.job_id": "job_42", "toolforge.dataset_id": "ds_1", "toolforge.dataset_name": "weather",
                    "toolforge.registry_digest": "d" * 64, "toolforge.generator_version": "0.7.1",
                    "toolforge.base_model": "tiny", "toolforge.method": "grpo", "toolforge.model_id": "mdl_7"}
    assert run.data.metrics == {"sft.loss": 1.5, "sft.learning_rate": 5e-4, "grpo.reward": 0.5,
                                "toolforge.execution.reward_mean": 0.25,
                                "grpo.rewards.tool_call_reward.mean": 0.5, "grpo.loss": 0.1}
    assert [m.step for m in tracking.get_metric_history(tracker.run_id, "sft.loss")] == [1, 2]
    assert run.data.params["max_steps"] == "2" and run.data.params["base_model"] == "tiny"
    artifacts = {a.path for a in tracking.list_artifacts(tracker.run_id)}
    assert artifacts == {"config.json", "dataset"}
    assert {a.path for a in tracking.list_artifacts(tracker.run_id, "dataset")} == {
        "dataset/manifest.json", "dataset/README.md"}
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "weather"
    assert "ds_1/files/samples.jsonl" in dataset_input.dataset.source


@pytest.mark.parametrize("uri", [
    # MLflow 3 refuses its file store: the job used to fail on it
    "file:///{tmp}/mlruns",
    # nothing listens there
    "http://127.0.0.1:9",
])
def test_a_tracker_failure_is_a_warning_and_the_job_goes_on(uri, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri.format(tmp=tmp_path))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    caplog.set_level(logging.WARNING, logger="toolforge.worker")
    tracker = Tracker.from_env()
    tracker.start("r", {}, {"a": 1})
    tracker.log_metrics({"loss": 1.0}, 1, "grpo")
    tracker.log_artifact(Path(__file__))
    tracker.end()
    assert not tracker.enabled and tracker.run_id is None
    assert len([r for r in caplog.records if "MLflow tracking off" in r.message]) == 1


def test_tracking_is_off_without_a_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = Tracker.from_env()
    tracker.start("r", {}, {})
    assert not tracker.enabled and tracker.run_id is None
