"""Run ``transcribe`` with its purge ended abruptly after N recordings, as a kill would end it.

    python tests/interrupted.py N purge FOLDER --yes

The process exits with ``EXIT`` (``os._exit``: no clean-up, no flushing) right after the purge
journal records the N-th recording this run finished, so a test can interrupt a real purge between
files. The hook lives here, in the tests; the product has none.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's transcribe, as `-m` would take

from transcribe import purge  # noqa: E402
from transcribe.cli import main  # noqa: E402

EXIT = 86


def interrupt_after(files: int) -> None:
    save = purge._save_journal

    def save_then_maybe_die(plan, targets, runs) -> None:
        save(plan, targets, runs)
        if sum(1 for t in targets if t.status in purge.FINAL and t.run == len(runs)) >= files:
            os._exit(EXIT)

    purge._save_journal = save_then_maybe_die


if __name__ == "__main__":
    interrupt_after(int(sys.argv.pop(1)))
    sys.exit(main())
