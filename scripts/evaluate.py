#!/usr/bin/env python3
"""Score diarisation (and the words' speakers) on recordings with ground truth.

    python scripts/evaluate.py DIR [DIR ...] [--shared] [--json OUT] [--no-asr]
    python scripts/evaluate.py eval/focus --shared --threads 1 --threshold 0.6 0.65 0.7 --step 0.1 0.2

Runs the project's own pipeline (transcribe.audio -> transcribe.diarize -> transcribe.asr ->
transcribe.align, real models, nothing downloaded) over every recording found, and scores:

* DER: pyannote.metrics' DiarizationErrorRate over the whole file (or its .uem), overlapped
  speech included, with a collar of 0.25 s on EACH side of every reference boundary (pyannote's
  ``collar=0.5``, which is the total width of the no-score zone; the NIST "collar 0.25"), and
  strict (no collar). Summed over a set: total error time / total reference speech.
* speaker count: speakers found (after the pipeline drops fleeting ones) minus true speakers.
* attribution: the share of ASR words whose speaker (the word aligned to the exclusive turns by
  transcribe.align, as in a transcript) is right under the best one-to-one mapping between found
  and true labels (Hungarian assignment, maximising the words right; a found label left over
  from the mapping counts as wrong). A word's true speaker is the reference speaker at the
  word's midpoint. Words whose midpoint is in overlapped speech (two or more true speakers) or
  in no reference speech at all are EXCLUDED from the share and reported as counts.
* moderator right: the cluster the tool proposes as the moderator (transcribe.speakers.propose_map
  on the aligned utterances) is the found cluster that covers most of the true moderator's speech
  (the sidecar .json's "moderator"). Also scored with every '?' taken out of the words
  ("no '?'"), since ASR may write none; the margin is the best score minus the second best. With
  ``--no-asr`` it is scored on the diarisation's turns alone (structure, no text).
* WER: word error rate of the ASR words against a reference text, where one exists (lower-cased,
  punctuation removed). It does not depend on the diarisation settings.
* speed: CPU seconds (all threads of this process) per minute of audio for diarisation; ASR is
  timed separately. Settings that differ only after the embeddings (threshold, method, minimum
  cluster size, gap filling, resegmentation) reuse one embedding pass, so the speed column gives
  the full cost of the first run of that group (resegmentation windows are embedded once per
  window size and hop, and reused too).

A DIR holds recordings (.m4a .wav .flac .mp3 .ogg) each with a same-stem .rttm (ground truth),
optionally .uem (scored region), .txt or .stm (reference words) and .json (a sidecar; its
"language" says what language the speech is in, e.g. the sets from
``scripts/make_fixtures.py --devset``). ``--shared`` adds the real-voice sets in the shared speech
folder (pyannote's sample, AMI ES2004 excerpt, AMI debug clips; local evaluation only).

transcribe.asr only accepts Norwegian; for an English evaluation set the same Transcriber is run
with Whisper's "en" (evaluation only: the tool itself never transcribes in English). ASR words
are cached in ``--asr-cache`` (keyed by the audio's sha256, language and model), so a sweep of
diarisation settings transcribes each recording once.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import re
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # score this checkout's transcribe, installed or not
DEFAULT_SPEECH = REPO_ROOT.parent / "shared" / "speech"
DEFAULT_ASR_CACHE = REPO_ROOT / "eval" / "asr-cache"
AUDIO_SUFFIXES = (".m4a", ".wav", ".flac", ".mp3", ".ogg")
COLLAR = 0.5  # pyannote's total width: 0.25 s on each side of a reference boundary


# --------------------------------------------------------------------------- pure scoring


def speaker_count_error(found: int, true: int) -> int:
    """Speakers found minus true speakers (negative: people merged or missed)."""
    return found - true


def active_speakers(reference: list[tuple[float, float, str]], t: float) -> set[str]:
    """The reference speakers speaking at time ``t`` (segments are [start, end))."""
    return {speaker for start, end, speaker in reference if start <= t < end}


def best_mapping(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """One-to-one map found label -> true label maximising how many (found, true) pairs agree."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    found = sorted({f for f, _ in pairs})
    true = sorted({t for _, t in pairs})
    if not found or not true:
        return {}
    counts = np.zeros((len(found), len(true)))
    for f, t in pairs:
        counts[found.index(f), true.index(t)] += 1
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {found[r]: true[c] for r, c in zip(rows, cols) if counts[r, c] > 0}


def word_attribution(words: list[tuple[float, float, str]], reference: list[tuple[float, float, str]]) -> dict:
    """Score words (start, end, found speaker) against reference turns (start, end, speaker).

    Returns counts (words, scored, right, overlap, no_speech), the share right among scored
    words (None when none is scored) and the mapping used.
    """
    pairs, overlap, silent = [], 0, 0
    for start, end, found in words:
        here = active_speakers(reference, (start + end) / 2)
        if len(here) > 1:
            overlap += 1
        elif not here:
            silent += 1
        else:
            pairs.append((found, next(iter(here))))
    mapping = best_mapping(pairs)
    right = sum(mapping.get(f) == t for f, t in pairs)
    return {
        "words": len(words),
        "scored": len(pairs),
        "right": right,
        "overlap": overlap,
        "no_speech": silent,
        "attribution": right / len(pairs) if pairs else None,
        "mapping": mapping,
    }


_PUNCT = re.compile(r"[^\w\s']|_")


def normalise_text(text: str) -> list[str]:
    """Lower case, punctuation (hyphens too) replaced by spaces, apostrophes at word edges dropped."""
    return [w.strip("'") for w in _PUNCT.sub(" ", text.lower()).split() if w.strip("'")]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) after normalise_text."""
    ref, hyp = normalise_text(reference), normalise_text(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def wer(reference: str, hypothesis: str) -> float:
    errors, total = word_errors(reference, hypothesis)
    return errors / total if total else float(errors > 0)


# --------------------------------------------------------------------------- data


@dataclass
class Recording:
    set: str
    uri: str
    audio_path: Path
    reference: object  # pyannote.core.Annotation
    uem: object = None  # pyannote.core.Timeline or None (whole file)
    text: str | None = None
    language: str = "en"
    moderator: str | None = None  # the true moderator's RTTM label, from the sidecar
    condition: str | None = None  # what the focus group varies (make_fixtures.py --conditions), from the sidecar
    audio: object = None  # samples, loaded once

    @property
    def key(self) -> str:
        """Unique across sets: two folders may hold recordings of the same name."""
        return self.uri + str(self.audio_path)

    def turns(self) -> list[tuple[float, float, str]]:
        return [(s.start, s.end, str(label)) for s, _, label in self.reference.itertracks(yield_label=True)]


def stm_text(path: Path) -> str:
    """The words of an STM file in time order."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) >= 6 and not line.startswith(";;"):
            rows.append((float(fields[3]), fields[5]))
    return " ".join(text for _, text in sorted(rows))


def folder_recordings(folder: Path) -> list[Recording]:
    from pyannote.database.util import load_rttm, load_uem

    found = []
    for audio in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
        rttm = audio.with_suffix(".rttm")
        if not rttm.is_file():
            continue
        references = load_rttm(str(rttm))
        uri = audio.stem if audio.stem in references else next(iter(references))
        uem = load_uem(str(audio.with_suffix(".uem")))[uri] if audio.with_suffix(".uem").is_file() else None
        text = None
        if audio.with_suffix(".txt").is_file():
            text = audio.with_suffix(".txt").read_text(encoding="utf-8")
        elif audio.with_suffix(".stm").is_file():
            text = stm_text(audio.with_suffix(".stm"))
        sidecar = json.loads(audio.with_suffix(".json").read_text()) if audio.with_suffix(".json").is_file() else {}
        found.append(
            Recording(
                folder.name,
                uri,
                audio,
                references[uri],
                uem,
                text,
                sidecar.get("language", "no"),
                sidecar.get("moderator"),
                (sidecar.get("condition") or {}).get("name"),
            )
        )
    return found


def shared_recordings(speech: Path) -> list[Recording]:
    """pyannote's sample, the AMI ES2004 excerpt and the AMI debug clips (all English)."""
    from pyannote.database.util import load_rttm, load_uem

    diar = speech / "diar"
    sample = diar / "pyannote-sample"
    found = [
        Recording(
            "pyannote-sample",
            "sample",
            sample / "sample.wav",
            load_rttm(str(sample / "sample.rttm"))["sample"],
            text=stm_text(sample / "sample.stm"),
        ),
        Recording(
            "ami-seriously",
            "mixture",
            diar / "ami-seriously" / "mixture.wav",
            load_rttm(str(diar / "ami-seriously" / "mixture.rttm"))["mixture"],
        ),
    ]
    for subset in ("train", "development", "test"):
        references = load_rttm(str(diar / "ami-debug" / f"debug.{subset}.rttm"))
        uems = load_uem(str(diar / "ami-debug" / f"debug.{subset}.uem"))
        for uri in sorted(references):
            found.append(
                Recording("ami-debug", uri, diar / "ami-debug" / f"{uri}.flac", references[uri], uems.get(uri))
            )
    return found


# --------------------------------------------------------------------------- running the pipeline


@contextlib.contextmanager
def asr_language(code: str):
    """Let transcribe.asr run in ``code`` for the duration (evaluation sets are English)."""
    from transcribe import asr

    added = code not in asr.LANGUAGES
    if added:
        asr.LANGUAGES[code] = code
    try:
        yield
    finally:
        if added:
            del asr.LANGUAGES[code]


class Words:
    """ASR words per recording, from the cache or the real Transcriber (loaded on first need)."""

    def __init__(self, cache: Path, model: str | None):
        from transcribe import models

        self.cache, self.model, self._transcriber, self.seconds = cache, model, None, 0.0
        self.info = models.asr_model(model)

    def __call__(self, rec: Recording):
        import numpy as np

        from transcribe.records import Word

        key = hashlib.sha256(np.ascontiguousarray(rec.audio).tobytes()).hexdigest()[:24]
        path = self.cache / f"{rec.uri}-{key}-{rec.language}-{self.info.sha256[:12]}.json"
        if path.is_file():
            return [Word(**w) for w in json.loads(path.read_text())]
        if self._transcriber is None:
            from transcribe.asr import Transcriber

            self._transcriber = Transcriber(self.model)
        cpu0 = time.process_time()
        with asr_language(rec.language):
            words = list(self._transcriber(rec.audio, language=rec.language).words)
        self.seconds += time.process_time() - cpu0
        self.cache.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps([w.__dict__ for w in words]))
        return words


def tuning_diarizer(**tunables):
    """A ``transcribe.diarize.Diarizer`` for sweeps: ``retune`` changes the tunables that act after the
    embeddings (``RETUNABLE``) without reloading, and ``__call__(audio, reuse=cache)`` keeps pyannote's
    segmentation and embeddings, and resegmentation's window embeddings, in ``cache`` (a dict kept
    for one recording), so a new clustering threshold costs seconds instead of a new embedding pass."""
    import numpy as np

    from transcribe.diarize import RETUNABLE, DiarizationSettings, Diarizer, Resegmentation, _unprefixed
    from transcribe.errors import InputError

    class TuningDiarizer(Diarizer):
        _reuse: dict | None = None

        def retune(self, **changes) -> None:
            wrong = sorted(set(changes) - set(RETUNABLE))
            if wrong or not self._embedded:
                raise InputError(
                    f"Only {', '.join(RETUNABLE)} of the embedded pipeline can be retuned, "
                    f"not {', '.join(wrong) or 'a folder pipeline'}."
                )
            settings = DiarizationSettings.from_flat({**self.settings, **changes})
            self._pipeline.instantiate(settings.instantiated())
            self.resegmentation = Resegmentation(**_unprefixed(settings.flat()))
            self.settings = settings.flat()

        def __call__(self, audio, *, reuse: dict | None = None, **bounds):
            self._reuse = reuse
            try:
                return super().__call__(audio, **bounds)
            finally:
                self._reuse = None

        def _apply(self, file, hook, bounds):
            if self._reuse is None:
                return super()._apply(file, hook, bounds)
            self._reuse.update(file)  # pyannote caches segmentation and embeddings in the file while "training"
            self._pipeline.training = True
            try:
                return self._pipeline(self._reuse, hook=hook, **bounds)
            finally:
                self._pipeline.training = False

        def _embed(self):
            embed = super()._embed()
            if self._reuse is None:
                return embed
            cache = self._reuse.setdefault("resegmentation", {})

            def memoized(batch):
                key = hashlib.sha256(np.ascontiguousarray(batch.numpy()).tobytes()).hexdigest()
                if key not in cache:
                    cache[key] = np.asarray(embed(batch))
                return cache[key]

            return memoized

    return TuningDiarizer(**tunables)


def grid(args) -> list[tuple[dict, list[dict]]]:
    """[(construction tunables, [retunable tunables, ...])]: one embedding pass per group."""
    from transcribe.diarize import DEFAULTS, RETUNABLE

    axes = {
        "segmentation_step": args.step,
        "embedding_exclude_overlap": args.exclude_overlap,
        "clustering_method": args.method,
        "clustering_threshold": args.threshold,
        "clustering_min_cluster_size": args.min_cluster_size,
        "segmentation_min_duration_off": args.min_duration_off,
        "resegmentation_window": args.reseg_window,
        "resegmentation_hop": args.reseg_hop,
        "resegmentation_min_change": args.reseg_min_change,
        "resegmentation_iterations": args.reseg_iterations,
        "resegmentation_merge": args.reseg_merge,
    }
    axes = {key: values or [DEFAULTS[key]] for key, values in axes.items()}
    built = [key for key in axes if key not in RETUNABLE]
    later = [key for key in axes if key in RETUNABLE]
    groups = []
    for outer in itertools.product(*(axes[k] for k in built)):
        inner = [dict(zip(later, values)) for values in itertools.product(*(axes[k] for k in later))]
        groups.append((dict(zip(built, outer)), inner))
    return groups


def overlap_seconds(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Seconds where a stretch of ``a`` and a stretch of ``b`` overlap (each list without self-overlap)."""
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def moderator_right(rec: Recording, found, utterances) -> dict:
    """Whether the proposed moderator cluster is the found cluster covering most of the true moderator's speech."""
    from transcribe.records import Utterance, Word
    from transcribe.speakers import moderator_scores

    truth = [(s.start, s.end) for s in rec.reference.label_timeline(rec.moderator).support()]
    cover = {
        speaker: overlap_seconds(truth, [(t.start, t.end) for t in found.turns if t.speaker == speaker])
        for speaker in found.speakers
    }
    covering = max(cover, key=cover.get) if cover else None
    row = {}
    unasked = [
        Utterance(
            u.speaker,
            u.start,
            u.end,
            tuple(Word(w.start, w.end, w.text.replace("?", "."), w.probability) for w in u.words),
        )
        for u in utterances
    ]
    for key, said in (("moderator", utterances), ("moderator_no_q", unasked)):
        scores = moderator_scores(said)
        row[key + "_right"] = bool(scores) and scores[0].speaker == covering
        row[key + "_margin"] = scores[0].score - scores[1].score if len(scores) > 1 else None
        row[key + "_parts"] = {score.speaker: score.parts for score in scores}  # to weigh the parts anew
    row["moderator_truth"] = covering
    row["question_marks"] = sum(w.text.count("?") for u in utterances for w in u.words)
    return row


def score_file(rec: Recording, found, words, duration: float) -> dict:
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    from transcribe.align import align

    hypothesis = Annotation(uri=rec.uri)
    for turn in found.turns:
        hypothesis[Segment(turn.start, turn.end), len(hypothesis)] = turn.speaker
    uem = rec.uem or Timeline([Segment(0, duration)])
    row = {"set": rec.set, "uri": rec.uri, "condition": rec.condition or rec.set, "minutes": duration / 60}
    for name, collar in (("der", COLLAR), ("der_strict", 0.0)):
        metric = DiarizationErrorRate(collar=collar)
        components = metric(rec.reference, hypothesis, uem=uem, detailed=True)
        row[name] = components["diarization error rate"]
        row[name + "_parts"] = {k: components[k] for k in ("missed detection", "false alarm", "confusion", "total")}
    true = rec.reference.crop(uem).labels() if rec.uem else rec.reference.labels()
    row["speakers"], row["true_speakers"] = len(found.speakers), len(true)
    row["speaker_error"] = speaker_count_error(len(found.speakers), len(true))
    if words is not None:
        utterances = align(words, found.exclusive)
        said = [(w.start, w.end, u.speaker) for u in utterances for w in u.words]
        if rec.moderator:
            row.update(moderator_right(rec, found, utterances))
        if rec.uem:
            said = [w for w in said if any(s.start <= (w[0] + w[1]) / 2 < s.end for s in rec.uem)]
        row.update({k: v for k, v in word_attribution(said, rec.turns()).items() if k != "mapping"})
    elif rec.moderator:  # no words: the moderator from the turn-taking alone (no questions)
        row.update(moderator_right(rec, found, turn_utterances(found)))
    return row


def turn_utterances(found) -> list:
    """The exclusive turns as utterances of one wordless word each: the structure without the text."""
    from transcribe.records import Utterance, Word

    return [Utterance(t.speaker, t.start, t.end, (Word(t.start, t.end, "", 1.0),)) for t in found.exclusive]


def summarise(rows: list[dict]) -> dict:
    """Totals over rows of one set: DER as total error / total speech, counts, word shares."""
    out = {"files": len(rows), "minutes": sum(r["minutes"] for r in rows)}
    for name in ("der", "der_strict"):
        parts = [r[name + "_parts"] for r in rows]
        total = sum(p["total"] for p in parts)
        error = sum(p["missed detection"] + p["false alarm"] + p["confusion"] for p in parts)
        out[name] = error / total if total else 0.0
    out["speakers_right"] = sum(r["speaker_error"] == 0 for r in rows)
    out["speaker_abs_error"] = sum(abs(r["speaker_error"]) for r in rows) / len(rows)
    if all("scored" in r for r in rows):
        scored = sum(r["scored"] for r in rows)
        out["attribution"] = sum(r["right"] for r in rows) / scored if scored else None
        for key in ("words", "scored", "overlap", "no_speech"):
            out[key] = sum(r[key] for r in rows)
    texts = [r for r in rows if r.get("wer_errors") is not None]
    if texts:
        out["wer"] = sum(r["wer_errors"] for r in texts) / sum(r["wer_words"] for r in texts)
    out["cpu_s"] = sum(r["cpu_s"] for r in rows)
    return out


def percent(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


CONDITION_HEADER = [
    "set",
    "condition",
    "files",
    "min",
    "DER mean",
    "DER worst",
    "strict DER mean",
    "strict worst",
    "missed / false alarm / confusion",
    "count right",
    "attribution",
    "moderator right",
    "moderator right, no '?'",
]


def condition_rows(rows: list[dict]) -> list[list[str]]:
    """One row per (set, condition), then one per set ("all"): DER as the mean over files and the
    worst file, its parts as shares of reference speech, counts and shares right."""

    def cells(set_name: str, condition: str, group: list[dict]) -> list[str]:
        speech = sum(r["der_parts"]["total"] for r in group)
        parts = " / ".join(
            percent(sum(r["der_parts"][k] for r in group) / speech if speech else None)
            for k in ("missed detection", "false alarm", "confusion")
        )
        scored = sum(r.get("scored", 0) for r in group)
        judged = [r for r in group if "moderator_right" in r]
        return [
            set_name,
            condition,
            str(len(group)),
            f"{sum(r['minutes'] for r in group):.1f}",
            percent(sum(r["der"] for r in group) / len(group)),
            percent(max(r["der"] for r in group)),
            percent(sum(r["der_strict"] for r in group) / len(group)),
            percent(max(r["der_strict"] for r in group)),
            parts,
            f"{sum(r['speaker_error'] == 0 for r in group)}/{len(group)}",
            percent(sum(r.get("right", 0) for r in group) / scored if scored else None),
            f"{sum(r['moderator_right'] for r in judged)}/{len(judged)}" if judged else "–",
            f"{sum(r['moderator_no_q_right'] for r in judged)}/{len(judged)}" if judged else "–",
        ]

    table = []
    for set_name in dict.fromkeys(r["set"] for r in rows):
        in_set = [r for r in rows if r["set"] == set_name]
        for condition in dict.fromkeys(r["condition"] for r in in_set):
            table.append(cells(set_name, condition, [r for r in in_set if r["condition"] == condition]))
        if len({r["condition"] for r in in_set}) > 1:
            table.append(cells(set_name, "all", in_set))
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="folders of recordings with ground truth")
    parser.add_argument("--shared", action="store_true", help="add pyannote's sample and the AMI sets from --speech")
    parser.add_argument(
        "--speech", type=Path, default=DEFAULT_SPEECH, help="shared speech folder (default: %(default)s)"
    )
    parser.add_argument("--json", type=Path, help="write every result (per set and per file) here")
    parser.add_argument(
        "--no-asr", action="store_true", help="diarisation only: no words, so no attribution and no WER"
    )
    parser.add_argument("--asr-model", help="Whisper folder or name (default: the embedded base model)")
    parser.add_argument(
        "--asr-cache", type=Path, default=DEFAULT_ASR_CACHE, help="cache of ASR words (default: %(default)s)"
    )
    parser.add_argument("--language", help="language of every recording (default: the sidecar's, else 'no')")
    tune = parser.add_argument_group(
        "diarisation tunables (several values: every combination; default: transcribe.diarize.DEFAULTS)"
    )
    tune.add_argument("--threshold", type=float, nargs="+", help="clustering_threshold")
    tune.add_argument("--step", type=float, nargs="+", help="segmentation_step (fraction of the 10 s window)")
    tune.add_argument("--min-cluster-size", type=int, nargs="+", help="clustering_min_cluster_size")
    tune.add_argument("--method", nargs="+", help="clustering_method")
    tune.add_argument("--min-duration-off", type=float, nargs="+", help="segmentation_min_duration_off")
    tune.add_argument(
        "--exclude-overlap", type=lambda v: v == "yes", nargs="+", metavar="yes|no", help="embedding_exclude_overlap"
    )
    tune.add_argument(
        "--reseg-window", type=float, nargs="+", help="resegmentation_window (seconds; 0: no resegmentation)"
    )
    tune.add_argument("--reseg-hop", type=float, nargs="+", help="resegmentation_hop (seconds)")
    tune.add_argument("--reseg-min-change", type=float, nargs="+", help="resegmentation_min_change (seconds)")
    tune.add_argument("--reseg-iterations", type=int, nargs="+", help="resegmentation_iterations")
    tune.add_argument(
        "--reseg-merge", type=float, nargs="+", help="resegmentation_merge (voice similarity; 0: never join)"
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (default: torch's choice; use 1 on a shared machine)"
    )
    parser.add_argument("--per-file", action="store_true", help="also print a row per recording")
    parser.add_argument(
        "--conditions",
        action="store_true",
        help="also print the conditions table: per set and condition (make_fixtures.py --conditions), DER mean "
        "and worst, its parts, count right, attribution, moderator right",
    )
    args = parser.parse_args(argv)

    recordings = [rec for folder in args.dirs for rec in folder_recordings(folder)]
    if args.shared:
        recordings += shared_recordings(args.speech)
    if not recordings:
        parser.error("no recordings with ground truth (give DIR with audio + .rttm, or --shared)")

    import torch

    from transcribe.audio import load
    from transcribe.diarize import DEFAULTS

    if args.threads:
        torch.set_num_threads(args.threads)
    for rec in recordings:
        rec.audio = load([rec.audio_path]).audio
        if args.language:
            rec.language = args.language
    total_minutes = sum(len(r.audio) for r in recordings) / 16000 / 60
    sets = list(dict.fromkeys(r.set for r in recordings))
    print(
        f"{len(recordings)} recordings in {len(sets)} sets, {total_minutes:.1f} min of audio; torch threads "
        f"{torch.get_num_threads()}; DER collar 0.25 s each side (pyannote collar={COLLAR})",
        file=sys.stderr,
    )

    words = {}
    asr_seconds = 0.0
    if not args.no_asr:
        get_words = Words(args.asr_cache, args.asr_model)
        for rec in recordings:
            words[rec.key] = get_words(rec)
        asr_seconds = get_words.seconds

    results = []
    for built, inner in grid(args):
        diarizer = tuning_diarizer(**built, **inner[0])
        reuse = {rec.key: {} for rec in recordings}
        full_cpu = None
        for later in inner:
            diarizer.retune(**later)
            settings = {**DEFAULTS, **built, **later}
            rows = []
            for rec in recordings:
                key = rec.key
                cpu0 = time.process_time()
                found = diarizer(rec.audio, reuse=reuse[key])
                cpu = time.process_time() - cpu0
                row = score_file(rec, found, words.get(key), len(rec.audio) / 16000)
                row["cpu_s"] = cpu
                if rec.text is not None and key in words:
                    errors, count = word_errors(rec.text, " ".join(w.text for w in words[key]))
                    row.update(wer_errors=errors, wer_words=count, wer=errors / count)
                rows.append(row)
            cpu_all = sum(r["cpu_s"] for r in rows)
            full_cpu = cpu_all if full_cpu is None else full_cpu
            per_set = {name: summarise([r for r in rows if r["set"] == name]) for name in sets}
            result = {
                "settings": settings,
                "changed": {**built, **later},
                "cpu_s_per_audio_min": full_cpu / total_minutes,
                "cpu_s_this_run": cpu_all,
                "sets": per_set,
                "files": rows,
            }
            results.append(result)
            print(
                json.dumps(
                    {
                        "changed": result["changed"],
                        "cpu_s_per_min": round(result["cpu_s_per_audio_min"], 2),
                        **{n: round(s["der"], 4) for n, s in per_set.items()},
                    }
                ),
                file=sys.stderr,
            )

    header = [
        "setting",
        "set",
        "files",
        "min",
        "DER (0.25)",
        "DER (0)",
        "speakers right",
        "mean |Δ speakers|",
        "attribution",
        "WER",
        "diarise CPU s / audio min",
    ]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for result in results:
        label = (
            ", ".join(f"{k.split('_', 1)[1]}={v}" for k, v in result["changed"].items() if v != DEFAULTS[k])
            or "defaults"
        )
        for name, s in result["sets"].items():
            cells = [
                label,
                name,
                str(s["files"]),
                f"{s['minutes']:.1f}",
                percent(s["der"]),
                percent(s["der_strict"]),
                f"{s['speakers_right']}/{s['files']}",
                f"{s['speaker_abs_error']:.2f}",
                percent(s.get("attribution")),
                percent(s.get("wer")),
                f"{result['cpu_s_per_audio_min']:.2f}",
            ]
            print("| " + " | ".join(cells) + " |")
        if args.per_file:
            for r in result["files"]:
                print(
                    f"|   | {r['set']}/{r['uri']} | 1 | {r['minutes']:.1f} | {percent(r['der'])} | {percent(r['der_strict'])} | "
                    f"{r['speakers']} of {r['true_speakers']} | {abs(r['speaker_error'])} | {percent(r.get('attribution'))} | "
                    f"{percent(r.get('wer'))} | |"
                )
    if args.conditions:
        for result in results:
            changed = {k: v for k, v in result["changed"].items() if v != DEFAULTS[k]}
            print(f"\nConditions ({', '.join(f'{k}={v}' for k, v in changed.items()) or 'defaults'}):")
            print("| " + " | ".join(CONDITION_HEADER) + " |")
            print("|" + "---|" * len(CONDITION_HEADER))
            for cells in condition_rows(result["files"]):
                print("| " + " | ".join(cells) + " |")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nDefaults: {json.dumps(DEFAULTS)}. Attribution excludes words in overlapped speech or outside "
        f"reference speech. ASR CPU {asr_seconds:.0f} s (0 when cached). Peak RSS {rss:.0f} MB."
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"audio_minutes": total_minutes, "asr_cpu_s": asr_seconds, "peak_rss_mb": rss, "results": results},
                indent=1,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
