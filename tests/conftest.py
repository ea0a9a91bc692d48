"""What many test files share: the real CLI, in this process or in a process of its own.

``invoke`` drives the click command in-process (``CliRunner``, stdout and stderr apart);
``command`` is the argv that runs the same CLI as a subprocess (for kills, strace, real exit codes);
``script`` imports one of ``scripts/`` (the evaluation's scoring, used by tests as a yardstick).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path

from click.testing import CliRunner

from transcribe.cli import cli


def invoke(*args, catch_exceptions: bool = True):
    """Run ``transcribe ARGS…`` in this process; paths and numbers are turned into text."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=catch_exceptions)


def command(*args) -> list[str]:
    """The argv of ``transcribe ARGS…`` as a subprocess, with this interpreter and this checkout."""
    return [sys.executable, "-m", "transcribe.cli", *map(str, args)]


@cache
def script(name: str):
    """``scripts/NAME.py`` as a module, imported once per test run (dataclasses need it in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
