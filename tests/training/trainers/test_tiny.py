"""The tiny test model: deterministic, offline, Qwen 2.5 tokens and TRL's exact chat template."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the tiny model needs the 'train' extra")

from training.trainers.tiny import CHAT_TEMPLATE_PATH, build_tiny_model  # noqa: E402

CORPUS = [
    "Could you tell me the location for get weather forecast?",
    "I'm sorry, but I can't help with that request.",
    '<tool_call>\n{"name": "get_weather_forecast", "arguments": {"location": "Osaka"}}\n</tool_call>',
] * 4


def _digest(folder: Path) -> str:
    """sha256 over every file's name and bytes."""
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), texts=CORPUS, vocab_size=400)


def test_same_seed_same_files(tiny: Path, tmp_path: Path) -> None:
    # Same texts and seed -> byte-identical weights, tokenizer and config.
    again = build_tiny_model(tmp_path / "again", texts=CORPUS, vocab_size=400)
    assert _digest(again) == _digest(tiny)


def test_other_seed_other_weights(tiny: Path, tmp_path: Path) -> None:
    # The seed drives the weight initialisation.
    other = build_tiny_model(tmp_path / "other", texts=CORPUS, vocab_size=400, seed=1)
    assert (other / "model.safetensors").read_bytes() != (tiny / "model.safetensors").read_bytes()


def test_tokens_and_template(tiny: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny))
    # Qwen 2.5's end of turn ends generation; padding uses <|endoftext|>.
    assert (tok.eos_token, tok.pad_token) == ("<|im_end|>", "<|endoftext|>")
    # <tool_call> tokens are single, non-special tokens: they survive skip_special_tokens=True.
    text = '<tool_call>\n{"name": "f"}\n</tool_call><|im_end|>'
    ids = tok(text)["input_ids"]
    assert tok.convert_tokens_to_ids("<tool_call>") in ids
    assert tok.decode(ids, skip_special_tokens=True) == text.removesuffix("<|im_end|>")
    # The saved template is the repo's copy, and renders Qwen 2.5's chat format.
    assert tok.chat_template == CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")
    rendered = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    # Tied embeddings and an embedding row per token.
    assert model.config.tie_word_embeddings
    assert model.get_input_embeddings().weight.shape[0] == len(tok)


def test_template_is_trls_byte_for_byte() -> None:
    # TRL recognises Qwen 2.5 only by exact equality with its own copy.
    chat_template_utils = pytest.importorskip("trl.chat_template_utils")
    assert CHAT_TEMPLATE_PATH.read_bytes() == chat_template_utils.qwen2_5_chat_template.encode("utf-8")


def test_rejects_bad_head_layout(tmp_path: Path) -> None:
    # 64 is not divisible by 3 heads.
    with pytest.raises(ValueError, match="num_heads"):
        build_tiny_model(tmp_path, texts=CORPUS, num_heads=3)
