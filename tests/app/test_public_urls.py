"""Links never reflect the Host header: file URLs, `next`, `Location` and trailing-slash redirects are paths,
or start with TOOLFORGE_PUBLIC_URL when the operator sets it."""

from __future__ import annotations

import pytest

EVIL = {"Host": "evil.example"}
PUBLIC = "https://tf.example.com/api"


def _links(server, headers: dict) -> list[str]:
    """Every link one walk through the API answers, asked with `headers`."""
    dataset = server.ready_dataset(n=20)
    got = server.client.get(f"/v1/datasets/{dataset['id']}", headers=headers).json()
    links = [f["url"] for f in got["files"]]
    links.append(server.client.get("/v1/datasets", params={"limit": 1}, headers=headers).json()["next"])
    samples = server.client.get(f"/v1/datasets/{dataset['id']}/samples", params={"limit": 1}, headers=headers)
    links.append(samples.json()["next"])
    created = server.client.post("/v1/datasets", json={"name": "links", "n": 10, "seed": 77},
                                 headers={**server.auth("write"), **headers})
    if created.status_code == 202:
        links.append(created.headers["location"])
    redirect = server.client.get("/v1/datasets/", headers=headers, follow_redirects=False)
    assert redirect.status_code == 307, redirect.text
    links.append(redirect.headers["location"])
    return links


def test_links_are_paths_whatever_the_host_header(server):
    server.ready_dataset(n=20, seed=2)  # a second version, so the dataset list has a next page
    links = _links(server, EVIL)
    assert len(links) >= 6
    for url in links:
        # a path on the service the client called; before, http://evil.example/... was answered
        assert url.startswith("/v1/") and "evil" not in url, url


def test_links_start_with_the_public_url_when_set(server, spawn):
    server.ready_dataset(n=20, seed=2)
    # another server on the same database and artifacts, with a public URL
    public = spawn({"TOOLFORGE_PUBLIC_URL": PUBLIC, "TOOLFORGE_ARTIFACT_URL": str(server.data_dir / "artifacts")})
    public.datasets = server.datasets  # the same database: the versions exist
    for url in _links(public, EVIL):
        assert url.startswith(f"{PUBLIC}/v1/"), url
    # the links work when resolved by a client (here: the public URL's path mapped back to the server)
    file_url = public.client.get(f"/v1/datasets/{server.ready_dataset(n=20)['id']}").json()["files"][0]["url"]
    assert public.client.get(file_url.removeprefix(PUBLIC)).status_code == 200


@pytest.mark.parametrize("bad", ["ftp://tf.example.com", "https://user:pw@tf.example.com", "https://x/?q=1",
                                 "tf.example.com"])
def test_an_unsafe_public_url_is_refused_at_start(bad):
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="TOOLFORGE_PUBLIC_URL"):
        Settings(public_url=bad)
