"""Pseudonymisation: names heard in the recording, replaced in every export.

The researcher lists names in a TOML file: ``Kari = 3`` (Kari is informant 3, written
``[informant 3]``) or ``"Ole Hansen" = "[navn]"`` (written as given). Matching is on whole words,
case-insensitive, also across words for multiword names, and keeps Norwegian possessive endings
(Karis, Kari's, Kari-s, Hans'), so "Karis mann" becomes "[informant 3]s mann".

Replacement works on the transcription's words, so every format (text, tables, subtitles, and the
words in the JSON export) shows the same pseudonymised transcript. Lines are numbered on the words
as heard and keep their numbers after replacement (a line may grow a little longer than the
width): codes, reports and the next group's numbering made from session.json alone stay valid.

The names file is the key that links pseudonyms to people, so it is never copied into the session
folder, not even as a hash (a short file of common names is easy to guess from its hash):
session.json records only how many names were replaced, and refuses to export without them again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .files import read_toml, toml_value
from .numbering import Line
from .records import Utterance, Word

_POSSESSIVE = r"(?P<suffix>s|['’]s?|-s)?"
_SENTENCE_END = (".", "!", "?", ":", "…")
_OPENING = "«\"“'‘([{—–-"
_CLOSING = "»\"”'’)]}"


@dataclass(frozen=True)
class Name:
    words: tuple[re.Pattern, ...]  # one pattern per word of the name, matched against whole ASR words
    replacement: str


@dataclass(frozen=True)
class Names:
    names: tuple[Name, ...]  # longest first, so "Ole Hansen" wins over "Ole"


@dataclass(frozen=True)
class Candidate:
    word: str
    lines: tuple[int, ...]


def load_names(path: str | Path) -> Names:
    """Read a names file: ``Kari = 3`` or ``"Ole Hansen" = "[navn]"``, one name per line."""
    data = read_toml(path, "names file", 'Kari = 3 or "Ole Hansen" = "[navn]"')
    problems = []
    entries: dict[str, tuple[tuple[str, ...], str]] = {}
    for key, value in data.items():
        words = tuple(key.split())
        if not words or not any(character.isalpha() for character in key):
            problems.append(f"'{key}' is not a name")
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            replacement = f"[informant {value}]"
        elif isinstance(value, str) and value.strip() and value.isprintable():
            replacement = " ".join(value.split())
        else:
            problems.append(
                f"{key} = {toml_value(value)} is not a replacement; write an informant number (Kari = 3) "
                f'or a text in quotes ("{key}" = "[navn]")'
            )
            continue
        folded = " ".join(words).casefold()
        if folded in entries:
            problems.append(f"'{key}' is listed twice (names match regardless of case)")
        entries[folded] = (words, replacement)
    if problems:
        raise InputError(f"The names file {path} cannot be used: {'; '.join(problems)}.")
    names = sorted(entries.values(), key=lambda entry: -len(entry[0]))
    return Names(tuple(Name(_patterns(words), replacement) for words, replacement in names))


def pseudonymise(utterances: Sequence[Utterance], names: Names) -> tuple[list[Utterance], list[list[int]], int]:
    """Replace every listed name.

    Returns the new utterances; for each, the index of the original word each new word starts at
    (a multiword name becomes one word), so numbered lines can keep their numbers; and how many
    names were replaced.
    """
    result, origins, count = [], [], 0
    for utterance in utterances:
        words, origin, replaced = _replace(utterance.words, names.names)
        result.append(Utterance(utterance.speaker, utterance.start, utterance.end, words) if replaced else utterance)
        origins.append(origin)
        count += replaced
    return result, origins, count


@dataclass(frozen=True)
class Candidates:
    """``transcribe names``: the likely names still in the transcript, with their line numbers."""

    found: tuple[Candidate, ...]

    @classmethod
    def of(cls, lines: Sequence[Line]) -> Candidates:
        return cls(tuple(candidates(lines)))

    def to_json(self) -> list[dict]:
        return [{"word": c.word, "lines": list(c.lines)} for c in self.found]

    def lines(self) -> list[str]:
        if not self.found:
            return ["No capitalised words inside sentences."]
        width = max(len(c.word) for c in self.found) + 2
        return [f"{c.word:<{width}}lines {', '.join(str(n) for n in c.lines)}" for c in self.found]


def candidates(lines: Sequence[Line]) -> list[Candidate]:
    """Capitalised words inside sentences: in Norwegian these are mostly names of people and places.

    Neighbouring capitalised words make one candidate ("Ole Hansen"). Sentence-initial words (the
    first of a turn, or after . ! ? : …) and replacements already made ([informant 3]) are left
    out; a quote that opens with a capital is listed, as it may be a name.
    """
    found: dict[str, list[int]] = {}
    phrase: list[str] = []
    first_line = 0

    def close() -> None:
        if phrase:
            numbers = found.setdefault(" ".join(phrase), [])
            if first_line not in numbers:
                numbers.append(first_line)
            phrase.clear()

    sentence_start = True
    turn = None
    for line in lines:
        if line.turn != turn:
            close()
            turn, sentence_start = line.turn, True
        for token in line.text.split():
            word = token.strip(_OPENING + _CLOSING + ".,;:!?…")
            if word[:1].isupper() and not sentence_start and not token.startswith("["):
                if not phrase:
                    first_line = line.number
                phrase.append(word)
                if word != token:  # punctuation ends the name
                    close()
            else:
                close()
            sentence_start = token.rstrip(_CLOSING).endswith(_SENTENCE_END)
    close()
    return [Candidate(word, tuple(numbers)) for word, numbers in found.items()]


def _patterns(words: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """First word may follow opening punctuation; the last may carry a possessive and punctuation."""
    patterns = []
    for index, word in enumerate(words):
        before = r"(?P<before>\W*)" if index == 0 else r"(?P<before>)"
        after = _POSSESSIVE + r"(?P<after>\W*)" if index == len(words) - 1 else r"(?P<suffix>)(?P<after>)"
        patterns.append(re.compile(before + re.escape(word) + after, re.IGNORECASE))
    return tuple(patterns)


def _replace(words: tuple[Word, ...], names: tuple[Name, ...]) -> tuple[tuple[Word, ...], list[int], int]:
    out: list[Word] = []
    origin: list[int] = []
    count = 0
    index = 0
    while index < len(words):
        origin.append(index)
        for name in names:
            span = words[index : index + len(name.words)]
            matches = [pattern.fullmatch(word.text) for pattern, word in zip(name.words, span)]
            if len(span) == len(name.words) and all(matches):
                text = matches[0]["before"] + name.replacement + (matches[-1]["suffix"] or "") + matches[-1]["after"]
                out.append(Word(span[0].start, span[-1].end, text, min(word.probability for word in span)))
                count += 1
                index += len(span)
                break
        else:
            out.append(words[index])
            index += 1
    return tuple(out), origin, count
