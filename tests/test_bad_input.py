"""Bad input through the real CLI: one plain sentence, an exit code, no traceback, nothing half-done.

Every refusal below is checked for the same four things: the exit code; exactly one line on the
output, starting ``Error:``, that says what was wrong (naming the file) and what to do; no
traceback or "Internal error"; no transcript written or marked complete; every input file
unchanged (nothing deleted). The decoder's own tests (tests/test_audio.py) check decoding and
resampling in detail; here the same inputs go through ``transcribe run``.

The table, as in the README's troubleshooting section (exit codes: 1 cannot write, 3 bad input,
5 session state; click's own usage errors exit 2):

| input | what happens | exit |
|---|---|---|
| a file that does not exist | "X does not exist. Check the file name and folder." | 3 |
| a folder | "X is a folder. Pass the audio files inside it, in recording order." | 3 |
| a zero-byte file | "X is empty (0 bytes). Copy the recording again from the phone." | 3 |
| a text file renamed .m4a | "X is not a recording that can be decoded (…)" | 3 |
| an image (PNG, also renamed .m4a) | "X has no audio track. Pass the recording itself, not a picture or a silent video." | 3 |
| a video without audio | "X has no audio track. …" | 3 |
| a truncated .m4a | "X is damaged after 1.8 s (…)" or "X is truncated: its header says … s" | 3 |
| silence only | "X: the recording is silent (no sound above -60 dBFS). …" | 3 |
| noise only (no speech) | "No speech was recognised in X (3.0 s), so no transcript was written. …" | 3 |
| a 0.5-second clip | transcribed if words are recognised in it; otherwise refused as "No speech was recognised …" | 0 or 3 |
| the same part given twice | "X and Y are the same recording. Pass each part once." | 3 |
| a video with an audio track; 8/16/44.1/48/96 kHz; stereo, 6-channel | accepted: the audio track is used, resampled to 16 kHz and mixed to mono | 0 |
| parts with different sample rates | accepted, laid end to end | 0 |
| file and folder names with spaces, æøå, emoji | accepted; names kept as they are in exports and messages | 0 |
| a 4-hour recording | accepted; decoding holds it in memory once (≈ 1 GB; scripts/bench_memory.py) | 0 |
| a read-only output folder | "The output folder X is not writable. Choose another folder with --out or fix its permissions." | 1 |
| --out names a file | "Cannot create the output folder X: File exists. …" | 1 |
| the output folder's disk is full | "Could not write X: No space left on device. Check free disk space and permissions; nothing was changed under that name." | 1 |
| --informants malformed (1-, abc, 6-1, 0-3, 1,1, empty) | "--informants '6-1': a range must go upwards from 1 or more, like 7-12." etc. | 3 |
| --informants absurdly large (1-100000000) | "--informants '…' names more than 100 informants. …" | 3 |
| more informants than speakers found | "Warning: Only N speakers were found, so K informant number(s) are unused. …"; the run carries on | 0 |
| --map file: not TOML, missing | refused before any audio is decoded: "The map file X is not valid TOML (…)" | 3 |
| --map file: unknown cluster, label outside the informants, two clusters on one label, … | "The map file X cannot be used: …" (tests/test_speakers_map.py) | 3 |
| --names file: not TOML, invalid entries | "The names file X is not valid TOML …" / "… is not a replacement …" (tests/test_names.py) | 3 |
| --out holds another session | "X already holds session 'Y' made from other recordings (…). Choose a new folder with --out." | 5 |
| another transcribe process works on the folder | "Another transcribe process (pid N) is working on X. …" (tests/test_faults.py) | 5 |
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import command, invoke
from media import make_silence, make_tone
from sessions import save_session

from transcribe import audio
from transcribe.finish import finish
from transcribe.session import Session

FIXTURES = Path(__file__).parent / "fixtures"
SHORT = FIXTURES / "npsc" / "norwegian-short-3s.mp3"  # 3.5 s of real Norwegian (NPSC, CC0)


def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *map(str, args)], check=True)


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (but the lock, which holds a pid): nothing deleted or changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".transcribe.lock"
    }


def assert_refused(output: str, exit_code: int, code: int, *fragments: str) -> None:
    """One plain sentence (on one line, starting Error:), the exit code, and no traceback."""
    assert exit_code == code, output
    assert "Traceback" not in output and "Internal error" not in output, output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    for fragment in fragments:
        assert fragment in lines[0], output


def assert_no_transcript(out: Path) -> None:
    """Nothing in the session folder looks like, or is recorded as, a finished transcript."""
    if not out.exists():
        return
    written = sorted(p.name for p in out.iterdir() if p.name not in ("session.json", ".transcribe.lock"))
    assert written == [], written
    if Session.exists(out):
        session = Session.load(out)
        assert session.exports == [] and session.utterances is None and session.speaker_map is None


# -- the table: refusals that happen before any speech model runs ----------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], list]  # inputs folder → extra arguments of `transcribe run` (recordings first)
    code: int
    fragments: tuple[str, ...]


def _truncated(d: Path) -> list:
    whole = make_tone(
        d / "whole.tmp.m4a", seconds=6.0, rate=48000, codec_args=("-c:a", "aac", "-movflags", "+faststart")
    )
    cut = write(d / "opptak.m4a", whole.read_bytes()[: whole.stat().st_size // 3])
    whole.unlink()
    return [cut]


def _image(d: Path) -> list:
    ffmpeg("-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", d / "bilde.png")
    return [(d / "bilde.png").rename(d / "bilde.m4a")]


def _video_without_audio(d: Path) -> list:
    ffmpeg("-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", "-c:v", "mpeg4", d / "video.mp4")
    return [d / "video.mp4"]


def _another_session(d: Path) -> list:
    save_session(d / "gruppe1")  # a finished session made from other recordings
    return [make_tone(d / "ny.wav", seconds=2.0), "--out", d / "gruppe1"]


CASES = [
    Case("missing file", lambda d: [d / "gruppe1.m4a"], 3, ("gruppe1.m4a does not exist.",)),
    Case(
        "missing file, name with spaces æøå emoji",
        lambda d: [d / "møte 1 – Ås 🎤.m4a"],
        3,
        ("møte 1 – Ås 🎤.m4a does not exist.",),
    ),
    Case("folder", lambda d: [d], 3, ("is a folder. Pass the audio files inside it",)),
    Case("zero-byte file", lambda d: [write(d / "tom.m4a", b"")], 3, ("tom.m4a is empty (0 bytes).",)),
    Case(
        "text renamed .m4a",
        lambda d: [write(d / "notat.m4a", "Dette er bare tekst.\n" * 50)],
        3,
        ("notat.m4a is not a recording that can be decoded",),
    ),
    Case("image renamed .m4a", _image, 3, ("bilde.m4a has no audio track.",)),
    Case("video without audio", _video_without_audio, 3, ("video.mp4 has no audio track.",)),
    Case("truncated m4a", _truncated, 3, ("opptak.m4a", "Copy it again from the phone")),
    Case("silence only", lambda d: [make_silence(d / "stille.wav", seconds=2.0)], 3, ("the recording is silent",)),
    Case("same part twice", lambda d: [make_tone(d / "del1.wav")] * 2, 3, ("are the same recording",)),
    Case("informants 1-", lambda d: [SHORT, "-i", "1-"], 3, ("--informants '1-' is not a range",)),
    Case("informants abc", lambda d: [SHORT, "-i", "abc"], 3, ("--informants 'abc' is not a range",)),
    Case("informants 6-1", lambda d: [SHORT, "-i", "6-1"], 3, ("a range must go upwards",)),
    Case("informants 0-3", lambda d: [SHORT, "-i", "0-3"], 3, ("a range must go upwards",)),
    Case("informants 1,1", lambda d: [SHORT, "-i", "1,1"], 3, ("names an informant twice",)),
    Case("informants empty", lambda d: [SHORT, "-i", ""], 3, ("is not a range",)),
    Case("informants absurd", lambda d: [SHORT, "-i", "1-100000000"], 3, ("names more than 100 informants",)),
    Case(
        "map file not TOML",
        lambda d: [SHORT, "--map", write(d / "kart.toml", 'SPEAKER_00 = "M"\nSPEAKER_01 =\n')],
        3,
        ("kart.toml is not valid TOML", "SPEAKER_03 = 4"),
    ),
    Case("map file missing", lambda d: [SHORT, "--map", d / "kart.toml"], 3, ("Cannot read the map file",)),
    Case(
        "names file invalid entry",
        lambda d: [SHORT, "--names", write(d / "navn.toml", "Kari = true\n")],
        3,
        ("navn.toml", "Kari = true is not a replacement"),
    ),
    Case(
        "names file not TOML",
        lambda d: [SHORT, "--names", write(d / "navn.toml", "Kari 3\n")],
        3,
        ("navn.toml is not valid TOML",),
    ),
    Case(
        "out is a file",
        lambda d: [SHORT, "--out", write(d / "fil.txt", "x")],
        1,
        ("Cannot create the output folder", "fil.txt"),
    ),
    Case("out holds another session", _another_session, 5, ("already holds session 'gruppe1'", "Choose a new folder")),
    Case("unknown language", lambda d: [SHORT, "--language", "sv"], 3, ("Language 'sv' is not supported",)),
    Case("unknown export format", lambda d: [SHORT, "--formats", "txt,pdf"], 3, ("Unknown export format pdf",)),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_plainly_and_changes_nothing(tmp_path, case):
    inputs = tmp_path / "opptak"
    inputs.mkdir()
    args = [str(arg) for arg in case.make(inputs)]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "økt")]
    if "-i" not in args:
        args += ["-i", "1-3"]
    before = snapshot(inputs)
    existed = (tmp_path / "økt").exists()
    result = invoke("run", *args, "--quiet")
    assert_refused(result.output, result.exit_code, case.code, *case.fragments)
    assert snapshot(inputs) == before  # nothing deleted, nothing changed
    assert_no_transcript(tmp_path / "økt")
    if not existed:  # a refused run leaves no empty session folder (or lock file) behind
        assert not (tmp_path / "økt").exists()


def test_a_map_file_with_bad_toml_is_refused_before_the_audio_is_decoded(tmp_path, monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("the recording was decoded before the map file was checked")

    monkeypatch.setattr(audio, "load", no_decoding)
    result = invoke(
        "run",
        SHORT,
        "-i",
        "1-3",
        "--out",
        tmp_path / "økt",
        "--quiet",
        "--map",
        write(tmp_path / "kart.toml", "SPEAKER_00 = M\n"),
    )
    assert_refused(result.output, result.exit_code, 3, "is not valid TOML")
    assert not Session.exists(tmp_path / "økt")


def test_a_header_that_understates_the_length_still_gives_every_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "_declared_duration", lambda container, stream: 0.1)
    samples, _ = audio.decode(make_tone(tmp_path / "tone.m4a", seconds=3.0, rate=48000, codec_args=("-c:a", "aac")))
    assert abs(len(samples) / audio.SAMPLE_RATE - 3.0) < 0.06


# -- the output folder: read-only, full --------------------------------------------------------------


def mount_namespace_works(tmp_path: Path) -> bool:
    """Root with mount namespaces (unshare -m): a real read-only folder or a full disk can be made."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=16k",
            "tmpfs",
            str(probe),
        ],
        capture_output=True,
    )
    probe.rmdir()
    return done.returncode == 0


def in_mount_namespace(script: str, *argv) -> subprocess.CompletedProcess:
    """Run ``sh -c script`` (with argv as $1 …) in a private mount namespace: mounts vanish with it."""
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_read_only_output_folder_is_refused(tmp_path):
    out = tmp_path / "økt"
    out.mkdir()
    recording = make_tone(tmp_path / "opptak.wav", seconds=2.0)
    if os.geteuid() != 0:  # permissions bind everyone but root
        out.chmod(0o500)
        result = invoke("run", recording, "-i", "1-3", "--out", out, "--quiet")
        output, code = result.output, result.exit_code
    elif mount_namespace_works(tmp_path):  # root: make it read-only for real, with a read-only bind mount
        done = in_mount_namespace(
            'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"',
            out,
            *command("run", recording, "-i", "1-3", "--out", out, "--quiet"),
        )
        output, code = done.stdout + done.stderr, done.returncode
    else:
        pytest.skip("running as root without mount namespaces: no way to make a folder read-only for root")
    assert_refused(output, code, 1, f"The output folder {out} is not writable.", "--out")
    assert list(out.iterdir()) == []


def finished_session(folder: Path) -> Session:
    """The hand-made session of tests/sessions.py with its txt and json exports, as 'run' leaves it."""
    session = save_session(folder)
    finish(session, folder)
    return session


def assert_exports_as_recorded(folder: Path) -> None:
    session = Session.load(folder)
    for record in session.exports:
        assert hashlib.sha256((folder / record.file).read_bytes()).hexdigest() == record.sha256, record.file
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_full_disk_during_run_is_one_sentence_and_leaves_no_session(tmp_path, monkeypatch):
    """ENOSPC from every write into the output folder (the first is session.json, right after decoding)."""
    out = tmp_path / "økt"
    real_write = os.write

    def full_disk(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(out)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    recording = make_tone(tmp_path / "opptak.wav", seconds=2.0)
    result = invoke("run", recording, "-i", "1-3", "--out", out, "--quiet")
    assert_refused(
        result.output,
        result.exit_code,
        1,
        f"Could not write {out / 'session.json'}: No space left on device.",
        "Check free disk space",
    )
    assert not out.exists()  # no session.json, no stray temp file, no lock: the folder this run made is gone
    assert recording.exists()


def test_a_full_disk_during_export_keeps_the_previous_exports(tmp_path):
    """A real full file system: a small tmpfs, filled up, under a finished session's folder."""
    if not mount_namespace_works(tmp_path):
        pytest.skip("needs root and mount namespaces (unshare -m) for a real full tmpfs")
    original = tmp_path / "gruppe1"
    finished_session(original)
    before = snapshot(original)
    disk, after = tmp_path / "disk", tmp_path / "after"
    disk.mkdir()
    after.mkdir()
    script = (
        'disk=$1 original=$2 after=$3; shift 3; mount -t tmpfs -o size=96k tmpfs "$disk" '
        '&& cp -a "$original" "$disk/gruppe1" && (head -c 1000000 /dev/zero > "$disk/fyll" 2>/dev/null; true) '
        '&& "$@"; code=$?; cp -a "$disk/gruppe1/." "$after/"; exit $code'
    )
    done = in_mount_namespace(
        script, disk, original, after, *command("export", disk / "gruppe1", "--formats", "txt,json,docx")
    )
    assert_refused(
        done.stdout + done.stderr, done.returncode, 1, "No space left on device", "nothing was changed under that name"
    )
    assert snapshot(after) == before  # session.json and every earlier export as they were; no temp file
    assert_exports_as_recorded(after)


# -- inputs that need the speech models ----------------------------------------------------------------


@pytest.fixture
def one_thread():
    """torch on one thread: on a busy machine spinning OpenMP threads make diarisation several times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_noise_only_is_refused_as_no_speech_and_no_transcript_is_written(tmp_path, one_thread):
    inputs = tmp_path / "opptak"
    inputs.mkdir()
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=color=pink:amplitude=0.3:sample_rate=48000:duration=3",
        "-c:a",
        "aac",
        inputs / "støy.m4a",
    )
    before = snapshot(inputs)
    out = tmp_path / "økt"
    for _attempt in range(2):  # the second run reuses the saved stages and says the same
        result = invoke("run", inputs / "støy.m4a", "-i", "1-3", "--out", out, "--quiet", "--purge", "--yes")
        assert_refused(
            result.output,
            result.exit_code,
            3,
            "No speech was recognised in støy.m4a (3.0 s)",
            "no transcript was written",
        )
        assert_no_transcript(out)
        assert snapshot(inputs) == before  # --purge did not run


@pytest.mark.slow
def test_a_half_second_clip_is_transcribed_or_refused_as_no_speech(tmp_path, one_thread):
    inputs = tmp_path / "opptak"
    inputs.mkdir()
    ffmpeg("-ss", "1.0", "-t", "0.5", "-i", SHORT, inputs / "kort.wav")
    out = tmp_path / "økt"
    result = invoke("run", inputs / "kort.wav", "-i", "1-3", "--out", out, "--quiet")
    assert "Traceback" not in result.output and "Internal error" not in result.output
    if result.exit_code == 0:
        transcript = json.loads((out / "økt.json").read_text(encoding="utf-8"))
        assert transcript["session"]["duration"] == pytest.approx(0.5, abs=0.05)
        assert transcript["utterances"] and all(u["text"] for u in transcript["utterances"])
    else:
        assert_refused(result.output, result.exit_code, 3, "No speech was recognised in kort.wav")
        assert_no_transcript(out)


@pytest.mark.slow
def test_parts_with_different_rates_video_and_unicode_names_are_accepted_with_a_warning(tmp_path, one_thread):
    """Part 1: a video with an audio track (44.1 kHz stereo); part 2: 8 kHz mono WAV. Six informants are
    expected but the clip has one or two voices: a warning, and the run carries on."""
    inputs = tmp_path / "opptak 🎤"
    inputs.mkdir()
    first, second = inputs / "del 1 – æøå 🎤.mp4", inputs / "del 2 Ås.wav"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=black:s=64x64:d=3.5",
        "-i",
        SHORT,
        "-shortest",
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        "-ar",
        "44100",
        "-ac",
        "2",
        first,
    )
    ffmpeg("-i", SHORT, "-ar", "8000", "-ac", "1", second)
    before = snapshot(inputs)
    out = tmp_path / "økt 1 – Ås 🎤"
    result = invoke("run", first, second, "-i", "1-6", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "informant number(s) are unused" in result.output
    session = Session.load(out)
    assert [(s.file, s.sample_rate, s.channels) for s in session.sources] == [
        (first.name, 44100, 2),
        (second.name, 8000, 1),
    ]
    assert session.sources[1].offset == pytest.approx(session.sources[0].duration)
    transcript = json.loads((out / f"{out.name}.json").read_text(encoding="utf-8"))
    assert [s["file"] for s in transcript["session"]["sources"]] == [first.name, second.name]
    assert transcript["utterances"]
    assert f"{out.name}.txt" in result.output and (out / f"{out.name}.txt").read_text(encoding="utf-8").startswith(
        f"# {out.name} ·"
    )
    assert snapshot(inputs) == before
