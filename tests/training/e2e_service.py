"""A real ToolForge service for the training end-to-end tests: uvicorn in a subprocess on SQLite."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def offline_env(home: Path) -> dict[str, str]:
    """Environment for worker subprocesses: no hub, one thread each (they share 2 CI cores), no MLflow."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(home / "hf"),
            "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "DISABLE_MLFLOW_INTEGRATION": "TRUE"}


@contextmanager
def running_service(data: Path, lease_seconds: int) -> Iterator[dict[str, Any]]:
    """Start uvicorn on a free loopback port with `data` as its data dir; yield url, a write+worker key, data."""
    db_url = f"sqlite:///{data / 'toolforge.db'}"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "TOOLFORGE_DATA_DIR": str(data), "TOOLFORGE_DATABASE_URL": db_url,
           "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas"), "TOOLFORGE_LEASE_SECONDS": str(lease_seconds),
           "TOOLFORGE_BOOTSTRAP_ADMIN_KEY": "tf-admin-" + secrets.token_hex(16),
           # the tests' workers upload models and checkpoints to their own folders in pytest's temp root
           "TOOLFORGE_MODEL_ARTIFACT_ROOTS": json.dumps([str(data.parent)])}
    log = open(data / "uvicorn.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (data / "uvicorn.log").read_text()
            time.sleep(0.2)
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from app.auth import create_key

        engine = create_engine(db_url)
        with Session(engine) as session:
            key = create_key(session, "e2e", ["write", "worker"])
        engine.dispose()
        yield {"url": url, "key": key, "data": data}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def start_worker(service: dict[str, Any], tmp: Path, name: str, artifacts: Path, lease_seconds: int,
                 idle_timeout: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    """Start `toolforge worker --once` against `service`; return the process and its log file."""
    log_path = tmp / f"{name}.log"
    cmd = [sys.executable, "-m", "app.cli", "worker", "--url", service["url"], "--api-key", service["key"],
           "--artifacts", str(artifacts), "--work-dir", str(tmp / name), "--worker-id", name,
           "--lease-seconds", str(lease_seconds), "--poll-wait", "2", "--once", "--idle-timeout", str(idle_timeout)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env={**offline_env(tmp), **(extra_env or {})}, stdout=log,
                                stderr=subprocess.STDOUT)
    return proc, log_path
