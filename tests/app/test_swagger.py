"""Swagger UI renders in headless Chromium, offline, and lists every resource tag of the API."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
TAGS = ("tools", "datasets", "jobs", "models", "events", "rewards", "health")
# The UI is rendered once per run; SQLite is enough (the page does not touch the database).
pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="needs Debian's chromium: apt-get install -y chromium"
    ),
]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run headless Chromium with nothing that reaches the network besides the page itself."""
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
        *args,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, timeout=180, check=False)


def test_docs_page_loads_its_assets_from_this_server(server):
    page = server.client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]|url:\s*['"]([^'"]+)['"]""", page.text)
    external = [u for pair in urls for u in pair if u.startswith(("http://", "https://", "//"))]
    assert not external, f"/docs loads {external} from outside; offline machines cannot render it"
    for script in re.findall(r"""src=['"]([^'"]+\.js)['"]""", page.text):
        asset = server.client.get(script)
        assert asset.status_code == 200 and len(asset.content) > 100_000, script


def test_swagger_ui_renders_every_tag(server, tmp_path):
    url = f"{server.base_url}/docs"
    dom = _chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    html = dom.stdout.decode(errors="replace")
    # Rendered by the UI's scripts, not present in the served HTML: proves the UI ran.
    missing = [tag for tag in TAGS if f'id="operations-tag-{tag}"' not in html]
    assert not missing, f"Swagger UI did not render tags {missing}; DOM starts {html[:1500]}"
    assert "ToolForge" in html and "/v1/datasets" in html
    assert 'class="btn authorize' in html  # the bearer scheme is declared, so keys can be entered

    shot = tmp_path / "swagger.png"
    result = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", url)
    assert result.returncode == 0 and shot.exists(), result.stderr.decode(errors="replace")[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    # A blank page compresses to a few KB; a rendered UI with text and colours is far larger.
    assert len(data) > 40_000, len(data)
    if target := os.environ.get("TOOLFORGE_SWAGGER_SCREENSHOT"):  # refresh docs/swagger.png on request
        shutil.copyfile(shot, target)
