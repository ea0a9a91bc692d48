"""verify-purge: the privacy officer's check, on real purged sessions and real audio files."""

import json
import os
import random
import shutil
import struct

import pytest
from click.testing import CliRunner
from media import make_tone
from test_purge import make_session_folder, make_wav, sha256

from transcribe import purge as purge_stage
from transcribe.cli import cli
from transcribe.errors import InputError
from transcribe.purge import purge
from transcribe.session import Session
from transcribe.sniff import HEAD, audio_kind
from transcribe.verify import verify_purge


@pytest.fixture
def purged(tmp_path):
    """A purged session; a folder to scan; copies of the recordings kept aside (not scanned)."""
    folder, recordings = make_session_folder(tmp_path)
    kept = tmp_path / "kept"
    kept.mkdir()
    for path in recordings:
        shutil.copy(path, kept / path.name)
    purge(folder)
    scan = tmp_path / "scan"
    (scan / "a" / "b").mkdir(parents=True)
    (scan / "a" / "notes.md").write_text("Gruppe 1: transkribert, lyd slettet.\n", encoding="utf-8")
    return folder, recordings, kept, scan


def failures(report):
    return [(check.check, check.path, check.detail) for check in report.problems]


def verify_cli(*args):
    return CliRunner().invoke(cli, ["verify-purge", *map(str, args)])


def test_a_clean_purge_passes(purged):
    folder, recordings, _, scan = purged
    report = verify_purge(folder, [scan, recordings[0].parent])
    assert report.ok, failures(report)
    assert report.session == "gruppe1" and report.receipt_sha256 == sha256(folder / purge_stage.RECEIPT_JSON)
    assert {c.path for c in report.checks if c.check == "recording"} == {str(p.resolve()) for p in recordings}
    assert report.unscanned_source_folders == ()

    result = verify_cli(folder, "--scan", scan, "--scan", recordings[0].parent)
    assert result.exit_code == 0, result.output
    assert "Verdict: PASSED" in result.stdout


def test_the_receipt_itself_can_be_given(purged):
    folder, _, _, _ = purged
    assert verify_purge(folder / purge_stage.RECEIPT_JSON).ok


def test_folders_that_held_recordings_are_named_when_not_scanned(purged):
    folder, recordings, _, _ = purged
    report = verify_purge(folder)
    assert report.ok
    assert report.unscanned_source_folders == (str(recordings[0].parent.resolve()),)
    assert f"--scan {recordings[0].parent.resolve()}" in verify_cli(folder).stdout


def test_a_renamed_copy_in_a_nested_scanned_folder_is_found(purged):
    folder, recordings, kept, scan = purged
    planted = scan / "a" / "b" / "budsjett.pdf"
    shutil.copy(kept / recordings[1].name, planted)

    report = verify_purge(folder, [scan])

    assert not report.ok
    assert failures(report) == [
        ("scan", str(planted), f"a byte-identical copy of the purged recording {recordings[1].resolve()}")
    ]
    result = verify_cli(folder, "--scan", scan)
    assert result.exit_code == 7
    assert "FAIL" in result.stdout and str(planted) in result.stdout and "Verdict: FAILED" in result.stdout
    assert "cannot be confirmed" in result.stderr


def test_a_renamed_wav_copy_without_audio_magic_in_its_name_is_found(purged):
    folder, recordings, kept, scan = purged
    planted = scan / "a" / "data.bin"
    shutil.copy(kept / recordings[0].name, planted)
    assert [c.path for c in verify_purge(folder, [scan]).problems] == [str(planted)]


def test_other_audio_is_found_by_content_not_extension(purged):
    folder, _, _, scan = purged
    planted = scan / "a" / "b" / "referat.txt"
    make_tone(scan / "other.m4a", frequency=660, codec_args=("-c:a", "aac")).rename(planted)

    report = verify_purge(folder, [scan])

    assert [(c.check, c.path) for c in report.problems] == [("scan", str(planted))]
    assert "holds audio (MP4/M4A" in report.problems[0].detail


def test_a_tampered_receipt_is_detected(purged):
    folder, _, _, scan = purged
    receipt = folder / purge_stage.RECEIPT_JSON
    data = json.loads(receipt.read_text(encoding="utf-8"))
    data["files"][0]["time"] = "2020-01-01T00:00:00+00:00"
    receipt.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    report = verify_purge(folder, [scan])

    assert [(c.check, c.path) for c in report.problems] == [("receipt", str(receipt))]
    assert "differs from" in report.problems[0].detail and "changed after the purge" in report.problems[0].detail
    assert verify_cli(folder).exit_code == 7


def test_a_tampered_text_receipt_is_detected(purged):
    folder, _, _, _ = purged
    text = folder / purge_stage.RECEIPT_TEXT
    text.write_text(text.read_text(encoding="utf-8").replace("destroyed", "deleted", 1), encoding="utf-8")
    assert [(c.check, c.path) for c in verify_purge(folder).problems] == [("receipt", str(text))]


def test_a_malformed_receipt_fails_even_with_a_matching_hash(purged):
    """Someone rewrites the receipt and its hash in session.json consistently: the hash check
    cannot see it (a documented limit), but a receipt that does not say 'destroyed' still fails."""
    folder, _, _, _ = purged
    receipt = folder / purge_stage.RECEIPT_JSON
    data = json.loads(receipt.read_text(encoding="utf-8"))
    data["files"][2]["status"] = "pending"
    receipt.write_text(json.dumps(data), encoding="utf-8")
    session = Session.load(folder)
    session.purge = {**session.purge, "receipt_sha256": sha256(receipt)}
    session.save(folder)

    problems = verify_purge(folder).problems
    assert [c.check for c in problems] == ["receipt"]
    assert "malformed" in problems[0].detail and "'pending'" in problems[0].detail


def test_a_recording_put_back_is_detected(purged):
    folder, recordings, kept, _ = purged
    shutil.copy(kept / recordings[2].name, recordings[2])
    assert failures(verify_purge(folder)) == [
        ("recording", str(recordings[2].resolve()), "the purged recording exists here again (same sha256)")
    ]


def test_other_audio_under_a_purged_name_fails(purged):
    folder, recordings, _, _ = purged
    make_wav(recordings[0], frequency=880)
    [problem] = verify_purge(folder).problems
    assert problem.path == str(recordings[0].resolve()) and "audio file (WAV) exists here again" in problem.detail


def test_a_changed_export_fails_but_a_later_export_passes(purged):
    folder, _, _, _ = purged
    txt = folder / "gruppe1.txt"
    original = txt.read_bytes()
    txt.write_bytes(original.replace(b"selvhjelp", b"selvhjalp"))
    assert [(c.check, c.path) for c in verify_purge(folder).problems] == [("export", str(txt))]

    txt.write_bytes(original)
    result = CliRunner().invoke(cli, ["export", str(folder), "--formats", "txt", "--width", "20"])
    assert result.exit_code == 0, result.output
    report = verify_purge(folder)
    assert report.ok, failures(report)
    assert any("written again after the purge" in c.detail for c in report.checks if c.path == str(txt))


def test_a_session_never_purged_fails(tmp_path):
    folder, recordings = make_session_folder(tmp_path)
    report = verify_purge(folder)
    details = [c.detail for c in report.problems]
    assert any("no purge receipt" in d for d in details)
    assert sum("exists here again (same sha256)" in d for d in details) == 3
    assert verify_cli(folder).exit_code == 7


def test_json_output_has_the_verdict_and_every_check(purged):
    folder, _, _, scan = purged
    (scan / "a" / "b" / "x.dat").write_bytes(b"fLaC" + os.urandom(200))
    result = verify_cli(folder, "--scan", scan, "--json")
    assert result.exit_code == 7
    data = json.loads(result.stdout)
    assert (data["verdict"], data["ok"], data["session"]) == ("failed", False, "gruppe1")
    assert [c["path"] for c in data["checks"] if not c["ok"]] == [str(scan / "a" / "b" / "x.dat")]


def test_a_missing_target_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        verify_purge(tmp_path / "nowhere")
    assert verify_cli(tmp_path / "nowhere").exit_code == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_cannot_be_cleared(purged):
    folder, _, _, scan = purged
    locked = scan / "a" / "locked.bin"
    locked.write_bytes(b"x")
    locked.chmod(0)
    try:
        assert [c.path for c in verify_purge(folder, [scan]).problems] == [str(locked)]
    finally:
        locked.chmod(0o600)


# -- audio by content ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, args, kind",
    [
        ("a.wav", (), "WAV"),
        ("a.m4a", ("-c:a", "aac"), "MP4/M4A"),
        ("a.mp4", ("-c:a", "aac"), "MP4/M4A"),
        ("a.mov", ("-c:a", "aac"), "MP4/M4A"),
        ("a.caf", ("-c:a", "pcm_s16le"), "CAF"),
        ("a.mp3", ("-c:a", "libmp3lame"), "MP3 (ID3)"),
        ("b.mp3", ("-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"), "MP3"),
        ("c.mp3", ("-c:a", "libmp3lame", "-id3v2_version", "0", "-ar", "16000", "-b:a", "32k"), "MP3"),
        ("a.flac", (), "FLAC"),
        ("a.ogg", ("-c:a", "libvorbis"), "Ogg"),
        ("a.opus", ("-c:a", "libopus"), "Ogg"),
        ("a.aiff", (), "AIFF"),
        ("a.aac", ("-c:a", "aac"), "AAC (ADTS)"),
        ("a.mka", ("-c:a", "flac"), "Matroska/WebM"),
        ("a.wma", ("-c:a", "wmav2"), "ASF/WMA"),
        ("a.au", (), "AU"),
    ],
)
def test_audio_kind_recognises_real_files(tmp_path, name, args, kind):
    path = make_tone(tmp_path / name, seconds=1.0, rate=44100, codec_args=args)
    with open(path, "rb") as handle:
        found = audio_kind(handle.read(HEAD), path.stat().st_size)
    assert found is not None and found.startswith(kind), found


def test_random_bytes_and_near_misses_are_not_audio():
    rng = random.Random(5)
    for _ in range(5000):
        data = rng.randbytes(2048)
        assert audio_kind(data, len(data)) is None
    frame = b"\xff\xfb\x90\x64"  # one valid MPEG-1 Layer III header (128 kbit/s, 44.1 kHz, 417 bytes)
    for _ in range(500):
        data = frame + rng.randbytes(2044)
        if data[417:419] != b"\xff\xfb":
            assert audio_kind(data, len(data)) is None
    for text in (b"ID3 tags are metadata in MP3 files.", b"The free press", b"RIFF is a container. WAVE"):
        assert audio_kind(text, len(text)) is None
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + bytes(100)
    assert audio_kind(heic, len(heic)) is None
    chained = frame + bytes(413) + frame + bytes(413)
    assert audio_kind(chained, len(chained)) == "MP3"
