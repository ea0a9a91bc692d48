"""Purge: real recordings on disk, a hand-made finished session, real exports; no speech models.

The session (tests/sessions.py) has three recordings (a WAV made with the stdlib, two AAC .m4a made with ffmpeg)
in a folder of their own, as a researcher's recordings would be, and its exports in the session
folder.
"""

import hashlib
import json
import math
import os
import stat
import struct
import subprocess
import sys
import wave
from dataclasses import replace
from pathlib import Path

import interrupted
import pytest
import sessions
from click.testing import CliRunner
from conftest import command
from media import make_tone

from transcribe import purge as purge_stage
from transcribe import receipt as receipt_stage
from transcribe.cli import cli
from transcribe.errors import PurgeError
from transcribe.finish import finish
from transcribe.pipeline import RunOptions, diarization_request, transcription_request
from transcribe.purge import purge
from transcribe.records import Source
from transcribe.session import Session
from transcribe.verify import scan, verify_purge

INTERRUPTED = str(Path(interrupted.__file__))


def make_wav(path: Path, seconds: float = 1.0, frequency: float = 330.0) -> Path:
    rate = 16000
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * i / rate))) for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path


def make_recordings(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_wav(folder / "del1.wav"),
        make_tone(folder / "del2.m4a", seconds=1.0, frequency=440, codec_args=("-c:a", "aac", "-b:a", "64k")),
        make_tone(folder / "del3.m4a", seconds=1.0, frequency=550, codec_args=("-c:a", "aac", "-b:a", "64k")),
    ]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_session(recordings: list[Path]) -> Session:
    """The fixed test session (tests/sessions.py) over real ``recordings``, its speech stages marked
    as made with the default settings, so 'transcribe run' on it reuses them and runs no model."""
    session = sessions.make_session()
    session.sources = [
        Source(
            str(path.resolve()),
            path.name,
            sha256(path),
            path.stat().st_size,
            float(i),
            1.0,
            "aac" if path.suffix == ".m4a" else "pcm_s16le",
            16000,
            1,
        )
        for i, path in enumerate(recordings)
    ]
    options = RunOptions(informants=session.informants)
    session.diarization = replace(session.diarization, settings={"request": diarization_request(options)})
    session.transcription = replace(session.transcription, settings={"request": transcription_request(options)})
    return session


def make_session_folder(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A session folder with exports (txt, json) and its three recordings in a folder beside it."""
    recordings = make_recordings(tmp_path / "opptak")
    folder = tmp_path / "gruppe1"
    session = make_session(recordings)
    session.save(folder)
    finish(session, folder)
    return folder, recordings


@pytest.fixture
def made(tmp_path):
    return make_session_folder(tmp_path)


def cli_subprocess(*args, env=None, interrupt_after: int | None = None) -> subprocess.CompletedProcess:
    """The real CLI in a process of its own; ``interrupt_after`` N recordings, its purge dies (tests/interrupted.py)."""
    argv = (
        command(*args)
        if interrupt_after is None
        else [sys.executable, INTERRUPTED, str(interrupt_after), *map(str, args)]
    )
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


# -- purge ---------------------------------------------------------------------------------------


def test_purge_destroys_every_recording_and_writes_a_receipt(made):
    folder, recordings = made
    intake = [(str(p.resolve()), p.stat().st_size, sha256(p)) for p in recordings]
    exports = {name: sha256(folder / name) for name in ("gruppe1.txt", "gruppe1.json")}

    result = purge(folder)

    assert result.state == "purged"
    assert not any(path.exists() for path in recordings)
    assert not (folder / purge_stage.JOURNAL).exists()
    receipt_path, text_path = folder / purge_stage.RECEIPT_JSON, folder / purge_stage.RECEIPT_TEXT
    receipt = json.loads(receipt_path.read_text(encoding="utf-8"))
    assert receipt["format"] == receipt_stage.RECEIPT_FORMAT
    assert receipt["session"] == "gruppe1"
    assert receipt["host"] and receipt["tool_version"]
    assert [(f["path"], f["size"], f["sha256"]) for f in receipt["files"]] == intake
    assert all(f["status"] == "destroyed" and f["time"] and f["run"] == 1 for f in receipt["files"])
    assert receipt["method"]["id"] == "overwrite-random-1pass"
    assert {e["file"]: e["sha256"] for e in receipt["exports"]} == exports
    assert receipt["tool_written_audio"] == []
    limits = " ".join(receipt["limits"])
    assert "SSD" in limits and "copy-on-write" in limits and "iCloud" in limits and "phone" in limits
    for path in (receipt_path, text_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state = Session.load(folder).purge
    assert state["state"] == "complete"
    assert state["receipt_sha256"] == sha256(receipt_path) == result.receipt_sha256
    assert state["receipt_text_sha256"] == sha256(text_path)
    text = text_path.read_text(encoding="utf-8")
    assert "gruppe1" in text and sha256(receipt_path) in text and intake[0][2] in text and "best effort" in text


def test_the_tool_writes_no_audio_into_the_session_folder(made):
    folder, recordings = made
    hits, count = scan([folder], {sha256(p): (p.stat().st_size, str(p)) for p in recordings})
    assert count >= 3 and hits == []  # session.json, txt, json: text only


def test_purge_then_verify_passes(made):
    folder, recordings = made
    purge(folder)
    report = verify_purge(folder, [recordings[0].parent])
    assert report.ok, report.problems


@pytest.mark.parametrize("damage", ["missing", "modified", "unparsable"])
def test_a_bad_export_blocks_purge_and_nothing_is_deleted(made, damage):
    folder, recordings = made
    before = [sha256(p) for p in recordings]
    export = folder / "gruppe1.json"
    if damage == "missing":
        export.unlink()
    elif damage == "modified":
        export.write_text(export.read_text(encoding="utf-8").replace("selvhjelp", "selvhjalp"), encoding="utf-8")
    else:
        export.write_text("{ not json", encoding="utf-8")

    with pytest.raises(PurgeError) as caught:
        purge(folder)

    assert str(export) in str(caught.value) and "Nothing was deleted" in str(caught.value)
    assert [sha256(p) for p in recordings] == before
    assert not (folder / purge_stage.JOURNAL).exists() and not (folder / purge_stage.RECEIPT_JSON).exists()
    assert Session.load(folder).purge is None


def test_an_unfinished_transcript_blocks_purge(tmp_path):
    recordings = make_recordings(tmp_path / "opptak")
    session = make_session(recordings)
    session.utterances = session.speaker_map = None
    session.save(tmp_path / "gruppe1")
    with pytest.raises(PurgeError, match="(?s)not finished.*utterances, speaker map.*no export is recorded"):
        purge(tmp_path / "gruppe1")
    assert all(p.exists() for p in recordings)


def test_a_changed_recording_is_refused_unless_forced(made):
    folder, recordings = made
    changed = recordings[1]
    changed.write_bytes(changed.read_bytes() + b"trimmed in Voice Memos")
    hashes = [sha256(p) for p in recordings]

    with pytest.raises(PurgeError, match="no longer matches the recording taken in at intake") as caught:
        purge(folder)
    assert str(changed.resolve()) in str(caught.value) and "--force-mismatch" in str(caught.value)
    assert [sha256(p) for p in recordings] == hashes

    size_now = changed.stat().st_size
    result = purge(folder, force_mismatch=True)
    assert not any(p.exists() for p in recordings)
    row = next(f for f in result.files if f.file == changed.name)
    assert (row.status, row.found_sha256, row.found_size) == ("destroyed", hashes[1], size_now)
    assert "--force-mismatch" in row.note


def test_a_recording_already_gone_is_recorded_as_absent(made):
    folder, recordings = made
    recordings[0].unlink()
    result = purge(folder)
    statuses = [f.status for f in result.files]
    assert statuses == ["already-absent", "destroyed", "destroyed"]
    assert "not by this tool" in result.files[0].note


def test_dry_run_deletes_nothing(made):
    folder, recordings = made
    result = purge(folder, dry_run=True)
    assert result.state == "dry-run" and result.actions == ("destroy", "destroy", "destroy")
    assert all(p.exists() for p in recordings)
    assert Session.load(folder).purge is None
    assert not (folder / purge_stage.JOURNAL).exists() and not (folder / purge_stage.RECEIPT_JSON).exists()


def test_not_confirmed_deletes_nothing(made):
    folder, recordings = made
    seen = []
    with pytest.raises(PurgeError, match="not confirmed"):
        purge(folder, confirm=lambda plan: seen.append(plan) or False)
    assert [seen[0].action(t) for t in seen[0].targets] == ["destroy"] * 3
    assert all(p.exists() for p in recordings)


def test_a_second_purge_returns_the_first_receipt(made):
    folder, _ = made
    first = purge(folder)
    again = purge(folder)
    assert again.state == "already-purged"
    assert again.receipt_sha256 == first.receipt_sha256 == sha256(folder / purge_stage.RECEIPT_JSON)
    assert [f.status for f in again.files] == ["destroyed"] * 3


def test_a_purge_killed_after_one_file_resumes_and_completes(made):
    folder, recordings = made
    killed = cli_subprocess("purge", folder, "--yes", interrupt_after=1)
    assert killed.returncode == interrupted.EXIT, killed.stderr
    assert [p.exists() for p in recordings] == [False, True, True]
    journal = json.loads((folder / purge_stage.JOURNAL).read_text(encoding="utf-8"))
    assert [f["status"] for f in journal["files"]] == ["destroyed", "pending", "pending"]
    assert Session.load(folder).purge["state"] == "in-progress"
    assert not (folder / purge_stage.RECEIPT_JSON).exists()

    finished = cli_subprocess("purge", folder, "--yes")

    assert finished.returncode == 0, finished.stderr
    assert not any(p.exists() for p in recordings)
    receipt = json.loads((folder / purge_stage.RECEIPT_JSON).read_text(encoding="utf-8"))
    assert [r["run"] for r in receipt["runs"]] == [1, 2]
    assert [(f["file"], f["status"], f["run"]) for f in receipt["files"]] == [
        ("del1.wav", "destroyed", 1),
        ("del2.m4a", "destroyed", 2),
        ("del3.m4a", "destroyed", 2),
    ]
    assert receipt["files"][0]["time"] <= receipt["runs"][1]["started"] <= receipt["files"][2]["time"]
    assert "interrupted" in (folder / purge_stage.RECEIPT_TEXT).read_text(encoding="utf-8")
    assert not (folder / purge_stage.JOURNAL).exists()
    assert verify_purge(folder, [recordings[0].parent]).ok


def test_a_purge_killed_inside_a_file_finishes_that_file(made):
    """Killed after marking a file 'overwriting' and writing part of it: its hash no longer matches
    intake, yet the resumed purge finishes it without --force-mismatch."""
    folder, recordings = made
    killed = cli_subprocess("purge", folder, "--yes", interrupt_after=1)
    assert killed.returncode == interrupted.EXIT
    journal_path = folder / purge_stage.JOURNAL
    journal = json.loads(journal_path.read_text(encoding="utf-8"))
    journal["files"][1].update(status="overwriting", run=1)
    journal_path.write_text(json.dumps(journal), encoding="utf-8")
    with open(recordings[1], "r+b") as handle:
        handle.write(os.urandom(100))

    result = purge(folder)

    assert [(f.status, f.run) for f in result.files] == [("destroyed", 1), ("destroyed", 2), ("destroyed", 2)]
    assert "interrupted" in result.files[1].note
    assert not any(p.exists() for p in recordings)


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_purge_asks_first_and_no_keeps_everything(made):
    folder, recordings = made
    result = CliRunner().invoke(cli, ["purge", str(folder)], input="n\n")
    assert result.exit_code == 6
    assert "To destroy" in result.stderr and str(recordings[2].resolve()) in result.stderr
    assert "nothing was deleted" in result.stderr
    assert all(p.exists() for p in recordings)

    result = CliRunner().invoke(cli, ["purge", str(folder)], input="y\n")
    assert result.exit_code == 0, result.output
    assert "Destroyed 3 recording(s)" in result.stdout and "verify-purge" in result.stdout
    assert not any(p.exists() for p in recordings)


def test_cli_dry_run_json_lists_and_deletes_nothing(made):
    folder, recordings = made
    result = CliRunner().invoke(cli, ["purge", str(folder), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["state"] == "dry-run"
    assert [(f["file"], f["action"]) for f in data["files"]] == [(p.name, "destroy") for p in recordings]
    assert all(p.exists() for p in recordings)


def test_cli_refusal_exits_6_and_says_what_is_missing(made):
    folder, recordings = made
    (folder / "gruppe1.txt").unlink()
    result = CliRunner().invoke(cli, ["purge", str(folder), "--yes"])
    assert result.exit_code == 6
    assert "gruppe1.txt" in result.stderr and "is missing" in result.stderr
    assert all(p.exists() for p in recordings)


def test_cli_run_with_purge_exports_then_purges(made):
    """'run --purge' on a session whose speech stages are done: no model runs, exports are
    written again and verified, then the recordings go."""
    folder, recordings = made
    result = CliRunner().invoke(
        cli, ["run", *map(str, recordings), "--informants", "1-3", "--out", str(folder), "--purge", "--yes", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "diarize" not in data["computed"] and "transcribe" not in data["computed"]
    assert data["purge"]["state"] == "purged"
    assert not any(p.exists() for p in recordings)
    assert verify_purge(folder, [recordings[0].parent]).ok


def test_cli_run_does_not_purge_when_the_run_fails(made, tmp_path):
    folder, recordings = made
    result = CliRunner().invoke(
        cli,
        [
            "run",
            *map(str, recordings),
            str(tmp_path / "nowhere.m4a"),
            "--informants",
            "1-3",
            "--out",
            str(folder),
            "--purge",
            "--yes",
        ],
    )
    assert result.exit_code != 0
    assert all(p.exists() for p in recordings)
    assert Session.load(folder).purge is None


def test_a_file_unlinked_just_before_the_kill_is_recorded_as_destroyed(made):
    """Killed after the unlink but before the journal said so: the rerun confirms it is gone."""
    folder, recordings = made
    assert cli_subprocess("purge", folder, "--yes", interrupt_after=1).returncode == interrupted.EXIT
    journal_path = folder / purge_stage.JOURNAL
    journal = json.loads(journal_path.read_text(encoding="utf-8"))
    journal["files"][1].update(status="overwriting", run=1)
    journal_path.write_text(json.dumps(journal), encoding="utf-8")
    recordings[1].unlink()

    result = purge(folder)

    assert [f.status for f in result.files] == ["destroyed"] * 3
    assert "confirmed gone by run 2" in result.files[1].note


def test_a_damaged_journal_stops_the_purge(made):
    folder, recordings = made
    assert cli_subprocess("purge", folder, "--yes", interrupt_after=1).returncode == interrupted.EXIT
    (folder / purge_stage.JOURNAL).write_text("{", encoding="utf-8")
    with pytest.raises(PurgeError, match="journal .* is damaged"):
        purge(folder)
    assert [p.exists() for p in recordings] == [False, True, True]
