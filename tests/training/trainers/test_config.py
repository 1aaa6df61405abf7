"""TrainingConfig: seed defaults, the invalid-combination table, and the mapping onto TRL's GRPOConfig."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from training.trainers.config import TrainingConfig, check_config, grpo_args, setting_default
from training.trainers.loading import lora_config

CPU = {"use_cpu": True}
GPU = {"use_cpu": False}

INVALID: list[tuple[dict[str, Any], str]] = [
    # The worker runs GRPO and DPO, nothing else.
    ({"method": "ppo"}, "method must be 'grpo' or 'dpo'"),
    # DPO starts from an SFT model; the warm start is GRPO's.
    ({"method": "dpo", "sft_warmup_steps": 5}, "set sft_warmup_steps to 0"),
    # A DPO step holds prompts_per_step pairs, split into per-device batches.
    ({"method": "dpo", "prompts_per_step": 6, "per_device_train_batch_size": 4}, "must divide prompts_per_step (6"),
    # Only the two shared reward modes exist.
    ({"reward": "shaped"}, "reward must be 'tiered' or 'binary'"),
    # A zero learning rate trains nothing.
    ({"learning_rate": 0.0}, "learning_rate must be > 0"),
    # Neither epochs nor steps: no stopping point.
    ({"num_train_epochs": 0, "max_steps": -1}, "num_train_epochs > 0 or max_steps > 0"),
    # GRPO's advantage needs at least two rollouts of a prompt.
    ({"num_generations": 1}, "num_generations must be >= 2"),
    # 3 prompts x 8 rollouts = 24 completions do not split into passes of 16.
    ({"prompts_per_step": 3, "per_device_train_batch_size": 16}, "per_device_train_batch_size (16) must divide"),
    # Empty steps.
    ({"prompts_per_step": 0}, "prompts_per_step must be >= 1"),
    ({"max_completion_length": 0}, "max_completion_length must be >= 1"),
    ({"temperature": 0.0}, "temperature must be > 0"),
    # A negative KL coefficient rewards drifting away from the reference.
    ({"beta": -0.1}, "beta must be >= 0"),
    ({"lora": True, "lora_r": 0}, "lora_r must be >= 1"),
    ({"lora_dropout": 1.0}, "lora_dropout must be in [0, 1)"),
    ({"vllm_mode": "remote", **GPU}, "vllm_mode must be 'colocate' or 'server'"),
    # vLLM rollouts need CUDA.
    ({"use_vllm": True, **CPU}, "use_vllm needs a GPU"),
    # A server URL only makes sense in server mode.
    ({"vllm_server_base_url": "http://vllm:8000", **GPU}, "set vllm_mode to 'server'"),
    ({"vllm_gpu_memory_utilization": 1.5, **GPU}, "vllm_gpu_memory_utilization must be in (0, 1]"),
    # Only the two renderings a trainer can write into a prompt.
    ({"prompt_template": "native"}, "prompt_template must be 'qwen2_5' or 'compact'"),
    ({"save_steps": 0}, "save_steps must be >= 1"),
    ({"logging_steps": 0}, "logging_steps must be >= 1"),
    ({"max_samples": 0}, "max_samples must be >= 1"),
    ({"sft_warmup_steps": -1}, "sft_warmup_steps must be >= 0"),
    ({"sft_warmup_steps": 5, "sft_learning_rate": 0.0}, "sft_learning_rate must be > 0"),
]


@pytest.mark.parametrize(("values", "message"), INVALID, ids=[m for _, m in INVALID])
def test_invalid_combinations_name_the_setting(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        TrainingConfig.from_dict({"use_cpu": True, **values})


def test_unknown_setting_is_refused() -> None:
    # A typo must not be silently ignored.
    with pytest.raises(ValueError, match="unknown training setting.*learnig_rate"):
        TrainingConfig.from_dict({"learnig_rate": 1e-5})


def test_seed_defaults() -> None:
    # The seed run: 128 prompts x 8 rollouts per step, lr 5e-6, 3 epochs, tiered reward.
    cfg = TrainingConfig(use_cpu=True)
    assert (cfg.prompts_per_step, cfg.num_generations, cfg.learning_rate, cfg.num_train_epochs) == (128, 8, 5e-6, 3)
    assert cfg.reward == "tiered" and cfg.sft_warmup_steps == 0 and cfg.evaluate


def test_device_defaults() -> None:
    # bf16 and activation checkpointing default on with a GPU and off on the CPU.
    cpu, gpu = TrainingConfig(use_cpu=True), TrainingConfig(use_cpu=False)
    assert (cpu.bf16, cpu.gradient_checkpointing) == (False, False)
    assert (gpu.bf16, gpu.gradient_checkpointing) == (True, True)


def test_every_field_has_help() -> None:
    for f in dataclasses.fields(TrainingConfig):
        assert f.metadata.get("help"), f.name


def test_train_on_ready_payload_is_accepted() -> None:
    # What the service stores for `"train": {...}` (base_model, method and the extra settings).
    cfg = TrainingConfig.from_dict({"base_model": "/models/tiny", "method": "grpo", "max_steps": 2, "use_cpu": True})
    assert cfg.to_dict()["base_model"] == "/models/tiny" and cfg.max_steps == 2


@pytest.mark.parametrize(("world", "expected"), [(1, 128), (8, 16), (16, 8)])
def test_gradient_accumulation(world: int, expected: int) -> None:
    # 1024 completions per step in passes of 8 per device.
    assert TrainingConfig(use_cpu=True).gradient_accumulation_steps(world) == expected


def test_gradient_accumulation_uneven_world() -> None:
    # 1024 completions cannot split over 3 processes x 8.
    with pytest.raises(ValueError, match="per_device_train_batch_size"):
        TrainingConfig(use_cpu=True).gradient_accumulation_steps(3)


def test_maps_onto_grpo_config(tmp_path) -> None:  # noqa: ANN001
    pytest.importorskip("trl")
    cfg = TrainingConfig(use_cpu=True, prompts_per_step=4, num_generations=4, per_device_train_batch_size=8,
                         max_completion_length=32, beta=0.02, learning_rate=1e-5, save_steps=3)
    args = grpo_args(cfg, str(tmp_path), report_to=["mlflow"])
    # One optimizer step = one generation batch of prompts_per_step x num_generations completions.
    assert args.generation_batch_size == 16 and args.gradient_accumulation_steps == 2
    assert (args.num_generations, args.max_completion_length, args.beta, args.learning_rate) == (4, 32, 0.02, 1e-5)
    # TRL's GPU defaults are turned off on the CPU.
    assert (args.bf16, args.activation_checkpointing, args.use_cpu) == (False, False, True)
    assert args.save_steps == 3 and args.report_to == ["mlflow"] and not args.remove_unused_columns


def test_lora_config() -> None:
    pytest.importorskip("peft")
    assert lora_config(TrainingConfig(use_cpu=True)) is None
    lora = lora_config(TrainingConfig(use_cpu=True, lora=True, lora_r=8))
    assert lora.r == 8 and lora.task_type == "CAUSAL_LM"


@pytest.mark.parametrize(("values", "message"), [
    ({"max_steps": "5"}, "max_steps must be an integer, got '5'"),  # a string where a number belongs
    ({"lora": "yes"}, "lora must be true or false"),
    ({"learning_rate": True}, "learning_rate must be a number"),  # a bool is no number
    ({"lora_target_modules": ["q_proj", 1]}, "lora_target_modules must be a string or a list of str"),
    ({"lr": 1e-5}, "unknown training setting(s) lr"),
])
def test_wrong_types_name_the_setting(values: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainingConfig.from_dict(values)


def test_check_config_leaves_the_device_to_the_worker() -> None:
    # The service has no GPU to ask about: device-dependent defaults stay unresolved and are not judged.
    check_config({"use_vllm": True, "max_samples": None, "lora_target_modules": ["q_proj"]})
    with pytest.raises(ValueError, match="num_generations must be >= 2"):
        check_config({"num_generations": 1})
    assert setting_default("base_model") == TrainingConfig(use_cpu=True).base_model
