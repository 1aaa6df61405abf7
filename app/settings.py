"""The one settings object, read from the environment (`TOOLFORGE_*`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from generators.outbound import Refusal, base_url_allowed, outbound_refusals
from generators.registry import DEFAULT_TOOLS_DIR, Limits
from generators.spec import ParaphraseOptions


class Settings(BaseSettings):
    """Service, CLI and worker settings. Every field can be set as `TOOLFORGE_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="TOOLFORGE_", env_file=".env", extra="ignore")

    # Storage
    data_dir: Path = Field(Path("data"), description="Folder for the SQLite file and local artifacts.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite file in data_dir.")
    artifact_url: str = Field("", description="Artifact root (path or fsspec URL); empty = data_dir/artifacts.")
    tools_dir: Path = Field(DEFAULT_TOOLS_DIR, description="Folder of tool schema files loaded at start-up.")

    # Registry guard rails
    registry_max_depth: int = Field(8, ge=1, le=64, description="Deepest schema nesting accepted.")
    registry_max_properties: int = Field(64, ge=1, le=10_000, description="Most properties per object.")
    registry_max_enum: int = Field(256, ge=1, le=100_000, description="Most values in one enum.")
    registry_max_file_bytes: int = Field(256 * 1024, ge=1024, description="Largest tool file accepted.")

    # API
    open_reads: bool = Field(True, description="Allow GET requests without an API key.")
    public_url: str = Field("", description="The service's public base URL (e.g. https://toolforge.example.com) "
                            "that file URLs, `next` links and redirects start with; empty: they are paths, "
                            "resolved against the URL the client called. The Host header is never used.")
    bootstrap_admin_key: str = Field("", description="If set, an admin key with this secret exists at start-up.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest request body accepted.")
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, description="Largest derived-version upload "
                                  "(rollouts, preferences: POST /v1/datasets/{id}/derived), streamed to disk.")
    body_timeout_s: float = Field(30.0, gt=0, le=3600, description="Seconds a request body may take to arrive "
                                  "(uploads: the longest pause between two parts); then a 408 and the "
                                  "connection is closed, so a stalled client cannot hold it open.")
    max_page_size: int = Field(500, ge=1, le=10_000, description="Largest page a list endpoint returns.")
    max_dataset_n: int = Field(2_000_000, ge=1, description="Largest dataset one request may ask for.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins (closed by default).")
    generation_workers: int = Field(1, ge=1, le=64, description="Processes per generation job.")
    lease_seconds: int = Field(120, ge=1, le=86_400, description="Training-job lease length.")
    generation_lease_seconds: int = Field(30, ge=5, le=3600, description="Generation-job lease length: how "
                                          "long a killed generation process holds its job before it is retried.")
    event_wait_max: float = Field(30.0, ge=0, le=300, description="Longest long-poll wait on /v1/events.")
    eval_max_backend_error_rate: float = Field(0.05, ge=0, le=1, description="`evaluate` fails (and registers "
                                               "nothing) when more than this share of backend requests failed.")

    model_artifact_roots: list[str] = Field(
        default_factory=list, description="More roots (paths or fsspec URLs, JSON list) where a training job's "
        "model artifact_uri and checkpoint_uri may lie, besides the artifact store itself.")

    # What a dataset spec may make the server reach (paraphrasing): closed by default.
    paraphrase_key_envs: list[str] = Field(
        default_factory=list, description="Environment variables a spec's paraphrase.api_key_env may name, as a "
        "JSON list (an entry ending in '*' is a prefix, e.g. [\"PARAPHRASE_KEY_*\"]). Empty: none. The "
        "service's own TOOLFORGE_* settings are never allowed.")
    paraphrase_base_urls: list[str] = Field(
        default_factory=list, description="Endpoints a spec's paraphrase.base_url may point at or below, as a "
        "JSON list (e.g. [\"http://vllm:8000/v1\"]); scheme, host and port must match. Empty: none.")

    @field_validator("data_dir", "tools_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        if self.bootstrap_admin_key and len(self.bootstrap_admin_key) < 24:
            raise ValueError("TOOLFORGE_BOOTSTRAP_ADMIN_KEY must be at least 24 characters")
        if "*" in self.cors_origins and not self.open_reads:
            raise ValueError("TOOLFORGE_CORS_ORIGINS='*' with closed reads would leak keys to any site")
        if any(entry.strip() in ("", "*") for entry in self.paraphrase_key_envs):
            raise ValueError("TOOLFORGE_PARAPHRASE_KEY_ENVS may not hold '*' or an empty name: list the variables")
        if self.public_url:
            parts = urlsplit(self.public_url)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment \
                    or "@" in parts.netloc:
                raise ValueError("TOOLFORGE_PUBLIC_URL must be an http(s) URL without credentials, query or "
                                 f"fragment (e.g. https://toolforge.example.com), got {self.public_url!r}")
        bad = [url for url in self.paraphrase_base_urls if not base_url_allowed(url, [url])]
        if bad:
            raise ValueError(f"TOOLFORGE_PARAPHRASE_BASE_URLS: {bad} are not http(s) URLs without credentials, "
                             "query or fragment")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'toolforge.db').resolve()}"

    @property
    def resolved_artifact_url(self) -> str:
        return self.artifact_url or str((self.data_dir / "artifacts").resolve())

    def forbidden_key_envs(self) -> frozenset[str]:
        """The service's own settings as environment variables: never a paraphrase key, whatever the list."""
        return frozenset(f"TOOLFORGE_{name.upper()}" for name in type(self).model_fields)

    def outbound_refusals(self, options: ParaphraseOptions) -> list[Refusal]:
        """The paraphrase fields of a spec this server's allow-lists refuse."""
        return outbound_refusals(options, self.paraphrase_key_envs, self.paraphrase_base_urls,
                                 self.forbidden_key_envs())

    def registry_limits(self) -> Limits:
        return Limits(
            max_depth=self.registry_max_depth,
            max_properties=self.registry_max_properties,
            max_enum=self.registry_max_enum,
            max_file_bytes=self.registry_max_file_bytes,
        )


@lru_cache
def get_settings() -> Settings:
    return Settings()
