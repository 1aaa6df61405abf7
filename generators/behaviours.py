"""The three behaviours: build one sample (request text, offered tools, ground truth) from a seeded rng.

`Generator` is built once per process and dataset: it compiles each tool's value sampler, its request
phrasing (`generators.phrasing`: hand-written frames and slot phrases, or composed ones) and its leak
check. `Generator.sample(behaviour, rng)` draws the sample's "current" date-time, then returns an
unverified `Sample`; `generators.verify` checks it and the pipeline regenerates rejected ones.
"""

from __future__ import annotations

import datetime as dt
import inspect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from generators import dates, refusals, templates
from generators.phrasing import Slot, ToolPhrasing, has_words, names_mentioned, value_key
from generators.realism import LeakCheck
from generators.registry import Tool
from generators.surface import mentions, normalize_text, surface
from generators.templates import TextTemplate, capitalise
from generators.values import ToolSampler, ValuePools

# Share of refusals that are harmful (the rest are out of scope).
HARMFUL_SHARE = 0.5
# Chance that a harmful request is phrased against an offered tool when one fits.
TOOL_PHRASED_SHARE = 0.75
T = TypeVar("T")
_PERMUTATIONS = tuple(tuple(itertools.permutations(range(m))) for m in range(1, 8))
REFUSAL_KINDS = ("person_name", "email", "company", "address", "phone", "city")
# The values module may take the sample's "now" (dates near it, relative forms): pass it where accepted.
_SAMPLE_NOW = "now" in inspect.signature(ToolSampler.sample).parameters
_SURFACE_NOW = "now" in inspect.signature(surface).parameters
_MENTIONS_NOW = "now" in inspect.signature(mentions).parameters


@dataclass(slots=True)
class Sample:
    """One generated request before verification and export.

    Attributes:
        behaviour: execution, clarification or refusal.
        offered: names of the offered tools, in the order shown to the model.
        text: the user message.
        ground_truth: the reward model's ground truth.
        template_id: which template produced `text`.
        domain: the target tool's domain (the anchor tool's for refusals).
        tool: the target tool (None for refusals).
        args: execution: the call's arguments; clarification: candidate values of every parameter,
            including the missing ones (verification checks the text lacks them).
        missing: clarification: the parameters left out.
        detail: refusal: the harm category or out-of-scope capability.
        now: the sample's "current" date-time, stated in the system message (relative dates resolve to it).
    """

    behaviour: str
    offered: tuple[str, ...]
    text: str
    ground_truth: dict[str, Any]
    template_id: str
    domain: str
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    detail: str = ""
    now: dt.datetime | None = None


class ToolText:
    """What templates need to talk about one tool, computed once."""

    __slots__ = ("words", "text", "groups")

    def __init__(self, tool: Tool):
        self.words = templates.name_words(tool.name)
        # Lower-cased name words + description: what out-of-scope and harm checks match against.
        self.text = f"{self.words} {tool.description}".lower()
        self.groups = refusals.tool_groups([self.text])


class Generator:
    """Builds samples for one dataset: the selected tools, value pools and distractor settings.

    Args:
        tools: the tools the dataset draws from (targets and distractors alike).
        pools: value pools for the dataset's seed.
        distractors: (min, max) number of distractor tools per prompt.
        optional_share: chance that an execution request includes each optional parameter.
    """

    def __init__(
        self, tools: Sequence[Tool], pools: ValuePools, distractors: tuple[int, int], optional_share: float
    ):
        self.tools = tuple(tools)
        self.by_name = {t.name: t for t in self.tools}
        self.pools = pools
        self.dmin, self.dmax = distractors
        self.optional_share = optional_share
        self.samplers = {t.name: ToolSampler(t.parameters, pools, t.name) for t in self.tools}
        self.text = {t.name: ToolText(t) for t in self.tools}
        self.leaks = {t.name: LeakCheck(t.name, t.properties, t.description) for t in self.tools}
        self.phrasing = {
            t.name: ToolPhrasing(t.name, t.description, t.properties, t.required, t.frames, t.slots,
                                 safe=_leak_free(self.leaks[t.name]))
            for t in self.tools
        }
        # Tools phrased from composed slots and generic frames: the card recommends paraphrasing them.
        self.without_frames = tuple(t.name for t in self.tools if not self.phrasing[t.name].handwritten)
        self.clarifiable = tuple(t for t in self.tools if t.required)
        self.same_domain: dict[str, tuple[str, ...]] = {}
        self.other_domain: dict[str, tuple[str, ...]] = {}
        for t in self.tools:
            self.same_domain[t.name] = tuple(o.name for o in self.tools if o.domain == t.domain and o is not t)
            self.other_domain[t.name] = tuple(o.name for o in self.tools if o.domain != t.domain)
        self.harm = refusals.compile_harm_templates()
        self.oos_wrappers = tuple(
            TextTemplate(f"{style}.{i}", text) for i, (style, text) in enumerate(refusals.OUT_OF_SCOPE_WRAPPERS)
        )
        self.refusal_values = {kind: pools.get(kind) for kind in REFUSAL_KINDS}

    # --- shared pieces -------------------------------------------------------------------------

    def offer(self, target: str, rng: random.Random) -> tuple[str, ...]:
        """The offered tool set: the target plus k distractors (same domain preferred), shuffled.

        Args:
            target: the target tool's name.
            rng: the chunk's random generator.

        Returns:
            Offered tool names in display order.
        """
        same, other = self.same_domain[target], self.other_domain[target]
        rand = rng.random
        k = min(self.dmin + int(rand() * (self.dmax - self.dmin + 1)), len(same) + len(other))
        # At least half the distractors come from the target's domain when it has enough tools.
        n_same = min(len(same), (k + 1) // 2 + int(rand() * (k // 2 + 1)))
        n_other = min(k - n_same, len(other))
        picked = [target, *_draw(same, k - n_other, rand), *_draw(other, n_other, rand)]
        # One draw from a table of permutations instead of a Fisher-Yates loop (k <= 32; tables up to 7).
        if len(picked) <= len(_PERMUTATIONS):
            perms = _PERMUTATIONS[len(picked) - 1]
            return tuple([picked[i] for i in perms[int(rand() * len(perms))]])
        rng.shuffle(picked)
        return tuple(picked)

    @staticmethod
    def _say(rng: random.Random, args: dict[str, Any], now: dt.datetime | None) -> Any:
        # How values are written in this request: the call's currency, and "now" for relative dates.
        currency = _currency(args)
        if now is not None and _SURFACE_NOW:
            return lambda v, schema, name: surface(v, schema, name, rng, currency=currency, now=now)  # type: ignore[call-arg]
        return lambda v, schema, name: surface(v, schema, name, rng, currency=currency)

    def _now(self, rng: random.Random, now: dt.datetime | None) -> dt.datetime:
        return now if now is not None else dates.sample_now(rng)

    # --- the behaviours ------------------------------------------------------------------------

    def execution(self, rng: random.Random, tool: Tool | None = None, now: dt.datetime | None = None) -> Sample:
        """A request that gives every required parameter; the answer is the exact call.

        Args:
            rng: the chunk's random generator.
            tool: the target (default: drawn uniformly from the dataset's tools).
            now: the sample's current date-time (default: drawn).

        Returns:
            The unverified sample.
        """
        tool = tool or _pick(rng, self.tools)
        now = self._now(rng, now)
        args = self._arguments(tool, rng, now)
        phrasing = self.phrasing[tool.name]
        frames = phrasing.execution_frames(frozenset(args)) if phrasing.frames else ()
        frame = _pick(rng, frames) if frames else None
        text, frame_id = phrasing.render(frame, args, rng, self._say(rng, args, now))
        return Sample(
            "execution", self.offer(tool.name, rng), text,
            {"tool_call": {"name": tool.name, "parameters": args}},
            f"execution.{frame_id}", tool.domain, tool.name, args, now=now,
        )

    def _arguments(self, tool: Tool, rng: random.Random, now: dt.datetime | None = None) -> dict[str, Any]:
        sampler = self.samplers[tool.name]
        share = self.optional_share
        draw: Callable[[random.Random, Any], dict[str, Any]] = sampler.sample
        if now is not None and _SAMPLE_NOW:
            def draw(r: random.Random, mode: Any) -> dict[str, Any]:  # type: ignore[misc]
                return sampler.sample(r, mode, now=now)  # type: ignore[call-arg]
        if share == 0.5 or not sampler.optional:
            return draw(rng, "some")
        if share == 0.0:
            return draw(rng, "none")
        args = draw(rng, "all")
        if share == 1.0:
            return args
        required = set(sampler.required)
        return {p: v for p, v in args.items() if p in required or rng.random() < share}

    def clarification(self, rng: random.Random, tool: Tool | None = None, now: dt.datetime | None = None) -> Sample:
        """A request that omits at least one required parameter; the answer asks for it.

        With hand-written frames, a frame lacking some required parameters is drawn and those are the
        missing ones (no add-on mentions them); otherwise one or two required parameters are left out of
        a generic request.

        Args:
            rng: the chunk's random generator.
            tool: the target (default: drawn from the tools with a required parameter).
            now: the sample's current date-time (default: drawn).

        Returns:
            The unverified sample; `args` holds candidate values for the missing parameters too.

        Raises:
            ValueError: `tool` has no required parameter.
        """
        if tool is not None and not tool.required:
            raise ValueError(f"{tool.name} has no required parameter to leave out")
        tool = tool or _pick(rng, self.clarifiable)
        now = self._now(rng, now)
        args = self._arguments(tool, rng, now)
        required = tool.required
        phrasing = self.phrasing[tool.name]
        frames = phrasing.clarification_frames(frozenset(args)) if phrasing.frames else ()
        frame = None
        if frames:
            frame = _pick(rng, frames)
            chosen = set(required) - frame.params
        else:
            n_missing = 2 if len(required) > 1 and rng.random() < 0.25 else 1
            chosen = set(_draw(required, n_missing, rng.random))
        missing = tuple(p for p in required if p in chosen)
        given = {p: v for p, v in args.items() if p not in chosen}
        text, frame_id = phrasing.render(frame, given, rng, self._say(rng, given, now))
        return Sample(
            "clarification", self.offer(tool.name, rng), text,
            {"clarification": {"tool": tool.name, "missing": list(missing)}},
            f"clarification.{frame_id}", tool.domain, tool.name, args, missing, now=now,
        )

    def refusal(self, rng: random.Random, now: dt.datetime | None = None) -> Sample:
        """A harmful request, or one that no offered tool can do; the answer declines.

        Args:
            rng: the chunk's random generator.
            now: the sample's current date-time (default: drawn).

        Returns:
            The unverified sample; `detail` names the harm category or the capability.
        """
        now = self._now(rng, now)
        anchor = _pick(rng, self.tools)
        offered = self.offer(anchor.name, rng)
        values = {k: _pick(rng, pool) for k, pool in self.refusal_values.items()}
        values["person"] = values["person_name"]
        values["amount"] = f"${rng.randint(2, 250) * 100:,}"
        if rng.random() < HARMFUL_SHARE:
            category = _pick(rng, refusals.HARM_CATEGORIES)
            groups = set().union(*(self.text[n].groups for n in offered))
            fitting = sorted(g for g in self.harm[category.name] if g in groups)
            group = _pick(rng, fitting) if fitting and rng.random() < TOOL_PHRASED_SHARE else "generic"
            tpl = _pick(rng, self.harm[category.name][group])
            text = tpl.render(values)
            if rng.random() < 0.25:
                text = f"{_pick(rng, templates.CONTEXTS)} {text}"
            reason, template_id, detail = "harmful", tpl.id, category.name
        else:
            cap = _pick(rng, refusals.CAPABILITIES)
            i = rng.randrange(len(cap.phrases))
            phrase = TextTemplate("", cap.phrases[i]).render(values)
            wrapper = _pick(rng, self.oos_wrappers)
            ctx = {"phrase": phrase, "Phrase": capitalise(phrase), "context": _pick(rng, templates.CONTEXTS)}
            text = wrapper.render(ctx)
            reason, template_id, detail = "out_of_scope", f"refusal.out_of_scope.{cap.name}.{i}.{wrapper.id}", cap.name
        return Sample(
            "refusal", offered, text, {"refusal": {"reason": reason}}, template_id, anchor.domain, detail=detail,
            now=now,
        )

    def sample(self, behaviour: str, rng: random.Random) -> Sample:
        """Build one unverified sample of `behaviour`.

        Args:
            behaviour: execution, clarification or refusal.
            rng: the chunk's random generator.

        Returns:
            The sample.
        """
        now = dates.sample_now(rng)
        if behaviour == "execution":
            return self.execution(rng, now=now)
        if behaviour == "clarification":
            return self.clarification(rng, now=now)
        if behaviour == "refusal":
            return self.refusal(rng, now=now)
        raise ValueError(f"unknown behaviour {behaviour!r}")

    def mentions(
        self, text: str, value: Any, tool: str, param: str, *, norm: str | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Whether `text` carries `value` of `tool`'s parameter `param`.

        A parameter whose slot names its values (enums, booleans) is mentioned by one of the value's
        names, with no name of another value beside it; any other by `generators.surface.mentions`.
        """
        if norm is None:
            norm = normalize_text(text)
        return slot_mentioned(text, norm, value, self.phrasing[tool].slots[param], now)

    def any_value_named(self, norm: str, tool: str, param: str) -> bool:
        """Whether the text names any value of a parameter whose slot names its values (clarification check)."""
        names = self.phrasing[tool].value_names.get(param)
        return names is not None and any(names_mentioned(norm, ns) for ns in names.values())


def slot_mentioned(text: str, norm: str, value: Any, slot: Slot, now: dt.datetime | None) -> bool:
    """Whether `text` (normalised: `norm`) carries `value` of the parameter `slot` phrases (`Generator.mentions`)."""
    if slot.values is not None:
        return _named_value_mentioned(norm, value, slot.value_names)
    if slot.fields is not None and type(value) is dict:
        fields = slot.fields
        return all(slot_mentioned(text, norm, v, fields[k], now) if k in fields else mentions(text, v, norm=norm)
                   for k, v in value.items())
    if now is not None and _MENTIONS_NOW:
        return mentions(text, value, slot.schema, name=slot.name, norm=norm, now=now)  # type: ignore[call-arg]
    return mentions(text, value, slot.schema, name=slot.name, norm=norm)


def _named_value_mentioned(norm: str, value: Any, names: dict[str, tuple[str, ...]]) -> bool:
    # Each value (each item of an array) by one of its names; no name of a value outside the call beside
    # them, which would make the request ambiguous ("by car ... or by bike"), unless that name is part of
    # one found ("open" inside "open at the moment").
    keys = {value_key(v) for v in value} if type(value) is list else {value_key(value)}
    found: list[str] = []
    for key in keys:
        own = names.get(key)
        if own is None:
            return False
        hits = [n for n in own if n in norm and has_words(norm, n)]
        if not hits:
            return False
        found += hits
    for other_key, others in names.items():
        if other_key not in keys:
            for o in others:
                if o in norm and has_words(norm, o) and not any(o in f for f in found):
                    return False
    return True


def _leak_free(check: LeakCheck) -> Callable[[str], bool]:
    return lambda text: check.reason(text) is None


def _currency(args: dict[str, Any]) -> str | None:
    # Amounts are written "$42.50" only when the call says which currency they are in.
    for key in ("currency", "currency_code"):
        value = args.get(key)
        if isinstance(value, str):
            return value
    return None


def _pick(rng: random.Random, seq: Sequence[T]) -> T:
    # rng.choice costs ~0.5 µs (Python-level _randbelow); one rng.random() call is ~0.05 µs.
    return seq[int(rng.random() * len(seq))]


def _draw(seq: Sequence[T], k: int, rand: Callable[[], float]) -> list[T]:
    """`k` distinct items of `seq` (k is small against len(seq)), by rejection on rng.random()."""
    if k <= 0:
        return []
    if 2 * k > len(seq):
        pool = list(seq)
        for i in range(k):  # partial Fisher-Yates
            j = i + int(rand() * (len(pool) - i))
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]
    chosen: list[int] = []
    n = len(seq)
    while len(chosen) < k:
        j = int(rand() * n)
        if j not in chosen:
            chosen.append(j)
    return [seq[j] for j in chosen]
