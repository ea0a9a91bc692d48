"""A focus-group transcript for MAXQDA (Import → Focus Group Transcripts, "with timestamps").

MAXQDA's documented rules for focus-group import: each contribution is a paragraph that starts
with the speaker's name and a colon; text at the top without a colon in its first 63 characters
is a preamble that is not coded. Time stamps are written as f4/f5 do, ``#hh:mm:ss-x#`` (x: tenths
of a second) at the end of each contribution, marking where it ends; MAXQDA's focus-group import
reads f4/f5 time stamps. Speaker names are the transcript's labels (M, 3, O1). UTF-8 with a
byte-order mark and CRLF line ends, as Windows programs expect of a .txt file.
"""

from __future__ import annotations

from ..timecode import clock
from . import txt

SUFFIX = ".maxqda.txt"
BOM = "\ufeff"


def render(document) -> str:
    paragraphs = [line.replace(":", " ") for line in txt.heading_lines(document)]  # a colon would make a speaker
    for turn, utterance in enumerate(document.utterances):
        paragraphs.append(f"{document.label(turn)}: {utterance.text} #{clock(utterance.end, 1, '-')}#")
    return BOM + "\r\n\r\n".join(paragraphs) + "\r\n"
