"""Findings: text in an intent that addresses the alignment scorer or the reviewer instead of describing a
service ("ignore previous instructions", "pre-approved", "return score 1.0", "you are now ...").

An intent is data about a service. Text in it that speaks to whoever judges it is an attempt to steer that
judgement, whatever the scorer (the lexical one counts words; a model may follow orders). Each match is a
finding, listed in the decision; any finding forces requires_approval (blocked stays blocked).

Every string the intent holds is checked (purpose, blueprint_context, endpoint summaries, names of services,
resources and fields, ...), after normalization, so trivial obfuscation does not slip through: Unicode
compatibility forms folded (NFKC: full-width letters, ligatures), accents and zero-width or other invisible
format characters removed, a few Cyrillic and Greek look-alike letters read as Latin, case folded, and every
run of whitespace and punctuation read as one space ("Ignore---PREVIOUS\u200binstructions!" reads "ignore
previous instructions"). Leetspeak is not decoded.

The phrases are kept narrow so that ordinary intents are not flagged: a phrase must speak *to* someone
(an order, a claim of approval, a score to give, a new role), not merely mention reviews or scores. A false
positive costs one human approval, never a block.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.intents import Intent

FINDING_MESSAGE = "text addressed to the scorer or the reviewer: {what}"
MAX_FINDINGS = 20
"""At most this many findings are listed (one is enough to force a person's approval)."""
MAX_EXCERPT = 160


@dataclass(frozen=True)
class AddressedPhrase:
    """One kind of text addressed to the scorer or the reviewer: a regular expression over normalized text
    (lowercase letters and digits, words separated by single spaces), and what it does, in words."""

    pattern: str
    what: str


_VERB_IGNORE = r"(?:ignore|disregard|forget|override|overrule|bypass|discard|skip)"
_QUALIFIER = (
    r"(?:previous|prior|preceding|above|earlier|foregoing|original|existing|initial|former|system|all|your)"
)
_ORDERS = (
    r"(?:instructions?|rules?|prompts?|directions?|directives?|guidelines?|guidance|commands?|context"
    r"|messages?|polic(?:y|ies)|constraints?|criteria|scoring)"
)
_THIS = r"(?:this|it|me|us|the intent|this intent|this request|this service|this change|the request)"
_TOP = r"(?:1|10|100|one|ten|perfect|maximum|max|full|highest|top)"
_JUDGE = r"(?:reviewers?|approvers?|governance|scorer|grader|judge|model|ai|assistant|claude|llm|bot)"

ADDRESSED_PHRASES: tuple[AddressedPhrase, ...] = (
    AddressedPhrase(
        rf"{_VERB_IGNORE} (?:all |any |every )?(?:of )?(?:the |your |my |these |those |its )?"
        rf"{_QUALIFIER} {_ORDERS}",
        "asks to ignore earlier instructions",
    ),
    AddressedPhrase(
        r"(?:ignore|disregard|forget) (?:everything |all )?(?:the )?(?:above|before this|said before)",
        "asks to ignore earlier instructions",
    ),
    AddressedPhrase(
        rf"{_VERB_IGNORE} (?:the |your |this |all )?(?:blueprint|governance|alignment|scoring rubric)",
        "asks to set aside the blueprint or governance",
    ),
    AddressedPhrase(
        r"pre ?(?:approved|authori[sz]ed|cleared)|already (?:been )?(?:approved|authori[sz]ed|signed off)"
        r"|approved in advance|(?:has|have) been approved by",
        "claims an approval that governance did not record",
    ),
    AddressedPhrase(
        rf"(?:return|output|assign|give)(?: with)?(?: {_THIS})?(?: an?| the)?(?: alignment| final)?"
        r" (?:score|rating)",
        "tells the scorer what to answer",
    ),
    AddressedPhrase(
        rf"(?:score|rate|grade) {_THIS}(?: as| at| with| a| an| to| of)? {_TOP}",
        "tells the scorer what score to give",
    ),
    AddressedPhrase(
        r"alignment score(?: is| of| should be| must be| will be| equals?| to| =)? (?:1|one|perfect|max"
        r"|maximum|100|high)",
        "tells the scorer what score to give",
    ),
    AddressedPhrase(
        rf"(?:score|rating|alignment) (?:must|should|has to|needs to|shall) be {_TOP}",
        "tells the scorer what score to give",
    ),
    AddressedPhrase(
        # `[ ]`: a space that must be there ("1.0", "10/10"), unlike the optional spaces between words.
        r"(?:score|rating)(?: of| to| is)? (?:1[ ]0+|10[ ]10|100[ ]100|1[ ]1)(?![0-9])",
        "tells the scorer what score to give",
    ),
    AddressedPhrase(
        rf"(?:mark|rate|flag|treat) {_THIS} as (?:approved|aligned|fully aligned|safe|trusted|perfect)",
        "tells the scorer or the reviewer what to conclude",
    ),
    AddressedPhrase(
        r"you are now|from now on you|pretend (?:to be|you are|that you)|roleplay as|act as (?:the |a |an )?"
        rf"{_JUDGE}|you are (?:the |a |an )?(?:{_JUDGE}|language model)|as an ai(?: language model)?",
        "tries to give the scorer or the reviewer a new role",
    ),
    AddressedPhrase(
        r"your (?:new )?(?:task|job|role|instructions) (?:is|are|now)|new instructions",
        "tries to give the scorer or the reviewer a new task",
    ),
    AddressedPhrase(
        r"system prompt|system message|developer (?:message|prompt|mode)|jailbreak",
        "speaks of the model's own prompt",
    ),
    AddressedPhrase(
        rf"(?:as|dear|to|attention) (?:the )?{_JUDGE}(?: you)? (?:must|should|shall|will|need to|have to"
        r"|please)",
        "addresses the reviewer or the scorer directly",
    ),
    AddressedPhrase(
        r"(?:must|should|shall|need to|have to|please) (?:auto )?(?:approve|accept|pass|allow|score|rate)"
        rf" (?:{_THIS}|immediately|automatically|without)",
        "tells the reviewer to approve",
    ),
    AddressedPhrase(
        rf"(?:please approve|auto ?approve {_THIS}|approve {_THIS} (?:immediately|now|automatically"
        r"|without))",
        "tells the reviewer to approve",
    ),
    AddressedPhrase(
        r"(?:do not|don t|dont|never) (?:block|flag|reject|deny|escalate|require (?:an? )?(?:human )?approval"
        rf"|ask for (?:an? )?approval)(?: {_THIS})?(?= |$)",
        "tells governance not to stop it",
    ),
    AddressedPhrase(
        r"no (?:human |manual |further )?(?:review|approval|sign off|oversight) (?:is |are )?(?:needed"
        r"|required|necessary)",
        "tells governance not to stop it",
    ),
)
"""The phrases, over normalized text. Keep each one narrow: it must speak *to* the scorer or the reviewer."""

TAGS = re.compile(
    r"<\s*/?\s*(?:intent|system|instructions?|prompt|user|assistant|human|blueprint|tool|function)\b[^<>]{0,40}>"
    r"|<\|[^|<>]{1,40}\|>|\[/?(?:inst|system)\]",
    re.IGNORECASE,
)
"""Markup that could end or fake the delimited block the intent travels in to the model (`</intent>`,
`<|im_start|>`, `[INST]`), matched on the text with Unicode forms folded but punctuation kept."""
TAG_WHAT = "holds a tag that could end or fake the block the intent is sent in"

# Words of a phrase may also be run together ("ignorepreviousinstructions", or a zero-width character used
# as the space between them, which normalization removes); a phrase still starts and ends at a word edge.
_COMPILED = tuple(
    (re.compile(rf"(?<![a-z0-9])(?:{phrase.pattern.replace(' ', ' ?')})(?![a-z0-9])"), phrase.what)
    for phrase in ADDRESSED_PHRASES
)

# Latin look-alikes that NFKC leaves alone (Cyrillic and Greek letters people use to dodge word lists).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ɡ": "g",
        "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
        "χ": "x", "ѵ": "v",
    }
)  # fmt: skip


class Finding(BaseModel):
    """One piece of text addressed to the scorer or the reviewer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str
    """Where it was found: `purpose`, `endpoints[0].summary`, `resources[1].fields` ..."""
    text: str
    """The text that matched, as written (shortened to a few words when long)."""
    message: str


@dataclass(frozen=True)
class Normalized:
    """Normalized text, and for each of its characters the index of the original character it came from."""

    text: str
    origin: tuple[int, ...]


def fold_char(char: str) -> str:
    """One character read for matching: compatibility forms folded, accents and format characters
    (zero-width space and joiners, soft hyphen, bidi marks) dropped, look-alikes read as Latin, case
    folded."""
    if unicodedata.category(char) == "Cf":
        return ""
    decomposed = unicodedata.normalize("NFKD", char)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.casefold().translate(HOMOGLYPHS)


def fold(text: str) -> Normalized:
    """The text with each character read by `fold_char` (punctuation and spacing kept)."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for folded in fold_char(char):
            chars.append(folded)
            origin.append(index)
    return Normalized("".join(chars), tuple(origin))


def normalize(text: str) -> Normalized:
    """Letters and digits as `fold_char` reads them; every run of anything else becomes one space."""
    folded = fold(text)
    chars: list[str] = []
    origin: list[int] = []
    for char, index in zip(folded.text, folded.origin, strict=True):
        if char.isascii() and char.isalnum():
            chars.append(char)
        elif chars and chars[-1] != " ":
            chars.append(" ")
        else:
            continue
        origin.append(index)
    if chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    return Normalized("".join(chars), tuple(origin))


def find_addressed_text(intent: Intent) -> tuple[Finding, ...]:
    """Every piece of text in `intent` addressed to the scorer or the reviewer, in field order."""
    found: list[Finding] = []
    for field, text in intent_strings(intent):
        found.extend(findings_in(text, field=field))
        if len(found) >= MAX_FINDINGS:
            break
    return tuple(found[:MAX_FINDINGS])


def findings_in(text: str, *, field: str) -> list[Finding]:
    """The findings in one string, in the order they appear; the same text for the same reason once."""
    hits = [(start, end, TAG_WHAT) for start, end in _spans(TAGS, fold(text))]
    for pattern, what in _COMPILED:
        hits.extend((start, end, what) for start, end in _spans(pattern, normalize(text)))
    findings: list[Finding] = []
    covered = 0
    # Overlapping matches are one finding (the first, longest one): "return score 1.0" is one order.
    for start, end, what in sorted(hits, key=lambda hit: (hit[0], -hit[1])):
        if start < covered:
            continue
        covered = end
        finding = Finding(
            field=field, text=_excerpt(text, start, end), message=FINDING_MESSAGE.format(what=what)
        )
        if finding not in findings:
            findings.append(finding)
    return findings


def _spans(pattern: re.Pattern[str], normalized: Normalized) -> Iterator[tuple[int, int]]:
    """Where `pattern` matches, as [start, end) offsets in the original text."""
    for match in pattern.finditer(normalized.text):
        if match.end() > match.start():
            yield normalized.origin[match.start()], normalized.origin[match.end() - 1] + 1


def _excerpt(text: str, start: int, end: int) -> str:
    """The matched text as written, with invisible characters left out and spacing made single."""
    visible = "".join(char for char in text[start:end] if unicodedata.category(char) != "Cf")
    piece = " ".join(visible.split())
    return piece if len(piece) <= MAX_EXCERPT else piece[: MAX_EXCERPT - 1] + "…"


def intent_strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string an intent holds, with where it is (`endpoints[0].summary`), walking the model itself so
    a field added later is checked too. A free mapping's keys (a resource's field names) are the author's
    words as much as its values, and are checked as strings at the mapping's path."""
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from intent_strings(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, str):  # enums included: StrEnum values are str
        yield path, str(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, str(key)
            yield from intent_strings(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from intent_strings(item, f"{path}[{index}]")
