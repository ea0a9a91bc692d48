#!/usr/bin/env python3
"""Diarisation-only sweep on the shared real-voice sets: ``scripts/evaluate.py --shared --no-asr``.

Kept for the commands in older notes; every option of evaluate.py works here too, e.g.

    python scripts/evaluate_diarization.py --threads 1 --threshold 0.6 0.65 0.7 --step 0.1 0.2
    python scripts/evaluate_diarization.py eval/focus --min-cluster-size 2 4 8
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evaluate import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--shared", "--no-asr", *sys.argv[1:]]))
