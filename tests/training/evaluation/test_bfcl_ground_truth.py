"""BFCL rows keep every allowed value in their ground truth; the reward, ``toolforge score`` and the
evaluator judge by them and give the same number (issue 17), in tiered and binary mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.evaluation.benchmarks import bfcl_ground_truth, read_bfcl
from training.evaluation.run import score_row
from training.rewards import binary_tool_call_reward, score_completion, tool_call_reward
from training.rewards.files import score_files


def fn(name: str, props: dict, required: list[str]) -> dict:
    return {"name": name, "description": f"The {name} function.",
            "parameters": {"type": "dict", "properties": props, "required": required}}


# BFCL-shaped records: (id, question, functions, possible answer).
RECORDS = [
    ("simple_0", "Area of a triangle, base 10 and height 5.",
     [fn("triangle_area", {"base": {"type": "integer"}, "height": {"type": "integer"},
                           "unit": {"type": "string", "default": "units"}}, ["base", "height"])],
     [{"triangle_area": {"base": [10], "height": [5], "unit": ["units", "", "cm"]}}]),
    ("simple_1", "Weather in New York in celsius.",
     [fn("weather", {"city": {"type": "string"}, "unit": {"type": "string"}}, ["city"])],
     [{"weather": {"city": ["New York, NY", "NYC", "New York"], "unit": ["celsius", "C"]}}]),
    ("parallel_2", "Factorials of 5 and 7.",
     [fn("math.factorial", {"number": {"type": "integer"}}, ["number"])],
     [{"math.factorial": {"number": [5]}}, {"math.factorial": {"number": [7]}}]),
    ("parallel_multiple_3", "Play Taylor Swift for 20 minutes and tell me 7 factorial.",
     [fn("spotify.play", {"artist": {"type": "string"}, "duration": {"type": "integer"}}, ["artist"]),
      fn("math.factorial", {"number": {"type": "integer"}}, ["number"])],
     [{"spotify.play": {"artist": ["Taylor Swift"], "duration": [20, ""]}}, {"math.factorial": {"number": [7]}}]),
    ("java_4", "Set the timeout of the session to 30 with retries on.",
     [fn("Session.configure", {"timeout": {"type": "long"}, "retry": {"type": "boolean"},
                               "tags": {"type": "ArrayList", "items": {"type": "String"}}},
         ["timeout", "retry"])],
     [{"Session.configure": {"timeout": [30], "retry": [True], "tags": [["a", "b"], ""]}}]),
    ("javascript_5", "Resize the widget to 2.5 and show it.",
     [fn("resizeWidget", {"scale": {"type": "float"}, "visible": {"type": "Boolean"}}, ["scale"])],
     [{"resizeWidget": {"scale": ["2.5"], "visible": ["true", ""]}}]),
]


@pytest.fixture(scope="module")
def bfcl_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("bfcl")
    questions, answers = folder / "questions.jsonl", folder / "answers.jsonl"
    questions.write_text("".join(json.dumps({"id": i, "question": [[{"role": "user", "content": q}]],
                                             "function": f}) + "\n" for i, q, f, _ in RECORDS))
    answers.write_text("".join(json.dumps({"id": i, "ground_truth": a}) + "\n" for i, _, _, a in RECORDS))
    return questions, answers


def block(name: str, args: dict) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args})}\n</tool_call>"


P = pytest.param
CASES = [
    # The first allowed value of each argument.
    P("simple_0", block("triangle_area", {"base": 10, "height": 5, "unit": "units"}), 1.0, id="first-value"),
    # Another allowed value ("cm"), which a one-value ground truth would score 0.5.
    P("simple_0", block("triangle_area", {"base": 10, "height": 5, "unit": "cm"}), 1.0, id="second-value"),
    # "" among the values: the argument may be left out.
    P("simple_0", block("triangle_area", {"base": 10, "height": 5}), 1.0, id="optional-omitted"),
    # A value outside the allowed ones: right tool, 0.5.
    P("simple_0", block("triangle_area", {"base": 10, "height": 5, "unit": "m"}), 0.5, id="value-not-allowed"),
    # A required argument left out (no "" among its values).
    P("simple_0", block("triangle_area", {"base": 10}), 0.5, id="required-missing"),
    # An argument the answer does not list.
    P("simple_0", block("triangle_area", {"base": 10, "height": 5, "colour": "red"}), 0.5, id="unexpected-arg"),
    # BFCL's string normalisation: case and punctuation are ignored.
    P("simple_1", block("weather", {"city": "new york ny", "unit": "Celsius"}), 1.0, id="bfcl-normalised"),
    # The third spelling of the city.
    P("simple_1", block("weather", {"city": "NYC", "unit": "C"}), 1.0, id="third-spelling"),
    # Two calls of one function, in any order.
    P("parallel_2", block("math.factorial", {"number": 7}) + block("math.factorial", {"number": 5}), 1.0,
      id="parallel-any-order"),
    # The same call twice cannot stand for both.
    P("parallel_2", block("math.factorial", {"number": 5}) * 2, 0.5, id="parallel-duplicate"),
    # Only one of two expected calls, that one exact: a little tiered credit (none in binary).
    P("parallel_2", block("math.factorial", {"number": 5}), 0.25, id="parallel-one-missing"),
    # Only one of two expected calls, and it is wrong: nothing.
    P("parallel_2", block("math.factorial", {"number": 6}), 0.0, id="parallel-one-missing-wrong"),
    # Two different tools, swapped, one optional argument left out.
    P("parallel_multiple_3", block("math.factorial", {"number": 7}) + block("spotify.play",
      {"artist": "Taylor Swift"}), 1.0, id="parallel-multiple"),
    # Java: values as strings, as BFCL asks for that language.
    P("java_4", block("Session.configure", {"timeout": "30", "retry": "true"}), 1.0, id="java-strings"),
    # Java: the typed values count too.
    P("java_4", block("Session.configure", {"timeout": 30, "retry": True}), 1.0, id="java-typed"),
    # Java: a list given as its string spelling.
    P("java_4", block("Session.configure", {"timeout": "30", "retry": "true", "tags": '["a", "b"]'}), 1.0,
      id="java-list-string"),
    # Java: a wrong value is still wrong, string or not.
    P("java_4", block("Session.configure", {"timeout": "31", "retry": "true"}), 0.5, id="java-wrong-string"),
    # JavaScript: string answers on typed parameters accept the typed value.
    P("javascript_5", block("resizeWidget", {"scale": 2.5, "visible": True}), 1.0, id="js-typed-for-string"),
    # JavaScript: the strings themselves.
    P("javascript_5", block("resizeWidget", {"scale": "2.5"}), 1.0, id="js-strings"),
]


@pytest.mark.parametrize(("sample_id", "completion", "reward"), CASES)
def test_every_path_gives_the_same_number(bfcl_files: tuple[Path, Path], tmp_path: Path, sample_id: str,
                                          completion: str, reward: float) -> None:
    rows, skipped = read_bfcl(*bfcl_files)
    assert not skipped
    row = next(r for r in rows if r["extra_info"]["sample_id"] == sample_id)
    for mode, want in (("tiered", reward), ("binary", 1.0 if reward == 1.0 else 0.0)):
        # the shared reward on the stored ground truth
        assert score_completion(completion, row["reward_model"], row["tools"], mode).reward == want, mode
        # the TRL adapter
        trl = tool_call_reward if mode == "tiered" else binary_tool_call_reward
        assert trl([completion], reward_model=[row["reward_model"]], tools=[row["tools"]]) == [want]
        # toolforge score, from files
        samples, outputs = tmp_path / "samples.jsonl", tmp_path / "outputs.jsonl"
        samples.write_text(json.dumps(row) + "\n")
        outputs.write_text(json.dumps({"sample_id": sample_id, "completion": completion}) + "\n")
        assert score_files(samples, outputs, mode)["mean_reward"] == want
    # the evaluator
    result = score_row(row, completion)
    assert (result.reward, result.reward_binary) == (reward, 1.0 if reward == 1.0 else 0.0)


def test_legacy_row_with_one_value_is_rebuilt_by_the_evaluator(bfcl_files: tuple[Path, Path]) -> None:
    # A row read before allowed values were stored: the evaluator rebuilds them from the raw answer.
    rows, _ = read_bfcl(*bfcl_files)
    row = next(r for r in rows if r["extra_info"]["sample_id"] == "simple_0")
    tool_call = row["reward_model"]["ground_truth"]["tool_call"]
    legacy = {**row, "reward_model": {"style": "rule", "ground_truth": {
        "tool_call": {"name": tool_call["name"], "parameters": tool_call["parameters"]}}}}
    result = score_row(legacy, block("triangle_area", {"base": 10, "height": 5, "unit": "cm"}))
    assert result.reward == 1.0


def test_ground_truth_shape() -> None:
    # The documented shape: first call's name/parameters, allowed values, and calls for several calls.
    gt = bfcl_ground_truth([{"f": {"x": [1, 2]}}, {"g": {"y": ["a", ""]}}])["tool_call"]
    assert (gt["name"], gt["parameters"], gt["allowed"]) == ("f", {"x": 1}, {"x": [1, 2]})
    assert gt["calls"] == [{"name": "f", "parameters": {"x": 1}, "allowed": {"x": [1, 2]}},
                           {"name": "g", "parameters": {"y": "a"}, "allowed": {"y": ["a", ""]}}]


def test_non_java_rows_get_no_string_spellings() -> None:
    # Outside Java / JavaScript a number given as a string stays wrong, as BFCL judges it.
    gt = bfcl_ground_truth([{"f": {"x": [5]}}], category="simple")
    assert score_completion(block("f", {"x": "5"}), gt).reward == 0.5


def test_reference_answers_of_bfcl_rows_earn_full_reward(bfcl_files: tuple[Path, Path]) -> None:
    # SFT warm-start answers render every expected call, so parallel rows are taught a right answer.
    from training.trainers.sft import reference_answer

    rows, _ = read_bfcl(*bfcl_files)
    for row in rows:
        answer = reference_answer(row["reward_model"])
        for mode in ("tiered", "binary"):
            assert score_completion(answer, row["reward_model"], row["tools"], mode).reward == 1.0, row["extra_info"]
