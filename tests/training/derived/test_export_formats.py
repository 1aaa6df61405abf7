"""Exports (openai, trl-sft, verl, sharegpt): round trip byte-exact, and each loaded by its consumer."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from generators.pipeline import generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec
from training.derived.export import export_dataset, read_rows
from training.derived.formats import (
    FormatError,
    strip_tools_block,
    to_record,
    to_source,
    tools_block,
)
from training.rewards.verl_reward import compute_score

CASES = [("openai", "native"), ("openai", "qwen2_5"), ("trl-sft", "native"), ("trl-sft", "qwen2_5"),
         ("sharegpt", "native"), ("sharegpt", "qwen2_5"), ("verl", "qwen2_5")]


pytestmark = pytest.mark.usefixtures("hf_offline")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(load_registry(), DatasetSpec(name="exp", n=240, seed=5), out)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    pytest.importorskip("transformers")
    from training.trainers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _records(out: Path, fmt: str) -> list[dict]:
    if fmt == "verl":
        import pyarrow.parquet as pq

        return pq.read_table(out / "train.parquet").to_pylist()
    return [orjson.loads(line) for line in _lines(out / "train.jsonl")]


@pytest.mark.parametrize(("fmt", "template"), CASES)
def test_round_trip_is_byte_exact(dataset, tmp_path, fmt, template):
    doc = export_dataset(dataset, tmp_path / "x", fmt, template)
    source = _lines(dataset / "samples.jsonl")
    records = _records(tmp_path / "x", fmt)
    metas = ([None] * len(records) if fmt == "verl"
             else [orjson.loads(x) for x in _lines(tmp_path / "x" / "metadata.jsonl")])
    assert doc["n"] == len(records) == len(metas) == len(source) == 240
    for line, record, meta in zip(source, records, metas, strict=True):
        assert orjson.dumps(to_source(record, meta, fmt, template)) == line
    names = {f["name"] for f in doc["files"]}
    assert names == ({"train.parquet"} if fmt == "verl" else {"train.jsonl", "metadata.jsonl"})
    assert json.loads((tmp_path / "x" / "export.json").read_text())["n"] == 240


def test_parquet_source_gives_the_same_export(dataset, tmp_path):
    # samples.parquet holds JSON-typed cells; read_rows decodes them, so both copies export identically.
    assert list(read_rows(dataset / "samples.parquet")) == list(read_rows(dataset / "samples.jsonl"))
    a = export_dataset(dataset / "samples.parquet", tmp_path / "a", "openai")
    b = export_dataset(dataset / "samples.jsonl", tmp_path / "b", "openai")
    assert [f["sha256"] for f in a["files"]] == [f["sha256"] for f in b["files"]]


def test_openai_records_validate_against_the_openai_types(dataset, tmp_path):
    openai_chat = pytest.importorskip("openai.types.chat")
    from pydantic import TypeAdapter

    export_dataset(dataset, tmp_path / "x", "openai", "native")
    messages_type = TypeAdapter(list[openai_chat.ChatCompletionMessageParam])
    tools_type = TypeAdapter(list[openai_chat.ChatCompletionFunctionToolParam])
    allowed = {"system": openai_chat.ChatCompletionSystemMessageParam,
               "user": openai_chat.ChatCompletionUserMessageParam,
               "assistant": openai_chat.ChatCompletionAssistantMessageParam}
    rows = list(read_rows(dataset))
    calls = parallel = 0
    for row, record in zip(rows, _records(tmp_path / "x", "openai"), strict=True):
        assert set(record) == {"messages", "tools", "parallel_tool_calls"}
        messages_type.validate_python(record["messages"], strict=True)
        tools_type.validate_python(record["tools"], strict=True)
        for message in record["messages"]:  # TypedDicts let unknown keys through: check them too
            assert set(message) <= set(allowed[message["role"]].__annotations__)
        assert "# Tools" not in record["messages"][0]["content"]
        answer = record["messages"][-1]
        # a dialogue's earlier turns come through as they are, between the system message and the request
        assert record["messages"][1:-1] == row["prompt"][1:]
        if row["behavior"] == "execution":
            want = row["reward_model"]["ground_truth"]["tool_call"]
            wanted = want.get("calls") or [want]  # a parallel request: every call, in order
            got = [openai_chat.ChatCompletionMessageFunctionToolCall.model_validate(c) for c in answer["tool_calls"]]
            assert [(c.function.name, json.loads(c.function.arguments)) for c in got] == [
                (w["name"], w["parameters"]) for w in wanted]
            assert record["parallel_tool_calls"] == (len(wanted) > 1)
            assert len({c.id for c in got}) == len(got)
            calls += 1
            parallel += len(wanted) > 1
        else:
            assert isinstance(answer["content"], str) and "tool_calls" not in answer
    assert calls > 100 and parallel > 0
    assert any(len(row["prompt"]) > 2 for row in rows)  # the dataset has dialogues


def test_sharegpt_turns_alternate_and_parallel_calls_are_a_list(dataset, tmp_path):
    # LLaMA-Factory: human and gpt alternate, the answer is last; several calls are one function_call list
    export_dataset(dataset, tmp_path / "x", "sharegpt", "native")
    seen = {"dialogue": 0, "parallel": 0}
    for row, record in zip(read_rows(dataset), _records(tmp_path / "x", "sharegpt"), strict=True):
        *turns, reply = record["conversations"]
        assert [t["from"] for t in turns] == ["human", "gpt"] * (len(turns) // 2) + ["human"]
        assert [t["value"] for t in turns] == [m["content"] for m in row["prompt"][1:]]
        want = row["reward_model"]["ground_truth"].get("tool_call")
        if want is None:
            assert reply["from"] == "gpt"
            continue
        value = json.loads(reply["value"])
        if "calls" in want:
            assert [c["name"] for c in value] == [c["name"] for c in want["calls"]]
            seen["parallel"] += 1
        else:
            assert reply["from"] == "function_call" and value["name"] == want["name"]
        seen["dialogue"] += len(turns) > 1
    assert seen["dialogue"] and seen["parallel"]


@pytest.mark.parametrize("fmt", ["openai", "trl-sft", "sharegpt"])
def test_chat_exports_load_with_datasets(dataset, tmp_path, fmt):
    datasets = pytest.importorskip("datasets")
    export_dataset(dataset, tmp_path / "x", fmt)
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "x" / "train.jsonl"), split="train",
                               cache_dir=str(tmp_path / "c"))
    records = _records(tmp_path / "x", fmt)
    assert len(ds) == len(records)
    for i in (0, 1, 117, len(records) - 1):
        assert ds[i] == records[i]  # no keys of other rows padded in as None


def test_native_prompt_renders_as_the_baked_one_under_qwens_template(dataset, tiny, tmp_path):
    # The native export with tools= gives the model exactly the text the baked qwen2_5 prompt gives it.
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    export_dataset(dataset, tmp_path / "x", "trl-sft", "native")
    for row, record in list(zip(read_rows(dataset), _records(tmp_path / "x", "trl-sft"), strict=True))[:20]:
        native = tokenizer.apply_chat_template(record["prompt"], tools=record["tools"], tokenize=False,
                                               add_generation_prompt=True)
        baked = tokenizer.apply_chat_template(row["prompt"], tokenize=False, add_generation_prompt=True)
        assert native == baked
        completion = tokenizer.apply_chat_template(record["prompt"] + record["completion"], tools=record["tools"],
                                                   tokenize=False)
        if row["behavior"] == "execution":
            from training.trainers.sft import reference_answer

            assert reference_answer(row["reward_model"]) in completion


def test_sft_trainer_takes_two_steps_on_the_trl_export(dataset, tiny, tmp_path):
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    export_dataset(dataset, tmp_path / "x", "trl-sft", "native")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "x" / "train.jsonl"), split="train",
                               cache_dir=str(tmp_path / "c")).select(range(16))
    args = trl.SFTConfig(output_dir=str(tmp_path / "run"), max_steps=2, per_device_train_batch_size=4,
                         use_cpu=True, activation_checkpointing=False, logging_steps=1, save_strategy="no",
                         report_to="none", disable_tqdm=True, max_length=4096)
    trainer = trl.SFTTrainer(model=AutoModelForCausalLM.from_pretrained(str(tiny)), args=args, train_dataset=ds,
                             processing_class=AutoTokenizer.from_pretrained(str(tiny)))
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert trainer.state.global_step == 2 and len(losses) == 2 and all(x > 0 for x in losses)


def test_verl_column_contract_and_reward_as_verl_calls_it(dataset, tiny, tmp_path):
    datasets = pytest.importorskip("datasets")
    doc = export_dataset(dataset, tmp_path / "x", "verl", tokenizer=tiny)
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "x" / "train.parquet"), split="train",
                               cache_dir=str(tmp_path / "c"))
    assert {"data_source", "prompt", "ability", "reward_model", "extra_info"} <= set(ds.column_names)
    stats = doc["prompt_length"]
    assert stats["unit"] == "tokens" and stats["percentiles"]["p50"] <= stats["percentiles"]["p100"]
    assert stats["recommended_max_prompt_length"] >= stats["percentiles"]["p100"] > 512
    readme = (tmp_path / "x" / "README.md").read_text()
    assert f"data.max_prompt_length={stats['recommended_max_prompt_length']}" in readme
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny))
    for i, row in enumerate(ds):
        # verl's RLHFDataset: prompt_key is a chat list, the reward manager reads these keys
        assert row["data_source"] == f"toolforge/{row['data_source'].split('/')[1]}"
        assert row["data_source"].split("/")[1] in ("execution", "clarification", "refusal")
        assert row["ability"] == "tool_calling" and row["extra_info"]["index"] == i
        roles = [m["role"] for m in row["prompt"]]
        assert roles[0] == "system" and roles[-1] == "user" and set(roles[1:]) <= {"user", "assistant"}
        tools = json.loads(row["extra_info"]["tools"])
        assert [t["function"]["name"] for t in tools]
        if i < 10:
            ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=False)
            assert len(tokenizer(ids, add_special_tokens=False)["input_ids"]) <= stats["recommended_max_prompt_length"]
        from training.trainers.sft import reference_answer

        # verl's NaiveRewardManager: compute_score(data_source=, solution_str=, ground_truth=, extra_info=)
        result = compute_score(data_source=row["data_source"], solution_str=reference_answer(
            row["reward_model"]["ground_truth"]), ground_truth=row["reward_model"]["ground_truth"],
            extra_info=row["extra_info"])
        assert result["score"] == 1.0, result
        assert set(result) == {"score", "pred", "reason"}


def test_verl_reward_uses_the_tools_for_default_valued_arguments(dataset):
    # A call spelling out an argument at its schema default is exact only if the scorer sees the tools.
    checked = 0
    for i, row in enumerate(read_rows(dataset)):
        if row["behavior"] != "execution":
            continue
        want = row["reward_model"]["ground_truth"]["tool_call"]
        if "calls" in want:  # a parallel request: one call alone is not the answer
            continue
        fn = next(t["function"] for t in row["tools"] if t["function"]["name"] == want["name"])
        extra = {k: p["default"] for k, p in fn["parameters"]["properties"].items()
                 if "default" in p and k not in want["parameters"]}
        if not extra:
            continue
        call = {"name": want["name"], "arguments": {**want["parameters"], **extra}}
        reply = f"<tool_call>{json.dumps(call)}</tool_call>"
        record = to_record(row, "verl", "qwen2_5", i)
        gt = record["reward_model"]["ground_truth"]
        assert compute_score(record["data_source"], reply, gt, record["extra_info"])["score"] == 1.0
        assert compute_score(record["data_source"], reply, gt, None)["score"] == 0.5
        checked += 1
    assert checked > 5


@pytest.mark.parametrize(("data_source", "extra_info", "message"), [
    # another dataset's rows routed here by mistake
    ("openai/gsm8k", None, "not a ToolForge row"),
    # a reward mode that does not exist
    ("toolforge/execution", {"reward_mode": "lenient"}, "reward_mode"),
])
def test_verl_reward_refuses_what_it_cannot_score(data_source, extra_info, message):
    with pytest.raises(ValueError, match=message):
        compute_score(data_source, "x", '{"refusal": {"reason": "harmful"}}', extra_info)


TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


@pytest.mark.parametrize(("system", "message"), [
    # no block at all: nothing to take out
    ("You are helpful.", "no '# Tools' block"),
    # a block rendering other tools than the row's
    ("You are helpful." + tools_block([{**TOOL, "function": {"name": "g"}}]), "not the rendering"),
    # text after the block: its place could not be restored
    ("You are helpful." + tools_block([TOOL]) + "\nBe brief.", "text after"),
])
def test_strip_tools_block_refuses_a_lossy_strip(system, message):
    with pytest.raises(FormatError, match=message):
        strip_tools_block(system, [TOOL])


def test_strip_keeps_what_precedes_the_block():
    # a date line (or any text) before the tools block stays in the system message
    system = "You are helpful.\nToday is 2026-12-01." + tools_block([TOOL])
    assert strip_tools_block(system, [TOOL]) == "You are helpful.\nToday is 2026-12-01."


@pytest.mark.parametrize(("fmt", "template", "message"), [
    # verl cannot pass tools= to the template
    ("verl", "native", "qwen2_5"),
    # unknown names
    ("alpaca", None, "unknown format"),
    ("openai", "llama3", "unknown template"),
])
def test_export_refuses_bad_choices(dataset, tmp_path, fmt, template, message):
    with pytest.raises(FormatError, match=message):
        export_dataset(dataset, tmp_path / "x", fmt, template)


def test_export_refuses_a_non_empty_folder(dataset, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep").write_text("")
    with pytest.raises(FormatError, match="not an empty folder"):
        export_dataset(dataset, tmp_path / "x", "openai")


def test_a_bad_row_is_reported_with_its_index(dataset, tmp_path):
    # one row whose ground truth is none of the known kinds: the export stops there and says which row
    lines = (dataset / "samples.jsonl").read_bytes().splitlines()
    bad = orjson.loads(lines[3])
    bad["reward_model"]["ground_truth"] = {"something": {}}
    (tmp_path / "bad.jsonl").write_bytes(b"\n".join([*lines[:3], orjson.dumps(bad)]) + b"\n")
    with pytest.raises(FormatError, match="row 3: ground truth needs one of"):
        export_dataset(tmp_path / "bad.jsonl", tmp_path / "x", "openai")


def test_direct_rows_leave_chat_exports_and_stay_in_verl():
    from training.derived.formats import export_rows

    row = {"prompt": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "hi!"}],
           "tools": [], "behavior": "direct", "reward_model": {"style": "rule", "ground_truth": {"direct": {}}},
           "extra_info": {"sample_id": "d-1"}}
    # no answer to train on: the chat formats leave the row out, verl's reward judges the model's own answer
    for fmt in ("openai", "trl-sft", "sharegpt"):
        assert list(export_rows([row], fmt)) == []
    (record, meta), = export_rows([row], "verl")
    assert record["data_source"] == "toolforge/direct" and meta is None
