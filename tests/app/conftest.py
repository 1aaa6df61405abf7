"""Fixtures for the service tests: a real uvicorn process on SQLite and (when configured) PostgreSQL.

Each test module gets its own server, data folder and database (a fresh PostgreSQL database per
module, dropped afterwards), so modules never see each other's rows. A module may set
`SERVER_ENV = {...}` to start its server with extra `TOOLFORGE_*` settings.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "TOOLFORGE_TEST_DATABASE_URL"
BOOT_TIMEOUT = 60.0


@dataclass
class Server:
    """A running service: its URL, one key per scope and a client (no key) bound to it."""

    base_url: str
    database_url: str
    data_dir: Path
    keys: dict[str, str]
    client: httpx.Client
    process: subprocess.Popen[bytes]
    log_path: Path
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def auth(self, scope: str) -> dict[str, str]:
        """The Authorization header of the key holding only `scope` (or `admin`)."""
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def wait_job(self, job_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll a job until it is final; fail the test with the server log when it does not finish."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            if time.monotonic() > deadline:
                pytest.fail(f"job {job_id} still {job['status']} after {timeout}s\n{self.log_tail()}")
            time.sleep(0.1)

    def ready_dataset(self, **spec: Any) -> dict[str, Any]:
        """Create a dataset (once per spec for this server), wait for its job and return its body."""
        body = {"name": "fixture", "n": 200, "seed": 1, **spec}
        key = repr(sorted(body.items()))
        if key not in self.datasets:
            created = self.client.post("/v1/datasets", json=body, headers=self.auth("write"))
            assert created.status_code in (200, 202), created.text
            job = self.wait_job(created.json()["job_id"])
            assert job["status"] == "succeeded", f"{job}\n{self.log_tail()}"
            self.datasets[key] = self.client.get(f"/v1/datasets/{created.json()['id']}").json()
        return self.datasets[key]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _pg_database(base_url: str) -> Iterator[str]:
    """Create `tf_<random>` on the server of `base_url`, yield its URL, drop it afterwards."""
    psycopg = pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (extra 'postgres')")
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    admin_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"tf_{secrets.token_hex(6)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            # FORCE: a generation child killed mid-job may still hold a connection.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database for one test module: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'toolforge.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    yield from _pg_database(base)


def _create_keys(database_url: str) -> dict[str, str]:
    """One key per scope, made with the app's own `create_key` (as `toolforge keys create` does)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.auth import create_key

    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return {
                scope: create_key(session, f"test-{scope}", [scope]) for scope in ("read", "write", "worker")
            }
    finally:
        engine.dispose()


@dataclass
class Started:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_uvicorn(data_dir: Path, database_url: str, admin_key: str, extra_env: dict[str, str]) -> Started:
    """Start `uvicorn app.main:create_app --factory` on a free loopback port.

    A port, not a socket handed over with `--fd`: uvicorn takes an `--fd` socket for AF_UNIX, so
    asyncio leaves Nagle's algorithm on and every small response stalls ~40 ms on delayed ACKs.

    Args:
        data_dir: the service's data folder (artifacts, work folders).
        database_url: SQLAlchemy URL of the service's database.
        admin_key: the bootstrap admin key.
        extra_env: more `TOOLFORGE_*` settings.

    Returns:
        The base URL, the process and its log file.
    """
    env = {
        **os.environ,
        "TOOLFORGE_DATA_DIR": str(data_dir),
        "TOOLFORGE_DATABASE_URL": database_url,
        "TOOLFORGE_ARTIFACT_URL": "",
        "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas"),
        "TOOLFORGE_BOOTSTRAP_ADMIN_KEY": admin_key,
        **extra_env,
    }
    log_path = data_dir / "uvicorn.log"
    for _attempt in range(3):  # another process may take the free port before uvicorn binds it
        port = _free_port()
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
                 "--port", str(port), "--log-level", "warning", "--no-access-log"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + BOOT_TIMEOUT
        while process.poll() is None:
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    return Started(base_url, process, log_path)
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"uvicorn not ready after {BOOT_TIMEOUT}s:\n{_read(log_path)}")
            time.sleep(0.1)
        if b"address already in use" not in log_path.read_bytes():
            break
    raise RuntimeError(f"uvicorn exited with {process.returncode}:\n{_read(log_path)}")


def _read(path: Path) -> str:
    return path.read_text(errors="replace")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down cleanly), then SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A real uvicorn for this module (settings from the module's `SERVER_ENV`), with keys per scope."""
    data_dir = tmp_path_factory.mktemp("data")
    admin_key = "tf-test-admin-" + secrets.token_hex(16)
    started = start_uvicorn(data_dir, database_url, admin_key, getattr(request.module, "SERVER_ENV", {}))
    keys = {**_create_keys(database_url), "admin": admin_key}
    client = httpx.Client(base_url=started.base_url, timeout=30)
    try:
        yield Server(
            started.base_url, database_url, data_dir, keys, client, started.process, started.log_path
        )
    finally:
        client.close()
        stop_process(started.process)


@pytest.fixture(scope="module")
def spawn(
    server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[dict[str, str]], Server]]:
    """Start more servers on the module's database and keys, with other settings (stopped at the end)."""
    started: list[Server] = []

    def start(extra_env: dict[str, str]) -> Server:
        data_dir = tmp_path_factory.mktemp("data")
        run = start_uvicorn(data_dir, server.database_url, server.keys["admin"], extra_env)
        other = Server(
            run.base_url,
            server.database_url,
            data_dir,
            server.keys,
            httpx.Client(base_url=run.base_url, timeout=30),
            run.process,
            run.log_path,
        )
        started.append(other)
        return other

    yield start
    for other in started:
        other.client.close()
        stop_process(other.process)
