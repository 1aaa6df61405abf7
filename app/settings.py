"""The one settings object, read from the environment (`TOOLFORGE_*`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from generators.registry import DEFAULT_TOOLS_DIR, Limits


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
    bootstrap_admin_key: str = Field("", description="If set, an admin key with this secret exists at start-up.")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Largest request body accepted.")
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, description="Largest derived-version upload "
                                  "(rollouts, preferences: POST /v1/datasets/{id}/derived), streamed to disk.")
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
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'toolforge.db').resolve()}"

    @property
    def resolved_artifact_url(self) -> str:
        return self.artifact_url or str((self.data_dir / "artifacts").resolve())

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
