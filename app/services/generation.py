"""Generation jobs: claimed by the API's dispatcher thread, run in a child process, published atomically.

The child (`python -m app.services.generation JOB_ID OWNER LIFELINE_FD`) owns the job's lease and
heartbeats it with its progress. It writes into a private work folder, copies every file into the
content-addressed store, and only then flips the version to `ready` in the same transaction as the job's
success. A child that dies stops heartbeating; the lease expires and the dispatcher queues the job again.

A child never outlives its API: it inherits the read end of a pipe (its lifeline) whose only write end
the API process holds. However the API ends (kill -9 included), the kernel closes that end, the child
reads EOF and kills its process group (itself and its generation workers), so the job is left exactly as
after a crash: running, its lease expiring, re-queued by the next dispatcher.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.errors import Conflict
from app.models import ToolVersion
from app.services import datasets as datasets_service
from app.services import jobs as jobs_service
from app.services.events import publish
from app.services.sample_index import build_index
from app.services.tools import registry_from_documents
from app.settings import Settings
from app.storage import ArtifactStore, StorageError
from generators.satisfiable import drop_ungeneratable

log = logging.getLogger("toolforge.generation")


class JobAborted(Exception):
    """The job was cancelled or its lease taken over; stop without publishing."""


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that gives a child process the same storage settings as the API."""
    return {
        **os.environ,
        "TOOLFORGE_DATA_DIR": str(settings.data_dir),
        "TOOLFORGE_DATABASE_URL": settings.resolved_database_url,
        "TOOLFORGE_ARTIFACT_URL": settings.resolved_artifact_url,
        "TOOLFORGE_GENERATION_WORKERS": str(settings.generation_workers),
        "TOOLFORGE_GENERATION_LEASE_SECONDS": str(settings.generation_lease_seconds),
        "TOOLFORGE_PARAPHRASE_KEY_ENVS": json.dumps(settings.paraphrase_key_envs),
        "TOOLFORGE_PARAPHRASE_BASE_URLS": json.dumps(settings.paraphrase_base_urls),
    }


class Dispatcher:
    """Claims queued generation jobs and runs each in a child process (one API may run several)."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], max_running: int = 2):
        self.settings = settings
        self.sessions = sessions
        self.max_running = max_running
        self.owner = f"api-{os.getpid()}-{id(self):x}"
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._lifelines: dict[str, int] = {}  # job id -> the write end of its child's lifeline pipe
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="generation-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a database blip must not kill the dispatcher
                log.exception("generation dispatcher tick failed")

    def tick(self) -> None:
        for job_id, child in list(self.children.items()):
            if child.poll() is not None:
                del self.children[job_id]
                os.close(self._lifelines.pop(job_id))
        if len(self.children) >= self.max_running:
            return
        with self.sessions() as session:
            job = jobs_service.claim_next(session, "generation", self.owner,
                                             self.settings.generation_lease_seconds)
        if job is None:
            return
        # os.pipe() is not inheritable: no other child of the API holds the write end open.
        read_end, write_end = os.pipe()
        cmd = [sys.executable, "-m", "app.services.generation", job.id, self.owner, str(read_end)]
        try:
            # Its own process group, so that on the API's death it can take its worker processes along.
            self.children[job.id] = subprocess.Popen(cmd, env=settings_env(self.settings), pass_fds=(read_end,),
                                                     process_group=0)
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._lifelines[job.id] = write_end


def watch_lifeline(fd: int, work: Path | None = None) -> threading.Thread:
    """Kill this process's group when `fd` (the read end of the API's lifeline pipe) reads EOF.

    Args:
        fd: the inherited read end; the API never writes to it, so a read returns only when it closes.
        work: the job's work folder, removed first (best effort: a re-run clears it anyway).

    Returns:
        The daemon thread that waits.
    """

    def wait() -> None:
        try:
            while os.read(fd, 1):
                pass  # nothing is ever written: only EOF (or an error) ends the wait
        except OSError:
            pass
        log.warning("the API process that started this generation job is gone; stopping (the job's lease "
                    "expires and the next API start re-queues it)")
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
        if os.getpgid(0) == os.getpid():  # the group the Dispatcher made: this process and its workers
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    thread = threading.Thread(target=wait, name="generation-lifeline", daemon=True)
    thread.start()
    return thread


def _tool_documents(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    rows = session.query(ToolVersion).filter(ToolVersion.id.in_(ids)).all()
    return [r.document for r in rows]


def run_job(job_id: str, owner: str, settings: Settings, sessions: sessionmaker[Session]) -> None:
    """Generate, store and publish one dataset version (the body of the child process)."""
    from generators.pipeline import generate_dataset
    from generators.spec import DatasetSpec

    work = settings.data_dir / "work" / job_id
    with sessions() as session:
        job = jobs_service.get_job(session, job_id)
        dataset_id = job.dataset_id
        payload = job.payload
        registry = registry_from_documents(_tool_documents(session, payload["tool_version_ids"]))
    spec = DatasetSpec.model_validate(payload["spec"])
    last = [0.0]
    started = time.monotonic()

    def progress(done: int, total: int, **info: Any) -> None:
        # `info` carries paraphrasing throughput (requests/s, tokens/s, acceptance) when it runs.
        moment = time.monotonic()
        if moment - last[0] < 0.5 and done < total:
            return
        last[0] = moment
        rate = done / max(moment - started, 1e-6)
        with sessions() as s:
            try:
                jobs_service.heartbeat(s, job_id, owner, settings.generation_lease_seconds, progress_done=done,
                                       progress_total=total, rate=rate, metrics=info or None)
            except Exception as exc:
                raise JobAborted(str(exc)) from exc

    # Progress heartbeats stop in the phases that report none (pools, Parquet, index, publishing), which
    # can outlast a lease on a busy machine or a large dataset: a thread keeps the lease alive meanwhile,
    # so a live job is never re-queued and run twice. It dies with the process, so a killed job's lease
    # still expires.
    done_beating = threading.Event()

    def keep_leased() -> None:
        lease = settings.generation_lease_seconds
        while not done_beating.wait(lease / 3):
            try:
                with sessions() as s:
                    jobs_service.heartbeat(s, job_id, owner, lease)
            except Conflict:
                return  # cancelled or taken over: `progress` and `finish` notice and stop
            except Exception:  # noqa: BLE001 - a database blip: try again at the next beat
                log.warning("generation job %s: lease heartbeat failed", job_id, exc_info=True)

    threading.Thread(target=keep_leased, name="generation-lease", daemon=True).start()
    try:
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        refused = settings.outbound_refusals(spec.paraphrase)  # queued before the operator narrowed the lists
        if refused:
            raise ValueError("; ".join(r.detail for r in refused))
        # A tool whose arguments cannot be generated (stored before registration checked it) is left out and
        # reported on the job, so it cannot fail every dataset; one the spec names fails this one, saying why.
        registry, skipped = drop_ungeneratable(registry)
        named = sorted(set(skipped) & set(spec.tools.names or ()))
        if named:
            raise ValueError("; ".join(f"tool {n!r} cannot be generated: {skipped[n]}" for n in named))
        if skipped:
            log.warning("generation job %s: tools left out: %s", job_id, skipped)
        progress(0, spec.n)
        generated = generate_dataset(registry, spec, work, progress=progress, workers=settings.generation_workers,
                                     paraphrase_cache=settings.data_dir / "paraphrase-cache.sqlite")
        manifest = publish_files(work, ArtifactStore(settings.resolved_artifact_url), generated)
        with sessions() as session:
            if not jobs_service.finish(session, job_id, owner, "succeeded"):
                session.rollback()
                raise JobAborted("job no longer leased to this process")
            datasets_service.mark_ready(session, dataset_id, manifest, skipped_tools=skipped)
            if skipped:
                finished = jobs_service.get_job(session, job_id)
                finished.metrics = {**(finished.metrics or {}), "skipped_tools": skipped}
            train = payload.get("train")
            if train:
                jobs_service.create_job(session, "training", {"config": train}, dataset_id)
            session.commit()
    except JobAborted as exc:
        log.warning("generation job %s aborted: %s", job_id, exc)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job, never lost
        reason = str(exc) if isinstance(exc, StorageError | ValueError) else f"{type(exc).__name__}: {exc}"
        log.error("generation job %s failed: %s\n%s", job_id, reason, traceback.format_exc())
        with sessions() as session:
            if jobs_service.finish(session, job_id, owner, "failed", error=reason):
                version = datasets_service.get_dataset(session, dataset_id)
                version.status, version.error = "failed", reason
                publish(session, "dataset.failed", dataset_id, {"error": reason})
            session.commit()
    finally:
        done_beating.set()
        shutil.rmtree(work, ignore_errors=True)


def publish_files(work: Path, store: ArtifactStore, generated: dict[str, Any] | None = None) -> dict[str, Any]:
    """Index the samples, copy every file into the store, and return the version's manifest.

    Args:
        work: the generator's output folder.
        store: the artifact store.
        generated: the manifest ``generate_dataset`` returned; its files' sha256 are reused, so each file
            is hashed once. None: read back from ``manifest.json`` (and every file hashed while stored).
    """
    import orjson

    samples = sorted(work.glob("*.jsonl"))
    if len(samples) != 1:
        raise RuntimeError(f"expected one .jsonl file in the generator output, found {len(samples)}")
    build_index(samples[0], work / datasets_service.INDEX_FILE)
    if generated is None:
        manifest_file = work / "manifest.json"
        generated = orjson.loads(manifest_file.read_bytes()) if manifest_file.exists() else {}
    else:  # the same document manifest.json holds (its key order too: written sorted)
        generated = orjson.loads(orjson.dumps(generated, option=orjson.OPT_SORT_KEYS))
    known = {name: entry.get("sha256") for name, entry in generated.get("files", {}).items()}
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in work.iterdir() if p.is_file()):
        stored = store.put_file(path, known.get(path.name))
        files[path.name] = {"sha256": stored.sha256, "size": stored.size, "uri": stored.uri}
    generator_manifest = generated
    return {"files": files, "samples_file": samples[0].name, "counts": generator_manifest.get("counts", {}),
            "generator": generator_manifest}


def main(argv: list[str]) -> int:
    from app.db import make_engine, make_sessionmaker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    job_id, owner = argv[1], argv[2]
    settings = Settings()
    if len(argv) > 3:  # started by a Dispatcher (not by hand, to debug a job)
        watch_lifeline(int(argv[3]), settings.data_dir / "work" / job_id)
    engine = make_engine(settings.resolved_database_url)
    run_job(job_id, owner, settings, make_sessionmaker(engine))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
