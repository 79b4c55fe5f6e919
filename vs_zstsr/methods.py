"""The rung methods: what can do a ladder rung's x2 in time (and, when no rung uses the net, the
whole job's x N at full size), in one registry.

* ``net``: the video-specific CNN (cubic x2 + its residual, inside the ONNX graph), run by
  :func:`.netrun.net_x2`; it needs a model, so it is not an :class:`Interpolator`.
* every entry of :data:`INTERPOLATORS`: an interpolator without a model.

Adding an interpolator is one entry in :data:`INTERPOLATORS`: the ladder runs it, the self-check
(:func:`.selfcheck.choose_methods`) weighs it, and the ``--method`` choices of ``zstsr upsample`` /
``zstsr render`` and the filter's ``method`` take it from here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import baselines
from .backprojection import temporal_backproject
from .errors import ZstsrError
from .native import NativeCrash
from .netrun import net_x2
from .resample import temporal_interpolate


def _always(clip: np.ndarray) -> bool:
    return True


def _runs_anywhere(height: int, width: int) -> None:
    pass


@dataclass(frozen=True)
class Interpolator:
    """One rung method without a model."""
    run: Callable[[np.ndarray, int], np.ndarray]   # (T, H, W, 3) clip, factor -> (T * factor, H, W, 3)
    help: str                                      # one phrase for the option lists
    # whether it can run on this clip; where it cannot, the self-check leaves it out and a rung
    # given it runs `instead`
    fits: Callable[[np.ndarray], bool] = _always
    instead: str = "linear"
    # asked for by name (method=<it>) on frames of (height, width): raises ZstsrError where it
    # cannot run at all, rather than doing something else
    require: Callable[[int, int], None] = _runs_anywhere
    # runs a native plugin in a worker process (.native), which may crash on a clip
    native: bool = False


def _flow(clip: np.ndarray, factor: int) -> np.ndarray:
    return baselines.interpolate(clip, factor, "flowfps")   # MVTools, in a worker process (.native)


def flow_fits(clip: np.ndarray) -> bool:
    """Whether MVTools can estimate motion on this clip (and is installed)."""
    # the size guard is measured (baselines.MIN_FLOW_SIZE); a crash left is the worker's to catch
    return min(clip.shape[1:3]) >= baselines.MIN_FLOW_SIZE and clip.shape[0] >= 2 and flow_available()


def flow_available() -> bool:
    return baselines.flow_available()


def _require_flow(height: int, width: int) -> None:
    if not flow_available():
        raise ZstsrError("flow interpolation needs VapourSynth and MVTools: pip install vapoursynth-mvtools")
    baselines.check_flow_size(height, width)


INTERPOLATORS: dict[str, Interpolator] = {
    "cubic": Interpolator(lambda clip, f: temporal_interpolate(clip, f, "cubic"),
                          "cubic temporal interpolation (the net's own base)"),
    "linear": Interpolator(lambda clip, f: temporal_interpolate(clip, f, "linear"),
                           "linear temporal interpolation"),
    # beyond the paper: on smooth real motion (a camera pan) the strongest interpolator here
    "flow": Interpolator(_flow, "motion-compensated (MVTools FlowFPS)", fits=flow_fits, require=_require_flow,
                         native=True),
}


@dataclass(frozen=True)
class NetMethod:
    """One rung method that runs the clip's net."""
    help: str
    # the interpolator whose x2 the net's residual is added to, in place of the base the net was
    # trained over (cubic x2, or cubic + back-projection: the model's "base" metadata); None: the
    # net as trained. Where that interpolator does not fit the clip (flow under
    # baselines.MIN_FLOW_SIZE) or crashes (with a fallback), the net runs as trained.
    base: str | None = None
    require: Callable[[int, int], None] = _runs_anywhere


NET = "net"
NETS: dict[str, NetMethod] = {
    NET: NetMethod("the video-specific net (cubic x2 + its learnt residual)"),
    # beyond the paper: on the real pose2sim clip cam01 flow's x2 was a better base than cubic's on
    # the first rung, and the net's residual added to it beat the flow ladder by 0.21 dB
    # (docs/BENCHMARKS.md, "Real footage: every candidate"); on the synthetic scenes it lost
    # (bench_mc_base.py), so the self-check measures it per clip
    "netflow": NetMethod("the net's residual added to flow's x2 instead of cubic's", base="flow",
                         require=_require_flow),
}
AUTO = "auto"   # not a method: the self-check chooses one per rung
METHODS = tuple(NETS) + tuple(INTERPOLATORS)
CHOICES = (AUTO,) + METHODS                       # what `method=` / `--method` accepts


def native(method: str) -> bool:
    """Whether ``method`` runs a native plugin (itself, or as a net method's base)."""
    name = NETS[method].base if method in NETS else method
    return name is not None and INTERPOLATORS[name].native


def needs_model(method: str) -> bool:
    """Whether ``method`` runs the net (one of :data:`NETS`)."""
    return method in NETS


def require(method: str, height: int, width: int) -> None:
    """``method`` asked for by name on frames of (height, width): a ZstsrError where it cannot run."""
    (NETS.get(method) or INTERPOLATORS[method]).require(height, width)


def _own_base(model, clip: np.ndarray) -> np.ndarray:
    """The base the net's residual was trained over (trainer/net.py ``TSRNet.make_base``)."""
    base = temporal_interpolate(clip, 2, "cubic")
    return temporal_backproject(base, clip, 2) if getattr(model, "metadata", {}).get("base") == "cubic_bp" else base


def net_method_x2(model, clip: np.ndarray, method: str, tilesize: int = 0, overlap: int = 0, ensemble: int = 1,
                  fallback: str | None = None, log: Callable[[str], None] | None = None) -> np.ndarray:
    """The x2 of the net method ``method`` (:data:`NETS`) on ``clip``: the net's x2
    (:func:`.netrun.net_x2`) or, with a ``base``, the net's residual over its own base added to
    that interpolator's x2. A crash of the base's native plugin runs the net as trained when
    ``fallback`` is given (said to ``log``), else raises :class:`.native.NativeCrash`."""
    y = net_x2(model, clip, tilesize, overlap, ensemble)
    m = NETS[method]
    if m.base is None or not INTERPOLATORS[m.base].fits(clip):
        return y
    try:
        swap = INTERPOLATORS[m.base].run(clip, 2)
    except NativeCrash as e:
        if fallback is None:
            raise
        if log:
            log(crash_note(e, "using the net as trained"))
        return y
    if getattr(model, "metadata", {}).get("base") == "cubic_bp":
        swap = temporal_backproject(swap, clip, 2)
    return y - _own_base(model, clip) + swap


def interpolate(clip: np.ndarray, factor: int, method: str, fallback: str | None = None,
                log: Callable[[str], None] | None = None) -> np.ndarray:
    """x ``factor`` in time by the interpolator ``method`` (or the one it names ``instead`` where
    it does not fit the clip). Used for one rung's x2 and, when no rung uses the net, for the
    whole job.

    A native plugin that crashes (flow: MVTools, run in a worker process, :mod:`.native`) is
    replaced by ``fallback`` (an interpolation chosen automatically: cubic), with a line to
    ``log``; without one (the method asked for by name), :class:`.native.NativeCrash` is raised."""
    m = INTERPOLATORS.get(method)
    if m is None:
        raise ZstsrError(f"unknown interpolation {method!r}")
    if not m.fits(clip):
        return INTERPOLATORS[m.instead].run(clip, factor)
    try:
        return m.run(clip, factor)
    except NativeCrash as e:
        if fallback is None:
            raise
        if log:
            log(crash_note(e, f"using {fallback}"))
        return INTERPOLATORS[fallback].run(clip, factor)


def crash_note(e: NativeCrash, then: str) -> str:
    """The one line said when an interpolator crashed on a clip and zstsr goes on without it."""
    return f"flow interpolation crashed on this clip; {then} ({e})"


def fits(method: str, clip: np.ndarray) -> bool:
    """Whether ``method`` can run on ``clip`` as itself (the net always can; a net method with a
    ``base`` where that base can)."""
    if method in NETS:
        base = NETS[method].base
        return base is None or INTERPOLATORS[base].fits(clip)
    return INTERPOLATORS[method].fits(clip)
