"""Model folders on the offline machine: names, manifests, `models list` / `models check`, and the
provenance every transcript carries. No test here opens a network connection; fetching is in
test_models_fetch.py, and nothing a run uses imports it."""

import ast
import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import command
from sessions import make_session

from transcribe import models
from transcribe.cli import cli
from transcribe.errors import ModelError
from transcribe.finish import FinishOptions, finish
from transcribe.session import Session

PACKAGE = Path(models.__file__).parent
REVISION = "8c6249fdeeb4dcd05e5735a4c39640607eb6e4ac"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(sock, address):
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv(models.MODELS_ENV, raising=False)


def make_folder(root: Path, name: str, role: str = "asr", repo: str = "NbAiLab/nb-whisper-large") -> Path:
    """A model folder as `transcribe models fetch` leaves it (random weights: nothing loads them here)."""
    folder = root / name
    folder.mkdir(parents=True)
    if role == "asr":
        (folder / "model.bin").write_bytes(os.urandom(4096))
        (folder / "config.json").write_text("{}")
        (folder / "tokenizer.json").write_text('{"model": {}}')
    else:
        (folder / "config.yaml").write_text("pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n")
        (folder / "segmentation").mkdir()
        (folder / "segmentation" / "pytorch_model.bin").write_bytes(os.urandom(512))
    models.write_manifest(
        folder,
        name=name,
        role=role,
        repo=repo,
        revision=REVISION,
        url=f"https://huggingface.co/{repo}/tree/{REVISION}",
        licence="Apache-2.0",
    )
    return folder


def test_nothing_but_models_fetch_imports_the_network_code():
    importers = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module or ''}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name.split(".")[-1] == "fetch" or name.endswith("transcribe.fetch") for name in names):
                inside = [f.name for f in functions if f.lineno <= node.lineno <= (f.end_lineno or f.lineno)]
                importers.append((path.name, inside))
    assert importers == [("cli.py", ["models_fetch"])]


def test_a_run_and_every_other_command_leave_fetch_unimported():
    code = """
import importlib, pkgutil, sys
import transcribe
for module in pkgutil.walk_packages(transcribe.__path__, "transcribe."):
    if module.name != "transcribe.fetch":
        importlib.import_module(module.name)
from click.testing import CliRunner
from transcribe.cli import cli
for args in (["run", "--help"], ["export", "--help"], ["purge", "--help"], ["models", "list"], ["models", "check"]):
    CliRunner().invoke(cli, args)
print(sorted(name for name in sys.modules if name.startswith("transcribe.")))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr
    loaded = eval(done.stdout.strip().splitlines()[-1])
    assert "transcribe.pipeline" in loaded and "transcribe.asr" in loaded
    assert "transcribe.fetch" not in loaded


def test_a_name_is_found_in_the_models_directory_given_by_option_environment_or_working_directory(
    tmp_path, monkeypatch
):
    root = tmp_path / "models"
    folder = make_folder(root, "nb-whisper-large")
    assert models.resolve("nb-whisper-large", "asr", root) == folder
    monkeypatch.setenv(models.MODELS_ENV, str(root))
    assert models.resolve("nb-whisper-large", "asr") == folder
    monkeypatch.delenv(models.MODELS_ENV)
    monkeypatch.chdir(tmp_path)
    assert models.resolve("nb-whisper-large", "asr") == folder
    assert models.resolve(str(folder), "asr", tmp_path / "elsewhere") == folder  # a path stays a path

    info = models.asr_model("nb-whisper-large")
    assert (info.name, info.revision, info.path) == ("NbAiLab/nb-whisper-large", REVISION, str(folder.resolve()))
    assert info.sha256 == {f["path"]: f["sha256"] for f in models.read_manifest(folder)["files"]}["model.bin"]


def test_unknown_names_and_the_wrong_role_are_refused_with_what_to_do(tmp_path):
    root = tmp_path / "models"
    make_folder(root, "nb-whisper-large")
    make_folder(
        root, "speaker-diarization-community-1", role="diarization", repo="pyannote/speaker-diarization-community-1"
    )
    with pytest.raises(ModelError) as error:
        models.resolve("nb-whisper-medium", "asr", root)
    message = str(error.value)
    assert "nb-whisper-large" in message and "speaker-diarization-community-1" not in message
    assert "transcribe models fetch nb-whisper-medium" in message and str(root) in message
    with pytest.raises(ModelError, match="holds a model for diarization.*--diarization-model"):
        models.asr_model("speaker-diarization-community-1", root)

    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(tmp_path / "gruppe1.m4a"),
            "-i",
            "1-6",
            "--asr-model",
            "nb-whisper-medium",
            "--models-dir",
            str(root),
        ],
    )
    assert result.exit_code == 4 and "There is no model named 'nb-whisper-medium'" in result.output


def test_a_damaged_folder_is_refused_at_run_time_naming_the_file(tmp_path, monkeypatch):
    folder = make_folder(tmp_path, "nb-whisper-large")
    (folder / "tokenizer.json").write_text('{"model": {"x": 1}}')  # another size
    with pytest.raises(ModelError) as error:
        models.asr_model(folder)
    assert "tokenizer.json has" in str(error.value) and str(folder) in str(error.value)

    pipeline = make_folder(tmp_path, "speaker-diarization-community-1", role="diarization")
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    with open(pipeline / "segmentation" / "pytorch_model.bin", "r+b") as handle:
        handle.write(b"\0" * 8)
    with pytest.raises(ModelError, match="segmentation/pytorch_model.bin does not match its sha256"):
        models.diarization_pipeline("speaker-diarization-community-1")


def test_models_check_verifies_each_folder_and_names_the_file_at_fault(tmp_path):
    root = tmp_path / "models"
    good = make_folder(root, "nb-whisper-large")
    bad = make_folder(root, "whisper-large-v3", repo="Systran/faster-whisper-large-v3")
    (bad / "config.json").unlink()
    runner = CliRunner()

    one = runner.invoke(cli, ["models", "check", str(good)])
    assert one.exit_code == 0 and f"NbAiLab/nb-whisper-large@{REVISION[:12]}" in one.output

    every = runner.invoke(cli, ["models", "check", "--models-dir", str(root), "--json"])
    assert every.exit_code == 4
    rows = {Path(row["folder"]).name: row for row in json.loads(every.stdout)}
    assert rows["nb-whisper-large"]["ok"] and rows["nb-whisper-large"]["revision"] == REVISION
    assert not rows["whisper-large-v3"]["ok"] and "config.json is missing" in rows["whisper-large-v3"]["problem"]
    assert "config.json is missing" in every.stderr

    (root / "handmade").mkdir()
    unverifiable = runner.invoke(cli, ["models", "check", "handmade", "--models-dir", str(root)])
    assert unverifiable.exit_code == 4 and "has no transcribe-manifest.json" in unverifiable.output
    absent = runner.invoke(cli, ["models", "check", str(root / "nowhere")])
    assert absent.exit_code == 4 and "does not exist" in absent.output


def test_a_manifest_that_reaches_outside_its_folder_is_refused(tmp_path):
    folder = make_folder(tmp_path, "nb-whisper-large")
    data = json.loads((folder / models.MANIFEST).read_text())
    data["files"][0]["path"] = "../../etc/passwd"
    (folder / models.MANIFEST).write_text(json.dumps(data))
    with pytest.raises(ModelError, match="damaged or is not a transcribe model manifest"):
        models.check_folder(folder)


def test_models_list_shows_defaults_and_every_folder_with_its_state(tmp_path):
    root = tmp_path / "models"
    make_folder(root, "nb-whisper-large")
    make_folder(
        root, "speaker-diarization-community-1", role="diarization", repo="pyannote/speaker-diarization-community-1"
    )
    short = make_folder(root, "whisper-large-v3", repo="Systran/faster-whisper-large-v3")
    with open(short / "model.bin", "ab") as handle:
        handle.write(b"extra")
    (root / "copied-by-hand").mkdir()
    (root / "copied-by-hand" / "model.bin").write_bytes(b"x")
    (root / "copied-by-hand" / "config.json").write_text("{}")
    (root / ".nb-whisper-base.partial").mkdir()  # an unfinished fetch is not a model

    result = CliRunner().invoke(cli, ["models", "list", "--json", "--models-dir", str(root)])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["models_dir"] == str(root)
    assert [row["role"] for row in data["embedded"]] == ["asr", "segmentation", "embedding"]
    assert all(row["status"] == "ok" for row in data["embedded"])
    rows = {row["name"]: row for row in data["folders"]}
    assert list(rows) == ["copied-by-hand", "nb-whisper-large", "speaker-diarization-community-1", "whisper-large-v3"]
    assert rows["nb-whisper-large"]["status"] == "ok" and rows["nb-whisper-large"]["licence"] == "Apache-2.0"
    assert rows["speaker-diarization-community-1"]["role"] == "diarization"
    assert (
        rows["whisper-large-v3"]["status"] == "damaged"
        and "model.bin has 4,101 bytes" in rows["whisper-large-v3"]["detail"]
    )
    assert (rows["copied-by-hand"]["status"], rows["copied-by-hand"]["role"]) == ("unverified", "asr")

    text = CliRunner().invoke(cli, ["models", "list", "--models-dir", str(root)]).output
    assert "nb-whisper-large" in text and "damaged" in text and "unverified" in text


def test_transcripts_record_model_revision_language_and_tool_version(tmp_path):
    session = make_session()
    asr = models.ModelInfo("asr", "NbAiLab/nb-whisper-large", "/models/nb-whisper-large", "ab" * 32, REVISION)
    session.transcription = dataclasses.replace(session.transcription, model=asr)
    finish(session, tmp_path, FinishOptions(formats=["txt", "json"]))

    header = (tmp_path / "gruppe1.txt").read_text().splitlines()[:3]
    assert any(f"ASR NbAiLab/nb-whisper-large@{REVISION[:12]} (sha256 abababababab)" in line for line in header)
    assert any("transcribe " in line for line in header)
    exported = json.loads((tmp_path / "gruppe1.json").read_text())["session"]
    assert exported["models"][0] == {
        "role": "asr",
        "name": "NbAiLab/nb-whisper-large",
        "sha256": "ab" * 32,
        "revision": REVISION,
    }
    assert exported["language"] == "no" and exported["tool_version"]
    assert Session.load(tmp_path).transcription.model == asr


def test_the_fetch_command_without_a_name_lists_the_catalogue():
    done = subprocess.run(command("models", "fetch"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "nb-whisper-large" in done.stdout and "speaker-diarization-community-1" in done.stdout
