"""The purge receipt and the purge's states: written by purge.py, re-checked by verify.py.

``purge-receipt.json`` is the record (``Receipt``: what was destroyed, when, how, on which host,
which transcripts were kept and with which sha256, and the limits of the method);
``purge-receipt.txt`` says the same for people. ``problems`` is the one check of a receipt's
shape, used by ``verify-purge`` on a receipt it did not write.

``session.purge`` (session.json) is ``None`` before any purge, then ``{"state": "in-progress",
"journal", "started"}`` while files are being destroyed, and finally ``{"state": "complete",
"started", "finished", "receipt", "receipt_sha256", "receipt_text", "receipt_text_sha256"}``;
``Session.purge_state`` reads the state as a ``PurgeState``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

RECEIPT_JSON = "purge-receipt.json"
RECEIPT_TEXT = "purge-receipt.txt"
RECEIPT_FORMAT = "transcribe.purge-receipt/1"
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PurgeState(StrEnum):
    """Where a session's purge stands (``session.purge["state"]``); no purge yet is None."""

    IN_PROGRESS = "in-progress"
    COMPLETE = "complete"


class FileStatus(StrEnum):
    """Where one recording stands in a purge (journal and receipt)."""

    PENDING = "pending"
    OVERWRITING = "overwriting"  # marked before the first byte is overwritten
    DESTROYED = "destroyed"
    ALREADY_ABSENT = "already-absent"  # gone before the purge began, not by this tool


FINAL = (FileStatus.DESTROYED, FileStatus.ALREADY_ABSENT)

METHOD = "overwrite-random-1pass"
METHOD_DESCRIPTION = (
    "Overwritten in place over its full length with one pass of random bytes from the operating system "
    "(os.urandom, 1 MiB chunks), flushed to the device (fsync; F_FULLFSYNC on macOS), unlinked, and the "
    "folder fsynced so the removal is durable."
)
LIMITS = (
    "Overwriting in place is best effort. On SSDs and flash memory (wear levelling, spare blocks), on "
    "copy-on-write file systems (APFS, Btrfs, ZFS), on journaling file systems and under snapshots, the old "
    "blocks can survive on the device until they are reused. Full-disk encryption is what protects them.",
    "Backups (Time Machine, institutional backups), cloud sync (iCloud syncs Voice Memos to every device "
    "signed in to the account and keeps deleted memos in 'Recently Deleted' for 30 days), copies sent by "
    "e-mail, AirDrop or on USB sticks, and the recording on the phone itself are outside the tool's reach: "
    "delete them there by hand.",
    "The receipt states what this tool did on this host. 'transcribe verify-purge' finds remaining audio and "
    "byte-identical copies only in the folders it is asked to scan; a re-encoded copy is found as audio, "
    "not as a copy.",
    "The receipt's sha256 is stored in session.json: a change to either file is detected, a consistent change "
    "to both is not. Keep the receipt's sha256 in the project's records.",
)


@dataclass(frozen=True)
class Receipt:
    """What ``purge-receipt.json`` holds; ``to_dict`` is its JSON, in this order."""

    session: str
    folder: str  # resolved path of the session folder
    tool_version: str
    host: str
    started: str
    finished: str
    runs: tuple[dict, ...]  # each run of the purge: run, started, host, pid, tool_version
    files: tuple[dict, ...]  # each recording: path, file, size, sha256 (intake), status, time, run, note, …
    exports: tuple[dict, ...]  # each transcript kept: format, file, sha256, size, written
    review: dict | None = None  # turns, reviewed, edited, changes: how far a person checked the transcript
    method: dict = field(default_factory=lambda: {"id": METHOD, "description": METHOD_DESCRIPTION})
    limits: tuple[str, ...] = LIMITS

    def to_dict(self) -> dict:
        return {
            "format": RECEIPT_FORMAT,
            "session": self.session,
            "folder": self.folder,
            "tool_version": self.tool_version,
            "host": self.host,
            "started": self.started,
            "finished": self.finished,
            "runs": list(self.runs),
            "method": self.method,
            "files": list(self.files),
            "exports": list(self.exports),
            "tool_written_audio": [],  # the tool decodes in memory only: it never writes audio
            "review": self.review,
            "limits": list(self.limits),
        }


def problems(receipt) -> list[str]:
    """What makes ``receipt`` (parsed JSON) not a well-formed receipt of a finished purge; [] when nothing."""
    if not isinstance(receipt, dict):
        return ["not a JSON object"]
    if receipt.get("format") != RECEIPT_FORMAT:
        return [f"format {receipt.get('format')!r}, expected {RECEIPT_FORMAT!r}"]
    problems = [
        f"'{key}' missing or not {kind.__name__}"
        for key, kind in (
            ("session", str),
            ("folder", str),
            ("tool_version", str),
            ("host", str),
            ("started", str),
            ("finished", str),
            ("runs", list),
            ("method", dict),
            ("files", list),
            ("exports", list),
            ("tool_written_audio", list),
            ("limits", list),
        )
        if not isinstance(receipt.get(key), kind)
    ]
    if problems:
        return problems
    if not receipt["files"]:
        problems.append("lists no recordings")
    for index, row in enumerate(receipt["files"]):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("path"), str)
            and isinstance(row.get("size"), int)
            and isinstance(row.get("sha256"), str)
            and _SHA256.fullmatch(row["sha256"])
            and isinstance(row.get("time"), str)
        ):
            problems.append(f"recording {index + 1} lacks a path, size, sha256 or time")
        elif row.get("status") not in FINAL:
            problems.append(
                f"recording {row['path']} has status {row.get('status')!r}, not destroyed or already absent"
            )
    for index, row in enumerate(receipt["exports"]):
        if not (
            isinstance(row, dict)
            and isinstance(row.get("file"), str)
            and isinstance(row.get("sha256"), str)
            and _SHA256.fullmatch(row["sha256"])
        ):
            problems.append(f"export {index + 1} lacks a file or sha256")
    if receipt["tool_written_audio"]:
        problems.append("lists audio written by the tool, which it never writes")
    return problems


def receipt_text(receipt: dict, receipt_sha256: str) -> str:
    """The short human-readable receipt, written next to the JSON one."""
    runs = receipt["runs"]
    out = [
        f"Purge receipt: session '{receipt['session']}'",
        "",
        f"Folder:    {receipt['folder']}",
        f"Host:      {receipt['host']}",
        f"Tool:      transcribe {receipt['tool_version']}",
        f"Started:   {receipt['started']}",
        f"Finished:  {receipt['finished']}",
    ]
    if len(runs) > 1:
        out.append(
            f"Runs:      {len(runs)}, each interrupted but the last; run again, the purge resumed from its journal:"
        )
        out += [f"           run {r['run']} started {r['started']} on {r['host']}" for r in runs]
    out += [f"Method:    {receipt['method']['description']}", "", "Recordings"]
    for row in receipt["files"]:
        status = "destroyed" if row["status"] == FileStatus.DESTROYED else "already absent"
        out.append(f"  {status:<15} {row['time']}  {row['path']}")
        out.append(
            f"  {'':<15} {row['size']} bytes at intake, sha256 {row['sha256']}"
            + (f" (run {row['run']})" if len(runs) > 1 else "")
        )
        if row.get("found_sha256"):
            out.append(f"  {'':<15} content at purge: {row['found_size']} bytes, sha256 {row['found_sha256']}")
        if row.get("note"):
            out.append(f"  {'':<15} {row['note']}")
    review = receipt.get("review")  # receipts before the review editor have none
    if review:
        out += [
            "",
            f"Review:    {review['reviewed']} of {review['turns']} turns marked reviewed by a person; "
            f"{review['edited']} turns edited, {review['changes']} changes in effect",
        ]
    out += ["", "Transcripts kept (sha256 when purged)"]
    out += [f"  {row['file']:<30} {row['sha256']}" for row in receipt["exports"]]
    out += ["", "Audio written by the tool: none (recordings are decoded in memory only).", "", "Limits"]
    out += [f"  - {limit}" for limit in receipt["limits"]]
    out += [
        "",
        f"Full record: {RECEIPT_JSON}, sha256 {receipt_sha256}",
        "(also recorded in session.json). Keep this hash in the project's records. Check with:",
        f"  transcribe verify-purge {receipt['folder']} --scan <each folder that held the recordings>",
    ]
    return "\n".join(out) + "\n"
