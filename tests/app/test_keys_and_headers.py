"""Key revocation (admin route and `toolforge keys revoke`), WWW-Authenticate on 401, Location on 202."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.auth import create_key

REPO = Path(__file__).resolve().parents[2]


def _new_key(server, scopes: list[str]) -> str:
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            return create_key(session, "to-revoke", scopes)
    finally:
        engine.dispose()


def test_admin_revokes_a_key_and_it_stops_at_once(server) -> None:
    key = _new_key(server, ["write"])
    headers = {"Authorization": f"Bearer {key}"}
    assert server.client.post("/v1/jobs/none/cancel", headers=headers).status_code == 404  # works
    prefix = key.split("_")[1]
    listed = server.client.get("/v1/keys", headers=server.auth("admin")).json()
    row = next(k for k in listed["data"] if k["prefix"] == prefix)
    assert row["scopes"] == ["write"] and row["revoked_at"] is None and key not in str(listed)
    # only admin may list or revoke
    assert server.client.get("/v1/keys", headers=server.auth("write")).status_code == 403
    assert server.client.post(f"/v1/keys/{row['id']}/revoke", headers=server.auth("write")).status_code == 403
    revoked = server.client.post(f"/v1/keys/{row['id']}/revoke", headers=server.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = server.client.post("/v1/jobs/none/cancel", headers=headers)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert server.client.post("/v1/keys/key_nope/revoke", headers=server.auth("admin")).status_code == 404


def test_cli_revokes_by_prefix(server) -> None:
    key = _new_key(server, ["worker"])
    env = {**os.environ, "TOOLFORGE_DATABASE_URL": server.database_url, "TOOLFORGE_DATA_DIR": str(server.data_dir)}
    run = subprocess.run([sys.executable, "-m", "app.cli", "keys", "revoke", key.split("_")[1]], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "revoked key_" in run.stdout
    assert server.client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    unknown = subprocess.run([sys.executable, "-m", "app.cli", "keys", "revoke", "000000000000"], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=120)
    assert unknown.returncode != 0 and "no API key" in unknown.stdout + unknown.stderr


def test_401_without_a_key_says_how_to_authenticate(server) -> None:
    response = server.client.post("/v1/datasets", json={"n": 1})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"] == "unauthorized"


def test_202_has_a_location(server) -> None:
    headers = {**server.auth("write"), "Idempotency-Key": "location-1"}
    created = server.client.post("/v1/datasets", json={"name": "located", "n": 500, "seed": 404}, headers=headers)
    assert created.status_code == 202, created.text
    assert created.headers["location"] == f"/v1/datasets/{created.json()['id']}"
    assert server.client.get(created.headers["location"]).json()["id"] == created.json()["id"]
    replay = server.client.post("/v1/datasets", json={"name": "located", "n": 500, "seed": 404}, headers=headers)
    if replay.status_code == 202:
        assert replay.headers["location"] == created.headers["location"]
