"""Every generated kind (parallel calls, dialogues, direct, self-harm) scores 1.0 with its reference answer on
every scoring path: the TRL reward functions, `toolforge score`, the evaluator and the REST scorer."""

import json
from pathlib import Path

import httpx
import pytest

from generators.pipeline import generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec
from training.evaluation.run import score_row
from training.rewards import binary_tool_call_reward, tool_call_reward
from training.rewards.files import score_files
from training.trainers.sft import reference_answer

SPEC = DatasetSpec(name="kinds", n=600, seed=11, ratios="0.5,0.2,0.15,0.15", parallel_share=0.3,
                   multi_turn_share=0.3)


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    out = tmp_path_factory.mktemp("kinds")
    generate_dataset(load_registry(), SPEC, out)
    with (out / "samples.jsonl").open(encoding="utf-8") as f:
        data = [json.loads(line) for line in f]
    return out, data


def _kind(row):
    template = row["extra_info"]["template_id"]
    for kind in ("parallel", "multi_turn"):
        if f".{kind}." in template:
            return kind
    if row["reward_model"]["ground_truth"].get("refusal", {}).get("category") == "self_harm":
        return "self_harm"
    return row["behavior"]


def test_every_kind_is_present_and_loads_with_datasets(rows):
    from datasets import load_dataset

    out, data = rows
    assert {"parallel", "multi_turn", "self_harm", "direct", "execution", "clarification", "refusal"} <= {
        _kind(r) for r in data}
    ds = load_dataset("json", data_files=str(out / "samples.jsonl"), split="train")
    assert len(ds) == len(data) and set(ds["behavior"]) == {"execution", "clarification", "refusal", "direct"}


def test_reference_answers_score_one_through_the_trl_rewards_and_the_evaluator(rows):
    _, data = rows
    answered = [r for r in data if reference_answer(r["reward_model"]) is not None]
    completions = [[{"role": "assistant", "content": reference_answer(r["reward_model"])}] for r in answered]
    columns = {"reward_model": [r["reward_model"] for r in answered], "tools": [r["tools"] for r in answered]}
    assert set(tool_call_reward(completions, **columns)) == {1.0}
    assert set(binary_tool_call_reward(completions, **columns)) == {1.0}
    for row, completion in zip(answered, completions, strict=True):
        assert score_row(row, completion[0]["content"]).reward == 1.0, _kind(row)
    # direct rows have no reference answer in the data (SFT leaves them to GRPO)
    assert {_kind(r) for r in data if r not in answered} == {"direct"}


def test_reference_answers_score_one_through_toolforge_score(rows, tmp_path: Path):
    out, data = rows
    completions = tmp_path / "completions.jsonl"
    with completions.open("w", encoding="utf-8") as f:
        for r in data:
            answer = reference_answer(r["reward_model"]) or "Nairobi is the capital of Kenya."
            f.write(json.dumps({"sample_id": r["extra_info"]["sample_id"], "completion": answer}) + "\n")
    report = score_files(out / "samples.jsonl", completions)
    assert report["scored"] == len(data) and report["accuracy"] == 1.0
    assert set(report["per_behavior"]) == {"execution", "clarification", "refusal", "direct"}


@pytest.mark.parametrize("kind", ["parallel", "multi_turn", "self_harm", "direct"])
def test_reference_answers_score_one_through_the_rest_scorer(kind, rows, request):
    server = request.getfixturevalue("rest_server")
    _, data = rows
    samples = [r for r in data if _kind(r) == kind][:5]
    answers = [reference_answer(r["reward_model"]) or "Sure! 7 times 12 is 84." for r in samples]
    response = server.client.post("/v1/rewards/score", json={"samples": samples, "completions": answers})
    assert response.status_code == 200, response.text
    assert response.json()["rewards"] == [1.0] * len(samples)


@pytest.fixture(scope="module")
def rest_server(tmp_path_factory):
    """A real uvicorn on SQLite (reward scoring is open like reads)."""
    from tests.app.conftest import Server, _create_keys, start_uvicorn, stop_process

    data_dir = tmp_path_factory.mktemp("rest")
    url = f"sqlite:///{data_dir / 'toolforge.db'}"
    started = start_uvicorn(data_dir, url, "tf-test-admin-" + "0" * 32, {})
    client = httpx.Client(base_url=started.base_url, timeout=30)
    try:
        yield Server(started.base_url, url, data_dir, _create_keys(url), client, started.process, started.log_path)
    finally:
        client.close()
        stop_process(started.process)
