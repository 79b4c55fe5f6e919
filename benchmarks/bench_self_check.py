"""How well the "do no harm" self-check predicts the net, on the models `bench_upsample.py` trained.

    python benchmarks/bench_self_check.py [--clips fan texture city] [--ensemble 4]

For each clip: the self-check's proxy (the held-out frames, shrunk to half the first rung and
halved in time; the same thing `zstsr upsample` computes), and the truth on the first rung itself
(the ground truth averaged to that rung's rate and size), each as PSNR of net+BP, linear+BP and
cubic+BP; the net with the runtime's self-ensemble (``--ensemble``, default as in `zstsr upsample`).
Needs out/bench/CLIP_ltr.mkv, CLIP_gt.mkv, CLIP_model.onnx.
"""
from __future__ import annotations

import argparse

import numpy as np
from common import CLIPS, ROOT

from vs_zstsr import io, ladder, netrun
from vs_zstsr.backprojection import temporal_backproject
from vs_zstsr.fit import held_out
from vs_zstsr.metrics import psnr
from vs_zstsr.model import load_model
from vs_zstsr.resample import rect_downsample, resize_spatial, temporal_interpolate


def scores(model, lo: np.ndarray, hi: np.ndarray, ensemble: int) -> dict:
    out = {}
    for k in ("net", "linear", "cubic"):
        guess = netrun.net_x2(model, lo, ensemble=ensemble) if k == "net" else temporal_interpolate(lo, 2, k)
        out[k] = psnr(np.clip(temporal_backproject(guess, lo, 2), 0, 1), hi)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["fan", "texture", "city"], choices=CLIPS)  # x8 only
    ap.add_argument("--ensemble", type=int, default=netrun.DEFAULT_ENSEMBLE, choices=netrun.ENSEMBLE_SIZES)
    work = ROOT / "out" / "bench"
    print("| clip | where | net+BP | linear+BP | cubic+BP | net - best |\n|---|---|---|---|---|---|")
    args = ap.parse_args()
    for clip in args.clips:
        _, ltr = io.read_video(work / f"{clip}_ltr.mkv")
        _, gt = io.read_video(work / f"{clip}_gt.mkv")
        model = load_model(work / f"{clip}_model.onnx", "cpu")
        t, h, w, _ = ltr.shape
        rung = ladder.plan(h, w, 8).rungs[0].size
        a, b = held_out(t)
        proxy_hi = resize_spatial(ltr[a:b], rung[0] // 2, rung[1] // 2)
        rows = {"self-check proxy": scores(model, rect_downsample(proxy_hi, 2), proxy_hi, args.ensemble)}
        truth = resize_spatial(rect_downsample(gt, 4), *rung)          # the first rung's output rate
        rows["first rung, truth"] = scores(model, resize_spatial(ltr, *rung), truth, args.ensemble)
        for where, s in rows.items():
            best = max(s["linear"], s["cubic"])
            print(f"| {clip} | {where} | {s['net']:.2f} | {s['linear']:.2f} | {s['cubic']:.2f} | "
                  f"{s['net'] - best:+.2f} |")


if __name__ == "__main__":
    main()
