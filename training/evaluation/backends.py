"""Generation backends for evaluation: transformers, vLLM (offline engine) and OpenAI-compatible endpoints.

Each backend turns dataset rows into completion *texts* in Qwen 2.5's form, so the shared reward scores
every backend the same way. Every backend renders the prompt the same way for a given ``template``
(``training.prompts``): ``qwen2_5`` (the rows as stored), ``compact``, or ``native`` (the tools block out of
the system message and the tools passed as ``tools=`` to the model's chat template, locally or on the
server). Local backends default to the rendering the model folder records it was trained with (else
``qwen2_5``); an endpoint defaults to ``native``, since the server applies its own template.
All decode greedily. Heavy libraries (torch, transformers, vLLM) are imported inside the backend that needs
them; this module itself imports only httpx and the stdlib.

- ``TransformersBackend``: local weights (a full model or a PEFT adapter folder), left-padded batches.
- ``VLLMBackend``: vLLM's offline ``LLM.chat``. UNTESTED in this repository: vLLM does not install on
  the CPU development machines (it needs CUDA); it is kept to the same small interface.
- ``EndpointBackend``: any OpenAI-compatible ``/chat/completions`` server (a vLLM server, a hosted
  model). With ``native`` the tools go as ``tools=`` (the system message is sent without the rendered
  tools block, which the server's own chat template re-renders); with ``qwen2_5`` / ``compact`` the tools
  stay in the system message text and no ``tools=`` is sent. Returned ``tool_calls`` are turned back into
  ``<tool_call>`` blocks with ``training.rewards.scoring.completion_text``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import httpx

from generators.importers import assign_names
from training.prompts import check_template, prompt_text, render_messages, resolve_template, row_tools
from training.rewards.scoring import completion_text, loads_json

Progress = Callable[[int], None]  # called with the number of rows just finished


class Backend(Protocol):
    """What the evaluation job needs from a backend."""

    name: str
    errors: list[str]

    def generate(self, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None) -> list[str]:
        """Return one completion text per row, in row order."""
        ...

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in the report."""
        ...


def _tool_dicts(tools: Any) -> list[dict[str, Any]]:
    if isinstance(tools, str):
        tools = loads_json(tools)
    return [loads_json(t) if isinstance(t, str) else t for t in tools or ()]


# --- transformers ----------------------------------------------------------------------------------


class TransformersBackend:
    """Greedy generation with transformers, in left-padded batches sorted by prompt length.

    Args:
        model_path: a model folder, or a PEFT adapter folder (``adapter_config.json``; merged on load).
        batch_size: prompts per ``generate`` call.
        max_new_tokens: completion length cap.
        device: ``cpu``, ``cuda``... (default: CUDA when available).
        dtype: torch dtype name for the weights (default: the checkpoint's).
        template: prompt rendering (``training.prompts``; default: what the model folder records, else
            ``qwen2_5``).
    """

    name = "transformers"

    def __init__(
        self,
        model_path: str | Path,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 256,
        device: str | None = None,
        dtype: str | None = None,
        template: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        path = Path(model_path)
        self.model_path = str(path)
        self.template = resolve_template(template, path)
        self.batch_size = max(1, batch_size)
        self.max_new_tokens = max_new_tokens
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.errors: list[str] = []
        kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)} if dtype else {}
        if (path / "adapter_config.json").is_file():
            from peft import AutoPeftModelForCausalLM

            model = AutoPeftModelForCausalLM.from_pretrained(str(path), **kwargs).merge_and_unload()
        else:
            model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
        self.model = model.to(self.device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.tokenizer.padding_side = "left"  # decoder-only models continue from the right edge
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        eos = model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        # A fresh config: a checkpoint's sampling defaults (temperature, top_p) would warn under greedy.
        self.generation_config = GenerationConfig(
            do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=eos,
            pad_token_id=self.tokenizer.pad_token_id,
        )

    def describe(self) -> dict[str, Any]:
        """Settings for the report."""
        return {"backend": self.name, "model": self.model_path, "device": self.device,
                "batch_size": self.batch_size, "max_new_tokens": self.max_new_tokens, "decoding": "greedy",
                "template": self.template}

    def generate(self, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None) -> list[str]:
        """Generate one completion per row (see ``Backend``)."""
        import torch

        prompts = [prompt_text(self.tokenizer, r, self.template) for r in rows]
        # Similar lengths share a batch, so little compute goes to padding.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        out: list[str] = [""] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            enc = self.tokenizer([prompts[i] for i in batch], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
            with torch.inference_mode():
                generated = self.model.generate(**enc, generation_config=self.generation_config)
            new_tokens = generated[:, enc["input_ids"].shape[1] :]
            texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for i, text in zip(batch, texts, strict=True):
                out[i] = text
            if progress is not None:
                progress(len(batch))
        return out


# --- vLLM --------------------------------------------------------------------------------------------


class VLLMBackend:
    """Greedy generation with vLLM's offline engine (GPU).

    UNTESTED here: vLLM needs CUDA and does not install on the CPU development machines. The code
    follows vLLM's documented ``LLM.chat(conversations, SamplingParams)`` API. A LoRA adapter must be
    merged first (``TransformersBackend`` merges on load; vLLM is given full weights only).

    Args:
        model_path: a full model folder or hub id.
        max_new_tokens: completion length cap.
        tensor_parallel_size: GPUs to shard the model over.
        gpu_memory_utilization: share of GPU memory vLLM may take.
        max_model_len: context cap (default: the model's).
        template: prompt rendering (as ``TransformersBackend``).
    """

    name = "vllm"

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_new_tokens: int = 256,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        template: str | None = None,
    ):
        from vllm import LLM, SamplingParams  # lazy: GPU-only dependency (extra "vllm")

        self.model_path = str(model_path)
        self.template = resolve_template(template, model_path if Path(str(model_path)).is_dir() else None)
        self.max_new_tokens = max_new_tokens
        self.errors: list[str] = []
        self.llm = LLM(model=self.model_path, tensor_parallel_size=tensor_parallel_size,
                       gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len)
        self.params = SamplingParams(temperature=0.0, max_tokens=max_new_tokens)

    def describe(self) -> dict[str, Any]:
        """Settings for the report."""
        return {"backend": self.name, "model": self.model_path, "max_new_tokens": self.max_new_tokens,
                "decoding": "greedy", "tested": False, "template": self.template}

    def generate(self, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None) -> list[str]:
        """Generate one completion per row (see ``Backend``); vLLM batches internally."""
        out: list[str] = []
        chunk = 256  # a progress tick per chunk; vLLM schedules each chunk's requests together
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            if self.template == "native":  # one request per row: each row offers its own tools
                results = [self.llm.chat(render_messages(r, "native"), self.params, use_tqdm=False,
                                         tools=row_tools(r) or None)[0] for r in part]
            else:
                results = self.llm.chat([render_messages(r, self.template) for r in part], self.params,
                                        use_tqdm=False)
            out.extend(r.outputs[0].text for r in results)
            if progress is not None:
                progress(len(part))
        return out


# --- OpenAI-compatible endpoint --------------------------------------------------------------------


class EndpointError(RuntimeError):
    """The endpoint cannot be used at all (unreachable, no model); per-row failures are only counted."""


def chat_request(
    row: Mapping[str, Any], model: str, max_tokens: int, template: str = "native"
) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``/chat/completions`` body for a row, and the map from sent tool names back to the row's.

    Tool names outside OpenAI's ``^[a-zA-Z0-9_-]{1,64}$`` (BFCL's ``math.factorial``) are sent renamed
    (as ``toolforge tools import`` renames them) and mapped back when the reply arrives.

    Args:
        row: a ToolForge sample row.
        model: the served model name.
        max_tokens: completion length cap.
        template: ``native`` sends the tools as ``tools=``; ``qwen2_5`` / ``compact`` keep them in the system
            message text (``training.prompts``) and send no ``tools=``.

    Returns:
        ``(body, {sent_name: row_name})``.
    """
    if template != "native":
        body = {"model": model, "messages": render_messages(row, template), "temperature": 0,
                "max_tokens": max_tokens}
        return body, {}
    tools = _tool_dicts(row.get("tools"))
    names = [t.get("function", t).get("name") for t in tools]
    mapping = assign_names([n for n in dict.fromkeys(names) if isinstance(n, str) and n])
    sent_tools = []
    for tool in tools:
        fn = dict(tool.get("function", tool))
        fn["name"] = mapping.get(fn.get("name"), fn.get("name"))
        sent_tools.append({"type": "function", "function": fn})
    messages = render_messages(row, "native")  # the tools block out: the server's template renders tools=
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": 0, "max_tokens": max_tokens}
    if sent_tools:
        body["tools"] = sent_tools
    return body, {sent: original for original, sent in mapping.items()}


def reply_text(response: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The assistant reply of a chat completion as Qwen 2.5 text (``tool_calls`` as ``<tool_call>`` blocks).

    Args:
        response: the decoded ``/chat/completions`` response.
        names: sent tool name -> the row's tool name.

    Returns:
        The text the shared reward scores. Arguments are passed on as sent, so an unparseable
        ``arguments`` string stays malformed.

    >>> from training.rewards.scoring import parse_completion
    >>> call = {"function": {"name": "math_factorial", "arguments": '{"number": 5}'}}
    >>> text = reply_text({"choices": [{"message": {"content": None, "tool_calls": [call]}}]},
    ...                   {"math_factorial": "math.factorial"})
    >>> parse_completion(text).calls
    (ToolCall(name='math.factorial', arguments={'number': 5}),)
    """
    message = dict(response["choices"][0]["message"])
    calls = []
    for call in message.get("tool_calls") or ():
        fn = dict(call.get("function") or {}) if isinstance(call, dict) else {}
        if isinstance(fn.get("name"), str):
            fn["name"] = names.get(fn["name"], fn["name"])
        calls.append({"type": "function", "function": fn})
    message["tool_calls"] = calls
    return completion_text([message])


class EndpointBackend:
    """Chat completions from an OpenAI-compatible server, with bounded concurrency (httpx, asyncio).

    Args:
        base_url: the API base (``http://host:8000/v1``); ``/chat/completions`` is appended.
        model: the served model name (default: the first of ``GET /models``).
        api_key: sent as a bearer token.
        concurrency: requests in flight at once.
        max_tokens: completion length cap.
        timeout: seconds per request.
        retries: extra attempts for a request that fails with a transport error or a 5xx/429 status.
        transport: an httpx transport (tests).
        template: prompt rendering (default ``native``; see ``chat_request``).
    """

    name = "endpoint"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key: str | None = None,
        concurrency: int = 8,
        max_tokens: int = 256,
        timeout: float = 120.0,
        retries: int = 2,
        transport: httpx.AsyncBaseTransport | None = None,
        template: str | None = None,
    ):
        self.template = check_template(template or "native")
        self.base_url = base_url.rstrip("/").removesuffix("/chat/completions")
        self.api_key = api_key
        self.concurrency = max(1, concurrency)
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.retries = retries
        self.transport = transport
        self.errors: list[str] = []
        self.model = model or self._first_model()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _first_model(self) -> str:
        try:
            response = httpx.get(f"{self.base_url}/models", headers=self._headers(), timeout=self.timeout)
            response.raise_for_status()
            return str(response.json()["data"][0]["id"])
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
            raise EndpointError(
                f"cannot list models at {self.base_url}/models ({exc}); pass the model name"
            ) from exc

    def describe(self) -> dict[str, Any]:
        """Settings for the report."""
        return {"backend": self.name, "endpoint": self.base_url, "model": self.model,
                "concurrency": self.concurrency, "max_tokens": self.max_tokens,
                "decoding": "greedy (temperature 0)", "template": self.template}

    def generate(self, rows: Sequence[Mapping[str, Any]], progress: Progress | None = None) -> list[str]:
        """One completion per row (see ``Backend``); a failed row gets ``""`` and an ``errors`` entry."""
        return asyncio.run(self._generate(rows, progress))

    async def _generate(self, rows: Sequence[Mapping[str, Any]], progress: Progress | None) -> list[str]:
        limit = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(headers=self._headers(), timeout=self.timeout, transport=self.transport,
                                     limits=httpx.Limits(max_connections=self.concurrency)) as client:

            async def one(row: Mapping[str, Any]) -> str:
                async with limit:
                    text = await self._complete(client, row)
                if progress is not None:
                    progress(1)
                return text

            return list(await asyncio.gather(*(one(r) for r in rows)))

    async def _complete(self, client: httpx.AsyncClient, row: Mapping[str, Any]) -> str:
        body, names = chat_request(row, self.model, self.max_tokens, self.template)
        error = ""
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(f"{self.base_url}/chat/completions", json=body)
            except httpx.TransportError as exc:
                error = f"transport error: {type(exc).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        return reply_text(response.json(), names)
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
                        error = f"unreadable response ({type(exc).__name__})"
                        break
                error = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code != 429:
                    break  # a client error will not change on retry
            await asyncio.sleep(min(2.0, 0.2 * 2**attempt))
        self.errors.append(error)
        return ""


def make_backend(
    *,
    model: str | None = None,
    endpoint: str | None = None,
    backend: str = "transformers",
    endpoint_model: str | None = None,
    api_key: str | None = None,
    batch_size: int = 8,
    concurrency: int = 8,
    max_new_tokens: int = 256,
    device: str | None = None,
    template: str | None = None,
) -> Backend:
    """Build the backend for a local model (transformers or vLLM) or an endpoint.

    Args:
        model: a model folder (or hub id for vLLM).
        endpoint: an OpenAI-compatible API base URL (exclusive with `model`).
        backend: ``transformers`` or ``vllm`` (for `model`).
        endpoint_model: the served model name (default: the endpoint's first model).
        api_key: the endpoint's key.
        batch_size: transformers batch size.
        concurrency: endpoint requests in flight.
        max_new_tokens: completion length cap.
        device: transformers device.
        template: prompt rendering for every backend (``training.prompts``; None: the model folder's
            record, else ``qwen2_5``; ``native`` for an endpoint).

    Returns:
        The backend.

    Raises:
        ValueError: neither or both of `model` and `endpoint`, or an unknown backend.
    """
    if (model is None) == (endpoint is None):
        raise ValueError("give exactly one of a model path (--model) or an endpoint URL (--endpoint)")
    if endpoint is not None:
        return EndpointBackend(endpoint, endpoint_model, api_key=api_key, concurrency=concurrency,
                               max_tokens=max_new_tokens, template=template)
    if backend == "transformers":
        if not Path(str(model)).is_dir():  # else transformers reads it as a hub id and says "Repo id must..."
            raise ValueError(f"--model {model}: folder not found (give a local model folder)")
        return TransformersBackend(model, batch_size=batch_size, max_new_tokens=max_new_tokens, device=device,
                                   template=template)
    if backend == "vllm":
        return VLLMBackend(model, max_new_tokens=max_new_tokens, template=template)
    raise ValueError(f"unknown backend {backend!r}; use transformers or vllm")
