"""How fluent requests read to a small real language model: mean per-token negative log-likelihood.

The realism issue compares ToolForge's requests with requests people wrote (BFCL, When2Call) by their mean
per-token NLL under SmolLM2-135M-Instruct, as plain text: lower reads more like ordinary writing. The rule
used here, so that figures are comparable between datasets:

- each text is scored alone, as plain text: no chat template and no special token; its first token is the
  context of the second and is not scored itself (a text of one token is skipped);
- the text is cut at `max_tokens` tokens;
- ``token_nll`` is the mean over all scored tokens of all texts (natural log); ``text_nll`` the mean of each
  text's own mean (short texts weigh as much as long ones).

Needs the training extra (torch, transformers). ``toolforge data-stats DATASET --nll-model DIR`` prints it for
a dataset's execution and clarification requests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def request_nll(
    texts: Sequence[str],
    model_path: str | Path,
    *,
    batch_size: int = 16,
    max_tokens: int = 128,
    device: str = "cpu",
) -> dict[str, Any]:
    """Mean per-token NLL of `texts` under the causal LM in `model_path` (see the module docstring).

    Args:
        texts: the requests (empty strings are skipped).
        model_path: a local Hugging Face model folder with its tokenizer.
        batch_size: texts per forward pass.
        max_tokens: tokens scored per text at most.
        device: torch device.

    Returns:
        ``{"n", "tokens", "token_nll", "text_nll", "model"}``; the NLLs are None when nothing was scored.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32).to(device).eval()
    pad = next((t for t in (tokenizer.pad_token_id, tokenizer.eos_token_id) if t is not None), 0)
    encoded = [ids[:max_tokens] for ids in tokenizer([t for t in texts if t.strip()],
                                                      add_special_tokens=False)["input_ids"] if len(ids) > 1]
    total, count, per_text = 0.0, 0, []
    with torch.inference_mode():
        for i in range(0, len(encoded), batch_size):
            batch = encoded[i:i + batch_size]
            width = max(len(ids) for ids in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, ids in enumerate(batch):  # right padding: position ids stay 0..n for every text
                input_ids[row, : len(ids)] = torch.tensor(ids)
                mask[row, : len(ids)] = 1
            logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits.float()
            logp = torch.log_softmax(logits[:, :-1], dim=-1)
            target = input_ids[:, 1:].to(device)
            nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1) * mask[:, 1:].to(device)
            for row, ids in enumerate(batch):
                text_sum = float(nll[row].sum())
                total += text_sum
                count += len(ids) - 1
                per_text.append(text_sum / (len(ids) - 1))
    return {
        "n": len(per_text),
        "tokens": count,
        "token_nll": round(total / count, 4) if count else None,
        "text_nll": round(math.fsum(per_text) / len(per_text), 4) if per_text else None,
        "model": str(model_path),
    }
