"""The allow-list checks behind TOOLFORGE_PARAPHRASE_KEY_ENVS and TOOLFORGE_PARAPHRASE_BASE_URLS."""

from __future__ import annotations

import pytest

from generators.outbound import base_url_allowed, key_env_allowed, outbound_refusals
from generators.spec import ParaphraseOptions

ALLOWED = ["http://vllm:8000/v1", "https://api.example.com"]


@pytest.mark.parametrize(("url", "ok"), [
    ("http://vllm:8000/v1", True),
    ("http://vllm:8000/v1/", True),
    ("http://VLLM:8000/v1/chat", True),
    ("https://api.example.com/v1", True),
    ("https://api.example.com:443/v1", True),
    ("http://vllm:8000", False),           # above the allowed path
    ("http://vllm:8000/v10", False),       # a prefix of characters is not a path prefix
    ("http://vllm:8001/v1", False),
    ("https://vllm:8000/v1", False),
    ("http://api.example.com/v1", False),  # scheme decides the port
    ("http://vllm:8000@evil.example/v1", False),
    ("http://u:p@vllm:8000/v1", False),
    ("http://vllm:8000/v1/../../admin", False),
    ("http://vllm:8000/v1/%2e%2e/x", False),
    ("http://vllm:8000/v1?x=1", False),
    ("http://vllm:8000/v1#x", False),
    ("http://vllm:99999/v1", False),
    ("http://api.example.com.evil.example/v1", False),
    ("ftp://vllm:8000/v1", False),
])
def test_base_url_allowed(url: str, ok: bool) -> None:
    assert base_url_allowed(url, ALLOWED) is ok


def test_nothing_is_allowed_by_default() -> None:
    opts = ParaphraseOptions(backend="openai", model="m", base_url="http://vllm:8000/v1", api_key_env="OPENAI_API_KEY")
    refused = outbound_refusals(opts, [], [])
    assert [r.setting for r in refused] == ["TOOLFORGE_PARAPHRASE_KEY_ENVS", "TOOLFORGE_PARAPHRASE_BASE_URLS"]
    assert outbound_refusals(opts, ["OPENAI_API_KEY"], ["http://vllm:8000"]) == []


def test_key_env_prefix_and_forbidden_names() -> None:
    assert key_env_allowed("PK_ONE", ["PK_*"]) and not key_env_allowed("PKX", ["PK_*"])
    assert not key_env_allowed("TOOLFORGE_DATABASE_URL", ["TOOLFORGE_*"], forbidden={"TOOLFORGE_DATABASE_URL"})


def test_settings_never_allow_their_own_secrets() -> None:
    from app.settings import Settings

    settings = Settings(paraphrase_key_envs=["TOOLFORGE_*"])
    opts = ParaphraseOptions(api_key_env="TOOLFORGE_DATABASE_URL")
    assert [r.field for r in settings.outbound_refusals(opts)] == ["paraphrase.api_key_env"]
    with pytest.raises(ValueError, match="TOOLFORGE_PARAPHRASE_KEY_ENVS"):
        Settings(paraphrase_key_envs=["*"])
    with pytest.raises(ValueError, match="TOOLFORGE_PARAPHRASE_BASE_URLS"):
        Settings(paraphrase_base_urls=["http://user:pw@vllm:8000"])
