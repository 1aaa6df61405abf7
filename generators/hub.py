"""What makes a dataset folder loadable with ``datasets.load_dataset(folder)`` (the Hugging Face Hub layout).

The Hub loader reads the YAML front matter of ``README.md``; without a ``configs`` entry it takes every
data-like file of the folder (``manifest.json``, ``stats.json`` too) as rows and fails on mismatched
columns. `card_yaml_header` writes the entry that points at the samples only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def card_yaml_header(data_files: Mapping[str, str] | None = None, config_name: str = "default",
                     pretty_name: str | None = None) -> str:
    """The YAML front matter that makes ``datasets.load_dataset(folder)`` read only the samples.

    Without it the Hub loader treats every JSON file of the folder (``manifest.json``, ``stats.json``) as
    data and fails on mismatched columns. Put it at the very top of ``README.md``.

    Args:
        data_files: split -> file (default: ``{"train": "samples.parquet"}``; the Parquet and JSON Lines
            copies give the same rows, and Parquet loads without schema inference).
        config_name: the configuration name.
        pretty_name: the dataset's display name.

    Returns:
        The header, from ``---`` to ``---`` and a newline.

    >>> print(card_yaml_header(), end="")
    ---
    configs:
    - config_name: default
      data_files:
      - split: train
        path: samples.parquet
    ---
    """
    files = dict(data_files or {"train": "samples.parquet"})
    lines = ["---"]
    if pretty_name:
        lines.append(f"pretty_name: {json.dumps(pretty_name, ensure_ascii=False)}")
    lines += ["configs:", f"- config_name: {config_name}", "  data_files:"]
    for split, path in files.items():
        lines += [f"  - split: {split}", f"    path: {path}"]
    lines.append("---")
    return "\n".join(lines) + "\n"


def features() -> Any:
    """The ``datasets.Features`` of ToolForge samples, the same for the JSON Lines and the Parquet copy.

    ``load_dataset("parquet", ...)`` reads ``tools`` items and ``reward_model.ground_truth`` as ``Json``
    (the Arrow JSON extension type); ``load_dataset("json", ...)`` would infer structs from the rows it sees
    instead (so the two loads could not be concatenated). Pass these to the JSON load::

        load_dataset("json", data_files="samples.jsonl", features=features())

    Returns:
        The features, derived from the Parquet schema (needs ``datasets`` >= 4.7).
    """
    from datasets import Features

    from generators.export import PARQUET_SCHEMA

    return Features.from_arrow_schema(PARQUET_SCHEMA)
