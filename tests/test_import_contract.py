"""The import contract between the three packages, and what the API process may load.

- ``generators`` imports neither ``app`` nor ``training``; ``training`` does not import ``app``
  (static: every ``import`` in the source, function-level ones included).
- The API process (``app.main`` built and started) never imports torch, transformers, trl, peft, vllm,
  datasets or typer: checked in a fresh interpreter, where nothing else has loaded them first.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "trl", "peft", "vllm", "datasets", "accelerate", "typer")

# The API process: build the app, run its start-up (lifespan: migrations, registry seed) and one request.
START_API = """
import json, sys
from fastapi.testclient import TestClient
from app.main import create_app
with TestClient(create_app(run_jobs=False)) as client:
    assert client.get("/readyz").status_code == 200, client.get("/readyz").text
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def imported_modules(path: Path) -> set[str]:
    """Absolute module names imported anywhere in a file (relative imports are within the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    """``file: module`` for each import of a forbidden top-level package from `package`'s source."""
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if name.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(REPO)}: {name}")
    return found


@pytest.mark.parametrize(("package", "forbidden"), [
    ("generators", ("app", "training")),  # the library core knows neither the service nor training
    ("training", ("app",)),  # training talks to the service over HTTP (training/client.py) only
])
def test_package_does_not_import(package: str, forbidden: tuple[str, ...]) -> None:
    assert violations(package, forbidden) == []


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    # A lazy import inside a function counts as much as one at the top.
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from app.settings import Settings\n    import torch.nn\n")
    assert imported_modules(source) == {"app.settings", "torch.nn"}


def test_api_process_never_loads_training_frameworks(tmp_path: Path) -> None:
    env = {**os.environ, "TOOLFORGE_DATA_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    env.pop("TOOLFORGE_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", START_API], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "app" in loaded and "fastapi" in loaded  # the probe did start the service
    assert sorted(loaded & set(HEAVY)) == []
