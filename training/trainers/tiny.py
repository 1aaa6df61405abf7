"""Build a tiny Qwen2-architecture model and tokenizer locally, offline and deterministically.

Development and CI machines cannot download a model, so tests and demos train this stand-in: a
byte-level BPE tokenizer trained with ``tokenizers`` on ToolForge text, Qwen 2.5's special tokens and
chat template (byte-identical to TRL's copy, which TRL recognises by equality), and a random-weights
``Qwen2ForCausalLM`` with tied embeddings. Same arguments -> same files.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
# Non-special: TRL decodes completions with skip_special_tokens=True, and the reward must see these.
TOOL_TOKENS = ("<tool_call>", "</tool_call>")
CHAT_TEMPLATE_PATH = Path(__file__).parents[1] / "chat_templates" / "qwen2_5.jinja"
# Qwen 2.5's pre-tokenizer split (transformers' tokenization_qwen2.PRETOKENIZE_REGEX).
_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

_BUILTIN_CORPUS = (
    "Could you tell me the location for get weather forecast?",
    "Which date and time should I use? Please provide the missing details.",
    "I'm sorry, but I can't help with that request. None of the available tools can do that.",
    "I cannot assist with harmful requests.",
    '<tool_call>\n{"name": "get_weather_forecast", "arguments": {"location": "Osaka", "days": 3}}\n</tool_call>',
    "You are a helpful assistant that can call tools. Call a tool only when the request gives every "
    "required argument; if a required argument is missing or vague, ask the user for it instead of guessing.",
    "0 1 2 3 4 5 6 7 8 9 true false null { } [ ] : , \" ' - _ . @ / ? ! # $ % & * + = < > ( )",
)


def chat_template() -> str:
    """Qwen 2.5's chat template, byte-identical to TRL's ``trl/chat_templates/qwen2_5.jinja``.

    Returns:
        The template text.
    """
    return CHAT_TEMPLATE_PATH.read_text(encoding="utf-8")


def _record_texts(record: dict) -> Iterator[str]:
    from training.trainers.sft import reference_answer

    for message in record["prompt"]:
        yield message["content"]
    answer = reference_answer(record["reward_model"])
    if answer is not None:
        yield answer


def default_texts(n: int = 200, seed: int = 0) -> list[str]:
    """Training text for the tokenizer: a small dataset generated from the repo's tool registry.

    Falls back to a built-in corpus when the registry cannot be loaded or generation fails, so the
    builder works in any checkout.

    Args:
        n: samples to generate.
        seed: generation seed.

    Returns:
        System prompts, user requests and reference answers, plus the built-in corpus.
    """
    texts = list(_BUILTIN_CORPUS)
    try:
        from generators.pipeline import generate_dataset
        from generators.registry import DEFAULT_TOOLS_DIR, load_registry
        from generators.spec import DatasetSpec

        registry = load_registry(DEFAULT_TOOLS_DIR)
        with tempfile.TemporaryDirectory() as tmp:
            generate_dataset(registry, DatasetSpec(name="tiny-tokenizer", n=n, seed=seed), Path(tmp))
            with open(Path(tmp) / "samples.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    texts.extend(_record_texts(json.loads(line)))
    except Exception:  # noqa: BLE001 - any failure of the optional corpus falls back to the built-in one
        pass
    return texts


def build_tokenizer(texts: Iterable[str], vocab_size: int = 3000):  # noqa: ANN201 - transformers type, lazy
    """Train a Qwen2-style byte-level BPE tokenizer on `texts`.

    Args:
        texts: training text.
        vocab_size: target vocabulary size (special and tool tokens included).

    Returns:
        A transformers fast tokenizer with Qwen 2.5's special tokens, non-special ``<tool_call>`` tokens
        and chat template; eos ``<|im_end|>``, pad ``<|endoftext|>``.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(TOOL_TOKENS),
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(texts), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=32768,
    )
    tokenizer.chat_template = chat_template()
    return tokenizer


def build_tiny_model(
    out_dir: Path,
    *,
    texts: Iterable[str] | None = None,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    intermediate_size: int = 256,
    vocab_size: int = 3000,
    seed: int = 0,
) -> Path:
    """Build a tiny random-weights Qwen2 model with a locally trained tokenizer into `out_dir`.

    Args:
        out_dir: output folder (created; files in it are replaced).
        texts: tokenizer training text; default: a generated ToolForge dataset (see ``default_texts``).
        hidden_size: model width.
        num_layers: decoder layers.
        num_heads: attention heads.
        num_kv_heads: key/value heads (grouped-query attention as in Qwen 2.5).
        intermediate_size: MLP width.
        vocab_size: tokenizer vocabulary size; the embedding matrix has exactly as many rows as tokens.
        seed: seeds the weight initialisation (and the default corpus).

    Returns:
        `out_dir`, loadable with ``AutoModelForCausalLM`` / ``AutoTokenizer.from_pretrained``.

    Raises:
        ValueError: `hidden_size` is not divisible by `num_heads`, or `num_heads` by `num_kv_heads`.
    """
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ValueError("hidden_size must be divisible by num_heads, and num_heads by num_kv_heads")
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(default_texts(seed=seed) if texts is None else texts, vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    # fork_rng: seed the initialisation without changing the caller's global torch RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return out_dir
