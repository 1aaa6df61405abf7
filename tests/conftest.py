"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest


@pytest.fixture
def hf_offline(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Hugging Face libraries offline, with a per-test cache: nothing is fetched from or written to a hub cache."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
