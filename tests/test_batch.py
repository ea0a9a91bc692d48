"""transcribe batch: manifests, order, continue_from, failures, resuming, purge, JSON Lines.

Most tests run sessions finished by hand (tests/batchjobs.py) through the real CLI and pipeline,
so no speech model runs; one slow test runs two real Norwegian clips with the real models and
checks that each model is loaded once for the whole batch.
"""

import json
import re
import shutil
from pathlib import Path

import batchjobs
import pytest
from conftest import invoke

from transcribe import batch
from transcribe.batch import load_manifest
from transcribe.errors import InputError
from transcribe.session import Session

NPSC = Path(__file__).parent / "fixtures" / "npsc"
LINE = re.compile(r"^(\S*)\s+(\d+)\s+(.+)$")


def events(result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines()]


def numbers(path: Path) -> list[int]:
    rows = [LINE.match(text) for text in path.read_text(encoding="utf-8").splitlines() if not text.startswith("#")]
    return [int(m.group(2)) for m in rows if m and m.group(2).isdigit()]


def study(tmp_path: Path, extra: str = "") -> Path:
    """Three sessions: gruppe2 continues gruppe1's numbering but is listed first; solo stands alone."""
    audio = {name: batchjobs.recordings(tmp_path / "opptak", name) for name in ("gruppe1", "gruppe2", "solo")}
    return batchjobs.write_manifest(
        tmp_path,
        f"""
[defaults]
language = "nb"
formats = "txt,json"

[[session]]
name = "gruppe2"
audio = {json.dumps(audio["gruppe2"])}
informants = "1-3"
continue_from = "gruppe1"

[[session]]
name = "gruppe1"
audio = {json.dumps(audio["gruppe1"])}
informants = [1, 2, 3]
start_line = 412

[[session]]
name = "solo"
audio = {json.dumps(audio["solo"])}
informants = "1-3"
out = "ut/solo"
{extra}""",
    )


def test_sessions_run_in_order_and_number_on(tmp_path):
    manifest = study(tmp_path)
    batchjobs.finish(manifest)
    result = invoke("batch", manifest, "--json")
    assert result.exit_code == 0, result.output
    log = events(result)
    assert [e["event"] for e in log][0] == "batch" and log[-1]["event"] == "summary"
    assert log[0]["sessions"] == ["gruppe1", "gruppe2", "solo"]  # gruppe1 first: gruppe2 continues it
    assert log[-1]["done"] == 3 and log[-1]["failed"] == 0 and log[-1]["skipped"] == 0
    first, second = numbers(tmp_path / "gruppe1" / "gruppe1.txt"), numbers(tmp_path / "gruppe2" / "gruppe2.txt")
    assert first[0] == 412 and second[0] == first[-1] + 1
    assert (tmp_path / "ut" / "solo" / "solo.json").is_file()
    ends = [e for e in log if e["event"] == "end"]
    assert all(e["computed"] == ["export"] and e["device"] is None for e in ends)  # finished speech stages: no model
    assert not any(e["event"] == "model" for e in log)
    assert all(e["time"].endswith("+00:00") for e in log)


def test_one_failed_session_does_not_stop_the_others(tmp_path):
    manifest = study(tmp_path)
    batchjobs.finish(manifest, only=("gruppe1", "solo"))
    # gruppe2's folder already holds a session made from other recordings: it fails; nothing continues from it.
    batchjobs.write_manifest(
        tmp_path / "other",
        f'[[session]]\nname = "gruppe2"\naudio = {json.dumps(batchjobs.recordings(tmp_path / "other" / "a", "x"))}\ninformants = "1-3"\nout = "{tmp_path / "gruppe2"}"\n',
    )
    batchjobs.finish(tmp_path / "other" / "jobs.toml")
    with_dependent = (
        manifest.read_text()
        + '\n[[session]]\nname = "gruppe3"\naudio = ["opptak/gruppe3-del1.wav"]\ninformants = "7-9"\ncontinue_from = "gruppe2"\n'
    )
    batchjobs.recordings(tmp_path / "opptak", "gruppe3")
    manifest.write_text(with_dependent)
    result = invoke("batch", manifest)
    assert result.exit_code == 9, result.output
    table = result.stdout
    assert table.startswith("2 done, 1 failed, 1 skipped:")
    assert re.search(
        r"gruppe2\s+failed\s+-\s+\d+ s\s+.*already holds session 'gruppe2' made from other recordings", table
    )
    assert re.search(r"gruppe3\s+skipped\s+.*It continues the line numbers of 'gruppe2', which failed\.", table)
    assert re.search(r"solo\s+done\s+0\.0 min", table)
    assert "Error: 2 of 4 sessions did not finish (gruppe2, gruppe3); the others are done." in result.stderr

    # Fixed, run again: the finished sessions are reused, the rest done.
    shutil.rmtree(tmp_path / "gruppe2")
    batchjobs.finish(manifest, only=("gruppe2", "gruppe3"))
    again = invoke("batch", manifest, "--json")
    assert again.exit_code == 0, again.output
    assert [e["status"] for e in events(again) if e["event"] == "end"] == ["done"] * 4


def test_the_whole_manifest_is_checked_before_any_work(tmp_path):
    audio = batchjobs.recordings(tmp_path / "opptak", "a")
    (tmp_path / "bad-map.toml").write_text("SPEAKER_00 = [")
    manifest = batchjobs.write_manifest(
        tmp_path,
        f"""
[defaults]
batch_size = 0
informants = "1-6"

[[session]]
name = "a"
audio = {json.dumps(audio)}
informants = "1-6"
language = "sv"
map = "bad-map.toml"
device = "cuda"

[[session]]
name = "b"
audio = ["opptak/missing.m4a"]
informants = "6-1"
start_line = 3
continue_from = "a"

[[session]]
name = "c"
audio = {json.dumps(audio)}

[[session]]
name = "d"
audio = {json.dumps(audio)}
informants = "1-2"
continue_from = "nobody"
informant = "typo"
""",
    )
    result = invoke("batch", manifest)
    assert result.exit_code == 3, result.output
    message = result.stderr
    assert message.startswith(f"Error: The batch manifest {manifest} has 11 problems, so nothing was run:\n  ")
    assert len(message.splitlines()) == 12
    for expected in [
        "[defaults], informants: informants is set per session",
        "[defaults], batch_size: Batch size 0 is too small",
        "session 'a', device: device can only be set in [defaults]",
        "session 'a', language: Language 'sv' is not supported",
        "session 'a', map: The map file",
        "session 'b', audio: " + str(tmp_path / "opptak" / "missing.m4a") + " does not exist",
        "session 'b': give either start_line or continue_from, not both",
        "session 'b', informants: --informants '6-1': a range must go upwards",
        "session 'c': informants missing",
        "session 'd', informant: informant is not a setting",
        "session 'd', continue_from: there is no session named 'nobody' in the manifest",
    ]:
        assert expected in message, expected
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_continue_from_in_a_circle_is_refused(tmp_path):
    audio = batchjobs.recordings(tmp_path / "opptak", "x")
    entries = "".join(
        f'\n[[session]]\nname = "{name}"\naudio = {json.dumps(audio)}\ninformants = "1-2"\ncontinue_from = "{after}"\n'
        for name, after in (("a", "c"), ("b", "a"), ("c", "b"))
    )
    with pytest.raises(InputError, match=r"continue_from goes round in a circle \(a → c → b → a\)"):
        load_manifest(batchjobs.write_manifest(tmp_path, entries))


def test_manifest_that_is_not_toml_or_has_no_sessions(tmp_path):
    result = invoke("batch", batchjobs.write_manifest(tmp_path, "[defaults\n"))
    assert result.exit_code == 3 and "is not valid TOML" in result.stderr
    result = invoke("batch", batchjobs.write_manifest(tmp_path, '[defaults]\nlanguage = "no"\n'))
    assert result.exit_code == 3 and "it lists no sessions" in result.stderr
    assert invoke("batch", tmp_path / "nowhere.toml").exit_code == 3


def test_only_runs_the_named_sessions(tmp_path):
    manifest = study(tmp_path)
    batchjobs.finish(manifest, only=("gruppe2", "solo"))
    result = invoke("batch", manifest, "--only", "solo", "--json")
    assert result.exit_code == 0, result.output
    assert events(result)[0]["sessions"] == ["solo"] and not (tmp_path / "gruppe2" / "gruppe2.txt").exists()
    # gruppe2 alone: gruppe1 has not been run, so its first line number is unknown.
    result = invoke("batch", manifest, "--only", "gruppe2", "--json")
    assert result.exit_code == 9
    end = [e for e in events(result) if e["event"] == "end"][0]
    assert end["status"] == "skipped" and "'gruppe1', which is not finished" in end["error"]
    unknown = invoke("batch", manifest, "--only", "gruppe9")
    assert unknown.exit_code == 3 and "has no session named 'gruppe9'" in unknown.stderr


def test_purge_in_a_batch_and_a_rerun_after_it(tmp_path):
    manifest = study(tmp_path, extra="purge = true\n")  # solo is purged
    batchjobs.finish(manifest)
    recordings = load_manifest(manifest).job("solo").audio
    result = invoke("batch", manifest, "--json")
    assert result.exit_code == 0, result.output
    solo = [e for e in events(result) if e["event"] == "end" and e["session"] == "solo"][0]
    assert solo["purge"]["state"] == "purged" and Path(solo["purge"]["receipt"]).is_file()
    assert not any(path.exists() for path in recordings)
    assert all(path.exists() for path in load_manifest(manifest).job("gruppe1").audio)
    again = invoke("batch", manifest, "--json")  # the recordings are gone: the manifest still holds, solo is done
    assert again.exit_code == 0, again.output
    solo = [e for e in events(again) if e["event"] == "end" and e["session"] == "solo"][0]
    assert solo["status"] == "done" and "purged earlier" in solo["note"]


def docstring_example() -> str:
    lines = []
    for line in batch.__doc__.split("::\n", 1)[1].splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    return "\n".join(lines)


def test_progress_for_a_person_and_the_docstring_example(tmp_path, monkeypatch):
    """The manifest in batch.py's docstring is valid; a person sees one line per session and a table."""
    example = docstring_example()
    for line in re.findall(r'"(opptak/[^"]+)"', example):
        batchjobs.tone(tmp_path / line, 300 + len(line))
    (tmp_path / "kart").mkdir()
    (tmp_path / "kart" / "gruppe2.toml").write_text('SPEAKER_00 = "M"\n')
    (tmp_path / "models" / "nb-whisper-large").mkdir(parents=True)
    monkeypatch.setenv("TRANSCRIBE_MODELS", str(tmp_path / "models"))
    manifest = batchjobs.write_manifest(tmp_path, example)
    jobs = load_manifest(manifest)
    assert [job.name for job in jobs.jobs] == ["gruppe1", "gruppe2"] and jobs.job("gruppe2").purge
    assert jobs.asr_model == str((tmp_path / "models" / "nb-whisper-large").resolve())

    manifest = study(tmp_path / "study")
    batchjobs.finish(manifest)
    result = invoke("batch", manifest)
    assert result.exit_code == 0, result.output
    assert "[1/3] gruppe1: 2 recordings → " in result.stderr and "[3/3] solo: done in " in result.stderr
    assert result.stdout.splitlines()[1].split() == [
        "session",
        "status",
        "audio",
        "time",
        "folder,",
        "or",
        "what",
        "went",
        "wrong",
    ]


@pytest.mark.slow
def test_real_sessions_load_each_model_once(tmp_path):
    """Two real Norwegian clips (NPSC) with the embedded models; a rerun loads no model at all."""
    for clip in ("norwegian-short-3s.mp3", "norwegian-medium-8s.mp3"):
        shutil.copy(NPSC / clip, tmp_path / clip)
    manifest = batchjobs.write_manifest(
        tmp_path,
        """
[defaults]
device = "cpu"
speakers = 1

[[session]]
name = "kort"
audio = "norwegian-short-3s.mp3"
informants = "1"

[[session]]
name = "lang"
audio = "norwegian-medium-8s.mp3"
informants = "2"
continue_from = "kort"
""",
    )
    result = invoke("batch", manifest, "--json")
    assert result.exit_code == 0, result.output
    log = events(result)
    assert sorted(e["role"] for e in log if e["event"] == "model") == ["asr", "diarization"]
    ends = {e["session"]: e for e in log if e["event"] == "end"}
    assert all(e["status"] == "done" and "transcribe" in e["computed"] and e["device"] == "cpu" for e in ends.values())
    progress = [e for e in log if e["event"] == "progress"]
    assert {e["stage"] for e in progress} >= {"decode", "transcribe"}
    assert len(progress) <= 11 * len({(e["session"], e["stage"]) for e in progress})  # a tenth of a stage at most
    assert "lovlig" in (tmp_path / "kort" / "kort.txt").read_text(encoding="utf-8").lower()
    assert numbers(tmp_path / "lang" / "lang.txt")[0] == numbers(tmp_path / "kort" / "kort.txt")[-1] + 1
    assert Session.load(tmp_path / "lang").transcription.settings["batch_size"] == 1

    again = invoke("batch", manifest, "--json")
    assert again.exit_code == 0 and not any(e["event"] == "model" for e in events(again))
    assert all(e["computed"] == ["export"] for e in events(again) if e["event"] == "end")
