"""Who spoke, how much, and who answered whom: participation and interaction flow.

Everything here works from session.json alone (the audio may be gone). The unit is the *turn*:
consecutive utterances with the same label, so two clusters merged into one informant read as
one turn, exactly as in the numbered transcript.

A transcript is split into *question segments*, as the study drew its interaction flow per
guide question:

* By default a segment starts at each moderator turn that is a question: it contains '?' and
  has at least ``MIN_QUESTION_WORDS`` words (so a prompting "Ja?" or "Mhm?" does not start one).
* With an interview guide (one question per line), each guide question is matched to one
  moderator turn instead, in order. A turn's score for a question is the best, over the turn's
  sentences, of difflib's ratio and of the share of the question's words that the sentence
  contains (ratio forgives ASR spelling, word share forgives rephrasing). Pairs scoring at least
  ``GUIDE_THRESHOLD`` may match; of all order-preserving matchings the one with the highest total
  score is taken. Guide questions left unmatched are reported, not hidden.

Turns before the first segment form segment 0. A transition (who spoke directly after whom)
belongs to a segment when both turns do: the handover into a new question counts only overall.

The report holds numbers, labels and line numbers, and no transcript text: what was said may
name people (exports can be pseudonymised, session.json is not), and the line numbers lead to
the words in the transcript. The one text it shows is the guide's wording, which the researcher
wrote.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import groupby
from pathlib import Path

from ..errors import InputError
from ..export import build_document
from ..export.csv import BOM
from ..records import Label
from ..session import Session

MIN_QUESTION_WORDS = 3
GUIDE_THRESHOLD = 0.6
FOLDER = "report"


@dataclass(frozen=True)
class LabelledTurn:
    """Consecutive utterances of one label."""

    label: Label
    start: float
    end: float
    talk_time: float  # sum of the utterances' durations
    words: int
    text: str  # to find the questions; never written out
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Participation:
    label: Label
    talk_time: float
    share: float  # of all talk time in the same span
    turns: int
    words: int
    first_start: float | None  # None: never spoke
    last_end: float | None
    first_line: int | None
    last_line: int | None

    @property
    def mean_turn_seconds(self) -> float | None:
        return self.talk_time / self.turns if self.turns else None

    @property
    def mean_turn_words(self) -> float | None:
        return self.words / self.turns if self.turns else None


@dataclass(frozen=True)
class Transitions:
    """counts[i][j]: how often labels[j] spoke directly after labels[i]."""

    labels: tuple[Label, ...]
    counts: tuple[tuple[int, ...], ...]

    def count(self, before: Label, after: Label) -> int:
        return self.counts[self.labels.index(before)][self.labels.index(after)]

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))


@dataclass(frozen=True)
class Segment:
    """The turns from one question up to the next; number 0 holds the turns before the first."""

    number: int
    question: str | None  # the guide's wording; None without a guide and for segment 0
    score: float | None  # guide match score; None without a guide
    turns: tuple[LabelledTurn, ...]
    participation: tuple[Participation, ...]
    transitions: Transitions

    @property
    def start(self) -> float:
        return self.turns[0].start

    @property
    def end(self) -> float:
        return self.turns[-1].end

    @property
    def first_line(self) -> int:
        return self.turns[0].first_line

    @property
    def last_line(self) -> int:
        return self.turns[-1].last_line


@dataclass(frozen=True)
class Report:
    session: str
    labels: tuple[Label, ...]  # moderator, informants, observers: the order of every table
    moderator: str
    guide: bool
    turns: tuple[LabelledTurn, ...]
    participation: tuple[Participation, ...]
    transitions: Transitions
    segments: tuple[Segment, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        return {
            "format": "transcribe.report/1",
            "session": self.session,
            "labels": list(self.labels),
            "question_rule": "guide" if self.guide else "moderator question",
            "participation": [_participation_dict(row) for row in self.participation],
            "transitions": _transitions_dict(self.transitions),
            "segments": [
                {
                    "number": segment.number,
                    "question": segment.question,
                    "score": None if segment.score is None else round(segment.score, 3),
                    "start": round(segment.start, 3),
                    "end": round(segment.end, 3),
                    "first_line": segment.first_line,
                    "last_line": segment.last_line,
                    "turns": len(segment.turns),
                    "participation": [_participation_dict(row) for row in segment.participation],
                    "transitions": _transitions_dict(segment.transitions),
                }
                for segment in self.segments
            ],
            "warnings": list(self.warnings),
        }


# -- building the report --------------------------------------------------------------------


def build_report(session: Session, guide: Sequence[str] | None = None) -> Report:
    """Participation, transitions and question segments of a finished session."""
    document = build_document(session)
    turns = labelled_turns(document)
    labels = ordered_labels(session, turns)
    moderator = session.moderator_label
    warnings: list[str] = []
    if guide is None:
        starts = [(i, number, None, None) for number, i in enumerate(question_turns(turns, moderator), start=1)]
    else:
        starts = []
        for number, (question, match) in enumerate(zip(guide, match_guide(turns, moderator, guide)), start=1):
            if match is None:
                warnings.append(
                    f"Guide question {number} ({question!r}) matched no moderator turn "
                    f"(threshold {GUIDE_THRESHOLD}); its turns count under the question before it."
                )
            else:
                starts.append((match[0], number, question, match[1]))
    return Report(
        session=session.name,
        labels=labels,
        moderator=moderator,
        guide=guide is not None,
        turns=tuple(turns),
        participation=participation(turns, labels),
        transitions=transitions(turns, labels),
        segments=_segments(turns, labels, starts),
        warnings=tuple(warnings),
    )


def labelled_turns(document) -> list[LabelledTurn]:
    """Merge consecutive utterances of one label into turns, with their line numbers."""
    turns = []
    numbered = enumerate(document.utterances)
    for label, run in groupby(numbered, key=lambda item: document.labels[item[0]]):
        indices, utterances = zip(*run)
        turns.append(
            LabelledTurn(
                label=label,
                start=utterances[0].start,
                end=utterances[-1].end,
                talk_time=sum(u.end - u.start for u in utterances),
                words=sum(len(u.words) for u in utterances),
                text=" ".join(u.text for u in utterances),
                first_line=document.ranges[indices[0]][0],
                last_line=document.ranges[indices[-1]][1],
            )
        )
    return turns


def ordered_labels(session: Session, turns: Sequence[LabelledTurn]) -> tuple[Label, ...]:
    """Moderator, every informant of the group (silent ones too), observers, anything else."""
    found = {
        session.moderator_label,
        *session.informants,
        *(session.speaker_map or {}).values(),
        *(t.label for t in turns),
    }
    return tuple(sorted(found, key=lambda label: _label_key(label, session.moderator_label)))


def _label_key(label: Label, moderator: str) -> tuple:
    if label == moderator:
        return (0, 0, "")
    if isinstance(label, int):
        return (1, label, "")
    observer = re.fullmatch(r"O(\d+)", label)
    if observer:
        return (2, int(observer.group(1)), "")
    return (3, 0, label)


def participation(turns: Sequence[LabelledTurn], labels: Sequence[Label]) -> tuple[Participation, ...]:
    total = sum(turn.talk_time for turn in turns)
    rows = []
    for label in labels:
        own = [turn for turn in turns if turn.label == label]
        talk = sum(turn.talk_time for turn in own)
        rows.append(
            Participation(
                label=label,
                talk_time=talk,
                share=talk / total if total else 0.0,
                turns=len(own),
                words=sum(turn.words for turn in own),
                first_start=own[0].start if own else None,
                last_end=own[-1].end if own else None,
                first_line=own[0].first_line if own else None,
                last_line=own[-1].last_line if own else None,
            )
        )
    return tuple(rows)


def transitions(turns: Sequence[LabelledTurn], labels: Sequence[Label]) -> Transitions:
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for before, after in zip(turns, turns[1:]):
        counts[index[before.label]][index[after.label]] += 1
    return Transitions(tuple(labels), tuple(tuple(row) for row in counts))


def question_turns(turns: Sequence[LabelledTurn], moderator: str) -> list[int]:
    """Indices of the moderator turns that open a question segment (the rule without a guide)."""
    return [
        i
        for i, turn in enumerate(turns)
        if turn.label == moderator and "?" in turn.text and turn.words >= MIN_QUESTION_WORDS
    ]


def _segments(turns, labels, starts) -> tuple[Segment, ...]:
    """Cut the turns at each start; ``starts`` holds (turn index, number, question, score) in order."""
    bounds = ([(0, 0, None, None)] if not starts or starts[0][0] > 0 else []) + list(starts)
    segments = []
    for position, (index, number, question, score) in enumerate(bounds):
        end = bounds[position + 1][0] if position + 1 < len(bounds) else len(turns)
        span = turns[index:end]
        if span:
            segments.append(
                Segment(number, question, score, tuple(span), participation(span, labels), transitions(span, labels))
            )
    return tuple(segments)


# -- matching an interview guide ------------------------------------------------------------


def read_guide(path: Path) -> list[str]:
    """One guide question per line; blank lines and leading numbering ("1.", "2)", "-") ignored."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"The questions file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"The questions file {path} cannot be read as UTF-8 text ({exc}).") from None
    questions = [re.sub(r"^(\d+[.)]|[-*•])\s*", "", line.strip()) for line in text.splitlines()]
    questions = [question for question in questions if question]
    if not questions:
        raise InputError(f"The questions file {path} holds no questions. Write one guide question per line.")
    return questions


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def guide_score(question: str, turn_text: str) -> float:
    """How well a moderator turn matches a guide question, 0 to 1 (see the module docstring)."""
    wanted = _tokens(question)
    if not wanted:
        return 0.0
    joined = " ".join(wanted)
    best = 0.0
    for sentence in re.split(r"(?<=[.?!])\s+", turn_text):
        tokens = _tokens(sentence)
        if not tokens:
            continue
        ratio = SequenceMatcher(None, joined, " ".join(tokens)).ratio()
        overlap = len(set(wanted) & set(tokens)) / len(set(wanted))
        best = max(best, ratio, overlap)
    return best


def match_guide(turns: Sequence[LabelledTurn], moderator: str, guide: Sequence[str]) -> list[tuple[int, float] | None]:
    """For each guide question, (turn index, score) of its moderator turn, or None.

    The order-preserving matching with the highest total score, among pairs that reach
    ``GUIDE_THRESHOLD`` (a weighted longest common subsequence).
    """
    candidates = [i for i, turn in enumerate(turns) if turn.label == moderator]
    scores = [[guide_score(question, turns[i].text) for i in candidates] for question in guide]
    rows, cols = len(guide), len(candidates)
    # best[q][c]: the highest total for guide[q:] matched into candidates[c:]. Built from the end,
    # so that reading it from the start takes the earliest of equally good turns.
    best = [[0.0] * (cols + 1) for _ in range(rows + 1)]
    for q in range(rows - 1, -1, -1):
        for c in range(cols - 1, -1, -1):
            take = best[q + 1][c + 1] + scores[q][c] if scores[q][c] >= GUIDE_THRESHOLD else -1.0
            best[q][c] = max(best[q + 1][c], best[q][c + 1], take)
    matches: list[tuple[int, float] | None] = [None] * rows
    q = c = 0
    while q < rows and c < cols:
        score = scores[q][c]
        if score >= GUIDE_THRESHOLD and best[q][c] == best[q + 1][c + 1] + score:
            matches[q] = (candidates[c], score)
            q, c = q + 1, c + 1
        elif best[q][c] == best[q][c + 1]:
            c += 1
        else:
            q += 1
    return matches


# -- tables and files -----------------------------------------------------------------------

PARTICIPATION_HEADER = [
    "label",
    "talk_time_s",
    "share_pct",
    "turns",
    "words",
    "mean_turn_s",
    "mean_turn_words",
    "first_start_s",
    "last_end_s",
    "first_line",
    "last_line",
]


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _participation_row(row: Participation) -> list[str]:
    return [
        str(row.label),
        _number(row.talk_time, 2),
        _number(row.share * 100, 1),
        str(row.turns),
        str(row.words),
        _number(row.mean_turn_seconds, 2),
        _number(row.mean_turn_words, 2),
        _number(row.first_start, 2),
        _number(row.last_end, 2),
        "" if row.first_line is None else str(row.first_line),
        "" if row.last_line is None else str(row.last_line),
    ]


def _participation_dict(row: Participation) -> dict:
    def rounded(value, digits):
        return None if value is None else round(value, digits)

    return {
        "label": row.label,
        "talk_time": round(row.talk_time, 3),
        "share": round(row.share, 4),
        "turns": row.turns,
        "words": row.words,
        "mean_turn_seconds": rounded(row.mean_turn_seconds, 3),
        "mean_turn_words": rounded(row.mean_turn_words, 3),
        "first_start": rounded(row.first_start, 3),
        "last_end": rounded(row.last_end, 3),
        "first_line": row.first_line,
        "last_line": row.last_line,
    }


def _transitions_dict(table: Transitions) -> dict:
    return {"labels": list(table.labels), "counts": [list(row) for row in table.counts]}


def _csv(rows: Sequence[Sequence[str]]) -> str:
    """As the CSV export writes them: UTF-8 with a byte-order mark (Excel shows æøå), RFC 4180."""
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return BOM + buffer.getvalue()


def tables(report: Report) -> dict[str, str]:
    """File name → CSV text, one per table."""
    labels = [str(label) for label in report.labels]
    questions = [["question", "wording", "score", "start_s", "end_s", "first_line", "last_line", "turns"]]
    by_question = [["question", *PARTICIPATION_HEADER]]
    transitions_by_question = [["question", "from", *labels]]
    for segment in report.segments:
        questions.append(
            [
                str(segment.number),
                segment.question or "",
                _number(segment.score, 3),
                _number(segment.start, 2),
                _number(segment.end, 2),
                str(segment.first_line),
                str(segment.last_line),
                str(len(segment.turns)),
            ]
        )
        by_question += [[str(segment.number), *_participation_row(row)] for row in segment.participation]
        transitions_by_question += [
            [str(segment.number), label, *map(str, row)] for label, row in zip(labels, segment.transitions.counts)
        ]
    return {
        "participation.csv": _csv([PARTICIPATION_HEADER, *map(_participation_row, report.participation)]),
        "questions.csv": _csv(questions),
        "participation_by_question.csv": _csv(by_question),
        "transitions.csv": _csv(
            [["from", *labels], *([label, *map(str, row)] for label, row in zip(labels, report.transitions.counts))]
        ),
        "transitions_by_question.csv": _csv(transitions_by_question),
    }


def summary(report: Report) -> list[str]:
    """Plain-text lines for the terminal: participation overall and the question segments."""
    out = [f"{'label':<6}{'talk':>9}{'share':>8}{'turns':>7}{'words':>7}{'first line':>12}"]
    for row in report.participation:
        first = "" if row.first_line is None else str(row.first_line)
        out.append(
            f"{str(row.label):<6}{row.talk_time:>8.1f}s{row.share * 100:>7.1f}%{row.turns:>7}{row.words:>7}{first:>12}"
        )
    out.append("")
    for segment in report.segments:
        name = f"Q{segment.number}" if segment.number else "before Q1"
        wording = (segment.question or "")[:60]
        out.append(f"{name:<10} lines {segment.first_line}–{segment.last_line}, {len(segment.turns)} turns  {wording}")
    return out
