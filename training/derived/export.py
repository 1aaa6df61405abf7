"""Files of an export (`training.derived.formats` does the conversion): read rows, write records, measure prompts.

An export folder holds::

    train.jsonl | train.parquet   the consumer's records (verl: Parquet; the others: JSON Lines)
    metadata.jsonl                chat formats: {behavior, reward_model, extra_info} per line, same order
    export.json                   format, template, source, counts, prompt-length percentiles, sha256 of files
    README.md                     how to load it (verl: the config snippet with the measured max_prompt_length)

Rows stream through: one row in memory at a time (verl: one row group of `batch_rows`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from generators.prompt_lengths import prompt_length_stats
from training.derived.formats import (
    DEFAULT_TEMPLATE,
    FORMATS,
    TEMPLATES,
    Format,
    FormatError,
    Template,
    export_rows,
    prompt_messages,
)

RECORDS = {"verl": "train.parquet"}
LengthFn = Callable[[Mapping[str, Any]], int]


def source_file(path: Path) -> Path:
    """The samples file of a dataset folder, or the file itself.

    Raises:
        FormatError: nothing to read at `path`.
    """
    if path.is_dir():
        for name in ("samples.jsonl", "samples.parquet"):
            if (path / name).is_file():
                return path / name
        raise FormatError(f"{path} holds no samples.jsonl or samples.parquet")
    if path.is_file() and path.suffix in (".jsonl", ".parquet"):
        return path
    raise FormatError(f"{path} is not a dataset folder, .jsonl or .parquet file")


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Stream the ToolForge rows of a dataset folder, JSON Lines or Parquet file, as JSON Lines objects.

    Parquet's JSON-typed cells (``tools`` items, ``reward_model.ground_truth``) are decoded, so both files
    give the same rows.

    Raises:
        FormatError: a line that is not JSON.
    """
    file = source_file(path)
    if file.suffix == ".jsonl":
        with file.open("rb") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        yield orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        raise FormatError(f"{file}:{number}: not JSON ({exc})") from exc
        return
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(file).iter_batches(batch_size=1000):
        for row in batch.to_pylist():
            row["tools"] = [json.loads(t) if isinstance(t, str) else t for t in row["tools"]]
            gt = row["reward_model"]["ground_truth"]
            row["reward_model"]["ground_truth"] = json.loads(gt) if isinstance(gt, str) else gt
            yield row


def character_length(row: Mapping[str, Any]) -> int:
    """The prompt's length in characters (system and user text), when no tokenizer is given."""
    return sum(len(m["content"]) for m in row["prompt"])


def token_length(tokenizer_path: str | Path, template: Template) -> LengthFn:
    """A function giving a row's prompt length in tokens, rendered as the consumer renders it.

    Args:
        tokenizer_path: a local model or tokenizer folder with a chat template.
        template: ``native`` renders the stripped system message with ``tools=``; ``qwen2_5`` the baked text.

    Returns:
        ``row -> number of prompt tokens`` (with the generation prompt).
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path))

    def length(row: Mapping[str, Any]) -> int:
        tools = row["tools"] if template == "native" else None
        text = tokenizer.apply_chat_template(prompt_messages(row, template), tools=tools, add_generation_prompt=True,
                                             tokenize=False)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return length


class _Sink:
    """A file written line by line (or by pyarrow) while its sha256 is kept."""

    def __init__(self, path: Path):
        self.path, self.sha, self.size = path, hashlib.sha256(), 0
        self.fh = path.open("wb")

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.fh.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()

    @property
    def closed(self) -> bool:
        return self.fh.closed

    def entry(self) -> dict[str, Any]:
        return {"name": self.path.name, "sha256": self.sha.hexdigest(), "size": self.size}


class _ParquetRecords:
    """verl rows as row groups; the schema is fixed by the first group (later ones are cast to it)."""

    def __init__(self, sink: _Sink, batch_rows: int):
        self.sink, self.batch_rows = sink, batch_rows
        self.rows: list[dict[str, Any]] = []
        self.writer: Any = None

    def add(self, record: dict[str, Any]) -> None:
        self.rows.append(record)
        if len(self.rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.rows:
            return
        if self.writer is None:
            table = pa.Table.from_pylist(self.rows)
            self.writer = pq.ParquetWriter(self.sink, table.schema, compression="zstd")
        else:
            table = pa.Table.from_pylist(self.rows, schema=self.writer.schema)
        self.writer.write_table(table)
        self.rows = []

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()


def export_dataset(
    source: Path,
    out: Path,
    fmt: Format,
    template: Template | None = None,
    tokenizer: str | Path | None = None,
    batch_rows: int = 1000,
) -> dict[str, Any]:
    """Convert a ToolForge dataset into `fmt` under `out` (absent or empty), streaming.

    Args:
        source: a dataset folder, ``samples.jsonl`` or ``samples.parquet``.
        out: the export folder.
        fmt: ``openai``, ``trl-sft``, ``verl`` or ``sharegpt``.
        template: ``native`` or ``qwen2_5`` (default: the format's, see `DEFAULT_TEMPLATE`).
        tokenizer: a local tokenizer folder to measure prompts in tokens (else in characters).
        batch_rows: rows per Parquet row group (verl).

    Returns:
        The ``export.json`` document.

    Raises:
        FormatError: a bad argument, a non-empty `out`, or a row that cannot be converted losslessly.
    """
    if fmt not in FORMATS:
        raise FormatError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    template = template or DEFAULT_TEMPLATE[fmt]
    if template not in TEMPLATES:
        raise FormatError(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    if fmt == "verl" and template == "native":
        raise FormatError("verl renders only the prompt column, so the tools must stay in it: "
                          "use --template qwen2_5 for verl")
    file = source_file(source)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FormatError(f"{out} is not an empty folder; choose a new one (exports are never overwritten)")
    length: LengthFn = token_length(tokenizer, template) if tokenizer else character_length
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FormatError(f"cannot create {out}: {exc.strerror or exc}") from exc

    records = _Sink(out / RECORDS.get(fmt, "train.jsonl"))
    meta = None if fmt == "verl" else _Sink(out / "metadata.jsonl")
    parquet = _ParquetRecords(records, batch_rows) if fmt == "verl" else None
    lengths: list[int] = []
    behaviours: Counter[str] = Counter()
    rows = read_rows(file)

    def measured() -> Iterator[dict[str, Any]]:
        for row in rows:
            lengths.append(length(row))
            behaviours[row.get("behavior", "?")] += 1
            yield row

    written = 0
    try:
        for record, line in export_rows(measured(), fmt, template):
            written += 1
            if parquet is not None:
                parquet.add(record)
            else:
                records.write(orjson.dumps(record) + b"\n")
            if meta is not None and line is not None:
                meta.write(orjson.dumps(line) + b"\n")
        if parquet is not None:
            parquet.close()
    except FormatError as exc:
        raise FormatError(f"row {len(lengths) - 1}: {exc}") from exc
    finally:
        records.close()
        if meta is not None:
            meta.close()
    doc = {
        "format": fmt,
        "template": template,
        "source": str(file),
        "n": written,
        "behaviours": dict(sorted(behaviours.items())),
        "left_out": {"direct (no reference answer; verl keeps them)": len(lengths) - written}
        if written != len(lengths) else {},
        "prompt_length": prompt_length_stats(lengths, "tokens" if tokenizer else "characters",
                                             str(tokenizer) if tokenizer else "characters"),
        "files": [s.entry() for s in (records, meta) if s is not None],
    }
    (out / "export.json").write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    (out / "README.md").write_text(export_readme(doc), encoding="utf-8")
    return doc


def verl_config(doc: Mapping[str, Any], reward_path: str = "training/rewards/verl_reward.py") -> str:
    """The verl (``ppo_trainer``) overrides for this export, with ``max_prompt_length`` from the measured prompts."""
    stats = doc["prompt_length"]
    max_len = stats.get("recommended_max_prompt_length") or 4096
    return "\n".join([
        "python3 -m verl.trainer.main_ppo \\",
        "  algorithm.adv_estimator=grpo \\",
        "  data.train_files=train.parquet \\",
        "  data.prompt_key=prompt \\",
        f"  data.max_prompt_length={max_len} \\",
        "  data.max_response_length=256 \\",
        "  data.filter_overlong_prompts=True \\",
        "  data.truncation=error \\",
        f"  custom_reward_function.path={reward_path} \\",
        "  custom_reward_function.name=compute_score",
    ])


def export_readme(doc: Mapping[str, Any]) -> str:
    """The export folder's README: what the files are and how the consumer loads them."""
    stats = doc["prompt_length"]
    pct = ", ".join(f"{k} {v}" for k, v in stats["percentiles"].items())
    lines = [
        f"# ToolForge export: {doc['format']} ({doc['template']} template)",
        "",
        f"{doc['n']} rows from `{doc['source']}`; behaviours {doc['behaviours']}.",
        f"Prompt length ({stats['unit']}, {stats['measured_with']}): {pct}.",
        "",
    ]
    if doc["format"] == "verl":
        lines += ["Train with verl (GRPO), rewards by ToolForge's scorer:", "", "```bash", verl_config(doc), "```",
                  "", "Measure with your model's tokenizer (`toolforge export ... --tokenizer MODEL`) for an exact "
                  "`max_prompt_length`."]
    elif doc["format"] == "trl-sft":
        lines += ["```python", "from datasets import load_dataset", "from trl import SFTTrainer",
                  'ds = load_dataset("json", data_files="train.jsonl", split="train")',
                  "SFTTrainer(model=..., train_dataset=ds).train()", "```"]
    elif doc["format"] == "openai":
        lines += ["`train.jsonl` is an OpenAI chat fine-tuning file (upload it as is)."]
    else:
        lines += ["`train.jsonl` is LLaMA-Factory's sharegpt format: columns messages=conversations, "
                  "system=system, tools=tools."]
    lines += ["", "`metadata.jsonl` (chat formats) keeps each row's behaviour, ground truth and ids, line by line.", ""]
    return "\n".join(lines)
