"""Decode recordings in memory to one 16 kHz mono float32 timeline.

iPhone Voice Memos write AAC in an MPEG-4 container (.m4a); .wav, .mp3, .flac, .ogg and .caf
work too, and so does the audio track of a video. Decoding uses PyAV (FFmpeg), which
faster-whisper already depends on. Nothing decoded is ever written to disk.

Several files of one session (a recording made in parts) are laid end to end; each source keeps
its offset on that timeline, its sha256 (taken here, at intake, for the purge receipt) and what
it was: codec, rate, channels, duration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .records import SAMPLE_RATE, Source

# A session whose loudest sample is below this (-60 dBFS) holds no speech to transcribe.
SILENCE_PEAK = 1e-3
# Room is made up front for what the headers declare, up to this much (1.8 GB of samples); a
# longer claim is not believed until the samples arrive, so a damaged header cannot exhaust memory.
MAX_RESERVE_SECONDS = 8 * 3600
HEADER_SLACK_SECONDS = 1.0  # decoders may give a few frames more than the header declares


@dataclass(frozen=True)
class SessionAudio:
    audio: np.ndarray  # float32, mono, SAMPLE_RATE
    sources: tuple[Source, ...]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


def sha256_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


class _Timeline:
    """Samples appended in place into one buffer, so a long session is held in memory once: not
    as a list of frames plus the array they are joined into (which needs twice the memory)."""

    def __init__(self) -> None:
        self._buffer = np.empty(0, dtype=np.float32)
        self.size = 0

    def reserve(self, count: int) -> None:
        """Make room for ``count`` more samples; memory is only used once samples are written."""
        needed = self.size + min(count, MAX_RESERVE_SECONDS * SAMPLE_RATE)
        if needed > len(self._buffer):
            grown = np.empty(needed, dtype=np.float32)
            grown[: self.size] = self._buffer[: self.size]
            self._buffer = grown

    def append(self, samples: np.ndarray) -> None:
        end = self.size + len(samples)
        if end > len(self._buffer):  # more than the header said: grow by half, not frame by frame
            self.reserve(max(len(samples), len(self._buffer) // 2))
        self._buffer[self.size : end] = samples
        self.size = end

    def samples(self) -> np.ndarray:
        return self._buffer[: self.size]


def decode(path: str | Path) -> tuple[np.ndarray, dict]:
    """Decode one file to 16 kHz mono float32; return the samples and what the stream was."""
    timeline = _Timeline()
    info = _decode_into(Path(path), timeline)
    return timeline.samples(), info


def _decode_into(path: Path, timeline: _Timeline) -> dict:
    """Append the samples of one file to ``timeline``; return what the stream was."""
    import av  # PyAV; imported here so `transcribe --help` stays fast

    check_readable(path)
    start = timeline.size
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path} is not a recording that can be decoded ({_reason(exc)}). "
            "Check that it is an audio file (.m4a, .wav, .mp3, .flac, .ogg, .caf) and not damaged."
        ) from None
    with container:
        streams = container.streams.audio
        if not streams:
            raise InputError(f"{path} has no audio track. Pass the recording itself, not a picture or a silent video.")
        stream = streams[0]
        declared = _declared_duration(container, stream)
        info = {
            "codec": stream.codec_context.name,
            "sample_rate": int(stream.codec_context.sample_rate or 0),
            "channels": int(stream.codec_context.channels or 0),
        }
        timeline.reserve(round(((declared or 0) + HEADER_SLACK_SECONDS) * SAMPLE_RATE))
        # The resampler mixes any channel layout down to mono and converts the rate.
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                frame.pts = None
                for out in resampler.resample(frame):
                    timeline.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                timeline.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if timeline.size == start:
                raise InputError(
                    f"{path} could not be decoded ({_reason(exc)}). The file may be truncated or damaged; "
                    "copy it again from the phone."
                ) from None
            raise InputError(
                f"{path} is damaged after {(timeline.size - start) / SAMPLE_RATE:.1f} s ({_reason(exc)}). "
                "Copy it again from the phone; the tool will not transcribe half a recording silently."
            ) from None
    if timeline.size == start:
        raise InputError(f"{path} contains no audio samples. Check that the recording is not empty.")
    decoded = (timeline.size - start) / SAMPLE_RATE
    if declared and decoded < declared - max(1.0, 0.02 * declared):
        raise InputError(
            f"{path} is truncated: its header says {declared:.1f} s but only {decoded:.1f} s could be decoded. "
            "Copy it again from the phone; the tool will not transcribe half a recording silently."
        )
    return info


def _declared_seconds(path: Path) -> float:
    """What a file's header declares, read before decoding; 0 when unreadable (decoding says why)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = container.streams.audio
            return (_declared_duration(container, streams[0]) or 0.0) if streams else 0.0
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        return 0.0


def _declared_duration(container, stream) -> float | None:
    """The length the file's header claims, to catch files cut short after the header."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def load(
    paths: list[str | Path],
    progress: Callable[[int, int], None] | None = None,
    intake: list[tuple[str, int]] | None = None,
) -> SessionAudio:
    """Decode the parts of one session and lay them end to end on one timeline.

    ``intake``: each file's (sha256, size) when the caller has just taken them, so no recording
    is read twice for its hash.
    """
    if not paths:
        raise InputError("No recording given. Pass one or more audio files.")
    paths = [Path(raw).expanduser() for raw in paths]
    timeline = _Timeline()
    # Room for every part at once, so the parts are decoded straight onto one timeline.
    timeline.reserve(round(sum(_declared_seconds(path) + HEADER_SLACK_SECONDS for path in paths) * SAMPLE_RATE))
    sources: list[Source] = []
    for index, path in enumerate(paths):
        start = timeline.size
        info = _decode_into(path, timeline)
        sha256, size = intake[index] if intake else sha256_and_size(path)
        sources.append(
            Source(
                path=str(path.resolve()),
                file=path.name,
                sha256=sha256,
                size=size,
                offset=start / SAMPLE_RATE,
                duration=(timeline.size - start) / SAMPLE_RATE,
                **info,
            )
        )
        if progress:
            progress(index + 1, len(paths))
    _check_unique(sources)
    audio = timeline.samples()
    if max(float(audio.max()), -float(audio.min())) < SILENCE_PEAK:  # no |audio| copy of hours of samples
        names = ", ".join(source.file for source in sources)
        raise InputError(
            f"{names}: the recording is silent (no sound above -60 dBFS). "
            "Check that the right file was copied and that the microphone was on."
        )
    return SessionAudio(audio=audio, sources=tuple(sources))


def check_readable(path: Path) -> None:
    if not path.exists():
        raise InputError(f"{path} does not exist. Check the file name and folder.")
    if path.is_dir():
        raise InputError(f"{path} is a folder. Pass the audio files inside it, in recording order.")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes). Copy the recording again from the phone.")


def _check_unique(sources: list[Source]) -> None:
    seen: dict[str, str] = {}
    for source in sources:
        if source.sha256 in seen:
            raise InputError(f"{source.file} and {seen[source.sha256]} are the same recording. Pass each part once.")
        seen[source.sha256] = source.file


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip().rstrip(".") or type(exc).__name__
