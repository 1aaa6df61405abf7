"""The three behaviours: build one sample (request text, offered tools, ground truth) from a seeded rng.

`Generator` is built once per process and dataset: it compiles each tool's value sampler, phrases
and templates. `Generator.sample(behaviour, rng)` returns an unverified `Sample`; `generators.verify`
checks it and the pipeline regenerates rejected ones.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from generators import refusals, templates
from generators.registry import Tool
from generators.surface import mentions, surface, vague_phrase
from generators.templates import TextTemplate, capitalise, join_phrases
from generators.values import ToolSampler, ValuePools

# Chance that a request uses one of the tool's own `x-utterances` rather than a generic template.
UTTERANCE_SHARE = 0.5
# Chance that a clarification blurs a missing parameter with a vague phrase instead of leaving it out.
VAGUE_SHARE = 0.5
# Share of refusals that are harmful (the rest are out of scope).
HARMFUL_SHARE = 0.5
# Chance that a harmful request is phrased against an offered tool when one fits.
TOOL_PHRASED_SHARE = 0.75
T = TypeVar("T")
_PERMUTATIONS = tuple(tuple(itertools.permutations(range(m))) for m in range(1, 8))
REFUSAL_KINDS = ("person_name", "email", "company", "address", "phone", "city")


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
        missing: clarification: the parameters left out or blurred.
        detail: refusal: the harm category or out-of-scope capability.
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


class ToolText:
    """What templates need to talk about one tool, computed once."""

    __slots__ = ("action", "Action", "words", "Words", "labels", "utterances", "text", "groups", "context")

    def __init__(self, tool: Tool):
        self.action = templates.action_phrase(tool.description)
        self.Action = capitalise(self.action)
        self.words = templates.name_words(tool.name)
        self.Words = capitalise(self.words)
        self.labels = {p: templates.name_words(p) for p in tool.properties}
        # An utterance may only use required parameters (the registry's contract); skip any that doesn't.
        required = set(tool.required)
        self.utterances = tuple(
            u for u in templates.utterance_templates(tool.name, tool.utterances) if u.variables <= required
        )
        # Lower-cased name words + description: what out-of-scope and harm checks match against.
        self.text = f"{self.words} {tool.description}".lower()
        self.groups = refusals.tool_groups([self.text])
        # The template variables that do not change between requests.
        self.context = {"action": self.action, "Action": self.Action, "words": self.words, "Words": self.Words,
                        "name": tool.name}


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

    def _items(self, tool: Tool, args: dict[str, Any], rng: random.Random) -> list[tuple[str, str, bool]]:
        # (label, surface text, is_boolean) per argument, in a random order.
        labels = self.text[tool.name].labels
        props = tool.properties
        currency = _currency(args)
        items = [
            (labels[p], surface(v, props[p], p, rng, currency=currency), isinstance(v, bool)) for p, v in args.items()
        ]
        rng.shuffle(items)
        return items

    @staticmethod
    def _phrases(
        items: list[tuple[str, str, bool]], styles: tuple[tuple[str, str], ...], rng: random.Random
    ) -> list[str]:
        before, between = _pick(rng, styles)
        # A boolean's surface already names the parameter ("include hourly: yes").
        return [text if boolean else before + label + between + text for label, text, boolean in items]

    def _generic(self, tool: Tool, items: list[tuple[str, str, bool]], rng: random.Random) -> tuple[str, str]:
        ctx = dict(self.text[tool.name].context)
        ctx["context"] = _pick(rng, templates.CONTEXTS)
        if items:
            tpl, styles = _pick(rng, templates.WITH_ARGS_STYLED)
            args = join_phrases(self._phrases(items, styles, rng), rng)
            ctx["args"], ctx["Args"] = args, capitalise(args)
        else:
            tpl = _pick(rng, templates.NO_ARGS)
        return templates.tidy(tpl.render(ctx)), tpl.id

    def _utterance(
        self, tool: Tool, tpl: TextTemplate, ctx: dict[str, str], extra: dict[str, Any], rng: random.Random
    ) -> str:
        text = tpl.render(ctx)
        if extra:
            tail = _pick(rng, templates.UTTERANCE_TAILS)
            phrases = self._phrases(self._items(tool, extra, rng), templates.NOUN_STYLES, rng)
            text += tail.render({"args": join_phrases(phrases, rng)})
        return templates.tidy(text)

    # --- the behaviours ------------------------------------------------------------------------

    def execution(self, rng: random.Random, tool: Tool | None = None) -> Sample:
        """A request that gives every required parameter; the answer is the exact call.

        Args:
            rng: the chunk's random generator.
            tool: the target (default: drawn uniformly from the dataset's tools).

        Returns:
            The unverified sample.
        """
        tool = tool or _pick(rng, self.tools)
        args = self._arguments(tool, rng)
        t = self.text[tool.name]
        if t.utterances and rng.random() < UTTERANCE_SHARE:
            tpl = _pick(rng, t.utterances)
            props = tool.properties
            currency = _currency(args)
            ctx = {p: surface(args[p], props[p], p, rng, currency=currency) for p in tool.required}
            text = self._utterance(tool, tpl, ctx, {p: v for p, v in args.items() if p not in ctx}, rng)
            template_id = tpl.id
        else:
            text, template_id = self._generic(tool, self._items(tool, args, rng), rng)
        return Sample(
            "execution", self.offer(tool.name, rng), text,
            {"tool_call": {"name": tool.name, "parameters": args}},
            f"execution.{template_id}", tool.domain, tool.name, args,
        )

    def _arguments(self, tool: Tool, rng: random.Random) -> dict[str, Any]:
        sampler = self.samplers[tool.name]
        share = self.optional_share
        if share == 0.5 or not sampler.optional:
            return sampler.sample(rng, "some")
        if share == 0.0:
            return sampler.sample(rng, "none")
        args = sampler.sample(rng, "all")
        if share == 1.0:
            return args
        required = set(sampler.required)
        return {p: v for p, v in args.items() if p in required or rng.random() < share}

    def clarification(self, rng: random.Random, tool: Tool | None = None) -> Sample:
        """A request that omits or blurs at least one required parameter; the answer asks for it.

        Args:
            rng: the chunk's random generator.
            tool: the target (default: drawn from the tools with a required parameter).

        Returns:
            The unverified sample; `args` holds candidate values for the missing parameters too.

        Raises:
            ValueError: `tool` has no required parameter.
        """
        if tool is not None and not tool.required:
            raise ValueError(f"{tool.name} has no required parameter to leave out")
        tool = tool or _pick(rng, self.clarifiable)
        args = self._arguments(tool, rng)
        required = tool.required
        n_missing = 2 if len(required) > 1 and rng.random() < 0.25 else 1
        chosen = set(_draw(required, n_missing, rng.random))
        missing = tuple(p for p in required if p in chosen)
        props = tool.properties
        vague: dict[str, str] = {}
        for p in missing:
            if rng.random() < VAGUE_SHARE:
                phrase = vague_phrase(p, props[p], rng)
                if phrase is not None:
                    vague[p] = phrase
        given = {p: v for p, v in args.items() if p not in chosen}
        t = self.text[tool.name]
        usable = [u for u in t.utterances if all(p in vague for p in missing if p in u.variables)]
        if usable and rng.random() < UTTERANCE_SHARE:
            tpl = _pick(rng, usable)
            currency = _currency(given)
            ctx = {p: vague[p] if p in chosen else surface(args[p], props[p], p, rng, currency=currency)
                   for p in required}
            text = self._utterance(tool, tpl, ctx, {p: v for p, v in given.items() if p not in ctx}, rng)
            template_id = tpl.id
        else:
            items = self._items(tool, given, rng)
            for p, phrase in vague.items():
                items.insert(int(rng.random() * (len(items) + 1)), (t.labels[p], phrase, False))
            text, template_id = self._generic(tool, items, rng)
        return Sample(
            "clarification", self.offer(tool.name, rng), text,
            {"clarification": {"tool": tool.name, "missing": list(missing)}},
            f"clarification.{template_id}", tool.domain, tool.name, args, missing,
        )

    def refusal(self, rng: random.Random) -> Sample:
        """A harmful request, or one that no offered tool can do; the answer declines.

        Args:
            rng: the chunk's random generator.

        Returns:
            The unverified sample; `detail` names the harm category or the capability.
        """
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
        )

    def sample(self, behaviour: str, rng: random.Random) -> Sample:
        """Build one unverified sample of `behaviour`.

        Args:
            behaviour: execution, clarification or refusal.
            rng: the chunk's random generator.

        Returns:
            The sample.
        """
        if behaviour == "execution":
            return self.execution(rng)
        if behaviour == "clarification":
            return self.clarification(rng)
        if behaviour == "refusal":
            return self.refusal(rng)
        raise ValueError(f"unknown behaviour {behaviour!r}")

    def mentions(self, text: str, value: Any, tool: str, param: str) -> bool:
        """Whether `text` carries `value` of `tool`'s parameter `param` (see `generators.surface.mentions`)."""
        return mentions(text, value, self.by_name[tool].properties[param], name=param)


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
