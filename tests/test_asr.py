"""Real Whisper (the embedded base model) on real Norwegian speech (NPSC, CC0)."""

from pathlib import Path

import pytest

from transcribe import asr, audio
from transcribe.errors import InputError

NPSC = Path(__file__).parent / "fixtures" / "npsc"


@pytest.fixture(scope="module")
def transcriber():
    return asr.Transcriber()


@pytest.mark.slow
def test_parliament_clip_gives_timed_norwegian_words(transcriber):
    recording = audio.load([NPSC / "norwegian-medium-8s.mp3"])
    result = transcriber(recording.audio, "nb")
    text = " ".join(w.text for w in result.words).lower()
    assert result.language == "no"
    # Whisper base is weak on Norwegian; names and key words still come through.
    for word in ("fredrik", "og", "som", "har"):
        assert word in text
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and 0 <= starts[0] < 1.0 and result.words[-1].end <= recording.duration + 0.1
    assert all(w.end >= w.start and 0 <= w.probability <= 1 for w in result.words)
    assert result.model.sha256 == asr.models.WHISPER_BASE_SHA256


@pytest.mark.slow
def test_short_clip_and_progress(transcriber):
    recording = audio.load([NPSC / "norwegian-short-3s.mp3"])
    seen = []
    result = transcriber(recording.audio, "no", progress=lambda done, total: seen.append((done, total)))
    assert "lovlig" in " ".join(w.text for w in result.words).lower()
    assert seen and seen[-1][0] == seen[-1][1] == pytest.approx(recording.duration)


@pytest.mark.parametrize("code, expected", [("no", "no"), ("NB", "no"), ("nn", "nn")])
def test_language_codes(code, expected):
    assert asr.normalise_language(code) == expected


def test_other_languages_are_refused_not_detected():
    with pytest.raises(InputError, match="'no'"):
        asr.normalise_language("auto")
