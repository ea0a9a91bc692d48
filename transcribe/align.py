"""Give every word a speaker, and group consecutive words of one speaker into utterances.

Words come from ASR, speaker turns from diarisation; the two know nothing of each other. Each
word goes to the (non-overlapping) turn it overlaps most, or to the nearest turn when it falls
in a gap. A Whisper segment that spans a speaker change is thereby split at the change, on a
word boundary.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Protocol

from .records import Utterance, Word

NO_SPEAKER = "SPEAKER_00"  # used when diarisation found no speech at all


class TurnLike(Protocol):
    start: float
    end: float
    speaker: str


def speaker_of(word: Word, turns: Sequence[TurnLike], starts: Sequence[float]) -> str:
    """The speaker of the turn that overlaps ``word`` most; the nearest turn if none does."""
    if not turns:
        return NO_SPEAKER
    right = bisect_right(starts, word.end)
    best, best_overlap = None, 0.0
    index = right - 1
    while index >= 0:
        turn = turns[index]
        overlap = min(turn.end, word.end) - max(turn.start, word.start)
        if overlap > best_overlap:
            best, best_overlap = turn, overlap
        if turn.end <= word.start:
            break  # turns are sorted and exclusive: nothing earlier can overlap
        index -= 1
    if best is not None:
        return best.speaker
    candidates = [turns[i] for i in (right - 1, right) if 0 <= i < len(turns)]
    middle = (word.start + word.end) / 2
    nearest = min(
        candidates, key=lambda t: 0.0 if t.start <= middle <= t.end else min(abs(t.start - middle), abs(t.end - middle))
    )
    return nearest.speaker


def align(words: Sequence[Word], turns: Sequence[TurnLike]) -> list[Utterance]:
    """Attribute words to speaker turns and merge runs of one speaker into utterances."""
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    starts = [turn.start for turn in ordered]
    utterances: list[Utterance] = []
    current: list[Word] = []
    current_speaker = None
    for word in words:
        speaker = speaker_of(word, ordered, starts)
        if current and speaker != current_speaker:
            utterances.append(_utterance(current_speaker, current))
            current = []
        current_speaker = speaker
        current.append(word)
    if current:
        utterances.append(_utterance(current_speaker, current))
    return utterances


def _utterance(speaker: str, words: list[Word]) -> Utterance:
    return Utterance(speaker=speaker, start=words[0].start, end=words[-1].end, words=tuple(words))
