"""From anonymous speaker clusters to the study's labels: ``M``, informant numbers, observers.

Diarisation names clusters ``SPEAKER_00``, ``SPEAKER_01`` … in no useful order. A focus group
has one moderator, a known range of informant numbers (1–6 for group 1, 7–12 for group 2) and
sometimes silent-ish observers. The proposal here is a starting point the researcher checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence, Union

from .align import Utterance
from .errors import InputError

Label = Union[int, str]  # informant number, the moderator label ("M"), or an observer ("O1")
MODERATOR = "M"


@dataclass(frozen=True)
class SpeakerStats:
    speaker: str
    talk_time: float
    turns: int
    words: int
    questions: int
    first_start: float


def parse_informants(text: str) -> list[int]:
    """'1-6' → [1..6]; '7-12'; '1,2,3,5'. Refuse anything else with a clear message."""
    cleaned = text.replace(" ", "")
    numbers: list[int] = []
    for part in cleaned.split(","):
        match = re.fullmatch(r"(\d+)(?:[-–](\d+))?", part)
        if not match:
            raise InputError(
                f"--informants '{text}' is not a range of informant numbers. Write it like 1-6 or 7-12 or 1,2,3."
            )
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first or first < 1:
            raise InputError(f"--informants '{text}': a range must go upwards from 1 or more, like 7-12.")
        numbers.extend(range(first, last + 1))
    if len(set(numbers)) != len(numbers):
        raise InputError(f"--informants '{text}' names an informant twice.")
    return numbers


def stats(utterances: Sequence[Utterance]) -> list[SpeakerStats]:
    """Talk time, turns, words and questions per cluster, in order of first appearance."""
    table: dict[str, dict] = {}
    for utterance in utterances:
        row = table.setdefault(
            utterance.speaker,
            {"talk_time": 0.0, "turns": 0, "words": 0, "questions": 0, "first_start": utterance.start},
        )
        row["talk_time"] += utterance.end - utterance.start
        row["turns"] += 1
        row["words"] += len(utterance.words)
        row["questions"] += utterance.text.count("?")
    return [SpeakerStats(speaker=name, **row) for name, row in sorted(table.items(), key=lambda kv: kv[1]["first_start"])]


def propose_map(utterances: Sequence[Utterance], informants: Sequence[int], moderator: str = MODERATOR) -> dict[str, Label]:
    """Moderator = most questions (ties and no questions: who spoke first); informants by
    order of first speaking; clusters beyond the informant count with least talk become observers."""
    table = stats(utterances)
    if not table:
        return {}
    lead = max(table, key=lambda row: (row.questions, -row.first_start))
    others = [row for row in table if row is not lead]
    by_talk = sorted(others, key=lambda row: -row.talk_time)
    kept = {row.speaker for row in by_talk[: len(informants)]}
    mapping: dict[str, Label] = {lead.speaker: moderator}
    numbers = iter(informants)
    observer = 0
    for row in others:  # in order of first appearance
        if row.speaker in kept:
            mapping[row.speaker] = next(numbers)
        else:
            observer += 1
            mapping[row.speaker] = f"O{observer}"
    return mapping


def format_label(label: Label) -> str:
    return str(label)
