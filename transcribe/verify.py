"""``verify-purge``: re-check a purge, for the privacy officer who did not run it.

``verify_purge(target, scan=())`` takes a session folder or its ``purge-receipt.json`` and
returns a ``Verification`` of checks; it holds only if every check does:

* **receipt**: it exists, is well-formed (format, fields, every file destroyed or already
  absent), and its sha256 (and that of ``purge-receipt.txt``) matches what session.json
  recorded when the purge finished; it names this session and covers every recording taken in
  at intake.
* **recordings**: every file the receipt lists is gone. If something exists under such a path
  again, it fails when it is the recording (same sha256) or any audio (an edited or re-shared
  recording has another hash); a non-audio file there is noted, not failed.
* **exports**: each export the receipt lists still matches its sha256 — or was written again
  after the purge and matches what session.json recorded then (``transcribe export`` works
  without audio, so re-exporting is legitimate); exports written later match session.json.
* **scan**: the session folder and each ``scan`` folder, recursively, are searched for audio by
  *content*, never by extension, and for byte-identical copies of a purged recording (same
  size, then same sha256), whatever their name. Any hit fails. A file that cannot be read fails
  too: what cannot be read cannot be cleared. Symbolic links to folders are not followed (no
  loops, no scanning outside what was asked); pass the real folder. Each file is examined once,
  however many scanned folders contain it.

Audio is recognised by its container's signature (``sniff.audio_kind``).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import InputError, SessionError, VerificationFailed
from .files import sha256_file
from .receipt import RECEIPT_JSON, RECEIPT_TEXT, PurgeState
from .receipt import problems as receipt_problems
from .session import Session
from .sniff import HEAD, audio_kind

# -- scanning ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A file a scan found: audio by content, a copy of a purged recording, or unreadable."""

    path: str
    kind: str | None = None  # audio container found by content
    copy_of: str | None = None  # path of the purged recording it is a byte-identical copy of
    error: str | None = None


def scan(
    folders: Iterable[str | Path], recordings: Mapping[str, tuple[int, str]] | None = None
) -> tuple[list[Hit], int]:
    """Search ``folders`` recursively; return the hits and how many files were examined.

    ``recordings`` maps sha256 → (size, path) of purged recordings; only files of one of those
    sizes are hashed.
    """
    recordings = recordings or {}
    sizes = {size for size, _ in recordings.values()}
    hits: list[Hit] = []
    seen: set[tuple[int, int]] = set()
    for path, info in _files(folders, hits):
        if (info.st_dev, info.st_ino) in seen:
            continue
        seen.add((info.st_dev, info.st_ino))
        try:
            with open(path, "rb") as handle:
                kind = audio_kind(handle.read(HEAD), info.st_size)
            digest = sha256_file(path) if info.st_size in sizes else None
        except OSError as exc:
            hits.append(Hit(str(path), error=exc.strerror or type(exc).__name__))
            continue
        copy_of = recordings[digest][1] if digest in recordings else None
        if kind or copy_of:
            hits.append(Hit(str(path), kind=kind, copy_of=copy_of))
    return hits, len(seen)


def _files(folders: Iterable[str | Path], hits: list[Hit]) -> Iterator[tuple[Path, os.stat_result]]:
    """Regular files under ``folders`` (links to files followed, links to folders not)."""

    def unreadable(exc: OSError) -> None:
        hits.append(Hit(str(exc.filename), error=exc.strerror or type(exc).__name__))

    for folder in folders:
        for root, _, names in os.walk(folder, onerror=unreadable):
            for name in names:
                path = Path(root) / name
                try:
                    info = path.stat()
                except OSError:
                    continue  # a dangling link: nothing to read
                if stat.S_ISREG(info.st_mode):  # never open FIFOs or devices
                    yield path, info


# -- the verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    check: str  # "receipt" | "recording" | "export" | "scan"
    ok: bool
    detail: str
    path: str | None = None


@dataclass(frozen=True)
class Verification:
    folder: str
    receipt: str
    session: str | None
    receipt_sha256: str | None
    scanned: tuple[str, ...]
    files_scanned: int
    checks: tuple[Check, ...]
    unscanned_source_folders: tuple[str, ...]  # where the recordings lived, not among the scanned

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def to_dict(self) -> dict:
        return {
            "verdict": "passed" if self.ok else "failed",
            "ok": self.ok,
            "session": self.session,
            "folder": self.folder,
            "receipt": self.receipt,
            "receipt_sha256": self.receipt_sha256,
            "scanned": list(self.scanned),
            "files_scanned": self.files_scanned,
            "unscanned_source_folders": list(self.unscanned_source_folders),
            "checks": [asdict(check) for check in self.checks],
        }

    def to_json(self) -> dict:
        return self.to_dict()

    def lines(self) -> list[str]:
        lines = [f"Purge of session '{self.session or self.folder}' (receipt {self.receipt}):"]
        for check in self.checks:
            where = f"{check.path}: " if check.path else ""
            lines.append(f"  {'ok' if check.ok else 'FAIL':<5} {check.check:<10} {where}{check.detail}")
        lines += [
            f"Not scanned: {folder}, where recordings were. Add --scan {folder} to search there too."
            for folder in self.unscanned_source_folders
        ]
        lines.append(
            "Verdict: PASSED, every check holds." if self.ok else f"Verdict: FAILED, {len(self.problems)} problem(s)."
        )
        return lines

    def raise_if_failed(self) -> None:
        """VerificationFailed (its exit status) unless every check holds."""
        if not self.ok:
            raise VerificationFailed(
                f"The purge of '{self.session or self.folder}' cannot be confirmed: "
                f"{len(self.problems)} check(s) failed."
            )


def verify_purge(target: str | Path, scan_folders: Iterable[str | Path] = ()) -> Verification:
    """Check a purge; see the module docstring. Never raises for a failed check: read ``Verification.ok``."""
    target = Path(target)
    if target.is_dir():
        folder, receipt_path = target, target / RECEIPT_JSON
    elif target.is_file():
        folder, receipt_path = target.parent, target
    else:
        raise InputError(f"{target} does not exist. Pass a session folder or its {RECEIPT_JSON}.")
    extra = [Path(f) for f in scan_folders]
    for path in extra:
        if not path.is_dir():
            raise InputError(f"--scan {path}: not a folder. Pass folders to search for remaining audio.")

    checks: list[Check] = []
    session = _load_session(folder, checks)
    receipt, receipt_sha256 = _check_receipt(receipt_path, folder, session, checks)
    if receipt is not None:
        recordings = {row["sha256"]: (row["size"], row["path"]) for row in receipt["files"]}
        _check_exports(folder, receipt, session, checks)
    elif session is not None:
        recordings = {s.sha256: (s.size, s.path) for s in session.sources}
    else:
        recordings = {}
    _check_gone(recordings, checks)

    folders = [folder, *extra]
    hits, count = scan(folders, recordings)
    for hit in hits:
        if hit.error:
            checks.append(Check("scan", False, f"cannot be read ({hit.error}), so it cannot be cleared", hit.path))
        elif hit.copy_of:
            checks.append(
                Check("scan", False, f"a byte-identical copy of the purged recording {hit.copy_of}", hit.path)
            )
        else:
            checks.append(Check("scan", False, f"holds audio ({hit.kind}), found by content", hit.path))
    if not hits:
        checks.append(
            Check("scan", True, f"{count} files in {len(folders)} folder(s): no audio, no copy of a purged recording")
        )

    scanned = [str(Path(f).resolve()) for f in folders]
    source_folders = sorted({str(Path(path).parent) for _, path in recordings.values()})
    unscanned = [f for f in source_folders if not any(_inside(f, s) for s in scanned)]
    return Verification(
        str(folder),
        str(receipt_path),
        session.name if session else None,
        receipt_sha256,
        tuple(scanned),
        count,
        tuple(checks),
        tuple(unscanned),
    )


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _load_session(folder: Path, checks: list[Check]) -> Session | None:
    try:
        return Session.load(folder)
    except SessionError as exc:
        checks.append(Check("receipt", False, f"session.json cannot be used: {exc}", str(folder)))
        return None


def _check_receipt(
    path: Path, folder: Path, session: Session | None, checks: list[Check]
) -> tuple[dict | None, str | None]:
    """The receipt, if it is well-formed (else None), and its sha256."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        checks.append(
            Check(
                "receipt",
                False,
                "no purge receipt: this session has not been purged, or its receipt was removed",
                str(path),
            )
        )
        return None, None
    except OSError as exc:
        checks.append(Check("receipt", False, f"cannot be read ({exc.strerror})", str(path)))
        return None, None
    digest = hashlib.sha256(data).hexdigest()
    try:
        receipt = json.loads(data.decode("utf-8"))
        problems = receipt_problems(receipt)
    except (UnicodeDecodeError, ValueError) as exc:
        receipt, problems = None, [f"not valid JSON ({exc})"]
    if problems:
        checks.append(Check("receipt", False, "malformed: " + "; ".join(problems), str(path)))
        receipt = None
    else:
        checks.append(
            Check(
                "receipt",
                True,
                f"well-formed ({len(receipt['files'])} recordings, {len(receipt['exports'])} exports)",
                str(path),
            )
        )
    if session is None:
        return receipt, digest
    state = session.purge or {}
    if session.purge_state is not PurgeState.COMPLETE:
        checks.append(
            Check(
                "receipt",
                False,
                f"session.json records no finished purge (purge state: {state.get('state')})",
                str(folder),
            )
        )
        return receipt, digest
    if digest == state.get("receipt_sha256"):
        checks.append(Check("receipt", True, f"sha256 {digest} matches session.json", str(path)))
    else:
        checks.append(
            Check(
                "receipt",
                False,
                f"sha256 {digest} differs from {state.get('receipt_sha256')} recorded in "
                "session.json: the receipt or session.json was changed after the purge",
                str(path),
            )
        )
    text = folder / state.get("receipt_text", RECEIPT_TEXT)
    try:
        text_ok = sha256_file(text) == state.get("receipt_text_sha256")
    except OSError:
        checks.append(Check("receipt", False, "the human-readable receipt is missing or unreadable", str(text)))
    else:
        checks.append(
            Check(
                "receipt",
                text_ok,
                "matches session.json"
                if text_ok
                else "differs from the sha256 recorded in session.json: it was changed after the purge",
                str(text),
            )
        )
    if receipt is not None:
        _check_coverage(receipt, session, path, checks)
    return receipt, digest


def _check_coverage(receipt: dict, session: Session, path: Path, checks: list[Check]) -> None:
    if receipt["session"] != session.name:
        checks.append(
            Check(
                "receipt",
                False,
                f"names session '{receipt['session']}', but session.json is '{session.name}'",
                str(path),
            )
        )
    listed = {(row["path"], row["sha256"]) for row in receipt["files"]}
    for source in session.sources:
        if (source.path, source.sha256) not in listed:
            checks.append(
                Check(
                    "receipt", False, f"recording {source.path} (taken in at intake) is not in the receipt", str(path)
                )
            )


def _check_gone(recordings: Mapping[str, tuple[int, str]], checks: list[Check]) -> None:
    for sha256, (_, name) in recordings.items():
        path = Path(name)
        try:
            path.lstat()
        except FileNotFoundError:
            checks.append(Check("recording", True, "gone", name))
            continue
        except OSError as exc:
            checks.append(Check("recording", False, f"cannot be examined ({exc.strerror})", name))
            continue
        try:
            with open(path, "rb") as handle:
                kind = audio_kind(handle.read(HEAD), path.stat().st_size)
            same = sha256_file(path) == sha256
        except OSError as exc:
            checks.append(Check("recording", False, f"something exists here and cannot be read ({exc.strerror})", name))
            continue
        if same:
            checks.append(Check("recording", False, "the purged recording exists here again (same sha256)", name))
        elif kind:
            checks.append(
                Check(
                    "recording",
                    False,
                    f"an audio file ({kind}) exists here again, with other content: "
                    "check it is not the recording edited or shared again",
                    name,
                )
            )
        else:
            checks.append(Check("recording", True, "gone (a file that is not audio now has this name)", name))


def _check_exports(folder: Path, receipt: dict, session: Session | None, checks: list[Check]) -> None:
    recorded = {record.file: record for record in session.exports} if session else {}
    for row in receipt["exports"]:
        path = folder / row["file"]
        try:
            digest = sha256_file(path)
        except OSError as exc:
            checks.append(Check("export", False, f"missing or unreadable ({exc.strerror})", str(path)))
            continue
        later = recorded.get(row["file"])
        if digest == row["sha256"]:
            checks.append(Check("export", True, f"sha256 matches the receipt ({digest[:16]}…)", str(path)))
        elif later and later.sha256 == digest and later.written >= receipt["finished"]:
            checks.append(
                Check(
                    "export", True, f"written again after the purge ({later.written}); matches session.json", str(path)
                )
            )
        else:
            checks.append(
                Check(
                    "export",
                    False,
                    f"changed since the purge (sha256 now {digest[:16]}…, receipt "
                    f"{row['sha256'][:16]}…) and not recorded in session.json",
                    str(path),
                )
            )
    listed = {row["file"] for row in receipt["exports"]}
    for record in recorded.values():
        if record.file in listed:
            continue
        path = folder / record.file
        try:
            ok = sha256_file(path) == record.sha256
        except OSError:
            ok = False
        checks.append(
            Check(
                "export",
                ok,
                "written after the purge; "
                + ("matches session.json" if ok else "missing or differs from session.json"),
                str(path),
            )
        )
