"""Internal training pairs, drawn from the LTR input alone (paper section 3).

A *source* is a video-shaped array ``(T', H', W', 3)`` whose axis 0 plays "time". An example is an
HTR crop of a source (``crop`` = frames, rows, cols) and its LTR half: the slow camera applied to the
crop, ``rect_downsample(crop, 2, axis=0)`` - exactly the degradation the net learns to invert.

* within:  the space-time pyramid of the input. A spatial downscale by s makes motion s times
  smaller in pixels (and the exposure blur with it), so a downscaled input looks like a higher frame
  rate version of itself; keeping every j-th frame (a temporal jump) makes motion faster again.
* across:  t swapped with x (or y). Frames are sharp in space, so the 1-D rect along a spatial axis
  is a good model of exposure blur along time; a spatial downscale first gives a range of scales.

Crops are drawn with probability proportional to their mean gradient magnitude (flat sky teaches
nothing), via a 3-D summed-area table of the gradient. Augmentations: flips of every axis (a flip of
axis 0 is time reversal), and 90-degree rotations of the spatial plane when the crop is square.

A net over a given base (``config.base`` in trainer/net.py ``GIVEN_BASES``: flow) learns its
residual over that base's x2 of the LTR half. Flow cannot be cut from a crop's neighbours the way
cubic can (its vectors come from the whole frame), so it runs ONCE per source on the source's whole
LTR half (``rect_downsample(video, 2)``), and each example's base is the crop at the same place of
that x2; crops then start on even frames, where the crop's LTR half is that whole LTR's own frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from vs_zstsr.resample import rect_downsample, resize_spatial

MIN_SIDE = 8   # a pyramid level narrower than this in any axis is dropped


class TooSmall(ValueError):
    """The clip yields no training example: every pyramid level (within) and every swapped view
    (across) is under ``MIN_SIDE`` in some axis. The runtime then falls back to interpolation."""


def gradient_magnitude(v: np.ndarray) -> np.ndarray:
    """Mean over channels of |d/dt| + |d/dy| + |d/dx| (forward differences, edge-padded)."""
    g = np.zeros(v.shape[:3], np.float32)
    for axis in range(3):
        d = np.abs(np.diff(v, axis=axis, append=np.take(v, [-1], axis=axis)))
        g += d.mean(axis=-1)
    return g


def _window_means(g: np.ndarray, crop: tuple[int, int, int]) -> np.ndarray:
    """Mean of ``g`` over every crop-sized window (valid positions) with a summed-area table."""
    s = np.zeros(tuple(n + 1 for n in g.shape), np.float64)
    s[1:, 1:, 1:] = g.cumsum(0).cumsum(1).cumsum(2)
    a, b, c = crop
    box = (s[a:, b:, c:] - s[:-a, b:, c:] - s[a:, :-b, c:] - s[a:, b:, :-c]
           + s[:-a, :-b, c:] + s[:-a, b:, :-c] + s[a:, :-b, :-c] - s[:-a, :-b, :-c])
    return box / (a * b * c)


@dataclass
class Source:
    video: np.ndarray          # (T', H', W', 3), axis 0 is "time"
    kind: str                  # "within" or "across"
    label: str                 # e.g. "within s=0.64 j=2" (for logs)
    cdf: np.ndarray | None = None   # cumulative crop probabilities over valid positions
    x2: np.ndarray | None = None    # a given base: its x2 of rect_downsample(video, 2), video's shape


# A given base's x2 of a whole LTR clip (T, H, W, 3) -> (2T, H, W, 3), or None where it cannot run
# on that clip (trainer/train.py ``given_base_x2``).
BaseX2 = Callable[[np.ndarray], "np.ndarray | None"]


class ExampleSampler:
    """Draws batches of (LTR, HTR) crops; one kind (within/across) and one crop shape per batch."""

    def __init__(self, ltr, config, rng: np.random.Generator, base_x2: BaseX2 | None = None):
        # ``ltr``: one clip, or a list of clips (the shots of a video, or runs of frames taken
        # from it). Every source and so every crop comes from a single clip: a crop that spans a
        # scene cut would teach the net to blend two shots. ``base_x2``: the given base's x2, for
        # a net over one (module doc); without it the net computes its own base (cubic).
        clips = [ltr] if isinstance(ltr, np.ndarray) else list(ltr)
        for c in clips:
            if c.ndim != 4 or c.shape[-1] != 3:
                raise ValueError(f"expected LTR frames (T, H, W, 3), got {c.shape}")
        if not clips:
            raise ValueError("no frames to train on")
        self.config, self.rng = config, rng
        kinds = {"within": ["within"], "across": ["across"], "both": ["within", "across"]}[config.examples]
        self.kinds, self.sources, self.crops, self.dropped = [], {}, {}, []
        for kind in kinds:
            srcs = [s for c in clips for s in self._build(np.asarray(c, np.float32), kind)]
            crop, srcs = self._fit_crop(srcs)
            if base_x2 is not None:
                srcs = self._with_base(srcs, base_x2)
            if srcs:
                self.kinds.append(kind)
                self.sources[kind], self.crops[kind] = srcs, crop
                for s in srcs:
                    p = _window_means(gradient_magnitude(s.video), crop) + 1e-6
                    if base_x2 is not None:
                        p[1::2] = 0.0          # crops start on even frames (module doc)
                    p = p.ravel()
                    s.cdf = np.cumsum(p / p.sum())
        if not self.kinds:
            shapes = ", ".join("x".join(map(str, c.shape[:3])) for c in clips[:4])
            why = (f"; {len(self.dropped)} sources were left out, where the base cannot run "
                   f"({', '.join(self.dropped[:4])})") if self.dropped else ""
            raise TooSmall(f"{shapes} frames x rows x cols at the coarse scale give no training example; "
                           f"one needs at least {MIN_SIDE} in every axis{why}")
        # Bigger levels hold more (and finer) content: draw a level with probability ~ its voxels.
        self.weights = {k: np.array([s.video[..., 0].size for s in v], float) for k, v in self.sources.items()}
        for k in self.weights:
            self.weights[k] /= self.weights[k].sum()

    # ---------------------------------------------------------------- sources
    def _build(self, v: np.ndarray, kind: str):
        t, h, w, _ = v.shape
        for s in self.config.scales:
            hs, ws = max(1, round(h * s)), max(1, round(w * s))
            level = v if s == 1.0 else resize_spatial(v, hs, ws)
            if kind == "within":
                for j in self.config.jumps:
                    yield Source(np.ascontiguousarray(level[::j]), kind, f"within s={s:g} j={j}")
            else:
                # New time = old x (or y); new (rows, cols) = (old t, old y) or (old t, old x).
                yield Source(np.ascontiguousarray(level.transpose(2, 0, 1, 3)), kind, f"across t<->x s={s:g}")
                yield Source(np.ascontiguousarray(level.transpose(1, 0, 2, 3)), kind, f"across t<->y s={s:g}")

    def _fit_crop(self, srcs: list[Source]):
        """Clamp the configured crop to the largest source; drop sources smaller than that crop."""
        srcs = [s for s in srcs if min(s.video.shape[:3]) >= MIN_SIDE]
        if not srcs:
            return None, []
        ct, ch, cw = self.config.crop
        big = [max(s.video.shape[i] for s in srcs) for i in range(3)]
        crop = (min(ct, big[0] // 2 * 2), min(ch, big[1]), min(cw, big[2]))
        return crop, [s for s in srcs if all(s.video.shape[i] >= crop[i] for i in range(3))]

    def _with_base(self, srcs: list[Source], base_x2: BaseX2) -> list[Source]:
        """Each source trimmed to an even length, with the base's x2 of its whole LTR half. A
        source where the base cannot run (flow: frames under baselines.MIN_FLOW_SIZE, as the
        across views of a short clip are, whose rows are its frames; or MVTools crashed on it) is
        left out, not given cubic instead: the net learns one residual, over the base it will be
        added to at inference, and a correction learnt over cubic there would be a different one."""
        kept = []
        for s in srcs:
            video = s.video[: s.video.shape[0] // 2 * 2]
            x2 = base_x2(rect_downsample(video, 2, axis=0))
            if x2 is None:
                self.dropped.append(s.label)
                continue
            kept.append(Source(video, s.kind, s.label, x2=np.ascontiguousarray(x2, np.float32)))
        return kept      # (an even length still holds the crop: its frames are even)

    # ---------------------------------------------------------------- drawing
    def _position(self, src: Source, crop) -> tuple[slice, slice, slice]:
        i = min(int(np.searchsorted(src.cdf, self.rng.random())), len(src.cdf) - 1)
        nt, nh, nw = (src.video.shape[k] - crop[k] + 1 for k in range(3))
        t0, rem = divmod(i, nh * nw)
        y0, x0 = divmod(rem, nw)
        return slice(t0, t0 + crop[0]), slice(y0, y0 + crop[1]), slice(x0, x0 + crop[2])

    def draw_crop(self, src: Source, crop) -> np.ndarray:
        return src.video[self._position(src, crop)]

    def augment(self, x: np.ndarray) -> np.ndarray:
        if not self.config.augment:
            return x
        for axis in range(3):                      # axis 0: time reversal
            if self.rng.random() < 0.5:
                x = np.flip(x, axis)
        if x.shape[1] == x.shape[2]:
            x = np.rot90(x, int(self.rng.integers(4)), axes=(1, 2))
        return x

    def batch(self) -> tuple[np.ndarray, np.ndarray, str]:
        """``(ltr (B, t/2, h, w, 3), htr (B, t, h, w, 3), kind)``."""
        ltr, _, htr, kind = self.batch_x2()
        return ltr, htr, kind

    def batch_x2(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, str]:
        """``(ltr, x2, htr, kind)``: :meth:`batch` with the given base's x2 of each LTR crop
        ``(B, t, h, w, 3)``, cut where its HTR crop is and augmented alike (None without one)."""
        kind = self.kinds[0]
        if len(self.kinds) == 2:
            kind = "across" if self.rng.random() < self.config.p_across else "within"
        srcs, crop = self.sources[kind], self.crops[kind]
        htr, x2 = [], []
        for _ in range(self.config.batch):
            src = srcs[self.rng.choice(len(srcs), p=self.weights[kind])]
            if src.x2 is None:
                htr.append(self.augment(self.draw_crop(src, crop)))
                continue
            at = self._position(src, crop)     # one augmentation of both: stacked on channels
            both = self.augment(np.concatenate([src.video[at], src.x2[at]], axis=-1))
            htr.append(both[..., :3])
            x2.append(both[..., 3:])
        htr = np.stack(htr).astype(np.float32)
        return rect_downsample(htr, 2, axis=1), np.stack(x2).astype(np.float32) if x2 else None, htr, kind

    def describe(self) -> dict:
        return {k: {"crop": self.crops[k], "sources": [s.label + f" {s.video.shape[:3]}" for s in v]}
                for k, v in self.sources.items()}
