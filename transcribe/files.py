"""The one writer of files: atomic (temp file + fsync + rename), owner-only, hashed.

A reader never sees a half-written file under its final name, and a killed process leaves at
worst a stray ``.tmp`` file, never a truncated transcript.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path

from .errors import InputError, TranscribeError

FILE_MODE = 0o600
DIR_MODE = 0o700


def cache_dir() -> Path:
    """Where derived model files live: $TRANSCRIBE_CACHE, else $XDG_CACHE_HOME/transcribe."""
    if env := os.environ.get("TRANSCRIBE_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "transcribe"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (owner-only) if needed; refuse clearly if it cannot be written."""
    try:
        for parent in reversed([folder for folder in path.parents if not folder.exists()]):
            parent.mkdir(mode=DIR_MODE, exist_ok=True)  # mkdir(parents=True) would make them readable by all
        path.mkdir(mode=DIR_MODE, exist_ok=True)
    except OSError as exc:
        raise TranscribeError(
            f"Cannot create the output folder {path}: {exc.strerror}. Choose another folder with --out."
        ) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise TranscribeError(
            f"The output folder {path} is not writable. Choose another folder with --out or fix its permissions."
        )
    return path


def write_atomic(path: Path, data: bytes | str) -> str:
    """Write ``data`` to ``path`` atomically and return its sha256 (hex)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TranscribeError(
            f"Could not write {path}: {exc.strerror}. Check free disk space and permissions; "
            "nothing was changed under that name."
        ) from exc
    return hashlib.sha256(data).hexdigest()


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_toml(path: str | Path, what: str, example: str) -> dict:
    """Read a small TOML file the researcher wrote (a map or names file), refusing it plainly."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the {what} {path} ({exc.strerror}). Check the path.") from None
    except UnicodeDecodeError:
        raise InputError(f"The {what} {path} is not UTF-8 text. Save it as UTF-8 and try again.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(
            f"The {what} {path} is not valid TOML ({exc}). Write one entry per line, like {example}."
        ) from None


def toml_value(value) -> str:
    """A value from such a file as it was written there, for messages: 3, "M", true."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (bool, int, float, str)) else str(value)
