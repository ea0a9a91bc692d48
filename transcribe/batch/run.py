"""Run a checked manifest: the models loaded once, sessions in order, a failure recorded and passed.

``run_batch`` reports what happens as plain dicts (events), which the CLI prints as progress or
as JSON Lines (see progress.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from .. import __version__
from ..asr import Transcriber
from ..device import resolve_device
from ..diarize import Diarizer
from ..errors import BatchFailed, InputError, TranscribeError
from ..finish import last_line
from ..pipeline import RunResult, run
from ..purge import purge
from ..receipt import PurgeState
from ..session import Session, now
from .manifest import Job, Manifest

Events = Callable[[dict], None]


@dataclass
class Outcome:
    """What became of one session in a batch."""

    job: Job
    status: str  # "done" | "failed" | "skipped" (it continues a session that did not finish)
    result: RunResult | None = None
    purge: dict | None = None  # the purge result, when the session was purged
    error: str | None = None
    exit_code: int | None = None
    note: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        result = self.result
        return {
            "session": self.job.name,
            "status": self.status,
            "folder": str(self.job.folder),
            "duration": round(result.session.duration, 3) if result else None,
            "computed": result.computed if result else [],
            "device": result.device if result else None,
            "stage_seconds": {k: round(v, 2) for k, v in result.seconds.items()} if result else {},
            "seconds": round(self.seconds, 2),
            "exports": [r.file for r in result.exports] if result else [],
            "warnings": result.warnings if result else [],
            "purge": self.purge,
            "note": self.note,
            "error": self.error,
            "exit_code": self.exit_code,
        }


class _Loaded:
    """A model made on first use and kept for the whole batch. A failure to load is kept too, so
    the next session is told at once instead of trying again."""

    def __init__(self, make: Callable[[], Callable]):
        self._make = make
        self._model: Callable | None = None
        self._error: TranscribeError | None = None

    def __call__(self, *args, **kwargs):
        if self._model is None:
            if self._error is not None:
                raise self._error
            try:
                self._model = self._make()
            except TranscribeError as exc:
                self._error = exc
                raise
        return self._model(*args, **kwargs)


def select(manifest: Manifest, only: Sequence[str]) -> tuple[Job, ...]:
    """The jobs named in ``only`` (in run order); unknown names are refused."""
    only = [name.strip() for name in only if name.strip()]
    names = [job.name for job in manifest.jobs]
    unknown = [name for name in only if name not in names]
    if unknown:
        raise InputError(
            f"{manifest.path} has no session named {', '.join(repr(n) for n in unknown)}; it has {', '.join(names)}."
        )
    return tuple(job for job in manifest.jobs if job.name in only)


def run_batch(manifest: Manifest, only: Sequence[str] | None = None, report: Events | None = None) -> list[Outcome]:
    """Run the manifest's sessions (or those named in ``only``) and return what became of each.

    ``report(event)`` receives dicts: ``batch``, then per session ``start``, ``progress`` (each
    pipeline progress call), ``model`` (when a model is loaded), ``end``; and ``summary`` last.
    """
    emit = _stamped(report)
    jobs = select(manifest, only) if only else manifest.jobs
    emit(
        {
            "event": "batch",
            "manifest": str(manifest.path),
            "sessions": [job.name for job in jobs],
            "device": manifest.device,
            "tool_version": __version__,
        }
    )

    def loader(role: str, make: Callable[[str], Callable]) -> _Loaded:
        def load():
            started, device = time.monotonic(), resolve_device(manifest.device)
            model = make(device)
            emit({"event": "model", "role": role, "device": device, "seconds": round(time.monotonic() - started, 2)})
            return model

        return _Loaded(load)

    transcriber = loader(
        "asr",
        lambda device: Transcriber(
            manifest.asr_model, device=device, compute_type=manifest.compute_type, batch_size=manifest.batch_size
        ),
    )
    diarizer = loader("diarization", lambda device: Diarizer(manifest.diarization_model, device=device))
    outcomes: dict[str, Outcome] = {}
    started = time.monotonic()
    for index, job in enumerate(jobs, start=1):
        emit(
            {
                "event": "start",
                "session": job.name,
                "index": index,
                "count": len(jobs),
                "folder": str(job.folder),
                "audio": [str(p) for p in job.audio],
            }
        )
        job_started = time.monotonic()
        outcome = _run_job(
            job,
            manifest,
            outcomes,
            transcriber,
            diarizer,
            lambda stage, done, total, name=job.name: emit(
                {"event": "progress", "session": name, "stage": stage, "done": done, "total": total}
            ),
        )
        outcome.seconds = time.monotonic() - job_started
        outcomes[job.name] = outcome
        emit({"event": "end", "index": index, "count": len(jobs), **outcome.to_dict()})
    results = list(outcomes.values())
    emit(
        {
            "event": "summary",
            **summary(results),
            "seconds": round(time.monotonic() - started, 2),
            "sessions": [
                {k: v for k, v in o.to_dict().items() if k in ("session", "status", "folder", "error", "exit_code")}
                for o in results
            ],
        }
    )
    return results


def summary(outcomes: Sequence[Outcome]) -> dict:
    return {status: sum(1 for o in outcomes if o.status == status) for status in ("done", "failed", "skipped")}


def _stamped(report: Events | None) -> Events:
    def emit(event: dict) -> None:
        if report is not None:
            report({**event, "time": now()})

    return emit


def _run_job(job: Job, manifest: Manifest, earlier: dict[str, Outcome], transcriber, diarizer, progress) -> Outcome:
    try:
        state = _purge_state(job.folder)
        if state is PurgeState.COMPLETE:
            return Outcome(
                job, "done", note=f"its recordings were purged earlier; the transcript is kept in {job.folder}"
            )
        options = job.options
        if job.continue_from is not None:
            first = _continued_line(job, manifest, earlier)
            if isinstance(first, Outcome):
                return first
            options = replace(options, start_line=first)
        if state is PurgeState.IN_PROGRESS and job.purge:  # an interrupted purge is finished before anything else
            return Outcome(job, "done", purge=purge(job.folder).to_dict(), note="an interrupted purge was finished")
        result = run(job.audio, job.folder, options, progress=progress, transcriber=transcriber, diarizer=diarizer)
        purged = purge(job.folder).to_dict() if job.purge else None
        return Outcome(job, "done", result=result, purge=purged)
    except TranscribeError as exc:
        return Outcome(job, "failed", error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # a bug in one session must not cost the others theirs
        return Outcome(
            job, "failed", error=f"Internal error ({type(exc).__name__}: {exc}); please report it.", exit_code=70
        )


def _purge_state(folder: Path) -> PurgeState | None:
    return Session.load(folder).purge_state if Session.exists(folder) else None


def _continued_line(job: Job, manifest: Manifest, earlier: dict[str, Outcome]) -> int | Outcome:
    """The first line number of a session that continues another, or why it cannot run."""
    before = earlier.get(job.continue_from)
    if before is not None and before.status != "done":
        return Outcome(
            job,
            "skipped",
            error=f"It continues the line numbers of '{job.continue_from}', which {before.status}.",
            exit_code=before.exit_code,
        )
    folder = manifest.job(job.continue_from).folder
    if not Session.exists(folder) or Session.load(folder).utterances is None:
        return Outcome(
            job,
            "skipped",
            error=f"It continues the line numbers of '{job.continue_from}', which is not finished "
            f"(no transcript in {folder}); run that session first.",
        )
    return last_line(folder) + 1


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """The end-of-batch table for a person: one row per session, what went wrong where it did."""
    counts = summary(outcomes)
    rows = [("session", "status", "audio", "time", "folder, or what went wrong")]
    for o in outcomes:
        audio = f"{o.result.session.duration / 60:.1f} min" if o.result else "-"
        rows.append((o.job.name, o.status, audio, f"{o.seconds:.0f} s", o.error or str(o.job.folder)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{counts['done']} done, {counts['failed']} failed, {counts['skipped']} skipped:"]
    lines += ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4] for row in rows]
    return lines


def check_finished(outcomes: Sequence[Outcome]) -> None:
    """Raise BatchFailed (exit status 9) when any session did not finish."""
    unfinished = [o for o in outcomes if o.status != "done"]
    if unfinished:
        raise BatchFailed(
            f"{len(unfinished)} of {len(outcomes)} sessions did not finish ({', '.join(o.job.name for o in unfinished)}); "
            "the others are done. Fix what the table says and run the same command again: finished sessions are kept."
        )
