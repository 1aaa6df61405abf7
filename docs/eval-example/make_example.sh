#!/usr/bin/env bash
# Reproduce docs/eval-example/: the tiny base model vs. the same model after a short SFT warm start,
# evaluated on a dataset generated from held-out tools only. CPU only, offline; ~15-25 min on 2 cores.
#
#   docs/eval-example/make_example.sh            (from the repository root; WORK=... keeps the models)
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
TF=${TF:-.venv/bin/toolforge}
WORK=${WORK:-$(mktemp -d)}
OUT=docs/eval-example
SFT_STEPS=${SFT_STEPS:-120}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HOME="$WORK/hf" TOKENIZERS_PARALLELISM=false

# 1. Data: a training set from train tools, an evaluation set from held-out tools (never seen in training).
$TF generate --out "$WORK/train" --n 400 --split train --seed 11 --distractors 0,1
$TF generate --out "$WORK/heldout" --n 60 --split heldout --seed 12 --distractors 0,3

# 2. Models: the tiny random-weights Qwen2 (training/trainers/tiny.py) and a short SFT of it on the reference
#    answers (training/trainers/sft.py, TRL's SFTTrainer). GRPO (the worker) would start from this warm start.
$PY - "$WORK" "$SFT_STEPS" <<'PYEOF'
import json
import sys
import time
from pathlib import Path

from training.trainers.sft import run_sft
from training.trainers.tiny import build_tiny_model

work, steps = Path(sys.argv[1]), int(sys.argv[2])
base = build_tiny_model(work / "base")
with open(work / "train" / "samples.jsonl", encoding="utf-8") as fh:
    rows = [json.loads(line) for line in fh]
start = time.perf_counter()
run_sft(base, rows, work / "sft", max_steps=steps, learning_rate=5e-3, batch_size=8)
print(f"SFT: {steps} steps in {time.perf_counter() - start:.0f} s", flush=True)
PYEOF

# 3. Evaluate both with the transformers backend (greedy, left-padded batches).
$TF evaluate --model "$WORK/base" --dataset "$WORK/heldout" --out "$OUT/base" --max-new-tokens 96 --batch-size 8
$TF evaluate --model "$WORK/sft" --dataset "$WORK/heldout" --out "$OUT/sft" --max-new-tokens 96 --batch-size 8

# 4. The side-by-side report (Markdown, JSON, PNG).
$TF report --run "base-tiny=$OUT/base" --run "sft-tiny=$OUT/sft" --out "$OUT" \
  --title "Tiny Qwen2 on held-out tools: base vs. SFT warm start (CPU example)" \
  --command "docs/eval-example/make_example.sh   (SFT_STEPS=$SFT_STEPS)" \
  --note "base-tiny: random weights from training/trainers/tiny.py (316k parameters); it cannot produce a valid answer." \
  --note "sft-tiny: $SFT_STEPS steps of TRL SFTTrainer (training/trainers/sft.py, lr 5e-3, batch 8) on 400 samples from TRAIN tools; not GRPO: the example shows the evaluation pipeline, not the RLVR result." \
  --note "Both evaluated on 60 samples generated from HELD-OUT tools (0-3 distractors), transformers backend, greedy, 96 new tokens, CPU." \
  --note "The vLLM backend has the same interface but is untested here (vLLM needs CUDA)."
