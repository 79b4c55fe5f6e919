"""How the group seam chooses between a clip's two nets (`--examples auto`), against the truth.

    python benchmarks/bench_seam.py [--cache out/bench/cache_auto --budget 6m | --files] [--write-docs]

Nets: the two nets `zstsr upsample --budget BUDGET` trained for each clip into the cache CACHE
(found where it keeps them, :func:`vs_zstsr.fit.cached_model_path`, half the budget each); with
``--files``, out/bench/CLIP_model_within.onnx and CLIP_model_both.onnx (the previous session's).
Per clip and net: the seam on the self-check's frames (what `zstsr upsample` decides on), the same
with a median over the clip instead of the mean, the seam on the whole clip, the self-check's proxy
gain over the best interpolator, and the truth: net + BP, 4-copy ensemble, against the ground truth
at the first rung. Then, with the kept net on the first rung, x8 PSNR and the fan's turn for each
interpolator on the rungs above; and the nets of the other clips with the same first-rung size.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from bench_self_check import scores
from common import CLIPS, ROOT, replace_section

from vs_zstsr import io, ladder, netrun, selfcheck
from vs_zstsr.backprojection import temporal_backproject
from vs_zstsr.fit import AUTO_EXAMPLES, held_out
from vs_zstsr.metrics import group_seam, psnr
from vs_zstsr.model import load_model
from vs_zstsr.options import EngineOptions, UpsampleOptions
from vs_zstsr.resample import rect_downsample, resize_spatial, temporal_interpolate

WORK = ROOT / "out" / "bench"


def median_seam(y: np.ndarray, period: int = 2) -> float:
    """group_seam with the median over the clip instead of the mean (what a first version used)."""
    d = np.mean(np.diff(y, axis=0) ** 2, axis=(1, 2, 3))
    e = [np.median(d[k::period]) for k in range(period)]
    return float(10 * np.log10(max(e) / min(e)))


def nets_of(clip: str, args) -> dict:
    if args.files:
        return {k: WORK / f"{clip}_model_{k}.onnx" for k in AUTO_EXAMPLES}
    from vs_zstsr.cli import parse_budget
    from vs_zstsr.fit import cached_model_path

    os.environ["ZSTSR_CACHE"] = str(args.cache)
    path = WORK / f"{clip}_ltr.mkv"
    info = io.probe(path)
    n = io.count_frames(path, info)
    size = ladder.plan(info.height, info.width, 8).rungs[0].size
    budget = parse_budget(args.budget) / len(AUTO_EXAMPLES)
    return {k: cached_model_path(io.frame_reader(path, info), n, size, budget_s=budget, examples=k) for k in AUTO_EXAMPLES}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["fan", "texture", "city"], choices=CLIPS)  # x8 only
    ap.add_argument("--cache", default=str(WORK / "cache_auto"))
    ap.add_argument("--budget", default="6m")
    ap.add_argument("--files", action="store_true", help="out/bench/CLIP_model_{within,both}.onnx instead")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT / "examples"))
    import scenes

    nets = {c: {k: load_model(p, "cpu") for k, p in nets_of(c, args).items()} for c in args.clips}
    main_rows = ["| clip | net | seam, check (mean) | seam, check (median) | seam, all | proxy: net - best | "
                 "truth: net + BP | cubic + BP | kept |", "|---|---|---|---|---|---|---|---|---|"]
    upper_rows = ["| clip | kept net | rungs above | x8 PSNR | fan turns (deg/frame) |", "|---|---|---|---|---|"]
    cross_rows = ["| clip | net of | its kind | seam, check | truth: net + BP |", "|---|---|---|---|---|"]
    for clip in args.clips:
        path = WORK / f"{clip}_ltr.mkv"
        info = io.probe(path)
        n = io.count_frames(path, info)
        window = selfcheck.self_check_window(io.frame_reader(path, info), n)
        _, ltr = io.read_video(path)
        _, gt = io.read_video(WORK / f"{clip}_gt.mkv")
        full = ltr.shape[1:3]
        p = ladder.plan(*full, 8)
        rung = p.rungs[0].size
        x = resize_spatial(ltr, *rung)
        truth = resize_spatial(rect_downsample(gt, 4), *rung)
        cubic = psnr(np.clip(temporal_backproject(temporal_interpolate(x, 2, "cubic"), x, 2), 0, 1), truth)
        a, b = held_out(len(ltr))
        proxy_hi = resize_spatial(ltr[a:b], rung[0] // 2, rung[1] // 2)

        def first_rung(model, frames):
            return np.clip(temporal_backproject(netrun.net_x2(model, frames, ensemble=4), frames, 2), 0, 1)

        seams = selfcheck.first_rung_seams(nets[clip], window, rung, full, ensemble=4)
        kept = min(seams, key=seams.get)
        win = resize_spatial(window, *[round(s * w / f) for s, w, f in zip(rung, window.shape[1:3], full)])
        for k, m in nets[clip].items():
            y = first_rung(m, x)
            pr = scores(m, rect_downsample(proxy_hi, 2), proxy_hi, 4)
            main_rows.append(f"| {clip} | {k} | {seams[k]:.2f} | {median_seam(first_rung(m, win)):.2f} | "
                             f"{group_seam(y, 2):.2f} | {pr['net'] - max(pr['linear'], pr['cubic']):+.2f} | "
                             f"{psnr(y, truth):.2f} | {cubic:.2f} | {'yes' if k == kept else ''} |")
            print(main_rows[-1], flush=True)
        for above in ("cubic", "linear", "flow"):
            q = ladder.plan(*full, 8)
            for r, meth in zip(q.rungs, ["net", above, above]):
                r.method = meth
            out = ladder.Ladder(q, nets[clip][kept], UpsampleOptions(engine=EngineOptions(ensemble=4))).run(ltr)
            turn = f"{scenes.rotation_direction(out):+.2f}" if clip == "fan" else ""
            per_frame = np.mean([psnr(a, b) for a, b in zip(out, gt)])      # as `zstsr eval` scores
            upper_rows.append(f"| {clip} | {kept} | {above} | {per_frame:.2f} | {turn} |")
            print(upper_rows[-1], flush=True)
        for other in args.clips:
            if other == clip:
                continue
            for k, m in nets[other].items():
                if tuple(m.metadata["training_scale"]) != tuple(rung):
                    continue
                s = selfcheck.first_rung_seams({k: m}, window, rung, full, ensemble=4)[k]
                cross_rows.append(f"| {clip} | {other} | {k} | {s:.2f} | {psnr(first_rung(m, x), truth):.2f} |")
                print(cross_rows[-1], flush=True)
    if args.write_docs:
        how = "--files" if args.files else f"--cache {os.path.relpath(args.cache, ROOT)} --budget {args.budget}"
        body = (f"Command: `python benchmarks/bench_seam.py {how} --write-docs`\n\n" + "\n".join(main_rows)
                + "\n\nWith the kept net on the first rung, each interpolator on the rungs above (x8, whole clip, "
                  "PSNR per frame against the truth, averaged, as `zstsr eval` does; the clip is not split at its cut here, unlike `zstsr upsample`):\n\n"
                + "\n".join(upper_rows) + "\n\nNets of another clip (same first-rung size) on this clip:\n\n"
                + "\n".join(cross_rows))
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "seam-files" if args.files else "seam-cache", body)


if __name__ == "__main__":
    main()
