"""The numbered-line transcript as plain text (the layout of the study's Table 3).

    Informant nr.  Linjenr.  Tekstlinjer
    3              74        Vi møtes utenom gruppa, av og til.
                   75        Her snakker vi om problemer …

The label stands on the first line of each turn; continuation lines carry only their number.
With timestamps, a time column shows when each turn starts (hh:mm:ss on the session timeline).
"""

from __future__ import annotations

from ..timecode import clock

SUFFIX = ".txt"
HEADERS = {False: ("Informant nr.", "Linjenr.", "Tekstlinjer"), True: ("Informant no.", "Line no.", "Text lines")}
TIME_HEADER = {False: "Tid", True: "Time"}


def render(document) -> str:
    columns = [headings(document)] + [cells(document, line) for line in document.lines]
    widths = [max(len(row[index]) for row in columns) + 2 for index in range(len(columns[0]) - 1)]
    out = [f"# {line}" for line in heading_lines(document)] + [""]
    for row in columns:
        out.append(("".join(f"{cell:<{width}}" for cell, width in zip(row, widths)) + row[-1]).rstrip())
    return "\n".join(out) + "\n"


def headings(document) -> tuple[str, ...]:
    label, number, text = HEADERS[document.english]
    return (label, number, TIME_HEADER[document.english], text) if document.timestamps else (label, number, text)


def cells(document, line) -> tuple[str, ...]:
    """One table row: label (first line of a turn only), line number, [turn start,] text."""
    if not document.timestamps:
        return (line.label, str(line.number), line.text)
    start = clock(document.utterances[line.turn].start) if line.label else ""
    return (line.label, str(line.number), start, line.text)


def heading_lines(document) -> list[str]:
    """What the transcript is and what made it: shown above the table in txt and docx."""
    session = document.session
    lines = [
        f"{session.name} · {', '.join(source.file for source in session.sources)} · {_language(session.language, document.english)}",
        provenance(session),
    ]
    if document.replacements is not None:
        lines.append(f"{document.replacements} {'names replaced' if document.english else 'navn erstattet'}")
    return lines


def provenance(session) -> str:
    """Which tool and models made this transcript, in one line."""
    parts = [f"transcribe {session.tool_version}"]
    if session.transcription:
        parts.append(f"ASR {_model(session.transcription.model)}")
    if session.diarization:
        parts.append(f"diarisation {' + '.join(_model(m) for m in session.diarization.models)}")
    return "; ".join(parts)


def _model(model) -> str:
    """name@revision (sha256 of the weights): the revision is the source repository's commit, when known."""
    revision = f"@{model.revision[:12]}" if model.revision else ""
    return f"{model.name}{revision} (sha256 {model.sha256[:12]})"


def _language(code: str, english: bool) -> str:
    names = {"no": ("norsk bokmål", "Norwegian Bokmål"), "nn": ("nynorsk", "Norwegian Nynorsk")}
    return names.get(code, (code, code))[english]
