"""From a clip and its options to a ladder, in three steps that each can be read and run alone.

1. :func:`train`: the model, trained on the clip when none is given (:func:`.fit.fit_model`;
   ``examples="auto"``: one net per kind, the one with the lower group seam kept,
   :func:`.selfcheck.fit_and_pick`).
2. :func:`select`: the whole pipeline (each rung's method, or one interpolation at full size), by
   the "do no harm" self-check on the clip's held-out frames (:func:`.selfcheck.choose_pipeline`;
   :func:`.selfcheck.choose_methods` where they are too few); ``method="net"`` skips it (the net on
   every rung).
3. :func:`finetune`: with ``finetune``, where the net took the first rung, a copy of it
   fine-tuned for every rung above (:func:`.fit.finetune_rungs`).

:func:`build_ladder` runs them in that order; :meth:`.stream.Renderer.create` wraps it. The training
budget (:func:`split_budget`) is shared when fine-tuning: half for the first rung's net, the other
half split among the rungs above.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .errors import ZstsrError
from .fit import Budget, NotTrainable, finetune_rungs, fit_model
from .ladder import Ladder, LadderPlan, plan
from .methods import AUTO, METHODS, NETS, needs_model, require
from .options import TrainOptions, UpsampleOptions
from .selfcheck import BLEND_SIZES, choose_methods, choose_pipeline, coarse_size, fit_and_pick, self_check_samples


@dataclass(frozen=True)
class Clip:
    """The clip a ladder is built for: its frame size and, to train and self-check, its frames.

    ``read(indices, size=None)`` returns those LTR frames as float32 ``(n, H, W, 3)``, shrunk to
    ``size`` = (h, w) when given (antialiased bicubic, ``resample.resize_spatial``)."""
    height: int
    width: int
    read: Callable[..., np.ndarray] | None = None
    num_frames: int = 0

    def need_frames(self, what: str, hint: str = "") -> None:
        if self.read is None or self.num_frames <= 0:
            raise ZstsrError(f"{what} needs the clip's frames{hint}")


@dataclass
class Trained:
    """What :func:`train` gives: the model's path, the kind of examples it was trained on (None:
    given, or the preset's), and the self-check's frames when training already read them (the crop, and the whole frames at
    the coarse proxy's size: :func:`.selfcheck.self_check_samples`)."""
    path: str
    examples: str | None = None
    window: np.ndarray | None = None
    coarse: np.ndarray | None = None


def wants_finetune(options: UpsampleOptions, ladder_plan: LadderPlan) -> bool:
    """Fine-tuning is asked for and can happen: the net may run, and there are rungs above the first."""
    return options.train.finetune and (options.method == AUTO or needs_model(options.method)) \
        and len(ladder_plan.rungs) > 1


def split_budget(train_options: TrainOptions, ladder_plan: LadderPlan, finetune: bool) -> tuple[Budget, Budget | None]:
    """(the first rung's training :class:`.fit.Budget`, each upper rung's fine-tuning budget): with
    ``finetune`` half of the whole (the given limits, or the preset's) each, the second half split
    among the rungs above; else the whole and None."""
    if not finetune:   # (None and None: the preset's limits, looked up only if it trains)
        return Budget(train_options.budget_s, train_options.iterations), None
    half = Budget.of(train_options.preset, train_options.budget_s, train_options.iterations).share(2)
    return half, half.share(len(ladder_plan.rungs) - 1)


def train(model_path: str | None, ladder_plan: LadderPlan, options: UpsampleOptions, clip: Clip,
          budget: Budget, *, log=None, progress=None) -> Trained:
    """Step 1: ``model_path`` as it is, or a model trained on the clip at the first rung's size."""
    if model_path is not None:
        return Trained(model_path, options.train.examples)
    clip.need_frames("training a model")
    rung, full = ladder_plan.rungs[0].size, (clip.height, clip.width)
    train_options, cuts = options.train, options.cut_threshold
    if (train_options.examples or AUTO) == AUTO:
        window, coarse = self_check_samples(clip.read, clip.num_frames, cuts, coarse_size(ladder_plan, full))
        path, kind = fit_and_pick(clip.read, clip.num_frames, rung, full, window,
                                  replace(train_options, budget_s=budget.seconds, iterations=budget.iterations),
                                  options.engine, log=log,
                                  progress=progress, cut_threshold=cuts)
        return Trained(path, kind, window, coarse)
    path = fit_model(clip.read, clip.num_frames, rung, preset=train_options.preset, budget_s=budget.seconds,
                     iterations=budget.iterations, examples=train_options.examples, output=train_options.output, log=log, progress=progress,
                     cut_threshold=cuts, padding=train_options.padding)
    return Trained(path, train_options.examples)


def select(ladder_plan: LadderPlan, model, options: UpsampleOptions, clip: Clip, window: np.ndarray | None = None,
           *, coarse: np.ndarray | None = None, candidates: tuple[str, ...] = METHODS, log=None,
           blends: tuple[int, ...] = BLEND_SIZES) -> LadderPlan:
    """Step 2 (``method="auto"``): the whole pipeline, chosen by the self-check on ``window`` and
    ``coarse`` (the frames :func:`.selfcheck.self_check_samples` picks; read here when not given);
    ``blends``: the means of the best pipelines it weighs too (:func:`.selfcheck.choose_pipeline`)."""
    clip.need_frames("the self-check", " (or pass method='net')")
    full = (clip.height, clip.width)
    if window is None:
        window, coarse = self_check_samples(clip.read, clip.num_frames, options.cut_threshold,
                                            coarse_size(ladder_plan, full))
    chosen = choose_pipeline(ladder_plan, model, window, options, log=log, candidates=candidates, blends=blends)
    if chosen is not None:
        return chosen
    # too few frames to halve the sample and still run a pipeline: the first rung's proxy alone
    return choose_methods(ladder_plan, model, window, full, log=log, tilesize=options.engine.tilesize,
                          candidates=candidates, ensemble=options.engine.ensemble, coarse=coarse)


def finetune(trained: Trained, ladder_plan: LadderPlan, options: UpsampleOptions, clip: Clip, budget: Budget,
             *, log=None, progress=None) -> dict:
    """Step 3: where the net took the first rung, the net on every rung above too (run as on the
    first rung: a method of :data:`.methods.NETS`), each rung's copy fine-tuned on that rung's own
    input for ``budget``. Returns rung index -> model (and sets those rungs' method to the first
    rung's); {} when the net did not take the first rung."""
    first = ladder_plan.rungs[0].method
    if not needs_model(first):
        if log:
            log("no fine-tuning: the net did not take the first rung")
        return {}
    for r in ladder_plan.rungs[1:]:
        r.method = first
    paths = finetune_rungs(trained.path, ladder_plan, clip.read, clip.num_frames, options.engine,
                           budget_s=budget.seconds, iterations=budget.iterations, preset=options.train.preset,
                           examples=trained.examples, log=log, progress=progress,
                           cut_threshold=options.cut_threshold)
    return {j: options.engine.load(p) for j, p in paths.items()}


def build_ladder(model_path: str | None, options: UpsampleOptions, clip: Clip, *, log=None, progress=None,
                 candidates: tuple[str, ...] = METHODS) -> Ladder:
    """The ladder for ``clip``: checks ``options``, then trains, selects and fine-tunes as they say."""
    options.check()
    method = options.method
    if method != AUTO:   # asked for by name: refuse what it cannot do rather than do something else
        require(method, clip.height, clip.width)
    ladder_plan = plan(clip.height, clip.width, options.factor, "cubic" if method == AUTO else method)
    model, rung_models = None, {}
    if method == AUTO or method in NETS:
        tune = wants_finetune(options, ladder_plan)
        if tune:
            clip.need_frames("fine-tuning")
        first_budget, rung_budget = split_budget(options.train, ladder_plan, tune)
        try:
            trained = train(model_path, ladder_plan, options, clip, first_budget, log=log, progress=progress)
        except NotTrainable as e:   # a clip too small or short for examples (docs/SAFETY.md)
            if method in NETS:
                raise ZstsrError(f"{e}; --method {method} needs a net: use --method auto or an interpolator") from None
            if log:
                log(f"no net: the clip is {e}; using the best interpolator + back-projection")
            trained, tune = Trained(""), False
        model = options.engine.load(trained.path) if trained.path else None
        if method == AUTO:
            # (fine-tuning puts the net on every rung of the pick, so a mean of pipelines that
            # differ above the first rung would not be what the self-check measured)
            ladder_plan = select(ladder_plan, model, options, clip, trained.window, coarse=trained.coarse,
                                 candidates=candidates, log=log, blends=() if tune else BLEND_SIZES)
        if tune:
            rung_models = finetune(trained, ladder_plan, options, clip, rung_budget, log=log, progress=progress)
    ladder = Ladder(ladder_plan, model, options, rung_models=rung_models,
                    flow_fallback="cubic" if method == AUTO else None, log=log)
    if log:
        if ladder_plan.blend:
            log(f"pipeline: {ladder_plan.describe()}")
        elif ladder.direct:
            log(f"no ladder: {ladder_plan.rungs[0].method} interpolation x{options.factor} at full size "
                "+ back-projection")
        else:
            log(f"ladder: {ladder_plan.describe()}")
        if model is not None and not ladder_plan.uses_net:
            log("the net did not beat interpolation on this clip's own examples: "
                + ("using the mean above" if ladder_plan.blend else
                   f"using {ladder_plan.rungs[0].method} interpolation + back-projection"))
    return ladder
