"""One row per numbered line, for spreadsheets, R and pandas.

Columns: line, label, text, turn_start, turn_end, turn. Every row carries its turn's label (also on
continuation lines, so rows can be filtered); times are seconds on the session timeline; turn
counts the utterances from 1. UTF-8 with a byte-order mark so Excel shows æøå; comma-separated
with quoting as in RFC 4180 (in Excel with Norwegian settings, open it with Data → From Text/CSV).
"""

from __future__ import annotations

import csv
import io

SUFFIX = ".csv"
COLUMNS = ("line", "label", "text", "turn_start", "turn_end", "turn")
BOM = "\ufeff"


def render(document) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for line in document.lines:
        turn = document.utterances[line.turn]
        writer.writerow(
            [line.number, document.turn_label(line), line.text, f"{turn.start:.3f}", f"{turn.end:.3f}", line.turn + 1]
        )
    return BOM + buffer.getvalue()
