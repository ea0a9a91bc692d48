"""The records every stage speaks: plain, frozen dataclasses with no behaviour beyond their data.

This is the ground floor of the package: it imports nothing of the project. Stages import their
inputs and outputs from here, and ``session.py`` serialises them, so persistence never has to
import a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_RATE = 16000  # every stage works on 16 kHz mono float32 samples

Label = int | str  # informant number, the moderator label ("M"), or an observer ("O1")
MODERATOR = "M"


@dataclass(frozen=True)
class ModelInfo:
    """Which model made a result: recorded in session.json and export headers."""

    role: str  # "asr" | "segmentation" | "embedding" | "diarization"
    name: str
    path: str
    sha256: str  # of the weights file
    revision: str | None = None  # the source repository's commit, when a manifest records one

    def to_dict(self) -> dict:
        return {
            "role": self.role,
            "name": self.name,
            "path": self.path,
            "sha256": self.sha256,
            "revision": self.revision,
        }


@dataclass(frozen=True)
class Source:
    """One recording file of a session, as it was at intake."""

    path: str  # absolute path, so purge finds it again
    file: str  # file name, as shown in exports
    sha256: str
    size: int
    offset: float  # seconds on the session timeline
    duration: float
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    text: str
    probability: float | None  # Whisper's; None for a word a person wrote in the review editor
    # Why the word is suspected of being invented (asr.guard: no speech under it, a repetition
    # loop); None for a word heard in speech. Suspects stay in session.json and show on the review
    # page; exports leave them out unless a person keeps them by editing the turn.
    suspect: str | None = None


@dataclass(frozen=True)
class Transcription:
    words: tuple[Word, ...]
    language: str
    model: ModelInfo
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """One stretch of one speaker's speech, in seconds on the session timeline."""

    start: float
    end: float
    speaker: str  # "SPEAKER_00", …


@dataclass(frozen=True)
class Diarization:
    turns: tuple[Turn, ...]  # as the pipeline found them; may overlap
    exclusive: tuple[Turn, ...]  # one speaker at a time; used to attribute words
    models: tuple[ModelInfo, ...]
    settings: dict  # the tunables actually used
    # pairs of speakers who sound alike, perhaps one person split in two: (a, b, similarity)
    alike: tuple[tuple[str, str, float], ...] = ()

    @property
    def speakers(self) -> list[str]:
        return sorted({turn.speaker for turn in self.turns})


@dataclass(frozen=True)
class Utterance:
    """Consecutive words of one speaker: a turn of the transcript."""

    speaker: str
    start: float
    end: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass(frozen=True)
class ExportRecord:
    """One written export: re-read and hashed, so purge can prove it before the audio goes."""

    format: str
    file: str  # relative to the session folder
    sha256: str
    size: int
    written: str
    revision: int = 0  # the session revision it was rendered from (older sessions: 0)
