#!/usr/bin/env python3
"""Peak memory of decoding a long recording: N hours of iPhone-like AAC → 16 kHz mono float32.

A 4-hour session decodes to 4 × 3600 × 16000 × 4 bytes = 922 MB of samples; this measures what
``transcribe.audio.load`` needs on top of that. Each measurement runs in a fresh process and
reads the kernel's high-water mark of resident memory (VmHWM), so allocator caches and freed
temporaries count. The recordings are generated with ffmpeg (a 10-minute AAC piece, encoded once
and joined without re-encoding), in a temporary folder unless ``--keep`` names one.

    python scripts/bench_memory.py                       # one 4-hour .m4a
    python scripts/bench_memory.py --hours 2 --parts 4   # a session recorded in four parts
    python scripts/bench_memory.py --files a.m4a b.m4a   # your own recordings
    python scripts/bench_memory.py --asr --hours 2       # Whisper's features: whole vs in windows
    python scripts/bench_memory.py --diarize 10 30       # diarisation's peak on 10 and 30 minutes

``--asr`` measures the other large allocation of a long run: the log-mel features faster-whisper
builds for everything one ``transcribe`` call is given (the sequential decoder, used on CPU). It
feeds N hours of speech-like samples to faster-whisper's feature extractor once whole and once
in the windows ``transcribe.asr`` cuts (``WINDOW_SECONDS``), each in a fresh process.
``--diarize`` runs the embedded diarisation on sessions of the given lengths (the committed test
recordings laid end to end, as scripts/bench.py does) and reports each one's peak, so the growth
per hour can be read off.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PIECE_SECONDS = 600

# Each measuring script below runs in a fresh process and reads the kernel's counters with this.
STATUS = r"""
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
"""

MEASURE = (
    STATUS
    + r"""
import json, sys, time
from transcribe import audio

before = status("VmRSS")
started = time.perf_counter()
session = audio.load(sys.argv[1:])
seconds = time.perf_counter() - started
print(json.dumps({"baseline": before, "peak": status("VmHWM"), "after": status("VmRSS"),
                  "samples": session.audio.nbytes, "duration": session.duration, "seconds": seconds}))
"""
)

FEATURES = (
    STATUS
    + r"""
import json, sys
import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor
from transcribe import asr

hours, windowed = float(sys.argv[1]), sys.argv[2] == "windows"
samples = (np.random.default_rng(0).standard_normal(int(hours * 3600 * 16000)) * 0.1).astype(np.float32)
before = status("VmRSS")
extract = FeatureExtractor()
parts = asr.windows(samples, asr.WINDOW_SECONDS, asr.WINDOW_SEARCH_SECONDS) if windowed else [(0, len(samples))]
for first, last in parts:
    features = extract(samples[first:last], chunk_length=30)
    del features
print(json.dumps({"baseline": before, "peak": status("VmHWM"), "windows": len(parts), "samples": samples.nbytes}))
"""
)

DIARIZE = (
    STATUS
    + r"""
import json, sys, time
sys.path.insert(0, sys.argv[2])
from bench import make_session
from pathlib import Path
from transcribe.audio import load
from transcribe.diarize import Diarizer

minutes = float(sys.argv[1])
samples = load(make_session(Path(sys.argv[3]), minutes, False)).audio
diarizer = Diarizer()
before = status("VmRSS")
started = time.perf_counter()
result = diarizer(samples)
print(json.dumps({"minutes": len(samples) / 16000 / 60, "before": before, "peak": status("VmHWM"),
                  "seconds": time.perf_counter() - started, "speakers": len({t.speaker for t in result.turns})}))
"""
)


def measure_diarization(lengths: list[float]) -> None:
    mb = 1e6
    scripts = Path(__file__).resolve().parent
    for minutes in lengths:
        with tempfile.TemporaryDirectory() as scratch:
            done = subprocess.run(
                [sys.executable, "-c", DIARIZE, str(minutes), str(scripts), scratch], capture_output=True, text=True
            )
        if done.returncode:
            sys.exit(f"Diarisation failed:\n{done.stderr}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{r['minutes']:6.1f} min: peak {r['peak'] / mb:6.0f} MB (models and samples loaded: {r['before'] / mb:.0f} MB), "
            f"{r['seconds']:.0f} s, {r['speakers']} speakers"
        )


def measure_features(hours: float) -> None:
    mb = 1e6
    print(
        f"faster-whisper features for {hours:g} h of speech (the samples themselves: {hours * 3600 * 16000 * 4 / mb:.0f} MB)"
    )
    for how in ("whole", "windows"):
        done = subprocess.run([sys.executable, "-c", FEATURES, str(hours), how], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"Feature extraction failed:\n{done.stderr}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"{how:<8} {result['windows']:3d} call(s): peak {result['peak'] / mb:6.0f} MB, "
            f"{(result['peak'] - result['baseline']) / mb:6.0f} MB above the samples"
        )


def make_recordings(folder: Path, hours: float, parts: int) -> list[Path]:
    """``parts`` AAC .m4a files (48 kHz mono, 32 kbit/s, like Voice Memos) of ``hours`` in all."""
    per_part = hours * 3600 / parts
    files = []
    for index in range(parts):
        # One piece per part (parts of a session differ; the tool refuses the same part twice), speech-like
        # enough for AAC to work at a realistic rate: a wandering tone plus a little noise.
        piece = folder / f"piece{index + 1}.m4a"
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
                f"aevalsrc=0.3*sin(2*PI*({200 + 20 * index}+80*sin(2*PI*0.3*t))*t)+0.02*(random(0)-0.5)"
                f":s=48000:d={min(PIECE_SECONDS, per_part)}",
                "-c:a",
                "aac",
                "-b:a",
                "32k",
                "-ac",
                "1",
                str(piece),
            ],
            check=True,
        )
        listing = folder / f"part{index + 1}.txt"
        listing.write_text(f"file '{piece}'\n" * max(1, round(per_part / PIECE_SECONDS)))
        out = folder / f"part{index + 1}.m4a"
        subprocess.run(
            [
                "ffmpeg",
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-c",
                "copy",
                str(out),
            ],
            check=True,
        )
        files.append(out)
    return files


def measure(files: list[Path]) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, *map(str, files)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"Decoding failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=4.0, help="total length to generate (default 4)")
    parser.add_argument("--parts", type=int, default=1, help="split into this many files (default 1)")
    parser.add_argument("--files", nargs="+", type=Path, help="measure these recordings instead of generating")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep the files")
    parser.add_argument("--asr", action="store_true", help="measure Whisper's feature extraction instead of decoding")
    parser.add_argument(
        "--diarize", nargs="+", type=float, metavar="MINUTES", help="measure diarisation on sessions of these lengths"
    )
    args = parser.parse_args()
    if args.asr:
        measure_features(args.hours)
        return
    if args.diarize:
        measure_diarization(args.diarize)
        return

    with tempfile.TemporaryDirectory() as scratch:
        files = args.files
        if not files:
            folder = args.keep or Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            files = make_recordings(folder, args.hours, args.parts)
        result = measure(files)
    mb = 1e6
    extra = result["peak"] - result["baseline"]
    print(f"recording:  {result['duration'] / 3600:.2f} h in {len(files)} file(s)")
    print(f"samples:    {result['samples'] / mb:8.0f} MB  (16 kHz mono float32)")
    print(f"baseline:   {result['baseline'] / mb:8.0f} MB  (Python + numpy + PyAV)")
    print(
        f"peak:       {result['peak'] / mb:8.0f} MB  → {extra / mb:.0f} MB for decoding, "
        f"{extra / result['samples']:.2f} × the samples"
    )
    print(f"after:      {result['after'] / mb:8.0f} MB  (resident once decoded)")
    print(f"time:       {result['seconds']:8.1f} s")


if __name__ == "__main__":
    main()
