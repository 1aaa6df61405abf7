"""Does a request read like a person's, and does it leak the answer? Leak checks and dataset figures.

`LeakCheck` is the per-tool check verification runs on every request (template or paraphrase): it
names the target tool (raw, or its name's words), prints a multi-word parameter name as words ("radius
meters"), copies five or more consecutive words of the tool's description, or uses the "x set to v" /
"label: value" register. Single words are never a leak ("city", "email").

`figures` measures a set of requests with the same rules, plus the masked distinct-3-gram ratio and the
distinct masked skeletons per tool, for ``stats.json``, the dataset card and ``toolforge data-stats``.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORD = re.compile(r"[a-z0-9]+")
# An emoji shortcode (":coffee: back soon") is what people type, not a label: no ":" before the word.
_QUOTED = re.compile(r'"[^"]*"')
LABEL_STYLE = re.compile(r"\b\w+ set to |(?<![:\w])[a-z][a-z ]{2,30}: \S")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}")
_SPLIT = re.compile(r"[_\W]+|(?<=[a-z])(?=[A-Z])")
D3_SAMPLE = 1000  # requests the masked distinct-3-gram ratio is computed over
REASONS = ("leak_tool_name", "leak_param_label", "leak_description", "label_style")
FIGURES = ("name_leak", "label_leak", "desc_leak", "label_style", "iso_date")
NO_FRAMES_WARNING = (
    "these tools have no hand-written x-frames/x-slots: their requests come from slot phrases composed from "
    "the schema and generic frames, which read stiffly; write frames for them or paraphrase their requests "
    "with an LLM (paraphrase.backend, mode 'write')"
)


def name_words(name: str) -> str:
    """An identifier as lower-case words: ``find_nearbyPlaces`` -> ``find nearby places``.

    >>> name_words("find_nearbyPlaces")
    'find nearby places'
    """
    return " ".join(w for w in _SPLIT.split(name) if w).lower()


def label_style(text: str) -> bool:
    """Whether the text uses the "x set to v" / "label: value" register (the regex only runs when it can match).

    >>> [label_style(t) for t in ("units set to metric", "city: Oslo", "at 10:30", "in Oslo", "with :coffee: on",
    ...                           'subject "re: budget" please')]
    [True, True, False, False, False, False]
    """
    if not (": " in text or " set to " in text):
        return False
    if '"' in text:  # a quoted value ('subject "Re: budget"') is the user's text, not a label
        text = _QUOTED.sub('""', text)
    return LABEL_STYLE.search(text) is not None


def word_line(text: str) -> str:
    """The text's lower-case words, space-separated with a space at both ends (for whole-word ``in``)."""
    return " " + " ".join(WORD.findall(text.lower())) + " "


class LeakCheck:
    """The leak rules for one tool, compiled once.

    Args:
        tool: the tool's name.
        params: its top-level parameter names.
        description: its description.
    """

    __slots__ = ("raw", "name", "labels", "grams", "cores")

    def __init__(self, tool: str, params: Iterable[str], description: str):
        words = name_words(tool)
        # A one-word tool name ("weather") is an ordinary word; an identifier with separators is not.
        self.raw = tool if " " in words else None
        self.name = f" {words} " if " " in words else None
        self.labels = tuple(dict.fromkeys(f" {w} " for p in params if " " in (w := name_words(p))))
        d = WORD.findall(description.lower())
        self.grams = tuple(dict.fromkeys(" " + " ".join(d[i : i + 5]) + " " for i in range(len(d) - 4)))
        # Every needle without its padding: a cheap first pass over the lower-cased text.
        self.cores = tuple(n.strip() for n in ((self.name or ""), *self.labels, *self.grams) if n.strip())

    def flags(self, text: str, line: str | None = None) -> tuple[bool, bool, bool]:
        """(names the tool, prints a multi-word parameter name, copies 5 description words)."""
        line = line if line is not None else word_line(text)
        name = (self.raw is not None and self.raw in text) or (self.name is not None and self.name in line)
        label = any(lab in line for lab in self.labels)
        desc = any(g in line for g in self.grams)
        return name, label, desc

    def reason(self, text: str) -> str | None:
        """The first rule `text` breaks (a ``stats.json`` rejection key), or None.

        >>> check = LeakCheck("find_nearby_places", ["location", "radius_meters"], "Find places near a location.")
        >>> [check.reason(t) for t in ("any cafe in Oslo?", "find nearby places in Oslo", "radius meters 500",
        ...                             "Find places near a location now", "location: Oslo")]
        [None, 'leak_tool_name', 'leak_param_label', 'leak_description', 'label_style']
        """
        if self.raw is not None and self.raw in text:
            return "leak_tool_name"
        # First pass: a needle's words, space-separated, in the lower-cased text (with "_" and "-" as
        # spaces). Almost every request passes here without splitting it into words (~2 µs against ~10);
        # a hit is confirmed on the words. Needle words joined by other punctuation ("radius, meters")
        # are left to the figures, which always split.
        low = text.lower()
        if "_" in low or "-" in low:
            low = low.replace("_", " ").replace("-", " ")
        for core in self.cores:
            if core in low:
                break
        else:
            return "label_style" if (": " in text or " set to " in text) and label_style(text) else None
        line = word_line(text)
        if self.name is not None and self.name in line:
            return "leak_tool_name"
        for lab in self.labels:
            if lab in line:
                return "leak_param_label"
        for g in self.grams:
            if g in line:
                return "leak_description"
        if label_style(text):
            return "label_style"
        return None


# --- figures ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One request to measure: its text and target tool (None: refusal or no tool, leaks not counted)."""

    text: str
    tool: str | None = None
    params: tuple[str, ...] = ()
    description: str = ""


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|“[^”]*”")
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|\S*/\S+")
_NUMBER = re.compile(r"\d[\d,.:/-]*")
# The lookahead repeats what the match needs at its first character: the engine can then skip a position that
# cannot start a name before it tries the lookbehinds (same matches, twice as fast).
_NAME = re.compile(r"(?=[A-Z])(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z'-]+")


def mask(text: str) -> str:
    """The request with values masked (quotes, e-mails/URLs/paths, numbers, capitalised names), lower-cased.

    >>> mask('Email ana@x.io about "the plan" on 3 March in Oslo')
    'email  u  about  q  on  n   p  in  p '
    """
    t = _QUOTED.sub(" Q ", text)
    if "@" in t or "/" in t:  # every form `_ADDRESS` matches has one; its \S+ backtracking is slow on words
        t = _ADDRESS.sub(" U ", t)
    t = _NUMBER.sub(" N ", t)
    t = _NAME.sub(" P ", t)
    return t.lower()


def distinct3(texts: Sequence[str]) -> float:
    """Distinct word 3-grams over all word 3-grams (0 for none).

    >>> distinct3(["a b c a b c"])
    0.75
    """
    grams: Counter[tuple[str, ...]] = Counter()
    total = 0
    for t in texts:
        w = WORD.findall(t.lower())
        g = list(zip(w, w[1:], w[2:], strict=False))
        grams.update(g)
        total += len(g)
    return len(grams) / total if total else 0.0


def figures(items: Sequence[Item], checks: Mapping[str, LeakCheck] | None = None) -> dict[str, Any]:
    """Leak rates, label-style rate, masked distinct-3-gram ratio and masked skeletons per tool.

    Args:
        items: the requests (execution and clarification ones carry their tool).
        checks: leak checks by tool name (built from the items when absent).

    Returns:
        ``{"n", "name_leak", "label_leak", "desc_leak", "label_style", "iso_date", "masked_d3",
        "masked_d3_sample", "skeletons": {"mean", "min", "per_tool", "requests_per_tool"}}``; rates are shares
        of the requests with a tool, `masked_d3` is over `D3_SAMPLE` random requests of any behaviour (or
        all, when fewer).
    """
    checks = dict(checks or {})
    counts: Counter[str] = Counter()
    n = 0
    skeletons: dict[str, set[str]] = defaultdict(set)
    per_tool: Counter[str] = Counter()
    masked: dict[str, str] = {}  # each text masked once (skeletons and the 3-gram sample share most)
    for it in items:
        if it.tool is None:
            continue
        check = checks.get(it.tool)
        if check is None:
            check = checks[it.tool] = LeakCheck(it.tool, it.params, it.description)
        n += 1
        name, label, desc = check.flags(it.text)
        counts["name_leak"] += name
        counts["label_leak"] += label
        counts["desc_leak"] += desc
        counts["label_style"] += label_style(it.text)
        counts["iso_date"] += ISO_DATE.search(it.text) is not None
        m = masked.get(it.text)
        if m is None:
            m = masked[it.text] = mask(it.text)
        skeletons[it.tool].add(m)
        per_tool[it.tool] += 1
    texts = [it.text for it in items]  # all requests, refusals included, as the reference measure does
    pick = random.Random(0).sample(texts, D3_SAMPLE) if len(texts) > D3_SAMPLE else texts
    distinct = {tool: len(s) for tool, s in sorted(skeletons.items())}
    out: dict[str, Any] = {"n": n}
    out.update({k: round(counts[k] / n, 4) if n else None for k in FIGURES})
    out["masked_d3"] = round(distinct3([masked.get(t) or mask(t) for t in pick]), 4) if pick else None
    out["masked_d3_sample"] = len(pick)
    out["skeletons"] = {
        "mean": round(sum(distinct.values()) / len(distinct), 1) if distinct else None,
        "min": min(distinct.values()) if distinct else None,
        "per_tool": distinct,
        "requests_per_tool": dict(sorted(per_tool.items())),
    }
    return out


def items_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Item]:
    """Measure items from dataset rows (the JSON Lines records: prompt, tools, reward_model).

    Args:
        rows: parsed records.

    Returns:
        One item per row: the last user message, and the target tool for execution and clarification.
    """
    import json

    out = []
    for r in rows:
        users = [m for m in r.get("prompt") or [] if m.get("role") == "user"]
        if not users:
            continue
        text = users[-1].get("content") or ""
        gt = (r.get("reward_model") or {}).get("ground_truth") or {}
        if isinstance(gt, str):
            gt = json.loads(gt)
        tool = None
        if "tool_call" in gt:
            call = gt["tool_call"]
            tool = (call[0] if isinstance(call, list) else call).get("name")
        elif "tool_calls" in gt and gt["tool_calls"]:
            tool = gt["tool_calls"][0].get("name")
        elif "clarification" in gt:
            tool = gt["clarification"].get("tool")
        tools = {}
        for t in r.get("tools") or []:
            if isinstance(t, str):
                t = json.loads(t)
            fn = t.get("function", t)
            tools[fn.get("name")] = fn
        fn = tools.get(tool)
        if fn is None:
            out.append(Item(text))
            continue
        params = tuple((fn.get("parameters") or {}).get("properties", {}))
        out.append(Item(text, tool, params, fn.get("description", "")))
    return out


def report(fig: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The figures as (label, value) rows for the dataset card and ``toolforge data-stats``."""

    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{v:.2%}"

    sk = fig.get("skeletons") or {}
    rows = [
        ("requests measured (execution + clarification)", str(fig.get("n"))),
        ("names the target tool", pct(fig.get("name_leak"))),
        ("multi-word parameter name as words", pct(fig.get("label_leak"))),
        ("copies >= 5 words of the tool description", pct(fig.get("desc_leak"))),
        ('"x set to v" / "label: value" register', pct(fig.get("label_style"))),
        ("ISO date in the request", pct(fig.get("iso_date"))),
        (f"masked distinct-3-gram ratio ({fig.get('masked_d3_sample')} requests)",
         "n/a" if fig.get("masked_d3") is None else f"{fig['masked_d3']:.3f}"),
        ("distinct masked skeletons per tool (mean / min)", f"{sk.get('mean')} / {sk.get('min')}"),
    ]
    if "tools_without_frames" in fig:
        rows.append(("tools without hand-written frames", str(len(fig["tools_without_frames"]))))
    if "nll" in fig:  # `toolforge data-stats --nll-model` (training.evaluation.fluency)
        rows.append((f"mean per-token NLL ({fig['nll']['n']} requests, plain text)", str(fig["nll"]["token_nll"])))
    return rows


def load_items(path: str | Path) -> list[Item]:
    """The measured requests (`items_from_rows`) of a dataset folder (its ``samples.jsonl``) or a JSON Lines file.

    Raises:
        OSError: the file cannot be read.
        ValueError: a line is not a JSON object.
    """
    import orjson

    path = Path(path)
    file = path / "samples.jsonl" if path.is_dir() else path
    rows = []
    with open(file, "rb") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"line {i} is not JSON: {exc}") from exc
                if not isinstance(row, dict):
                    raise ValueError(f"line {i} is not a JSON object")
                rows.append(row)
    return items_from_rows(rows)


def load_figures(path: str | Path) -> dict[str, Any]:
    """`figures` of a dataset folder (its ``samples.jsonl``) or a JSON Lines file of records.

    A folder's ``stats.json``, when it lists the tools without hand-written frames, adds that list.

    Args:
        path: the folder or file.

    Returns:
        The figures.

    Raises:
        OSError: the file cannot be read.
        ValueError: a line is not a JSON object.
    """
    import orjson

    path = Path(path)
    out = figures(load_items(path))
    stats = path / "stats.json"
    if path.is_dir() and stats.is_file():
        known = (orjson.loads(stats.read_bytes()).get("realism") or {})
        if "tools_without_frames" in known:
            out["tools_without_frames"] = known["tools_without_frames"]
            if known.get("warning"):
                out["warning"] = known["warning"]
    return out
