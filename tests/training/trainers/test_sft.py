"""SFT max_length: sized from the measured rows, and every row TRL would drop or cut is counted and warned."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="SFT needs the 'train' extra")

from transformers import AutoTokenizer, TrainerCallback  # noqa: E402

from generators.pipeline import generate_dataset  # noqa: E402
from generators.registry import DEFAULT_TOOLS_DIR, load_registry  # noqa: E402
from generators.spec import DatasetSpec  # noqa: E402
from training.trainers.sft import (  # noqa: E402
    LengthFit,
    fit_length,
    length_grouped_order,
    measure_lengths,
    run_sft,
    sft_rows,
)
from training.trainers.tiny import build_tiny_model  # noqa: E402


@pytest.mark.parametrize(
    ("lengths", "limit", "expected"),
    [
        ([(10, 14), (30, 40)], None, (40, 0, 0)),  # no cap: the longest row fits, nothing lost
        ([(10, 14), (30, 40)], 4096, (40, 0, 0)),  # a cap above the longest row does not pad
        ([(10, 14), (30, 40), (35, 38)], 32, (32, 1, 1)),  # 35 >= 32 dropped; 30 < 32 < 40 cut; 14 fits
        ([(10, 14)], 10, (10, 1, 0)),  # the prompt exactly fills max_length: no answer token left
    ],
)
def test_fit_length(lengths: list[tuple[int, int]], limit: int | None, expected: tuple[int, int, int]) -> None:
    fit = fit_length(lengths, limit)
    assert (fit.max_length, fit.dropped, fit.cut) == expected


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    tmp = tmp_path_factory.mktemp("sft")
    spec = DatasetSpec(name="sft-len", n=12, seed=4, distractors={"min": 0, "max": 3})
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), spec, tmp / "data")
    rows = [json.loads(line) for line in (tmp / "data" / "samples.jsonl").read_text().splitlines()]
    texts = [m["content"] for r in rows for m in r["prompt"]]  # the default corpus would generate 200 samples
    return build_tiny_model(tmp / "tiny", texts=texts, hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1,
                            intermediate_size=64, vocab_size=800), rows


def _train(model: Path, rows: list[dict], out: Path, caplog: pytest.LogCaptureFixture,
           max_length: int | None) -> LengthFit:
    fits: list[LengthFit] = []
    with caplog.at_level(logging.INFO, logger="training.trainers.sft"):
        run_sft(model, rows, out, max_steps=1, batch_size=2, max_length=max_length, on_fit=fits.append)
    return fits[0]


def test_default_max_length_keeps_every_row(setup: tuple[Path, list[dict]], tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    # Prompts with up to 4 tools are far over TRL's 1024 default on this tokenizer; none may be lost.
    model, rows = setup
    fit = _train(model, rows, tmp_path / "out", caplog, None)
    assert fit.rows == len(rows) and fit.dropped == fit.cut == 0
    assert fit.max_length == fit.longest
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert (tmp_path / "out" / "config.json").is_file()


def test_short_max_length_counts_and_warns(setup: tuple[Path, list[dict]], tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    # A cap between the prompt lengths: the counts match the measured lengths, and TRL keeps exactly the rest.
    model, rows = setup
    lengths = measure_lengths(AutoTokenizer.from_pretrained(str(model)), sft_rows(rows))
    cap = sorted(p for p, _ in lengths)[len(lengths) // 2]
    fit = _train(model, rows, tmp_path / "out", caplog, cap)
    assert fit.dropped == sum(p >= cap for p, _ in lengths) > 0
    assert fit.cut == sum(p < cap < t for p, t in lengths)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings  # ours, and not "TRL kept ... expected"
    assert f"{fit.dropped} dropped, {fit.cut} cut" in warnings[0] and "fewer tools" in warnings[0]


class _PaddedLengths(TrainerCallback):
    """The (rows, padded length) of every batch the training dataloader yields, read once before training."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, int]] = []

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):  # type: ignore[no-untyped-def]
        self.batches = [tuple(batch["input_ids"].shape) for batch in train_dataloader]


def test_group_by_length_pads_less(tmp_path: Path) -> None:
    # Rows sorted by length inside shuffled megabatches of 50 batches of 2 (48 rows: one megabatch): the same
    # rows, seed and batch size pad far less than random batches.
    spec = DatasetSpec(name="sft-group", n=48, seed=5, distractors={"min": 0, "max": 3})
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), spec, tmp_path / "data")
    rows = [json.loads(line) for line in (tmp_path / "data" / "samples.jsonl").read_text().splitlines()]
    model = build_tiny_model(tmp_path / "tiny", texts=[m["content"] for r in rows for m in r["prompt"]],
                             hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, intermediate_size=64,
                             vocab_size=800)
    real = sum(t for _, t in measure_lengths(AutoTokenizer.from_pretrained(str(model)), sft_rows(rows)))
    padding = {}
    for group in (False, True):
        seen = _PaddedLengths()
        run_sft(model, rows, tmp_path / f"out-{group}", max_steps=1, batch_size=2, group_by_length=group,
                callbacks=[seen])
        assert sum(n for n, _ in seen.batches) == len(rows)  # one pass reads every row once
        padding[group] = sum(n * width for n, width in seen.batches) - real
    assert 0 <= padding[True] < padding[False] / 2, padding


def test_length_grouped_order_shuffles_the_batches() -> None:
    # 960 rows in batches of 4 (the demo's SFT): each batch is near one length, and training does not walk from
    # long to short rows (transformers' LengthGroupedSampler ends each megabatch on its shortest rows).
    import random

    rng = random.Random(3)
    lengths = [rng.randint(200, 940) for _ in range(960)]
    order = length_grouped_order(lengths, batch_size=4, seed=0)
    assert sorted(order) == list(range(960))
    batches = [[lengths[i] for i in order[k : k + 4]] for k in range(0, 960, 4)]
    assert max(max(b) - min(b) for b in batches) < 60  # 200 rows per megabatch over a 740-token range
    mean = sum(lengths) / len(lengths)
    for part in (batches[:40], batches[-40:]):  # the first and the last 40 steps: both about the mean length
        assert abs(sum(map(sum, part)) / (4 * len(part)) - mean) < 0.15 * mean
    assert order != length_grouped_order(lengths, batch_size=4, seed=1)
    assert order == length_grouped_order(lengths, batch_size=4, seed=0)
