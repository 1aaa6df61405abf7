# One Dockerfile, two targets:
#   api      - the FastAPI service (light: no torch)           docker build --target api -t toolforge-api .
#   trainer  - the GRPO worker and evaluation job (CUDA torch)  docker build --target trainer -t toolforge-trainer .

FROM python:3.11-slim AS api
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/toolforge
COPY pyproject.toml README.md ./
COPY app app
COPY generators generators
COPY training training
COPY tool_schemas tool_schemas
RUN pip install -e '.[postgres]'
RUN useradd --create-home toolforge && mkdir -p /data && chown toolforge /data
USER toolforge
ENV TOOLFORGE_DATA_DIR=/data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["toolforge", "serve", "--host", "0.0.0.0", "--port", "8000"]

FROM nvcr.io/nvidia/pytorch:25.01-py3 AS trainer
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HOME=/cache/huggingface
WORKDIR /srv/toolforge
COPY pyproject.toml README.md ./
COPY app app
COPY generators generators
COPY training training
COPY tool_schemas tool_schemas
# The base image's CUDA torch satisfies the train extra; vllm adds GPU rollouts.
RUN pip install -e '.[train,vllm,postgres,tracking]'
CMD ["toolforge", "worker", "--help"]
