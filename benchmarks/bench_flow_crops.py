"""Does the self-check's coarse proxy rank the interpolators as the first rung's truth does, at the
crop size it is given? (issue 18: on a 1080x1920 clip at x8 it scored MVTools flow on 32x32.)

    flock /work/locks/bench .venv/bin/python benchmarks/bench_flow_crops.py [--write-docs]

Clips, real, with their truth: pose2sim cam01 and cam03 at full size (1080x1920, 60 fps) as a
7.5 fps camera (x8: 12 LTR frames, each the mean of 8), and cityCC0 shrunk 2x in space (as in
benchmarks/common.py) at x8. For each:

* truth: the first rung of `zstsr upsample`'s ladder (:func:`vs_zstsr.ladder.plan`) on the whole
  clip: its input (the LTR frames at the rung's size) x2 by cubic, linear and flow, each with
  temporal back-projection, against the real frames averaged 4 at a time at that size (PSNR, dB);
* the self-check's coarse proxy (:func:`vs_zstsr.selfcheck.choose_methods`: its held-out frames,
  a centred crop, shrunk by the rung's factor and 2, halved in time) for crops of 512 px (what
  `stream.SELF_CHECK_CROP` gives today), 768, 1024 and the whole frame: the same three scores.

Flow runs below the size guard here (``baselines.MIN_FLOW_SIZE`` lowered to 24), in the worker;
a crash is reported as such. The question is whether each proxy picks the truth's winner and
orders flow against the best of cubic/linear the same way.
"""
from __future__ import annotations

import argparse
from fractions import Fraction

import numpy as np
from common import ROOT, SHARED, replace_section

from vs_zstsr import baselines, io, ladder, methods
from vs_zstsr.backprojection import temporal_backproject
from vs_zstsr.fit import held_out
from vs_zstsr.metrics import psnr
from vs_zstsr.native import NativeCrash
from vs_zstsr.resample import rect_downsample, resize_spatial

FACTOR = 8
CLIPS = {"cam01": ("pose2sim_single_cam01.mp4", 1), "cam03": ("pose2sim_single_cam03.mp4", 1),
         "city": ("cityCC0.mpg", 2)}
CROPS = (512, 768, 1024, 0)   # 0: the whole frame
METHODS = ("cubic", "linear", "flow")


def load(name: str, shrink: int, rung: tuple[int, int]):
    """LTR frames (means of FACTOR) at full size and the truth of the first rung (means of
    FACTOR/2 at the rung's size), read in one pass."""
    path = SHARED / name
    vi = io.probe(path)
    h, w = round(vi.height / shrink), round(vi.width / shrink)
    ltr, truth, group = [], [], []
    for f in io.read_frames(path, vi):
        group.append(f if shrink == 1 else resize_spatial(f[None], h, w)[0])
        if len(group) == FACTOR:
            g = np.stack(group)
            ltr.append(g.mean(axis=0))
            for half in (g[:FACTOR // 2], g[FACTOR // 2:]):
                truth.append(resize_spatial(half.mean(axis=0)[None], *rung)[0])
            group = []
    return np.stack(ltr).astype(np.float32), np.stack(truth).astype(np.float32)


def scores(lo: np.ndarray, hi: np.ndarray) -> dict:
    out = {}
    for m in METHODS:
        if m == "flow" and min(lo.shape[1:3]) < baselines.MIN_FLOW_SIZE:
            out[m] = None
            continue
        try:
            guess = methods.interpolate(lo, 2, m)
        except NativeCrash:
            out[m] = "crash"
            continue
        out[m] = psnr(np.clip(temporal_backproject(guess, lo, 2), 0, 1), hi)
    return out


def verdict(s: dict, truth: dict) -> str:
    ok = {m: v for m, v in s.items() if isinstance(v, float)}
    if "flow" not in ok:
        return "flow not scored"
    win, twin = max(ok, key=ok.get), max(truth, key=truth.get)
    other = max(v for m, v in ok.items() if m != "flow")
    tother = max(v for m, v in truth.items() if m != "flow")
    same_side = (ok["flow"] > other) == (truth["flow"] > tother)
    return ("winner right" if win == twin else f"winner wrong ({win})") + \
        ("; flow vs the rest right" if same_side else "; flow vs the rest wrong")


def fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else (v or "-")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=list(CLIPS))
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    baselines.MIN_FLOW_SIZE = 24      # measure below the guard; crashes stay in the worker
    rows = ["| clip | where | size | cubic | linear | flow | the proxy's verdict |", "|---|---|---|---|---|---|---|"]
    for clip in args.clips:
        name, shrink = CLIPS[clip]
        vi = io.probe(SHARED / name)
        H, W = round(vi.height / shrink), round(vi.width / shrink)
        rung = ladder.plan(H, W, FACTOR).rungs[0].size
        ltr, truth = load(name, shrink, rung)
        x = resize_spatial(ltr, *rung)
        t = scores(x, truth[:2 * len(x)])
        rows.append(f"| {clip} | first rung, truth | {rung[1]}x{rung[0]} | " + " | ".join(fmt(t[m]) for m in METHODS)
                    + " | |")
        a, b = held_out(len(ltr))
        if b - a < 8:
            n = min(len(ltr), 32)
            a, b = (len(ltr) - n) // 2, (len(ltr) - n) // 2 + n
        frames = ltr[a:b]
        seen = set()
        for c in CROPS:
            ch, cw = (min(H, c), min(W, c)) if c else (H, W)
            if (ch, cw) in seen:
                continue
            seen.add((ch, cw))
            y0, x0 = (H - ch) // 2, (W - cw) // 2
            sample = frames[:, y0:y0 + ch, x0:x0 + cw]
            hi = resize_spatial(sample, max(1, round(ch * rung[0] / H / 2)), max(1, round(cw * rung[1] / W / 2)))
            hi = hi[:hi.shape[0] // 2 * 2]
            lo = rect_downsample(hi, 2)
            s = scores(lo, hi)
            label = f"proxy of a {cw}x{ch} crop" if c and (ch, cw) != (H, W) else "proxy of the whole frame"
            rows.append(f"| {clip} | {label} | {lo.shape[2]}x{lo.shape[1]} | " + " | ".join(fmt(s[m]) for m in METHODS)
                        + f" | {verdict(s, t)} |")
        print("\n".join(rows[-len(seen) - 1:]), flush=True)
    body = "\n".join(rows)
    print(body)
    if args.write_docs:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "flow-crops",
                        "## The self-check's crop size for flow\n\n"
                        "`flock /work/locks/bench .venv/bin/python benchmarks/bench_flow_crops.py --write-docs` "
                        "(PSNR in dB of each interpolator x2 + back-projection; x8; flow below the size "
                        "guard here, in the worker)\n\n" + body)


if __name__ == "__main__":
    main()
