"""A motion-compensated base under the net's residual, on the first rung (issue 7, beyond the paper).

    python benchmarks/bench_mc_base.py [--clips fan texture city] [--write-docs]

The net learns a residual over cubic temporal x2 (its base is inside the ONNX graph). This swaps
the base at inference: ``flow x2 + (net - cubic x2)``, with MVTools FlowFPS as the flow, each
followed by temporal back-projection, scored against the ground truth at the first rung's size
and rate. It measures whether a better base is worth training the net over: if flow is not a
better base than cubic where the net works, a net trained over flow has nothing to start from.
Needs out/bench/CLIP_ltr.mkv, CLIP_gt.mkv and CLIP_model.onnx (benchmarks/bench_upsample.py).
"""
from __future__ import annotations

import argparse

import numpy as np
from common import CLIPS, ROOT, replace_section

from vs_zstsr import io, ladder, methods, netrun
from vs_zstsr.backprojection import temporal_backproject
from vs_zstsr.metrics import psnr
from vs_zstsr.model import load_model
from vs_zstsr.resample import rect_downsample, resize_spatial, temporal_interpolate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["fan", "texture", "city"], choices=CLIPS)  # x8 only
    ap.add_argument("--ensemble", type=int, default=netrun.DEFAULT_ENSEMBLE, choices=netrun.ENSEMBLE_SIZES)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    if not methods.flow_available():
        raise SystemExit("MVTools (vapoursynth-mvtools) is needed for the flow base")
    work = ROOT / "out" / "bench"
    lines = ["| clip | first rung | net (cubic base) + BP | cubic + BP | flow + BP | flow + net's residual + BP |",
             "|---|---|---|---|---|---|"]
    for clip in args.clips:
        _, ltr = io.read_video(work / f"{clip}_ltr.mkv")
        _, gt = io.read_video(work / f"{clip}_gt.mkv")
        model = load_model(work / f"{clip}_model.onnx", "cpu")
        rung = ladder.plan(*ltr.shape[1:3], 8).rungs[0].size
        x = resize_spatial(ltr, *rung)
        truth = resize_spatial(rect_downsample(gt, 4), *rung)     # the first rung's output rate
        net = netrun.net_x2(model, x, ensemble=args.ensemble)
        cubic = temporal_interpolate(x, 2, "cubic")
        flow = methods.interpolate(x, 2, "flow")
        score = [psnr(np.clip(temporal_backproject(y, x, 2), 0, 1), truth)
                 for y in (net, cubic, flow, flow + (net - cubic))]
        lines.append(f"| {clip} | {rung[1]}x{rung[0]} | " + " | ".join(f"{v:.2f}" for v in score) + " |")
        print(lines[-1], flush=True)
    if args.write_docs:
        body = (f"Command: `python benchmarks/bench_mc_base.py --write-docs` (the models of `bench_upsample.py`, "
                f"ensemble {args.ensemble}); PSNR (dB) against the truth at the first rung.\n\n" + "\n".join(lines))
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "mc-base", body)


if __name__ == "__main__":
    main()
