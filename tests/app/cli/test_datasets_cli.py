"""`toolforge datasets create/list/show/download` against a real server, through training/client.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import app as cli_app

pytestmark = pytest.mark.usefixtures("server")


@pytest.fixture(scope="module", params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'toolforge.db'}"


def test_create_show_list_and_download(server, tmp_path: Path) -> None:  # noqa: ANN001
    runner = CliRunner()
    common = ["--url", server.base_url, "--api-key", server.keys["write"]]
    created = runner.invoke(cli_app, ["datasets", "create", "--n", "20", "--seed", "4", "--name", "cli", *common])
    assert created.exit_code == 0, created.output
    version = json.loads(created.output[created.output.index("{"):])
    assert version["status"] == "ready" and sum(version["counts"].values()) == 20

    shown = runner.invoke(cli_app, ["datasets", "show", version["id"], *common])
    assert shown.exit_code == 0 and json.loads(shown.output)["id"] == version["id"]
    listed = runner.invoke(cli_app, ["datasets", "list", *common])
    assert listed.exit_code == 0 and version["id"] in listed.output

    out = tmp_path / "files"
    got = runner.invoke(cli_app, ["datasets", "download", version["id"], "--out", str(out), *common])
    assert got.exit_code == 0, got.output
    files = {f["name"]: f["sha256"] for f in json.loads(shown.output)["files"]}
    assert files and {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()} == files


def test_errors_name_the_request(server) -> None:  # noqa: ANN001
    runner = CliRunner()
    missing = runner.invoke(cli_app, ["datasets", "show", "ds_nope", "--url", server.base_url])
    assert missing.exit_code == 1 and "GET dataset" in missing.output and "404" in missing.output
    down = runner.invoke(cli_app, ["datasets", "list", "--url", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "toolforge serve" in down.output
