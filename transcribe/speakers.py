"""From anonymous speaker clusters to the study's labels: ``M``, informant numbers, observers.

Diarisation names clusters ``SPEAKER_00``, ``SPEAKER_01`` … in no useful order. A focus group
has one moderator, a known range of informant numbers (1–6 for group 1, 7–12 for group 2) and
sometimes silent-ish observers. The proposal here is a starting point the researcher checks and
corrects with a map file (TOML, ``SPEAKER_03 = 4``), which is checked here before it is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, SessionError
from .files import read_toml, toml_value
from .labels import OBSERVER, format_informants
from .records import MODERATOR, Label, Utterance
from .review.edits import review_of, reviewed_utterances
from .session import Session
from .timecode import clock

MAX_INFORMANTS = 100  # far above any focus group; a larger range is a typing error, not a group


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
        if last - first + 1 + len(numbers) > MAX_INFORMANTS:
            raise InputError(
                f"--informants '{text}' names more than {MAX_INFORMANTS} informants. "
                "Give the numbers of this group only, like 1-6 or 7-12."
            )
        numbers.extend(range(first, last + 1))
    if len(set(numbers)) != len(numbers):
        raise InputError(f"--informants '{text}' names an informant twice.")
    return numbers


def stats(utterances: Sequence[Utterance]) -> list[SpeakerStats]:
    """Talk time, turns, words and questions (utterances that ask, see is_question) per cluster, in order of
    first appearance. Words suspected of being invented (asr.guard) are not counted."""
    table: dict[str, dict] = {}
    for utterance in utterances:
        row = table.setdefault(
            utterance.speaker,
            {"talk_time": 0.0, "turns": 0, "words": 0, "questions": 0, "first_start": utterance.start},
        )
        heard = [word.text for word in utterance.words if word.suspect is None]
        row["talk_time"] += utterance.end - utterance.start
        row["turns"] += 1
        row["words"] += len(heard)
        row["questions"] += is_question(" ".join(heard))
    return [
        SpeakerStats(speaker=name, **row) for name, row in sorted(table.items(), key=lambda kv: kv[1]["first_start"])
    ]


# -- the moderator, found from the conversation's structure ----------------------------------------
#
# Words are one signal among several: ASR may write no '?' at all (noisy rooms, weak models), and a
# brief moderator beside a talkative informant has fewer turns and less talk time. What a
# moderator does regardless: opens the session, each question segment and the close; speaks
# between two different informants (A → M → B); hands the turn on with a short turn. Each part is
# the cluster's share of all such events in the session (parts of all clusters sum to 1, or to 0
# when the session has no such event), and the score is their weighted sum.
#
# The weights were chosen on the development part of the focus-group sets only (make_fixtures.py
# --conditions dev; docs/diarization.md): of the weightings that found the most moderators (22 of
# 24 scorings, with and without '?'), the one whose worst session came closest. Those sets are
# read English speech, so their '?' are noise and cannot weigh questions: that weight is kept
# small, and a handful of questions counts for less (QUESTIONS_FULL), so a few stray '?' cannot
# outvote the structure. Bridges earned no weight of their own beside hands_on on the development
# sets (0 and 0.05 did equally well).

MIN_TURN = 1.0  # s; shorter utterances ("mm", "ja", a cough) are back-channels, not turns
SEGMENT_GAP = 2.0  # s of silence before a turn that opens a new question segment
HAND_ON = 4.0  # s; a bridging turn at most this long hands the turn on
QUESTION_WORDS = ("hva", "hvordan", "hvorfor", "hvem", "hvor", "når", "kan du", "er det", "har du", "har dere")
WEIGHTS = {"opens": 0.40, "bridges": 0.05, "hands_on": 0.25, "questions": 0.10, "turns": 0.20}
QUESTIONS_FULL = 10  # questions in a session before their part has its full weight
CLOSE_CALL = 0.10  # the best two moderator scores closer than this: say so, show both


@dataclass(frozen=True)
class ModeratorScore:
    """How much a cluster behaves like the moderator: ``score`` = sum of WEIGHTS × ``parts`` (questions
    weighed down when the session has fewer than QUESTIONS_FULL)."""

    speaker: str
    score: float
    parts: dict[str, float]

    def to_json(self) -> dict:
        return {"score": round(self.score, 3), "parts": {k: round(v, 3) for k, v in self.parts.items()}}


def is_question(text: str) -> bool:
    """Whisper wrote a '?', or the turn starts with a Norwegian question word."""
    start = re.sub(r"^[^\w]+", "", text.casefold())
    return "?" in text or any(re.match(rf"{word}\b", start) for word in QUESTION_WORDS)


def _turns(utterances: Sequence[Utterance]) -> list[dict]:
    """The turn-taking: utterances of MIN_TURN or longer, consecutive ones of one speaker joined."""
    turns: list[dict] = []
    for utterance in utterances:
        if utterance.end - utterance.start < MIN_TURN:
            continue
        if turns and turns[-1]["speaker"] == utterance.speaker:
            turns[-1]["end"] = max(turns[-1]["end"], utterance.end)
            continue
        gap = utterance.start - turns[-1]["end"] if turns else float("inf")
        turns.append({"speaker": utterance.speaker, "start": utterance.start, "end": utterance.end, "gap": gap})
    return turns


def moderator_scores(utterances: Sequence[Utterance]) -> list[ModeratorScore]:
    """Every cluster's moderator score, highest first (ties: who spoke first)."""
    table = stats(utterances)
    counts = {name: {row.speaker: 0 for row in table} for name in WEIGHTS}
    counts["questions"] = {row.speaker: row.questions for row in table}
    turns = _turns(utterances)
    for index, turn in enumerate(turns):
        who = turn["speaker"]
        counts["turns"][who] += 1
        last = index == len(turns) - 1
        counts["opens"][who] += (turn["gap"] >= SEGMENT_GAP) + last  # the session's start has an infinite gap
        if 0 < index and not last and turns[index - 1]["speaker"] != turns[index + 1]["speaker"]:
            counts["bridges"][who] += 1
            counts["hands_on"][who] += turn["end"] - turn["start"] <= HAND_ON
    totals = {name: sum(per.values()) for name, per in counts.items()}
    weights = {**WEIGHTS, "questions": WEIGHTS["questions"] * min(1.0, totals["questions"] / QUESTIONS_FULL)}
    scores = []
    for row in table:
        parts = {name: counts[name][row.speaker] / totals[name] if totals[name] else 0.0 for name in WEIGHTS}
        scores.append(ModeratorScore(row.speaker, sum(weights[name] * parts[name] for name in WEIGHTS), parts))
    return sorted(scores, key=lambda s: -s.score)  # stable: stats() is in order of first speaking


def close_call(scores: Sequence[ModeratorScore]) -> tuple[ModeratorScore, ModeratorScore] | None:
    """The best two candidates when they are within CLOSE_CALL of each other."""
    if len(scores) >= 2 and scores[0].score - scores[1].score < CLOSE_CALL:
        return scores[0], scores[1]
    return None


def moderator_doubt(utterances: Sequence[Utterance], folder: str | Path) -> str | None:
    """One line for ``run`` when the proposed moderator was a close call."""
    close = close_call(moderator_scores(utterances))
    if close is None:
        return None
    best, runner_up = close
    return (
        f"The moderator is a close call: {best.speaker} (score {best.score:.2f}) or {runner_up.speaker} "
        f"({runner_up.score:.2f}); {best.speaker} was taken. Check with 'transcribe speakers {folder}', "
        f"and if it is the other, export again with --moderator {runner_up.speaker}."
    )


def propose_map(
    utterances: Sequence[Utterance],
    informants: Sequence[int],
    moderator: str = MODERATOR,
    moderator_cluster: str | None = None,
) -> dict[str, Label]:
    """A first map for the researcher to check.

    Moderator: ``moderator_cluster`` when the researcher names it, else the cluster with the
    highest moderator score (see moderator_scores). Informants: numbered in order of first
    speaking. Clusters beyond the informant count with the least talk time become observers
    (O1, O2 … in order of first speaking).
    """
    table = stats(utterances)
    if not table:
        return {}
    if moderator_cluster is None:
        moderator_cluster = moderator_scores(utterances)[0].speaker
    elif moderator_cluster not in {row.speaker for row in table}:
        raise InputError(
            f"--moderator {moderator_cluster} is not a cluster that speaks in this session "
            f"(they are {', '.join(row.speaker for row in table)}); see 'transcribe speakers'."
        )
    others = [row for row in table if row.speaker != moderator_cluster]
    by_talk = sorted(others, key=lambda row: -row.talk_time)
    kept = {row.speaker for row in by_talk[: len(informants)]}
    mapping: dict[str, Label] = {moderator_cluster: moderator}
    numbers = iter(informants)
    observer = 0
    for row in others:  # in order of first appearance
        if row.speaker in kept:
            mapping[row.speaker] = next(numbers)
        else:
            observer += 1
            mapping[row.speaker] = f"O{observer}"
    return mapping


# -- the map file the researcher edits ---------------------------------------------------------


def check_moderator_label(label: str) -> str:
    """The moderator's label must read as a speaker name in every format, and never as another label."""
    if (
        not label
        or label != label.strip()
        or len(label) > 30
        or not label.isprintable()
        or label.isdigit()
        or OBSERVER.fullmatch(label.upper())
        or any(c in label for c in ":<>&")
    ):
        raise InputError(
            f"--moderator-label '{label}' cannot be used. Write a short name such as M or Moderator: "
            "not only digits, not like O1 (that is an observer), and without : < > or &."
        )
    return label


def relabel_moderator(mapping: dict[str, Label], old: str, new: str) -> dict[str, Label]:
    return {cluster: (new if label == old else label) for cluster, label in mapping.items()}


def read_map(path: str | Path) -> dict:
    """A map file (TOML, ``SPEAKER_03 = 4``) as written; refused if it cannot be read as TOML."""
    return read_toml(path, "map file", "SPEAKER_03 = 4")


def load_map(path: str | Path, session: Session, merge: bool = False) -> dict[str, Label]:
    """Read a map file and check it against ``session``."""
    return check_map(read_map(path), session, str(path), merge)


def check_map(data: dict, session, source: str, merge: bool = False) -> dict[str, Label]:
    """Every cluster that speaks gets exactly one valid label; refuse anything else, naming the cluster.

    Two clusters may share a label only with ``merge`` (one person the diarisation split in two).
    """
    spoken = list(dict.fromkeys(u.speaker for u in session.utterances))
    known = set(spoken) | ({turn.speaker for turn in session.diarization.turns} if session.diarization else set())
    moderator = session.moderator_label
    informants = format_informants(session.informants)
    problems = []
    mapping: dict[str, Label] = {}
    for cluster, value in data.items():
        label = _parse_label(value, moderator)
        if cluster not in known:
            problems.append(
                f"{cluster} is not a speaker cluster of session '{session.name}' "
                f"(its clusters are {', '.join(sorted(known))})"
            )
        elif isinstance(value, str) and value.strip().isdigit():
            problems.append(
                f'{cluster} = "{value}" is text; write informant numbers without quotes: {cluster} = {value.strip()}'
            )
        elif label is None:
            problems.append(
                f'{cluster} = {toml_value(value)} is not a label; write "{moderator}" for the moderator, '
                f'an informant number ({informants}), or "O1", "O2" … for observers'
            )
        elif isinstance(label, int) and label not in session.informants:
            problems.append(f"{cluster} = {label} is outside this session's informants ({informants})")
        else:
            mapping[cluster] = label
    unlabelled = [cluster for cluster in spoken if cluster not in data]
    if unlabelled:
        problems.append(
            f"{', '.join(unlabelled)} {'has' if len(unlabelled) == 1 else 'have'} no label "
            "(every cluster that speaks needs one; 'transcribe speakers --template' lists them all)"
        )
    if not merge:
        clusters_of: dict[Label, list[str]] = {}
        for cluster, label in mapping.items():
            clusters_of.setdefault(label, []).append(cluster)
        for label, clusters in clusters_of.items():
            if len(clusters) > 1:
                problems.append(
                    f"{' and '.join(clusters)} are all labelled {label} "
                    "(if they are one person split in two, add --merge)"
                )
    if problems:
        raise InputError(f"The map file {source} cannot be used: {'; '.join(problems)}.")
    order = {cluster: index for index, cluster in enumerate(spoken)}
    return dict(sorted(mapping.items(), key=lambda item: order.get(item[0], len(order))))


def map_template(session: Session) -> str:
    """A map file to edit: each cluster's current label, with its evidence as a comment."""
    mapping = session.speaker_map or propose_map(session.utterances, session.informants, session.moderator_label)
    first: dict[str, Utterance] = {}
    for utterance in session.utterances:
        first.setdefault(utterance.speaker, utterance)
    lines = [
        f"# Speakers of session '{session.name}'. Edit the labels, then apply them with",
        "#   transcribe export SESSION_FOLDER --map THIS_FILE",
        f'# Labels: "{session.moderator_label}" = moderator, {format_informants(session.informants)} = informants, '
        '"O1", "O2" … = observers.',
        "# Two clusters with one label are one person split in two: add --merge.",
        "",
    ]
    alike = sounds_like(session)
    for row in stats(session.utterances):
        value = json.dumps(mapping.get(row.speaker, "?"), ensure_ascii=False)
        opening = first[row.speaker]
        excerpt = opening.text if len(opening.text) <= 60 else opening.text[:60] + "…"
        lines.append(
            f"{row.speaker} = {value}  # {row.talk_time:.0f} s, {row.turns} turns, {row.questions} questions; "
            f"first at {clock(opening.start)}: {excerpt}"
        )
        lines += [
            f"#   sounds like {other} (voice similarity {similar:.2f}): if one person, give both one label and add --merge"
            for other, similar in alike.get(row.speaker, [])
        ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Evidence:
    """``transcribe speakers``: each cluster with its label, its moderator score and what it was heard saying."""

    rows: tuple[dict, ...]
    close_call: tuple[str, str] | None = None  # the two moderator candidates, when their scores are close

    def to_json(self) -> list[dict]:
        return list(self.rows)

    def lines(self) -> list[str]:
        lines = []
        if self.close_call:
            first, second = self.close_call
            lines.append(
                f"The moderator is a close call between {first} and {second}: compare their evidence below "
                f"(export --moderator {second} if it is {second})."
            )
        for row in self.rows:
            score = row["moderator"]
            parts = ", ".join(f"{name} {value:.2f}" for name, value in score["parts"].items())
            lines.append(
                f"{row['speaker']} → {row['label']}: {row['talk_time']:.0f} s, {row['turns']} turns, "
                f"{row['words']} words, {row['questions']} questions, first at {clock(row['first_start'])}"
            )
            lines.append(f"    moderator score {score['score']:.2f} ({parts})")
            if row["relabelled_turns"]:
                lines.append(
                    f"    {row['relabelled_turns']} of its turns have another label, set in 'transcribe review'"
                )
            lines += [
                f"    sounds like {other['speaker']} (voice similarity {other['similarity']:.2f}): "
                "if one person, give both one label and add --merge"
                for other in row["sounds_like"]
            ]
            lines += [f"    [{clock(line['start'])}] {line['text'][:100]}" for line in row["first_lines"]]
        return lines


def evidence(session: Session) -> Evidence:
    """Talk time, turns, words, questions, moderator score, first lines and voice look-alikes of each
    cluster, from the transcript as corrected in ``transcribe review``; turns the review gave another
    label are counted."""
    if session.utterances is None:
        raise SessionError(f"Session '{session.name}' has no transcript yet. Run 'transcribe run' first.")
    alike = sounds_like(session)
    utterances = [utterance for utterance, _ in reviewed_utterances(session)]
    relabelled = [turn.cluster for turn in review_of(session).turns if turn.label is not None]
    scores = moderator_scores(utterances)
    score_of = {score.speaker: score for score in scores}
    close = close_call(scores)
    rows = []
    for row in stats(utterances):
        first = [u for u in utterances if u.speaker == row.speaker][:3]
        rows.append(
            {
                "speaker": row.speaker,
                "label": (session.speaker_map or {}).get(row.speaker),
                "talk_time": round(row.talk_time, 1),
                "turns": row.turns,
                "words": row.words,
                "questions": row.questions,
                "first_start": round(row.first_start, 2),
                "moderator": {
                    **score_of[row.speaker].to_json(),
                    "close_call": bool(close) and row.speaker in {c.speaker for c in close},
                },
                "first_lines": [{"start": round(u.start, 2), "text": u.text} for u in first],
                "sounds_like": [
                    {"speaker": other, "similarity": similar} for other, similar in alike.get(row.speaker, [])
                ],
                "relabelled_turns": relabelled.count(row.speaker),
            }
        )
    return Evidence(tuple(rows), (close[0].speaker, close[1].speaker) if close else None)


def sounds_like(session: Session) -> dict[str, list[tuple[str, float]]]:
    """Speaker -> [(other speaker, voice similarity), …] for the pairs diarisation found alike,
    perhaps one person split in two clusters (resegment.ALIKE), most alike first."""
    found: dict[str, list[tuple[str, float]]] = {}
    for a, b, similar in session.diarization.alike if session.diarization else ():
        found.setdefault(a, []).append((b, similar))
        found.setdefault(b, []).append((a, similar))
    return {speaker: sorted(pairs, key=lambda pair: -pair[1]) for speaker, pairs in found.items()}


def _parse_label(value, moderator: str) -> Label | None:
    if isinstance(value, bool):  # TOML true/false are not informant numbers
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.casefold() in {MODERATOR.casefold(), moderator.casefold()}:
            return moderator
        if OBSERVER.fullmatch(text.upper()):
            return text.upper()
    return None
