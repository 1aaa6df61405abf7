"""Request and response bodies. Naming: `XCreate` in, `XPublic` out, `XsPublic{data, count}` for lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from generators.spec import DatasetSpec
from training.trainers.config import check_config, json_schema


class ErrorPublic(BaseModel):
    """Every error body: what kind of error, and what to change; some errors add fields (e.g. ``settings``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="machine-readable kind, e.g. invalid_input, not_found, conflict, unauthorized")
    detail: str = Field(description="what went wrong and what to change")


_ERRORS = {
    401: "No API key, or an unknown or revoked one (the `WWW-Authenticate` header says Bearer).",
    403: "The key lacks the scope this route needs (see the README's scope lattice).",
    404: "The resource does not exist (or is not reachable through this route).",
    408: "The body did not arrive in time (`TOOLFORGE_BODY_TIMEOUT_S`); the connection is closed.",
    409: "The request conflicts with the current state (a lost lease, an existing version, a running job).",
    413: "The body is larger than the server accepts (`TOOLFORGE_MAX_BODY_BYTES`, uploads: `..._UPLOAD_BYTES`).",
    422: "The request is invalid; `detail` names the field or setting to change.",
}
# The responses every authenticated route may give, documented with the body the error handler really sends.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorPublic, "description": text} for code, text in _ERRORS.items()
}


def _next() -> Any:
    return Field(None, description="Where the next page is (a path with the same filters, under "
                                   "TOOLFORGE_PUBLIC_URL when set), or null on the last page.")


class ORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- tools ------------------------------------------------------------------------------------


class ToolPublic(ORM):
    name: str
    version: int
    domain: str
    split: str
    sha256: str
    document: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None = None


class ToolsPublic(BaseModel):
    data: list[ToolPublic]
    count: int
    registry_digest: str = Field(description="The digest of the whole live registry (not of this page).")
    next: str | None = _next()


class ToolImport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["openai", "mcp", "hermes", "bfcl"] = Field(description="Source format of `content`.")
    content: str = Field(description="The file content, as text.", max_length=5_000_000)
    split: Literal["train", "heldout"] = "train"
    domain: str = Field("imported", pattern=r"^[a-z][a-z0-9_]{0,63}$")


class ToolImportResult(BaseModel):
    imported: list[ToolPublic]
    refused: list[dict[str, str]]
    renamed: dict[str, str]


# --- datasets ---------------------------------------------------------------------------------


def _training_config(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A training config checked with TrainingConfig's own rules (422 naming the setting), kept as sent."""
    if value is not None:
        check_config(value)
    return value


# Documented with TrainingConfig's own fields (types, defaults, help); validated by its own rules.
TrainingConfigIn = Annotated[dict[str, Any], AfterValidator(_training_config), WithJsonSchema(json_schema())]


class DatasetCreate(DatasetSpec):
    """A dataset spec, plus what to do when it is ready."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "weather-demo", "n": 1000, "seed": 7, "split": "train",
                 "ratios": {"execution": 0.6, "clarification": 0.25, "refusal": 0.15},
                 "tools": {"domains": ["weather", "travel"]}, "distractors": {"min": 2, "max": 4}}
            ]
        },
    )

    train: TrainingConfigIn | None = Field(
        None, description="If set, queue a training job with these settings (training.trainers.config."
                          "TrainingConfig) when ready.")


class FilePublic(BaseModel):
    name: str
    sha256: str
    size: int
    url: str = Field(description="Where to download it: a path on this service, or under TOOLFORGE_PUBLIC_URL "
                                 "when set (never built from the Host header).")


class DatasetSummaryPublic(ORM):
    """A dataset version as lists show it: all but the spec (its item has it), with the spec's n, seed, split."""

    id: str
    name: str
    kind: str
    status: Literal["pending", "ready", "failed", "cancelled"]
    n: int | None = Field(None, description="The spec's n (samples asked for); null for derived versions.")
    seed: int | None = Field(None, description="The spec's seed; null for derived versions.")
    split: str | None = Field(None, description="The spec's split (train or heldout); null for derived versions.")
    registry_digest: str
    parent_id: str | None = None
    error: str | None = None
    created_at: datetime
    ready_at: datetime | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    files: list[FilePublic] = Field(default_factory=list)
    job_id: str | None = None


class DatasetPublic(DatasetSummaryPublic):
    spec: dict[str, Any]


class DatasetsPublic(BaseModel):
    data: list[DatasetSummaryPublic]
    count: int
    next: str | None = _next()


class SamplesPublic(BaseModel):
    """A page of a version's rows, as stored (the row contract: ``generators.records``; derived versions
    hold their own kind's rows)."""

    data: list[dict[str, Any]]
    count: int = Field(description="Rows matching the filters, in all pages.")
    offset: int
    next: str | None = _next()


# --- jobs -------------------------------------------------------------------------------------


class JobPublic(ORM):
    id: str
    kind: Literal["generation", "training", "evaluation"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    payload: dict[str, Any]
    dataset_id: str | None = None
    model_id: str | None = None
    progress_done: int
    progress_total: int
    rate: float | None = None
    eta_seconds: float | None = None
    metrics: dict[str, Any]
    error: str | None = None
    attempts: int
    lease_owner: str | None = Field(None, description="The worker holding the lease (a label; the lease itself is "
                                    "bound to the claiming key and its lease token).")
    lease_expires_at: datetime | None = None
    checkpoint_uri: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int
    next: str | None = _next()


class TrainingJobCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str
    config: TrainingConfigIn = Field(
        default_factory=dict, description="Training settings for the worker (training.trainers.config.TrainingConfig).")


class Claim(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker_id: str = Field(min_length=1, max_length=95, description="A name for this worker (shown on the job).")
    lease_seconds: int | None = Field(None, ge=5, le=86_400)


LEASE_TOKEN = Field(min_length=1, max_length=256, description="The `lease_token` the claim returned; with the "
                    "key that claimed the job, it is what proves the lease (403 otherwise).")


class LeasedJob(JobPublic):
    """A claimed training job: the job, plus the lease token only its claimer ever sees."""

    lease_token: str = Field(description="Send it with every heartbeat, complete, fail and release of this job.")


class Release(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_token: str = LEASE_TOKEN
    worker_id: str | None = Field(None, max_length=128, description="Ignored (the lease token identifies the lease).")


class Heartbeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_token: str = LEASE_TOKEN
    worker_id: str | None = Field(None, max_length=128, description="Ignored (the lease token identifies the lease).")
    lease_seconds: int | None = Field(None, ge=5, le=86_400,
                                      description="New lease length (send the one you claimed with); "
                                                  "default TOOLFORGE_LEASE_SECONDS.")
    progress_done: int | None = Field(None, ge=0)
    progress_total: int | None = Field(None, ge=0)
    metrics: dict[str, Any] | None = None
    checkpoint_uri: str | None = Field(None, max_length=2000)


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str = Field(min_length=1, max_length=128)
    dataset_id: str | None = None
    base_model: str = Field(min_length=1, max_length=256)
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    artifact_uri: str = Field(min_length=1, max_length=2000)


class JobComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_token: str = LEASE_TOKEN
    worker_id: str | None = Field(None, max_length=128, description="Ignored (the lease token identifies the lease).")
    model: ModelCreate


class JobFail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lease_token: str = LEASE_TOKEN
    worker_id: str | None = Field(None, max_length=128, description="Ignored (the lease token identifies the lease).")
    error: str = Field(min_length=1, max_length=10_000)


# --- models, evaluations, events --------------------------------------------------------------


class ModelPublic(ORM):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: str
    name: str
    dataset_id: str | None
    job_id: str | None
    base_model: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    artifact_uri: str
    created_at: datetime


class ModelsPublic(BaseModel):
    data: list[ModelPublic]
    count: int
    next: str | None = _next()


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str | None = None
    endpoint: str | None = Field(None, max_length=2000)
    dataset_id: str
    metrics: dict[str, Any]
    report_uri: str | None = Field(None, max_length=2000)


class EvaluationPublic(ORM):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: str
    model_id: str | None
    endpoint: str | None
    dataset_id: str
    metrics: dict[str, Any]
    report_uri: str | None
    created_at: datetime


class EvaluationsPublic(BaseModel):
    data: list[EvaluationPublic]
    count: int
    next: str | None = _next()


class Lineage(BaseModel):
    dataset: DatasetPublic | None
    model: ModelPublic
    evaluations: list[EvaluationPublic]
    ancestors: list[DatasetPublic] = Field(
        default_factory=list, description="The training dataset's parent chain, nearest first "
                                          "(preferences -> rollouts -> samples).")
    derived: list[DatasetPublic] = Field(
        default_factory=list, description="Versions this model's job produced (rollouts) and those derived "
                                          "from them (preferences).")
    upstream_models: list[ModelPublic] = Field(
        default_factory=list, description="Models whose jobs produced the rollouts this model was trained from.")
    downstream_models: list[ModelPublic] = Field(
        default_factory=list, description="Models trained on versions derived from this model's rollouts.")


class EventPublic(ORM):
    id: int
    type: str
    subject_id: str
    payload: dict[str, Any]
    created_at: datetime


class EventsPublic(BaseModel):
    data: list[EventPublic]
    count: int
    next_cursor: int = Field(description="Pass as `after` to resume after the last event returned.")


class ScoreRequest(BaseModel):
    """Completions to score against samples (each sample: `reward_model` and `tools`, as in a dataset row)."""

    model_config = ConfigDict(extra="forbid")

    samples: list[dict[str, Any]] = Field(max_length=10_000)
    completions: list[str] = Field(max_length=10_000)
    mode: Literal["tiered", "binary"] = "tiered"


class ScoreResponse(BaseModel):
    rewards: list[float]
    details: list[dict[str, Any]]
    mean: float
