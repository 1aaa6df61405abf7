"""GRPO on a ToolForge dataset with TRL: the dataset builder, the logged reward and the trainer.

Rows become TRL conversational prompts (system message with the tools rendered, user request); the
ground truth and tools travel as JSON text columns (Arrow would otherwise merge every tool's parameter
struct into one wide, null-filled type), and the shared reward reads them by name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from generators.records import GROUND_TRUTH_KEY
from training.derived.rollouts import RolloutRecorder, score_rollouts
from training.rewards.scoring import read_ground_truth
from training.rewards.trl import REWARD_FUNCTIONS
from training.trainers.config import TrainingConfig, grpo_args
from training.trainers.loading import load_policy, lora_config


def trl_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn ToolForge samples into GRPO rows (conversational prompt + reward columns).

    Args:
        rows: samples with ``prompt``, ``tools``, ``behavior``, ``reward_model`` and ``extra_info``.

    Returns:
        Rows with ``prompt`` (messages), ``reward_model`` (JSON text of the ground truth), ``tools``
        (JSON text), ``behavior`` and ``sample_id``.

    >>> row = {"prompt": [{"role": "user", "content": "hi"}], "tools": [], "behavior": "refusal",
    ...        "reward_model": {"style": "rule", "ground_truth": {"refusal": {"reason": "harmful"}}},
    ...        "extra_info": {"sample_id": "s-1"}}
    >>> trl_rows([row])[0]["reward_model"]
    '{"refusal": {"reason": "harmful"}}'
    """
    out = []
    for row in rows:
        behaviour, payload = read_ground_truth(row["reward_model"])
        key = GROUND_TRUTH_KEY[behaviour]
        out.append({
            "prompt": [{"role": m["role"], "content": m["content"]} for m in row["prompt"]],
            "reward_model": json.dumps({key: payload}, ensure_ascii=False),
            "tools": json.dumps(row.get("tools") or [], ensure_ascii=False),
            "behavior": row.get("behavior") or behaviour,
            "sample_id": (row.get("extra_info") or {}).get("sample_id", ""),
        })
    return out


def build_dataset(rows: Iterable[Mapping[str, Any]]) -> Any:
    """The TRL training dataset for `rows` (see ``trl_rows``).

    Args:
        rows: ToolForge samples.

    Returns:
        A ``datasets.Dataset``.
    """
    from datasets import Dataset

    return Dataset.from_list(trl_rows(rows))


def logged_reward(mode: str, recorder: RolloutRecorder | None = None) -> Callable[..., list[float]]:
    """The shared reward, also logging reward mean and std per expected behaviour.

    Args:
        mode: ``tiered`` or ``binary``.
        recorder: when given, every scored completion is appended to it as a rollout row
            (``training.derived.rollouts``), with the step from TRL's ``trainer_state``.

    Returns:
        A TRL reward function named after the mode (TRL logs it as ``rewards/<name>/mean``).
    """
    score = REWARD_FUNCTIONS[mode]  # type: ignore[index]

    def reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
        if recorder is None:
            rewards = score(completions, **kwargs)
        else:
            state = kwargs.get("trainer_state")
            # Generated before the step's update: global_step counts the steps already done.
            step = int(getattr(state, "global_step", 0) or 0) + 1
            rewards, rows = score_rollouts(completions, kwargs, mode, step, float(getattr(state, "epoch", 0) or 0))
            recorder.record(rows)
            log_extra = kwargs.get("log_extra")
            if callable(log_extra):
                log_extra(f"{mode}_behavior", [r["predicted"] for r in rows])
                log_extra(f"{mode}_reason", [r["reason"] for r in rows])
        log_metric = kwargs.get("log_metric")
        if callable(log_metric):
            for behaviour, (mean, std) in per_behaviour(rewards, kwargs.get("behavior") or []).items():
                log_metric(f"reward/{behaviour}/mean", mean)
                log_metric(f"reward/{behaviour}/std", std)
        return rewards

    reward.__name__ = f"{mode}_tool_call_reward"
    return reward


def per_behaviour(rewards: Sequence[float], behaviours: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Mean and (population) standard deviation of the rewards of each behaviour.

    Args:
        rewards: one reward per completion.
        behaviours: the expected behaviour of each completion's sample.

    Returns:
        ``{behaviour: (mean, std)}`` for the behaviours present.

    >>> per_behaviour([1.0, 0.0, 0.5], ["execution", "execution", "refusal"])
    {'execution': (0.5, 0.5), 'refusal': (0.5, 0.0)}
    """
    groups: dict[str, list[float]] = {}
    for r, b in zip(rewards, behaviours, strict=False):
        groups.setdefault(b, []).append(r)
    out = {}
    for b, values in sorted(groups.items()):
        mean = sum(values) / len(values)
        out[b] = (mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))
    return out


def make_trainer(
    cfg: TrainingConfig,
    model_path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    output_dir: str | Path,
    *,
    callbacks: Sequence[Any] = (),
    report_to: list[str] | None = None,
    world_size: int = 1,
    recorder: RolloutRecorder | None = None,
) -> Any:
    """A ``trl.GRPOTrainer`` for the settings, model and samples.

    Args:
        cfg: the settings.
        model_path: a local model folder (weights, tokenizer, chat template).
        rows: ToolForge samples.
        output_dir: local folder for the trainer's checkpoints.
        callbacks: ``transformers.TrainerCallback`` instances.
        report_to: trackers (``["mlflow"]`` when tracking).
        world_size: training processes.
        recorder: records every rollout (see ``logged_reward``).

    Returns:
        The trainer, ready for ``train(resume_from_checkpoint=...)``.
    """
    from trl import GRPOTrainer

    args = grpo_args(cfg, str(output_dir), world_size, report_to)
    model, tokenizer = load_policy(cfg, model_path)
    tokenizer.padding_side = "left"
    return GRPOTrainer(
        model=model,
        reward_funcs=[logged_reward(cfg.reward, recorder)],
        args=args,
        train_dataset=build_dataset(rows),
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
        callbacks=list(callbacks),
    )
