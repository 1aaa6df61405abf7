"""Cost of value synthesis on one core, over the registry's tools.

Run: ``.venv/bin/python benchmarks/bench_values.py [--n 50000] [--seed 0] [--repeat 5]``; prints one JSON line:
µs per `ToolSampler.sample` (optional="some"), per surface of one sample's values, per `mentions` of
them against a request-like text (with the text normalised once per sample, as the caller does), and
the one-off costs of `ValuePools.build` and compiling every tool's sampler; the `*_now` figures are the
same phases with a current date-time per sample (`generators.dates.sample_now`), as the generator runs
them. The budget for a whole sample is 40 µs; `sample` should take ~10 µs of it.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from generators.dates import sample_now
from generators.registry import load_registry
from generators.surface import mentions, normalize_text, surface
from generators.values import ToolSampler, ValuePools


def _best(fn: Callable[[], Any], repeat: int, n: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best / n, result


def main() -> None:
    """Run the benchmark and print the results as one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000, help="samples drawn (round-robin over the tools)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=5, help="runs per phase; the fastest is reported")
    opts = ap.parse_args()

    t0 = time.perf_counter()
    pools = ValuePools.build(opts.seed, split="train")
    t_pools = time.perf_counter() - t0
    tools = list(load_registry())
    t0 = time.perf_counter()
    samplers = [ToolSampler(t.parameters, pools, t.name) for t in tools]
    t_compile = (time.perf_counter() - t0) / len(samplers)

    order = [samplers[i % len(samplers)] for i in range(opts.n)]

    nrng = random.Random(opts.seed)
    nows = [sample_now(nrng) for _ in range(opts.n)]
    no_nows = [None] * opts.n

    def phases(when: list) -> tuple[float, float, float, list[dict], int]:
        def phase_sample() -> list[dict]:
            rng = random.Random(opts.seed)
            return [s.sample(rng, now=now) for s, now in zip(order, when, strict=True)]

        def phase_surface() -> list[str]:
            # Surface every value of a sample and join them into one request-like text.
            rng = random.Random(opts.seed)
            out = []
            for s, args, now in zip(order, drawn, when, strict=True):
                cur = args.get("currency")
                out.append(" and ".join(surface(v, s.properties[k], k, rng, currency=cur, now=now)
                                        for k, v in args.items()))
            return out

        def phase_mentions() -> int:
            # Check each value against its sample's text, normalised once per sample as the caller does.
            hits = 0
            for s, args, text, now in zip(order, drawn, texts, when, strict=True):
                norm = normalize_text(text)
                for k, v in args.items():
                    hits += mentions(text, v, s.properties[k], name=k, norm=norm, now=now)
            return hits

        # Best of --repeat runs: the development machines are shared, and load only ever adds time.
        t_sample, drawn = _best(phase_sample, opts.repeat, opts.n)
        t_surface, texts = _best(phase_surface, opts.repeat, opts.n)
        t_mentions, hits = _best(phase_mentions, opts.repeat, opts.n)
        return t_sample, t_surface, t_mentions, drawn, hits

    t_sample, t_surface, t_mentions, drawn, hits = phases(no_nows)
    n_values = sum(len(a) for a in drawn)
    t_sample_now, t_surface_now, t_mentions_now, drawn_now, hits_now = phases(nows)
    n_values_now = sum(len(a) for a in drawn_now)

    print(json.dumps({
        "tools": len(samplers),
        "samples": opts.n,
        "values_per_sample": round(n_values / opts.n, 2),
        "us_per_sample": round(t_sample * 1e6, 2),
        "us_per_surface_of_sample": round(t_surface * 1e6, 2),
        "us_per_mentions_of_sample": round(t_mentions * 1e6, 2),
        "us_per_mentions_value": round(t_mentions * opts.n / n_values * 1e6, 2),
        "mentions_recall": round(hits / n_values, 4),
        "us_per_sample_now": round(t_sample_now * 1e6, 2),
        "us_per_surface_of_sample_now": round(t_surface_now * 1e6, 2),
        "us_per_mentions_of_sample_now": round(t_mentions_now * 1e6, 2),
        "mentions_recall_now": round(hits_now / n_values_now, 4),
        "median_params_per_tool": statistics.median(len(s.properties) for s in samplers),
        "ms_pools_build": round(t_pools * 1e3, 1),
        "ms_compile_per_tool": round(t_compile * 1e3, 2),
        "python": platform.python_version(),
    }))


if __name__ == "__main__":
    main()
