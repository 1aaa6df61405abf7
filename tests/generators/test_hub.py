"""Dataset folders load with `datasets.load_dataset(folder)`; JSON Lines and Parquet give the same features."""

from pathlib import Path

import orjson
import pytest

from generators.hub import card_yaml_header, features
from generators.pipeline import generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec

datasets = pytest.importorskip("datasets")


pytestmark = pytest.mark.usefixtures("hf_offline")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(load_registry(), DatasetSpec(name="hub", n=150, seed=2), out)
    # the card generators/export.py writes starts with the header (nothing added here)
    assert (out / "README.md").read_text(encoding="utf-8").startswith(card_yaml_header(pretty_name="hub"))
    return out


def test_a_folder_with_the_header_loads_as_one_dataset(folder, tmp_path):
    ds = datasets.load_dataset(str(folder), split="train", cache_dir=str(tmp_path / "c"))
    rows = [orjson.loads(line) for line in (folder / "samples.jsonl").read_bytes().splitlines()]
    assert len(ds) == len(rows) == 150  # manifest.json and stats.json are not read as rows
    assert ds.features == features()
    for i in (0, 7, 149):
        assert ds[i] == rows[i]


def test_jsonl_and_parquet_loads_have_the_same_features(folder, tmp_path):
    cache = str(tmp_path / "c")
    parquet = datasets.load_dataset("parquet", data_files=str(folder / "samples.parquet"), split="train",
                                    cache_dir=cache)
    jsonl = datasets.load_dataset("json", data_files=str(folder / "samples.jsonl"), split="train", cache_dir=cache,
                                  features=features())
    assert jsonl.features == parquet.features == features()
    both = datasets.concatenate_datasets([jsonl, parquet])
    assert len(both) == 300 and both[0] == both[150]


def test_header_lists_each_split():
    # two splits, each its own file; a name with a colon is quoted YAML
    header = card_yaml_header({"train": "train/samples.parquet", "test": "eval/samples.parquet"}, pretty_name="a: b")
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load(header.strip().strip("-"))
    assert doc == {"pretty_name": "a: b", "configs": [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train/samples.parquet"}, {"split": "test", "path": "eval/samples.parquet"}]}]}
