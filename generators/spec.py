"""`DatasetSpec`: what to generate. The CLI builds one from flags; the REST API takes it as a request body.

Validation messages name the field to change. `select_tools` checks the spec against a registry
(an empty selection, or clarifications requested from tools that have no required parameter).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generators.registry import Registry, Tool

N_CAP = 10_000_000  # generation streams in constant memory; the cap only bounds disk use (~3.7 KB a sample)
SEED_MAX = 2**63 - 1

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant that can call tools. Call a tool only when the request gives every "
    "required argument; if a required argument is missing or vague, ask the user for it instead of "
    "guessing. Decline requests that are harmful or that none of the tools can do."
)


class Ratios(BaseModel):
    """Share of each behaviour; the three must sum to 1 (within 1e-9)."""

    model_config = ConfigDict(extra="forbid")

    execution: float = Field(0.6, ge=0.0, le=1.0, description="share of execution samples")
    clarification: float = Field(0.25, ge=0.0, le=1.0, description="share of clarification samples")
    refusal: float = Field(0.15, ge=0.0, le=1.0, description="share of refusal samples")

    @model_validator(mode="after")
    def _sum_to_one(self) -> Ratios:
        total = self.execution + self.clarification + self.refusal
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"ratios must sum to 1, got {total:.6g} (execution={self.execution}, "
                f"clarification={self.clarification}, refusal={self.refusal}); change ratios"
            )
        return self

    def as_dict(self) -> dict[str, float]:
        """The ratios keyed by behaviour, in the canonical order execution, clarification, refusal."""
        return {"execution": self.execution, "clarification": self.clarification, "refusal": self.refusal}


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


class ParaphraseOptions(BaseModel):
    """Paraphrasing of template text. Not yet implemented: only ``{"backend": "none"}`` is accepted."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["none"] = Field("none", description="paraphrasing backend; only 'none' for now")


class DatasetSpec(BaseModel):
    """Everything that determines a dataset, besides the tool registry it is generated from.

    The same spec, seed and registry digest give byte-identical files. ``paraphrase`` is a
    placeholder: paraphrasing (vLLM) is not yet implemented, so only ``{"backend": "none"}`` is valid.
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
    paraphrase: ParaphraseOptions = Field(default_factory=ParaphraseOptions)  # type: ignore[arg-type]

    @field_validator("ratios", mode="before")
    @classmethod
    def _ratios_from_text(cls, value: object) -> object:
        # The CLI passes "0.6,0.25,0.15"; accept it (and a 3-list) as the three ratios in order.
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",")]
        if isinstance(value, list | tuple):
            if len(value) != 3:
                raise ValueError("ratios needs three numbers: execution, clarification, refusal")
            return dict(zip(("execution", "clarification", "refusal"), value, strict=True))
        return value


class SpecError(ValueError):
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
