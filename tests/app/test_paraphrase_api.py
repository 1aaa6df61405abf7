"""A dataset paraphrased through the REST API: the generation child process calls a scripted
OpenAI-compatible server on loopback, and every kept paraphrase still passes the generator's checks."""

import dataclasses
import importlib.util
import json
import random
import sys
from pathlib import Path

import pytest

from generators.behaviours import Generator
from generators.mixing import behaviour_sequence
from generators.paraphrase_verify import check_paraphrase
from generators.pipeline import CHUNK_SIZE, plan_chunks
from generators.registry import load_registry
from generators.spec import DatasetSpec, select_tools
from generators.values import ValuePools
from generators.verify import verify

REPO = Path(__file__).resolve().parents[2]
SERVER_ENV: dict[str, str] = {}


def _stub_class():
    path = REPO / "tests" / "generators" / "openai_stub_server.py"
    spec = importlib.util.spec_from_file_location("openai_stub_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("openai_stub_server", module)
    spec.loader.exec_module(module)
    return module.StubServer


@pytest.fixture(scope="module", autouse=True)
def stub():
    # Autouse, so it starts before the module's service: the operator allow-lists its endpoint.
    with _stub_class()() as server:
        SERVER_ENV["TOOLFORGE_PARAPHRASE_BASE_URLS"] = json.dumps([server.base_url])
        yield server


def _template_samples(spec: DatasetSpec):
    """The verified template samples of every chunk, as the pipeline builds them before paraphrasing."""
    registry = load_registry(REPO / "tool_schemas")
    tools = select_tools(registry, spec)
    gen = Generator(tools, ValuePools.build(spec.seed, split=spec.split), (spec.distractors.min, spec.distractors.max),
                    spec.optional_params)
    samples = []
    for index, counts in enumerate(plan_chunks(spec)):
        rng = random.Random(f"toolforge/{spec.seed}/{index}")
        for behaviour in behaviour_sequence(counts, rng):
            while True:
                sample = gen.sample(behaviour, rng)
                if verify(gen, sample) is None:
                    break
            samples.append(sample)
    assert len(samples) == spec.n and spec.n <= 10 * CHUNK_SIZE
    return gen, samples


def test_openai_paraphrased_dataset_through_the_api(server, stub):
    body = {"name": "paraphrased", "n": 400, "seed": 5, "parallel_share": 0, "multi_turn_share": 0,
            "paraphrase": {"backend": "openai", "base_url": stub.base_url, "model": "stub-mixed", "concurrency": 8}}
    created = server.client.post("/v1/datasets", json=body, headers=server.auth("write"))
    assert created.status_code == 202, created.text
    job = server.wait_job(created.json()["job_id"])
    assert job["status"] == "succeeded", f"{job}\n{server.log_tail()}"
    # the generation child process reached the stub on loopback
    assert len(stub.requests) > 0

    dataset_id = created.json()["id"]
    read = server.auth("read")
    stats = server.client.get(f"/v1/datasets/{dataset_id}/stats", headers=read).raise_for_status().json()
    para = stats["paraphrase"]
    assert (para["backend"], para["model"], para["eligible"]) == ("openai", "stub-mixed", 400)
    assert para["paraphrased"] + para["kept_template"] == 400 and para["paraphrased"] > 0 and para["kept_template"] > 0
    assert {"value_missing", "new_number", "json_leaked", "preamble"} <= set(para["rejections"])
    assert stats["diversity"]["sample_size"] == 400 and "template" in stats["diversity"]

    manifest = server.client.get(f"/v1/datasets/{dataset_id}/files/manifest.json", headers=read).json()
    assert manifest["paraphrase_run"]["requests"] > 0 and manifest["paraphrase_run"]["acceptance_rate"] > 0
    lines = server.client.get(f"/v1/datasets/{dataset_id}/files/samples.jsonl", headers=read).text.splitlines()
    records = [json.loads(line) for line in lines]
    assert sum(r["extra_info"]["paraphrased"] for r in records) == para["paraphrased"]

    # every sample, paraphrased or not, still passes the generator's verification
    gen, templates = _template_samples(DatasetSpec.model_validate(body))
    for record, template in zip(records, templates, strict=True):
        text = record["prompt"][1]["content"]
        assert record["extra_info"]["template_id"] == template.template_id
        assert record["reward_model"]["ground_truth"] == template.ground_truth
        if record["extra_info"]["paraphrased"]:
            assert text != template.text
            assert verify(gen, dataclasses.replace(template, text=text)) is None
            assert check_paraphrase(gen, template, text) is None
        else:
            assert text == template.text
