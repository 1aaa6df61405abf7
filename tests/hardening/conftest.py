"""Fixtures for the hardening tests: the service fixtures of `tests/app/conftest.py`, reused as they are.

That file is not importable as a module (tests are not a package and run with importlib mode), so it
is loaded from its path; its fixtures (`database_url`, `server`, `spawn`) are re-exported here, and
its helpers (`start_uvicorn`, `stop_process`, `Server`) are available as `app_fixtures.X`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _load_app_conftest():  # type: ignore[no-untyped-def]
    name = "toolforge_tests_app_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "app" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


app_fixtures = _load_app_conftest()
database_url = app_fixtures.database_url
server = app_fixtures.server
spawn = app_fixtures.spawn
