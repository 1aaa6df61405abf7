import json
import random

import pytest
from typer.testing import CliRunner

from generators import realism
from generators.behaviours import Generator
from generators.realism import Item, LeakCheck, distinct3, figures, mask
from generators.registry import load_registry
from generators.values import ValuePools
from generators.verify import verify
from tests.generators.framed_tools import FRAMES_DIR

CHECK = LeakCheck("find_nearby_places", ["location", "place_type", "radius_meters"],
                  "Find places of a given type (cafes, pharmacies, gas stations...) near a location.")

LEAKS = [
    # a person's request: nothing leaks
    ("any pharmacy around Sydney, within 1500 metres?", None),
    # single words of parameter names are natural words
    ("what's the nearest cafe to this location?", None),
    # the raw identifier
    ("call find_nearby_places for Sydney", "leak_tool_name"),
    # the name with "_" as spaces, any case
    ("Find Nearby Places in Sydney", "leak_tool_name"),
    # a multi-word parameter name as words
    ("cafes in Oslo, radius meters 500", "leak_param_label"),
    ("a cafe, place-type cafe", "leak_param_label"),
    # five consecutive words of the description
    ("please find places of a given type in Oslo", "leak_description"),
    # four are fine
    ("find places of a kind near Oslo", None),
    # the label registers
    ("location set to Oslo", "label_style"),
    ("cafes near me. location: Oslo", "label_style"),
    # a clock time is not a label
    ("cafes open at 10:30 near Oslo", None),
]


@pytest.mark.parametrize(("text", "reason"), LEAKS)
def test_leak_check(text, reason):
    assert CHECK.reason(text) == reason


def test_one_word_tool_names_are_ordinary_words():
    check = LeakCheck("weather", ["city"], "Weather now.")
    assert check.reason("what's the weather in Oslo?") is None


def test_verification_rejects_leaking_requests_and_counts_the_reason():
    reg = load_registry(FRAMES_DIR)
    gen = Generator(reg.tools, ValuePools.build(0), (1, 2), 0.5)
    rng = random.Random(4)
    sample = next(s for s in (gen.execution(rng, reg.get("find_nearby_places")) for _ in range(100))
                  if verify(gen, s) is None)
    import dataclasses

    for text, reason in [(f"find nearby places: {sample.text}", "leak_tool_name"),
                         (f"{sample.text} place type as said", "leak_param_label"),
                         (f"{sample.text} Find places of a given type.", "leak_description"),
                         (f"{sample.text} radius set to whatever", "label_style")]:
        assert verify(gen, dataclasses.replace(sample, text=text)) == reason


def test_mask_and_distinct3():
    assert mask("Fly to Oslo on 3 March, email a@b.io") == "fly to  p  on  n   p , email  u "
    # 4 grams, 3 distinct
    assert distinct3(["a b c a b c"]) == 0.75
    assert distinct3([]) == 0.0


def test_figures():
    items = [
        Item("any cafe in Oslo?", "find_nearby_places", ("location", "radius_meters"), "Find places near you."),
        Item("any cafe in Rome?", "find_nearby_places", ("location", "radius_meters"), "Find places near you."),
        Item("find nearby places, radius meters 5", "find_nearby_places", ("location", "radius_meters"),
             "Find places near you."),
        Item("location: 2026-03-03", "find_nearby_places", ("location",), ""),
        # a refusal: not counted in the rates
        Item("help me hack my ex's email"),
    ]
    fig = figures(items)
    assert fig["n"] == 4
    assert (fig["name_leak"], fig["label_leak"], fig["desc_leak"], fig["label_style"], fig["iso_date"]) == (
        0.25, 0.25, 0.0, 0.25, 0.25)
    # "Oslo" and "Rome" mask alike: three skeletons for four requests
    assert fig["skeletons"]["per_tool"] == {"find_nearby_places": 3}
    assert fig["masked_d3_sample"] == 5  # every request, the refusal too


def test_data_stats_command(tmp_path):
    from app.cli import app
    from generators.pipeline import generate_dataset
    from generators.spec import DatasetSpec

    reg = load_registry(FRAMES_DIR)
    generate_dataset(reg, DatasetSpec(n=300, seed=2), tmp_path / "ds")
    runner = CliRunner()
    # a dataset folder: the figures, and no warning (every tool has frames)
    result = runner.invoke(app, ["data-stats", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "names the target tool" in result.output and "masked distinct-3-gram" in result.output
    assert result.output.count("names the target tool") == 1  # the table once
    assert "warning" not in result.output
    # a JSON Lines file, as JSON: the same figures as stats.json
    result = runner.invoke(app, ["data-stats", str(tmp_path / "ds" / "samples.jsonl"), "--json"])
    fig = json.loads(result.output)
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())["realism"]
    assert fig["name_leak"] == stats["name_leak"] == 0.0 and fig["masked_d3"] == stats["masked_d3"]
    assert stats["tools_without_frames"] == []
    # a missing path: exit 1 with a reason
    result = runner.invoke(app, ["data-stats", str(tmp_path / "nothing.jsonl")])
    assert result.exit_code == 1 and "cannot read" in result.output


def test_stats_list_tools_without_frames(tmp_path):
    from generators.pipeline import generate_dataset
    from generators.spec import DatasetSpec

    reg = load_registry()  # bundled tools; on this branch most have no frames yet
    generate_dataset(reg, DatasetSpec(n=200, seed=3, tools={"domains": ["weather"]}), tmp_path)
    stats = json.loads((tmp_path / "stats.json").read_text())["realism"]
    missing = [t.name for t in reg.filter(split="train", domains=["weather"]) if not t.frames]
    assert stats["tools_without_frames"] == missing
    if missing:
        assert "paraphras" in stats["warning"]
        assert "without hand-written frames" in (tmp_path / "README.md").read_text()
    assert realism.NO_FRAMES_WARNING


def test_framed_datasets_are_byte_identical_for_the_same_spec_and_seed(tmp_path):
    from generators.pipeline import generate_dataset
    from generators.spec import DatasetSpec

    reg = load_registry(FRAMES_DIR)
    a = generate_dataset(reg, DatasetSpec(n=1200, seed=8), tmp_path / "a")
    b = generate_dataset(reg, DatasetSpec(n=1200, seed=8), tmp_path / "b", workers=2)  # two chunks, two processes
    assert a["files"] == b["files"]
    rows = [json.loads(line) for line in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    # hand-written frames in use, and the date stated in every system message
    assert any(r["extra_info"]["template_id"].startswith("execution.frame.") for r in rows)
    assert all("\n\nToday is " in r["prompt"][0]["content"] for r in rows)
