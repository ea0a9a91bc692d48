"""transcribe: offline focus-group transcription with anonymised, numbered-line exports.

Importing the package makes the process offline for the speech libraries: the Hugging Face hub
client is put in offline mode and the telemetry of pyannote and ONNX Runtime is switched off,
before any of them can be imported by any stage.
"""

import os

# Forced, not defaulted: recordings are sensitive and nothing may phone home or download.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["PYANNOTE_METRICS_ENABLED"] = "0"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
# ONNX Runtime (faster-whisper's voice activity detector) has sent usage events to Microsoft from
# Linux too since 1.29, and keeps a device id in $TMPDIR/.ses; this switches both off.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

__version__ = "0.1.0"
