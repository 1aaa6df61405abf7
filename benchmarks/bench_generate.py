"""Generation throughput and peak memory.

Each measurement runs in a fresh child process: samples/s (wall) and samples per CPU-second (the child and
its workers, from after the imports) over the whole `generate_dataset` call (value
synthesis, templates, verification, JSON Lines + Parquet + stats + card, sha256 of every file) and peak
RSS from `resource.getrusage` (the child itself, and the largest of its worker processes). The floor is
`orjson.dumps` + write of the same records only (one generated chunk's records written n/1000 times).

    python benchmarks/bench_generate.py                       # 100k and 1M samples, workers 1 and 2
    python benchmarks/bench_generate.py --n 100000 --workers 1 --profile   # + cProfile top functions

Targets: >= 25,000 samples/s on one core; 1M samples in <= 60 s with workers=2; peak RSS <= 300 MB, flat in n.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    import orjson

    from generators.pipeline import generate_dataset
    from generators.registry import load_registry
    from generators.spec import DatasetSpec

    out = Path(args.out)
    registry = load_registry()
    if args.mode == "floor":
        generate_dataset(registry, DatasetSpec(name="bench", n=1000, seed=args.seed), out / "one")
    # CPU seconds of this process and its workers from here on: samples per CPU-second is the per-core
    # rate, and unlike wall time it holds on a shared machine.
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    spec = DatasetSpec(name="bench", n=args.n, seed=args.seed)
    if args.mode == "floor":
        records = [orjson.loads(line) for line in (out / "one" / "samples.jsonl").read_bytes().splitlines()]
        start = time.perf_counter()
        with open(out / "floor.jsonl", "wb") as f:
            for _ in range(args.n // len(records)):
                for rec in records:
                    f.write(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
        elapsed = time.perf_counter() - start
        size = (out / "floor.jsonl").stat().st_size
    else:
        start = time.perf_counter()
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            manifest = prof.runcall(generate_dataset, registry, spec, out / "ds", workers=args.workers)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        else:
            manifest = generate_dataset(registry, spec, out / "ds", workers=args.workers)
        elapsed = time.perf_counter() - start
        size = manifest["files"]["samples.jsonl"]["bytes"]
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - cpu0
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "rss_mb": me.ru_maxrss / 1024,
                      "worker_rss_mb": kids.ru_maxrss / 1024, "jsonl_bytes": size}))


def _measure(mode: str, n: int, workers: int, seed: int, profile: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="toolforge-bench-"))
    try:
        cmd = [sys.executable, __file__, "--child", "--mode", mode, "--n", str(n), "--workers", str(workers),
               "--seed", str(seed), "--out", str(tmp)] + (["--profile"] if profile else [])
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        if profile:
            print(done.stderr, file=sys.stderr)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000], help="dataset sizes")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-floor", action="store_true", help="skip the orjson-only floor")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions (workers=1)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="generate", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.n = args.n[0]
        args.workers = args.workers[0]
        _child(args)
        return
    # On a shared machine wall rates fall with load; samples per CPU-second hold better. Say what the load was.
    print("load average (1, 5, 15 min) before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print(f"{'what':<28}{'n':>10}{'seconds':>9}{'samples/s':>11}{'CPU s':>8}{'per CPU-s':>11}{'RSS MB':>8}"
          f"{'worker RSS MB':>15}{'MB/s':>7}")
    runs = [("floor (orjson write only)", "floor", n, 1) for n in args.n if not args.no_floor]
    runs += [(f"generate, workers={w}", "generate", n, w) for n in args.n for w in args.workers]
    for label, mode, n, workers in runs:
        r = _measure(mode, n, workers, args.seed, args.profile and mode == "generate")
        print(f"{label:<28}{n:>10}{r['seconds']:>9.2f}{n / r['seconds']:>11,.0f}{r['cpu_seconds']:>8.1f}"
              f"{n / r['cpu_seconds']:>11,.0f}{r['rss_mb']:>8.0f}{r['worker_rss_mb']:>15.0f}"
              f"{r['jsonl_bytes'] / r['seconds'] / 1e6:>7.0f}", flush=True)
    print("load average (1, 5, 15 min) after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
