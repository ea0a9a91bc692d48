"""`transcribe models fetch` for real: the hub client downloads from a hub served on 127.0.0.1.

Nothing is mocked: tests/fakehub.py answers the HTTP requests huggingface_hub makes, and every
connection the process attempts outside the loopback interface fails the test.
"""

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner
from fakehub import FakeHub, Repo

from transcribe import models
from transcribe.cli import cli

NB_TINY = {
    "ct2/config.json": json.dumps({"alignment_heads": [[2, 2]], "lang_ids": [50288]}).encode(),
    "ct2/model.bin": os.urandom(64 * 1024),
    "ct2/vocabulary.json": json.dumps(["<|endoftext|>", "hei"]).encode(),
    "tokenizer.json": json.dumps({"version": "1.0", "model": {"type": "BPE"}}).encode(),
    "preprocessor_config.json": json.dumps({"feature_size": 80}).encode(),
    "README.md": b"# NB-Whisper Tiny\nlicense: apache-2.0\n",
    # Also in the real repository, and not wanted in a CTranslate2 folder:
    "config.json": b'{"model_type": "whisper"}',
    "model.safetensors": os.urandom(4096),
    "ggml-model.bin": os.urandom(2048),
    "onnx/encoder_model.onnx": os.urandom(1024),
}
EXPECTED = {
    "config.json": "ct2/config.json",
    "model.bin": "ct2/model.bin",
    "vocabulary.json": "ct2/vocabulary.json",
    "tokenizer.json": "tokenizer.json",
    "preprocessor_config.json": "preprocessor_config.json",
    "README.md": "README.md",
}
COMMUNITY = {
    "config.yaml": b"version: 4.0.0\npipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
    b"    segmentation: $model/segmentation\n    embedding: $model/embedding\n    plda: $model/plda\n",
    "segmentation/pytorch_model.bin": os.urandom(8192),
    "embedding/pytorch_model.bin": os.urandom(16384),
    "plda/plda.npz": os.urandom(512),
    "plda/xvec_transform.npz": os.urandom(512),
    "README.md": b"license: cc-by-4.0\n",
    ".gitattributes": b"*.bin filter=lfs\n",
}
TOKEN = "hf_loopbacktoken"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any connection or name lookup beyond this machine's loopback interface fails the test."""
    allowed = {"127.0.0.1", "::1", "localhost"}
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in allowed:
            raise AssertionError(f"a connection to {address} was attempted")
        return real_connect(sock, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in allowed:
            raise AssertionError(f"a name lookup of {host} was attempted")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def hub_env(tmp_path, monkeypatch):
    """No saved login or token of this machine's user reaches the test hub."""
    from huggingface_hub import constants

    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "TRANSCRIBE_MODELS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    return tmp_path


def fetch(*args, endpoint):
    return CliRunner(env={"HF_ENDPOINT": endpoint}).invoke(cli, ["models", "fetch", *args])


def test_fetch_takes_the_ct2_conversion_and_writes_a_true_manifest(hub_env):
    from huggingface_hub import constants

    target = hub_env / "models"
    repo = Repo(NB_TINY)
    with FakeHub({"NbAiLab/nb-whisper-tiny": repo}) as hub:
        result = fetch("nb-whisper-tiny", "--to", str(target), endpoint=hub.url)
    assert result.exit_code == 0, result.output
    folder = target / "nb-whisper-tiny"
    assert sorted(p.name for p in folder.iterdir()) == sorted([*EXPECTED, models.MANIFEST])
    assert [p.name for p in target.iterdir()] == ["nb-whisper-tiny"]  # no partial download left behind

    manifest = json.loads((folder / models.MANIFEST).read_text())
    assert manifest["format"] == models.MANIFEST_FORMAT
    assert (manifest["name"], manifest["role"], manifest["licence"]) == ("nb-whisper-tiny", "asr", "Apache-2.0")
    assert manifest["source"]["repo"] == "NbAiLab/nb-whisper-tiny" and manifest["source"]["revision"] == repo.sha
    assert manifest["conversion"] is None and manifest["tool_version"] and manifest["fetched"]
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(listed) == set(EXPECTED)
    for local, remote in EXPECTED.items():  # sizes and hashes of what the hub served, computed here
        assert listed[local]["size"] == len(NB_TINY[remote])
        assert listed[local]["sha256"] == hashlib.sha256(NB_TINY[remote]).hexdigest()

    fetched = {path for method, path, _ in hub.requests if method == "GET" and "/resolve/" in path}
    assert fetched == {f"/NbAiLab/nb-whisper-tiny/resolve/{repo.sha}/{remote}" for remote in EXPECTED.values()}
    assert constants.HF_HUB_OFFLINE is True and os.environ["HF_HUB_OFFLINE"] == "1"  # offline again afterwards
    assert "NbAiLab/nb-whisper-tiny@" in result.output and "--asr-model nb-whisper-tiny" in result.output


def test_a_fetched_folder_checks_lists_and_resolves_by_name(hub_env, monkeypatch):
    target = hub_env / "models"
    repo = Repo(NB_TINY)
    with FakeHub({"NbAiLab/nb-whisper-tiny": repo}) as hub:
        assert fetch("nb-whisper-tiny", "--to", str(target), endpoint=hub.url).exit_code == 0
    runner = CliRunner()
    folder = target / "nb-whisper-tiny"

    checked = runner.invoke(cli, ["models", "check", "nb-whisper-tiny", "--models-dir", str(target)])
    assert checked.exit_code == 0 and "6 files verified" in checked.output

    listed = runner.invoke(cli, ["models", "list", "--json", "--models-dir", str(target)])
    row = json.loads(listed.output)["folders"][0]
    assert (row["name"], row["role"], row["status"], row["licence"]) == ("nb-whisper-tiny", "asr", "ok", "Apache-2.0")
    assert row["source"] == f"NbAiLab/nb-whisper-tiny@{repo.sha[:12]}"
    assert row["size"] == sum(p.stat().st_size for p in folder.iterdir())

    monkeypatch.setenv(models.MODELS_ENV, str(target))
    info = models.asr_model("nb-whisper-tiny")
    assert info.path == str(folder.resolve()) and info.revision == repo.sha
    assert info.sha256 == hashlib.sha256(NB_TINY["ct2/model.bin"]).hexdigest()
    assert info.name == "NbAiLab/nb-whisper-tiny"

    with open(folder / "model.bin", "r+b") as handle:  # same size, different bytes
        handle.seek(100)
        handle.write(b"\xff" * 16)
    damaged = runner.invoke(cli, ["models", "check", str(folder)])
    assert damaged.exit_code == 4
    assert "model.bin does not match its sha256" in damaged.output and str(folder) in damaged.output


def test_a_gated_repository_needs_a_token_that_has_accepted_its_conditions(hub_env):
    target = hub_env / "models"
    repo = Repo(COMMUNITY, licence="cc-by-4.0", token=TOKEN)
    with FakeHub({"pyannote/speaker-diarization-community-1": repo}) as hub:
        refused = fetch("speaker-diarization-community-1", "--to", str(target), endpoint=hub.url)
        assert refused.exit_code == 4
        assert "is gated" in refused.output and "--token" in refused.output and "HF_TOKEN" in refused.output
        assert not (target / "speaker-diarization-community-1").exists()

        allowed = fetch("speaker-diarization-community-1", "--to", str(target), "--token", TOKEN, endpoint=hub.url)
    assert allowed.exit_code == 0, allowed.output
    folder = target / "speaker-diarization-community-1"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == sorted([*(name for name in COMMUNITY if name != ".gitattributes"), models.MANIFEST])
    manifest = models.check_folder(folder)
    assert (manifest["role"], manifest["licence"], manifest["source"]["revision"]) == (
        "diarization",
        "CC-BY-4.0",
        repo.sha,
    )
    assert all(auth == f"Bearer {TOKEN}" for _, path, auth in hub.requests[-2:])
    pipeline = models.diarization_pipeline(folder)  # what a run builds it from: every part names the commit
    assert {info.role for info in pipeline.models} == {"diarization", "segmentation", "embedding", "plda"}
    assert all(info.revision == repo.sha for info in pipeline.models)


def test_a_pinned_revision_is_fetched_and_an_unknown_one_refused(hub_env):
    target = hub_env / "models"
    repo = Repo(NB_TINY)
    with FakeHub({"NbAiLab/nb-whisper-tiny": repo}) as hub:
        missing = fetch("nb-whisper-tiny", "--to", str(target), "--revision", "f" * 40, endpoint=hub.url)
        assert missing.exit_code == 4 and "has no revision" in missing.output
        pinned = fetch("nb-whisper-tiny", "--to", str(target), "--revision", repo.sha, endpoint=hub.url)
    assert pinned.exit_code == 0, pinned.output
    assert models.read_manifest(target / "nb-whisper-tiny")["source"]["revision"] == repo.sha


def test_a_download_that_differs_from_the_hubs_sha256_is_refused(hub_env):
    target = hub_env / "models"
    repo = Repo(NB_TINY)
    tampered = bytearray(NB_TINY["ct2/model.bin"])
    tampered[10] ^= 0xFF
    repo.served = {"ct2/model.bin": bytes(tampered)}  # same size, other bytes than the listing's sha256 says
    with FakeHub({"NbAiLab/nb-whisper-tiny": repo}) as hub:
        result = fetch("nb-whisper-tiny", "--to", str(target), endpoint=hub.url)
    assert result.exit_code == 4
    assert "ct2/model.bin" in result.output and "sha256" in result.output
    assert not (target / "nb-whisper-tiny").exists()


def test_unknown_names_existing_folders_and_an_unreachable_hub_are_refused(hub_env):
    target = hub_env / "models"
    runner = CliRunner()
    unknown = runner.invoke(cli, ["models", "fetch", "whisper-huge", "--to", str(target)])
    assert unknown.exit_code == 3 and "nb-whisper-large" in unknown.output

    (target / "nb-whisper-base").mkdir(parents=True)
    exists = runner.invoke(cli, ["models", "fetch", "nb-whisper-base", "--to", str(target)])
    assert exists.exit_code == 3 and "already exists" in exists.output

    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    unreachable = fetch("nb-whisper-tiny", "--to", str(target), endpoint=closed)
    assert (
        unreachable.exit_code == 4
        and "Cannot reach" in unreachable.output
        and "networked machine" in unreachable.output
    )


def test_the_catalogue_is_printed_without_a_name():
    result = CliRunner().invoke(cli, ["models", "fetch"])
    assert result.exit_code == 0
    for name in (
        "nb-whisper-large",
        "nb-whisper-tiny-verbatim",
        "whisper-large-v3-turbo",
        "speaker-diarization-community-1",
    ):
        assert name in result.output
    assert "6.6 %" in result.output and "10.4 %" in result.output


def test_converting_without_transformers_says_what_to_install_and_keeps_the_download(hub_env):
    try:
        import transformers  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("transformers is installed here; this checks the message for machines without it")
    target = hub_env / "models"
    with FakeHub({"NbAiLab/nb-whisper-tiny": Repo(NB_TINY)}) as hub:
        result = fetch("nb-whisper-tiny", "--to", str(target), "--quantization", "int8", endpoint=hub.url)
    assert result.exit_code == 4 and "pip install transformers" in result.output
    kept = target / ".nb-whisper-tiny.partial" / "download"  # a second run resumes from here
    assert sorted(p.name for p in kept.iterdir() if p.is_file()) == [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
        "tokenizer.json",
    ]


def test_quantization_converts_transformers_weights_with_ctranslate2(hub_env, tmp_path):
    """The converter path for real, on a tiny randomly initialised Whisper (needs transformers,
    which transcribe does not install; skipped where it is missing)."""
    transformers = pytest.importorskip("transformers")
    from faster_whisper import WhisperModel

    tokenizer = transformers.WhisperTokenizerFast(
        tokenizer_file=str(Path(models.embedded_whisper_base().path) / "tokenizer.json")
    )
    config = transformers.WhisperConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=80,
    )
    source = tmp_path / "tiny-whisper"
    transformers.WhisperForConditionalGeneration(config).save_pretrained(source)
    tokenizer.save_pretrained(source)
    transformers.WhisperFeatureExtractor().save_pretrained(source)
    repo = Repo({p.name: p.read_bytes() for p in source.iterdir()})

    target = hub_env / "models"
    with FakeHub({"NbAiLab/nb-whisper-tiny": repo}) as hub:
        result = fetch("nb-whisper-tiny", "--to", str(target), "--quantization", "int8", endpoint=hub.url)
    assert result.exit_code == 0, result.output
    folder = target / "nb-whisper-tiny"
    manifest = models.check_folder(folder)
    assert manifest["conversion"]["quantization"] == "int8" and manifest["source"]["revision"] == repo.sha
    assert {"model.bin", "config.json", "tokenizer.json", "preprocessor_config.json", "vocabulary.json"} <= {
        entry["path"] for entry in manifest["files"]
    }
    info = models.asr_model(folder)
    assert info.name == "NbAiLab/nb-whisper-tiny (converted to CTranslate2 int8)" and info.revision == repo.sha
    WhisperModel(
        info.path, device="cpu", compute_type="int8", local_files_only=True
    )  # loads: a valid CTranslate2 Whisper
