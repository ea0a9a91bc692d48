"""What a person (or a script) sees while long work runs: progress bars and batch events.

Bars go to stderr, one per stage, and only when asked (``quiet`` off); JSON Lines go to stdout
for unattended batch runs. Nothing here touches the work itself: the stages report
``progress(stage, done, total)`` and batch reports events (dicts, see batch.py).
"""

from __future__ import annotations

import json
import sys

import click

STAGE_NAMES = {
    "decode": "Decoding audio",
    "diarize:segmentation": "Finding speech",
    "diarize:speaker_counting": "Counting speakers",
    "diarize:embeddings": "Telling voices apart",
    "diarize:discrete_diarization": "Placing turns",
    "diarize:resegmentation": "Checking the voices",
    "transcribe": "Transcribing",
}
LABEL_WIDTH = max(len(name) for name in STAGE_NAMES.values()) + 1

# What each stage costs per second of audio, relative to the others (docs/measurements.md: 11.3 min
# of real Norwegian on 2 CPU cores, 2026-11-27; the H200 run of 2026-11-26). On a CPU, diarisation
# as measured on 5 minutes of erna.mp3 with CAM++ in ONNX Runtime (2026-12-03): segmentation 0.013,
# embeddings 0.050, resegmentation 0.018 s per second of audio.
# Stages not named cost nothing here. Whisper's share swings 2-4x with the audio, so the estimate
# is a guide, corrected as the run goes.
WEIGHTS = {
    "cpu": {
        "decode": 0.003,
        "diarize:segmentation": 0.013,
        "diarize:embeddings": 0.050,
        "diarize:resegmentation": 0.018,
        "transcribe": 0.111,
    },
    "cuda": {
        "decode": 0.001,
        "diarize:segmentation": 0.006,
        "diarize:embeddings": 0.053,
        "diarize:resegmentation": 0.013,
        "transcribe": 0.005,
    },
}
STAGES = {
    "decode": ("decode",),
    "transcribe": ("transcribe",),
    "diarize": tuple(name for name in STAGE_NAMES if name.startswith("diarize:")),
}

BAR_FORMAT = "{desc}{percentage:3.0f}%|{bar:30}| {elapsed} elapsed, about {remaining} to go"


class StageBars:
    """One line on stderr for a whole run: the stage under way, the share of the run done (stages
    weighted by what they cost, ``WEIGHTS``), the time so far and an estimate for the rest.

    Shown only on a terminal, unless ``force`` (``--progress``); never when ``quiet``. It ends at
    100 % when the run ends. ``expect(stages, device)`` tells it which stages will run (the
    pipeline does, once it knows what is reused); without it every stage is expected.
    """

    def __init__(self, quiet: bool, force: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.shown = not quiet and (force or self.stream.isatty())
        self.bar = None
        self.weights = WEIGHTS["cpu"]
        self.planned = list(self.weights)
        self.finished: list[str] = []
        self.stage = None

    def expect(self, stages: list[str], device: str) -> None:
        self.weights = WEIGHTS.get(device, WEIGHTS["cpu"])
        self.planned = [step for stage in stages for step in STAGES.get(stage, (stage,))]

    def __call__(self, stage: str, done: float, total: float) -> None:
        if not self.shown:
            return
        if stage != self.stage:
            if self.stage is not None:
                self.finished.append(self.stage)
            self.stage = stage
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=1000, file=self.stream, leave=True, bar_format=BAR_FORMAT, desc=" " * LABEL_WIDTH)
        fraction = min(done / total, 1.0) if total else 0.0  # pyannote counts whole batches: it can overshoot
        planned = sum(self.weights.get(step, 0.0) for step in self.planned) or 1.0
        so_far = sum(self.weights.get(step, 0.0) for step in self.finished if step in self.planned)
        so_far += self.weights.get(stage, 0.0) * fraction
        self.bar.set_description_str(f"{STAGE_NAMES.get(stage, stage.split(':')[-1]):<{LABEL_WIDTH}}", refresh=False)
        self.bar.n = min(round(1000 * so_far / planned), 999)
        self.bar.refresh()

    def close(self, finished: bool = True) -> None:
        """End the line: at 100 % when the work is done, where it stopped when it is not."""
        if self.bar is not None:
            if finished:
                self.bar.set_description_str(f"{'Done':<{LABEL_WIDTH}}", refresh=False)
                self.bar.n = 1000
                self.bar.refresh()
            self.bar.close()
            self.bar = None


class JsonLines:
    """Batch events as JSON Lines on stdout; progress at most every tenth of a stage."""

    def __init__(self):
        self.steps: dict[tuple[str, str], int] = {}

    def __call__(self, event: dict) -> None:
        if event["event"] == "progress":
            step = int(10 * event["done"] / event["total"]) if event["total"] else 0
            key = (event["session"], event["stage"])
            if self.steps.get(key) == step:
                return
            self.steps[key] = step
            event = {**event, "done": round(event["done"], 1), "total": round(event["total"], 1)}
        click.echo(json.dumps(event, ensure_ascii=False))

    def close(self) -> None:
        return None


class BatchProgress:
    """Batch events for a person: a line per session and per model load, bars per stage, on stderr."""

    def __init__(self, quiet: bool, force: bool = False):
        self.quiet, self.force = quiet, force
        self.bars = StageBars(quiet, force)

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "progress":
            self.bars(event["stage"], event["done"], event["total"])
            return
        if kind == "model" and self.bars.bar is not None:  # a line above the bar, which then goes on
            self.bars.bar.clear()
            click.echo(f"Loaded the {event['role']} model on {event['device']} in {event['seconds']:.0f} s.", err=True)
            self.bars.bar.refresh()
            return
        self.close(finished=kind == "end" and event.get("status") == "done")
        if kind == "start":
            parts = len(event["audio"])
            click.echo(
                f"[{event['index']}/{event['count']}] {event['session']}: {parts} recording{'s' * (parts != 1)} → "
                f"{event['folder']}",
                err=True,
            )
        elif kind == "model":
            click.echo(f"Loaded the {event['role']} model on {event['device']} in {event['seconds']:.0f} s.", err=True)
        elif kind == "end":
            what = event["note"] or event["error"] or f"computed {', '.join(event['computed'])}"
            click.echo(
                f"[{event['index']}/{event['count']}] {event['session']}: {event['status']} in {event['seconds']:.0f} s ({what})",
                err=True,
            )
            for warning in event["warnings"]:
                click.echo(f"Warning: {warning}", err=True)

    def close(self, finished: bool = False) -> None:
        self.bars.close(finished)
        self.bars = StageBars(self.quiet, self.force)
