"""Where the speech models run: the CPU, or an NVIDIA GPU through CUDA.

Whisper runs in CTranslate2 and diarisation in PyTorch, and each has its own CUDA build, so
``auto`` picks the GPU only when both can use it. When CUDA is asked for and cannot work, the
error says why (no driver, no cuBLAS, no GPU, out of memory) and that ``--device cpu`` works on
any machine.

Importing this module is cheap; torch and CTranslate2 are asked only when a device is resolved.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import DeviceError, InputError

DEVICES = ("auto", "cpu", "cuda")
# CTranslate2's number formats. A format the device cannot do is converted by CTranslate2 to the
# closest one it can.
COMPUTE_TYPES = (
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
# Whisper windows decoded together on a GPU (faster-whisper's BatchedInferencePipeline). On CPU
# the sequential decoder is kept: batch 8 is 2.1x faster there but, cutting only at VAD segments
# and skipping the per-window no-speech test, it dropped real speech and wrote words over murmur
# (docs/measurements.md, "Whisper's batched decoder on CPU").
CUDA_BATCH_SIZE = 16

# CTranslate2 4.x is built for CUDA 12 and opens cuBLAS by this name when it first needs it.
CUBLAS = "libcublas.so.12"
DRIVER = "libcuda.so.1"

FALLBACK = "Run with --device cpu (slower, works on any machine)"


@dataclass(frozen=True)
class CudaFacts:
    """What this machine offers the two engines; gathered by :func:`cuda_facts`."""

    driver: bool  # the NVIDIA driver library (libcuda.so.1) loads
    torch_cuda: str | None  # the CUDA version torch was built for; None for a CPU-only torch
    torch_devices: int  # GPUs torch can use
    ctranslate2_devices: int  # GPUs CTranslate2 can use
    cublas: bool  # the cuBLAS that CTranslate2 needs loads
    gpus: tuple[str, ...] = ()  # names, as torch reports them
    compute_types: tuple[str, ...] = ()  # CTranslate2's formats on the first GPU

    @property
    def problem(self) -> str | None:
        """Why CUDA cannot be used, in words; None when both engines can use a GPU."""
        if not self.driver:
            return (
                f"no NVIDIA driver was found ({DRIVER} does not load), so this machine has no usable GPU. "
                "Install the NVIDIA driver, or in a container start it with the GPU passed in (docker run --gpus all)"
            )
        if self.torch_cuda is None:
            return "the installed PyTorch is a CPU-only build. Install the CUDA build of torch that pyproject.toml pins"
        if self.torch_devices == 0 and self.ctranslate2_devices == 0:
            return (
                "the NVIDIA driver is there but no GPU can be used: none is visible (check CUDA_VISIBLE_DEVICES "
                "and nvidia-smi), or the driver is older than CUDA 12 needs"
            )
        if self.torch_devices == 0:
            return f"PyTorch (built for CUDA {self.torch_cuda}) sees no GPU, though CTranslate2 does; the driver may be too old for it"
        if self.ctranslate2_devices == 0:
            return "CTranslate2 sees no GPU, though PyTorch does; the driver may be older than CUDA 12 needs"
        if not self.cublas:
            return (
                f"CTranslate2 needs CUDA 12's cuBLAS ({CUBLAS}) and it does not load. Install the pip package "
                "nvidia-cublas-cu12 (the CUDA 12 build of torch brings it) or a CUDA 12 toolkit, or add its lib folder "
                "to LD_LIBRARY_PATH"
            )
        return None


def check_settings(device: str, compute_type: str, batch_size) -> None:
    """Refuse a device, compute type or batch size that cannot mean anything, before any work."""
    if device not in DEVICES:
        raise InputError(f"Device '{device}' is not known; use {', '.join(DEVICES)}.")
    if compute_type not in COMPUTE_TYPES:
        raise InputError(f"Compute type '{compute_type}' is not known; use {', '.join(COMPUTE_TYPES)}.")
    parse_batch_size(batch_size)


def parse_batch_size(value) -> int | str:
    """'auto' or a whole number of 1 or more (as given on the command line or in a manifest)."""
    if value == "auto":
        return value
    if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())):
        raise InputError(f"Batch size '{value}' is not a number; use a whole number such as 8, or auto.")
    if int(value) < 1:
        raise InputError(f"Batch size {value} is too small; use 1 (one window at a time) or more, or auto.")
    return int(value)


def resolve_device(requested: str) -> str:
    """'auto' → 'cuda' when both CTranslate2 and torch can use a GPU, else 'cpu'; 'cuda' must work."""
    check_settings(requested, "auto", "auto")
    if requested == "cpu":
        return "cpu"
    problem = cuda_facts().problem
    if problem is None:
        return "cuda"
    if requested == "auto":
        return "cpu"
    raise DeviceError(f"--device cuda cannot be used: {problem}. {FALLBACK}.")


def auto_fallback(requested: str, device: str) -> str | None:
    """A warning when 'auto' chose the CPU on a machine that has an NVIDIA driver; None otherwise."""
    if requested != "auto" or device != "cpu" or not cuda_facts().driver:
        return None
    return f"The speech models ran on the CPU: this machine has an NVIDIA driver, but {cuda_facts().problem}."


def resolve_compute_type(device: str, compute_type: str) -> str:
    """'auto' → float16 on a GPU, int8 on CPU."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


def resolve_batch_size(device: str, batch_size) -> int:
    """'auto' → CUDA_BATCH_SIZE on a GPU, 1 (sequential decoding) on CPU."""
    value = parse_batch_size(batch_size)
    if value == "auto":
        return CUDA_BATCH_SIZE if device == "cuda" else 1
    return value


def cpu_threads() -> int:
    """The CPU threads this process may use: the cores it is allowed to run on, not the machine's.

    On a cluster node a job gets a few of many cores (its CPU affinity, as Slurm and cgroups set
    it); ``os.cpu_count()`` would count them all and oversubscribe the job. ``OMP_NUM_THREADS``,
    when set (the sbatch script sets it), lowers the number further.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        count = os.cpu_count() or 1
    wanted = os.environ.get("OMP_NUM_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        count = min(count, int(wanted))
    return max(1, count)


def load_cuda_libraries() -> None:
    """Make CUDA 12's cuBLAS findable for CTranslate2, which opens it by name on first use.

    The CUDA build of torch loads it from the nvidia-cublas-cu12 wheel when imported; no
    LD_LIBRARY_PATH is needed then.
    """
    import torch  # noqa: F401


@functools.cache
def cuda_facts() -> CudaFacts:
    """Ask the driver, torch and CTranslate2 what they can use (once per process)."""
    load_cuda_libraries()
    import ctranslate2
    import torch

    torch_devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    ct2_devices = ctranslate2.get_cuda_device_count()
    compute_types: tuple[str, ...] = ()
    if ct2_devices:
        with contextlib.suppress(RuntimeError):
            compute_types = tuple(sorted(ctranslate2.get_supported_compute_types("cuda")))
    return CudaFacts(
        driver=_loads(DRIVER),
        torch_cuda=torch.version.cuda,
        torch_devices=torch_devices,
        ctranslate2_devices=ct2_devices,
        cublas=_loads(CUBLAS),
        gpus=tuple(torch.cuda.get_device_name(i) for i in range(torch_devices)),
        compute_types=compute_types,
    )


def _loads(library: str) -> bool:
    try:
        ctypes.CDLL(library)
    except OSError:
        return False
    return True


def explain(exc: BaseException) -> str | None:
    """What a CUDA failure from torch or CTranslate2 means and what to do; None if it is not one."""
    text = str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "out of memory" in text.lower():
        return (
            f"the GPU ran out of memory ({first}). Lower --batch-size, use --compute-type int8_float16 or a smaller "
            f"model, or close other programs on the GPU (nvidia-smi lists them). {FALLBACK}"
        )
    if "libcublas" in text or "libcudnn" in text:
        return (
            f"a CUDA library is missing ({first}). Install the pip packages nvidia-cublas-cu12 and nvidia-cudnn-cu12 "
            f"(the CUDA 12 build of torch brings them) or a CUDA 12 toolkit. {FALLBACK}"
        )
    if "no CUDA-capable device" in text:
        return f"no GPU is visible ({first}); check CUDA_VISIBLE_DEVICES and nvidia-smi. {FALLBACK}"
    if "driver version is insufficient" in text or "CUDA driver" in text:
        return f"the NVIDIA driver cannot run this CUDA build ({first}). Update the driver (CUDA 12 needs 525 or newer). {FALLBACK}"
    if "CUDA" in text or "cuda" in text or "cuDNN" in text or "CUBLAS" in text:
        return f"CUDA reported an error ({first}). {FALLBACK}"
    return None


@contextlib.contextmanager
def cuda_errors(device: str, what: str) -> Iterator[None]:
    """On a GPU, turn a CUDA failure inside the block into a DeviceError that says what to do."""
    try:
        yield
    except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is one; so is every CTranslate2 failure
        reason = explain(exc) if device == "cuda" else None
        if reason is None:
            raise
        raise DeviceError(f"{what} failed on the GPU: {reason}.") from None
