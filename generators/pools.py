"""Value pools: every value a kind can take, drawn once per seed (and per split) before generation.

Faker is slow (16-50 µs a call) against a 40 µs budget for a whole sample, so Faker runs here, once,
and the hot path in `generators.values` only indexes into tuples. Free text is composed from the
templates in `_vocab.FREE_TEXT` (every combination of their slots: hundreds to thousands of values per
purpose); person names are composed from Faker's per-locale first- and last-name lists, and emails and
usernames derived from them.

Train and held-out datasets must not share free text, names or emails: with `split` given, those
pools keep only the entries whose CRC-32 parity matches the split (train even, heldout odd). The
parity depends on the entry alone, so the halves are disjoint whatever the seed.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import importlib
import random
import re
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from faker import Faker

from generators import _vocab as vocab

Split = Literal["train", "heldout"]
# Dates without a current date are drawn around a fixed anchor, not today, so the same seed gives the
# same dataset any day.
ANCHOR = dt.date(2026, 1, 1)
DATE_SPAN = (-365, 730)
SPLIT_KINDS = ("person_name", "first_name", "last_name", "username", "email")  # besides free text
_MILITARY = re.compile(r"\b(?:DPO|FPO|APO|USNS|USNV|USS|PSC|Unit)\b")
_SLOT = re.compile(r"\{(\w+)\}")
_WORD = re.compile(r"[a-z]+")
_LONE_DIGIT = re.compile(r"(?<!\w)\d")
# Locales whose name lists give the people in requests, with how many of every 20 names they give.
_NAME_LOCALES = (("en_US", 7), ("en_GB", 2), ("es_MX", 2), ("fr_FR", 2), ("de_DE", 2), ("it_IT", 1),
                 ("en_IN", 2), ("pt_BR", 1), ("nl_NL", 1))
FREE_TEXT_CAP = 3000  # values kept per purpose (both halves)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com", "corp.example.com")


def split_half(value: str) -> int:
    """0 for the train half, 1 for the held-out half (CRC-32 parity of the lower-cased value)."""
    return zlib.crc32(value.lower().encode()) & 1


def _keep(split: Split | None) -> Callable[[str], bool]:
    if split is None:
        return lambda v: True
    want = 0 if split == "train" else 1
    return lambda v: split_half(v) == want


@dataclass(frozen=True)
class ValuePools:
    """Values by kind, drawn once per seed; the hot path picks from them with the caller's rng.

    `email_of` maps a person name to that person's email (same split), so a name and an email given
    for one person agree.
    """

    seed: int
    pools: dict[str, tuple[str, ...]]
    split: Split | None = None
    email_of: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def build(seed: int, size: int = 256, split: Split | None = None) -> ValuePools:
        """Draw every pool for `seed` (cached: pools are immutable and cost ~0.3 s to draw).

        Args:
            seed: Seeds the Faker instance (`seed_instance`) and the shuffles; same seed, same pools.
            size: Values drawn per Faker-backed kind.
            split: "train" or "heldout" keeps only that half of free text, names and emails (disjoint
                between the two); None keeps both halves.

        Returns:
            The pools, keyed by kind.
        """
        if split not in (None, "train", "heldout"):
            raise ValueError(f"split must be 'train', 'heldout' or None, not {split!r}")
        return _build_pools(seed, size, split)

    def get(self, kind: str) -> tuple[str, ...]:
        """Return the pool for `kind` (the generic word pool when there is none)."""
        return self.pools.get(kind) or self.pools["word"]


def _unique(values: list[str], vague: str) -> tuple[str, ...]:
    # Keep order (determinism) and drop values that a vague phrase contains as whole words ("usual"),
    # so a clarification's stand-in can never mention the value it stands in for.
    seen: dict[str, None] = {}
    for v in values:
        v = " ".join(v.split())
        if v and (len(v) > 48 or f" {v.lower()} " not in vague):  # no vague phrase is that long
            seen.setdefault(v, None)
    return tuple(seen)


# --- free text -------------------------------------------------------------------------------------------


def _expand(template: str, memo: dict[str, list[str]]) -> list[str]:
    m = _SLOT.search(template)
    if m is None:
        return [template]
    key = m.group(1)
    slot = key[0].lower() + key[1:]
    if slot not in memo:
        # A composed value is clean iff its parts are: filter each slot's values once, not every combination.
        memo[slot] = [e for v in vocab._SLOTS[slot] if _clean_text(_SLOT.sub(" ", v)) for e in _expand(v, memo)]
    head, tail = template[: m.start()], template[m.end():]
    out: list[str] = []
    for v in memo[slot]:
        if key[0].isupper():
            v = v[:1].upper() + v[1:]
        out.extend(_expand(head + v + tail, memo))
    return out


def _clean_text(text: str) -> bool:
    # No date or number word and no stand-alone digit: free text must not look like another value.
    return not _LONE_DIGIT.search(text) and not any(w in vocab.FREE_TEXT_BANNED for w in _WORD.findall(text.lower()))


@functools.lru_cache(maxsize=1)
def free_text() -> dict[str, tuple[str, ...]]:
    """Every composed free-text value by purpose, both halves (deterministic; no seed involved)."""
    memo: dict[str, list[str]] = {}
    out = {}
    for purpose, templates in vocab.FREE_TEXT.items():
        clean = [t for t in templates if _clean_text(_SLOT.sub(" ", t))]
        values = (" ".join(v.split()).replace(" ,", ",") for t in clean for v in _expand(t, memo))
        unique = list(dict.fromkeys(values))
        # Thousands are plenty: keep an even spread of the largest purposes (every k-th combination).
        step = -(-len(unique) // FREE_TEXT_CAP)
        out[purpose] = tuple(unique[::step])
    polls: dict[str, None] = {}
    for questions, _ in vocab.POLLS:
        for q in questions:
            polls.update(dict.fromkeys(_expand(q, memo)))
    out["poll_question"] = tuple(polls)
    return out


def poll_options(question: str) -> tuple[str, ...]:
    """The answer options that fit a poll question from the `poll_question` pool (empty if unknown)."""
    return _poll_index().get(question, ())


@functools.lru_cache(maxsize=1)
def _poll_index() -> dict[str, tuple[str, ...]]:
    memo: dict[str, list[str]] = {}
    return {q: options for questions, options in vocab.POLLS for t in questions for q in _expand(t, memo)}


# --- people ----------------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _latin(name: str) -> bool:
    # One word in Latin script (accents fine): people type it, and it gives an email address.
    return name.isalpha() and len(re.sub(r"[^a-z]", "", _ascii(name))) == len(name)


@functools.lru_cache(maxsize=1)
def _name_lists() -> tuple[tuple[tuple[str, ...], tuple[str, ...], int], ...]:
    out = []
    for locale, weight in _NAME_LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:  # an older Faker without the locale: the others suffice
            continue
        firsts = tuple(n for n in provider.first_names if _latin(n))
        lasts = tuple(n for n in provider.last_names if _latin(n))
        out.append((firsts, lasts, weight))
    return tuple(out)


def _people(rng: random.Random, n: int, keep: Callable[[str], bool]) -> tuple[list[str], dict[str, str]]:
    lists = [entry for entry in _name_lists() for _ in range(entry[2])]
    names: dict[str, None] = {}
    for _ in range(n * 4):
        firsts, lasts, _w = lists[int(rng.random() * len(lists))]
        name = f"{firsts[int(rng.random() * len(firsts))]} {lasts[int(rng.random() * len(lasts))]}"
        if keep(name):
            names.setdefault(name, None)
        if len(names) >= n:
            break
    email_of = {}
    for name in names:
        first, last = (_ascii(p) for p in name.split(" ", 1))
        first, last = re.sub(r"[^a-z]", "", first), re.sub(r"[^a-z]", "", last)
        if not first or not last:
            continue
        domain = EMAIL_DOMAINS[int(rng.random() * len(EMAIL_DOMAINS))]
        # The first local-part form whose email falls in the same half as the name.
        for local in (f"{first}.{last}", f"{first[:1]}{last}", f"{first}{last[:1]}", f"{first}_{last}",
                      f"{last}.{first}", f"{first}.{last}{int(rng.random() * 90) + 10}"):
            email = f"{local}@{domain}"
            if keep(email):
                email_of[name] = email
                break
    return list(names), email_of


# --- identifiers --------------------------------------------------------------------------------------------


def iban(rng: random.Random) -> str:
    """A well-formed IBAN (valid mod-97 check digits) in one of `_vocab.IBAN_LAYOUTS`."""
    country, layout = vocab.IBAN_LAYOUTS[int(rng.random() * len(vocab.IBAN_LAYOUTS))]
    body = "".join(_char(c, rng) for c in layout)
    digits = "".join(str(int(ch, 36)) for ch in body + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{body}"


_CLASSES = {"#": "0123456789", "A": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "X": "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
            "x": "abcdefghijklmnopqrstuvwxyz234567", "h": "0123456789abcdef",
            "M": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"}


def _char(c: str, rng: random.Random) -> str:
    chars = _CLASSES.get(c)
    return chars[int(rng.random() * len(chars))] if chars else c


def id_format(tokens: tuple[str, ...]) -> tuple[str, ...] | None:
    """The `_vocab.ID_FORMATS` formats for an id named by `tokens` (the first token that has one)."""
    table = dict(vocab.ID_FORMATS)
    for t in tokens:
        if t in table:
            return table[t]
    return None


def id_generator(formats: tuple[str, ...]) -> Callable[[random.Random], str]:
    """A generator of ids in `formats` (chosen uniformly); runs of one character class cost one draw."""
    compiled = [_compile_format(f) for f in formats]
    n = len(compiled)

    if n == 1:
        only = compiled[0]
        return lambda rng: "".join([p(rng) for p in only])

    def gen(rng: random.Random) -> str:
        return "".join([p(rng) for p in compiled[int(rng.random() * n)]])

    return gen


def _literal(text: str) -> Callable[[random.Random], str]:
    return lambda rng: text


def _digits(k: int) -> Callable[[random.Random], str]:
    return lambda rng: f"{int(rng.random() * 10**k):0{k}d}"


def _hex(k: int) -> Callable[[random.Random], str]:
    return lambda rng: f"{rng.getrandbits(4 * k):0{k}x}"


def _chars(chars: str, k: int) -> Callable[[random.Random], str]:
    # One getrandbits and a C-level encode instead of k draws: the base64url alphabet for mixed case
    # (Drive-style ids), base32 for upper- / lower-case alphanumerics.
    if chars == _CLASSES["M"]:
        n = -(-6 * k // 8)
        return lambda rng: base64.urlsafe_b64encode(rng.getrandbits(8 * n).to_bytes(n, "big")).decode()[:k]
    n = -(-5 * k // 8)
    if chars == _CLASSES["X"]:
        return lambda rng: base64.b32encode(rng.getrandbits(8 * n).to_bytes(n, "big")).decode()[:k]
    if chars == _CLASSES["x"]:
        return lambda rng: base64.b32encode(rng.getrandbits(8 * n).to_bytes(n, "big")).decode()[:k].lower()
    return lambda rng: "".join(rng.choices(chars, k=k))


def _compile_format(fmt: str) -> list[Callable[[random.Random], str]]:
    parts: list[Callable[[random.Random], str]] = []
    for m in re.finditer(r"\[[^\]]*\]|\{P\}|\{F\}|\{IBAN\}|#+|h+|([AXxM])\1*|[^#hAXxM{\[]+|[{\[]", fmt):
        run = m.group(0)
        if run[0] == "[" and run.endswith("]"):
            parts.append(_literal(run[1:-1]))
        elif run == "{P}":
            parts.append(_choice(vocab.PROJECT_KEYS))
        elif run == "{F}":
            parts.append(_choice(vocab.AIRLINES))
        elif run == "{IBAN}":
            parts.append(iban)
        elif run[0] == "#":
            parts.append(_digits(len(run)))
        elif run[0] == "h":
            parts.append(_hex(len(run)))
        elif run[0] in _CLASSES:
            parts.append(_chars(_CLASSES[run[0]], len(run)))
        else:
            parts.append(_literal(run))
    return parts


def _choice(seq: tuple[str, ...]) -> Callable[[random.Random], str]:
    n = len(seq)
    return lambda rng: seq[int(rng.random() * n)]


# --- building -------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _build_pools(seed: int, size: int, split: Split | None = None) -> ValuePools:
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = random.Random(seed)
    keep = _keep(split)

    def draw(fn: Callable[[], str], n: int = size) -> list[str]:
        return [fn() for _ in range(n)]

    def phone() -> str:
        return "+1" + fake.numerify("%##%######")

    def address() -> str:
        # Faker's en_US mixes in military mail addresses (DPO/FPO/APO), which nobody types in a request.
        for _ in range(10):
            text = fake.address().replace("\n", ", ")
            if not _MILITARY.search(text):
                return text
        return fake.street_address()

    def identifier() -> str:
        return fake.bothify("??-#####").upper()

    names, email_of = _people(rng, max(size, 1200), keep)
    names = [n for n in names if n in email_of]  # everyone has an address
    firsts = [n.split(" ", 1)[0] for n in names]
    lasts = [n.split(" ", 1)[1] for n in names]
    usernames = []
    for n in names:
        first, last = (re.sub(r"[^a-z]", "", _ascii(p)) for p in n.split(" ", 1))
        usernames.append((f"{first}.{last}", f"{first[:1]}{last}", f"{first}{last[:1]}")[int(rng.random() * 3)])
    cities = list(dict.fromkeys([row[0] for row in vocab.LOCATIONS] + [c for _, c in vocab.AIRPORTS]))
    raw: dict[str, list[str]] = {
        "city": cities,
        "country": list(dict.fromkeys(row[2] for row in vocab.LOCATIONS)),
        "country_code": list(dict.fromkeys(row[3] for row in vocab.LOCATIONS)),
        "address": draw(address),
        "street": draw(fake.street_address),
        "state": list(dict.fromkeys(row[1] for row in vocab.LOCATIONS)),
        "zipcode": draw(fake.zipcode),
        "person_name": names,
        "first_name": [f for f in dict.fromkeys(firsts) if keep(f)],
        "last_name": [v for v in dict.fromkeys(lasts) if keep(v)],
        "username": [u for u in usernames if keep(u)],
        "company": draw(fake.company),
        "email": list(email_of.values()),
        "phone": draw(phone),
        "url": draw(fake.url) + [fake.url() + fake.uri_path() for _ in range(size // 2)],
        "hostname": draw(fake.hostname),
        "ipv4": draw(fake.ipv4_public),
        "word": draw(fake.word),
        "option": list(vocab.OPTIONS),
        "job": draw(fake.job),
        "currency_code": list(vocab.CURRENCIES),
        "iata_code": [code for code, _ in vocab.AIRPORTS],
        "language": draw(fake.language_name),
        "language_code": list(vocab.LANGUAGE_CODES),
        "timezone": draw(fake.timezone),
        "color": draw(fake.safe_color_name),
        "file_path": draw(fake.file_path),
        "file_name": draw(fake.file_name),
        "identifier": draw(identifier),
        "password": draw(lambda: fake.password(length=12)),
        "product": [f"{rng.choice(vocab.ADJECTIVES)} {rng.choice(vocab.PRODUCTS)}" for _ in range(size)],
    }
    texts = free_text()
    for purpose, values in texts.items():
        raw[purpose] = [v for v in values if keep(v)]
    # Generic free-text kinds (a tool whose parameter serves no known purpose) mix the purposes.
    raw["sentence"] = raw["message"][::7] + raw["note"] + raw["reminder"][::3]
    raw["title"] = raw["event_title"] + raw["subject"][::2]
    raw["keyword"] = raw["keyword"] + raw["topic"]
    for key, formats in vocab.ID_FORMATS:
        gen = id_generator(formats)
        raw[f"id:{key}"] = [gen(rng) for _ in range(size)]
    for kind, words in vocab.CURATED.items():
        raw.setdefault(kind, list(words))
    vague = vocab.vague_blob()
    pools = {kind: _unique(values, vague) for kind, values in raw.items()}
    day0 = ANCHOR + dt.timedelta(days=DATE_SPAN[0])
    pools["date"] = tuple((day0 + dt.timedelta(days=i)).isoformat() for i in range(DATE_SPAN[1] - DATE_SPAN[0]))
    pools["time"] = tuple(f"{h:02d}:{m:02d}" for h in range(7, 22) for m in (0, 15, 30, 45))
    # Emails whose person was dropped as vague keep no mapping; the rest map name -> email.
    kept = set(pools["person_name"])
    email_of = {n: e for n, e in email_of.items() if n in kept}
    return ValuePools(seed=seed, pools=pools, split=split, email_of=email_of)
