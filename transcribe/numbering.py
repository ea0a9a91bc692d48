"""Numbered text lines: the unit qualitative analysis (STC) cites.

Every text line gets a number; numbers run on through the transcript and may start anywhere
(group 2 continuing from group 1). Long turns are wrapped at a width without splitting words;
the label stands on the first line of each turn only. Labels come one per turn (a reviewed
transcript may label one turn of a cluster differently from the rest).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InputError
from .records import Label, Utterance

DEFAULT_WIDTH = 80


@dataclass(frozen=True)
class Line:
    number: int
    label: str  # "" on continuation lines
    text: str
    turn: int  # index of the utterance this line belongs to


def wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, break_long_words=False, break_on_hyphens=False) or [""]


def number_lines(
    utterances: Sequence[Utterance],
    labels: Sequence[Label],  # one per utterance
    start_line: int = 1,
    width: int = DEFAULT_WIDTH,
) -> list[Line]:
    if start_line < 1:
        raise InputError(f"--start-line {start_line}: line numbers start at 1 or higher.")
    if width < 20:
        raise InputError(f"--width {width} is too narrow; use 20 characters or more (80 is usual).")
    lines: list[Line] = []
    number = start_line
    previous = None
    for turn, (utterance, label) in enumerate(zip(utterances, labels, strict=True)):
        label = str(label)
        for index, text in enumerate(wrap(utterance.text, width)):
            # Two clusters merged into one informant read as one turn: no repeated label.
            shown = label if index == 0 and label != previous else ""
            lines.append(Line(number=number, label=shown, text=text, turn=turn))
            number += 1
        previous = label
    return lines


def turn_line_ranges(lines: Sequence[Line]) -> dict[int, tuple[int, int]]:
    """turn index → (first line number, last line number)."""
    ranges: dict[int, tuple[int, int]] = {}
    for line in lines:
        first, _ = ranges.get(line.turn, (line.number, line.number))
        ranges[line.turn] = (first, line.number)
    return ranges
