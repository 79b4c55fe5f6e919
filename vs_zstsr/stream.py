"""Rendering long videos in temporal chunks, with the memory bound independent of their length.

A :class:`Renderer` turns a window of LTR frames into the HTR frames of its inside. Every step of
the ladder reaches only a few LTR frames in time (the net's receptive field, cubic's two frames,
one rect group), so a window that carries ``context`` frames on each side of its inside gives the
same inside as the whole clip would; at the clip's ends the window is simply cut short, which is
exactly what the whole clip sees there (clamped edges). That makes rendering stateless: any chunk,
in any order, from any thread, gives the same frames, which is what a frame server needs.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator

import numpy as np

from . import cuts
from .errors import ZstsrError
from .fit import finetune_rungs, fit_model, preset_budget
from .ladder import Ladder, plan
from .methods import AUTO, INTERPOLATORS, METHODS, NET
from .options import UpsampleOptions
from .selfcheck import choose_methods, choose_pipeline, fit_and_pick, self_check_window

# Memory per chunk: a chunk's ladder holds a few full-size arrays of (chunk * factor) frames.
CHUNK_BYTES = 768 * 2 ** 20


def chunk_frames(height: int, width: int, factor: int, context: int) -> int:
    per_frame = height * width * 3 * 4 * factor * 4
    return int(np.clip(CHUNK_BYTES // max(1, per_frame), 2, 32))


@dataclass
class Renderer:
    ladder: Ladder
    chunk: int
    log: Callable[[str], None] | None = None
    cut_threshold: float = cuts.DEFAULT_THRESHOLD   # 0: no scene-cut detection

    @property
    def factor(self) -> int:
        return self.ladder.factor

    @property
    def context(self) -> int:
        return self.ladder.context

    @classmethod
    def create(cls, model_path: str | None, options: UpsampleOptions, *, height: int, width: int,
               read: Callable[[list[int]], np.ndarray] | None = None, num_frames: int = 0,
               log: Callable[[str], None] | None = None, progress=None,
               candidates: tuple[str, ...] = METHODS) -> "Renderer":
        """Load (or, with ``model_path=None`` and a method that uses the net, train) the model,
        decide each rung's method and return a renderer for ``options`` (:mod:`.options`).

        ``read(indices, size=None)`` returns those LTR frames as float32 ``(n, H, W, 3)``, shrunk
        to ``size`` = (h, w) when given (antialiased bicubic, ``resample.resize_spatial``); it is
        needed to train and for the self-check (``method="auto"``). ``options.method``: ``auto``
        (per-rung self-check among ``candidates``), ``net`` (the net on every rung, the paper's
        recipe), or one interpolator on every rung without a net (:data:`.methods.INTERPOLATORS`).
        ``options.train.finetune``: where the net takes the first rung, every rung above it gets
        the net too, fine-tuned on that rung's own input (:func:`.fit.finetune_rungs`); the
        training budget is shared: half for the first rung's net (when it is trained here), the
        other half split among the rungs above.
        """
        from .model import load_model

        options.check()
        method, factor, engine, train = options.method, options.factor, options.engine, options.train
        if method in INTERPOLATORS:   # asked for by name: refuse what it cannot do rather than do something else
            INTERPOLATORS[method].require(height, width)
        cut_threshold = options.cut_threshold
        ladder_plan = plan(height, width, factor, "cubic" if method == AUTO else method)
        model, rung_models = None, {}
        upper = len(ladder_plan.rungs) - 1
        finetune = train.finetune and method in (AUTO, NET) and upper > 0
        budget_s, examples = train.budget_s, train.examples
        if finetune:
            if read is None or num_frames <= 0:
                raise ZstsrError("fine-tuning needs the clip's frames")
            budget_s = (budget_s or preset_budget(train.preset)) / 2
        if method in (AUTO, NET):
            window = None
            if model_path is None:
                if read is None or num_frames <= 0:
                    raise ZstsrError("training a model needs the clip's frames")
                if (examples or AUTO) == AUTO:
                    window = self_check_window(read, num_frames, cut_threshold)
                    model_path, examples = fit_and_pick(
                        read, num_frames, ladder_plan.rungs[0].size, (height, width), window,
                        replace(train, budget_s=budget_s), engine, log=log, progress=progress,
                        cut_threshold=cut_threshold)
                else:
                    model_path = fit_model(read, num_frames, ladder_plan.rungs[0].size, preset=train.preset,
                                           budget_s=budget_s, examples=examples, output=train.output, log=log,
                                           progress=progress, cut_threshold=cut_threshold)
            model = load_model(model_path, engine.provider, engine.device_id, engine.fp16, num_threads=0)
            if method == AUTO:
                if read is None or num_frames <= 0:
                    raise ZstsrError("the self-check needs the clip's frames (or pass method='net')")
                if window is None:
                    window = self_check_window(read, num_frames, cut_threshold)
                chosen = choose_pipeline(ladder_plan, model, window, options, log=log, candidates=candidates)
                if chosen is None:      # too few frames to halve twice: the first rung's proxy alone
                    chosen = choose_methods(ladder_plan, model, window, (height, width), log=log,
                                            tilesize=engine.tilesize, candidates=candidates,
                                            ensemble=engine.ensemble)
                ladder_plan = chosen
            if finetune and ladder_plan.rungs[0].method == NET:
                for r in ladder_plan.rungs[1:]:
                    r.method = NET
                paths = finetune_rungs(model_path, ladder_plan, read, num_frames, engine, budget_s=budget_s / upper,
                                       preset=train.preset, examples=examples, log=log, progress=progress,
                                       cut_threshold=cut_threshold)
                rung_models = {j: load_model(p, engine.provider, engine.device_id, engine.fp16, num_threads=0)
                               for j, p in paths.items()}
            elif finetune and log:
                log("no fine-tuning: the net did not take the first rung")
        ladder = Ladder(ladder_plan, model, options, rung_models=rung_models,
                        flow_fallback=None if method in INTERPOLATORS else "cubic", log=log)
        if log:
            if ladder.direct:
                log(f"no ladder: {ladder_plan.rungs[0].method} interpolation x{factor} at full size "
                    "+ back-projection")
            else:
                log(f"ladder: {ladder_plan.describe()}")
            if model is not None and not ladder_plan.uses_net:
                log("the net did not beat interpolation on this clip's own examples: "
                    f"using {ladder_plan.rungs[0].method} interpolation + back-projection")
        return cls(ladder, chunk_frames(height, width, factor, ladder.context), log, cut_threshold)

    def render(self, window: np.ndarray, lead: int, count: int, cut_at=None) -> np.ndarray:
        """HTR frames of LTR frames ``lead .. lead+count-1`` of ``window`` (see module doc).

        Each shot in the window is run through the ladder on its own, so no output frame reads
        a frame of another shot; a shot's ends are handled like the clip's ends. ``cut_at``: the
        window indices where a new shot starts (e.g. from VapourSynth's ``_SceneChangePrev``
        props); None: detect them (:func:`.cuts.detect`, pairwise, so every window of a clip
        finds the same cuts and chunked rendering still equals whole-clip rendering).
        """
        if lead < 0 or count < 1 or lead + count > window.shape[0]:
            raise ValueError(f"bad window slice {lead}+{count} of {window.shape[0]} frames")
        if cut_at is None:
            cut_at = cuts.detect(window, self.cut_threshold)
        parts = []
        for a, b in cuts.segments(window.shape[0], cut_at):
            lo, hi = max(a, lead), min(b, lead + count)
            if lo < hi:
                parts.append(self.ladder.run(window[a:b], keep=(lo - a, hi - lo)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def window_bounds(self, first: int, count: int, total: int) -> tuple[int, int]:
        """The LTR frames ``[a, b)`` a chunk ``[first, first+count)`` must be given."""
        return max(0, first - self.context), min(total, first + count + self.context)


def upsample_stream(frames: Iterable[np.ndarray], renderer: Renderer, total: int | None = None
                    ) -> Iterator[np.ndarray]:
    """Upsample a stream of LTR frames, keeping only one chunk and its context in memory."""
    ctx, step = renderer.context, renderer.chunk
    buf: collections.deque = collections.deque()  # LTR frames from index `base` on
    base = 0      # clip index of buf[0]
    done = 0      # LTR frames whose output has been yielded
    it = iter(frames)
    ended = False
    while True:
        while not ended and len(buf) < (done - base) + step + ctx:
            f = next(it, None)
            if f is None:
                ended = True
            else:
                buf.append(f)
        have = base + len(buf)
        if done >= have:
            break
        count = min(step, have - done)
        window = np.stack(buf)
        lead = done - base
        yield from renderer.render(window, lead, count)
        done += count
        while base < done - ctx:  # drop what no later chunk needs as context
            buf.popleft()
            base += 1
