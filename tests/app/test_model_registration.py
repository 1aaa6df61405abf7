"""POST /v1/models, like a training job's complete, accepts only an artifact_uri inside the artifact store
(or a root in TOOLFORGE_MODEL_ARTIFACT_ROOTS); anything else is a 422 and registers nothing."""

from __future__ import annotations

import pytest


def _body(uri: str) -> dict:
    return {"name": "outside", "base_model": "tiny", "artifact_uri": uri}


def _models(server) -> int:
    return server.client.get("/v1/models", params={"limit": 1}).json()["count"]


@pytest.mark.parametrize("uri", [
    "file:///etc/passwd",  # a file URL outside the store
    "/etc/passwd",  # a path outside the store
    "{store}/../../etc/passwd",  # climbing out of the store
    "{store}-evil/models/m",  # a sibling whose name starts like the store
    "s3://someone-elses-bucket/models/m",  # another store altogether
])
def test_an_artifact_outside_the_store_is_refused(server, uri):
    store = str((server.data_dir / "artifacts").resolve())
    before = _models(server)
    response = server.client.post("/v1/models", json=_body(uri.format(store=store)), headers=server.auth("worker"))
    # before: 201, a model pointing anywhere (e.g. file:///etc/passwd)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "artifact store" in detail and "TOOLFORGE_MODEL_ARTIFACT_ROOTS" in detail
    assert _models(server) == before


def test_an_artifact_in_the_store_is_registered(server):
    store = (server.data_dir / "artifacts").resolve()
    for uri in (str(store / "models" / "m1"), (store / "models" / "m2").as_uri()):
        response = server.client.post("/v1/models", json=_body(uri), headers=server.auth("worker"))
        assert response.status_code == 201 and response.json()["artifact_uri"] == uri, response.text
