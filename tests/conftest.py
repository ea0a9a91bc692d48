"""What many test files share: the real CLI, in this process or in a process of its own.

``invoke`` drives the click command in-process (``CliRunner``, stdout and stderr apart);
``command`` is the argv that runs the same CLI as a subprocess (for kills, strace, real exit codes).
"""

from __future__ import annotations

import sys

from click.testing import CliRunner

from transcribe.cli import cli


def invoke(*args, catch_exceptions: bool = True):
    """Run ``transcribe ARGS…`` in this process; paths and numbers are turned into text."""
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=catch_exceptions)


def command(*args) -> list[str]:
    """The argv of ``transcribe ARGS…`` as a subprocess, with this interpreter and this checkout."""
    return [sys.executable, "-m", "transcribe.cli", *map(str, args)]
