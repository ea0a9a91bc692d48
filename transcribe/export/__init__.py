"""Exports: the format registry, and one module per format, each a pure ``render(document)``.

``build_document`` makes what every format renders (numbered lines, labels, pseudonymised
words); ``write_exports`` writes each format atomically, reads it back and hashes it, and returns
the records, which ``finish.py`` puts in session.json so purge can prove the transcript was
secure before the audio was destroyed. Everything here works from session.json alone.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from ..errors import InputError, SessionError
from ..files import write_atomic
from ..names import Names, pseudonymise
from ..numbering import Line, number_lines, turn_line_ranges
from ..records import ExportRecord, Label, Utterance, Word
from ..session import Session, now
from . import atlasti, maxqda, nvivo, qdpx, srt, txt, vtt
from . import csv as csv_export
from . import docx as docx_export
from . import json as json_export

FORMATS: dict[str, ModuleType] = {
    "txt": txt,
    "docx": docx_export,
    "csv": csv_export,
    "json": json_export,
    "maxqda": maxqda,
    "nvivo": nvivo,
    "srt": srt,
    "vtt": vtt,
    "qdpx": qdpx,
    "atlasti": atlasti,
}
DEFAULT_FORMATS = ("txt", "json")


@dataclass(frozen=True)
class Document:
    """What every format renders: the (pseudonymised) utterances, their labels and numbered lines."""

    session: Session
    utterances: list[Utterance]
    labels: dict[str, Label]
    lines: list[Line]
    line_words: list[tuple[Word, ...]]  # the words on each line, for line times
    ranges: dict[int, tuple[int, int]]  # turn index → (first line, last line)
    replacements: int | None = None  # names replaced; None when no names file was given
    english: bool = False
    timestamps: bool = False

    def label(self, utterance: Utterance) -> str:
        return str(self.labels.get(utterance.speaker, utterance.speaker))

    def turn_label(self, line: Line) -> str:
        """The label of the line's turn, also on continuation lines."""
        return self.label(self.utterances[line.turn])

    def timed_lines(self) -> list[tuple[Line, float, float]]:
        """Each line that has words, with the start of its first word and the end of its last."""
        return [(line, words[0].start, words[-1].end) for line, words in zip(self.lines, self.line_words) if words]


def build_document(
    session: Session, english: bool = False, timestamps: bool = False, names: Names | None = None
) -> Document:
    if session.utterances is None or session.speaker_map is None:
        raise SessionError(
            f"Session '{session.name}' has no finished transcript yet. Run 'transcribe run' to complete it."
        )
    heard = heard_utterances(session.utterances)
    lines = number_lines(heard, session.speaker_map, session.start_line, session.width)
    if names is None:
        utterances, origins, replacements = heard, None, None
    else:
        utterances, origins, replacements = pseudonymise(heard, names)
    lines, line_words = _place_words(lines, heard, utterances, origins)
    return Document(
        session,
        list(utterances),
        dict(session.speaker_map),
        lines,
        line_words,
        turn_line_ranges(lines),
        replacements,
        english,
        timestamps,
    )


def heard_utterances(utterances: Sequence[Utterance]) -> list[Utterance]:
    """The utterances without the words suspected of being invented (asr.guard), which session.json
    keeps for review and exports leave out; an utterance of suspects only goes."""
    kept = [replace(u, words=tuple(w for w in u.words if w.suspect is None)) for u in utterances]
    return [replace(u, start=u.words[0].start, end=u.words[-1].end) for u in kept if u.words]


def parse_formats(text: str | Sequence[str]) -> list[str]:
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise InputError(f"Unknown export format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}.")
    return names


def write_exports(document: Document, folder: Path, formats: Sequence[str] = DEFAULT_FORMATS) -> list[ExportRecord]:
    """Render, write atomically, re-read and hash each format; return what was written."""
    records = []
    for name in formats:
        module = FORMATS[name]
        content = module.render(document)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = Path(folder) / f"{document.session.name}{module.SUFFIX}"
        digest = write_atomic(path, data)
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise SessionError(f"{path} did not read back as written. Check the disk, then export again.")
        records.append(ExportRecord(format=name, file=path.name, sha256=digest, size=len(data), written=now()))
    return records


def _place_words(
    lines: list[Line], heard: Sequence[Utterance], written: Sequence[Utterance], origins: list[list[int]] | None
) -> tuple[list[Line], list[tuple[Word, ...]]]:
    """Put each written word on the line where its heard word stood, keeping every line number.

    Lines are numbered on the words as heard; a replaced name goes on the line where the name
    started. Without replacements (``origins`` None) the lines come back unchanged.
    """
    placed: list[Line] = []
    line_words: list[tuple[Word, ...]] = []
    index = 0
    while index < len(lines):
        turn = lines[index].turn
        end = index
        while end < len(lines) and lines[end].turn == turn:
            end += 1
        text = heard[turn].text
        starts, position = [], 0
        for line in lines[index:end]:
            position = text.find(line.text, position)
            starts.append(position)
            position += len(line.text)
        word_starts, position = [], 0
        for word in heard[turn].words:
            word_starts.append(position)
            position += len(word.text) + 1
        slot_of_heard = [max(bisect_right(starts, start) - 1, 0) for start in word_starts]
        slots: list[list[Word]] = [[] for _ in range(end - index)]
        for number, word in enumerate(written[turn].words):
            slots[slot_of_heard[origins[turn][number] if origins else number]].append(word)
        for line, words in zip(lines[index:end], slots):
            placed.append(replace(line, text=" ".join(word.text for word in words)) if origins else line)
            line_words.append(tuple(words))
        index = end
    return placed, line_words
