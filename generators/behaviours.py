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

from generators import direct, refusals, templates
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
# Share of out-of-scope refusals that are hard negatives: a request for a tool of the registry, offered only
# its domain neighbours (NVIDIA When2Call's construction); the rest ask for a capability no tool has.
HARD_NEGATIVE_SHARE = 0.5
# Chance that a harmful request is phrased against an offered tool when one fits.
TOOL_PHRASED_SHARE = 0.75
# Name words that say what kind of operation a tool is, not what it works on: two tools sharing only these
# ("search_flights", "search_trains") do different things, so one is a hard negative for the other.
_GENERIC_NAME_WORDS = frozenset(
    "get set list search find create update delete add remove check send book cancel calculate compare make "
    "start stop run request submit schedule share open close move copy upload download track apply".split()
)
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
        detail: refusal: the harm category, the out-of-scope capability, or ``hard_negative``.
        absent: hard negatives: the tool the request needs, which is not offered.
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
    absent: str | None = None


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
        split: ``train`` or ``heldout``: which half of the refusal acts and frames to draw from.
    """

    def __init__(
        self, tools: Sequence[Tool], pools: ValuePools, distractors: tuple[int, int], optional_share: float,
        split: str = "train",
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
        self.refusal_bank = refusals.RefusalBank(split)
        self.direct_bank = direct.DirectBank(split)
        # Hard negatives: each tool's domain neighbours that do something else (no shared content name word).
        self.unrelated_neighbours = {
            t.name: tuple(n for n in self.same_domain[t.name] if not unrelated_overlap(t.name, n)) for t in self.tools
        }
        self.hard_negative_targets = tuple(t for t in self.tools if self.unrelated_neighbours[t.name])
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
            The unverified sample; `detail` names the harm category, the capability, or ``hard_negative``.
        """
        anchor = _pick(rng, self.tools)
        values = {k: _pick(rng, pool) for k, pool in self.refusal_values.items()}
        values["person"] = values["person_name"]
        values["amount"] = f"${rng.randint(2, 250) * 100:,}"
        if rng.random() < HARMFUL_SHARE:
            offered = self.offer(anchor.name, rng)
            category = _pick(rng, refusals.HARM_CATEGORIES).name
            groups = frozenset().union(*(self.text[n].groups for n in offered))
            text, template_id = self.refusal_bank.harmful(category, groups, values, rng, TOOL_PHRASED_SHARE)
            if rng.random() < 0.2:
                text = f"{_pick(rng, templates.CONTEXTS)} {text}"
            truth: dict[str, Any] = {"reason": "harmful"}
            if category == "self_harm":
                truth["category"] = "self_harm"  # the correct answer is a supportive reply pointing to help
            return Sample("refusal", offered, text, {"refusal": truth}, template_id, anchor.domain, detail=category)
        if self.hard_negative_targets and rng.random() < HARD_NEGATIVE_SHARE:
            return self._hard_negative(rng)
        offered = self.offer(anchor.name, rng)
        tool_texts = [self.text[n].text for n in offered]
        caps = [c for c in refusals.CAPABILITIES if not refusals.capability_covered(c, tool_texts)]
        cap = _pick(rng, caps or refusals.CAPABILITIES)
        text, template_id = self.refusal_bank.out_of_scope(cap.name, values, rng)
        return Sample(
            "refusal", offered, text, {"refusal": {"reason": "out_of_scope"}}, template_id, anchor.domain,
            detail=cap.name,
        )

    def _hard_negative(self, rng: random.Random) -> Sample:
        # An ordinary request for a registry tool, offered only neighbours that cannot do it.
        target = _pick(rng, self.hard_negative_targets)
        request = self.execution(rng, target)
        neighbours = self.unrelated_neighbours[target.name]
        k = max(1, min(len(neighbours), self.dmin + int(rng.random() * (self.dmax - self.dmin + 1))))
        offered = tuple(_draw(neighbours, k, rng.random))
        return Sample(
            "refusal", offered, request.text, {"refusal": {"reason": "out_of_scope"}},
            f"refusal.out_of_scope.hard_negative.{request.template_id}", target.domain, detail="hard_negative",
            absent=target.name,
        )

    def direct(self, rng: random.Random) -> Sample:
        """A request that needs no tool (small talk, knowledge, rewriting, arithmetic, writing); answer it.

        Args:
            rng: the chunk's random generator.

        Returns:
            The unverified sample; `detail` names the task kind.
        """
        anchor = _pick(rng, self.tools)
        offered = self.offer(anchor.name, rng)
        tool_texts = [self.text[n].text for n in offered]
        kinds = [k for k in direct.KINDS if not direct.covered(k, tool_texts)]
        kind = _pick(rng, kinds).name  # small talk is never covered, so the list is never empty
        text, template_id = self.direct_bank.request(kind, rng)
        return Sample("direct", offered, text, {"direct": {}}, template_id, anchor.domain, detail=kind)

    def sample(self, behaviour: str, rng: random.Random) -> Sample:
        """Build one unverified sample of `behaviour`.

        Args:
            behaviour: execution, clarification, refusal or direct.
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
        if behaviour == "direct":
            return self.direct(rng)
        raise ValueError(f"unknown behaviour {behaviour!r}")

    def mentions(self, text: str, value: Any, tool: str, param: str) -> bool:
        """Whether `text` carries `value` of `tool`'s parameter `param` (see `generators.surface.mentions`)."""
        return mentions(text, value, self.by_name[tool].properties[param], name=param)


def unrelated_overlap(a: str, b: str) -> bool:
    """Whether two tool names share a content word (not a generic operation word): then they may do the same.

    >>> unrelated_overlap("get_current_weather", "get_weather_forecast")
    True
    >>> unrelated_overlap("search_flights", "search_trains")
    False
    """
    words_a = set(templates.name_words(a).split()) - _GENERIC_NAME_WORDS
    return bool(words_a & (set(templates.name_words(b).split()) - _GENERIC_NAME_WORDS))


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
