"""Real Whisper (the embedded base model) on real Norwegian speech (NPSC, CC0)."""

from pathlib import Path

import numpy as np
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


def test_windows_cut_in_the_pause_nearest_the_boundary():
    rate = audio.SAMPLE_RATE
    noise = (np.random.default_rng(7).standard_normal(100 * rate) * 0.1).astype(np.float32)
    noise[47 * rate : 48 * rate] = 0.0  # the one pause, 7 s after the nominal 40 s boundary
    parts = asr.windows(noise, length=40, search=10)
    assert parts[0][0] == 0 and parts[-1][1] == len(noise)
    assert all(end == start for (_, end), (start, _) in zip(parts, parts[1:]))  # contiguous, no sample lost
    assert 47 * rate <= parts[0][1] <= 48 * rate
    assert all(end - start <= 50 * rate for start, end in parts)
    assert asr.windows(noise[: 50 * rate], length=40, search=10) == [(0, 50 * rate)]  # short enough: one call


@pytest.mark.slow
def test_long_recordings_are_transcribed_in_windows_with_true_times(transcriber, monkeypatch):
    clip = audio.load([NPSC / "norwegian-medium-8s.mp3"]).audio
    rate = audio.SAMPLE_RATE
    twice = np.concatenate([clip, np.zeros(2 * rate, dtype=np.float32), clip])
    monkeypatch.setattr(asr, "WINDOW_SECONDS", len(clip) / rate + 1)  # the cut falls in the pause
    monkeypatch.setattr(asr, "WINDOW_SEARCH_SECONDS", 1.5)
    (_, cut), (start, _) = asr.windows(twice, asr.WINDOW_SECONDS, asr.WINDOW_SEARCH_SECONDS)
    assert cut == start and len(clip) < cut < len(clip) + 2 * rate
    words = transcriber(twice, "no").words
    alone = transcriber(twice[cut:], "no").words  # what the second window hears, timed from its own start
    second = [w for w in words if w.start >= cut / rate]
    assert len(alone) >= 8 and [w.text for w in second] == [w.text for w in alone]
    assert [w.start for w in second] == pytest.approx([w.start + cut / rate for w in alone], abs=0.002)
    assert "fredrik" in " ".join(w.text for w in words[: len(words) - len(second)]).lower()  # the first window's words
