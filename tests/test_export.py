"""Every export format, from the fixed session in tests/sessions.py, through the real CLI.

Text formats are compared byte for byte with golden files in tests/golden/ (see check_golden).
The docx is opened with python-docx; csv, srt, vtt, MAXQDA and NVivo files are also checked
against the rules of the programs that import them.
"""

import csv
import hashlib
import io
import json
import re

import docx
import pytest
from click.testing import CliRunner
from sessions import SCRIPT, check_golden, make_session, save_session

from transcribe.cli import cli
from transcribe.export import build_document, txt
from transcribe.session import Session

ALL = "txt,docx,csv,json,maxqda,nvivo,srt,vtt,qdpx,atlasti"
TEXT_FILES = [
    "gruppe1.txt",
    "gruppe1.csv",
    "gruppe1.json",
    "gruppe1.maxqda.txt",
    "gruppe1.nvivo.txt",
    "gruppe1.srt",
    "gruppe1.vtt",
    "gruppe1.atlasti.vtt",
]


def export(*args):
    result = CliRunner().invoke(cli, ["export", *map(str, args)])
    return result


@pytest.fixture
def folder(tmp_path):
    save_session(tmp_path / "gruppe1")
    return tmp_path / "gruppe1"


@pytest.fixture
def exported(folder):
    result = export(folder, "--formats", ALL)
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("name", TEXT_FILES)
def test_each_text_format_matches_its_golden_file(exported, name):
    check_golden(name, (exported / name).read_bytes())


def test_every_export_is_recorded_with_the_sha256_of_the_file_on_disk(exported):
    session = Session.load(exported)
    assert sorted(record.format for record in session.exports) == sorted(ALL.split(","))
    for record in session.exports:
        data = (exported / record.file).read_bytes()
        assert record.sha256 == hashlib.sha256(data).hexdigest()
        assert record.size == len(data)
        assert (exported / record.file).stat().st_mode & 0o777 == 0o600


def test_timestamps_and_english_headers_in_txt(folder):
    assert export(folder, "--formats", "txt", "--timestamps", "--english").exit_code == 0
    check_golden("gruppe1-timestamps-english.txt", (folder / "gruppe1.txt").read_bytes())


def test_docx_is_a_table_with_the_same_lines_as_txt(exported):
    word = docx.Document(str(exported / "gruppe1.docx"))
    document = build_document(Session.load(exported))
    assert [p.text for p in word.paragraphs][:2] == txt.heading_lines(document)
    (table,) = word.tables
    rows = [tuple(cell.text for cell in row.cells) for row in table.rows]
    assert rows[0] == ("Informant nr.", "Linjenr.", "Tekstlinjer")
    assert rows[1:] == [(line.label, str(line.number), line.text) for line in document.lines]
    assert rows[3] == ("2", "3", "Vi møtes utenom gruppa, av og til. Vi skiller mellom gruppemøte og privatmøte.")
    assert rows[4] == ("", "4", "Her snakker vi om problemer og ting som er taushetsbelagt. Ute gjør vi ikke det,")
    assert all(run.bold for run in table.rows[0].cells[0].paragraphs[0].runs)
    assert table.rows[0]._tr.trPr.xml.count("tblHeader") == 1  # the header row repeats on every page
    assert word.core_properties.title == "gruppe1"


def test_docx_with_timestamps_has_a_time_column(folder):
    assert export(folder, "--formats", "docx", "--timestamps").exit_code == 0
    table = docx.Document(str(folder / "gruppe1.docx")).tables[0]
    rows = [tuple(cell.text for cell in row.cells) for row in table.rows]
    assert rows[0] == ("Informant nr.", "Linjenr.", "Tid", "Tekstlinjer")
    assert rows[3][:3] == ("2", "3", "00:00:10")
    assert rows[4][:3] == ("", "4", "")


def test_csv_has_one_row_per_line_with_the_turns_label_and_times(exported):
    data = (exported / "gruppe1.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # so Excel reads UTF-8 (æøå)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 9
    assert rows[3] == {
        "line": "4",
        "label": "2",
        "text": "Her snakker vi om problemer og ting som er taushetsbelagt. Ute gjør vi ikke det,",
        "turn_start": "10.200",
        "turn_end": "24.850",
        "turn": "3",
    }
    assert [row["label"] for row in rows] == ["M", "1", "2", "2", "2", "M", "O1", "1", "1"]


def test_json_keeps_its_stable_format(exported):
    data = json.loads((exported / "gruppe1.json").read_text(encoding="utf-8"))
    assert data["format"] == "transcribe.transcript/1"
    assert [u["label"] for u in data["utterances"]] == ["M", 1, 2, "M", "O1", 1]
    assert [(u["first_line"], u["last_line"]) for u in data["utterances"]] == [
        (1, 1),
        (2, 2),
        (3, 5),
        (6, 6),
        (7, 7),
        (8, 9),
    ]


def test_srt_and_vtt_time_each_line_by_its_words(exported):
    srt = (exported / "gruppe1.srt").read_text(encoding="utf-8").split("\n\n")
    vtt = (exported / "gruppe1.vtt").read_text(encoding="utf-8").strip().split("\n\n")
    assert vtt[0] == "WEBVTT" and vtt[1].startswith("NOTE transcribe 0.1.0")
    cues = vtt[2:]
    assert len(srt) == len(cues) == 9
    previous = 0.0
    for number, (srt_cue, vtt_cue) in enumerate(zip(srt, cues), start=1):
        index, srt_span, srt_text = srt_cue.strip().split("\n")
        line, vtt_span, vtt_text = vtt_cue.split("\n")
        assert index == str(number) and line == str(number)  # the vtt cue id is the transcript line number
        srt_match = re.fullmatch(r"(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})", srt_span)
        assert srt_match and vtt_span == srt_span.replace(",", ".")
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, srt_match.groups())
        start, end = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        assert previous <= start < end
        previous = start
        label = re.fullmatch(r"<v ([^>]+)>(.*)", vtt_text).group(1)
        assert srt_text.startswith(f"{label}: ")
    # the long turn (10.2–24.85 s) is split over three cues, timed by the words on each line
    assert cues[2].split("\n")[1] == "00:00:10.200 --> 00:00:15.940"
    assert cues[4].split("\n")[1] == "00:00:22.670 --> 00:00:24.850"


def test_vtt_escapes_markup_in_speech(tmp_path):
    save_session(tmp_path / "s", script=[("SPEAKER_00", 0.0, 2.0, "Hva med A&B <3?")], speaker_map={"SPEAKER_00": "M"})
    assert export(tmp_path / "s", "--formats", "vtt").exit_code == 0
    assert "<v M>Hva med A&amp;B &lt;3?" in (tmp_path / "s" / "gruppe1.vtt").read_text(encoding="utf-8")


def test_maxqda_follows_the_focus_group_import_rules(exported):
    data = (exported / "gruppe1.maxqda.txt").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    paragraphs = [p for p in data.decode("utf-8-sig").split("\r\n") if p]
    preamble, contributions = paragraphs[:2], paragraphs[2:]
    assert all(":" not in p[:63] for p in preamble)  # not taken for a speaker
    assert len(contributions) == len(SCRIPT)
    for paragraph, (cluster, *_rest) in zip(contributions, SCRIPT):
        match = re.fullmatch(r"([^:]{1,63}): (.+) #(\d\d):(\d\d):(\d\d)-(\d)#", paragraph)
        assert match, paragraph
        assert match.group(1) == str(make_session().speaker_map[cluster])
    assert contributions[0].endswith("#00:00:04-0#")  # the moderator's first turn ends at 4.05 s


def test_nvivo_rows_have_timespan_speaker_and_content(exported):
    data = (exported / "gruppe1.nvivo.txt").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = [row.split("\t") for row in data.decode("utf-8-sig").split("\r\n") if row]
    assert rows[0] == ["Timespan", "Speaker", "Content"]
    assert len(rows) == 1 + len(SCRIPT)
    for timespan, _speaker, _content in rows[1:]:
        assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d - \d\d:\d\d:\d\d\.\d", timespan)
    assert rows[3] == ["00:00:10.2 - 00:00:24.8", "2", SCRIPT[2][3]]


def test_start_line_and_width_are_kept_for_the_next_export(folder):
    assert export(folder, "--formats", "txt", "--start-line", "74", "--width", "40").exit_code == 0
    assert export(folder, "--formats", "csv").exit_code == 0
    rows = list(csv.DictReader(io.StringIO((folder / "gruppe1.csv").read_text(encoding="utf-8-sig"))))
    assert rows[0]["line"] == "74"
    assert all(len(row["text"]) <= 40 for row in rows)


def test_moderator_label_is_configurable_and_kept(folder):
    assert export(folder, "--formats", "txt,maxqda", "--moderator-label", "Moderator").exit_code == 0
    text = (folder / "gruppe1.txt").read_text(encoding="utf-8")
    assert "\nModerator      1         Velkommen" in text
    assert "Moderator: Hvor ofte møtes dere?" in (folder / "gruppe1.maxqda.txt").read_text(encoding="utf-8-sig")
    session = Session.load(folder)
    assert session.moderator_label == "Moderator" and session.speaker_map["SPEAKER_00"] == "Moderator"


@pytest.mark.parametrize("label", ["3", "O2", "M: x", "<v>", ""])
def test_a_moderator_label_that_reads_as_something_else_is_refused(folder, label):
    result = export(folder, "--moderator-label", label)
    assert result.exit_code == 3
    assert "--moderator-label" in result.output


def test_continue_from_numbers_on_after_the_other_sessions_last_line(tmp_path):
    save_session(tmp_path / "gruppe1")
    assert export(tmp_path / "gruppe1", "--formats", "txt", "--start-line", "74").exit_code == 0  # lines 74–82
    save_session(
        tmp_path / "gruppe2",
        name="gruppe2",
        informants=(4, 5, 6),
        speaker_map={"SPEAKER_00": "M", "SPEAKER_02": 4, "SPEAKER_01": 5, "SPEAKER_03": "O1"},
    )
    result = export(tmp_path / "gruppe2", "--formats", "txt,csv", "--continue-from", tmp_path / "gruppe1")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "gruppe2" / "gruppe2.csv").read_text(encoding="utf-8-sig"))))
    assert [row["line"] for row in rows] == [str(n) for n in range(83, 92)]
    assert Session.load(tmp_path / "gruppe2").start_line == 83


def test_continue_from_refuses_contradictions_and_missing_sessions(tmp_path, folder):
    both = export(folder, "--start-line", "5", "--continue-from", tmp_path)
    assert both.exit_code == 3 and "not both" in both.output
    itself = export(folder, "--continue-from", folder)
    assert itself.exit_code == 3
    missing = export(folder, "--continue-from", tmp_path / "nothing")
    assert missing.exit_code == 5 and "session.json" in missing.output


def test_export_without_a_session_is_a_session_error(tmp_path):
    result = export(tmp_path, "--formats", "txt")
    assert result.exit_code == 5
    assert "transcribe run" in result.output


def test_an_unknown_format_is_refused(folder):
    result = export(folder, "--formats", "txt,pdf")
    assert result.exit_code == 3 and "pdf" in result.output


def test_times_are_truncated_to_the_unit_shown_and_never_read_as_later():
    from transcribe.timecode import clock

    assert clock(1.13, 3, ",") == "00:00:01,130"  # 1.13 is 1.1299999… as a float
    assert clock(4.05, 1, "-") == "00:00:04-0"
    assert clock(3599.99) == "00:59:59"
    assert clock(6600.0, 1) == "01:50:00.0"
    assert clock(-0.2) == "00:00:00"


def test_docx_bytes_are_the_same_for_the_same_session():
    """A re-export must not look like a changed transcript to purge and verify-purge."""
    import hashlib

    from transcribe.export import build_document, docx

    session = make_session()
    first = docx.render(build_document(session))
    second = docx.render(build_document(session))
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
