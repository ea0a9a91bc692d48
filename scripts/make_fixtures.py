#!/usr/bin/env python3
"""Make test fixtures for `transcribe`: synthetic focus-group recordings with ground truth.

Two kinds:

* ``norwegian`` -> ``no_group``: a Norwegian (Bokmål) focus group spoken by espeak-ng
  (moderator ``M`` and informants ``I1``..``I3``), with quiet room noise, split into
  iPhone-like AAC ``.m4a`` parts (cut in pauses between turns).
* ``voices`` -> ``voices_group``: a focus group mixed from REAL voices (LibriSpeech,
  CC BY 4.0, English read speech) taken from the shared speech folder: one moderator plus
  informants, uneven turn counts, short overlaps, mild reverb and room noise.
  ``--minutes`` makes longer evaluation mixtures (not meant to be committed).

Each fixture gets ``<name>.rttm`` (speaker turns on the session timeline, i.e. with the
parts laid end to end) and ``<name>.json`` (parts with offsets/durations measured from the
decoded files, every turn with speaker, times, text or source).

Dependencies: Python 3.9+, numpy, and the command-line tools ffmpeg/ffprobe, sox (reverb)
and espeak-ng (Norwegian voices). Output is deterministic for a given seed and tool versions.

    python scripts/make_fixtures.py --out tests/fixtures --kind all --seed 1
    python scripts/make_fixtures.py --out /tmp/eval --kind voices --minutes 5 --seed 3
    python scripts/make_fixtures.py --check tests/fixtures
    python scripts/make_fixtures.py --out eval/focus --devset 6 --seed 1   # evaluation set
    python scripts/make_fixtures.py --out eval/dev --conditions dev         # conditions (Condition)
    python scripts/make_fixtures.py --out eval/heldout --conditions heldout
    python scripts/make_fixtures.py --out eval/long --conditions long       # one 45-min session

``--devset N`` makes the focus-group development set for ``scripts/evaluate.py``: N mixtures of
real voices (LibriSpeech), 3-6 minutes and 6-8 speakers each, written as AAC mono .m4a at
64 kbit/s (what iPhone Voice Memos records at its default quality), with an RTTM of the
speech regions found by an energy pass over each clean source piece before mixing (so pauses
inside a read sentence are not counted as speech). See make_focus_mixture().
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEECH = REPO_ROOT.parent / "shared" / "speech"

WORK_SR = 16000  # everything is built at 16 kHz mono float32
OUT_SR = 48000  # written like iPhone Voice Memos: AAC, 48 kHz, mono
OUT_BITRATE = "32k"  # the committed fixtures (kept as they are)
DEVSET_BITRATE = "64k"  # the evaluation set: iPhone Voice Memos' AAC mono is typically ~64 kbit/s
AAC_BLOCK = 1024  # samples at WORK_SR = 3 AAC frames of 1024 samples at OUT_SR
FRAME = 0.010  # analysis hop (s)

ATTRIBUTION = (
    "Contains speech from LibriSpeech (c) 2014 by Vassil Panayotov, "
    "licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)."
)

# --------------------------------------------------------------------------- tools


def need_tools(*names: str) -> None:
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        sys.exit(
            f"make_fixtures: missing command-line tool(s): {', '.join(missing)} (apt-get install ffmpeg sox espeak-ng)"
        )


def run(cmd: list[str], data: bytes | None = None) -> bytes:
    p = subprocess.run(cmd, input=data, capture_output=True)
    if p.returncode != 0:
        sys.exit(
            f"make_fixtures: command failed ({p.returncode}): {' '.join(cmd)}\n"
            f"{p.stderr.decode(errors='replace')[-2000:]}"
        )
    return p.stdout


def decode(path: Path, sr: int = WORK_SR) -> np.ndarray:
    """Any audio file -> mono float32 at `sr` (via ffmpeg)."""
    raw = run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sr), "-"])
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def probe(path: Path) -> dict:
    out = run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)])
    return json.loads(out)


def write_m4a(x: np.ndarray, path: Path, bitrate: str = OUT_BITRATE) -> None:
    """float32 16 kHz mono -> AAC-LC .m4a, 48 kHz mono, `bitrate`, faststart, bit-exact."""
    run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "f32le",
            "-ar",
            str(WORK_SR),
            "-ac",
            "1",
            "-i",
            "-",
            "-map_metadata",
            "-1",
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            "-af",
            f"aresample={OUT_SR}:resampler=soxr",
            "-c:a",
            "aac",
            "-b:a",
            bitrate,
            "-ar",
            str(OUT_SR),
            "-ac",
            "1",
            "-movflags",
            "+faststart",
            str(path),
        ],
        data=np.ascontiguousarray(x, dtype="<f4").tobytes(),
    )


def sox_reverb(x: np.ndarray, reverberance: int, room_scale: int, wet_db: float) -> np.ndarray:
    raw = run(
        [
            "sox",
            "-D",
            "-t",
            "f32",
            "-r",
            str(WORK_SR),
            "-c",
            "1",
            "-",
            "-t",
            "f32",
            "-",
            "reverb",
            str(reverberance),
            "50",
            str(room_scale),
            "100",
            "5",
            str(wet_db),
        ],
        data=np.ascontiguousarray(x, dtype="<f4").tobytes(),
    )
    y = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    return y[: len(x)] if len(y) >= len(x) else np.pad(y, (0, len(x) - len(y)))


# --------------------------------------------------------------------------- signal helpers


def frame_db(x: np.ndarray, sr: int = WORK_SR, hop: float = FRAME, win: float = 0.03) -> np.ndarray:
    """Short-time RMS in dBFS, one value per `hop` seconds (centred windows)."""
    h, w = int(hop * sr), int(win * sr)
    n = max(1, len(x) // h)
    pad = np.pad(x.astype(np.float64), (w // 2, w))
    c = np.concatenate([[0.0], np.cumsum(pad**2)])
    idx = np.arange(n) * h
    e = (c[idx + w] - c[idx]) / w
    return 10 * np.log10(e + 1e-12)


def speech_bounds(x: np.ndarray, rel_db: float = 35.0, sr: int = WORK_SR) -> tuple[float, float]:
    """(first, last) time with energy within `rel_db` of the loud frames."""
    db = frame_db(x, sr)
    thr = np.percentile(db, 95) - rel_db
    act = np.nonzero(db > thr)[0]
    if len(act) == 0:
        return 0.0, len(x) / sr
    return act[0] * FRAME, min(len(x) / sr, (act[-1] + 1) * FRAME)


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def fade(x: np.ndarray, sec: float = 0.015) -> np.ndarray:
    n = min(int(sec * WORK_SR), len(x) // 2)
    if n > 0:
        r = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= r
        x[-n:] *= r[::-1]
    return x


def room_noise(n: int, rng: np.random.Generator, level_db: float) -> np.ndarray:
    """Seeded pink-ish noise with a little low rumble, scaled to `level_db` dBFS RMS."""
    white = rng.standard_normal(n + WORK_SR).astype(np.float64)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(len(white), 1 / WORK_SR)
    f[0] = f[1]
    shape = 1 / np.sqrt(f)  # pink
    shape *= 1 + 2.0 * np.exp(-(((f - 100) / 60) ** 2))  # ventilation-like rumble
    shape *= 1 / (1 + (f / 6000) ** 4)  # soft top
    y = np.fft.irfft(spec * shape, len(white))[:n]
    y *= 10 ** (level_db / 20) / (np.sqrt(np.mean(y**2)) + 1e-12)
    return y.astype(np.float32)


def normalise(x: np.ndarray, speech: list[tuple[float, float]], target_db: float, peak_db: float = -1.0) -> np.ndarray:
    """Scale so speech regions have `target_db` dBFS RMS; then keep peaks under `peak_db`."""
    seg = np.concatenate([x[int(s * WORK_SR) : int(e * WORK_SR)] for s, e in speech]) if speech else x
    g = 10 ** ((target_db - rms_db(seg)) / 20)
    y = x * g
    peak = float(np.max(np.abs(y))) + 1e-12
    lim = 10 ** (peak_db / 20)
    if peak > lim:
        y *= lim / peak
    return y.astype(np.float32)


def lag_ms(ref: np.ndarray, dec: np.ndarray, max_lag: float = 0.05) -> float:
    """Lag of `dec` against `ref` (ms) by cross-correlation over the loudest 4 s."""
    w = int(4 * WORK_SR)
    n = min(len(ref), len(dec))
    if n < w + 2 * int(max_lag * WORK_SR):
        return 0.0
    db = frame_db(ref[:n])
    k = int(np.argmax(np.convolve(db, np.ones(400), "valid")))
    m = int(max_lag * WORK_SR)
    a = max(m, min(int(k * FRAME * WORK_SR), n - w - m))
    r = ref[a : a + w].astype(np.float64)
    best, arg = -np.inf, 0
    for lag in range(-m, m + 1):
        d = dec[a + lag : a + lag + w].astype(np.float64)
        c = float(np.dot(r, d))
        if c > best:
            best, arg = c, lag
    return 1000.0 * arg / WORK_SR


# --------------------------------------------------------------------------- writing fixtures


def split_points(turns: list[dict], total: float, n_parts: int) -> list[float]:
    """Cut times in the middle of between-turn gaps, near equal part lengths."""
    if n_parts <= 1:
        return []
    gaps = []
    ordered = sorted(turns, key=lambda t: t["start"])
    reach = 0.0
    for a, b in zip(ordered, ordered[1:]):
        reach = max(reach, a["end"])
        if b["start"] - reach >= 0.3:
            gaps.append((reach + b["start"]) / 2)
    cuts: list[float] = []
    for k in range(1, n_parts):
        want = total * k / n_parts
        cands = [g for g in gaps if g not in cuts and (not cuts or g > cuts[-1] + 1.0)]
        if not cands:
            sys.exit("make_fixtures: not enough pauses to cut the session into parts")
        cuts.append(min(cands, key=lambda g: abs(g - want)))
    return cuts


def write_fixture(
    out: Path,
    name: str,
    x: np.ndarray,
    turns: list[dict],
    n_parts: int,
    meta: dict,
    speech: list[tuple[str, float, float]] | None = None,
    bitrate: str = OUT_BITRATE,
) -> dict:
    """Write parts (.m4a), <name>.rttm and <name>.json. Turn times in `turns` are on the
    un-split timeline of `x`; the written times use the decoded part durations. With `speech`
    ((speaker, start, end) regions of actual speech, on the same timeline) the RTTM holds those
    regions instead of whole turns, and the json lists them under "speech"."""
    # Part lengths are whole multiples of AAC_BLOCK samples (3 AAC frames at 48 kHz), so an
    # AAC part decodes to exactly the length that went in (no end padding to argue about).
    last = max(t["end"] for t in turns)
    n = (len(x) // AAC_BLOCK) * AAC_BLOCK
    if n / WORK_SR < last + 0.1:
        n += AAC_BLOCK
        x = np.pad(x, (0, max(0, n - len(x))))
    x = x[:n]
    total = n / WORK_SR
    cuts = [round(c * WORK_SR / AAC_BLOCK) * AAC_BLOCK / WORK_SR for c in split_points(turns, total, n_parts)]
    bounds = [0.0] + cuts + [total]
    parts, offset = [], 0.0
    files = [f"{name}.m4a"] if n_parts <= 1 else [f"{name}_part{k + 1}.m4a" for k in range(n_parts)]
    for k, fname in enumerate(files):
        a, b = int(round(bounds[k] * WORK_SR)), int(round(bounds[k + 1] * WORK_SR))
        seg = x[a:b]
        path = out / fname
        write_m4a(seg, path, bitrate)
        dec48 = decode(path, OUT_SR)
        dur = len(dec48) / OUT_SR
        dec16 = decode(path, WORK_SR)
        lag = lag_ms(seg, dec16)
        if abs(lag) > 1.0:
            print(f"  warning: {fname} decodes {lag:+.1f} ms shifted against its source", file=sys.stderr)
        info = probe(path)
        parts.append(
            {
                "file": fname,
                "offset": round(offset, 6),
                "duration": round(dur, 6),
                "source_start": round(bounds[k], 6),
                "samples_48k": len(dec48),
                "encoded_duration": float(info["format"]["duration"]),
                "bytes": path.stat().st_size,
                "_lag_ms": lag,
            }
        )
        offset += dur
    out_turns = []
    for t in sorted(turns, key=lambda t: (t["start"], t["end"])):
        k = int(np.searchsorted(np.array(cuts), t["start"], side="right")) if cuts else 0
        if t["end"] > bounds[k + 1]:
            sys.exit(f"make_fixtures: turn {t} crosses a part boundary")
        shift = parts[k]["offset"] - bounds[k]
        tt = dict(t)
        tt["start"] = round(t["start"] + shift, 3)
        tt["end"] = round(t["end"] + shift, 3)
        tt["part"] = k + 1
        out_turns.append(tt)
    out_speech = []
    for spk, s, e in sorted(speech or [], key=lambda r: (r[1], r[2], r[0])):
        k = int(np.searchsorted(np.array(cuts), s, side="right")) if cuts else 0
        shift = parts[k]["offset"] - bounds[k]
        out_speech.append([spk, round(s + shift, 3), round(e + shift, 3)])
    for p in parts:
        p.pop("_lag_ms")
    doc = dict(meta)
    doc.update(
        {
            "name": name,
            "duration": round(offset, 6),
            "sample_rate": OUT_SR,
            "codec": "aac",
            "bitrate": bitrate,
            "parts": parts,
            "turns": out_turns,
        }
    )
    if speech is not None:
        doc["rttm"] = "speech regions (pauses inside a turn excluded)"
        doc["speech"] = out_speech
    rows = out_speech if speech is not None else [[t["speaker"], t["start"], t["end"]] for t in out_turns]
    with open(out / f"{name}.rttm", "w", encoding="utf-8") as f:
        for spk, s, e in rows:
            f.write(f"SPEAKER {name} 1 {s:.3f} {e - s:.3f} <NA> <NA> {spk} <NA> <NA>\n")
    with open(out / f"{name}.json", "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return doc


def summarise(doc: dict) -> None:
    counts: dict[str, list[float]] = {}
    for t in doc["turns"]:
        counts.setdefault(t["speaker"], []).append(t["end"] - t["start"])
    print(
        f"{doc['name']}: {doc['duration']:.2f} s in {len(doc['parts'])} part(s), "
        f"{len(doc['turns'])} turns, {len(counts)} speakers"
    )
    for p in doc["parts"]:
        print(f"  {p['file']}: offset {p['offset']:.3f} s, duration {p['duration']:.3f} s, {p['bytes']} bytes")
    for s, d in counts.items():
        print(f"  {s:>9}: {len(d):2d} turns, {sum(d):6.2f} s")


# --------------------------------------------------------------------------- no_group (espeak)

# (speaker, text). Bokmål. The moderator asks (ends in '?'); informants answer in 1-3 sentences.
NO_SCRIPT: list[tuple[str, str]] = [
    ("M", "Velkommen, og takk for at dere kom. Hva betyr selvhjelp for dere?"),
    ("I1", "For meg betyr selvhjelp å ta ansvar for mitt eget liv. Gruppa hjelper meg med det."),
    ("I2", "Det handler om å dele erfaringer med andre som har opplevd det samme."),
    ("M", "Hvor ofte møtes dere i gruppa?"),
    (
        "I3",
        "Vi møtes hver tirsdag. Av og til møtes vi utenom gruppa også, "
        "men da snakker vi ikke om det som er taushetsbelagt.",
    ),
    ("I1", "Vi skiller mellom gruppemøte og privatmøte."),
    ("M", "Hvordan var det å komme til gruppa første gang?"),
    ("I2", "Det var skummelt. Men de andre tok godt imot meg."),
    ("I3", "Jeg kjente meg igjen i historiene deres. Da forsto jeg at jeg ikke var alene."),
    ("M", "Hvilke erfaringer tar dere med dere i hverdagen?"),
    ("I1", "Jeg har lært å si fra når noe er vanskelig. Jeg har sagt til mannen min: Gruppa mi får du aldri."),
    ("I2", "Jeg har fått mer tro på meg selv."),
    ("M", "Er det noe dere savner i gruppa?"),
    ("I3", "Kanskje litt mer struktur. Men stort sett fungerer det bra."),
    ("M", "Tusen takk. Da avslutter vi her."),
]

# espeak-ng voice, pitch (-p, 0..99), speed (-s, words per minute)
NO_VOICES = {
    "M": ("nb+f2", 58, 175),
    "I1": ("nb+m3", 35, 160),
    "I2": ("nb+f4", 75, 185),
    "I3": ("nb+m7", 20, 150),
}


def espeak(text: str, voice: str, pitch: int, speed: int, tmp: Path) -> np.ndarray:
    wav = tmp / "espeak.wav"
    run(["espeak-ng", "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text])
    y = decode(wav)
    a, b = speech_bounds(y, rel_db=45)
    y = y[int(a * WORK_SR) : int(b * WORK_SR)]
    return fade(y, 0.005)


def make_no_group(out: Path, seed: int, name: str = "no_group", n_parts: int = 3) -> dict:
    need_tools("espeak-ng", "ffmpeg", "ffprobe")
    rng = np.random.default_rng([seed, 1])
    pieces, turns, t = [], [], round(float(rng.uniform(0.5, 0.9)), 3)
    with tempfile.TemporaryDirectory() as td:
        for _i, (spk, text) in enumerate(NO_SCRIPT):
            voice, pitch, speed = NO_VOICES[spk]
            y = espeak(text, voice, pitch, speed, Path(td))
            y *= 10 ** ((-20 - rms_db(y)) / 20) * 10 ** (float(rng.uniform(-2, 2)) / 20)
            start = t
            pieces.append((int(round(start * WORK_SR)), y))
            end = start + len(y) / WORK_SR
            turns.append({"speaker": spk, "start": start, "end": end, "text": text})
            t = end + float(rng.uniform(0.4, 1.2))
    total = turns[-1]["end"] + float(rng.uniform(0.6, 1.0))
    x = np.zeros(int(round(total * WORK_SR)) + 1, dtype=np.float32)
    for a, y in pieces:
        x[a : a + len(y)] += y
    # quiet room: speech at -20 dBFS RMS, noise 38 dB below, a touch of early reflections
    x = sox_reverb(x, reverberance=10, room_scale=20, wet_db=-10) if shutil.which("sox") else x
    x = normalise(x, [(tt["start"], tt["end"]) for tt in turns], -20.0)
    x += room_noise(len(x), rng, -58.0)
    meta = {
        "format": "transcribe.fixture/1",
        "generator": "scripts/make_fixtures.py",
        "kind": "espeak",
        "language": "no",
        "synthetic": True,
        "description": "Norwegian (Bokmål) focus group about self-help groups, spoken by "
        "espeak-ng voices; quiet room noise; recorded 'in three parts'.",
        "seed": seed,
        "moderator": "M",
        "speakers": {
            s: {"role": "moderator" if s == "M" else "informant", "espeak_voice": v, "pitch": p, "speed": sp}
            for s, (v, p, sp) in NO_VOICES.items()
        },
        "tools": tool_versions(),
    }
    return write_fixture(out, name, x, turns, n_parts, meta)


# --------------------------------------------------------------------------- voices_group (LibriSpeech)


def read_speakers(speech: Path) -> list[dict]:
    lib = speech / "spk" / "librispeech"
    tsv = lib / "speakers.tsv"
    if not tsv.is_file():
        sys.exit(f"make_fixtures: speaker bank not found: {tsv} (use --speech DIR or TRANSCRIBE_SPEECH_DIR)")
    rows = []
    with open(tsv, encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            if line.strip():
                rows.append(dict(zip(head, line.rstrip("\n").split("\t"))))
    by_spk: dict[str, dict] = {}
    for r in rows:
        s = by_spk.setdefault(
            r["speaker"], {"speaker": r["speaker"], "gender": r["gender"], "subset": r["subset"], "files": []}
        )
        s["files"].append(r["file"])
    for s in by_spk.values():
        s["files"].sort()
    return sorted(by_spk.values(), key=lambda s: int(s["speaker"]))


class Bank:
    """Cuts pieces from one speaker's utterances, at low-energy points, in order. When the
    material runs out it starts again (pieces marked `reused`) in a new order and from a
    different pause, so repeated material is cut at other places."""

    def __init__(self, lib: Path, spk: dict, rng: np.random.Generator, cache: dict):
        self.spk, self.rng = spk, rng
        self.utts = []
        for rel in spk["files"]:
            if rel not in cache:
                cache[rel] = self._analyse(lib, rel)
            self.utts.append(cache[rel])
        self.order = list(rng.permutation(len(self.utts)))
        self.u, self.reused = 0, False
        self.pos = self.cur["a"]

    @staticmethod
    def _analyse(lib: Path, rel: str) -> dict:
        y = decode(lib / rel)
        a, b = speech_bounds(y)
        db = frame_db(y)
        low = db < np.percentile(db, 95) - 28
        cuts, i = [], 0
        while i < len(low):  # centres of low-energy runs >= 60 ms
            if low[i]:
                j = i
                while j < len(low) and low[j]:
                    j += 1
                if j - i >= 6:
                    cuts.append((i + j) / 2 * FRAME)
                i = j
            else:
                i += 1
        cuts = sorted(set([a] + [c for c in cuts if a < c < b] + [b]))
        return {"file": rel, "y": y, "db": db, "cuts": cuts, "a": a, "b": b}

    @property
    def cur(self) -> dict:
        return self.utts[self.order[self.u]]

    def _next_utt(self) -> None:
        self.u += 1
        if self.u >= len(self.utts):
            self.u, self.reused = 0, True
            self.order = list(self.rng.permutation(len(self.utts)))
        ut = self.cur
        self.pos = ut["a"]
        if self.reused:  # start at another pause this time round
            early = [c for c in ut["cuts"] if ut["a"] < c < min(ut["a"] + 3.0, ut["b"] - 3.0)]
            if early:
                self.pos = float(self.rng.choice([ut["a"]] + early))

    def take(self, want: float, lo: float = 2.0, hi: float = 8.0) -> dict:
        for _ in range(4 * len(self.utts) + 2):
            ut = self.cur
            if ut["b"] - self.pos < lo:
                self._next_utt()
                continue
            start = self.pos
            ends = [c for c in ut["cuts"] if start + lo <= c <= start + hi]
            if ends:
                end = min(ends, key=lambda c: abs(c - (start + want)))
            else:  # no pause in range: quietest frame near target
                w0 = max(start + lo, start + want - 1.0)
                w1 = min(ut["b"], start + want + 1.0, start + hi)
                if w1 <= w0:
                    end = min(ut["b"], start + hi)
                else:
                    f0, f1 = int(w0 / FRAME), max(int(w0 / FRAME) + 1, int(w1 / FRAME))
                    end = (f0 + int(np.argmin(ut["db"][f0:f1]))) * FRAME
            if ut["b"] - end < 2.0 and ut["b"] - start <= hi:  # don't leave a scrap behind
                end = ut["b"]
            y = ut["y"][int(start * WORK_SR) : int(end * WORK_SR)]
            a, b = speech_bounds(y)
            y = fade(y[int(a * WORK_SR) : int(b * WORK_SR)])
            piece = {
                "y": y,
                "file": ut["file"],
                "src_start": round(start + a, 3),
                "src_end": round(start + b, 3),
                "reused": self.reused,
            }
            self.pos = end
            if ut["b"] - self.pos < 2.0:
                self._next_utt()
            return piece
        sys.exit(f"make_fixtures: speaker {self.spk['speaker']} has no usable audio")


def plan_voices(rng: np.random.Generator, n_inf: int, n_inf_turns: int, short: bool) -> list[dict]:
    """Turn plan: [{"who": "M" | informant index, "want": s, "overlap": s}]. Informant 0 is
    the dominant one (about a third of the informant turns), informant n_inf-1 the quiet one
    (one short turn); the others get uneven shares, at least one turn each (two in long
    mixtures). The moderator opens and comes in between informants."""
    quiet, n_reg = n_inf - 1, n_inf - 2
    min_reg = 1 if short else 2
    n_dom = max(3, int(round(0.3 * n_inf_turns)))
    spare = n_inf_turns - 1 - n_dom - min_reg * n_reg
    if spare < 0:
        n_dom += spare
        spare = 0
    share = rng.dirichlet(np.full(n_reg, 1.5)) * spare
    reg = np.floor(share).astype(int)
    for k in np.argsort(-(share - reg))[: spare - int(reg.sum())]:
        reg[k] += 1
    reg += min_reg
    n_dom = max(n_dom, int(reg.max()) + 2)
    bag = [0] * n_dom + [k + 1 for k in range(n_reg) for _ in range(int(reg[k]))]
    order = [int(i) for i in rng.permutation(bag)]
    for _ in range(len(order) * 4):  # avoid the same informant twice in a row
        clash = [i for i in range(1, len(order)) if order[i] == order[i - 1]]
        if not clash:
            break
        i = clash[0]
        j = int(rng.integers(len(order)))
        order[i], order[j] = order[j], order[i]
    q = int(round(float(rng.uniform(0.35, 0.7)) * len(order)))
    order.insert(q, quiet)
    p_mod, max_run = (0.5, 2) if short else (0.35, 3)
    seq, run_inf = ["M"], 0
    for i, who in enumerate(order):
        if i > 0 and (run_inf >= max_run or rng.random() < p_mod):
            seq.append("M")
            run_inf = 0
        seq.append(who)
        run_inf += 1
    if rng.random() < 0.5:
        seq.append("M")
    plan = []
    for who in seq:
        want = (
            float(rng.uniform(2.0, 3.5))
            if who == "M"
            else float(rng.uniform(2.0, 2.8))
            if who == quiet
            else float(rng.uniform(3.5, 6.5))
            if who == 0
            else float(rng.uniform(2.5, 5.0))
        )
        plan.append({"who": who, "want": want, "overlap": 0.0})
    # a few short overlaps at turn changes (never around the quiet turn)
    changes = [i for i in range(1, len(plan)) if quiet not in (plan[i]["who"], plan[i - 1]["who"])]
    n_ov = max(2, int(round(0.15 * len(plan))))
    for i in rng.choice(changes, min(n_ov, len(changes)), replace=False):
        plan[int(i)]["overlap"] = float(rng.uniform(0.3, 0.8))
    return plan


def realise(plan: list[dict], banks: dict, n_inf: int, rng: np.random.Generator) -> tuple[list[dict], list[dict], bool]:
    """Cut the audio for `plan` and lay it on a timeline. Returns (pieces, turns, ok); ok is
    False when the dominant/quiet informant did not end up the most/least talkative."""
    quiet = n_inf - 1
    pieces, turns = [], []
    prev_end = float(rng.uniform(0.4, 0.9))
    for p in plan:
        who = p["who"]
        lo, hi = (2.0, 4.5) if who == "M" else (1.5, 2.8) if who == quiet else (3.0, 8.0)
        pc = banks[who].take(p["want"], lo, hi)
        dur = len(pc["y"]) / WORK_SR
        if not turns:
            start = prev_end
        elif p["overlap"]:
            start = prev_end - min(p["overlap"], 0.4 * dur, 0.4 * (turns[-1]["end"] - turns[-1]["start"]))
        else:
            start = prev_end + float(rng.uniform(0.2, 1.0))
        start = round(start, 3)
        end = round(start + dur, 3)
        pieces.append((int(round(start * WORK_SR)), pc["y"]))
        turns.append(
            {
                "who": who,
                "start": start,
                "end": end,
                "source": pc["file"],
                "source_start": pc["src_start"],
                "source_end": pc["src_end"],
                "reused": pc["reused"],
            }
        )
        prev_end = max(prev_end, end)
    talk = [sum(t["end"] - t["start"] for t in turns if t["who"] == k) for k in range(n_inf)]
    counts = [sum(1 for t in turns if t["who"] == k) for k in range(n_inf)]
    singles = sum(1 for c in counts[1:quiet] if c < 2)
    ok = talk[quiet] == min(talk) and talk[0] >= 1.3 * max(talk[1:]) and singles <= (n_inf - 2) // 2
    return pieces, turns, ok


def make_voices_group(
    out: Path, speech: Path, seed: int, minutes: float | None, n_speakers: int | None, n_parts: int, name: str | None
) -> dict:
    need_tools("ffmpeg", "ffprobe", "sox")
    lib = speech / "spk" / "librispeech"
    bank = read_speakers(speech)
    rng = np.random.default_rng([seed, 2])
    target = 72.0 if minutes is None else 60.0 * minutes
    if n_speakers is None:
        n_speakers = 7 if minutes is None else int(rng.integers(6, 9))
    if not 3 <= n_speakers <= len(bank):
        sys.exit(f"make_fixtures: --speakers must be 3..{len(bank)}")
    name = name or ("voices_group" if minutes is None else f"voices_{minutes:g}min_{n_speakers}spk_seed{seed}")
    # The moderator and the dominant informant come from speakers with several utterances;
    # for long mixtures the other talkative informants do too (the bank is small: ~40 s each).
    rich = [s for s in bank if len(s["files"]) >= 3]
    idx = rng.permutation(len(rich))
    mod, dom = rich[idx[0]], rich[idx[1]]
    n_regular = n_speakers - 3
    pool = [
        s for s in (rich if target >= 150 and len(rich) - 2 >= n_regular else bank) if s is not mod and s is not dom
    ]
    for _ in range(1000):  # mixed genders
        regular = [pool[i] for i in rng.choice(len(pool), n_regular, replace=False)]
        left = [s for s in bank if all(s is not c for c in [mod, dom] + regular)]
        quiet = left[int(rng.integers(len(left)))]
        g = [s["gender"] for s in [mod, dom, quiet] + regular]
        if min(g.count("F"), g.count("M")) >= max(1, n_speakers // 3):
            break
    informants = [dom] + regular + [quiet]  # index 0 dominant, last one quiet
    spk_of: dict = {"M": mod}
    spk_of.update(dict(enumerate(informants)))
    labels = {k: f"spk{s['speaker']}" for k, s in spk_of.items()}
    gain_db = {k: float(rng.uniform(-4.0, 1.0)) for k in spk_of}  # distance from the phone
    gain_db["M"] = float(rng.uniform(-1.0, 1.0))
    # Find the number of informant turns that gives about `target` seconds.
    cache: dict = {}
    short = target < 150
    tol = 7.0 if short else 0.03 * target
    n0 = max(len(informants) + 2, int(round(target / 6.5)))
    got = None
    for n_inf_turns in sorted(range(max(len(informants) + 1, n0 - 4), n0 + 5), key=lambda n: (abs(n - n0), -n)):
        for attempt in range(40):
            prng = np.random.default_rng([seed, 3, n_inf_turns, attempt])
            plan = plan_voices(prng, len(informants), n_inf_turns, short)
            banks = {k: Bank(lib, s, prng, cache) for k, s in spk_of.items()}
            pieces, turns, ok = realise(plan, banks, len(informants), prng)
            if ok and abs(max(t["end"] for t in turns) - target) <= tol:
                got = pieces, turns
                break
        if got:
            break
    if got is None:
        sys.exit("make_fixtures: could not make a mixture that meets the constraints; try another seed")
    pieces, turns = got
    total = max(t["end"] for t in turns) + float(rng.uniform(0.6, 1.0))
    x = np.zeros(int(round(total * WORK_SR)) + 1, dtype=np.float32)
    for (a, y), t in zip(pieces, turns):
        y = y * 10 ** ((-20 - rms_db(y) + gain_db[t["who"]]) / 20)
        x[a : a + len(y)] += y
    x = sox_reverb(x, reverberance=30, room_scale=40, wet_db=-8)
    x = normalise(x, [(tt["start"], tt["end"]) for tt in turns], -20.0)
    x += room_noise(len(x), rng, -52.0)
    x = normalise(x, [(tt["start"], tt["end"]) for tt in turns], -20.0)

    speakers = {}
    for k, s in spk_of.items():
        role = (
            "moderator"
            if k == "M"
            else "dominant informant"
            if k == 0
            else "quiet informant"
            if k == len(informants) - 1
            else "informant"
        )
        speakers[labels[k]] = {
            "role": role,
            "librispeech_speaker": s["speaker"],
            "gender": s["gender"],
            "subset": s["subset"],
            "turns": sum(1 for t in turns if t["who"] == k),
            "gain_db": round(gain_db[k], 2),
        }
    out_turns = []
    for t in turns:
        tt = {"speaker": labels[t["who"]]}
        tt.update({k: v for k, v in t.items() if k != "who"})
        out_turns.append(tt)
    n_over = sum(1 for a, b in zip(turns, turns[1:]) if b["start"] < a["end"])
    meta = {
        "format": "transcribe.fixture/1",
        "generator": "scripts/make_fixtures.py",
        "kind": "librispeech-mix",
        "language": "en",
        "synthetic": False,
        "description": "Focus-group-like mixture of real read-speech voices from LibriSpeech "
        "(English): moderator plus informants, uneven turns, short overlaps, "
        "mild reverb and room noise. Turns are cut from different utterances, "
        "so the words do not form a conversation.",
        "seed": seed,
        "moderator": labels["M"],
        "speakers": speakers,
        "overlaps": n_over,
        "reused_turns": sum(1 for t in turns if t["reused"]),
        "attribution": ATTRIBUTION,
        "source_files": "turn 'source' is relative to spk/librispeech/ in the shared speech "
        "folder; source_start/source_end are seconds in that file",
        "tools": tool_versions(),
    }
    return write_fixture(out, name, x, out_turns, n_parts, meta)


# --------------------------------------------------------------------------- devset (evaluation)
#
# A development set of focus-group-like mixtures from real voices, for scripts/evaluate.py.
# Unlike voices_group (a short committed fixture), the ground truth marks actual speech: each
# clean source piece gets an energy pass before mixing, so the pauses inside a read utterance
# are not in the RTTM. Not committed (write it to eval/, which git ignores).

DEVSET_MINUTES = (3.0, 3.5, 4.0, 4.5, 5.0, 6.0)  # one mixture each, in order; more cycle
DEVSET_SPEAKERS = (7, 6, 8, 7, 8, 6)  # moderator included


@dataclass(frozen=True)
class Condition:
    """What a focus group varies, for ``--conditions``. The defaults are the original ``--devset``
    mixture (same random draws, same files), so the old development set can still be rebuilt."""

    name: str = "devset"
    minutes: tuple[float, float] = (3.0, 6.0)
    speakers: tuple[int, int] = (6, 8)  # moderator included
    same_gender: bool = False  # all voices of one gender (harder to tell apart)
    between: tuple[int, int] = (1, 3)  # informant turns between two of the moderator's
    moderator_s: tuple[float, float] | None = None  # length of a moderator turn; None: the devset's short ones
    dominant: float = 0.45  # the dominant informant's share of informant turns
    overlap: float = 0.18  # chance that a turn starts before the last one has ended
    overlap_s: tuple[float, float] = (0.3, 1.0)  # how much before (at most 0.4 of the last turn)
    far_db: float = 0.0  # half of the informants sit this much further from the phone (quieter, more reverb)
    bursts_per_min: float = 0.0  # laughter / cross-talk: 2-4 people at once for a moment
    structure: bool = False  # the moderator welcomes, opens question segments after a pause, and closes


# Development and held-out focus groups (python scripts/make_fixtures.py --conditions dev|heldout|long).
# The moderator's behaviour is what the issue measured on real groups: brief, every 6-10 turns, next
# to a dominant informant; or at length. Sessions open with a welcome, segments with a pause and a
# question, and end with thanks, each by the moderator most (not all) of the time.
CONDITIONS = {
    c.name: c
    for c in (
        Condition("baseline", (4.0, 5.0), (7, 8), structure=True),
        Condition("same_gender", (4.0, 5.0), (7, 8), same_gender=True, structure=True),
        Condition(
            "brief_moderator", (4.0, 5.0), (7, 8), between=(6, 10), moderator_s=(1.0, 2.5), dominant=0.5, structure=True
        ),
        Condition("talkative_moderator", (4.0, 5.0), (7, 8), between=(1, 3), moderator_s=(6.0, 14.0), structure=True),
        Condition("far_overlap", (4.0, 5.0), (7, 8), overlap=0.35, overlap_s=(0.5, 2.0), far_db=8.0, structure=True),
        Condition("crosstalk", (4.0, 5.0), (7, 8), between=(2, 6), bursts_per_min=1.5, structure=True),
    )
}
LONG = Condition(
    "long",
    (45.0, 45.0),
    (7, 7),
    between=(2, 8),
    moderator_s=(1.0, 4.0),
    overlap=0.25,
    bursts_per_min=0.5,
    structure=True,
)
CONDITION_SEEDS = {"dev": (1, 2), "heldout": (101, 102), "long": (201,)}


def speech_regions(
    y: np.ndarray, min_gap: float = 0.25, min_len: float = 0.1, pad: float = 0.05
) -> list[tuple[float, float]]:
    """Where a clean clip has speech, in seconds: frames above a level between the clip's
    noise floor (10th percentile) and its loud frames (95th), at most 30 dB under the loud
    ones; padded by `pad`, gaps under `min_gap` filled, islands under `min_len` dropped."""
    db = frame_db(y)
    loud, floor = float(np.percentile(db, 95)), float(np.percentile(db, 10))
    act = db > max(loud - 30.0, floor + 0.4 * (loud - floor))
    runs, i, n = [], 0, len(act)
    while i < n:
        if act[i]:
            j = i
            while j < n and act[j]:
                j += 1
            runs.append([max(0.0, i * FRAME - pad), min(len(y) / WORK_SR, j * FRAME + pad)])
            i = j
        else:
            i += 1
    merged: list[list[float]] = []
    for r in runs:
        if merged and r[0] - merged[-1][1] < min_gap:
            merged[-1][1] = max(merged[-1][1], r[1])
        else:
            merged.append(r)
    return [(round(a, 3), round(b, 3)) for a, b in merged if b - a >= min_len]


def backchannel(cache: dict, spk: dict, rng: np.random.Generator) -> dict:
    """A short fragment (0.3-0.8 s) of a speaker's speech: the start of a stretch of speech in
    one of their utterances, standing in for "mm", "ja", "right"."""
    ut = cache[spk["files"][int(rng.integers(len(spk["files"])))]]
    regions = [r for r in speech_regions(ut["y"]) if r[1] - r[0] >= 0.3]
    a, b = regions[int(rng.integers(len(regions)))]
    b = min(b, a + float(rng.uniform(0.3, 0.8)))
    y = fade(ut["y"][int(a * WORK_SR) : int(b * WORK_SR)], 0.03)
    return {"y": y, "file": ut["file"], "src_start": a, "src_end": round(b, 3), "reused": True}


def lay(pieces: list, turns: list, who, start: float, pc: dict, kind: str) -> float:
    """Put the clip ``pc`` (from a speaker bank or backchannel()) at ``start`` for ``who``: its
    samples into ``pieces``, its ground-truth row into ``turns``. Returns where it ends."""
    end = round(start + len(pc["y"]) / WORK_SR, 3)
    pieces.append((start, pc["y"], who))
    turns.append(
        {
            "who": who,
            "start": start,
            "end": end,
            "source": pc["file"],
            "source_start": pc["src_start"],
            "source_end": pc["src_end"],
            "reused": pc["reused"],
            "kind": kind,
        }
    )
    return end


def knock(rng: np.random.Generator) -> np.ndarray:
    """A cup or a pen on the table: a short decaying burst of filtered noise."""
    n = int(float(rng.uniform(0.04, 0.12)) * WORK_SR)
    y = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.015 * WORK_SR))
    y = np.convolve(y, np.ones(4) / 4, "same")
    return (y * 10 ** (float(rng.uniform(-32, -24)) / 20) / (np.sqrt(np.mean(y**2)) + 1e-12)).astype(np.float32)


def make_focus_mixture(
    out: Path, speech: Path, seed: int, minutes: float, n_speakers: int, name: str, condition: Condition = Condition()
) -> dict:
    """One focus-group-like mixture: a moderator with short questions and follow-ups, a
    dominant informant, a quiet one (2-3 short turns, further from the phone), others in
    between; turns of one or two utterance pieces, short back-channels (also over the current
    speaker), overlaps at some turn changes, modest room reverb, room noise and a few knocks
    on the table; AAC .m4a at DEVSET_BITRATE. Ground truth: speech regions (see above).
    ``condition`` changes who speaks how often and how long, overlaps, distance and cross-talk."""
    need_tools("ffmpeg", "ffprobe", "sox")
    lib = speech / "spk" / "librispeech"
    bank = read_speakers(speech)
    rng = np.random.default_rng([seed, 7])
    if condition.same_gender:  # one gender, alternating with the seed
        gender = "FM"[seed % 2]
        bank = [s for s in bank if s["gender"] == gender]
    rich = [s for s in bank if len(s["files"]) >= 3]
    for _ in range(1000):
        pick = rng.permutation(len(rich))[:2]
        mod, dom = rich[pick[0]], rich[pick[1]]
        rest = [s for s in bank if s is not mod and s is not dom]
        others = [rest[i] for i in rng.choice(len(rest), n_speakers - 2, replace=False)]
        g = [s["gender"] for s in [mod, dom] + others]
        if condition.same_gender or min(g.count("F"), g.count("M")) >= max(1, n_speakers // 3):
            break
    informants = [dom] + others  # 0 dominant, last quiet
    n_inf, quiet = len(informants), len(informants) - 1
    spk_of: dict = {"M": mod, **dict(enumerate(informants))}
    labels = {k: f"spk{s['speaker']}" for k, s in spk_of.items()}
    gain_db = {k: float(rng.uniform(-5.0, 1.0)) for k in spk_of}
    gain_db["M"] = float(rng.uniform(-1.0, 1.0))
    gain_db[quiet] = float(rng.uniform(-8.0, -4.0))
    far = set()
    if condition.far_db:  # half of the informants further away: quieter, and their speech more reverberant
        far = {int(k) for k in rng.choice(n_inf, n_inf // 2, replace=False)}
        for k in far:
            gain_db[k] -= condition.far_db
    cache: dict = {}
    banks = {k: Bank(lib, s, rng, cache) for k, s in spk_of.items()}
    # informant shares: dominant about a third, quiet 2-3 turns, the rest uneven
    share = 0.5 / (n_inf - 2) + 0.5 * rng.dirichlet(np.full(n_inf - 2, 1.5))  # none near zero
    weights = np.concatenate([[condition.dominant], share * (1 - condition.dominant), [0.0]])  # 0: dominant
    target = 60.0 * minutes
    n_quiet = int(rng.integers(2, 4))
    quiet_at = sorted(rng.uniform(0.15, 0.9, n_quiet) * target)

    pieces, turns = [], []  # pieces: (start sample, samples, who)
    spoken = {k: 0 for k in range(n_inf)}
    t, prev_who = float(rng.uniform(0.5, 1.0)), None

    def place(who, parts_want, lo, hi, start):
        nonlocal t
        pos, first = start, True
        for want in parts_want:
            if not first:
                pos += float(rng.uniform(0.3, 0.8))  # a pause inside the turn
            pc = banks[who].take(want, lo, hi)
            pos = round(pos, 3)
            pos, first = lay(pieces, turns, who, pos, pc, "turn"), False
        return pos

    def gap_or_overlap(prev_len):
        if turns and rng.random() < condition.overlap:  # start before the other has finished
            return t - min(float(rng.uniform(*condition.overlap_s)), 0.4 * prev_len)
        return t + float(rng.uniform(0.15, 1.0))

    def moderator_turn(starting):
        """The moderator's turn from ``starting()``; the devset draws in its original order."""
        if condition.moderator_s is None:  # the devset: a question, or a short follow-up
            q = rng.random() < 0.7
            start = starting()
            return place(
                "M",
                [float(rng.uniform(2.0, 4.0)) if q else float(rng.uniform(1.2, 2.0))],
                1.0 if not q else 1.5,
                4.5,
                start,
            )
        lo, hi = condition.moderator_s
        want = float(rng.uniform(lo, hi))
        n_parts = 2 if want > 8.0 else 1  # a long turn is two pieces with a pause
        return place("M", [want / n_parts] * n_parts, min(1.0, lo), max(4.5, hi / n_parts + 1.0), starting())

    segment_at, welcomed = target + 1.0, False
    if condition.structure:
        if rng.random() < 0.9:  # the welcome
            t = place("M", [float(rng.uniform(4.0, 7.0)), float(rng.uniform(3.0, 6.0))], 2.0, 8.0, t)
            welcomed = True
        else:  # someone else says something first
            t = place(int(rng.integers(1, n_inf)), [float(rng.uniform(1.5, 3.0))], 1.2, 4.0, t)
        segment_at = t + float(rng.uniform(50.0, 120.0))

    while t < target:
        prev_len = turns[-1]["end"] - turns[-1]["start"] if turns else 0.0
        if t >= segment_at:  # a new question: a pause, then (most often) the moderator asks
            segment_at = t + float(rng.uniform(50.0, 120.0))
            t += float(rng.uniform(2.0, 4.0))
            if rng.random() < 0.85:
                t = max(t, moderator_turn(lambda now=t: now))
                prev_who = "M"
        elif welcomed:  # the welcome was the moderator's turn
            welcomed = False
        else:
            t = max(t, moderator_turn(lambda last=prev_len, now=t: gap_or_overlap(last) if turns else now))
            prev_who = "M"
        for _ in range(int(rng.integers(condition.between[0], condition.between[1] + 1))):
            if quiet_at and t >= quiet_at[0]:
                quiet_at.pop(0)
                who = quiet
            else:
                w = weights.copy()
                if isinstance(prev_who, (int, np.integer)):
                    w[prev_who] = 0.0
                who = int(rng.choice(n_inf, p=w / w.sum()))
                owed = [k for k in range(1, quiet) if spoken[k] < 2 and k != prev_who]
                if owed and rng.random() < t / target:  # everyone speaks at least twice
                    who = owed[0]
            spoken[who] += 1
            if who == quiet:
                want, lo, hi = [float(rng.uniform(1.5, 3.5))], 1.2, 4.0
            else:
                long_ = who == 0
                n_parts = 2 if rng.random() < (0.5 if long_ else 0.3) else 1
                want = [float(rng.uniform(4.0, 10.0) if long_ else rng.uniform(2.5, 8.0)) for _ in range(n_parts)]
                lo, hi = (2.5, 12.0) if long_ else (2.0, 9.0)
            prev_len = turns[-1]["end"] - turns[-1]["start"]
            turn_start = gap_or_overlap(prev_len)
            t = max(t, place(who, want, lo, hi, turn_start))
            turn_end, turn_len = t, t - turn_start
            # back-channels by someone else during a longer turn ("mm", "ja")
            if turn_len > 4.0 and rng.random() < 0.4:
                others_ = ["M"] * 2 + [k for k in range(n_inf - 1) if k != who]
                bwho = others_[int(rng.integers(len(others_)))]
                pc = backchannel(cache, spk_of[bwho], rng)
                lay(
                    pieces,
                    turns,
                    bwho,
                    round(float(rng.uniform(turn_start + 1.0, turn_end - 1.0)), 3),
                    pc,
                    "backchannel",
                )
            prev_who = who
    if condition.structure and rng.random() < 0.85:  # the moderator thanks everyone
        t = moderator_turn(lambda: t + float(rng.uniform(0.3, 1.0)))
    for _ in range(int(round(condition.bursts_per_min * t / 60.0))):  # laughter, cross-talk
        at = float(rng.uniform(5.0, t - 5.0))
        for bwho in rng.choice(["M", *range(n_inf)], int(rng.integers(2, 5)), replace=False):
            bwho = bwho if bwho == "M" else int(bwho)
            pc = backchannel(cache, spk_of[bwho], rng)
            lay(pieces, turns, bwho, round(at + float(rng.uniform(0.0, 0.6)), 3), pc, "crosstalk")
    turns.sort(key=lambda r: (r["start"], r["end"]))
    total = max(r["end"] for r in turns) + float(rng.uniform(0.6, 1.0))
    x = np.zeros(int(round(total * WORK_SR)) + 1, dtype=np.float32)
    regions: dict = {}
    if far:  # a 0.25 s decaying noise tail: late reflections
        tail = np.arange(int(0.25 * WORK_SR))
        far_tail = (rng.standard_normal(len(tail)) * np.exp(-tail / (0.06 * WORK_SR)) * 0.05).astype(np.float32)
    for start, y, who in pieces:
        level = -20.0 + gain_db[who] - (3.0 if len(y) < WORK_SR else 0.0)
        a = int(round(start * WORK_SR))
        if who in far:  # more of the room than of the voice
            y = y + 0.5 * np.convolve(y, far_tail, "full")[: len(y)]
        x[a : a + len(y)] += y * 10 ** ((level - rms_db(y)) / 20)
        regions.setdefault(who, []).extend((start + s, start + e) for s, e in speech_regions(y))
    for _ in range(int(rng.integers(2, 6))):  # knocks: not speech, not in the RTTM
        k = knock(rng)
        a = int(rng.integers(0, len(x) - len(k)))
        x[a : a + len(k)] += k
    speech_rows = []
    for who, rs in regions.items():
        rs.sort()
        merged: list[list[float]] = []
        for s, e in rs:
            if merged and s <= merged[-1][1] + 0.05:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        speech_rows += [(labels[who], round(s, 3), round(e, 3)) for s, e in merged]
    reverb = (int(rng.integers(15, 30)), int(rng.integers(25, 45)), -10.0)  # sox: wet gain >= -10 dB
    noise_db = float(rng.uniform(-54.0, -48.0))
    x = sox_reverb(x, *reverb)
    spans = [(s, e) for _, s, e in speech_rows]
    x = normalise(x, spans, -20.0)
    x += room_noise(len(x), rng, noise_db)
    x = normalise(x, spans, -20.0)

    speakers = {}
    for k, s in spk_of.items():
        role = (
            "moderator"
            if k == "M"
            else "dominant informant"
            if k == 0
            else "quiet informant"
            if k == quiet
            else "informant"
        )
        mine = [r for r in speech_rows if r[0] == labels[k]]
        speakers[labels[k]] = {
            "role": role,
            "librispeech_speaker": s["speaker"],
            "gender": s["gender"],
            "subset": s["subset"],
            "turns": sum(1 for r in turns if r["who"] == k and r["kind"] == "turn"),
            "backchannels": sum(1 for r in turns if r["who"] == k and r["kind"] == "backchannel"),
            "speech_s": round(sum(e - b for _, b, e in mine), 2),
            "gain_db": round(gain_db[k], 2),
        }
    out_turns = [{"speaker": labels[r["who"]], **{k: v for k, v in r.items() if k != "who"}} for r in turns]
    meta = {
        "format": "transcribe.fixture/1",
        "generator": "scripts/make_fixtures.py --devset",
        "kind": "librispeech-focus-group",
        "language": "en",
        "synthetic": False,
        "description": "Focus-group-like mixture of real read-speech voices from LibriSpeech "
        "(English) for evaluation: moderator with short questions, a dominant and a "
        "quiet informant, back-channels, overlaps, modest reverb, room noise, knocks; "
        "AAC mono like an iPhone voice memo. RTTM = speech regions. Turns are cut "
        "from different utterances, so the words do not form a conversation.",
        "seed": seed,
        "condition": {"name": condition.name, **{k: v for k, v in vars(condition).items() if k != "name"}},
        "moderator": labels["M"],
        "speakers": speakers,
        "far_from_phone": sorted(labels[k] for k in far),
        "overlapped_speech_s": round(_overlap_seconds(speech_rows), 2),
        "reverb": {"reverberance": reverb[0], "room_scale": reverb[1], "wet_db": round(reverb[2], 1)},
        "noise_dbfs": round(noise_db, 1),
        "attribution": ATTRIBUTION,
        "source_files": "turn 'source' is relative to spk/librispeech/ in the shared speech "
        "folder; source_start/source_end are seconds in that file",
        "tools": tool_versions(),
    }
    return write_fixture(out, name, x, out_turns, 1, meta, speech=speech_rows, bitrate=DEVSET_BITRATE)


def _overlap_seconds(rows: list[tuple[str, float, float]]) -> float:
    """Seconds where two or more speakers speak at once."""
    events = sorted([(s, 1) for _, s, _ in rows] + [(e, -1) for _, _, e in rows])
    total, depth, last = 0.0, 0, 0.0
    for time, step in events:
        if depth >= 2:
            total += time - last
        depth += step
        last = time
    return total


def make_devset(out: Path, speech: Path, seed: int, count: int) -> list[dict]:
    """`count` mixtures focus_<seed>_<k>: lengths DEVSET_MINUTES, speakers DEVSET_SPEAKERS."""
    docs = []
    for k in range(count):
        minutes = DEVSET_MINUTES[k % len(DEVSET_MINUTES)]
        n_spk = DEVSET_SPEAKERS[k % len(DEVSET_SPEAKERS)]
        docs.append(make_focus_mixture(out, speech, seed * 1000 + k, minutes, n_spk, f"focus{seed}_{k + 1}"))
    return docs


def make_conditions(out: Path, speech: Path, part: str, seeds: Sequence[int] | None = None) -> list[dict]:
    """The focus groups of one part: "dev" and "heldout" (each condition of CONDITIONS once per
    seed of CONDITION_SEEDS[part], or of ``seeds``) or "long" (LONG). Names: <condition>_s<seed>.
    Tune on "dev" only."""
    conditions = [LONG] if part == "long" else list(CONDITIONS.values())
    docs = []
    for index, condition in enumerate(conditions):
        for seed in seeds or CONDITION_SEEDS[part]:
            size = np.random.default_rng([seed, index, 11])
            minutes = round(float(size.uniform(*condition.minutes)), 2)
            n_spk = int(size.integers(condition.speakers[0], condition.speakers[1] + 1))
            mixture_seed = seed * 1000 + 100 + index
            docs.append(
                make_focus_mixture(out, speech, mixture_seed, minutes, n_spk, f"{condition.name}_s{seed}", condition)
            )
    return docs


def tool_versions() -> dict:
    def first(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            return p.stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    v = {"ffmpeg": first(["ffmpeg", "-version"]).split(" Copyright")[0], "numpy": np.__version__}
    if shutil.which("sox"):
        v["sox"] = first(["sox", "--version"]).split(":", 1)[-1].strip()
    if shutil.which("espeak-ng"):
        v["espeak-ng"] = first(["espeak-ng", "--version"]).split("  Data")[0]
    return v


# --------------------------------------------------------------------------- check


def check_dir(d: Path) -> int:
    """Verify every <name>.json in `d`: parts decode as AAC 48 kHz mono with the stated
    durations, the RTTM matches the turns and stays inside the session, and turns carry
    speech while the gaps between turns are quiet."""
    need_tools("ffmpeg", "ffprobe")
    bad = 0
    docs = sorted(d.glob("*.json"))
    if not docs:
        print(f"no fixture json in {d}")
        return 1
    for jp in docs:
        doc = json.loads(jp.read_text(encoding="utf-8"))
        if doc.get("format") != "transcribe.fixture/1":
            continue
        name = doc["name"]
        errs: list[str] = []
        sig = []
        off = 0.0
        for p in doc["parts"]:
            path = d / p["file"]
            st = probe(path)["streams"][0]
            if (st["codec_name"], int(st["sample_rate"]), int(st["channels"])) != ("aac", OUT_SR, 1):
                errs.append(f"{p['file']}: {st['codec_name']} {st['sample_rate']} Hz {st['channels']} ch")
            y = decode(path, OUT_SR)
            dur = len(y) / OUT_SR
            if abs(dur - p["duration"]) > 1e-3:
                errs.append(f"{p['file']}: decoded {dur:.4f} s, json says {p['duration']:.4f} s")
            if abs(off - p["offset"]) > 1e-3:
                errs.append(f"{p['file']}: offset {p['offset']} != sum of earlier parts {off:.4f}")
            off += dur
            sig.append(decode(path, WORK_SR))
        x = np.concatenate(sig)
        total = len(x) / WORK_SR
        if abs(off - doc["duration"]) > 2e-3:
            errs.append(f"duration {doc['duration']} != sum of parts {off:.4f}")
        rttm = []
        for line in (d / f"{name}.rttm").read_text(encoding="utf-8").splitlines():
            f = line.split()
            rttm.append((f[7], float(f[3]), float(f[3]) + float(f[4])))
        turns = [(t["speaker"], t["start"], t["end"]) for t in doc["turns"]]
        want = [tuple(r) for r in doc["speech"]] if "speech" in doc else turns
        if len(rttm) != len(want) or any(
            a[0] != b[0] or abs(a[1] - b[1]) > 1e-3 or abs(a[2] - b[2]) > 1e-3 for a, b in zip(rttm, want)
        ):
            errs.append("rttm and json " + ("speech regions" if "speech" in doc else "turns") + " differ")
        for t in doc["turns"]:
            p = doc["parts"][t["part"] - 1]
            if not (p["offset"] - 1e-3 <= t["start"] < t["end"] <= p["offset"] + p["duration"] + 1e-3):
                errs.append(f"turn {t['speaker']} {t['start']}-{t['end']} outside part {t['part']}")
        if max(e for _, _, e in turns) > total + 1e-3:
            errs.append("a turn ends after the audio")
        # energy: inside turns vs the gaps between turns (outside every turn, 0.1 s margin)
        db = frame_db(x)
        active = np.zeros(len(db), bool)
        for _, s, e in turns:
            active[int(s / FRAME) : int(e / FRAME) + 1] = True
        turn_db = [float(np.percentile(db[int(s / FRAME) : int(e / FRAME)], 75)) for _, s, e in turns]
        margin = np.convolve(active, np.ones(21), "same") > 0
        gap_db = db[~margin]
        gap75 = float(np.percentile(gap_db, 75)) if len(gap_db) else float("nan")
        if len(gap_db) and min(turn_db) < gap75 + 15:
            errs.append(f"weak turn: min turn level {min(turn_db):.1f} dB vs gaps {gap75:.1f} dB")
        spk_time: dict[str, float] = {}
        for s, a, b in turns:
            spk_time[s] = spk_time.get(s, 0.0) + b - a
        print(
            f"{name}: {len(doc['parts'])} part(s), {total:.3f} s decoded, {len(turns)} turns, "
            f"{len(spk_time)} speakers, speech {sum(spk_time.values()):.1f} s; "
            f"turn level (p75) {min(turn_db):.1f}..{max(turn_db):.1f} dBFS, "
            f"gaps (p75) {gap75:.1f} dBFS -> {'OK' if not errs else 'FAIL'}"
        )
        for e in errs:
            print("  " + e)
        bad += bool(errs)
    return 1 if bad else 0


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Attribution for voices fixtures: " + ATTRIBUTION,
    )
    ap.add_argument("--out", type=Path, help="output folder (created)")
    ap.add_argument("--kind", choices=["norwegian", "voices", "all"], default="all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="length of the voices mixture (evaluation mixtures, e.g. 3..10); default: the short ~70 s fixture",
    )
    ap.add_argument(
        "--speakers",
        type=int,
        default=None,
        help="voices: number of speakers incl. the moderator (default 7, or 6..8 at random with --minutes)",
    )
    ap.add_argument(
        "--parts", type=int, default=None, help="number of .m4a parts (default: 3 for norwegian, 1 for voices)"
    )
    ap.add_argument("--name", default=None, help="voices: base name of the output files")
    ap.add_argument(
        "--speech",
        type=Path,
        default=Path(os.environ.get("TRANSCRIBE_SPEECH_DIR", DEFAULT_SPEECH)),
        help="shared speech folder with spk/librispeech/ (env TRANSCRIBE_SPEECH_DIR; default: %(default)s)",
    )
    ap.add_argument(
        "--devset",
        type=int,
        metavar="N",
        default=None,
        help="make N focus-group evaluation mixtures (focus<seed>_<k>: 3-6 min, "
        "6-8 speakers, RTTM of speech regions, AAC 64 kbit/s) instead of "
        "fixtures; write them to eval/ (git-ignored), not into the repo",
    )
    ap.add_argument(
        "--conditions",
        choices=sorted(CONDITION_SEEDS),
        help="make the focus groups of one part (dev: tune on these; heldout: never tune on these; long: one "
        "45-min session), every condition of CONDITIONS per seed; write them to eval/ (git-ignored)",
    )
    ap.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        metavar="SEED",
        help="with --conditions: these seeds instead of the part's own (more held-out sessions: seeds no "
        "part uses, e.g. --conditions long --seeds 202 203)",
    )
    ap.add_argument("--check", type=Path, metavar="DIR", help="verify the fixtures in DIR instead of making any")
    a = ap.parse_args(argv)
    if a.check:
        return check_dir(a.check)
    if not a.out:
        ap.error("--out is required")
    a.out.mkdir(parents=True, exist_ok=True)
    if a.devset or a.conditions:
        made = make_conditions(a.out, a.speech, a.conditions, a.seeds) if a.conditions else []
        for doc in made or make_devset(a.out, a.speech, a.seed, a.devset):
            summarise(doc)
            print(
                f"  speech {sum(e - s for _, s, e in doc['speech']):.1f} s, overlapped "
                f"{doc['overlapped_speech_s']:.1f} s, reverb {doc['reverb']}, noise {doc['noise_dbfs']} dBFS"
            )
        return 0
    if a.kind in ("norwegian", "all"):
        summarise(make_no_group(a.out, a.seed, n_parts=a.parts or 3))
    if a.kind in ("voices", "all"):
        summarise(make_voices_group(a.out, a.speech, a.seed, a.minutes, a.speakers, a.parts or 1, a.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
