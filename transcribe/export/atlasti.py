"""A transcript for ATLAS.ti's multimedia transcripts (add the recording, then import this as its transcript).

ATLAS.ti ties a transcript to its audio by timestamps and imports WebVTT transcripts (the format of
Zoom and Teams transcripts) for that. So this is WebVTT with one cue per turn rather than per line:
the cue's times are the turn's start and end, and its text is the turn, starting with the
speaker's label and a colon (``3: Vi møtes …``), so the speaker stays in the text whether or not
the program reads voice tags. Times are zero-padded ``hh:mm:ss.mmm`` (ATLAS.ti does not read
``0:0:3.580``). No cue identifiers and no NOTE block: only what a transcript import shows as text.
What was checked against which documentation is in docs/exports.md.
"""

from __future__ import annotations

from html import escape

from ..timecode import clock

SUFFIX = ".atlasti.vtt"


def render(document) -> str:
    blocks = ["WEBVTT\n"]
    for turn, utterance in enumerate(document.utterances):
        span = f"{clock(utterance.start, 3)} --> {clock(max(utterance.end, utterance.start + 0.001), 3)}"
        text = f"{document.label(turn)}: {utterance.text}"
        blocks.append(f"{span}\n{escape(text, quote=False)}\n")
    return "\n".join(blocks)
