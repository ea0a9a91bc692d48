"""Pseudonymisation: names replaced in every export, and the list of words that may be names."""

import json

import docx
import pytest
from click.testing import CliRunner
from sessions import check_golden, make_session, save_session

from transcribe.cli import cli
from transcribe.errors import InputError
from transcribe.export import build_document
from transcribe.names import candidates, load_names, pseudonymise
from transcribe.records import Utterance, Word
from transcribe.session import Session

ALL = "txt,docx,csv,json,maxqda,nvivo,srt,vtt"


def names_file(tmp_path, text):
    path = tmp_path / "navn.toml"
    path.write_text(text, encoding="utf-8")
    return path


def said(text):
    tokens = text.split()
    return Utterance(
        "S0", 0.0, float(len(tokens)), tuple(Word(float(i), i + 0.9, t, 0.9) for i, t in enumerate(tokens))
    )


def replaced(tmp_path, names, text):
    (utterance,), _origins, count = pseudonymise([said(text)], load_names(names_file(tmp_path, names)))
    return utterance.text, count


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Kari sa det.", "[informant 3] sa det."),
        ("det sa kari også", "det sa [informant 3] også"),
        ("KARI!", "[informant 3]!"),
        ("Karis mann", "[informant 3]s mann"),
        ("Kari's mann", "[informant 3]'s mann"),
        ("Kari’s mann", "[informant 3]’s mann"),
        ("Kari-s mann", "[informant 3]-s mann"),
        ("«Kari», sa hun", "«[informant 3]», sa hun"),
        ("(Kari)", "([informant 3])"),
        ("Karianne og Kari-Anne og Karin", "Karianne og Kari-Anne og Karin"),
    ],
)
def test_a_name_is_matched_on_whole_words_with_norwegian_possessives(tmp_path, text, expected):
    assert replaced(tmp_path, "Kari = 3\n", text)[0] == expected


def test_names_ending_in_s_take_an_apostrophe(tmp_path):
    assert replaced(tmp_path, 'Hans = "[navn]"\n', "Hans' bil og Hans")[0] == "[navn]' bil og [navn]"


def test_a_multiword_name_becomes_one_word_spanning_its_times(tmp_path):
    names = load_names(names_file(tmp_path, '"Ole Hansen" = "[navn]"\nOle = "[fornavn]"\n'))
    (utterance,), (origin,), count = pseudonymise([said("sa Ole Hansen, og Ole alene, men ikke Hansen")], names)
    assert utterance.text == "sa [navn], og [fornavn] alene, men ikke Hansen"
    assert count == 2
    assert utterance.words[1] == Word(1.0, 2.9, "[navn],", 0.9)
    assert origin == [0, 1, 3, 4, 5, 6, 7, 8]  # each new word → the word it starts at


def test_a_names_file_is_checked(tmp_path):
    for text, expected in [
        ("Kari = true\n", "Kari = true is not a replacement"),
        ("Kari = 0\n", "Kari = 0 is not a replacement"),
        ('Kari = ""\n', 'Kari = "" is not a replacement'),
        ("Kari = 3\nkari = 4\n", "'kari' is listed twice"),
        ('"123" = 3\n', "'123' is not a name"),
        ("Kari 3\n", "not valid TOML"),
    ]:
        with pytest.raises(InputError) as error:
            load_names(names_file(tmp_path, text))
        assert str(tmp_path / "navn.toml") in str(error.value) and expected in str(error.value)


def test_line_numbers_do_not_change_when_names_are_replaced(tmp_path):
    session = make_session()
    plain = build_document(session)
    document = build_document(session, names=load_names(names_file(tmp_path, 'Kari = 3\n"Ole Hansen" = "[navn]"\n')))
    assert [(line.number, line.label, line.turn) for line in document.lines] == [
        (p.number, p.label, p.turn) for p in plain.lines
    ]
    assert document.ranges == plain.ranges
    assert document.replacements == 3
    assert document.lines[4].text == "og [informant 3]s mann vet ingenting."
    assert document.lines[7].text.endswith("sa [navn]")


def test_every_export_is_pseudonymised_and_session_json_keeps_no_names(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    names = names_file(tmp_path, 'Kari = 3\n"Ole Hansen" = "[navn]"\n')
    result = CliRunner().invoke(cli, ["export", str(folder), "--formats", ALL, "--names", str(names)])
    assert result.exit_code == 0, result.output
    assert "Names replaced: 3" in result.output
    for path in folder.glob("gruppe1.*"):
        text = (
            "\n".join(c.text for t in docx.Document(str(path)).tables for r in t.rows for c in r.cells)
            if path.suffix == ".docx"
            else path.read_text(encoding="utf-8-sig")
        )
        assert "Kari" not in text and "Hansen" not in text, path.name
        assert "[informant 3]" in text, path.name
    check_golden("gruppe1-names.txt", (folder / "gruppe1.txt").read_bytes())
    words = [w["text"] for u in json.loads((folder / "gruppe1.json").read_text())["utterances"] for w in u["words"]]
    assert "[informant 3]s" in words and "[navn]" in words
    session_json = (folder / "session.json").read_text(encoding="utf-8")
    assert "navn.toml" not in session_json and "[navn]" not in session_json and "informant 3" not in session_json
    assert Session.load(folder).pseudonymisation == {"names": 2, "replacements": 3}


def test_a_pseudonymised_session_is_not_exported_with_real_names_by_accident(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["export", str(folder), "--names", str(names_file(tmp_path, "Kari = 3\n"))]).exit_code == 0
    )
    again = runner.invoke(cli, ["export", str(folder), "--formats", "txt"])
    assert again.exit_code == 3 and "--names" in again.output
    assert "[informant 3]" in (folder / "gruppe1.txt").read_text(encoding="utf-8")  # left as it was
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    assert runner.invoke(cli, ["export", str(folder), "--formats", "txt", "--names", str(empty)]).exit_code == 0
    assert "Kari" in (folder / "gruppe1.txt").read_text(encoding="utf-8")
    assert Session.load(folder).pseudonymisation is None


def test_candidates_are_capitalised_words_inside_sentences():
    found = candidates(build_document(make_session()).lines)
    # "Kari sa …" starts a sentence and "Gruppa" follows a colon: not listed; neighbours join up
    assert [(c.word, c.lines) for c in found] == [("Karis", (5,)), ("Ole Hansen", (8,))]


def test_names_command_lists_what_the_names_file_does_not_cover_yet(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    runner = CliRunner()
    plain = runner.invoke(cli, ["names", str(folder)])
    assert plain.exit_code == 0
    assert plain.output.splitlines() == ["Karis       lines 5", "Ole Hansen  lines 8"]
    partial = runner.invoke(cli, ["names", str(folder), "--names", str(names_file(tmp_path, "Kari = 3\n")), "--json"])
    assert json.loads(partial.output) == [{"word": "Ole Hansen", "lines": [8]}]
    assert runner.invoke(cli, ["names", str(tmp_path / "none")]).exit_code == 5
