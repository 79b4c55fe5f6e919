"""The kernels: spatial resize, temporal rect blur + subsample, temporal interpolation.

This is the single definition of every resampling step that both the trainer (to make internal
examples) and the runtime (the ladder, back-projection, baselines) use, so that what the net is
trained to invert is exactly what the runtime feeds it.

Conventions
-----------
* A video is a float32 array ``(T, H, W, C)`` in [0, 1]; any axis can be resampled.
* Sample centres: output sample ``k`` of an axis resized from ``n`` to ``m`` samples sits at input
  coordinate ``(k + 0.5) * n / m - 0.5`` (pixel-centre alignment, as in MATLAB/PIL ``imresize``).
* Time uses the same convention, which is the paper's camera model: LTR frame ``i`` is the exposure
  (mean) of HTR frames ``N*i .. N*i+N-1``, so HTR frame ``k`` is centred at LTR time
  ``(k + 0.5) / N - 0.5``. Temporal interpolation by ``N`` is therefore a resize of the time axis
  from ``T`` to ``N*T`` samples, and the temporal degradation is a box (rect) downscale by ``N``.
* Edges are clamped (the first/last sample repeats), in space and in time.
"""
from __future__ import annotations

import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

KERNELS = ("nearest", "linear", "cubic")


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5: Catmull-Rom, MATLAB's and PIL's 'bicubic')."""
    x = np.abs(x)
    x2, x3 = x * x, x * x * x
    near = (a + 2) * x3 - (a + 3) * x2 + 1
    far = a * x3 - 5 * a * x2 + 8 * a * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _linear(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(x))


def _nearest(x: np.ndarray) -> np.ndarray:
    # Half-open box so that a sample exactly between two inputs takes the later one only.
    return ((x > -0.5) & (x <= 0.5)).astype(np.float64)


_KERNEL = {"nearest": (_nearest, 0.5), "linear": (_linear, 1.0), "cubic": (_keys_cubic, 2.0)}


@functools.lru_cache(maxsize=256)
def resize_weights(n_in: int, n_out: int, kernel: str = "cubic", antialias: bool = True):
    """Indices ``(n_out, taps)`` into the input and their weights ``(n_out, taps)`` (rows sum to 1).

    When shrinking with ``antialias`` the kernel is stretched by the shrink factor, so a downscale
    low-passes first (PIL/MATLAB behaviour); when enlarging it is the plain interpolation kernel.
    """
    if kernel not in _KERNEL:
        raise ValueError(f"unknown kernel {kernel!r}; choose from {', '.join(KERNELS)}")
    if n_in < 1 or n_out < 1:
        raise ValueError("resize needs at least one sample in and out")
    fn, support = _KERNEL[kernel]
    scale = n_out / n_in
    stretch = 1.0 / scale if (antialias and scale < 1) else 1.0
    centres = (np.arange(n_out) + 0.5) / scale - 0.5
    taps = int(np.ceil(2 * support * stretch)) + 1
    first = np.floor(centres - support * stretch).astype(np.int64) + (0 if kernel != "nearest" else 1)
    idx = first[:, None] + np.arange(taps)[None, :]
    w = fn((idx - centres[:, None]) / stretch)
    total = w.sum(axis=1, keepdims=True)
    w = w / np.where(total == 0, 1.0, total)
    return np.clip(idx, 0, n_in - 1), w.astype(np.float32)


def resize_axis(x: np.ndarray, n_out: int, axis: int, kernel: str = "cubic",
                antialias: bool = True) -> np.ndarray:
    """Resample one axis of ``x`` to ``n_out`` samples (centre-aligned, clamped edges)."""
    axis = axis % x.ndim
    n_in = x.shape[axis]
    if n_in == n_out:
        return x.astype(np.float32, copy=False)
    idx, w = resize_weights(n_in, n_out, kernel, antialias)
    # Drop taps whose weight is zero for every output (e.g. exact x2 cubic has 4 live taps).
    live = np.any(w != 0, axis=0)
    idx, w = idx[:, live], w[:, live]
    shape = [1] * x.ndim
    shape[axis] = n_out
    taps = [(idx[:, j], w[:, j].reshape(shape)) for j in range(idx.shape[1])]
    out = np.zeros(x.shape[:axis] + (n_out,) + x.shape[axis + 1:], dtype=np.float32)
    if x.ndim == 1:
        _resize_block(x, out, axis, taps)
        return out
    # Blocks along another axis, so that each tap's sum runs on a block that stays in the cache
    # rather than streaming the whole array through memory once per tap, and the blocks on all
    # cores: the same sums in the same order, so the same values (docs/BENCHMARKS.md, "The
    # ladder's resizes").
    along = 1 if axis == 0 else 0
    step = max(1, _BLOCK // max(1, out.size // out.shape[along]))
    blocks = [(slice(None),) * along + (slice(s, s + step),) for s in range(0, out.shape[along], step)]
    pool = _pool() if len(blocks) > 1 else None
    if pool is None:
        for b in blocks:
            _resize_block(x[b], out[b], axis, taps)
    else:
        list(pool.map(lambda b: _resize_block(x[b], out[b], axis, taps), blocks))
    return out


# Output values per block of resize_axis: its taps' temporaries stay within a core's L2 cache
# (1-2 MiB here); measured with benchmarks/bench_resize.py.
_BLOCK = 1 << 18


def _resize_block(x: np.ndarray, out: np.ndarray, axis: int, taps) -> None:
    for i, w in taps:
        out += np.take(x, i, axis=axis) * w


_POOL: dict = {}   # process id -> the pool (a forked child makes its own: its parent's threads are not in it)
_POOL_LOCK = threading.Lock()


def _pool():
    """Threads for resize_axis's blocks (NumPy releases the GIL in take, multiply and add), one per
    core this process may run on, or OMP_NUM_THREADS where that is fewer (the limit a host or Ray
    sets for a process's native threads); None for one."""
    pid = os.getpid()
    with _POOL_LOCK:
        if pid not in _POOL:
            n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            limit = os.environ.get("OMP_NUM_THREADS", "").strip()
            if limit.isdigit() and int(limit) >= 1:
                n = min(n, int(limit))
            _POOL.clear()
            _POOL[pid] = ThreadPoolExecutor(n, thread_name_prefix="zstsr-resize") if n > 1 else None
        return _POOL[pid]


def resize_spatial(video: np.ndarray, height: int, width: int, kernel: str = "cubic",
                   antialias: bool = True) -> np.ndarray:
    """Antialiased bicubic resize of the H and W axes of a ``(..., H, W, C)`` array."""
    out = resize_axis(video, height, axis=-3, kernel=kernel, antialias=antialias)
    return resize_axis(out, width, axis=-2, kernel=kernel, antialias=antialias)


def rect_downsample(x: np.ndarray, factor: int, axis: int = 0) -> np.ndarray:
    """The slow camera: mean of every ``factor`` samples along ``axis`` (a trailing remainder that
    does not fill a whole exposure is dropped)."""
    axis = axis % x.ndim
    n = x.shape[axis] // factor
    if n < 1:
        raise ValueError(f"need at least {factor} samples along axis {axis}, got {x.shape[axis]}")
    if n * factor != x.shape[axis] or not x.flags.c_contiguous:   # whole groups, laid out as a copy would be
        x = np.take(x, np.arange(n * factor), axis=axis)
    shape = x.shape[:axis] + (n, factor) + x.shape[axis + 1:]
    return x.reshape(shape).mean(axis=axis + 1, dtype=np.float32)


def temporal_interpolate(video: np.ndarray, factor: int, kernel: str = "cubic",
                         axis: int = 0) -> np.ndarray:
    """Interpolate ``factor`` frames per input frame at the exposure-centred times of the camera
    model (see module doc). ``kernel='nearest'`` is frame repetition."""
    return resize_axis(video, video.shape[axis] * factor, axis=axis, kernel=kernel, antialias=False)


def output_times(n_in: int, factor: int) -> np.ndarray:
    """Centre of each of the ``factor * n_in`` output frames, in input-frame units."""
    return (np.arange(n_in * factor) + 0.5) / factor - 0.5


def cubic_x2_taps() -> tuple[np.ndarray, np.ndarray]:
    """The fixed 4-tap weights of cubic temporal x2 for even and odd outputs.

    Output ``2i`` (time ``i - 1/4``) reads input frames ``i-2 .. i+1``; output ``2i+1`` (time
    ``i + 1/4``) reads ``i-1 .. i+2`` (edges clamped). Exported so the ONNX graph and the torch net
    build exactly the interpolation :func:`temporal_interpolate` computes.
    """
    even = _keys_cubic(np.array([-1.75, -0.75, 0.25, 1.25])).astype(np.float32)
    odd = even[::-1].copy()
    return even, odd
