"""The review layer's pure functions: retiming, split, merge, labels, undo, and what exports see."""

import json

import pytest
from sessions import make_session

from transcribe.errors import InputError, SessionError
from transcribe.export import build_document
from transcribe.finish import FinishOptions, finish
from transcribe.records import Word
from transcribe.review import edits
from transcribe.session import Session


def words(*rows):
    return tuple(Word(start, end, text, 0.9) for start, end, text in rows)


OLD = words((1.0, 1.4, "Vi"), (1.5, 2.0, "møtes"), (2.1, 2.6, "utenom"), (2.7, 3.3, "gruppa."))


def test_unchanged_words_keep_their_times_and_probabilities():
    new = edits.retime(OLD, "Vi møtes utenom gruppa.", 1.0, 3.3)
    assert new == OLD


def test_a_word_replaced_one_for_one_takes_its_time_and_loses_its_probability():
    new = edits.retime(OLD, "Vi møttes utenom gruppa.", 1.0, 3.3)
    assert [(w.start, w.end, w.text, w.probability) for w in new] == [
        (1.0, 1.4, "Vi", 0.9),
        (1.5, 2.0, "møttes", None),
        (2.1, 2.6, "utenom", 0.9),
        (2.7, 3.3, "gruppa.", 0.9),
    ]


def test_inserted_words_share_the_gap_they_go_into():
    new = edits.retime(OLD, "Vi møtes ofte utenom gruppa.", 1.0, 3.3)
    inserted = new[2]
    assert (inserted.text, inserted.probability) == ("ofte", None)
    assert (inserted.start, inserted.end) == (2.0, 2.1)  # between "møtes" (ends 2.0) and "utenom" (starts 2.1)
    assert [w.text for w in new] == ["Vi", "møtes", "ofte", "utenom", "gruppa."]


def test_several_words_for_one_are_spread_over_its_stretch_in_order():
    new = edits.retime(OLD, "Vi møtes uten om gruppa.", 1.0, 3.3)
    uten, om = new[2], new[3]
    assert uten.start == 2.1 and om.end == 2.6
    assert uten.start < uten.end <= om.start < om.end
    assert uten.probability is None and om.probability is None
    assert all(a.end <= b.start + 1e-9 for a, b in zip(new, new[1:]))


def test_deleted_words_go_and_the_rest_keep_their_times():
    new = edits.retime(OLD, "Vi utenom gruppa.", 1.0, 3.3)
    assert new == (OLD[0], OLD[2], OLD[3])


def session_and_review():
    session = make_session()
    return session, edits.review_of(session)


def test_a_new_review_is_the_machine_utterances_on_their_word_ranges():
    session, review = session_and_review()
    assert [turn.words for turn in review.turns] == [u.words for u in session.utterances]
    assert review.turns[1].span == (12, 12 + len(session.utterances[1].words))
    assert [turn.id for turn in review.turns] == [1, 2, 3, 4, 5, 6]
    assert edits.reviewed_utterances(session) == [(u, session.speaker_map[u.speaker]) for u in session.utterances]


def test_editing_text_gives_the_turn_its_own_words_and_leaves_the_machine_output_alone():
    session, review = session_and_review()
    machine = session.transcription.words
    review = edits.update(review, 2, 7, text="For meg betyr det å ta ansvar for mitt eget liv. [navn] sa det samme.")
    turn = review.turns[1]
    assert turn.edited and turn.span is None
    assert [w.text for w in turn.words][-4:] == ["[navn]", "sa", "det", "samme."]
    assert turn.words[-4].probability is None and turn.words[-3].probability == 0.9
    assert session.transcription.words == machine
    assert review.changed == 7 and review.history[-1].action == "text" and review.history[-1].revision == 7


def test_split_keeps_the_id_on_the_first_part_and_gives_the_second_a_new_one():
    session, review = session_and_review()
    third = review.turns[2]
    review = edits.split(review, third.id, 7, revision=1)
    first, second = review.turns[2], review.turns[3]
    assert (first.id, second.id) == (third.id, 7) and review.next_id == 8
    assert first.words == third.words[:7] and second.words == third.words[7:]
    assert first.span == (third.span[0], third.span[0] + 7) and second.span == (third.span[0] + 7, third.span[1])
    assert (first.start, first.end) == (third.words[0].start, third.words[6].end)
    assert (second.start, second.end) == (third.words[7].start, third.words[-1].end)
    assert second.cluster == third.cluster
    with pytest.raises(InputError, match="split it before word 1"):
        edits.split(review, third.id, 0, revision=2)


def test_merge_joins_with_the_turn_before_and_keeps_its_cluster_and_label():
    session, review = session_and_review()
    review = edits.update(review, 1, 1, label="O1", mapped="M")
    review = edits.merge(review, 2, revision=2)
    merged = review.turns[0]
    assert merged.id == 1 and merged.cluster == "SPEAKER_00" and merged.label == "O1"
    assert merged.words == session.utterances[0].words + session.utterances[1].words
    assert merged.span == (0, len(merged.words))  # still exactly the machine words
    assert (merged.start, merged.end) == (session.utterances[0].start, session.utterances[1].end)
    assert len(review.turns) == 5
    with pytest.raises(InputError, match="first turn"):
        edits.merge(review, 1, revision=3)


def test_a_label_equal_to_the_maps_is_no_override():
    _, review = session_and_review()
    review = edits.update(review, 2, 1, label=2, mapped=1)
    assert review.turns[1].label == 2
    review = edits.update(review, 2, 2, label=1, mapped=1)
    assert review.turns[1].label is None


def test_undo_takes_back_each_change_in_turn_down_to_the_machine_output():
    session, review = session_and_review()
    start = review
    review = edits.update(review, 3, 1, text="Vi møtes.")
    review = edits.split(review, 3, 1, revision=2)
    review = edits.merge(review, 2, revision=3)
    review = edits.update(review, 4, 4, reviewed=True)
    for revision in range(5, 9):
        review, change = edits.undo(review, revision)
    assert review.turns == start.turns and review.history == ()
    assert review.changed == 8  # an undo is a change too: exports written before it are stale
    with pytest.raises(InputError, match="no change to undo"):
        edits.undo(review, 9)


def test_undo_of_a_map_change_gives_the_old_map_back():
    session, review = session_and_review()
    review = edits.map_changed(review, session.speaker_map, 3)
    review, change = edits.undo(review, 4)
    assert change.action == "speakers" and change.speaker_map == session.speaker_map


def test_labels_are_checked_against_the_session():
    session = make_session()
    assert edits.check_label("m", session) == "M"
    assert edits.check_label(2, session) == 2
    assert edits.check_label("o3", session) == "O3"
    for bad in (7, "X", True, None, "O0"):
        with pytest.raises(InputError, match="not a label of session 'gruppe1'"):
            edits.check_label(bad, session)


def test_the_review_round_trips_through_session_json(tmp_path):
    session = make_session()
    review = edits.review_of(session)
    review = edits.update(review, 2, 1, text="For meg betyr det mye.", label=2, mapped=1, reviewed=True)
    review = edits.split(review, 3, 4, revision=2)
    session.review = review
    session.save(tmp_path)
    loaded = Session.load(tmp_path)
    assert loaded.review == review
    assert loaded.revision == 1
    data = json.loads((tmp_path / "session.json").read_text())
    assert data["review"]["turns"][0]["span"] == [0, 12] and "words" not in data["review"]["turns"][0]
    assert data["transcription"]["words"][12][3] == 0.9  # the machine words as Whisper gave them


def test_a_review_made_on_other_words_is_refused_plainly(tmp_path):
    session = make_session()
    session.review = edits.update(edits.review_of(session), 1, 1, reviewed=True)
    session.save(tmp_path)
    data = json.loads((tmp_path / "session.json").read_text())
    data["transcription"]["words"][0][2] = "Velkomne,"
    (tmp_path / "session.json").write_text(json.dumps(data))
    with pytest.raises(SessionError, match="made on another transcription"):
        Session.load(tmp_path)


def test_exports_carry_text_edits_labels_splits_and_deleted_turns(tmp_path):
    session = make_session()
    review = edits.review_of(session)
    review = edits.update(review, 1, 1, text="Velkommen alle sammen. Hva betyr selvhjelp for dere?")
    review = edits.update(review, 5, 2, label=3, mapped="O1")
    review = edits.split(review, 6, 2, revision=3)
    review = edits.update(review, 4, 4, text="")  # a turn deleted
    session.review = review
    document = build_document(session)
    assert [u.text for u in document.utterances][0] == "Velkommen alle sammen. Hva betyr selvhjelp for dere?"
    assert "Hvor ofte møtes dere?" not in [u.text for u in document.utterances]
    assert document.labels == ["M", 1, 2, 3, 1, 1]
    assert [u.text for u in document.utterances][-2:] == [
        "Hver tirsdag.",
        "Jeg har sagt til mannen min: Gruppa mi får du aldri, sa Ole Hansen også.",
    ]
    finish(session, tmp_path, FinishOptions(formats=["txt", "json"]))
    txt = (tmp_path / "gruppe1.txt").read_text()
    assert "Velkommen alle sammen." in txt and "Hvor ofte" not in txt
    exported = json.loads((tmp_path / "gruppe1.json").read_text())
    assert exported["utterances"][3]["label"] == 3 and exported["utterances"][3]["speaker"] == "SPEAKER_03"
    assert exported["utterances"][0]["words"][1]["probability"] is None


def with_suspects(session, turn: int, count: int, reason: str = "no speech"):
    """The session with the last ``count`` words of utterance ``turn`` suspected (as asr.guard marks them)."""
    from dataclasses import replace

    utterance = session.utterances[turn]
    marked = utterance.words[:-count] + tuple(replace(w, suspect=reason) for w in utterance.words[-count:])
    session.utterances[turn] = replace(utterance, words=marked)
    session.transcription = replace(session.transcription, words=tuple(w for u in session.utterances for w in u.words))
    return session


def test_suspected_words_are_on_the_review_but_not_in_what_exports_see():
    session = with_suspects(make_session(), 1, 3)
    review = edits.review_of(session)
    turn = review.turns[1]
    assert len(turn.words) == len(session.utterances[1].words)  # the page shows them
    heard, _ = edits.reviewed_utterances(session)[1]
    assert heard.words == session.utterances[1].words[:-3]
    assert heard.end == heard.words[-1].end < session.utterances[1].end
    assert all(edits.doubtful(w, 0.0) for w in turn.words[-3:]) and not edits.doubtful(turn.words[0], 0.0)
    gone = with_suspects(make_session(), 1, len(make_session().utterances[1].words))
    assert len(edits.reviewed_utterances(gone)) == len(gone.utterances) - 1  # a turn of suspects only goes


def test_a_suspected_word_a_person_types_again_is_kept():
    session = with_suspects(make_session(), 1, 1)
    invented = session.utterances[1].words[-1]
    kept_text = " ".join(w.text for w in session.utterances[1].words)  # the person keeps the last word
    review = edits.update(edits.review_of(session), 2, 3, text=kept_text)
    assert review.turns[1].words[-1] == Word(invented.start, invented.end, invented.text, invented.probability)
    session.review = review
    heard, _ = edits.reviewed_utterances(session)[1]
    assert heard.words[-1].text == invented.text and heard.words[-1].suspect is None


def test_the_page_shows_suspects_on_a_line_and_keeps_them_out_of_the_text_to_edit():
    from transcribe.review.server import turn_views

    session = with_suspects(make_session(), 1, 2)
    views, _ = turn_views(session, edits.review_of(session))
    view = views[1]
    assert sum(line["words"] for line in view["lines"]) == len(view["words"])
    assert [w["suspect"] for w in view["words"]][-3:] == [None, "no speech", "no speech"]
    assert view["text"] == " ".join(w.text for w in session.utterances[1].words[:-2])
    document = build_document(session)
    assert [line.number for line in document.lines if line.turn == 1] == [line["number"] for line in view["lines"]]
