"""The rung methods: what can do a ladder rung's x2 in time (and, when no rung uses the net, the
whole job's x N at full size), in one registry.

* ``net``: the video-specific CNN (cubic x2 + its residual, inside the ONNX graph), run by
  :func:`.netrun.net_x2`; it needs a model, so it is not an :class:`Interpolator`.
* every entry of :data:`INTERPOLATORS`: an interpolator without a model.

Adding an interpolator is one entry in :data:`INTERPOLATORS`: the ladder runs it, the self-check
(:func:`.selfcheck.choose_methods`) weighs it, and the ``--method`` choices of ``zstsr upsample`` /
``zstsr render`` and the filter's ``method`` take it (the filter only where ``frame_server`` is
true) from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import ZstsrError
from .resample import temporal_interpolate

MIN_FLOW_SIZE = 32  # MVTools crashes (segfault) on frames of 16 px; its 8x8 blocks need room


def _always(clip: np.ndarray) -> bool:
    return True


@dataclass(frozen=True)
class Interpolator:
    """One rung method without a model."""
    run: Callable[[np.ndarray, int], np.ndarray]   # (T, H, W, 3) clip, factor -> (T * factor, H, W, 3)
    help: str                                      # one phrase for the option lists
    # whether it can run on this clip; where it cannot, the self-check leaves it out and a rung
    # asked to run it uses `fallback` instead
    fits: Callable[[np.ndarray], bool] = _always
    fallback: str = "linear"
    # safe inside a VapourSynth frame callback: the filter offers only these (MVTools' flow would
    # request frames from the same core inside a frame callback, a deadlock risk in a frame server)
    frame_server: bool = True


def _flow(clip: np.ndarray, factor: int) -> np.ndarray:
    from .baselines import interpolate as peer   # VapourSynth + MVTools, imported only when used

    return peer(clip, factor, "flowfps")


def flow_fits(clip: np.ndarray) -> bool:
    """Whether MVTools can estimate motion on this clip (and is installed)."""
    return min(clip.shape[1:3]) >= MIN_FLOW_SIZE and clip.shape[0] >= 2 and flow_available()


def flow_available() -> bool:
    try:
        import vapoursynth as vs
        return hasattr(vs.core, "mv")
    except Exception:
        return False


INTERPOLATORS: dict[str, Interpolator] = {
    "cubic": Interpolator(lambda clip, f: temporal_interpolate(clip, f, "cubic"),
                          "cubic temporal interpolation (the net's own base)"),
    "linear": Interpolator(lambda clip, f: temporal_interpolate(clip, f, "linear"),
                           "linear temporal interpolation"),
    # beyond the paper: on smooth real motion (a camera pan) the strongest interpolator here
    "flow": Interpolator(_flow, "motion-compensated (MVTools FlowFPS)", fits=flow_fits, frame_server=False),
}
NET = "net"
AUTO = "auto"   # not a method: the self-check chooses one per rung
METHODS = (NET,) + tuple(INTERPOLATORS)
CHOICES = (AUTO,) + METHODS                       # what `method=` / `--method` accepts
# the filter's choices: those safe in a frame server
FILTER_CHOICES = (AUTO, NET) + tuple(k for k, v in INTERPOLATORS.items() if v.frame_server)


def interpolate(clip: np.ndarray, factor: int, method: str) -> np.ndarray:
    """x ``factor`` in time by the interpolator ``method`` (or its fallback where it does not fit
    the clip). Used for one rung's x2 and, when no rung uses the net, for the whole job."""
    m = INTERPOLATORS.get(method)
    if m is None:
        raise ZstsrError(f"unknown interpolation {method!r}")
    if not m.fits(clip):
        return INTERPOLATORS[m.fallback].run(clip, factor)
    return m.run(clip, factor)


def fits(method: str, clip: np.ndarray) -> bool:
    """Whether ``method`` can run on ``clip`` (the net always can)."""
    return method == NET or INTERPOLATORS[method].fits(clip)
