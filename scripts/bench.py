#!/usr/bin/env python3
"""Speed of this pipeline against a plain sequential baseline, on the same audio and the same weights.

* this pipeline: ``transcribe.pipeline.run`` with the project's settings (diarisation with a 2 s
  window hop, batched inference and resegmentation; Whisper int8 on CPU / float16 on a GPU, VAD, batched
  windows on a GPU), models loaded first as a batch loads them;
* baseline: what a plain script would do with the same weights: pyannote's ``SpeakerDiarization``
  with its constructor defaults (``segmentation_step=0.1``, batch size 1, overlap not excluded)
  and nothing of ours after it (no resegmentation; the networks in PyTorch, as the checkpoints
  come, not in ONNX Runtime), then faster-whisper's
  ``WhisperModel(path, device)`` and ``transcribe(audio, language=…, word_timestamps=True)`` with
  every other setting at its default (the words need times to be given to speakers, and the
  language is never detected here).

Each side runs in a fresh process, so model loading and memory are counted for each alone. For
each stage it prints wall time, real-time factor (seconds per second of audio) and peak resident
memory (sampled every 20 ms; the whole process's peak, VmHWM, is given too), then the speed-up.

Without audio files it makes a session of at least ``--minutes`` (default 10) by laying the
committed test recordings end to end, or with ``--voices`` a realistic mixture of real voices
(scripts/make_fixtures.py, which needs the shared speech folder, sox and ffmpeg).

    python scripts/bench.py                           # CPU, a generated 10-minute session
    python scripts/bench.py --device cuda --json      # on a GPU; JSON on stdout
    python scripts/bench.py --minutes 1               # a quick check that it works
    python scripts/bench.py gruppe1.m4a --asr-model nb-whisper-large
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
PIECES = [
    FIXTURES / "voices_group.m4a",
    *(FIXTURES / f"no_group_part{i}.m4a" for i in (1, 2, 3)),
    FIXTURES / "npsc" / "norwegian-medium-8s.mp3",
]
RATE = 16000
BASELINE_DIARIZATION = {
    "segmentation_step": 0.1,
    "segmentation_batch_size": 1,
    "embedding_batch_size": 1,
    "embedding_exclude_overlap": False,
    "resegmentation_window": 0,
}  # pyannote alone


# -- measuring, inside one side's process ------------------------------------------------------------


def status(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Stages:
    """Wall time and peak resident memory per stage; a thread samples VmRSS every 20 ms."""

    def __init__(self):
        self.current: str | None = None
        self.started = 0.0
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            stage = self.current
            if stage is not None:
                self.peak[stage] = max(self.peak.get(stage, 0), status("VmRSS"))

    def enter(self, stage: str) -> None:
        if stage == self.current:
            return
        now = time.perf_counter()
        if self.current is not None:
            self.seconds[self.current] = self.seconds.get(self.current, 0.0) + now - self.started
            self.peak[self.current] = max(self.peak.get(self.current, 0), status("VmRSS"))
        self.current, self.started = stage, now
        if stage is not None:
            self.peak[stage] = max(self.peak.get(stage, 0), status("VmRSS"))

    def close(self) -> dict:
        self.enter(None)
        self._stop.set()
        self._thread.join()
        return {"seconds": self.seconds, "peak_rss": self.peak, "process_peak_rss": status("VmHWM")}


def side_ours(args, audio: list[str]) -> dict:
    from transcribe.asr import Transcriber
    from transcribe.device import resolve_device
    from transcribe.diarize import Diarizer
    from transcribe.pipeline import RunOptions, run

    stages = Stages()
    stages.enter("load")
    device = resolve_device(args.device)
    diarizer = Diarizer(args.diarization_model, device=device)
    transcriber = Transcriber(args.asr_model, device=device, compute_type=args.compute_type, batch_size=args.batch_size)

    def progress(stage: str, done: float, total: float) -> None:
        stages.enter(stage.split(":")[0])

    with tempfile.TemporaryDirectory() as folder:
        options = RunOptions(
            informants=list(range(1, 8)),
            asr_model=args.asr_model,
            diarization_model=args.diarization_model,
            device=device,
            compute_type=args.compute_type,
            batch_size=args.batch_size,
        )
        stages.enter("decode")
        started = time.perf_counter()
        result = run(
            audio, Path(folder) / "bench", options, progress=progress, transcriber=transcriber, diarizer=diarizer
        )
        wall = time.perf_counter() - started
        stages.enter("align+export")
    measured = stages.close()
    # The pipeline times its own stages; progress calls only mark where one ends for the memory sampler.
    speech = {stage: result.seconds[stage] for stage in ("decode", "diarize", "transcribe")}
    measured["seconds"].update(speech, **{"align+export": wall - sum(speech.values())})
    return {
        **measured,
        "device": device,
        "settings": {"asr": transcriber.settings, "diarization": diarizer.settings},
        "words": len(result.session.transcription.words),
        "speakers": len(result.session.diarization.speakers),
        **_gpu_memory(device),
    }


def side_baseline(args, audio: list[str]) -> dict:
    import numpy as np
    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from transcribe import models, runtime
    from transcribe.device import resolve_device
    from transcribe.diarize import Diarizer

    runtime.USE_ONNX = False  # a plain script runs the checkpoints in PyTorch
    stages = Stages()
    stages.enter("load")
    device = resolve_device(args.device)
    diarizer = Diarizer(args.diarization_model, device=device, **BASELINE_DIARIZATION)
    whisper = WhisperModel(models.asr_model(args.asr_model).path, device=device)
    stages.enter("decode")
    samples = np.concatenate([decode_audio(path, sampling_rate=RATE) for path in audio])
    stages.enter("diarize")
    found = diarizer(samples)
    stages.enter("transcribe")
    segments, _ = whisper.transcribe(samples, language="no", word_timestamps=True)
    words = sum(len(segment.words or ()) for segment in segments)
    measured = stages.close()
    return {
        **measured,
        "device": device,
        "settings": {"diarization": diarizer.settings, "asr": "faster-whisper defaults"},
        "words": words,
        "speakers": len(found.speakers),
        **_gpu_memory(device),
    }


def _gpu_memory(device: str) -> dict:
    if device != "cuda":
        return {}
    import torch

    return {"torch_gpu_peak": torch.cuda.max_memory_allocated()}


# -- the session to measure ----------------------------------------------------------------------


def make_session(folder: Path, minutes: float, voices: bool) -> list[Path]:
    if voices:
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "make_fixtures.py"),
                "--out",
                str(folder),
                "--kind",
                "voices",
                "--minutes",
                str(minutes),
                "--seed",
                "3",
                "--name",
                "bench",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return [folder / "bench.m4a"]
    import numpy as np

    from transcribe.audio import load

    pieces = [load([piece]).audio for piece in PIECES]
    laid, length, index = [], 0, 0
    while length < minutes * 60 * RATE:
        laid.append(pieces[index % len(pieces)])
        length += len(laid[-1])
        index += 1
    path = folder / f"bench-{minutes:g}min.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((np.clip(np.concatenate(laid), -1, 1) * 32767).astype("<i2").tobytes())
    return [path]


def duration(paths: list[Path]) -> float:
    from transcribe.audio import load

    return load(paths).duration


# -- the report ------------------------------------------------------------------------------------

STAGES = ("load", "decode", "diarize", "transcribe", "align+export")


def summarise(side: dict, seconds_of_audio: float) -> dict:
    work = sum(v for k, v in side["seconds"].items() if k != "load")
    total = work + side["seconds"].get("load", 0.0)
    side["total"] = {
        "seconds": total,
        "rtf": total / seconds_of_audio,
        "seconds_without_load": work,
        "rtf_without_load": work / seconds_of_audio,
    }
    side["stages"] = {
        stage: {
            "seconds": round(side["seconds"][stage], 2),
            "rtf": round(side["seconds"][stage] / seconds_of_audio, 4),
            "peak_rss_mb": round(side["peak_rss"].get(stage, 0) / 1e6),
        }
        for stage in STAGES
        if stage in side["seconds"]
    }
    return side


def table(report: dict) -> str:
    ours, base = report["ours"], report["baseline"]
    lines = [
        f"audio: {', '.join(report['audio']['files'])} ({report['audio']['seconds'] / 60:.1f} min); device {ours['device']}; "
        f"{report['machine']}",
        f"{'stage':<14}{'this pipeline':>30}{'baseline':>30}",
        f"{'':<14}" + f"{'s':>10}{'RTF':>9}{'peak MB':>11}" * (2 if base else 1),
    ]
    for stage in STAGES:
        row = f"{stage:<14}"
        for side in (ours, base) if base else (ours,):
            cell = side["stages"].get(stage)
            row += (
                f"{cell['seconds']:>10.1f}{cell['rtf']:>9.3f}{cell['peak_rss_mb']:>11}"
                if cell
                else f"{'-':>10}{'-':>9}{'-':>11}"
            )
        lines.append(row)
    row = f"{'total':<14}"
    for side in (ours, base) if base else (ours,):
        row += (
            f"{side['total']['seconds']:>10.1f}{side['total']['rtf']:>9.3f}{round(side['process_peak_rss'] / 1e6):>11}"
        )
    lines.append(row)
    for side, name in ((ours, "this pipeline"), (base, "baseline")):
        if side:
            lines.append(
                f"{name}: {side['words']} words, {side['speakers']} speakers"
                + (f", torch GPU peak {side['torch_gpu_peak'] / 1e9:.1f} GB" if "torch_gpu_peak" in side else "")
            )
    if base:
        lines.append(
            f"speed-up: {report['speedup']:.2f}× ({report['speedup_without_load']:.2f}× without loading the models)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "audio", nargs="*", type=Path, help="recordings of one session, in order (default: generate one)"
    )
    parser.add_argument("--minutes", type=float, default=10, help="length of the generated session (default 10)")
    parser.add_argument(
        "--voices", action="store_true", help="generate a mixture of real voices with scripts/make_fixtures.py"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--asr-model", help="a CTranslate2 Whisper folder (default: the embedded Whisper base)")
    parser.add_argument("--diarization-model", help="a pyannote pipeline folder (default: the embedded one)")
    parser.add_argument("--skip-baseline", action="store_true", help="measure this pipeline only")
    parser.add_argument("--keep", type=Path, help="keep the generated session in this folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--side", choices=("ours", "baseline"), help=argparse.SUPPRESS)  # one side, in a child process
    args = parser.parse_args(argv)

    if args.side:
        measure = side_ours if args.side == "ours" else side_baseline
        print(json.dumps(measure(args, [str(p) for p in args.audio])))
        return 0

    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        audio = [p.resolve() for p in args.audio] or make_session(folder, args.minutes, args.voices)
        seconds = duration(audio)
        passed = [
            f"--device={args.device}",
            f"--compute-type={args.compute_type}",
            f"--batch-size={args.batch_size}",
            *([f"--asr-model={args.asr_model}"] if args.asr_model else []),
            *([f"--diarization-model={args.diarization_model}"] if args.diarization_model else []),
        ]
        sides = {}
        for side in ("ours",) if args.skip_baseline else ("ours", "baseline"):
            print(f"bench: running {side} on {seconds / 60:.1f} min of audio …", file=sys.stderr)
            child = subprocess.run(
                [sys.executable, __file__, f"--side={side}", *passed, *map(str, audio)],
                stdout=subprocess.PIPE,
                text=True,
            )
            if child.returncode != 0:
                print(f"bench: the {side} run failed (exit {child.returncode})", file=sys.stderr)
                return child.returncode
            sides[side] = summarise(json.loads(child.stdout.strip().splitlines()[-1]), seconds)
    report = {
        "audio": {"files": [str(p) for p in audio], "seconds": seconds},
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        "ours": sides["ours"],
        "baseline": sides.get("baseline"),
    }
    if report["baseline"]:
        report["speedup"] = report["baseline"]["total"]["seconds"] / report["ours"]["total"]["seconds"]
        report["speedup_without_load"] = (
            report["baseline"]["total"]["seconds_without_load"] / report["ours"]["total"]["seconds_without_load"]
        )
    print(json.dumps(report, indent=1, default=str) if args.json else table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
