"""The informant × code matrix, on the hand-made session of test_report (lines 74–86).

Lines by label: M 74, 76, 80, 82, 86 · informant 3: 75, 77, 78, 83, 85 · informant 1: 79, 81 ·
observer O1: 84 · informant 2 never speaks.
"""

import json

import pytest
from click.testing import CliRunner
from docx import Document
from test_report import make_session

from transcribe.cli import cli
from transcribe.errors import InputError
from transcribe.matrix import build_matrix, format_lines, read_codes, render_csv, write_matrix

CODES = """# coding of gruppe 1
"Støtte" = [75, "77-79"]
Trygghet = ["81-83", 99]
"Observasjon" = [84]
"""


@pytest.fixture
def codes_file(tmp_path):
    path = tmp_path / "koder.toml"
    path.write_text(CODES, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path):
    session_folder = tmp_path / "gruppe1"
    make_session().save(session_folder)
    return session_folder


def test_codes_file_ranges_expand(codes_file):
    assert read_codes(codes_file) == {"Støtte": [75, 77, 78, 79], "Trygghet": [81, 82, 83, 99], "Observasjon": [84]}


def test_cells_hold_each_informants_lines(codes_file):
    matrix = build_matrix(make_session(), read_codes(codes_file))
    assert matrix.informants == (1, 2, 3)
    assert matrix.codes == ("Støtte", "Trygghet", "Observasjon")
    assert matrix.lines(3, "Støtte") == (75, 77, 78)
    assert matrix.lines(1, "Støtte") == (79,)
    assert matrix.lines(1, "Trygghet") == (81,)
    assert matrix.lines(3, "Trygghet") == (83,)
    assert matrix.lines(2, "Støtte") == ()
    assert matrix.lines(3, "Observasjon") == ()


def test_lines_no_informant_spoke_are_reported_not_dropped(codes_file):
    matrix = build_matrix(make_session(), read_codes(codes_file))
    assert [(u.code, u.lines, u.label) for u in matrix.unplaced] == [
        ("Trygghet", (82,), "M"),
        ("Trygghet", (99,), None),
        ("Observasjon", (84,), "O1"),
    ]
    messages = [u.message for u in matrix.unplaced]
    assert messages == [
        "Code 'Trygghet': line 82 is spoken by the moderator (M); not in the matrix.",
        "Code 'Trygghet': line 99 is outside the transcript (lines 74-86); not in the matrix.",
        "Code 'Observasjon': line 84 is spoken by observer O1; not in the matrix.",
    ]


def test_csv_exact(codes_file):
    matrix = build_matrix(make_session(), read_codes(codes_file))
    assert render_csv(matrix) == (
        '\ufeffInformant,Støtte,Trygghet,Observasjon\r\n1,79,81,\r\n2,,,\r\n3,"75, 77-78",83,\r\n'
    )


def test_format_lines_writes_runs_as_ranges():
    assert format_lines([75, 77, 78, 79, 90]) == "75, 77-79, 90"
    assert format_lines([]) == ""


def test_docx_table_and_warnings(folder, codes_file):
    paths = write_matrix(build_matrix(make_session(), read_codes(codes_file)), folder)
    assert [p.name for p in paths] == ["matrix.csv", "matrix.docx"]
    assert all(p.stat().st_mode & 0o077 == 0 for p in paths)
    document = Document(str(folder / "report" / "matrix.docx"))
    table = document.tables[0]
    assert [[cell.text for cell in row.cells] for row in table.rows] == [
        ["Informant", "Støtte", "Trygghet", "Observasjon"],
        ["1", "79", "81", ""],
        ["2", "", "", ""],
        ["3", "75, 77-78", "83", ""],
    ]
    text = "\n".join(paragraph.text for paragraph in document.paragraphs)
    assert "line 99 is outside the transcript" in text and "observer O1" in text


@pytest.mark.parametrize(
    "content, line, words",
    [
        ('"Støtte" = [75]\n"Trygghet" [1]\n', 2, "not valid TOML"),
        ('"Støtte" = [75]\n"Trygghet" = ["80-78"]\n', 2, "a range goes upwards"),
        ('\n"Støtte" = "75"\n', 2, "not a list"),
        ('"Støtte" = [75, "sju"]\n', 1, "neither a line number nor a range"),
        ('"Støtte" = [0]\n', 1, "neither a line number nor a range"),
    ],
)
def test_bad_codes_file_names_file_and_line(tmp_path, content, line, words):
    path = tmp_path / "koder.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_codes(path)
    message = str(caught.value)
    assert str(path) in message and f"line {line}" in message and words in message


def test_missing_or_empty_codes_file(tmp_path):
    with pytest.raises(InputError, match="nope.toml"):
        read_codes(tmp_path / "nope.toml")
    (tmp_path / "empty.toml").write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(InputError, match="holds no codes"):
        read_codes(tmp_path / "empty.toml")


def test_cli_matrix_json(folder, codes_file):
    result = CliRunner().invoke(cli, ["matrix", str(folder), "--codes", str(codes_file), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["codes"] == ["Støtte", "Trygghet", "Observasjon"]
    assert data["informants"][2] == {
        "informant": 3,
        "codes": {"Støtte": [75, 77, 78], "Trygghet": [83], "Observasjon": []},
    }
    assert [(w["code"], w["lines"], w["label"]) for w in data["warnings"]] == [
        ("Trygghet", [82], "M"),
        ("Trygghet", [99], None),
        ("Observasjon", [84], "O1"),
    ]
    assert data["files"] == [str(folder / "report" / "matrix.csv"), str(folder / "report" / "matrix.docx")]


def test_cli_matrix_text_warns_on_stderr(folder, codes_file):
    result = CliRunner().invoke(cli, ["matrix", str(folder), "--codes", str(codes_file)])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("Warning:") == 3
    assert "3: Støtte 75, 77-78; Trygghet 83" in result.stdout
    assert "2: —" in result.stdout


def test_cli_matrix_bad_toml_exit_code(folder, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('"Støtte" = [75]\nTrygghet = 81-83\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["matrix", str(folder), "--codes", str(bad)])
    assert result.exit_code == 3
    assert "bad.toml" in result.stderr and "line 2" in result.stderr
    assert not (folder / "report" / "matrix.csv").exists()
