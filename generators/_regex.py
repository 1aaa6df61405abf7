"""A tiny bounded sampler of strings that match a regular expression (JSON Schema `pattern`).

Walks Python's own parse of the pattern (`re._parser`), so it accepts exactly Python's syntax.
Unbounded repeats are capped a few past their minimum; lookarounds and conditionals are refused.
`nested_unbounded` flags patterns with nested quantifiers, which can backtrack exponentially and
are therefore never run against arbitrary strings.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from re import _constants as sre_c  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any


def _randint(rng: random.Random, lo: int, hi: int) -> int:
    return lo + int(rng.random() * (hi - lo + 1))


_PRINTABLE = [chr(c) for c in range(32, 127)]
_DIGITS = [chr(c) for c in range(48, 58)]
_WORD = [c for c in _PRINTABLE if c.isalnum() or c == "_"]
_CATEGORIES = {
    sre_c.CATEGORY_DIGIT: set(_DIGITS),
    sre_c.CATEGORY_NOT_DIGIT: set(_PRINTABLE) - set(_DIGITS),
    sre_c.CATEGORY_SPACE: {" "},
    sre_c.CATEGORY_NOT_SPACE: set(_PRINTABLE) - {" "},
    sre_c.CATEGORY_WORD: set(_WORD),
    sre_c.CATEGORY_NOT_WORD: set(_PRINTABLE) - set(_WORD),
}
_UNBOUNDED_EXTRA = 4  # `*` / `+` / `{n,}` repeat at most this many times beyond their minimum


class _Unsupported(Exception):
    pass


RegexGen = Callable[[random.Random, dict[int, str]], str]


def _charset(items: list[tuple[Any, Any]]) -> list[str]:
    chars: set[str] = set()
    negate = False
    for op, av in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            chars.add(chr(av))
        elif op is sre_c.RANGE:
            chars.update(chr(c) for c in range(av[0], min(av[1], 0x24F) + 1))
        elif op is sre_c.CATEGORY:
            chars |= _CATEGORIES.get(av, set())
        else:
            raise _Unsupported(str(op))
    if negate:
        chars = set(_PRINTABLE) - chars
    if not chars:
        raise _Unsupported("empty character set")
    return sorted(chars)


def _regex_seq(items: Any) -> RegexGen:
    parts = [g for g in (_regex_node(op, av) for op, av in items) if g is not None]
    if len(parts) == 1:
        return parts[0]
    return lambda rng, groups: "".join(p(rng, groups) for p in parts)


def _regex_node(op: Any, av: Any) -> RegexGen | None:
    if op is sre_c.LITERAL:
        ch = chr(av)
        return lambda rng, groups: ch
    if op in (sre_c.NOT_LITERAL, sre_c.ANY, sre_c.IN):
        if op is sre_c.IN:
            chars = _charset(av)
        else:
            chars = [c for c in _PRINTABLE if op is sre_c.ANY or c != chr(av)]
        n_chars = len(chars)
        return lambda rng, groups: chars[int(rng.random() * n_chars)]
    if op is sre_c.AT:
        return None  # anchors and boundaries generate nothing; the validator has the last word
    if op is sre_c.BRANCH:
        alts = [_regex_seq(a) for a in av[1]]
        return lambda rng, groups: rng.choice(alts)(rng, groups)
    if op is sre_c.SUBPATTERN:
        group, inner = av[0], _regex_seq(av[3])
        if group is None:
            return inner

        def capture(rng: random.Random, groups: dict[int, str]) -> str:
            groups[group] = text = inner(rng, groups)
            return text

        return capture
    if op is sre_c.ATOMIC_GROUP:
        return _regex_seq(av)
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
        lo, hi = av[0], av[1]
        hi = lo + _UNBOUNDED_EXTRA if hi is sre_c.MAXREPEAT else min(hi, lo + 64)
        body_items = list(av[2])
        if len(body_items) == 1 and body_items[0][0] in (sre_c.IN, sre_c.ANY, sre_c.LITERAL, sre_c.NOT_LITERAL):
            # [A-Z]{10,30}: one `choices` call instead of a closure per character
            op1, av1 = body_items[0]
            if op1 is sre_c.IN:
                chars = _charset(av1)
            elif op1 is sre_c.LITERAL:
                chars = [chr(av1)]
            else:
                chars = [c for c in _PRINTABLE if op1 is sre_c.ANY or c != chr(av1)]
            return lambda rng, groups: "".join(rng.choices(chars, k=_randint(rng, lo, hi)))
        body = _regex_seq(body_items)
        return lambda rng, groups: "".join(body(rng, groups) for _ in range(_randint(rng, lo, hi)))
    if op is sre_c.GROUPREF:
        return lambda rng, groups: groups.get(av, "")
    raise _Unsupported(f"regex construct {op} is not generated (lookarounds and conditionals are not)")


def regex_generator(pattern: str) -> Callable[[random.Random], str]:
    """Compile `pattern` into a function that generates strings it matches (bounded repeats).

    Args:
        pattern: A Python-compatible regular expression (JSON Schema `pattern`).

    Returns:
        `gen(rng) -> str`; the string matches in the usual cases and is always checked by the caller.

    Raises:
        ValueError: the pattern uses a construct the sampler cannot generate (lookaround, conditional).

    >>> import re
    >>> gen = regex_generator(r"^[A-Z]{3}-\\d{2}$")
    >>> bool(re.fullmatch(r"[A-Z]{3}-\\d{2}", gen(random.Random(1))))
    True
    """
    try:
        tree = list(sre_parse.parse(pattern))
        seq = _regex_seq(tree)
    except _Unsupported as exc:
        raise ValueError(f"pattern {pattern!r}: {exc}") from exc
    # JSON Schema patterns search, so an unanchored side may carry other text: vary it, or every
    # value of `abc` would be "abc" and a unique array of them impossible.
    starts = bool(tree) and tree[0][0] is sre_c.AT and tree[0][1] in (sre_c.AT_BEGINNING, sre_c.AT_BEGINNING_STRING)
    ends = bool(tree) and tree[-1][0] is sre_c.AT and tree[-1][1] in (sre_c.AT_END, sre_c.AT_END_STRING)
    if starts and ends:
        return lambda rng: seq(rng, {})
    letters = "abcdefghijklmnopqrstuvwxyz"

    def padded(rng: random.Random) -> str:
        head = "" if starts or rng.random() < 0.5 else "".join(rng.choices(letters, k=rng.randint(1, 4))) + "-"
        tail = "" if ends or rng.random() < 0.5 else "-" + "".join(rng.choices(letters, k=rng.randint(1, 4)))
        return head + seq(rng, {}) + tail

    return padded


def nested_unbounded(items: Any, inside_repeat: bool = False) -> bool:
    # Star height > 1, e.g. (a+)+ : such patterns can backtrack exponentially on non-matching input,
    # so they are never run against arbitrary pool strings.
    for op, av in items:
        if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, sre_c.POSSESSIVE_REPEAT):
            unbounded = av[1] is sre_c.MAXREPEAT or av[1] > 32
            if unbounded and inside_repeat:
                return True
            if nested_unbounded(av[2], inside_repeat or av[1] is sre_c.MAXREPEAT or av[1] > 1):
                return True
        elif op is sre_c.SUBPATTERN and nested_unbounded(av[3], inside_repeat):
            return True
        elif op is sre_c.BRANCH and any(nested_unbounded(a, inside_repeat) for a in av[1]):
            return True
    return False
