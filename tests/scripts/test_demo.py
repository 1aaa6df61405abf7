"""`make demo` (scripts/demo.py): the final table's pure helpers, and the whole loop at toy size (--quick)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.demo import FULL, QUICK, SHOWN, relative, render_table, summary_rows

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        (0.6, 0.4, 0.5),  # +50%
        (0.2, 0.4, -0.5),  # a drop is negative
        (0.4, 0.4, 0.0),  # no change
        (0.3, 0.0, None),  # a zero reference has no relative increase
        (None, 0.4, None),  # a missing value has none either
        (0.3, None, None),  # nor a missing reference
    ],
)
def test_relative(value: float | None, reference: float | None, expected: float | None) -> None:
    assert relative(value, reference) == expected


def _metrics(accuracy: float, reward: float, per: dict[str, tuple[float, float]]) -> dict:
    return {"n": 10, "overall": {"accuracy": accuracy, "mean_reward": reward, "malformed_rate": 0.0},
            "per_behavior": {b: {"accuracy": a, "mean_reward": r} for b, (a, r) in per.items()}}


def test_summary_rows_compare_with_base_and_sft() -> None:
    runs = [
        ("base", _metrics(0.0, 0.0, {"execution": (0.0, 0.0), "refusal": (0.0, 0.0)})),
        ("SFT", _metrics(0.2, 0.4, {"execution": (0.1, 0.3), "refusal": (0.5, 0.5)})),
        ("SFT+GRPO", _metrics(0.3, 0.5, {"execution": (0.2, 0.4), "refusal": (0.6, 0.6)})),
    ]
    rows = summary_rows(runs)
    assert [r["model"] for r in rows] == ["base", "SFT", "SFT+GRPO"]
    # The base earns 0: no relative increase over it exists.
    assert [r["vs_base"] for r in rows] == [None, None, None]
    # SFT+GRPO vs SFT: (0.5 - 0.4) / 0.4.
    assert rows[2]["vs_sft"] == pytest.approx(0.25)
    assert rows[1]["vs_sft"] == 0.0
    # Behaviours absent from a run stay absent (no made-up zeros).
    assert set(rows[2]["per_behavior_accuracy"]) == {"execution", "refusal"}


def test_render_table_has_one_line_per_model_and_every_column() -> None:
    runs = [("base", _metrics(0.1, 0.2, {b: (0.1, 0.2) for b in SHOWN})),
            ("SFT+GRPO", _metrics(0.3, 0.3, {b: (0.3, 0.3) for b in SHOWN}))]
    lines = render_table(summary_rows(runs)).splitlines()
    assert len(lines) == 4 and all(line.count("|") == 9 for line in lines)
    assert lines[3] == "| SFT+GRPO | 30.0% | 0.300 | 30.0% (0.30) | 30.0% (0.30) | 30.0% (0.30) | +50.0% | +0.0% |"


@pytest.mark.parametrize("plan", [FULL, QUICK])
def test_plans_are_valid_training_configs(plan) -> None:  # noqa: ANN001
    from training.trainers.config import TrainingConfig

    # The worker would fail the job on an invalid config; catch it here instead of after the datasets.
    assert TrainingConfig.from_dict({"base_model": "x", **plan.training}).sft_warmup_steps > 0


@pytest.mark.slow
def test_quick_demo_runs_the_whole_loop(tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="the demo trains: it needs the 'train' extra")
    out = tmp_path / "report"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "scripts/demo.py", "--quick", "--data-dir", str(tmp_path / "data"), "--out", str(out),
         "--threads", "1"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                     for p in (tmp_path / "data").glob("*.log"))
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{logs}"
    # Progress is printed all along, ending with the table.
    for marker in ("POST /v1/datasets 'demo-train'", "POST /v1/training-jobs", "grpo: step",
                   "lineage: dataset", "| model | held-out accuracy | mean reward |",
                   "bfcl: ", "when2call: ", "| file | base | SFT | SFT+GRPO |"):
        assert marker in proc.stdout, marker
    summary = json.loads((out / "summary.json").read_text())
    assert [row["model"] for row in summary["table"]] == ["base", "SFT", "SFT+GRPO"]
    assert all(row["n"] == QUICK.n_heldout for row in summary["table"])
    # Three distinct model versions were registered, the trained one by the worker's job.
    assert len(set(summary["ids"]["models"].values())) == 3
    report = json.loads((out / "report.json").read_text())
    assert [m["label"] for m in report["models"]] == ["base", "SFT", "SFT+GRPO"]
    # The same three models on the BFCL / When2Call-format files, through toolforge evaluate's readers.
    assert set(summary["benchmarks"]) == {"bfcl", "when2call"}
    assert all(set(b["runs"]) == {"base", "SFT", "SFT+GRPO"} and b["rows"] > 0 for b in summary["benchmarks"].values())
    for name in ("report.md", "summary.md", "per_behavior_accuracy.png", "runs/sft-grpo/metrics.json",
                 "benchmarks/bfcl/sft-grpo/metrics.json", "benchmarks/when2call/base/metrics.json"):
        assert (out / name).is_file(), name
