"""Rates that are not a power-of-two multiple of the input's (24 -> 60 fps, 25 -> 60000/1001).

The ladder runs powers of two only (:data:`.options.FACTORS`: one x2 in time per rung). A target
rate ``F`` above the input rate ``r`` is reached in two steps:

1. TSR by ``N``, the smallest power of two with ``r * N >= F`` (:func:`ladder_factor`): frames at
   ``R = r * N``, frame ``k`` the exposure of ``[k/R, (k+1)/R)``. The smallest, because a larger
   ``N`` only adds rungs (each interpolated from the one below) for a finer staircase; with it
   ``R / F < 2``, so every output frame reads two or three of these frames.
2. Retiming (:class:`Retime`): output frame ``i`` is the exposure of its own interval
   ``[i/F, (i+1)/F)``: the mean of the frames of step 1 over it, each weighted by how much of its
   exposure lies inside (a box, or rect, average). It is the camera model the whole product rests
   on (vs_zstsr/resample.py: a slow frame is the mean of the fast frames over its exposure),
   applied at a rate that is not a divisor of ``R``: no frame is dropped or repeated, and over any
   stretch that starts and ends on both rates' frame boundaries the outputs average to exactly
   the frames of step 1. When ``F`` is ``R`` (a power of two times ``r``) nothing is retimed.

Scene cuts: an output frame whose interval spans a cut (possible only when the cut is not on an
output boundary) belongs to the shot that holds the middle of its interval and averages only that
shot's part, so no output frame mixes two shots; the first output frame of each shot is marked
``prev`` and the last ``next`` (the filter's ``_SceneChangePrev/Next``).

Frame count: ``ceil(n_htr * F / R)`` (every instant of the clip is in some output frame; the last
one averages the part of its interval inside the clip). Times are exact fractions: an output
boundary is at ``i * p / q`` frames of step 1 (``R / F = p / q``), in integer arithmetic, so there
is no drift over long clips. The CLI (``zstsr upsample --out-fps``: :meth:`Retime.stream`) and the
filter (``fps_num``/``fps_den``: vs_zstsr/filter.py) mix the same frames with the same weights.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Container, Iterable, Iterator

import numpy as np

from .errors import UsageError, ZstsrError
from .options import FACTORS, UpsampleOptions


def _rate(rate) -> str:
    rate = Fraction(rate)
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def ladder_factor(rate_in: Fraction, rate_out: Fraction) -> int:
    """The smallest power of two ``N`` (of :data:`.options.FACTORS`) with ``rate_in * N >= rate_out``;
    refuses a target at or below the input rate, or beyond the largest factor."""
    rate_in, rate_out = Fraction(rate_in), Fraction(rate_out)
    if rate_out <= rate_in:
        raise UsageError(f"the output rate {_rate(rate_out)} fps must be above the input's "
                         f"{_rate(rate_in)} fps (zstsr adds frames; it does not drop them)")
    for n in FACTORS:
        if rate_in * n >= rate_out:
            return n
    raise UsageError(f"the output rate {_rate(rate_out)} fps is more than {FACTORS[-1]} x the input's "
                     f"{_rate(rate_in)} fps")


@dataclass(frozen=True)
class Retime:
    """From frames at ``rate_in * factor`` (the ladder's output) to ``rate`` (see module doc)."""
    rate_in: Fraction
    factor: int
    rate: Fraction

    @property
    def ratio(self) -> Fraction:
        """Frames of the ladder per output frame, ``p / q`` (below 2)."""
        return Fraction(self.rate_in) * self.factor / Fraction(self.rate)

    @property
    def taps(self) -> int:
        """How many consecutive ladder frames :meth:`window` spans (the same for every output)."""
        return 2 + math.ceil(Fraction(3, 2) * self.ratio)

    def count(self, n_htr: int) -> int:
        """Output frames for ``n_htr`` ladder frames."""
        r = self.ratio
        return -(-n_htr * r.denominator // r.numerator)

    def window(self, i: int) -> int:
        """The first of the :attr:`taps` ladder frames output ``i`` reads (its interval, and the
        cuts near enough to decide its shot and marks); may be -1: frames outside the clip get no
        weight."""
        r = self.ratio
        return i * r.numerator // r.denominator - 1

    def _mid(self, i: int) -> Fraction:
        return (2 * i + 1) * self.ratio / 2

    def plan(self, i: int, n_htr: int, starts: Container[int]) -> tuple[list[tuple[int, float]], bool, bool]:
        """Output ``i``'s ladder frames and weights ``[(k, w), ...]`` (``k`` ascending, ``w`` summing
        to 1), and whether it is the first (``prev``) and the last (``next``) of its shot.
        ``starts``: ladder frames where a shot starts (at least those of :meth:`window`)."""
        r = self.ratio
        a, b = i * r, (i + 1) * r
        mid = self._mid(i)
        lo, hi = max(a, Fraction(0)), min(b, Fraction(n_htr))
        for c in range(math.floor(a) + 1, math.ceil(b)):       # a cut inside: keep the middle's shot
            if c in starts:
                lo, hi = (Fraction(c), hi) if c <= mid else (lo, Fraction(c))
        span = hi - lo
        weights = [(k, float((min(hi, k + 1) - max(lo, k)) / span))
                   for k in range(math.floor(lo), math.ceil(hi)) if min(hi, k + 1) > max(lo, k)]

        def cut_between(x: Fraction, y: Fraction) -> bool:
            return any(c in starts for c in range(math.floor(x) + 1, math.floor(y) + 1))
        prev = i > 0 and cut_between(self._mid(i - 1), mid)
        nxt = i + 1 < self.count(n_htr) and cut_between(mid, self._mid(i + 1))
        return weights, prev, nxt

    @staticmethod
    def mix(frames: Iterable[np.ndarray], weights: Iterable[float]) -> np.ndarray:
        """The weighted mean (float64 sum, float32 result): the one arithmetic of CLI and filter."""
        out = None
        for f, w in zip(frames, weights):
            term = np.asarray(f, np.float64) * w
            out = term if out is None else out + term
        return out.astype(np.float32)

    def stream(self, frames: Iterable[np.ndarray], n_htr: int, starts: Container[int] = ()) -> Iterator[np.ndarray]:
        """The retimed frames of a stream of ``n_htr`` ladder frames, holding :attr:`taps` of them."""
        held: deque = deque()
        first = 0                     # ladder index of held[0]
        it = iter(frames)
        for i in range(self.count(n_htr)):
            weights, _, _ = self.plan(i, n_htr, starts)
            need = weights[-1][0]
            while first + len(held) <= need:
                f = next(it, None)
                if f is None:
                    raise ZstsrError(f"retiming expected {n_htr} frames, got {first + len(held)}")
                held.append(f)
            while first < weights[0][0]:
                held.popleft()
                first += 1
            yield self.mix((held[k - first] for k, _ in weights), (w for _, w in weights))
        for _ in it:                  # let the source finish (its own checks at the end)
            pass


def resolve(options: UpsampleOptions, rate_in: Fraction, factor_given: bool = False
            ) -> tuple[UpsampleOptions, Retime | None]:
    """``options`` with the ladder's factor for ``options.out_fps`` (None: as they are), and the
    retiming after the ladder (None where the target is the ladder's own rate)."""
    if options.out_fps is None:
        return options, None
    if factor_given:
        raise UsageError("give the output rate or a factor, not both (the rate sets the factor)")
    n = ladder_factor(rate_in, options.out_fps)
    options = replace(options, factor=n)
    if Fraction(rate_in) * n == options.out_fps:
        return options, None
    return options, Retime(Fraction(rate_in), n, Fraction(options.out_fps))


def shot_starts(ltr_cuts: Iterable[int], factor: int) -> set[int]:
    """Ladder frames where a shot starts, from the LTR frames where one does."""
    return {int(c) * factor for c in ltr_cuts}


def detect_starts(frames: Iterable[np.ndarray], factor: int, threshold: float) -> set[int]:
    """The shot starts (ladder frames) zstsr's detector finds in a stream of LTR frames: the cuts
    the ladder itself splits at (:class:`.cuts.StreamDetector` gives those of the whole clip)."""
    from .cuts import StreamDetector

    if not threshold or threshold <= 0:
        return set()
    det = StreamDetector(threshold)
    found: list[int] = []
    for f in frames:
        found += det.push(f)
    found += det.end()
    return shot_starts(found, factor)
