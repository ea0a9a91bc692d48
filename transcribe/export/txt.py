"""The numbered-line transcript as plain text (the layout of the study's Table 3).

    Informant nr.  Linjenr.  Tekstlinjer
    3              74        Vi møtes utenom gruppa, av og til.
                   75        Her snakker vi om problemer …

The label stands on the first line of each turn; continuation lines carry only their number.
"""

from __future__ import annotations

SUFFIX = ".txt"
HEADERS = {False: ("Informant nr.", "Linjenr.", "Tekstlinjer"), True: ("Informant no.", "Line no.", "Text lines")}


def render(document) -> str:
    session = document.session
    label_head, line_head, text_head = HEADERS[document.english]
    label_width = max([len(label_head)] + [len(line.label) for line in document.lines]) + 2
    number_width = max([len(line_head)] + [len(str(line.number)) for line in document.lines]) + 2
    out = [
        f"# {session.name} · {', '.join(source.file for source in session.sources)} · "
        f"{_language(session.language, document.english)}",
        f"# {provenance(session)}",
        "",
        f"{label_head:<{label_width}}{line_head:<{number_width}}{text_head}",
    ]
    for line in document.lines:
        out.append(f"{line.label:<{label_width}}{str(line.number):<{number_width}}{line.text}".rstrip())
    return "\n".join(out) + "\n"


def provenance(session) -> str:
    """Which tool and models made this transcript, in one line."""
    parts = [f"transcribe {session.tool_version}"]
    if session.transcription:
        model = session.transcription.model
        parts.append(f"ASR {model.name} (sha256 {model.sha256[:12]})")
    if session.diarization:
        names = " + ".join(f"{m.name} (sha256 {m.sha256[:12]})" for m in session.diarization.models)
        parts.append(f"diarisation {names}")
    return "; ".join(parts)


def _language(code: str, english: bool) -> str:
    names = {"no": ("norsk bokmål", "Norwegian Bokmål"), "nn": ("nynorsk", "Norwegian Nynorsk")}
    return names.get(code, (code, code))[english]
