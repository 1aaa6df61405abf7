"""DPO: rows, the mapping onto TRL's DPOConfig, and a real DPOTrainer run on the tiny model."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from generators.pipeline import generate_dataset
from generators.records import read_jsonl
from generators.registry import DEFAULT_TOOLS_DIR, load_registry
from generators.spec import DatasetSpec
from training.derived.preferences import pairs_from_ground_truth
from training.trainers.config import TrainingConfig
from training.trainers.dpo import dpo_rows

pytest.importorskip("trl", reason="DPO needs the 'train' extra")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("ds")
    generate_dataset(load_registry(DEFAULT_TOOLS_DIR), DatasetSpec(name="dpo", n=24, seed=2,
                                                                   distractors={"min": 0, "max": 1}), out)
    return pairs_from_ground_truth(read_jsonl(out / "samples.jsonl"), rng=random.Random(0))[0]


def test_dpo_rows_keep_only_the_messages(pairs):
    rows = dpo_rows(pairs)
    assert all(set(r) == {"prompt", "chosen", "rejected"} for r in rows)
    assert rows[0]["prompt"] == pairs[0]["prompt"] and rows[0]["rejected"] == pairs[0]["rejected"]


@pytest.mark.parametrize(("settings", "accumulation"), [
    # A step is prompts_per_step pairs; num_generations plays no part in DPO.
    ({"prompts_per_step": 8, "per_device_train_batch_size": 2, "num_generations": 8}, 4),
    # One pass per step.
    ({"prompts_per_step": 4, "per_device_train_batch_size": 4}, 1),
])
def test_dpo_args_map_the_settings(settings, accumulation, tmp_path: Path):
    from training.trainers.dpo import dpo_args

    cfg = TrainingConfig.from_dict({"method": "dpo", "use_cpu": True, "dpo_beta": 0.2, "dpo_loss_type": "ipo",
                                    "dpo_max_length": 512, "max_steps": 3, **settings})
    args = dpo_args(cfg, str(tmp_path))
    assert args.gradient_accumulation_steps == accumulation
    assert (args.beta, args.loss_type, args.max_length, args.max_steps) == (0.2, ["ipo"], 512, 3)
    assert args.use_cpu and not args.bf16 and not args.activation_checkpointing


def test_dpo_trains_the_tiny_model(pairs, tmp_path: Path):
    from safetensors.torch import load_file

    from training.trainers.dpo import make_dpo_trainer
    from training.trainers.tiny import build_tiny_model

    model = build_tiny_model(tmp_path / "tiny")
    cfg = TrainingConfig.from_dict({"method": "dpo", "base_model": str(model), "max_steps": 8, "prompts_per_step": 4,
                                    "per_device_train_batch_size": 4, "learning_rate": 1e-3, "save_steps": 100,
                                    "use_cpu": True})
    trainer = make_dpo_trainer(cfg, model, pairs, tmp_path / "out")
    trainer.train()
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    # DPO's loss starts at log(2) (policy = reference) and falls as chosen and rejected separate.
    assert logs[0]["loss"] == pytest.approx(0.6931, abs=1e-3) and logs[-1]["loss"] < logs[0]["loss"]
    assert logs[-1]["rewards/margins"] > 0
    trainer.save_model(str(tmp_path / "final"))
    before, after = load_file(str(model / "model.safetensors")), load_file(str(tmp_path / "final/model.safetensors"))
    assert any(not (before[k] == after[k]).all() for k in before)


def test_dpo_without_pairs_says_how_to_make_them(tmp_path: Path):
    from training.trainers.dpo import make_dpo_trainer

    cfg = TrainingConfig.from_dict({"method": "dpo", "use_cpu": True})
    with pytest.raises(ValueError, match="toolforge preferences"):
        make_dpo_trainer(cfg, tmp_path, [], tmp_path / "out")
