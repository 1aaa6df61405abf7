"""Read latency of the REST service under a fixed arrival rate, on loopback, from a second process.

Run: ``.venv/bin/python benchmarks/bench_api.py [--rate 300] [--duration 15] [--n 10000]
[--database sqlite|postgresql] [--mix light heavy] [--client python wrk]``; prints one JSON line per
mix and client. It starts ``uvicorn app.main:create_app --factory`` (one worker process, a temporary
data folder; SQLite, or a fresh PostgreSQL database on the server of TOOLFORGE_TEST_DATABASE_URL, as the
tests use, dropped afterwards), generates an ``--n`` sample dataset and ``--extra`` small ones through
the API (so a listing page is full), then sends, at a fixed arrival rate:

- ``light`` (the README's mix): sample pages (``/v1/datasets/{id}/samples?offset=<random>&limit=20``,
  90%) and dataset listings (``/v1/datasets?limit=20``, 10%);
- ``heavy``: listings (50%) and filtered sample pages (50%: by behaviour, and by behaviour and tool).

Two load generators, each a process of its own beside the server:

- ``python`` (this process): open-loop. Request *i* is due at ``start + i / rate`` whatever happened
  to the earlier ones, and its latency is counted from when it was due, so a stalled server shows up
  in the tail instead of silently lowering the rate (no coordinated omission).
- ``wrk`` (needs ``wrk`` on PATH, Debian package ``wrk``): closed-loop, each connection paced by a Lua
  ``delay()`` to reach the rate; wrk 4 counts latency from each send, so a stall lowers the achieved
  rate instead of raising p99 (read the two together).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import random
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import wrk_load

REPO = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 25.0
PG_ENV = "TOOLFORGE_TEST_DATABASE_URL"  # the tests' variable (.ci/run sets it)
PG_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def start_server(data_dir: Path, admin_key: str, database_url: str = "") -> tuple[subprocess.Popen[bytes], str]:
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
        "TOOLFORGE_DATABASE_URL": database_url,
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


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    """The service's database URL: "" (SQLite in the data folder), or a new PostgreSQL database on the
    server of TOOLFORGE_TEST_DATABASE_URL (as the tests use it), dropped afterwards."""
    if kind == "sqlite":
        yield ""
        return
    base = os.environ.get(PG_ENV)
    if not base:
        raise SystemExit(f"--database postgresql needs {PG_ENV} (e.g. {PG_EXAMPLE})")
    # The tests' helper (tests/app/conftest.py, loaded by path: tests are not a package).
    spec = importlib.util.spec_from_file_location("toolforge_tests_app_conftest", REPO / "tests/app/conftest.py")
    assert spec is not None and spec.loader is not None
    fixtures = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = fixtures  # its dataclasses resolve their module through sys.modules
    spec.loader.exec_module(fixtures)
    yield from fixtures._pg_database(base)


def make_datasets(base: str, admin_key: str, n: int, extra: int) -> tuple[str, float]:
    """Generate an `n`-sample dataset and `extra` 20-sample ones through the API; return the large one's id
    and the seconds its generation took."""
    auth = {"Authorization": f"Bearer {admin_key}"}
    with httpx.Client(base_url=base, timeout=60) as client:

        def wait(job_id: str) -> None:
            while True:
                job = client.get(f"/v1/jobs/{job_id}").raise_for_status().json()
                if job["status"] == "succeeded":
                    return
                if job["status"] in ("failed", "cancelled"):
                    raise SystemExit(f"generation {job['status']}: {job['error']}")
                time.sleep(0.2)

        started = time.perf_counter()
        created = client.post("/v1/datasets", json={"name": "bench", "n": n, "seed": 0}, headers=auth)
        wait(created.raise_for_status().json()["job_id"])
        seconds = time.perf_counter() - started
        small = [client.post("/v1/datasets", json={"name": f"bench-{i}", "n": 20, "seed": i + 1}, headers=auth)
                 .raise_for_status().json()["job_id"] for i in range(extra)]
        for job_id in small:
            wait(job_id)
        return created.json()["id"], seconds


def sample_filters(base: str, dataset_id: str, tools: int = 8) -> list[tuple[str, int]]:
    """Filters of the heavy mix with their row counts: every behaviour, and behaviour and tool for the
    `tools` most frequent target tools."""
    with httpx.Client(base_url=base, timeout=60) as client:
        def count(query: str) -> int:
            page = client.get(f"/v1/datasets/{dataset_id}/samples?{query}&limit=1").raise_for_status().json()
            return int(page["count"])

        stats = client.get(f"/v1/datasets/{dataset_id}/samples?limit=500").raise_for_status().json()["data"]
        seen: dict[str, int] = {}
        for row in stats:
            truth = row.get("reward_model", {}).get("ground_truth", {})
            tool = (truth.get("tool_call") or truth.get("clarification") or {})
            name = tool.get("name") or tool.get("tool") if isinstance(tool, dict) else None
            if name:
                seen[name] = seen.get(name, 0) + 1
        filters = [(f"behavior={b}", count(f"behavior={b}")) for b in ("execution", "clarification", "refusal")]
        for name in sorted(seen, key=seen.__getitem__, reverse=True)[:tools]:
            for b in ("execution", "clarification"):
                query = f"behavior={b}&tool={name}"
                filters.append((query, count(query)))
    return [(query, total) for query, total in filters if total > 0]


def plan_requests(mix: str, dataset_id: str, n: int, filters: list[tuple[str, int]], count: int,
                  rng: random.Random) -> list[tuple[str, str]]:
    """`count` requests `(kind, target)` of a mix, in arrival order."""
    listing = ("list", "/v1/datasets?limit=20")
    plan = []
    for _ in range(count):
        if mix == "light":
            if rng.random() < 0.9:
                offset = rng.randrange(max(n - 20, 1))
                plan.append(("samples", f"/v1/datasets/{dataset_id}/samples?offset={offset}&limit=20"))
            else:
                plan.append(listing)
        elif rng.random() < 0.5:
            plan.append(listing)
        else:
            query, total = rng.choice(filters)
            offset = rng.randrange(max(total - 20, 1))
            plan.append(("filtered", f"/v1/datasets/{dataset_id}/samples?{query}&offset={offset}&limit=20"))
    return plan


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


async def drive(base: str, plan: list[tuple[str, str]], rate: float, connections: int) -> dict[str, Any]:
    """Send `plan` at `rate` requests/s (open loop); return latency summaries per endpoint.

    Args:
        base: the server's base URL.
        plan: `(kind, target)` of each request, in arrival order (the first 200 also warm up).
        rate: arrivals per second.
        connections: most concurrent connections the client opens.

    Returns:
        Latency summaries (ms) overall and per endpoint, achieved rate and error count.
    """
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
        "by_endpoint": {kind: summary([r for r in results if r[0] == kind])
                        for kind in sorted({r[0] for r in results})},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=300.0, help="arrivals per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load")
    parser.add_argument("--n", type=int, default=10_000, help="samples in the dataset")
    parser.add_argument("--extra", type=int, default=20, help="more 20-sample datasets, so a listing page is full")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--mix", nargs="+", choices=("light", "heavy"), default=["light"])
    parser.add_argument("--client", nargs="+", choices=("python", "wrk"), default=["python"])
    parser.add_argument("--connections", type=int, default=32, help="most concurrent client connections")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if "wrk" in args.client and not wrk_load.available():
        raise SystemExit("--client wrk needs wrk on PATH (Debian: apt-get install wrk)")

    admin_key = "bench-admin-" + secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="tf-bench-") as tmp, database(args.database) as database_url:
        process, base = start_server(Path(tmp), admin_key, database_url)
        try:
            dataset_id, gen_seconds = make_datasets(base, admin_key, args.n, args.extra)
            filters = sample_filters(base, dataset_id)
            for mix in args.mix:
                for client in args.client:
                    rng = random.Random(args.seed)
                    plan = plan_requests(mix, dataset_id, args.n, filters, int(args.rate * args.duration), rng)
                    stats, cpu = _measure(process.pid, base, plan, client, args)
                    report = {
                        "benchmark": "api_reads", "database": args.database, "mix": mix, "client": client,
                        "rate_target": args.rate, "duration_s": args.duration, "n": args.n, "extra": args.extra,
                        "generation_s": round(gen_seconds, 2), **stats, "cpu_per_s": cpu,
                        "target_p99_ms": TARGET_P99_MS,
                        "met": stats["p99_ms"] <= TARGET_P99_MS and stats["errors"] == 0,
                        "cpus": os.cpu_count(), "python": platform.python_version(),
                    }  # fmt: skip
                    print(json.dumps(report), flush=True)
        finally:
            process.terminate()
            process.wait(timeout=30)


def _measure(pid: int, base: str, plan: list[tuple[str, str]], client: str,
             args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one load; return its latency summary and the CPU seconds per second of server and client, with
    the machine's load average before and after (the 1-minute one trails by about a minute)."""
    server_cpu, own_cpu, wrk_cpu = _cpu_seconds(pid), time.process_time(), _children_cpu()
    load_before, started = os.getloadavg(), time.perf_counter()
    if client == "python":
        stats = asyncio.run(drive(base, plan, args.rate, args.connections))
    else:
        stats = wrk_load.run(base, [target for _, target in plan], args.rate, args.duration, args.connections)
    # CPU seconds per second of load: tells a saturated server from a saturated load generator.
    wall = time.perf_counter() - started
    client_cpu = time.process_time() - own_cpu if client == "python" else _children_cpu() - wrk_cpu
    load_after = os.getloadavg()
    return stats, {
        "server": round((_cpu_seconds(pid) - server_cpu) / wall, 2),
        "client": round(client_cpu / wall, 2),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }


def _children_cpu() -> float:
    """User + system CPU seconds of this process's waited-for children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
