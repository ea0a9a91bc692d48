#!/usr/bin/env python3
"""Measure diarisation error rate and speed of the embedded pipeline on real voices.

Runs ``transcribe.diarize.Diarizer`` over every combination of the given tunables on the
recordings with ground truth in the shared speech folder (see its SOURCES.md):

* ``diar/pyannote-sample``: 30 s, 2 speakers, telephone;
* ``diar/ami-seriously``: 60 s AMI meeting excerpt, 4 speakers, overlap;
* ``diar/ami-debug``: 14 AMI excerpts of 30 s, 1-4 speakers each;
* any ``--extra AUDIO RTTM`` pairs (e.g. a longer mixture made by make_fixtures.py).

DER is pyannote.metrics' DiarizationErrorRate, summed over the files of a set (total error
time / total speech time). ``--collar`` is pyannote's: the TOTAL width of the no-score zone
around each reference boundary, so the default 0.5 means 0.25 s either side (the NIST
convention usually quoted as "collar 0.25"). Strict DER (no collar) is shown next to it.
Overlapped speech is scored. Purity and coverage are shown because the two errors are not
equal here: a person split over two clusters is mended by mapping both to one informant, two
people merged into one cluster are not. Timings: wall seconds and CPU seconds (all threads) per second of
audio; on a busy machine trust the CPU figure more.

    python scripts/evaluate_diarization.py
    python scripts/evaluate_diarization.py --threshold 0.5 0.6 0.7 --step 0.1 0.2
    python scripts/evaluate_diarization.py --extra /tmp/eval/voices_group.m4a /tmp/eval/voices_group.rttm
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEECH = REPO_ROOT.parent / "shared" / "speech"


def datasets(speech: Path, extra: list[str]) -> dict[str, list[tuple[str, Path, Path, Path | None]]]:
    """{set name: [(uri, audio, rttm, uem or None)]}"""
    diar = speech / "diar"
    sets = {
        "pyannote-sample": [("sample", diar / "pyannote-sample" / "sample.wav", diar / "pyannote-sample" / "sample.rttm", None)],
        "ami-seriously": [("mixture", diar / "ami-seriously" / "mixture.wav", diar / "ami-seriously" / "mixture.rttm", None)],
        "ami-debug": [],
    }
    for subset in ("train", "development", "test"):
        rttm = diar / "ami-debug" / f"debug.{subset}.rttm"
        uem = diar / "ami-debug" / f"debug.{subset}.uem"
        uris = sorted({line.split()[1] for line in rttm.read_text().splitlines() if line.strip()})
        sets["ami-debug"] += [(uri, diar / "ami-debug" / f"{uri}.flac", rttm, uem) for uri in uris]
    for audio, rttm in zip(extra[::2], extra[1::2]):
        sets[Path(audio).stem] = [(None, Path(audio), Path(rttm), None)]
    return sets


def _error(components: dict) -> float:
    return components["missed detection"] + components["false alarm"] + components["confusion"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speech", type=Path, default=DEFAULT_SPEECH, help="shared speech folder (default: %(default)s)")
    parser.add_argument("--threshold", type=float, nargs="+", default=[0.5, 0.6, 0.7], help="clustering_threshold values")
    parser.add_argument("--step", type=float, nargs="+", default=[0.1, 0.2], help="segmentation_step values")
    parser.add_argument("--min-cluster-size", type=int, nargs="+", default=[4], help="clustering_min_cluster_size values")
    parser.add_argument("--method", nargs="+", default=["centroid"], help="clustering_method values")
    parser.add_argument("--exclude-overlap", choices=["yes", "no"], nargs="+", default=["yes"], help="embedding_exclude_overlap values")
    parser.add_argument("--collar", type=float, default=0.5, help="total collar width in seconds (default: %(default)s = 0.25 s each side)")
    parser.add_argument("--extra", nargs="*", default=[], metavar="AUDIO RTTM", help="more recordings with ground truth, as audio/RTTM pairs")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--json", type=Path, help="also write every result (per file) to this JSON file")
    args = parser.parse_args()
    if len(args.extra) % 2:
        parser.error("--extra takes AUDIO RTTM pairs")

    import torch
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.database.util import load_rttm, load_uem
    from pyannote.metrics.diarization import DiarizationCoverage, DiarizationErrorRate, DiarizationPurity

    from transcribe.audio import load
    from transcribe.diarize import DEFAULTS, Diarizer

    if args.threads:
        torch.set_num_threads(args.threads)

    sets = datasets(args.speech, args.extra)
    files = []  # (set, uri, audio samples, reference, uem)
    for name, entries in sets.items():
        for uri, audio_path, rttm_path, uem_path in entries:
            references = load_rttm(str(rttm_path))
            uri = uri or next(iter(references))
            audio = load([audio_path]).audio
            duration = len(audio) / 16000
            uem = load_uem(str(uem_path))[uri] if uem_path else Timeline([Segment(0, duration)])
            files.append((name, uri, audio, references[uri], uem))
    total_audio = sum(len(f[2]) for f in files) / 16000
    print(f"{len(files)} recordings, {total_audio:.0f} s of audio, collar {args.collar} s total "
          f"({args.collar / 2} s each side), torch threads {torch.get_num_threads()}", file=sys.stderr)

    rows, details = [], []
    grid = itertools.product(args.step, args.method, args.threshold, args.min_cluster_size, args.exclude_overlap)
    for step, method, threshold, min_size, exclude in grid:
        tunables = {
            "segmentation_step": step,
            "clustering_method": method,
            "clustering_threshold": threshold,
            "clustering_min_cluster_size": min_size,
            "embedding_exclude_overlap": exclude == "yes",
        }
        diarizer = Diarizer(**tunables)
        collared = {name: DiarizationErrorRate(collar=args.collar) for name in sets}
        strict = {name: DiarizationErrorRate() for name in sets}
        # purity: how much of each found speaker is one true speaker (a merge of two people
        # cannot be undone by mapping clusters to informants); coverage: how much of each true
        # speaker is in one found speaker (a split can be undone: map both clusters to one number).
        purity, coverage = DiarizationPurity(collar=args.collar), DiarizationCoverage(collar=args.collar)
        speakers_right = {name: 0 for name in sets}
        wall = cpu = 0.0
        for name, uri, audio, reference, uem in files:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            found = diarizer(audio)
            wall += time.perf_counter() - wall0
            cpu += time.process_time() - cpu0
            hypothesis = Annotation(uri=uri)
            for turn in found.turns:
                hypothesis[Segment(turn.start, turn.end), len(hypothesis)] = turn.speaker
            der = collared[name](reference, hypothesis, uem=uem)
            strict[name](reference, hypothesis, uem=uem)
            purity(reference, hypothesis, uem=uem)
            coverage(reference, hypothesis, uem=uem)
            speakers_right[name] += len(found.speakers) == len(reference.labels())
            details.append({**tunables, "set": name, "uri": uri, "der": der,
                            "speakers": len(found.speakers), "reference_speakers": len(reference.labels())})
        row = {**tunables, "wall_rtf": wall / total_audio, "cpu_per_s": cpu / total_audio}
        for name in sets:
            row[name] = (abs(collared[name]), abs(strict[name]), speakers_right[name], len(sets[name]))
        overall_error = sum(_error(collared[n].accumulated_) for n in sets)
        overall_total = sum(collared[n].accumulated_["total"] for n in sets)
        row["overall"] = overall_error / overall_total
        row["purity"], row["coverage"] = abs(purity), abs(coverage)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items()}), file=sys.stderr)

    header = ["step", "method", "threshold", "min size", "excl. overlap", *sets, "overall", "purity", "coverage",
              "wall RTF", "CPU s / s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [f"{row['segmentation_step']:g}", row["clustering_method"], f"{row['clustering_threshold']:g}",
                 str(row["clustering_min_cluster_size"]), "yes" if row["embedding_exclude_overlap"] else "no"]
        for name in sets:
            der, der_strict, right, count = row[name]
            cells.append(f"{100 * der:.1f} % ({100 * der_strict:.1f}) {right}/{count}")
        cells += [f"{100 * row['overall']:.1f} %", f"{100 * row['purity']:.1f} %", f"{100 * row['coverage']:.1f} %",
                  f"{row['wall_rtf']:.3f}", f"{row['cpu_per_s']:.3f}"]
        print("| " + " | ".join(cells) + " |")
    print(f"\nDER with collar {args.collar} s total ({args.collar / 2} s each side), strict DER (no collar) in "
          "brackets; n/m = recordings where the number of speakers found is right. Purity and coverage over "
          "all recordings (same collar): low purity = people merged, low coverage = people split. "
          f"Defaults: {json.dumps(DEFAULTS)}. Peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB.")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "files": details}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
