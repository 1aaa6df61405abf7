"""End to end: a real service, a real worker training the tiny model (SFT then GRPO), a real local MLflow (SQLite).

The run is found by the id the model version stores; its name, ToolForge tags, both phases' metrics,
artifacts and dataset input are what `training/worker/tracking.py` promises.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("trl", reason="the worker needs the 'train' extra")
mlflow = pytest.importorskip("mlflow", reason="tracking needs the 'tracking' extra")

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(
    "ignore::sqlalchemy.exc.SADeprecationWarning", "ignore::DeprecationWarning:mlflow.*",
    "ignore::FutureWarning:mlflow.*")]

from tests.training.e2e_service import running_service, start_worker  # noqa: E402

TRAIN = {"sft_warmup_steps": 2, "sft_batch_size": 4, "max_steps": 2, "prompts_per_step": 2, "num_generations": 2,
         "per_device_train_batch_size": 4, "max_completion_length": 8, "save_steps": 10, "evaluate": False}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_service(tmp_path_factory.mktemp("service"), 30) as svc:
        yield svc


def test_a_training_job_is_one_mlflow_run_with_its_ids(service: dict[str, Any], tmp_path: Path) -> None:
    from training.trainers.tiny import build_tiny_model

    tiny = build_tiny_model(tmp_path / "tiny")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking = mlflow.tracking.MlflowClient(uri)
    tracking.create_experiment("e2e", artifact_location=(tmp_path / "mlartifacts").as_uri())
    client = httpx.Client(base_url=service["url"], headers={"Authorization": f"Bearer {service['key']}"}, timeout=30)
    try:
        created = client.post("/v1/datasets", json={"name": "tracked", "n": 16, "seed": 4,
                                                    "train": {"base_model": str(tiny), **TRAIN}})
        assert created.status_code == 202, created.text
        dataset_id = created.json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/v1/datasets/{dataset_id}").json()["status"] != "ready":
            assert time.monotonic() < deadline, "dataset not ready"
            time.sleep(0.3)
        worker, log = start_worker(service, tmp_path, "tracked", tmp_path / "artifacts", 30, idle_timeout=60,
                                   extra_env={"MLFLOW_TRACKING_URI": uri, "MLFLOW_EXPERIMENT_NAME": "e2e"})
        try:
            assert worker.wait(timeout=400) == 0, log.read_text(errors="replace")[-4000:]
        finally:
            if worker.poll() is None:
                worker.kill()
        (model,) = [m for m in client.get("/v1/models", params={"limit": 500}).json()["data"]
                    if m["dataset_id"] == dataset_id]
    finally:
        client.close()

    run = tracking.get_run(model["config"]["mlflow_run_id"])
    assert run.info.status == "FINISHED" and run.info.run_name == f"tracked-grpo-{model['job_id']}"
    tags = run.data.tags
    assert tags["toolforge.job_id"] == model["job_id"] and tags["toolforge.dataset_id"] == dataset_id
    assert tags["toolforge.model_id"] == model["id"] and tags["toolforge.method"] == "grpo"
    assert tags["toolforge.generator_version"] and len(tags["toolforge.registry_digest"]) == 64
    metrics = run.data.metrics
    assert "sft.loss" in metrics and "grpo.reward" in metrics and "grpo.loss" in metrics
    assert any(k.startswith("toolforge.") and k.endswith(".reward_mean") for k in metrics), sorted(metrics)
    assert not any("/" in k for k in metrics)
    assert {a.path for a in tracking.list_artifacts(run.info.run_id)} == {"config.json", "dataset"}
    assert {a.path for a in tracking.list_artifacts(run.info.run_id, "dataset")} == {
        "dataset/manifest.json", "dataset/README.md"}
    assert [d.dataset.name for d in run.inputs.dataset_inputs] == ["tracked"]
    print(f"MLflow run {run.info.run_name}: tags {sorted(k for k in tags if k.startswith('toolforge.'))}, "  # noqa: T201
          f"metrics {sorted(metrics)}")
