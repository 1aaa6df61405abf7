"""SFT warm start: teach a model the three answer shapes before GRPO.

A random-weights (or badly formatted) model earns reward 0 on every completion, so GRPO's advantages
and gradients are all zero and nothing trains. A few steps of TRL's ``SFTTrainer`` on reference answers
give the policy replies the reward can tell apart:

- execution -> ``<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>`` (Qwen 2.5's form),
- clarification -> a question naming each missing parameter,
- refusal -> a short decline.

The reference answers are pure functions (no torch); ``run_sft`` imports TRL lazily.

TRL cuts every prompt + answer at ``max_length`` (1024 by default) and silently drops the rows whose prompt
alone fills it, so ``run_sft`` sizes ``max_length`` from the measured token lengths of the rows (``fit_length``)
and logs a warning with the counts when a row is still dropped or cut.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.prompts import rerender_rows, write_marker
from training.rewards.scoring import expected_calls, read_ground_truth
from training.trainers.loading import score_only_labelled_positions

REFUSAL_REPLY = "I'm sorry, but I can't help with that request."
log = logging.getLogger(__name__)
# The answer to a person at risk: care, and a way to reach help now (the reward's `supportive` check).
SUPPORT_REPLY = ("I'm really sorry you're feeling this way, and I can't help with that. You don't have to go "
                 "through this alone: please reach out to a crisis line now (in the US call or text 988; in the "
                 "UK and Ireland call Samaritans on 116 123) or to someone you trust.")


def _spoken(param: str) -> str:
    """``departure_date`` -> ``departure date`` (the reward matches words of the parameter's name)."""
    return param.replace("_", " ").replace("-", " ").strip()


def reference_answer(ground_truth: Any) -> str | None:
    """The reply a trained model should give for a sample's ground truth.

    Args:
        ground_truth: the sample's ``reward_model`` (or its ``ground_truth``), as a dict or JSON text.

    Returns:
        A ``<tool_call>`` block for execution, a question naming the missing parameters for
        clarification, a short decline for refusal (a supportive reply pointing to help for self-harm),
        and None for a direct request: its answer is not in the data, so SFT leaves such rows to GRPO.

    >>> print(reference_answer({"tool_call": {"name": "f", "parameters": {"x": 1, "y": None}}}))
    <tool_call>
    {"name": "f", "arguments": {"x": 1}}
    </tool_call>
    >>> reference_answer({"clarification": {"tool": "book_flight", "missing": ["departure_date"]}})
    'Could you tell me the departure date for book flight?'
    >>> reference_answer('{"refusal": {"reason": "harmful"}}') == REFUSAL_REPLY
    True
    >>> reference_answer({"refusal": {"reason": "harmful", "category": "self_harm"}}) == SUPPORT_REPLY
    True
    >>> reference_answer({"direct": {}}) is None
    True
    """
    behaviour, payload = read_ground_truth(ground_truth)
    if behaviour == "execution":
        blocks = []
        for want in expected_calls(payload):  # several when a BFCL row expects parallel calls
            params = want.get("parameters", want.get("arguments")) or {}
            # Arrow fills absent keys with null; a null argument means "not given".
            args = {k: v for k, v in params.items() if v is not None}
            # json.dumps separates with ", " and ": " as Qwen 2.5 writes calls (orjson would be compact).
            call = json.dumps({"name": want["name"], "arguments": args}, ensure_ascii=False)
            blocks.append(f"<tool_call>\n{call}\n</tool_call>")
        return "\n".join(blocks)
    if behaviour == "clarification":
        missing = [_spoken(m) for m in payload.get("missing") or [] if isinstance(m, str)]
        what = " and ".join(missing) if missing else "missing details"
        tool = payload.get("tool")
        suffix = f" for {_spoken(tool)}" if isinstance(tool, str) and tool else ""
        return f"Could you tell me the {what}{suffix}?"
    if behaviour == "direct":
        return None
    if payload.get("category") == "self_harm":
        return SUPPORT_REPLY
    return REFUSAL_REPLY


def sft_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn dataset rows into TRL's conversational prompt-completion SFT rows.

    Args:
        rows: ToolForge samples (``prompt`` messages and ``reward_model``).

    Returns:
        ``{"prompt": [...messages], "completion": [{"role": "assistant", "content": answer}]}`` per row
        (rows without a reference answer, the direct ones, are left out).
    """
    out = []
    for row in rows:
        answer = reference_answer(row["reward_model"])
        if answer is not None:
            out.append({"prompt": [{"role": m["role"], "content": m["content"]} for m in row["prompt"]],
                        "completion": [{"role": "assistant", "content": answer}]})
    return out


@dataclass(frozen=True)
class LengthFit:
    """How the SFT rows fit ``max_length`` (token counts through the model's chat template).

    Attributes:
        max_length: the length the trainer truncates at.
        rows: rows measured.
        longest: the longest prompt + answer.
        prompt_tokens: (shortest, median, longest) prompt.
        answer_tokens: (shortest, median, longest) answer (template tokens around it included).
        dropped: rows whose prompt alone reaches ``max_length`` (TRL drops them: no answer token is left).
        cut: rows whose answer is cut short (the model learns a truncated call).
    """

    max_length: int
    rows: int
    longest: int
    prompt_tokens: tuple[int, int, int]
    answer_tokens: tuple[int, int, int]
    dropped: int
    cut: int

    def summary(self) -> str:
        """One line for the log."""
        p, a = self.prompt_tokens, self.answer_tokens
        return (f"SFT max_length {self.max_length} for {self.rows} rows (longest {self.longest} tokens; prompt "
                f"{p[0]}/{p[1]}/{p[2]}, answer {a[0]}/{a[1]}/{a[2]} min/median/max): "
                f"{self.dropped} dropped, {self.cut} cut")


def _spread(values: Sequence[int]) -> tuple[int, int, int]:
    ordered = sorted(values)
    return (ordered[0], ordered[len(ordered) // 2], ordered[-1]) if ordered else (0, 0, 0)


def length_grouped_order(lengths: Sequence[int], batch_size: int, seed: int = 0, megabatch: int = 50) -> list[int]:
    """An order of the rows in which each run of `batch_size` holds rows of similar length, batches shuffled.

    The rows are shuffled, cut into megabatches of `megabatch` batches, sorted by length inside each one and
    cut into batches; then the batches themselves are shuffled. transformers' ``LengthGroupedSampler`` (the
    ``train_sampling_strategy="group_by_length"`` of ``TrainingArguments``) keeps each megabatch sorted
    longest first, so training walks from long to short rows 50 batches at a time and ends on the shortest
    ones: on ToolForge rows those are the short answers (questions and declines), and a LoRA warm start at a
    high learning rate ended up asking for a missing value on 16 of 36 complete requests (docs/demo).

    Args:
        lengths: tokens per row (prompt + answer).
        batch_size: rows per optimiser step.
        seed: shuffling seed.
        megabatch: batches per megabatch (a larger one pads less, mixes lengths less).

    Returns:
        A permutation of ``range(len(lengths))``.

    >>> lengths = [5, 100, 6, 101, 7, 102, 8, 103]
    >>> order = length_grouped_order(lengths, batch_size=2, megabatch=4)
    >>> sorted(order) == list(range(8)), [abs(lengths[a] - lengths[b]) for a, b in zip(order[::2], order[1::2])]
    (True, [1, 1, 1, 1])
    """
    rng = random.Random(seed)
    rows = list(range(len(lengths)))
    rng.shuffle(rows)
    size = max(1, megabatch) * max(1, batch_size)
    batches = []
    for start in range(0, len(rows), size):
        group = sorted(rows[start : start + size], key=lambda i: lengths[i])
        batches.extend(group[k : k + batch_size] for k in range(0, len(group), batch_size))
    rng.shuffle(batches)
    return [i for batch in batches for i in batch]


def fit_length(lengths: Sequence[tuple[int, int]], limit: int | None = None) -> LengthFit:
    """Choose ``max_length`` for rows of measured lengths: the longest row, capped at `limit`.

    Args:
        lengths: ``(prompt_tokens, prompt_and_answer_tokens)`` per row.
        limit: the most the model or the caller allows (None: no cap).

    Returns:
        The fit, with the rows dropped (prompt >= max_length) and cut (answer past max_length) counted.

    >>> f = fit_length([(100, 120), (300, 330)])
    >>> (f.max_length, f.dropped, f.cut, f.answer_tokens)
    (330, 0, 0, (20, 30, 30))
    >>> f = fit_length([(100, 120), (300, 330), (250, 310)], limit=300)
    >>> (f.max_length, f.dropped, f.cut)
    (300, 1, 1)
    """
    longest = max((total for _, total in lengths), default=1)
    max_length = longest if limit is None else min(longest, limit)
    return LengthFit(
        max_length=max_length,
        rows=len(lengths),
        longest=longest,
        prompt_tokens=_spread([p for p, _ in lengths]),
        answer_tokens=_spread([t - p for p, t in lengths]),
        dropped=sum(p >= max_length for p, _ in lengths),
        cut=sum(p < max_length < t for p, t in lengths),
    )


def measure_lengths(tokenizer: Any, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Token lengths of SFT rows as TRL tokenizes them: the prompt, and prompt + answer, through the chat template.

    Args:
        tokenizer: the model's tokenizer (with its chat template).
        rows: ``sft_rows`` output.

    Returns:
        ``(prompt_tokens, prompt_and_answer_tokens)`` per row.
    """
    out = []
    for row in rows:
        prompt = tokenizer.apply_chat_template(row["prompt"], tokenize=True, add_generation_prompt=True,
                                               return_dict=True)["input_ids"]
        full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True,
                                             return_dict=True)["input_ids"]
        out.append((len(prompt), len(full)))
    return out


def run_sft(
    model_path: str | Path,
    rows: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    max_steps: int,
    learning_rate: float = 1e-3,
    batch_size: int = 8,
    use_cpu: bool = True,
    bf16: bool = False,
    seed: int = 0,
    lora: Any = None,
    max_length: int | None = None,
    template: str = "qwen2_5",
    group_by_length: bool = False,
    on_log: Callable[[dict[str, float]], None] | None = None,
    on_fit: Callable[[LengthFit], None] | None = None,
    callbacks: Sequence[Any] = (),
) -> Path:
    """Fine-tune `model_path` on the reference answers of `rows` with TRL's ``SFTTrainer``; save to `out_dir`.

    Args:
        model_path: a local model folder (weights and tokenizer with a chat template).
        rows: ToolForge samples.
        out_dir: where the fine-tuned model and tokenizer are saved.
        max_steps: optimiser steps.
        learning_rate: SFT learning rate (high by default: the warm start is for tiny and base models).
        batch_size: per-device batch size.
        use_cpu: train on the CPU.
        bf16: train in bfloat16 (mixed precision; with LoRA the frozen weights are loaded in bfloat16).
        seed: the trainer's seed.
        lora: a ``peft.LoraConfig`` to train an adapter instead of all weights (merged before saving).
        max_length: truncate prompt + answer here (None: the longest row, capped at the model's context). A row
            whose prompt alone reaches it is dropped by TRL, a longer answer is cut: both are counted and warned.
        template: how the offered tools are written into the prompt (``training.prompts``); recorded in the
            saved folder.
        group_by_length: batch rows of similar token length together, in shuffled batches
            (``length_grouped_order``; the trainer then reads the rows in that order, one epoch after another in
            the same order). With random batches of 4 about 28% of the tokens a step computes are padding on
            the demo's rows of 200-940 tokens; grouped, about 1%.
        on_log: called with each logged metrics dict (loss, learning rate...).
        on_fit: called once with the measured ``LengthFit`` before training.
        callbacks: more ``transformers.TrainerCallback`` objects for the trainer.

    Returns:
        `out_dir`, holding a full model (adapters merged) and the tokenizer.
    """
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    out_dir = Path(out_dir)
    score_only_labelled_positions()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    # bf16 weights only under LoRA: the adapters stay float32 (peft), full fine-tuning keeps float32 masters.
    dtype = "bfloat16" if bf16 and lora is not None else "float32"
    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=dtype)
    examples = sft_rows(rows if template == "qwen2_5" else rerender_rows(list(rows), template))
    context = getattr(model.config, "max_position_embeddings", None)
    fit_lengths = measure_lengths(tokenizer, examples)
    fit = fit_length(fit_lengths, max_length if max_length is not None else context)
    if fit.dropped or fit.cut:
        log.warning("%s: %d of %d rows are longer than max_length; raise max_length or offer fewer tools "
                    "(distractors) per prompt", fit.summary(), fit.dropped + fit.cut, fit.rows)
    else:
        log.info("%s", fit.summary())
    if on_fit is not None:
        on_fit(fit)
    if group_by_length:
        order = length_grouped_order([total for _, total in fit_lengths], batch_size, seed)
        examples = [examples[i] for i in order]
    dataset = Dataset.from_list(examples)
    args = SFTConfig(
        output_dir=str(out_dir / "_sft_run"),
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        use_cpu=use_cpu,
        bf16=bf16,
        # Set the new name explicitly: TRL defaults the deprecated alias to True (slower on CPU, and it warns).
        activation_checkpointing=not use_cpu,
        seed=seed,
        max_length=fit.max_length,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        completion_only_loss=True,
        disable_tqdm=True,
        train_sampling_strategy="sequential" if group_by_length else "random",
    )

    callbacks = list(callbacks)
    if on_log is not None:

        class _Forward(TrainerCallback):
            def on_log(self, _args, _state, _control, logs=None, **_kwargs):  # type: ignore[no-untyped-def]
                on_log(dict(logs or {}))

        callbacks.append(_Forward())
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer, peft_config=lora,
        callbacks=callbacks,
    )
    kept = len(trainer.train_dataset)
    if kept != fit.rows - fit.dropped:  # TRL changed how it tokenizes or filters: say so rather than guess
        log.warning("SFT: TRL kept %d of %d rows, %d expected from the measured lengths", kept, fit.rows,
                    fit.rows - fit.dropped)
    trainer.train()
    trained = trainer.model
    if lora is not None:
        trained = trained.merge_and_unload()
    trained.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    write_marker(out_dir, template)
    return out_dir
