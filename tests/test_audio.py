"""Decoding: every container a researcher may bring, parts on one timeline, clear refusals."""

import hashlib

import numpy as np
import pytest
from media import make_silence, make_tone

from transcribe import audio
from transcribe.errors import InputError


@pytest.mark.parametrize(
    "name, rate, channels, args",
    [
        ("voice.m4a", 48000, 1, ("-c:a", "aac", "-b:a", "64k")),
        ("stereo.wav", 44100, 2, ()),
        ("phone.wav", 8000, 1, ()),
        ("studio.flac", 96000, 1, ()),
        ("surround.wav", 48000, 6, ()),
        ("talk.mp3", 44100, 2, ("-c:a", "libmp3lame")),
        ("talk.ogg", 48000, 1, ("-c:a", "libvorbis")),
        ("memo.caf", 44100, 1, ("-c:a", "pcm_s16le")),
        ("clip.mp4", 44100, 2, ("-c:a", "aac")),
    ],
)
def test_decodes_to_16k_mono_float(tmp_path, name, rate, channels, args):
    path = make_tone(tmp_path / name, seconds=2.0, rate=rate, channels=channels, codec_args=args)
    samples, info = audio.decode(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) / audio.SAMPLE_RATE - 2.0) < 0.06  # codec padding at most a few frames
    assert info["sample_rate"] == rate and info["channels"] == channels
    # A 440 Hz tone survives resampling and down-mixing: its energy sits at 440 Hz.
    spectrum = np.abs(np.fft.rfft(samples[: audio.SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) - 440) <= 2


def test_parts_are_laid_end_to_end_with_offsets_and_hashes(tmp_path):
    first = make_tone(tmp_path / "del 1 æøå.m4a", seconds=1.5, rate=48000, codec_args=("-c:a", "aac"))
    second = make_tone(tmp_path / "del2.wav", seconds=2.0, rate=22050, frequency=660)
    session = audio.load([first, second])
    assert [s.file for s in session.sources] == ["del 1 æøå.m4a", "del2.wav"]
    assert session.sources[0].offset == 0.0
    assert session.sources[1].offset == pytest.approx(session.sources[0].duration)
    assert session.duration == pytest.approx(sum(s.duration for s in session.sources))
    assert session.sources[1].sha256 == hashlib.sha256(second.read_bytes()).hexdigest()
    assert session.sources[1].size == second.stat().st_size
    assert session.sources[0].codec == "aac" and session.sources[1].codec == "pcm_s16le"


def test_refuses_the_same_part_twice(tmp_path):
    part = make_tone(tmp_path / "a.wav")
    with pytest.raises(InputError, match="same recording"):
        audio.load([part, part])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.m4a", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: _write(d / "empty.m4a", b""), "empty"),
        (lambda d: _write(d / "notes.m4a", b"Dette er bare tekst.\n" * 50), "not a recording"),
        (lambda d: _write(d / "image.m4a", b"\x89PNG\r\n\x1a\n" + bytes(2000)), "no audio track"),
    ],
)
def test_bad_input_gets_a_plain_sentence(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        audio.load([make(tmp_path)])


@pytest.mark.parametrize("index_first", [False, True])
def test_truncated_m4a_is_refused(tmp_path, index_first):
    args = ("-c:a", "aac", *(("-movflags", "+faststart") if index_first else ()))
    whole = make_tone(tmp_path / "whole.m4a", seconds=6.0, rate=48000, codec_args=args)
    cut = _write(tmp_path / "cut.m4a", whole.read_bytes()[: whole.stat().st_size // 3])
    with pytest.raises(InputError):
        audio.load([cut])


def test_video_without_audio_is_refused(tmp_path):
    import subprocess

    video = tmp_path / "video.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x64:d=1",
            "-c:v",
            "mpeg4",
            str(video),
        ],
        check=True,
    )
    with pytest.raises(InputError, match="no audio track"):
        audio.load([video])


def test_silence_is_refused(tmp_path):
    with pytest.raises(InputError, match="silent"):
        audio.load([make_silence(tmp_path / "quiet.wav", seconds=2.0)])


def _write(path, data):
    path.write_bytes(data)
    return path
