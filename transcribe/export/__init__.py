"""Exports: one module per format, each a pure ``render(document) -> str | bytes``.

Every export is written atomically, read back and hashed; the hash goes into session.json so
purge can prove the transcript was secure before the audio was destroyed. Everything here works
from session.json alone: the audio may already be gone.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Sequence

from ..align import Utterance
from ..asr import Word
from ..errors import InputError, SessionError
from ..files import write_atomic
from ..names import Names, load_names, pseudonymise
from ..numbering import Line, number_lines, turn_line_ranges
from ..review.edits import reviewed_utterances
from ..session import ExportRecord, Session, locked, now
from ..speakers import Label, check_moderator_label, load_map, relabel_moderator
from . import csv as csv_export
from . import docx as docx_export
from . import json as json_export
from . import maxqda, nvivo, srt, txt, vtt

FORMATS: dict[str, ModuleType] = {
    "txt": txt, "docx": docx_export, "csv": csv_export, "json": json_export,
    "maxqda": maxqda, "nvivo": nvivo, "srt": srt, "vtt": vtt,
}
DEFAULT_FORMATS = ("txt", "json")


@dataclass(frozen=True)
class Document:
    """What every format renders: the (reviewed, pseudonymised) utterances, their labels and numbered lines."""

    session: Session
    utterances: list[Utterance]
    labels: list[Label]  # one per utterance: the speaker map's, or the review's for that turn
    lines: list[Line]
    line_words: list[tuple[Word, ...]]  # the words on each line, for line times
    ranges: dict[int, tuple[int, int]]  # turn index → (first line, last line)
    replacements: int | None = None  # names replaced; None when no names file was given
    english: bool = False
    timestamps: bool = False

    def label(self, turn: int) -> str:
        return str(self.labels[turn])

    def turn_label(self, line: Line) -> str:
        """The label of the line's turn, also on continuation lines."""
        return self.label(line.turn)

    def timed_lines(self) -> list[tuple[Line, float, float]]:
        """Each line that has words, with the start of its first word and the end of its last."""
        return [(line, words[0].start, words[-1].end) for line, words in zip(self.lines, self.line_words) if words]


@dataclass(frozen=True)
class ExportOptions:
    """How ``export_session`` changes a session before writing; None keeps what session.json says."""

    formats: Sequence[str] = DEFAULT_FORMATS
    start_line: int | None = None
    continue_from: Path | None = None  # another session folder: number on after its last line
    width: int | None = None
    moderator_label: str | None = None
    map_file: Path | None = None
    merge: bool = False
    names_file: Path | None = None
    english: bool = False
    timestamps: bool = False


def build_document(session: Session, english: bool = False, timestamps: bool = False, names: Names | None = None) -> Document:
    turns = reviewed_utterances(session)  # refuses an unfinished session
    heard, labels = [utterance for utterance, _ in turns], [label for _, label in turns]
    lines = number_lines(heard, labels, session.start_line, session.width)
    if names is None:
        utterances, origins, replacements = heard, None, None
    else:
        utterances, origins, replacements = pseudonymise(heard, names)
    lines, line_words = _place_words(lines, heard, utterances, origins)
    return Document(session, list(utterances), labels, lines, line_words,
                    turn_line_ranges(lines), replacements, english, timestamps)


def parse_formats(text: str | Sequence[str]) -> list[str]:
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise InputError(f"Unknown export format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}.")
    return names


def last_line(folder: Path) -> int:
    """The number of the last line of another session's transcript, from its session.json."""
    other = Session.load(folder)
    lines = build_document(other).lines
    return lines[-1].number if lines else other.start_line - 1


def write_exports(
    session: Session,
    folder: Path,
    formats: Sequence[str] = DEFAULT_FORMATS,
    english: bool = False,
    timestamps: bool = False,
    names: Names | None = None,
) -> list[ExportRecord]:
    """Render, write atomically, re-read and hash each format; record them in the session."""
    if names is None and session.pseudonymisation:
        raise InputError(
            f"The exports of session '{session.name}' were pseudonymised with a names file "
            f"({session.pseudonymisation['names']} names). Give it again with --names so no real name comes back "
            "(to export the names as heard on purpose, give an empty names file)."
        )
    document = build_document(session, english, timestamps, names)
    records = []
    for name in formats:
        module = FORMATS[name]
        content = module.render(document)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = Path(folder) / f"{session.name}{module.SUFFIX}"
        digest = write_atomic(path, data)
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise SessionError(f"{path} did not read back as written. Check the disk, then export again.")
        records.append(ExportRecord(format=name, file=path.name, sha256=digest, size=len(data), written=now(),
                                    revision=session.revision))
    kept = [record for record in session.exports if record.format not in formats]
    session.exports = kept + records
    if names is not None:
        session.pseudonymisation = {"names": len(names.names), "replacements": document.replacements} if names.names else None
    return records


def export_session(folder: Path, options: ExportOptions) -> tuple[Session, list[ExportRecord]]:
    """``transcribe export``: apply the options to the session, write its exports, save it."""
    folder = Path(folder)
    if options.start_line is not None and options.continue_from is not None:
        raise InputError("Give either --start-line or --continue-from, not both.")
    if options.continue_from is not None and Path(options.continue_from).resolve() == folder.resolve():
        raise InputError(f"--continue-from {options.continue_from} is this session itself; give the previous session's folder.")
    formats = parse_formats(options.formats)
    names = load_names(options.names_file) if options.names_file is not None else None
    with locked(folder):
        session = Session.load(folder)
        if options.moderator_label is not None:
            label = check_moderator_label(options.moderator_label)
            if session.speaker_map is not None:
                session.speaker_map = relabel_moderator(session.speaker_map, session.moderator_label, label)
            session.moderator_label = label
        if options.map_file is not None:
            if session.utterances is None:
                raise SessionError(f"Session '{session.name}' has no transcript yet, so there are no speakers to map. "
                                   "Run 'transcribe run' first.")
            session.speaker_map = load_map(options.map_file, session, options.merge)
        if options.continue_from is not None:
            session.start_line = last_line(options.continue_from) + 1
        if options.start_line is not None:
            session.start_line = options.start_line
        if options.width is not None:
            session.width = options.width
        records = write_exports(session, folder, formats, options.english, options.timestamps, names)
        session.save(folder)
    return session, records


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
