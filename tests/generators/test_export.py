import json
import os
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from generators.export import PARQUET_SCHEMA, prompt_characters
from generators.hub import card_yaml_header
from generators.pipeline import generate_dataset
from generators.prompt_lengths import prompt_length_stats
from generators.registry import load_registry
from generators.spec import DatasetSpec

REGISTRY = load_registry()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(REGISTRY, DatasetSpec(name="exp", n=1200, seed=3), out)
    return out


def _rows(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_jsonl_records_have_the_seed_format(dataset):
    rows = _rows(dataset / "samples.jsonl")
    assert len(rows) == 1200
    for row in rows:
        assert list(row) == ["prompt", "tools", "behavior", "reward_model", "extra_info"]
        system, *turns, user = row["prompt"]
        assert (system["role"], user["role"]) == ("system", "user")
        # dialogues (answered clarifications) carry the request and the assistant's question between them
        assert [m["role"] for m in turns] in ([], ["user", "assistant"])
        names = [t["function"]["name"] for t in row["tools"]]
        # every offered tool is in the system message, in the same order
        positions = [system["content"].index(f'"name": "{n}"') for n in names]
        assert positions == sorted(positions)
        assert row["reward_model"]["style"] == "rule"
        gt = row["reward_model"]["ground_truth"]
        assert list(gt) == [{"execution": "tool_call", "clarification": "clarification", "refusal": "refusal"}[
            row["behavior"]]]
        info = row["extra_info"]
        assert info["tool_split"] == "train" and info["paraphrased"] is False and info["n_tools"] == len(names)
        assert info["sample_id"].startswith("exp-train-3-")
    assert len({r["extra_info"]["sample_id"] for r in rows}) == len(rows)


def test_parquet_is_a_copy_of_the_jsonl(dataset):
    table = pq.read_table(dataset / "samples.parquet")
    assert table.schema.equals(PARQUET_SCHEMA)
    assert pq.ParquetFile(dataset / "samples.parquet").metadata.num_row_groups == 2  # one per 1000-sample chunk
    rows = _rows(dataset / "samples.jsonl")
    for row, pa_row in zip(rows, table.to_pylist(), strict=True):
        assert pa_row["prompt"] == row["prompt"]
        assert [json.loads(t) for t in pa_row["tools"]] == row["tools"]
        assert json.loads(pa_row["reward_model"]["ground_truth"]) == row["reward_model"]["ground_truth"]
        assert pa_row["extra_info"] == row["extra_info"] and pa_row["behavior"] == row["behavior"]


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_loads_into_datasets_without_conversion(dataset, fmt, tmp_path, hf_offline):
    datasets = pytest.importorskip("datasets")
    name = "samples.jsonl" if fmt == "json" else "samples.parquet"
    ds = datasets.load_dataset(fmt, data_files=str(dataset / name), split="train", cache_dir=str(tmp_path / "c"))
    rows = _rows(dataset / "samples.jsonl")
    assert len(ds) == len(rows)
    for i in (0, 1, 2, 500, len(rows) - 1):
        got = ds[i]
        # nested objects come back exactly, with no keys of other rows padded in as None
        assert got["tools"] == rows[i]["tools"]
        assert got["reward_model"] == rows[i]["reward_model"]
        assert got["prompt"] == rows[i]["prompt"] and got["extra_info"] == rows[i]["extra_info"]
    trl_utils = pytest.importorskip("trl.data_utils")
    assert trl_utils.is_conversational(ds[0])
    assert os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_stats_and_card(dataset):
    stats = json.loads((dataset / "stats.json").read_text())
    assert stats["behaviours"] == {"clarification": 300, "execution": 720, "refusal": 180}
    assert sum(v.get("execution", 0) + v.get("clarification", 0) for v in stats["per_tool"].values()) == 1020
    assert sum(sum(v.values()) for v in stats["per_domain"].values()) == 1200
    assert sum(sum(v.values()) for v in stats["refusals"].values()) == 180
    assert stats["rejected_total"] == sum(stats["rejections"].values())
    assert 0.95 < stats["distinct_prompt_ratio"] <= 1.0
    card = (dataset / "README.md").read_text()
    # the YAML header first (it makes the folder loadable by itself), then the card
    assert card.startswith(card_yaml_header(pretty_name="exp") + "# exp\n")
    assert "| execution | 720 | 60.00% | 0.6 |" in card
    assert 'load_dataset("json"' in card


def test_stats_report_the_prompt_length_of_every_sample(dataset):
    # characters of every prompt message (system, earlier turns, user), as `toolforge export` counts them
    rows = _rows(dataset / "samples.jsonl")
    lengths = [sum(len(m["content"]) for m in row["prompt"]) for row in rows]
    assert any(len(row["prompt"]) > 2 for row in rows)  # dialogues are counted too
    stats = json.loads((dataset / "stats.json").read_text())["prompt_length"]
    assert stats == prompt_length_stats(lengths, "characters", "characters")
    assert stats["n"] == 1200 and stats["percentiles"]["p100"] == max(lengths)
    assert stats["recommended_max_prompt_length"] is None  # that needs tokens


def _prompts(*prompts: list[tuple[str, str]]) -> pa.RecordBatch:
    rows = [{"prompt": [{"role": r, "content": c} for r, c in p]} for p in prompts]
    return pa.RecordBatch.from_pylist(rows, schema=pa.schema([PARQUET_SCHEMA.field("prompt")]))


def test_prompt_characters_counts_characters_not_bytes():
    single = [("system", "Sé"), ("user", "héllo")]
    dialogue = [("system", "s"), ("user", "a"), ("assistant", "¿b?"), ("user", "c")]
    assert list(prompt_characters(_prompts(single, single))) == [7, 7]  # [system, user] rows, in bulk
    assert list(prompt_characters(_prompts(single, dialogue))) == [7, 6]  # with a dialogue row
    assert list(prompt_characters(_prompts())) == []


def test_prompt_characters_of_a_chunk_match_its_batch():
    from array import array

    from generators.pipeline import ChunkBuilder, plan_chunks
    from generators.spec import select_tools

    # the pipeline counts from the samples; the counts must be the batch's, non-ASCII system prompt and dialogues too
    spec = DatasetSpec(n=400, seed=4, system_prompt="Réponds brièvement — «merci».", multi_turn_share=0.3)
    result = ChunkBuilder(select_tools(REGISTRY, spec), spec).build(0, plan_chunks(spec)[0])
    assert any(len(p) > 2 for p in result.batch.column("prompt").to_pylist())
    assert array("i", result.prompt_chars) == prompt_characters(result.batch)


COUNT_CASES = [
    # nothing
    ([], 0),
    # one value
    ([[7]], 1),
    # duplicates within and across chunks
    ([[3, 1, 3], [1, 2]], 3),
    # the largest 64-bit values sort and compare correctly
    ([[2**64 - 1, 0], [2**64 - 1]], 2),
]


@pytest.mark.parametrize(("chunks", "expected"), COUNT_CASES)
def test_count_distinct(chunks, expected):
    import pyarrow as pa

    from generators.export import count_distinct

    assert count_distinct([pa.array(c, pa.uint64()) for c in chunks]) == expected
