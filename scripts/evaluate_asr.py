"""Measure Whisper's words: what it invents where nobody speaks, what a vocabulary buys, how well
word probability flags wrong words. The tables in docs/asr.md come from this script.

    python scripts/evaluate_asr.py guards [--nrk 10]     # invented words per minute of non-speech; WER
    python scripts/evaluate_asr.py vocabulary            # hotwords, snap, initial_prompt: WER, terms recognised
    python scripts/evaluate_asr.py doubt                 # precision/recall of "doubtful" at thresholds
    python scripts/evaluate_asr.py speed                 # decoding policies: Whisper's RTF, WER, NRK words
    python scripts/evaluate_asr.py speed --only shipped "best_of 1," --hard hard.m4a   # some, and a hard case

Every decode and every diarisation is cached in --cache (default /tmp/words-cache, outside the
repository) by the audio's sha256 and the settings, so nothing is decoded twice. Sets:

- real (references): king.mp3 (approximate reference) and the two NPSC clips, from --speech;
- espeak (references): scripts/make_fixtures.py --kind norwegian --seed 1 and --seed 2, the seed
  script's sentences spoken by espeak-ng (seed 1 is the committed tests/fixtures/no_group);
- non-speech, made here: room noise with table knocks, synthetic chords (sine partials, no
  recorded music), and a long pause (two espeak sentences around 60 s of room noise);
- nrk: the first --nrk clips of no/nrk-tv/ (no references; rights unclear, nothing of them is
  written outside the cache).

Non-speech, where no construction says it (nrk): stretches of at least MIN_GAP seconds where
diarisation (Diarization.turns) hears nobody. The diarisation guard reads the same turns, so
on those clips its cut is partly by construction; the made clips are the independent check, and
WER and right words suspected on the clips with references show what the guards cost. A word
is in non-speech when its midpoint is.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import logging
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # measure this checkout's transcribe, installed or not
DEFAULT_SPEECH = REPO_ROOT.parent / "shared" / "speech"

from transcribe import asr, audio  # noqa: E402
from transcribe.device import resolve_batch_size  # noqa: E402
from transcribe.records import SAMPLE_RATE, Turn, Word  # noqa: E402

MIN_GAP = 1.0
# Whisper settings tried against the defaults for the guards (docs/asr.md): faster-whisper's
# hallucination_silence_threshold dropped real speech in the NRK clips, so it is off; it is
# reported beside the guards. Each is handed to faster-whisper's transcribe() as is.
VARIANTS = {"hallucination_silence_threshold 2 s": {"hallucination_silence_threshold": 2.0}}
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# the embedded base model's doubt threshold, which asr.snap uses to decide what it may change
DOUBT = asr.DOUBT_THRESHOLD[asr.models.WHISPER_BASE_SHA256]
# Vocabulary for the espeak sets: the seed script's content words that Whisper base misses or
# mangles in the seed-1 run without hints (chosen from that run, so the espeak numbers are the
# best case a researcher's word list gives), plus the examples.
ESPEAK_VOCABULARY = (
    "selvhjelp",
    "selvhjelpsgruppe",
    "taushetsbelagt",
    "gruppemøte",
    "privatmøte",
    "erfaringer",
    "skummelt",
    "struktur",
    "ansvar",
    "opplevd",
)
# Real clips: what a researcher would know beforehand (the place names and names of the speech,
# the representatives on the parliament's list).
REAL_VOCABULARY = {
    "king": (
        "nordlendinger",
        "trøndere",
        "sørlendinger",
        "innvandrere",
        "Afghanistan",
        "Somalia",
        "Kygo",
        "Hellbillies",
        "Kari Bremnes",
        "Grieg",
        "raushet",
    ),
    "npsc-medium": ("Fredric Holen Bjørdal", "Trond Giske", "permitterte"),
    "npsc-short": ("Stortingets",),
}


@dataclass
class Clip:
    set: str
    name: str
    samples: np.ndarray
    reference: str | None = None
    nonspeech: list[tuple[float, float]] | None = None  # known by construction; None: found
    vocabulary: tuple[str, ...] = ()
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = hashlib.sha256(np.ascontiguousarray(self.samples, dtype=np.float32).tobytes()).hexdigest()[:16]

    @property
    def minutes(self) -> float:
        return len(self.samples) / SAMPLE_RATE / 60


# --------------------------------------------------------------------------- text


def tokens(text: str) -> list[str]:
    """Lower case, punctuation (hyphens too) as spaces: evaluate.py's normalisation."""
    return [w.strip("'") for w in re.sub(r"[^\w\s']|_", " ", text.lower()).split() if w.strip("'")]


def alignment(reference: list[str], hypothesis: list[str]) -> tuple[int, list[bool]]:
    """(edit distance, for each hypothesis token whether it matches its reference token)."""
    rows, cols = len(reference), len(hypothesis)
    cost = np.zeros((rows + 1, cols + 1), dtype=np.int32)
    cost[:, 0], cost[0, :] = np.arange(rows + 1), np.arange(cols + 1)
    for i in range(1, rows + 1):
        for j in range(1, cols + 1):
            cost[i, j] = min(
                cost[i - 1, j] + 1, cost[i, j - 1] + 1, cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1])
            )
    right, i, j = [False] * cols, rows, cols
    while i and j:
        if cost[i, j] == cost[i - 1, j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            right[j - 1] = reference[i - 1] == hypothesis[j - 1]
            i, j = i - 1, j - 1
        elif cost[i, j] == cost[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(cost[rows, cols]), right


def word_verdicts(reference: str, words: list[Word]) -> tuple[int, int, list[bool]]:
    """(errors, reference tokens, for each word whether all its tokens are right)."""
    owner, hypothesis = [], []
    for index, word in enumerate(words):
        for token in tokens(word.text):
            owner.append(index)
            hypothesis.append(token)
    ref = tokens(reference)
    errors, right = alignment(ref, hypothesis)
    verdict = [True] * len(words)
    for index, ok in zip(owner, right):
        verdict[index] = verdict[index] and ok
    return errors, len(ref), verdict


def recognised(term: str, reference: str, words: list[Word]) -> tuple[int, int]:
    """(times the term is said, times it is in the hypothesis), counted on normalised tokens."""
    phrase = tokens(term)

    def count(seq: list[str]) -> int:
        return sum(seq[i : i + len(phrase)] == phrase for i in range(len(seq) - len(phrase) + 1))

    said = count(tokens(reference))
    return said, min(said, count([t for w in words for t in tokens(w.text)]))


# --------------------------------------------------------------------------- clips


def espeak(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "s.wav"
        subprocess.run(["espeak-ng", "-v", "nb+m3", "-s", "160", "-w", str(wav), text], check=True)
        return audio.load([wav]).audio


SENTENCES = (
    "Velkommen, og takk for at dere kom. Hva betyr selvhjelp for dere?",
    "For meg betyr selvhjelp å ta ansvar for mitt eget liv. Gruppa hjelper meg med det.",
    "Det handler om å dele erfaringer med andre som har opplevd det samme.",
)


def nonspeech_clips() -> list[Clip]:
    from scipy.signal import butter, lfilter

    rng = np.random.default_rng(17)
    rate, seconds = SAMPLE_RATE, 60
    t = np.arange(seconds * rate) / rate

    def room(n: int, db: float) -> np.ndarray:
        white = rng.standard_normal(n)
        brown = np.cumsum(white)
        brown -= np.convolve(brown, np.ones(4000) / 4000, mode="same")  # no drift
        mixed = white * 0.3 + brown / (np.std(brown) + 1e-9)
        return (mixed / np.std(mixed) * 10 ** (db / 20)).astype(np.float32)

    noise = room(len(t), -40.0)
    for at in rng.uniform(1, seconds - 1, 12):  # knocks and handling: short damped thumps
        start = int(at * rate)
        thump = np.exp(-np.arange(2400) / 300) * np.sin(2 * np.pi * 90 * np.arange(2400) / rate)
        noise[start : start + 2400] += (thump * 10 ** (-12 / 20)).astype(np.float32)
    chords = np.zeros_like(t)
    roots = [220.0, 174.6, 261.6, 196.0]  # A, F, C, G
    for bar in range(seconds // 2):
        span = (t >= bar * 2) & (t < bar * 2 + 2)
        local = t[span] - bar * 2
        envelope = np.minimum(local / 0.05, 1) * np.exp(-local * 0.8)
        for ratio in (1.0, 1.26, 1.5, 2.0):
            for partial in (1, 2, 3):
                chords[span] += envelope * np.sin(2 * np.pi * roots[bar % 4] * ratio * partial * local) / partial
    chords = (chords / np.sqrt(np.mean(chords**2)) * 10 ** (-20 / 20)).astype(np.float32) + room(len(t), -55.0)
    # Speech-like sound without words: espeak sentences played backwards, low-passed and quiet,
    # as from the next room (Silero VAD takes all of it for speech), and a hummed melody (a
    # sawtooth through three vowel formants).
    backwards = espeak(" ".join(SENTENCES))[::-1]
    backwards = np.tile(backwards, seconds * rate // len(backwards) + 1)[: seconds * rate]
    b, a = butter(4, 1500 / (rate / 2))
    murmur = lfilter(b, a, backwards)
    murmur = (murmur / np.sqrt(np.mean(murmur**2)) * 10 ** (-30 / 20)).astype(np.float32) + room(len(t), -55.0)
    melody = np.array([220, 247, 262, 294, 330, 294, 262, 247])[(t / 0.5).astype(int) % 8] * (
        1 + 0.01 * np.sin(2 * np.pi * 5 * t)
    )
    hum = 2 * (np.cumsum(melody) / rate % 1) - 1
    for centre, width in ((700, 130), (1220, 70), (2600, 160)):
        pole = np.exp(-np.pi * width / rate)
        hum = lfilter([1 - pole], [1, -2 * pole * np.cos(2 * np.pi * centre / rate), pole * pole], hum)
    hum = (hum / np.sqrt(np.mean(hum**2)) * 10 ** (-20 / 20)).astype(np.float32) + room(len(t), -55.0)
    first = espeak(SENTENCES[0])
    second = espeak("Da tar vi en liten pause, og så fortsetter vi etterpå.")
    pause = room(60 * rate, -58.0)
    long_pause = np.concatenate([first, pause, second]) + room(len(first) + len(pause) + len(second), -58.0)
    gap = (len(first) / rate + 0.5, (len(first) + len(pause)) / rate - 0.5)
    return [
        Clip("non-speech", "room noise + knocks", noise, nonspeech=[(0.0, seconds)]),
        Clip("non-speech", "chords", chords, nonspeech=[(0.0, seconds)]),
        Clip("non-speech", "60 s pause", long_pause, nonspeech=[gap]),
        Clip("non-speech", "backwards murmur", murmur, nonspeech=[(0.0, seconds)]),
        Clip("non-speech", "hummed melody", hum, nonspeech=[(0.0, seconds)]),
    ]


def real_clips(speech: Path) -> list[Clip]:
    folder = speech / "no"
    clips = [
        Clip("real", "king", audio.load([folder / "king.mp3"]).audio, (folder / "king.ref_approx.txt").read_text())
    ]
    for name in ("norwegian-short-3s", "norwegian-medium-8s"):
        key = "npsc-" + name.split("-")[1]
        samples = audio.load([folder / f"{name}.mp3"]).audio
        clips.append(Clip("real", key, samples, (folder / f"{name}.txt").read_text()))
    for clip in clips:
        clip.vocabulary = REAL_VOCABULARY[clip.name]
    return clips


def espeak_clips(cache: Path) -> list[Clip]:
    clips = []
    for seed in (1, 2):
        out = cache / f"espeak-seed{seed}"
        if not (out / "no_group.json").is_file():
            subprocess.run(
                [sys.executable, str(REPO_ROOT / "scripts" / "make_fixtures.py")]
                + ["--out", str(out), "--kind", "norwegian", "--seed", str(seed)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        truth = json.loads((out / "no_group.json").read_text())
        samples = audio.load([out / part["file"] for part in truth["parts"]]).audio
        reference = " ".join(turn["text"] for turn in truth["turns"])
        clips.append(Clip("espeak", f"seed {seed}", samples, reference, vocabulary=ESPEAK_VOCABULARY))
    return clips


def nrk_clips(speech: Path, count: int) -> list[Clip]:
    paths = sorted((speech / "no" / "nrk-tv").glob("*.mp3"))[:count]
    return [Clip("nrk", path.stem, audio.load([path]).audio) for path in paths]


# --------------------------------------------------------------------------- models, cached


class FallbackCount(logging.Handler):
    """Counts faster-whisper's "threshold is not met with temperature …" debug lines while active:
    each is one window decoded again at the next temperature."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self._logger = logging.getLogger("faster_whisper")

    def emit(self, record: logging.LogRecord) -> None:
        if "threshold is not met" in str(record.msg):
            self.count += 1

    def __enter__(self) -> FallbackCount:
        self._level = self._logger.level
        self._logger.addHandler(self)
        self._logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


class Models:
    def __init__(self, cache: Path, batch_size="auto"):
        self.cache = cache
        self.batch_size = batch_size  # Whisper windows decoded together (asr.DecodingOptions.batch_size)
        cache.mkdir(parents=True, exist_ok=True)
        self._transcribers: dict[str, asr.Transcriber] = {}
        self._diarizer = None

    def words(
        self,
        clip: Clip,
        options: dict,
        vocabulary: tuple[str, ...] = (),
        hint: str = "hotwords",
        extra: dict | None = None,
        timed: bool = False,
    ) -> list[Word]:
        """Whisper's words: ``options`` are DecodingOptions, ``extra`` more arguments of faster-whisper's transcribe()."""
        options = {"batch_size": self.batch_size, **options}
        path = self._path(clip, options, vocabulary, hint, extra)
        timing = path.with_suffix(".seconds")
        if path.is_file() and (timing.is_file() or not timed):
            return [Word(**row) for row in json.loads(path.read_text())]
        key = json.dumps(options, sort_keys=True)
        if key not in self._transcribers:
            self._transcribers[key] = asr.Transcriber(**options)
        transcriber = self._transcribers[key]
        if hint == "prompt":  # the alternatives measured against hotwords
            transcriber.hints = lambda terms: {"initial_prompt": ", ".join(terms)} if terms else {}
        elif hint == "both":
            transcriber.hints = lambda terms: (
                {"initial_prompt": ", ".join(terms), "hotwords": ", ".join(terms)} if terms else {}
            )
        else:
            transcriber.hints = asr.Transcriber.hints
        transcriber.snaps = False  # cached as Whisper wrote them; vocabulary() snaps them itself
        model = transcriber._model
        plain = type(model).transcribe.__get__(model)
        model.transcribe = functools.partial(plain, **extra) if extra else plain
        started = time.perf_counter()
        with FallbackCount() as fallbacks:
            words = list(transcriber(clip.samples, "no", vocabulary=vocabulary).words)
        timing.write_text(f"{time.perf_counter() - started:.3f}")
        path.with_suffix(".fallbacks").write_text(str(fallbacks.count))
        path.write_text(json.dumps([asdict(w) for w in words], ensure_ascii=False))
        return words

    def seconds(self, clip: Clip, options: dict, extra: dict | None = None) -> float:
        """Wall seconds the decode of ``clip`` took (decoded again if the cache has no time for it)."""
        self.words(clip, options, extra=extra, timed=True)
        path = self._path(clip, {"batch_size": self.batch_size, **options}, (), "hotwords", extra)
        return float(path.with_suffix(".seconds").read_text())

    def fallbacks(self, clip: Clip, options: dict, extra: dict | None = None) -> int | None:
        """How often Whisper decoded a window again, hotter, in the timed decode (None: not counted)."""
        path = self._path(clip, {"batch_size": self.batch_size, **options}, (), "hotwords", extra)
        count = path.with_suffix(".fallbacks")
        return int(count.read_text()) if count.is_file() else None

    def _path(self, clip: Clip, options: dict, vocabulary, hint: str, extra: dict | None) -> Path:
        settings = {**asr.DEFAULTS, **options, **(extra or {})}
        # the batch size as decoded (so a cache made before 'auto' changed meaning is not mistaken for
        # another); sequential decoding keeps the key it always had
        batch = resolve_batch_size("cpu", settings["batch_size"])
        settings["batch_size"] = "auto" if batch == 1 else batch
        name = json.dumps({"options": settings, "vocabulary": vocabulary, "hint": hint}, sort_keys=True)
        return self.cache / f"words-{clip.key}-{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"

    def turns(self, clip: Clip) -> list[Turn]:
        path = self.cache / f"turns-{clip.key}.json"
        if path.is_file():
            return [Turn(*row) for row in json.loads(path.read_text())]
        if self._diarizer is None:
            from transcribe.diarize import Diarizer

            self._diarizer = Diarizer()
        turns = list(self._diarizer(clip.samples).turns)
        path.write_text(json.dumps([[t.start, t.end, t.speaker] for t in turns]))
        return turns


def nonspeech(clip: Clip, models: Models) -> list[tuple[float, float]]:
    """Known stretches without speech, or the gaps of at least MIN_GAP seconds between diarised speech."""
    if clip.nonspeech is not None:
        return clip.nonspeech
    gaps, reached = [], 0.0
    end_of_clip = len(clip.samples) / SAMPLE_RATE
    for turn in sorted(models.turns(clip), key=lambda t: t.start) + [Turn(end_of_clip, end_of_clip, "")]:
        if turn.start - reached >= MIN_GAP:
            gaps.append((reached, turn.start))
        reached = max(reached, turn.end)
    return gaps


def inside(word: Word, spans: list[tuple[float, float]]) -> bool:
    middle = (word.start + word.end) / 2
    return any(start <= middle <= end for start, end in spans)


# --------------------------------------------------------------------------- measurements


def guards(args, models: Models) -> dict:
    clips = nonspeech_clips() + nrk_clips(args.speech, args.nrk) + real_clips(args.speech) + espeak_clips(args.cache)
    rows = {}
    for clip in clips:
        print(f"  {clip.set}/{clip.name} ({clip.minutes:.1f} min)", file=sys.stderr, flush=True)
        gaps, turns = nonspeech(clip, models), models.turns(clip)
        words = models.words(clip, {})
        guarded = asr.guard(words, turns)
        kept = [w for w in guarded if w.suspect is None]
        row = {
            "set": clip.set,
            "minutes": clip.minutes,
            "nonspeech_minutes": sum(e - s for s, e in gaps) / 60,
            "words": len(words),
            "invented": sum(inside(w, gaps) for w in words),
            "guarded_invented": sum(inside(w, gaps) for w in kept),
            "suspects": {reason: sum(w.suspect == reason for w in guarded) for reason in (asr.NO_SPEECH, asr.LOOP)},
        }
        if clip.reference:
            for label, chosen in (("wer", words), ("guarded_wer", kept)):
                errors, total, _ = word_verdicts(clip.reference, chosen)
                row[label] = errors / total
            row["suspected_right"] = sum(
                ok and w.suspect is not None for w, ok in zip(guarded, word_verdicts(clip.reference, words)[2])
            )
        for name, extra in VARIANTS.items():
            variant = models.words(clip, {}, extra=extra)
            row[name] = {"words": len(variant), "invented": sum(inside(w, gaps) for w in variant)}
            if clip.reference:
                row[name]["wer"] = word_verdicts(clip.reference, variant)[0] / len(tokens(clip.reference))
        rows[f"{clip.set}/{clip.name}"] = row
    for name, row in rows.items():
        print(
            f"{name:30} {row['minutes']:4.2f} min, non-speech {row['nonspeech_minutes']:4.2f}: words {row['words']:3}, "
            f"invented {row['invented']:3} -> guarded {row['guarded_invented']:3}; suspects {row['suspects']}"
            + (
                f"; WER {row['wer']:.3f} -> {row['guarded_wer']:.3f}, right words suspected {row['suspected_right']}"
                if "wer" in row
                else ""
            )
            + "".join(
                f" | {v}: words {row[v]['words']}, invented {row[v]['invented']}"
                + (f", WER {row[v]['wer']:.3f}" if "wer" in row[v] else "")
                for v in VARIANTS
            )
        )
    for group in ("non-speech", "nrk"):
        chosen = [r for r in rows.values() if r["set"] == group]
        minutes = sum(r["nonspeech_minutes"] for r in chosen)
        before, after = (sum(r[k] for r in chosen) for k in ("invented", "guarded_invented"))
        print(
            f"{group}: {minutes:.2f} min of non-speech; invented words per minute {before / minutes:.2f} -> "
            f"{after / minutes:.2f} ({(1 - after / before) * 100 if before else 0:.0f} % fewer)"
            + "".join(f"; {v}: {sum(r[v]['invented'] for r in chosen) / minutes:.2f}" for v in VARIANTS)
        )
    return rows


def vocabulary(args, models: Models) -> dict:
    """Each way of giving the vocabulary: WER and terms recognised; and snaps of terms not said
    (every other set's terms applied to each clip, NRK included)."""
    clips = espeak_clips(args.cache) + real_clips(args.speech)
    everything = tuple(dict.fromkeys(ESPEAK_VOCABULARY + sum(REAL_VOCABULARY.values(), ())))
    labels = ("none", "snap", "hotwords", "hotwords + snap", "prompt", "both")
    rows = {}
    false_snaps, words_checked = [], 0
    for clip in clips:
        print(f"  {clip.set}/{clip.name}", file=sys.stderr, flush=True)
        row = {"set": clip.set}
        for label in labels:
            hint = label if label in ("prompt", "both") else "hotwords"
            terms = clip.vocabulary if label not in ("none", "snap") else ()
            words = models.words(clip, {}, terms, hint)
            if label.endswith("snap"):
                words = list(asr.snap(words, clip.vocabulary, DOUBT))
            errors, total, _ = word_verdicts(clip.reference, words)
            counts = [recognised(term, clip.reference, words) for term in clip.vocabulary]
            row[label] = {
                "wer": errors / total,
                "errors": errors,
                "reference_words": total,
                "terms_said": sum(c[0] for c in counts),
                "terms_recognised": sum(c[1] for c in counts),
                "missed_terms": [t for t, c in zip(clip.vocabulary, counts) if c[1] < c[0]],
            }
        rows[f"{clip.set}/{clip.name}"] = row
        base = row["none"]
        missed = base["terms_said"] - base["terms_recognised"]
        line = f"{clip.set + '/' + clip.name:20} terms said {base['terms_said']:3}, missed without hints {missed:3}"
        for label in labels:
            r = row[label]
            gained = r["terms_recognised"] - base["terms_recognised"]
            line += f" | {label}: WER {r['wer']:.3f}, recognised {r['terms_recognised']}, of missed {gained}/{missed}"
        print(line)
        said = "".join(tokens(clip.reference))
        unsaid = tuple(t for t in everything if "".join(tokens(t)) not in said)
        words = models.words(clip, {})
        words_checked += len(words)
        false_snaps += [w.text for w in asr.snap(words, unsaid, DOUBT) if w not in words]
    for clip in nrk_clips(args.speech, args.nrk):
        words = models.words(clip, {})
        words_checked += len(words)
        false_snaps += [w.text for w in asr.snap(words, everything, DOUBT) if w not in words]
    for label in labels[1:]:
        for group in ("espeak", "real"):
            chosen = [r for r in rows.values() if r["set"] == group]
            missed = sum(r["none"]["terms_said"] - r["none"]["terms_recognised"] for r in chosen)
            gained = sum(r[label]["terms_recognised"] - r["none"]["terms_recognised"] for r in chosen)
            werb = sum(r["none"]["errors"] for r in chosen) / sum(r["none"]["reference_words"] for r in chosen)
            wera = sum(r[label]["errors"] for r in chosen) / sum(r[label]["reference_words"] for r in chosen)
            print(f"{label:15} {group:7}: missed terms recognised {gained}/{missed}; WER {werb:.3f} -> {wera:.3f}")
    print(f"snaps to terms not said: {len(false_snaps)} in {words_checked} words {false_snaps}")
    return {"clips": rows, "false_snaps": false_snaps, "words_checked": words_checked}


def doubt(args, models: Models) -> dict:
    clips = espeak_clips(args.cache) + real_clips(args.speech)
    pairs = []
    for clip in clips:
        words = models.words(clip, {})
        _, _, verdict = word_verdicts(clip.reference, words)
        pairs += [(w.probability, ok, clip.set) for w, ok in zip(words, verdict)]
    rows = {}
    for group in ("espeak", "real", "all"):
        chosen = [(p, ok) for p, ok, s in pairs if group in ("all", s)]
        wrong = sum(not ok for _, ok in chosen)
        print(f"{group}: {len(chosen)} words, {wrong} wrong ({wrong / len(chosen) * 100:.0f} %)")
        rows[group] = {}
        for threshold in THRESHOLDS:
            flagged = [ok for p, ok in chosen if p < threshold]
            caught = sum(not ok for ok in flagged)
            precision = caught / len(flagged) if flagged else 0.0
            recall = caught / wrong if wrong else 0.0
            rows[group][threshold] = {"flagged": len(flagged), "precision": precision, "recall": recall}
            print(
                f"  below {threshold:.1f}: {len(flagged):4} doubtful ({len(flagged) / len(chosen) * 100:3.0f} %), "
                f"precision {precision:.2f}, recall {recall:.2f}"
            )
    return rows


# Decoding policies measured against the shipped one for speed (docs/measurements.md): options are
# DecodingOptions, extra more arguments of faster-whisper's transcribe().
FASTER_WHISPER_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
SPEED_VARIANTS = {
    "faster-whisper's best_of 5 (shipped before 2026-12-03)": (
        {"best_of": 5, "temperature": FASTER_WHISPER_TEMPERATURES},
        None,
    ),
    "no temperature fallback": ({"best_of": 5, "temperature": 0.0}, None),
    "fallback 0, 0.4, 0.8": ({"best_of": 5}, None),
    "fallback best_of 1 (shipped 2026-12-03)": ({"temperature": FASTER_WHISPER_TEMPERATURES}, None),
    "beam 1 (greedy)": ({"beam_size": 1, "best_of": 5, "temperature": FASTER_WHISPER_TEMPERATURES}, None),
    "beam 3, best_of 1": ({"beam_size": 3, "temperature": FASTER_WHISPER_TEMPERATURES}, None),
    "beam 2, best_of 1": ({"beam_size": 2, "temperature": FASTER_WHISPER_TEMPERATURES}, None),
    "best_of 1, fallback at 0, 0.4, 0.8 (shipped)": ({}, None),
    "best_of 1, fallback when log prob < -1.5": (
        {"temperature": FASTER_WHISPER_TEMPERATURES},
        {"log_prob_threshold": -1.5},
    ),
    "best_of 1, fallback on loops only": ({"temperature": FASTER_WHISPER_TEMPERATURES}, {"log_prob_threshold": None}),
    "best_of 1, fallback at 0, 0.4, 0.8 when log prob < -1.5": ({}, {"log_prob_threshold": -1.5}),
}


def _add(totals: dict, key: str, value: float) -> None:
    totals[key] = totals.get(key, 0) + value


def speed(args, models: Models) -> dict:
    """Time and accuracy of each decoding policy: WER where there are references, words and
    invented words (in diarised non-speech) on NRK."""
    clips = real_clips(args.speech) + espeak_clips(args.cache) + nrk_clips(args.speech, args.nrk)
    clips += [Clip("hard", path.stem, audio.load([path]).audio) for path in args.hard]
    variants = {
        name: variant
        for name, variant in SPEED_VARIANTS.items()
        if not args.only or any(part in name for part in args.only)
    }
    rows = {}
    for name, (options, extra) in variants.items():
        row = {"seconds": {}, "minutes": {}, "errors": {}, "reference_words": {}, "words": {}, "invented": {}}
        row["fallbacks"] = {}
        for clip in clips:
            print(f"  {name}: {clip.set}/{clip.name}", file=sys.stderr, flush=True)
            _add(row["seconds"], clip.set, models.seconds(clip, options, extra))
            _add(row["minutes"], clip.set, clip.minutes)
            _add(row["fallbacks"], clip.set, models.fallbacks(clip, options, extra) or 0)
            words = models.words(clip, options, extra=extra)
            if clip.reference:
                errors, total, _ = word_verdicts(clip.reference, words)
                _add(row["errors"], clip.set, errors)
                _add(row["reference_words"], clip.set, total)
            else:
                _add(row["words"], clip.set, len(words))
                _add(row["invented"], clip.set, sum(inside(w, nonspeech(clip, models)) for w in words))
        rows[name] = row
    sets = sorted({clip.set for clip in clips})
    print(
        "| decoding | RTF (Whisper only) | "
        + " | ".join(f"{s}: RTF, fallbacks" for s in sets)
        + " | WER real | WER espeak | NRK words | NRK invented | hard words | hard invented |"
    )
    print("|---" * (6 + len(sets) + 2) + "|")
    for name, row in rows.items():
        wer = {k: row["errors"][k] / row["reference_words"][k] for k in row["errors"]}
        rtf = sum(row["seconds"].values()) / (sum(row["minutes"].values()) * 60)
        per_set = " | ".join(f"{row['seconds'][s] / (row['minutes'][s] * 60):.3f}, {row['fallbacks'][s]}" for s in sets)
        print(
            f"| {name} | {rtf:.3f} | {per_set} | {wer.get('real', 0):.3f} | {wer.get('espeak', 0):.3f} | "
            f"{row['words'].get('nrk', 0)} | {row['invented'].get('nrk', 0)} | "
            f"{row['words'].get('hard', 0)} | {row['invented'].get('hard', 0)} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["guards", "vocabulary", "doubt", "speed"])
    parser.add_argument("--speech", type=Path, default=DEFAULT_SPEECH, help="shared speech folder (%(default)s)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/words-cache"), help="decodes cached here")
    parser.add_argument("--nrk", type=int, default=10, help="how many NRK clips (guards)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--batch-size", default="auto", help="Whisper windows decoded together (default: auto)")
    parser.add_argument("--only", nargs="+", help="speed: only the decodings whose names hold one of these")
    parser.add_argument(
        "--hard", nargs="+", type=Path, default=[], help="speed: recordings without references to time too"
    )
    args = parser.parse_args(argv)
    models = Models(args.cache, int(args.batch_size) if args.batch_size.isdigit() else args.batch_size)
    result = {"guards": guards, "vocabulary": vocabulary, "doubt": doubt, "speed": speed}[args.what](args, models)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
