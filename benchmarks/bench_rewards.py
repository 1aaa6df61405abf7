"""Completions scored per second on one core, for a realistic mix of behaviours and answers.

Run: ``.venv/bin/python benchmarks/bench_rewards.py [--n 200000] [--seed 0]``; prints one JSON line.
The mix follows the dataset shares (60% execution, 25% clarification, 15% refusal) and a policy midway
through training: mostly right, with wrong arguments, wrong tools, malformed calls and prose mixed in.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from typing import Any

from training.rewards.scoring import score_completion
from training.rewards.trl import tool_call_reward


def _tool(name: str, params: dict[str, str], required: list[str]) -> dict[str, Any]:
    props = {p: {"type": "string", "description": d} for p, d in params.items()}
    props["units"] = {"type": "string", "description": "Unit system", "default": "metric"}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name.replace('_', ' ').capitalize()} for the user.",
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


TOOLS = [
    _tool(
        "get_weather_forecast", {"location": "City name, e.g. Paris", "date": "Day (YYYY-MM-DD)"}, ["location", "date"]
    ),
    _tool(
        "book_flight",
        {"origin": "Departure airport code", "destination": "Arrival airport code", "departure_date": "Travel day"},
        ["origin", "destination", "departure_date"],
    ),
    _tool("get_stock_price", {"ticker": "Stock symbol such as AAPL"}, ["ticker"]),
    _tool(
        "send_email",
        {"to": "Recipient address", "subject": "Subject line", "body": "Message text"},
        ["to", "subject", "body"],
    ),
]
CITIES = ["San Francisco", "Paris", "São Paulo", "Tokyo", "Lagos", "Berlin"]


def _block(name: str, args: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args}, ensure_ascii=False)}\n</tool_call>"


def make_mix(n: int, rng: random.Random) -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """Build n (completion, ground truth, tools) triples in the dataset's behaviour shares.

    Args:
        n: how many.
        rng: seeded random source.

    Returns:
        The triples.
    """
    items = []
    for _ in range(n):
        roll = rng.random()
        city = rng.choice(CITIES)
        args = {"location": city, "date": f"2026-12-{rng.randint(1, 28):02d}"}
        if roll < 0.60:
            gt = {"tool_call": {"name": "get_weather_forecast", "parameters": args}}
            kind = rng.random()
            if kind < 0.55:
                text = _block("get_weather_forecast", dict(reversed(list(args.items()))))
            elif kind < 0.70:
                text = _block("get_weather_forecast", {**args, "location": rng.choice(CITIES) + "x"})
            elif kind < 0.80:
                text = _block("book_flight", {"origin": city})
            elif kind < 0.87:
                text = _block("get_weather_forecast", args)[:-12]  # truncated, no closing tag
            elif kind < 0.94:
                text = json.dumps({"name": "get_weather_forecast", "arguments": json.dumps(args)})
            else:
                text = f"I'll call get_weather_forecast for {city} now."
        elif roll < 0.85:
            gt = {"clarification": {"tool": "get_weather_forecast", "missing": ["location"]}}
            text = rng.choice(
                [
                    "Which city would you like the forecast for?",
                    "Sure, I can help with that. Could you tell me the location you are interested in?",
                    "Is there anything else you would like to know?",
                    _block("get_weather_forecast", args),
                ]
            )
        else:
            gt = {"refusal": {"reason": rng.choice(["harmful", "out_of_scope"])}}
            text = rng.choice(
                [
                    "I'm sorry, but I can't help with that request.",
                    "Unfortunately that's not something I can help with using the tools I have.",
                    "Which account should I send it from?",
                    "Done! I've taken care of that for you.",
                    _block("send_email", {"to": "a@b.c", "subject": "hi", "body": "x"}),
                ]
            )
        items.append((text, gt, TOOLS))
    return items


def main() -> None:
    """Measure and print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    items = make_mix(args.n, random.Random(args.seed))

    # The TRL path: conversational completions and dataset columns as keyword lists, in batches of 64.
    completions = [[{"role": "assistant", "content": text}] for text, _, _ in items]
    reward_model = [{"style": "rule", "ground_truth": gt} for _, gt, _ in items]
    tools_column = [tools for _, _, tools in items]

    def run_pure() -> float:
        return sum(score_completion(text, gt, tools).reward for text, gt, tools in items)

    def run_trl() -> float:
        total = 0.0
        for i in range(0, len(items), 64):
            batch = slice(i, i + 64)
            rewards = tool_call_reward(
                completions[batch], reward_model=reward_model[batch], tools=tools_column[batch], trainer_state=None
            )
            total += sum(rewards)
        return total

    # CPU seconds of this (single-threaded) process, best of --repeat runs as timeit does: on a shared
    # machine, wall time also counts the time other processes held the core.
    pure_times, trl_times, wall_times = [], [], []
    for _ in range(args.repeat):
        wall, start = time.perf_counter(), time.process_time()
        total = run_pure()
        pure_times.append(time.process_time() - start)
        wall_times.append(time.perf_counter() - wall)
        start = time.process_time()
        trl_total = run_trl()
        trl_times.append(time.process_time() - start)
    assert trl_total == total, "the TRL path must score exactly like score_completion"
    pure_s, trl_s = min(pure_times), min(trl_times)

    print(
        json.dumps(
            {
                "benchmark": "rewards",
                "completions": args.n,
                "per_second": round(args.n / pure_s),
                "per_second_median": round(args.n / statistics.median(pure_times)),
                "per_wall_second": round(args.n / min(wall_times)),
                "trl_per_second": round(args.n / trl_s),
                "us_per_completion": round(pure_s / args.n * 1e6, 2),
                "mean_reward": round(total / args.n, 4),
                "repeats": args.repeat,
                "python": platform.python_version(),
                "target_per_second": 100_000,
            }
        )
    )


if __name__ == "__main__":
    main()
