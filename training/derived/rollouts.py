"""GRPO rollouts as data: record every scored completion, summarise them, and describe them in a card.

During GRPO the reward wrapper (``training.trainers.grpo.logged_reward``) hands each batch to ``score_rollouts``,
which scores every completion once (the tiered reward; the binary one is 1 exactly when the tiered one
is) and returns one row per completion. A ``RolloutRecorder`` appends the rows to a JSON Lines file in
the job's work folder, copies that file into every checkpoint, and restores it from the checkpoint a
resumed job starts from, so the pushed version holds each step's rollouts exactly once.

A row::

    {"sample_id": "...", "behavior": "execution", "tool": "get_weather", "step": 3, "epoch": 0.5,
     "completion": "<tool_call>...", "reward": 0.5, "reward_binary": 0.0,
     "predicted": "tool_call", "reason": "wrong arguments: ...", "calls": [{"name", "arguments"}]}

``step`` is the optimizer step the rollout was generated for (1-based). The prompt is not repeated in
every row: ``sample_id`` joins a rollout to its sample in the parent dataset version.

Everything here except ``plot_reward_curve`` (matplotlib, imported lazily) is pure Python, so the service
uses it to validate, index and summarise an uploaded rollouts version without importing torch.
"""

from __future__ import annotations

import math
import re
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from training.rewards.scoring import (
    EXPECTED_BEHAVIORS,
    binary_reward,
    completion_text,
    read_ground_truth,
    score_completion,
)

ROLLOUTS_FILE = "rollouts.jsonl"
CHART_FILE = "reward_curve.png"
REQUIRED = {"sample_id": str, "behavior": str, "step": int, "completion": str, "reward": float}
_WORDS = {str: "a string", int: "an integer", float: "a number"}


def expected_tool(ground_truth: Any) -> str | None:
    """The tool a sample is about: the call's tool (execution) or the one to clarify; None for refusal.

    Args:
        ground_truth: a ground truth (dict or JSON text; see ``read_ground_truth``).

    Returns:
        The tool name or None.

    >>> expected_tool('{"clarification": {"tool": "book_flight", "missing": ["date"]}}')
    'book_flight'
    >>> expected_tool({"refusal": {"reason": "harmful"}}) is None
    True
    """
    behaviour, payload = read_ground_truth(ground_truth)
    name = payload.get("name") if behaviour == "execution" else payload.get("tool")
    return name if isinstance(name, str) else None


def score_rollouts(completions: Sequence[Any], columns: Mapping[str, Any], mode: str,
                   step: int, epoch: float) -> tuple[list[float], list[dict[str, Any]]]:
    """Score a batch of completions and describe each as a rollout row.

    Args:
        completions: TRL completions (strings or message lists).
        columns: the batch's dataset columns as lists (``reward_model``, ``tools``, ``behavior``, ``sample_id``).
        mode: the reward GRPO trains on, ``tiered`` or ``binary``.
        step: the optimizer step these completions were generated for (1-based).
        epoch: the trainer's epoch counter when they were generated.

    Returns:
        The training rewards (of `mode`) and one row per completion.

    >>> gt = '{"refusal": {"reason": "harmful"}}'
    >>> rewards, rows = score_rollouts(["Sorry, I can't help with that.", "Which one?"],
    ...                                {"reward_model": [gt, gt], "sample_id": ["s1", "s1"]}, "binary", 1, 0.0)
    >>> rewards, [r["reward"] for r in rows], rows[1]["predicted"]
    ([1.0, 0.0], [1.0, 0.25], 'clarification')
    """
    if mode not in ("tiered", "binary"):
        raise ValueError(f"mode must be 'tiered' or 'binary', got {mode!r}")
    n = len(completions)
    truths = columns.get("reward_model") or columns.get("ground_truth")
    if truths is None:
        raise ValueError("rollouts need a 'reward_model' (or 'ground_truth') column")
    tools = columns.get("tools") or [None] * n
    ids = columns.get("sample_id") or [""] * n
    rewards: list[float] = []
    rows: list[dict[str, Any]] = []
    for completion, truth, offered, sample_id in zip(completions, truths, tools, ids, strict=True):
        text = completion_text(completion)
        result = score_completion(text, truth, offered, "tiered")
        binary = binary_reward(result.reward)
        rewards.append(result.reward if mode == "tiered" else binary)
        detail = result.as_dict()
        rows.append({
            "sample_id": str(sample_id), "behavior": result.expected_behavior, "tool": expected_tool(truth),
            "step": int(step), "epoch": round(float(epoch), 6), "completion": text,
            "reward": float(result.reward), "reward_binary": binary, "predicted": detail["predicted_behavior"],
            "reason": detail["reason"], "calls": detail["calls"],
        })
    return rewards, rows


class RolloutRecorder:
    """Appends rollout rows to a JSON Lines file that travels with the job's checkpoints.

    Args:
        path: the local file (its folder is created).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def reset(self) -> None:
        """Start empty (a fresh job)."""
        self.path.write_bytes(b"")

    def record(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append rows; return how many. Each batch is flushed, so a checkpoint copy is complete."""
        data = b"".join(orjson.dumps(dict(r)) + b"\n" for r in rows)
        with open(self.path, "ab") as fh:
            fh.write(data)
        return data.count(b"\n")

    def snapshot(self, checkpoint_dir: Path) -> Path:
        """Copy the rows so far into a checkpoint folder (before it is uploaded)."""
        target = Path(checkpoint_dir) / ROLLOUTS_FILE
        if self.path.exists():
            shutil.copyfile(self.path, target)
        else:
            target.write_bytes(b"")
        return target

    def restore(self, checkpoint_dir: Path | None, upto_step: int | None = None) -> int:
        """Continue from a checkpoint's rows (or start empty without one); return the rows kept.

        Args:
            checkpoint_dir: the checkpoint the job resumes from, or None.
            upto_step: drop rows generated after this step (the resumed run generates them again).

        Returns:
            The number of rows now in the file.
        """
        source = Path(checkpoint_dir) / ROLLOUTS_FILE if checkpoint_dir is not None else None
        if source is None or not source.exists():
            self.reset()
            return 0
        kept = 0
        with open(source, "rb") as src, open(self.path, "wb") as dst:
            for line in src:
                if not line.strip():
                    continue
                if upto_step is not None and orjson.loads(line).get("step", 0) > upto_step:
                    continue
                dst.write(line if line.endswith(b"\n") else line + b"\n")
                kept += 1
        return kept


# --- validation and summaries (also run by the service) ------------------------------------------------


def validate_row(row: Any) -> str | None:
    """Why a rollout row is unusable, or None when it is fine.

    >>> validate_row({"sample_id": "s", "behavior": "refusal", "step": 1, "completion": "no", "reward": 1})
    >>> validate_row({"sample_id": "s", "behavior": "refusal", "step": 0, "completion": "no", "reward": 1})
    'step must be an integer >= 1'
    """
    if not isinstance(row, dict):
        return "a row must be a JSON object"
    for key, kind in REQUIRED.items():
        value = row.get(key)
        # bool is an int subclass; True is not a step or a reward.
        ok = not isinstance(value, bool) and isinstance(value, int | float if kind is float else kind)
        if not ok:
            return f"{key!r} must be {_WORDS[kind]}"
    if row["behavior"] not in EXPECTED_BEHAVIORS:
        return f"behavior must be one of {', '.join(EXPECTED_BEHAVIORS)}"
    if row["step"] < 1:
        return "step must be an integer >= 1"
    if not math.isfinite(row["reward"]):
        return "reward must be finite"
    return None


def reward_key(reward: float) -> str:
    """The index key of a reward value (``reward:0.5``): one spelling for 0.5, 0.50 and 1/2.

    >>> reward_key(1), reward_key(0.25)
    ('reward:1', 'reward:0.25')
    """
    return f"reward:{float(reward):g}"


def index_keys(row: Mapping[str, Any]) -> list[str]:
    """The sample-index keys of a rollout row: behaviour, tool, step, reward, predicted behaviour.

    >>> index_keys({"behavior": "execution", "tool": "f", "step": 2, "reward": 0.5, "predicted": "tool_call"})
    ['behavior:execution', 'tool:f', 'step:2', 'reward:0.5', 'predicted:tool_call']
    """
    keys = [f"behavior:{row.get('behavior')}"]
    if row.get("tool"):
        keys.append(f"tool:{row['tool']}")
    keys += [f"step:{row.get('step')}", reward_key(row.get("reward", 0.0))]
    if row.get("predicted"):
        keys.append(f"predicted:{row['predicted']}")
    return keys


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


def rollout_stats(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Summarise rollouts: counts, mean rewards per behaviour and step, and zero-variance groups.

    A group is the completions of one prompt at one step. When all its rewards are equal, every
    advantage is zero and GRPO learns nothing from it; the share of such groups is the first thing
    to look at when a run does not move.

    Args:
        rows: rollout rows (validated).

    Returns:
        ``{"rows", "prompts", "steps", "groups", "generations_per_group", "per_behavior",
        "curve": {behaviour or "all": [[step, mean reward], ...]}, "zero_variance", "predicted", "reasons"}``.

    >>> rows = [{"sample_id": "a", "behavior": "refusal", "step": 1, "reward": r} for r in (1.0, 1.0)]
    >>> rows += [{"sample_id": "b", "behavior": "execution", "step": 1, "reward": r} for r in (0.0, 0.5)]
    >>> stats = rollout_stats(rows)
    >>> stats["groups"], stats["zero_variance"]["share"], stats["curve"]["all"]
    (2, 0.5, [[1, 0.625]])
    """
    n = 0
    prompts: set[str] = set()
    groups: dict[tuple[int, str], list[float]] = {}  # (step, sample_id) -> [min, max, count]
    group_behaviour: dict[tuple[int, str], str] = {}
    by_behaviour: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # sum, sum binary, count
    curve: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0]))
    predicted: dict[str, Counter[str]] = defaultdict(Counter)
    reasons: Counter[str] = Counter()
    for row in rows:
        n += 1
        behaviour, step, reward = row["behavior"], int(row["step"]), float(row["reward"])
        binary = float(row.get("reward_binary", 1.0 if reward == 1.0 else 0.0))
        prompts.add(row["sample_id"])
        key = (step, row["sample_id"])
        g = groups.get(key)
        if g is None:
            groups[key] = [reward, reward, 1.0]
            group_behaviour[key] = behaviour
        else:
            g[0], g[1], g[2] = min(g[0], reward), max(g[1], reward), g[2] + 1
        acc = by_behaviour[behaviour]
        acc[0] += reward
        acc[1] += binary
        acc[2] += 1
        for name in (behaviour, "all"):
            point = curve[name][step]
            point[0] += reward
            point[1] += 1
        predicted[behaviour][str(row.get("predicted", "?"))] += 1
        # The reason's first words name its kind ("wrong arguments: ..."); the rest is row-specific.
        reasons[re.split(r"[:(]", str(row.get("reason", "")), maxsplit=1)[0].strip()] += 1
    flat = [k for k, g in groups.items() if g[0] == g[1]]
    flat_by: Counter[str] = Counter(group_behaviour[k] for k in flat)
    all_by: Counter[str] = Counter(group_behaviour.values())
    return {
        "rows": n,
        "prompts": len(prompts),
        "steps": len({s for s, _ in groups}),
        "groups": len(groups),
        "generations_per_group": {str(k): v for k, v in sorted(Counter(int(g[2]) for g in groups.values()).items())},
        "per_behavior": {
            b: {"rows": int(a[2]), "mean_reward": round(a[0] / a[2], 6), "accuracy": round(a[1] / a[2], 6)}
            for b, a in sorted(by_behaviour.items())
        },
        "curve": {name: [[s, round(p[0] / p[1], 6)] for s, p in sorted(points.items())]
                  for name, points in sorted(curve.items())},
        "zero_variance": {
            "groups": len(flat),
            "share": round(len(flat) / len(groups), 6) if groups else None,
            "per_behavior": {b: round(flat_by[b] / all_by[b], 6) for b in sorted(all_by)},
        },
        "predicted": {b: dict(sorted(c.items())) for b, c in sorted(predicted.items())},
        "reasons": dict(reasons.most_common(10)),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render_card(stats: Mapping[str, Any], *, version_id: str, name: str, parent_id: str,
                meta: Mapping[str, Any], chart_url: str | None) -> str:
    """The Markdown card of a rollouts version.

    Args:
        stats: ``rollout_stats`` output.
        version_id: the version's id.
        name: its name.
        parent_id: the dataset version the prompts came from.
        meta: what the worker said about the run (job, model, reward mode, generations...).
        chart_url: where the reward-curve PNG is served, or None when none was uploaded.

    Returns:
        The card text.
    """
    out = [f"# {name} (rollouts)", "",
           f"Version `{version_id}`: every GRPO rollout of the prompts of `{parent_id}`, with its reward "
           "and the reward's breakdown. Join a rollout to its prompt by `sample_id`.", ""]
    source = ", ".join(f"{k} `{v}`" for k, v in sorted(meta.items()) if isinstance(v, str | int | float))
    if source:
        out += [f"Run: {source}.", ""]
    out += [f"{stats['rows']} rollouts of {stats['prompts']} prompts over {stats['steps']} steps "
            f"({stats['groups']} groups; completions per group: "
            f"{', '.join(f'{k}: {v}' for k, v in stats['generations_per_group'].items()) or '-'}).", ""]
    zero = stats["zero_variance"]
    out += ["## Groups GRPO cannot learn from", "",
            f"{zero['groups']} of {stats['groups']} groups ({_pct(zero['share'])}) have zero reward variance: "
            "all completions of the prompt scored the same, so every advantage is zero.", "",
            "| behaviour | rollouts | mean reward | fully correct | zero-variance groups |", "|---|---|---|---|---|"]
    for b, s in stats["per_behavior"].items():
        out.append(f"| {b} | {s['rows']} | {s['mean_reward']:.3f} | {_pct(s['accuracy'])} | "
                   f"{_pct(zero['per_behavior'].get(b))} |")
    out += ["", "## Reward curve per behaviour", ""]
    if chart_url:
        out += [f"![mean reward per step and behaviour]({chart_url})", ""]
    steps = [s for s, _ in stats["curve"].get("all", [])]
    names = [b for b in (*EXPECTED_BEHAVIORS, "all") if b in stats["curve"]]
    shown = steps if len(steps) <= 20 else steps[:: max(1, len(steps) // 20)] + steps[-1:]
    out += ["| step | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lookup = {b: dict((s, v) for s, v in stats["curve"][b]) for b in names}
    for s in dict.fromkeys(shown):
        out.append(f"| {s} | " + " | ".join(f"{lookup[b][s]:.3f}" if s in lookup[b] else "-" for b in names) + " |")
    out += ["", "## Predicted behaviour per expected behaviour", ""]
    for b, counts in stats["predicted"].items():
        out.append(f"- {b}: " + ", ".join(f"{p} {c}" for p, c in counts.items()))
    out += ["", "## Most common reasons", ""] + [f"- {r or '(none)'}: {c}" for r, c in stats["reasons"].items()]
    out += ["", "Filter with `GET /v1/datasets/{id}/samples?behavior=...&step=...&reward=...`.", ""]
    return "\n".join(out)


def plot_reward_curve(stats: Mapping[str, Any], path: Path, title: str = "GRPO rollouts") -> Path:
    """Draw the mean reward per step for each behaviour (and all), with the zero-variance share; save a PNG.

    Args:
        stats: ``rollout_stats`` output.
        path: the PNG file to write.
        title: the chart title.

    Returns:
        `path`.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display; must precede pyplot
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=100)
    for name, points in stats["curve"].items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=name,
                linewidth=2.2 if name == "all" else 1.2, color="black" if name == "all" else None)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("mean reward")
    ax.set_ylim(-0.05, 1.05)
    share = stats["zero_variance"]["share"]
    ax.set_title(f"{title} (zero-variance groups: {_pct(share)})", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})  # no version stamp: same rows, same bytes
    plt.close(fig)
    return path
