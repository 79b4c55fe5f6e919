"""Train a clip's model at first use and keep it in the user's cache.

The trainer needs torch, which the runtime never imports at module level: this module imports
``zstsr_trainer`` and ``zstsr_export`` only inside the functions that train
(:func:`training_modules`), and only when no cached model exists; :func:`finetune_rungs` trains
the per-rung copies of ``--finetune`` the same way. The training set is the LTR clip shrunk to the
ladder's first rung (the coarse scale the net works at), at most ``max_frames`` frames taken as
evenly spread runs of consecutive frames, so a feature film costs no more memory to train on than
a short clip.
"""
from __future__ import annotations

import contextvars
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import cuts
from .errors import ZstsrError
from .options import PRESET_PADDING

SELF_CHECK_FRAMES = 32   # LTR frames the self-check looks at, at most
RUN = 32  # consecutive LTR frames per training run (room for two 16-frame crops)
READ_BATCH = 8  # frames read at once
# examples="auto" (the runtime's default): one net per kind, the budget split between them, and
# the one with the lower group seam on its first rung is kept (selfcheck.fit_and_pick).
AUTO_EXAMPLES = ("within", "both")


class NotTrainable(ZstsrError):
    """The clip is too small or too short to make training examples from (its message says why)."""


# False while a caller that must not train builds its ladder (the filter's ``train=False``): a
# model missing from the cache is then an error (:class:`NoModel`) instead of a training run.
TRAINING_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar("zstsr_training_allowed", default=True)


class NoModel(ZstsrError):
    """No model for this clip in the cache, and training is not allowed here."""


def cache_dir() -> Path:
    base = os.environ.get("ZSTSR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "zstsr")
    return Path(base)


def held_out(num_frames: int) -> tuple[int, int]:
    """The LTR frames ``[start, stop)`` kept out of training for the "do no harm" self-check.

    The self-check scores the net on a shrunk, temporally halved copy of the input; the trainer's
    pyramid draws examples from exactly such copies (its motion-matched levels), so without a
    hold-out the self-check would grade the net on frames it memorised. The last quarter of the
    clip (8 to 32 frames) is held out; clips under 16 frames hold nothing out (the self-check then
    sees training frames). Content that repeats (a turning fan) still looks alike in both parts:
    there the check can trust a net that loses (docs/BENCHMARKS.md)."""
    if num_frames < 16:
        return num_frames, num_frames
    n = min(SELF_CHECK_FRAMES, max(8, num_frames // 4))
    return num_frames - n, num_frames


def training_frames(read: Callable[..., np.ndarray], num_frames: int, size: tuple[int, int],
                    max_frames: int = 128, cut_threshold: float = cuts.DEFAULT_THRESHOLD,
                    crop: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Up to ``max_frames`` LTR frames before the held-out ones (:func:`held_out`), shrunk to
    ``size``: all of them when they are few, else evenly spread runs of ``RUN`` frames; each split
    at its scene cuts. Returns the pieces (the trainer never draws an example across two of them:
    runs are not contiguous, shots differ). ``crop=(h, w)``: keep only a centred crop of each frame,
    cut as the frames are read (a few at a time), so full-size frames never pile up in memory."""
    usable = held_out(num_frames)[0]
    if usable <= max_frames:
        runs = [list(range(usable))]
    else:
        n_runs = max(1, max_frames // RUN)
        starts = np.linspace(0, usable - RUN, n_runs).astype(int)
        runs = [list(range(s, s + RUN)) for s in starts]
    pieces = []
    for r in runs:
        parts = []
        for k in range(0, len(r), READ_BATCH):
            f = read(r[k:k + READ_BATCH], size).astype(np.float32)
            if crop is not None:
                (h, w), (ch, cw) = f.shape[1:3], crop
                f = np.ascontiguousarray(f[:, (h - ch) // 2:(h - ch) // 2 + ch, (w - cw) // 2:(w - cw) // 2 + cw])
            parts.append(f)
        frames = np.concatenate(parts)
        pieces += cuts.split(frames, cuts.detect(frames, cut_threshold))
    return pieces


def default_preset() -> str:
    from .model import gpu_count

    return "paper" if gpu_count() > 0 else "fast"


def training_modules():
    """(zstsr_trainer, zstsr_export), or one clear error when torch/onnx are not installed."""
    try:
        import zstsr_export
        import zstsr_trainer
    except ImportError as e:
        raise ZstsrError(f"training needs torch and onnx ({e.name} is missing): "
                         "pip install 'zstsr[train]', or pass a trained --model") from None
    return zstsr_trainer, zstsr_export


def train_config(preset: str | None = None, budget_s: float | None = None, examples: str | None = None,
                 iterations: int | None = None, base: str | None = None, padding: str | None = None):
    """The preset (default: the machine's) with the user's limits, kind of examples and base (what
    the residual is learnt over: :data:`.methods.NET_BASES`). A budget or iteration count given
    here replaces both of the preset's limits (see :class:`Budget`)."""
    zstsr_trainer, _ = training_modules()
    preset = preset or default_preset()
    if preset not in zstsr_trainer.PRESETS:
        raise ZstsrError(f"unknown preset {preset!r}; choose from {', '.join(zstsr_trainer.PRESETS)}")
    changes = {k: v for k, v in (("examples", examples), ("base", base), ("padding", padding)) if v}
    if budget_s or iterations:
        changes.update(budget_s=float(budget_s) if budget_s else None, max_iters=int(iterations) if iterations else None)
    return zstsr_trainer.PRESETS[preset].replace(**changes)


@dataclass(frozen=True)
class Budget:
    """How long a training run may go: wall-clock seconds and iterations, whichever ends first
    (None: no limit of that kind; the learning-rate policy may stop it earlier still).

    The presets stop on iterations, with the seconds as a cap for slow machines: a wall-clock
    budget alone trains a net to a quality that depends on the machine's load (on a shared 2-core
    machine two nets of 180 s got 193 and 95 iterations where they get ~1400 alone:
    docs/BENCHMARKS.md, "Quality per training iteration"), so the same clip gave different
    outputs from run to run. A user's ``budget`` alone means "train for this long", as it always
    did; ``iterations`` alone means exactly that many. Both None: the preset's (:meth:`of` looks
    them up, which needs the trainer)."""
    seconds: float | None = None
    iterations: int | None = None

    @classmethod
    def of(cls, preset: str | None = None, budget_s: float | None = None, iterations: int | None = None) -> "Budget":
        """The limits a job trains under: the user's (either or both), else the preset's (the rule
        is :func:`train_config`'s)."""
        return cls.of_config(train_config(preset, budget_s, iterations=iterations))

    @classmethod
    def of_config(cls, config) -> "Budget":
        """The limits of a trainer config (``budget_s``, ``max_iters``)."""
        return cls(config.budget_s, config.max_iters)

    def share(self, n: int) -> "Budget":
        """One of ``n`` equal shares (two nets, or the rungs of a fine-tuning)."""
        return Budget(None if self.seconds is None else self.seconds / n,
                      None if self.iterations is None else max(1, self.iterations // n))

    def describe(self) -> str:
        parts = ([f"{self.iterations} iterations"] if self.iterations else []) + \
                ([f"{self.seconds:.0f} s"] if self.seconds else [])
        return " or ".join(parts) if parts else "until the learning rate bottoms out"


def fit_model(read, num_frames: int, size: tuple[int, int], *, preset: str | None = None,
              budget_s: float | None = None, iterations: int | None = None, examples: str | None = None,
              key: str | None = None, base: str | None = None, padding: str | None = None,
              output: str | None = None, log: Callable[[str], None] | None = None, progress=None,
              max_frames: int = 128, cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> str:
    """Train (or find in the cache) the model for a clip; return the ONNX path. ``base``: what its
    residual is learnt over (:data:`.methods.NET_BASES`; default: the preset's, cubic);
    ``padding``: its layers' (:data:`.options.PADDINGS`; default: the preset's)."""
    preset = preset or default_preset()
    target = Path(output) if output else cached_model_path(read, num_frames, size, preset=preset, budget_s=budget_s,
                                                           iterations=iterations, examples=examples,
                                                           cut_threshold=cut_threshold, key=key, base=base,
                                                           padding=padding)
    if output is None and intact(target, log):
        if log:
            log(f"using the model trained earlier for this clip: {target}")
        return str(target)
    if not TRAINING_ALLOWED.get():
        raise NoModel(f"no model trained for this clip in {target.parent}, and training is off")
    zstsr_trainer, zstsr_export = training_modules()
    config = train_config(preset, budget_s, examples, iterations, base, padding)
    ltr = training_frames(read, num_frames, size, max_frames, cut_threshold)
    if log:
        shots = f" in {len(ltr)} pieces (runs and shots)" if len(ltr) > 1 else ""
        over = f" over {config.base}" if config.base != "cubic" else ""
        over += f" with {config.padding} padding"
        log(f"training the {preset} net{over} on {sum(len(p) for p in ltr)} frames{shots} at {size[1]}x{size[0]}"
            + f" for up to {Budget.of_config(config).describe()}")
    result = train_or_explain(zstsr_trainer, ltr, config, progress=progress)
    if log:
        log(f"trained {result.iterations} iterations in {result.seconds:.0f} s ({result.precision}); loss "
            f"{result.loss_ratio:.3f} x cubic's on its own examples")
    target.parent.mkdir(parents=True, exist_ok=True)
    zstsr_export.export_onnx(result, str(target), {   # the result: its config, iterations, seconds too
        "training_scale": [int(size[0]), int(size[1])], "preset": preset, "loss_ratio": round(result.loss_ratio, 4)})
    if output is None:
        seal(target)
    return str(target)


HASH_SUFFIX = ".sha256"   # beside each cached model: its content hash, checked before each use


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def seal(model: Path) -> None:
    """Store ``model``'s content hash beside it (atomically), for :func:`intact`."""
    from .io import atomic_path

    with atomic_path(model.with_name(model.name + HASH_SUFFIX)) as tmp:
        tmp.write_text(_digest(model) + "\n")


def intact(model: Path, log: Callable[[str], None] | None = None) -> bool:
    """A cached model is there and matches the hash stored beside it. A damaged one (cut short,
    bytes flipped, or without a hash: written before hashes, or killed between the two writes)
    is said in one line and is then trained again, replacing it."""
    if not model.exists():
        return False
    sidecar = model.with_name(model.name + HASH_SUFFIX)
    try:
        ok = sidecar.read_text().strip() == _digest(model)
    except OSError:
        ok = False
    if not ok and log:
        log(f"the cached model {model} does not match its stored hash (damaged or incomplete): "
            "training it again")
    return ok


def train_or_explain(zstsr_trainer, ltr, config, **kw):
    """``zstsr_trainer.train``, with a clip too small for examples as :class:`NotTrainable`."""
    from zstsr_trainer.examples import TooSmall

    try:
        return zstsr_trainer.train(ltr, config, **kw)
    except TooSmall as e:
        raise NotTrainable(f"too small or short to train a net on ({e})") from None


def cached_model_path(read, num_frames: int, size: tuple[int, int], *, preset: str | None = None,
                      budget_s: float | None = None, iterations: int | None = None, examples: str | None = None,
                      cut_threshold: float = cuts.DEFAULT_THRESHOLD, key: str | None = None,
                      base: str | None = None, padding: str | None = None) -> Path:
    """Where :func:`fit_model` keeps (or finds) the model trained with these settings on this clip
    (benchmarks use it to find both nets of ``examples="auto"``)."""
    preset = preset or default_preset()
    settings = {"preset": preset, "budget": budget_s, "examples": examples,
                "size": tuple(size), "cuts": cut_threshold, "held_out": held_out(num_frames)}
    if iterations:    # (absent when not given: the keys of models trained before stay as they were)
        settings["iterations"] = int(iterations)
    if base:          # (likewise)
        settings["base"] = base
    if padding and padding != PRESET_PADDING.get(preset):   # (likewise; the preset's own is no change)
        settings["padding"] = padding
    return cache_dir() / f"{key or clip_key(read, num_frames, settings)}.onnx"


def clip_key(read, num_frames: int, settings: dict) -> str:
    """A content key for caching a trained model: a few frames' pixels plus the settings."""
    h = hashlib.sha256(repr(sorted(settings.items())).encode())
    idx = sorted({0, num_frames // 2, num_frames - 1})
    h.update(str(num_frames).encode())
    for f in read(idx, None):
        h.update(np.ascontiguousarray((f * 255).astype(np.uint8)).tobytes())
    return h.hexdigest()[:20]


FINETUNE_FRAMES = 64    # LTR frames a rung's fine-tuning reads, at most (evenly spread runs)
FINETUNE_CROP = 256     # ... in a centred crop of at most this many pixels at that rung's size


def finetune_rungs(model_path: str, ladder_plan, read, num_frames: int, engine, *, budget_s: float | None,
                   iterations: int | None = None, preset: str | None = None, examples: str | None = None,
                   log: Callable[[str], None] | None = None, progress=None,
                   cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> dict[int, str]:
    """Fine-tune the net for each rung above the first on that rung's own internal examples
    (``--finetune``; the improvement the paper names in 4.2). Returns rung index -> ONNX path.
    ``engine`` (:class:`.options.EngineOptions`): how the net runs while making each rung's input.

    Rung ``j``'s input is the ladder's own result below it (rungs ``0..j-1``, at the size rung
    ``j`` runs at, ``2^j`` x the LTR rate). Like the LTR clip for the first rung, it is the video
    the net will be applied to, so the trainer makes its examples from it the same way (pyramid
    levels that move as fast as it does, halved in time) and continues from the rung below's
    weights for ``budget_s`` seconds or ``iterations``, whichever ends first. The rung's input is built on at most ``FINETUNE_FRAMES``
    frames before the self-check's hold-out, in a centred crop of at most ``FINETUNE_CROP`` pixels
    (the examples are 24-pixel crops: more picture would only cost memory). Models are cached
    like the first rung's, keyed by that model, the rung and the settings.
    """
    from .ladder import Ladder, LadderPlan, Rung
    from .options import UpsampleOptions

    rungs = ladder_plan.rungs
    if len(rungs) < 2:
        return {}
    zstsr_trainer, zstsr_export = training_modules()
    preset = preset or default_preset()
    config = train_config(preset, budget_s, examples, iterations)
    base = hashlib.sha256(Path(model_path).read_bytes()).hexdigest()[:16]
    models = {0: engine.load(model_path)}
    paths: dict[int, str] = {}
    prev = model_path
    for j in range(1, len(rungs)):
        h, w = rungs[j].size
        m = 2 ** j          # the crop must halve j times
        ch, cw = max(m, min(h, FINETUNE_CROP) // m * m), max(m, min(w, FINETUNE_CROP) // m * m)
        settings = {"base": base, "rung": j, "crop": (ch, cw), "budget": budget_s, "preset": preset,
                    **({"iterations": int(iterations)} if iterations else {}),
                    "examples": examples, "ensemble": engine.ensemble, "methods": [r.method for r in rungs[:j]],
                    "held_out": held_out(num_frames), "cuts": cut_threshold}
        target = cache_dir() / f"{clip_key(read, num_frames, settings)}.rung{j}.onnx"
        if not intact(target, log):
            if not TRAINING_ALLOWED.get():
                raise NoModel(f"no fine-tuned net for rung {j} of this clip in {target.parent}, and training is off")
            sub = LadderPlan(2 ** j, [Rung(size=(ch >> (j - k), cw >> (j - k)), rate=2 ** k, method=rungs[k].method)
                                      for k in range(j)])
            below = Ladder(sub, models[0], UpsampleOptions(factor=sub.factor, engine=engine), rung_models=models)
            pieces = [below.run(p) for p in training_frames(read, num_frames, (h, w), FINETUNE_FRAMES,
                                                            cut_threshold, crop=(ch, cw)) if len(p) >= 2]
            if log:
                log(f"fine-tuning the net for rung {j} ({w}x{h}, T{rungs[j].rate}->T{2 * rungs[j].rate}) on "
                    f"{sum(len(p) for p in pieces)} frames of its own input for up to "
                    f"{Budget.of_config(config).describe()}")
            init = zstsr_export.load_onnx_net(prev)
            # (the net's own padding: a model given or trained earlier may pad otherwise than the preset)
            result = zstsr_trainer.train(pieces, config.replace(padding=init.padding), progress=progress, init=init)
            if log:
                log(f"rung {j}: {result.iterations} iterations in {result.seconds:.0f} s ({result.precision}); loss "
                    f"{result.loss_ratio:.3f} x cubic's on its own examples")
            target.parent.mkdir(parents=True, exist_ok=True)
            zstsr_export.export_onnx(result, str(target), {
                "training_scale": [int(h), int(w)], "preset": preset, "finetuned_from": base, "rung": j,
                "loss_ratio": round(result.loss_ratio, 4)})
            seal(target)
        elif log:
            log(f"using the rung-{j} model fine-tuned earlier for this clip: {target}")
        paths[j] = str(target)
        models[j] = engine.load(target)
        prev = str(target)
    return paths
