"""Coarse-to-fine x2^r (paper section 4.2): up the space-time diagonal, one x2 in time per rung.

For factor 8 the rungs are ``S/4 T1 -x2-> S/4 T2 =BP=> S/2 T2 -x2-> S/2 T4 =BP=> S1 T4 -x2-> S1 T8``
(for large frames one level lower, from S/8, and a last ``S/2 T8 =BP=> S1 T8``: see :func:`plan`).
Shrinking space by 2 halves the motion in pixels, so each rung's input moves (in pixels per frame)
as fast as the coarse clip the net was trained on: that is why the paper climbs the diagonal.

Each rung's x2 is done by one of the rung methods of :mod:`.methods` (the net, run by
:mod:`.netrun`, or an interpolator). A prototype found the net helped only at the scale it was
trained on (docs/PROTOTYPE.md), so each rung earns its place: :func:`.selfcheck.choose_methods` measures
every candidate on the first rung's own input (the "do no harm" self-check) before anything is
rendered, once per clip.

Between rungs, spatio-temporal back-projection (:mod:`.backprojection`) enlarges the result x2 in
space, consistent with the smaller result (bicubic) and with the LTR input at the larger size (rect).
"""
from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator

import numpy as np

from .backprojection import spatiotemporal_backproject, spatiotemporal_backproject_groups, temporal_backproject
from .errors import ZstsrError
from .io import Planar
from .methods import INTERPOLATORS, crash_note, interpolate, needs_model, net_method_x2
from .native import NativeCrash
from .options import UpsampleOptions, check_factor
from .resample import resize_spatial
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
    # Without the net, one interpolator on every rung: True runs it x factor at full size in one
    # step (+ back-projection) instead of climbing the diagonal; the self-check measures which
    # (:func:`.selfcheck.choose_pipeline`).
    direct: bool = True
    # Other plans whose output this one's is averaged with, frame by frame: the self-check's pick
    # may be the mean of its best pipelines (:func:`.selfcheck.choose_pipeline`), whose errors
    # differ enough that their mean beats each (docs/BENCHMARKS.md, "The mean of the best
    # pipelines"). Each shares this plan's factor, size and model.
    blend: list["LadderPlan"] = field(default_factory=list)

    def describe(self) -> str:
        if self.blend:
            return "the mean of " + " and ".join(
                f"({p.rungs[0].method} x{p.factor} at full size + back-projection)" if p.runs_direct
                else f"({p.describe_one()})" for p in [self, *self.blend])
        return self.describe_one()

    def describe_one(self) -> str:
        """This plan's own rungs (without :attr:`blend`)."""
        parts = []
        for r in self.rungs:
            g = "" if r.gain_db is None else f" ({r.gain_db:+.2f} dB)"
            parts.append(f"{r.size[1]}x{r.size[0]} T{r.rate}->T{2 * r.rate}: {r.method}{g}")
        if self.padded and self.rungs and self.rungs[-1].size != self.padded:
            parts.append(f"back-projection to {self.padded[1]}x{self.padded[0]}")
        return "; ".join(parts)

    @property
    def uses_net(self) -> bool:
        """Whether the net runs on a rung of this plan or of one it is blended with."""
        return any(needs_model(r.method) for p in [self, *self.blend] for r in p.rungs)

    @property
    def runs_direct(self) -> bool:
        """Whether this plan's own rungs run as one interpolation x factor at full size: asked
        (:attr:`direct`), no net and one interpolator on every rung (see :class:`Ladder`)."""
        return (self.direct and not any(needs_model(r.method) for r in self.rungs)
                and len({r.method for r in self.rungs}) == 1)


def plan(height: int, width: int, factor: int, method: str = "cubic") -> LadderPlan:
    """The rungs for ``factor`` = 2^r: rung j runs at 1/2^(r-1-j) of the full size, or at half
    that for large frames (:data:`LARGE_FIRST_RUNG`), the last rung then at 1/2."""
    check_factor(factor)
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


class Ladder:
    """Runs a :class:`LadderPlan` on a window of LTR frames; stateless once built."""

    def __init__(self, plan: LadderPlan, model=None, options: UpsampleOptions | None = None, *,
                 direct: bool = True, rung_models: dict | None = None,
                 flow_fallback: str | None = "cubic", log: Callable[[str], None] | None = None,
                 memo: dict | None = None):
        if plan.uses_net and model is None:
            raise ZstsrError("this ladder plan uses the net, but no model was given")
        self.options = options or UpsampleOptions(factor=plan.factor)
        self.engine = self.options.engine.check()     # how the net runs (tiles, self-ensemble)
        self.plan, self.model = plan, model
        # rung index -> the model fine-tuned for that rung (`--finetune`); the others use `model`.
        # Same architecture as `model`, so the same receptive field and context.
        self.rung_models = dict(rung_models or {})
        # Without the net on any rung, climbing the diagonal only resamples: one interpolation
        # x factor at full size + temporal back-projection, in one step (docs/PROTOTYPE.md, "The
        # ladder"), unless the self-check measured the ladder better on this clip (plan.direct).
        self.direct = direct and plan.runs_direct and not plan.blend
        # flow chosen by the self-check: if MVTools crashes on a chunk, that chunk is interpolated
        # by `flow_fallback` (said once); None (flow asked for by name): the crash is an error
        self.flow_fallback, self._log, self._said = flow_fallback, log, False
        # rung outputs shared by ladders that run the same frames with the same options: a ladder
        # whose first rungs are another's (same methods, same models) starts from that one's
        # result instead of computing it again. The self-check's candidate pipelines share their
        # first rung (selfcheck.candidate_pipelines: the net, then each interpolator above it), and
        # benchmarks/bench_candidates.py's their first rungs; the net's rungs are the slow ones.
        # Models are told apart by identity, so a memo lives no longer than the models it saw
        # (the caller's one self-check or benchmark clip). None: nothing kept.
        self.memo = memo
        # A blend (plan.blend): one ladder per plan, each run as it would run alone, their frames
        # averaged. Fine-tuned rung models belong to the first plan (prepare.build_ladder does
        # not blend when fine-tuning).
        self.members = [Ladder(p, model, options, direct=direct, rung_models=rung_models if j == 0 else None,
                               flow_fallback=flow_fallback, log=log)
                        for j, p in enumerate([replace(plan, blend=[]), *plan.blend])] if plan.blend else []

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
        if self.members:
            return max(m.context for m in self.members)
        return sum(self._reaches())

    @property
    def reach(self) -> int:
        """LTR frames each side of an output group that it depends on, through every rung (the
        direct path: its one step's)."""
        if self.members:
            return max(m.reach for m in self.members)
        return self._reaches()[0] if self.direct else self.context

    def x2(self, clip: np.ndarray, method: str, rung: int = 0) -> np.ndarray:
        if needs_model(method):
            model = self.rung_models.get(rung, self.model)
            e = self.engine
            return net_method_x2(model, clip, method, e.tilesize, e.overlap, e.ensemble, self.flow_fallback, self._note)
        return self._interpolate(clip, 2, method)

    def run(self, ltr: np.ndarray, keep: tuple[int, int] | None = None, *, memo: dict | None = None) -> np.ndarray:
        """``(T, H, W, 3)`` LTR -> ``(T * factor, H, W, 3)``, clipped to [0, 1].

        ``keep=(lead, count)``: only LTR frames ``lead .. lead+count-1`` are wanted (the inside of a
        streaming window), and only their ``count * factor`` frames are returned. After each rung
        the frames that no later rung reads are dropped, so the full-size rungs, which cost the
        most time and memory, work on the inside and their own reach, not on the whole window.
        ``memo``: for this call, instead of :attr:`memo`.
        """
        memo = self.memo if memo is None else memo
        if self.members:
            # the members' first rungs shared within this call only (a renderer's memo would
            # otherwise hold every chunk's rungs)
            shared = {} if memo is None else memo
            out = self.members[0].run(ltr, keep, memo=shared)
            for m in self.members[1:]:
                out += m.run(ltr, keep, memo=shared)
            out /= len(self.members)
            return out
        rungs = self.plan.rungs
        t, h, w = ltr.shape[:3]
        lead, count = keep if keep is not None else (0, t)
        if not (0 <= lead and count >= 1 and lead + count <= t):
            raise ValueError(f"bad keep {keep} for {t} frames")
        if self.direct:
            f, reach = self.factor, self._reaches()[0]
            a, b = max(0, lead - reach), min(t, lead + count + reach)
            if self.streams:   # the streamed path's own sums: a window gives exactly a stream's frames
                return self.stream_kept(ltr, lead, count)
            y = temporal_backproject(self._interpolate(ltr[a:b], f, rungs[0].method), ltr[a:b], f)
            return np.clip(y[(lead - a) * f:(lead - a + count) * f], 0.0, 1.0)
        if self.plan.padded and (h, w) == self.plan.size and self.plan.padded != (h, w):
            ph, pw = self.plan.padded  # odd sizes: pad (edges repeated), run, crop back
            out = self.run(np.pad(ltr, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge"), keep, memo=memo)
            return np.ascontiguousarray(out[:, :h, :w])
        reaches = self._reaches()
        a, b = max(0, lead - sum(reaches)), min(t, lead + count + sum(reaches))   # LTR frames x covers
        inputs = {r.size: resize_spatial(ltr[a:b], *r.size) for r in rungs}
        inputs[(h, w)] = ltr[a:b]
        a0 = a
        x = inputs[rungs[0].size]
        key, start = self._memo_start(ltr, lead, count, memo)
        if start:
            x, a, b = memo[key + self._prefix(start)]
        for j, rung in enumerate(rungs[start:], start):
            rate = 2 * rung.rate
            lo, hi = a - a0, b - a0
            y = temporal_backproject(self.x2(x, rung.method, j), inputs[rung.size][lo:hi], rate, in_place=True)
            nxt = rungs[j + 1].size if j + 1 < len(rungs) else (h, w)
            if nxt != rung.size and j + 1 == len(rungs):   # the last step, to full size: the kept groups only
                x = spatiotemporal_backproject_groups(y, inputs[nxt][lo:hi], rate, lead - a, count, self.options.bp_iters)
                a, b = lead, lead + count
                break
            if nxt != rung.size:
                y = spatiotemporal_backproject(y, inputs[nxt][lo:hi], rate, self.options.bp_iters)
            rest = sum(reaches[j + 1:])                 # what the later rungs still read
            a2, b2 = max(a, lead - rest), min(b, lead + count + rest)
            x = y[(a2 - a) * rate:(b2 - a) * rate]
            a, b = a2, b2
            if key is not None and j + 1 < len(rungs):
                memo[key + self._prefix(j + 1)] = (x, a, b)
        # in place: x is the last rung's own new array (or a slice of it), held by no memo; a
        # copy here was the render's peak (a second chunk of full-size frames beside it)
        return np.clip(x, 0.0, 1.0, out=x)

    def _prefix(self, rungs: int) -> tuple:
        """What the first ``rungs`` rungs' result depends on besides the input: each rung's method
        and the model it runs."""
        return tuple((r.method, id(self.rung_models.get(j, self.model)) if needs_model(r.method) else None)
                     for j, r in enumerate(self.plan.rungs[:rungs]))

    def _memo_start(self, ltr: np.ndarray, lead: int, count: int, memo: dict | None) -> tuple[tuple | None, int]:
        """(this input's key in ``memo``, how many first rungs it already holds) or (None, 0)."""
        if memo is None:
            return None, 0
        digest = hashlib.blake2b(np.ascontiguousarray(ltr).data, digest_size=16).digest()
        key = (digest, ltr.shape, lead, count, self.plan.size, self.options.bp_iters, self.engine)
        held = [j for j in range(len(self.plan.rungs) - 1, 0, -1) if key + self._prefix(j) in memo]
        return key, (held[0] if held else 0)

    def stream(self, frames: Iterable[np.ndarray], cut_threshold: float = 0.0, bits: int | None = None,
               extend: int = 0, ends: tuple[bool, bool] = (True, True), planes: Planar | None = None,
               groups: tuple[int, int] | None = None) -> Iterator[np.ndarray]:
        """The direct path (``self.direct``: one interpolation x factor at full size, then temporal
        back-projection) on a stream of LTR frames, output frame by output frame in memory bounded
        by the frame size (:mod:`.direct`): the frames :meth:`run` gives each window, within
        float32 rounding. Each shot (``cut_threshold``, :mod:`.cuts`) is done on its own, its ends
        continued by ``extend`` virtual frames (:mod:`.shotends`; ``ends``: :func:`.direct.stream`).
        ``bits`` (for a writer: :func:`.io.sample_bits`): flow's frames come quantized to it, finished
        in MVTools' worker (:class:`.direct.Finish`), within one level of quantizing these frames,
        and with ``planes`` (the writer's :attr:`.io.VideoWriter.planes`) in its pixel format;
        other frames stay float32 (the writer takes all three). Flow reads the next segment's frames
        (and continues its shot ends) while MVTools works on this one (:func:`.direct.stream`).
        ``groups`` = (first, count): the output of LTR frames ``first .. first+count-1`` only."""
        from . import direct

        if not self.direct:
            raise ValueError("only a direct ladder (no net, one interpolator) streams")
        it = iter(frames)
        first = next(it, None)
        if first is None:
            return
        h, w = first.shape[:2]
        it = itertools.chain([first], it)
        method, f = self.plan.rungs[0].method, self.factor
        if not INTERPOLATORS[method].fits(np.broadcast_to(first, (2,) + first.shape)):
            method = INTERPOLATORS[method].instead     # as interpolate() does (flow: too small)
        if method in direct.KERNELS:
            yield from direct.stream(it, f, method, cut_threshold=cut_threshold, extend=extend, ends=ends,
                                     groups=groups)
            return
        if method != "flow":
            raise ValueError(f"no streamed form of {method!r}")
        from . import io
        from .baselines import peer_stream

        segment = direct.segment_frames(h, w)

        finish = direct.Finish(backproject=True, clip_input=True, bits=bits, planes=planes) if bits else None

        def peer(seg, keep):
            """Flow on a segment, clipped before back-projection as interpolate() gives it to run();
            if MVTools crashes, the rest of the segment is ``flow_fallback``'s (methods.interpolate)."""
            done = 0
            try:
                for y in peer_stream(seg, f, "flowfps", keep=keep, finish=finish):
                    done += 1
                    yield y if finish else np.clip(y, 0.0, 1.0, out=y)
            except NativeCrash as e:
                if self.flow_fallback is None:
                    raise
                self._note(crash_note(e, f"using {self.flow_fallback}"))
                seg = [io.as_float(x) for x in seg]   # a direct.FrameList, of io.compact's frames
                rest = INTERPOLATORS[self.flow_fallback].run(np.stack(seg), f)
                if not finish:
                    yield from rest[keep[0] * f + done:(keep[0] + keep[1]) * f]
                    return
                # finished here, group by group from the one MVTools left (its frames before the
                # crash were back-projected on flow's group)
                for g in range(keep[0] + done // f, keep[0] + keep[1]):
                    group = direct.finish_group(list(rest[g * f:(g + 1) * f]), seg[g], True, True, clip_input=True)
                    yield from (io.quantize(y, bits) for y in group[(done % f if g == keep[0] + done // f else 0):])

        yield from direct.stream(it, f, "flow", peer=peer, cut_threshold=cut_threshold,
                                 segment=segment, finished=finish is not None,
                                 extend=extend, ends=ends, groups=groups)

    def stream_kept(self, ltr: np.ndarray, lead: int, count: int, **kw) -> np.ndarray:
        """The output frames of LTR frames ``lead .. lead+count-1`` of ``ltr`` by :meth:`stream`
        (``kw``: its options), run over those frames and :attr:`reach` each side, in one array.
        Only the kept groups are computed (the stream's ``groups``), each frame written into the
        result as it comes: at 4K a list of the kept frames beside their stacked copy was 0.8 GB
        more (docs/BENCHMARKS.md, "4K")."""
        f, reach = self.factor, self.reach
        a, b = max(0, lead - reach), min(len(ltr), lead + count + reach)
        n_kept = count * f
        out, n = np.empty((n_kept,) + ltr.shape[1:], np.float32), 0
        for y in self.stream(ltr[a:b], groups=(lead - a, count), **kw):
            if n < n_kept:
                out[n] = y
            n += 1
        if n != n_kept:
            raise RuntimeError(f"the direct stream gave {n} of the {n_kept} frames kept")
        return out

    @property
    def streams(self) -> bool:
        """Whether :meth:`stream` can run this ladder (direct, with a kernel or flow)."""
        return self.direct and self.plan.rungs[0].method in INTERPOLATORS
