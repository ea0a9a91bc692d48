"""Transcript rows for NVivo (open the audio's transcript, Import Transcript Entries).

Tab-separated text with a header row ``Timespan / Speaker / Content``: NVivo maps the columns by
these names ("Speaker" is a custom transcript field; add it under Media → Transcript Fields before
importing). One row per contribution; the timespan is ``hh:mm:ss.s - hh:mm:ss.s`` on the session
timeline. UTF-8 with a byte-order mark and CRLF line ends, as NVivo for Windows expects.
"""

from __future__ import annotations

from ..timecode import clock

SUFFIX = ".nvivo.txt"
BOM = "\ufeff"
COLUMNS = ("Timespan", "Speaker", "Content")


def render(document) -> str:
    rows = ["\t".join(COLUMNS)]
    for turn, utterance in enumerate(document.utterances):
        timespan = f"{clock(utterance.start, 1)} - {clock(utterance.end, 1)}"
        rows.append("\t".join((timespan, document.label(turn), utterance.text)))
    return BOM + "\r\n".join(rows) + "\r\n"
