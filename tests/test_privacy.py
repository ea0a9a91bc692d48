"""Privacy: a real run opens no network connection, pyannote's telemetry is off before pyannote is
imported, everything the tool writes is readable by its owner only, and nothing it prints
carries transcript text or where the recording is.

One real ``transcribe run`` (the 3.5 s NPSC clip) in a subprocess serves every test here. Up to
three layers watch the network: a socket guard installed in the process before ``transcribe`` is
imported (it records and refuses every connection, name lookup and datagram that is not a Unix
socket); where the machine allows it, a fresh network namespace with no interface but a loopback
that is down (``unshare --net``), so nothing gets out whatever asks; and, where strace is
installed, a record of every connect/send system call, which sees C libraries that bypass
Python's socket module (that is how ONNX Runtime's DNS lookups of Microsoft's telemetry
collector were found). The other commands (export, report, purge, verify-purge) run in-process
under the same kind of guard.

What the tool prints, by design: ``run`` and ``export`` print the session folder, the export
paths and hashes, the speaker map and warnings; never transcript text, and never the path or
name of a recording. ``purge`` and ``verify-purge`` print the recordings' paths: naming what was
destroyed is their job. ``speakers``, ``names`` and ``report`` print excerpts of the transcript
because that is what the researcher asked them for. ``--verbose`` adds only the traceback of an
internal error.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from transcribe.cli import cli

SHORT = Path(__file__).parent / "fixtures" / "npsc" / "norwegian-short-3s.mp3"

# Runs `transcribe` (argv) with the network forbidden inside Python; writes what it saw to $STATE.
GUARDED_RUN = r"""
import json, os, socket, sys

attempts = []

def refuse(kind, target):
    attempts.append([kind, repr(target)])
    raise OSError(101, f"network forbidden by the test ({kind})")

def guard(name):
    original = getattr(socket.socket, name)
    def guarded(self, *args):
        if self.family == socket.AF_UNIX:
            return original(self, *args)
        return refuse(f"socket.{name}", args[:1])
    setattr(socket.socket, name, guarded)

for name in ("connect", "connect_ex", "sendto", "sendmsg"):
    guard(name)
socket.getaddrinfo = lambda *args, **kwargs: refuse("getaddrinfo", args[:2])
socket.gethostbyname = lambda *args: refuse("gethostbyname", args)
socket.create_connection = lambda address, *args, **kwargs: refuse("create_connection", address)

state = {"pyannote_before": "pyannote.audio" in sys.modules}
import transcribe
state["after_import"] = {key: os.environ.get(key) for key in ("PYANNOTE_METRICS_ENABLED", "ORT_DISABLE_TELEMETRY",
                         "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "TRANSFORMERS_OFFLINE")}
state["pyannote_at_import"] = "pyannote.audio" in sys.modules
state["interfaces"] = [name for _, name in socket.if_nameindex()]
from transcribe.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="transcribe")
except SystemExit as exit:
    state["exit"] = exit.code
state["pyannote_after_run"] = "pyannote.audio" in sys.modules
state["onnxruntime_after_run"] = "onnxruntime" in sys.modules
from pyannote.audio.telemetry.metrics import is_metrics_enabled
state["metrics_enabled"] = is_metrics_enabled()
state["attempts"] = attempts
with open(os.environ["STATE"], "w") as out:
    json.dump(state, out)
sys.exit(state.get("exit") or 0)
"""


def works(*command: str) -> bool:
    return shutil.which(command[0]) is not None and subprocess.run(command, capture_output=True).returncode == 0


def network_namespace() -> list[str] | None:
    """The unshare prefix that gives a process a network namespace of its own, if this machine allows one."""
    for prefix in (["unshare", "--net"], ["unshare", "--user", "--map-root-user", "--net"]):
        if works(*prefix, "true"):
            return prefix
    return None


STRACE = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg,sendmmsg"]


def internet_calls(log: Path) -> list[str]:
    """connect/send system calls that name an IPv4 or IPv6 address (the Unix sockets are the machine's own)."""
    return [line for line in log.read_text(errors="replace").splitlines() if "AF_INET" in line]


@pytest.fixture(scope="module")
def guarded_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    (root / "opptak").mkdir()
    recording = Path(shutil.copy(SHORT, root / "opptak" / "møte 1.mp3"))
    folder = root / "ut" / "økt"  # neither exists yet: the tool makes both
    scratch = root / "tmp"
    scratch.mkdir()
    namespace = network_namespace() or []
    strace = [*STRACE, "-o", str(root / "strace.log")] if works(*STRACE, "-o", os.devnull, "true") else []
    # As a user who once said yes to both telemetries: the tool must switch them off whatever the
    # environment says. One OpenMP thread: spinning threads make the models slow on a busy machine.
    env = {
        **os.environ,
        "STATE": str(root / "state.json"),
        "TMPDIR": str(scratch),
        "OMP_NUM_THREADS": "1",
        "PYANNOTE_METRICS_ENABLED": "true",
        "ORT_DISABLE_TELEMETRY": "0",
    }
    done = subprocess.run(
        [
            *namespace,
            *strace,
            sys.executable,
            "-c",
            GUARDED_RUN,
            "run",
            recording,
            "-i",
            "1-2",
            "--out",
            folder,
            "--formats",
            "txt,json,docx,csv",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    state = json.loads((root / "state.json").read_text())
    return {
        "root": root,
        "recording": recording,
        "folder": folder,
        "scratch": scratch,
        "done": done,
        "state": state,
        "namespace": bool(namespace),
        "strace": root / "strace.log" if strace else None,
    }


@pytest.mark.slow
def test_a_run_with_every_connection_forbidden_completes_and_tries_none(guarded_run):
    assert guarded_run["state"]["attempts"] == []
    assert guarded_run["state"]["exit"] == 0
    transcript = json.loads((guarded_run["folder"] / "økt.json").read_text(encoding="utf-8"))
    assert transcript["utterances"]


@pytest.mark.slow
def test_a_run_in_a_network_namespace_of_its_own_completes(guarded_run):
    if not guarded_run["namespace"]:
        pytest.skip("this machine allows no network namespace (unshare --net)")
    assert guarded_run["state"]["interfaces"] == ["lo"]  # no way out at all, whatever library asks


@pytest.mark.slow
def test_no_library_makes_a_system_call_to_the_internet(guarded_run):
    if guarded_run["strace"] is None:
        pytest.skip("strace is not installed or may not trace here")
    assert internet_calls(guarded_run["strace"]) == []


@pytest.mark.slow
def test_telemetry_is_switched_off_before_pyannote_or_onnxruntime_is_imported(guarded_run):
    state = guarded_run["state"]
    assert not state["pyannote_before"] and not state["pyannote_at_import"]
    assert state["after_import"] == {
        "PYANNOTE_METRICS_ENABLED": "0",
        "ORT_DISABLE_TELEMETRY": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    assert state["pyannote_after_run"] and state["onnxruntime_after_run"]  # the run did import both …
    assert state["metrics_enabled"] is False  # … pyannote's own switch reads off
    # … and ONNX Runtime made no device id file ($TMPDIR/.ses), which it does whenever its telemetry is on.
    assert not (guarded_run["scratch"] / ".ses").exists()


@pytest.mark.slow
def test_the_run_writes_nothing_outside_its_folder_and_prints_no_transcript_or_recording(guarded_run):
    done, recording = guarded_run["done"], guarded_run["recording"]
    printed = done.stdout + done.stderr
    assert list(guarded_run["scratch"].iterdir()) == []  # nothing in TMPDIR: no decoded audio, no text
    assert str(guarded_run["folder"] / "økt.txt") in done.stdout  # what it wrote, and where, is said
    assert recording.name not in printed and str(recording.parent) not in printed
    transcript = json.loads((guarded_run["folder"] / "økt.json").read_text(encoding="utf-8"))
    words = {w["text"].strip(".,?!").lower() for u in transcript["utterances"] for w in u["words"]}
    said = [word for word in words if len(word) >= 4 and re.search(rf"\b{re.escape(word)}\b", printed.lower())]
    assert words and said == [], said


@pytest.fixture(scope="module")
def other_commands(guarded_run):
    """export, report, purge and verify-purge on the finished session, in-process, with the network refused."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError(101, "network forbidden by the test")

    def connect(sock, address):
        if sock.family == socket.AF_UNIX:
            return original(sock, address)
        return refuse(sock, address)

    original = socket.socket.connect
    folder, recording = guarded_run["folder"], guarded_run["recording"]
    patches = {
        (socket.socket, "connect"): connect,
        (socket, "getaddrinfo"): refuse,
        (socket, "create_connection"): refuse,
    }
    saved = {key: getattr(*key) for key in patches}
    for (owner, name), replacement in patches.items():
        setattr(owner, name, replacement)
    try:
        results = [
            CliRunner().invoke(cli, [str(a) for a in args])
            for args in (
                ("export", folder, "--formats", "txt,json,docx,csv,maxqda,nvivo,srt,vtt"),
                ("report", folder),
                ("purge", folder, "--yes"),
                ("verify-purge", folder, "--scan", recording.parent),
            )
        ]
    finally:
        for (owner, name), value in saved.items():
            setattr(owner, name, value)
    return results, attempts


@pytest.mark.slow
def test_export_report_purge_and_verify_open_no_connection(other_commands):
    results, attempts = other_commands
    assert [r.exit_code for r in results] == [0, 0, 0, 0], [r.output for r in results]
    assert attempts == []


@pytest.mark.slow
def test_every_file_and_folder_the_tool_made_is_owner_only(guarded_run, other_commands):
    root, folder = guarded_run["root"], guarded_run["folder"]
    made = [folder.parent, folder, *folder.rglob("*")]
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    assert {"session.json", "økt.txt", "økt.docx", "økt.srt", "purge-receipt.json", "purge-receipt.txt"} <= names
    assert any(name.startswith("report/") for name in names)
    loose = [
        f"{p.relative_to(root)} {stat.filemode(p.stat().st_mode)}"
        for p in made
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    assert loose == []
    assert not guarded_run["recording"].exists()  # and the purge did destroy the recording
