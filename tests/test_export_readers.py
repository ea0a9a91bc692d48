"""Every export read back by a reader that knows only the format, and compared with the session.

The subtitle files are parsed by the ``srt`` and ``webvtt-py`` libraries, the docx by python-docx.
MAXQDA and NVivo have no reader outside their programs, so the readers here follow what their
documentation says the import reads: MAXQDA's focus-group import (a contribution is a paragraph
that starts with ``Name:``; f4/f5 time stamps ``#hh:mm:ss-t#``) and NVivo's transcript import
(tab-separated rows, columns found by their names Timespan / Speaker / Content, rows in time
order). Times are compared with the session's word and turn times, not with another export.
"""

import re

import docx
import pytest
import srt
import webvtt
from click.testing import CliRunner
from sessions import SCRIPT, make_session, save_session

from transcribe.cli import cli
from transcribe.export import build_document
from transcribe.session import Session

FORMATS = "txt,docx,maxqda,nvivo,srt,vtt,atlasti"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("readers") / "gruppe1"
    save_session(folder)
    result = CliRunner().invoke(cli, ["export", str(folder), "--formats", FORMATS])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture(scope="module")
def document(exported):
    return build_document(Session.load(exported))


def seconds(clock: str) -> float:
    """'01:02:03.456', '01:02:03,456' or '01:02:03-4' → seconds."""
    hours, minutes, rest = re.fullmatch(r"(\d\d):(\d\d):(\d\d(?:[.,-]\d+)?)", clock).groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(rest.replace(",", ".").replace("-", "."))


def shown(time: float, unit: float) -> float:
    """A session time as a file shows it: truncated to the unit, never later than the speech."""
    return int(time / unit + 1e-6) * unit


def labels(document) -> list[str]:
    return [document.label(turn) for turn in range(len(document.utterances))]


def test_srt_parses_into_one_cue_per_timed_line_with_the_speaker(exported, document):
    cues = list(srt.parse((exported / "gruppe1.srt").read_text(encoding="utf-8")))
    timed = document.timed_lines()
    assert len(cues) == len(timed) == 9
    for number, (cue, (line, start, end)) in enumerate(zip(cues, timed), start=1):
        assert cue.index == number
        assert cue.content == f"{document.turn_label(line)}: {line.text}"
        assert cue.start.total_seconds() == pytest.approx(shown(start, 0.001))
        assert cue.end.total_seconds() == pytest.approx(shown(end, 0.001))


def test_webvtt_parses_into_one_cue_per_line_with_a_voice_per_speaker(exported, document):
    captions = webvtt.read(str(exported / "gruppe1.vtt"))
    timed = document.timed_lines()
    assert len(captions) == len(timed) == 9
    for caption, (line, start, end) in zip(captions, timed):
        assert caption.identifier == str(line.number)
        assert caption.voice == document.turn_label(line) and caption.text == line.text
        assert seconds(caption.start) == pytest.approx(shown(start, 0.001))
        assert seconds(caption.end) == pytest.approx(shown(end, 0.001))
    assert {caption.voice for caption in captions} == {"M", "1", "2", "O1"}


def test_atlasti_transcript_has_one_cue_per_turn_starting_with_the_speaker(exported, document):
    data = (exported / "gruppe1.atlasti.vtt").read_text(encoding="utf-8")
    spans = re.findall(r"^(\S+) --> (\S+)$", data, re.MULTILINE)
    assert len(spans) == len(SCRIPT)
    assert all(re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", stamp) for span in spans for stamp in span)  # not 0:0:3.580
    captions = webvtt.read(str(exported / "gruppe1.atlasti.vtt"))
    assert len(captions) == len(SCRIPT)
    for caption, utterance, label in zip(captions, document.utterances, labels(document)):
        assert caption.identifier is None and caption.voice is None
        assert caption.text == f"{label}: {utterance.text}"
        assert seconds(caption.start) == pytest.approx(shown(utterance.start, 0.001))
        assert seconds(caption.end) == pytest.approx(shown(utterance.end, 0.001))
    assert "NOTE" not in data


def test_python_docx_reads_the_table_and_the_layout_back(exported, document):
    word = docx.Document(str(exported / "gruppe1.docx"))
    (table,) = word.tables
    assert [tuple(cell.text for cell in row.cells) for row in table.rows[1:]] == [
        (line.label, str(line.number), line.text) for line in document.lines
    ]
    section = word.sections[0]
    assert section.page_width > section.page_height  # landscape at --width 80
    normal = word.styles["Normal"]
    assert normal.font.name == "Courier New" and normal.font.size.pt == 10.0
    assert table.rows[0]._tr.trPr.xml.count("tblHeader") == 1
    text_width = section.page_width - section.left_margin - section.right_margin
    assert sum(column.width for column in table.columns) <= text_width


def read_maxqda(text: str) -> tuple[list[str], list[tuple[str, str, float]]]:
    """MAXQDA's focus-group import: paragraphs; 'Name: text' is a contribution (a colon in the first
    63 characters), anything before the first one is a preamble; an f4/f5 time stamp #hh:mm:ss-t#
    in a contribution is its time."""
    preamble, contributions = [], []
    for paragraph in (p for p in text.split("\r\n") if p):
        colon = paragraph.find(":")
        if not 0 < colon < 63:
            assert not contributions, f"text without a speaker after the preamble: {paragraph!r}"
            preamble.append(paragraph)
            continue
        speaker, speech = paragraph[:colon], paragraph[colon + 1 :].strip()
        stamps = re.findall(r"#(\d\d:\d\d:\d\d-\d)#", speech)
        assert len(stamps) == 1, paragraph
        contributions.append((speaker, re.sub(r"\s*#[^#]+#", "", speech), seconds(stamps[0])))
    return preamble, contributions


def test_maxqda_reader_gets_every_contribution_its_speaker_text_and_time(exported, document):
    data = (exported / "gruppe1.maxqda.txt").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    preamble, contributions = read_maxqda(data.decode("utf-8-sig"))
    assert len(preamble) == 2 and preamble[0].startswith("gruppe1")
    assert [speaker for speaker, _, _ in contributions] == labels(document) == ["M", "1", "2", "M", "O1", "1"]
    for (_, text, time), utterance in zip(contributions, document.utterances):
        assert text == utterance.text
        assert time == pytest.approx(shown(utterance.end, 0.1))  # the stamp marks where the contribution ends


def read_nvivo(text: str) -> list[dict[str, str]]:
    """NVivo's transcript import: tab-separated rows, each with the header's number of tabs; the
    columns are found by their names, in whatever order they come."""
    header, *rows = [row.split("\t") for row in text.split("\r\n") if row]
    assert all(len(row) == len(header) for row in rows)
    return [dict(zip(header, row)) for row in rows]


def test_nvivo_reader_gets_rows_in_time_order_with_timespan_speaker_and_content(exported, document):
    rows = read_nvivo((exported / "gruppe1.nvivo.txt").read_bytes().decode("utf-8-sig"))
    assert len(rows) == len(SCRIPT)
    starts = []
    for row, utterance, label in zip(rows, document.utterances, labels(document)):
        start, end = (seconds(part) for part in re.fullmatch(r"(\S+) - (\S+)", row["Timespan"]).groups())
        assert (start, end) == (pytest.approx(shown(utterance.start, 0.1)), pytest.approx(shown(utterance.end, 0.1)))
        assert row["Speaker"] == label and row["Content"] == utterance.text
        starts.append(start)
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_the_readers_see_the_pseudonyms_not_the_names(tmp_path):
    """With a names file every reader gets the replaced text (Kari → 3), times unchanged."""
    save_session(tmp_path / "gruppe1")
    names = tmp_path / "navn.toml"
    names.write_text('Kari = 3\n"Ole Hansen" = "[navn]"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["export", str(tmp_path / "gruppe1"), "--formats", FORMATS, "--names", names])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "gruppe1"
    _, contributions = read_maxqda((folder / "gruppe1.maxqda.txt").read_bytes().decode("utf-8-sig"))
    nvivo = read_nvivo((folder / "gruppe1.nvivo.txt").read_bytes().decode("utf-8-sig"))
    cues = [caption.text for caption in webvtt.read(str(folder / "gruppe1.atlasti.vtt"))]
    subtitles = " ".join(cue.content for cue in srt.parse((folder / "gruppe1.srt").read_text(encoding="utf-8")))
    for text in [*(c[1] for c in contributions), *(row["Content"] for row in nvivo), *cues, subtitles]:
        assert "Kari" not in text and "Ole Hansen" not in text
    assert len(contributions) == len(nvivo) == len(cues) == len(make_session().utterances)
    assert "[navn]" in contributions[-1][1] and "[navn]" in nvivo[-1]["Content"] and "[navn]" in cues[-1]
    assert "[informant 3] sa det samme" in contributions[1][1]
