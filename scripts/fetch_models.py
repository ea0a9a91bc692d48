#!/usr/bin/env python
"""Fetch models on a networked machine: the same as ``transcribe models fetch``.

    python scripts/fetch_models.py                      # what can be fetched
    python scripts/fetch_models.py nb-whisper-large --to /media/usb/models
    python scripts/fetch_models.py speaker-diarization-community-1 --token hf_…

Then copy the folder to the offline machine's models directory and run
``transcribe models check NAME`` there. See models/README.md.
"""

import sys

from transcribe.cli import cli

if __name__ == "__main__":
    cli(["models", "fetch", *sys.argv[1:]], prog_name="fetch_models.py")
