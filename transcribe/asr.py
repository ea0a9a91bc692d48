"""Speech recognition with faster-whisper: words with times, in Norwegian.

The language is always given, never detected: on Norwegian focus-group audio Whisper's guess is
often wrong. ``nb`` (Bokmål) is accepted as Whisper's ``no``; ``nn`` is Nynorsk.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from . import models
from .device import cpu_threads, cuda_errors, load_cuda_libraries, resolve_batch_size, resolve_compute_type
from .errors import InputError, ModelError
from .records import SAMPLE_RATE, Transcription, Word

LANGUAGES = {"no": "no", "nb": "no", "nn": "nn"}


@dataclass(frozen=True)
class DecodingOptions:
    """How Whisper decodes, declared in one place and recorded in session.json (``asdict``)."""

    beam_size: int = 5
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

    def resolved(self, device: str) -> DecodingOptions:
        """The options with 'auto' made concrete for ``device``."""
        return replace(
            self,
            compute_type=resolve_compute_type(device, self.compute_type),
            batch_size=resolve_batch_size(device, self.batch_size),
        )


DEFAULTS = asdict(DecodingOptions())


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

    def __init__(self, model_path: str | os.PathLike | None = None, device: str = "cpu", **options):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        try:
            self.options = DecodingOptions(**options).resolved(device)
        except TypeError:
            known = ", ".join(field.name for field in fields(DecodingOptions))
            raise InputError(f"Unknown decoding option in {', '.join(options)}; known are {known}.") from None
        self.model_info = models.asr_model(model_path)
        self.device = device
        self.settings = asdict(self.options)
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
    ) -> Transcription:
        """Transcribe 16 kHz mono audio; ``progress(seconds_done, seconds_total)``."""
        language = normalise_language(language)
        total = len(audio) / SAMPLE_RATE
        common = {
            "language": language,
            "task": "transcribe",
            "beam_size": self.options.beam_size,
            "word_timestamps": True,
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
        return Transcription(words=tuple(words), language=language, model=self.model_info, settings=dict(self.settings))
