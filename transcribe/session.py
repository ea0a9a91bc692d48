"""The one place that reads and writes ``session.json``.

A session folder is the unit of persistence: one interview, one folder. ``session.json`` holds
every derived fact (sources and their hashes, models, diarisation turns, words, utterances, the
speaker map, exports and their hashes, purge state) and never audio. Each stage saves it with an
atomic write, so a killed run resumes from the last finished stage, and everything after
transcription works from this file alone, after the audio is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import __version__
from .errors import SessionError
from .files import ensure_dir, write_atomic
from .receipt import PurgeState
from .records import (
    MODERATOR,
    Diarization,
    ExportRecord,
    Label,
    ModelInfo,
    Source,
    Transcription,
    Turn,
    Utterance,
    Word,
)
from .review.edits import Review

SCHEMA = "transcribe.session/1"
FILENAME = "session.json"
LOCKNAME = ".transcribe.lock"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Session:
    name: str
    informants: list[int]
    language: str
    sources: list[Source]
    moderator_label: str = MODERATOR
    created: str = field(default_factory=now)
    tool_version: str = __version__
    diarization: Diarization | None = None
    transcription: Transcription | None = None
    utterances: list[Utterance] | None = None
    speaker_map: dict[str, Label] | None = None
    start_line: int = 1
    width: int = 80
    exports: list[ExportRecord] = field(default_factory=list)
    # {"names": n, "replacements": n}: never the names themselves, which are the key to the pseudonyms
    pseudonymisation: dict | None = None
    purge: dict | None = None  # written by purge.py; its shape is in receipt.py
    review: Review | None = None  # a person's corrections over the machine output (review/edits.py)
    revision: int = 0  # bumped by every save, so a writer can tell that session.json changed under it

    @property
    def duration(self) -> float:
        return sum(source.duration for source in self.sources)

    @property
    def purge_state(self) -> PurgeState | None:
        """Where the purge of this session stands; None before any purge."""
        return PurgeState(self.purge["state"]) if self.purge else None

    # -- persistence -------------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        ensure_dir(Path(folder))
        self.revision += 1
        write_atomic(Path(folder) / FILENAME, json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> Session:
        path = Path(folder) / FILENAME
        if not path.is_file():
            raise SessionError(f"{folder} holds no session ({FILENAME} is missing). Run 'transcribe run' first.")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SessionError(
                f"{path} cannot be read ({exc}). Restore it from a backup or run the session again."
            ) from None
        if data.get("schema") != SCHEMA:
            raise SessionError(f"{path} has schema {data.get('schema')!r}; this version reads {SCHEMA}.")
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise SessionError(
                f"{path} is incomplete or damaged ({exc!r}). Run the session again into a new folder."
            ) from None

    @staticmethod
    def exists(folder: Path) -> bool:
        return (Path(folder) / FILENAME).is_file()

    # -- (de)serialisation ------------------------------------------------------------------

    def to_dict(self) -> dict:
        words = list(self.transcription.words) if self.transcription else []
        return {
            "schema": SCHEMA,
            "name": self.name,
            "tool_version": self.tool_version,
            "created": self.created,
            "updated": now(),
            "informants": self.informants,
            "moderator_label": self.moderator_label,
            "language": self.language,
            "duration": round(self.duration, 3),
            "sources": [asdict(source) for source in self.sources],
            "diarization": _diarization_to_dict(self.diarization) if self.diarization else None,
            "transcription": _transcription_to_dict(self.transcription) if self.transcription else None,
            "utterances": _utterances_to_dict(self.utterances, words) if self.utterances is not None else None,
            "speaker_map": self.speaker_map,
            "numbering": {"start_line": self.start_line, "width": self.width},
            "exports": [asdict(record) for record in self.exports],
            "pseudonymisation": self.pseudonymisation,
            "purge": self.purge,
            "review": self.review.to_dict() if self.review else None,
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Session:
        transcription = _transcription_from_dict(data["transcription"]) if data.get("transcription") else None
        words = list(transcription.words) if transcription else []
        utterances = data.get("utterances")
        return cls(
            name=data["name"],
            informants=[int(n) for n in data["informants"]],
            language=data["language"],
            sources=[Source(**source) for source in data["sources"]],
            moderator_label=data.get("moderator_label", MODERATOR),
            created=data["created"],
            tool_version=data["tool_version"],
            diarization=_diarization_from_dict(data["diarization"]) if data.get("diarization") else None,
            transcription=transcription,
            utterances=_utterances_from_dict(utterances, words) if utterances is not None else None,
            speaker_map=data.get("speaker_map"),
            start_line=data["numbering"]["start_line"],
            width=data["numbering"]["width"],
            exports=[ExportRecord(**record) for record in data.get("exports", [])],
            pseudonymisation=data.get("pseudonymisation"),
            purge=data.get("purge"),
            review=Review.from_dict(data["review"], words) if data.get("review") else None,
            revision=int(data.get("revision", 0)),
        )


@contextlib.contextmanager
def locked(folder: Path, *, created: bool = False) -> Iterator[None]:
    """Hold the session folder for one process; a second one is refused, never interleaved.

    When the work fails before it wrote anything, the lock file goes again, and so does the
    folder if this run ``created`` it: a refused run leaves nothing behind.
    """
    ensure_dir(Path(folder))
    path = Path(folder) / LOCKNAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            raise SessionError(
                f"Another transcribe process (pid {holder}) is working on {folder}. Wait for it to finish, then run again."
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # a full disk: the lock holds without the pid, which only names the holder in messages
        try:
            yield
        except BaseException:
            _remove_if_unused(Path(folder), path, created)  # still holding the lock: no one else can start
            raise
    finally:
        os.close(fd)


def _remove_if_unused(folder: Path, lock: Path, created: bool) -> None:
    try:
        if [entry.name for entry in folder.iterdir()] == [lock.name]:
            lock.unlink()
            if created:
                folder.rmdir()
    except OSError:
        pass  # tidying is a courtesy; the error that brought us here is the one to report


def _turns_to_list(turns) -> list:
    return [[turn.start, turn.end, turn.speaker] for turn in turns]


def _turns_from_list(rows) -> tuple[Turn, ...]:
    return tuple(Turn(float(start), float(end), str(speaker)) for start, end, speaker in rows)


def _diarization_to_dict(diarization: Diarization) -> dict:
    return {
        "models": [model.to_dict() for model in diarization.models],
        "settings": diarization.settings,
        "turns": _turns_to_list(diarization.turns),
        "exclusive": _turns_to_list(diarization.exclusive),
        "alike": [list(pair) for pair in diarization.alike],
    }


def _diarization_from_dict(data: dict) -> Diarization:
    return Diarization(
        turns=_turns_from_list(data["turns"]),
        exclusive=_turns_from_list(data["exclusive"]),
        models=tuple(ModelInfo(**model) for model in data["models"]),
        settings=data["settings"],
        alike=tuple(
            (str(a), str(b), float(similar)) for a, b, similar in data.get("alike", [])
        ),  # older sessions: none
    )


def _transcription_to_dict(transcription: Transcription) -> dict:
    return {
        "language": transcription.language,
        "model": transcription.model.to_dict(),
        "settings": transcription.settings,
        "words": [_word_row(w) for w in transcription.words],
    }


def _transcription_from_dict(data: dict) -> Transcription:
    return Transcription(
        words=tuple(_word_from_row(row) for row in data["words"]),
        language=data["language"],
        model=ModelInfo(**data["model"]),
        settings=data["settings"],
    )


def _word_row(word: Word) -> list:
    """[start, end, text, probability], and the suspicion as a fifth item only when there is one."""
    row = [word.start, word.end, word.text, word.probability]
    return row + [word.suspect] if word.suspect else row


def _word_from_row(row: list) -> Word:
    start, end, text, probability, *suspect = row
    return Word(float(start), float(end), str(text), float(probability), str(suspect[0]) if suspect else None)


def _utterances_to_dict(utterances: list[Utterance], words: list[Word]) -> list[dict]:
    """Utterances refer to the transcription's words by index range, so words are stored once."""
    rows = []
    position = 0
    for utterance in utterances:
        first = position
        position += len(utterance.words)
        if tuple(words[first:position]) != utterance.words:
            raise SessionError("Internal error: utterances do not follow the transcription's words in order.")
        rows.append(
            {"speaker": utterance.speaker, "start": utterance.start, "end": utterance.end, "words": [first, position]}
        )
    return rows


def _utterances_from_dict(rows: list[dict], words: list[Word]) -> list[Utterance]:
    return [
        Utterance(
            speaker=row["speaker"],
            start=row["start"],
            end=row["end"],
            words=tuple(words[row["words"][0] : row["words"][1]]),
        )
        for row in rows
    ]
