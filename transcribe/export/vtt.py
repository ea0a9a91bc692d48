"""WebVTT subtitles: one cue per numbered line, timed by its words, with a voice tag per speaker.

Each cue's identifier is its transcript line number, so a cue can be found in the transcript;
``<v 3>`` names the speaker by label. A NOTE block says which tool and models made it.
"""

from __future__ import annotations

from html import escape

from ..timecode import clock
from . import txt

SUFFIX = ".vtt"


def render(document) -> str:
    blocks = [f"WEBVTT\n\nNOTE {txt.provenance(document.session)}\n"]
    for line, start, end in document.timed_lines():
        span = f"{clock(start, 3)} --> {clock(max(end, start + 0.001), 3)}"  # a cue must end after it starts
        blocks.append(f"{line.number}\n{span}\n<v {document.turn_label(line)}>{escape(line.text, quote=False)}\n")
    return "\n".join(blocks)
