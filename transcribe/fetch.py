"""Fetching models on a networked machine: the only code in transcribe that uses the network.

``transcribe models fetch NAME`` downloads a model from the
Hugging Face hub into ``<models directory>/NAME/``: the CTranslate2 conversion its publisher
maintains where there is one, else Transformers weights that are converted here with CTranslate2.
Each folder gets a manifest (source repository and commit, licence, every file's size and sha256;
see ``models.write_manifest``). Carry the folder to the offline machine; ``transcribe models
check`` verifies it there, and every transcript made with it names the repository and commit.

Nothing else imports this module: ``run``, ``export``, ``purge`` and the rest never touch the
network. ``import transcribe`` switches the hub client offline; :func:`fetch` lifts that switch
around its own hub calls and nowhere else (conversion runs offline again).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from . import models
from .errors import InputError, ModelError
from .files import DIR_MODE, sha256_file

HUB = "https://huggingface.co"
QUANTIZATIONS = ("int8", "int8_float16", "int8_float32", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")
# What CTranslate2's converter reads from a Transformers Whisper repository (top level only).
CONVERT_FILES = ("*.json", "merges.txt", "*.safetensors")
CONVERT_FALLBACK_WEIGHTS = "pytorch_model*.bin"  # older repositories without safetensors
# faster-whisper reads these next to model.bin: tokenizer.json (else it would try to download one)
# and preprocessor_config.json (large-v3 models use 128 mel bins, not the default 80).
CT2_SIDE_FILES = ("tokenizer.json", "preprocessor_config.json")


@dataclass(frozen=True)
class Entry:
    """A model that ``transcribe models fetch`` knows how to get."""

    name: str  # the folder name, and the name to use with --asr-model / --diarization-model
    role: str  # "asr" | "diarization"
    repo: str  # where the files come from
    licence: str  # as the publisher declares it (recorded from the hub when it says)
    files: tuple[str, ...]  # patterns of the repository's files to take
    size: int  # approximate bytes on disk as fetched by default
    about: str
    strip: str = ""  # files under this subfolder land at the top of the model folder
    convert_from: str | None = None  # Transformers repository for --quantization
    gated: bool = False


def _nb_whisper(size: str, params: str, disk: int, verbatim: bool = False, wer: str = "") -> Entry:
    name = f"nb-whisper-{size}{'-verbatim' if verbatim else ''}"
    repo = f"NbAiLab/{name}"
    style = "verbatim: lower case, no punctuation, no grammar fixing" if verbatim else "main model"
    return Entry(
        name=name,
        role="asr",
        repo=repo,
        licence="Apache-2.0",
        files=("ct2/*", *CT2_SIDE_FILES, "README.md"),
        strip="ct2/",
        convert_from=repo,
        size=disk,
        about=f"NB-Whisper {size.capitalize()} ({params} parameters), National Library of Norway, {style}; "
        f"the publisher's own CTranslate2 conversion (float32){wer}",
    )


_NB_WER = "; WER 6.6 % on FLEURS Bokmål, 2.2 % on NST (Kummervold et al., Interspeech 2024)"
_FASTER_WHISPER_FILES = ("config.json", "model.bin", "vocabulary.*", *CT2_SIDE_FILES, "README.md")

CATALOGUE: dict[str, Entry] = {
    entry.name: entry
    for entry in (
        *(
            _nb_whisper(size, params, disk, verbatim, _NB_WER if size == "large" and not verbatim else "")
            for verbatim in (False, True)
            for size, params, disk in (
                ("tiny", "39 M", 155_000_000),
                ("base", "74 M", 295_000_000),
                ("small", "244 M", 970_000_000),
                ("medium", "769 M", 3_070_000_000),
                ("large", "1550 M", 6_180_000_000),
            )
        ),
        Entry(
            name="whisper-large-v3",
            role="asr",
            repo="Systran/faster-whisper-large-v3",
            licence="MIT",
            files=_FASTER_WHISPER_FILES,
            convert_from="openai/whisper-large-v3",
            size=3_090_000_000,
            about="OpenAI Whisper large-v3 (1550 M parameters), faster-whisper's own conversion (float16); "
            "WER 10.4 % on FLEURS Bokmål, 6.8 % on NST (Kummervold et al., Interspeech 2024)",
        ),
        Entry(
            name="whisper-large-v3-turbo",
            role="asr",
            repo="mobiuslabsgmbh/faster-whisper-large-v3-turbo",
            licence="MIT",
            files=_FASTER_WHISPER_FILES,
            convert_from="openai/whisper-large-v3-turbo",
            size=1_620_000_000,
            about="OpenAI Whisper large-v3-turbo (809 M parameters, 4 decoder layers), the conversion "
            "faster-whisper itself uses (float16); no published Norwegian WER",
        ),
        Entry(
            name="speaker-diarization-community-1",
            role="diarization",
            repo="pyannote/speaker-diarization-community-1",
            licence="CC-BY-4.0",
            files=("config.yaml", "README.md", "LICENSE*", "segmentation/*", "embedding/*", "plda/*"),
            size=33_000_000,
            gated=True,
            about="pyannote speaker-diarization-community-1 (segmentation-3.0, WeSpeaker ResNet34, VBx "
            "with PLDA); gated: accept its conditions on the hub and pass a token",
        ),
    )
}


def lookup(name: str) -> Entry:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise InputError(
            f"'{name}' is not a model transcribe can fetch. Choose one of: {', '.join(CATALOGUE)} "
            "(see 'transcribe models fetch' without a name)."
        ) from None


def fetch(
    name: str,
    directory: str | os.PathLike | None = None,
    *,
    token: str | None = None,
    revision: str | None = None,
    quantization: str | None = None,
    endpoint: str | None = None,
    say: Callable[[str], None] = lambda message: None,
) -> Path:
    """Download ``name`` into ``directory/name`` (default: the models directory) and write its manifest.

    ``quantization`` converts the Transformers weights here instead of taking the published
    conversion. ``endpoint`` defaults to $HF_ENDPOINT, else the Hugging Face hub. An interrupted
    fetch keeps what it downloaded in ``directory/.name.partial`` and resumes from there.
    """
    entry = lookup(name)
    if quantization is not None and entry.convert_from is None:
        raise InputError(f"--quantization applies to Whisper models only; {name} is used as published.")
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise InputError(f"Unknown quantization '{quantization}'; choose one of {', '.join(QUANTIZATIONS)}.")
    root = models.models_dir(directory)
    target = root / entry.name
    if target.exists():
        raise InputError(
            f"{target} already exists. Check it with 'transcribe models check {target}', or delete it to fetch it again."
        )
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or HUB).rstrip("/")
    repo = entry.convert_from if quantization else entry.repo
    work = root / f".{entry.name}.partial"
    download = work / "download"
    try:
        download.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create {work}: {exc.strerror}. Choose another folder with --to.") from None

    with _online(), _hub_errors(repo, revision, endpoint):
        from huggingface_hub import HfApi, hf_hub_download

        info = HfApi(endpoint=endpoint, token=token).model_info(repo, revision=revision, files_metadata=True)
        if not info.sha:
            raise ModelError(
                f"{endpoint} did not say which commit of {repo} it serves, so the model's origin could not be recorded."
            )
        wanted = _select(info.siblings or [], entry, quantization)
        _check_space(root, wanted, download, converting=quantization is not None)
        total = sum(_size(sibling) or 0 for sibling in wanted)
        say(f"Fetching {len(wanted)} files ({_gb(total)}) of {repo} at {info.sha} from {endpoint} into {work} …")
        for sibling in wanted:
            hf_hub_download(
                repo, sibling.rfilename, revision=info.sha, local_dir=download, endpoint=endpoint, token=token
            )
    _verify_download(download, wanted, repo)

    folder = work / entry.name
    shutil.rmtree(folder, ignore_errors=True)
    if quantization:
        say(f"Converting to CTranslate2 ({quantization}) …")
        conversion = _convert(download, folder, quantization)
    else:
        _arrange(download, folder, wanted, entry.strip)
        conversion = None
    card = info.card_data.get("license") if info.card_data else None
    models.write_manifest(
        folder,
        name=entry.name,
        role=entry.role,
        repo=repo,
        revision=info.sha,
        url=f"{endpoint}/{repo}/tree/{info.sha}",
        licence=card if card and card.lower() not in ("other", entry.licence.lower()) else entry.licence,
        conversion=conversion,
    )
    if entry.role == "asr":
        models.asr_model(folder)  # the checks a run makes: the files faster-whisper needs, the manifest
    os.replace(folder, target)
    shutil.rmtree(work, ignore_errors=True)
    return target


@contextlib.contextmanager
def _online():
    """Lift the hub client's offline switch (set by ``import transcribe``) for one fetch only.

    huggingface_hub reads HF_HUB_OFFLINE once, at import, into ``constants.HF_HUB_OFFLINE`` and
    checks that value before every request; the environment variable itself stays as it was.
    """
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = before


@contextlib.contextmanager
def _hub_errors(repo: str, revision: str | None, endpoint: str):
    """Turn the hub client's exceptions into sentences that say what to do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"{endpoint}/{repo}"
    try:
        yield
    except GatedRepoError:
        raise ModelError(
            f"{repo} is gated. Log in at {endpoint}, accept its conditions on {page}, then pass a token of "
            "that account with --token hf_… (or set HF_TOKEN); tokens are made at "
            f"{endpoint}/settings/tokens."
        ) from None
    except RevisionNotFoundError:
        raise ModelError(
            f"{repo} has no revision '{revision}' at {endpoint}. Leave out --revision for the latest."
        ) from None
    except RepositoryNotFoundError:
        raise ModelError(
            f"{repo} was not found at {endpoint} (or it is private and the token has no access)."
        ) from None
    except LocalEntryNotFoundError as exc:  # hf_hub_download's word for "could not reach the hub"
        raise ModelError(_unreachable(endpoint, exc)) from None
    except HfHubHTTPError as exc:
        raise ModelError(f"The hub at {endpoint} refused a request for {repo}: {str(exc).splitlines()[0]}") from None
    except Exception as exc:
        # Connection failures come from the hub client's HTTP library (requests or httpx, by version).
        if type(exc).__module__.split(".")[0] in ("requests", "urllib3", "httpx", "httpx2", "httpcore"):
            raise ModelError(_unreachable(endpoint, exc)) from None
        raise


def _unreachable(endpoint: str, exc: Exception) -> str:
    return (
        f"Cannot reach {endpoint} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}). "
        "Fetching needs the internet: run it on a networked machine, then copy the folder to the offline one. "
        "What was already downloaded is kept; run the same command again to resume."
    )


def _matches(path: str, pattern: str) -> bool:
    # A pattern matches at its own depth only: "*.json" takes top-level files, "ct2/*" that folder's.
    return path.count("/") == pattern.count("/") and fnmatchcase(path, pattern)


def _select(siblings: list, entry: Entry, quantization: str | None) -> list:
    """The repository files to download; refuse early when what the model needs is not there."""
    if quantization:
        wanted = [s for s in siblings if any(_matches(s.rfilename, p) for p in CONVERT_FILES)]
        if not any(s.rfilename.endswith(".safetensors") for s in wanted):
            wanted += [s for s in siblings if _matches(s.rfilename, CONVERT_FALLBACK_WEIGHTS)]
        needed = ("config.json", "tokenizer.json", "preprocessor_config.json")
        has_weights = any(s.rfilename.endswith((".safetensors", ".bin")) for s in wanted)
    else:
        wanted = [s for s in siblings if any(_matches(s.rfilename, p) for p in entry.files)]
        needed = models.ASR_REQUIRED_FILES if entry.role == "asr" else ("config.yaml",)
        has_weights = True
    names = {_local_name(s.rfilename, "" if quantization else entry.strip) for s in wanted}
    missing = [name for name in needed if name not in names] + ([] if has_weights else ["the weights (*.safetensors)"])
    if missing:
        repo = entry.convert_from if quantization else entry.repo
        hint = (
            ""
            if quantization or entry.convert_from is None
            else " Try --quantization float16 to convert its Transformers weights instead."
        )
        raise ModelError(
            f"{repo} does not hold {', '.join(missing)} where transcribe expects it, so it cannot be used as is.{hint}"
        )
    return wanted


def _local_name(path: str, strip: str) -> str:
    return path[len(strip) :] if strip and path.startswith(strip) else path


def _size(sibling) -> int | None:
    return sibling.lfs["size"] if sibling.lfs else sibling.size


def _gb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _check_space(root: Path, wanted: list, download: Path, converting: bool) -> None:
    missing = sum((_size(s) or 0) for s in wanted if not (download / s.rfilename).is_file())
    needed = missing + (sum(_size(s) or 0 for s in wanted) if converting else 0)  # conversion writes a second copy
    free = shutil.disk_usage(root).free
    if needed > free:
        raise ModelError(
            f"This fetch needs about {_gb(needed)} free in {root}, but only {_gb(free)} is free. "
            "Free some space or choose another folder with --to."
        )


def _verify_download(download: Path, wanted: list, repo: str) -> None:
    """Each file as the hub lists it: its size, and for large (LFS) files the sha256 the hub publishes."""
    for sibling in wanted:
        path = download / sibling.rfilename
        expected = _size(sibling)
        if not path.is_file() or (expected is not None and path.stat().st_size != expected):
            raise ModelError(
                f"{sibling.rfilename} of {repo} did not download completely. Run the same command again to resume."
            )
        if sibling.lfs and sha256_file(path) != sibling.lfs["sha256"]:
            path.unlink()
            raise ModelError(
                f"{sibling.rfilename} of {repo} does not match the sha256 the hub publishes for it; "
                "it was deleted. Run the same command again to download it anew."
            )


def _arrange(download: Path, folder: Path, wanted: list, strip: str) -> None:
    for sibling in wanted:
        destination = folder / _local_name(sibling.rfilename, strip)
        destination.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if destination.exists():
            raise ModelError(
                f"Two files of the repository would both become {destination}; the catalogue entry needs fixing."
            )
        os.replace(download / sibling.rfilename, destination)


def _convert(source: Path, folder: Path, quantization: str) -> dict:
    """CTranslate2's Transformers converter, run offline on the downloaded files."""
    try:
        import transformers
    except ImportError:
        raise ModelError(
            "Converting to CTranslate2 needs the 'transformers' package, which transcribe does not install. "
            "On this networked machine run 'pip install transformers', then the same fetch command again "
            "(the download is kept)."
        ) from None
    import ctranslate2
    from ctranslate2.converters import TransformersConverter

    side_files = [name for name in CT2_SIDE_FILES if (source / name).is_file()]
    converter = TransformersConverter(
        str(source),
        copy_files=side_files,
        load_as_float16=quantization not in ("float32", "int8_float32", "int16"),  # halves the memory it takes
    )
    try:
        converter.convert(str(folder), quantization=quantization)
    except (ValueError, NotImplementedError, OSError, RuntimeError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ModelError(f"CTranslate2 could not convert the downloaded model ({str(exc).splitlines()[0]}).") from None
    return {
        "tool": f"ctranslate2 {ctranslate2.__version__} TransformersConverter",
        "transformers": transformers.__version__,
        "quantization": quantization,
    }


def catalogue_lines() -> list[str]:
    """What ``transcribe models fetch`` without a name prints: every model it can fetch."""
    return [
        "Models transcribe can fetch (transcribe models fetch NAME):",
        *(
            f"  {entry.name:<32} {entry.role:<12} {models.size_text(entry.size):>7}  {entry.licence:<10}  {entry.repo}\n"
            f"      {entry.about}"
            for entry in CATALOGUE.values()
        ),
    ]


def fetched_lines(folder: Path, name: str) -> list[str]:
    """What was fetched into ``folder``, and how to carry it to the offline machine."""
    manifest = models.read_manifest(folder)
    size = sum(entry["size"] for entry in manifest["files"])
    option = "--asr-model" if manifest["role"] == "asr" else "--diarization-model"
    return [
        f"{folder}: {manifest['source']['repo']}@{manifest['source']['revision'][:12]}, "
        f"{len(manifest['files'])} files, {models.size_text(size)}, licence {manifest['licence']}.",
        f"Copy the folder into the offline machine's models directory, check it there with "
        f"'transcribe models check {name}', then use it: transcribe run … {option} {name}",
    ]
