"""Finish a session: speaker labels, line numbering, exports, save.

The one step that turns a transcribed session into its transcripts. ``run`` calls it after the
speech stages, ``export`` (through ``export_session``) calls it on a session folder alone, after
the audio may be gone; a reviewed session's corrections reach every format because the document
is built from the review layer (``export.build_document``). Exports are rendered and written by
``export.write_exports``, which returns their records; this module is the one that records them
in the session and saves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, SessionError
from .export import DEFAULT_FORMATS, build_document, parse_formats, write_exports
from .names import Names, load_names
from .records import ExportRecord
from .session import Session, locked
from .speakers import check_moderator_label, load_map, propose_map, relabel_moderator


@dataclass(frozen=True)
class FinishOptions:
    """What finishing changes in a session before writing; None keeps what session.json says."""

    formats: Sequence[str] = DEFAULT_FORMATS
    start_line: int | None = None
    continue_from: Path | None = None  # another session folder: number on after its last line
    width: int | None = None
    moderator_label: str | None = None
    moderator: str | None = None  # this cluster (SPEAKER_03) becomes the moderator, informants renumbered
    map_file: Path | None = None  # the researcher's speaker map (TOML)
    merge: bool = False  # the map may give two clusters one label (one person split in two)
    names_file: Path | None = None  # names to pseudonymise in every export (TOML)
    english: bool = False
    timestamps: bool = False

    def __post_init__(self) -> None:
        if self.start_line is not None and self.continue_from is not None:
            raise InputError("Give either --start-line or --continue-from, not both.")
        if self.moderator is not None and self.map_file is not None:
            raise InputError("Give either --moderator or --map, not both: the map file names the moderator too.")
        object.__setattr__(self, "formats", tuple(parse_formats(self.formats)))
        if self.moderator_label is not None:
            check_moderator_label(self.moderator_label)


@dataclass(frozen=True)
class Exported:
    """``transcribe export``: the files written, and the names replaced when a names file was given."""

    folder: Path
    session: Session
    records: tuple[ExportRecord, ...]
    names_file: Path | None = None

    def to_json(self) -> list[dict]:
        return [{"format": r.format, "file": r.file, "sha256": r.sha256} for r in self.records]

    def lines(self) -> list[str]:
        lines = [f"{self.folder / record.file}  sha256 {record.sha256[:16]}…" for record in self.records]
        if self.names_file is not None and self.session.pseudonymisation:
            done = self.session.pseudonymisation
            lines.append(f"Names replaced: {done['replacements']} ({done['names']} names in {self.names_file}).")
        return lines


def last_line(folder: Path) -> int:
    """The number of the last line of another session's transcript, from its session.json."""
    other = Session.load(folder)
    lines = build_document(other).lines
    return lines[-1].number if lines else other.start_line - 1


def finish(
    session: Session, folder: Path, options: FinishOptions = FinishOptions(), names: Names | None = None
) -> list[ExportRecord]:
    """Label, number and export a transcribed ``session`` into ``folder``, record the exports, save it.

    The caller holds the session lock. ``names`` are the loaded ``options.names_file`` when the
    caller has read it already (``run`` reads it before hours of work); otherwise it is read here.
    """
    folder = Path(folder)
    if options.continue_from is not None and Path(options.continue_from).resolve() == folder.resolve():
        raise InputError(
            f"--continue-from {options.continue_from} is this session itself; give the previous session's folder."
        )
    if names is None and options.names_file is not None:
        names = load_names(options.names_file)
    if options.moderator_label is not None:
        if session.speaker_map is not None:
            session.speaker_map = relabel_moderator(
                session.speaker_map, session.moderator_label, options.moderator_label
            )
        session.moderator_label = options.moderator_label
    if (options.map_file is not None or options.moderator is not None) and session.utterances is None:
        raise SessionError(
            f"Session '{session.name}' has no transcript yet, so there are no speakers to map. "
            "Run 'transcribe run' first."
        )
    if options.map_file is not None:
        session.speaker_map = load_map(options.map_file, session, options.merge)
    if options.moderator is not None:
        session.speaker_map = propose_map(
            session.utterances, session.informants, session.moderator_label, moderator_cluster=options.moderator
        )
    if options.continue_from is not None:
        session.start_line = last_line(options.continue_from) + 1
    if options.start_line is not None:
        session.start_line = options.start_line
    if options.width is not None:
        session.width = options.width
    if names is None and session.pseudonymisation:
        raise InputError(
            f"The exports of session '{session.name}' were pseudonymised with a names file "
            f"({session.pseudonymisation['names']} names). Give it again with --names so no real name comes back "
            "(to export the names as heard on purpose, give an empty names file)."
        )
    document = build_document(session, options.english, options.timestamps, names)
    records = write_exports(document, folder, options.formats)
    session.exports = [record for record in session.exports if record.format not in options.formats] + records
    if names is not None:
        session.pseudonymisation = (
            {"names": len(names.names), "replacements": document.replacements} if names.names else None
        )
    session.save(folder)
    return records


def export_session(folder: Path, options: FinishOptions) -> Exported:
    """``transcribe export``: finish the session in ``folder`` again from session.json alone."""
    folder = Path(folder)
    names = (
        load_names(options.names_file) if options.names_file is not None else None
    )  # before the lock: a typo waits for no one
    with locked(folder):
        session = Session.load(folder)
        records = finish(session, folder, options, names)
    return Exported(folder, session, tuple(records), options.names_file)
