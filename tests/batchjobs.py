"""Material for batch tests: real recordings on disk, manifests, and sessions finished by hand.

A finished session is the fixed session of tests/sessions.py over real recordings, its speech
stages marked as made with exactly what its manifest entry asks for; a batch then runs it through
the real pipeline (hashing, reuse, exports, purge) without any speech model.
"""

from __future__ import annotations

import hashlib
import wave
from dataclasses import replace
from pathlib import Path

import numpy as np
import sessions

from transcribe.batch import load_manifest
from transcribe.pipeline import diarization_request, transcription_request
from transcribe.records import Source

RATE = 16000


def tone(path: Path, frequency: float, seconds: float = 0.5) -> Path:
    """A short 16 kHz WAV, different for each frequency (a session refuses the same part twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * RATE)) / RATE
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((8000 * np.sin(2 * np.pi * frequency * t)).astype("<i2").tobytes())
    return path


def recordings(folder: Path, name: str, parts: int = 2) -> list[str]:
    """``parts`` recordings of session ``name`` in ``folder``; their paths relative to its parent."""
    base = 200 + int(hashlib.sha256(name.encode()).hexdigest()[:4], 16) % 500
    return [
        str(tone(folder / f"{name}-del{i + 1}.wav", base + 37 * i).relative_to(folder.parent)) for i in range(parts)
    ]


def write_manifest(folder: Path, text: str, name: str = "jobs.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def finish(manifest: Path, only: tuple[str, ...] = ()) -> None:
    """Leave every session of ``manifest`` (or those named) with its speech stages done."""
    for job in load_manifest(manifest).jobs:
        if only and job.name not in only:
            continue
        session = sessions.make_session(name=job.name, informants=tuple(job.options.informants))
        session.sources = [
            Source(
                str(path),
                path.name,
                hashlib.sha256(path.read_bytes()).hexdigest(),
                path.stat().st_size,
                float(i) * 0.5,
                0.5,
                "pcm_s16le",
                RATE,
                1,
            )
            for i, path in enumerate(job.audio)
        ]
        session.diarization = replace(session.diarization, settings={"request": diarization_request(job.options)})
        session.transcription = replace(session.transcription, settings={"request": transcription_request(job.options)})
        session.save(job.folder)
