"""The rung methods: what can do a ladder rung's x2 in time (and, when no rung uses the net, the
whole job's x N at full size), in one registry.

* ``net``: the video-specific CNN (cubic x2 + its residual, inside the ONNX graph; or its residual
  over a given base, :data:`NET_BASES`), run by :func:`.netrun.net_x2`; it needs a model, so it is
  not an :class:`Interpolator`.
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


def ask_flow_ahead(method: str) -> None:
    """Where ``method`` may run flow (the self-check's choice, flow, netflow), ask now whether it
    can, on a thread, while the caller opens its input (:func:`.baselines.ask_flow_available`)."""
    if method in (AUTO, "flow") or getattr(NETS.get(method), "base", None) == "flow":
        baselines.ask_flow_available()


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


# What a net's residual is learnt over (its model's "base" metadata): base -> (the x2 interpolation
# of INTERPOLATORS under it, back-projected after it). A cubic base is inside the net's ONNX graph;
# any other is *given* to it (the graph's second input "base": that interpolation's x2 of the
# clip, computed here; trainer/net.py trains over the same, from this table).
NET_BASES = {"cubic": ("cubic", False), "cubic_bp": ("cubic", True), "flow": ("flow", False), "flow_bp": ("flow", True)}


def model_base(model) -> str:
    """The base a model's residual was learnt over (models before bases were recorded: cubic)."""
    return str(getattr(model, "metadata", {}).get("base", "cubic"))


def _own_base(model, clip: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """The base the net's residual was learnt over (trainer/net.py ``TSRNet.make_base``), from its
    interpolation's x2 ``x2``."""
    return temporal_backproject(x2, clip, 2) if NET_BASES[model_base(model)][1] else x2


def _x2(name: str, clip: np.ndarray, fallback: str | None, log, then: str) -> np.ndarray | None:
    """``name``'s x2 of ``clip``; None where it does not fit or (with a ``fallback``) crashed."""
    if not INTERPOLATORS[name].fits(clip):
        return None
    try:
        return INTERPOLATORS[name].run(clip, 2)
    except NativeCrash as e:
        if fallback is None:
            raise
        if log:
            log(crash_note(e, then))
        return None


def net_method_x2(model, clip: np.ndarray, method: str, tilesize: int = 0, overlap: int = 0, ensemble: int = 1,
                  fallback: str | None = None, log: Callable[[str], None] | None = None) -> np.ndarray:
    """The x2 of the net method ``method`` (:data:`NETS`) on ``clip``: the net's x2 over its own
    base (:func:`.netrun.net_x2`; a given base, :data:`NET_BASES`, computed here) or, with a
    method ``base`` other than the model's, the net's residual over its own base added to that
    interpolator's x2. A crash of a native plugin (with ``fallback``; said to ``log``) or a base
    that does not fit the clip: the net as trained, and a net over a given base gets cubic's x2
    in its place, the nearest base it can have. Without ``fallback`` a crash raises
    :class:`.native.NativeCrash`."""
    interp = NET_BASES[model_base(model)][0]
    own = None
    if interp != "cubic":
        own = _x2(interp, clip, fallback, log, "the net over cubic's x2 instead")
        if own is None:
            own = INTERPOLATORS["cubic"].run(clip, 2)
    y = net_x2(model, clip, tilesize, overlap, ensemble, base=own)
    m = NETS[method]
    if m.base is None or m.base == interp:
        return y
    swap = _x2(m.base, clip, fallback, log, "using the net as trained")
    if swap is None:
        return y
    own = own if own is not None else INTERPOLATORS[interp].run(clip, 2)
    return y - _own_base(model, clip, own) + _own_base(model, clip, swap)


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
