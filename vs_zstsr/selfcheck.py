"""The "do no harm" self-check: which method does each rung's x2, decided from the clip alone.

* :func:`self_check_window` picks the frames it looks at: the ones held out of training
  (:func:`.fit.held_out`), one shot, a centred crop.
* :func:`choose_methods` scores every candidate rung method (:mod:`.methods`) on the first
  rung's own input, shrunk by 2 in space and halved in time (a proxy pair with ground truth), and
  sets each rung's method.
* :func:`fit_and_pick` (``examples="auto"``) trains one net per kind of internal examples and
  keeps the one whose first rung on those frames has the lower group seam
  (:func:`first_rung_seams`, :func:`.metrics.group_seam`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from . import cuts
from .backprojection import temporal_backproject
from .fit import AUTO_EXAMPLES, SELF_CHECK_FRAMES, Budget, fit_model, held_out
from .ladder import Ladder, LadderPlan, plan
from .methods import INTERPOLATORS, METHODS, NET, NETS, crash_note, fits, interpolate, native, needs_model, net_method_x2
from .metrics import group_seam, psnr
from .native import NativeCrash
from .options import EngineOptions, TrainOptions, UpsampleOptions
from .resample import rect_downsample, resize_spatial

SELF_CHECK_CROP = 512    # the self-check looks at a centred crop of at most this size (cheap at 4K)


def choose_methods(ladder_plan: LadderPlan, model, sample: np.ndarray, full_size: tuple[int, int],
                   margin_db: float = 0.05, log: Callable[[str], None] | None = None,
                   tilesize: int = 0, candidates: tuple[str, ...] = METHODS, ensemble: int = 1,
                   coarse: np.ndarray | None = None) -> LadderPlan:
    """Decide, from the input alone, what does each rung's x2 ("do no harm"), one rung at a time:
    what `zstsr upsample` falls back to where the sample is too short for :func:`choose_pipeline`
    (which measures whole pipelines and is preferred).

    The first rung's input ``X`` (the LTR clip at the coarse scale) is shrunk by 2 in space and
    rect-halved in time: that proxy pair moves as fast, in pixels per frame, as ``X`` does, and
    it has ground truth. ``sample`` may be a crop of frames of ``full_size``: it is shrunk by the
    same factor as the whole frame would be. ``coarse``, when given, is that pair's larger half
    made from the same frames whole (:func:`self_check_samples`), which gives the proxy the room
    motion estimation needs: a 512-px crop of a 1080x1920 frame at x8 is a 32x32 proxy, on which
    the interpolators' order was wrong or a tie on both real 1080p clips, and the whole frame's
    68x120 got it right on all three clips (docs/BENCHMARKS.md, benchmarks/bench_flow_crops.py).
    Every candidate x2 (followed by temporal back-projection, as on the ladder) is scored on it.

    * The best net method (:data:`.methods.NETS`) takes the first rung when it beats the best
      interpolator there by ``margin_db``.
    * The interpolators (:data:`.methods.INTERPOLATORS`, each where it fits) are also ranked on the
      sample at full size, halved in time; the winner does every rung the net does not (and the
      whole job, in one step at full size, when the net does none: see ``Ladder.direct``).
    The upper rungs never use the net here: on the space-time diagonal their proxy would be this
    same pair (the diagonal is scale-invariant), so it cannot tell them apart, and a prototype found
    the net, at CPU budgets, helping only at the scale it was trained on (docs/PROTOTYPE.md, "The
    ladder"). ``method="net"`` forces the paper's recipe (the net on every rung) and skips this.
    """
    for r in ladder_plan.rungs:
        r.method, r.gain_db = "cubic", None
    rung = ladder_plan.rungs[0]
    sy, sx = rung.size[0] / full_size[0], rung.size[1] / full_size[1]
    h, w = sample.shape[1:3]
    hi = coarse if coarse is not None else resize_spatial(sample, max(1, round(h * sy / 2)), max(1, round(w * sx / 2)))
    n = hi.shape[0] // 2 * 2
    if n < 4:
        if log:
            log("too few frames for the self-check: cubic interpolation on every rung")
        return ladder_plan
    hi = hi[:n]
    lo = rect_downsample(hi, 2)
    # the candidates that can run here: the net when there is a model, each interpolator where it
    # fits the proxy (flow needs frames of baselines.MIN_FLOW_SIZE pixels: :data:`.methods.INTERPOLATORS`)
    methods = [m for m in candidates if m in METHODS and (model is not None or not needs_model(m)) and fits(m, lo)]

    crashed = []

    def score(method, hi, lo):
        if crashed and native(method):      # flow died on this clip: nothing with it is weighed again
            return None
        try:
            guess = net_method_x2(model, lo, method, tilesize, ensemble=ensemble) if needs_model(method) \
                else interpolate(lo, 2, method)
        except NativeCrash as e:    # a native plugin died in its worker: no candidate on this clip
            crashed.append(method)
            if log:
                log(crash_note(e, "the self-check weighs the other candidates"))
            return None
        guess = np.clip(temporal_backproject(guess, lo, 2), 0, 1)
        return float(np.mean([psnr(a, b) for a, b in zip(guess, hi)]))

    scores = {m: v for m in methods if (v := score(m, hi, lo)) is not None}
    interp = [m for m in methods if not needs_model(m)] or ["cubic"]
    best = max(interp, key=lambda m: scores.get(m, -np.inf))
    # The interpolators also do the full-size work (the upper rungs, or the whole job when the
    # net is not used), where motion estimation has room: rank them on the sample at full size,
    # halved in time, too (flow needs that room: a small clip's coarse proxy is under its guard).
    full_hi = sample[:n]
    full_lo = rect_downsample(full_hi, 2)
    full = [m for m in candidates if m in INTERPOLATORS and fits(m, full_lo)]
    full_scores = {m: v for m in full if (v := score(m, full_hi, full_lo)) is not None}
    above = max(full_scores, key=full_scores.get) if full_scores else best
    for r in ladder_plan.rungs:
        r.method = above
    nets = [m for m in scores if needs_model(m)]
    if nets:
        top = max(nets, key=scores.get)
        rung.gain_db = scores[top] - scores[best]
        if rung.gain_db >= margin_db:
            rung.method = top
    if log:
        table = ", ".join(f"{m} {v:.2f}" for m, v in sorted(scores.items(), key=lambda kv: -kv[1]))
        ftable = ", ".join(f"{m} {v:.2f}" for m, v in sorted(full_scores.items(), key=lambda kv: -kv[1]))
        log(f"self-check at {rung.size[1]}x{rung.size[0]} on the clip's own x2 (dB): {table} -> "
            f"{rung.method} on the first rung; at {sample.shape[2]}x{sample.shape[1]}: {ftable} -> {above} "
            "for the rest")
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
    helps one level up (the texture's within net won the proxy and lost the first rung, against
    truth: docs/BENCHMARKS.md, bench_seam.py)."""
    x = _at_rung(sample, rung_size, full_size)
    if x.shape[0] < 3:
        return {}
    # (the net over its own base: a net over flow gets flow's x2, cubic's where MVTools crashed)
    return {k: group_seam(np.clip(temporal_backproject(
        net_method_x2(m, x, NET, tilesize, ensemble=ensemble, fallback="cubic"), x, 2), 0, 1), 2)
        for k, m in models.items()}


def fit_and_pick(read, num_frames: int, rung_size: tuple[int, int], full_size: tuple[int, int],
                 window: np.ndarray, train: TrainOptions, engine: EngineOptions, *, log=None, progress=None,
                 cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> tuple[str, str]:
    """``examples="auto"``: train one net per kind in :data:`.fit.AUTO_EXAMPLES`, each with its
    share of the budget, and keep the one whose first rung on the self-check's frames has the
    lower group seam (:func:`first_rung_seams`). Returns (model path, kind).

    Why two nets: which internal examples teach a clip depends on the clip, and the wrong ones
    cost dB. The aliased fan needs within-dimension examples only (mixing in across-dimension ones
    taught its net to turn it backwards, like every interpolator); the rotating texture needs the
    across-dimension ones (within-only lost on its first rung). See docs/BENCHMARKS.md."""
    share = Budget.of(train.preset, train.budget_s, train.iterations).share(len(AUTO_EXAMPLES))
    paths = {}
    for kind in AUTO_EXAMPLES:
        if log:
            log(f"examples {kind}: net {len(paths) + 1} of {len(AUTO_EXAMPLES)}")
        paths[kind] = fit_model(read, num_frames, rung_size, preset=train.preset, examples=kind,
                                budget_s=share.seconds, iterations=share.iterations, log=log, progress=progress,
                                cut_threshold=cut_threshold, padding=train.padding)
    models = {k: engine.load(p) for k, p in paths.items()}
    seams = first_rung_seams(models, window, rung_size, full_size, engine.tilesize, engine.ensemble)
    kind = min(seams, key=seams.get) if seams else "both"
    if log:
        table = ", ".join(f"{k} {v:.2f}" for k, v in sorted(seams.items(), key=lambda kv: kv[1]))
        log(f"group seam of each net's first rung (dB, lower is better): {table or 'too few frames'} "
            f"-> the {kind} net")
    if train.output:
        import shutil

        from .io import atomic_path

        with atomic_path(train.output) as tmp:
            shutil.copyfile(paths[kind], tmp)
    return paths[kind], kind


def self_check_window(read, num_frames: int, cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> np.ndarray:
    """The frames the self-check looks at: those held out of training (:func:`.fit.held_out`; the
    middle of a clip too short to hold any out), the longest shot among them, a centred crop of at
    most ``SELF_CHECK_CROP`` pixels."""
    return self_check_samples(read, num_frames, cut_threshold)[0]


def coarse_size(ladder_plan: LadderPlan, full_size: tuple[int, int]) -> tuple[int, int]:
    """The size of the self-check's coarse proxy made from whole frames: the first rung's, halved."""
    rung = ladder_plan.rungs[0].size
    return max(1, round(rung[0] / 2)), max(1, round(rung[1] / 2))


def self_check_samples(read, num_frames: int, cut_threshold: float = cuts.DEFAULT_THRESHOLD,
                       coarse: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`self_check_window`'s crop, and with ``coarse`` = (h, w) the same frames whole, shrunk
    to that size (for :func:`choose_methods`' ``coarse``), from one read."""
    start, stop = held_out(num_frames)     # frames the trainer never saw
    if stop - start < 8:                   # a very short clip: nothing was held out
        n = min(num_frames, SELF_CHECK_FRAMES)
        start, stop = max(0, (num_frames - n) // 2), max(0, (num_frames - n) // 2) + n
    n = stop - start
    frames = read(list(range(start, start + n)), None)
    # one shot only: the proxy's rect-halving would otherwise average across a cut
    frames = max(cuts.split(frames, cuts.detect(frames, cut_threshold)), key=len)
    h, w = frames.shape[1:3]
    ch, cw = min(h, SELF_CHECK_CROP), min(w, SELF_CHECK_CROP)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    small = resize_spatial(frames, *coarse) if coarse else None
    return np.ascontiguousarray(frames[:, y0:y0 + ch, x0:x0 + cw]), small


# The whole-pipeline self-check (choose_pipeline) shrinks the window by this much in space as it
# halves it in time: along the space-time diagonal each rung then sees motion of the size it sees
# on the clip (paper 4.2), and the run costs a quarter.
PIPELINE_SHRINK = 2


@dataclass(frozen=True)
class Pipeline:
    """One candidate for the whole job: a method per rung of the ladder or, ``direct``, one
    interpolator x N at full size (each followed by back-projection)."""
    methods: tuple[str, ...]
    direct: bool = False

    def describe(self) -> str:
        if self.direct:
            return f"{self.methods[0]} xN at full size"
        return "/".join(self.methods)

    @property
    def uses_net(self) -> bool:
        return any(needs_model(m) for m in self.methods)


@dataclass(frozen=True)
class Blend:
    """A candidate made of the candidates ``parts``: their frames averaged (each exposure's mean
    stays the LTR frame's, as back-projection left it in each)."""
    parts: tuple[Pipeline, ...]

    def describe(self) -> str:
        return "mean of " + " + ".join(p.describe() for p in self.parts)

    @property
    def uses_net(self) -> bool:
        return any(p.uses_net for p in self.parts)


# The self-check also weighs the mean of its best 2 and of its best 3 pipelines with the net (by
# their own scores), measured like the rest: a self-ensemble across the net's pipelines (its
# residual over cubic or over flow, each interpolator above it), as netrun's self-ensemble is one
# across flips. The net's errors differ from pipeline to pipeline, so their mean can beat each:
# on cam03 the two best by the proxy scored 32.95 and 33.08 dB against the truth and their mean
# 33.19. Not means with the pipelines without the net: on city the proxy favoured flow x8 at
# full size averaged with a net ladder, which lost 0.22 dB to flow alone on the truth
# (docs/BENCHMARKS.md, "The mean of the best pipelines"). Each member renders in full, so a mean
# of k costs about k times one.
BLEND_SIZES = (2, 3)


def candidate_pipelines(rungs: int, interpolators, nets=()) -> list[Pipeline]:
    """Every interpolator directly and on every rung; with a model, each net method of ``nets``
    (:data:`.methods.NETS`) on the first rung and each interpolator above it.

    Not the net on the rungs above the first. At full size (the paper's recipe, `--method net`)
    it costs minutes a clip on the CPU and lost on every benchmark clip (x8: fan 17.51 dB against
    19.90 with the net on the first rung only, texture 21.60 against 21.71, city 25.29 against
    26.57; docs/BENCHMARKS.md, "x8 with zstsr"). On the second rung it gained 0.02-0.08 dB over
    the best first-rung pipeline on the real clips, and the proxy cannot vouch for it: the proxy's
    truth is the clip's own frames, which (shrunk) are the net's training targets, so the more of
    the pipeline the net does the more its score measures the net's fit to what it was trained
    on. On fan the proxy ranked the net on two rungs first, and it rendered 1.75 dB below the
    best candidate with the fan turning backwards (docs/BENCHMARKS.md, "The net on the rungs below
    full size")."""
    out = [Pipeline((m,) * rungs, direct=True) for m in interpolators]
    if rungs == 1:        # x2: the ladder is one step at full size
        return out + [Pipeline((n,)) for n in nets]
    out += [Pipeline((m,) * rungs) for m in interpolators]
    out += [Pipeline((n,) + (m,) * (rungs - 1)) for n in nets for m in interpolators]
    return out


def _proxy_pair(sample: np.ndarray, shrink: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(the sample shrunk ``shrink`` x and halved in time, its truth), or None when too short."""
    h, w = sample.shape[1:3]
    hi = sample if shrink == 1 else resize_spatial(sample, max(1, h // shrink), max(1, w // shrink))
    hi = hi[:len(hi) // 2 * 2]
    return (rect_downsample(hi, 2), hi) if len(hi) >= 6 else None


def _plan_for(pipeline: Pipeline, height: int, width: int, factor: int) -> LadderPlan:
    q = plan(height, width, factor)
    q.direct = pipeline.direct
    for r, m in zip(q.rungs, pipeline.methods):
        r.method = m
    return q


def pipeline_fits(pipeline: Pipeline, height: int, width: int, factor: int) -> bool:
    """Whether every interpolator of the pipeline can run where it would on frames of this size
    (flow needs 32 pixels: a candidate that would run another interpolator instead is not
    measured as itself, so it is not a candidate)."""
    q = _plan_for(pipeline, height, width, factor)
    sizes = [(height, width)] if pipeline.direct else [r.size for r in q.rungs]
    return all(fits(m, np.zeros((2, *size, 3), np.float32)) for m, size in zip(pipeline.methods, sizes))


def pipeline_proxy(pipeline: Pipeline, sample: np.ndarray, factor: int, model=None,
                   options: UpsampleOptions | None = None, shrink: int = PIPELINE_SHRINK,
                   memo: dict | None = None) -> float | None:
    """The whole pipeline run on ``sample`` (LTR frames of the clip) shrunk ``shrink`` x in space
    and halved in time (rect: a camera twice as slow), its output averaged back to the sample's
    rate and compared with the sample itself (PSNR, dB; None: too few frames). A ground truth made
    of the clip: it checks how each exposure is split in two, which is what the first rung does on
    the clip and what every rung above must keep; it does not see the finer sub-frames.
    ``memo``: rung results shared by the pipelines measured on the same sample (:class:`.Ladder`)."""
    pair = _proxy_pair(sample, shrink)
    if pair is None:
        return None
    return _proxy_score(_proxy_frames(pipeline, pair[0], pair[1].shape[1:3], factor, model, options, memo), pair[1])


def _proxy_frames(pipeline: Pipeline, lo: np.ndarray, size: tuple[int, int], factor: int, model,
                  options: UpsampleOptions | None, memo: dict | None) -> np.ndarray:
    """The pipeline's output on the proxy's input ``lo``, averaged back to the proxy truth's rate."""
    q = _plan_for(pipeline, *size, factor)
    y = Ladder(q, model, options or UpsampleOptions(factor=factor), flow_fallback=None, memo=memo).run(lo)
    return rect_downsample(y, factor // 2) if factor > 2 else y


def _proxy_score(got: np.ndarray, hi: np.ndarray) -> float:
    return float(np.mean([psnr(a, b) for a, b in zip(got, hi)]))


def choose_pipeline(ladder_plan: LadderPlan, model, sample: np.ndarray, options: UpsampleOptions | None = None,
                    log: Callable[[str], None] | None = None, candidates: tuple[str, ...] = METHODS,
                    net_margin_db: float = 0.0, blends: tuple[int, ...] = BLEND_SIZES) -> LadderPlan | None:
    """Choose the whole pipeline (:func:`candidate_pipelines`, and the :class:`Blend` of the best
    k of those with the net for each k of ``blends``: :data:`BLEND_SIZES`) with the best :func:`pipeline_proxy` on ``sample`` (the
    self-check's frames), and set ``ladder_plan``'s methods and ``direct`` to it (a blend: to its
    first part, and :attr:`.LadderPlan.blend` to the others). A pipeline with the net must beat
    the best without it by ``net_margin_db``. Returns None when the sample is too short (the
    caller falls back to :func:`choose_methods`). No rule fixes what goes above the net or whether
    to climb the ladder: each clip's own measurement does (docs/BENCHMARKS.md, "Selection").
    """
    factor, shrink = ladder_plan.factor, PIPELINE_SHRINK
    pair = _proxy_pair(sample, shrink)
    if pair is None:
        return None
    lo, hi = pair
    size = hi.shape[1:3]
    interps = [m for m in candidates if m in INTERPOLATORS]
    nets = [m for m in candidates if m in NETS] if model is not None else []
    scores, frames, crashed, memo = {}, {}, False, {}   # memo: the net's rung runs once for every pipeline above it
    for p in candidate_pipelines(len(ladder_plan.rungs), interps, nets):
        if not pipeline_fits(p, *size, factor) or (crashed and any(native(m) for m in p.methods)):
            continue
        try:
            frames[p] = _proxy_frames(p, lo, size, factor, model if p.uses_net else None, options, memo)
        except NativeCrash as e:   # flow died on this clip: every pipeline with it is left out, said once
            crashed = True
            if log:
                log(crash_note(e, "the self-check leaves out every pipeline with it"))
            continue
        scores[p] = _proxy_score(frames[p], hi)
    if not scores:
        return None
    ranked = sorted((p for p in scores if p.uses_net), key=lambda p: -scores[p])
    for k in blends:
        if 2 <= k <= len(ranked):
            scores[Blend(tuple(ranked[:k]))] = _proxy_score(np.mean([frames[p] for p in ranked[:k]], axis=0), hi)
    plain = {p: v for p, v in scores.items() if not p.uses_net}
    best = max(plain, key=plain.get) if plain else None
    with_net = {p: v for p, v in scores.items() if p.uses_net}
    pick = best
    if with_net:
        top = max(with_net, key=with_net.get)
        if best is None or with_net[top] >= plain[best] + net_margin_db:
            pick = top
        ladder_plan.rungs[0].gain_db = with_net[top] - (plain[best] if best else 0.0)
    parts = pick.parts if isinstance(pick, Blend) else (pick,)
    for r, m in zip(ladder_plan.rungs, parts[0].methods):
        r.method = m
    ladder_plan.direct = parts[0].direct
    ladder_plan.blend = [replace(ladder_plan, rungs=[replace(r, method=m, gain_db=None) for r, m in zip(ladder_plan.rungs, p.methods)],
                                 direct=p.direct, blend=[]) for p in parts[1:]]
    if log:
        table = ", ".join(f"{p.describe()} {v:.2f}" for p, v in sorted(scores.items(), key=lambda kv: -kv[1]))
        log(f"self-check, each whole pipeline on the clip halved in time (dB): {table} -> {pick.describe()}")
    return ladder_plan
