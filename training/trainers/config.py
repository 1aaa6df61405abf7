"""Training settings for a GRPO or DPO job, validated before any work starts.

A job's payload carries ``{"config": {...}}``; ``TrainingConfig.from_dict`` reads it, refusing unknown
keys, values of the wrong type and invalid combinations with a ``ValueError`` naming the setting to change.
The service runs the same rules where a config enters (``check_config``: POST /v1/training-jobs and a
dataset spec's ``train`` block), leaving only the device-dependent ones to the worker. Defaults are the seed
run's hyperparameters (128 prompts per step, 8 rollouts each, learning rate 5e-6, 3 epochs).
``grpo_args`` maps the settings onto TRL's ``GRPOConfig`` (loading the policy is ``training.trainers.loading``);
importing this module never imports torch.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import InitVar, dataclass, field
from functools import cache
from typing import Any


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@dataclass
class TrainingConfig:
    """GRPO (or DPO) training settings (the ``config`` of a training job). Every field has help text."""

    base_model: str = field(
        default="Qwen/Qwen2.5-7B-Instruct",
        metadata={"help": "Base model: a local folder or a hub id available offline on the worker."},
    )
    method: str = field(
        default="grpo",
        metadata={"help": "'grpo' (RLVR on a samples version) or 'dpo' (TRL DPOTrainer on a preferences version)."},
    )
    reward: str = field(
        default="tiered",
        metadata={"help": "'tiered' (1 / 0.5 / 0.25 / 0) or 'binary' (1 only when fully correct)."},
    )
    learning_rate: float = field(default=5e-6, metadata={"help": "AdamW learning rate for GRPO."})
    num_train_epochs: float = field(default=3.0, metadata={"help": "Passes over the dataset's prompts."})
    max_steps: int = field(
        default=-1, metadata={"help": "Optimizer steps to run; overrides num_train_epochs when > 0."}
    )
    prompts_per_step: int = field(
        default=128,
        metadata={"help": "Prompts per optimizer step; each gets num_generations completions (seed: 128)."},
    )
    num_generations: int = field(default=8, metadata={"help": "Rollouts (completions) per prompt (seed: 8)."})
    per_device_train_batch_size: int = field(
        default=8,
        metadata={"help": "Completions per device per forward/backward pass; the rest is gradient accumulation."},
    )
    max_completion_length: int = field(default=256, metadata={"help": "Most tokens generated per completion."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature of the rollouts."})
    beta: float = field(
        default=0.001,
        metadata={"help": "KL penalty coefficient against the reference model; 0 drops the reference model."},
    )
    seed: int = field(default=0, metadata={"help": "Seed for data order, sampling and initialisation."})
    lora: bool = field(default=False, metadata={
        "help": "Train LoRA adapters (peft) instead of all weights: the SFT warm start's (merged into its saved "
                "model), then GRPO's or DPO's (saved as an adapter)."})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scaling alpha."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout on the LoRA layers."})
    lora_target_modules: str | list[str] = field(
        default="all-linear", metadata={"help": "Modules to adapt: 'all-linear' or a list of module names."}
    )
    use_vllm: bool = field(default=False, metadata={"help": "Generate rollouts with vLLM (GPU only)."})
    vllm_mode: str = field(
        default="colocate",
        metadata={"help": "'colocate' (vLLM inside each training process) or 'server' (`trl vllm-serve`)."},
    )
    vllm_server_base_url: str | None = field(
        default=None, metadata={"help": "URL of the `trl vllm-serve` server in server mode."}
    )
    vllm_gpu_memory_utilization: float = field(
        default=0.3, metadata={"help": "GPU memory share vLLM may take in colocate mode."}
    )
    vllm_tensor_parallel_size: int = field(default=1, metadata={"help": "vLLM tensor parallel size (colocate)."})
    use_cpu: bool | None = field(default=None, metadata={"help": "Train on the CPU; default: when no GPU is seen."})
    bf16: bool | None = field(default=None, metadata={
        "help": "bfloat16 (mixed precision; with LoRA the frozen weights are loaded in bfloat16 too); default: on "
                "GPU only. On a CPU with AMX (Sapphire Rapids and later) it is about 2x faster with LoRA."})
    prompt_template: str = field(default="qwen2_5", metadata={
        "help": "How the offered tools are written into the prompt: 'qwen2_5' (as stored: Qwen 2.5's rendering "
                "of tools=) or 'compact' (a few short lines per tool, about 40% fewer tokens); recorded in the "
                "saved model so evaluation uses the same (training/prompts.py)."})
    gradient_checkpointing: bool | None = field(
        default=None, metadata={"help": "Activation checkpointing (memory for compute); default: on GPU only."}
    )
    save_steps: int = field(default=50, metadata={"help": "Checkpoint to the artifact store every N steps."})
    save_total_limit: int = field(default=2, metadata={"help": "Local checkpoints kept by the trainer."})
    logging_steps: int = field(default=1, metadata={"help": "Log metrics every N steps."})
    max_samples: int | None = field(
        default=None, metadata={"help": "Train on at most this many samples of the dataset (None: all)."}
    )
    sft_warmup_steps: int = field(
        default=0, metadata={"help": "SFT steps on reference answers before GRPO (0: none)."}
    )
    sft_learning_rate: float = field(default=1e-4, metadata={"help": "Learning rate of the SFT warm start."})
    sft_batch_size: int = field(default=8, metadata={"help": "Per-device batch size of the SFT warm start."})
    sft_group_by_length: bool = field(
        default=False, metadata={"help": "SFT warm start: batch rows of similar length together (less padding: "
                                         "~22% fewer token positions on CPU for the demo's rows)."}
    )
    evaluate: bool = field(
        default=True, metadata={"help": "Ask for an evaluation on the held-out split once the model is registered."}
    )
    dpo_beta: float = field(
        default=0.1, metadata={"help": "DPO: how far the policy may move from the reference (TRL's beta)."}
    )
    dpo_loss_type: str = field(default="sigmoid", metadata={"help": "DPO: TRL loss type ('sigmoid', 'ipo'...)."})
    dpo_max_length: int | None = field(
        default=None, metadata={"help": "DPO: truncate prompt + reply to this many tokens (None: never)."}
    )

    # False: leave use_cpu/bf16/gradient_checkpointing unresolved (the service has no GPU to ask about).
    resolve_device: InitVar[bool] = True

    def __post_init__(self, resolve_device: bool = True) -> None:
        if not resolve_device:
            for problem in self._problems():
                raise ValueError(problem)
            return
        if self.use_cpu is None:
            self.use_cpu = not _cuda_available()
        if self.bf16 is None:
            self.bf16 = not self.use_cpu
        if self.gradient_checkpointing is None:
            self.gradient_checkpointing = not self.use_cpu
        for problem in self._problems():
            raise ValueError(problem)

    def _problems(self) -> list[str]:
        """Every invalid setting, each message naming what to change."""
        p: list[str] = []
        if self.method not in ("grpo", "dpo"):
            p.append(f"method must be 'grpo' or 'dpo', got {self.method!r}")
        if self.method == "dpo":
            if self.sft_warmup_steps:
                p.append("sft_warmup_steps is for GRPO; start DPO from an SFT model instead (set base_model to "
                         "a GRPO job's sft_model_uri) and set sft_warmup_steps to 0")
            if self.use_vllm:
                p.append("use_vllm is for GRPO rollouts; DPO generates nothing: set use_vllm to false")
            if self.dpo_beta <= 0:
                p.append("dpo_beta must be > 0")
            if self.dpo_max_length is not None and self.dpo_max_length < 2:
                p.append("dpo_max_length must be >= 2 (or null for no truncation)")
        if self.reward not in ("tiered", "binary"):
            p.append(f"reward must be 'tiered' or 'binary', got {self.reward!r}")
        if self.learning_rate <= 0:
            p.append("learning_rate must be > 0")
        if self.max_steps <= 0 and self.num_train_epochs <= 0:
            p.append("set num_train_epochs > 0 or max_steps > 0")
        if self.num_generations < 2:
            p.append("num_generations must be >= 2: GRPO compares rollouts of the same prompt")
        if self.prompts_per_step < 1:
            p.append("prompts_per_step must be >= 1")
        if self.per_device_train_batch_size < 1:
            p.append("per_device_train_batch_size must be >= 1")
        elif self.method == "dpo" and self.prompts_per_step % self.per_device_train_batch_size:
            p.append(f"per_device_train_batch_size ({self.per_device_train_batch_size}) must divide "
                     f"prompts_per_step ({self.prompts_per_step} preference pairs per step)")
        elif self.method != "dpo" and (self.prompts_per_step * self.num_generations) % self.per_device_train_batch_size:
            p.append(
                f"per_device_train_batch_size ({self.per_device_train_batch_size}) must divide prompts_per_step x "
                f"num_generations ({self.prompts_per_step * self.num_generations} completions per step)"
            )
        if self.max_completion_length < 1:
            p.append("max_completion_length must be >= 1")
        if self.temperature <= 0:
            p.append("temperature must be > 0")
        if self.beta < 0:
            p.append("beta must be >= 0")
        if self.lora and self.lora_r < 1:
            p.append("lora_r must be >= 1 when lora is on")
        if not 0 <= self.lora_dropout < 1:
            p.append("lora_dropout must be in [0, 1)")
        if self.vllm_mode not in ("colocate", "server"):
            p.append(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")
        if self.use_vllm and self.use_cpu is True:
            p.append("use_vllm needs a GPU; set use_vllm to false (or run the worker on a GPU)")
        if self.vllm_server_base_url and self.vllm_mode != "server":
            p.append("vllm_server_base_url is only used in server mode; set vllm_mode to 'server'")
        if not 0 < self.vllm_gpu_memory_utilization <= 1:
            p.append("vllm_gpu_memory_utilization must be in (0, 1]")
        if self.prompt_template not in ("qwen2_5", "compact"):
            p.append(f"prompt_template must be 'qwen2_5' or 'compact', got {self.prompt_template!r}")
        if self.save_steps < 1:
            p.append("save_steps must be >= 1")
        if self.logging_steps < 1:
            p.append("logging_steps must be >= 1")
        if self.max_samples is not None and self.max_samples < 1:
            p.append("max_samples must be >= 1 (or null for all samples)")
        if self.sft_warmup_steps < 0:
            p.append("sft_warmup_steps must be >= 0")
        if self.sft_warmup_steps and self.sft_learning_rate <= 0:
            p.append("sft_learning_rate must be > 0 when sft_warmup_steps > 0")
        return p

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, resolve_device: bool = True) -> TrainingConfig:
        """Build a config from a job's ``config`` dict.

        Args:
            values: settings by field name.
            resolve_device: False leaves the device-dependent defaults (use_cpu, bf16, gradient_checkpointing)
                unresolved, and so never imports torch (the service's check).

        Returns:
            The validated config.

        Raises:
            ValueError: an unknown setting, a value of the wrong type, or an invalid value or combination
                (the message names it).
        """
        if not isinstance(values, dict):
            raise ValueError(f"the training config must be an object of settings, got {type(values).__name__}")
        hints = _field_types()
        unknown = sorted(set(values) - set(hints))
        if unknown:
            raise ValueError(f"unknown training setting(s) {', '.join(unknown)}; known: {', '.join(sorted(hints))}")
        for name, value in values.items():
            if not _has_type(value, hints[name]):
                raise ValueError(f"{name} must be {_type_name(hints[name])}, got {value!r}")
        return cls(**values, resolve_device=resolve_device)

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict (recorded with the model version)."""
        return dataclasses.asdict(self)

    def gradient_accumulation_steps(self, world_size: int = 1) -> int:
        """Micro-batches per optimizer step on each of `world_size` processes.

        Args:
            world_size: training processes (GPUs across all nodes).

        Returns:
            prompts_per_step x num_generations / (per_device_train_batch_size x world_size); for DPO a step
            holds prompts_per_step pairs, so num_generations does not count.

        Raises:
            ValueError: the completions per step do not split evenly over the processes.

        >>> TrainingConfig(use_cpu=True).gradient_accumulation_steps(8)
        16
        """
        completions = self.prompts_per_step * (1 if self.method == "dpo" else self.num_generations)
        per_pass = self.per_device_train_batch_size * world_size
        if completions % per_pass:
            raise ValueError(
                f"prompts_per_step x num_generations ({completions}) must be divisible by "
                f"per_device_train_batch_size x processes ({per_pass}); change per_device_train_batch_size"
            )
        return completions // per_pass


def check_config(values: Any) -> None:
    """Refuse a training config as the worker would, before it is stored (no torch import, no device check).

    Args:
        values: a job's ``config`` as sent.

    Raises:
        ValueError: the first problem, naming the setting to change.

    >>> check_config({"learning_rate": 0})
    Traceback (most recent call last):
    ...
    ValueError: learning_rate must be > 0
    """
    TrainingConfig.from_dict(values, resolve_device=False)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a training ``config``: every setting with its type, default and help text.

    It states the types and the closed set of names (``from_dict``'s checks); the value rules of
    ``_problems`` stay in the 422 that names the setting.

    >>> schema = json_schema()
    >>> schema["properties"]["learning_rate"]["type"], schema["additionalProperties"]
    ('number', False)
    """
    hints = _field_types()
    properties = {}
    for f in dataclasses.fields(TrainingConfig):
        properties[f.name] = {**_schema_of(hints[f.name]), "default": f.default, "description": f.metadata["help"]}
    return {"title": "TrainingConfig", "type": "object", "properties": properties, "additionalProperties": False,
            "description": "Training settings (training.trainers.config.TrainingConfig); unset ones take their "
                           "default."}


def _schema_of(hint: Any) -> dict[str, Any]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_of(arg) for arg in typing.get_args(hint)]}
    if typing.get_origin(hint) is list:
        return {"type": "array", "items": _schema_of(typing.get_args(hint)[0])}
    return {"type": {bool: "boolean", float: "number", int: "integer", str: "string", type(None): "null"}[hint]}


def setting_default(name: str) -> Any:
    """A setting's default, from its one definition on ``TrainingConfig``.

    >>> setting_default("method")
    'grpo'
    """
    return {f.name: f.default for f in dataclasses.fields(TrainingConfig)}[name]


@cache
def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainingConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainingConfig)}


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's annotation (an int is a float; a bool is no number)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_has_type(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    """``float``, ``int or null``, ``str or list[str]``: what a field accepts, in JSON-ish words."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is list:
        return f"a list of {typing.get_args(hint)[0].__name__}"
    return {bool: "true or false", float: "a number", int: "an integer", str: "a string"}.get(hint, str(hint))


def grpo_args(cfg: TrainingConfig, output_dir: str, world_size: int = 1, report_to: list[str] | None = None) -> Any:
    """Map the settings onto TRL's ``GRPOConfig`` (TRL 1.x).

    Args:
        cfg: the validated settings.
        output_dir: local folder for the trainer's checkpoints.
        world_size: training processes (from accelerate).
        report_to: trackers for the trainer's logs (e.g. ``["mlflow"]``); none by default.

    Returns:
        A ``trl.GRPOConfig``. One optimizer step consumes one generation batch of
        ``prompts_per_step x num_generations`` completions.
    """
    from trl import GRPOConfig

    return GRPOConfig(
        **trainer_args(cfg, output_dir, world_size, report_to),
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        beta=cfg.beta,
        use_vllm=cfg.use_vllm,
        vllm_mode=cfg.vllm_mode,
        vllm_server_base_url=cfg.vllm_server_base_url,
        vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        vllm_tensor_parallel_size=cfg.vllm_tensor_parallel_size,
        # Keep every dataset column: the reward reads reward_model, tools and behavior.
        remove_unused_columns=False,
    )


def trainer_args(cfg: TrainingConfig, output_dir: str, world_size: int = 1,
                 report_to: list[str] | None = None) -> dict[str, Any]:
    """The trainer arguments GRPO and DPO share (schedule, precision, checkpoints, logging).

    Args:
        cfg: the validated settings.
        output_dir: local folder for the trainer's checkpoints.
        world_size: training processes (from accelerate).
        report_to: trackers for the trainer's logs; none by default.

    Returns:
        Keyword arguments for ``GRPOConfig`` / ``DPOConfig``.
    """
    return {
        "output_dir": output_dir,
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.num_train_epochs,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.per_device_train_batch_size,
        "gradient_accumulation_steps": cfg.gradient_accumulation_steps(world_size),
        "seed": cfg.seed,
        "use_cpu": bool(cfg.use_cpu),
        "bf16": bool(cfg.bf16),
        # The new name, set explicitly: TRL's default for the deprecated alias is on (and slower on CPU).
        "activation_checkpointing": bool(cfg.gradient_checkpointing),
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_total_limit": cfg.save_total_limit,
        "logging_steps": cfg.logging_steps,
        "report_to": report_to or "none",
        "disable_tqdm": True,
    }
