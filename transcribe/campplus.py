"""CAM++ speaker embedding, wrapped so that pyannote's diarisation pipeline can use it.

CAM++ (Wang et al., "CAM++: A Fast and Efficient Network for Speaker Verification Using
Context-Aware Masking", Interspeech 2023) as published by 3D-Speaker
(https://github.com/modelscope/3D-Speaker, ``speakerlab/models/campplus``, Apache-2.0),
written out here so the embedded checkpoint loads into it with strict key matching.

The network ends in a BatchNorm without affine parameters and *without* a ReLU, as published.
(Some copies add a ReLU there; it throws away the negative half of every embedding and
speakers separate worse under cosine distance.)

``CAMPPlusEmbedding`` is a ``pyannote.audio.Model``: the stock ``SpeakerDiarization`` pipeline
accepts an instance as ``embedding=`` and calls ``forward(waveforms, weights)``.

On a CPU the network runs in ONNX Runtime (runtime.py): the same embeddings (cosine distance
below 1e-6), 2.6 times faster.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from pyannote.audio import Model
from torch import nn

from . import runtime
from .records import SAMPLE_RATE

NUM_MEL_BINS = 80
EMBEDDING_DIMENSION = 192

# The stride-2 TDNN halves the frames, and the standard deviation in statistics pooling needs
# at least two of them.
MIN_FRAMES = 3


class _BasicResBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class _FCM(nn.Module):
    """Front-end convolution module: 2-D residual blocks over (frequency, time)."""

    def __init__(self, m_channels: int = 32, feat_dim: int = NUM_MEL_BINS):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.Sequential(
            _BasicResBlock(m_channels, m_channels, 2), _BasicResBlock(m_channels, m_channels, 1)
        )
        self.layer2 = nn.Sequential(
            _BasicResBlock(m_channels, m_channels, 2), _BasicResBlock(m_channels, m_channels, 1)
        )
        self.conv2 = nn.Conv2d(m_channels, m_channels, kernel_size=3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        out = self.layer2(self.layer1(out))
        out = F.relu(self.bn2(self.conv2(out)))
        batch, channels, freq, frames = out.shape
        return out.reshape(batch, channels * freq, frames)


def _batchnorm_relu(channels: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([("batchnorm", nn.BatchNorm1d(channels)), ("relu", nn.ReLU(inplace=True))]))


class _TDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        padding = (kernel_size - 1) // 2 * dilation
        self.linear = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False
        )
        self.nonlinear = _batchnorm_relu(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x))


class _CAMLayer(nn.Module):
    """Context-aware masking: a TDNN whose output is gated by utterance- and segment-level context."""

    def __init__(self, bn_channels: int, out_channels: int, kernel_size: int, dilation: int, reduction: int = 2):
        super().__init__()
        padding = (kernel_size - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(
            bn_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // reduction, 1)
        self.relu = nn.ReLU(inplace=True)
        self.linear2 = nn.Conv1d(bn_channels // reduction, out_channels, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear_local(x)
        context = x.mean(-1, keepdim=True) + self._segment_pooling(x)
        return y * self.sigmoid(self.linear2(self.relu(self.linear1(context))))

    @staticmethod
    def _segment_pooling(x: torch.Tensor, seg_len: int = 100) -> torch.Tensor:
        seg = F.avg_pool1d(x, kernel_size=seg_len, stride=seg_len, ceil_mode=True)
        shape = seg.shape
        seg = seg.unsqueeze(-1).expand(*shape, seg_len).reshape(*shape[:-1], -1)
        return seg[..., : x.shape[-1]]


class _CAMDenseTDNNLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bn_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.nonlinear1 = _batchnorm_relu(in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = _batchnorm_relu(bn_channels)
        self.cam_layer = _CAMLayer(bn_channels, out_channels, kernel_size, dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class _CAMDenseTDNNBlock(nn.ModuleList):
    def __init__(
        self, num_layers: int, in_channels: int, out_channels: int, bn_channels: int, kernel_size: int, dilation: int
    ):
        super().__init__()
        for i in range(num_layers):
            layer = _CAMDenseTDNNLayer(in_channels + i * out_channels, out_channels, bn_channels, kernel_size, dilation)
            self.add_module(f"tdnnd{i + 1}", layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = torch.cat([x, layer(x)], dim=1)
        return x


class _TransitLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.nonlinear = _batchnorm_relu(in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.nonlinear(x))


class _StatsPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)


class _DenseLayer(nn.Module):
    """Embedding layer: 1x1 convolution, then BatchNorm without affine parameters and no ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = nn.Sequential(OrderedDict([("batchnorm", nn.BatchNorm1d(out_channels, affine=False))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class CAMPPlus(nn.Module):
    """CAM++: (batch, frames, 80) mean-normalised fbank -> (batch, 192) embedding."""

    def __init__(
        self,
        feat_dim: int = NUM_MEL_BINS,
        embedding_size: int = EMBEDDING_DIMENSION,
        growth_rate: int = 32,
        bn_size: int = 4,
        init_channels: int = 128,
    ):
        super().__init__()
        self.head = _FCM(feat_dim=feat_dim)
        self.xvector = nn.Sequential(
            OrderedDict([("tdnn", _TDNNLayer(self.head.out_channels, init_channels, 5, stride=2))])
        )
        channels = init_channels
        for i, (num_layers, kernel_size, dilation) in enumerate(((12, 3, 1), (24, 3, 2), (16, 3, 2)), start=1):
            block = _CAMDenseTDNNBlock(num_layers, channels, growth_rate, bn_size * growth_rate, kernel_size, dilation)
            self.xvector.add_module(f"block{i}", block)
            channels += num_layers * growth_rate
            self.xvector.add_module(f"transit{i}", _TransitLayer(channels, channels // 2))
            channels //= 2
        self.xvector.add_module("out_nonlinear", _batchnorm_relu(channels))
        self.xvector.add_module("stats", _StatsPool())
        self.xvector.add_module("dense", _DenseLayer(channels * 2, embedding_size))

    def forward(self, fbank: torch.Tensor) -> torch.Tensor:
        return self.xvector(self.head(fbank.permute(0, 2, 1)))


class CAMPPlusEmbedding(Model):
    """CAM++ as a pyannote ``Model``: (batch, 1, samples) 16 kHz waveforms -> (batch, 192).

    With ``weights`` (pyannote's per-frame speaker masks, shape (batch, frames)), only the fbank
    frames where the speaker is active are embedded, as pyannote's own WeSpeaker ONNX wrapper
    does. CAM++ gates every layer with context averaged over the whole input, so frames of other
    speakers would leak into the embedding if they were merely down-weighted at pooling.
    An item with fewer than ``MIN_FRAMES`` active frames gets a NaN embedding, which the
    clustering step ignores.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, num_channels: int = 1, task=None):
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.campplus = CAMPPlus()
        # CAM++ in ONNX Runtime on a CPU, in PyTorch elsewhere; the runtime is made at the first call
        self._run = runtime.on_cpu(
            self.campplus,
            self.campplus,
            name="CAM++",
            slug="campplus",
            example=lambda: torch.randn(1, 300, NUM_MEL_BINS, generator=torch.Generator().manual_seed(0)),
            dynamic={0: "batch", 1: "frames"},
        )

    @classmethod
    def load(cls, checkpoint: str | os.PathLike) -> CAMPPlusEmbedding:
        """Build the network and load a 3D-Speaker CAM++ state dict (keys must match exactly)."""
        model = cls()
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.campplus.load_state_dict(state, strict=True)
        model.eval()
        return model

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIMENSION

    def network(self, fbanks: torch.Tensor) -> torch.Tensor:
        """(batch, frames, 80) mean-normalised fbank -> (batch, 192): in ONNX Runtime on a CPU."""
        return self._run(fbanks)

    def fbank(self, waveform: torch.Tensor) -> torch.Tensor:
        """(1, samples) -> (frames, 80) log-mel fbank, Kaldi-compatible, as CAM++ was trained on."""
        return kaldi.fbank(waveform, num_mel_bins=NUM_MEL_BINS, sample_frequency=SAMPLE_RATE, dither=0.0)

    def embed(self, fbank: torch.Tensor) -> torch.Tensor:
        """(frames, 80) fbank of one utterance -> (192,) embedding."""
        if fbank.shape[0] < MIN_FRAMES:
            raise ValueError(f"CAM++ needs at least {MIN_FRAMES} fbank frames, got {fbank.shape[0]}.")
        fbank = fbank - fbank.mean(dim=0, keepdim=True)
        return self.network(fbank.unsqueeze(0))[0]

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        if weights is None:  # whole clips of one length (resegment.py's windows): one batched pass
            fbanks = torch.stack([self.fbank(waveform) for waveform in waveforms])
            if fbanks.shape[1] < MIN_FRAMES:
                raise ValueError(f"CAM++ needs at least {MIN_FRAMES} fbank frames, got {fbanks.shape[1]}.")
            return self.network(fbanks - fbanks.mean(dim=1, keepdim=True))
        embeddings, chunk, fbank = [], None, None
        for waveform, weight in zip(waveforms, weights):
            frames = fbank_frames(waveform.shape[-1])
            mask = F.interpolate(weight[None, None].float(), size=max(frames, 1), mode="nearest")[0, 0] > 0.5
            if frames < MIN_FRAMES or int(mask.sum()) < MIN_FRAMES:  # known before any fbank is made
                embeddings.append(torch.full((EMBEDDING_DIMENSION,), float("nan"), device=waveforms.device))
                continue
            # pyannote asks for each local speaker of a 10 s chunk in turn: its fbank is made once
            if chunk is None or not torch.equal(chunk, waveform):
                chunk, fbank = waveform, self.fbank(waveform)
            embeddings.append(self.embed(fbank[mask]))
        return torch.stack(embeddings)


def fbank_frames(samples: int) -> int:
    """How many frames Kaldi's fbank makes of ``samples`` (25 ms windows every 10 ms, edges snipped)."""
    window, shift = SAMPLE_RATE * 25 // 1000, SAMPLE_RATE * 10 // 1000
    return 0 if samples < window else 1 + (samples - window) // shift
