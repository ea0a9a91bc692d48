"""Device selection and CUDA diagnostics.

The CI machines have no GPU, so what can be run for real is: the facts gathered on a machine
without one, the choice 'auto' makes from them, CTranslate2 refusing CUDA there, the messages
for the failures a GPU machine can have (built from the errors torch and CTranslate2 raise), and
the batched Whisper decoder on CPU. scripts/gpu_check.sh runs the GPU path where there is one.
"""

import os
import subprocess
import sys
from pathlib import Path

import ctranslate2
import pytest
import torch
from click.testing import CliRunner

from transcribe import asr, audio
from transcribe.cli import cli
from transcribe.device import (
    CUBLAS,
    CUDA_BATCH_SIZE,
    CudaFacts,
    check_settings,
    cuda_errors,
    cuda_facts,
    explain,
    parse_batch_size,
    resolve_batch_size,
    resolve_compute_type,
    resolve_device,
)
from transcribe.errors import DeviceError, InputError
from transcribe.pipeline import RunOptions, transcription_request

NPSC = Path(__file__).parent / "fixtures" / "npsc"
GPU = cuda_facts().problem is None
no_gpu = pytest.mark.skipif(GPU, reason="this machine has a usable GPU")

WORKING = CudaFacts(
    driver=True,
    torch_cuda="12.8",
    torch_devices=1,
    ctranslate2_devices=1,
    cublas=True,
    gpus=("NVIDIA H100 80GB HBM3",),
    compute_types=("float16", "int8_float16"),
)


@no_gpu
def test_a_machine_without_a_gpu_runs_on_cpu():
    facts = cuda_facts()
    assert facts.torch_devices == 0 and facts.ctranslate2_devices == 0 and facts.gpus == ()
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceError) as refused:
        resolve_device("cuda")
    message = str(refused.value)
    assert message.startswith("--device cuda cannot be used: ") and facts.problem in message
    assert "Run with --device cpu" in message and refused.value.exit_code == 8


@pytest.mark.parametrize(
    "change, words",
    [
        ({"driver": False}, "no NVIDIA driver was found (libcuda.so.1"),
        ({"torch_cuda": None}, "CPU-only build"),
        ({"torch_devices": 0, "ctranslate2_devices": 0}, "CUDA_VISIBLE_DEVICES"),
        ({"torch_devices": 0}, "PyTorch (built for CUDA 12.8) sees no GPU"),
        ({"ctranslate2_devices": 0}, "CTranslate2 sees no GPU"),
        ({"cublas": False}, f"cuBLAS ({CUBLAS}) and it does not load"),
    ],
)
def test_each_missing_piece_is_named(change, words):
    facts = CudaFacts(**{**WORKING.__dict__, **change})
    assert words in facts.problem
    assert WORKING.problem is None


def test_auto_says_why_it_left_a_gpu_unused(monkeypatch):
    from transcribe import device

    broken = CudaFacts(**{**WORKING.__dict__, "cublas": False})
    monkeypatch.setattr(device, "cuda_facts", lambda: broken)
    assert resolve_device("auto") == "cpu"
    warning = device.auto_fallback("auto", "cpu")
    assert warning.startswith(
        "The speech models ran on the CPU: this machine has an NVIDIA driver, but CTranslate2 needs"
    )
    assert device.auto_fallback("cpu", "cpu") is None
    monkeypatch.setattr(device, "cuda_facts", lambda: CudaFacts(**{**WORKING.__dict__, "driver": False}))
    assert device.auto_fallback("auto", "cpu") is None  # no NVIDIA driver: a CPU machine, nothing to say


def test_auto_settings_follow_the_device():
    assert resolve_compute_type("cuda", "auto") == "float16" and resolve_compute_type("cpu", "auto") == "int8"
    assert resolve_compute_type("cuda", "int8_float16") == "int8_float16"
    assert resolve_batch_size("cuda", "auto") == CUDA_BATCH_SIZE and resolve_batch_size("cpu", "auto") == 1
    assert resolve_batch_size("cpu", "4") == 4 and resolve_batch_size("cuda", 2) == 2


@pytest.mark.parametrize("value", [0, -1, "x", "", True, 2.5, None])
def test_a_batch_size_must_be_a_whole_number(value):
    with pytest.raises(InputError, match="Batch size"):
        parse_batch_size(value)


def test_unknown_devices_and_compute_types_are_refused():
    with pytest.raises(InputError, match="Device 'gpu' is not known; use auto, cpu, cuda"):
        check_settings("gpu", "auto", "auto")
    with pytest.raises(InputError, match="Compute type 'fp16' is not known"):
        check_settings("auto", "fp16", "auto")


def test_the_device_is_not_part_of_what_transcription_was_asked_for():
    """A session begun on one machine is finished on another without transcribing it again."""
    on_cpu = transcription_request(RunOptions(informants=[1], device="cpu"))
    assert on_cpu == transcription_request(RunOptions(informants=[1], device="cuda"))
    assert on_cpu["compute_type"] == "auto" and on_cpu["batch_size"] == "auto"
    assert transcription_request(RunOptions(informants=[1], batch_size="8"))["batch_size"] == 8


def test_out_of_memory_says_what_to_lower():
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB total capacity)")
    reason = explain(oom)
    assert "ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB" in reason
    assert "--batch-size" in reason and "int8_float16" in reason and "--device cpu" in reason
    assert "ran out of memory" in explain(RuntimeError("CUDA failed with error out of memory"))  # CTranslate2's words


def test_missing_cublas_names_the_package():
    reason = explain(RuntimeError("Library libcublas.so.12 is not found or cannot be loaded"))  # CTranslate2's words
    assert "nvidia-cublas-cu12" in reason and "--device cpu" in reason
    hidden = explain(RuntimeError("CUDA failed with error no CUDA-capable device is detected"))
    assert hidden.startswith("no GPU is visible") and "CUDA_VISIBLE_DEVICES" in hidden


@no_gpu
def test_ctranslate2_refusing_cuda_here_is_explained():
    with pytest.raises(RuntimeError) as raised:
        ctranslate2.get_supported_compute_types("cuda")  # a real failure, from the real library
    assert "NVIDIA driver cannot run this CUDA build" in explain(raised.value)


def test_only_cuda_failures_on_the_gpu_are_translated():
    assert explain(RuntimeError("shape mismatch")) is None
    with pytest.raises(
        DeviceError, match=r"^Diarisation failed on the GPU: CUDA reported an error \(CUDA error: an illegal"
    ):
        with cuda_errors("cuda", "Diarisation"):
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
    with pytest.raises(RuntimeError, match="^shape mismatch$"):
        with cuda_errors("cuda", "Diarisation"):
            raise RuntimeError("shape mismatch")
    with pytest.raises(RuntimeError, match="^CUDA error"):  # on the CPU such a message is not ours to explain
        with cuda_errors("cpu", "Diarisation"):
            raise RuntimeError("CUDA error: unknown")


@no_gpu
def test_whisper_on_cuda_without_a_gpu_is_a_device_error():
    """The real CTranslate2 failure, as a library caller that skips resolve_device would meet it."""
    with pytest.raises(DeviceError, match="^Loading the Whisper model in .* failed on the GPU: the NVIDIA driver"):
        asr.Transcriber(device="cuda")


@no_gpu
def test_run_with_cuda_here_exits_8_and_names_the_fallback(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["run", str(NPSC / "norwegian-short-3s.mp3"), "-i", "1-2", "--device", "cuda", "--out", str(tmp_path / "s")],
    )
    assert result.exit_code == 8, result.output
    assert "Error: --device cuda cannot be used: no NVIDIA driver was found" in result.stderr
    assert "Run with --device cpu" in result.stderr and not (tmp_path / "s" / "session.json").exists()


def test_run_refuses_a_bad_batch_size_before_any_work(tmp_path):
    result = CliRunner().invoke(
        cli,
        ["run", str(NPSC / "norwegian-short-3s.mp3"), "-i", "1-2", "--batch-size", "0", "--out", str(tmp_path / "s")],
    )
    assert result.exit_code == 3 and "Batch size 0 is too small" in result.stderr


@pytest.mark.slow
def test_batched_whisper_on_cpu_gives_timed_words():
    """BatchedInferencePipeline, the GPU's decoder, run for real on CPU with the embedded model."""
    transcriber = asr.Transcriber(device="cpu", batch_size=2)
    assert transcriber.settings["batch_size"] == 2 and transcriber.settings["compute_type"] == "int8"
    recording = audio.load([NPSC / "norwegian-medium-8s.mp3"])
    seen = []
    result = transcriber(recording.audio, "no", progress=lambda done, total: seen.append(done))
    text = " ".join(w.text for w in result.words).lower()
    assert "fredrik" in text and "som" in text
    starts = [w.start for w in result.words]
    assert starts == sorted(starts) and result.words[-1].end <= recording.duration + 0.1
    assert result.settings["batch_size"] == 2 and seen[-1] == pytest.approx(recording.duration)


def test_batched_whisper_needs_the_vad():
    with pytest.raises(InputError, match="needs vad_filter"):
        asr.Transcriber(device="cpu", batch_size=4, vad_filter=False)


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs and Linux"
)
@pytest.mark.parametrize(
    "omp, pin, expected", [(None, True, 1), ("1", False, 1), ("abc", False, None), (None, False, None)]
)
def test_cpu_threads_follow_the_cores_this_job_was_given(omp, pin, expected):
    """A cluster job pinned to some cores (Slurm, cgroups) must not start a thread per core of the node."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    if omp is not None:
        env["OMP_NUM_THREADS"] = omp
    code = (
        "import os\n"
        + ("os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n" if pin else "")
        + "from transcribe.device import cpu_threads\nprint(cpu_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert int(out) == (expected or len(os.sched_getaffinity(0)))
