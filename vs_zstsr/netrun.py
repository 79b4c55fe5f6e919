"""Running the video-specific net on a clip: its x2 in time, in pieces that bound memory, averaged
over a geometric self-ensemble.

:func:`net_x2` is what a ladder rung whose method is ``net`` does (:mod:`.ladder`). The model is a
:class:`.model.Model` (or anything with ``run(clip)``, ``receptive_field`` and ``metadata``): the
ONNX graph does cubic x2 plus the net's residual, on ``(T, H, W, 3)`` float32 frames (or the
residual over a given base's x2, passed in as ``run(clip, base)``: vs_zstsr/methods.py).
"""
from __future__ import annotations

import numpy as np

from .errors import ZstsrError

# Activations of one net call, roughly: the net runs on slices/tiles under this. On the CPU half a
# GiB: the pieces at 1080p's and 4K's rungs ran as fast as with 1 GiB and the process's peak was
# 0.5-0.8 GiB lower (docs/BENCHMARKS.md, "The net's pieces at 1080p and 4K"). GPU providers keep
# the 1 GiB they had, unmeasured (scripts/gpu-check times the tiled path).
NET_BYTES = 512 << 20
GPU_NET_BYTES = 1 << 30


def _call_bytes(model) -> int:
    return NET_BYTES if getattr(model, "provider", "cpu") == "cpu" else GPU_NET_BYTES


def _net_bytes_per_pixel(model) -> int:
    # 2 output frames per input frame, `width` channels of float32, ~3 layers' tensors alive at once
    width = int(getattr(model, "metadata", {}).get("width", 128))
    return 2 * width * 4 * 3


# Geometric self-ensemble (ZSSR uses it at test time, after EDSR+): the net was trained on
# examples flipped, rotated by 90 degrees and reversed in time, so it should give the same answer
# to a transformed clip, transformed back. It does not exactly; the mean of those answers has less
# of the net's error. Each transform is (time reversed, quarter turns, left-right flip); the first
# n are used. Time reversal comes first: rect blur is symmetric in time, so reversing the LTR
# clip reverses its sub-frames, and it changes the motion the net sees the most.
ENSEMBLE = tuple((rev, k, flip) for flip in (False, True) for k in (0, 2, 1, 3) for rev in (False, True))
ENSEMBLE_SIZES = (1, 2, 4, 8, 16)
# 4: time reversal and a half turn. On the x2 rung time reversal alone gave most of the gain and 4
# copies most of the rest; 8 and 16 add little at 2x and 4x the net's cost (docs/BENCHMARKS.md,
# "TSR x2 at the coarse scale", the self-ensemble curve).
DEFAULT_ENSEMBLE = 4


def _transform(x: np.ndarray, rev: bool, k: int, flip: bool) -> np.ndarray:
    if rev:
        x = x[::-1]
    if flip:
        x = x[:, :, ::-1]
    return np.rot90(x, k, axes=(1, 2)) if k else x


def _untransform(x: np.ndarray, rev: bool, k: int, flip: bool) -> np.ndarray:
    if k:
        x = np.rot90(x, -k, axes=(1, 2))
    if flip:
        x = x[:, :, ::-1]
    return x[::-1] if rev else x


def check_ensemble(ensemble) -> None:
    if ensemble not in ENSEMBLE_SIZES:
        raise ZstsrError(f"ensemble must be one of {', '.join(map(str, ENSEMBLE_SIZES))}; got {ensemble}")


def net_x2(model, clip: np.ndarray, tilesize: int = 0, overlap: int = 0, ensemble: int = 1,
           base: np.ndarray | None = None) -> np.ndarray:
    """The net's x2 in time: the mean over ``ensemble`` (1, 2, 4, 8 or 16) transformed copies of the
    clip (the geometric self-ensemble, :data:`ENSEMBLE`); output frames are exact per transform.
    ``base``: for a model over a given base (vs_zstsr/methods.py ``NET_BASES``), that base's x2 of
    ``clip`` ``(2T, H, W, 3)``; it is cut and transformed with the clip (flow is run once, not per
    transform: the transformed flow of a clip stands for the flow of the transformed clip)."""
    check_ensemble(ensemble)
    if ensemble == 1:
        return _net_pieces(model, clip, tilesize, overlap, base)
    total = None
    for rev, k, flip in ENSEMBLE[:ensemble]:
        b = None if base is None else np.ascontiguousarray(_transform(base, rev, k, flip))
        y = _net_pieces(model, np.ascontiguousarray(_transform(clip, rev, k, flip)), tilesize, overlap, b)
        y = _untransform(y, rev, k, flip)
        total = y.astype(np.float32, copy=True) if total is None else np.add(total, y, out=total)
    return total / np.float32(ensemble)


def _spans(n: int, size: int, reach: int) -> list[int]:
    """Lengths of the pieces of ``[0, n)`` cut every ``size``, each with ``reach`` more each side
    (cut short at the ends)."""
    return [min(n, a + size + reach) - max(0, a - reach) for a in range(0, n, size)]


def _slice_inside(pixels: int, per_px: int, reach_t: int, budget: int) -> int:
    """Frames each slice of :func:`_net_slices` keeps, for frames of ``pixels`` pixels: as many as
    fit ``budget`` bytes with the slice's reach each side; at least 1."""
    return max(1, budget // max(1, pixels * per_px) - 2 * reach_t)


def _pieces_voxels(t: int, h: int, w: int, tile: int, reach_px: int, reach_t: int, per_px: int,
                   budget: int | None = None) -> tuple[int, bool]:
    """Input voxels the net computes on (overlaps included) for tiles of ``tile`` (0: whole
    frames), and whether every call fits ``budget`` (default ``NET_BYTES``)."""
    budget = NET_BYTES if budget is None else budget
    hs, ws = (_spans(h, tile, reach_px), _spans(w, tile, reach_px)) if tile else ([h], [w])
    voxels, fits = 0, True
    for px in (a * b for a in hs for b in ws):
        inside = _slice_inside(px, per_px, reach_t, budget)
        frames = [t] if t <= inside + 2 * reach_t else _spans(t, inside, reach_t)
        voxels += px * sum(frames)
        fits &= max(frames) * px * per_px <= budget
    return voxels, fits


MIN_TILE = 64   # smaller tiles would be mostly overlap (8 pixels each side for the nets here)


def choose_tilesize(t: int, h: int, w: int, reach_px: int, reach_t: int, per_px: int,
                    budget: int | None = None) -> int:
    """The tile size (0: whole frames) for which the net computes on the fewest voxels, each call
    within ``budget`` bytes (default ``NET_BYTES``): whole frames when the clip fits one call. Otherwise the pieces overlap,
    tiles by the net's spatial reach and slices by its temporal one, and the cheapest mix is
    taken: at 270x480 (4K's first rung, 1080p's second) 19 frames as whole frames would be 5
    slices of up to 10 frames for 4 kept each (2.26x the voxels), where tiles hold all 19 frames
    (1.09x with a 1 GiB bound, 1.13x with 512 MiB; docs/BENCHMARKS.md, "The net's pieces at
    1080p and 4K"). Every
    size down to :data:`MIN_TILE` is costed (a few hundred sums); where no call fits (huge
    frames), the smallest tiles."""
    whole, fits = _pieces_voxels(t, h, w, 0, reach_px, reach_t, per_px, budget)
    if fits and whole == t * h * w:
        return 0
    best, tile = (whole, 0) if fits else (None, MIN_TILE)
    for s in range(max(h, w) // 16 * 16, MIN_TILE - 1, -16):
        v, fits = _pieces_voxels(t, h, w, s, reach_px, reach_t, per_px, budget)
        if fits and (best is None or v < best):
            best, tile = v, s
    return tile


def _net_pieces(model, clip: np.ndarray, tilesize: int = 0, overlap: int = 0,
                base: np.ndarray | None = None) -> np.ndarray:
    """The net's x2 in time, in pieces that bound its memory whatever the chunk or frame size:
    spatial tiles (``tilesize``; chosen by :func:`choose_tilesize` when not given) and temporal
    slices. Tiles overlap by the net's spatial reach and slices by its temporal reach (its
    receptive field), so the pieces change nothing."""
    t, h, w, _ = clip.shape
    reach_t = int(model.receptive_field["frames"])
    reach = max(overlap, model.receptive_field["pixels"])
    if not tilesize:
        tilesize = choose_tilesize(t, h, w, reach, reach_t, _net_bytes_per_pixel(model), _call_bytes(model))
    if not tilesize or (h <= tilesize and w <= tilesize):
        return _net_slices(model, clip, base)
    out = np.empty((2 * t, h, w, 3), np.float32)
    for y0 in range(0, h, tilesize):
        for x0 in range(0, w, tilesize):
            y1, x1 = min(h, y0 + tilesize), min(w, x0 + tilesize)
            ya, xa = max(0, y0 - reach), max(0, x0 - reach)
            yb, xb = min(h, y1 + reach), min(w, x1 + reach)
            tile = _net_slices(model, clip[:, ya:yb, xa:xb], None if base is None else base[:, ya:yb, xa:xb])
            out[:, y0:y1, x0:x1] = tile[:, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return out


def _run(model, clip: np.ndarray, base: np.ndarray | None) -> np.ndarray:
    return model.run(clip) if base is None else model.run(clip, base)


def _net_slices(model, clip: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
    t, h, w, _ = clip.shape
    r = int(model.receptive_field["frames"])
    n = _slice_inside(h * w, _net_bytes_per_pixel(model), r, _call_bytes(model))
    if t <= n + 2 * r:
        return _run(model, clip, base)
    out = np.empty((2 * t, h, w, 3), np.float32)
    for a in range(0, t, n):
        b = min(t, a + n)
        lo, hi = max(0, a - r), min(t, b + r)
        y = _run(model, clip[lo:hi], None if base is None else base[2 * lo:2 * hi])
        out[2 * a:2 * b] = y[2 * (a - lo):2 * (b - lo)]
    return out
