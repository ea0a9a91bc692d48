"""Batch: many sessions from one manifest, unattended and resumable, on one machine or a Slurm cluster.

The manifest (``jobs.toml``) lists the sessions; ``[defaults]`` sets the models and the device
for the whole batch and default values for every session::

    [defaults]
    asr_model = "nb-whisper-large"    # a name in the models directory, or a folder
    device = "auto"                   # also: compute_type, batch_size, diarization_model, models_dir
    language = "no"                   # also: formats, width, moderator_label, speakers,
    purge = false                     #       min_speakers, max_speakers, names

    [[session]]
    name = "gruppe1"
    audio = ["opptak/gruppe1.m4a"]    # in recording order; relative to the manifest's folder
    informants = "1-6"

    [[session]]
    name = "gruppe2"
    audio = ["opptak/g2-del1.m4a", "opptak/g2-del2.m4a"]
    informants = "7-12"
    continue_from = "gruppe1"         # number on after gruppe1's last line (or start_line = 1)
    map = "kart/gruppe2.toml"         # also: merge, names, out (default: <manifest folder>/<name>)
    purge = true

The whole manifest is checked before any work, and every problem is named with its session and
key. Sessions run in manifest order, except that one which continues another's line numbers runs
after it. The models are loaded once, when the first session needs them, so sessions whose stages
are all done (a rerun) take seconds. A session that fails is recorded and the batch goes on;
sessions that continue from it are skipped. ``run_batch`` reports what happens as plain dicts,
which the CLI prints as progress or as JSON Lines.

Slurm: :func:`slurm_script` writes an sbatch array script with one array task per session, except
that sessions linked by ``continue_from`` run in one task, in order, because each needs the one
before it to be finished before its first line number is known.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import __version__, models
from .asr import normalise_language
from .device import COMPUTE_TYPES, DEVICES, parse_batch_size
from .errors import InputError, TranscribeError
from .export import parse_formats
from .files import read_toml
from .finish import last_line
from .names import load_names
from .pipeline import RunOptions, RunResult
from .session import Session, now
from .speakers import check_moderator_label, parse_informants, read_map

# [defaults] only: one set of models on one device for the whole batch.
BATCH_KEYS = ("asr_model", "diarization_model", "models_dir", "device", "compute_type", "batch_size")
# A session's own, with a default in [defaults].
SHARED_KEYS = ("language", "formats", "width", "moderator_label", "speakers", "min_speakers", "max_speakers", "names", "purge")
# A session's own only.
SESSION_KEYS = ("name", "audio", "informants", "start_line", "continue_from", "map", "merge", "out")
REQUIRED_KEYS = ("name", "audio", "informants")

# Session names become file names (gruppe1.txt) and Slurm task lists: letters, digits, . _ -
NAME = re.compile(r"[^\W_][\w.-]*")
EXAMPLE = '[[session]] with name = "gruppe1", audio = ["gruppe1.m4a"], informants = "1-6"'

Report = Callable[[dict], None]


@dataclass(frozen=True)
class Job:
    """One session of a manifest, checked and ready to run."""

    name: str
    audio: tuple[Path, ...]
    folder: Path
    options: RunOptions  # start_line is set at run time when the session continues another
    continue_from: str | None = None
    purge: bool = False


@dataclass(frozen=True)
class Manifest:
    path: Path
    jobs: tuple[Job, ...]  # in the order they run
    device: str = "auto"
    compute_type: str = "auto"
    batch_size: int | str = "auto"
    asr_model: str | None = None
    diarization_model: str | None = None
    models_dir: Path | None = None

    def job(self, name: str) -> Job:
        return next(job for job in self.jobs if job.name == name)

    def tasks(self) -> list[tuple[Job, ...]]:
        """The jobs grouped as Slurm array tasks: each chain of continue_from in one task, in order."""
        roots: dict[str, list[Job]] = {}
        for job in self.jobs:
            root = job
            while root.continue_from is not None:
                root = self.job(root.continue_from)
            roots.setdefault(root.name, []).append(job)
        return [tuple(jobs) for jobs in roots.values()]


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


# -- the manifest ---------------------------------------------------------------------------------


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a whole manifest; one InputError lists every problem, by session and key."""
    path = Path(path).expanduser()
    data = read_toml(path, "batch manifest", EXAMPLE)
    base = path.resolve().parent
    problems: list[str] = []

    def check(where: str, key: str, convert, value):
        try:
            return convert(value)
        except TranscribeError as exc:
            problems.append(f"{where}, {key}: {str(exc).rstrip('.')}")
        except (TypeError, ValueError, AttributeError):
            problems.append(f"{where}, {key}: {value!r} is not a valid value")
        return None

    for key in data:
        if key not in ("defaults", "session"):
            problems.append(f"'{key}' is not a section of a manifest; there are [defaults] and [[session]]")
    defaults = data.get("defaults", {})
    sessions = data.get("session", [])
    if not isinstance(defaults, dict):
        problems.append("[defaults] must be a table")
        defaults = {}
    if not isinstance(sessions, list) or not sessions or not all(isinstance(s, dict) for s in sessions):
        problems.append(f"it lists no sessions; add one {EXAMPLE}")
        sessions = []
    for key in defaults:
        if key not in BATCH_KEYS + SHARED_KEYS:
            where = "is set per session" if key in SESSION_KEYS else "is not a setting"
            problems.append(f"[defaults], {key}: {key} {where}; [defaults] takes {', '.join(BATCH_KEYS + SHARED_KEYS)}")

    where = "[defaults]"
    models_dir = check(where, "models_dir", lambda v: _path(v, base), defaults["models_dir"]) if "models_dir" in defaults else None
    settings = {
        "device": check(where, "device", lambda v: _choice(v, DEVICES), defaults.get("device", "auto")),
        "compute_type": check(where, "compute_type", lambda v: _choice(v, COMPUTE_TYPES), defaults.get("compute_type", "auto")),
        "batch_size": check(where, "batch_size", parse_batch_size, defaults.get("batch_size", "auto")),
        "asr_model": check(where, "asr_model", lambda v: _model(v, "asr", base, models_dir), defaults["asr_model"])
        if "asr_model" in defaults else None,
        "diarization_model": check(where, "diarization_model", lambda v: _model(v, "diarization", base, models_dir),
                                   defaults["diarization_model"]) if "diarization_model" in defaults else None,
    }

    pending: list[tuple[dict, dict]] = []  # (job fields, run options) of each session
    named: set[str] = set()  # every session name in the manifest, even of sessions with problems
    references: dict[str, str] = {}
    folders: dict[Path, str] = {}
    for number, entry in enumerate(sessions, start=1):
        name = entry.get("name")
        where = f"session '{name}'" if isinstance(name, str) else f"session {number}"
        for key in entry:
            if key not in SESSION_KEYS + SHARED_KEYS:
                what = "can only be set in [defaults]" if key in BATCH_KEYS else "is not a setting"
                problems.append(f"{where}, {key}: {key} {what}; a session takes {', '.join(SESSION_KEYS + SHARED_KEYS)}")
        missing = [key for key in REQUIRED_KEYS if key not in entry]
        if missing:
            problems.append(f"{where}: {' and '.join(missing)} missing")
            continue
        value = {**{k: v for k, v in defaults.items() if k in SHARED_KEYS}, **entry}
        name = check(where, "name", _name, name)
        if name is None:
            continue
        if name in named:
            problems.append(f"{where}: the name is used by another session; give each session its own")
            continue
        named.add(name)
        folder = check(where, "out", lambda v: _path(v, base), value.get("out", name))
        if folder is not None and folder in folders:
            problems.append(f"{where}, out: {folder} is also the folder of session '{folders[folder]}'")
        elif folder is not None:
            folders[folder] = name
        if "start_line" in value and "continue_from" in value:
            problems.append(f"{where}: give either start_line or continue_from, not both")
        if "continue_from" in value:
            if value["continue_from"] == name or not isinstance(value["continue_from"], str):
                problems.append(f"{where}, continue_from: name another session of the manifest")
            else:
                references[name] = value["continue_from"]
        audio = check(where, "audio", lambda v: _audio(v, base), value["audio"])
        if audio is not None and folder is not None and not _purged(folder):
            for file in audio:
                if not file.is_file():
                    problems.append(f"{where}, audio: {file} does not exist")
        options = dict(
            informants=check(where, "informants", _informants, value["informants"]),
            language=check(where, "language", _language, value.get("language", "no")),
            name=name,
            start_line=check(where, "start_line", lambda v: _whole(v, 1), value.get("start_line", 1)),
            width=check(where, "width", lambda v: _whole(v, 20), value.get("width", 80)),
            formats=check(where, "formats", parse_formats, value.get("formats", "txt,json")),
            moderator_label=check(where, "moderator_label", check_moderator_label, value.get("moderator_label", "M")),
            num_speakers=check(where, "speakers", lambda v: _whole(v, 1), value["speakers"]) if "speakers" in value else None,
            min_speakers=check(where, "min_speakers", lambda v: _whole(v, 1), value["min_speakers"]) if "min_speakers" in value else None,
            max_speakers=check(where, "max_speakers", lambda v: _whole(v, 1), value["max_speakers"]) if "max_speakers" in value else None,
            map_file=check(where, "map", lambda v: _toml_file(v, base, read_map), value["map"]) if "map" in value else None,
            merge=check(where, "merge", _flag, value.get("merge", False)),
            names_file=check(where, "names", lambda v: _toml_file(v, base, load_names), value["names"]) if "names" in value else None,
        )
        purge = check(where, "purge", _flag, value.get("purge", False))
        pending.append((dict(name=name, audio=audio, folder=folder, continue_from=value.get("continue_from"), purge=bool(purge)),
                        {**options, **settings}))

    for name, other in references.items():
        if other not in named:
            problems.append(f"session '{name}', continue_from: there is no session named '{other}' in the manifest")
    problems.extend(_cycles(references))
    if problems:
        count = f"{len(problems)} problems" if len(problems) > 1 else "a problem"
        listing = "".join(f"\n  {problem.rstrip('.')}." for problem in problems)
        raise InputError(f"The batch manifest {path} has {count}, so nothing was run:{listing}")
    jobs = [Job(**job, options=RunOptions(**options)) for job, options in pending]  # every value checked above
    return Manifest(path=path.resolve(), jobs=_run_order(jobs), models_dir=models_dir, **settings)


def _name(value) -> str:
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise InputError(f"'{value}' cannot be a session name; use letters, digits, '.', '_' and '-', like gruppe1")
    return value


def _path(value, base: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{value!r} is not a path; write it in quotes")
    return (base / Path(value).expanduser()).resolve()


def _audio(value, base: Path) -> tuple[Path, ...]:
    files = [value] if isinstance(value, str) else value
    if not isinstance(files, list) or not files:
        raise InputError('list the recordings in order, like ["del1.m4a", "del2.m4a"]')
    return tuple(_path(file, base) for file in files)


def _informants(value) -> list[int]:
    if isinstance(value, list) and all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        value = ",".join(str(n) for n in value)
    if not isinstance(value, str):
        raise InputError(f'{value!r} is not a list of informants; write "1-6" or [1, 2, 3]')
    return parse_informants(value)


def _language(value) -> str:
    if not isinstance(value, str):
        raise InputError(f"{value!r} is not a language; write \"no\" or \"nn\"")
    return normalise_language(value)


def _whole(value, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InputError(f"{value!r} is not a whole number of {least} or more")
    return value


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{value!r} is not true or false")
    return value


def _choice(value, choices: Sequence[str]) -> str:
    if value not in choices:
        raise InputError(f"{value!r} is not one of {', '.join(choices)}")
    return value


def _toml_file(value, base: Path, read) -> Path:
    file = _path(value, base)
    read(file)  # refused now, not after hours of work
    return file


def _model(value, role: str, base: Path, directory: Path | None) -> str:
    """A model folder: a bare name is looked up in the models directory, a path is relative to the manifest."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{value!r} is not a model name or folder")
    folder = models.resolve(value if "/" not in value else str(_path(value, base)), role, directory)
    if not folder.is_dir():
        raise InputError(f"the model folder {folder} does not exist")
    return str(folder.resolve())


def _purged(folder: Path) -> bool:
    """A session whose recordings are (being) destroyed: its audio may rightly be gone."""
    if not Session.exists(folder):
        return False
    try:
        return (Session.load(folder).purge or {}).get("state") in ("complete", "in-progress")
    except TranscribeError:
        return False


def _cycles(references: dict[str, str]) -> list[str]:
    problems, seen = [], set()
    for start in references:
        path = [start]
        while path[-1] in references and references[path[-1]] not in path:
            path.append(references[path[-1]])
        if path[-1] in references and references[path[-1]] in path:
            cycle = path[path.index(references[path[-1]]):]
            if not seen & set(cycle):
                seen.update(cycle)
                problems.append(f"continue_from goes round in a circle ({' → '.join(cycle + [cycle[0]])}); "
                                "one of these sessions must start with its own start_line")
    return problems


def _run_order(jobs: list[Job]) -> tuple[Job, ...]:
    """Manifest order, except that a session runs after the one it continues from."""
    by_name = {job.name: job for job in jobs}
    order: list[Job] = []
    for job in jobs:
        chain = []
        while job is not None and job not in order and job not in chain:
            chain.append(job)
            job = by_name.get(job.continue_from) if job.continue_from else None
        order.extend(reversed(chain))
    return tuple(order)


# -- running ----------------------------------------------------------------------------------------


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
    names = [job.name for job in manifest.jobs]
    unknown = [name for name in only if name not in names]
    if unknown:
        raise InputError(f"{manifest.path} has no session named {', '.join(repr(n) for n in unknown)}; "
                         f"it has {', '.join(names)}.")
    return tuple(job for job in manifest.jobs if job.name in only)


def run_batch(manifest: Manifest, only: Sequence[str] | None = None, report: Report | None = None) -> list[Outcome]:
    """Run the manifest's sessions (or those named in ``only``) and return what became of each.

    ``report(event)`` receives dicts: ``batch``, then per session ``start``, ``progress`` (each
    pipeline progress call), ``model`` (when a model is loaded), ``end``; and ``summary`` last.
    """
    from .asr import Transcriber
    from .device import resolve_device
    from .diarize import Diarizer

    emit = _stamped(report)
    jobs = select(manifest, only) if only else manifest.jobs
    emit({"event": "batch", "manifest": str(manifest.path), "sessions": [job.name for job in jobs],
          "device": manifest.device, "tool_version": __version__})

    def loader(role: str, make: Callable[[str], Callable]) -> _Loaded:
        def load():
            started, device = time.monotonic(), resolve_device(manifest.device)
            model = make(device)
            emit({"event": "model", "role": role, "device": device, "seconds": round(time.monotonic() - started, 2)})
            return model
        return _Loaded(load)

    transcriber = loader("asr", lambda device: Transcriber(manifest.asr_model, device=device, compute_type=manifest.compute_type,
                                                           batch_size=manifest.batch_size))
    diarizer = loader("diarization", lambda device: Diarizer(manifest.diarization_model, device=device))
    outcomes: dict[str, Outcome] = {}
    started = time.monotonic()
    for index, job in enumerate(jobs, start=1):
        emit({"event": "start", "session": job.name, "index": index, "count": len(jobs), "folder": str(job.folder),
              "audio": [str(p) for p in job.audio]})
        job_started = time.monotonic()
        outcome = _run_job(job, manifest, outcomes, transcriber, diarizer,
                           lambda stage, done, total, name=job.name: emit(
                               {"event": "progress", "session": name, "stage": stage, "done": done, "total": total}))
        outcome.seconds = time.monotonic() - job_started
        outcomes[job.name] = outcome
        emit({"event": "end", "index": index, "count": len(jobs), **outcome.to_dict()})
    results = list(outcomes.values())
    emit({"event": "summary", **summary(results), "seconds": round(time.monotonic() - started, 2),
          "sessions": [{k: v for k, v in o.to_dict().items() if k in ("session", "status", "folder", "error", "exit_code")}
                       for o in results]})
    return results


def summary(outcomes: Sequence[Outcome]) -> dict:
    return {status: sum(1 for o in outcomes if o.status == status) for status in ("done", "failed", "skipped")}


def _stamped(report: Report | None) -> Report:
    def emit(event: dict) -> None:
        if report is not None:
            report({**event, "time": now()})
    return emit


def _run_job(job: Job, manifest: Manifest, earlier: dict[str, Outcome], transcriber, diarizer, progress) -> Outcome:
    from .pipeline import run
    from .purge import purge

    try:
        state = _purge_state(job.folder)
        if state == "complete":
            return Outcome(job, "done", note=f"its recordings were purged earlier; the transcript is kept in {job.folder}")
        options = job.options
        if job.continue_from is not None:
            first = _continued_line(job, manifest, earlier)
            if isinstance(first, Outcome):
                return first
            options = replace(options, start_line=first)
        if state == "in-progress" and job.purge:  # an interrupted purge is finished before anything else
            return Outcome(job, "done", purge=purge(job.folder).to_dict(), note="an interrupted purge was finished")
        result = run(job.audio, job.folder, options, progress=progress, transcriber=transcriber, diarizer=diarizer)
        purged = purge(job.folder).to_dict() if job.purge else None
        return Outcome(job, "done", result=result, purge=purged)
    except TranscribeError as exc:
        return Outcome(job, "failed", error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # a bug in one session must not cost the others theirs
        return Outcome(job, "failed", error=f"Internal error ({type(exc).__name__}: {exc}); please report it.", exit_code=70)


def _purge_state(folder: Path) -> str | None:
    return (Session.load(folder).purge or {}).get("state") if Session.exists(folder) else None


def _continued_line(job: Job, manifest: Manifest, earlier: dict[str, Outcome]) -> int | Outcome:
    """The first line number of a session that continues another, or why it cannot run."""
    before = earlier.get(job.continue_from)
    if before is not None and before.status != "done":
        return Outcome(job, "skipped", error=f"It continues the line numbers of '{job.continue_from}', which {before.status}.",
                       exit_code=before.exit_code)
    folder = manifest.job(job.continue_from).folder
    if not Session.exists(folder) or Session.load(folder).utterances is None:
        return Outcome(job, "skipped", error=f"It continues the line numbers of '{job.continue_from}', which is not finished "
                                             f"(no transcript in {folder}); run that session first.")
    return last_line(folder) + 1


# -- Slurm --------------------------------------------------------------------------------------------

TIME = re.compile(r"(\d+-)?\d+(:\d{2}){0,2}")
MEMORY = re.compile(r"\d+[KMGT]?")
WORD = re.compile(r"[\w.,-]+")


@dataclass(frozen=True)
class SlurmResources:
    partition: str | None = None
    account: str | None = None
    gpus: int = 1
    cpus: int = 8
    mem: str = "32G"
    time: str = "24:00:00"

    def check(self) -> None:
        for option, value, pattern in (("--partition", self.partition, WORD), ("--account", self.account, WORD),
                                        ("--time", self.time, TIME), ("--mem", self.mem, MEMORY)):
            if value is not None and not pattern.fullmatch(value):
                raise InputError(f"{option} '{value}' is not something Slurm takes (e.g. --time 12:00:00, --mem 32G).")
        if self.gpus < 0 or self.cpus < 1:
            raise InputError("--gpus must be 0 or more and --cpus 1 or more.")


def slurm_script(manifest: Manifest, resources: SlurmResources, python: str = sys.executable) -> str:
    """An sbatch array script that runs the manifest: array task i runs the sessions of task i."""
    resources.check()
    tasks = manifest.tasks()
    models_dir = models.models_dir(manifest.models_dir).resolve()
    directives = [
        f"--job-name=transcribe-{manifest.path.stem}",
        f"--array=0-{len(tasks) - 1}",
        *([f"--partition={resources.partition}"] if resources.partition else []),
        *([f"--account={resources.account}"] if resources.account else []),
        *([f"--gres=gpu:{resources.gpus}"] if resources.gpus else []),
        f"--cpus-per-task={resources.cpus}",
        f"--mem={resources.mem}",
        f"--time={resources.time}",
        f"--output={manifest.path.parent}/slurm-%x-%A_%a.out",
    ]
    listing = [f"#   task {i}: {' → '.join(job.name for job in jobs)}" for i, jobs in enumerate(tasks)]
    lines = [
        "#!/bin/bash",
        *[f"#SBATCH {d}" for d in directives],
        "#",
        f"# Made by transcribe {__version__} ('transcribe batch --slurm') from {manifest.path}.",
        "# One array task per session; sessions linked by continue_from run in one task, in order,",
        "# because each numbers its lines on from the last line of the one before it:",
        *listing,
        "# Submit it with sbatch; follow with squeue --me; afterwards: sacct -j JOBID. Submitting it again",
        "# resumes (finished stages and sessions are kept); sbatch --array=N runs task N alone.",
        "set -euo pipefail",
        "",
        "# Compute nodes on TSD, HUNT Cloud and the like have no internet: nothing may reach for a model hub.",
        "export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 PYANNOTE_METRICS_ENABLED=0",
        f"export TRANSCRIBE_MODELS={shlex.quote(str(models_dir))}",
        'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
        "",
        "tasks=(",
        *[f'  "{",".join(job.name for job in jobs)}"' for jobs in tasks],  # names are letters, digits, . _ -
        ")",
        f"cd {shlex.quote(str(manifest.path.parent))}",
        f'exec {shlex.quote(python)} -m transcribe.cli batch {shlex.quote(str(manifest.path))} '
        '--only "${tasks[${SLURM_ARRAY_TASK_ID:?submit this script with sbatch}]}" --json',
        "",
    ]
    return "\n".join(lines)
