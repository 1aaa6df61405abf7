"""Request text templates that work for any tool from its name, description and parameters.

Generic templates need no hand-written text per tool, so imported and held-out tools work as they are.
A tool file may add ``x-utterances`` (one ``{{ param }}`` per required parameter); the generator
appends optional parameters to them generically.

Every template, built-in or from a tool file, is pure data: text and plain ``{{ name }}`` placeholders,
nothing else (no expressions, filters, attribute access, tags or literal braces). Tool files come from
API callers, so a template engine here would run their code on the server; `template_problem` is what
the registry refuses a tool file with, and `TextTemplate.render` refuses the same texts.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

_SIMPLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class TemplateError(ValueError):
    """A template text that is not plain text with ``{{ name }}`` placeholders."""


@dataclass(frozen=True)
class TextTemplate:
    """A template (text with ``{{ name }}`` placeholders) with an identifier recorded in each sample's ``extra_info``.

    Args:
        id: stable identifier, e.g. ``"execution.question.1"``.
        source: the text.
    """

    id: str
    source: str

    @property
    def variables(self) -> frozenset[str]:
        """The variables the template reads.

        >>> sorted(TextTemplate("t", "{{ a }} and {{b}}, {{ a }}").variables)
        ['a', 'b']
        """
        return frozenset(_plain(self.source)[1])

    def render(self, context: Mapping[str, str]) -> str:
        """Render the template.

        Args:
            context: variable values (strings).

        Returns:
            The text.

        Raises:
            TemplateError: the text is not plain (see `template_problem`).
            KeyError: a placeholder has no value in `context`.

        >>> TextTemplate("t", "Hi {{ who }}!").render({"who": "Ada"})
        'Hi Ada!'
        """
        return _format_string(self.source).format_map(context)


def template_problem(source: str) -> str | None:
    """Why a text is not a plain template, or None when it is.

    >>> template_problem("Hi {{ who }}!") is None
    True
    >>> template_problem("{{ who.__class__ }}")
    "only plain placeholders such as '{{ name }}' are allowed, found '{{ who.__class__ }}'"
    """
    try:
        _plain(source)
    except TemplateError as exc:
        return str(exc)
    return None


@cache
def _format_string(source: str) -> str:
    """The template as a `str.format` string (rendered in C; values are never formatted again)."""
    literals, names = _plain(source)
    return literals[0] + "".join("{" + name + "}" + lit for name, lit in zip(names, literals[1:], strict=True))


@cache
def _plain(source: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split a template made only of text and ``{{ name }}`` into literals and names.

    Raises:
        TemplateError: any other brace is present (Jinja2 syntax, format fields, literal braces).
    """
    pieces = _SIMPLE.split(source)
    literals = tuple(pieces[0::2])
    for lit in literals:
        at = min((i for i in (lit.find("{"), lit.find("}")) if i >= 0), default=-1)
        if at >= 0:
            found = lit[at : at + 60].strip()
            raise TemplateError(f"only plain placeholders such as '{{{{ name }}}}' are allowed, found {found!r}")
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


@functools.lru_cache(maxsize=4096)
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
        utterances: the texts from the tool file (plain ``{{ param }}`` placeholders).

    Returns:
        One template per utterance, id ``utterance.<tool>.<i>``.
    """
    return tuple(TextTemplate(f"utterance.{tool_name}.{i}", text) for i, text in enumerate(utterances))
