"""Coarse-to-fine x2^r (paper section 4.2): up the space-time diagonal, one x2 in time per rung.

For factor 8 the rungs are ``S/4 T1 -x2-> S/4 T2 =BP=> S/2 T2 -x2-> S/2 T4 =BP=> S1 T4 -x2-> S1 T8``
(for large frames one level lower, from S/8, and a last ``S/2 T8 =BP=> S1 T8``: see :func:`plan`).
Shrinking space by 2 halves the motion in pixels, so each rung's input moves (in pixels per frame)
as fast as the coarse clip the net was trained on: that is why the paper climbs the diagonal.

Each rung's x2 is done by one of
* ``net``:    the video-specific CNN (cubic x2 + its residual, inside the ONNX graph);
* ``cubic``:  cubic temporal x2 interpolation, the net's own base;
* ``linear``: linear temporal x2 interpolation;
* ``flow``:   motion-compensated x2 (MVTools ``FlowFPS``, :mod:`.baselines`), beyond the paper:
  on smooth real motion (a camera pan) it is the strongest interpolator there is here.
A prototype found the net helped only at the scale it was trained on (NOTES.md), so each rung earns
its place: :func:`choose_methods` measures every candidate on the first rung's own input (the "do
no harm" self-check) before anything is rendered, once per clip.

Between rungs, spatio-temporal back-projection (:mod:`.backprojection`) enlarges the result x2 in
space, consistent with the smaller result (bicubic) and with the LTR input at the larger size (rect).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import baselines
from .backprojection import spatiotemporal_backproject, temporal_backproject
from .errors import ZstsrError
from .native import NativeCrash
from .metrics import group_seam, psnr
from .resample import rect_downsample, resize_spatial, temporal_interpolate

METHODS = ("net", "cubic", "linear", "flow")
INTERPOLATORS = ("cubic", "linear", "flow")     # the candidates besides the net
MIN_RUNG_SIZE = 8  # pixels: below this a rung would have nothing left to look at
# Paper 4.2: the first rung at 1/4 of the size, or 1/8 for large frames. Motion in pixels per
# frame grows with the resolution, and the net reaches 3 frames and a few pixels: when the first
# rung's shorter side would exceed this, every rung moves one level down the diagonal and a
# last spatio-temporal back-projection (no temporal step) brings the result to full size.
# x8: 1080p starts at 240x135 instead of 480x270; 720p and below keep 1/4. A threshold chosen
# from the paper's rule, not measured here (no large clip with ground truth; docs/BENCHMARKS.md).
LARGE_FIRST_RUNG = 256


@dataclass
class Rung:
    size: tuple[int, int]  # (H, W) this rung runs at
    rate: int              # its input's frame rate, in multiples of the LTR rate
    method: str = "cubic"
    gain_db: float | None = None  # the self-check's net-over-cubic gain, when measured


@dataclass
class LadderPlan:
    factor: int
    rungs: list[Rung] = field(default_factory=list)
    # The frame size, and the size it is padded to (edges repeated) so that every rung is an exact
    # 1/2^k of it; the output is cropped back. None: no padding (as for a plan built by hand).
    size: tuple[int, int] | None = None
    padded: tuple[int, int] | None = None

    def describe(self) -> str:
        parts = []
        for r in self.rungs:
            g = "" if r.gain_db is None else f" ({r.gain_db:+.2f} dB)"
            parts.append(f"{r.size[1]}x{r.size[0]} T{r.rate}->T{2 * r.rate}: {r.method}{g}")
        if self.padded and self.rungs and self.rungs[-1].size != self.padded:
            parts.append(f"back-projection to {self.padded[1]}x{self.padded[0]}")
        return "; ".join(parts)

    @property
    def uses_net(self) -> bool:
        return any(r.method == "net" for r in self.rungs)


def plan(height: int, width: int, factor: int, method: str = "cubic") -> LadderPlan:
    """The rungs for ``factor`` = 2^r: rung j runs at 1/2^(r-1-j) of the full size, or at half
    that for large frames (:data:`LARGE_FIRST_RUNG`), the last rung then at 1/2."""
    if factor < 2 or factor & (factor - 1):
        raise ZstsrError(f"factor must be a power of 2 (2, 4, 8, 16), got {factor}")
    r = factor.bit_length() - 1
    shrinks = []
    for j in range(r):
        shrink = 2 ** (r - 1 - j)
        while shrink > 1 and min(height, width) / shrink < MIN_RUNG_SIZE:
            shrink //= 2
        shrinks.append(shrink)
    side = min(height, width)
    if side / shrinks[0] > LARGE_FIRST_RUNG and side / (2 * shrinks[0]) >= MIN_RUNG_SIZE:
        shrinks = [2 * s for s in shrinks]
    # Sizes that are not multiples of the largest shrink (33x47 at x8) are padded up to one, so
    # that each rung is exactly half the next: output size = input size after cropping.
    m = max(shrinks)
    ph, pw = -(-height // m) * m, -(-width // m) * m
    rungs = [Rung(size=(ph // s, pw // s), rate=2 ** j, method=method) for j, s in enumerate(shrinks)]
    return LadderPlan(factor, rungs, size=(height, width), padded=(ph, pw))


NET_BYTES = 1 << 30   # activations of one net call, roughly: the net runs on slices/tiles under this


def _net_bytes_per_pixel(model) -> int:
    # 2 output frames per input frame, `width` channels of float32, ~3 layers' tensors alive at once
    width = int(getattr(model, "metadata", {}).get("width", 128))
    return 2 * width * 4 * 3


# Geometric self-ensemble (ZSSR uses it at test time, after EDSR+): the net was trained on
# examples flipped, rotated by 90 degrees and reversed in time, so it should give the same answer
# to a transformed clip, transformed back. It does not exactly; the mean of those answers has less
# of the net's error. Each transform is (time reversed, quarter turns, left-right flip); the first
# n are used. Time reversal comes first: rect blur is symmetric in time, so reversing the LTR
# clip reverses its sub-frames, and it changes the motion the net sees the most.
ENSEMBLE = tuple((rev, k, flip) for flip in (False, True) for k in (0, 2, 1, 3) for rev in (False, True))
ENSEMBLE_SIZES = (1, 2, 4, 8, 16)
# 4: time reversal and a half turn. On the x2 rung (docs/BENCHMARKS.md) time reversal alone gave
# most of the gain (fan +0.78 dB, texture +0.17, city +0.12) and 4 copies most of the rest; 8 and
# 16 add at most 0.05 dB at 2x and 4x the net's cost.
DEFAULT_ENSEMBLE = 4


def _transform(x: np.ndarray, rev: bool, k: int, flip: bool) -> np.ndarray:
    if rev:
        x = x[::-1]
    if flip:
        x = x[:, :, ::-1]
    return np.rot90(x, k, axes=(1, 2)) if k else x


def _untransform(x: np.ndarray, rev: bool, k: int, flip: bool) -> np.ndarray:
    if k:
        x = np.rot90(x, -k, axes=(1, 2))
    if flip:
        x = x[:, :, ::-1]
    return x[::-1] if rev else x


def check_ensemble(ensemble) -> None:
    if ensemble not in ENSEMBLE_SIZES:
        raise ZstsrError(f"ensemble must be one of {', '.join(map(str, ENSEMBLE_SIZES))}; got {ensemble}")


def net_x2(model, clip: np.ndarray, tilesize: int = 0, overlap: int = 0, ensemble: int = 1) -> np.ndarray:
    """The net's x2 in time: the mean over ``ensemble`` (1, 2, 4, 8 or 16) transformed copies of the
    clip (the geometric self-ensemble, :data:`ENSEMBLE`); output frames are exact per transform."""
    check_ensemble(ensemble)
    if ensemble == 1:
        return _net_pieces(model, clip, tilesize, overlap)
    total = None
    for rev, k, flip in ENSEMBLE[:ensemble]:
        y = _net_pieces(model, np.ascontiguousarray(_transform(clip, rev, k, flip)), tilesize, overlap)
        y = _untransform(y, rev, k, flip)
        total = y.astype(np.float32, copy=True) if total is None else np.add(total, y, out=total)
    return total / np.float32(ensemble)


def _net_pieces(model, clip: np.ndarray, tilesize: int = 0, overlap: int = 0) -> np.ndarray:
    """The net's x2 in time, in pieces that bound its memory whatever the chunk or frame size:
    spatial tiles (``tilesize``; chosen automatically when one frame's activations would not fit
    ``NET_BYTES``) and temporal slices. Tiles overlap by the net's spatial reach and slices by its
    temporal reach (its receptive field), so the pieces change nothing."""
    t, h, w, _ = clip.shape
    reach_t = int(model.receptive_field["frames"])
    per_px = _net_bytes_per_pixel(model)
    if not tilesize and h * w * per_px * (2 * reach_t + 2) > NET_BYTES:
        tilesize = max(64, int(np.sqrt(NET_BYTES / (per_px * (2 * reach_t + 2)))) // 16 * 16)
    if not tilesize or (h <= tilesize and w <= tilesize):
        return _net_slices(model, clip)
    reach = max(overlap, model.receptive_field["pixels"])
    out = np.empty((2 * t, h, w, 3), np.float32)
    for y0 in range(0, h, tilesize):
        for x0 in range(0, w, tilesize):
            y1, x1 = min(h, y0 + tilesize), min(w, x0 + tilesize)
            ya, xa = max(0, y0 - reach), max(0, x0 - reach)
            yb, xb = min(h, y1 + reach), min(w, x1 + reach)
            tile = _net_slices(model, clip[:, ya:yb, xa:xb])
            out[:, y0:y1, x0:x1] = tile[:, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    return out


def _net_slices(model, clip: np.ndarray) -> np.ndarray:
    t, h, w, _ = clip.shape
    r = int(model.receptive_field["frames"])
    n = max(1, NET_BYTES // max(1, h * w * _net_bytes_per_pixel(model)) - 2 * r)   # inside frames per slice
    if t <= n + 2 * r:
        return model.run(clip)
    out = np.empty((2 * t, h, w, 3), np.float32)
    for a in range(0, t, n):
        b = min(t, a + n)
        lo, hi = max(0, a - r), min(t, b + r)
        y = model.run(clip[lo:hi])
        out[2 * a:2 * b] = y[2 * (a - lo):2 * (b - lo)]
    return out


def interpolate(clip: np.ndarray, factor: int, method: str, fallback: str | None = None,
                log: Callable[[str], None] | None = None) -> np.ndarray:
    """x ``factor`` in time without the net: ``cubic``, ``linear`` or ``flow`` (motion-compensated).
    Used for one rung's x2 and, when no rung uses the net, for the whole job at full size.

    Flow runs MVTools in a worker process (:mod:`.native`); if it crashes there, ``fallback``
    (an interpolation chosen automatically: cubic) is used instead, with a line to ``log``;
    without one (flow asked for by name), :class:`.native.NativeCrash` is raised."""
    if method == "flow":
        if not flow_fits(clip):
            return temporal_interpolate(clip, factor, "linear")   # too small to estimate motion
        try:
            return baselines.interpolate(clip, factor, "flowfps")
        except NativeCrash as e:
            if fallback is None:
                raise
            if log:
                log(crash_note(e, f"using {fallback}"))
            return temporal_interpolate(clip, factor, fallback)
    if method not in ("cubic", "linear"):
        raise ZstsrError(f"unknown interpolation {method!r}")
    return temporal_interpolate(clip, factor, method)


def crash_note(e: NativeCrash, then: str) -> str:
    """The one line said when flow crashed on a clip and zstsr goes on without it."""
    return f"flow interpolation crashed on this clip; {then} ({e})"


def flow_fits(clip: np.ndarray) -> bool:
    """Whether MVTools can estimate motion on this clip (and is installed)."""
    # the size guard is measured (baselines.MIN_FLOW_SIZE); a crash left is the worker's to catch
    return min(clip.shape[1:3]) >= baselines.MIN_FLOW_SIZE and clip.shape[0] >= 2 and flow_available()


def flow_available() -> bool:
    return baselines.flow_available()


def check_flow(height: int, width: int) -> None:
    """Refuse flow on every rung (``method="flow"``) where it cannot run."""
    if not flow_available():
        raise ZstsrError("flow interpolation needs VapourSynth and MVTools: pip install vapoursynth-mvtools")
    baselines.check_flow_size(height, width)


class Ladder:
    """Runs a :class:`LadderPlan` on a window of LTR frames; stateless once built."""

    def __init__(self, plan: LadderPlan, model=None, tilesize: int = 0, overlap: int = 0,
                 bp_iters: int = 1, direct: bool = True, ensemble: int = 1, rung_models: dict | None = None,
                 flow_fallback: str | None = "cubic", log: Callable[[str], None] | None = None):
        if plan.uses_net and model is None:
            raise ZstsrError("this ladder plan uses the net, but no model was given")
        check_ensemble(ensemble)
        self.plan, self.model = plan, model
        self.tilesize, self.overlap, self.bp_iters, self.ensemble = tilesize, overlap, bp_iters, ensemble
        # rung index -> the model fine-tuned for that rung (`--finetune`); the others use `model`.
        # Same architecture as `model`, so the same receptive field and context.
        self.rung_models = dict(rung_models or {})
        # Without the net on any rung, climbing the diagonal only resamples: one interpolation
        # x factor at full size + temporal back-projection keeps more detail (fan x8: 18.87 vs
        # 18.75 dB for linear; NOTES: the ladder "adds almost nothing without the net").
        self.direct = direct and not plan.uses_net and len({r.method for r in plan.rungs}) == 1
        # flow chosen by the self-check: if MVTools crashes on a chunk, that chunk is interpolated
        # by `flow_fallback` (said once); None (flow asked for by name): the crash is an error
        self.flow_fallback, self._log, self._said = flow_fallback, log, False

    def _interpolate(self, clip: np.ndarray, factor: int, method: str) -> np.ndarray:
        return interpolate(clip, factor, method, self.flow_fallback, self._note)

    def _note(self, msg: str) -> None:
        if self._log and not self._said:
            self._said = True
            self._log(msg)

    @property
    def factor(self) -> int:
        return self.plan.factor

    def _reaches(self) -> list[int]:
        """Per rung, the LTR frames each side its step reads: the net's or cubic's two frames at
        that rung's rate, plus one rect group (back-projection)."""
        net = int(self.model.receptive_field["frames"]) if self.model is not None else 0
        return [-(-(max(net, 2)) // r.rate) + 1 for r in self.plan.rungs]

    @property
    def context(self) -> int:
        """LTR frames of context each side that make a window's inside exact (see stream.py)."""
        return sum(self._reaches())

    def x2(self, clip: np.ndarray, method: str, rung: int = 0) -> np.ndarray:
        if method == "net":
            model = self.rung_models.get(rung, self.model)
            return net_x2(model, clip, self.tilesize, self.overlap, self.ensemble)
        return self._interpolate(clip, 2, method)

    def run(self, ltr: np.ndarray, upto: int | None = None, keep: tuple[int, int] | None = None) -> np.ndarray:
        """``(T, H, W, 3)`` LTR -> ``(T * factor, H, W, 3)``, clipped to [0, 1].

        ``keep=(lead, count)``: only LTR frames ``lead .. lead+count-1`` are wanted (the inside of a
        streaming window), and only their ``count * factor`` frames are returned. After each rung
        the frames that no later rung reads are dropped, so the full-size rungs, which cost the
        most time and memory, work on the inside and their own reach, not on the whole window.
        """
        rungs = self.plan.rungs
        stop = len(rungs) if upto is None else upto  # upto=j: the input of rung j
        t, h, w = ltr.shape[:3]
        lead, count = keep if keep is not None else (0, t)
        if not (0 <= lead and count >= 1 and lead + count <= t):
            raise ValueError(f"bad keep {keep} for {t} frames")
        if self.direct and upto is None:
            f, reach = self.factor, self._reaches()[0]
            a, b = max(0, lead - reach), min(t, lead + count + reach)
            y = temporal_backproject(self._interpolate(ltr[a:b], f, rungs[0].method), ltr[a:b], f)
            return np.clip(y[(lead - a) * f:(lead - a + count) * f], 0.0, 1.0)
        if self.plan.padded and (h, w) == self.plan.size and self.plan.padded != (h, w):
            ph, pw = self.plan.padded  # odd sizes: pad (edges repeated), run, crop back
            out = self.run(np.pad(ltr, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge"), upto, keep)
            return np.ascontiguousarray(out[:, :h, :w])
        reaches = self._reaches()[:stop]
        a, b = max(0, lead - sum(reaches)), min(t, lead + count + sum(reaches))   # LTR frames x covers
        inputs = {r.size: resize_spatial(ltr[a:b], *r.size) for r in rungs}
        inputs[(h, w)] = ltr[a:b]
        a0 = a
        x = inputs[rungs[0].size]
        for j, rung in enumerate(rungs[:stop]):
            rate = 2 * rung.rate
            lo, hi = a - a0, b - a0
            y = temporal_backproject(self.x2(x, rung.method, j), inputs[rung.size][lo:hi], rate)
            nxt = rungs[j + 1].size if j + 1 < len(rungs) else (h, w)
            if nxt != rung.size:
                y = spatiotemporal_backproject(y, inputs[nxt][lo:hi], rate, self.bp_iters)
            rest = sum(reaches[j + 1:])                 # what the later rungs still read
            a2, b2 = max(a, lead - rest), min(b, lead + count + rest)
            x = y[(a2 - a) * rate:(b2 - a) * rate]
            a, b = a2, b2
        return np.clip(x, 0.0, 1.0)


def choose_methods(ladder_plan: LadderPlan, model, sample: np.ndarray, full_size: tuple[int, int],
                   margin_db: float = 0.05, log: Callable[[str], None] | None = None,
                   tilesize: int = 0, candidates: tuple[str, ...] = METHODS, ensemble: int = 1) -> LadderPlan:
    """Decide, from the input alone, what does each rung's x2 ("do no harm").

    The first rung's input ``X`` (the LTR clip at the coarse scale) is shrunk by 2 in space and
    rect-halved in time: that proxy pair moves as fast, in pixels per frame, as ``X`` does, and
    it has ground truth. ``sample`` may be a crop of frames of ``full_size``: it is shrunk by the
    same factor as the whole frame would be. Every candidate x2 (followed by temporal
    back-projection, as on the ladder) is scored on it.

    * The net takes the first rung when it beats the best interpolator there by ``margin_db``.
    * The interpolators (cubic, linear, flow where MVTools is installed) are also ranked on the
      sample at full size, halved in time; the winner does every rung the net does not (and the
      whole job, in one step at full size, when the net does none: see ``Ladder.direct``).
    The upper rungs never use the net here: on the space-time diagonal their proxy would be this
    same pair (the diagonal is scale-invariant), so it cannot tell them apart, and a prototype found
    the net, at CPU budgets, helping only at the scale it was trained on (-0.05 dB one rung up,
    -0.46 dB at full size; NOTES.md). ``method="net"`` forces the paper's recipe (the net on every
    rung) and skips this.
    """
    for r in ladder_plan.rungs:
        r.method, r.gain_db = "cubic", None
    rung = ladder_plan.rungs[0]
    sy, sx = rung.size[0] / full_size[0], rung.size[1] / full_size[1]
    h, w = sample.shape[1:3]
    hi = resize_spatial(sample, max(1, round(h * sy / 2)), max(1, round(w * sx / 2)))
    n = hi.shape[0] // 2 * 2
    if n < 4:
        if log:
            log("too few frames for the self-check: cubic interpolation on every rung")
        return ladder_plan
    hi = hi[:n]
    lo = rect_downsample(hi, 2)
    methods = [m for m in candidates if m in METHODS]
    if model is None and "net" in methods:
        methods.remove("net")
    if "flow" in methods and not flow_fits(lo):
        methods.remove("flow")
    crashed = []

    def score(method, hi, lo):
        if method == "flow" and crashed:
            return None
        try:
            guess = net_x2(model, lo, tilesize, ensemble=ensemble) if method == "net" else interpolate(lo, 2, method)
        except NativeCrash as e:    # MVTools died in its worker: flow is no candidate on this clip
            crashed.append(e)
            if log:
                log(crash_note(e, "the self-check weighs the other candidates"))
            return None
        guess = np.clip(temporal_backproject(guess, lo, 2), 0, 1)
        return float(np.mean([psnr(a, b) for a, b in zip(guess, hi)]))

    scores = {m: v for m in methods if (v := score(m, hi, lo)) is not None}
    interp = [m for m in methods if m != "net"] or ["cubic"]
    best = max(interp, key=lambda m: scores.get(m, -np.inf))
    # The interpolators also do the full-size work (the upper rungs, or the whole job when the
    # net is not used), where motion estimation has room: rank them on the sample at full size,
    # halved in time, too (flow needs that room: a coarse proxy is often under 32 pixels).
    full_hi = sample[:n]
    full_lo = rect_downsample(full_hi, 2)
    full = [m for m in candidates if m in INTERPOLATORS and (m != "flow" or flow_fits(full_lo))]
    full_scores = {m: v for m in full if (v := score(m, full_hi, full_lo)) is not None}
    above = max(full_scores, key=full_scores.get) if full_scores else best
    for r in ladder_plan.rungs:
        r.method = above
    if "net" in scores:
        rung.gain_db = scores["net"] - scores[best]
        if rung.gain_db >= margin_db:
            rung.method = "net"
    if log:
        table = ", ".join(f"{m} {v:.2f}" for m, v in sorted(scores.items(), key=lambda kv: -kv[1]))
        ftable = ", ".join(f"{m} {v:.2f}" for m, v in sorted(full_scores.items(), key=lambda kv: -kv[1]))
        log(f"self-check at {rung.size[1]}x{rung.size[0]} on the clip's own x2 (dB): {table} -> "
            f"{rung.method} on the first rung; at {sample.shape[2]}x{sample.shape[1]}: {ftable} -> {above} "
            "for the rest")
    if rung.method == "net" and above != "cubic":
        # Above the net, cubic (the net's own base), whatever won the full-size ranking: that
        # ranking halves the clip in time, which for a motion that aliases (the fan) is another
        # aliasing regime than the net's de-aliased output the upper rungs get. Fan x8 with the
        # net on the first rung: cubic above 19.98 dB and turning forwards, linear (the ranking's
        # pick) 19.68 and backwards again, flow 19.70; texture: cubic 21.87, linear 21.81, flow
        # 21.68 (docs/BENCHMARKS.md).
        for r in ladder_plan.rungs[1:]:
            r.method = "cubic"
        if log:
            log("above the net: cubic (the net's own base)")
    return ladder_plan


def _at_rung(sample: np.ndarray, size: tuple[int, int], full_size: tuple[int, int]) -> np.ndarray:
    """``sample`` (frames of ``full_size``, or a crop of them) shrunk as the whole frame is for a
    rung of ``size``."""
    h, w = sample.shape[1:3]
    return resize_spatial(sample, max(1, round(h * size[0] / full_size[0])), max(1, round(w * size[1] / full_size[1])))


def first_rung_seams(models: dict, sample: np.ndarray, rung_size: tuple[int, int], full_size: tuple[int, int],
                     tilesize: int = 0, ensemble: int = 1) -> dict:
    """Each candidate net's first rung (x2 + back-projection) on ``sample``, scored by its group
    seam (:func:`.metrics.group_seam`; lower is better). This is the first rung's real job on
    real frames, not a proxy: no ground truth, so it can only compare candidates with each other.

    Why not the self-check's proxy: it is the clip halved in time, which is exactly what the
    within-dimension examples are made of, so a net trained on those wins it whether or not it
    helps one level up (texture: +4.0 dB on the proxy, -1.2 dB on the first rung, against truth;
    docs/BENCHMARKS.md)."""
    x = _at_rung(sample, rung_size, full_size)
    if x.shape[0] < 3:
        return {}
    return {k: group_seam(np.clip(temporal_backproject(net_x2(m, x, tilesize, ensemble=ensemble), x, 2), 0, 1), 2)
            for k, m in models.items()}
