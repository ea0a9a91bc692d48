"""Exports: one module per format, each a pure ``render(document) -> str | bytes``.

Every export is written atomically, read back and hashed; the hash goes into session.json so
purge can prove the transcript was secure before the audio was destroyed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Sequence

from ..errors import InputError, SessionError
from ..files import write_atomic
from ..numbering import Line, number_lines, turn_line_ranges
from ..session import ExportRecord, Session, now
from ..speakers import Label
from . import json as json_export
from . import txt

FORMATS: dict[str, ModuleType] = {"txt": txt, "json": json_export}
DEFAULT_FORMATS = ("txt", "json")


@dataclass(frozen=True)
class Document:
    """What every format renders: the session, its labels and its numbered lines."""

    session: Session
    labels: dict[str, Label]
    lines: list[Line]
    ranges: dict[int, tuple[int, int]]  # turn index → (first line, last line)
    english: bool = False


def build_document(session: Session, english: bool = False) -> Document:
    if session.utterances is None or session.speaker_map is None:
        raise SessionError(f"Session '{session.name}' has no finished transcript yet. Run 'transcribe run' to complete it.")
    lines = number_lines(session.utterances, session.speaker_map, session.start_line, session.width)
    return Document(session, dict(session.speaker_map), lines, turn_line_ranges(lines), english)


def parse_formats(text: str | Sequence[str]) -> list[str]:
    names = [n.strip().lower() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise InputError(f"Unknown export format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}.")
    return names


def write_exports(session: Session, folder: Path, formats: Sequence[str] = DEFAULT_FORMATS, english: bool = False) -> list[ExportRecord]:
    """Render, write atomically, re-read and hash each format; record them in the session."""
    document = build_document(session, english)
    records = []
    for name in formats:
        module = FORMATS[name]
        content = module.render(document)
        data = content.encode("utf-8") if isinstance(content, str) else content
        path = Path(folder) / f"{session.name}{module.SUFFIX}"
        digest = write_atomic(path, data)
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise SessionError(f"{path} did not read back as written. Check the disk, then export again.")
        records.append(ExportRecord(format=name, file=path.name, sha256=digest, size=len(data), written=now()))
    kept = [record for record in session.exports if record.format not in formats]
    session.exports = kept + records
    return records
