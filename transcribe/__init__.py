"""transcribe: offline focus-group transcription with anonymised, numbered-line exports.

Importing the package makes the process offline for the speech libraries: the Hugging Face hub
client is put in offline mode and pyannote's telemetry is switched off, before either can be
imported by any stage.
"""

import os

# Forced, not defaulted: recordings are sensitive and nothing may phone home or download.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
