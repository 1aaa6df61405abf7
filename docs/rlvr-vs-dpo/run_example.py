"""Make the RLVR-vs-DPO example on a CPU: one dataset, GRPO, its rollouts, two DPO baselines, one report.

    python docs/rlvr-vs-dpo/run_example.py --out docs/rlvr-vs-dpo --work /tmp/rlvr-vs-dpo

Everything goes through the product's real paths: a local service (SQLite), worker processes, the
`toolforge preferences`, `evaluate` and `report` commands. The model is the tiny random-weights Qwen2
(no model hub here), so the numbers show the mechanics, not what Qwen 2.5 7B would reach.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
GRPO = {"sft_warmup_steps": 40, "sft_batch_size": 8, "sft_learning_rate": 1e-2, "max_steps": 12,
        "prompts_per_step": 8, "num_generations": 4, "per_device_train_batch_size": 16,
        "max_completion_length": 48, "save_steps": 6, "learning_rate": 1e-4, "beta": 0.01, "evaluate": False}
DPO = {"method": "dpo", "max_steps": 12, "prompts_per_step": 8, "per_device_train_batch_size": 8,
       "learning_rate": 5e-4, "save_steps": 6, "evaluate": False}


def run(cmd: list[str], env: dict[str, str], log: Path) -> str:
    """Run a `toolforge` command (as `python -m app.cli`), failing loudly with its output."""
    done = subprocess.run([sys.executable, "-m", "app.cli", *cmd], cwd=REPO, env=env, capture_output=True,
                          text=True)
    log.write_text(done.stdout + done.stderr)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd[:2])} failed:\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def wait(client: httpx.Client, path: str, done: Any, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(path).raise_for_status().json()
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out on {path}: {body}")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "rlvr-vs-dpo")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rlvr-vs-dpo"))
    args = parser.parse_args()
    work, out = args.work.resolve(), args.out.resolve()
    if work.exists():
        shutil.rmtree(work)
    (work / "logs").mkdir(parents=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(work / "hf"),
           "TOKENIZERS_PARALLELISM": "false", "DISABLE_MLFLOW_INTEGRATION": "TRUE",
           "TOOLFORGE_DATA_DIR": str(work / "service"), "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas")}
    started = time.monotonic()
    timings: dict[str, float] = {}
    run(["tiny-model", "--out", str(work / "base"), "--hidden-size", "128"], env, work / "logs" / "tiny.log")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    service_env = {**env, "TOOLFORGE_BOOTSTRAP_ADMIN_KEY": "tf-admin-" + secrets.token_hex(16)}
    (work / "service").mkdir()
    with open(work / "logs" / "service.log", "wb") as service_log:
        service = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port",
                                    str(port), "--log-level", "warning"], cwd=REPO, env=service_env,
                                   stdout=service_log, stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        key = run(["keys", "create", "--scope", "write", "--scope", "worker", "--name", "example"], env,
                  work / "logs" / "key.log").strip()
        env = {**env, "TOOLFORGE_URL": url, "TOOLFORGE_API_KEY": key}
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)

        def worker(name: str) -> None:
            run(["worker", "--artifacts", str(work / "artifacts"), "--work-dir", str(work / name), "--worker-id",
                 name, "--poll-wait", "2", "--once", "--idle-timeout", "60"], env, work / "logs" / f"{name}.log")

        train = client.post("/v1/datasets", json={"name": "rlvr-vs-dpo", "n": 128, "seed": 3,
                                                  "distractors": {"min": 0, "max": 1},
                                                  "train": {"base_model": str(work / "base"), **GRPO}}).json()
        heldout = client.post("/v1/datasets", json={"name": "rlvr-vs-dpo-heldout", "n": 90, "seed": 4,
                                                    "split": "heldout", "distractors": {"min": 0, "max": 1}}).json()
        for version in (train, heldout):
            wait(client, f"/v1/datasets/{version['id']}", lambda d: d["status"] == "ready")

        mark = time.monotonic()
        worker("grpo-worker")
        job = client.get("/v1/jobs", params={"kind": "training", "dataset_id": train["id"]}).json()["data"][0]
        grpo = client.get(f"/v1/models/{job['model_id']}").json()
        timings["sft + grpo"] = time.monotonic() - mark
        rollouts_id = grpo["config"]["rollouts_dataset_id"]
        sft_path = grpo["config"]["sft_model_uri"]

        dpo: dict[str, dict[str, Any]] = {}
        for label, source in (("dpo-rollouts", ["--from-rollouts", rollouts_id]),
                              ("dpo-groundtruth", ["--from-dataset", train["id"]])):
            mark = time.monotonic()
            run(["preferences", *source, "--out", str(work / label / "preferences.jsonl"), "--push",
                 "--name", f"rlvr-vs-dpo-{label}-prefs"], env, work / "logs" / f"{label}-prefs.log")
            prefs = client.get("/v1/datasets", params={"name": f"rlvr-vs-dpo-{label}-prefs"}).json()["data"][0]
            queued = client.post("/v1/training-jobs", json={"dataset_id": prefs["id"],
                                                            "config": {**DPO, "base_model": sft_path}}).json()
            worker(f"{label}-worker")
            finished = wait(client, f"/v1/jobs/{queued['id']}", lambda j: j["status"] != "running")
            dpo[label] = {"prefs": prefs, "model": client.get(f"/v1/models/{finished['model_id']}").json()}
            timings[label] = time.monotonic() - mark

        models = {"base": str(work / "base"), "sft": sft_path, "grpo": grpo["artifact_uri"],
                  **{label: d["model"]["artifact_uri"] for label, d in dpo.items()}}
        mark = time.monotonic()
        for label, path in models.items():
            run(["evaluate", "--dataset", heldout["id"], "--model", path, "--out", str(work / "eval" / label),
                 "--max-new-tokens", "64", "--batch-size", "16", "--device", "cpu"], env,
                work / "logs" / f"eval-{label}.log")
        timings["evaluate (5 models)"] = time.monotonic() - mark

        rollouts = client.get(f"/v1/datasets/{rollouts_id}").json()
        zero = client.get(f"/v1/datasets/{rollouts_id}/stats").json()["zero_variance"]
        notes = [
            f"Train dataset `{train['id']}` (128 samples), held-out `{heldout['id']}` (90 samples, held-out tools).",
            f"SFT warm start: {GRPO['sft_warmup_steps']} steps on the reference answers; GRPO and both DPO runs "
            "start from it.",
            f"GRPO: {GRPO['max_steps']} steps x {GRPO['prompts_per_step']} prompts x {GRPO['num_generations']} "
            f"rollouts -> rollouts version `{rollouts_id}` ({rollouts['counts']['rows']} rows; zero-variance "
            f"groups {zero['groups']}/{rollouts['counts']['groups']}).",
            *(f"{label}: {d['prefs']['counts']['rows']} pairs (`{d['prefs']['id']}`), DPO {DPO['max_steps']} steps "
              f"x {DPO['prompts_per_step']} pairs, beta 0.1." for label, d in dpo.items()),
            "Tiny random-weights Qwen2 (hidden 128, 2 layers) on a 2-core CPU: the numbers show the pipeline, "
            "not the quality reachable with Qwen 2.5 7B.",
            "Wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()) + ".",
        ]
        out.mkdir(parents=True, exist_ok=True)
        run(["report", *(x for label in models for x in ("--run", f"{label}={work / 'eval' / label}")),
             "--out", str(out), "--title", "RLVR (GRPO) against DPO on the same data (tiny model, CPU)",
             "--command", "python docs/rlvr-vs-dpo/run_example.py --out docs/rlvr-vs-dpo",
             *(x for n in notes for x in ("--note", n))], env, work / "logs" / "report.log")
        (out / "reward_curve.png").write_bytes(client.get(f"/v1/datasets/{rollouts_id}/files/reward_curve.png").content)
        card = client.get(f"/v1/datasets/{rollouts_id}/card").text
        # The served card links the chart on the service; the copy links the file beside it.
        (out / "rollouts_card.md").write_text(card.replace(f"/v1/datasets/{rollouts_id}/files/", ""))
        lineage = client.get(f"/v1/models/{grpo['id']}/lineage").json()
        summary = {"dataset": lineage["dataset"]["id"], "model": grpo["id"],
                   "derived": [(d["kind"], d["id"], d["parent_id"]) for d in lineage["derived"]],
                   "downstream_models": [(m["name"], m["id"], m["dataset_id"]) for m in lineage["downstream_models"]]}
        (out / "lineage.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps({"timings": {k: round(v, 1) for k, v in timings.items()},  # noqa: T201
                          "total": round(time.monotonic() - started, 1)}))
    finally:
        service.terminate()
        service.wait(timeout=30)


if __name__ == "__main__":
    main()
