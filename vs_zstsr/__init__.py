"""zstsr runtime: zero-shot temporal super-resolution (torch-free).

``vs_zstsr.upsample(clip, factor=8, ...)`` is the VapourSynth filter (also ``core.zstsr.Upsample``
in a .vpy without any import); it is loaded lazily, so importing ``vs_zstsr`` does not import
vapoursynth.
"""


def __getattr__(name):
    if name in ("upsample", "source"):
        from . import filter as _filter

        return getattr(_filter, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + ["upsample", "source"])
