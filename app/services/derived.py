"""Derived dataset versions: rollouts and preference pairs uploaded by workers, and the lineage across them.

A worker uploads a tar archive holding ``<kind>.jsonl`` (one row a line), optional PNG charts and an
optional ``meta.json`` (what made the rows: job, settings). The service checks every row, builds the
sample index (rows index by behaviour, tool, step, reward...), writes ``stats.json`` and a card, copies
every file into the content-addressed store and only then inserts the version, ready, in one
transaction: a reader never sees a half-published derived version. The same upload again returns the
same version.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.api_models import DatasetPublic
from app.errors import Conflict, InvalidInput
from app.models import DatasetVersion, Job, ModelVersion, now
from app.services import datasets as datasets_service
from app.services.events import publish
from app.services.sample_index import build_index
from app.storage import ArtifactStore
from generators.records import file_sha256
from training.derived import preferences, rollouts

UPLOAD_PATH = re.compile(r"^/v1/datasets/[^/]+/derived$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RESERVED = {"README.md", "stats.json", "manifest.json", datasets_service.INDEX_FILE}
MAX_CHARTS = 4
MAX_META_BYTES = 64 * 1024
MAX_ERRORS = 5


@dataclass(frozen=True)
class DerivedKind:
    """How one kind of derived version is checked, indexed, summarised and described."""

    rows_file: str
    parents: tuple[str, ...]
    validate: Callable[[Any], str | None]
    index_keys: Callable[[dict[str, Any]], list[str]]
    stats: Callable[[Iterator[dict[str, Any]]], dict[str, Any]]


KINDS = {
    "rollouts": DerivedKind(rollouts.ROLLOUTS_FILE, ("samples",), rollouts.validate_row, rollouts.index_keys,
                            rollouts.rollout_stats),
    "preferences": DerivedKind(preferences.PREFERENCES_FILE, ("samples", "rollouts"), preferences.validate_row,
                               preferences.index_keys, preferences.preference_stats),
}


def _unpack(archive: Path, into: Path) -> dict[str, Path]:
    """Extract the regular files of a tar archive (flat, safe names only) into `into`."""
    files: dict[str, Path] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile():
                    raise InvalidInput(f"archive member {member.name!r} is not a regular file; send plain files")
                if not _FILE_NAME.match(member.name) or member.name in RESERVED:
                    raise InvalidInput(f"archive member {member.name!r}: use a plain file name (letters, digits, "
                                       f"'.', '_', '-'), not one of {', '.join(sorted(RESERVED))}")
                if member.name in files:
                    raise InvalidInput(f"archive member {member.name!r} appears twice")
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has a body
                with source, open(into / member.name, "wb") as out:
                    shutil.copyfileobj(source, out)
                files[member.name] = into / member.name
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidInput(f"the body must be a tar archive (Content-Type: application/x-tar): {exc}") from exc
    return files


def _rows(path: Path, validate: Callable[[Any], str | None]) -> Iterator[dict[str, Any]]:
    """Decode and check every row; the first few problems are reported together, by line number."""
    problems: list[str] = []
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problem: str | None = f"not JSON ({exc})"
            else:
                problem = validate(row)
            if problem:
                problems.append(f"line {number}: {problem}")
                if len(problems) >= MAX_ERRORS:
                    break
                continue
            yield row
    if problems:
        raise InvalidInput(f"{path.name} has invalid rows: {'; '.join(problems)}")


def _check_files(kind: str, files: dict[str, Path]) -> tuple[Path, list[Path], dict[str, Any]]:
    spec = KINDS[kind]
    if spec.rows_file not in files:
        raise InvalidInput(f"a {kind} upload needs {spec.rows_file} in the archive; it has "
                           f"{', '.join(sorted(files)) or 'nothing'}")
    charts = [p for n, p in sorted(files.items()) if n.endswith(".png")]
    if len(charts) > MAX_CHARTS:
        raise InvalidInput(f"at most {MAX_CHARTS} PNG charts per upload, got {len(charts)}")
    for chart in charts:
        with open(chart, "rb") as fh:
            if fh.read(len(_PNG_MAGIC)) != _PNG_MAGIC:
                raise InvalidInput(f"{chart.name} is not a PNG image")
    meta: dict[str, Any] = {}
    if "meta.json" in files:
        raw = files["meta.json"].read_bytes()
        try:
            meta = orjson.loads(raw) if len(raw) <= MAX_META_BYTES else None
        except orjson.JSONDecodeError:
            meta = None  # type: ignore[assignment]
        if not isinstance(meta, dict):
            raise InvalidInput(f"meta.json must be a JSON object of at most {MAX_META_BYTES} bytes")
    unknown = sorted(set(files) - {spec.rows_file, "meta.json"} - {c.name for c in charts})
    if unknown:
        raise InvalidInput(f"unexpected file(s) {', '.join(unknown)}: send {spec.rows_file}, PNG charts and "
                           "meta.json only")
    return files[spec.rows_file], charts, meta


def create_derived(sessions: sessionmaker[Session], store: ArtifactStore, parent_id: str, kind: str, name: str,
                   archive: Path, work: Path, base_url: str = "") -> tuple[DatasetPublic, bool]:
    """Publish an uploaded derived version of `parent_id` (or find the identical one already published).

    Args:
        sessions: the session factory.
        store: the artifact store.
        parent_id: the dataset version the rows were derived from (must be ready).
        kind: ``rollouts`` or ``preferences``.
        name: the new version's name.
        archive: the uploaded tar file.
        work: a private scratch folder (removed by the caller).
        base_url: the service root for file URLs.

    Returns:
        The version and whether it was created (False: the same upload was published before).

    Raises:
        InvalidInput: a bad archive, a missing file, an invalid row (reported by line number).
        Conflict: the parent is not ready, or not a kind this one derives from.
    """
    spec = KINDS.get(kind)
    if spec is None:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    with sessions() as session:
        parent = datasets_service.get_dataset(session, parent_id)
        if parent.status != "ready":
            raise Conflict(f"dataset {parent_id} is {parent.status}; derive from a ready version")
        if parent.kind not in spec.parents:
            raise Conflict(f"a {kind} version derives from a {' or '.join(spec.parents)} version; "
                           f"{parent_id} is {parent.kind}")
        registry_digest = parent.registry_digest
    inbox, out = work / "in", work / "out"
    inbox.mkdir(parents=True)
    out.mkdir()
    rows_path, charts, meta = _check_files(kind, _unpack(archive, inbox))
    stats = spec.stats(_rows(rows_path, spec.validate))
    if not stats["rows"]:
        raise InvalidInput(f"{rows_path.name} has no rows")
    key = hashlib.sha256(orjson.dumps(
        {"kind": kind, "parent": parent_id, "name": name, "meta": meta,
         "files": {p.name: file_sha256(p) for p in (rows_path, *charts)}}, option=orjson.OPT_SORT_KEYS)).hexdigest()
    version_id = f"ds_{key[:24]}"
    with sessions() as session:
        existing = session.scalar(select(DatasetVersion).where(DatasetVersion.content_key == key))
        if existing is not None:
            return datasets_service.to_public(session, existing, base_url), False

    for path in (rows_path, *charts):
        shutil.move(path, out / path.name)
    build_index(out / rows_path.name, out / datasets_service.INDEX_FILE, keys_of=spec.index_keys)
    (out / "stats.json").write_bytes(orjson.dumps(stats, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    if kind == "rollouts":
        chart = f"/v1/datasets/{version_id}/files/{charts[0].name}" if charts else None
        card = rollouts.render_card(stats, version_id=version_id, name=name, parent_id=parent_id, meta=meta,
                                    chart_url=chart)
    else:
        card = preferences.render_card(stats, version_id=version_id, name=name, parent_id=parent_id, meta=meta)
    (out / "README.md").write_text(card, encoding="utf-8")
    files = {}
    for path in sorted(out.iterdir()):
        stored = store.put_file(path)
        files[path.name] = {"sha256": stored.sha256, "size": stored.size, "uri": stored.uri}
    counts = {k: int(v) for k, v in stats.items() if isinstance(v, int)}
    counts |= {b: int(v["rows"] if isinstance(v, dict) else v) for b, v in stats["per_behavior"].items()}
    manifest = {"files": files, "samples_file": rows_path.name, "counts": counts, "kind": kind,
                "parent_id": parent_id, "meta": meta}
    version = DatasetVersion(id=version_id, name=name, kind=kind, content_key=key, status="ready",
                             spec={"kind": kind, "parent_id": parent_id, "meta": meta},
                             registry_digest=registry_digest, manifest=manifest, parent_id=parent_id, ready_at=now())
    with sessions() as session:
        session.add(version)
        try:
            session.flush()
        except IntegrityError:
            # The same upload, published concurrently: answer with that one.
            session.rollback()
            existing = session.scalars(select(DatasetVersion).where(DatasetVersion.content_key == key)).one()
            return datasets_service.to_public(session, existing, base_url), False
        publish(session, "dataset.ready", version_id, {"name": name, "kind": kind, "parent_id": parent_id,
                                                       "counts": counts})
        session.commit()
        return datasets_service.to_public(session, version, base_url), True


# --- lineage ------------------------------------------------------------------------------------------


def _source_job(version: DatasetVersion) -> str | None:
    job_id = ((version.spec or {}).get("meta") or {}).get("job_id")
    return job_id if isinstance(job_id, str) else None


def ancestors(session: Session, dataset_id: str | None) -> list[DatasetVersion]:
    """The parent chain of a dataset version, nearest first (not including itself)."""
    out: list[DatasetVersion] = []
    seen = {dataset_id}
    current = session.get(DatasetVersion, dataset_id) if dataset_id else None
    while current is not None and current.parent_id and current.parent_id not in seen:
        seen.add(current.parent_id)
        current = session.get(DatasetVersion, current.parent_id)
        if current is not None:
            out.append(current)
    return out


def lineage_of(session: Session, model: ModelVersion) -> dict[str, list[Any]]:
    """The derived-data lineage around a model version.

    Returns:
        ``{"ancestors": [the training dataset's parent chain], "derived": [versions made from this model's
        job (its rollouts) and everything derived from them], "upstream_models": [models whose jobs made
        the rollouts this model trained on], "downstream_models": [models trained on `derived`]}``.
    """
    chain = ancestors(session, model.dataset_id)
    own = session.get(DatasetVersion, model.dataset_id) if model.dataset_id else None
    upstream: list[ModelVersion] = []
    for version in ([own] if own is not None else []) + chain:
        job = session.get(Job, _source_job(version)) if version.kind == "rollouts" and _source_job(version) else None
        found = session.get(ModelVersion, job.model_id) if job is not None and job.model_id else None
        if found is not None and found.id != model.id:
            upstream.append(found)
    derived: list[DatasetVersion] = []
    if model.job_id and model.dataset_id:
        frontier = [v for v in session.scalars(select(DatasetVersion).where(
            DatasetVersion.parent_id == model.dataset_id, DatasetVersion.kind == "rollouts"))
            if _source_job(v) == model.job_id]
        while frontier and len(derived) < 1000:
            derived += frontier
            frontier = list(session.scalars(select(DatasetVersion).where(
                DatasetVersion.parent_id.in_([v.id for v in frontier])).order_by(DatasetVersion.created_at)))
    downstream = list(session.scalars(select(ModelVersion).where(
        ModelVersion.dataset_id.in_([v.id for v in derived])).order_by(ModelVersion.created_at))) if derived else []
    return {"ancestors": chain, "derived": derived, "upstream_models": upstream, "downstream_models": downstream}
