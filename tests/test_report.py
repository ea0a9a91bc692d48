"""Participation, question segments, transitions and figures, on a hand-computed session.

The session (lines 74–86, one utterance per line):

    turn  line  label  time        words  text
    T0    74    M       0.0– 4.0   4      Velkommen hit alle sammen.
    T1    75    3       4.5– 6.0   4      Takk skal du ha.
    T2    76    M       6.0–10.0   5      Hva betyr gruppa for dere?          ← Q1
    T3    77    3      10.5–18.0   5      Gruppa betyr mye for meg.
          78    3      18.0–20.0   2      Veldig mye.   (a second cluster, also informant 3)
    T4    79    1      20.5–25.0   5      Jeg er enig med deg.
    T5    80    M      25.0–27.0   1      Ja?           (too short to open a question)
    T6    81    1      27.0–30.0   4      Det er trygt der.
    T7    82    M      30.0–34.0   5      Hvordan møtes dere utenom gruppa?   ← Q2
    T8    83    3      34.0–37.0   5      Vi møtes av og til.
    T9    84    O1     37.0–38.0   1      Unnskyld.
    T10   85    3      38.0–41.0   5      Her snakker vi om problemer.
    T11   86    M      41.0–44.0   3      Takk for det.

Informant 2 never speaks. By hand:
    M:  talk 4+4+2+4+3 = 17.0 s, 5 turns, 4+5+1+5+3 = 18 words
    3:  talk 1.5+7.5+2+3+3 = 17.0 s, 4 turns (T1, T3, T8, T10), 4+5+2+5+5 = 21 words
    1:  talk 4.5+3 = 7.5 s, 2 turns, 9 words
    O1: talk 1.0 s, 1 turn, 1 word;     total 42.5 s
    transitions: M→3 3 (T0→T1, T2→T3, T7→T8), 3→M 2, 1→M 2, M→1 1, 3→1 1, 3→O1 1, O1→3 1
"""

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from transcribe.cli import cli
from transcribe.errors import InputError
from transcribe.export.csv import BOM
from transcribe.records import ModelInfo, Source, Transcription, Utterance, Word
from transcribe.report import GUIDE_THRESHOLD, build_report, guide_score, read_guide, tables, write_report
from transcribe.session import Session

SCRIPT = [
    ("SPEAKER_00", 0.0, 4.0, "Velkommen hit alle sammen."),
    ("SPEAKER_01", 4.5, 6.0, "Takk skal du ha."),
    ("SPEAKER_00", 6.0, 10.0, "Hva betyr gruppa for dere?"),
    ("SPEAKER_01", 10.5, 18.0, "Gruppa betyr mye for meg."),
    ("SPEAKER_03", 18.0, 20.0, "Veldig mye."),
    ("SPEAKER_02", 20.5, 25.0, "Jeg er enig med deg."),
    ("SPEAKER_00", 25.0, 27.0, "Ja?"),
    ("SPEAKER_02", 27.0, 30.0, "Det er trygt der."),
    ("SPEAKER_00", 30.0, 34.0, "Hvordan møtes dere utenom gruppa?"),
    ("SPEAKER_01", 34.0, 37.0, "Vi møtes av og til."),
    ("SPEAKER_04", 37.0, 38.0, "Unnskyld."),
    ("SPEAKER_01", 38.0, 41.0, "Her snakker vi om problemer."),
    ("SPEAKER_00", 41.0, 44.0, "Takk for det."),
]
SPEAKER_MAP = {"SPEAKER_00": "M", "SPEAKER_01": 3, "SPEAKER_02": 1, "SPEAKER_03": 3, "SPEAKER_04": "O1"}


def make_session(script=SCRIPT, speaker_map=SPEAKER_MAP) -> Session:
    words, utterances = [], []
    for speaker, start, end, text in script:
        tokens = text.split()
        step = (end - start) / len(tokens)
        own = tuple(
            Word(start + i * step, end if i == len(tokens) - 1 else start + (i + 1) * step, token, 0.9)
            for i, token in enumerate(tokens)
        )
        words.extend(own)
        utterances.append(Utterance(speaker, start, end, own))
    model = ModelInfo("asr", "test", "/nowhere", "0" * 64)
    return Session(
        name="gruppe1",
        informants=[1, 2, 3],
        language="no",
        sources=[Source("/nowhere/gruppe1.m4a", "gruppe1.m4a", "0" * 64, 1, 0.0, 44.0, "aac", 16000, 1)],
        transcription=Transcription(tuple(words), "no", model),
        utterances=utterances,
        speaker_map=dict(speaker_map),
        start_line=74,
    )


@pytest.fixture
def folder(tmp_path):
    make_session().save(tmp_path)
    return tmp_path


def csv_text(*rows):
    """What the report writes: a byte-order mark, then RFC 4180 lines."""
    return BOM + "".join(row + "\r\n" for row in rows)


def by_label(rows):
    return {row.label: row for row in rows}


def test_participation_per_label():
    report = build_report(make_session())
    assert report.labels == ("M", 1, 2, 3, "O1")
    rows = by_label(report.participation)
    assert (rows[3].talk_time, rows[3].turns, rows[3].words) == (pytest.approx(17.0), 4, 21)
    assert rows[3].mean_turn_seconds == pytest.approx(4.25)
    assert rows[3].mean_turn_words == pytest.approx(5.25)
    assert (rows[3].first_start, rows[3].last_end, rows[3].first_line, rows[3].last_line) == (4.5, 41.0, 75, 85)
    assert (rows["M"].talk_time, rows["M"].turns, rows["M"].words) == (pytest.approx(17.0), 5, 18)
    assert (rows[1].talk_time, rows[1].turns, rows[1].words) == (pytest.approx(7.5), 2, 9)
    assert (rows["O1"].talk_time, rows["O1"].turns, rows["O1"].words) == (pytest.approx(1.0), 1, 1)
    assert rows[3].share == pytest.approx(17.0 / 42.5)
    assert rows[1].share == pytest.approx(7.5 / 42.5)
    silent = rows[2]
    assert (silent.talk_time, silent.turns, silent.share, silent.first_line, silent.mean_turn_seconds) == (
        0.0,
        0,
        0.0,
        None,
        None,
    )


def test_two_clusters_of_one_informant_make_one_turn():
    report = build_report(make_session())
    turn = report.turns[3]
    assert (turn.label, turn.start, turn.end, turn.first_line, turn.last_line, turn.words) == (3, 10.5, 20.0, 77, 78, 7)
    assert turn.talk_time == pytest.approx(9.5)
    assert len(report.turns) == 12


def test_transition_matrix_overall():
    table = build_report(make_session()).transitions
    assert table.count("M", 3) == 3
    assert table.count(3, "M") == 2
    assert table.count(1, "M") == 2
    assert table.count("M", 1) == 1
    assert table.count(3, 1) == 1
    assert table.count(3, "O1") == 1
    assert table.count("O1", 3) == 1
    assert table.count(1, 3) == 0
    assert table.count(2, "M") == table.count("M", 2) == 0
    assert table.total == 11  # 12 turns


def test_segments_start_at_moderator_questions_but_not_at_a_bare_prompt():
    report = build_report(make_session())
    assert [(s.number, s.first_line, s.last_line, len(s.turns)) for s in report.segments] == [
        (0, 74, 75, 2),
        (1, 76, 81, 5),
        (2, 82, 86, 5),
    ]
    assert [s.question for s in report.segments] == [None, None, None]  # no transcript text in a report
    q1, q2 = by_label(report.segments[1].participation), by_label(report.segments[2].participation)
    assert (q1["M"].talk_time, q1[3].talk_time, q1[1].talk_time) == (
        pytest.approx(6.0),
        pytest.approx(9.5),
        pytest.approx(7.5),
    )
    assert (q1[1].turns, q1[1].words) == (2, 9)
    assert q1[3].share == pytest.approx(9.5 / 23.0)
    assert (q2["M"].talk_time, q2[3].talk_time, q2["O1"].talk_time, q2[3].turns) == (
        pytest.approx(7.0),
        pytest.approx(6.0),
        pytest.approx(1.0),
        2,
    )
    assert q2[1].turns == 0


def test_transitions_per_question_count_only_inside_the_segment():
    segments = build_report(make_session()).segments
    q0, q1, q2 = (segment.transitions for segment in segments)
    assert (q0.count("M", 3), q0.total) == (1, 1)
    assert (q1.count("M", 3), q1.count(3, 1), q1.count(1, "M"), q1.count("M", 1), q1.total) == (1, 1, 1, 1, 4)
    assert (q2.count("M", 3), q2.count(3, "O1"), q2.count("O1", 3), q2.count(3, "M"), q2.total) == (1, 1, 1, 1, 4)


def test_guide_questions_are_matched_fuzzily_in_order(tmp_path):
    guide_file = tmp_path / "guide.txt"
    guide_file.write_text(
        "1. Hva betyr gruppa for dere?\n\n2. Hvor møtes dere utenfor gruppa?\n3) Hva tenker dere om økonomi?\n",
        encoding="utf-8",
    )
    guide = read_guide(guide_file)
    assert guide == ["Hva betyr gruppa for dere?", "Hvor møtes dere utenfor gruppa?", "Hva tenker dere om økonomi?"]
    report = build_report(make_session(), guide)
    assert [(s.number, s.first_line, s.question) for s in report.segments] == [
        (0, 74, None),
        (1, 76, guide[0]),
        (2, 82, guide[1]),
    ]
    assert tables(report)["questions.csv"].splitlines()[2] == "1,Hva betyr gruppa for dere?,1.000,6.00,30.00,76,81,5"
    assert report.segments[1].score == pytest.approx(1.0)
    assert report.segments[2].score >= GUIDE_THRESHOLD
    assert len(report.warnings) == 1 and "Guide question 3" in report.warnings[0]


def test_a_guide_can_start_a_segment_at_a_turn_without_a_question_mark():
    report = build_report(make_session(), ["Takk for det"])
    assert [(s.number, s.first_line, len(s.turns)) for s in report.segments] == [(0, 74, 11), (1, 86, 1)]


def test_guide_score_uses_the_best_sentence_of_a_turn():
    assert guide_score("Hva betyr gruppa for dere?", "Ok, takk. Hva betyr gruppa for dere?") == pytest.approx(1.0)
    assert guide_score("Hva tenker dere om økonomi?", "Hva betyr gruppa for dere?") < GUIDE_THRESHOLD


def test_unreadable_or_empty_guide_is_refused(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_guide(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no questions"):
        read_guide(tmp_path / "empty.txt")


def test_csv_tables_exact():
    files = tables(build_report(make_session()))
    assert files["participation.csv"] == csv_text(
        "label,talk_time_s,share_pct,turns,words,mean_turn_s,mean_turn_words,first_start_s,last_end_s,first_line,last_line",
        "M,17.00,40.0,5,18,3.40,3.60,0.00,44.00,74,86",
        "1,7.50,17.6,2,9,3.75,4.50,20.50,30.00,79,81",
        "2,0.00,0.0,0,0,,,,,,",
        "3,17.00,40.0,4,21,4.25,5.25,4.50,41.00,75,85",
        "O1,1.00,2.4,1,1,1.00,1.00,37.00,38.00,84,84",
    )
    assert files["transitions.csv"] == csv_text(
        "from,M,1,2,3,O1",
        "M,0,1,0,3,0",
        "1,2,0,0,0,0",
        "2,0,0,0,0,0",
        "3,2,1,0,0,1",
        "O1,0,0,0,1,0",
    )
    assert files["questions.csv"] == csv_text(
        "question,wording,score,start_s,end_s,first_line,last_line,turns",
        "0,,,0.00,6.00,74,75,2",
        "1,,,6.00,30.00,76,81,5",
        "2,,,30.00,44.00,82,86,5",
    )
    by_question = files["participation_by_question.csv"].lstrip(BOM).splitlines()
    assert by_question[0].startswith("question,label,talk_time_s")
    assert "1,3,9.50,41.3,1,7,9.50,7.00,10.50,20.00,77,78" in by_question
    transitions_by_question = files["transitions_by_question.csv"].lstrip(BOM).splitlines()
    assert transitions_by_question[0] == "question,from,M,1,2,3,O1"
    assert "2,3,1,0,0,0,1" in transitions_by_question
    assert len(transitions_by_question) == 1 + 3 * 5


def test_report_files_figures_and_permissions(folder):
    report = build_report(make_session())
    paths = write_report(report, folder)
    names = sorted(path.name for path in paths)
    assert names == sorted(
        [
            "participation.csv",
            "questions.csv",
            "participation_by_question.csv",
            "transitions.csv",
            "transitions_by_question.csv",
            "interaction.png",
            "interaction.svg",
            "timeline.png",
            "timeline.svg",
        ]
    )
    for path in paths:
        assert path.stat().st_mode & 0o077 == 0, path
    for stem in ("interaction", "timeline"):
        png = (folder / "report" / f"{stem}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
        svg = (folder / "report" / f"{stem}.svg").read_text(encoding="utf-8")
        root = ET.fromstring(svg)
        texts = {"".join(node.itertext()).strip() for node in root.iter() if node.tag.endswith("text")}
        assert {"M", "1", "2", "3", "O1"} <= texts, (stem, texts)


def test_figures_are_identical_on_a_rerun(folder):
    report = build_report(make_session())
    write_report(report, folder)
    first = {p.name: p.read_bytes() for p in (folder / "report").iterdir()}
    write_report(report, folder)
    assert {p.name: p.read_bytes() for p in (folder / "report").iterdir()} == first


def question_figures(folder):
    return sorted(p.name for p in (folder / "report").glob("interaction_q*"))


def test_a_guide_gets_one_diagram_per_question_and_stale_ones_go(folder):
    guide = ["Hva betyr gruppa for dere?", "Hvordan møtes dere utenom gruppa?"]
    write_report(build_report(make_session(), guide), folder)
    assert question_figures(folder) == [f"interaction_q0{n}.{kind}" for n in range(3) for kind in ("png", "svg")]
    svg = ET.fromstring((folder / "report" / "interaction_q02.svg").read_text(encoding="utf-8"))
    texts = {"".join(node.itertext()).strip() for node in svg.iter() if node.tag.endswith("text")}
    assert {"M", "1", "2", "3", "O1", "gruppe1: Q2 Hvordan møtes dere utenom gruppa? (lines 82–86)"} <= texts
    write_report(build_report(make_session(), guide[:1]), folder)
    assert question_figures(folder) == [f"interaction_q0{n}.{kind}" for n in range(2) for kind in ("png", "svg")]
    write_report(build_report(make_session()), folder)
    assert question_figures(folder) == []


def test_equal_matches_take_the_earliest_turn():
    script = [*SCRIPT[:12], ("SPEAKER_00", 41.0, 44.0, "Hva betyr gruppa for dere?")]
    report = build_report(make_session(script), ["Hva betyr gruppa for dere?"])
    assert [s.first_line for s in report.segments] == [74, 76]


def test_cli_report_json(folder):
    result = CliRunner().invoke(cli, ["report", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {row["label"]: row for row in data["participation"]}
    assert rows[3]["talk_time"] == 17.0 and rows[3]["turns"] == 4 and rows[2]["turns"] == 0
    matrix = data["transitions"]
    assert matrix["labels"] == ["M", 1, 2, 3, "O1"]
    assert matrix["counts"][0][3] == 3  # M → 3
    assert [s["number"] for s in data["segments"]] == [0, 1, 2]
    assert data["segments"][1]["transitions"]["counts"][3][1] == 1  # 3 → 1 in Q1
    assert data["warnings"] == []
    assert (folder / "report" / "interaction.svg").is_file()
    assert {str(folder / "report" / "timeline.png")} <= set(data["files"])


def test_cli_report_text_and_guide_warning(folder):
    (folder / "guide.txt").write_text("Hva betyr gruppa for dere?\nHva tenker dere om økonomi?\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["report", str(folder), "--questions", str(folder / "guide.txt")])
    assert result.exit_code == 0, result.output
    assert "Guide question 2" in result.stderr
    assert "transitions.csv" in result.stdout


def test_cli_report_refuses_missing_session_and_guide(tmp_path, folder):
    result = CliRunner().invoke(cli, ["report", str(tmp_path / "nothing")])
    assert result.exit_code == 5 and "session.json" in result.stderr
    result = CliRunner().invoke(cli, ["report", str(folder), "--questions", str(folder / "nope.txt")])
    assert result.exit_code == 3 and "nope.txt" in result.stderr


def test_cli_report_refuses_unfinished_session(tmp_path):
    session = make_session()
    session.utterances = None
    session.speaker_map = None
    session.save(tmp_path)
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code == 5 and "no finished transcript" in result.stderr
