"""The 3D CNN (paper 4.1): cubic temporal x2 interpolation plus a learned residual.

``forward(ltr)`` takes LTR frames ``(B, 3, T, H, W)`` in [0, 1] and returns ``(B, 3, 2T, H, W)``:
``cubic_x2(ltr) + body(cubic_x2(ltr) - 0.5)``. The interpolation is part of the module (and so of the
exported ONNX graph), built from :func:`vs_zstsr.resample.cubic_x2_taps` so that it is bit-for-bit
the runtime's ``temporal_interpolate(x, 2, "cubic")`` up to float rounding.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vs_zstsr.resample import cubic_x2_taps


class CubicX2(nn.Module):
    """Cubic temporal x2 with clamped edges, as a fixed depthwise Conv3d over time.

    Output ``2i`` reads input frames ``i-2..i+1``, output ``2i+1`` reads ``i-1..i+2``. After padding
    two edge frames on each side (so padded index = input index + 2), one (4,1,1) convolution of
    length ``T+1`` yields both: the even outputs are its first ``T`` values with the even taps, the
    odd outputs its last ``T`` values with the odd taps. Only slicing and concatenation are used, so
    the ONNX graph keeps T, H and W dynamic.
    """

    def __init__(self, channels: int = 3):
        super().__init__()
        even, odd = cubic_x2_taps()
        w = np.stack([even, odd])                                   # (2, 4)
        w = np.tile(w, (channels, 1))[:, None, :, None, None]       # (2C, 1, 4, 1, 1)
        self.register_buffer("weight", torch.from_numpy(np.ascontiguousarray(w)))
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, last = x[:, :, :1], x[:, :, -1:]
        xp = torch.cat([first, first, x, last, last], dim=2)         # clamped edges
        y = nn.functional.conv3d(xp, self.weight.to(x.dtype), groups=self.channels)  # (B,2C,T+1,H,W)
        even = y[:, 0::2, :-1]                                       # output 2i
        odd = y[:, 1::2, 1:]                                         # output 2i+1
        out = torch.stack([even, odd], dim=3)                        # (B, C, T, 2, H, W)
        return out.flatten(2, 3)


def layer_kernels(depth: int) -> list[tuple[int, int, int]]:
    """First two and last layers see 3 frames; the ones between only space (paper 4.1)."""
    return [(3, 3, 3) if i < 2 or i == depth - 1 else (1, 3, 3) for i in range(depth)]


def backproject_x2(base: torch.Tensor, ltr: torch.Tensor) -> torch.Tensor:
    """Temporal back-projection: shift each output pair so that its mean is its LTR frame."""
    err = ltr - 0.5 * (base[:, :, 0::2] + base[:, :, 1::2])
    return base + torch.stack([err, err], dim=3).flatten(2, 3)


class TSRNet(nn.Module):
    """``base="cubic"`` (the paper) or ``"cubic_bp"``: the residual is learnt over cubic followed by
    temporal back-projection, a stronger base that already agrees with the input (back-projection
    helped every interpolator: docs/PROTOTYPE.md, "Back-projection")."""

    def __init__(self, width: int = 128, depth: int = 8, channels: int = 3, base: str = "cubic"):
        super().__init__()
        if base not in ("cubic", "cubic_bp"):
            raise ValueError(f"base must be 'cubic' or 'cubic_bp', got {base!r}")
        self.width, self.depth, self.base = width, depth, base
        self.interp = CubicX2(channels)
        layers: list[nn.Module] = []
        kernels = layer_kernels(depth)
        for i, k in enumerate(kernels):
            cin = channels if i == 0 else width
            cout = channels if i == depth - 1 else width
            conv = nn.Conv3d(cin, cout, k, padding=tuple(s // 2 for s in k), padding_mode="replicate")
            # Collapse trap (docs/PROTOTYPE.md, "Training"): with PyTorch's default init and a high lr a hidden ReLU layer
            # can die and the net outputs exactly the cubic input. He init keeps activations alive.
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
            layers.append(conv)
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        # Start close to cubic ("do no harm"): a small last layer makes the initial residual ~1e-2
        # of the signal instead of noise, yet its gradient still reaches every layer from step one.
        with torch.no_grad():
            layers[-1].weight.mul_(0.1)
        self.body = nn.Sequential(*layers)

    def make_base(self, ltr: torch.Tensor) -> torch.Tensor:
        base = self.interp(ltr)
        return backproject_x2(base, ltr) if self.base == "cubic_bp" else base

    def forward(self, ltr: torch.Tensor) -> torch.Tensor:
        base = self.make_base(ltr)
        return base + self.body(base - 0.5)    # centred input: no bias to unlearn

    def receptive_field(self) -> dict:
        return receptive_field(self.depth, self.base)


def receptive_field(depth: int, base: str = "cubic") -> dict:
    """How far (each side) an output sample can see: LTR frames and pixels.

    The body sees ``r`` HTR frames each side (one per 3-frame layer); HTR frame ``k`` is cubic from
    LTR frames ``i-2..i+1`` (k = 2i) or ``i-1..i+2`` (k = 2i+1); with back-projection in the base
    both frames of pair ``i`` read ``i-2..i+2``. Reported in LTR frames so the ladder can size its
    chunk overlap.
    """
    if base == "cubic_bp":
        taps = {0: (2, 2), 1: (2, 2)}
    else:
        taps = {0: (2, 1), 1: (1, 2)}
    kernels = layer_kernels(depth)
    r_htr = sum(k[0] // 2 for k in kernels)
    r_px = sum(k[1] // 2 for k in kernels)
    reach = 0
    for k in (0, 1):   # an even and an odd output frame
        lo, hi = k - r_htr, k + r_htr
        ltr_lo = min(j // 2 - taps[j % 2][0] for j in range(lo, hi + 1))
        ltr_hi = max(j // 2 + taps[j % 2][1] for j in range(lo, hi + 1))
        reach = max(reach, k // 2 - ltr_lo, ltr_hi - k // 2)
    return {"frames": int(reach), "pixels": int(r_px), "htr_frames": int(r_htr)}
