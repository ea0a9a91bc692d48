"""Destroy a session's recordings once its transcript is secure, and leave a receipt.

The informants were promised that the recordings would be deleted when transcription was done.
``purge(folder)`` keeps that promise in an order that can be checked afterwards:

1. **Refuse first, destroy second.** Every condition is checked before the first byte is
   touched: the transcript stages are finished, at least one export is recorded, and every
   recorded export exists, reads back with its recorded sha256 (a JSON export must also parse
   as this session's transcript) and was written after the last correction made in ``transcribe
   review`` (else it lacks it). Every recording still on disk must be a regular, writable file
   whose content matches the sha256 taken at intake. All problems are reported together in one
   ``PurgeError``; nothing is deleted.
2. **A recording whose content no longer matches its intake sha256 is refused** unless
   ``force_mismatch`` (``--force-mismatch``) is given. The tool cannot tell an edited copy of the
   recording (informant audio: must go) from another file that now has the same name, e.g. the
   next "New Recording.m4a" (perhaps another group's audio, not yet transcribed: destroying it
   would break the rule "never before the transcript is secure"). Refusing leaves nothing behind
   silently: there is no receipt, ``verify-purge`` fails, and the message names the file and
   both hashes, so a person decides. With ``force_mismatch`` the file is destroyed and the
   receipt records what its content was at purge time.
3. **Journal.** The plan is written (atomically) to ``purge-journal.json`` before anything is
   destroyed and rewritten after each step, so a purge killed between files resumes when run
   again. A file is marked ``overwriting`` before its first byte is overwritten, so a purge
   killed inside a file finishes that file on resume even though its content no longer matches.
   The receipt lists every run and which run destroyed which file, when.
4. **Destruction:** one pass of random bytes over the file's full length, in place, in 1 MiB
   chunks; flushed to the device (``fsync``; ``F_FULLFSYNC`` on macOS, where plain fsync stops at
   the drive's cache); unlinked; the folder fsynced so the removal is durable.
5. **Receipt:** ``purge-receipt.json`` (the record) and ``purge-receipt.txt`` (for people); both
   owner-only. Their sha256 go into session.json's ``purge`` entry, which ``verify-purge``
   compares. The limits are written into the receipt, not hidden: see ``LIMITS``.

The tool writes no audio of its own: recordings are decoded in memory only, and session.json,
exports and reports hold text and numbers. So the recordings given at intake
(``session.sources``) are the whole of what purge destroys; were a stage ever to write audio, it
would have to record that file in session.json for purge to find it. ``tool_written_audio`` in
the receipt states this (an empty list), and the tests check that a session folder holds no
audio by content.

The receipt's record and the purge states are in receipt.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from . import __version__
from .errors import PurgeError
from .export import json as json_export
from .files import fsync_dir, sha256_file, write_atomic
from .receipt import FINAL, RECEIPT_JSON, RECEIPT_TEXT, FileStatus, PurgeState, Receipt, receipt_text
from .records import ExportRecord
from .review.edits import review_of
from .session import FILENAME, Session, locked, now

JOURNAL = "purge-journal.json"
JOURNAL_FORMAT = "transcribe.purge-journal/1"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Target:
    """One recording to destroy: as planned in the journal, and as reported in the receipt."""

    path: str
    file: str
    size: int  # bytes, at intake
    sha256: str  # at intake
    status: str = FileStatus.PENDING
    time: str | None = None  # when it reached its final status
    run: int | None = None  # which purge run finished it (1, 2, … when interrupted)
    note: str | None = None
    found_sha256: str | None = None  # content at purge time, when it differed from intake
    found_size: int | None = None


@dataclass(frozen=True)
class Plan:
    """What a purge will do, worked out without changing anything."""

    folder: Path
    session: Session
    exports: tuple[ExportRecord, ...]  # verified: present, hash matches
    targets: tuple[Target, ...]
    runs: tuple[dict, ...]  # earlier, interrupted runs (from the journal)
    absent: frozenset[str]  # unfinished targets whose file is gone already

    @property
    def resumed(self) -> bool:
        return bool(self.runs)

    def action(self, target: Target) -> str:
        """``done`` (finished by an earlier run), ``record-absent`` or ``destroy``."""
        if target.status in FINAL:
            return "done"
        return "record-absent" if target.path in self.absent else "destroy"

    @property
    def to_destroy(self) -> int:
        return sum(1 for target in self.targets if self.action(target) == "destroy")

    def lines(self) -> list[str]:
        """What will be destroyed, for the confirmation a person is asked."""
        lines = plan_lines(
            self.session.name, self.folder, self.targets, [self.action(t) for t in self.targets], self.exports
        )
        review = review_of(self.session).summary()
        if review["reviewed"] < review["turns"]:
            lines.append(
                f"{review['turns'] - review['reviewed']} of {review['turns']} turns are not marked reviewed: once the "
                f"audio is gone they cannot be checked by listening (transcribe review {self.folder})."
            )
        return lines


@dataclass(frozen=True)
class PurgeResult:
    folder: Path
    session: str
    state: str  # "dry-run" | "purged" | "already-purged"
    files: tuple[Target, ...]
    exports: tuple[ExportRecord, ...]
    actions: tuple[str, ...] = ()  # dry run: Plan.action of each file
    resumed: bool = False
    receipt: Path | None = None
    receipt_sha256: str | None = None

    def to_dict(self) -> dict:
        files = [asdict(target) for target in self.files]
        for row, action in zip(files, self.actions):
            row["action"] = action
        return {
            "session": self.session,
            "folder": str(self.folder),
            "state": self.state,
            "resumed": self.resumed,
            "files": files,
            "exports": [asdict(record) for record in self.exports],
            "receipt": str(self.receipt) if self.receipt else None,
            "receipt_sha256": self.receipt_sha256,
        }

    def to_json(self) -> dict:
        return self.to_dict()

    def lines(self) -> list[str]:
        if self.state == "dry-run":
            return [
                *plan_lines(self.session, self.folder, self.files, self.actions, self.exports),
                "Dry run: nothing was deleted.",
            ]
        if self.state == "already-purged":
            return [
                f"Session '{self.session}' is already purged. Receipt: {self.receipt} (sha256 {self.receipt_sha256})."
            ]
        destroyed = sum(1 for t in self.files if t.status == FileStatus.DESTROYED)
        absent = len(self.files) - destroyed
        folders = " ".join(f"--scan {p}" for p in sorted({str(Path(t.path).parent) for t in self.files}))
        return [
            f"Destroyed {destroyed} recording(s) of '{self.session}'"
            + (f"; {absent} already absent." if absent else "."),
            f"Receipt: {self.receipt}\n  sha256 {self.receipt_sha256}: keep this hash in the project's records.",
            f"Check with: transcribe verify-purge {self.folder} {folders}",
        ]


def plan_lines(name: str, folder: Path, targets, actions, exports) -> list[str]:
    """The exports verified and each recording with what will happen to it (or happened before)."""
    lines = [f"Session '{name}' in {folder}: exports verified"]
    lines += [f"  {record.file}  sha256 {record.sha256[:16]}…" for record in exports]
    groups = {
        "destroy": "To destroy (overwrite with random bytes, sync, unlink):",
        "record-absent": "Already absent (recorded as such):",
        "done": "Destroyed by an earlier, interrupted purge:",
    }
    for action, heading in groups.items():
        rows = [t for t, a in zip(targets, actions) if a == action]
        lines += [heading] if rows else []
        for t in rows:
            changed = f", CONTENT CHANGED since intake (now sha256 {t.found_sha256[:16]}…)" if t.found_sha256 else ""
            size = f"{t.size / 1e6:.1f} MB" if t.size >= 1e6 else f"{t.size / 1e3:.0f} kB"
            lines.append(f"  {t.path}  ({size}, sha256 {t.sha256[:16]}…{changed})")
    return lines


def purge(
    folder: str | Path,
    *,
    force_mismatch: bool = False,
    dry_run: bool = False,
    confirm: Callable[[Plan], bool] | None = None,
) -> PurgeResult:
    """Destroy the session's recordings and write the receipt; see the module docstring.

    ``confirm(plan)`` is asked once everything has been checked; if it returns False nothing is
    deleted. A session already purged is not purged again: its receipt is returned.
    """
    folder = Path(folder)
    if not Session.exists(folder):
        raise PurgeError(
            f"{folder} holds no session (session.json is missing). Pass the session folder that 'transcribe run' made."
        )
    with locked(folder):
        session = Session.load(folder)
        if session.purge_state is PurgeState.COMPLETE:
            return _already_purged(folder, session)
        plan = make_plan(folder, session, force_mismatch=force_mismatch)
        if dry_run:
            return PurgeResult(
                folder,
                session.name,
                "dry-run",
                plan.targets,
                plan.exports,
                actions=tuple(plan.action(t) for t in plan.targets),
                resumed=plan.resumed,
            )
        if confirm is not None and not confirm(plan):
            raise PurgeError("Purge not confirmed; nothing was deleted.")
        return _execute(plan)


def make_plan(folder: Path, session: Session, force_mismatch: bool = False) -> Plan:
    """Check everything purge depends on; raise one PurgeError listing every problem found."""
    problems = _transcript_problems(session, folder)
    targets, runs = _load_journal(folder, session)
    absent = set()
    for index, target in enumerate(targets):
        if target.status in FINAL:
            continue
        state, problem, found = _inspect(target, force_mismatch)
        if problem:
            problems.append(problem)
        if state == "absent":
            absent.add(target.path)
        elif found:
            targets[index] = replace(target, found_sha256=found[0], found_size=found[1])
    if problems:
        done = sum(1 for target in targets if target.status in FINAL)
        so_far = (
            f" {done} of {len(targets)} recordings were destroyed by an earlier, interrupted purge."
            if done
            else " Nothing was deleted."
        )
        raise PurgeError(f"Purge of '{session.name}' refused:{so_far}\n  - " + "\n  - ".join(problems))
    return Plan(folder, session, tuple(session.exports), tuple(targets), tuple(runs), frozenset(absent))


# -- checks --------------------------------------------------------------------------------------


def _transcript_problems(session: Session, folder: Path) -> list[str]:
    problems = []
    missing = [
        name
        for name, value in (
            ("diarisation", session.diarization),
            ("transcription", session.transcription),
            ("utterances", session.utterances),
            ("speaker map", session.speaker_map),
        )
        if value is None
    ]
    if missing:
        problems.append(
            f"the transcript is not finished (missing: {', '.join(missing)}). Finish it with 'transcribe run' "
            "first; that needs the recordings."
        )
    if not session.exports:
        problems.append(f"no export is recorded in {folder / FILENAME}. Write one with 'transcribe export {folder}'.")
    for record in session.exports:
        problem = _export_problem(session, folder, record)
        if problem:
            problems.append(problem)
    # An export rendered from revision r carries every review change applied before r.
    stale = [
        record
        for record in session.exports
        if session.review and session.review.changed is not None and record.revision <= session.review.changed
    ]
    if stale:
        problems.append(
            f"the transcript was corrected in 'transcribe review' after {', '.join(r.file for r in stale)} "
            f"{'was' if len(stale) == 1 else 'were'} written, so the corrections are not in "
            f"{'it' if len(stale) == 1 else 'them'}. Write them again with 'transcribe export {folder} "
            f"--formats {','.join(r.format for r in stale)}'."
        )
    return problems


def _export_problem(session: Session, folder: Path, record: ExportRecord) -> str | None:
    path = folder / record.file
    again = f"Check it; 'transcribe export {folder} --formats {record.format}' writes it afresh and records its hash."
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return f"the {record.format} export {path} is missing. {again}"
    except OSError as exc:
        return f"the {record.format} export {path} cannot be read ({exc.strerror}). {again}"
    digest = hashlib.sha256(data).hexdigest()
    if digest != record.sha256:
        return (
            f"the {record.format} export {path} was changed after it was written (sha256 now {digest[:16]}…, "
            f"recorded {record.sha256[:16]}…). Purge relies only on transcripts it can verify: if you edited it, "
            f"keep your version under another name, then run 'transcribe export {folder} --formats {record.format}' "
            "to write and record it afresh."
        )
    if record.format == "json":
        try:
            content = json.loads(data.decode("utf-8"))
            if content["format"] != json_export.FORMAT or content["session"]["name"] != session.name:
                raise ValueError("not this session's transcript")
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            return f"the json export {path} does not read back as this session's transcript ({exc}). {again}"
    return None


def _inspect(target: Target, force_mismatch: bool) -> tuple[str, str | None, tuple[str, int] | None]:
    """(state, problem, (sha256, size) found when it differs from intake) for one unfinished target."""
    path = Path(target.path)
    try:
        info = path.lstat()
    except FileNotFoundError:
        return "absent", None, None
    except OSError as exc:
        return "present", f"{path} cannot be examined ({exc.strerror}).", None
    if not stat.S_ISREG(info.st_mode):
        return (
            "present",
            (
                f"{path} is no longer a regular file (a link or folder now has its name); purge does not "
                "follow it. Check what it is, remove it yourself, then purge again."
            ),
            None,
        )
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        return (
            "present",
            (
                f"{path} cannot be overwritten and removed (no write permission on the file or its folder). "
                f"Make both writable (chmod u+w) and purge again."
            ),
            None,
        )
    if target.status == FileStatus.OVERWRITING:
        return "present", None, None  # content already partly random: no hash to compare
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return "present", f"{path} cannot be read ({exc.strerror}).", None
    if digest == target.sha256:
        return "present", None, None
    found = (digest, info.st_size)
    if force_mismatch:
        return "present", None, found
    return (
        "present",
        (
            f"{path} no longer matches the recording taken in at intake (sha256 now {digest[:16]}…, "
            f"{info.st_size} bytes; at intake {target.sha256[:16]}…, {target.size} bytes). If it is this session's "
            "recording, edited, purge with --force-mismatch to destroy it too; if it is another file, move it away "
            "and purge again."
        ),
        found,
    )


# -- journal -------------------------------------------------------------------------------------


def _load_journal(folder: Path, session: Session) -> tuple[list[Target], list[dict]]:
    """The targets and earlier runs of an interrupted purge, or a fresh plan from the sources."""
    path = folder / JOURNAL
    fresh = [Target(path=s.path, file=s.file, size=s.size, sha256=s.sha256) for s in session.sources]
    if not path.exists():
        return fresh, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != JOURNAL_FORMAT or data.get("session") != session.name:
            raise ValueError(f"format {data.get('format')!r}, session {data.get('session')!r}")
        targets = [Target(**row) for row in data["files"]]
        runs = list(data["runs"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise PurgeError(
            f"The purge journal {path} is damaged ({exc}). It records which recordings an earlier purge "
            "destroyed; keep it for the records, move it out of the folder and purge again."
        ) from None
    planned = {(t.path, t.sha256) for t in targets}
    targets += [t for t in fresh if (t.path, t.sha256) not in planned]
    return targets, runs


def _save_journal(plan: Plan, targets: list[Target], runs: list[dict]) -> None:
    data = {
        "format": JOURNAL_FORMAT,
        "session": plan.session.name,
        "folder": str(plan.folder.resolve()),
        "runs": runs,
        "exports": [asdict(record) for record in plan.exports],
        "files": [asdict(target) for target in targets],
    }
    write_atomic(plan.folder / JOURNAL, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


# -- destruction ---------------------------------------------------------------------------------


def _execute(plan: Plan) -> PurgeResult:
    folder, session = plan.folder, plan.session
    run = len(plan.runs) + 1
    runs = [
        *plan.runs,
        {"run": run, "started": now(), "host": socket.gethostname(), "pid": os.getpid(), "tool_version": __version__},
    ]
    targets = list(plan.targets)
    _save_journal(plan, targets, runs)
    session.purge = {"state": PurgeState.IN_PROGRESS.value, "journal": JOURNAL, "started": runs[0]["started"]}
    session.save(folder)
    for index, target in enumerate(targets):
        if target.status in FINAL:
            continue
        earlier = target.status == FileStatus.OVERWRITING
        if target.path in plan.absent:
            if earlier:
                note = f"overwritten and unlinked by run {target.run} just before it was interrupted; confirmed gone by run {run}"
                targets[index] = replace(target, status=FileStatus.DESTROYED, time=now(), run=run, note=note)
            else:
                note = "not found when the purge began: it was removed before, not by this tool"
                targets[index] = replace(target, status=FileStatus.ALREADY_ABSENT, time=now(), run=run, note=note)
        else:
            if earlier:
                note = (
                    f"overwrite begun by run {target.run} was interrupted; run {run} overwrote it again and removed it"
                )
            elif target.found_sha256:
                note = "content differed from intake; destroyed as instructed (--force-mismatch)"
            else:
                note = None
            targets[index] = target = replace(target, status=FileStatus.OVERWRITING, run=run, note=note)
            _save_journal(plan, targets, runs)
            try:
                _destroy(Path(target.path))
            except OSError as exc:
                done = sum(1 for t in targets if t.status in FINAL)
                raise PurgeError(
                    f"Could not destroy {target.path} ({exc.strerror}). {done} of {len(targets)} recordings are destroyed; "
                    f"{folder / JOURNAL} keeps track. Fix the cause and run 'transcribe purge {folder}' again to finish."
                ) from None
            targets[index] = replace(target, status=FileStatus.DESTROYED, time=now())
        _save_journal(plan, targets, runs)

    receipt = _receipt(plan, targets, runs).to_dict()
    receipt_sha256 = write_atomic(folder / RECEIPT_JSON, json.dumps(receipt, ensure_ascii=False, indent=1) + "\n")
    text_sha256 = write_atomic(folder / RECEIPT_TEXT, receipt_text(receipt, receipt_sha256))
    session.purge = {
        "state": PurgeState.COMPLETE.value,
        "started": receipt["started"],
        "finished": receipt["finished"],
        "receipt": RECEIPT_JSON,
        "receipt_sha256": receipt_sha256,
        "receipt_text": RECEIPT_TEXT,
        "receipt_text_sha256": text_sha256,
    }
    session.save(folder)
    (folder / JOURNAL).unlink()
    fsync_dir(folder)
    return PurgeResult(
        folder,
        session.name,
        "purged",
        tuple(targets),
        plan.exports,
        resumed=plan.resumed,
        receipt=folder / RECEIPT_JSON,
        receipt_sha256=receipt_sha256,
    )


def _destroy(path: Path) -> None:
    """Overwrite in place with random bytes, flush to the device, unlink, make the unlink durable."""
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        offset = 0
        while offset < size:
            view = memoryview(os.urandom(min(CHUNK, size - offset)))
            while view:
                written = os.pwrite(fd, view, offset)
                offset += written
                view = view[written:]
        _sync(fd)
    finally:
        os.close(fd)
    path.unlink()
    fsync_dir(path.parent)


def _sync(fd: int) -> None:
    # On macOS fsync only reaches the drive's cache; F_FULLFSYNC asks the drive to write it out.
    if hasattr(fcntl, "F_FULLFSYNC"):
        try:
            fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
            return
        except OSError:
            pass  # not supported by this file system: fall back to fsync
    os.fsync(fd)


# -- receipt -------------------------------------------------------------------------------------


def _receipt(plan: Plan, targets: list[Target], runs: list[dict]) -> Receipt:
    return Receipt(
        session=plan.session.name,
        folder=str(plan.folder.resolve()),
        tool_version=__version__,
        host=socket.gethostname(),
        started=runs[0]["started"],
        finished=now(),
        runs=tuple(runs),
        files=tuple(asdict(target) for target in targets),
        exports=tuple(asdict(record) for record in plan.exports),
        review=review_of(plan.session).summary(),  # how far a person checked the transcript before the audio went
    )


def _already_purged(folder: Path, session: Session) -> PurgeResult:
    journal = folder / JOURNAL
    if journal.exists():  # left over from a purge killed after session.json recorded completion
        journal.unlink()
        fsync_dir(folder)
    path = folder / session.purge["receipt"]
    try:
        receipt = json.loads(path.read_text(encoding="utf-8"))
        files = tuple(Target(**row) for row in receipt["files"])
        exports = tuple(ExportRecord(**row) for row in receipt["exports"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise PurgeError(
            f"Session '{session.name}' was purged, but its receipt {path} cannot be read ({exc!r}). "
            f"Run 'transcribe verify-purge {folder}' to see what is wrong."
        ) from None
    return PurgeResult(
        folder,
        session.name,
        "already-purged",
        files,
        exports,
        receipt=path,
        receipt_sha256=session.purge["receipt_sha256"],
    )
