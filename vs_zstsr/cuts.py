"""Scene cuts: where one shot ends and the next begins.

Temporal super-resolution reads several input frames for every output frame (cubic interpolation
two each side, the net a few more, back-projection one exposure group). Across a hard cut those
frames belong to another shot, and the result is a ghost of it. So every consumer treats each shot
as a clip of its own, with ends handled like the video's ends: the ladder (:mod:`.stream`), the
training examples (:mod:`.fit`, ``zstsr_trainer``) and the self-check.

Each consecutive pair gets three scores (:func:`pair_scores`): the mean absolute difference of
small, blurred thumbnails, the same after the best shift of one thumbnail against the other
(up to :data:`SHIFT` thumbnail pixels each way: what is left once a pan is compensated), and
the distance of their colour histograms. A new shot starts at frame ``k`` when the pair
``(k-1, k)``

- *stands out*: one of its scores is at least :data:`RATIO` times the mean of that score over
  the pairs around it (:data:`REACH` each side), as in PySceneDetect's AdaptiveDetector. Fast
  motion changes many pixels, and a pan the palette, in *every* pair, so it is judged against its
  own level; a cut changes everything at once. This finds the commonest cut in editing, shot /
  reverse shot in one room, which keeps the palette (an earlier rule, both scores over fixed
  bars, missed it, and took a whip pan whose colours change for a cut). The shifted score finds
  it while the camera moves: there a pan changes the unshifted thumbnails about as much from
  frame to frame as the cut does (two textures of one palette panning 2 px per frame: 0.12 at the
  cut, 0.05 around it), while a shift explains the pan's pairs and not the cut's;
- *is big enough*: its thumbnail score (and the score that stood out) is at least :data:`FLOOR`
  x the threshold, so a still shot does not cut on noise or on a small movement after stillness;
- *is not a flash*: the frames a few steps across the pair differ as much as the pair itself
  (frame ``k-1`` from ``k+1 .. k+FLASH``, frame ``k`` from ``k-2 .. k-1-FLASH``). A flash of light
  or a one-frame glitch changes a frame and comes back; a cut does not come back.

A decision reads frames ``k-1-REACH .. k+REACH`` only; where those run past the clip's ends it
uses what exists. So a window that carries :data:`REACH` frames beyond the frames whose cuts it
needs finds exactly the cuts the whole clip has there: :class:`.stream.Renderer` widens its
context by that much, and any chunk, with its context, renders as the whole clip would (which a
frame server needs). Evidence for the constants: ``benchmarks/bench_cuts.py`` (docs/BENCHMARKS.md).
"""
from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.2
THUMB = 48          # thumbnails are about this many pixels on their long side
BINS = 16           # histogram bins per channel
REACH = 4           # pairs each side that make a pair's neighbourhood (frames beyond the pair)
RATIO = 3.0         # a cut's change over its neighbourhood's mean (PySceneDetect's default)
FLOOR = 0.2         # a cut's thumbnail change is at least FLOOR x threshold (0.04 at the default)
FLASH = 2           # frames a flash may last and still not be taken for a cut
SHIFT = 6           # thumbnail pixels each way the shifted score searches (1/8 of the long side)


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """Box-filtered thumbnail: small enough to ignore noise and fine motion, cheap at 4K. Its long
    side is 48-95 pixels, so a thumbnail's own thumbnail is itself, exactly: a caller may hand
    :func:`detect` thumbnails instead of frames (the filter does, for frames only the detector
    reads) and get the same cuts."""
    h, w = frame.shape[:2]
    k = _block(h, w)
    hh, ww = h // k, w // k
    f = np.asarray(frame[:hh * k, :ww * k], np.float32)
    c = f.shape[2]
    # each box's k rows summed as whole rows of pixels (contiguous adds), then its k columns: at
    # 1080p 2 ms a frame where a mean over the boxes' two axes took 32, and nearer the exact mean
    # (`benchmarks/bench_cuts.py --cost`; docs/BENCHMARKS.md, "Where `--method flow`'s CPU goes at
    # 1080p"); the same cuts on every clip of bench_cuts.py
    rows = f.reshape(hh, k, ww * k * c).sum(axis=1)
    return rows.reshape(hh, ww, k, c).sum(axis=2) / np.float32(k * k)


def thumbnail_size(height: int, width: int) -> tuple[int, int]:
    """The (height, width) of :func:`thumbnail` for a frame of this size."""
    k = _block(height, width)
    return height // k, width // k


def _block(height: int, width: int) -> int:
    """The side of :func:`thumbnail`'s boxes: its long side 48-95 pixels; 1 (the frame itself)
    where a box would not fit the short side."""
    k = max(1, max(height, width) // THUMB)
    return k if k <= min(height, width) else 1


def _shifted(a: np.ndarray, b: np.ndarray) -> float:
    """The smallest mean absolute difference of thumbnails ``a`` and ``b`` over the shifts of
    ``b`` by up to :data:`SHIFT` pixels each way (on their overlap)."""
    h, w = a.shape[:2]
    s = min(SHIFT, h // 4, w // 4)
    best = float(np.abs(a - b).mean())
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            if dy or dx:
                d = a[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)] - \
                    b[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
                best = min(best, float(np.abs(d).mean()))
    return best


def _hist(thumb: np.ndarray) -> np.ndarray:
    c = thumb.shape[-1]
    idx = np.clip((thumb * BINS).astype(np.int64), 0, BINS - 1).reshape(-1, c)
    hist = np.stack([np.bincount(idx[:, j], minlength=BINS) for j in range(c)])
    return hist / max(1, idx.shape[0])


class _Features:
    """Thumbnails and histograms of a run of frames (more can be added), and the two distances
    between any two of them."""

    def __init__(self, frames=()):
        self.thumbs: list[np.ndarray] = []
        self.hists: list[np.ndarray] = []
        self.moved: list[float] = []    # moved[q]: the shifted score of the pair (q-1, q)
        for f in frames:
            self.add(f)

    def add(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        t = thumbnail(frame if frame.ndim == 3 else frame[..., None])
        self.moved.append(_shifted(self.thumbs[-1], t) if self.thumbs else 0.0)
        self.thumbs.append(t)
        self.hists.append(_hist(t))

    def drop(self, count: int) -> None:
        """Forget the first ``count`` frames (indices shift down by ``count``)."""
        del self.thumbs[:count], self.hists[:count], self.moved[:count]

    def __len__(self) -> int:
        return len(self.thumbs)

    def pixel(self, a: int, b: int) -> float:
        return float(np.abs(self.thumbs[b] - self.thumbs[a]).mean())

    def colour(self, a: int, b: int) -> float:
        return float(0.5 * np.abs(self.hists[b] - self.hists[a]).sum(axis=1).mean())

    def is_cut(self, k: int, threshold: float) -> bool:
        """Whether a new shot starts at frame ``k`` (the rule of the module doc), from the frames
        ``k-1-REACH .. k+REACH`` that this run holds."""
        n = len(self)
        pairs = range(max(1, k - REACH), min(n - 1, k + REACH) + 1)      # pair q: frames q-1, q
        s = {q: (self.pixel(q - 1, q), self.colour(q - 1, q), self.moved[q]) for q in pairs}
        pix, col, moved = s[k]
        near = [v for q, v in s.items() if q != k]
        level = np.mean(near, axis=0) if near else np.zeros(3)
        floor = FLOOR * threshold
        stands_out = (pix >= RATIO * level[0] or (col >= RATIO * level[1] and col >= floor)
                      or (moved >= RATIO * level[2] and moved >= floor))
        if not (stands_out and pix >= floor):
            return False
        # not a flash: the frames a few steps across the pair differ as much as the pair itself
        after = [self.pixel(k - 1, k + j) for j in range(1, FLASH + 1) if k + j < n]
        before = [self.pixel(k - 1 - j, k) for j in range(1, FLASH + 1) if k - 1 - j >= 0]
        return all(d >= 0.5 * pix for d in after + before)


def pair_scores(frames: np.ndarray) -> np.ndarray:
    """For frames ``(T, H, W, C)`` in [0, 1]: ``(T-1, 3)`` scores of each consecutive pair,
    column 0 the thumbnails' mean absolute difference, column 1 the histogram distance (half the
    L1 distance, averaged over channels), column 2 the thumbnails' difference after the best
    shift (:func:`_shifted`), all in 0..1."""
    f = _Features(frames)
    out = np.zeros((max(0, len(f) - 1), 3), np.float32)
    for i in range(1, len(f)):
        out[i - 1] = f.pixel(i - 1, i), f.colour(i - 1, i), f.moved[i]
    return out


def detect(frames: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Indices ``k`` (1..T-1) where a new shot starts at frame ``k``; none when ``threshold`` <= 0.
    See the module doc for the rule; the same clip, seen through any window that reaches
    :data:`REACH` frames past a pair on both sides (or to the clip's end), gives the same answer."""
    if threshold is None or threshold <= 0 or len(frames) < 2:
        return []
    f = _Features(frames)
    return [k for k in range(1, len(f)) if f.is_cut(k, threshold)]


class StreamDetector:
    """The cuts of a clip read frame by frame, the same as :func:`detect` on the whole clip: the
    decision at frame ``k`` is made once frame ``k + REACH`` has been pushed (or at :meth:`end`).
    Holds the thumbnails of the last ``2 * REACH + 2`` frames only."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD):
        self.threshold = threshold
        self.feats = _Features()
        self.base = 0          # clip index of feats' first frame
        self.next = 1          # the next frame to decide on

    @property
    def pushed(self) -> int:
        return self.base + len(self.feats)

    def push(self, frame: np.ndarray) -> list[int]:
        """Add the next frame; returns the cuts decided now (clip indices)."""
        self.feats.add(frame)
        return self._decide(self.pushed - 1 - REACH)

    def end(self) -> list[int]:
        """The clip is over: the remaining decisions."""
        return self._decide(self.pushed - 1)

    def _decide(self, upto: int) -> list[int]:
        out = []
        while self.next <= upto:
            k = self.next
            if self.threshold and self.threshold > 0 and self.feats.is_cut(k - self.base, self.threshold):
                out.append(k)
            self.next += 1
        drop = max(0, self.next - 1 - REACH - self.base)     # frames no later decision reads
        self.feats.drop(drop)
        self.base += drop
        return out


def segments(length: int, cuts) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(length)``, split at each cut index."""
    bounds = [0] + sorted({int(c) for c in cuts if 0 < int(c) < length}) + [length]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def split(frames: np.ndarray, cuts) -> list[np.ndarray]:
    """The frames of each shot, in order."""
    return [frames[a:b] for a, b in segments(len(frames), cuts)]
