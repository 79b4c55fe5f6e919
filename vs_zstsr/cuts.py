"""Scene cuts: where one shot ends and the next begins.

Temporal super-resolution reads several input frames for every output frame (cubic interpolation
two each side, the net a few more, back-projection one exposure group). Across a hard cut those
frames belong to another shot, and the result is a ghost of it. So every consumer treats each shot
as a clip of its own, with ends handled like the video's ends: the ladder (:mod:`.stream`), the
training examples (:mod:`.fit`, ``zstsr_trainer``) and the self-check.

The decision is *pairwise*: whether frames ``i-1`` and ``i`` lie in different shots depends on those
two frames only. That keeps rendering stateless - any chunk, with any context, finds the same cuts -
which a frame server needs (see stream.py). The score is the mean absolute difference of small,
blurred thumbnails *and* the distance of their colour histograms: fast motion changes pixels but
keeps the colours; two shots of one location keep the colours but change most pixels; a cut
changes both. Both must pass the threshold (0..1, higher = fewer cuts).
"""
from __future__ import annotations

import numpy as np

DEFAULT_THRESHOLD = 0.2
THUMB = 48          # thumbnails are about this many pixels on their long side
BINS = 16           # histogram bins per channel


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


def pair_scores(frames: np.ndarray) -> np.ndarray:
    """For frames ``(T, H, W, C)`` in [0, 1]: ``(T-1, 2)`` scores of each consecutive pair,
    column 0 the thumbnails' mean absolute difference, column 1 the histogram distance (half the
    L1 distance, averaged over channels), both in 0..1."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[..., None]
    thumbs = [_thumb(f) for f in frames]
    hists = [_hist(t) for t in thumbs]
    out = np.zeros((max(0, len(frames) - 1), 2), np.float32)
    for i in range(1, len(frames)):
        out[i - 1, 0] = float(np.abs(thumbs[i] - thumbs[i - 1]).mean())
        out[i - 1, 1] = float(0.5 * np.abs(hists[i] - hists[i - 1]).sum(axis=1).mean())
    return out


def detect(frames: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[int]:
    """Indices ``i`` (1..T-1) where a new shot starts at frame ``i``; none when ``threshold`` <= 0."""
    if threshold is None or threshold <= 0 or len(frames) < 2:
        return []
    s = pair_scores(frames)
    # The pixel score of a cut is about twice its histogram score on real footage (a new shot
    # moves every pixel, but keeps some of the palette), so the pixel bar is set a little lower.
    hit = (s[:, 0] >= 0.6 * threshold) & (s[:, 1] >= threshold)
    return [int(i) + 1 for i in np.nonzero(hit)[0]]


def segments(length: int, cuts) -> list[tuple[int, int]]:
    """``[(start, stop), ...]`` covering ``range(length)``, split at each cut index."""
    bounds = [0] + sorted({int(c) for c in cuts if 0 < int(c) < length}) + [length]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def split(frames: np.ndarray, cuts) -> list[np.ndarray]:
    """The frames of each shot, in order."""
    return [frames[a:b] for a, b in segments(len(frames), cuts)]
