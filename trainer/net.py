"""The 3D CNN (paper 4.1): cubic temporal x2 interpolation plus a learned residual.

``forward(ltr)`` takes LTR frames ``(B, 3, T, H, W)`` in [0, 1] and returns ``(B, 3, 2T, H, W)``:
``cubic_x2(ltr) + body(cubic_x2(ltr) - 0.5)``. The interpolation is part of the module (and so of the
exported ONNX graph), built from :func:`vs_zstsr.resample.cubic_x2_taps` so that it is bit-for-bit
the runtime's ``temporal_interpolate(x, 2, "cubic")`` up to float rounding.

Beyond the paper, the base can be *given* (:data:`GIVEN_BASES`): a motion-compensated x2 that no
graph can compute (MVTools flow, run by the runtime in a worker: vs_zstsr/methods.py), passed in
beside the LTR frames, ``forward(ltr, base)``; the residual is then learnt over it in training
(trainer/examples.py cuts the base's crops from flow run once per source) as at inference.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vs_zstsr.methods import NET_BASES
from vs_zstsr.resample import cubic_x2_taps

from .config import PADDINGS


class CubicX2(nn.Module):
    """Cubic temporal x2 with clamped edges, as two 4-tap filters over time.

    Output ``2i`` reads input frames ``i-2..i+1``, output ``2i+1`` reads ``i-1..i+2``. After padding
    two edge frames on each side (so padded index = input index + 2), the even outputs are the even
    taps over padded frames ``i..i+3`` and the odd ones the odd taps over ``i+1..i+4``: eight
    elementwise multiply-adds of time slices (earlier a grouped Conv3d of 3 channels; the same
    numbers up to float rounding, and no weight buffer). Only slicing and concatenation: T, H and
    W stay dynamic in the ONNX graph.
    """

    def __init__(self, channels: int = 3):
        super().__init__()
        even, odd = cubic_x2_taps()
        self.taps = (tuple(float(v) for v in even), tuple(float(v) for v in odd))
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[2]
        first, last = x[:, :, :1], x[:, :, -1:]
        xp = torch.cat([first, first, x, last, last], dim=2)         # clamped edges
        even = sum(w * xp[:, :, k:k + t] for k, w in enumerate(self.taps[0]))        # output 2i
        odd = sum(w * xp[:, :, k + 1:k + 1 + t] for k, w in enumerate(self.taps[1]))  # output 2i+1
        return torch.stack([even, odd], dim=3).flatten(2, 3)          # (B, C, 2T, H, W)


def layer_kernels(depth: int) -> list[tuple[int, int, int]]:
    """First two and last layers see 3 frames; the ones between only space (paper 4.1)."""
    return [(3, 3, 3) if i < 2 or i == depth - 1 else (1, 3, 3) for i in range(depth)]


def backproject_x2(base: torch.Tensor, ltr: torch.Tensor) -> torch.Tensor:
    """Temporal back-projection: shift each output pair so that its mean is its LTR frame."""
    err = ltr - 0.5 * (base[:, :, 0::2] + base[:, :, 1::2])
    return base + torch.stack([err, err], dim=3).flatten(2, 3)


# What the residual is learnt over (defined once, beside the runtime that computes the given ones):
# base name -> (the x2 interpolation, back-projected after it). "cubic" is computed inside the net
# (and its ONNX graph); the others are given (GIVEN_BASES).
BASES = NET_BASES
GIVEN_BASES = tuple(b for b, (interp, _) in BASES.items() if interp != "cubic")


def base_interpolator(base: str) -> str:
    """The x2 interpolation under a base (a name of vs_zstsr.methods.INTERPOLATORS)."""
    return BASES[base][0]


# onnxruntime runs a 2-D convolution whose outputs fill its blocks of 8 channels on its blocked
# (NCHWc) kernels; a 3-D one, or one with fewer outputs, runs by im2col and a GEMM. The last layer
# (3 outputs, 3x3x3) took a sixth of a run of the fast net, as long as three and a half of its
# 32-channel 1x3x3 layers with a quarter of one's FLOPs (docs/BENCHMARKS.md, "The exported graph's
# last layer"). So the exported graph computes it with one blocked 2-D convolution
# (:func:`last_layer_on_frames`). The 32-channel 3x3x3 layer stays 3-D: as 2-D convolutions on
# stacked frames it ran faster but held three times its input, which at 1080p is more memory than
# the gain is worth.
NCHWC_CHANNELS = 8


def last_layer_on_frames(layer: nn.Conv3d, x: torch.Tensor, b: int, t: int) -> torch.Tensor:
    """``layer`` (3x3x3, replicate or zero padding, few outputs) on frames ``(B*T, C, H, W)`` ->
    ``(B*T, C_out, H, W)``: one 2-D convolution makes each frame's part for each of the three time
    offsets (its outputs padded to :data:`NCHWC_CHANNELS` with zero weights), and the parts are
    added across frames, the frames beyond the ends clamped (replicate) or zero. The same function
    as the layer, summed in another order (within float32 rounding). Replicate padding clamps each
    coordinate, so space is padded once here and time is clamped by the shifts."""
    if tuple(layer.kernel_size) != (3, 3, 3):
        raise ValueError(f"last_layer_on_frames takes a 3x3x3 layer, not {tuple(layer.kernel_size)}")
    cout = layer.out_channels
    w = layer.weight.permute(2, 0, 1, 3, 4).flatten(0, 1)                 # (3*C_out, C, 3, 3), offset-major
    bias = torch.cat([torch.zeros_like(layer.bias), layer.bias, torch.zeros_like(layer.bias)])
    extra = -(3 * cout) % NCHWC_CHANNELS          # from the layer's sizes: static in the graph
    w = torch.cat([w, w.new_zeros((extra, layer.in_channels, 3, 3))])
    bias = torch.cat([bias, bias.new_zeros(extra)])
    if layer.padding_mode == "zeros":
        z = F.conv2d(x, w, bias, padding=1)
    else:
        z = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), w, bias)
    z = z.unflatten(0, (b, t))                                             # (B, T, 3*C_out+, H, W)
    before, now, after = z[:, :, :cout], z[:, :, cout:2 * cout], z[:, :, 2 * cout:3 * cout]
    first, last = before[:, :1], after[:, -1:]
    if layer.padding_mode == "zeros":      # (zeros of a traced shape would fix H and W in the graph)
        first, last = first * 0, last * 0
    before = torch.cat([first, before[:, :-1]], dim=1)                   # frame t reads t-1
    after = torch.cat([after[:, 1:], last], dim=1)                       # and t+1
    return (before + now + after).flatten(0, 1)


def conv_same_dtype(layer: nn.Conv2d | nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)``, its replicate padding done in ``x``'s own dtype. Under bfloat16 autocast torch
    pads by replication in float32: the activations are cast up, padded, and cast back down for
    the convolution, at every layer and again in the backward pass. The padded values are copies
    of bfloat16 values either way, so the forward values are the same; the gradients differ only
    in rounding where the copies' gradients are summed into the edges (in bfloat16 now, in float32
    and rounded once before; tests/test_trainer.py). The fast preset trained 1.33x the iterations
    per second, and the whole job was as good on the real clips (docs/BENCHMARKS.md, "Replicate
    padding under bfloat16"). Zero padding is the convolution's own, and without autocast nothing
    changes."""
    if layer.padding_mode != "replicate" or not torch.is_autocast_enabled(x.device.type):
        return layer(x)
    with torch.autocast(x.device.type, enabled=False):
        x = F.pad(x, layer._reversed_padding_repeated_twice, mode="replicate")
    conv = F.conv2d if isinstance(layer, nn.Conv2d) else F.conv3d
    return conv(x, layer.weight, layer.bias, layer.stride, 0, layer.dilation, layer.groups)


class TSRNet(nn.Module):
    """``base="cubic"`` (the paper) or ``"cubic_bp"``: the residual is learnt over cubic followed by
    temporal back-projection, a stronger base that already agrees with the input (back-projection
    helped every interpolator: docs/PROTOTYPE.md, "Back-projection"). ``"flow"`` / ``"flow_bp"``:
    the same over a motion-compensated x2 given to :meth:`forward` (:data:`GIVEN_BASES`).

    The 1x3x3 layers see no time, so they run as Conv2d over frames with time folded into the
    batch: the same function (padding in space only, as before) on oneDNN's and
    onnxruntime's 2-D convolution kernels instead of 3-D ones with a kernel depth of 1
    (docs/BENCHMARKS.md, "Speed"). In the channels-last layout the fold is a view, not a copy.
    State dicts and ONNX files written when these layers were Conv3d still load (their 1x3x3
    weights are reshaped on load; the old fixed cubic buffer is dropped).

    ``padding`` (:data:`.config.PADDINGS`): how every layer pads its input, by repeating the edge
    (as the net did first) or with zeros, which oneDNN and onnxruntime do inside the convolution
    instead of copying the input first (trainer/config.py says which preset uses which).
    """

    def __init__(self, width: int = 128, depth: int = 8, channels: int = 3, base: str = "cubic",
                 padding: str = "replicate"):
        super().__init__()
        if base not in BASES:
            raise ValueError(f"base must be one of {', '.join(BASES)}, got {base!r}")
        if padding not in PADDINGS:
            raise ValueError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
        self.width, self.depth, self.base, self.padding = width, depth, base, padding
        self.interp = CubicX2(channels)
        layers: list[nn.Module] = []
        kernels = layer_kernels(depth)
        for i, k in enumerate(kernels):
            cin = channels if i == 0 else width
            cout = channels if i == depth - 1 else width
            if k[0] == 1:
                conv = nn.Conv2d(cin, cout, k[1:], padding=k[1] // 2, padding_mode=padding)
            else:
                conv = nn.Conv3d(cin, cout, k, padding=tuple(s // 2 for s in k), padding_mode=padding)
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
        self.body = nn.Sequential(*layers)     # run by residual(), not by Sequential's forward
        self._register_load_state_dict_pre_hook(_upgrade_state_dict, with_module=True)

    @property
    def given_base(self) -> bool:
        """Whether :meth:`forward` needs the base's x2 as an input (it cannot compute it)."""
        return self.base in GIVEN_BASES

    def make_base(self, ltr: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        """The base: ``x2`` (the base interpolation's x2 of ``ltr``: cubic's is computed when not
        given, a given base's must be), back-projected onto ``ltr`` for the ``_bp`` bases."""
        if x2 is None:
            if self.given_base:
                raise ValueError(f"a net over the {self.base} base needs that base's x2 as an input")
            x2 = self.interp(ltr)
        elif self.given_base:
            # a no-op on a right base (2T frames); it also keeps ``ltr`` an input of the ONNX graph
            # of a base without back-projection, whose output would not read it otherwise
            x2 = x2[:, :, : 2 * ltr.shape[2]]
        return backproject_x2(x2, ltr) if BASES[self.base][1] else x2

    def residual(self, base: torch.Tensor) -> torch.Tensor:
        """The body on a centred base ``(B, C, T, H, W)``; the Conv2d layers on frames. In an ONNX
        export the last layer runs on frames too (:func:`last_layer_on_frames`)."""
        x = base - 0.5                      # centred input: no bias to unlearn
        b, t = x.shape[0], x.shape[2]
        exporting = torch.onnx.is_in_onnx_export()
        for layer in self.body:
            if exporting and isinstance(layer, nn.Conv3d) and layer.out_channels < NCHWC_CHANNELS:
                if x.dim() == 5:
                    x = x.transpose(1, 2).flatten(0, 1)
                x = last_layer_on_frames(layer, x, b, t)
                continue
            if isinstance(layer, nn.Conv2d) and x.dim() == 5:
                x = x.transpose(1, 2).flatten(0, 1)            # (B*T, C, H, W)
            elif isinstance(layer, nn.Conv3d) and x.dim() == 4:
                x = x.unflatten(0, (b, t)).transpose(1, 2)     # back to (B, C, T, H, W)
            x = layer(x) if exporting or not isinstance(layer, (nn.Conv2d, nn.Conv3d)) else conv_same_dtype(layer, x)
        return x.unflatten(0, (b, t)).transpose(1, 2) if x.dim() == 4 else x

    def forward(self, ltr: torch.Tensor, x2: torch.Tensor | None = None) -> torch.Tensor:
        """``x2``: the base interpolation's x2 of ``ltr`` ``(B, C, 2T, H, W)``: required for a
        given base; for cubic, ``self.interp(ltr)`` when the caller has it already (the trainer
        scores it)."""
        base = self.make_base(ltr, x2)
        return base + self.residual(base)

    def receptive_field(self) -> dict:
        return receptive_field(self.depth, self.base)

    def conv_shapes(self) -> list[tuple[int, int, int]]:
        """(in channels, out channels, kernel volume) of each body layer: what its cost scales with."""
        return [(c.in_channels, c.out_channels, int(np.prod(c.kernel_size))) for c in self.body
                if isinstance(c, (nn.Conv2d, nn.Conv3d))]


def _upgrade_state_dict(module, state, prefix, *args) -> None:
    """Older nets (Conv3d 1x3x3 layers, a cubic buffer): their state dicts load into this one."""
    state.pop(prefix + "interp.weight", None)
    for name, p in module.named_parameters():
        key = prefix + name
        if key in state and state[key].dim() == p.dim() + 1:
            state[key] = state[key].reshape(p.shape)


def to_channels_last(net: nn.Module) -> nn.Module:
    """Channels-last memory for every conv weight (3-D and 2-D alike; ``Module.to`` takes one
    format for all). With channels-last inputs oneDNN then runs without reordering, and the
    time-into-batch fold of :class:`TSRNet` is a view."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            fmt = torch.channels_last_3d if m.weight.dim() == 5 else torch.channels_last
            m.weight.data = m.weight.data.contiguous(memory_format=fmt)
    return net


def receptive_field(depth: int, base: str = "cubic") -> dict:
    """How far (each side) an output sample can see: LTR frames and pixels.

    The body sees ``r`` HTR frames each side (one per 3-frame layer); HTR frame ``k`` is cubic from
    LTR frames ``i-2..i+1`` (k = 2i) or ``i-1..i+2`` (k = 2i+1); with back-projection in the base
    both frames of pair ``i`` read ``i-2..i+2``. Reported in LTR frames so the ladder can size its
    chunk overlap.
    """
    # A flow base (MVTools FlowFPS) reads less than cubic: an output between LTR frames i and
    # i+1 is warped from those two (its vectors are searched between them), so cubic's taps bound it.
    if BASES[base][1]:
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
