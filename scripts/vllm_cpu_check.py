"""The real-vLLM check behind `scripts/vllm_cpu_check.sh` (optional; not part of CI).

Two modes:

- ``serve``: run in the project's venv against a running ``vllm serve`` of a tiny random Qwen2. It
  generates a small dataset with the ``openai`` paraphrase backend and checks the plumbing and the
  accounting: every request answered, every variant either accepted or rejected with a reason,
  template fallback used, and every sample (paraphrased or not) still passing the generator's
  verification. A random model writes nonsense, so prose quality is not what is checked.
- ``offline``: run in the vLLM venv (``PYTHONPATH=.``). It builds `VLLMBackend` on an in-process
  ``vllm.LLM`` engine and completes a batch with structured output; it imports only
  `generators.paraphrase_backends` (which needs httpx, present in the vLLM venv).

Prints one JSON line of figures per mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _wait(base_url: str, seconds: float) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base_url}/models", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"vllm serve not ready at {base_url} after {seconds:.0f}s")
        time.sleep(1)


def serve_check(args: argparse.Namespace) -> dict:
    """Generate a paraphrased dataset through the server and check its accounting."""
    from generators.behaviours import Generator
    from generators.mixing import behaviour_sequence
    from generators.pipeline import generate_dataset, plan_chunks
    from generators.registry import load_registry
    from generators.spec import DatasetSpec, select_tools
    from generators.values import ValuePools
    from generators.verify import verify

    _wait(args.base_url, args.wait)
    registry = load_registry(REPO / "tool_schemas")
    spec = DatasetSpec(
        name="vllm-cpu-check", n=args.n, seed=args.seed,
        paraphrase={"backend": "openai", "base_url": args.base_url, "model": args.model, "n": 2,
                    "max_tokens": args.max_tokens, "concurrency": args.concurrency, "timeout_s": 300,
                    "max_retries": 1},
    )
    out = Path(args.out)
    started = time.perf_counter()
    manifest = generate_dataset(registry, spec, out, paraphrase_cache=out.parent / "paraphrase-cache.sqlite")
    wall = time.perf_counter() - started
    stats = json.loads((out / "stats.json").read_text())
    para, run = stats["paraphrase"], manifest["paraphrase_run"]
    records = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]

    # The template samples, rebuilt exactly as the pipeline built them before paraphrasing.
    tools = select_tools(registry, spec)
    gen = Generator(tools, ValuePools.build(spec.seed, split=spec.split), (spec.distractors.min, spec.distractors.max),
                    spec.optional_params)
    templates = []
    for index, counts in enumerate(plan_chunks(spec)):
        rng = random.Random(f"toolforge/{spec.seed}/{index}")
        for behaviour in behaviour_sequence(counts, rng):
            while True:
                sample = gen.sample(behaviour, rng)
                if verify(gen, sample) is None:
                    break
            templates.append(sample)
    failures = []
    for record, template in zip(records, templates, strict=True):
        text = record["prompt"][1]["content"]
        if record["extra_info"]["paraphrased"]:
            if verify(gen, dataclasses.replace(template, text=text)) is not None:
                failures.append(text)
        elif text != template.text:
            failures.append(text)
    checks = {
        # answered: no transport or HTTP failure ("unparseable" is an answer: a random model's nonsense)
        "every_request_answered": not run["errors"] and set(para["request_errors"]) <= {"unparseable"},
        "every_variant_accounted": para["variants"] >= sum(para["rejections"].values()) + para["paraphrased"],
        "template_fallback_used": para["kept_template"] > 0,
        "counts_add_up": para["paraphrased"] + para["kept_template"] == para["eligible"] == spec.n,
        "every_sample_verifies": not failures,
    }
    return {"mode": "serve", "n": spec.n, "wall_s": round(wall, 1), "checks": checks,
            "paraphrase": para, "run": run}


def offline_check(args: argparse.Namespace) -> dict:
    """Complete a batch on an in-process vLLM engine through `VLLMBackend`."""
    from generators.paraphrase_backends import Prompt, Sampling, VLLMBackend

    schema = {"type": "object", "properties": {"variants": {"type": "array", "items": {"type": "string"},
                                                             "minItems": 1, "maxItems": 2}},
              "required": ["variants"], "additionalProperties": False}
    texts = [f"Book a table for {i} at Nopa at 7pm." for i in range(2, 2 + args.n)]
    prompts = [Prompt(({"role": "system", "content": "Rewrite the request twice. Reply in JSON."},
                       {"role": "user", "content": t}), i, schema) for i, t in enumerate(texts)]
    started = time.perf_counter()
    backend = VLLMBackend(args.model, Sampling(0.9, 0.95, args.max_tokens), seed=0,
                          engine_args={"max_model_len": 2048, "dtype": "float32"})
    load = time.perf_counter() - started
    replies = backend.complete(prompts)
    parsed = 0
    for reply in replies:
        try:
            parsed += isinstance(json.loads(reply.text).get("variants"), list)
        except (ValueError, AttributeError):
            pass
    tokens = sum(r.completion_tokens for r in replies)
    seconds = backend.counters.seconds
    return {"mode": "offline", "requests": len(prompts), "errors": sum(1 for r in replies if r.error),
            "json_parsed": parsed, "finish_reasons": sorted({str(r.finish_reason) for r in replies}),
            "engine_load_s": round(load, 1), "batch_s": round(seconds, 2),
            "requests_per_s": round(len(prompts) / seconds, 2), "completion_tokens_per_s": round(tokens / seconds, 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("serve", "offline"))
    parser.add_argument("--base-url", default="http://127.0.0.1:8765/v1")
    parser.add_argument("--model", required=True, help="served model name (serve) or model folder (offline)")
    parser.add_argument("--out", default="/tmp/vllm-cpu-check/dataset")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--concurrency", type=int, default=16)  # = the server's --max-num-seqs
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for the server")
    args = parser.parse_args(argv)
    result = serve_check(args) if args.mode == "serve" else offline_check(args)
    print(json.dumps(result), flush=True)
    if args.mode == "serve":
        return 0 if all(result["checks"].values()) else 1
    return 0 if result["errors"] == 0 and result["requests"] else 1


if __name__ == "__main__":  # vLLM's engine starts worker processes: the guard is required
    sys.exit(main(sys.argv[1:]))
