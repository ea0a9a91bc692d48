"""Speech recognition with faster-whisper: words with times, in Norwegian.

The language is always given, never detected: on Norwegian focus-group audio Whisper's guess is
often wrong. ``nb`` (Bokmål) is accepted as Whisper's ``no``; ``nn`` is Nynorsk.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from difflib import SequenceMatcher

import numpy as np

from . import models
from .device import cpu_threads, cuda_errors, load_cuda_libraries, resolve_batch_size, resolve_compute_type
from .errors import InputError, ModelError
from .records import SAMPLE_RATE, ModelInfo, Transcription, Turn, Word

LANGUAGES = {"no": "no", "nb": "no", "nn": "nn"}


@dataclass(frozen=True)
class DecodingOptions:
    """How Whisper decodes, declared in one place and recorded in session.json (``saved``)."""

    beam_size: int = 5
    # Candidates sampled at each temperature Whisper falls back to (a window whose text loops or is
    # improbable is decoded again, hotter). faster-whisper's default is 5; 1 made Whisper 1.4x
    # faster on real Norwegian with music (RTF 0.133 -> 0.093) with the same WER on every set with
    # a reference and as many words kept on NRK (evaluate_asr.py speed; docs/measurements.md).
    best_of: int = 1
    # The temperatures a window is decoded at, in turn, until its text neither loops nor is
    # improbable. faster-whisper's default is 0, 0.2, ... 1.0; three steps made Whisper 1.3-1.7x
    # faster on the hard case (English voices held to Norwegian) with the same WER on every set
    # with a reference and as many words kept on NRK, in three runs (docs/measurements.md).
    temperature: tuple[float, ...] = (0.0, 0.4, 0.8)
    vad_filter: bool = True
    # Carrying text across windows makes Whisper repeat itself on long, noisy recordings.
    condition_on_previous_text: bool = False
    compute_type: str = "auto"  # float16 on a GPU, int8 on CPU (device.py)
    # Above 1, that many windows of speech (cut by the VAD) are decoded at once by faster-whisper's
    # BatchedInferencePipeline: several times faster on a GPU. 1 is the sequential decoder. auto:
    # device.CUDA_BATCH_SIZE on a GPU, 1 on CPU.
    batch_size: int | str = "auto"

    def __post_init__(self) -> None:
        if int(self.beam_size) != self.beam_size or self.beam_size < 1:
            raise InputError(f"beam_size must be a whole number from 1, not {self.beam_size}.")
        if int(self.best_of) != self.best_of or self.best_of < 1:
            raise InputError(f"best_of must be a whole number from 1, not {self.best_of}.")
        temperatures = (self.temperature,) if isinstance(self.temperature, int | float) else self.temperature
        if not temperatures or any(not 0 <= float(t) <= 1 for t in temperatures):
            raise InputError(f"temperature must be one or more numbers from 0 to 1, not {self.temperature}.")
        object.__setattr__(self, "temperature", tuple(float(t) for t in temperatures))

    def resolved(self, device: str) -> DecodingOptions:
        """The options with 'auto' made concrete for ``device``."""
        return replace(
            self,
            compute_type=resolve_compute_type(device, self.compute_type),
            batch_size=resolve_batch_size(device, self.batch_size),
        )


def saved(options: DecodingOptions) -> dict:
    """``options`` as session.json holds them (lists, not tuples), so a saved request compares equal."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(options).items()}


DEFAULTS = saved(DecodingOptions())

# A session longer than this, transcribed with the embedded base model, gets a hint (a run
# warning) to use a better model: base gets a third to two thirds of Norwegian words wrong.
BASE_MODEL_HINT_MINUTES = 5


def model_hint(model: ModelInfo, seconds: float) -> str | None:
    """One line for a run that used the embedded base model on a long session; None otherwise."""
    if model.sha256 != models.WHISPER_BASE_SHA256 or seconds < BASE_MODEL_HINT_MINUTES * 60:
        return None
    return (
        f"This {seconds / 60:.0f}-minute session was transcribed with the embedded Whisper base model, which gets "
        "many Norwegian words wrong; for a study use NB-Whisper (see 'transcribe models list')."
    )


# The sequential decoder (CPU) hands faster-whisper at most this much audio per call, cut at the
# quietest moment near each boundary. faster-whisper builds the features of everything it is
# given at once: for 2 hours of speech that peaks at 6.2 GB whole and 0.9 GB in 15-minute windows
# (scripts/bench_memory.py --asr --hours 2). The batched decoder is bounded already.
WINDOW_SECONDS = 15 * 60
# How far from the nominal boundary the cut may move to find a pause.
WINDOW_SEARCH_SECONDS = 60


def windows(
    audio: np.ndarray, length: float = WINDOW_SECONDS, search: float = WINDOW_SEARCH_SECONDS
) -> list[tuple[int, int]]:
    """Sample ranges covering ``audio``, each at most ``length + search`` seconds, cut in pauses.

    Each cut is at the centre of the quietest half-second (mean energy over 0.1 s frames) within
    ``search`` seconds of where a plain ``length`` cut would fall.
    """
    size, reach, frame = int(length * SAMPLE_RATE), int(search * SAMPLE_RATE), SAMPLE_RATE // 10
    cuts = [0]
    while len(audio) - cuts[-1] > size + reach:
        low = cuts[-1] + size - reach
        stretch = audio[low : low + 2 * reach].astype(np.float64)
        count = len(stretch) // frame
        energy = np.square(stretch[: count * frame]).reshape(count, frame).mean(axis=1)
        smooth = np.convolve(energy, np.ones(5) / 5, mode="same")
        cuts.append(low + int(np.argmin(smooth)) * frame + frame // 2)
    cuts.append(len(audio))
    return list(zip(cuts[:-1], cuts[1:]))


def normalise_language(code: str) -> str:
    key = code.strip().lower()
    if key not in LANGUAGES:
        raise InputError(
            f"Language '{code}' is not supported. Use 'no' (Norwegian Bokmål; 'nb' also works) or 'nn' (Nynorsk)."
        )
    return LANGUAGES[key]


class Transcriber:
    """A Whisper model loaded once and used for many recordings."""

    snaps = True  # doubtful words close to a vocabulary term become the term (asr.snap)

    def __init__(self, model_path: str | os.PathLike | None = None, device: str = "cpu", **options):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        try:
            self.options = DecodingOptions(**options).resolved(device)
        except TypeError:
            known = ", ".join(field.name for field in fields(DecodingOptions))
            raise InputError(f"Unknown decoding option in {', '.join(options)}; known are {known}.") from None
        self.model_info = models.asr_model(model_path)
        self.device = device
        self.settings = saved(self.options)
        if self.options.batch_size > 1 and not self.options.vad_filter:
            raise InputError(
                "Batched transcription cuts the audio at pauses found by the VAD, so it needs vad_filter; "
                "use batch size 1 to transcribe without it."
            )
        if device == "cuda":
            load_cuda_libraries()
        try:
            with cuda_errors(device, f"Loading the Whisper model in {self.model_info.path}"):
                self._model = WhisperModel(
                    self.model_info.path,
                    device=device,
                    compute_type=self.options.compute_type,
                    cpu_threads=cpu_threads(),
                    local_files_only=True,
                )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(
                f"The Whisper model in {self.model_info.path} could not be loaded on {device} "
                f"({str(exc).splitlines()[0]}). Check the folder, or try --device cpu."
            ) from None
        self._batched = BatchedInferencePipeline(self._model) if self.options.batch_size > 1 else None

    def __call__(
        self,
        audio: np.ndarray,
        language: str = "no",
        progress: Callable[[float, float], None] | None = None,
        vocabulary: Sequence[str] = (),
    ) -> Transcription:
        """Transcribe 16 kHz mono audio; ``progress(seconds_done, seconds_total)``.

        ``vocabulary``: terms the recording is likely to hold (read_vocabulary), given to Whisper
        as hotwords in every 30 s window it decodes.
        """
        language = normalise_language(language)
        total = len(audio) / SAMPLE_RATE
        common = {
            "language": language,
            "task": "transcribe",
            "beam_size": self.options.beam_size,
            "best_of": self.options.best_of,
            "temperature": list(self.options.temperature),
            "word_timestamps": True,
            **self.hints(vocabulary),
        }
        words: list[Word] = []
        # The batched decoder takes the whole recording: it builds features batch by batch.
        parts = windows(audio, WINDOW_SECONDS, WINDOW_SEARCH_SECONDS) if self._batched is None else [(0, len(audio))]
        with cuda_errors(self.device, "Transcription"):
            for first, last in parts:
                offset, piece = first / SAMPLE_RATE, audio[first:last]
                if self._batched is None:
                    segments, _info = self._model.transcribe(
                        piece,
                        **common,
                        vad_filter=self.options.vad_filter,
                        condition_on_previous_text=self.options.condition_on_previous_text,
                    )
                else:  # batched windows never see the text before them: condition_on_previous_text does not apply
                    segments, _info = self._batched.transcribe(
                        piece, **common, vad_filter=True, batch_size=self.options.batch_size
                    )
                for segment in segments:  # a generator: the work happens while iterating
                    for word in segment.words or ():
                        text = word.word.strip()
                        if text:
                            words.append(
                                Word(
                                    round(offset + float(word.start), 3),
                                    round(offset + float(word.end), 3),
                                    text,
                                    round(float(word.probability), 4),
                                )
                            )
                    if progress:
                        progress(min(offset + segment.end, total), total)
        if progress:
            progress(total, total)
        if self.snaps:
            words = list(snap(words, vocabulary, doubt_threshold(self.model_info)))
        settings = {**self.settings, "vocabulary": list(vocabulary)}
        return Transcription(words=tuple(words), language=language, model=self.model_info, settings=settings)

    @staticmethod
    def hints(vocabulary: Sequence[str]) -> dict:
        """How the vocabulary reaches Whisper. As hotwords it stands before every 30 s window
        (an initial_prompt stands only before the first one when previous text is not carried
        over), and hotwords did better in docs/asr.md."""
        return {"hotwords": ", ".join(vocabulary)} if vocabulary else {}


def read_vocabulary(path: str | os.PathLike) -> tuple[str, ...]:
    """One term per line (the interview guide's words, place names, the group's own words);
    blank lines and lines starting with # are skipped."""
    try:
        text = open(path, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            f"The vocabulary file {path} cannot be read ({exc}). Give a UTF-8 text file, one term a line."
        ) from None
    terms = [line.strip() for line in text.splitlines()]
    terms = tuple(dict.fromkeys(term for term in terms if term and not term.startswith("#")))
    if not terms:
        raise InputError(f"The vocabulary file {path} holds no terms. Write one term a line.")
    return terms


# -- vocabulary snap --------------------------------------------------------------------------

# Hotwords make Whisper likelier to write a term, not certain to: it still writes "tansvar" for
# "ansvar", "permittet" for "permitterte", "selv hjelp" for "selvhjelp". asr.snap writes the term
# where Whisper's letters come this close (difflib ratio) and Whisper doubted the word, and joins
# words whose letters are the term's. Chosen on the sets of scripts/evaluate_asr.py vocabulary
# (docs/asr.md): 0.85 snaps every near miss there and none of the terms that were not said.
SNAP_SIMILARITY = 0.85
SNAP_MIN_LETTERS = 5  # shorter terms are too close to too many words ("Grieg", "Kygo")
SNAP_WORDS = 3  # a term is looked for in up to this many of Whisper's words in a row


def _letters(text: str) -> str:
    return re.sub(r"\W", "", text.lower())


def snap(words: Sequence[Word], vocabulary: Sequence[str], doubtful_below: float) -> tuple[Word, ...]:
    """``words`` with near misses of vocabulary terms written as the term.

    Up to SNAP_WORDS words in a row whose letters are a term's letters ("selv hjelp") are joined
    into the term. A doubtful word (probability below ``doubtful_below``), or a run of doubtful
    words, that is SNAP_SIMILARITY alike a term of at least SNAP_MIN_LETTERS letters becomes the
    term; a word Whisper is sure of is left as it heard it ("Stortinget" stays, even with
    "Stortingets" in the vocabulary). A run is only taken whole when each of its end words adds to
    the likeness, so "er nordlenninger" gives "er nordlendinger", not "nordlendinger". A snapped
    word keeps the lowest probability of the words it replaces, so the review editor still marks
    it doubtful for a listener to check; words a person wrote (probability None) and suspects are
    never snapped. Trailing punctuation and a capital first letter are kept.
    """
    terms = [(term, _letters(term), " ".join(map(_letters, term.split()))) for term in vocabulary]
    terms = [term for term in terms if term[1]]
    if not terms:
        return tuple(words)
    out: list[Word] = []
    index = 0
    while index < len(words):
        best: tuple[float, int, str] | None = None  # (likeness, words spanned, term)
        for size in range(1, SNAP_WORDS + 1):
            span = words[index : index + size]
            if len(span) < size or any(word.probability is None or word.suspect for word in span):
                break
            for term, letters, spaced in terms:
                score = _likeness(span, letters, spaced, doubtful_below)
                if score is None or score == _WRITTEN:
                    continue
                if size > 1 and not all(
                    (_likeness(part, letters, spaced, doubtful_below) or 0.0) < score for part in (span[1:], span[:-1])
                ):
                    continue  # an end word adds nothing: the term lies in a shorter run
                if best is None or score > best[0]:
                    best = (score, size, term)
        if best is None:
            out.append(words[index])
            index += 1
            continue
        _, size, term = best
        span = words[index : index + size]
        text = term
        if span[0].text[:1].isupper() and term[:1].islower():
            text = term[:1].upper() + term[1:]
        text += re.search(r"\W*$", span[-1].text).group()
        out.append(replace(span[0], end=span[-1].end, text=text, probability=min(w.probability for w in span)))
        index += size
    return tuple(out)


_WRITTEN = 3.0  # _likeness of words already written as the term
_JOINED = 2.0  # _likeness of words whose letters are the term's


def _likeness(span: Sequence[Word], letters: str, spaced: str, doubtful_below: float) -> float | None:
    """How alike ``span`` is to the term (its letters, and its words' letters joined by spaces);
    None when too unlike, or when the words are not doubtful enough to be changed."""
    heard = "".join(_letters(word.text) for word in span)
    if heard == letters:
        return _WRITTEN if " ".join(_letters(word.text) for word in span) == spaced else _JOINED
    doubtful = [word.probability < doubtful_below for word in span]
    if len(letters) < SNAP_MIN_LETTERS or not all(doubtful):
        return None
    if not _close(heard, letters):
        return None
    score = SequenceMatcher(None, heard, letters).ratio()
    return score if score >= SNAP_SIMILARITY else None


def _close(a: str, b: str) -> bool:
    """Whether the lengths of ``a`` and ``b`` allow a SequenceMatcher ratio of SNAP_SIMILARITY."""
    return 2 * min(len(a), len(b)) >= SNAP_SIMILARITY * (len(a) + len(b))


# -- calibrated doubt ------------------------------------------------------------------------

# A word whose probability is below its model's threshold is doubtful: the review editor marks it
# for a listener. Measured with scripts/evaluate_asr.py doubt (docs/asr.md) on 536 words with
# references (espeak focus groups, King's speech, NPSC), 53 % of them wrong: for the embedded
# base model, below 0.6 flags half the words, and 70 % of those are wrong (precision 0.70), while
# finding 67 % of the wrong words (recall). 0.5: precision 0.71, recall 0.53; 0.7: 0.66, 0.78.
DOUBT_THRESHOLD = {models.WHISPER_BASE_SHA256: 0.6}
# Models not measured yet (no reference set was run through them): Whisper's even odds.
DOUBT_THRESHOLD_UNMEASURED = 0.5


def doubt_threshold(model: ModelInfo) -> float:
    """The probability below which ``model``'s words are doubtful (DOUBT_THRESHOLD, by weights sha256)."""
    return DOUBT_THRESHOLD.get(model.sha256, DOUBT_THRESHOLD_UNMEASURED)


# -- hallucination guards ---------------------------------------------------------------------

# Why asr.guard suspects a word (Word.suspect). Suspects stay in session.json, exports leave them out.
NO_SPEECH = "no speech"  # diarisation heard nobody speak there
LOOP = "repetition"  # one more round of a phrase Whisper keeps repeating
# Whisper's word times drift by a few hundred ms at segment edges, so a word counts as heard when
# it comes this close (seconds) to diarised speech.
SPEECH_COLLAR = 0.5
# A loop: a phrase of up to LOOP_PHRASE words said LOOP_REPEATS times or more in a row, LOOP_WORDS
# words or more in all: "Hva er det? Hva er det? Hva er det?" (9 words, a children's song in the NRK clips)
# is speech; four rounds of "en del i høy som er" are not.
LOOP_PHRASE = 6
LOOP_REPEATS = 3
LOOP_WORDS = 10


def guard(words: Sequence[Word], speech: Sequence[Turn]) -> tuple[Word, ...]:
    """``words`` with ``suspect`` set where Whisper probably invented them, and cleared elsewhere.

    ``speech`` is where diarisation heard someone (``Diarization.turns``). A word is suspected
    when no speech lies within SPEECH_COLLAR of it, or when it repeats a loop's phrase (the first
    round is kept). Nothing is removed: the review shows suspects as doubtful.
    """
    reasons: list[str | None] = [None] * len(words)
    for index in _loop_repeats([_letters(word.text) for word in words]):
        reasons[index] = LOOP
    spans = _merged((turn.start - SPEECH_COLLAR, turn.end + SPEECH_COLLAR) for turn in speech)
    starts = [start for start, _ in spans]
    for index, word in enumerate(words):
        at = bisect_right(starts, word.end) - 1
        if at < 0 or spans[at][1] < word.start:
            reasons[index] = NO_SPEECH
    return tuple(replace(word, suspect=reason) for word, reason in zip(words, reasons))


def _merged(spans) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _loop_repeats(texts: list[str]) -> list[int]:
    """Indexes of the words that repeat a loop's phrase, after its first round."""
    repeats, index = [], 0
    while index < len(texts):
        loop = _loop_at(texts, index)
        if loop is None:
            index += 1
            continue
        size, rounds = loop
        repeats.extend(range(index + size, index + rounds * size))
        index += rounds * size
    return repeats


def _loop_at(texts: list[str], index: int) -> tuple[int, int] | None:
    """(phrase length, rounds) of the shortest loop starting at ``index``; None if none does."""
    for size in range(1, LOOP_PHRASE + 1):
        phrase = texts[index : index + size]
        if len(phrase) < size:
            return None
        rounds = 1
        while texts[index + rounds * size : index + (rounds + 1) * size] == phrase:
            rounds += 1
        if rounds >= LOOP_REPEATS and rounds * size >= LOOP_WORDS:
            return size, rounds
    return None
