"""`toolforge datasets download ID --format F`: a version from a real service, exported on the way."""

import json

from typer.testing import CliRunner

from app.cli import app


def test_download_with_format_exports_the_version(server, tmp_path):
    version = server.ready_dataset(n=60, name="dl-export")
    result = CliRunner().invoke(app, ["datasets", "download", version["id"], "--out", str(tmp_path / "v"),
                                      "--format", "verl", "--url", server.base_url,
                                      "--api-key", server.keys["read"]])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "v" / "export-verl" / "export.json").read_text())
    assert doc["n"] == 60 and doc["format"] == "verl"
    assert (tmp_path / "v" / "export-verl" / "train.parquet").is_file()
