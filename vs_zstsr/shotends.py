"""A shot's ends continued along its own motion: virtual frames beyond its last (and before its
first) frame, so that every rung method sees a plausible continuation instead of a repeated frame.

Each output group of N frames spans its LTR frame's exposure, so half of a shot's first and last
group lies beyond what the shot shows: the interpolators read frames that are not there (cubic two
each side, flow the next frame's vectors, the net its receptive field). Repeating the end frame
(clamping) freezes that half, and back-projection then spreads the group's motion blur over the
other half. Here the shot goes on at constant velocity instead: the motion ``u`` between its last
two frames is measured (``last(x) ~ previous(x + u(x))``, :func:`flow`) and virtual frame ``k``
after the end is the last frame warped ``k`` times as far (``last(x + k u(x))``, :func:`warp`);
likewise before the first frame, from the first two. Where nothing moves, ``u`` is 0 and the
extension is the clamped one.

The motion estimator is a dense pyramidal Lucas-Kanade in NumPy (small array ops per pyramid
level: no native plugin and no worker process, deterministic, any frame size). At each level it
keeps only the motion that explains the frame better than none over the window around each pixel,
so that it does not invent motion where nothing moves (the still room around the pose2sim actors).
Its settings and the evidence that the continuation helps, per clip and end:
``benchmarks/bench_shot_ends.py`` (docs/BENCHMARKS.md, "Shot ends"). The extension is made where a
kept output reads past a shot's end (:meth:`.stream.Renderer.render`, :func:`.direct.stream`), from
the shot's two end frames only, so any chunk with its context gets the frames the whole clip gets.
"""
from __future__ import annotations

import numpy as np

from .resample import KERNELS, _keys_cubic

MODES = ("motion", "clamp")    # the choices of the `shot_ends` option (vs_zstsr/options.py)
DEFAULT = "motion"
LEVELS = 6        # pyramid levels at most (each half the size; the coarsest >= MIN_SIDE px)
MIN_SIDE = 12
ITERATIONS = 1    # Lucas-Kanade passes per level (more overshot: docs/BENCHMARKS.md, "Shot ends")
RADIUS = 16       # the window (2 RADIUS + 1 px square) over which a level's motion is one vector
KERNELS = KERNELS[1:]   # the warp's interpolation (resample.KERNELS): bilinear, Keys' cubic (a = -0.5)
EDGES = ("repeat", "odd")       # what fills content entering the picture: the edge, its odd reflection
# The continuation's warp (the estimator's own warps are bilinear). Cubic and odd raise a smooth
# synthetic texture's shot ends but bring no consistent gain on the real ones, whose pictures
# continue past an edge better repeated: docs/BENCHMARKS.md, "the continuation's warp", "the gap".
KERNEL, EDGE = "linear", "repeat"
# Values the box filter's row sums and the warp's taps take at a time: their sums, weights and
# products are float64, and a whole 1080p frame of them at once streamed hundreds of MB through
# memory per step; in blocks that stay in the cache the same operations on the same values take
# less time (docs/BENCHMARKS.md, "Shot ends: the continuation's cost").
SAMPLE_BLOCK = 1 << 15
# Tikhonov weight on the motion update, against the window's mean squared gradient (intensities in
# 0..1): where the picture is flat the update goes to 0 (no motion is invented there)
DAMPING = 1e-4


def _gray(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame, np.float32)
    return f if f.ndim == 2 else f @ np.array([0.299, 0.587, 0.114], np.float32)[: f.shape[-1]]


def _box(x: np.ndarray, r: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges reflected: two passes of running sums (in float64, so
    that the difference of two long sums keeps a small window's mean): down the columns a row at a
    time (NumPy's cumsum down a C-ordered array's columns strides across rows for every element,
    5-10x the time at 1080p), then along the rows a block of rows at a time (:data:`SAMPLE_BLOCK`
    values: the float64 sums stay in the cache). The same sums in the same order as ``np.cumsum``
    over each axis of the whole frame (tests/test_shotends.py)."""
    k, n = 2 * r + 1, x.shape[0]
    p = np.pad(x, ((r + 1, r), (0, 0)), mode="symmetric")
    c = np.empty(p.shape, np.float64)
    c[0] = p[0]
    for i in range(1, len(p)):
        np.add(c[i - 1], p[i], out=c[i])
    d = c[k:k + n] - c[:n]
    d /= k
    x, out = d.astype(np.float32), np.empty(x.shape, np.float32)
    rows = max(1, SAMPLE_BLOCK // x.shape[1])
    for s in range(0, n, rows):
        q = np.pad(x[s:s + rows], ((0, 0), (r + 1, r)), mode="symmetric")
        c = np.cumsum(q, axis=1, dtype=np.float64)
        d = c[:, k:] - c[:, :-k]
        d /= k
        out[s:s + rows] = d
    return out


def _half(x: np.ndarray) -> np.ndarray:
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    return x[:h, :w].reshape(h // 2, 2, w // 2, 2, *x.shape[2:]).mean(axis=(1, 3))


def _double(u: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A motion field at twice the size (``shape``): each vector doubled, edges repeated."""
    v = 2 * np.repeat(np.repeat(u, 2, axis=0), 2, axis=1)
    h, w = shape
    v = np.pad(v, ((0, max(0, h - v.shape[0])), (0, max(0, w - v.shape[1])), (0, 0)), mode="edge")
    return v[:h, :w]


def _sample(frame: np.ndarray, x: np.ndarray, y: np.ndarray, kernel: str) -> np.ndarray:
    """``frame`` at the positions ``x, y`` (inside the frame; taps past its edge take the edge)."""
    out = np.empty(x.shape + frame.shape[2:], np.float32)
    rows = max(1, SAMPLE_BLOCK // max(1, x.shape[1]))
    for r in range(0, x.shape[0], rows):
        _sample_rows(frame, x[r:r + rows], y[r:r + rows], kernel, out[r:r + rows])
    return out


def _sample_rows(frame: np.ndarray, x: np.ndarray, y: np.ndarray, kernel: str, out: np.ndarray) -> None:
    """:func:`_sample` of some rows of positions into ``out``."""
    h, w = frame.shape[:2]
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    fx, fy = x - x0, y - y0
    if kernel == "linear":
        taps, wx, wy = (0, 1), (1 - fx, fx), (1 - fy, fy)
    else:
        taps = (-1, 0, 1, 2)
        wx, wy = ([_keys_cubic(f - t).astype(np.float32) for t in taps] for f in (fx, fy))
    cols = [np.clip(x0 + t, 0, w - 1) for t in taps]
    # taps gathered by flat index from the frame's rows of pixels: half the time of ``frame[rows,
    # col]`` at 1080p, the same values (each shot end warps a few full-size frames); into buffers
    # made once, not a new array per step
    pixels = frame.reshape(h * w, -1) if frame.ndim == 3 else frame.reshape(h * w)
    at, rows = np.empty(x0.size, np.intp), np.empty(x0.size, np.intp)
    tap = np.empty((x0.size,) + pixels.shape[1:], pixels.dtype)   # one tap's pixels ...
    wij = np.empty(x.shape, np.result_type(wx[0], wy[0]))   # ... its weights (float64: fx is)
    term = np.empty(out.shape, wij.dtype)                    # ... and their product
    out[...] = 0
    for j, wyj in zip(taps, wy):
        np.multiply(np.clip(y0 + j, 0, h - 1).reshape(-1), w, out=rows)
        for col, wxi in zip(cols, wx):
            np.multiply(wyj, wxi, out=wij)
            np.add(rows, col.reshape(-1), out=at)
            np.take(pixels, at, axis=0, out=tap)
            np.multiply(tap.reshape(out.shape), wij[..., None] if frame.ndim == 3 else wij, out=term)
            np.add(out, term, out=out, casting="same_kind")   # float32 after each tap, as before


def warp(frame: np.ndarray, u: np.ndarray, kernel: str = "linear", edge: str = "repeat") -> np.ndarray:
    """``frame`` sampled at ``x + u(x)``, interpolated by ``kernel`` (:data:`KERNELS`). Positions
    beyond the frame (content the frame does not show) take its edge (``edge="repeat"``) or its odd
    reflection about the edge, ``f(-d) = 2 f(0) - f(d)`` (``"odd"``: the picture continued linearly
    past its edge, clipped to 0..1)."""
    h, w = frame.shape[:2]
    x = np.arange(w, dtype=np.float32) + u[..., 0]
    y = np.arange(h, dtype=np.float32)[:, None] + u[..., 1]
    xc, yc = np.clip(x, 0, w - 1), np.clip(y, 0, h - 1)
    out = _sample(frame, xc, yc, kernel)
    outside = (x != xc) | (y != yc)
    if edge == "odd" and outside.any():
        inner = _sample(frame, np.clip(2 * xc - x, 0, w - 1), np.clip(2 * yc - y, 0, h - 1), kernel)
        odd = np.clip(2 * out - inner, 0, 1)
        out = np.where(outside[..., None] if frame.ndim == 3 else outside, odd, out)
    return out


def flow(ref: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The motion ``u`` (``(H, W, 2)``, x then y, in pixels) with ``frame(x) ~ ref(x + u(x))``;
    none in a frame one pixel high or wide (no gradient across it: the shot's end is then repeated)."""
    if min(ref.shape[:2]) < 2:
        return np.zeros(ref.shape[:2] + (2,), np.float32)
    pyr = [(_gray(ref), _gray(frame))]
    while len(pyr) < LEVELS and min(pyr[-1][0].shape) // 2 >= MIN_SIDE:
        pyr.append((_half(pyr[-1][0]), _half(pyr[-1][1])))
    u = np.zeros(pyr[-1][0].shape + (2,), np.float32)
    for level, (a, b) in enumerate(reversed(pyr)):
        if level:
            u = _double(u, a.shape)
        for _ in range(ITERATIONS):
            aw = warp(a, u)
            gy, gx = np.gradient(0.5 * (aw + b))
            it = aw - b
            sxx, sxy, syy = _box(gx * gx, RADIUS), _box(gx * gy, RADIUS), _box(gy * gy, RADIUS)
            sxt, syt = _box(gx * it, RADIUS), _box(gy * it, RADIUS)
            sxx += DAMPING
            syy += DAMPING
            det = sxx * syy - sxy * sxy
            u[..., 0] -= (syy * sxt - sxy * syt) / det
            u[..., 1] -= (sxx * syt - sxy * sxt) / det
        u = _better(a, b, u)
    return u


def _better(a: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``u`` where it explains ``b`` better than no motion over the window around each pixel, else 0."""
    moved = _box((warp(a, u) - b) ** 2, RADIUS)
    still = _box((a - b) ** 2, RADIUS)
    return np.where((moved < still)[..., None], u, 0).astype(np.float32)


def continuation(end: np.ndarray, inner: np.ndarray, count: int) -> np.ndarray:
    """``count`` frames continuing a shot past its end frame ``end``, whose neighbour inside the
    shot is ``inner``, nearest first: ``end`` warped 1, 2, ... times the motion from ``inner``."""
    u = flow(inner, end)
    return np.stack([continued(end, u, k) for k in range(1, count + 1)])


def continued(end: np.ndarray, u: np.ndarray, k: int) -> np.ndarray:
    """The ``k``-th frame past a shot's end frame ``end`` whose motion is ``u`` (:func:`flow` from
    its inner neighbour): one frame of :func:`continuation`, for a caller that reads only some."""
    return warp(end, int(k) * u, KERNEL, EDGE)   # int: a NumPy integer times float32 is float64


def frames(mode: str, reach: int) -> int:
    """Virtual frames at each shot end for ``mode`` (:data:`MODES`) and a ladder that reads
    ``reach`` frames each side of an output group: none when clamped."""
    return reach if mode == "motion" else 0


def extend(shot: np.ndarray, before: int, after: int) -> np.ndarray:
    """``shot`` ``(T, H, W, C)`` with ``before`` virtual frames before it and ``after`` after it
    (see the module doc); a one-frame shot is repeated (no motion to go on)."""
    shot = np.asarray(shot, np.float32)
    parts = []
    if before:
        parts.append(continuation(shot[0], shot[1], before)[::-1] if len(shot) > 1
                     else np.repeat(shot[:1], before, 0))
    parts.append(shot)
    if after:
        parts.append(continuation(shot[-1], shot[-2], after) if len(shot) > 1
                     else np.repeat(shot[-1:], after, 0))
    return np.concatenate(parts) if len(parts) > 1 else shot
