"""A retired shipped tool stays retired across restarts, and the registry digest is stable across them."""

from __future__ import annotations


def _digest(server) -> str:
    return server.client.get("/v1/tools", params={"limit": 1}).json()["registry_digest"]


def test_a_restart_keeps_the_registry_and_its_digest(server, spawn):
    before = _digest(server)
    restarted = spawn({})  # a new process on the same database seeds from tool_schemas/ again
    assert _digest(restarted) == before


def test_a_retired_shipped_tool_stays_retired_after_a_restart(server, spawn):
    name = server.client.get("/v1/tools", params={"limit": 1}).json()["data"][0]["name"]
    document = server.client.get(f"/v1/tools/{name}").json()["document"]
    retired = server.client.delete(f"/v1/tools/{name}", headers=server.auth("write"))
    assert retired.status_code == 200 and retired.json()["retired_at"]
    digest = _digest(server)

    restarted = spawn({})
    # before: seeding registered the shipped file again as a new live version, and the digest changed
    assert restarted.client.get(f"/v1/tools/{name}").status_code == 404
    assert _digest(restarted) == digest
    assert spawn({}).client.get(f"/v1/tools/{name}").status_code == 404  # and after another restart

    # registering it again is how it comes back
    again = restarted.client.post("/v1/tools", json=document, headers=server.auth("write"))
    assert again.status_code == 201 and again.json()["retired_at"] is None
    assert restarted.client.get(f"/v1/tools/{name}").status_code == 200
    assert spawn({}).client.get(f"/v1/tools/{name}").status_code == 200
