"""A REFI-QDA project (.qdpx): the transcript already coded by speaker, for any QDA program.

REFI-QDA (www.qdasoftware.org) is the exchange standard that ATLAS.ti, MAXQDA, NVivo, QDA Miner,
Transana, f4analyse and QualCoder import. A .qdpx is a zip holding ``project.qde`` (XML in the
namespace ``urn:QDA-XML:project:1.0``, valid against REFI's Project.xsd) and ``Sources/``:

- one text source, ``Sources/<guid>.txt``: the numbered-line transcript exactly as the txt export
  writes it (UTF-8 without a byte-order mark, LF line ends, so character positions mean the same
  in every program);
- a code per speaker label (M, each informant, each observer), named as in the transcript;
- per turn a text selection over the turn's rows (label, line numbers and text, from the first
  character of its first row to the last of its last row), coded with its speaker;
- each informant as a case holding its turns, with the group (the session's name) as a variable;
- which tool and models made the transcript in the project's description.

Positions count characters (Unicode code points) from 0; the end position is the one after the
last selected character. No audio and no recording's path goes in: the recordings will be purged.
GUIDs are uuid5 of the session's identity (name, creation time, sha256 of the recordings), so the
same session gives the same bytes, and a re-export keeps the GUIDs the QDA program knows.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

from . import txt
from .archive import zip_members

SUFFIX = ".qdpx"
NAMESPACE = "urn:QDA-XML:project:1.0"
ROOT = uuid.uuid5(uuid.NAMESPACE_URL, "urn:transcribe:qdpx")
GROUP = {False: "Gruppe", True: "Group"}
DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>\n'  # ElementTree's own uses single quotes
KINDS = {False: ("Moderator", "Informant", "Observatør"), True: ("Moderator", "Informant", "Observer")}


def render(document) -> bytes:
    session = document.session
    text = txt.render(document)
    ids = _Guids(session)
    user, created = ids("user"), session.created
    kinds = {}  # label → what it names, in order of first speaking
    for turn in range(len(document.utterances)):
        kinds.setdefault(document.label(turn), _kind(document, turn))
    turns: dict[str, list[int]] = {label: [] for label in kinds}
    for turn in range(len(document.utterances)):
        turns[document.label(turn)].append(turn)

    project = _element(
        None,
        "Project",
        xmlns=NAMESPACE,
        name=session.name,
        origin=f"transcribe {session.tool_version}",
        creatingUserGUID=user,
        creationDateTime=created,
    )
    _element(_element(project, "Users"), "User", guid=user, name="transcribe")
    # The schema has no empty codebook or case list: a silent session has neither.
    codes = _element(_element(project, "CodeBook"), "Codes") if kinds else None
    for label, kind in kinds.items():
        code = _element(codes, "Code", guid=ids("code", label), name=label, isCodable="true")
        _element(code, "Description").text = f"{kind} {label} ({session.name})"
    group = ids("variable", "group")
    variables = _element(project, "Variables")
    _element(variables, "Variable", guid=group, name=GROUP[document.english], typeOfVariable="Text")
    cases = _element(project, "Cases") if session.informants else None
    for number in map(str, session.informants):
        case = _element(cases, "Case", guid=ids("case", number), name=number)
        if number in kinds:
            _element(case, "CodeRef", targetGUID=ids("code", number))
        value = _element(case, "VariableValue")
        _element(value, "VariableRef", targetGUID=group)
        _element(value, "TextValue").text = session.name
        for turn in turns.get(number, []):
            _element(case, "SelectionRef", targetGUID=ids("selection", str(turn)))

    source_id = ids("source")
    source = _element(
        _element(project, "Sources"),
        "TextSource",
        guid=source_id,
        name=session.name,
        plainTextPath=f"internal://{source_id}.txt",
        creatingUser=user,
        creationDateTime=created,
    )
    spans = _turn_spans(document, text)
    for turn in range(len(document.utterances)):
        first, last = document.ranges[turn]
        start, end = spans[turn]
        selection = _element(
            source,
            "PlainTextSelection",
            guid=ids("selection", str(turn)),
            name=str(first) if first == last else f"{first}–{last}",
            startPosition=str(start),
            endPosition=str(end),
            creatingUser=user,
            creationDateTime=created,
        )
        coding = _element(
            selection, "Coding", guid=ids("coding", str(turn)), creatingUser=user, creationDateTime=created
        )
        _element(coding, "CodeRef", targetGUID=ids("code", document.label(turn)))
    _element(project, "Description").text = "\n".join(txt.heading_lines(document))

    ET.indent(project)
    qde = DECLARATION + ET.tostring(project, encoding="unicode").encode("utf-8")
    return zip_members([("project.qde", qde), (f"Sources/{source_id}.txt", text.encode("utf-8"))])


def _turn_spans(document, text: str) -> dict[int, tuple[int, int]]:
    """turn index → (start, end) of its rows in the txt export, whose last lines are the table's rows."""
    rows = text.split("\n")[-1 - len(document.lines) : -1]
    position = len(text) - sum(len(row) + 1 for row in rows)
    spans: dict[int, tuple[int, int]] = {}
    for line, row in zip(document.lines, rows):
        start, _ = spans.get(line.turn, (position, 0))
        spans[line.turn] = (start, position + len(row))
        position += len(row) + 1
    return spans


def _kind(document, turn: int) -> str:
    moderator, informant, observer = KINDS[document.english]
    label = document.labels[turn]
    if isinstance(label, int):
        return informant
    return moderator if label == document.session.moderator_label else observer


class _Guids:
    """Deterministic GUIDs: uuid5 of the session's identity and of what the GUID names."""

    def __init__(self, session):
        self.seed = "/".join([session.name, session.created, *(source.sha256 for source in session.sources)])

    def __call__(self, *names: str) -> str:
        return str(uuid.uuid5(ROOT, "/".join([self.seed, *names])))


def _element(parent: ET.Element | None, tag: str, **attributes: str) -> ET.Element:
    """An element in the project's namespace, which the root declares as the default one."""
    return ET.Element(tag, attributes) if parent is None else ET.SubElement(parent, tag, attributes)
