"""Faults: the API killed mid-generation, an artifact store that cannot be written, PostgreSQL restarted
under load. Nothing is lost, nothing half-written is published.

(A training worker killed mid-job is covered by tests/training/test_worker_e2e.py.)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LEASE = "10"  # seconds: a killed job is retried 10 s after its last heartbeat (a child must start within it)
KILL_N = 6000  # samples: generation runs for a few seconds, long enough to be killed mid-way


def _start(data_dir: Path, database_url: str, admin_key: str, extra_env: dict[str, str]) -> tuple[str, Any]:
    """Start uvicorn in its own process group, so a SIGKILL to the group takes its generation child too."""
    env = {**os.environ, "TOOLFORGE_DATA_DIR": str(data_dir), "TOOLFORGE_DATABASE_URL": database_url,
           "TOOLFORGE_ARTIFACT_URL": "", "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas"),
           "TOOLFORGE_BOOTSTRAP_ADMIN_KEY": admin_key, **extra_env}
    for _attempt in range(3):
        with __import__("socket").socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        log = open(data_dir / f"uvicorn-{port}.log", "wb")  # noqa: SIM115 - the process owns it
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    return url, process
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        _kill_group(process)
    raise RuntimeError(f"uvicorn did not start: {(data_dir / f'uvicorn-{port}.log').read_text()[-3000:]}")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def _assert_files_match_manifest(client: httpx.Client, dataset: dict[str, Any]) -> None:
    """Every file of a ready version downloads whole, and its bytes hash to the manifest's sha256."""
    assert dataset["status"] == "ready" and dataset["files"], dataset
    assert {"samples.jsonl", "samples.parquet", "stats.json", "README.md"} <= {f["name"] for f in dataset["files"]}
    for entry in dataset["files"]:
        response = client.get(f"/v1/datasets/{dataset['id']}/files/{entry['name']}")
        assert response.status_code == 200, response.text[:300]
        assert hashlib.sha256(response.content).hexdigest() == entry["sha256"] == \
            response.headers["x-checksum-sha256"], entry["name"]
        assert len(response.content) == entry["size"]


def test_api_killed_mid_generation_is_retried_to_a_complete_version(database_url, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    admin = "tf-test-admin-" + secrets.token_hex(16)
    env = {"TOOLFORGE_GENERATION_LEASE_SECONDS": LEASE}
    url, process = _start(data, database_url, admin, env)
    auth = {"Authorization": f"Bearer {admin}"}
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            created = client.post("/v1/datasets", json={"name": "killed", "n": KILL_N, "seed": 5}, headers=auth)
            assert created.status_code == 202, created.text
            dataset_id, job_id = created.json()["id"], created.json()["job_id"]
            job = _wait(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["progress_done"] > 0 and j,
                        60, "generation to start")
            assert job["status"] == "running" and job["progress_done"] < KILL_N, job
    finally:
        _kill_group(process)  # the API and its generation child, mid-job
    # Restarted: the dispatcher re-queues the job once its lease (10 s) has expired, and runs it again.
    url, process = _start(data, database_url, admin, env)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            seen_statuses: Counter[str] = Counter()

            def finished() -> dict[str, Any] | None:
                dataset = client.get(f"/v1/datasets/{dataset_id}").json()
                seen_statuses[dataset["status"]] += 1
                if dataset["status"] == "ready":
                    return dataset
                assert dataset["status"] == "pending" and dataset["files"] == [], dataset
                return None

            dataset = _wait(finished, 120, "the re-queued job to publish the version")
            job = client.get(f"/v1/jobs/{job_id}").json()
            assert job["status"] == "succeeded" and job["attempts"] == 2, job
            assert dataset["counts"] and sum(dataset["counts"].values()) == KILL_N
            _assert_files_match_manifest(client, dataset)
            # the same spec and seed is the same version, not a second one
            again = client.post("/v1/datasets", json={"name": "killed", "n": KILL_N, "seed": 5}, headers=auth)
            assert again.status_code == 200 and again.json()["id"] == dataset_id
    finally:
        _kill_group(process)


def _live_processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process that is not a zombie (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if fields[0] not in ("Z", "X"):  # a zombie waits for whoever adopted it to reap it: it runs nothing
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from Linux /proc")
def test_a_killed_apis_generation_child_and_its_workers_stop(database_url, tmp_path):
    # Only the API is killed (not its process group, as above): its generation child, and that child's
    # worker processes, notice on their own and stop within seconds; the next API start recovers the job.
    data = tmp_path / "data"
    data.mkdir()
    admin = "tf-test-admin-" + secrets.token_hex(16)
    env = {"TOOLFORGE_GENERATION_LEASE_SECONDS": LEASE, "TOOLFORGE_GENERATION_WORKERS": "2"}
    url, process = _start(data, database_url, admin, env)
    auth = {"Authorization": f"Bearer {admin}"}
    group: dict[int, str] = {}
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            created = client.post("/v1/datasets", json={"name": "orphan", "n": KILL_N, "seed": 6}, headers=auth)
            assert created.status_code == 202, created.text
            dataset_id, job_id = created.json()["id"], created.json()["job_id"]
            _wait(lambda: client.get(f"/v1/jobs/{job_id}").json()["progress_done"] > 0, 60, "generation to start")
        children = [pid for pid, (_, cmd) in _live_processes().items()
                    if "app.services.generation" in cmd and job_id in cmd]
        assert len(children) == 1, children
        child = children[0]
        live = _live_processes()
        group = {child: live[child][1]}
        while added := {p: cmd for p, (ppid, cmd) in live.items() if ppid in group and p not in group}:
            group.update(added)  # the child's descendants: its generation workers
        assert len(group) >= 2, f"expected the child and its generation workers: {group}"
        os.kill(process.pid, signal.SIGKILL)  # the API alone
        process.wait()
        _wait(lambda: not set(group) & set(_live_processes()), 5, f"the orphaned generation processes {group} "
              "to stop")
    finally:
        _kill_group(process)
        for pid in group:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    url, process = _start(data, database_url, admin, env)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            job = _wait(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["status"] in
                        ("succeeded", "failed") and j, 120, "the re-queued job to end")
            assert job["status"] == "succeeded" and job["attempts"] == 2, job
            dataset = client.get(f"/v1/datasets/{dataset_id}").json()
            assert sum(dataset["counts"].values()) == KILL_N
            _assert_files_match_manifest(client, dataset)
    finally:
        _kill_group(process)


def _failing_store_run(tmp_path: Path, artifact_url: str, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    data = tmp_path / "data"
    data.mkdir()
    admin = "tf-test-admin-" + secrets.token_hex(16)
    url, process = _start(data, f"sqlite:///{data / 'toolforge.db'}", admin, {"TOOLFORGE_ARTIFACT_URL": artifact_url})
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            created = client.post("/v1/datasets", json={"name": "no-space", "n": n, "seed": 2},
                                  headers={"Authorization": f"Bearer {admin}"})
            assert created.status_code == 202, created.text
            job_id = created.json()["job_id"]
            job = _wait(lambda: (j := client.get(f"/v1/jobs/{job_id}").json())["status"] in
                        ("succeeded", "failed") and j, 60, "the job to end")
            dataset = client.get(f"/v1/datasets/{created.json()['id']}").json()
            # nothing of it can be read
            files = client.get(f"/v1/datasets/{dataset['id']}/files/samples.jsonl")
            assert files.status_code == 409 and files.json()["type"] == "conflict"
            assert client.get("/healthz").status_code == 200
            return job, dataset
    finally:
        _kill_group(process)


def test_artifact_root_that_cannot_be_created_fails_the_job_cleanly(tmp_path):
    # Root ignores permissions, so a read-only folder would not fail here; a path through a regular
    # file fails for everyone (NotADirectoryError).
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    job, dataset = _failing_store_run(tmp_path, str(blocker / "artifacts"), 50)
    assert job["status"] == "failed", job
    assert "cannot write to the artifact store" in job["error"], job["error"]
    assert dataset["status"] == "failed" and dataset["files"] == [] and dataset["error"] == job["error"]


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs: room for the small files of a version, not for its samples."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if not shutil.which("mount"):
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_mid_publish_fails_the_job_and_publishes_nothing(tmp_path, tiny_filesystem):
    job, dataset = _failing_store_run(tmp_path, str(tiny_filesystem / "artifacts"), 1500)
    assert job["status"] == "failed", job
    assert "No space left on device" in job["error"] and "artifact store" in job["error"], job["error"]
    assert dataset["status"] == "failed" and dataset["files"] == []
    # the store's temporary folder holds no half-written object
    assert list((tiny_filesystem / "artifacts" / "tmp").iterdir()) == []


PG_RESTART_ENV = "TOOLFORGE_TEST_PG_RESTART"
PG_CTL = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]


def test_postgresql_restarted_under_load_gives_503_then_recovers(tmp_path):
    if os.environ.get(PG_RESTART_ENV) != "1":
        pytest.skip(f"restarts the shared PostgreSQL server; set {PG_RESTART_ENV}=1 (CI does) to run it")
    base = os.environ.get("TOOLFORGE_TEST_DATABASE_URL")
    if not base or not shutil.which("pg_ctlcluster"):
        pytest.skip("needs TOOLFORGE_TEST_DATABASE_URL and a local PostgreSQL 15 (pg_ctlcluster)")
    app_fixtures = sys.modules["toolforge_tests_app_conftest"]  # loaded by this folder's conftest
    databases = app_fixtures._pg_database(base)
    database_url = next(databases)
    data = tmp_path / "data"
    data.mkdir()
    admin = "tf-test-admin-" + secrets.token_hex(16)
    url, process = _start(data, database_url, admin, {})
    statuses: list[tuple[float, int, str]] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                response = client.get("/v1/datasets")
                statuses.append((time.monotonic(), response.status_code, response.text[:200]))
                time.sleep(0.02)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        time.sleep(0.5)
        subprocess.run([*PG_CTL, "stop", "-m", "fast"], check=True, capture_output=True)
        stopped_at = time.monotonic()
        _wait(lambda: any(s == 503 for t, s, _ in statuses if t > stopped_at), 20, "a 503 while PostgreSQL is down")
        time.sleep(1.0)
    finally:
        subprocess.run([*PG_CTL, "start"], check=True, capture_output=True)
    try:
        started_at = time.monotonic()
        _wait(lambda: any(s == 200 for t, s, _ in statuses if t > started_at + 0.1), 30,
              "a 200 after PostgreSQL is back")
        time.sleep(0.5)
        stop.set()
        thread.join()
        down = [(s, body) for t, s, body in statuses if stopped_at < t < started_at and s != 200]
        assert down, "no request failed while PostgreSQL was down"
        for status, body in down:
            assert status == 503 and '"type":"unavailable"' in body, (status, body)
        # the same API process answers again: nothing was restarted but the database
        assert process.poll() is None
        assert httpx.get(f"{url}/readyz").status_code == 200
        assert {s for t, s, _ in statuses if t > started_at + 5} <= {200}
    finally:
        stop.set()
        thread.join()
        _kill_group(process)
        databases.close()
