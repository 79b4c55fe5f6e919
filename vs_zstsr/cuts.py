"""Scene cuts: where one shot ends and the next begins.

Temporal super-resolution reads several input frames for every output frame (cubic interpolation
two each side, the net a few more, back-projection one exposure group). Across a hard cut those
frames belong to another shot, and the result is a ghost of it. So every consumer treats each shot
as a clip of its own, with ends handled like the video's ends: the ladder (:mod:`.stream`), the
training examples (:mod:`.fit`, ``zstsr_trainer``) and the self-check.

Each consecutive pair gets two scores (:func:`pair_scores`): the mean absolute difference of
small, blurred thumbnails and the distance of their colour histograms. A new shot starts at frame
``k`` when the pair ``(k-1, k)``

- *stands out*: one of its scores is at least :data:`RATIO` times the mean of that score over
  the pairs around it (:data:`REACH` each side), as in PySceneDetect's AdaptiveDetector. Fast
  motion changes many pixels, and a pan the palette, in *every* pair, so it is judged against its
  own level; a cut changes everything at once. This finds the commonest cut in editing, shot /
  reverse shot in one room, which keeps the palette (an earlier rule, both scores over fixed
  bars, missed it, and took a whip pan whose colours change for a cut);
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


def _thumb(frame: np.ndarray) -> np.ndarray:
    """Box-filtered thumbnail: small enough to ignore noise and fine motion, cheap at 4K."""
    h, w = frame.shape[:2]
    k = max(1, max(h, w) // THUMB)
    hh, ww = h // k * k, w // k * k
    if hh == 0 or ww == 0:
        return frame.astype(np.float32)
    f = frame[:hh, :ww].astype(np.float32)
    return f.reshape(hh // k, k, ww // k, k, -1).mean(axis=(1, 3))


def _hist(thumb: np.ndarray) -> np.ndarray:
    c = thumb.shape[-1]
    idx = np.clip((thumb * BINS).astype(np.int64), 0, BINS - 1).reshape(-1, c)
    hist = np.stack([np.bincount(idx[:, j], minlength=BINS) for j in range(c)])
    return hist / max(1, idx.shape[0])


class _Features:
    """Thumbnails and histograms of a run of frames, and the two distances between any two."""

    def __init__(self, frames: np.ndarray):
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[..., None]
        self.thumbs = [_thumb(f) for f in frames]
        self.hists = [_hist(t) for t in self.thumbs]

    def __len__(self) -> int:
        return len(self.thumbs)

    def pixel(self, a: int, b: int) -> float:
        return float(np.abs(self.thumbs[b] - self.thumbs[a]).mean())

    def colour(self, a: int, b: int) -> float:
        return float(0.5 * np.abs(self.hists[b] - self.hists[a]).sum(axis=1).mean())


def pair_scores(frames: np.ndarray) -> np.ndarray:
    """For frames ``(T, H, W, C)`` in [0, 1]: ``(T-1, 2)`` scores of each consecutive pair,
    column 0 the thumbnails' mean absolute difference, column 1 the histogram distance (half the
    L1 distance, averaged over channels), both in 0..1."""
    f = _Features(frames)
    out = np.zeros((max(0, len(f) - 1), 2), np.float32)
    for i in range(1, len(f)):
        out[i - 1] = f.pixel(i - 1, i), f.colour(i - 1, i)
    return out


def _not_a_flash(f: _Features, k: int, change: float) -> bool:
    """Frames across the pair ``(k-1, k)`` keep differing a few steps on: not a flash."""
    n = len(f)
    after = [f.pixel(k - 1, k + j) for j in range(1, FLASH + 1) if k + j < n]
    before = [f.pixel(k - 1 - j, k) for j in range(1, FLASH + 1) if k - 1 - j >= 0]
    return all(d >= 0.5 * change for d in after + before)


def detect(frames: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Indices ``k`` (1..T-1) where a new shot starts at frame ``k``; none when ``threshold`` <= 0.
    See the module doc for the rule; the same clip, seen through any window that reaches
    :data:`REACH` frames past a pair on both sides (or to the clip's end), gives the same answer."""
    if threshold is None or threshold <= 0 or len(frames) < 2:
        return []
    f = _Features(frames)
    s = np.array([(f.pixel(i - 1, i), f.colour(i - 1, i)) for i in range(1, len(f))], np.float64)
    out = []
    for p in range(len(s)):
        pix, col = s[p]
        near = [q for q in range(p - REACH, p + REACH + 1) if q != p and 0 <= q < len(s)]
        level = s[near].mean(axis=0) if near else np.zeros(2)
        floor = FLOOR * threshold
        jump = pix >= RATIO * level[0] or (col >= RATIO * level[1] and col >= floor)
        adaptive = jump and pix >= floor
        if adaptive and _not_a_flash(f, p + 1, pix):
            out.append(p + 1)
    return out


def segments(length: int, cuts) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(length)``, split at each cut index."""
    bounds = [0] + sorted({int(c) for c in cuts if 0 < int(c) < length}) + [length]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def split(frames: np.ndarray, cuts) -> list[np.ndarray]:
    """The frames of each shot, in order."""
    return [frames[a:b] for a, b in segments(len(frames), cuts)]
