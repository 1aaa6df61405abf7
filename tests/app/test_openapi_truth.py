"""The OpenAPI document says what the server does: page and wait maxima are this server's settings (and
enforced), reads are shown open only when they are, both key headers are schemes, the samples page and the
training config have real schemas, and downloads declare the media types they are sent with.

`test_openapi_conformance.py` checks real responses against the document; this file checks the document's
claims that responses alone cannot show.
"""

from __future__ import annotations

import pytest

from app.main import create_app
from app.settings import Settings

SERVER_ENV = {"TOOLFORGE_MAX_PAGE_SIZE": "7", "TOOLFORGE_EVENT_WAIT_MAX": "2"}
LISTS = ("/v1/tools", "/v1/datasets", "/v1/jobs", "/v1/models", "/v1/evaluations",
         "/v1/datasets/{dataset_id}/samples")


def _doc(**settings) -> dict:
    return create_app(Settings(**settings)).openapi()


def _param(op: dict, name: str) -> dict:
    return next(p for p in op["parameters"] if p["name"] == name)


def _operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


@pytest.mark.parametrize("path", LISTS)
def test_limit_is_documented_with_the_servers_page_size(path):
    # the documented maximum is the setting, not the 10,000 ceiling
    assert _param(_doc()["paths"][path]["get"], "limit")["schema"]["maximum"] == 500
    assert _param(_doc(max_page_size=7)["paths"][path]["get"], "limit")["schema"]["maximum"] == 7
    # the setting marker never leaks into the published document
    assert "x-server-max" not in str(_doc())


@pytest.mark.parametrize("path", LISTS)
def test_every_list_documents_next(path):
    doc = _doc()
    schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema["$ref"].rsplit("/", 1)[-1]
    assert "next" in doc["components"]["schemas"][name]["properties"]


def test_wait_is_documented_with_the_servers_cap():
    assert _param(_doc()["paths"]["/v1/events"]["get"], "wait")["schema"]["maximum"] == 30
    assert _param(_doc(event_wait_max=2)["paths"]["/v1/events"]["get"], "wait")["schema"]["maximum"] == 2


def test_reads_show_no_lock_when_open_and_one_when_closed():
    for path, method, op in _operations(_doc()):
        read = method in ("get", "head") and path != "/v1/keys" or path == "/v1/rewards/score"
        if path.startswith("/v1/") and read:
            # open reads: no key needed, a key still accepted
            assert op["security"][0] == {}, (method, path)
        elif path.startswith("/v1/"):
            # writes, worker routes and key admin always need a key
            assert {} not in op["security"], (method, path)
    for path, _method, op in _operations(_doc(open_reads=False)):
        if path.startswith("/v1/"):
            assert {} not in op["security"], path


def test_both_key_headers_are_security_schemes():
    doc = _doc()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {**schemes["HTTPBearer"], "type": "http", "scheme": "bearer"}
    assert schemes["ApiKeyHeader"] == {**schemes["ApiKeyHeader"], "type": "apiKey", "in": "header",
                                       "name": "X-Api-Key"}
    assert doc["paths"]["/v1/tools"]["post"]["security"] == [{"HTTPBearer": []}, {"ApiKeyHeader": []}]


def test_samples_page_has_a_schema():
    doc = _doc()
    schema = doc["paths"]["/v1/datasets/{dataset_id}/samples"]["get"]["responses"]["200"]["content"]
    assert schema == {"application/json": {"schema": {"$ref": "#/components/schemas/SamplesPublic"}}}
    samples = doc["components"]["schemas"]["SamplesPublic"]
    assert set(samples["required"]) == {"data", "count", "offset"}
    assert samples["properties"]["data"]["items"]["type"] == "object"


def test_training_config_has_the_trainers_schema():
    doc = _doc()
    schemas = doc["components"]["schemas"]
    config = schemas["TrainingJobCreate"]["properties"]["config"]
    train = next(s for s in schemas["DatasetCreate"]["properties"]["train"]["anyOf"] if s.get("type") == "object")
    for schema in (config, train):
        assert schema["additionalProperties"] is False
        assert schema["properties"]["learning_rate"] == {"type": "number", "default": 5e-6,
                                                         "description": "AdamW learning rate for GRPO."}
        assert schema["properties"]["max_samples"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
        assert len(schema["properties"]) >= 30


def test_downloads_declare_the_media_types_they_are_sent_with():
    doc = _doc()
    content = doc["paths"]["/v1/datasets/{dataset_id}/files/{name}"]["get"]["responses"]["200"]["content"]
    assert {"application/x-ndjson", "application/vnd.apache.parquet", "application/json", "text/markdown",
            "image/png", "application/octet-stream"} == set(content)
    assert list(doc["paths"]["/v1/datasets/{dataset_id}/card"]["get"]["responses"]["200"]["content"]) == \
        ["text/markdown"]
    assert list(doc["paths"]["/v1/events/stream"]["get"]["responses"]["200"]["content"]) == ["text/event-stream"]
    assert list(doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]


# --- through a real server ---------------------------------------------------------------------


def test_the_served_document_has_this_servers_caps(server):
    doc = server.client.get("/openapi.json").json()
    assert _param(doc["paths"]["/v1/datasets"]["get"], "limit")["schema"]["maximum"] == 7
    assert _param(doc["paths"]["/v1/events"]["get"], "wait")["schema"]["maximum"] == 2


def test_above_the_documented_caps_is_a_422_naming_the_setting(server):
    too_long = server.client.get("/v1/events", params={"wait": 5})
    assert too_long.status_code == 422 and "TOOLFORGE_EVENT_WAIT_MAX" in too_long.json()["detail"]
    assert server.client.get("/v1/events", params={"wait": 0.1}).status_code == 200
    too_many = server.client.get("/v1/jobs", params={"limit": 8})
    assert too_many.status_code == 422 and "TOOLFORGE_MAX_PAGE_SIZE" in too_many.json()["detail"]
    assert server.client.get("/v1/jobs", params={"limit": 7}).status_code == 200


def test_downloads_are_sent_with_their_documented_media_types(server):
    dataset = server.ready_dataset(n=20)
    sent = {f["name"]: server.client.get(f"/v1/datasets/{dataset['id']}/files/{f['name']}").headers["content-type"]
            for f in dataset["files"]}
    assert sent["samples.jsonl"] == "application/x-ndjson"
    assert sent["samples.parquet"] == "application/vnd.apache.parquet"
    assert sent["stats.json"] == "application/json"
    assert sent["README.md"].startswith("text/markdown")

