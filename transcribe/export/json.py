"""The JSON export: a stable, versioned interface that other tools read (see DESIGN.md).

Informant numbers are JSON numbers; ``M`` and observer labels are strings. Times are seconds on
the session timeline (parts laid end to end). ``first_line``/``last_line`` tie each utterance to
the numbered-line transcript.
"""

from __future__ import annotations

import json

SUFFIX = ".json"
FORMAT = "transcribe.transcript/1"


def render(document) -> str:
    session = document.session
    data = {
        "format": FORMAT,
        "session": {
            "name": session.name,
            "informants": session.informants,
            "language": session.language,
            "duration": round(session.duration, 3),
            "sources": [
                {"file": s.file, "sha256": s.sha256, "offset": round(s.offset, 3), "duration": round(s.duration, 3)}
                for s in session.sources
            ],
            "models": _models(session),
            "tool_version": session.tool_version,
        },
        "utterances": [
            {
                "label": document.labels[index],
                "speaker": u.speaker,
                "start": round(u.start, 3),
                "end": round(u.end, 3),
                "text": u.text,
                "first_line": document.ranges[index][0],
                "last_line": document.ranges[index][1],
                "words": [
                    {"start": w.start, "end": w.end, "text": w.text, "probability": w.probability} for w in u.words
                ],
            }
            for index, u in enumerate(document.utterances)
        ],
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def _models(session) -> list[dict]:
    found = []
    if session.transcription:
        found.append(session.transcription.model.to_dict())
    if session.diarization:
        found.extend(model.to_dict() for model in session.diarization.models)
    for model in found:
        model.pop("path", None)  # a machine's folder layout is not part of the transcript
    return found
