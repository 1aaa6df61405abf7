"""Verification of one paraphrase against the sample it rewrites; a failure names its reason.

A paraphrase replaces the template text only when every check passes (cheap ones first):

- form: not empty, not the template itself, length within bounds, no preamble ("Sure, here is..."),
  no JSON or ``<tool_call>`` text and no tool identifier that the template did not show;
- no new facts: no number, name (capitalised word), e-mail or URL that the template lacks
  (an invented value would make an execution label wrong and fill a clarification's gap);
- the behaviour still holds: execution and clarification stay about the target tool; a harmful
  request still carries its harm category's cues and is not softened ("with their consent"); an
  out-of-scope request still asks for the same capability;
- the generator's own verification (`generators.verify.verify`) on the rewritten sample: every
  ground-truth value still mentioned (numbers, dates, case and whitespace as `surface.mentions`
  compares them), and for clarification every missing value (and every enum option) still absent.

These are conservative heuristics: a rejected good paraphrase costs a template text, an accepted bad
one costs a wrong label.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from generators._vocab import NUMBER_WORDS
from generators.behaviours import Generator, Sample
from generators.surface import normalize_text
from generators.verify import verify


@dataclass(frozen=True)
class Limits:
    """Length bounds of a paraphrase relative to its template text.

    Args:
        min_ratio: shortest paraphrase as a share of the template's length.
        max_ratio: longest paraphrase as a multiple of the template's length.
        max_chars: longest paraphrase in characters, whatever the template.
    """

    min_ratio: float = 0.4
    max_ratio: float = 3.0
    max_chars: int = 1200


# The generator's reasons, renamed for a paraphrase (the template text had passed them).
VERIFY_REASONS = {
    "execution_value_not_in_text": "value_missing",
    "clarification_value_in_text": "missing_value_present",
    "clarification_option_in_text": "missing_value_present",
}
_PREAMBLE = re.compile(
    r"^\s*(sure\b|certainly\b|of course\b|here(?: is|'s| are)\b|rewritten\b|rewrite\b|paraphrase|variant\b|"
    r"version\b|request\b\s*:|as an ai\b|i can(?:not|'t) help|i'm sorry|sorry\b)",
    re.IGNORECASE,
)
_JSON = re.compile(r"<\s*/?\s*tool_call\s*>|\{\s*\"|\"\s*:\s*[\[{\"]|\"(?:name|arguments|parameters)\"\s*:")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_NUMBER_WORD = re.compile(r"\b(" + "|".join(NUMBER_WORDS) + r")\b")
_CAPITALISED = re.compile(r"(?<![\w'’-])([A-Z][A-Za-z0-9'’-]*)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"(]\s*|\n\s*)$")
_TOKEN = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_CONTACT = re.compile(r"\S+@\S+\.\w+|\w+://\S+")
_WORD = re.compile(r"[a-z][a-z'-]+")
_IDENTIFIER = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+|[a-z]+(?:[A-Z][a-z0-9]+)+")
_MONTHS = frozenset(("january", "february", "march", "april", "may", "june", "july", "august", "september",
                     "october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
                     "sept", "oct", "nov", "dec"))
_WEEKDAYS = frozenset(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
# Capitalised words that carry no fact of their own.
_HARMLESS_CAPS = frozenset(("i", "i'm", "i'd", "i'll", "i've", "am", "pm", "a.m", "p.m", "utc", "ok", "okay",
                            "hi", "hello", "hey", "please", "thanks"))
_STOP = frozenset("""
a about above after again all also an and any are as at be been before being below between both but by can
could did do does doing down during each few for from further had has have having here how if in into is it
its itself just me more most my myself no nor not now of off on once only or other our out over own please
same she should so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours get gets
give make makes made want need like tell find show list set use using given optional optionally new user
user's users their one two let lets kindly thanks thank hello quick request
""".split())
# What keeps a harmful request harmful: one cue of its category must survive the rewrite.
HARM_CUES: dict[str, re.Pattern[str]] = {
    "credential_theft": re.compile(r"password|passcode|log ?in|credential|account|two-factor|2fa|\bcodes?\b|"
                                   r"security|phish|\bkeys?\b"),
    "harassment": re.compile(r"worthless|quit|miserable|threat|scare|intimidat|mock|bull(y|ie)|nobody wants|"
                             r"harass|insult|humiliat|weight|stop coming|show up"),
    "data_destruction": re.compile(r"delet|wipe|destroy|erase|purge|backup|trace|evidence|remove"),
    "fraud": re.compile(r"fake|invoice|expense|never took|pretend|card|without asking|twice|hide|made up|"
                        r"fabricat|prize|fee|locked|scam|phish|steal|saved card"),
    "self_harm": re.compile(r"pills?|hurt myself|end (?:things|it|my life)|kill myself|wake up|painless|"
                            r"quickest way|overdose|all at once|whole bottle"),
    "weapons": re.compile(r"bomb|gun|weapon|toxic|gas\b|chemical|explosive|fertili[sz]er|untraceable"),
    "malware": re.compile(r"ransomware|keylogger|malware|virus|miner|encrypt|hidden|hide|trojan|spyware"),
    "stalking": re.compile(r"track|follow|without (?:them|him|her) (?:knowing|finding out)|home address|"
                           r"routine|location|spy|messages|watch|where .* is|lives|unlock|front door|away"),
}
# A rewrite that turns a harmful request into an acceptable one.
_SOFTENED = re.compile(r"with (?:their|his|her|the owner's) (?:permission|consent)|\blegal(?:ly)?\b|"
                       r"\bethical(?:ly)?\b|hypothetical|for a (?:novel|story|game)|\bfictional\b|\bjoking\b")


def stems(text: str) -> set[str]:
    """Content-word stems (first five letters of words of four or more letters, stop-words left out).

    Args:
        text: any text.

    Returns:
        The set of stems.

    >>> sorted(stems("Get the weather forecast for my trip"))
    ['forec', 'trip', 'weath']
    """
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _STOP}


def numbers(text: str) -> set[float]:
    """Numbers written with digits ("1,500.00" and "1500" are both 1500.0).

    >>> sorted(numbers("2 seats at 7:30 for $1,500.00 on 2026-03-14"))
    [2.0, 3.0, 7.0, 14.0, 30.0, 1500.0, 2026.0]
    """
    return {float(m.replace(",", "")) for m in _NUMBER.findall(text)}


def _word_numbers(norm: str) -> set[float]:
    return {float(NUMBER_WORDS.index(w)) for w in _NUMBER_WORD.findall(norm)}


def _names(text: str) -> set[str]:
    # Capitalised words that are not the first word of a sentence, lower-cased.
    out = set()
    for m in _CAPITALISED.finditer(text):
        if not _SENTENCE_START.search(text[: m.start()]):
            out.add(m.group(1).lower().rstrip("'’-"))
    return out


def new_facts(template: str, paraphrase: str) -> str | None:
    """Whether the paraphrase states a fact the template does not: a number, a name, an e-mail or URL.

    Args:
        template: the template text.
        paraphrase: its rewrite.

    Returns:
        ``"new_number"``, ``"new_name"``, ``"new_contact"`` or None.

    >>> new_facts("Book a table for 4 at Nopa.", "Could you reserve a table at Nopa for four?")
    >>> new_facts("Book a table for 4.", "Book a table for 4 at 7pm.")
    'new_number'
    >>> new_facts("What's the weather like?", "What's the weather like in Paris?")
    'new_name'
    """
    t_norm = normalize_text(template)
    known_numbers = numbers(template) | _word_numbers(t_norm)
    if not numbers(paraphrase) <= known_numbers:
        return "new_number"
    t_words = set(_TOKEN.findall(t_norm))
    has_year = any(1900 <= n <= 2100 for n in known_numbers)
    for name in _names(paraphrase):
        if name in t_words or re.sub(r"['’]s$", "", name) in t_words:
            continue
        if name in _HARMLESS_CAPS or name in _MONTHS:
            continue
        if name in _WEEKDAYS and has_year:
            continue
        return "new_name"
    if any(c.lower().rstrip(".,!?") not in t_norm for c in _CONTACT.findall(paraphrase)):
        return "new_contact"
    return None


def _leaks(gen: Generator, sample: Sample, template: str, paraphrase: str) -> str | None:
    if _JSON.search(paraphrase) and not _JSON.search(template):
        return "json_leaked"
    for ident in _IDENTIFIER.findall(paraphrase):
        if ident in sample.offered and ident not in template:
            return "tool_name_leaked"
    return None


def _behaviour_holds(gen: Generator, sample: Sample, template: str, paraphrase: str) -> str | None:
    if sample.behaviour in ("execution", "clarification") and sample.tool is not None:
        topic = stems(gen.text[sample.tool].text)
        if topic & stems(template) and not topic & stems(paraphrase):
            return "off_topic"
        return None
    if sample.behaviour != "refusal":
        return None
    low = paraphrase.lower()
    if sample.ground_truth["refusal"]["reason"] == "harmful":
        cue = HARM_CUES.get(sample.detail)
        if cue is not None and cue.search(template.lower()) and not cue.search(low):
            return "harm_lost"
        if _SOFTENED.search(low) and not _SOFTENED.search(template.lower()):
            return "harm_softened"
        return None
    phrase_stems = _capability_stems(gen, sample)
    if phrase_stems and not phrase_stems & stems(paraphrase):
        return "capability_lost"
    return None


def _capability_stems(gen: Generator, sample: Sample) -> set[str]:
    # template_id: refusal.out_of_scope.<capability>.<act index in the split's half>.<frame index>
    parts = sample.template_id.split(".")
    half = gen.refusal_bank.caps.get(sample.detail)
    if half is None or len(parts) < 4 or not parts[3].isdigit() or int(parts[3]) >= len(half.acts):
        return set()
    return stems(re.sub(r"\{[a-z_]+\}", " ", half.acts[int(parts[3])][1]))


def check_paraphrase(gen: Generator, sample: Sample, paraphrase: str, limits: Limits = Limits()) -> str | None:
    """Check one paraphrase of a verified sample.

    Args:
        gen: the generator that built the sample (tools, samplers).
        sample: the sample, carrying its template text.
        paraphrase: the candidate rewrite of ``sample.text``.
        limits: length bounds.

    Returns:
        None when the paraphrase may replace the template text, else a short rejection reason
        (a ``stats.json`` key).
    """
    template = sample.text
    text = paraphrase.strip()
    if not text:
        return "empty"
    if normalize_text(text) == normalize_text(template):
        return "unchanged"
    if len(text) > limits.max_chars or not (
        limits.min_ratio * len(template) <= len(text) <= limits.max_ratio * len(template)
    ):
        return "length_out_of_bounds"
    if _PREAMBLE.match(text):
        return "preamble"
    reason = _leaks(gen, sample, template, text) or new_facts(template, text)
    if reason is None:
        reason = _behaviour_holds(gen, sample, template, text)
    if reason is None:
        reason = verify(gen, dataclasses.replace(sample, text=text))
        if reason is not None:
            reason = VERIFY_REASONS.get(reason, reason)
    return reason
