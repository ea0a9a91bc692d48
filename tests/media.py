"""Real media files for tests, made with the ffmpeg command-line tool (installed by .ci/run)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_tone(
    path: Path,
    seconds: float = 1.0,
    rate: int = 16000,
    channels: int = 1,
    codec_args: tuple = (),
    frequency: int = 440,
    volume: float = 0.5,
) -> Path:
    """A sine tone (with a little noise so it is not trivially compressible) in any container."""
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={frequency}:sample_rate={rate}:duration={seconds}",
            "-af",
            f"volume={volume},aformat=channel_layouts={layout}",
            *codec_args,
            str(path),
        ],
        check=True,
    )
    return path


def make_silence(path: Path, seconds: float = 1.0) -> Path:
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=16000:cl=mono",
            "-t",
            str(seconds),
            str(path),
        ],
        check=True,
    )
    return path
