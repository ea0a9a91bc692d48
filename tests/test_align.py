"""Word → speaker attribution and utterance building, on hand-made turns."""

from dataclasses import dataclass

from transcribe.align import align
from transcribe.records import Word


@dataclass(frozen=True)
class T:
    start: float
    end: float
    speaker: str


def words(*spec):
    return [Word(s, e, text, 0.9) for s, e, text in spec]


def test_words_go_to_the_turn_they_overlap_most_and_runs_form_utterances():
    turns = [T(0.0, 2.0, "SPEAKER_01"), T(2.0, 5.0, "SPEAKER_00"), T(5.5, 8.0, "SPEAKER_01")]
    ws = words(
        (0.1, 0.5, "Hva"),
        (0.5, 1.0, "synes"),
        (1.0, 2.3, "dere?"),  # mostly in turn 1
        (2.4, 3.0, "Jeg"),
        (3.0, 3.5, "tenker"),
        (5.25, 5.45, "ja"),  # in a gap: nearest turn is SPEAKER_01 (starts 5.5)
        (6.0, 6.5, "Takk."),
    )
    utterances = align(ws, turns)
    assert [(u.speaker, u.text) for u in utterances] == [
        ("SPEAKER_01", "Hva synes dere?"),
        ("SPEAKER_00", "Jeg tenker"),
        ("SPEAKER_01", "ja Takk."),
    ]
    assert (utterances[1].start, utterances[1].end) == (2.4, 3.5)


def test_a_whisper_segment_spanning_a_speaker_change_is_split_on_a_word_boundary():
    turns = [T(0.0, 1.55, "A"), T(1.55, 3.0, "B")]
    ws = words((0.0, 0.7, "Kom"), (0.7, 1.5, "inn."), (1.6, 2.0, "Takk"), (2.0, 2.9, "skal"))
    assert [u.text for u in align(ws, turns)] == ["Kom inn.", "Takk skal"]


def test_no_turns_gives_one_speaker_and_no_words_gives_nothing():
    ws = words((0.0, 0.5, "Hei"))
    assert [u.speaker for u in align(ws, [])] == ["SPEAKER_00"]
    assert align([], [T(0, 1, "A")]) == []
