"""The peers we measure against: frame repetition, linear and cubic temporal interpolation, ffmpeg's
motion-compensated ``minterpolate`` and MVTools ``FlowFPS``, each optionally followed by temporal
back-projection.

Timing convention (the whole project uses it): LTR frame ``i`` is the exposure of HTR frames
``N*i .. N*i+N-1``, so output frame ``k`` is centred at LTR time ``t_k = (k + 0.5)/N - 0.5``
(in LTR frame units; LTR frame ``i`` sits at ``t = i``). For N = 8 the first output is at -0.4375,
the eighth at +0.4375.

The motion-compensated peers assume instantaneous exposure and only produce frames at multiples of
their output period from the first input frame (``t = j / M`` for rate x M). The times we need
are ``t_k = (2k + 1 - N) / (2N)``: for even N they fall half-way between the x N grid points, so the
peers are run at x 2N and every frame ``j = 2k + 1 - N`` is kept. Frames before the first input
(``j < 0``) or after the last one take the nearest end frame (the peers cannot extrapolate), which
is also what linear and cubic do with their clamped edges.
"""
from __future__ import annotations

import os
import threading
from fractions import Fraction
from typing import Callable, Iterator

import numpy as np

from . import io, native
from .direct import Finish, FrameList, heap_blocks_up_to
from .backprojection import temporal_backproject
from .errors import ZstsrError
from .resample import temporal_interpolate

METHODS = ("repeat", "linear", "cubic", "minterpolate", "flowfps")
# Peers run in a worker process (:mod:`.native`), with the name a crash report gives them:
# MVTools kills the process it runs in on some real crops (issue 18).
NATIVE = {"flowfps": "MVTools FlowFPS"}
# The smallest frame side flow interpolation is given (here and on the ladder's rungs). In a seeded
# fuzz over crops of the real clips (benchmarks/bench_flow_fuzz.py, docs/BENCHMARKS.md) MVTools
# crashed on a quarter to a half of the frames with a shorter side of 24..32 px, and on none of
# 1328 from 33 to 64 px; 48 keeps two of its 8-px blocks of margin above that edge. The worker
# (vs_zstsr/native.py) turns any crash left into an exception.
MIN_FLOW_SIZE = 48
KERNELS = {"repeat": "nearest", "linear": "linear", "cubic": "cubic"}   # peer -> resample kernel
# Peers that finish their frames where they run (peer_stream's finish, vs_zstsr/direct.py's Finish)
FINISHES = ("flowfps",)


def interpolate(ltr: np.ndarray, factor: int, method: str, rate: Fraction = Fraction(30),
                backproject: bool = False, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """``factor`` x temporal upsampling of a ``(T, H, W, 3)`` clip by a peer method."""
    if method not in METHODS:
        raise ZstsrError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if method in KERNELS:
        out = temporal_interpolate(ltr, factor, KERNELS[method])
        if progress:
            progress(len(out))
    else:
        if method == "flowfps":
            check_flow_size(ltr.shape[1], ltr.shape[2])
        frames = peer_stream(ltr, factor, method, rate)
        out = np.empty((ltr.shape[0] * factor,) + ltr.shape[1:], np.float32)
        for k, frame in enumerate(frames):
            out[k] = frame
            if progress:
                progress(1)
    if backproject:
        out = temporal_backproject(out, ltr, factor)
    return np.clip(out, 0.0, 1.0, out=out)


def peer_stream(ltr: np.ndarray, factor: int, method: str, rate: Fraction = Fraction(30),
                keep: tuple[int, int] | None = None, finish: Finish | None = None) -> Iterator[np.ndarray]:
    """:func:`peer_frames`, in a worker process for a plugin that can crash (:data:`NATIVE`).
    ``finish`` (flowfps only, :data:`FINISHES`): the frames come back finished (:class:`.direct.Finish`)."""
    if method == "flowfps":
        check_flow_size(ltr.shape[1], ltr.shape[2])
    if finish is not None and method not in FINISHES:
        raise ValueError(f"{method} does not finish its frames")
    if method in NATIVE:   # a plugin that can crash the process runs in a worker (vs_zstsr/native.py)
        # frames read from a video cross as their stored samples (8-bit: a quarter of the bytes,
        # turned back to the same float32 values there): the worker holds a segment the whole call
        ltr = FrameList(_compacted(ltr))
        if finish is not None:
            return native.stream(f"{__name__}:peer_frames", ltr, factor, method, rate, keep, finish=finish,
                                 what=NATIVE[method])
        # flow's own YUV 4:4:4 16-bit frames cross the pipe (half the bytes of float32 RGB, and no
        # conversion in the worker); they become RGB here (docs/BENCHMARKS.md, issue 19)
        frames = native.stream(f"{__name__}:peer_frames", ltr, factor, method, rate, keep, yuv=True,
                               what=NATIVE[method])
        return (yuv16_to_rgb(f) for f in frames)
    return peer_frames(ltr, factor, method, rate, keep)


# Threads that compact a segment's frames (io.compact), each with a frame-sized buffer: the worker
# waits for the segment, and NumPy lets go of the GIL (the direct path's frames come compacted as
# they were read, vs_zstsr/direct.py: nothing is left to do for those)
COMPACT_THREADS = 4


def _compacted(ltr) -> list[np.ndarray]:
    """The frames of ``ltr`` through :func:`.io.compact`, in order, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    n = max(1, min(len(ltr), COMPACT_THREADS, os.cpu_count() or 1))
    if n == 1:
        return [io.compact(x) for x in ltr]
    with ThreadPoolExecutor(n, thread_name_prefix="zstsr-compact") as pool:
        return list(pool.map(io.compact, ltr))


# BT.709, as MVTools' frames are converted (resize.Bicubic, matrix 709, full range)
_KR, _KB = 0.2126, 0.0722


def yuv16_to_rgb(planes: np.ndarray) -> np.ndarray:
    """Full-range BT.709 Y'CbCr 4:4:4 16-bit planes ``(3, H, W)`` -> float32 R'G'B' ``(H, W, 3)``:
    what VapourSynth's resize makes of them, within float32 rounding (1.2e-7)."""
    kg = 1 - _KR - _KB
    scale, mid = np.float32(1 / 65535), np.float32(32768)
    y = planes[0].astype(np.float32)
    y *= scale
    u = planes[1].astype(np.float32)
    u -= mid
    u *= scale
    v = planes[2].astype(np.float32)
    v -= mid
    v *= scale
    out = np.empty(planes.shape[1:] + (3,), np.float32)
    out[..., 0] = y + np.float32(2 * (1 - _KR)) * v
    out[..., 2] = y + np.float32(2 * (1 - _KB)) * u
    v *= np.float32(2 * (1 - _KR) * _KR / kg)
    u *= np.float32(2 * (1 - _KB) * _KB / kg)
    y -= v
    y -= u
    out[..., 1] = y
    return out


def peer_frames(ltr: np.ndarray, factor: int, method: str, rate: Fraction = Fraction(30),
                keep: tuple[int, int] | None = None, yuv: bool = False, finish: Finish | None = None
                ) -> Iterator[np.ndarray]:
    """The output frames of a motion-compensated peer, in order (see the module doc), of the LTR
    frames ``ltr`` (an array ``(T, H, W, 3)``, or the frames of a streamed segment as they are:
    :class:`.direct.FrameList`; flowfps and minterpolate read either): all ``T * factor``, or with
    ``keep=(lead, count)`` only those of LTR frames ``lead .. lead+count-1`` (the inside of a
    streamed segment, vs_zstsr/direct.py: frames outside it are never computed).
    ``yuv`` (flowfps): MVTools' own frames, uint16 planes ``(3, H, W)`` (:func:`yuv16_to_rgb`);
    ``finish`` (flowfps): finished in VapourSynth (:class:`.direct.Finish`, :func:`_finished`)."""
    t = ltr.shape[0]
    lead, count = keep if keep is not None else (0, t)
    ks = np.arange(lead * factor, (lead + count) * factor)
    if method == "flowfps":
        yield from _flowfps(ltr, 2 * factor, rate, wanted=2 * ks + 1 - factor, planar_yuv=yuv,
                            finish=finish and (finish, factor, lead))
        return
    grid = _minterpolate(ltr, 2 * factor, rate)  # frames at t = j / (2N), j = 0 .. 2N (T - 1)
    for j in np.clip(2 * ks + 1 - factor, 0, len(grid) - 1):
        yield grid[int(j)]


def check_flow_size(height: int, width: int) -> None:
    if min(height, width) < MIN_FLOW_SIZE:
        raise ZstsrError(f"flow interpolation (MVTools) needs frames of at least {MIN_FLOW_SIZE}x{MIN_FLOW_SIZE}, "
                         f"got {width}x{height}")


def has_mvtools() -> bool:
    """Whether MVTools is installed (asked where it would run: in a worker, :func:`flow_available`)."""
    import vapoursynth as vs

    return hasattr(vs.core, "mv")


_available: bool | None = None
_asking = threading.Lock()


def flow_available() -> bool:
    """Whether flow interpolation can run here (VapourSynth and MVTools, in a worker); asked once
    (a call while :func:`ask_flow_available` asks waits for its answer)."""
    global _available
    with _asking:
        if _available is None:
            try:
                _available = bool(native.call(f"{__name__}:has_mvtools", what="VapourSynth"))
            except (ZstsrError, ImportError):
                _available = False
    return _available


def ask_flow_available() -> None:
    """Ask :func:`flow_available` on a thread of its own, and return at once: MVTools' worker
    process starts and answers while the caller opens its input (docs/BENCHMARKS.md, "Frames in
    the writer's format"), and stays in the pool for the job's flow."""
    if _available is None:
        threading.Thread(target=flow_available, name="zstsr-flow-check", daemon=True).start()


class _LazyGrid:
    """Frames of a peer's x M output, decoded on demand, keeping only what is asked for."""

    def __init__(self, frames: Iterator[np.ndarray], length: int):
        self._it, self._len, self._pos, self._last = frames, length, -1, None

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, j: int) -> np.ndarray:
        if j < self._pos:
            raise IndexError("grid frames are read forwards only")
        while self._pos < j:
            nxt = next(self._it, None)
            if nxt is None:  # a peer may stop a frame short: hold the last one
                self._len = self._pos + 1
                break
            self._last, self._pos = nxt, self._pos + 1
        return self._last


def _minterpolate(ltr: np.ndarray, mult: int, rate: Fraction) -> _LazyGrid:
    """ffmpeg ``minterpolate`` (motion-compensated, overlapped-block, bidirectional ME), x ``mult``.

    Scene-change detection is off (``scd=none``): the test clips have no cuts, and with it on,
    fast motion is mistaken for a cut and left un-interpolated.
    """
    import av

    t, h, w, _ = ltr.shape
    if min(h, w) < 32:
        raise ZstsrError(f"minterpolate needs frames of at least 32x32, got {w}x{h}")
    out_rate = rate * mult
    graph = av.filter.Graph()
    src = graph.add_buffer(width=w, height=h, format="yuv444p", time_base=1 / rate)
    mi = graph.add("minterpolate", f"fps={out_rate.numerator}/{out_rate.denominator}:mi_mode=mci:"
                   "mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none")
    sink = graph.add("buffersink")
    src.link_to(mi)
    mi.link_to(sink)
    graph.configure()

    def frames() -> Iterator[np.ndarray]:
        def pull():
            while True:
                try:
                    f = sink.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    return
                yield f.reformat(format="rgb24", src_colorspace="ITU709",
                                 src_color_range="JPEG").to_ndarray().astype(np.float32) / 255.0

        for i in range(t):
            f = av.VideoFrame.from_ndarray(_u8(ltr[i]), format="rgb24")
            f = f.reformat(format="yuv444p", dst_colorspace="ITU709", dst_color_range="JPEG")
            f.pts, f.time_base = i, 1 / rate
            src.push(f)
            yield from pull()
        src.push(None)
        yield from pull()

    return _LazyGrid(frames(), mult * (t - 1) + 1)


# VapourSynth's frame cache while flow runs, in MiB: its default (half the machine's memory) would
# let one 4K clip's motion-search planes fill it; frames here are asked for in order, none later.
# The limit also bounds VapourSynth's pool of frame buffers, which MVTools' planes need whole: at
# least FLOW_CACHE_MB, and FLOW_CACHE_FRAMES YUV 4:4:4 16-bit frames of the clip's size (measured
# before the fixed caches below: 1080p 1 GiB, where 512 MiB took 50% longer, and 1.5 GiB 2-10%
# less time but put the worker at the 4 GB bar; 4K 1.9 GiB, where 1 GiB took 1.4-2.6x as long, and
# 3 GiB 10-25% less time than 2 but 1.2 GiB more, near the 8 GB bar: docs/BENCHMARKS.md, "4K:
# MVTools' buffer pool", "A segment as its stored samples"), plus what the fixed caches below hold
# (_flowfps adds it). With those caches 20 frames at 4K (1 GiB) took 1-3% more time than 40, where
# MVTools' worker and the CLI's process together reached 7.4-7.6 GiB with 40 and 7.1 with 20, under the
# 8 GB bar (docs/BENCHMARKS.md, "Frames in the writer's format"): up to 4K the limit is now
# FLOW_CACHE_MB, and FLOW_CACHE_FRAMES sets it only above (8K: 3.7 GiB). 768 MiB at 1080p held the
# two processes together 0.2-0.3 GiB lower but took 2-6% more time, where the time line
# (1.5x MVTools alone) was then met in two of four runs: not kept ("The job's memory, both
# processes together").
FLOW_CACHE_MB = 1024
FLOW_CACHE_FRAMES = 20
# Frames each node of _flowfps's graph keeps in a fixed cache of its own (0: no cache; None:
# VapourSynth's automatic one). Frames are asked for in order, each a few times close together: a
# YUV frame by the motion search and by FlowFPS (with its neighbours), a super frame by the motion
# searches of its two pairs, an Analyse frame by FlowFPS for each output frame around it, a group's
# FlowFPS frames (``phases``, float RGB) by the group's error and by their own finished frames, the
# error by each of those. Automatic caches grow toward the core's limit on this pattern and then all
# shrink at once (they thrashed: 2.6-2.8x the time at 1080p); no caches on the frame-sized nodes
# (the choice before these) made each super frame 3 times and each YUV frame at each request, and
# the vectors' automatic caches dropped vectors that were searched again. These hold each
# frame until its last use with 2 VapourSynth threads (measured on 2 cores; with many more threads
# more frames are in flight and some are computed again, the same values): at 1080p 19-21% less
# CPU in the same memory (docs/BENCHMARKS.md, "Fixed caches in MVTools' graph").
FLOW_CACHES = {"rgb": 0, "yuv": 4, "super": 4, "vectors": 4, "flow": 0, "back": 0, "phases": 1, "error": 2}
# Output frames of FlowFPS computed ahead of the one taken, per VapourSynth thread (see _flowfps),
# fewer where their float RGB frames would pass FLOW_AHEAD_MB per thread (never under 3): with the
# fixed caches, 6 took 5-10% less time than 3 at 1080p, the worker's memory the same, and at 4K
# (3 there) no less time for 0.5 GiB more (docs/BENCHMARKS.md, "Fixed caches in MVTools' graph").
FLOW_AHEAD = 6
FLOW_AHEAD_MB = 300


# MVTools' worker keeps blocks up to FLOW_HEAP_PLANES 16-bit planes of its clip on its heap
# (direct.heap_blocks_up_to): the YUV 4:4:4 16-bit planes the motion search reads, MVTools' own
# buffers; larger ones (the float RGB planes: the segment as VapourSynth reads it, FlowFPS's frames
# turned back to RGB, a group's phases) get pages of their own. VapourSynth pools blocks above 1 MiB
# itself and, at the core's limit, frees one at random (vapoursynth's src/core/memoryuse.cpp): on
# one heap those frees left holes that later blocks of other sizes did not fill, and the worker's
# resident set climbed within each segment to 2.5-2.9 GiB at 1080p whatever the clip's length.
# Float planes apart: 2.2-2.6 GiB, 4-7% more with a 4x longer clip, in the same seconds; every
# block from 1 MiB apart: 2.2 GiB, but 13-28% more CPU (the kernel zeroing fresh pages:
# docs/BENCHMARKS.md, "MVTools' float planes off its heap"). At 4K (31.6 MiB float planes, under
# LARGE_BLOCK_BYTES: they were on the heap too) 0.3 GiB less in the same time.
FLOW_HEAP_PLANES = 1.5


def flow_heap_block_bytes(height: int, width: int) -> int:
    """The largest block MVTools' worker keeps on its heap for frames of this size (FLOW_HEAP_PLANES)."""
    return int(FLOW_HEAP_PLANES * height * width * 2)


def flow_cache_mb(height: int, width: int) -> int:
    """VapourSynth's cache limit while flow runs on frames of this size, in MiB (see FLOW_CACHE_MB)."""
    return max(FLOW_CACHE_MB, -(-FLOW_CACHE_FRAMES * height * width * 3 * 2 // 2 ** 20))


_CORE_CACHE_MB: int | None = None


def _core_cache_mb(core) -> int:
    """The core's cache limit before flow first set it (its default, or the host's): flow lowers
    it for its clip's size, never raises it above that, and a later larger clip gets its own."""
    global _CORE_CACHE_MB
    if _CORE_CACHE_MB is None:
        _CORE_CACHE_MB = int(core.max_cache_size)
    return _CORE_CACHE_MB


def _flowfps(ltr: np.ndarray, mult: int, rate: Fraction, wanted: np.ndarray, planar_yuv: bool = False,
             finish: tuple[Finish, int, int] | None = None) -> Iterator[np.ndarray]:
    """MVTools ``FlowFPS`` (optical flow from block vectors, both directions), x ``mult``: frames
    ``wanted`` of its output grid (indices clamped to it), in that order. Only those are computed,
    several at a time (VapourSynth's threads), as float32 ``(H, W, 3)``, or with ``planar_yuv`` as
    FlowFPS makes them: uint16 YUV 4:4:4 planes ``(3, H, W)``, or with ``finish`` = (how, factor,
    lead) finished (:func:`_finished`: ``wanted`` is then whole groups of ``factor`` frames of the LTR
    frames from ``lead`` on)."""
    import vapoursynth as vs

    core = vs.core
    if not hasattr(core, "mv"):
        raise ZstsrError("flowfps needs MVTools: pip install vapoursynth-mvtools")
    t, h, w, _ = ltr.shape   # the size guard is peer_stream()'s: the fuzz benchmark runs this below it
    heap_blocks_up_to(flow_heap_block_bytes(h, w))   # in MVTools' worker only (see FLOW_HEAP_PLANES)
    blank = core.std.BlankClip(width=w, height=h, format=vs.RGBS, length=t,
                               fpsnum=rate.numerator, fpsden=rate.denominator)

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        x = ltr[n]   # ltr: an array or a direct.FrameList, of float32 frames or io.compact's
        for p in range(3):
            io.dequantize_into(x[:, :, p], np.asarray(out[p]))
        return out

    rgb = core.std.ModifyFrame(blank, blank, fill)
    yuv = core.resize.Bicubic(rgb, format=vs.YUV444P16, matrix_s="709", range_s="full")
    blk = 16 if min(w, h) >= 256 else 8
    sup = core.mv.Super(yuv, pel=2)
    bv = core.mv.Analyse(sup, isb=True, blksize=blk, overlap=blk // 2)
    fv = core.mv.Analyse(sup, isb=False, blksize=blk, overlap=blk // 2)
    out_rate = rate * mult
    flow = core.mv.FlowFPS(yuv, sup, bv, fv, num=out_rate.numerator, den=out_rate.denominator)
    back = core.resize.Bicubic(flow, format=vs.RGBS, matrix_in_s="709", range_in_s="full")
    idx = np.clip(np.asarray(wanted, np.int64), 0, back.num_frames - 1)
    if len(idx) == 0:
        return
    # FLOW_AHEAD frames per thread in flight: the motion search goes on while the caller (the
    # worker's pipe, back-projection, the encoder) takes a frame; the default (one per thread)
    # left the threads idle meanwhile (docs/BENCHMARKS.md, "1080p and 4K")
    ahead = core.num_threads * max(3, min(FLOW_AHEAD, FLOW_AHEAD_MB * 2 ** 20 // (h * w * 3 * 4)))
    nodes = {"rgb": (rgb,), "yuv": (yuv,), "super": (sup,), "vectors": (bv, fv), "flow": (flow,), "back": (back,)}
    if finish is not None:
        how, factor, lead = finish
        out, nodes["phases"], nodes["error"] = _finished(back, idx, rgb[lead:lead + len(idx) // factor], factor, how)
    else:
        out = _select(flow if planar_yuv else back, idx)
    core.max_cache_size = min(_core_cache_mb(core), flow_cache_mb(h, w) + set_caches(nodes))
    if finish is not None and finish[0].planes is not None:   # io.Planar's frame: the planes in a row
        for f in out.frames(prefetch=ahead, backlog=ahead, close=True):
            yield io.planes_row(f)
        return
    for f in out.frames(prefetch=ahead, backlog=ahead, close=True):
        yield np.stack([np.asarray(f[p]) for p in range(3)], axis=0 if planar_yuv else -1)


def set_caches(nodes: dict[str, tuple]) -> int:
    """Give the nodes of MVTools' graph, by name, their caches (:data:`FLOW_CACHES`); returns the
    MiB the fixed ones hold, which VapourSynth's limit must leave room for besides its pool."""
    import vapoursynth as vs

    held = 0
    for name, group in nodes.items():
        frames = FLOW_CACHES[name]
        for node in group:
            if frames is None:
                continue
            if frames:
                vs.core.std.SetVideoCache(node, 1, 1, frames)
            else:
                vs.core.std.SetVideoCache(node, 0)
            # an Analyse frame is its super frame (planes shared) with the vectors attached: mostly
            # the frames the super cache holds, not counted again (a vector frame may keep a super
            # frame a little longer than that cache does)
            held += 0 if name == "vectors" else frames * frame_bytes(node)
    return -(-held // 2 ** 20)


def frame_bytes(clip) -> int:
    """Bytes of one frame of a VapourSynth clip (its planes' samples)."""
    f = clip.format
    chroma = (clip.width >> f.subsampling_w) * (clip.height >> f.subsampling_h)
    return f.bytes_per_sample * (clip.width * clip.height + (f.num_planes - 1) * chroma)


# Expr's names of its input clips, in order: a group of up to 25 frames and its LTR frame
_EXPR_CLIPS = "xyzabcdefghijklmnopqrstuvw"


def _finished(back, idx: np.ndarray, ltr, factor: int, how: Finish):
    """Frames ``idx`` of ``back`` (float RGB) in groups of ``factor``, each group back-projected
    onto its frame of ``ltr``, clipped and quantized, in VapourSynth's ``std.Expr`` (SIMD, on its
    threads): the sums of :func:`.direct.finish_group` in the same order in float32, then
    :func:`.io.quantize`, except that Expr rounds an exact tie (a value at k + 1/2 levels) to even
    where quantize rounds it up (at most one level, only there). Returns the clip, the group's
    phases and its error (or none), for their caches (:func:`set_caches`)."""
    import vapoursynth as vs

    core = vs.core
    phases = [_select(back, idx[p::factor]) for p in range(factor)]   # phase p of every group
    names = _EXPR_CLIPS[:factor]
    inp = [f"{n} 0 max 1 min" if how.clip_input else n for n in names]
    scale, fmt = (255, vs.RGB24) if how.bits <= 8 else (65535, vs.RGB48)
    if how.backproject:     # err = x - (y0 + y1 + ... ) / factor, once per group
        total = " ".join([inp[0]] + [f"{v} +" for v in inp[1:]])
        err = core.std.Expr(phases + [ltr], f"{_EXPR_CLIPS[factor]} {total} {factor} / -")
        outs = [core.std.Expr([ph, err], f"{inp[0]} y + 0 max 1 min {scale} *", format=fmt) for ph in phases]
    else:
        err = None
        outs = [core.std.Expr(ph, f"x 0 max 1 min {scale} *", format=fmt) for ph in phases]
    # a phase that repeats an end frame has its own rate
    out = core.std.Interleave(outs, mismatch=True)
    if how.planes is not None:   # the writer's samples made here (io.Planar)
        out = io.to_planes(out, how.planes)
    return out, tuple(phases), (err,) if err is not None else ()


def _select(clip, idx: np.ndarray):
    """The frames ``idx`` of ``clip`` as a clip: runs of equal steps become slices, so that a
    long, regular selection (every other frame, ends repeated) stays a handful of nodes."""
    parts, a = [], 0
    while a < len(idx):
        step = int(idx[a + 1] - idx[a]) if a + 1 < len(idx) else 1
        b = a + 1
        while b < len(idx) and idx[b] - idx[b - 1] == step:
            b += 1
        j0, j1 = int(idx[a]), int(idx[b - 1])
        if step == 0:
            parts.append(clip[j0] * (b - a))
        elif step > 0:
            parts.append(clip[j0:j1 + 1:step])
        else:
            parts.append(clip[j1:j0 + 1:-step][::-1])
        a = b
    if len(parts) == 1:
        return parts[0]
    import vapoursynth as vs

    return vs.core.std.Splice(parts)


def _u8(frame: np.ndarray) -> np.ndarray:
    if frame.dtype == np.uint8:    # io.compact's samples of an 8-bit frame: these values
        return frame
    frame = io.as_float(frame)
    return np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
