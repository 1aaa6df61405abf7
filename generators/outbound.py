"""What a dataset spec may make the generator reach: environment variables and paraphrase endpoints.

A spec's ``paraphrase.api_key_env`` names an environment variable whose value is sent as a Bearer token
to ``paraphrase.base_url``. Both come from whoever writes the spec, so a service must only honour the
variables and endpoints its operator allows (`app.settings`: ``TOOLFORGE_PARAPHRASE_KEY_ENVS``,
``TOOLFORGE_PARAPHRASE_BASE_URLS``), or a spec could send any secret to any host.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from generators.spec import ParaphraseOptions

KEY_ENVS_SETTING = "TOOLFORGE_PARAPHRASE_KEY_ENVS"
BASE_URLS_SETTING = "TOOLFORGE_PARAPHRASE_BASE_URLS"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Refusal:
    """A spec field the operator's allow-list does not admit."""

    field: str
    setting: str
    detail: str


def key_env_allowed(name: str, allowed: Collection[str], forbidden: Collection[str] = ()) -> bool:
    """Whether an environment variable is on the allow-list (an entry ending in ``*`` is a prefix).

    >>> key_env_allowed("OPENAI_API_KEY", ["OPENAI_API_KEY"])
    True
    >>> key_env_allowed("PARAPHRASE_KEY_A", ["PARAPHRASE_KEY_*"]), key_env_allowed("HOME", ["PARAPHRASE_KEY_*"])
    (True, False)
    """
    if name in forbidden:
        return False
    return any(name == entry or (entry.endswith("*") and name.startswith(entry[:-1])) for entry in allowed)


def _origin_and_path(url: str) -> tuple[tuple[str, str, int], list[str]] | None:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    segments = [segment for segment in parts.path.split("/") if segment]
    if parts.query or parts.fragment or any(segment in (".", "..") or "%" in segment for segment in segments):
        return None
    origin = (parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme])
    return origin, segments


def base_url_allowed(url: str, allowed: Collection[str]) -> bool:
    """Whether a paraphrase endpoint is under one of the allowed base URLs.

    Scheme, host and port must match exactly and the path must lie at or below the entry's path, segment
    by segment; credentials in the URL, a query, a fragment, dot segments or percent-escapes are never allowed.

    >>> base_url_allowed("http://vllm:8000/v1", ["http://vllm:8000"])
    True
    >>> base_url_allowed("http://vllm:8000@evil.example/v1", ["http://vllm:8000"])
    False
    >>> base_url_allowed("http://vllm:8001/v1", ["http://vllm:8000/v1"])
    False
    """
    target = _origin_and_path(url)
    if target is None:
        return False
    for entry in allowed:
        base = _origin_and_path(entry)
        if base is not None and base[0] == target[0] and target[1][: len(base[1])] == base[1]:
            return True
    return False


def outbound_refusals(
    options: ParaphraseOptions, key_envs: Collection[str], base_urls: Collection[str],
    forbidden_envs: Collection[str] = (),
) -> list[Refusal]:
    """The paraphrase fields of a spec that the allow-lists do not admit (empty: the spec may run).

    Args:
        options: the spec's paraphrase options.
        key_envs: environment variable names (or ``PREFIX*``) a spec may name in ``api_key_env``.
        base_urls: base URLs a spec's ``base_url`` may point at or below.
        forbidden_envs: names never allowed whatever the list says (the service's own secrets).

    Returns:
        One refusal per field, saying which setting admits it.
    """
    out: list[Refusal] = []
    if options.api_key_env and not key_env_allowed(options.api_key_env, key_envs, forbidden_envs):
        listed = ", ".join(sorted(key_envs)) or "empty"
        out.append(Refusal("paraphrase.api_key_env", KEY_ENVS_SETTING,
                           f"paraphrase.api_key_env {options.api_key_env!r} is not an environment variable this "
                           f"server lets a spec name; the operator lists them in {KEY_ENVS_SETTING} (now: {listed})"))
    if options.base_url and not base_url_allowed(options.base_url, base_urls):
        listed = ", ".join(sorted(base_urls)) or "empty"
        out.append(Refusal("paraphrase.base_url", BASE_URLS_SETTING,
                           f"paraphrase.base_url {options.base_url!r} is not a paraphrase endpoint this server may "
                           f"call; the operator lists them in {BASE_URLS_SETTING} (now: {listed})"))
    return out
