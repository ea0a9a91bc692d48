"""The review layer: a person's corrections, kept in session.json over the untouched machine output.

Whisper's words (``session.transcription``) and align's utterances (``session.utterances``) stay
exactly as the machines made them. The review is the transcript as the person wants it: a list
of turns in order, each with a stable id, its cluster, an optional label that overrides the
speaker map for that turn, and a reviewed flag. A turn nobody edited refers to a range of the
machine words; once its text is edited it holds its own words. Edited words keep sensible
times: the new text is aligned to the old words (difflib), unchanged words keep their time and
probability, new words get times spread over the stretch they replace and probability None (a
person wrote them, not Whisper).

Every change is pushed on ``history`` with the turns it replaced, so the last change can be
undone, and the speaker map before it when it changed the map. Everything here is a pure
function from one ``Review`` to the next; the server saves each result at once.

In session.json (``review``)::

    {"format": "transcribe.review/1", "basis": "<sha256 of the machine words>", "next_id": 42,
     "changed": 17,
     "turns": [{"id": 1, "cluster": "SPEAKER_00", "label": null, "reviewed": false,
                "start": 0.52, "end": 4.1, "span": [0, 12]},
               {"id": 2, …, "span": null, "words": [[4.8, 5.1, "For", 0.93], [5.1, 5.3, "meg", null]]}],
     "history": [{"action": "text", "time": "…", "revision": 16, "index": 1, "count": 1,
                  "before": [<turn>], "speaker_map": null}]}

``changed`` is the session revision the last change (or undo) was applied to: exports written
from an older revision do not carry it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from difflib import SequenceMatcher

from ..errors import InputError, SessionError
from ..labels import OBSERVER, format_informants
from ..records import Label, Utterance, Word

FORMAT = "transcribe.review/1"


@dataclass(frozen=True)
class ReviewTurn:
    id: int
    cluster: str  # the diarisation cluster the turn came from (a merge keeps the earlier turn's)
    start: float
    end: float
    words: tuple[Word, ...]  # probability None for a word a person wrote
    span: tuple[int, int] | None  # [first, last) of the machine words when ``words`` are exactly those
    label: Label | None = None  # None: the speaker map's label for ``cluster``
    reviewed: bool = False

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)

    @property
    def edited(self) -> bool:
        return self.span is None


@dataclass(frozen=True)
class Change:
    action: (
        str  # "text", "label", "reviewed" (joined by "+" when one request did several), "split", "merge", "speakers"
    )
    time: str
    revision: int  # the session revision it was applied to
    index: int  # position of the first turn it replaced
    before: tuple[ReviewTurn, ...]  # the turns it replaced
    count: int  # how many turns took their place
    speaker_map: dict[str, Label] | None = None  # the map before a "speakers" change


@dataclass(frozen=True)
class Review:
    turns: tuple[ReviewTurn, ...]
    basis: str  # sha256 of the machine words the spans refer to
    next_id: int
    history: tuple[Change, ...] = ()
    changed: int | None = None  # the session revision the last change or undo was applied to

    def turn(self, turn_id: int) -> tuple[int, ReviewTurn]:
        for index, turn in enumerate(self.turns):
            if turn.id == turn_id:
                return index, turn
        raise LookupError(turn_id)

    def summary(self) -> dict:
        """What the purge receipt records: how far the review went (never the text)."""
        spoken = [turn for turn in self.turns if turn.words]
        return {
            "turns": len(spoken),
            "reviewed": sum(1 for turn in spoken if turn.reviewed),
            "edited": sum(1 for turn in spoken if turn.edited),
            "changes": len(self.history),
        }

    # -- session.json ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "basis": self.basis,
            "next_id": self.next_id,
            "changed": self.changed,
            "turns": [_turn_to_dict(turn) for turn in self.turns],
            "history": [_change_to_dict(change) for change in self.history],
        }

    @classmethod
    def from_dict(cls, data: dict, words: Sequence[Word]) -> Review:
        if data.get("format") != FORMAT:
            raise ValueError(f"review format {data.get('format')!r}, this version reads {FORMAT}")
        if data["basis"] != basis(words):
            raise SessionError(
                "The review saved in session.json was made on another transcription of this session (it was "
                "transcribed again since), so its corrections no longer fit the words. Keep session.json aside, "
                'remove its "review" entry and review the new transcription again.'
            )
        return cls(
            turns=tuple(_turn_from_dict(row, words) for row in data["turns"]),
            basis=data["basis"],
            next_id=int(data["next_id"]),
            history=tuple(_change_from_dict(row, words) for row in data["history"]),
            changed=data.get("changed"),
        )


def basis(words: Sequence[Word]) -> str:
    rows = [[w.start, w.end, w.text, w.probability] for w in words]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode("utf-8")).hexdigest()


def begin(utterances: Sequence[Utterance], words: Sequence[Word]) -> Review:
    """The review before any change: one turn per utterance, each on its machine words."""
    turns, position = [], 0
    for number, utterance in enumerate(utterances, start=1):
        span = (position, position + len(utterance.words))
        position = span[1]
        turns.append(ReviewTurn(number, utterance.speaker, utterance.start, utterance.end, utterance.words, span))
    return Review(tuple(turns), basis(words), len(turns) + 1)


def review_of(session) -> Review:
    """The session's review, or the one it would begin with."""
    if session.utterances is None or session.speaker_map is None:
        raise SessionError(
            f"Session '{session.name}' has no finished transcript yet. Run 'transcribe run' to complete it."
        )
    return session.review or begin(session.utterances, session.transcription.words)


def label_of(turn: ReviewTurn, speaker_map: Mapping[str, Label]) -> Label:
    return turn.label if turn.label is not None else speaker_map.get(turn.cluster, turn.cluster)


def reviewed_utterances(session) -> list[tuple[Utterance, Label]]:
    """The transcript every export, report and matrix uses: the reviewed turns with their labels.

    A turn whose text was deleted is left out. Without a review these are the machine's
    utterances with the speaker map's labels.
    """
    review = review_of(session)
    turns = [(turn, heard_words(turn)) for turn in review.turns]
    return [
        (Utterance(turn.cluster, *_times(turn, words), words), label_of(turn, session.speaker_map))
        for turn, words in turns
        if words
    ]


def heard_words(turn: ReviewTurn) -> tuple[Word, ...]:
    """The turn's words as exported: in a turn nobody edited, without the words asr.guard suspects of
    being invented (they stay in session.json and on the review page); an edited turn's words are the
    person's and all count."""
    return tuple(word for word in turn.words if word.suspect is None) if turn.span is not None else turn.words


def _times(turn: ReviewTurn, words: tuple[Word, ...]) -> tuple[float, float]:
    if len(words) == len(turn.words):
        return turn.start, turn.end
    return words[0].start, words[-1].end


def doubtful(word: Word, below: float) -> bool:
    """Marked for a listener: suspected of being invented, or less probable than ``below``
    (asr.doubt_threshold of the session's model)."""
    return word.suspect is not None or (word.probability is not None and word.probability < below)


# -- labels ------------------------------------------------------------------------------------


def check_label(value, session) -> Label:
    """A label the session knows: its moderator label, one of its informants, or an observer O1, O2 …"""
    moderator = session.moderator_label
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool):
        if value in session.informants:
            return value
    elif isinstance(value, str):
        text = value.strip()
        if text.casefold() == moderator.casefold():
            return moderator
        if OBSERVER.fullmatch(text.upper()):
            return text.upper()
    raise InputError(
        f"{json.dumps(value, ensure_ascii=False)} is not a label of session '{session.name}': use "
        f"{moderator} for the moderator, an informant number ({format_informants(session.informants)}), "
        "or O1, O2 … for observers."
    )


def labels_allowed(session, review: Review) -> list[Label]:
    """What the page offers: the moderator, every informant, the observers in use and one more."""
    used = {label_of(turn, session.speaker_map) for turn in review.turns} | set(session.speaker_map.values())
    observers = sorted({int(label[1:]) for label in used if isinstance(label, str) and OBSERVER.fullmatch(label)})
    more = (observers[-1] if observers else 0) + 1
    return [session.moderator_label, *session.informants, *(f"O{n}" for n in [*observers, more])]


# -- changes -----------------------------------------------------------------------------------


KEEP = object()  # update(): leave this field as it is


def update(
    review: Review, turn_id: int, revision: int, *, text=KEEP, label=KEEP, reviewed=KEEP, mapped: Label | None = None
) -> Review:
    """Edit a turn's text, its label (None: back to the speaker map's ``mapped`` label) or its reviewed flag."""
    index, turn = review.turn(turn_id)
    actions, new = [], turn
    if text is not KEEP and text.split() != [word.text for word in heard_words(turn)]:
        actions.append("text")
        new = _with_words(new, retime(turn.words, text, turn.start, turn.end), None)
    if label is not KEEP:
        label = None if label == mapped else label
        if label != turn.label:
            actions.append("label")
            new = replace(new, label=label)
    if reviewed is not KEEP and bool(reviewed) != turn.reviewed:
        actions.append("reviewed")
        new = replace(new, reviewed=bool(reviewed))
    if not actions:
        return review
    return _change(review, "+".join(actions), revision, index, 1, (new,))


def split(review: Review, turn_id: int, word: int, revision: int) -> Review:
    """Split a turn before its word number ``word`` (0-based); the second part gets a new id."""
    index, turn = review.turn(turn_id)
    if not 0 < word < len(turn.words):
        raise InputError(
            f"Turn {turn_id} has {len(turn.words)} words; split it before word 1 to {len(turn.words) - 1} "
            "(counting from 0), so both parts keep a word."
        )
    first, second = turn.words[:word], turn.words[word:]
    spans = ((turn.span[0], turn.span[0] + word), (turn.span[0] + word, turn.span[1])) if turn.span else (None, None)
    parts = (_with_words(turn, first, spans[0]), _with_words(replace(turn, id=review.next_id), second, spans[1]))
    return replace(_change(review, "split", revision, index, 1, parts), next_id=review.next_id + 1)


def merge(review: Review, turn_id: int, revision: int) -> Review:
    """Join a turn to the one before it; the result keeps the earlier turn's id, cluster and label."""
    index, turn = review.turn(turn_id)
    if index == 0:
        raise InputError(f"Turn {turn_id} is the first turn; there is no turn before it to merge with.")
    before = review.turns[index - 1]
    span = None
    if before.span and turn.span and before.span[1] == turn.span[0]:
        span = (before.span[0], turn.span[1])
    elif before.span and not turn.words:
        span = before.span
    elif turn.span and not before.words:
        span = turn.span
    joined = replace(
        before,
        start=min(before.start, turn.start),
        end=max(before.end, turn.end),
        reviewed=before.reviewed and turn.reviewed,
    )
    joined = _with_words(joined, before.words + turn.words, span)
    return _change(review, "merge", revision, index - 1, 2, (joined,))


def map_changed(review: Review, old_map: Mapping[str, Label], revision: int) -> Review:
    """Record a change of the speaker map (kept in session.speaker_map), so it can be undone."""
    change = Change("speakers", _now(), revision, 0, (), 0, dict(old_map))
    return replace(review, history=review.history + (change,), changed=revision)


def undo(review: Review, revision: int) -> tuple[Review, Change]:
    """Take back the last change; the caller restores ``change.speaker_map`` when it holds one."""
    if not review.history:
        raise InputError("There is no change to undo.")
    change = review.history[-1]
    turns = review.turns[: change.index] + change.before + review.turns[change.index + change.count :]
    return replace(review, turns=turns, history=review.history[:-1], changed=revision), change


def _change(
    review: Review, action: str, revision: int, index: int, replaced: int, new: tuple[ReviewTurn, ...]
) -> Review:
    """Put ``new`` in place of ``replaced`` turns from ``index`` on, remembering them for undo."""
    change = Change(action, _now(), revision, index, review.turns[index : index + replaced], len(new))
    turns = review.turns[:index] + new + review.turns[index + replaced :]
    return replace(review, turns=turns, history=review.history + (change,), changed=revision)


def _with_words(turn: ReviewTurn, words: tuple[Word, ...], span: tuple[int, int] | None) -> ReviewTurn:
    """A turn's times follow its words, as align makes them; a turn emptied keeps where it was."""
    if not words:
        return replace(turn, words=(), span=None)
    return replace(turn, words=tuple(words), span=span, start=words[0].start, end=words[-1].end)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- retiming ----------------------------------------------------------------------------------


def retime(old: Sequence[Word], text: str, start: float, end: float) -> tuple[Word, ...]:
    """The words of ``text``, timed against ``old`` (the turn's words before the edit).

    Unchanged words keep their time and probability. A word replaced one for one takes the old
    word's time; other new words share the stretch they replace (or the gap they are inserted
    into) in proportion to their length. New words have probability None.
    """
    tokens = text.split()
    if not old:
        return _spread(tokens, start, end)
    out: list[Word] = []
    matcher = SequenceMatcher(None, [word.text for word in old], tokens, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":  # kept by the person, so no longer suspected of being invented
            out.extend(replace(word, suspect=None) for word in old[i1:i2])
        elif tag == "replace" and i2 - i1 == j2 - j1:
            out.extend(Word(word.start, word.end, token, None) for word, token in zip(old[i1:i2], tokens[j1:j2]))
        elif tag in ("replace", "insert"):
            if i1 < i2:
                low, high = old[i1].start, old[i2 - 1].end
            else:
                low = old[i1 - 1].end if i1 > 0 else old[0].start
                high = old[i1].start if i1 < len(old) else old[-1].end
            out.extend(_spread(tokens[j1:j2], low, max(low, high)))
    return tuple(out)


def _spread(tokens: Sequence[str], low: float, high: float) -> tuple[Word, ...]:
    total = sum(len(token) + 1 for token in tokens) or 1
    words, position = [], low
    for token in tokens:
        length = (high - low) * (len(token) + 1) / total
        words.append(Word(round(position, 3), round(position + length, 3), token, None))
        position += length
    return tuple(words)


# -- (de)serialisation -------------------------------------------------------------------------


def _turn_to_dict(turn: ReviewTurn) -> dict:
    row = {
        "id": turn.id,
        "cluster": turn.cluster,
        "label": turn.label,
        "reviewed": turn.reviewed,
        "start": turn.start,
        "end": turn.end,
        "span": list(turn.span) if turn.span else None,
    }
    if turn.span is None:
        row["words"] = [[w.start, w.end, w.text, w.probability] for w in turn.words]
    return row


def _turn_from_dict(row: dict, words: Sequence[Word]) -> ReviewTurn:
    span = tuple(row["span"]) if row["span"] is not None else None
    own = span is None
    turn_words = (
        tuple(words[span[0] : span[1]])
        if not own
        else tuple(Word(float(s), float(e), str(t), None if p is None else float(p)) for s, e, t, p in row["words"])
    )
    return ReviewTurn(
        int(row["id"]),
        str(row["cluster"]),
        float(row["start"]),
        float(row["end"]),
        turn_words,
        span,
        row["label"],
        bool(row["reviewed"]),
    )


def _change_to_dict(change: Change) -> dict:
    return {
        "action": change.action,
        "time": change.time,
        "revision": change.revision,
        "index": change.index,
        "count": change.count,
        "before": [_turn_to_dict(turn) for turn in change.before],
        "speaker_map": change.speaker_map,
    }


def _change_from_dict(row: dict, words: Sequence[Word]) -> Change:
    return Change(
        row["action"],
        row["time"],
        int(row["revision"]),
        int(row["index"]),
        tuple(_turn_from_dict(turn, words) for turn in row["before"]),
        int(row["count"]),
        row["speaker_map"],
    )
