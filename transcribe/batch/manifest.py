"""The batch manifest (``jobs.toml``): read and check it whole, before any work.

Every problem is named with its session and key, and all of them are reported at once. See the
package docstring for the manifest's shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..asr import normalise_language, read_vocabulary
from ..device import COMPUTE_TYPES, DEVICES, parse_batch_size
from ..errors import InputError, TranscribeError
from ..export import parse_formats
from ..files import read_toml
from ..names import load_names
from ..pipeline import RunOptions
from ..session import Session
from ..speakers import check_moderator_label, parse_informants, read_map

# [defaults] only: one set of models on one device for the whole batch.
BATCH_KEYS = ("asr_model", "diarization_model", "models_dir", "device", "compute_type", "batch_size")
# A session's own, with a default in [defaults].
SHARED_KEYS = (
    "language",
    "formats",
    "width",
    "moderator_label",
    "speakers",
    "min_speakers",
    "max_speakers",
    "names",
    "vocabulary",
    "purge",
)
# A session's own only.
SESSION_KEYS = ("name", "audio", "informants", "start_line", "continue_from", "map", "merge", "out")
REQUIRED_KEYS = ("name", "audio", "informants")

# Session names become file names (gruppe1.txt) and Slurm task lists: letters, digits, . _ -
NAME = re.compile(r"[^\W_][\w.-]*")
EXAMPLE = '[[session]] with name = "gruppe1", audio = ["gruppe1.m4a"], informants = "1-6"'


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
    models_dir = (
        check(where, "models_dir", lambda v: _path(v, base), defaults["models_dir"])
        if "models_dir" in defaults
        else None
    )
    settings = {
        "device": check(where, "device", lambda v: _choice(v, DEVICES), defaults.get("device", "auto")),
        "compute_type": check(
            where, "compute_type", lambda v: _choice(v, COMPUTE_TYPES), defaults.get("compute_type", "auto")
        ),
        "batch_size": check(where, "batch_size", parse_batch_size, defaults.get("batch_size", "auto")),
        "asr_model": check(where, "asr_model", lambda v: _model(v, "asr", base, models_dir), defaults["asr_model"])
        if "asr_model" in defaults
        else None,
        "diarization_model": check(
            where,
            "diarization_model",
            lambda v: _model(v, "diarization", base, models_dir),
            defaults["diarization_model"],
        )
        if "diarization_model" in defaults
        else None,
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
                problems.append(
                    f"{where}, {key}: {key} {what}; a session takes {', '.join(SESSION_KEYS + SHARED_KEYS)}"
                )
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
            num_speakers=check(where, "speakers", lambda v: _whole(v, 1), value["speakers"])
            if "speakers" in value
            else None,
            min_speakers=check(where, "min_speakers", lambda v: _whole(v, 1), value["min_speakers"])
            if "min_speakers" in value
            else None,
            max_speakers=check(where, "max_speakers", lambda v: _whole(v, 1), value["max_speakers"])
            if "max_speakers" in value
            else None,
            map_file=check(where, "map", lambda v: _toml_file(v, base, read_map), value["map"])
            if "map" in value
            else None,
            merge=check(where, "merge", _flag, value.get("merge", False)),
            names_file=check(where, "names", lambda v: _toml_file(v, base, load_names), value["names"])
            if "names" in value
            else None,
            vocabulary=check(where, "vocabulary", lambda v: read_vocabulary(_path(v, base)), value["vocabulary"])
            if "vocabulary" in value
            else (),
        )
        purge = check(where, "purge", _flag, value.get("purge", False))
        pending.append(
            (
                dict(
                    name=name, audio=audio, folder=folder, continue_from=value.get("continue_from"), purge=bool(purge)
                ),
                {**options, **settings},
            )
        )

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
        raise InputError(f'{value!r} is not a language; write "no" or "nn"')
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
        return Session.load(folder).purge_state is not None
    except TranscribeError:
        return False


def _cycles(references: dict[str, str]) -> list[str]:
    problems, seen = [], set()
    for start in references:
        path = [start]
        while path[-1] in references and references[path[-1]] not in path:
            path.append(references[path[-1]])
        if path[-1] in references and references[path[-1]] in path:
            cycle = path[path.index(references[path[-1]]) :]
            if not seen & set(cycle):
                seen.update(cycle)
                problems.append(
                    f"continue_from goes round in a circle ({' → '.join(cycle + [cycle[0]])}); "
                    "one of these sessions must start with its own start_line"
                )
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
