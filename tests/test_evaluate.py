"""The scoring in scripts/evaluate.py, on hand-made inputs with exact expected numbers."""

import json
from pathlib import Path

import conftest
import pytest

evaluate = conftest.script("evaluate")

# Three true speakers: A 0-4 s, B 4-8 s, A and B together 8-9 s, silence 9-10 s, C 10-12 s.
REFERENCE = [(0.0, 4.0, "A"), (4.0, 9.0, "B"), (8.0, 9.0, "A"), (10.0, 12.0, "C")]


def test_speaker_count_error_is_found_minus_true():
    assert evaluate.speaker_count_error(7, 7) == 0
    assert evaluate.speaker_count_error(6, 7) == -1
    assert evaluate.speaker_count_error(9, 7) == 2


def test_attribution_takes_the_best_one_to_one_mapping():
    words = [
        (0.0, 1.0, "s1"),
        (1.0, 2.0, "s1"),
        (2.0, 3.0, "s2"),  # A: two on s1, one on s2
        (4.0, 5.0, "s2"),
        (5.0, 6.0, "s2"),
        (6.0, 7.0, "s2"),  # B: all on s2
        (8.2, 8.6, "s1"),  # midpoint 8.4: A and B overlap -> not scored
        (9.2, 9.6, "s1"),  # midpoint 9.4: nobody speaks -> not scored
        (10.0, 11.0, "s2"),
        (11.0, 12.0, "s3"),  # C: s2 is taken by B, so only s3 can be C
    ]
    scored = evaluate.word_attribution(words, REFERENCE)
    # s1 -> A (2 words), s2 -> B (3 words), s3 -> C (1 word); 6 of 8 scored words right.
    assert scored["mapping"] == {"s1": "A", "s2": "B", "s3": "C"}
    assert (scored["words"], scored["scored"], scored["right"]) == (10, 8, 6)
    assert (scored["overlap"], scored["no_speech"]) == (1, 1)
    assert scored["attribution"] == pytest.approx(0.75)


def test_one_found_label_for_two_people_gets_one_of_them_only():
    words = [(0.0, 1.0, "x"), (1.0, 2.0, "x"), (4.0, 5.0, "x"), (10.0, 11.0, "y")]
    scored = evaluate.word_attribution(words, REFERENCE)
    assert scored["mapping"] == {"x": "A", "y": "C"}
    assert scored["right"] == 3 and scored["attribution"] == pytest.approx(0.75)


def test_a_word_at_a_boundary_belongs_to_the_turn_it_starts():
    assert evaluate.active_speakers(REFERENCE, 4.0) == {"B"}
    assert evaluate.active_speakers(REFERENCE, 12.0) == set()
    assert evaluate.word_attribution([], REFERENCE)["attribution"] is None


def test_word_error_rate_counts_substitutions_deletions_and_insertions():
    assert evaluate.word_errors("Hello, world!", "hello world") == (0, 2)
    # "the cat sat on the mat" -> "the cat sat at mat mat now": on->at (S), the->mat (S), + now (I)
    assert evaluate.word_errors("the cat sat on the mat", "the cat sat at mat mat now") == (3, 6)
    assert evaluate.word_errors("a b c d", "a d") == (2, 4)  # two deletions
    assert evaluate.wer("Vi møtes utenom gruppa.", "vi møtes UTENOM gruppa") == 0.0
    # the hyphen splits "gruppe-møte": mellom -> gruppe (S), gruppemøte -> møte (S)
    assert evaluate.wer(
        "Vi skiller mellom gruppemøte og privatmøte", "vi skiller gruppe-møte og privatmøte"
    ) == pytest.approx(2 / 6)
    assert evaluate.normalise_text("It's Anne-Lise's 'turn'") == ["it's", "anne", "lise's", "turn"]


def test_stm_words_come_in_time_order(tmp_path):
    stm = tmp_path / "x.stm"
    stm.write_text("x 1 B 2.0 3.0 second one\nx 1 A 0.5 1.0 First,\n")
    assert evaluate.stm_text(stm) == "First, second one"


def test_a_folder_is_read_with_its_sidecars(tmp_path):
    import numpy as np

    (tmp_path / "g1.wav").write_bytes(b"")  # not decoded here
    (tmp_path / "g1.rttm").write_text(
        "SPEAKER g1 1 0.000 4.000 <NA> <NA> A <NA> <NA>\nSPEAKER g1 1 4.000 5.000 <NA> <NA> B <NA> <NA>\n"
    )
    (tmp_path / "g1.txt").write_text("hei på deg")
    (tmp_path / "g1.json").write_text(json.dumps({"language": "en"}))
    (tmp_path / "lonely.wav").write_bytes(b"")  # no ground truth: skipped
    (rec,) = evaluate.folder_recordings(tmp_path)
    assert (rec.set, rec.uri, rec.language, rec.text) == (tmp_path.name, "g1", "en", "hei på deg")
    assert rec.turns() == [(0.0, 4.0, "A"), (4.0, 9.0, "B")]
    assert np.isclose(rec.reference.get_timeline().duration(), 9.0)


def test_the_moderator_is_right_when_the_proposed_cluster_covers_most_of_the_true_moderators_speech(tmp_path):
    from transcribe.records import Diarization, Turn, Utterance, Word

    (tmp_path / "g1.wav").write_bytes(b"")
    rttm = [("M", 0, 3), ("A", 3.5, 10), ("M", 10.5, 12), ("B", 12.5, 20), ("M", 20.5, 22)]
    (tmp_path / "g1.rttm").write_text(
        "".join(f"SPEAKER g1 1 {s:.3f} {e - s:.3f} <NA> <NA> {who} <NA> <NA>\n" for who, s, e in rttm)
    )
    (tmp_path / "g1.json").write_text(json.dumps({"moderator": "M", "condition": {"name": "brief"}}))
    (rec,) = evaluate.folder_recordings(tmp_path)
    assert (rec.moderator, rec.condition) == ("M", "brief")
    found = {"s0": "M", "s1": "A", "s2": "B"}
    turns = tuple(Turn(s, e, next(k for k, v in found.items() if v == who)) for who, s, e in rttm)
    diarization = Diarization(turns, turns, (), {})
    utterances = [Utterance(t.speaker, t.start, t.end, (Word(t.start, t.end, "ja", 1.0),)) for t in turns]
    row = evaluate.moderator_right(rec, diarization, utterances)
    assert row["moderator_right"] and row["moderator_no_q_right"] and row["moderator_truth"] == "s0"
    wrong = Diarization(tuple(Turn(t.start, t.end, "s1" if t.speaker == "s0" else "s0") for t in turns), (), (), {})
    assert not evaluate.moderator_right(rec, wrong, utterances)["moderator_right"]


def test_the_conditions_table_gives_mean_and_worst_per_condition():
    def row(condition, der, right):
        parts = {"missed detection": der * 5, "false alarm": 0.0, "confusion": der * 5, "total": 10.0}
        return {
            "set": "dev",
            "condition": condition,
            "minutes": 4.0,
            "der": der,
            "der_strict": 2 * der,
            "der_parts": parts,
            "speaker_error": 0 if right else 1,
            "scored": 10,
            "right": 9,
            "moderator_right": right,
            "moderator_no_q_right": right,
        }

    table = evaluate.condition_rows([row("a", 0.02, True), row("a", 0.06, False), row("b", 0.1, True)])
    assert [cells[:2] for cells in table] == [["dev", "a"], ["dev", "b"], ["dev", "all"]]
    assert table[0][4:8] == ["4.0 %", "6.0 %", "8.0 %", "12.0 %"]
    assert table[0][8] == "2.0 % / 0.0 % / 2.0 %" and table[0][9:] == ["1/2", "90.0 %", "1/2", "1/2"]
    assert table[2][5] == "10.0 %" and table[2][11] == "2/3"


def test_the_grid_embeds_once_per_window_hop():
    from types import SimpleNamespace

    from transcribe.diarize import DEFAULTS

    ns = SimpleNamespace(
        step=[0.1, 0.2],
        exclude_overlap=None,
        method=None,
        threshold=[0.6, 0.7],
        min_cluster_size=None,
        min_duration_off=None,
        reseg_window=[0.0, 1.0],
        reseg_hop=None,
        reseg_min_change=None,
        reseg_iterations=None,
        reseg_merge=None,
    )
    groups = evaluate.grid(ns)
    assert [built["segmentation_step"] for built, _ in groups] == [0.1, 0.2]
    # resegmentation acts after the embeddings too: swept inside each group
    assert [(inner["clustering_threshold"], inner["resegmentation_window"]) for inner in groups[0][1]] == [
        (0.6, 0.0),
        (0.6, 1.0),
        (0.7, 0.0),
        (0.7, 1.0),
    ]
    assert groups[0][1][0]["clustering_min_cluster_size"] == DEFAULTS["clustering_min_cluster_size"]
    assert groups[0][1][0]["resegmentation_hop"] == DEFAULTS["resegmentation_hop"]


@pytest.mark.slow
def test_the_script_scores_a_folder_with_the_real_pipeline(tmp_path):
    """evaluate.py end to end on the committed 79 s fixture, diarisation only (~20 s)."""
    import shutil

    fixtures = Path(__file__).parent / "fixtures"
    folder = tmp_path / "set"
    folder.mkdir()
    for suffix in (".m4a", ".rttm", ".json"):
        shutil.copy(fixtures / f"voices_group{suffix}", folder)
    out = tmp_path / "out.json"
    assert evaluate.main([str(folder), "--no-asr", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["results"]
    (row,) = result["files"]
    # as in test_diarize.py: two brief voices without a cluster and one pair merged
    assert (row["speakers"], row["true_speakers"], row["speaker_error"]) == (4, 7, -3)
    assert 0.30 < row["der"] < 0.36 and row["der_strict"] >= row["der"] - 0.02
    assert "attribution" not in row and result["sets"]["set"]["speakers_right"] == 0
