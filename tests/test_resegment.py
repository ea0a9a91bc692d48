"""The resegmentation stage's arithmetic, on frame labels and window embeddings built by hand.

The stage with the real model on real voices is tested in test_diarize.py.
"""

import numpy as np
import pytest

from transcribe import resegment
from transcribe.errors import InputError
from transcribe.records import Turn


def test_windows_cover_each_stretch_of_speech_and_end_flush_with_it():
    speech = np.zeros(1000, dtype=bool)
    speech[100:400] = True  # 3 s
    speech[420:470] = True  # 0.5 s after a 0.2 s pause: bridged into the first stretch
    speech[600:680] = True  # 0.8 s alone: one short window
    speech[800:830] = True  # 0.3 s: too short for a window
    found = resegment.speech_windows(speech, window=100, hop=50, bridge=30, shortest=50)
    assert found == [(100, 200), (150, 250), (200, 300), (250, 350), (300, 400), (350, 450), (370, 470), (600, 680)]


def test_a_pause_at_the_start_is_not_bridged():
    speech = np.zeros(300, dtype=bool)
    speech[10:200] = True
    assert resegment.speech_windows(speech, window=100, hop=100, bridge=30, shortest=50) == [(10, 110), (100, 200)]


def voices(n: int, dimension: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, dimension))


def windows_over(frames: int, width: int = 100, hop: int = 50) -> list[tuple[int, int]]:
    return [(at, at + width) for at in range(0, frames - width + 1, hop)]


def test_a_change_carried_across_by_one_label_is_moved_to_the_voice_that_speaks():
    a, b = voices(2)
    labels = np.zeros(1000, dtype=np.int64)
    labels[600:] = 1
    # speaker 1 (voice b) really starts at frame 400: pyannote gave 400-600 to speaker 0
    windows = windows_over(1000, hop=100)
    embeddings = np.array([b if start >= 400 else a for start, _ in windows])
    new = resegment.relabel(labels, windows, embeddings, num_speakers=2, min_change=30, iterations=1)
    assert (new[:400] == 0).all() and (new[400:] == 1).all()


def test_a_change_shorter_than_the_minimum_is_undone():
    a, b = voices(2, seed=1)
    labels = np.zeros(1000, dtype=np.int64)
    labels[500:] = 1
    windows = windows_over(1000, width=20, hop=20)
    embeddings = np.array([b if 300 <= start < 320 or start >= 500 else a for start, _ in windows])
    assert np.array_equal(resegment.relabel(labels, windows, embeddings, 2, min_change=30, iterations=1), labels)
    moved = resegment.relabel(labels, windows, embeddings, 2, min_change=10, iterations=1)
    assert (moved[300:320] == 1).all() and (moved[:300] == 0).all() and (moved[320:500] == 0).all()


def test_overlap_and_silence_keep_their_label_and_a_voiceless_speaker_keeps_their_speech():
    a, b = voices(2, seed=2)
    labels = np.full(1200, -1, dtype=np.int64)
    labels[0:500] = 0
    labels[500:1000] = 1
    labels[1000:1040] = 2  # 0.4 s: no window lies (90 %) inside speaker 2's speech
    windows = windows_over(1000, hop=100) + [(995, 1040)]
    embeddings = np.array([a if start < 500 else b for start, _ in windows[:-1]] + [a])
    new = resegment.relabel(labels, windows, embeddings, 3, min_change=30, iterations=1)
    assert (new[:500] == 0).all() and (new[500:1000] == 1).all()
    assert (new[1000:1040] == 2).all()  # sounds like speaker 0, but 2 has no voice to compare with
    assert (new[1040:] == -1).all()


def test_nan_windows_are_ignored_and_one_voice_changes_nothing():
    a, b = voices(2, seed=3)
    labels = np.zeros(400, dtype=np.int64)
    labels[200:] = 1
    windows = windows_over(400, hop=100)
    embeddings = np.array([a, a, b, b])
    embeddings[1] = np.nan  # frames 100-200 have no window left: they keep their label
    assert np.array_equal(resegment.relabel(labels, windows, embeddings, 2, 30, 1), labels)
    assert np.array_equal(resegment.relabel(labels, windows, embeddings * np.nan, 2, 30, 1), labels)
    assert np.array_equal(
        resegment.relabel(np.zeros(400, dtype=np.int64), windows, embeddings, 1, 30, 1), np.zeros(400)
    )


def test_turns_are_rebuilt_and_overlap_keeps_pyannotes_two_speakers():
    """resegment() end to end with an embedding function that hears voice a before 2.0 s, b after."""
    import torch

    a, b = voices(2, seed=4)
    audio = np.zeros(4 * 16000, dtype=np.float32)
    audio[2 * 16000 :] = 1.0  # the "voice" the function below hears

    def embed(batch: torch.Tensor) -> np.ndarray:
        return np.array([b if clip[0, -1] > 0.5 else a for clip in batch.numpy()])

    turns = (Turn(0.0, 3.0, "SPEAKER_00"), Turn(2.8, 4.0, "SPEAKER_01"))
    exclusive = (Turn(0.0, 3.0, "SPEAKER_00"), Turn(3.0, 4.0, "SPEAKER_01"))
    new_turns, new_exclusive, alike = resegment.resegment(
        turns, exclusive, audio, embed, window=1.0, hop=0.5, min_change=0.3, iterations=1
    )
    assert new_exclusive == (Turn(0.0, 2.0, "SPEAKER_00"), Turn(2.0, 4.0, "SPEAKER_01"))
    # 2.8-3.0 s: two voices in pyannote's turns, kept as they were
    assert new_turns == (
        Turn(0.0, 2.0, "SPEAKER_00"),
        Turn(2.0, 2.8, "SPEAKER_01"),
        Turn(2.8, 3.0, "SPEAKER_00"),
        Turn(2.8, 3.0, "SPEAKER_01"),
        Turn(3.0, 4.0, "SPEAKER_01"),
    )
    again = resegment.resegment(turns, exclusive, audio, embed, window=1.0, hop=0.5, min_change=0.3, iterations=1)
    assert again == (new_turns, new_exclusive, alike)
    assert alike == ()  # voices a and b are far apart


def test_speakers_whose_voices_are_alike_are_reported_most_alike_first():
    a, c, d = np.eye(8)[:3]
    labels = np.repeat([0, 1, 2, 3], 300)
    windows = windows_over(1200, hop=100)
    # speaker 1 sounds exactly like 0 (one person split in two); 3 is near 2 (cosine 0.8)
    sound = {0: a, 1: a, 2: c, 3: 0.8 * c + 0.6 * d}
    embeddings = np.array([sound[labels[start]] for start, _ in windows])
    names = ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02", "SPEAKER_03"]
    assert resegment.alike(labels, windows, embeddings, names, threshold=0.55) == (
        ("SPEAKER_00", "SPEAKER_01", 1.0),
        ("SPEAKER_02", "SPEAKER_03", 0.8),
    )
    assert resegment.alike(labels, windows, embeddings, names, threshold=0.85) == (("SPEAKER_00", "SPEAKER_01", 1.0),)
    assert resegment.alike(labels, windows, embeddings * np.nan, names) == ()


def test_speakers_whose_voices_are_alike_enough_are_joined_most_alike_first():
    a, c, d = np.eye(8)[:3]
    labels = np.repeat([0, 1, 2, 3, 4], 300)
    windows = windows_over(1500, hop=100)
    # 1 is 0 again, 4 is 3 again (0.9 alike), 2 is near 3 (0.5): a different person
    sound = {0: a, 1: a, 2: c, 3: 0.5 * c + np.sqrt(0.75) * d, 4: 0.45 * c + np.sqrt(0.7975) * d}
    embeddings = np.array([sound[labels[start]] for start, _ in windows])
    new, joins = resegment.joined(labels, windows, embeddings, 5, threshold=0.6)
    assert joins == {1: 0, 4: 3}
    assert np.array_equal(new, np.repeat([0, 0, 2, 3, 3], 300))
    assert resegment.joined(labels, windows, embeddings, 5, threshold=0)[1] == {}  # 0: never
    assert resegment.joined(labels, windows, embeddings, 5, threshold=0.6, keep=4)[1] == {1: 0}  # the likest pair
    # a chain is followed: 2 joined into 1 and 1 into 0 leaves both with 0
    chain = np.repeat([0, 1, 2], 300)
    same = np.array([a for _ in windows_over(900, hop=100)])
    assert resegment.joined(chain, windows_over(900, hop=100), same, 3, threshold=0.6)[1] == {1: 0, 2: 0}


def test_a_joined_speaker_takes_the_others_overlap_too():
    """Two clusters of one person: after the join both their turns, overlap included, carry one name."""
    import torch

    a, a_again, b = np.eye(8)[0], 0.9 * np.eye(8)[0] + np.sqrt(0.19) * np.eye(8)[1], np.eye(8)[2]
    audio = np.repeat(np.array([0.0, 0.5, 1.0], dtype=np.float32), 2 * 16000)  # a, a again (0.9 alike), b

    def embed(batch: torch.Tensor) -> np.ndarray:  # the voice at the start of each window
        return np.array([a if clip[0, 0] < 0.25 else a_again if clip[0, 0] < 0.75 else b for clip in batch.numpy()])

    # the person was clustered as SPEAKER_00 (0-2 s) and SPEAKER_01 (2-4 s), overlapping 1.8-2.0 s
    turns = (Turn(0.0, 2.0, "SPEAKER_00"), Turn(1.8, 4.0, "SPEAKER_01"), Turn(4.0, 6.0, "SPEAKER_02"))
    exclusive = (Turn(0.0, 2.0, "SPEAKER_00"), Turn(2.0, 4.0, "SPEAKER_01"), Turn(4.0, 6.0, "SPEAKER_02"))
    settings = dict(window=1.0, hop=0.5, min_change=0.6, iterations=1)
    new_turns, new_exclusive, alike = resegment.resegment(turns, exclusive, audio, embed, **settings, merge=0.6)
    assert new_exclusive == (Turn(0.0, 4.0, "SPEAKER_00"), Turn(4.0, 6.0, "SPEAKER_02"))
    assert {t.speaker for t in new_turns} == {"SPEAKER_00", "SPEAKER_02"}
    assert Turn(1.8, 2.0, "SPEAKER_00") in new_turns
    assert alike == ()
    # not joined when three must be kept, nor with merge 0: reported as alike instead
    for kept in (
        resegment.resegment(turns, exclusive, audio, embed, **settings, merge=0.6, keep=3),
        resegment.resegment(turns, exclusive, audio, embed, **settings),
    ):
        assert kept[:2] == (turns, exclusive)
        assert kept[2] == (("SPEAKER_00", "SPEAKER_01", 0.9),)


@pytest.mark.parametrize(
    "settings, wrong",
    [
        (dict(window=0.2, hop=0.1, min_change=0.3, iterations=1), "resegmentation_window"),
        (dict(window=1.0, hop=0.0, min_change=0.3, iterations=1), "resegmentation_hop"),
        (dict(window=1.0, hop=2.0, min_change=0.3, iterations=1), "resegmentation_hop"),
        (dict(window=1.0, hop=0.5, min_change=-1, iterations=1), "resegmentation_min_change"),
        (dict(window=1.0, hop=0.5, min_change=0.3, iterations=0), "resegmentation_iterations"),
        (dict(window=1.0, hop=0.5, min_change=0.3, iterations=1.5), "resegmentation_iterations"),
        (dict(window=1.0, hop=0.5, min_change=0.3, iterations=1, merge=1.5), "resegmentation_merge"),
        (dict(window=1.0, hop=0.5, min_change=0.3, iterations=1, merge=-0.1), "resegmentation_merge"),
    ],
)
def test_settings_that_cannot_work_are_refused_by_name(settings, wrong):
    with pytest.raises(InputError, match=wrong):
        resegment.check(**settings)
    resegment.check(window=0, hop=0, min_change=0, iterations=0)  # off: nothing else matters
