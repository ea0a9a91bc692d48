"""Resegment: give each moment of one-voice speech to the voice it sounds most like.

pyannote's pipeline (diarize.py) decides who speaks per *local speaker*: the segmentation model
finds up to three voices in each 10 s window, and each of them is clustered as a whole. When a
window holds more than three people (a focus group's quick exchanges and back-channels) or two
similar voices, one local speaker covers two people and carries one label across the change.
On the focus-group development set that was most of the error left: even with every local
speaker given its true person (oracle clustering) DER stayed at 6.6 %.

This stage looks again at the speech that pyannote gave to one speaker at a time (the exclusive
turns), in short overlapping windows (``window`` seconds every ``hop`` seconds) embedded with
the pipeline's own speaker-embedding model:

1. each speaker's voice is the mean of the windows lying (almost) wholly inside their turns;
2. each 10 ms frame goes to the voice that the windows covering it resemble most on average
   (cosine similarity);
3. a change shorter than ``min_change`` seconds is undone: one odd window is not a new turn;
4. with ``iterations`` > 1 the voices are re-estimated from the new labels and 2-3 repeated.

5. speakers whose voices are at least ``merge`` alike (cosine) become one, most alike pair first,
   each joined voice the mean of all its windows again, and step 2-3 runs once more.

Overlapped speech keeps pyannote's labels (under the joined name). The stage never adds a
speaker. A speaker with no window of their own (heard only in snippets shorter than a window)
keeps their speech, attracts none and joins no one.

Why join at all, when a wrong merge is the one error a researcher's speaker map cannot undo?
Clustering 10 s windows splits people: on the 24 development and held-out focus groups the
clusters of one person had voices 0.55-0.9 alike after this stage, the clusters of two different
people at most 0.43 (0.51 for a 1 s cluster). Joining at ``MERGE`` = 0.6 lets clustering run at
a lower threshold, which finds the quiet informants it used to fold into others (see
diarize.py), and joins the splits that threshold makes. Pairs left between ``ALIKE`` and the
merge threshold are reported (``alike``), to be joined by hand with ``--merge`` if they are one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .errors import InputError
from .records import SAMPLE_RATE, Turn

FRAMES_PER_SECOND = 100  # label resolution: 10 ms
BRIDGE_SECONDS = 0.3  # windows run across pauses shorter than this
SHORTEST_SECONDS = 0.5  # a stretch of speech shorter than this gets no window of its own
INSIDE = 0.9  # share of a window's frames that must carry one speaker for it to shape their voice
# Two speakers whose voices are at least this similar (cosine) are reported as perhaps one person
# split in two (``alike``; shown by `transcribe speakers`, never merged automatically). On the
# development sets the one split person scored 0.66, distinct people at most 0.49, except one
# pair in a 30 s AMI clip at 0.58.
ALIKE = 0.55
MERGE = 0.6  # speakers at least this alike are joined (the module's docstring says why)


def check(window: float, hop: float, min_change: float, iterations: int, merge: float = 0) -> None:
    """Refuse settings that cannot work, in words (window 0 turns the stage off, merge 0 the joining)."""
    if not 0 <= merge <= 1:
        raise InputError(f"resegmentation_merge must be 0 (never join) or a similarity up to 1, not {merge}.")
    if window == 0:
        return
    if not SHORTEST_SECONDS <= window <= 10:
        raise InputError(f"resegmentation_window must be 0 (off) or {SHORTEST_SECONDS}-10 seconds, not {window}.")
    if not 0 < hop <= window:
        raise InputError(f"resegmentation_hop must be above 0 and at most the window ({window} s), not {hop}.")
    if min_change < 0:
        raise InputError(f"resegmentation_min_change must be 0 seconds or more, not {min_change}.")
    if int(iterations) != iterations or iterations < 1:
        raise InputError(f"resegmentation_iterations must be a whole number from 1, not {iterations}.")


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """The (start, end) index pairs of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def speech_windows(speech: np.ndarray, window: int, hop: int, bridge: int, shortest: int) -> list[tuple[int, int]]:
    """Windows (start, end frame) over the speech: ``window`` frames every ``hop``, the last one of
    each stretch flush with its end; a stretch shorter than a window is one window of its own,
    one shorter than ``shortest`` none. Pauses shorter than ``bridge`` do not end a stretch."""
    bridged = speech.copy()
    for start, end in runs(~speech):
        if end - start < bridge and start > 0 and end < len(speech):
            bridged[start:end] = True
    found = []
    for start, end in runs(bridged):
        if end - start < shortest:
            continue
        if end - start <= window:
            found.append((start, end))
            continue
        found.extend((at, at + window) for at in range(start, end - window, hop))
        found.append((end - window, end))
    return found


def relabel(
    labels: np.ndarray,
    windows: Sequence[tuple[int, int]],
    embeddings: np.ndarray,
    num_speakers: int,
    min_change: int,
    iterations: int,
) -> np.ndarray:
    """New frame labels (speaker index, -1 for no single speaker) from window embeddings.

    ``labels``: per frame, the speaker index pyannote gave it, -1 where no one or several speak.
    ``embeddings``: one row per window, any scale (NaN rows are ignored).
    """
    labels = labels.copy()
    windows, unit = _usable(windows, embeddings)
    if not windows or num_speakers < 2:
        return labels
    speech = labels >= 0
    for _ in range(int(iterations)):
        voices, known = _voices(labels, windows, unit, num_speakers)
        if known.sum() < 2:
            break
        similarity = unit @ voices.T  # (windows, speakers)
        total = np.zeros((len(labels), num_speakers), dtype=np.float32)
        count = np.zeros(len(labels), dtype=np.int32)
        for (start, end), row in zip(windows, similarity):
            total[start:end] += row
            count[start:end] += 1
        # frames of a speaker without a voice of their own stay theirs; no frame moves to them
        movable = speech & (count > 0) & known[np.maximum(labels, 0)]
        total[:, ~known] = -np.inf
        best = np.argmax(total, axis=1)
        new = labels.copy()
        new[movable] = best[movable]
        for start, end in runs(new != labels):
            if end - start < min_change:
                new[start:end] = labels[start:end]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def joined(
    labels: np.ndarray,
    windows: Sequence[tuple[int, int]],
    embeddings: np.ndarray,
    num_speakers: int,
    threshold: float,
    keep: int = 1,
) -> tuple[np.ndarray, dict[int, int]]:
    """(labels, joins): speakers whose voices (as in ``relabel``) are at least ``threshold`` alike
    joined, the most alike pair first and each joined voice made again from all its windows,
    until no pair is that alike or ``keep`` speakers are left. ``joins`` maps each speaker joined
    away to the one that took their speech (the lower index). ``threshold`` 0 joins no one."""
    labels, joins = labels.copy(), {}
    windows, unit = _usable(windows, embeddings)
    if not windows or not threshold:
        return labels, joins
    left = len(np.unique(labels[labels >= 0]))
    while left > keep:
        voices, known = _voices(labels, windows, unit, num_speakers)
        similarity = voices @ voices.T
        similarity[~known, :] = similarity[:, ~known] = -np.inf
        np.fill_diagonal(similarity, -np.inf)
        a, b = np.unravel_index(np.argmax(similarity), similarity.shape)
        if similarity[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        labels[labels == b] = a
        joins = {gone: (a if into == b else into) for gone, into in joins.items()}
        joins[int(b)] = int(a)
        left -= 1
    return labels, joins


def alike(
    labels: np.ndarray,
    windows: Sequence[tuple[int, int]],
    embeddings: np.ndarray,
    speakers: Sequence[str],
    threshold: float = ALIKE,
) -> tuple[tuple[str, str, float], ...]:
    """Pairs of speakers whose voices (as in ``relabel``) have a cosine similarity of at least
    ``threshold``: (speaker, speaker, similarity to two decimals), most alike first."""
    windows, unit = _usable(windows, embeddings)
    if not windows:
        return ()
    voices, known = _voices(labels, windows, unit, len(speakers))
    similarity = voices @ voices.T
    pairs = [
        (speakers[a], speakers[b], round(float(similarity[a, b]), 2))
        for a in range(len(speakers))
        for b in range(a + 1, len(speakers))
        if known[a] and known[b] and similarity[a, b] >= threshold
    ]
    return tuple(sorted(pairs, key=lambda pair: -pair[2]))


def _usable(windows, embeddings) -> tuple[list[tuple[int, int]], np.ndarray]:
    """The windows with an embedding (NaN rows dropped) and their embeddings at unit length."""
    keep = ~np.isnan(embeddings).any(axis=1)
    unit = embeddings[keep] / np.maximum(np.linalg.norm(embeddings[keep], axis=1, keepdims=True), 1e-12)
    return [w for w, ok in zip(windows, keep) if ok], unit


def _voices(labels, windows, unit, num_speakers) -> tuple[np.ndarray, np.ndarray]:
    """Each speaker's voice, the unit-length mean of the windows they own; and whether they own any."""
    voices, known = np.zeros((num_speakers, unit.shape[1])), np.zeros(num_speakers, dtype=bool)
    owner = np.array([_owner(labels[start:end], num_speakers) for start, end in windows])
    for k in range(num_speakers):
        if np.any(owner == k):
            voices[k] = unit[owner == k].mean(axis=0)
            known[k] = True
    return voices / np.maximum(np.linalg.norm(voices, axis=1, keepdims=True), 1e-12), known


def _owner(frames: np.ndarray, num_speakers: int) -> int:
    """The speaker who holds at least INSIDE of a window's frames, else -1."""
    held = np.bincount(frames[frames >= 0], minlength=num_speakers)
    best = int(np.argmax(held))
    return best if held[best] >= INSIDE * len(frames) else -1


def resegment(
    turns,
    exclusive,
    audio: np.ndarray,
    embed: Callable,
    *,
    window: float,
    hop: float,
    min_change: float,
    iterations: int,
    merge: float = 0,
    keep: int = 1,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
):
    """Return (turns, exclusive, alike): the turns with one-voice speech relabelled (diarize.Turn
    tuples in and out), speakers at least ``merge`` alike joined while more than ``keep`` are left
    (the joined keep the first name), and the pairs of speakers who sound alike afterwards.

    ``embed``: (batch, 1, samples) float32 tensor -> (batch, dimension) numpy array, e.g. a pyannote
    pipeline's ``_embedding``.
    """
    speakers = sorted({t.speaker for t in exclusive})
    frames = int(np.ceil(len(audio) / SAMPLE_RATE * FRAMES_PER_SECOND))
    if len(speakers) < 2 or window == 0 or frames == 0:
        return turns, exclusive, ()
    index = {speaker: k for k, speaker in enumerate(speakers)}
    labels = np.full(frames, -1, dtype=np.int64)
    for turn in exclusive:
        labels[_frame(turn.start) : _frame(turn.end)] = index[turn.speaker]
    per_second = FRAMES_PER_SECOND
    windows = speech_windows(
        labels >= 0,
        round(window * per_second),
        max(1, round(hop * per_second)),
        round(BRIDGE_SECONDS * per_second),
        round(SHORTEST_SECONDS * per_second),
    )
    if not windows:
        return turns, exclusive, ()
    embeddings = _embeddings(audio, windows, embed, batch_size, progress)
    new = relabel(labels, windows, embeddings, len(speakers), round(min_change * per_second), iterations)
    new, joins = joined(new, windows, embeddings, len(speakers), merge, keep)
    if joins:
        new = relabel(new, windows, embeddings, len(speakers), round(min_change * per_second), 1)
    similar = alike(new, windows, embeddings, speakers)
    if np.array_equal(new, labels):
        return turns, exclusive, similar
    named = {speakers[gone]: speakers[into] for gone, into in joins.items()}

    # several voices at once: pyannote's labels stay
    several = np.zeros(frames, dtype=np.int64)
    for turn in turns:
        several[_frame(turn.start) : _frame(turn.end)] += 1
    several = several >= 2

    def seconds(frame: int) -> float:
        return round(min(frame / per_second, len(audio) / SAMPLE_RATE), 3)

    new_exclusive = [
        Turn(seconds(s), seconds(e), speaker) for k, speaker in enumerate(speakers) for s, e in runs(new == k)
    ]
    new_turns = [
        Turn(seconds(s), seconds(e), speaker)
        for k, speaker in enumerate(speakers)
        for s, e in runs((new == k) & ~several)
    ]
    overlapped: dict[str, np.ndarray] = {}  # per speaker (joined names), the frames of their turns
    for turn in turns:
        mask = overlapped.setdefault(named.get(turn.speaker, turn.speaker), np.zeros(frames, dtype=bool))
        mask[_frame(turn.start) : _frame(turn.end)] = True
    new_turns.extend(
        Turn(seconds(s), seconds(e), speaker) for speaker, mask in overlapped.items() for s, e in runs(mask & several)
    )
    order = lambda t: (t.start, t.end, t.speaker)  # noqa: E731
    return tuple(sorted(new_turns, key=order)), tuple(sorted(new_exclusive, key=order)), similar


def _frame(seconds: float) -> int:
    return int(round(seconds * FRAMES_PER_SECOND))


def _embeddings(audio, windows, embed, batch_size, progress) -> np.ndarray:
    """One embedding per window, batched by window length."""
    import torch

    step = SAMPLE_RATE // FRAMES_PER_SECOND
    by_length: dict[int, list[int]] = {}
    for i, (start, end) in enumerate(windows):
        by_length.setdefault(end - start, []).append(i)
    batches = [items[at : at + batch_size] for items in by_length.values() for at in range(0, len(items), batch_size)]
    found = None
    if progress:
        progress(0, len(batches))
    for done, items in enumerate(batches, 1):
        clips = [audio[windows[i][0] * step : windows[i][1] * step] for i in items]
        length = max(len(clip) for clip in clips)  # only the file's last window can come up short
        batch = np.zeros((len(clips), 1, length), dtype=np.float32)
        for row, clip in enumerate(clips):
            batch[row, 0, : len(clip)] = clip
        with torch.inference_mode():
            vectors = np.asarray(embed(torch.from_numpy(batch)), dtype=np.float32)
        if found is None:
            found = np.full((len(windows), vectors.shape[1]), np.nan, dtype=np.float32)
        found[items] = vectors
        if progress:
            progress(done, len(batches))
    return found
