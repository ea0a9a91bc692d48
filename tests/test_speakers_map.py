"""From clusters to informants: the proposal, the map file the researcher edits, and its checks."""

import json

import pytest
from conftest import invoke
from sessions import make_session, save_session

from transcribe.errors import InputError
from transcribe.records import Utterance, Word
from transcribe.session import Session
from transcribe.speakers import (
    QUESTIONS_FULL,
    WEIGHTS,
    evidence,
    is_question,
    load_map,
    map_template,
    moderator_doubt,
    moderator_scores,
    propose_map,
)


def turn(speaker, start, seconds, text):
    tokens = text.split()
    step = seconds / len(tokens)
    return Utterance(
        speaker,
        start,
        start + seconds,
        tuple(Word(start + i * step, start + (i + 1) * step, t, 1.0) for i, t in enumerate(tokens)),
    )


def conversation(*turns):
    """(speaker, seconds, text) one after another, with a short pause between turns."""
    result, start = [], 0.0
    for speaker, seconds, text in turns:
        result.append(turn(speaker, start, seconds, text))
        start += seconds + 0.5
    return result


# -- proposal -------------------------------------------------------------------------------------


def test_moderator_is_who_asks_even_when_someone_else_makes_the_first_sound():
    utterances = conversation(
        ("S3", 0.5, "Hm."),
        ("S1", 4, "Velkommen alle sammen. Hva betyr gruppa for dere?"),
        ("S2", 12, "Den betyr mye, jeg går dit hver uke."),
        ("S1", 3, "Hvorfor det?"),
        ("S3", 10, "Fordi vi forstår hverandre."),
    )
    assert propose_map(utterances, [1, 2]) == {"S1": "M", "S3": 1, "S2": 2}


def test_without_questions_the_moderator_is_who_opens_and_steers_not_who_talks_most():
    # Whisper does not always write question marks; a dominant informant talks longest.
    utterances = conversation(
        ("S0", 4, "velkommen"),
        ("S1", 30, "lang historie"),
        ("S0", 2, "takk"),
        ("S2", 8, "svar"),
        ("S0", 2, "ja"),
        ("S1", 25, "mer"),
        ("S0", 2, "og du"),
        ("S3", 6, "svar"),
        ("S0", 2, "takk"),
    )
    assert propose_map(utterances, [7, 8, 9])["S0"] == "M"


def test_without_questions_a_sound_before_the_welcome_does_not_make_a_moderator():
    utterances = conversation(
        ("S9", 0.3, "hm"),
        ("S0", 4, "velkommen"),
        ("S1", 30, "lang historie"),
        ("S0", 2, "takk"),
        ("S2", 8, "svar"),
        ("S0", 2, "ja"),
        ("S1", 25, "mer"),
        ("S0", 2, "og du"),
        ("S3", 6, "svar"),
    )
    assert propose_map(utterances, [1, 2, 3]) == {"S9": "O1", "S0": "M", "S1": 1, "S2": 2, "S3": 3}


def test_a_questioning_informant_does_not_become_the_moderator():
    utterances = conversation(
        ("S0", 4, "Velkommen. Hva tenker dere?"),
        ("S1", 5, "Er ikke det rart? Hvem vet? Hvorfor?"),
        ("S0", 2, "Fortell mer."),
        ("S2", 6, "Jeg er enig."),
        ("S0", 2, "Og du?"),
        ("S3", 6, "Ja."),
        ("S0", 2, "Takk."),
        ("S1", 5, "Ja."),
    )
    assert propose_map(utterances, [1, 2, 3])["S0"] == "M"


def test_informants_in_order_of_first_speaking_and_least_talk_beyond_the_count_are_observers():
    utterances = conversation(
        ("S0", 3, "Hva betyr gruppa?"),
        ("S4", 9, "a"),
        ("S5", 1, "b"),
        ("S2", 8, "c"),
        ("S0", 2, "Og?"),
        ("S6", 0.8, "d"),
        ("S1", 7, "e"),
    )
    assert propose_map(utterances, [7, 8, 9]) == {"S0": "M", "S4": 7, "S5": "O1", "S2": 8, "S6": "O2", "S1": 9}


def test_fewer_clusters_than_informants_leaves_numbers_unused():
    utterances = conversation(("S0", 3, "Hva?"), ("S1", 5, "Svar."))
    assert propose_map(utterances, [1, 2, 3]) == {"S0": "M", "S1": 1}
    assert propose_map([], [1, 2]) == {}


def session_script(*turns):
    """(speaker, seconds, text) or a pause in seconds, one after another: make_session's script."""
    script, start = [], 0.5
    for item in turns:
        if isinstance(item, (int, float)):
            start += item
            continue
        speaker, seconds, text = item
        script.append((speaker, start, start + seconds, text))
        start += seconds + 0.5
    return script


def from_script(script):
    return [turn(speaker, start, end - start, text) for speaker, start, end, text in script]


# A brief moderator (M) beside a dominant informant (D) who has more turns and talk time, and no
# '?' and no question word anywhere: the moderator opens, hands the turn on, opens the second
# segment after a pause, and closes.
BRIEF_MODERATOR = session_script(
    ("M", 3, "velkommen alle sammen og takk for at dere kom"),
    ("D", 20, "jeg har vært med lenge " * 8),
    ("A", 6, "jeg er ny i gruppa"),
    ("D", 15, "det jeg tenker er " * 6),
    ("B", 5, "for meg er det trygt"),
    ("D", 12, "ja og så videre " * 5),
    ("M", 1.5, "og du da"),
    ("C", 6, "jeg sier ikke så mye"),
    ("D", 14, "men jeg vil si " * 6),
    ("A", 5, "enig med deg"),
    ("D", 10, "og en ting til " * 4),
    3.0,
    ("M", 2.5, "neste tema er familien"),
    ("D", 18, "familien min vet alt " * 7),
    ("B", 6, "min vet ingenting"),
    ("D", 9, "sånn er det " * 4),
    ("M", 1.5, "mm og du"),
    ("A", 5, "jeg forteller litt"),
    ("D", 12, "det gjør jeg også " * 5),
    ("C", 4, "ikke jeg"),
    ("D", 8, "nei vel " * 4),
    ("M", 2, "takk for i dag"),
)


def test_a_brief_moderator_beside_a_dominant_informant_without_any_question_is_found():
    utterances = from_script(BRIEF_MODERATOR)
    assert not any(is_question(u.text) for u in utterances)
    talk = {s: sum(u.end - u.start for u in utterances if u.speaker == s) for s in "MD"}
    turns = {s: sum(u.speaker == s for u in utterances) for s in "MD"}
    assert talk["D"] > 10 * talk["M"] and turns["D"] > turns["M"]  # share of turns alone picks D
    assert propose_map(utterances, [1, 2, 3, 4]) == {"M": "M", "D": 1, "A": 2, "B": 3, "C": 4}
    best, second = moderator_scores(utterances)[:2]
    assert best.speaker == "M" and best.parts["opens"] == 1.0 and best.parts["hands_on"] == 1.0
    assert best.parts["questions"] == 0.0 and best.score - second.score > 0.3
    assert moderator_doubt(utterances, "gruppe1") is None


def test_a_few_stray_question_marks_on_an_informant_do_not_outvote_the_structure():
    # ASR of noisy speech writes the odd '?' anywhere: two of them, both on the dominant informant.
    script = [
        (who, start, end, text + "?" if who == "D" and i in (1, 3) else text)
        for i, (who, start, end, text) in enumerate(BRIEF_MODERATOR)
    ]
    utterances = from_script(script)
    assert sum(is_question(u.text) for u in utterances) == 2
    assert propose_map(utterances, [1, 2, 3, 4])["M"] == "M"
    asked = {score.speaker: score for score in moderator_scores(utterances)}["D"]
    plain = {score.speaker: score for score in moderator_scores(from_script(BRIEF_MODERATOR))}["D"]
    assert asked.parts["questions"] == 1.0  # all the questions there are, but only two of them:
    assert asked.score - plain.score == pytest.approx(WEIGHTS["questions"] * 2 / QUESTIONS_FULL)


def test_norwegian_question_words_count_as_questions_without_a_question_mark():
    assert is_question("hva tenker dere om det") and is_question("Kan du si mer") and is_question("— Hvorfor det.")
    assert is_question("Er det noen som vil begynne") and is_question("You said what?")
    assert not is_question("hvaler er store") and not is_question("det er det") and not is_question("Ja.")


# Two who both steer: A opens and hands on, B hands on and closes.
TWO_LEADS = session_script(
    ("SPEAKER_00", 3, "velkommen alle sammen"),
    ("SPEAKER_02", 8, "jeg begynner jeg " * 3),
    ("SPEAKER_01", 2, "og du der"),
    ("SPEAKER_03", 7, "jeg er enig " * 3),
    ("SPEAKER_00", 2, "og så du"),
    ("SPEAKER_02", 7, "ja jeg igjen " * 3),
    ("SPEAKER_01", 2, "og du da"),
    ("SPEAKER_03", 6, "nei ikke jeg"),
    ("SPEAKER_00", 2, "og så videre"),
    ("SPEAKER_02", 5, "jeg har mer " * 2),
    ("SPEAKER_01", 2, "takk for nå"),
)


def test_a_close_call_is_said_in_one_line_and_the_evidence_shows_both():
    utterances = from_script(TWO_LEADS)
    scores = moderator_scores(utterances)
    assert {scores[0].speaker, scores[1].speaker} == {"SPEAKER_00", "SPEAKER_01"}
    doubt = moderator_doubt(utterances, "gruppe1")
    assert doubt is not None and "\n" not in doubt
    assert "SPEAKER_00" in doubt and "SPEAKER_01" in doubt and "--moderator" in doubt
    found = evidence(make_session(script=TWO_LEADS, speaker_map=propose_map(utterances, [1, 2, 3])))
    assert found.close_call == (scores[0].speaker, scores[1].speaker)
    assert found.lines()[0].startswith("The moderator is a close call between")
    rows = {row["speaker"]: row["moderator"] for row in found.to_json()}
    assert rows["SPEAKER_00"]["close_call"] and rows["SPEAKER_01"]["close_call"]
    assert not rows["SPEAKER_02"]["close_call"]
    assert set(rows["SPEAKER_00"]["parts"]) == {"opens", "bridges", "hands_on", "questions", "turns"}
    assert sum(rows[s]["parts"]["opens"] for s in rows) == pytest.approx(1.0, abs=0.01)
    assert sum("moderator score" in line for line in found.lines()) == 4


# -- map file ---------------------------------------------------------------------------------------


def write(tmp_path, text, name="map.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = 'SPEAKER_00 = "M"\nSPEAKER_01 = 1\nSPEAKER_02 = 2\nSPEAKER_03 = "O1"\n'


def test_a_good_map(tmp_path):
    mapping = load_map(write(tmp_path, GOOD), make_session())
    assert mapping == {"SPEAKER_00": "M", "SPEAKER_02": 2, "SPEAKER_01": 1, "SPEAKER_03": "O1"}
    assert list(mapping) == ["SPEAKER_00", "SPEAKER_02", "SPEAKER_01", "SPEAKER_03"]  # order of first speaking


def test_labels_are_read_leniently_as_moderator_and_observer(tmp_path):
    session = make_session()
    session.moderator_label = "Mod"
    mapping = load_map(
        write(tmp_path, 'SPEAKER_00 = "m"\nSPEAKER_01 = 1\nSPEAKER_02 = 2\nSPEAKER_03 = "o1"\n'), session
    )
    assert mapping["SPEAKER_00"] == "Mod" and mapping["SPEAKER_03"] == "O1"
    assert load_map(write(tmp_path, GOOD.replace('"M"', '"Mod"')), session)["SPEAKER_00"] == "Mod"


@pytest.mark.parametrize(
    "text, expected",
    [
        ('SPEAKER_00 = "M"\nSPEAKER_01 = \n', ["map.toml", "not valid TOML", "line 2"]),
        (
            GOOD.replace("SPEAKER_02 = 2", "SPEAKER_02 = 9"),
            ["SPEAKER_02 = 9", "outside this session's informants (1–3)"],
        ),
        (GOOD.replace("SPEAKER_02 = 2", "SPEAKER_02 = 1"), ["SPEAKER_01 and SPEAKER_02 are all labelled 1", "--merge"]),
        (
            GOOD + "SPEAKER_09 = 3\n",
            ["SPEAKER_09 is not a speaker cluster", "SPEAKER_00, SPEAKER_01, SPEAKER_02, SPEAKER_03"],
        ),
        (GOOD.replace('SPEAKER_03 = "O1"\n', ""), ["SPEAKER_03 has no label"]),
        (GOOD.replace('"O1"', '"X"'), ['SPEAKER_03 = "X" is not a label', '"M" for the moderator', "(1–3)"]),
        (GOOD.replace('"O1"', "true"), ["SPEAKER_03 = true is not a label"]),
        (GOOD.replace("SPEAKER_02 = 2", 'SPEAKER_02 = "2"'), ['SPEAKER_02 = "2" is text', "SPEAKER_02 = 2"]),
        (GOOD.replace('"M"', '"O1"'), ["SPEAKER_00 and SPEAKER_03 are all labelled O1"]),
    ],
)
def test_a_bad_map_is_refused_naming_the_file_and_the_cluster(tmp_path, text, expected):
    with pytest.raises(InputError) as error:
        load_map(write(tmp_path, text), make_session())
    message = str(error.value)
    assert message.startswith(f"The map file {tmp_path / 'map.toml'}")
    for part in expected:
        assert part in message


def test_every_problem_is_named_at_once(tmp_path):
    with pytest.raises(InputError) as error:
        load_map(write(tmp_path, 'SPEAKER_00 = "M"\nSPEAKER_01 = 7\nSPEAKER_08 = 1\n'), make_session())
    message = str(error.value)
    assert "SPEAKER_01 = 7" in message and "SPEAKER_08" in message and "SPEAKER_02, SPEAKER_03 have no label" in message


def test_merge_lets_two_clusters_be_one_informant(tmp_path):
    path = write(tmp_path, GOOD.replace("SPEAKER_02 = 2", "SPEAKER_02 = 1"))
    assert load_map(path, make_session(), merge=True)["SPEAKER_02"] == 1


def test_a_missing_or_unreadable_map_file(tmp_path):
    with pytest.raises(InputError, match="Cannot read the map file"):
        load_map(tmp_path / "nope.toml", make_session())
    (tmp_path / "latin1.toml").write_bytes('SPEAKER_00 = "Mø"\n'.encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        load_map(tmp_path / "latin1.toml", make_session())


def test_the_template_reads_back_as_the_current_map(tmp_path):
    session = make_session()
    text = map_template(session)
    assert "SPEAKER_01 = 2  # 15 s, 1 turns, 0 questions; first at 00:00:10: Vi møtes utenom gruppa" in text
    assert load_map(write(tmp_path, text), session) == session.speaker_map


# -- through the CLI ------------------------------------------------------------------------------------


def test_speakers_template_then_export_with_the_edited_map(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    template = invoke("speakers", folder, "--template")
    assert template.exit_code == 0
    edited = template.output.replace("SPEAKER_02 = 1", "SPEAKER_02 = 3")
    result = invoke("export", folder, "--formats", "txt", "--map", write(tmp_path, edited))
    assert result.exit_code == 0, result.output
    assert Session.load(folder).speaker_map["SPEAKER_02"] == 3
    assert "\n3              2         For meg betyr" in (folder / "gruppe1.txt").read_text(encoding="utf-8")


def test_export_with_a_bad_map_exits_3_and_changes_nothing(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    result = invoke("export", folder, "--map", write(tmp_path, GOOD.replace("SPEAKER_02 = 2", "SPEAKER_02 = 1")))
    assert result.exit_code == 3
    assert "SPEAKER_01 and SPEAKER_02" in result.output and "map.toml" in result.output
    assert Session.load(folder).speaker_map == make_session().speaker_map
    assert not (folder / "gruppe1.txt").exists()


def test_export_merge_makes_two_clusters_one_turn(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    merged = 'SPEAKER_00 = "M"\nSPEAKER_01 = 2\nSPEAKER_02 = 2\nSPEAKER_03 = "O1"\n'
    assert invoke("export", folder, "--formats", "txt", "--map", write(tmp_path, merged), "--merge").exit_code == 0
    lines = (folder / "gruppe1.txt").read_text(encoding="utf-8").splitlines()
    assert lines[5].startswith("2              2 ") and lines[6].startswith("               3 ")  # one turn, one label


def test_speakers_json_and_session_errors(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    result = invoke("speakers", folder, "--json")
    assert result.exit_code == 0
    assert '"speaker": "SPEAKER_01"' in result.output and '"label": 2' in result.output
    assert invoke("speakers", tmp_path / "none").exit_code == 5
    session = make_session()
    session.utterances = None
    session.save(tmp_path / "unfinished")
    assert invoke("speakers", tmp_path / "unfinished").exit_code == 5
    assert invoke("export", tmp_path / "unfinished", "--map", write(tmp_path, GOOD)).exit_code == 5


def test_speakers_that_sound_alike_are_pointed_out_and_survive_a_save(tmp_path):
    """Diarisation's "perhaps one person in two clusters" (resegment.alike) reaches the researcher
    in all three views of the speakers, and never changes the map by itself."""
    import dataclasses

    folder = tmp_path / "gruppe1"
    session = make_session()
    session.diarization = dataclasses.replace(session.diarization, alike=(("SPEAKER_01", "SPEAKER_02", 0.66),))
    session.save(folder)
    assert Session.load(folder).diarization.alike == (("SPEAKER_01", "SPEAKER_02", 0.66),)
    assert Session.load(folder).speaker_map == session.speaker_map

    text = invoke("speakers", folder).output
    assert "sounds like SPEAKER_02 (voice similarity 0.66): if one person, give both one label and add --merge" in text
    assert "sounds like SPEAKER_01 (voice similarity 0.66)" in text and text.count("sounds like") == 2
    rows = {row["speaker"]: row for row in json.loads(invoke("speakers", folder, "--json").output)}
    assert rows["SPEAKER_01"]["sounds_like"] == [{"speaker": "SPEAKER_02", "similarity": 0.66}]
    assert rows["SPEAKER_00"]["sounds_like"] == []
    template = invoke("speakers", folder, "--template").output
    assert "SPEAKER_02 = 1  # " in template and "#   sounds like SPEAKER_01 (voice similarity 0.66)" in template
    assert load_map(write(tmp_path, template), session) == session.speaker_map  # the hint is only a comment


def test_a_session_saved_before_the_hint_existed_reads_as_no_pairs(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    data = json.loads((folder / "session.json").read_text())
    del data["diarization"]["alike"]
    (folder / "session.json").write_text(json.dumps(data))
    assert Session.load(folder).diarization.alike == ()
    assert "sounds like" not in invoke("speakers", folder).output


# -- through the pipeline (speech stages replaced by fixed results) ----------------------------------------


class FixedTranscriber:
    def __init__(self, session):
        self.transcription = session.transcription

    def __call__(self, audio, language, progress=None, vocabulary=()):
        return self.transcription


class FixedDiarizer:
    def __init__(self, session):
        self.diarization = session.diarization

    def __call__(self, audio, progress=None, **bounds):
        return self.diarization


def test_run_applies_the_map_and_the_names(tmp_path):
    from media import make_tone

    from transcribe.pipeline import RunOptions, run

    recording = make_tone(tmp_path / "gruppe1.wav", seconds=40.0)
    session = make_session()
    names = write(tmp_path, "Kari = 3\n", "names.toml")
    options = RunOptions(informants=[1, 2, 3], name="gruppe1", map_file=write(tmp_path, GOOD), names_file=names)
    result = run(
        [recording], tmp_path / "out", options, transcriber=FixedTranscriber(session), diarizer=FixedDiarizer(session)
    )
    assert result.session.speaker_map == {"SPEAKER_00": "M", "SPEAKER_02": 2, "SPEAKER_01": 1, "SPEAKER_03": "O1"}
    text = (tmp_path / "out" / "gruppe1.txt").read_text(encoding="utf-8")
    assert "Kari" not in text and "[informant 3]s mann" in text
    saved = Session.load(tmp_path / "out")
    assert saved.speaker_map == result.session.speaker_map
    assert saved.pseudonymisation == {"names": 1, "replacements": 2}


def test_run_says_when_the_moderator_is_a_close_call(tmp_path):
    from media import make_tone

    from transcribe.pipeline import RunOptions, run

    recording = make_tone(tmp_path / "gruppe1.wav", seconds=40.0)
    session = make_session(script=TWO_LEADS)
    options = RunOptions(informants=[1, 2, 3], name="gruppe1", formats=["txt"])
    fixed = {"transcriber": FixedTranscriber(session), "diarizer": FixedDiarizer(session)}
    result = run([recording], tmp_path / "out", options, **fixed)
    doubts = [w for w in result.warnings if "close call" in w]
    assert len(doubts) == 1 and "SPEAKER_00" in doubts[0] and "SPEAKER_01" in doubts[0]
    again = run([recording], tmp_path / "out", RunOptions(informants=[1, 2, 3], moderator="SPEAKER_01"), **fixed)
    assert again.session.speaker_map == {"SPEAKER_00": 1, "SPEAKER_02": 2, "SPEAKER_01": "M", "SPEAKER_03": 3}
    assert not [w for w in again.warnings if "close call" in w]  # the researcher has decided


def test_export_moderator_makes_that_cluster_m_and_renumbers_the_informants(tmp_path):
    folder = tmp_path / "gruppe1"
    save_session(folder)
    result = invoke("export", folder, "--formats", "txt", "--moderator", "SPEAKER_02")
    assert result.exit_code == 0, result.output
    assert Session.load(folder).speaker_map == {"SPEAKER_00": 1, "SPEAKER_02": "M", "SPEAKER_01": 2, "SPEAKER_03": 3}
    assert "\nM              2         For meg betyr" in (folder / "gruppe1.txt").read_text(encoding="utf-8")
    wrong = invoke("export", folder, "--moderator", "SPEAKER_09")
    assert wrong.exit_code == 3 and "--moderator SPEAKER_09 is not a cluster" in wrong.output
    both = invoke("export", folder, "--moderator", "SPEAKER_00", "--map", write(tmp_path, GOOD))
    assert both.exit_code != 0 and "either --moderator or --map" in both.output


def test_words_suspected_of_being_invented_do_not_count_as_words_or_questions():
    from dataclasses import replace

    from transcribe.records import Utterance, Word
    from transcribe.speakers import stats

    said = (Word(0.0, 0.5, "Ja", 0.9), Word(0.5, 1.0, "da.", 0.9))
    invented = (Word(1.0, 1.5, "Hva", 0.3, "no speech"), Word(1.5, 2.0, "nå?", 0.3, "no speech"))
    row = stats([Utterance("SPEAKER_00", 0.0, 2.0, said + invented)])[0]
    assert (row.words, row.questions) == (2, 0)
    kept = tuple(replace(w, suspect=None) for w in invented)
    row = stats([Utterance("SPEAKER_00", 0.0, 2.0, said + kept)])[0]
    assert (row.words, row.questions) == (4, 1)
