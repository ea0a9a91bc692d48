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
    "transcribe": "Transcribing",
    "diarize:segmentation": "Finding speech",
    "diarize:speaker_counting": "Counting speakers",
    "diarize:embeddings": "Telling voices apart",
    "diarize:discrete_diarization": "Placing turns",
    "diarize:resegmentation": "Checking each turn's voice",
}


BAR_FORMAT = "{desc}{percentage:3.0f}%|{bar:30}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}]"


class StageBars:
    """One tqdm bar per pipeline stage, on stderr; silent when asked or when not a terminal."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, done: float, total: float) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            unit = "s" if stage == "transcribe" else ("file" if stage == "decode" else "step")
            name = STAGE_NAMES.get(stage, stage.split(":", 1)[-1].replace("_", " ").capitalize())
            known = bool(total)
            self.bar = tqdm(
                total=round(total, 1) if known else None,
                desc=f"{name:<22}",
                unit=unit,
                file=sys.stderr,
                leave=True,
                bar_format=BAR_FORMAT if known else None,
            )
        # pyannote counts whole batches, so "done" can overshoot the total.
        self.bar.n = round(min(done, self.bar.total) if self.bar.total else done, 1)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
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

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bars = StageBars(quiet)

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "progress":
            self.bars(event["stage"], event["done"], event["total"])
            return
        self.close()
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

    def close(self) -> None:
        self.bars.close()
        self.bars = StageBars(self.quiet)
