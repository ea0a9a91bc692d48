"""The speaker networks in ONNX Runtime on a CPU: the same weights, run faster.

On a CPU, PyTorch runs pyannote's segmentation model and CAM++ as thousands of small
convolutions and spends most of its time on the calls, not the arithmetic. Exported once to ONNX
(the float32 weights as they are, no quantisation) and run by ONNX Runtime on the same threads,
the same networks give the same outputs, CAM++ 2.6 times faster and the segmentation model 1.5
times (2 cores; docs/measurements.md). The export is kept in the cache folder
(``files.cache_dir()``), named by a hash of the weights and the torch version.

Each runtime is checked against PyTorch on a test input before it is used. If it cannot be made
(say the ``onnx`` package is missing) or disagrees, PyTorch runs the network, with a warning; an
unwritable cache only means exporting again next time. On a GPU PyTorch always runs it.
``USE_ONNX = False`` turns it off (scripts/bench.py's baseline, a plain script, does).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .errors import SlowerWarning, TranscribeError

USE_ONNX = True
OPSET = 17
# How close ONNX Runtime's output on the check input must be to PyTorch's.
TOLERANCE = 1e-3


class OnnxNetwork:
    """One exported network, run by ONNX Runtime on the CPU threads torch uses."""

    def __init__(self, model: bytes, threads: int):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # The arena keeps the largest buffers ever asked for: 540 MB more at peak for a batch of 32
        # segmentation windows (5 min of erna: 2080 against 1543 MB, PyTorch 1544), for 7 % speed.
        options.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        inputs = np.ascontiguousarray(inputs.detach().numpy(), dtype=np.float32)
        return torch.from_numpy(self._session.run(None, {self._input: inputs})[0])

    @classmethod
    def build(cls, network: _Network, example: torch.Tensor, dynamic: dict[int, str]) -> OnnxNetwork | None:
        """``network`` exported (or read from the cache) and checked against PyTorch on ``example``;
        ``dynamic`` names the input's axes whose length may change. None, with a warning, when it
        cannot be made or does not agree."""
        failure = None
        for fresh in (False, True):  # a damaged cached export is made again
            try:
                runtime = cls(_exported(network, example, dynamic, fresh), torch.get_num_threads())
                with torch.inference_mode():
                    expected, got = network(example), runtime(example)
                if expected.shape == got.shape and torch.allclose(expected, got, rtol=TOLERANCE, atol=TOLERANCE):
                    return runtime
                difference = (expected - got).abs().max().item() if expected.shape == got.shape else "shape"
                failure = f"its output differs from PyTorch's (by {difference})"
            except Exception as exc:  # any failure here only costs speed
                failure = str(exc)
        warnings.warn(
            f"{network.name} runs in PyTorch, more slowly, because ONNX Runtime could not run it: {failure}",
            SlowerWarning,
            stacklevel=4,
        )
        return None


class _Network(nn.Module):
    """What is exported: ``forward`` (PyTorch's computation) over the weights of ``module``."""

    def __init__(self, module: nn.Module, forward: Callable, name: str, slug: str):
        super().__init__()
        self.module, self._forward, self.name, self.slug = module, forward, name, slug

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self._forward(inputs)


def on_cpu(
    module: nn.Module,
    forward: Callable[[torch.Tensor], torch.Tensor],
    *,
    name: str,
    slug: str,
    example: Callable[[], torch.Tensor],
    dynamic: dict[int, str],
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``forward`` (a network's computation in PyTorch, over ``module``'s weights) run in ONNX
    Runtime when its input is on a CPU, else as it is. The runtime is made at the first call on a
    CPU; ``name`` is said in a warning, ``slug`` names the cached file."""
    network = _Network(module, forward, name, slug)
    runtime: list[OnnxNetwork | None] = []

    def run(inputs: torch.Tensor) -> torch.Tensor:
        if inputs.device.type == "cpu" and USE_ONNX:
            if not runtime:
                runtime.append(OnnxNetwork.build(network, example(), dynamic))
            if runtime[0] is not None:
                return runtime[0](inputs)
        return forward(inputs)

    run.runtime = runtime  # for tests: [] before the first call on a CPU, then [OnnxNetwork or None]
    return run


def _exported(network: _Network, example: torch.Tensor, dynamic: dict[int, str], fresh: bool) -> bytes:
    """The network as ONNX bytes, exported once per set of weights and cached (``fresh``: export again)."""
    from .files import cache_dir, ensure_dir, write_atomic

    digest = hashlib.sha256()
    for key, tensor in network.module.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().numpy().tobytes())
    cached = cache_dir() / "models" / f"{network.slug}-{digest.hexdigest()[:16]}-torch{torch.__version__}.onnx"
    if cached.is_file() and not fresh:
        return cached.read_bytes()
    buffer = io.BytesIO()
    was_training = network.module.training
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on traced shapes
        torch.onnx.export(
            network.eval(),
            (example,),
            buffer,
            dynamo=False,
            input_names=["inputs"],
            output_names=["outputs"],
            dynamic_axes={"inputs": dynamic},
            opset_version=OPSET,
        )
    network.module.train(was_training)
    model = buffer.getvalue()
    try:
        ensure_dir(cached.parent)
        write_atomic(cached, model)
    except (OSError, TranscribeError):  # a read-only cache: export again next time
        pass
    return model
