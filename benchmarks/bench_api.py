"""Read latency of the REST service under a fixed arrival rate, on loopback.

Run: ``.venv/bin/python benchmarks/bench_api.py [--rate 300] [--duration 15] [--n 10000]``; prints one
JSON line. It starts ``uvicorn app.main:create_app --factory`` (one worker process, SQLite, a temporary
data folder), generates an ``--n`` sample dataset through the API, then sends sample-page reads
(``/v1/datasets/{id}/samples?offset=<random>&limit=20``, 90%) and dataset listings (10%) at a fixed
arrival rate. The load is open-loop: request *i* is due at ``start + i / rate`` whatever happened to
the earlier ones, and its latency is counted from when it was due, so a stalled server shows up in
the tail instead of silently lowering the rate (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 25.0


def start_server(data_dir: Path, admin_key: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start one uvicorn worker on a free loopback port; return it and its base URL.

    (Not `--fd`: uvicorn takes such a socket for AF_UNIX, leaves Nagle on, and small responses stall
    ~40 ms on delayed ACKs.)
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "TOOLFORGE_DATA_DIR": str(data_dir),
        "TOOLFORGE_DATABASE_URL": "",
        "TOOLFORGE_ARTIFACT_URL": "",
        "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas"),
        "TOOLFORGE_BOOTSTRAP_ADMIN_KEY": admin_key,
    }
    log = open(data_dir / "uvicorn.log", "wb")  # noqa: SIM115 - kept open for the child's lifetime
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(f"server did not start:\n{(data_dir / 'uvicorn.log').read_text(errors='replace')}")


def make_dataset(base: str, admin_key: str, n: int) -> tuple[str, float]:
    """Generate an `n`-sample dataset through the API; return its id and the seconds it took."""
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=60) as client:
        created = (
            client.post(
                "/v1/datasets",
                json={"name": "bench", "n": n, "seed": 0},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            .raise_for_status()
            .json()
        )
        while True:
            job = client.get(f"/v1/jobs/{created['job_id']}").raise_for_status().json()
            if job["status"] == "succeeded":
                return created["id"], time.perf_counter() - started
            if job["status"] in ("failed", "cancelled"):
                raise SystemExit(f"generation {job['status']}: {job['error']}")
            time.sleep(0.2)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (`q` in [0, 100])."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection (GET only, Content-Length bodies).

    httpx costs ~3 ms of CPU per 180 KB page, more than the server spends answering it; on a 2-core
    machine the load generator would then measure itself. This reads the status line, headers and
    exactly Content-Length bytes, and nothing more.
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        """Send `GET target` and return `(status, body)`; reconnects when the server closed the socket."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = dict(line.split(b":", 1) for line in lines[1:] if b":" in line)
        length = {k.strip().lower(): v.strip() for k, v in headers.items()}.get(b"content-length")
        if length is None:
            raise RuntimeError(f"{target}: response without Content-Length")
        return status, await self.reader.readexactly(int(length))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(
    base: str, dataset_id: str, n: int, rate: float, duration: float, connections: int, rng: random.Random
) -> dict[str, Any]:
    """Send `rate` requests/s for `duration` s (open loop); return latency summaries per endpoint.

    Args:
        base: the server's base URL.
        dataset_id: the dataset to page through.
        n: its number of samples (offsets are drawn below it).
        rate: arrivals per second.
        duration: seconds of load.
        connections: most concurrent connections the client opens.
        rng: seeded source of offsets and of the request mix.

    Returns:
        Latency summaries (ms) overall and per endpoint, achieved rate and error count.
    """
    plan = []
    for _ in range(int(rate * duration)):
        if rng.random() < 0.9:
            offset = rng.randrange(max(n - 20, 1))
            plan.append(("samples", f"/v1/datasets/{dataset_id}/samples?offset={offset}&limit=20"))
        else:
            plan.append(("list", "/v1/datasets?limit=20"))
    host, port = base.removeprefix("http://").split(":")
    # A request waits for a free connection; its latency still counts from when it was due.
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(Connection(host, int(port)))
    results: list[tuple[str, float, float, int]] = []

    async def one(due: float, kind: str, target: str) -> None:
        conn = await pool.get()
        sent = time.perf_counter()
        try:
            status, _ = await conn.get(target)
        except (OSError, asyncio.IncompleteReadError, RuntimeError, ValueError):
            conn.close()
            status = 0
        finally:
            pool.put_nowait(conn)
        done = time.perf_counter()
        results.append((kind, (done - due) * 1000, (done - sent) * 1000, status))

    for kind, target in plan[:200]:  # warm the connections, the sample index cache and the registry
        await one(time.perf_counter(), kind, target)
    results.clear()
    tasks = []
    start = time.perf_counter() + 0.05
    for i, (kind, target) in enumerate(plan):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, kind, target)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait().close()

    def summary(rows: list[tuple[str, float, float, int]]) -> dict[str, Any]:
        lat = sorted(r[1] for r in rows)
        service = sorted(r[2] for r in rows)
        return {
            "requests": len(rows),
            "p50_ms": round(percentile(lat, 50), 2),
            "p90_ms": round(percentile(lat, 90), 2),
            "p99_ms": round(percentile(lat, 99), 2),
            "max_ms": round(lat[-1], 2) if lat else None,
            "service_p99_ms": round(percentile(service, 99), 2),
        }

    return {
        "achieved_rps": round(len(results) / elapsed, 1),
        "errors": sum(1 for r in results if r[3] != 200),
        **summary(results),
        "by_endpoint": {kind: summary([r for r in results if r[0] == kind]) for kind in ("samples", "list")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="arrivals per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    parser.add_argument("--n", type=int, default=10_000, help="samples in the dataset")
    parser.add_argument("--connections", type=int, default=32, help="most concurrent client connections")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    admin_key = "bench-admin-" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp:
        process, base = start_server(Path(tmp), admin_key)
        try:
            dataset_id, gen_seconds = make_dataset(base, admin_key, args.n)
            server_cpu, client_cpu = _cpu_seconds(process.pid), time.process_time()
            load_before, started = os.getloadavg()[0], time.perf_counter()
            rng = random.Random(args.seed)
            stats = asyncio.run(
                drive(base, dataset_id, args.n, args.rate, args.duration, args.connections, rng)
            )
            # CPU seconds per second of load: tells a saturated server from a saturated load generator.
            wall = time.perf_counter() - started
            cpu = {
                "server": round((_cpu_seconds(process.pid) - server_cpu) / wall, 2),
                "client": round((time.process_time() - client_cpu) / wall, 2),
                "loadavg_1m_before": round(load_before, 2),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    report = {
        "benchmark": "api_reads", "rate_target": args.rate, "duration_s": args.duration, "n": args.n,
        "generation_s": round(gen_seconds, 2), **stats, "cpu_per_s": cpu, "target_p99_ms": TARGET_P99_MS,
        "met": stats["p99_ms"] <= TARGET_P99_MS and stats["errors"] == 0,
        "cpus": os.cpu_count(), "python": platform.python_version(),
    }  # fmt: skip
    print(json.dumps(report))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
