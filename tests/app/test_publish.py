"""Publishing a generated version: the manifest handed over by the generator, each file hashed once."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from app.services.generation import publish_files
from app.storage import ArtifactStore
from generators.pipeline import generate_dataset
from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.spec import DatasetSpec


def test_the_handed_over_manifest_publishes_what_reading_it_back_did(tmp_path: Path) -> None:
    work = tmp_path / "work"
    generated = generate_dataset(load_registry(DEFAULT_TOOLS_DIR), DatasetSpec(name="pub", n=40, seed=2), work)
    copy = tmp_path / "copy"
    shutil.copytree(work, copy)
    store = ArtifactStore(str(tmp_path / "store"))
    handed = publish_files(work, store, generated)
    read_back = publish_files(copy, store)  # the old path: manifest.json re-read, every file hashed by the store
    assert handed == read_back
    # The digests reused from the generator are the files' real ones.
    for name, entry in handed["files"].items():
        assert hashlib.sha256((copy / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_put_file_with_a_known_digest(tmp_path: Path) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(b"toolforge" * 1000)
    store = ArtifactStore(str(tmp_path / "store"))
    hashed = store.put_file(source)
    given = store.put_file(source, hashed.sha256)
    assert given == hashed and store.exists(hashed.sha256)
