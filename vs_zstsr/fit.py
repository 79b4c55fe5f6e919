"""Train a clip's model at first use and keep it in the user's cache.

The trainer needs torch, which the runtime never imports at module level: this module imports
``zstsr_trainer`` and ``zstsr_export`` only inside :func:`fit_model`, and only when no cached model
exists. The training set is the LTR clip shrunk to the ladder's first rung (the coarse scale the
net works at), at most ``max_frames`` frames taken as evenly spread runs of consecutive frames,
so a feature film costs no more memory to train on than a short clip.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from . import cuts
from .errors import ZstsrError

SELF_CHECK_FRAMES = 32   # LTR frames the self-check looks at, at most
RUN = 32  # consecutive LTR frames per training run (room for two 16-frame crops)


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
                    max_frames: int = 128, cut_threshold: float = cuts.DEFAULT_THRESHOLD
                    ) -> list[np.ndarray]:
    """Up to ``max_frames`` LTR frames before the held-out ones (:func:`held_out`), shrunk to
    ``size``: all of them when they are few, else evenly spread runs of ``RUN`` frames; each split
    at its scene cuts. Returns the pieces (the trainer never draws an example across two of them:
    runs are not contiguous, shots differ)."""
    usable = held_out(num_frames)[0]
    if usable <= max_frames:
        runs = [list(range(usable))]
    else:
        n_runs = max(1, max_frames // RUN)
        starts = np.linspace(0, usable - RUN, n_runs).astype(int)
        runs = [list(range(s, s + RUN)) for s in starts]
    pieces = []
    for r in runs:
        frames = read(r, size).astype(np.float32)
        pieces += cuts.split(frames, cuts.detect(frames, cut_threshold))
    return pieces


def default_preset() -> str:
    from .model import gpu_count

    return "paper" if gpu_count() > 0 else "fast"


def fit_model(read, num_frames: int, size: tuple[int, int], *, preset: str | None = None,
              budget_s: float | None = None, examples: str | None = None, key: str | None = None,
              output: str | None = None, log: Callable[[str], None] | None = None, progress=None,
              max_frames: int = 128, cut_threshold: float = cuts.DEFAULT_THRESHOLD) -> str:
    """Train (or find in the cache) the model for a clip; return the ONNX path."""
    preset = preset or default_preset()
    settings = {"preset": preset, "budget": budget_s, "examples": examples, "size": tuple(size),
                "cuts": cut_threshold, "held_out": held_out(num_frames)}
    key = key or clip_key(read, num_frames, settings)
    target = Path(output) if output else cache_dir() / f"{key}.onnx"
    if output is None and target.exists():
        if log:
            log(f"using the model trained earlier for this clip: {target}")
        return str(target)
    try:
        import zstsr_export
        import zstsr_trainer
    except ImportError as e:
        raise ZstsrError(f"training needs torch and onnx ({e.name} is missing): "
                         "pip install 'zstsr[train]', or pass a trained --model") from None
    if preset not in zstsr_trainer.PRESETS:
        raise ZstsrError(f"unknown preset {preset!r}; choose from {', '.join(zstsr_trainer.PRESETS)}")
    config = zstsr_trainer.PRESETS[preset]
    changes = {}
    if budget_s is not None:
        changes["budget_s"] = float(budget_s)
    if examples:
        changes["examples"] = examples
    config = config.replace(**changes) if changes else config
    ltr = training_frames(read, num_frames, size, max_frames, cut_threshold)
    if log:
        shots = f" in {len(ltr)} pieces (runs and shots)" if len(ltr) > 1 else ""
        log(f"training the {preset} net on {sum(len(p) for p in ltr)} frames{shots} at {size[1]}x{size[0]}"
            + (f" for up to {config.budget_s:.0f} s" if config.budget_s else ""))
    result = zstsr_trainer.train(ltr, config, progress=progress)
    if log:
        log(f"trained {result.iterations} iterations in {result.seconds:.0f} s; loss "
            f"{result.loss_ratio:.3f} x cubic's on its own examples")
    target.parent.mkdir(parents=True, exist_ok=True)
    zstsr_export.export_onnx(result.net, str(target), {
        "training_scale": [int(size[0]), int(size[1])], "preset": preset,
        "iterations": result.iterations, "training_seconds": round(result.seconds, 1),
        "loss_ratio": round(result.loss_ratio, 4)})
    return str(target)


def clip_key(read, num_frames: int, settings: dict) -> str:
    """A content key for caching a trained model: a few frames' pixels plus the settings."""
    h = hashlib.sha256(repr(sorted(settings.items())).encode())
    idx = sorted({0, num_frames // 2, num_frames - 1})
    h.update(str(num_frames).encode())
    for f in read(idx, None):
        h.update(np.ascontiguousarray((f * 255).astype(np.uint8)).tobytes())
    return h.hexdigest()[:20]
