"""Interpolation x N with temporal back-projection, streamed group by group: the no-net path.

When no rung uses the net, `zstsr upsample` and `render` interpolate the clip x N at full size and
back-project (``Ladder.direct``), and `zstsr baseline` runs a peer the same way. Each output group
of N frames reads only a few LTR frames around its own (cubic two each side, linear one, MVTools
flow one: its vectors join neighbouring frames) and back-projection reads the group itself. So the
clip is read once, only those few frames are kept, and output frames are yielded as they are made:
memory is a few frames whatever the clip's length, and nothing is computed twice (the chunked
ladder recomputed every chunk's context, which at 1080p cost more than the chunk itself).

* Kernels (``nearest`` = repeat, ``linear``, ``cubic``): interpolation and back-projection are both
  linear in the LTR frames, so each output frame is one fixed combination of at most 5 of them,
  done in float32 in place: ``out_p = sum_j (w_pj - mean_p w_pj + [j = i]) x_j``. The same sums as
  :func:`.resample.temporal_interpolate` then :func:`.backprojection.temporal_backproject`, within
  float32 rounding.
* Peers (flow, minterpolate): run on segments of LTR frames sized from the frame size
  (:func:`segment_frames`), each with :data:`PEER_CONTEXT` frames of context each side, asking only
  for the segment's own output frames; back-projection then goes group by group. While the peer
  works on one segment, the next one is read, its cuts found and its shot ends continued on a
  thread of its own (:class:`_Later`): MVTools' worker waited for that between segments.

Shots (scene cuts, :mod:`.cuts`) end a segment; at a shot's ends, as at the clip's, the kernels and
peers read its continuation along its own motion (:mod:`.shotends`), or clamp.
"""
from __future__ import annotations

import ctypes
import functools
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from . import cuts, io, shotends
from .io import Planar
from .resample import KERNELS, resize_weights

# LTR frames a peer segment holds (its inside and context): bounds memory by the frame size. A
# segment is held once here (the peer gets the frames read, not a stacked copy: FrameList) and
# once in MVTools' worker, and a clip shorter than one segment needs less: at 1GiB a 1080p clip
# grew from 1.1 to 2.2 GB between 4 and 16 frames (docs/BENCHMARKS.md). More context per inside
# frame costs motion search (2 frames each side).
SEGMENT_BYTES = 512 * 2 ** 20
# Frames each side of a segment that make its inside equal to the peer run on the whole clip: an
# output between frames i and i+1 reads their vectors, which MVTools estimates from those two frames
# alone (tests/test_direct.py checks the equality); minterpolate also reads one frame each side.
PEER_CONTEXT = 2

# glibc's malloc gives each block above its mmap threshold (128 KiB, rising to at most 32 MiB as
# such blocks are freed) pages of its own and hands them back on free, so every new frame-sized
# array (a 1080p float32 frame is 24 MiB) costs the kernel zeroing fresh pages: at 1080p that was
# 31% of the CPU samples of `upsample --method flow` (perf: clear_page_erms; 10% with this). Fixed
# thresholds keep blocks up to LARGE_BLOCK_BYTES on the heap and the heap from being trimmed below
# HEAP_KEEP_BYTES free, so freed frames are reused (docs/BENCHMARKS.md, "1080p and 4K"). A 4K
# float32 frame (95 MiB) is above the largest threshold glibc takes, and is still mapped anew.
# MVTools' worker also puts all its threads on one arena: a thread's own arena gives its pages back
# whenever it empties; not the CLI, whose process may train a net on many threads. It also gives
# blocks above one and a half 16-bit planes of its clip pages of their own (heap_blocks_up_to,
# baselines.FLOW_HEAP_PLANES: its float planes left holes in the heap). 128 MiB kept
# free, not 512 as before segments were held as their samples: the CLI's process 0.82-0.86 GiB
# instead of 1.03-1.13 on a 96-frame 1080p clip, in as much time (docs/BENCHMARKS.md, "Frames in
# the writer's format").
LARGE_BLOCK_BYTES = 32 * 2 ** 20      # glibc's largest mmap threshold (HEAP_MAX_SIZE / 2)
HEAP_KEEP_BYTES = 128 * 2 ** 20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def _mallopt():
    """glibc's ``mallopt``, or None (not Linux, or a C library without it: musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


_frame_memory_kept = False


def keep_frame_memory(one_arena: bool = False) -> bool:
    """Set glibc's malloc to reuse frame-sized blocks (see above) for the rest of this process: for
    processes that stream large frames (the CLI, MVTools' worker), not a host that loads the filter.
    ``one_arena``: every thread allocates from the main arena. False where the C library is not
    glibc (nothing changed)."""
    global _frame_memory_kept
    mallopt = _mallopt()
    if mallopt is None:
        return False
    _frame_memory_kept = all([mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES), mallopt(_M_TRIM_THRESHOLD, HEAP_KEEP_BYTES),
                              not one_arena or mallopt(_M_ARENA_MAX, 1)])
    return _frame_memory_kept


def heap_blocks_up_to(nbytes: int) -> bool:
    """In a process :func:`keep_frame_memory` set up, keep blocks up to ``nbytes`` on the heap from
    now on (within 1 MiB .. LARGE_BLOCK_BYTES) and give larger ones pages of their own, returned
    when freed (MVTools' worker, for its clip's frame size: vs_zstsr/baselines.py,
    ``flow_heap_block_bytes``). False, nothing changed, in any other process: a host's malloc is
    its own."""
    mallopt = _mallopt() if _frame_memory_kept else None
    return mallopt is not None and bool(mallopt(_M_MMAP_THRESHOLD, max(2 ** 20, min(LARGE_BLOCK_BYTES, nbytes))))


def release_free_memory() -> None:
    """Give the memory malloc holds free back to the system (glibc's ``malloc_trim``): a process
    that runs one large job after another (MVTools' worker, a segment at a time) otherwise keeps
    the high-water mark of every job it ran, and its resident set grew with the clip's length."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass


class FrameList(list):
    """Frames ``(H, W, 3)`` in a list, sized as the stack of them would be (``shape``): a segment
    handed to a peer without a stacked copy (at 4K a segment is 8 frames; the stream's buffer holds
    them already). A frame is float32, or :func:`.io.compact`'s samples of one (the stream's frames
    as read: :func:`.io.as_float` turns either into float32). Pickled whole to MVTools' worker
    (vs_zstsr/native.py)."""

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self),) + self[0].shape


# peer(segment, (first, count)): the output frames of LTR frames first .. first+count-1 of the
# segment, a FrameList of the stream's own frames (read only: the stream reads them again), each
# float32 or io.compact's samples of it (io.as_float)
Peer = Callable[[FrameList, tuple[int, int]], Iterator[np.ndarray]]


@dataclass(frozen=True)
class Finish:
    """What is done to a peer's frames after interpolation, to hand the writer frames it stores as
    they are: given to a peer that can do it where it runs (MVTools' worker, in VapourSynth's own
    threads: :func:`.baselines.peer_frames`), so that the frames cross to this process as 8-bit
    samples, not float, and nothing is left for this process but encoding (at 1080p the float
    conversion, back-projection and quantizing here cost about as much CPU as MVTools' part of
    the work: docs/BENCHMARKS.md, "1080p and 4K"). Else :func:`finish_group` does the same in numpy.

    ``backproject``: each group averages back to its LTR frame; ``clip_input``: the peer's frames
    are clipped to [0, 1] first (the ladder's rungs are); ``bits``: the frames come out as
    :func:`.io.quantize` makes them at this depth (8: uint8, 16: uint16), clipped to [0, 1];
    ``planes``: and then converted to the writer's Y'CbCr format (:attr:`.io.VideoWriter.planes`;
    None: they stay RGB)."""
    backproject: bool = True
    clip_input: bool = False
    bits: int = 8
    planes: Planar | None = None


def finish_group(group: list[np.ndarray], x: np.ndarray, backproject: bool, clip: bool, clip_input: bool = False
                 ) -> list[np.ndarray]:
    """One LTR frame ``x``'s group of interpolated float32 frames, back-projected (each shifted by
    ``x`` - the group's mean) and clipped to [0, 1], in place."""
    if clip_input:
        for y in group:
            np.clip(y, 0.0, 1.0, out=y)
    if backproject:
        total = group[0].astype(np.float32, copy=True)
        for y in group[1:]:
            np.add(total, y, out=total)
        err = np.subtract(x, np.divide(total, np.float32(len(group)), out=total), out=total)
    for y in group:
        if backproject:
            np.add(y, err, out=y)
        if clip:
            np.clip(y, 0.0, 1.0, out=y)
    return group


def segment_frames(height: int, width: int) -> int:
    """Inside frames of a peer segment at this frame size (1080p: 17, 4K: 4, at most 64); a shot's
    first segment, with no context before it, takes :data:`PEER_CONTEXT` more."""
    return int(np.clip(SEGMENT_BYTES // (height * width * 3 * 4) - 2 * PEER_CONTEXT, 4, 64))


class _Frames:
    """LTR frames by index, read from a stream when first asked for and forgotten once behind;
    finds the shots as it reads (:class:`.cuts.StreamDetector`: the cuts :func:`.cuts.detect`
    finds in the whole clip, each decided :data:`.cuts.REACH` frames later, so spans read that
    much ahead). ``extend``: virtual frames beyond each shot's ends (:mod:`.shotends`), made when
    first read; ``ends``: whether the stream's first / last frame ends a shot (False: the edge of
    a window cut from a longer clip, which nothing kept reads, so nothing is made there)."""

    def __init__(self, frames: Iterable[np.ndarray], cut_threshold: float, extend: int = 0,
                 ends: tuple[bool, bool] = (True, True), compact: bool = False):
        self._it, self._buf = iter(frames), {}
        # compact: frames are held as io.compact makes them (a frame read from an 8-bit video: its
        # uint8 samples, a quarter of the float32 bytes), turned back to float32 where read as such:
        # the peers' segments (and the next one, planned ahead) held 1 GB of float frames at 1080p
        self._compact = compact
        self._cuts = cuts.StreamDetector(cut_threshold) if cut_threshold and cut_threshold > 0 else None
        self.n, self.ended = 0, False     # frames read so far; whether the stream is over
        self._starts = [0]                # first frame of each shot seen so far
        self.extend, self._ends = extend, ends
        # (edge, before) -> the shot end's motion (None: a one-frame shot), and (edge, before, k) ->
        # its k-th virtual frame, made when first read: the direct path reads fewer than
        # ``extend`` (cubic and MVTools 2 of 3), and each is a full-size warp
        self._motion: dict[tuple[int, bool], np.ndarray | None] = {}
        self._virtual: dict[tuple[int, bool, int], np.ndarray] = {}
        # the clip's first shot starts at frame 0, known before any cut is: its motion (1.1 s at
        # 1080p) is measured on a thread from when frames 0 and 1 are read, while the rest of the
        # first segment is read (MVTools' worker waits for that segment)
        self._ahead: dict[tuple[int, bool], _Later] = {}

    def _read_to(self, i: int) -> None:
        while self.n <= i and not self.ended:
            f = next(self._it, None)
            if f is None:
                self.ended = True
                if self._cuts:
                    self._starts += self._cuts.end()
                break
            f = np.asarray(f, np.float32)
            if self._cuts:
                self._starts += self._cuts.push(f)
            self._buf[self.n] = io.compact(f) if self._compact else f
            self.n += 1
            if self.n == 2 and self.extend and self._ends[0]:
                self._ahead[0, True] = _Later(shotends.flow, self[1], self[0], name="zstsr-shot-start")

    def has(self, i: int) -> bool:
        self._read_to(i)
        return i < self.n

    def __getitem__(self, i: int) -> np.ndarray:
        """Frame ``i``, float32."""
        return io.as_float(self.stored(i))

    def stored(self, i: int) -> np.ndarray:
        """Frame ``i`` as held (see ``compact``)."""
        self._read_to(i)
        return self._buf[i]

    def span(self, i: int, before: int, after: int) -> tuple[int, int | None, int, int]:
        """(shot start, shot stop or None while not known, lo, hi): frames ``[lo, hi)`` of frame
        ``i``'s shot within ``before`` / ``after`` frames of it (reading ahead as needed)."""
        self._read_to(i + after + (cuts.REACH if self._cuts else 0))   # the cuts up to i + after decided
        start = max(s for s in self._starts if s <= i)
        stop = min((s for s in self._starts if s > i), default=self.n if self.ended else None)
        return start, stop, max(start, i - before), min(self.n if stop is None else stop, i + after + 1, self.n)

    def reach(self, start: int, stop: int | None) -> tuple[int, int]:
        """Virtual frames readable before ``start`` and after ``stop`` (the shot's ends)."""
        return (self.extend if start or self._ends[0] else 0,
                self.extend if stop is not None and (stop < self.n or self._ends[1]) else 0)

    def at(self, j: int, start: int, stop: int | None, stored: bool = False) -> np.ndarray:
        """Frame ``j`` of the shot ``[start, stop)``, or a virtual frame beyond its ends (float32);
        ``stored``: a frame of the shot as held (see ``compact``)."""
        if j < start:
            return self._continuation(start, stop, True, start - j)
        if stop is not None and j >= stop:
            return self._continuation(start, stop, False, j - stop + 1)
        return self.stored(j) if stored else self[j]

    def _continuation(self, start: int, stop: int | None, before: bool, k: int) -> np.ndarray:
        """The ``k``-th virtual frame (1: the nearest) before the shot's first frame or after its
        last (:func:`.shotends.continuation`'s frames, one at a time)."""
        if not 1 <= k <= self.extend:
            raise IndexError(f"virtual frame {k} of {self.extend}")
        edge = start if before else stop
        end, inner = (start, start + 1) if before else (stop - 1, stop - 2)
        if (edge, before) not in self._motion:
            one = stop is not None and stop - start < 2      # a one-frame shot: no motion to go on
            # shotends.flow(self[inner], self[end]) measured ahead (dropped, not waited for, if unused)
            ahead = self._ahead.pop((edge, before), None)
            self._motion[edge, before] = None if one else (
                ahead.result() if ahead is not None else shotends.flow(self[inner], self[end]))
        if (edge, before, k) not in self._virtual:
            u = self._motion[edge, before]
            self._virtual[edge, before, k] = self[end] if u is None else shotends.continued(self[end], u, k)
        return self._virtual[edge, before, k]

    def forget_before(self, i: int) -> None:
        for k in [k for k in self._buf if k < i]:
            del self._buf[k]
        for cache in (self._motion, self._virtual, self._ahead):   # (a motion ahead: not waited for)
            for k in [k for k in cache if k[0] < i]:
                del cache[k]


class _Later:
    """``fn(*args)`` on a thread of its own, started now: :meth:`result` waits for it and gives its
    value, or raises its error in the caller's thread."""

    def __init__(self, fn: Callable, *args, name: str = "zstsr-next-segment"):
        self._value, self._error = None, None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable, args: tuple) -> None:
        try:
            self._value = fn(*args)
        except BaseException as e:  # noqa: BLE001 - raised again by result(), in the caller's thread
            self._error = e

    def wait(self) -> None:
        # in steps: a Ctrl-C is taken meanwhile. Not at the interpreter's exit (a stream left open
        # by an error's traceback is closed then), where the thread, a daemon, never ends
        while self._thread.is_alive() and not sys.is_finalizing():
            self._thread.join(0.1)

    def discard(self) -> None:
        """Wait for it and drop its value or error (an error's traceback holds the reader)."""
        self.wait()
        self._value = self._error = None

    def result(self):
        self.wait()
        error, self._error = self._error, None
        if error is not None:
            raise error
        value, self._value = self._value, None
        return value


@functools.lru_cache(maxsize=8)
def _kernel_taps(kernel: str, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``(factor, taps)`` from group ``i``'s LTR frame and their weights, away from any
    edge: the rows of one inner group of :func:`.resample.resize_weights` (the same numbers)."""
    n = 8                                              # cubic reaches 2 frames: group 4 is inner
    idx, w = resize_weights(n, n * factor, kernel, antialias=False)
    rows = slice(4 * factor, 5 * factor)
    live = np.any(w[rows] != 0, axis=0)
    return idx[rows][:, live] - 4, w[rows][:, live]


def group_weights(kernel: str, factor: int, i: int, lo: int, hi: int, backproject: bool
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Frames (absolute indices) and float32 weights ``(factor, frames)`` of group ``i``'s output,
    its taps clamped to ``[lo, hi)``, with back-projection folded in."""
    off, w = _kernel_taps(kernel, factor)
    cols = np.clip(i + off, lo, hi - 1)
    frames = np.unique(cols)
    mat = np.zeros((factor, len(frames)))
    for p in range(factor):
        for c, wt in zip(cols[p], w[p]):
            mat[p, np.searchsorted(frames, c)] += float(wt)
    if backproject:   # + (x_i - the group's mean): the group then averages to x_i
        mat -= mat.mean(axis=0, keepdims=True)
        mat[:, np.searchsorted(frames, i)] += 1.0
    return frames, mat.astype(np.float32)


def stream(frames: Iterable[np.ndarray], factor: int, method: str, *, peer: Peer | None = None,
           backproject: bool = True, clip: bool = True, cut_threshold: float = 0.0,
           segment: int = 16, finished: bool = False, extend: int = 0, ends: tuple[bool, bool] = (True, True),
           groups: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
    """Yield the ``factor`` output frames of each LTR frame in turn (float32 ``(H, W, 3)``, or as
    a ``finished`` peer hands them out); with ``groups`` = (first, count), those of LTR frames
    ``first .. first+count-1`` only (the frames before are read, for the cuts and the context, and
    nothing is computed for them: a chunk of the filter, its window 7 frames at x8, had MVTools
    interpolate all 7).

    ``method``: a kernel of :data:`KERNELS`, or ``peer``: then ``peer(ltr, (lead, count))`` yields
    the output frames of LTR frames ``lead .. lead+count-1`` of the segment ``ltr`` (e.g.
    :func:`.baselines.peer_frames`); ``segment`` inside frames per call (:func:`segment_frames`).
    ``backproject``: each group then averages back to its LTR frame; ``clip``: to [0, 1].
    ``cut_threshold``: scene-cut detection (0: none); each shot is done as a clip of its own.
    ``finished``: the peer hands out frames already back-projected and clipped (:class:`Finish`),
    passed on as they come (a one-frame shot's repeated frame, float32, is finished here).
    ``extend``: virtual frames continuing each shot past its ends along its motion
    (:mod:`.shotends`), read by the groups there instead of repeated end frames (0: clamped);
    ``ends``: whether the stream's first / last frame ends a shot (see :class:`_Frames`).
    """
    # a peer's frames held as read (io.compact): it takes them so (the kernels read each frame
    # several times, as float32)
    src = _Frames(frames, cut_threshold, extend, ends, compact=method not in KERNELS)
    first, last = (0, None) if groups is None else (groups[0], groups[0] + groups[1])
    if method in KERNELS:
        yield from _kernel_stream(src, factor, method, backproject, clip, first, last)
    else:
        if peer is None:
            raise ValueError(f"method {method!r} needs a peer")
        yield from _peer_stream(src, factor, peer, backproject, clip, segment, finished, first, last)


def _kernel_stream(src: _Frames, factor: int, kernel: str, backproject: bool, clip: bool,
                   first: int = 0, last: int | None = None):
    reach = int(np.abs(_kernel_taps(kernel, factor)[0]).max())
    i = first
    while (last is None or i < last) and src.has(i):
        start, stop, lo, hi = src.span(i, reach, reach)
        pre, post = src.reach(start, stop)       # the taps past the shot's ends read virtual frames
        lo = max(start - pre, i - reach)
        if post:
            hi = min(stop + post, i + reach + 1)
        idx, mat = group_weights(kernel, factor, i, lo, hi, backproject)
        xs = [src.at(j, start, stop) for j in idx]
        tmp = np.empty_like(xs[0])
        for p in range(factor):
            out = None
            for x, wt in zip(xs, mat[p]):
                if wt == 0:
                    continue
                if out is None:
                    out = np.multiply(x, wt)
                else:
                    np.add(out, np.multiply(x, wt, out=tmp), out=out)
            if out is None:
                out = np.zeros_like(xs[0])
            if clip:
                np.clip(out, 0.0, 1.0, out=out)
            yield out
        src.forget_before(i + 1 - reach)
        i += 1


def _peer_stream(src: _Frames, factor: int, peer: Peer, backproject: bool, clip: bool, segment: int,
                 finished: bool = False, first: int = 0, last: int | None = None):
    ctx = PEER_CONTEXT

    def plan(a: int):
        """The segment from LTR frame ``a``: (its end b, its first frame lo, its virtual frames
        before lo, whether it is a one-frame shot, its frames), or None past the last frame."""
        if (last is not None and a >= last) or not src.has(a):
            return None
        # a segment holds segment + 2 ctx frames wherever it is: one with no context before it (a
        # shot's first) takes those frames inside, so that every full segment holds as many
        # frames, and memory is the same for any clip longer than one (it grew 12% from 24 to 96
        # frames at 1080p when a shot's first segment held 2 fewer: docs/BENCHMARKS.md)
        start, stop, _, end = src.span(a, 0, segment + 2 * ctx - 1)   # a's shot, read up to the most a segment holds
        lo = max(start, a - ctx)
        b = min(end, lo + segment + ctx, end if last is None else last)
        hi = min(end, b + ctx)
        pre, post = (min(ctx, r) for r in src.reach(start, stop))   # virtual frames past the shot's ends
        pre, post = (pre if lo == start else 0), (post if hi == stop else 0)
        return b, lo, pre, hi - lo < 2, FrameList(src.at(j, start, stop, stored=True)
                                                  for j in range(lo - pre, hi + post))

    a, nxt, later = first, plan(first), None
    try:
        while nxt is not None:
            b, lo, pre, one, seg = nxt
            nxt = None
            if one:   # a one-frame shot: nothing to estimate motion from; repeat it
                only = io.as_float(seg[pre])   # (not seg itself: it is deleted below, before the generator runs)
                outs = (only.copy() for _ in range(factor))
            else:
                outs = peer(seg, (a - lo + pre, b - a))
            del seg
            group: list[np.ndarray] = []
            for g in range(a, b):
                # a peer may hand out one array again (repeated end frames): copied when it comes
                # again within a group or right after one. The last group is known by its arrays' ids
                # only, not held (at 4K it held 8 frames, 0.8 GB, the consumer had taken already); an
                # id reused by a new array after the old one was freed costs a needless copy, no more.
                seen, group = {id(z) for z in group}, []
                for _ in range(factor):
                    y = next(outs)
                    if later is None:
                        # the peer has its segment (its first frame is here): the next segment read,
                        # its cuts found and its shot ends continued (seconds at 1080p:
                        # vs_zstsr/shotends.py) while the peer works on this one; MVTools' worker
                        # waited for them between segments (docs/BENCHMARKS.md, "The next segment
                        # planned ahead")
                        later = _Later(plan, b)
                    group.append(y.copy() if id(y) in seen or any(y is z for z in group) else y)
                yield from group if finished and not one else finish_group(group, src[g], backproject, clip)
            if next(outs, None) is not None:   # also lets a worker's stream end cleanly (native.py)
                raise ValueError("the peer gave more frames than asked for")
            nxt, later = later.result(), None
            src.forget_before(b - ctx)     # (not while the next segment was read: one thread at a time)
            a = b
    finally:
        if later is not None:   # left early: the next segment's reading ends before the caller
            later.discard()     # closes the stream it reads (a decoder, on another thread)
