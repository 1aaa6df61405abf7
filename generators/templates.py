"""Request text templates (Jinja2) that work for any tool from its name, description and parameters.

Generic templates need no hand-written text per tool, so imported and held-out tools work as they are.
A tool file may add ``x-utterances`` (Jinja2, one ``{{ param }}`` per required parameter); the generator
appends optional parameters to them generically.

Templates that only substitute plain ``{{ name }}`` variables (all of ours, and most utterances) are
rendered by a precompiled fast path that gives the same text as Jinja2 (tested), because a Jinja2
render costs about as much as the rest of a sample.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

import jinja2
import jinja2.meta

_ENV = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined)
_SIMPLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_JINJA_SYNTAX = re.compile(r"\{\{|\{%|\{#|%\}|#\}|\}\}")


@dataclass(frozen=True)
class TextTemplate:
    """A compiled Jinja2 template with an identifier recorded in each sample's ``extra_info``.

    Args:
        id: stable identifier, e.g. ``"execution.question.1"``.
        source: the Jinja2 text.
    """

    id: str
    source: str

    @property
    def variables(self) -> frozenset[str]:
        """The variables the template reads.

        >>> sorted(TextTemplate("t", "{{ a }} {% if b %}{{ c | upper }}{% endif %}").variables)
        ['a', 'b', 'c']
        """
        return _variables(self.source)

    def render(self, context: Mapping[str, str]) -> str:
        """Render the template.

        Args:
            context: variable values (strings).

        Returns:
            The text.

        >>> TextTemplate("t", "Hi {{ who }}!").render({"who": "Ada"})
        'Hi Ada!'
        """
        fmt = _format_string(self.source)
        if fmt is None:
            return _jinja(self.source).render(context)
        return fmt.format_map(context)


@cache
def _format_string(source: str) -> str | None:
    """The template as a `str.format` string (rendered in C), or None when it needs Jinja2."""
    parts = _plain_parts(source)
    if parts is None:
        return None
    literals, names = parts
    escaped = [lit.replace("{", "{{").replace("}", "}}") for lit in literals]
    return escaped[0] + "".join("{" + name + "}" + lit for name, lit in zip(names, escaped[1:], strict=True))


@cache
def _variables(source: str) -> frozenset[str]:
    if _plain_parts(source) is not None:
        return frozenset(_SIMPLE.findall(source))
    return frozenset(jinja2.meta.find_undeclared_variables(_ENV.parse(source)))


@cache
def _jinja(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


@cache
def _plain_parts(source: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Split a template made only of text and ``{{ name }}`` into literals and names; None otherwise."""
    pieces = _SIMPLE.split(source)
    literals = tuple(pieces[0::2])
    if any(_JINJA_SYNTAX.search(lit) for lit in literals):
        return None
    if literals[-1].endswith("\n"):  # Jinja2 drops one trailing newline by default
        literals = (*literals[:-1], literals[-1][:-1])
    return literals, tuple(pieces[1::2])


def _family(prefix: str, texts: Mapping[str, Sequence[str]]) -> tuple[TextTemplate, ...]:
    return tuple(
        TextTemplate(f"{prefix}.{style}.{i}", text) for style, group in texts.items() for i, text in enumerate(group)
    )


# Variables: action ("get a daily weather forecast for a location"), Action (capitalised), words
# ("get weather forecast"), Words, name (the tool name), args (the joined parameter phrases), Args,
# context (an opening sentence).
WITH_ARGS = _family(
    "args",
    {
        "imperative": (
            "{{ Action }} with {{ args }}.",
            "{{ Action }}: {{ args }}.",
            "{{ Words }} for {{ args }}.",
            "I want you to {{ action }}. {{ Args }}.",
        ),
        "question": (
            "Can you {{ action }}? {{ Args }}.",
            "Could you {{ action }} with {{ args }}?",
            "Would you {{ words }} for me, with {{ args }}?",
            "Is it possible to {{ action }}? Use {{ args }}.",
        ),
        "polite": (
            "Please {{ action }}, with {{ args }}. Thanks!",
            "Hi, could you please {{ action }}? Details: {{ args }}.",
            "I'd appreciate it if you could {{ action }} using {{ args }}.",
            "When you get a chance, please {{ words }} with {{ args }}. Thank you.",
        ),
        "terse": (
            "{{ words }}: {{ args }}",
            "{{ name }} {{ args }}",
            "{{ Words }}, {{ args }}",
        ),
        "context": (
            "{{ context }} I need to {{ action }}. {{ Args }}.",
            "{{ context }} Can you {{ action }}? Use {{ args }}.",
            "{{ context }} Please {{ words }} with {{ args }}.",
        ),
    },
)

# Each template with the argument styles that read well in it (see NOUN_STYLES below).
WITH_ARGS_STYLED: tuple[tuple[TextTemplate, tuple[tuple[str, str], ...]], ...] = ()  # filled below

NO_ARGS = _family(
    "bare",
    {
        "imperative": ("{{ Action }}.", "{{ Words }} now."),
        "question": ("Can you {{ action }}?", "Could you {{ words }} for me?"),
        "polite": ("Please {{ action }}.", "Hi, I'd like you to {{ action }}, please."),
        "terse": ("{{ words }}", "{{ name }}"),
        "context": ("{{ context }} I need to {{ action }}.", "{{ context }} Could you {{ action }}?"),
    },
)

# Appended to an `x-utterances` line when optional parameters are included.
UTTERANCE_TAILS = _family("tail", {"plain": (" Also, {{ args }}.", " Use {{ args }}.", " And {{ args }}, please.")})

CONTEXTS = (
    "Quick request.",
    "I'm sorting out a few things before the weekend.",
    "Following up on our chat earlier.",
    "Working from home today.",
    "Got a minute?",
    "This is for a project I'm running.",
    "Helping a colleague out here.",
    "Busy morning over here.",
    "Hey there.",
    "One more thing for today.",
)

# How one parameter is written. One style is used for every argument of a request; after a preposition
# ("with {{ args }}") only noun phrases read well, as a sentence of its own ("{{ Args }}.") any does.
# Each style is (before the label, between label and value); e.g. ("the ", " is ") reads "the city is Paris".
NOUN_STYLES: tuple[tuple[str, str], ...] = (("", " "), ("", ": "), ("", " set to "))
SENTENCE_STYLES: tuple[tuple[str, str], ...] = (*NOUN_STYLES, ("the ", " is "))
_DOUBLE_STOP = re.compile(r"(?<![.])\.([.?!])(?![.])")


def tidy(text: str) -> str:
    """Drop the template's full stop after a value that already ends a sentence ("release.." -> "release.").

    Args:
        text: a rendered request.

    Returns:
        The text with doubled sentence punctuation collapsed (an ellipsis is kept).

    >>> tidy("Remind me: call mom.. Also, buy milk.? Wait...")
    'Remind me: call mom. Also, buy milk? Wait...'
    """
    if ".." in text or ".?" in text or ".!" in text:
        return _DOUBLE_STOP.sub(r"\1", text)
    return text

WITH_ARGS_STYLED = tuple((t, SENTENCE_STYLES if "Args" in t.variables else NOUN_STYLES) for t in WITH_ARGS)

_THIRD_PERSON = re.compile(r"^([A-Z][a-z]+?)(ies|ches|shes|sses|xes|zes|s)\b")
_OWNER = ((re.compile(r"\bthe user's\b"), "my"), (re.compile(r"\bthe user\b"), "me"))


def action_phrase(description: str) -> str:
    """A request verb phrase from a tool description: first sentence, lower-cased, said by the user.

    Args:
        description: the tool's description.

    Returns:
        The phrase, e.g. ``"get my payslip for a given month"``.

    >>> action_phrase("Returns the user's payslip for a given month. Extra.")
    'return my payslip for a given month'
    >>> action_phrase("Search the catalogue for products.")
    'search the catalogue for products'
    """
    first = re.split(r"(?<=[a-z0-9)])\.\s", description.strip(), maxsplit=1)[0].rstrip(". ")
    match = _THIRD_PERSON.match(first)
    if match and match.group(1).lower() not in {"thi", "bu", "ha", "i", "plu"}:
        stem, ending = match.group(1), match.group(2)
        stem += {"ies": "y", "s": ""}.get(ending, ending[:-2])
        first = stem + first[match.end() :]
    for pattern, repl in _OWNER:
        first = pattern.sub(repl, first)
    return first[:1].lower() + first[1:]


def name_words(name: str) -> str:
    """A tool or parameter name as words: ``get_weatherForecast`` -> ``get weather forecast``.

    Args:
        name: an identifier.

    Returns:
        Lower-case words separated by spaces.

    >>> name_words("get_weatherForecast")
    'get weather forecast'
    """
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[_\-\s]+", spaced)).strip().lower()


def join_phrases(phrases: Sequence[str], rng: random.Random) -> str:
    """Join phrases the way people list things: ``a, b and c`` (or ``a; b; c``).

    Args:
        phrases: the phrases (at least one).
        rng: random generator choosing the separator.

    Returns:
        The joined text.

    >>> join_phrases(["a", "b", "c"], random.Random(1))
    'a, b and c'
    """
    if len(phrases) == 1:
        return phrases[0]
    if rng.random() < 0.8:
        return ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return "; ".join(phrases)


def capitalise(text: str) -> str:
    """Upper-case the first character only (``str.capitalize`` would lower-case the rest).

    Args:
        text: any text.

    Returns:
        The text with its first character upper-cased.

    >>> capitalise("iPhone cases")
    'IPhone cases'
    """
    return text[:1].upper() + text[1:]


def utterance_templates(tool_name: str, utterances: Sequence[str]) -> tuple[TextTemplate, ...]:
    """Compile a tool's ``x-utterances``.

    Args:
        tool_name: the tool (for template ids).
        utterances: the Jinja2 texts from the tool file.

    Returns:
        One template per utterance, id ``utterance.<tool>.<i>``.
    """
    return tuple(TextTemplate(f"utterance.{tool_name}.{i}", text) for i, text in enumerate(utterances))
