"""Rendering long videos in temporal chunks, with the memory bound independent of their length.

A :class:`Renderer` turns a window of LTR frames into the HTR frames of its inside. Every step of
the ladder reaches only a few LTR frames in time (the net's receptive field, cubic's two frames,
one rect group), so a window that carries ``context`` frames on each side of its inside gives the
same inside as the whole clip would; at the clip's ends the window is simply cut short, which is
exactly what the whole clip sees there (each shot's ends continued along its motion, or clamped:
:mod:`.shotends`). That makes rendering stateless: any chunk,
in any order, from any thread, gives the same frames, which is what a frame server needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from . import cuts, shotends
from .io import Planar
from .ladder import Ladder
from .methods import METHODS
from .options import EngineOptions, UpsampleOptions
from .prepare import Clip, build_ladder

# Memory per chunk: a chunk's ladder holds a few full-size arrays of (chunk * factor) frames.
# Each window also carries the ladder's context each side (9 LTR frames for the default x8), which
# the first rung works on in full: with 13-frame chunks at 512x288 that was more than half of its
# work. About 1.45 GiB gives that clip 27-frame chunks: its render 2.8 GB at peak, about what
# training the nets takes (2.7), against 2.1 at 768 MiB, for 3-8 s of its 35-40 (docs/BENCHMARKS.md,
# "The render's chunks"), while 1080p x8 stays at 1 frame (2 from 1.49 GiB up: unmeasured there).
CHUNK_BYTES = 1480 * 2 ** 20
# A streamed ladder (direct: flow, the kernels) holds a chunk's output and the frames it reads, not
# a rung's arrays: its chunks are sized by their output alone, within STREAM_CHUNK_BYTES. The
# filter's chunk at 1080p x8 hands MVTools its groups and 2 frames each side: 5 frames of motion
# search a group with one-frame chunks, 3 with two. On the 24-frame 1080p pan two-frame chunks took
# 50-51 s against 61-64 (the filter's job, host and MVTools' worker, 2.71 GiB against 2.14), four
# 40 s at 3.51 GiB, near the 4 GB bar (docs/BENCHMARKS.md, "The filter's chunk"); 4K stays at 1.
STREAM_CHUNK_BYTES = 400 * 2 ** 20


def chunk_frames(height: int, width: int, factor: int, streams: bool = False) -> int:
    """LTR frames per chunk: its output (float32) within about CHUNK_BYTES / 4, so that memory is
    bounded by the frame size (1080p x8: 1 frame, 360p: 17), or for a ladder that ``streams``
    within STREAM_CHUNK_BYTES (1080p x8: 2, 4K: 1); at least 1, at most 32."""
    per_frame = height * width * 3 * 4 * factor
    budget, per_frame = (STREAM_CHUNK_BYTES, per_frame) if streams else (CHUNK_BYTES, per_frame * 4)
    return int(np.clip(budget // max(1, per_frame), 1, 32))


@dataclass
class Renderer:
    ladder: Ladder
    chunk: int
    log: Callable[[str], None] | None = None
    cut_threshold: float = cuts.DEFAULT_THRESHOLD   # 0: no scene-cut detection
    shot_ends: str = shotends.DEFAULT               # how a shot is continued past its ends

    @property
    def extension(self) -> int:
        """Virtual frames beyond a shot's ends that its end groups read (:mod:`.shotends`)."""
        return shotends.frames(self.shot_ends, self.ladder.reach)

    @property
    def factor(self) -> int:
        return self.ladder.factor

    @property
    def streams(self) -> bool:
        """Whether :meth:`render` reads its window as a stream (each frame once, in order, and
        ``shape`` and contiguous slices): a caller may then give it any such sequence of frames in
        place of the array (the filter's VapourSynth frames, converted as they are read)."""
        return self.ladder.streams

    @property
    def context(self) -> int:
        """LTR frames a window needs on each side of its inside: the ladder's reach
        (:attr:`run_context`), and beyond it the cut detector's (:data:`.cuts.REACH`) so that the
        cuts within the ladder's reach are decided as in the whole clip."""
        return self.run_context + (cuts.REACH if self.cut_threshold > 0 else 0)

    @property
    def run_context(self) -> int:
        """LTR frames each side of the inside that :meth:`render` reads once the cuts are given
        (``cut_at``): a caller that decides the cuts on the whole :attr:`context` (:meth:`cuts`)
        may hand :meth:`render` only this much, the same frames out (the filter does: at 4K the
        detector's frames were 0.8 GB of each window). It is the ladder's reach: the frames an
        output group depends on (a ladder of rungs: their contexts summed; a direct one, its one
        step's: 3 at x8, where the rungs' sum is 7, so a 4K window of the filter holds 8 float frames
        fewer), and what a shot's ends are continued by (:attr:`extension`, with ``motion``; none
        when clamped), so a window's edge that far from its inside is never taken for a shot's end."""
        return self.ladder.reach

    @classmethod
    def create(cls, model_path: str | None, options: UpsampleOptions, *, height: int, width: int,
               read: Callable[[list[int]], np.ndarray] | None = None, num_frames: int = 0,
               log: Callable[[str], None] | None = None, progress=None,
               candidates: tuple[str, ...] = METHODS) -> "Renderer":
        """A renderer for ``options`` (:mod:`.options`): the ladder that :func:`.prepare.build_ladder`
        builds (training the model when ``model_path`` is None and the method uses the net, the
        self-check, fine-tuning) for a clip of ``height`` x ``width``. ``read(indices, size=None)``
        and ``num_frames`` give its frames (:class:`.prepare.Clip`), needed to train and for the
        self-check; ``candidates``: the methods the self-check weighs.
        """
        ladder = build_ladder(model_path, options, Clip(height, width, read, num_frames), log=log,
                              progress=progress, candidates=candidates)
        if log:
            for note in inert_options(options, ladder):
                log(note)
        return cls.of(ladder, options, height, width, log)

    @classmethod
    def of(cls, ladder: Ladder, options: UpsampleOptions, height: int, width: int,
           log: Callable[[str], None] | None = None) -> "Renderer":
        """A renderer of a ladder already built, with ``options``' cut detection and shot ends."""
        return cls(ladder, chunk_frames(height, width, options.factor, ladder.streams), log, options.cut_threshold,
                   options.shot_ends)

    def render(self, window: np.ndarray, lead: int, count: int, cut_at=None) -> np.ndarray:
        """HTR frames of LTR frames ``lead .. lead+count-1`` of ``window`` (see module doc).

        Each shot in the window is run through the ladder on its own, so no output frame reads
        a frame of another shot; a shot's ends are handled like the clip's ends: continued along
        its motion (:attr:`shot_ends`, :mod:`.shotends`) where a kept frame reads past them (a
        window's own edges are :attr:`context` away from its inside: never). ``cut_at``: the
        window indices where a new shot starts (e.g. from VapourSynth's ``_SceneChangePrev``
        props); None: detect them (:meth:`cuts`: a window with :attr:`context` frames each side
        finds the cuts the whole clip has, so chunked rendering equals whole-clip rendering).
        """
        if lead < 0 or count < 1 or lead + count > window.shape[0]:
            raise ValueError(f"bad window slice {lead}+{count} of {window.shape[0]} frames")
        if cut_at is None:
            cut_at = self.cuts(window, lead, count)
        parts = []
        for a, b in cuts.segments(window.shape[0], cut_at):
            lo, hi = max(a, lead), min(b, lead + count)
            if lo < hi:
                parts.append(self._shot(window[a:b], lo - a, hi - lo))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _shot(self, shot: np.ndarray, lead: int, count: int) -> np.ndarray:
        """The ladder on one shot (or the part of it a window holds), its ends continued."""
        e = self.extension
        before = e if lead < e else 0
        after = e if len(shot) - lead - count < e else 0
        if self.ladder.streams:
            # the streamed form makes the virtual frames itself as it reads them: no extended
            # copy of the shot beside the window (1 GB at 4K); the frames Ladder.run gives the
            # extended shot (tests/test_shotends.py)
            return self.ladder.stream_kept(shot, lead, count, extend=e, ends=(before > 0, after > 0))
        if before or after:
            shot = shotends.extend(shot, before, after)
        return self.ladder.run(shot, keep=(lead + before, count))

    def cuts(self, window: np.ndarray, lead: int, count: int) -> list[int]:
        """The detected cuts (window indices) that matter to the inside ``lead .. lead+count-1``
        of ``window`` (the frames: an array, or any sized iterable of them, read once in order):
        those within the ladder's reach of it. Further out a decision may lack its neighbourhood
        (:data:`.cuts.REACH`), and it would not change the inside anyway."""
        reach = self.run_context
        return [k for k in cuts.detect(window, self.cut_threshold) if lead - reach < k < lead + count + reach]

    def window_bounds(self, first: int, count: int, total: int) -> tuple[int, int]:
        """The LTR frames ``[a, b)`` a chunk ``[first, first+count)`` must be given."""
        return max(0, first - self.context), min(total, first + count + self.context)


def inert_options(options: UpsampleOptions, ladder: Ladder) -> list[str]:
    """A line for each engine option that was asked for and has no effect on this ladder."""
    e, model, notes = options.engine, ladder.model, []
    uses_net = model is not None and ladder.plan.uses_net
    if e.fp16 and not uses_net:
        notes.append("fp16 has no effect: no net runs on this clip")
    elif e.fp16 and not model.fp16:
        notes.append(f"fp16 has no effect on the {model.provider} provider (half precision runs on CUDA and TensorRT)")
    changed = [k for k, v in (("tilesize", e.tilesize), ("overlap", e.overlap)) if v]
    if not uses_net and e.ensemble != EngineOptions.ensemble:
        changed.append("ensemble")
    if changed and not uses_net:
        notes.append(f"{', '.join(changed)} {'has' if len(changed) == 1 else 'have'} no effect: no net runs on this clip")
    return notes


def upsample_stream(frames: Iterable[np.ndarray], renderer: Renderer, total: int | None = None,
                    bits: int | None = None, planes: Planar | None = None) -> Iterator[np.ndarray]:
    """Upsample a stream of LTR frames, keeping only one chunk and its context in memory (the
    direct path, no net: a few frames, :meth:`.ladder.Ladder.stream`). ``bits``, ``planes``: for
    a writer only (:func:`.io.sample_bits` of its depth, its :attr:`.io.VideoWriter.planes`),
    frames may come quantized to it, or in its pixel format (the direct path's flow:
    :meth:`.ladder.Ladder.stream`)."""
    if renderer.ladder.streams:
        yield from renderer.ladder.stream(frames, renderer.cut_threshold, bits=bits, extend=renderer.extension,
                                          planes=planes)
        return
    for window, lead, count in stream_chunks(frames, renderer, reuse=True):
        yield from renderer.render(window, lead, count)


def render_chunk(renderer: Renderer, window: np.ndarray, lead: int, count: int) -> np.ndarray:
    """The HTR frames of LTR frames ``lead .. lead+count-1`` of a window from :func:`stream_chunks`,
    exactly as :func:`upsample_stream` gives them for the whole clip: a ladder that streams runs
    its streamed form over the window (the same arithmetic, frame by frame; the window's context
    covers its reach), any other :meth:`Renderer.render`."""
    if renderer.ladder.streams:
        # a window's edge less than its context from the inside is the clip's (stream_chunks); only
        # one within the ladder's reach is read, and its shot end's motion measured (1 s at 1080p)
        reach = renderer.run_context
        ends = (lead < reach, len(window) - lead - count < reach)
        return np.stack(list(renderer.ladder.stream(iter(window), renderer.cut_threshold, extend=renderer.extension,
                                                    ends=ends, groups=(lead, count))))
    return renderer.render(window, lead, count)


def stream_chunks(frames: Iterable[np.ndarray], renderer: Renderer, reuse: bool = False
                  ) -> Iterator[tuple[np.ndarray, int, int]]:
    """The chunks of a stream of LTR frames in order, as ``(window, lead, count)`` for
    :meth:`Renderer.render`: chunks of ``renderer.chunk`` frames, each window carrying
    ``renderer.context`` frames each side (cut short at the clip's ends). One pass over
    ``frames``, holding one window; the chunking of local and distributed renders alike
    (``vs_zstsr/distributed.py`` ships each window to a worker). The frames live in one array of
    the largest window (no second copy: at 4K a window is GBs); ``reuse``: each window is a view
    of it, valid until the next one is asked for, else a copy."""
    ctx, step = renderer.context, renderer.chunk
    win = None    # LTR frames from clip index `base` on, `n` of them
    base = n = 0
    done = 0      # LTR frames whose chunk has been handed out
    it = iter(frames)
    ended = False
    while True:
        while not ended and n < (done - base) + step + ctx:
            f = next(it, None)
            if f is None:
                ended = True
            else:
                if win is None:
                    win = np.empty((step + 2 * ctx,) + np.shape(f), np.float32)
                win[n] = f
                n += 1
        have = base + n
        if done >= have:
            break
        count = min(step, have - done)
        yield (win[:n] if reuse else win[:n].copy()), done - base, count
        done += count
        drop = max(0, done - ctx - base)   # what no later chunk needs as context
        for k in range(n - drop):          # forwards, frame by frame: no temporary copy
            win[k] = win[k + drop]
        n, base = n - drop, base + drop
