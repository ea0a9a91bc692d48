"""A small, fixed, hand-made session for tests that work from session.json alone.

No speech models run: the words, turns and speaker map are written out here. The session has a
moderator who opens and asks questions, two informants (one long turn that wraps at 80
characters, æøå, names to pseudonymise), a late observer, and two recording parts.
"""

from __future__ import annotations

import os
from pathlib import Path

from transcribe.records import Diarization, ModelInfo, Source, Transcription, Turn, Utterance, Word
from transcribe.session import Session

GOLDEN = Path(__file__).parent / "golden"

# (cluster, start, end, text): the conversation, in order.
SCRIPT = [
    ("SPEAKER_00", 0.5, 4.1, "Velkommen, og takk for at dere kom. Hva betyr selvhjelp for dere?"),
    ("SPEAKER_02", 4.8, 9.6, "For meg betyr det å ta ansvar for mitt eget liv. Kari sa det samme."),
    (
        "SPEAKER_01",
        10.2,
        24.9,
        "Vi møtes utenom gruppa, av og til. Vi skiller mellom gruppemøte og privatmøte. Her snakker vi "
        "om problemer og ting som er taushetsbelagt. Ute gjør vi ikke det, og Karis mann vet ingenting.",
    ),
    ("SPEAKER_00", 25.3, 27.0, "Hvor ofte møtes dere?"),
    ("SPEAKER_03", 31.0, 32.4, "Unnskyld at vi er sent ute."),
    (
        "SPEAKER_02",
        33.0,
        38.2,
        "Hver tirsdag. Jeg har sagt til mannen min: Gruppa mi får du aldri, sa Ole Hansen også.",
    ),
]
SPEAKER_MAP = {"SPEAKER_00": "M", "SPEAKER_02": 1, "SPEAKER_01": 2, "SPEAKER_03": "O1"}
ASR_MODEL = ModelInfo(
    "asr",
    "whisper-base (embedded)",
    "/models/whisper-base",
    "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
)
DIARIZATION_MODELS = (
    ModelInfo(
        "segmentation",
        "pyannote segmentation-3.0",
        "/models/seg.bin",
        "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298",
    ),
    ModelInfo(
        "embedding",
        "CAM++ (3D-Speaker)",
        "/models/campplus.pt",
        "1f3a8c2e7b9d4f6a0c5e8b1d3f7a9c2e4b6d8f0a1c3e5b7d9f1a3c5e7b9d1f3a",
    ),
)


def words(text: str, start: float, end: float) -> tuple[Word, ...]:
    """Words spread evenly over the turn, times to the hundredth as ASR gives them."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    return tuple(
        Word(round(start + i * step, 2), round(start + (i + 1) * step - 0.05, 2), token, 0.9)
        for i, token in enumerate(tokens)
    )


def make_session(
    name: str = "gruppe1", informants: tuple[int, ...] = (1, 2, 3), script=SCRIPT, speaker_map=SPEAKER_MAP
) -> Session:
    utterances = [Utterance(speaker, start, end, words(text, start, end)) for speaker, start, end, text in script]
    for index, utterance in enumerate(utterances):  # utterance times are their words' times, as align makes them
        utterances[index] = Utterance(
            utterance.speaker, utterance.words[0].start, utterance.words[-1].end, utterance.words
        )
    turns = tuple(Turn(u.start, u.end, u.speaker) for u in utterances)
    return Session(
        name=name,
        informants=list(informants),
        language="no",
        sources=[
            Source(
                path=f"/data/{name}-del1.m4a",
                file=f"{name}-del1.m4a",
                sha256="a" * 64,
                size=300_000,
                offset=0.0,
                duration=30.0,
                codec="aac",
                sample_rate=48000,
                channels=1,
            ),
            Source(
                path=f"/data/{name}-del2.m4a",
                file=f"{name}-del2.m4a",
                sha256="b" * 64,
                size=100_000,
                offset=30.0,
                duration=10.0,
                codec="aac",
                sample_rate=48000,
                channels=1,
            ),
        ],
        created="2025-01-01T00:00:00+00:00",
        tool_version="0.1.0",
        diarization=Diarization(turns, turns, DIARIZATION_MODELS, {"threshold": 0.6}),
        transcription=Transcription(tuple(w for u in utterances for w in u.words), "no", ASR_MODEL, {"beam_size": 5}),
        utterances=utterances,
        speaker_map=dict(speaker_map),
    )


def save_session(folder: Path, **kwargs) -> Session:
    """The fixed session saved as a session folder, as 'transcribe run' would leave it."""
    session = make_session(**kwargs)
    session.save(Path(folder))
    return session


def check_golden(name: str, data: bytes) -> None:
    """Compare an export byte for byte with tests/golden/NAME.

    After a deliberate format change, run the tests with TRANSCRIBE_UPDATE_GOLDEN=1 to rewrite the
    golden files, and read their diff before committing.
    """
    path = GOLDEN / name
    if os.environ.get("TRANSCRIBE_UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes(), f"{name} differs from its golden file"
