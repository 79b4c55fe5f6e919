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
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from . import cuts
from .errors import ZstsrError
from .fit import (AUTO_EXAMPLES, SELF_CHECK_FRAMES, NotTrainable, finetune_rungs, fit_model, held_out,
                  preset_budget)
from .ladder import (DEFAULT_ENSEMBLE, METHODS, Ladder, check_ensemble, check_flow, choose_methods,
                     first_rung_seams, plan)

# Memory per chunk: a chunk's ladder holds a few full-size arrays of (chunk * factor) frames.
CHUNK_BYTES = 768 * 2 ** 20
SELF_CHECK_CROP = 512    # the self-check looks at a centred crop of at most this size (cheap at 4K)


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
    def create(cls, model_path: str | None, factor: int, *, height: int, width: int,
               read: Callable[[list[int]], np.ndarray] | None = None, num_frames: int = 0,
               provider: str = "auto", device_id: int = 0, fp16: bool = False, tilesize: int = 0,
               overlap: int = 0, num_streams: int = 1, method: str = "auto", ensemble: int = DEFAULT_ENSEMBLE,
               log: Callable[[str], None] | None = None, progress=None, train_options: dict | None = None,
               cut_threshold: float = cuts.DEFAULT_THRESHOLD, candidates: tuple[str, ...] = METHODS,
               finetune: bool = False) -> "Renderer":
        """Load (or, with ``model_path=None`` and ``method`` not ``cubic``, train) the model, decide
        each rung's method and return a renderer.

        ``read(indices, size=None)`` returns those LTR frames as float32 ``(n, H, W, 3)``, shrunk
        to ``size`` = (h, w) when given (antialiased bicubic, ``resample.resize_spatial``); it is
        needed to train and for the self-check (``method="auto"``). ``method``: ``auto`` (per-rung
        self-check among ``candidates``), ``net`` (the net on every rung, the paper's recipe), or
        one interpolator on every rung without a net: ``cubic``, ``linear``, ``flow``.
        ``cut_threshold``: scene-cut detection (:mod:`.cuts`); 0 turns it off. ``ensemble``: the
        net's answer is the mean over that many flipped/rotated/time-reversed copies of its input
        (:func:`.ladder.net_x2`). ``finetune``: where the net takes the first rung, every rung
        above it gets the net too, fine-tuned on that rung's own input (:func:`.fit.finetune_rungs`);
        the training budget is shared: half for the first rung's net (when it is trained here),
        the other half split among the rungs above.
        """
        from .model import load_model

        if method not in ("auto",) + METHODS:
            raise ZstsrError(f"method must be one of auto, {', '.join(METHODS)}; got {method!r}")
        check_ensemble(ensemble)
        if method == "flow":   # asked for by name: refuse what it cannot do rather than do something else
            check_flow(height, width)
        ladder_plan = plan(height, width, factor, "cubic" if method == "auto" else method)
        model, rung_models = None, {}
        opts = dict(train_options or {})
        upper = len(ladder_plan.rungs) - 1
        finetune = finetune and method in ("auto", "net") and upper > 0
        if finetune:
            if read is None or num_frames <= 0:
                raise ZstsrError("fine-tuning needs the clip's frames")
            total = opts.get("budget_s") or preset_budget(opts.get("preset"))
            opts["budget_s"] = total / 2
        if method in ("auto", "net"):
            window = None
            if model_path is None:
                if read is None or num_frames <= 0:
                    raise ZstsrError("training a model needs the clip's frames")
                try:
                    if (opts.get("examples") or "auto") == "auto":
                        window = _self_check_window(read, num_frames, cut_threshold)
                        model_path, opts["examples"] = _fit_and_pick(
                            read, num_frames, ladder_plan.rungs[0].size, (height, width), window, opts,
                            provider=provider, tilesize=tilesize, ensemble=ensemble, log=log,
                            progress=progress, cut_threshold=cut_threshold)
                    else:
                        model_path = fit_model(read, num_frames, ladder_plan.rungs[0].size, log=log,
                                               progress=progress, cut_threshold=cut_threshold, **opts)
                except NotTrainable as e:
                    if method == "net":
                        raise ZstsrError(f"{e}; --method net needs a net: use --method auto or an "
                                         "interpolator (see docs/SAFETY.md for the minimum sizes)") from None
                    if log:
                        log(f"no net: the clip is {e}; using the best interpolator + back-projection")
                    finetune = False
            model = load_model(model_path, provider, device_id, fp16, num_threads=0) if model_path else None
            if method == "auto":
                if read is None or num_frames <= 0:
                    raise ZstsrError("the self-check needs the clip's frames (or pass method='net')")
                if window is None:
                    window = _self_check_window(read, num_frames, cut_threshold)
                ladder_plan = choose_methods(ladder_plan, model, window, (height, width), log=log,
                                             tilesize=tilesize, candidates=candidates, ensemble=ensemble)
            if finetune and ladder_plan.rungs[0].method == "net":
                for r in ladder_plan.rungs[1:]:
                    r.method = "net"
                paths = finetune_rungs(model_path, ladder_plan, read, num_frames, budget_s=opts["budget_s"] / upper,
                                       preset=opts.get("preset"), examples=opts.get("examples"), ensemble=ensemble,
                                       provider=provider, log=log, progress=progress, cut_threshold=cut_threshold)
                rung_models = {j: load_model(p, provider, device_id, fp16, num_threads=0) for j, p in paths.items()}
            elif finetune and log:
                log("no fine-tuning: the net did not take the first rung")
        ladder = Ladder(ladder_plan, model, tilesize, overlap, ensemble=ensemble, rung_models=rung_models,
                        flow_fallback=None if method == "flow" else "cubic", log=log)
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


def _fit_and_pick(read, num_frames: int, rung_size: tuple[int, int], full_size: tuple[int, int],
                  window: np.ndarray, opts: dict, *, provider: str, tilesize: int, ensemble: int,
                  log=None, progress=None, cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> tuple[str, str]:
    """``examples="auto"``: train one net per kind in :data:`.fit.AUTO_EXAMPLES`, each with its
    share of the budget, and keep the one whose first rung on the self-check's frames has the
    lower group seam (:func:`.ladder.first_rung_seams`). Returns (model path, kind).

    Why two nets: which internal examples teach a clip depends on the clip, and the wrong ones
    cost dB. The aliased fan needs within-dimension examples only (mixing in across-dimension ones
    taught its net to turn it backwards, like every interpolator); the rotating texture needs the
    across-dimension ones (within-only lost 2 dB on its first rung). See docs/BENCHMARKS.md."""
    from .model import load_model

    total = opts.get("budget_s") or preset_budget(opts.get("preset"))
    share = {k: v for k, v in opts.items() if k not in ("examples", "budget_s", "output")}
    paths = {}
    for kind in AUTO_EXAMPLES:
        if log:
            log(f"examples {kind}: net {len(paths) + 1} of {len(AUTO_EXAMPLES)}")
        paths[kind] = fit_model(read, num_frames, rung_size, examples=kind, budget_s=total / len(AUTO_EXAMPLES),
                                log=log, progress=progress, cut_threshold=cut_threshold, **share)
    models = {k: load_model(p, provider, num_threads=0) for k, p in paths.items()}
    seams = first_rung_seams(models, window, rung_size, full_size, tilesize, ensemble)
    kind = min(seams, key=seams.get) if seams else "both"
    if log:
        table = ", ".join(f"{k} {v:.2f}" for k, v in sorted(seams.items(), key=lambda kv: kv[1]))
        log(f"group seam of each net's first rung (dB, lower is better): {table or 'too few frames'} "
            f"-> the {kind} net")
    if opts.get("output"):
        import shutil

        from .io import atomic_path

        with atomic_path(opts["output"]) as tmp:
            shutil.copyfile(paths[kind], tmp)
    return paths[kind], kind


def _self_check_window(read, num_frames: int, cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> np.ndarray:
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
    return np.ascontiguousarray(frames[:, y0:y0 + ch, x0:x0 + cw])


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
