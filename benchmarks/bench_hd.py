"""Large frames: seconds per output frame and peak memory of zstsr's commands at 720p, 1080p and
2160p, against MVTools FlowFPS alone on the same clip in the same run.

    python benchmarks/bench_hd.py [--sizes 720p 1080p 2160p] [--frames 24] [--frames-2160p 8]
                                  [--budget 20s] [--long 4] [--write-docs]

Clips (hd_clips.py): the synthetic textured pan at each size (24 frames, 2160p 8 frames by
default), x8, written losslessly (FFV1 .mkv). Each command runs in a process of its own; its peak
RSS is the largest resident set of that process (RUSAGE_CHILDREN). The reference runs in a process
of its own too: the pan's frames as YUV 4:4:4 16-bit in VapourSynth (made before the clock starts),
MVTools Super, Analyse (both directions) and FlowFPS exactly as zstsr calls them (the x16 grid's
frames that x8 keeps: vs_zstsr/baselines.py), frames computed on every core and dropped. The ratio
to it is the figure (the machine is shared, so seconds alone are noisy). ``--long 4``: the 1080p
runs again on a clip 4x as long, for the memory's independence of the clip length.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, replace_section
from hd_clips import SIZES, make_pan

_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run_measured(*args) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one command in a child process of its own."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _PEAK, *map(str, args)], check=True, stdout=subprocess.PIPE,
                       text=True)
    return time.perf_counter() - t0, int(r.stdout.split()[-1]) / 1024


def reference(path: str, factor: int) -> None:
    """MVTools FlowFPS alone (run by ``--reference``): prints its seconds."""
    import numpy as np
    import vapoursynth as vs

    from vs_zstsr import io

    core = vs.core
    frames = [(np.clip(f, 0, 1) * 65535 + 0.5).astype(np.uint16) for f in io.read_frames(path)]
    t, (h, w) = len(frames), frames[0].shape[:2]
    blank = core.std.BlankClip(width=w, height=h, format=vs.RGB48, length=t, fpsnum=30, fpsden=1)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n][:, :, p])
        return out

    yuv = core.resize.Bicubic(core.std.ModifyFrame(blank, blank, fill), format=vs.YUV444P16, matrix_s="709",
                              range_s="full")
    yuv = core.std.Cache(yuv) if hasattr(core.std, "Cache") else yuv
    for _ in yuv.frames():   # convert up front: not MVTools' work
        pass
    held = [np.stack([np.asarray(f[p]).copy() for p in range(3)]) for f in yuv.frames()]
    src = core.std.BlankClip(yuv, length=t)

    def put(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), held[n][p])
        return out

    src = core.std.ModifyFrame(src, src, put)
    t0 = time.perf_counter()
    blk = 16 if min(w, h) >= 256 else 8
    sup = core.mv.Super(src, pel=2)
    bv = core.mv.Analyse(sup, isb=True, blksize=blk, overlap=blk // 2)
    fv = core.mv.Analyse(sup, isb=False, blksize=blk, overlap=blk // 2)
    flow = core.mv.FlowFPS(src, sup, bv, fv, num=30 * 2 * factor, den=1)
    from vs_zstsr.baselines import _select

    wanted = np.clip(2 * np.arange(t * factor) + 1 - factor, 0, flow.num_frames - 1)
    for _ in _select(flow, wanted).frames(close=True):
        pass
    print(time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/zstsr_hd"))
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--frames-2160p", type=int, default=8)
    ap.add_argument("--budget", default="20s")
    ap.add_argument("--long", type=int, default=4, help="1080p again on a clip this many times as long (0: no)")
    ap.add_argument("--commands", nargs="+", default=["flow", "cubic", "default", "baseline"],
                    choices=["flow", "cubic", "default", "baseline", "render"])
    ap.add_argument("--reference", nargs=2, metavar=("CLIP", "FACTOR"), help=argparse.SUPPRESS)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    if args.reference:
        reference(args.reference[0], int(args.reference[1]))
        return

    factor, zs = 8, [sys.executable, "-m", "vs_zstsr"]
    runs = [(s, args.frames_2160p if s == "2160p" else args.frames) for s in args.sizes]
    if args.long and "1080p" in args.sizes:
        runs.append(("1080p", args.frames * args.long))
    rows = []
    for size, n in runs:
        clip = make_pan(args.work / f"pan_{size}_{n}.mkv", size, n)
        out = args.work / f"out_{size}_{n}"
        ref_s = None
        if n == (args.frames_2160p if size == "2160p" else args.frames):
            r = subprocess.run([sys.executable, __file__, "--reference", str(clip), str(factor)], check=True,
                               stdout=subprocess.PIPE, text=True)
            ref_s = float(r.stdout.split()[-1])
            rows.append((size, n, "MVTools FlowFPS alone (reference)", ref_s, None, ref_s))
            print(rows[-1], flush=True)
        cmds = {
            "flow": zs + ["upsample", clip, "-o", f"{out}_flow.mkv", "--method", "flow"],
            "cubic": zs + ["upsample", clip, "-o", f"{out}_cubic.mkv", "--method", "cubic"],
            "default": zs + ["upsample", clip, "-o", f"{out}_default.mkv", "--budget", args.budget],
            "baseline": zs + ["baseline", clip, "-o", f"{out}_baseline.mkv", "-m", "flowfps", "-b"],
            "render": zs + ["render", clip, "-o", f"{out}_render", "--method", "cubic", "--codec", "ffv1"],
        }
        for name in args.commands:
            secs, rss = run_measured(*cmds[name])
            label = {"flow": "upsample --method flow", "cubic": "upsample --method cubic",
                     "default": f"upsample (default, --budget {args.budget})",
                     "baseline": "baseline -m flowfps -b", "render": "render --method cubic --codec ffv1"}[name]
            rows.append((size, n, label, secs, rss, ref_s))
            print(rows[-1], flush=True)
    lines = ["| size | LTR frames (x8 out) | command | s per output frame | x MVTools FlowFPS alone | peak RSS (GiB) |",
             "|---|---|---|---|---|---|"]
    ref = {}
    for size, n, label, secs, rss, ref_s in rows:
        if ref_s is not None:
            ref[size] = ref_s / n
        r = ref.get(size)
        ratio = f"{secs / n / r:.2f}" if r and rss is not None else ("1" if rss is None else "")
        lines.append(f"| {size} | {n} ({n * factor}) | {label} | {secs / (n * factor):.3f} | {ratio} | "
                     f"{'' if rss is None else f'{rss / 1024:.2f}'} |")
    table = "\n".join(lines)
    print(table)
    if args.write_docs:
        body = (f"Command: `python benchmarks/bench_hd.py {' '.join(sys.argv[1:])}` (the machine was shared: "
                "compare the ratios, measured in the same run). The synthetic textured pan (benchmarks/hd_clips.py), "
                f"x{factor}, output FFV1 .mkv (lossless); seconds include decoding, training (default), writing. "
                "The reference's ratio is per LTR frame of its own clip.\n\n" + table)
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "bench_hd", body)


if __name__ == "__main__":
    main()
