"""Bad invocations of `toolforge`: each exits non-zero with a message, never a traceback or a fake result."""

from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app
from generators.pipeline import generate_dataset
from generators.registry import load_registry
from generators.spec import DatasetSpec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NotImplemented(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server that answers 501 to everything (the issue's 'accuracy 0.000' case)."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"error": {"message": "not implemented"}}'
        self.send_response(501)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def ctx(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    registry = load_registry()
    generate_dataset(registry, DatasetSpec(name="held", n=20, seed=1, split="heldout"), root / "held")
    (root / "full").mkdir()
    (root / "full" / "keep").write_text("x")
    (root / "empty.jsonl").write_text("")
    (root / "bad.json").write_text("{not json")
    (root / "tools.json").write_text("[]")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotImplemented)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"root": str(root), "held": str(root / "held"), "samples": str(root / "held" / "samples.jsonl"),
           "full": str(root / "full"), "empty": str(root / "empty.jsonl"), "bad": str(root / "bad.json"),
           "tools": str(root / "tools.json"), "dead": f"http://127.0.0.1:{_free_port()}",
           "e501": f"http://127.0.0.1:{server.server_address[1]}/v1"}
    server.shutdown()
    server.server_close()


# (arguments with {placeholders}, a piece of the message); exit code 1 for ours, 2 for typer's own usage errors
CASES = [
    # registry
    ("tools list --split foo", "use train or heldout"),
    ("tools list --domain nope", "no such domain"),
    ("tools show no_such_tool", "no tool named"),
    ("tools validate {root}/nowhere", "problem"),
    ("tools import {root}/nowhere.json --format openai --out {root}/t1", "does not exist"),
    ("tools import {tools} --format nope --out {root}/t2", "nope"),
    # generation
    ("generate --workers 0 --out {root}/g1", "--workers must be at least 1"),
    ("generate --n 0 --out {root}/g2", "--n must be at least 1"),
    ("generate --n 5 --out /proc/x", "cannot create /proc/x"),
    ("generate --n 5 --ratios 1,1,1 --out {root}/g3", "ratios"),
    ("generate --n 5 --split foo --out {root}/g4", "split"),
    ("generate --n 5 --distractors a,b --out {root}/g5", "invalid literal"),
    ("generate --n 5 --out {full}", "not an empty folder"),
    # scoring
    ("score --samples {root}/nowhere.jsonl --completions {empty}", "does not exist"),
    ("score --samples {samples} --completions {empty}", "no completion was scored"),
    ("score --samples {samples} --completions {empty} --mode foo", "--mode must be"),
    # training
    ("sft --model {held} --data {samples} --out {root}/s1 --steps 0", "--steps 0: must be at least 1"),
    ("sft --model {root}/nonexistent --data {samples} --out {root}/s2", "folder not found"),
    ("sft --model {held} --data {root}/nowhere.jsonl --out {root}/s3", "does not exist"),
    ("sft --model {held} --data {empty} --out {root}/s4", "has no rows"),
    ("tiny-model --out /proc/x", "cannot create /proc/x"),
    ("worker --url http://127.0.0.1:9 --once", "needs an API key"),
    ("worker --url ftp://example --api-key k --once", "must start with http"),
    # the service client
    ("datasets create --n 5 --spec {root}/nope.json", "file not found"),
    ("datasets create --n 5 --spec {bad}", "not JSON"),
    ("datasets list --url {dead}", "cannot reach"),
    # evaluation
    ("evaluate --model {root}/nonexistent --dataset {held}", "folder not found"),
    ("evaluate --model {held} --dataset {root}/nowhere", "nowhere"),
    ("evaluate --model {held} --dataset {held} --register", "need --url"),
    ("evaluate --model {held} --dataset {held} --limit 0", "--limit must be at least 1"),
    ("evaluate --endpoint {e501} --endpoint-model m --dataset {held} --out {root}/e1",
     "20 of 20 backend requests failed"),
    ("report --run nolabel --out {root}/r1", "use LABEL=PATH"),
    ("report --run a={root}/nowhere --out {root}/r2", "does not exist"),
    # export
    ("export {held} --format alpaca --out {root}/x1", "unknown format"),
    ("export {held} --format verl --template native --out {root}/x2", "use --template qwen2_5"),
    ("export {root}/nowhere --format openai --out {root}/x3", "not a dataset folder"),
    ("export {held} --format openai --out {full}", "not an empty folder"),
    ("export {held} --format openai --template llama --out {root}/x4", "unknown template"),
    ("export {held} --format openai --out {root}/x5 --tokenizer {root}/nowhere", "folder not found"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[c[0].split(" {")[0][:60] for c in CASES])
def test_bad_invocation_fails_with_a_message(ctx, args, message, monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLFORGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("TOOLFORGE_API_KEY", raising=False)
    result = CliRunner().invoke(app, args.format(**ctx).split())
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an unhandled error
    assert "Traceback" not in result.output
    assert message in result.output, result.output
    if result.exit_code == 1:  # ours: one line
        assert result.output.strip().startswith("error:") or "problem" in result.output, result.output


def test_the_table_is_large_enough():
    assert len(CASES) >= 25


def test_evaluate_against_a_501_server_registers_nothing(ctx, tmp_path):
    # --register with a service URL: the run fails before anything is sent to the service
    result = CliRunner().invoke(app, ["evaluate", "--endpoint", ctx["e501"], "--endpoint-model", "m", "--dataset",
                                      ctx["held"], "--out", str(tmp_path / "e"), "--max-backend-errors", "0.5"])
    assert result.exit_code == 1 and "nothing registered" in result.output
    assert (tmp_path / "e" / "completions.jsonl").is_file()  # kept for inspection


def test_worker_against_a_dead_service_waits_then_says_so_in_one_line(ctx, tmp_path):
    # the 252-line traceback: now retries, waits up to --idle-timeout, and exits 1 with one line
    import os
    import subprocess
    import sys

    env = {**os.environ, "TOOLFORGE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-m", "app.cli", "worker", "--url", ctx["dead"], "--api-key", "k",
                           "--once", "--idle-timeout", "1"], capture_output=True, text=True, env=env, timeout=120,
                          check=False)
    assert done.returncode == 1
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "could not reach the service" in lines[0], lines
