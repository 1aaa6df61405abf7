"""Trainers: TrainingConfig, SFT, GRPO, DPO and the tiny model builder (torch, TRL imported inside functions)."""
