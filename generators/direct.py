"""Requests that need no tool (small talk, general knowledge, rewriting, arithmetic, writing): answer them directly.

Made like the refusals (`generators.refusals`): a kind's *task* ("rewrite this so it sounds friendlier:
'{sentence}'") with its fillers, put into a *frame*; tasks, fillers and frames are split in halves by index
parity so train and held-out sets share none. A task kind has keywords: when an offered tool could do it
(a translator for a translation), the request is not built for that tool set, since calling the tool would
be right.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from generators.refusals import split_half

_SLOT = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class TaskKind:
    """One kind of request a model answers without tools.

    Args:
        name: kind id (recorded in the sample's detail and template id).
        tasks: request texts; ``{x}`` slots are filled from `fillers`.
        fillers: values per slot name.
        keywords: an offered tool whose name or description matches could do the task (None: no tool could).
    """

    name: str
    tasks: tuple[str, ...]
    fillers: dict[str, tuple[str, ...]]
    keywords: re.Pattern[str] | None = None


SENTENCES = (
    "we need the report by friday or the client will walk", "sorry i missed your call i was in a meeting all day",
    "the new schedule starts next month and everyone has to follow it", "can you send me the slides again",
    "i think your idea is wrong and we should do mine instead", "the party is cancelled because of the weather",
    "thanks for the help yesterday it really saved me", "the printer on floor two is broken again",
    "please stop leaving dishes in the sink", "our team hit every target this quarter",
    "i cant make it tonight something came up", "the meeting ran long so lunch is pushed back",
    "your order has been delayed by three days", "we are moving offices in the spring",
    "i would like a refund for the broken headphones", "the wifi password changed this morning",
)
TOPICS = (
    "autumn", "the sea", "Monday mornings", "coffee", "a lost sock", "my cat", "the city at night", "rain",
    "a long train ride", "first snow", "an old friend", "the last day of school", "a rainy weekend", "the moon",
    "a tiny garden", "running late",
)

KINDS: tuple[TaskKind, ...] = (
    TaskKind("small_talk", (
        "good morning! how are you today?", "thanks, that's all I needed", "you've been really helpful, cheers",
        "how's your day going?", "hi there", "what can you help me with?", "I'm bored, talk to me for a bit",
        "ok thanks, bye for now", "do you ever get tired of questions?", "that's great, thank you so much",
        "hello! just testing if you're awake", "are you a real person?", "have a nice evening",
        "sorry, I typed that by mistake", "never mind, I figured it out myself", "what's your name?",
    ), {}),
    TaskKind("knowledge", (
        "why is the sky blue?", "what's the capital of {country}?", "who wrote {book}?",
        "how does {thing} work, in simple terms?", "explain {concept} like I'm ten",
        "what's the difference between a virus and a bacterium?", "how many planets are in the solar system?",
        "what language do they speak in {country}?", "when did the first person walk on the moon?",
        "is a tomato a fruit or a vegetable?", "what is {concept}, actually?",
        "why do cats purr?", "how far away is the sun?", "what's the tallest mountain in the world?",
        "who painted the Mona Lisa?", "how do {thing} stay up?",
    ), {
        "country": ("Australia", "Canada", "Portugal", "Kenya", "Japan", "Chile", "Norway", "Vietnam", "Morocco",
                    "Peru", "Austria", "Egypt"),
        "book": ("Pride and Prejudice", "1984", "The Hobbit", "Don Quixote", "Moby-Dick", "Frankenstein",
                 "War and Peace", "Dracula"),
        "thing": ("vaccines", "planes", "bridges", "solar panels", "noise-cancelling headphones", "GPS",
                  "microwaves", "helicopters", "3D printers", "credit scores"),
        "concept": ("inflation", "compound interest", "photosynthesis", "machine learning", "a black hole",
                    "supply and demand", "the greenhouse effect", "democracy", "entropy", "an index fund"),
    }, re.compile(r"\b(encyclop|wikipedia|knowledge base|web search|search the web|trivia)")),
    TaskKind("rewriting", (
        "rewrite this so it sounds friendlier: '{sentence}'", "fix the grammar: {sentence}",
        "make this more formal: \"{sentence}\"", "can you shorten this? '{sentence}'",
        "turn this into a polite message to my boss: {sentence}", "reword this for a text message: '{sentence}'",
        "proofread this please - {sentence}", "say this more kindly: \"{sentence}\"",
        "make this sound less angry: '{sentence}'", "clean up this sentence: {sentence}",
        "how would you phrase this better? '{sentence}'", "punctuate this properly: {sentence}",
    ), {"sentence": SENTENCES}, re.compile(r"\b(rewrit|proofread|grammar|rephras|paraphras)")),
    TaskKind("arithmetic", (
        "what's {a} times {b}?", "what is {pct}% of {n}?", "how much is {n} divided by {b}?",
        "add {a}, {b} and {n} for me", "what's {n} minus {a}?", "is {n} a prime number?",
        "what's the square root of {sq}?", "if I split {n} between {b} people, how much each?",
        "round {n}.{a} to the nearest ten", "what's {a} squared?", "how many minutes are in {b} hours?",
        "what's {pct} percent of {a}?",
    ), {
        "a": tuple(str(x) for x in (7, 12, 15, 23, 38, 47, 56, 64, 81, 99)),
        "b": tuple(str(x) for x in (3, 4, 5, 6, 8, 9, 11, 13)),
        "n": tuple(str(x) for x in (120, 250, 365, 480, 999, 1024, 1500, 2026)),
        "pct": tuple(str(x) for x in (5, 10, 15, 20, 25, 40)),
        "sq": tuple(str(x * x) for x in (9, 12, 15, 20, 25, 31)),
    }, re.compile(r"\b(calculat|calculator|arithmetic|math)")),
    TaskKind("writing", (
        "write a haiku about {topic}", "give me a short poem about {topic}", "tell me a joke about {topic}",
        "suggest three names for a blog about {topic}", "write a two-line birthday message for my {who}",
        "give me a fun fact about {topic}", "write a limerick about {topic}",
        "what should I write in a card for my {who} who's retiring?", "make up a short story about {topic}",
        "give me a catchy title for a talk on {topic}", "write a toast for my {who}'s wedding, two sentences",
        "come up with a riddle about {topic}",
    ), {"topic": TOPICS, "who": ("sister", "boss", "neighbour", "best friend", "grandad", "colleague", "aunt",
                                 "teacher")},
        re.compile(r"\b(poem|joke|story|write text|generate text|copywrit)")),
    TaskKind("translation", (
        "how do you say '{phrase}' in {language}?", "what does '{phrase}' mean in {language}?",
        "translate '{phrase}' into {language}", "how would I say \"{phrase}\" in {language}?",
        "what's {language} for '{phrase}'?", "can you put '{phrase}' into {language}?",
    ), {
        "phrase": ("good morning", "where is the station", "thank you very much", "how much is this",
                   "I'm allergic to nuts", "see you tomorrow", "the bill, please", "I'm lost"),
        "language": ("French", "Spanish", "German", "Italian", "Japanese", "Portuguese", "Dutch", "Turkish"),
    }, re.compile(r"\b(translat|language)")),
)
KIND_BY_NAME = {k.name: k for k in KINDS}

FRAMES: tuple[str, ...] = (
    "{task}", "{Task}", "quick question: {task}", "Hey, {task}", "{Task} Thanks!", "random one - {task}",
    "{Task} (no need to look anything up)", "just curious, {task}", "hi! {task}", "{Task} (for a friend)",
    "ok, {task}", "Before I forget: {task}",
)


def covered(kind: TaskKind, tool_texts: Iterable[str]) -> bool:
    """Whether an offered tool could do the task (then calling it is right, not a direct answer).

    >>> covered(KIND_BY_NAME["translation"], ["translate text translate text into another language"])
    True
    >>> covered(KIND_BY_NAME["small_talk"], ["translate text translate text into another language"])
    False
    """
    return kind.keywords is not None and any(kind.keywords.search(t) for t in tool_texts)


@dataclass
class DirectBank:
    """The split's half of every task, filler and frame.

    Args:
        split: ``train`` or ``heldout``.
    """

    split: str
    tasks: dict[str, tuple[str, ...]] = field(init=False)
    fillers: dict[str, dict[str, tuple[str, ...]]] = field(init=False)
    frames: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.tasks = {k.name: split_half(k.tasks, self.split) for k in KINDS}
        self.fillers = {k.name: {s: split_half(v, self.split) for s, v in k.fillers.items()} for k in KINDS}
        self.frames = split_half(FRAMES, self.split)

    def request(self, kind: str, rng: random.Random) -> tuple[str, str]:
        """A direct request of `kind`.

        Args:
            kind: a `TaskKind` name.
            rng: the chunk's random generator.

        Returns:
            ``(text, template id)``.
        """
        tasks, fillers = self.tasks[kind], self.fillers[kind]
        i = int(rng.random() * len(tasks))
        task = _SLOT.sub(lambda m: fillers[m.group(1)][int(rng.random() * len(fillers[m.group(1)]))], tasks[i])
        j = int(rng.random() * len(self.frames))
        frame = self.frames[j]
        text = frame.replace("{Task}", task[:1].upper() + task[1:]).replace("{task}", task)
        return text, f"direct.{kind}.{i}.{j}"
