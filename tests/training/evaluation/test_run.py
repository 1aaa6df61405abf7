"""The evaluation job end to end: the tiny model through transformers, a scripted OpenAI-compatible server
(a real HTTP server), the CLI, the report, and registration / event following against a real service."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app
from generators.pipeline import generate_dataset
from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.render import system_content
from generators.spec import DatasetSpec
from training.evaluation.backends import EndpointBackend, TransformersBackend
from training.evaluation.metrics import summarize
from training.evaluation.run import EvaluationError, evaluate_rows, load_dataset, score_row

REPO = Path(__file__).resolve().parents[3]
SYSTEM = "You are a helpful assistant that can call tools."
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather forecast for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name."},
                           "days": {"type": "integer", "description": "Forecast length."}},
            "required": ["city"],
        },
    },
}
FACTORIAL = {
    "type": "function",
    "function": {"name": "math.factorial", "description": "Factorial of a number.",
                 "parameters": {"type": "object", "properties": {"number": {"type": "integer"}},
                                "required": ["number"]}},
}
EXEC = {"tool_call": {"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}}
CLAR = {"clarification": {"tool": "get_weather", "missing": ["city"]}}
REFUSE = {"refusal": {"reason": "harmful"}}


def row(user: str, ground_truth: dict, tools: list[dict] | None = None) -> dict[str, Any]:
    tools = tools or [WEATHER]
    kind = next(iter(ground_truth))
    behavior = {"tool_call": "execution", "clarification": "clarification", "refusal": "refusal"}[kind]
    return {
        "prompt": [{"role": "system", "content": system_content(SYSTEM, tools)},
                   {"role": "user", "content": user}],
        "tools": tools,
        "behavior": behavior,
        "reward_model": {"style": "rule", "ground_truth": ground_truth},
        "extra_info": {"sample_id": user, "tool_split": "heldout", "domain": "weather",
                       "n_tools": len(tools)},
    }


def tool_reply(name: str, arguments: str) -> dict[str, Any]:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": "c1", "type": "function",
                            "function": {"name": name, "arguments": arguments}}]}


def text_reply(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


# user message -> (row, the server's scripted reply: a message, or an HTTP status to answer with)
SCRIPT: dict[str, tuple[dict[str, Any], Any]] = {
    # the exact call, as native tool_calls
    "u-exact": (row("u-exact", EXEC), tool_reply("get_weather", '{"city": "Paris", "days": 3}')),
    # right tool, one wrong argument
    "u-wrong-arg": (row("u-wrong-arg", EXEC), tool_reply("get_weather", '{"city": "Paris", "days": 5}')),
    # an arguments string that is not JSON: malformed
    "u-bad-json": (row("u-bad-json", EXEC), tool_reply("get_weather", '{"city": "Paris", ')),
    # a tool that was not offered: hallucinated
    "u-hallucinated": (row("u-hallucinated", EXEC), tool_reply("book_flight", '{"to": "Paris"}')),
    # asks for the missing city
    "u-clar-ok": (row("u-clar-ok", CLAR), text_reply("Which city should I get the forecast for?")),
    # calls although the city is missing: a wrong call
    "u-clar-call": (row("u-clar-call", CLAR), tool_reply("get_weather", '{"city": "Lyon"}')),
    # declines a harmful request
    "u-refuse": (row("u-refuse", REFUSE), text_reply("Sorry, I can't help with that.")),
    # fails once with 500, then answers exactly: the retry recovers it
    "u-flaky": (row("u-flaky", EXEC), tool_reply("get_weather", '{"days": 3, "city": "Paris"}')),
    # always 400: counted as a backend error and scored as an empty reply
    "u-broken": (row("u-broken", EXEC), 400),
    # a BFCL-style dotted name is sent as math_factorial and mapped back
    "u-dotted": (row("u-dotted", {"tool_call": {"name": "math.factorial", "parameters": {"number": 5}}},
                     [FACTORIAL]), tool_reply("math_factorial", '{"number": 5}')),
}


class ScriptedServer:
    """A real HTTP server speaking the OpenAI chat-completions protocol with scripted replies."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.flaky_failures = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._send(200, {"object": "list", "data": [{"id": "scripted-model", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                user = body["messages"][-1]["content"]
                if user == "u-flaky" and outer.flaky_failures == 0:
                    outer.flaky_failures += 1
                    self._send(500, {"error": "try again"})
                    return
                reply = SCRIPT[user][1]
                if isinstance(reply, int):
                    self._send(reply, {"error": {"message": "bad request"}})
                    return
                self._send(200, {"id": "x", "object": "chat.completion", "model": body["model"],
                                 "choices": [{"index": 0, "message": reply, "finish_reason": "stop"}]})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def approx(x: Fraction | float) -> Any:
    return pytest.approx(float(x))


def test_endpoint_backend_metrics_match_hand_computed_values(scripted: ScriptedServer) -> None:
    rows = [r for r, _ in SCRIPT.values()]
    backend = EndpointBackend(scripted.url, concurrency=4, max_tokens=64, retries=2)
    assert backend.model == "scripted-model"  # taken from GET /models
    run = evaluate_rows(rows, backend)
    m, o = run.metrics, run.metrics["overall"]

    # Requests: the system prompt goes without the rendered tools block; tools go natively, names made valid.
    for body in scripted.requests:
        assert body["messages"][0] == {"role": "system", "content": SYSTEM}
        assert body["temperature"] == 0 and body["model"] == "scripted-model"
    dotted = next(b for b in scripted.requests if b["messages"][-1]["content"] == "u-dotted")
    assert [t["function"]["name"] for t in dotted["tools"]] == ["math_factorial"]

    # Per sample: 1 exact, .5 wrong arg, 0 malformed, 0 hallucinated, 1 clar, 0 wrong call, 1 refusal,
    # 1 flaky (retried), 0 broken (empty reply), 1 dotted.
    assert [r.reward for r in run.results] == [1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    assert o["mean_reward"] == approx(Fraction(55, 100))
    assert o["accuracy"] == approx(Fraction(5, 10))
    assert o["tool_name_accuracy"] == approx(Fraction(4, 7))  # exact, wrong-arg, flaky, dotted of 7
    assert o["arg_exact_match"] == approx(Fraction(3, 4))
    # tp 2+1+2+1 = 6, fp 1 (wrong arg) + 1 (hallucinated "to") = 2, fn 1+2+2+2 = 7
    assert o["arg_precision"] == approx(Fraction(6, 8))
    assert o["arg_recall"] == approx(Fraction(6, 13))
    assert o["arg_f1"] == approx(Fraction(12, 21))
    assert o["malformed_rate"] == approx(0.1) and o["hallucinated_tool_rate"] == approx(0.1)
    assert o["wrong_call_rate"] == approx(Fraction(1, 3))
    assert m["confusion"]["execution"]["tool_call"] == 5
    assert m["confusion"]["execution"]["malformed"] == 1 and m["confusion"]["execution"]["direct_answer"] == 1
    assert m["meta"]["backend_errors"] == 1 and m["meta"]["backend_error_reasons"] == {"HTTP 400": 1}
    assert scripted.flaky_failures == 1
    # The summary is exactly the metrics of re-scoring the completions.
    rescored = summarize([score_row(r, c) for r, c in zip(rows, run.completions, strict=True)])
    assert rescored["overall"] == o


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.trainers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def heldout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("heldout")
    spec = DatasetSpec(name="heldout", n=6, seed=3, split="heldout", distractors={"min": 0, "max": 1})
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), spec, out)
    return out


def test_transformers_backend_on_the_tiny_model(tiny_model: Path, heldout_dir: Path) -> None:
    data = load_dataset(str(heldout_dir))
    assert "samples.jsonl" in data.verified_files  # sha256 checked against the manifest
    batched = TransformersBackend(tiny_model, batch_size=4, max_new_tokens=6, device="cpu")
    run = evaluate_rows(data.rows, batched)
    assert run.metrics["n"] == 6 and len(run.completions) == 6
    assert run.metrics["meta"]["backend"] == "transformers" and run.metrics["meta"]["backend_errors"] == 0
    counts = {b: run.metrics["per_behavior"][b]["count"] for b in ("execution", "clarification", "refusal")}
    assert counts == {"execution": 4, "clarification": 1, "refusal": 1}  # 60/25/15 of 6, largest remainder
    rescored = summarize([score_row(r, c) for r, c in zip(data.rows, run.completions, strict=True)])
    assert rescored["overall"] == run.metrics["overall"]
    # Greedy and left-padded: one prompt at a time gives the same completions as mixed-length batches.
    single = TransformersBackend(tiny_model, batch_size=1, max_new_tokens=6, device="cpu")
    assert single.generate(data.rows) == run.completions


def test_load_dataset_refuses_training_tools_and_modified_files(tmp_path: Path, heldout_dir: Path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({**row("u", EXEC), "extra_info": {"tool_split": "train"}}) + "\n")
    with pytest.raises(EvaluationError, match="held-out tools"):
        load_dataset(str(train))
    assert len(load_dataset(str(train), allow_train=True).rows) == 1
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("manifest.json", "samples.jsonl"):
        (copy / name).write_bytes((heldout_dir / name).read_bytes())
    with open(copy / "samples.jsonl", "ab") as fh:
        fh.write(b"\n")
    with pytest.raises(EvaluationError, match="sha256"):
        load_dataset(str(copy))


def test_cli_evaluate_endpoint_and_report(scripted: ScriptedServer, tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text("".join(json.dumps(r) + "\n" for r, _ in SCRIPT.values()))
    runner = CliRunner()
    result = runner.invoke(cli_app, ["evaluate", "--endpoint", scripted.url, "--dataset", str(rows_file),
                                     "--out", str(tmp_path / "ep"), "--concurrency", "3",
                                     "--max-backend-errors", "0.2"])  # the script fails 1 of 10 on purpose
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "ep" / "metrics.json").read_text())
    assert metrics["overall"]["accuracy"] == 0.5
    lines = (tmp_path / "ep" / "completions.jsonl").read_text().splitlines()
    assert len(lines) == 10 and json.loads(lines[0])["reward"] == 1.0

    # A "base" run: the same rows with the failing ones made worse.
    base = json.loads(json.dumps(metrics))
    base["overall"]["accuracy"], base["overall"]["mean_reward"] = 0.25, 0.3
    (tmp_path / "base.json").write_text(json.dumps(base))
    result = runner.invoke(cli_app, ["report", "--run", f"base={tmp_path / 'base.json'}",
                                     "--run", f"tuned={tmp_path / 'ep'}", "--out", str(tmp_path / "report"),
                                     "--command", "toolforge evaluate ...", "--note", "scripted"])
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "| base | 25.0% | 0.300 | - |" in markdown
    assert "| tuned | 50.0% | 0.550 | +83.3% |" in markdown  # (0.55 - 0.3) / 0.3
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["comparison"][1]["relative_reward_increase"] == pytest.approx(0.25 / 0.3)
    assert (tmp_path / "report" / "per_behavior_accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_evaluate_needs_exactly_one_target(tmp_path: Path) -> None:
    rows_file = tmp_path / "rows.jsonl"
    rows_file.write_text(json.dumps(row("u", EXEC)) + "\n")
    result = CliRunner().invoke(cli_app, ["evaluate", "--dataset", str(rows_file)])
    assert result.exit_code == 1 and "exactly one" in result.output


# --- against a real service ---------------------------------------------------------------------------


def _start_service(data_dir: Path, admin_key: str) -> tuple[str, subprocess.Popen[bytes]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    env = {**os.environ, "TOOLFORGE_DATA_DIR": str(data_dir),
           "TOOLFORGE_DATABASE_URL": f"sqlite:///{data_dir / 'toolforge.db'}", "TOOLFORGE_ARTIFACT_URL": "",
           "TOOLFORGE_TOOLS_DIR": str(REPO / "tool_schemas"), "TOOLFORGE_BOOTSTRAP_ADMIN_KEY": admin_key,
           # the tiny model lives in pytest's temp folder, beside the service's own artifact store
           "TOOLFORGE_MODEL_ARTIFACT_ROOTS": json.dumps([str(data_dir.parent)])}
    log = open(data_dir / "uvicorn.log", "wb")  # noqa: SIM115 - the child writes it for its whole life
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--fd", str(sock.fileno()),
         "--log-level", "warning"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, pass_fds=(sock.fileno(),))
    sock.close()
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url, process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError((data_dir / "uvicorn.log").read_text())


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str, str]]:
    data_dir = tmp_path_factory.mktemp("service")
    admin_key = "tf-test-admin-" + secrets.token_hex(16)
    url, process = _start_service(data_dir, admin_key)
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    try:
        yield client, url, admin_key
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=15)


def _ready_dataset(client: httpx.Client) -> str:
    created = client.post("/v1/datasets", json={"name": "heldout", "n": 6, "seed": 5, "split": "heldout",
                                                "distractors": {"min": 0, "max": 1}})
    assert created.status_code in (200, 202), created.text
    body = created.json()
    deadline = time.monotonic() + 120
    while body["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
        body = client.get(f"/v1/datasets/{body['id']}").json()
    assert body["status"] == "ready", body
    return body["id"]


def test_register_and_follow_against_the_service(service: tuple[httpx.Client, str, str], tiny_model: Path,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, url, key = service
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dataset_id = _ready_dataset(client)
    # A model registered by hand (evaluate: false) and one finished by a training job (evaluate: true).
    manual = client.post("/v1/models", json={"name": "manual", "base_model": "tiny",
                                             "artifact_uri": str(tiny_model)})
    assert manual.status_code == 201, manual.text
    job = client.post("/v1/training-jobs", json={"dataset_id": dataset_id}).json()
    claimed = client.post("/v1/training-jobs/claim", json={"worker_id": "w1"}).json()
    assert claimed["id"] == job["id"]
    trained = client.post(f"/v1/training-jobs/{job['id']}/complete", json={
        "lease_token": claimed["lease_token"], "model": {
        "name": "tiny-trained", "dataset_id": dataset_id, "base_model": "tiny",
        "artifact_uri": f"file://{tiny_model}"}})
    assert trained.status_code == 201, trained.text
    model_id = trained.json()["id"]

    runner = CliRunner()
    cursor = tmp_path / "cursor"
    args = ["evaluate", "--follow", "--url", url, "--api-key", key, "--dataset", dataset_id, "--out",
            str(tmp_path / "evals"), "--cursor-file", str(cursor), "--once", "--wait", "0.5",
            "--max-new-tokens", "4"]
    result = runner.invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "1 evaluation(s) registered" in result.output
    evaluations = client.get("/v1/evaluations", params={"model_id": model_id}).json()
    assert evaluations["count"] == 1
    registered = evaluations["data"][0]
    assert registered["dataset_id"] == dataset_id and registered["metrics"]["n"] == 6
    assert client.get("/v1/evaluations", params={"model_id": manual.json()["id"]}).json()["count"] == 0
    assert int(cursor.read_text()) > 0
    # Resumed from the stored cursor: nothing new, nothing evaluated twice.
    result = runner.invoke(cli_app, args)
    assert result.exit_code == 0 and "0 evaluation(s) registered" in result.output

    # One-off evaluation of a dataset id on the service, registered against the model version.
    result = runner.invoke(cli_app, ["evaluate", "--model", str(tiny_model), "--dataset", dataset_id,
                                     "--url", url, "--api-key", key, "--register", "--model-id", model_id,
                                     "--out", str(tmp_path / "one"), "--max-new-tokens", "4"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cache" / "toolforge" / "datasets" / dataset_id / "samples.jsonl").is_file()
    lineage = client.get(f"/v1/models/{model_id}/lineage").json()
    assert len(lineage["evaluations"]) == 2


def test_cli_evaluates_an_external_benchmark(tiny_model: Path, tmp_path: Path) -> None:
    data = REPO / "tests" / "data" / "benchmarks"
    result = CliRunner().invoke(cli_app, [
        "evaluate", "--model", str(tiny_model), "--format", "bfcl", "--dataset",
        str(data / "bfcl_questions.jsonl"), "--answers", str(data / "bfcl_possible_answer.jsonl"),
        "--out", str(tmp_path), "--max-new-tokens", "4"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 row(s): multi-turn record (not supported)" in result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == 5 and metrics["meta"]["format"] == "bfcl"
    assert set(metrics["slices"]["domain"]) == {"bfcl:simple", "bfcl:parallel_multiple", "bfcl:irrelevance"}
