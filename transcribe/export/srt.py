"""SubRip subtitles: one cue per numbered line, timed by its words, the label as speaker name.

Cues are numbered 1, 2, … as SubRip requires; the text starts with the speaker's label (``M:``,
``3:``) on every cue, so a cue read alone still says who speaks.
"""

from __future__ import annotations

from ..timecode import clock

SUFFIX = ".srt"


def render(document) -> str:
    cues = []
    for index, (line, start, end) in enumerate(document.timed_lines(), start=1):
        span = f"{clock(start, 3, ',')} --> {clock(max(end, start + 0.001), 3, ',')}"  # a cue must end after it starts
        cues.append(f"{index}\n{span}\n{document.turn_label(line)}: {line.text}\n")
    return "\n".join(cues)
