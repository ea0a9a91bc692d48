"""The REFI-QDA project export (.qdpx), read back as a QDA program would.

project.qde is validated against REFI's Project.xsd (tests/fixtures/refi, MIT) with xmlschema; the
selections are resolved against the text source and compared with the session's turns.
"""

import hashlib
import io
import re
import uuid
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import xmlschema
from click.testing import CliRunner
from sessions import SCRIPT, SPEAKER_MAP, make_session, save_session

from transcribe.cli import cli
from transcribe.export import build_document, qdpx
from transcribe.session import Session

SCHEMA = Path(__file__).parent / "fixtures" / "refi" / "Project.xsd"
NS = {"q": "urn:QDA-XML:project:1.0"}


def export(folder, *args):
    result = CliRunner().invoke(cli, ["export", str(folder), "--formats", "qdpx,txt", *map(str, args)])
    assert result.exit_code == 0, result.output
    return folder / "gruppe1.qdpx"


@pytest.fixture
def folder(tmp_path):
    save_session(tmp_path / "gruppe1")
    return tmp_path / "gruppe1"


def unpack(path: Path) -> tuple[ET.Element, str, zipfile.ZipFile]:
    archive = zipfile.ZipFile(path)
    project = ET.fromstring(archive.read("project.qde"))
    source = project.find("q:Sources/q:TextSource", NS)
    name = re.fullmatch(r"internal://(.+)", source.get("plainTextPath")).group(1)
    return project, archive.read(f"Sources/{name}").decode("utf-8"), archive


def test_project_is_valid_against_the_refi_schema(folder):
    data = zipfile.ZipFile(export(folder)).read("project.qde")
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0"')
    xmlschema.XMLSchema(SCHEMA).validate(io.BytesIO(data))


def test_a_broken_project_fails_the_schema():
    """The check can fail: a selection without its end position is not a REFI project."""
    data = zipfile.ZipFile(io.BytesIO(qdpx.render(build_document(make_session())))).read("project.qde")
    broken = re.sub(rb' endPosition="\d+"', b"", data, count=1)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        xmlschema.XMLSchema(SCHEMA).validate(io.BytesIO(broken))


def test_a_silent_session_is_a_valid_project_with_an_empty_transcript():
    session = make_session(script=[], speaker_map={}, informants=())
    data = zipfile.ZipFile(io.BytesIO(qdpx.render(build_document(session)))).read("project.qde")
    xmlschema.XMLSchema(SCHEMA).validate(io.BytesIO(data))
    assert b"PlainTextSelection" not in data and b"<Code " not in data


def test_the_text_source_is_the_txt_export_and_nothing_else_is_in_the_zip(folder):
    project, text, archive = unpack(export(folder))
    assert text.encode("utf-8") == (folder / "gruppe1.txt").read_bytes()
    assert not text.startswith("\ufeff") and "\r" not in text
    assert len(archive.namelist()) == 2 and archive.namelist()[0] == "project.qde"
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"/data/" not in everything  # the recordings' paths (they will be purged)
    assert project.find(".//q:AudioSource", NS) is None and project.find(".//q:VideoSource", NS) is None


def numbered_rows(text: str) -> dict[int, tuple[str, str, str]]:
    """line number → (row, label, text) of the transcript table, cut at the header's columns."""
    lines = text.split("\n")
    header = next(index for index, line in enumerate(lines) if line.startswith("Informant nr."))
    number_at, text_at = lines[header].index("Linjenr."), lines[header].index("Tekstlinjer")
    rows = [row for row in lines[header + 1 :] if row]
    return {int(row[number_at:text_at]): (row, row[:number_at].strip(), row[text_at:]) for row in rows}


@pytest.mark.parametrize("args", [[], ["--start-line", "74", "--width", "40"], ["--moderator-label", "Moderator"]])
def test_each_turn_is_one_selection_over_exactly_its_rows_coded_with_its_speaker(folder, args):
    project, text, _ = unpack(export(folder, *args))
    session = Session.load(folder)
    ranges = build_document(session).ranges
    rows = numbered_rows(text)
    codes = {code.get("guid"): code.get("name") for code in project.iterfind(".//q:Code", NS)}
    selections = project.findall("q:Sources/q:TextSource/q:PlainTextSelection", NS)
    assert len(selections) == len(SCRIPT) == len(session.utterances)
    assert sum(last - first + 1 for first, last in ranges.values()) == len(rows)
    for turn, selection in enumerate(selections):
        first, last = ranges[turn]
        chosen = text[int(selection.get("startPosition")) : int(selection.get("endPosition"))]
        assert chosen.split("\n") == [rows[number][0] for number in range(first, last + 1)]
        label = str(session.speaker_map[session.utterances[turn].speaker])
        assert [rows[number][1] for number in range(first, last + 1)] == [label] + [""] * (last - first)
        assert " ".join(rows[number][2] for number in range(first, last + 1)) == session.utterances[turn].text
        (code_ref,) = selection.findall("q:Coding/q:CodeRef", NS)
        assert codes[code_ref.get("targetGUID")] == label
        assert selection.get("name") == (str(first) if first == last else f"{first}–{last}")
    if args[:1] == ["--start-line"]:
        assert min(rows) == 74 and max(len(row[2]) for row in rows.values()) <= 40


def test_codes_are_the_speaker_labels_and_informants_are_cases_of_their_group(folder):
    project, _, _ = unpack(export(folder))
    codes = {code.get("guid"): code for code in project.iterfind("q:CodeBook/q:Codes/q:Code", NS)}
    assert [code.get("name") for code in codes.values()] == ["M", "1", "2", "O1"]
    assert [code.find("q:Description", NS).text for code in codes.values()] == [
        "Moderator M (gruppe1)",
        "Informant 1 (gruppe1)",
        "Informant 2 (gruppe1)",
        "Observatør O1 (gruppe1)",
    ]
    (variable,) = project.findall("q:Variables/q:Variable", NS)
    assert (variable.get("name"), variable.get("typeOfVariable")) == ("Gruppe", "Text")
    coded = {
        selection.get("guid"): codes[selection.find("q:Coding/q:CodeRef", NS).get("targetGUID")].get("name")
        for selection in project.iterfind(".//q:PlainTextSelection", NS)
    }
    cases = project.findall("q:Cases/q:Case", NS)
    assert [case.get("name") for case in cases] == ["1", "2", "3"]  # the group's informants; 3 never speaks
    for case in cases:
        value = case.find("q:VariableValue", NS)
        assert value.find("q:VariableRef", NS).get("targetGUID") == variable.get("guid")
        assert value.find("q:TextValue", NS).text == "gruppe1"
        selections = [ref.get("targetGUID") for ref in case.findall("q:SelectionRef", NS)]
        assert selections == [guid for guid, name in coded.items() if name == case.get("name")]
        assert [codes[ref.get("targetGUID")].get("name") for ref in case.findall("q:CodeRef", NS)] == (
            [case.get("name")] if selections else []
        )
    assert len([name for name in coded.values() if name == "1"]) == 2


def test_the_description_names_the_tool_and_models(folder):
    project, _, _ = unpack(export(folder))
    description = project.find("q:Description", NS).text
    assert "transcribe 0.1.0" in description and "whisper-base" in description and "CAM++" in description
    assert project.get("origin") == "transcribe 0.1.0" and project.get("name") == "gruppe1"


def test_guids_are_deterministic_unique_and_follow_the_session():
    first = qdpx.render(build_document(make_session()))
    assert first == qdpx.render(build_document(make_session()))
    qde = zipfile.ZipFile(io.BytesIO(first)).read("project.qde").decode("utf-8")
    guids = re.findall(r' guid="([^"]+)"', qde)
    assert len(guids) == len(set(guids)) == 1 + 4 + 1 + 3 + 1 + 2 * len(SCRIPT)
    assert all(uuid.UUID(guid).version == 5 for guid in guids)
    other = qdpx.render(build_document(make_session(name="gruppe2", speaker_map=SPEAKER_MAP)))
    other_guids = re.findall(r' guid="([^"]+)"', zipfile.ZipFile(io.BytesIO(other)).read("project.qde").decode())
    assert not set(guids) & set(other_guids)  # two groups' projects can be merged in one QDA project


def test_a_re_export_has_the_same_hash(folder):
    export(folder)
    first = hashlib.sha256((folder / "gruppe1.qdpx").read_bytes()).hexdigest()
    export(folder)
    assert hashlib.sha256((folder / "gruppe1.qdpx").read_bytes()).hexdigest() == first
    assert {record.format: record.sha256 for record in Session.load(folder).exports}["qdpx"] == first
