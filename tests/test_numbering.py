"""Numbered lines: the layout qualitative analysis cites."""

import pytest

from transcribe.errors import InputError
from transcribe.numbering import number_lines, turn_line_ranges
from transcribe.records import Utterance, Word


def utterance(speaker, text, start=0.0):
    tokens = text.split()
    return Utterance(
        speaker, start, start + len(tokens), tuple(Word(start + i, start + i + 1, t, 1.0) for i, t in enumerate(tokens))
    )


def test_numbers_run_on_wrap_without_splitting_words_and_label_only_first_line():
    utterances = [
        utterance("S0", "Hva betyr selvhjelp for dere?"),
        utterance("S1", "Vi møtes utenom gruppa, av og til. Vi skiller mellom gruppemøte og privatmøte."),
        utterance("S2", "Gruppa mi får du aldri."),
    ]
    lines = number_lines(utterances, ["M", 3, 1], start_line=74, width=38)
    assert [(line.number, line.label, line.text) for line in lines] == [
        (74, "M", "Hva betyr selvhjelp for dere?"),
        (75, "3", "Vi møtes utenom gruppa, av og til. Vi"),
        (76, "", "skiller mellom gruppemøte og"),
        (77, "", "privatmøte."),
        (78, "1", "Gruppa mi får du aldri."),
    ]
    assert all(len(line.text) <= 38 for line in lines)
    assert turn_line_ranges(lines) == {0: (74, 74), 1: (75, 77), 2: (78, 78)}


def test_two_clusters_merged_into_one_informant_read_as_one_turn():
    utterances = [utterance("S1", "Først dette."), utterance("S4", "Og så dette.")]
    lines = number_lines(utterances, [2, 2])
    assert [(line.label, line.text) for line in lines] == [("2", "Først dette."), ("", "Og så dette.")]


def test_a_word_longer_than_the_width_is_kept_whole():
    lines = number_lines([utterance("S0", "ja " + "x" * 30)], ["M"], width=20)
    assert [line.text for line in lines] == ["ja", "x" * 30]


@pytest.mark.parametrize("start, width", [(0, 80), (1, 5)])
def test_bad_numbering_options_are_refused(start, width):
    with pytest.raises(InputError):
        number_lines([utterance("S0", "Hei")], ["M"], start_line=start, width=width)
