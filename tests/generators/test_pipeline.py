import hashlib
import json
import re
from pathlib import Path

import orjson
import pytest

from generators.pipeline import CHUNK_SIZE, GENERATOR_VERSION, generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec, SpecError

REGISTRY = load_registry()
FILES = ("samples.jsonl", "samples.parquet", "stats.json", "README.md", "manifest.json")


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in FILES}


def test_same_seed_same_bytes_for_any_worker_count(tmp_path):
    spec = DatasetSpec(name="det", n=2 * CHUNK_SIZE + 321, seed=42)
    seen = []
    one = generate_dataset(REGISTRY, spec, tmp_path / "a", progress=lambda d, n: seen.append((d, n)))
    generate_dataset(REGISTRY, spec, tmp_path / "b")
    two = generate_dataset(REGISTRY, spec, tmp_path / "c", workers=2)
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == _files(tmp_path / "c")
    assert one == two
    # progress: a start, then once per chunk, ending at n
    assert seen == [(0, spec.n), (1000, spec.n), (2000, spec.n), (spec.n, spec.n)]
    # another seed gives another dataset
    generate_dataset(REGISTRY, spec.model_copy(update={"seed": 43}), tmp_path / "d")
    assert (tmp_path / "d" / "samples.jsonl").read_bytes() != (tmp_path / "a" / "samples.jsonl").read_bytes()


def test_manifest_records_lineage_and_checksums(tmp_path):
    spec = DatasetSpec(n=250, seed=1, ratios={"execution": 0.5, "clarification": 0.3, "refusal": 0.2})
    manifest = generate_dataset(REGISTRY, spec, tmp_path)
    assert manifest == json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["registry_digest"] == REGISTRY.digest
    assert manifest["generator_version"] == GENERATOR_VERSION
    assert manifest["spec"] == spec.model_dump(mode="json") and manifest["seed"] == 1
    assert manifest["counts"] == {"execution": 125, "clarification": 75, "refusal": 50}
    for name, entry in manifest["files"].items():
        data = (tmp_path / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert set(manifest["files"]) == {"samples.jsonl", "samples.parquet", "stats.json", "README.md"}
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_a_dataset_only_uses_tools_of_its_split(tmp_path, split):
    manifest = generate_dataset(REGISTRY, DatasetSpec(n=600, seed=5, split=split), tmp_path)
    allowed = {t.name for t in REGISTRY if t.split == split}
    assert set(manifest["tools"]) == allowed
    for line in (tmp_path / "samples.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        offered = {t["function"]["name"] for t in row["tools"]}
        assert offered <= allowed, offered - allowed
        assert row["extra_info"]["tool_split"] == split
        gt = row["reward_model"]["ground_truth"]
        target = gt.get("tool_call", {}).get("name") or gt.get("clarification", {}).get("tool")
        assert target is None or target in allowed


def test_exact_counts_and_filters(tmp_path):
    spec = DatasetSpec(n=997, seed=9, tools={"domains": ["weather", "travel"]}, distractors={"min": 0, "max": 1})
    manifest = generate_dataset(REGISTRY, spec, tmp_path)
    rows = [orjson.loads(line) for line in (tmp_path / "samples.jsonl").read_bytes().splitlines()]
    counts = {b: sum(r["behavior"] == b for r in rows) for b in ("execution", "clarification", "refusal")}
    assert counts == manifest["counts"] == {"execution": 598, "clarification": 249, "refusal": 150}
    assert {r["extra_info"]["domain"] for r in rows} <= {"weather", "travel"}
    assert {r["extra_info"]["n_tools"] for r in rows} == {1, 2}


def test_bad_spec_writes_nothing(tmp_path):
    spec = DatasetSpec(n=10, tools={"names": ["get_account_balance"]})  # no required parameter to leave out
    with pytest.raises(SpecError, match="ratios.clarification"):
        generate_dataset(REGISTRY, spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_system_prompt_is_configurable(tmp_path):
    generate_dataset(REGISTRY, DatasetSpec(n=5, system_prompt="Tools only, please."), tmp_path)
    row = orjson.loads((tmp_path / "samples.jsonl").read_bytes().splitlines()[0])
    # the prompt, then the sample's current date as its own paragraph, then the tools block
    today = r"Today is [A-Z][a-z]+day, \d{1,2} [A-Z][a-z]+ 20\d\d, \d\d:\d\d\."
    assert re.match(r"Tools only, please\.\n\n" + today + r"\n\n# Tools\n", row["prompt"][0]["content"])
