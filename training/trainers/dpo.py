"""DPO on a preferences version with TRL's ``DPOTrainer``: the baseline GRPO is measured against.

The worker runs this when a job's config says ``method: dpo``: same model loading, LoRA, checkpoints,
tracking and registration as GRPO (``training.worker.loop``), on rows in TRL's conversational preference
format (``training.derived.preferences``). One optimizer step consumes ``prompts_per_step`` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from training.trainers.config import TrainingConfig, trainer_args
from training.trainers.loading import load_policy, lora_config

COLUMNS = ("prompt", "chosen", "rejected")


def dpo_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Keep the three columns DPO reads (messages only: role and content).

    Extra columns stay out on purpose: a ``tools`` column would make TRL render the tools a second
    time (they are already in the system message), and the bookkeeping columns are not model input.

    Args:
        rows: preference rows.

    Returns:
        ``{"prompt", "chosen", "rejected"}`` rows.

    >>> dpo_rows([{"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "a"}],
    ...            "rejected": [{"role": "assistant", "content": "b"}], "margin": 1.0}])[0]["rejected"]
    [{'role': 'assistant', 'content': 'b'}]
    """
    return [{c: [{"role": m["role"], "content": m["content"]} for m in row[c]] for c in COLUMNS} for row in rows]


def dpo_args(cfg: TrainingConfig, output_dir: str, world_size: int = 1, report_to: list[str] | None = None) -> Any:
    """Map the settings onto TRL's ``DPOConfig`` (TRL 1.16).

    Args:
        cfg: the validated settings (``method: dpo``).
        output_dir: local folder for the trainer's checkpoints.
        world_size: training processes.
        report_to: trackers (e.g. ``["mlflow"]``); none by default.

    Returns:
        A ``trl.DPOConfig``.
    """
    from trl import DPOConfig

    return DPOConfig(
        **trainer_args(cfg, output_dir, world_size, report_to),
        beta=cfg.dpo_beta,
        loss_type=[cfg.dpo_loss_type],
        max_length=cfg.dpo_max_length,
    )


def make_dpo_trainer(
    cfg: TrainingConfig,
    model_path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    output_dir: str | Path,
    *,
    callbacks: Sequence[Any] = (),
    report_to: list[str] | None = None,
    world_size: int = 1,
) -> Any:
    """A ``trl.DPOTrainer`` for the settings, model and preference rows.

    Args:
        cfg: the settings (``method: dpo``).
        model_path: a local model folder (weights, tokenizer, chat template); usually an SFT model.
        rows: preference rows (``prompt``, ``chosen``, ``rejected`` as message lists).
        output_dir: local folder for the trainer's checkpoints.
        callbacks: ``transformers.TrainerCallback`` instances.
        report_to: trackers.
        world_size: training processes.

    Returns:
        The trainer, ready for ``train(resume_from_checkpoint=...)``. Without LoRA, TRL keeps a frozen copy
        of the model as the reference; with LoRA, the reference is the model with the adapter disabled.
    """
    from datasets import Dataset
    from trl import DPOTrainer

    if not rows:
        raise ValueError("no preference pairs to train on; make some with `toolforge preferences`")
    args = dpo_args(cfg, str(output_dir), world_size, report_to)
    model, tokenizer = load_policy(cfg, model_path)
    return DPOTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(dpo_rows(rows)),
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
        callbacks=list(callbacks),
    )
