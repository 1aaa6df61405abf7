"""The evaluation report: base and fine-tuned models side by side, as Markdown, JSON and a PNG chart.

The headline table follows the seed's format: held-out accuracy per model and the relative increase
of the mean reward over the first (base) model; the seed's reference is base Qwen 2.5 7B at 65%
held-out accuracy and 86% after RLVR. Markdown and JSON are pure functions of the metrics;
matplotlib is imported only to draw the chart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from training.evaluation.metrics import compare
from training.rewards.scoring import EXPECTED_BEHAVIORS, PREDICTED_BEHAVIORS

SEED_REFERENCE = "base Qwen 2.5 7B: 65% held-out accuracy; after RLVR: 86%"
CHART_NAME = "per_behavior_accuracy.png"
METRIC_ROWS = (
    ("accuracy", "accuracy (fully correct)"),
    ("mean_reward", "mean reward (tiered)"),
    ("mean_reward_binary", "mean reward (binary)"),
    ("tool_name_accuracy", "tool-name accuracy (execution)"),
    ("arg_exact_match", "argument exact match (right tool)"),
    ("arg_f1", "argument F1 (execution)"),
    ("malformed_rate", "malformed-call rate"),
    ("hallucinated_tool_rate", "hallucinated-tool rate"),
    ("wrong_call_rate", "wrong-call rate (clarification + refusal)"),
)
SLICE_TITLES = {
    "n_tools": "number of offered tools",
    "schema_depth": "schema depth of the target tool",
    "param_count": "parameter count of the target tool",
    "domain": "domain",
}


def build_report(runs: Sequence[tuple[str, Mapping[str, Any]]], *, title: str = "ToolForge evaluation",
                 command: str | None = None, notes: Sequence[str] = ()) -> dict[str, Any]:
    """The report document: every run's metrics and the comparison of each run with the first.

    Args:
        runs: ``(label, metrics)`` pairs, base model first; metrics as ``evaluate_rows`` makes them.
        title: the report title.
        command: the command that produced the runs (recorded for reproduction).
        notes: free lines (e.g. how the fine-tuned model was trained).

    Returns:
        ``{"title", "command", "notes", "seed_reference", "models": [{"label", "metrics"}],
        "comparison": [{"label", ...compare()}]}``.
    """
    if not runs:
        raise ValueError("a report needs at least one run")
    base = runs[0][1]
    return {
        "title": title,
        "command": command,
        "notes": list(notes),
        "seed_reference": SEED_REFERENCE,
        "models": [{"label": label, "metrics": dict(m)} for label, m in runs],
        "comparison": [{"label": label, **compare(base, m)} for label, m in runs],
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _signed_pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:+.1f}%"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def render_markdown(report: Mapping[str, Any], chart: str | None = CHART_NAME) -> str:
    """Render the report as Markdown.

    Args:
        report: ``build_report`` output.
        chart: the chart's file name to embed (None: no image).

    Returns:
        The Markdown text.
    """
    models = report["models"]
    labels = [m["label"] for m in models]
    first = models[0]["metrics"]
    meta = first.get("meta", {})
    out = [f"# {report['title']}", ""]
    counts = ", ".join(f"{b} {first['per_behavior'][b]['count']}" for b in EXPECTED_BEHAVIORS)
    out.append(f"Held-out dataset: `{meta.get('dataset', '?')}` ({first['n']} samples: {counts}).")
    out += ["", "## Headline (the seed's format)", ""]
    rows = [[c["label"], _pct(c["tuned_accuracy"]), _num(c["tuned_reward"]),
             "-" if i == 0 else _signed_pct(c["relative_reward_increase"])]
            for i, c in enumerate(report["comparison"])]
    header = ["model", "held-out accuracy", "mean reward", f"relative reward increase vs. {labels[0]}"]
    out += _table(header, rows)
    out += ["", f"Seed reference: {report['seed_reference']} (the relative reward increase is measured on "
            "the mean tiered reward).", ""]
    if chart:
        out += [f"![per-behaviour accuracy]({chart})", ""]

    out += ["## Per behaviour: accuracy (mean tiered reward)", ""]
    rows = []
    for behavior in (*EXPECTED_BEHAVIORS, "overall"):
        cells = [behavior]
        for m in models:
            r = m["metrics"]["overall"] if behavior == "overall" else m["metrics"]["per_behavior"][behavior]
            cells.append(f"{_pct(r['accuracy'])} ({_num(r['mean_reward'])})")
        rows.append(cells)
    out += _table(["behaviour", *labels], rows)

    out += ["", "## All metrics (overall)", ""]
    rows = [[name, *(_num(m["metrics"]["overall"][key]) for m in models)] for key, name in METRIC_ROWS]
    out += _table(["metric", *labels], rows)

    for m in models:
        out += ["", f"## {m['label']}: metrics per behaviour", ""]
        keys = [k for k, _ in METRIC_ROWS]
        rows = [[b, str(m["metrics"]["per_behavior"][b]["count"]),
                 *(_num(m["metrics"]["per_behavior"][b][k]) for k in keys)] for b in EXPECTED_BEHAVIORS]
        out += _table(["behaviour", "n", *keys], rows)
        out += ["", f"Confusion (rows: expected, columns: predicted), {m['label']}:", ""]
        conf = m["metrics"]["confusion"]
        rows = [[e, *(str(conf[e].get(p, 0)) for p in PREDICTED_BEHAVIORS)] for e in EXPECTED_BEHAVIORS]
        out += _table(["expected \\ predicted", *PREDICTED_BEHAVIORS], rows)

    out += ["", "## Slices: accuracy (n)", ""]
    for key, name in SLICE_TITLES.items():
        values = list(dict.fromkeys(v for m in models for v in m["metrics"]["slices"].get(key, {})))
        if not values:
            continue
        out += [f"By {name}:", ""]
        rows = []
        for value in values:
            cells = [value]
            for m in models:
                cell = m["metrics"]["slices"][key].get(value)
                cells.append(f"{_pct(cell['accuracy'])} ({cell['count']})" if cell else "-")
            rows.append(cells)
        out += _table([key, *labels], rows) + [""]

    out += ["## Runs", ""]
    rows = []
    for m in models:
        mm = m["metrics"].get("meta", {})
        where = mm.get("model") or mm.get("endpoint", "?")
        rows.append([m["label"], str(mm.get("backend", "?")), f"`{where}`",
                     str(mm.get("generation_seconds", "-")), str(mm.get("samples_per_second", "-")),
                     str(mm.get("backend_errors", 0))])
    out += _table(["model", "backend", "weights / endpoint", "generation s", "samples/s", "backend errors"],
                  rows)
    if report.get("command"):
        out += ["", "Produced by:", "", "```", report["command"], "```"]
    if report.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in report["notes"]]
    return "\n".join(out) + "\n"


def plot_per_behavior(report: Mapping[str, Any], path: Path) -> Path:
    """Draw grouped bars of accuracy per behaviour (and overall) for every model; save a PNG.

    Args:
        report: ``build_report`` output.
        path: the PNG file to write.

    Returns:
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    groups = (*EXPECTED_BEHAVIORS, "overall")
    models = report["models"]
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    for i, m in enumerate(models):
        values = []
        for g in groups:
            r = m["metrics"]["overall"] if g == "overall" else m["metrics"]["per_behavior"][g]
            values.append(100 * (r["accuracy"] or 0.0))
        xs = [j + (i - (len(models) - 1) / 2) * width for j in range(len(groups))]
        bars = ax.bar(xs, values, width, label=m["label"])
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 110)
    ax.set_ylabel("accuracy on held-out tools (%)")
    ax.set_title(report["title"], fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})  # no version stamp: same metrics, same bytes
    plt.close(fig)
    return path


def write_report(
    runs: Sequence[tuple[str, Mapping[str, Any]]],
    out_dir: Path,
    *,
    title: str = "ToolForge evaluation",
    command: str | None = None,
    notes: Sequence[str] = (),
    chart: bool = True,
) -> dict[str, Path]:
    """Write ``report.md``, ``report.json`` and the per-behaviour chart into `out_dir`.

    Args:
        runs: ``(label, metrics)`` pairs, base model first.
        out_dir: the output folder (created).
        title: the report title.
        command: the command that produced the runs.
        notes: free lines for the report.
        chart: draw the PNG (needs matplotlib).

    Returns:
        ``{"markdown", "json", "chart"?: path}``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(runs, title=title, command=command, notes=notes)
    paths = {"json": out_dir / "report.json", "markdown": out_dir / "report.md"}
    paths["json"].write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if chart:
        paths["chart"] = plot_per_behavior(report, out_dir / CHART_NAME)
    paths["markdown"].write_text(render_markdown(report, CHART_NAME if chart else None), encoding="utf-8")
    return paths
