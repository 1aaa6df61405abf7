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


def score_only_labelled_positions() -> bool:
    """Make TRL's fused LM head score only the labelled positions on devices without Triton (the CPU).

    Used by the SFT warm start (``run_sft``), where it was measured; GRPO and DPO keep TRL's default (not yet
    checked there). TRL (1.x) replaces the LM head of SFT, GRPO and DPO models with a chunked log-prob kernel.
    With Triton it projects only the positions that carry a label (the answer);
    without Triton it projects *every* position
    through the whole vocabulary, in float32 torch ops, so that the tile shapes stay fixed for compilers such
    as Neuron's (``trl/trainer/utils.py``, ``compact = _use_triton(device)``). Eager CPU execution compiles
    nothing, and on a prompt-completion row most positions are prompt: profiled on SmolLM2-135M (vocabulary
    49,152; 4 rows of ~380 prompt + ~47 answer tokens), this head took ~90% of an SFT step. The kernel's
    own torch fallback is kept; only the choice of positions changes, which gives the same log-probs.

    Returns:
        True when the patch is in place (False: this TRL has no such switch; nothing changed).
    """
    try:
        from trl.trainer import utils as trl_utils
    except ImportError:  # the training extra is not installed
        return False
    original = getattr(trl_utils, "_use_triton", None)
    if original is None or getattr(original, "_toolforge_cpu", False):
        return original is not None

    def use_compact_positions(device: Any) -> bool:
        return True if getattr(device, "type", device) == "cpu" else original(device)

    use_compact_positions._toolforge_cpu = True  # type: ignore[attr-defined]
    trl_utils._use_triton = use_compact_positions
    return True
