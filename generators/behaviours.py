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

from generators import dates, direct, refusals, templates
from generators.phrasing import Slot, ToolPhrasing, has_words, names_mentioned, said_once, value_key
from generators.realism import LeakCheck
from generators.registry import Tool
from generators.surface import mentions, normalize_text, surface
from generators.templates import capitalise
from generators.values import ToolSampler, ValuePools

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
# Parallel requests: the share that calls the same tool twice, and how the two requests are joined.
SAME_TOOL_SHARE = 0.5
PARALLEL_JOINERS = (" Also, ", " And ", " Then ", " Oh and ", " Plus, ", " After that, ", "\n\n", " Second, ",
                    " While you're at it, ", " and also ", " One more thing - ", " Separately, ", " Oh, and also ",
                    " On top of that, ", " and then ", " Another thing - ", " Also - ", "\n")
# Dialogues: the assistant's question about the missing values, and the user's answer around its slot phrases.
QUESTION_FRAMES = ("Sure - what {what} should I use?", "Happy to help. Could you tell me the {what}?",
                   "I can do that. Which {what} do you mean?", "Before I go ahead, what's the {what}?",
                   "Got it. I just need the {what}.", "Could you give me the {what}, please?")
ANSWER_FRAMES = ("{answer}", "{answer}, please", "oh sorry - {answer}", "right, {answer}", "{answer} thanks",
                 "ah yes, {answer}", "Sorry! {Answer}.", "{Answer}.", "yes - {answer}", "{answer} :)",
                 "good point - {answer}", "Oops, forgot that. {Answer}.", "make it {answer}", "{answer}, ta",
                 "my bad, {answer}", "Of course, {answer}.", "hmm, {answer} I think", "{Answer}, thanks!")
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
        detail: refusal: the harm category, the out-of-scope capability, or ``hard_negative``; direct: the task
            kind.
        now: the sample's "current" date-time, stated in the system message (relative dates resolve to it).
        absent: hard negatives: the tool the request needs, which is not offered.
        turns: earlier messages of a dialogue, ``(role, content)`` before the final user message `text`
            (answered clarifications: the request, the assistant's question).
        parts: the samples a parallel request or a dialogue was built from (verification checks each).
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
    absent: str | None = None
    turns: tuple[tuple[str, str], ...] = ()
    parts: tuple[Sample, ...] = ()


class ToolText:
    """What templates need to talk about one tool, computed once."""

    __slots__ = ("words", "text", "groups", "capabilities", "direct_kinds")

    def __init__(self, tool: Tool):
        self.words = templates.name_words(tool.name)
        # Lower-cased name words + description: what out-of-scope and harm checks match against.
        self.text = f"{self.words} {tool.description}".lower()
        self.groups = refusals.tool_groups([self.text])
        # The out-of-scope capabilities and direct task kinds this tool could do: a set of offered tools covers
        # the union of its members' (one keyword search per capability and tool here, none per sample).
        self.capabilities = frozenset(c.name for c in refusals.CAPABILITIES
                                      if refusals.capability_covered(c, [self.text]))
        self.direct_kinds = frozenset(k.name for k in direct.KINDS if direct.covered(k, [self.text]))


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

    @staticmethod
    def _say(rng: random.Random, args: dict[str, Any], now: dt.datetime | None) -> Any:
        # How values are written in this request: the call's currency, and "now" for relative dates.
        currency = _currency(args)
        if now is not None and _SURFACE_NOW:
            return lambda v, schema, name: surface(v, schema, name, rng, currency=currency, now=now)  # type: ignore[call-arg]
        return lambda v, schema, name: surface(v, schema, name, rng, currency=currency)

    def _now(self, rng: random.Random, now: dt.datetime | None) -> dt.datetime:
        return now if now is not None else dates.sample_now(rng)

    def covered_capabilities(self, offered: Sequence[str]) -> frozenset[str]:
        """Names of the out-of-scope capabilities some offered tool could do (`refusals.capability_covered`)."""
        text = self.text
        return frozenset().union(*[text[n].capabilities for n in offered])

    def covered_direct_kinds(self, offered: Sequence[str]) -> frozenset[str]:
        """Names of the direct task kinds some offered tool could do (`direct.covered`)."""
        text = self.text
        return frozenset().union(*[text[n].direct_kinds for n in offered])

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
        frame = phrasing.pick_execution_frame(frozenset(args), rng) if phrasing.frames else None
        text, frame_id = phrasing.render(frame, args, rng, self._say(rng, args, now))
        return Sample(
            "execution", self.offer(tool.name, rng), text,
            {"tool_call": {"name": tool.name, "parameters": args}},
            f"execution.{frame_id}", tool.domain, tool.name, args, now=now,
        )

    def _arguments(
        self, tool: Tool, rng: random.Random, now: dt.datetime | None = None, keep: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        # `keep`: optional parameters to include whatever the share (a drawn frame names them).
        sampler = self.samplers[tool.name]
        share = self.optional_share
        draw: Callable[[random.Random, Any], dict[str, Any]] = sampler.sample
        if now is not None and _SAMPLE_NOW:
            def draw(r: random.Random, mode: Any) -> dict[str, Any]:  # type: ignore[misc]
                return sampler.sample(r, mode, now=now)  # type: ignore[call-arg]
        if keep is not None and sampler.optional:
            args = draw(rng, "all")
            required = set(sampler.required) | keep
            return {p: v for p, v in args.items() if p in required or rng.random() < share}
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
        required = tool.required
        phrasing = self.phrasing[tool.name]
        frame = None
        if phrasing.clarify_frames and 0.0 < self.optional_share < 1.0:
            # The frame first, from all of the tool's: filtering frames on optional parameters drawn beforehand
            # left one or two frames for most draws (the same request over and over). The optional parameters
            # the frame names are given; the others at the spec's share, as add-ons.
            frame = _pick(rng, phrasing.clarify_frames)
            args = self._arguments(tool, rng, now, keep=frame.params)
            frames: tuple[Any, ...] = (frame,)
        else:
            args = self._arguments(tool, rng, now)
            frames = phrasing.clarification_frames(frozenset(args)) if phrasing.frames else ()
            if frames:
                frame = _pick(rng, frames)
        if frame is not None:
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
            The unverified sample; `detail` names the harm category, the capability, or ``hard_negative``.
        """
        now = self._now(rng, now)
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
            return Sample("refusal", offered, text, {"refusal": truth}, template_id, anchor.domain, detail=category,
                          now=now)
        if self.hard_negative_targets and rng.random() < HARD_NEGATIVE_SHARE:
            return self._hard_negative(rng, now)
        offered = self.offer(anchor.name, rng)
        covered = self.covered_capabilities(offered)
        caps = [c for c in refusals.CAPABILITIES if c.name not in covered]
        cap = _pick(rng, caps or refusals.CAPABILITIES)
        text, template_id = self.refusal_bank.out_of_scope(cap.name, values, rng)
        return Sample(
            "refusal", offered, text, {"refusal": {"reason": "out_of_scope"}}, template_id, anchor.domain,
            detail=cap.name, now=now,
        )

    def _hard_negative(self, rng: random.Random, now: dt.datetime) -> Sample:
        # An ordinary request for a registry tool, offered only neighbours that cannot do it.
        target = _pick(rng, self.hard_negative_targets)
        request = self.execution(rng, target, now=now)
        neighbours = self.unrelated_neighbours[target.name]
        k = max(1, min(len(neighbours), self.dmin + int(rng.random() * (self.dmax - self.dmin + 1))))
        offered = tuple(_draw(neighbours, k, rng.random))
        return Sample(
            "refusal", offered, request.text, {"refusal": {"reason": "out_of_scope"}},
            f"refusal.out_of_scope.hard_negative.{request.template_id}", target.domain, detail="hard_negative",
            now=now, absent=target.name,
        )

    def direct(self, rng: random.Random, now: dt.datetime | None = None) -> Sample:
        """A request that needs no tool (small talk, knowledge, rewriting, arithmetic, writing); answer it.

        Args:
            rng: the chunk's random generator.
            now: the sample's current date-time (default: drawn).

        Returns:
            The unverified sample; `detail` names the task kind.
        """
        now = self._now(rng, now)
        anchor = _pick(rng, self.tools)
        offered = self.offer(anchor.name, rng)
        covered = self.covered_direct_kinds(offered)
        kinds = [k for k in direct.KINDS if k.name not in covered]
        kind = _pick(rng, kinds).name  # small talk is never covered, so the list is never empty
        text, template_id = self.direct_bank.request(kind, rng)
        return Sample("direct", offered, text, {"direct": {}}, template_id, anchor.domain, detail=kind, now=now)

    def parallel(self, rng: random.Random, now: dt.datetime | None = None) -> Sample:
        """One request asking for two independent calls: the same tool twice, or two different tools.

        Args:
            rng: the chunk's random generator.
            now: the sample's current date-time (default: drawn).

        Returns:
            The unverified sample; the ground truth lists both calls (order-free) in ``calls``.
        """
        now = self._now(rng, now)
        first = _pick(rng, self.tools)
        if first.properties and rng.random() < SAME_TOOL_SHARE:
            second = first
        else:
            others = self.same_domain[first.name] if rng.random() < 0.5 else ()
            second = self.by_name[_pick(rng, others)] if others else _pick(rng, self.tools)
        a, b = self.execution(rng, first, now), self.execution(rng, second, now)
        joiner = _pick(rng, PARALLEL_JOINERS)
        head = a.text.rstrip()
        if joiner[1:2].isupper() and head[-1:].isalnum():
            head += "."  # a capitalised joiner ("While you're at it") starts a new sentence
        elif joiner[1:2].islower() and head[-1:] in ".?!":
            joiner = " " + joiner[1].upper() + joiner[2:]  # after a full stop: "... in US. And then ..."
        text = head + joiner + (b.text[:1].lower() + b.text[1:] if joiner[-1] == " " else b.text)
        offered = list(a.offered)
        if second.name not in offered:
            # the second tool takes a distractor's place (or joins when the first request offered none)
            spots = [i for i, n in enumerate(offered) if n != first.name]
            if spots:
                offered[spots[int(rng.random() * len(spots))]] = second.name
            else:
                offered.insert(int(rng.random() * 2), second.name)
        calls = [{"name": first.name, "parameters": a.args}, {"name": second.name, "parameters": b.args}]
        kind = "same" if first is second else "different"
        return Sample(
            "execution", tuple(offered), text,
            {"tool_call": {"name": first.name, "parameters": a.args, "calls": calls}},
            f"execution.parallel.{kind}.{a.template_id}+{b.template_id}", first.domain, first.name, a.args,
            detail="parallel", now=now, parts=(a, b),
        )

    def multi_turn(self, rng: random.Random, now: dt.datetime | None = None) -> Sample:
        """A dialogue: the request lacks a required value, the assistant asks, the user answers; then the call.

        Args:
            rng: the chunk's random generator.
            now: the sample's current date-time (default: drawn).

        Returns:
            The unverified sample: `turns` holds the request and the question, `text` the answer.
        """
        now = self._now(rng, now)
        if not self.clarifiable:  # no tool can miss a value: an ordinary execution keeps the counts exact
            return self.execution(rng, now=now)
        ask = self.clarification(rng, now=now)
        tool = self.by_name[ask.tool or ""]
        slots = self.phrasing[tool.name].slots
        say = self._say(rng, ask.args, now)
        phrases = [t for t in said_once([slots[p].render(ask.args[p], rng, say) for p in ask.missing], ask.missing,
                                        ask.args) if t]
        body = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
        answer = _pick(rng, ANSWER_FRAMES).replace("{answer}", body).replace("{Answer}", capitalise(body))
        question = clarifying_question(ask.missing, rng)
        return Sample(
            "execution", ask.offered, answer, {"tool_call": {"name": tool.name, "parameters": ask.args}},
            f"execution.multi_turn.{ask.template_id}", tool.domain, tool.name, ask.args, ask.missing,
            detail="multi_turn", now=now, turns=(("user", ask.text), ("assistant", question)), parts=(ask,),
        )

    def sample(self, behaviour: str, rng: random.Random) -> Sample:
        """Build one unverified sample of `behaviour`.

        Args:
            behaviour: execution, clarification, refusal or direct.
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
        if behaviour == "direct":
            return self.direct(rng, now=now)
        if behaviour == "execution/parallel":
            return self.parallel(rng, now=now)
        if behaviour == "execution/multi_turn":
            return self.multi_turn(rng, now=now)
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
    if slot.fields is None and slot.composed_fields and type(value) is dict:
        composed = slot.composed_fields
        return all(slot_mentioned(text, norm, v, composed[k], now) if k in composed else mentions(text, v, norm=norm)
                   for k, v in value.items())
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


def clarifying_question(missing: Sequence[str], rng: random.Random) -> str:
    """The assistant's question for missing parameters, as the dialogue's earlier turn.

    >>> clarifying_question(["party_size", "time"], random.Random(0)) in [
    ...     f.replace("{what}", "party size and time") for f in QUESTION_FRAMES]
    True
    """
    things = [templates.name_words(p) for p in missing]
    what = things[0] if len(things) == 1 else ", ".join(things[:-1]) + " and " + things[-1]
    return _pick(rng, QUESTION_FRAMES).replace("{what}", what)


def unrelated_overlap(a: str, b: str) -> bool:
    """Whether two tool names share a content word (not a generic operation word): then they may do the same.

    >>> unrelated_overlap("get_current_weather", "get_weather_forecast")
    True
    >>> unrelated_overlap("search_flights", "search_trains")
    False
    """
    words_a = set(templates.name_words(a).split()) - _GENERIC_NAME_WORDS
    return bool(words_a & (set(templates.name_words(b).split()) - _GENERIC_NAME_WORDS))


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
