"""``run``: recordings in, session folder with numbered-line transcripts out.

Each stage checkpoints into session.json. A second run on the same folder (after a crash, a
kill, or to change numbering) reuses every stage whose inputs and settings are unchanged, so
only what is missing is computed. Audio is decoded only when a speech stage must run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import audio as audio_stage
from .align import align
from .asr import DEFAULTS as ASR_DEFAULTS
from .asr import Transcriber, guard, model_hint, normalise_language
from .device import auto_fallback, check_settings, cuda_errors, parse_batch_size, resolve_device
from .diarize import Diarizer
from .errors import InputError, SessionError
from .export import DEFAULT_FORMATS, parse_formats
from .finish import FinishOptions, finish
from .names import load_names
from .receipt import PurgeState
from .records import MODERATOR, ExportRecord
from .session import Session, locked
from .speakers import check_moderator_label, moderator_doubt, propose_map, read_map

# progress(stage, done, total): stage is "decode", "diarize:<step>" or "transcribe".
Progress = Callable[[str, float, float], None]

# Allow for a couple of observers beyond moderator + informants when the count is not given.
EXTRA_SPEAKERS = 2


@dataclass(frozen=True)
class RunOptions:
    informants: Sequence[int]
    language: str = "no"
    name: str | None = None
    start_line: int | None = None  # None: 1, or on after continue_from's last line
    continue_from: Path | None = None  # another session folder: number on after its last line
    width: int = 80
    formats: Sequence[str] = DEFAULT_FORMATS
    asr_model: str | None = None
    diarization_model: str | None = None
    device: str = "auto"  # auto: the GPU when both CTranslate2 and torch can use it, else the CPU
    compute_type: str = "auto"  # Whisper's number format: float16 on a GPU, int8 on CPU
    batch_size: int | str = "auto"  # Whisper windows decoded together: 16 on a GPU, 1 on CPU
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    moderator_label: str = MODERATOR
    moderator: str | None = None  # the cluster the researcher knows is the moderator (SPEAKER_03); None: proposed
    map_file: Path | None = None  # the researcher's speaker map (TOML); None keeps the saved or proposed map
    merge: bool = False  # the map may give two clusters one label (one person split in two)
    names_file: Path | None = None  # names to pseudonymise in every export (TOML)
    vocabulary: Sequence[str] = ()  # terms Whisper is told to expect (asr.read_vocabulary reads a file of them)

    def __post_init__(self) -> None:
        """Every option is checked here, once, before any work: the CLI, batch and Python callers alike."""
        if not self.informants:
            raise InputError("No informant numbers given. Use --informants, e.g. 1-6.")
        object.__setattr__(self, "informants", tuple(self.informants))
        object.__setattr__(self, "language", normalise_language(self.language))
        object.__setattr__(self, "formats", tuple(parse_formats(self.formats)))
        object.__setattr__(self, "vocabulary", tuple(term.strip() for term in self.vocabulary if term.strip()))
        check_moderator_label(self.moderator_label)
        check_settings(self.device, self.compute_type, self.batch_size)
        object.__setattr__(self, "batch_size", parse_batch_size(self.batch_size))
        if self.start_line is not None and self.continue_from is not None:
            raise InputError("Give either --start-line or --continue-from, not both.")
        if self.moderator is not None and self.map_file is not None:
            raise InputError("Give either --moderator or --map, not both: the map file names the moderator too.")

    def finishing(self) -> FinishOptions:
        """What the finish step is asked to do at the end of the run."""
        start_line = 1 if self.start_line is None and self.continue_from is None else self.start_line
        return FinishOptions(
            formats=self.formats,
            start_line=start_line,
            continue_from=self.continue_from,
            width=self.width,
            moderator_label=self.moderator_label,
            moderator=self.moderator,
            map_file=self.map_file,
            merge=self.merge,
        )


@dataclass
class RunResult:
    folder: Path
    session: Session
    exports: list[ExportRecord]
    computed: list[str] = field(default_factory=list)  # stages that ran (the rest were reused)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    device: str | None = None  # where the speech stages ran; None when none had to

    def to_dict(self) -> dict:
        session = self.session
        return {
            "session": session.name,
            "folder": str(self.folder),
            "duration": round(session.duration, 3),
            "speaker_map": session.speaker_map,
            "computed": self.computed,
            "device": self.device,
            "speakers_alike": [list(pair) for pair in session.diarization.alike] if session.diarization else [],
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "warnings": self.warnings,
            "exports": [{"format": r.format, "file": r.file, "sha256": r.sha256} for r in self.exports],
        }

    def lines(self) -> list[str]:
        """What a person reads after a run: the files, the speakers, what to check next."""
        session = self.session
        lines = [
            f"Session '{session.name}' in {self.folder} ({session.duration / 60:.1f} min, "
            f"{len(session.speaker_map)} speakers):"
        ]
        lines += [f"  {self.folder / record.file}" for record in self.exports]
        lines.append("Speakers: " + ", ".join(f"{cluster} → {label}" for cluster, label in session.speaker_map.items()))
        lines += [
            f"  {a} and {b} sound alike (voice similarity {similar:.2f}): perhaps one person in two clusters"
            for a, b, similar in (session.diarization.alike if session.diarization else ())
        ]
        lines.append(f"Check them with: transcribe speakers {self.folder}")
        return lines


def speaker_bounds(options: RunOptions) -> dict:
    """What diarisation is told about the number of speakers."""
    if options.num_speakers is not None:
        return {"num_speakers": options.num_speakers, "min_speakers": None, "max_speakers": None}
    expected = len(options.informants) + 1
    return {
        "num_speakers": None,
        "min_speakers": options.min_speakers,
        "max_speakers": options.max_speakers if options.max_speakers is not None else expected + EXTRA_SPEAKERS,
    }


def diarization_request(options: RunOptions) -> dict:
    """What diarisation is asked for; a rerun asking the same reuses the saved result."""
    return {"model": options.diarization_model, **speaker_bounds(options)}


def transcription_request(options: RunOptions) -> dict:
    """What transcription is asked for; a rerun asking the same reuses the saved result.

    The device is not part of it and 'auto' stays 'auto', so a session begun on one machine can be
    finished on another; the settings actually used are saved beside the request.
    """
    return {
        "model": options.asr_model,
        "language": options.language,
        **ASR_DEFAULTS,
        "compute_type": options.compute_type,
        "batch_size": options.batch_size,
        "vocabulary": list(options.vocabulary),
    }


def run(
    paths: Sequence[str | Path],
    folder: str | Path,
    options: RunOptions,
    progress: Progress | None = None,
    transcriber: Transcriber | None = None,
    diarizer=None,
) -> RunResult:
    """Run every stage that is not already done; return what was made and what was reused.

    ``transcriber`` and ``diarizer`` may be passed in so a batch loads the models once.
    """
    folder = Path(folder)
    created = not folder.exists()
    with locked(folder, created=created):
        return _run_locked(
            [Path(p).expanduser() for p in paths], folder, options, progress or _quiet, transcriber, diarizer
        )


def _run_locked(paths, folder, options, progress, transcriber, diarizer) -> RunResult:
    _refuse_if_purged(folder)
    for path in paths:
        audio_stage.check_readable(path)
    names = load_names(options.names_file) if options.names_file is not None else None  # refused before hours of work
    if options.map_file is not None:
        read_map(options.map_file)  # its syntax now; its clusters once diarisation has found them
    intake = [audio_stage.sha256_and_size(path) for path in paths]  # each recording hashed once per run
    session = _existing_session(folder, [sha256 for sha256, _ in intake])
    result = RunResult(folder=folder, session=session, exports=[])
    bounds = speaker_bounds(options)
    diar_request, asr_request = diarization_request(options), transcription_request(options)

    need_diarization = (
        session is None or session.diarization is None or session.diarization.settings.get("request") != diar_request
    )
    need_transcription = (
        session is None or session.transcription is None or session.transcription.settings.get("request") != asr_request
    )

    if need_diarization or need_transcription:
        device = result.device = resolve_device(
            options.device
        )  # before decoding: a GPU that cannot work is said at once
        if fallback := auto_fallback(options.device, device):
            result.warnings.append(fallback)
        expect = getattr(progress, "expect", None)  # a progress display that estimates the whole run
        if expect is not None:
            expect(
                ["decode", *(["diarize"] if need_diarization else []), *(["transcribe"] if need_transcription else [])],
                device,
            )
        started = time.monotonic()
        recording = audio_stage.load(paths, progress=lambda done, total: progress("decode", done, total), intake=intake)
        result.seconds["decode"] = time.monotonic() - started
        result.computed.append("decode")
        if session is None:
            session = Session(
                name=options.name or folder.resolve().name,
                informants=list(options.informants),
                language=options.language,
                sources=list(recording.sources),
                moderator_label=options.moderator_label,
            )
            session.save(folder)
        if need_diarization:
            started = time.monotonic()
            with cuda_errors(device, "Diarisation"):
                diarizer = diarizer or Diarizer(options.diarization_model, device=device)
                found = diarizer(
                    recording.audio,
                    progress=lambda step, done, total: progress(f"diarize:{step}", done, total),
                    **bounds,
                )
            session.diarization = dataclasses.replace(found, settings={**found.settings, "request": diar_request})
            session.utterances = session.speaker_map = None
            session.save(folder)
            result.seconds["diarize"] = time.monotonic() - started
            result.computed.append("diarize")
        if need_transcription:
            started = time.monotonic()
            transcriber = transcriber or Transcriber(
                options.asr_model, device=device, compute_type=options.compute_type, batch_size=options.batch_size
            )
            found = transcriber(
                recording.audio,
                options.language,
                progress=lambda done, total: progress("transcribe", done, total),
                vocabulary=options.vocabulary,
            )
            session.transcription = dataclasses.replace(found, settings={**found.settings, "request": asr_request})
            session.utterances = session.speaker_map = None
            session.save(folder)
            result.seconds["transcribe"] = time.monotonic() - started
            result.computed.append("transcribe")
        del recording  # audio lives only in memory, and only as long as needed

    if session.utterances is None:  # the guards read diarisation, so they are redone with each new alignment
        session.transcription = dataclasses.replace(
            session.transcription, words=guard(session.transcription.words, session.diarization.turns)
        )
    if not any(word.suspect is None for word in session.transcription.words):
        raise InputError(
            f"No speech was recognised in {', '.join(s.file for s in session.sources)} ({session.duration:.1f} s), "
            "so no transcript was written. Check that it is the right recording and that voices can be heard in it."
        )
    session.informants = list(options.informants)
    if session.utterances is None:
        session.utterances = align(session.transcription.words, session.diarization.exclusive)
        result.computed.append("align")
    if session.speaker_map is None and options.map_file is None and options.moderator is None:
        session.speaker_map = propose_map(session.utterances, session.informants, options.moderator_label)
        result.computed.append("speakers")
        if doubt := moderator_doubt(session.utterances, folder):
            result.warnings.append(doubt)
    started = time.monotonic()
    result.exports = finish(session, folder, options.finishing(), names)
    result.seconds["export"] = time.monotonic() - started
    result.computed.append("export")
    result.warnings.extend(_speaker_warnings(session))
    if hint := model_hint(session.transcription.model, session.duration):
        result.warnings.append(hint)
    result.session = session
    return result


def _existing_session(folder: Path, hashes: list[str]) -> Session | None:
    if not Session.exists(folder):
        return None
    session = Session.load(folder)
    if [source.sha256 for source in session.sources] != hashes:
        raise SessionError(
            f"{folder} already holds session '{session.name}' made from other recordings "
            f"({', '.join(s.file for s in session.sources)}). Choose a new folder with --out."
        )
    return session


def _refuse_if_purged(folder: Path) -> None:
    """A rerun after a purge: say where the session stands, not that a recording is missing or changed."""
    if not Session.exists(folder):
        return
    session = Session.load(folder)
    state = session.purge_state
    if state is PurgeState.COMPLETE:
        raise SessionError(
            f"The recordings of session '{session.name}' were purged; its transcript is kept in {folder}. "
            f"Write exports again with 'transcribe export {folder}'."
        )
    if state is PurgeState.IN_PROGRESS:
        raise SessionError(
            f"A purge of session '{session.name}' was interrupted, so some recordings are already destroyed. "
            f"Finish it with 'transcribe purge {folder}'."
        )


def _speaker_warnings(session: Session) -> list[str]:
    informants_found = sum(1 for label in session.speaker_map.values() if isinstance(label, int))
    if informants_found < len(session.informants):
        return [
            f"Only {len(session.speaker_map)} speakers were found, so {len(session.informants) - informants_found} "
            f"informant number(s) are unused. Check 'transcribe speakers {session.name}' or set --speakers."
        ]
    return []


def _quiet(stage: str, done: float, total: float) -> None:
    return None
