"""Loading the policy to train: the model and its tokenizer, and the LoRA adapter settings (peft).

transformers and peft are imported inside the functions: importing this module costs nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.trainers.config import TrainingConfig


def load_policy(cfg: TrainingConfig, model_path: str | Path) -> tuple[Any, Any]:
    """Load the model to train and its tokenizer (bf16 when the settings ask for it).

    Args:
        cfg: the settings.
        model_path: a local model folder (weights, tokenizer, chat template).

    Returns:
        ``(model, tokenizer)``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype="bfloat16" if cfg.bf16 else "float32")
    return model, tokenizer


def lora_config(cfg: TrainingConfig) -> Any:
    """A ``peft.LoraConfig`` for the settings, or None when LoRA is off.

    Args:
        cfg: the settings.

    Returns:
        The LoRA config (causal LM task) or None.
    """
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.lora_target_modules, task_type="CAUSAL_LM")
