"""A dataset spec cannot make the server send a secret to a host of the caller's choosing.

`paraphrase.api_key_env` may only name a variable on the operator's list (TOOLFORGE_PARAPHRASE_KEY_ENVS) and
`paraphrase.base_url` may only point under an endpoint on theirs (TOOLFORGE_PARAPHRASE_BASE_URLS); both are
empty by default, and a refusal is a 422 naming the setting, with nothing created.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECRET = "paraphrase-key-" + os.urandom(6).hex()
SERVER_ENV: dict[str, str] = {
    "TOOLFORGE_PARAPHRASE_KEY_ENVS": json.dumps(["TF_TEST_PARAPHRASE_KEY", "TF_TEST_PK_*"]),
    "TF_TEST_PARAPHRASE_KEY": SECRET,
    "TF_TEST_NOT_LISTED": "not-for-you",
}


def _stub_class():
    path = REPO / "tests" / "generators" / "openai_stub_server.py"
    spec = importlib.util.spec_from_file_location("openai_stub_server", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("openai_stub_server", module)
    spec.loader.exec_module(module)
    return module.StubServer


@pytest.fixture(scope="module", autouse=True)
def stub():
    # Autouse: it starts before the module's service, whose allow-list names this stub's endpoint.
    with _stub_class()() as server:
        SERVER_ENV["TOOLFORGE_PARAPHRASE_BASE_URLS"] = json.dumps([server.base_url])
        yield server


def _body(**paraphrase) -> dict:
    return {"name": "outbound", "n": 30, "seed": 11, "paraphrase": {"backend": "openai", "model": "stub-good",
                                                                     **paraphrase}}


def _count(server) -> int:
    return server.client.get("/v1/datasets", headers=server.auth("read")).json()["count"]


REFUSED_ENVS = ["TOOLFORGE_DATABASE_URL", "TOOLFORGE_BOOTSTRAP_ADMIN_KEY", "TF_TEST_NOT_LISTED", "HOME", "PATH"]


@pytest.mark.parametrize("name", REFUSED_ENVS)
def test_unlisted_key_env_is_refused(server, stub, name: str) -> None:
    before = _count(server)
    r = server.client.post("/v1/datasets", json=_body(base_url=stub.base_url, api_key_env=name),
                           headers=server.auth("write"))
    assert r.status_code == 422, r.text
    assert r.json()["type"] == "invalid_input"
    assert "TOOLFORGE_PARAPHRASE_KEY_ENVS" in r.json()["detail"] and name in r.json()["detail"]
    assert r.json()["settings"] == ["TOOLFORGE_PARAPHRASE_KEY_ENVS"]
    assert _count(server) == before


def _refused_urls(stub_url: str) -> list[str]:
    host_port = stub_url.removeprefix("http://").removesuffix("/v1")
    return [
        "http://attacker.example/v1",
        f"http://{host_port}@attacker.example/v1",  # userinfo trick: the host is attacker.example
        f"http://user:pw@{host_port}/v1",
        f"http://{host_port}/v2",  # outside the allowed path
        f"http://{host_port}/v1/../admin",
        f"https://{host_port}/v1",  # another scheme
        f"http://{host_port.split(':')[0]}:1/v1",  # another port
        f"http://{host_port}/v1?x=1",
    ]


def test_unlisted_base_url_is_refused(server, stub) -> None:
    before = _count(server)
    for url in _refused_urls(stub.base_url):
        r = server.client.post("/v1/datasets", json=_body(base_url=url), headers=server.auth("write"))
        assert r.status_code == 422, (url, r.text)
        assert "TOOLFORGE_PARAPHRASE_BASE_URLS" in r.json()["detail"], url
        assert r.json()["settings"] == ["TOOLFORGE_PARAPHRASE_BASE_URLS"]
    assert _count(server) == before


def test_both_refusals_are_reported_together(server) -> None:
    r = server.client.post("/v1/datasets", json=_body(base_url="http://attacker.example/v1",
                                                      api_key_env="TOOLFORGE_DATABASE_URL"),
                           headers=server.auth("write"))
    assert r.status_code == 422
    assert r.json()["settings"] == ["TOOLFORGE_PARAPHRASE_BASE_URLS", "TOOLFORGE_PARAPHRASE_KEY_ENVS"]


def test_listed_key_and_endpoint_are_used(server, stub) -> None:
    body = _body(base_url=stub.base_url + "/", api_key_env="TF_TEST_PARAPHRASE_KEY")
    r = server.client.post("/v1/datasets", json=body, headers=server.auth("write"))
    assert r.status_code == 202, r.text
    job = server.wait_job(r.json()["job_id"])
    assert job["status"] == "succeeded", f"{job}\n{server.log_tail()}"
    assert f"Bearer {SECRET}" in stub.authorizations


def test_default_server_allows_no_key_and_no_endpoint(spawn, stub) -> None:
    closed = spawn({"TOOLFORGE_PARAPHRASE_KEY_ENVS": "[]", "TOOLFORGE_PARAPHRASE_BASE_URLS": "[]"})
    r = closed.client.post("/v1/datasets", json=_body(base_url=stub.base_url), headers=closed.auth("write"))
    assert r.status_code == 422 and "(now: empty)" in r.json()["detail"], r.text
    # Without paraphrasing nothing is reached and nothing is refused.
    plain = closed.client.post("/v1/datasets", json={"name": "plain", "n": 20, "seed": 2},
                               headers=closed.auth("write"))
    assert plain.status_code in (200, 202), plain.text
