"""The request-fluency figure (mean per-token NLL) and `toolforge data-stats --nll-model`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from generators.pipeline import generate_dataset
from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.spec import DatasetSpec
from training.evaluation.fluency import request_nll


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.trainers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def test_every_token_is_scored_and_padding_changes_nothing(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    texts = ["book a table for two", "what's the weather in Oslo tomorrow?", "hi there, can you help", ""]
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model))
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts[:3]]
    together = request_nll(texts, tiny_model, batch_size=4)
    # the empty text is skipped; the first token of each text is its context
    assert together["n"] == 3 and together["tokens"] == sum(n - 1 for n in lengths)
    assert math.isfinite(together["token_nll"]) and together["token_nll"] > 0
    # one text per batch (no padding) gives the same figures as one batch padded to the longest text
    alone = request_nll(texts, tiny_model, batch_size=1)
    assert alone["token_nll"] == pytest.approx(together["token_nll"], abs=1e-3)
    assert alone["text_nll"] == pytest.approx(together["text_nll"], abs=1e-3)
    # cut at max_tokens
    assert request_nll(texts, tiny_model, max_tokens=3)["tokens"] == sum(min(n, 3) - 1 for n in lengths)


def test_data_stats_prints_the_nll_of_the_requests(tiny_model: Path, tmp_path: Path) -> None:
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), DatasetSpec(n=40, seed=5), tmp_path / "ds")
    runner = CliRunner()
    result = runner.invoke(app, ["data-stats", str(tmp_path / "ds"), "--json", "--nll-model", str(tiny_model),
                                 "--nll-sample", "10"])
    assert result.exit_code == 0, result.output
    fig = json.loads(result.output[result.output.index("{"):])
    assert fig["nll"]["n"] == 10 and fig["nll"]["token_nll"] > 0  # execution + clarification requests only
    result = runner.invoke(app, ["data-stats", str(tmp_path / "ds"), "--nll-model", str(tiny_model),
                                 "--nll-sample", "10"])
    assert result.exit_code == 0, result.output
    assert result.output.count("mean per-token NLL (10 requests") == 1
    assert result.output.count("names the target tool") == 1
    result = runner.invoke(app, ["data-stats", str(tmp_path / "ds"), "--nll-model", str(tmp_path)])
    assert result.exit_code == 1 and "not a model folder" in result.output
