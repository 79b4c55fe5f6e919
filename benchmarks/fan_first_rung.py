"""The fan's first rung against its truth: which way each cached net turns the fan at the coarse x2.

    python benchmarks/fan_first_rung.py DEMO_DIR CACHE [CACHE ...]
    python benchmarks/fan_first_rung.py out/demo /tmp/cache_default /tmp/cache_long

``DEMO_DIR`` holds ``make demo``'s ``fan_30fps.mkv`` and ``truth.mkv`` (240 fps); each ``CACHE`` a
model cache (``ZSTSR_CACHE``) a job on that clip filled. The x8 ladder's first rung (its size from
``vs_zstsr.ladder.plan``: 48x72 for the demo's fan) runs the net from 30 to 60 fps; its truth is
the 240 fps truth averaged by 4 (full exposure) and shrunk the same way. For cubic x2 and every net in the caches (no self-ensemble): PSNR against
that truth and the fan's rotation (``examples/scenes.py``'s ``rotation_direction``, degrees per
60 fps frame; the truth's is +27). The self-check scores the same rung on the clip halved in time
(vs_zstsr/selfcheck.py), which has no truth at 60 fps: this is the rung it cannot see
(docs/BENCHMARKS.md, "`make demo` by the clock and by iterations").
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from common import ROOT

sys.path.insert(0, str(ROOT / "examples"))


def main() -> None:
    import scenes
    from vs_zstsr import io, metrics, netrun
    from vs_zstsr.ladder import plan
    from vs_zstsr.model import load_model
    from vs_zstsr.resample import rect_downsample, resize_spatial, temporal_interpolate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path, help="make demo's folder (fan_30fps.mkv, truth.mkv)")
    ap.add_argument("caches", type=Path, nargs="+", help="model caches of jobs on fan_30fps.mkv")
    a = ap.parse_args()
    _, ltr = io.read_video(a.demo / "fan_30fps.mkv")
    _, truth = io.read_video(a.demo / "truth.mkv")
    rung = plan(*ltr.shape[1:3], 8).rungs[0].size
    lo = resize_spatial(ltr, *rung)
    gt = resize_spatial(rect_downsample(truth, 4, 0), *rung)

    def psnr(x: np.ndarray) -> float:
        return metrics.psnr(np.clip(x, 0, 1), gt)

    print(f"| x2 at {rung[0]}x{rung[1]} | iterations | PSNR (dB) | fan turns (deg per 60 fps frame) |")
    print("|---|---|---|---|")
    print(f"| truth | | | {scenes.rotation_direction(gt):+.2f} |")
    cubic = temporal_interpolate(lo, 2, "cubic")
    print(f"| cubic | | {psnr(cubic):.2f} | {scenes.rotation_direction(cubic):+.2f} |")
    for cache in a.caches:
        for f in sorted(cache.glob("*.onnx")):
            m = load_model(str(f))
            out = netrun.net_x2(m, lo)
            kind = m.metadata.get("config", {}).get("examples", "?")
            print(f"| {kind} net ({cache.name}/{f.name[:8]}) | {m.metadata.get('iterations', '?')} | {psnr(out):.2f} | "
                  f"{scenes.rotation_direction(out):+.2f} |")


if __name__ == "__main__":
    main()
