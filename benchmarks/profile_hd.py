"""Where `zstsr upsample` spends its time on large frames: cProfile, summed by stage.

    python benchmarks/profile_hd.py --size 1080p --frames 12 --method flow [--clip pose]

Makes the clip (hd_clips.py: the textured pan, or the real pose2sim clip at its own size) under
--work, runs `zstsr upsample` in this process under cProfile and prints the seconds of each stage
(inclusive time of the functions that do it) and the top functions by their own time.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

from hd_clips import POSE, SIZES, make_pan, make_pose  # noqa: F401

# stage -> (module file suffix, function name): inclusive time of these
STAGES = {
    "decode (read_frames)": ("io.py", "read_frames"),
    "encode (VideoWriter.write)": ("io.py", "write"),
    "interpolate (flow/cubic/linear)": ("ladder.py", "interpolate"),
    "temporal back-projection": ("backprojection.py", "temporal_backproject"),
    "spatio-temporal back-projection": ("backprojection.py", "spatiotemporal_backproject"),
    "net": ("ladder.py", "net_x2"),
    "training": ("fit.py", "fit_model"),
    "self-check": ("ladder.py", "choose_methods"),
    "ladder (Ladder.run, all)": ("ladder.py", "run"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/zstsr_hd"))
    ap.add_argument("--size", choices=SIZES, default="1080p")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--clip", choices=("pan", "pose"), default="pan")
    ap.add_argument("--method", default="flow")
    ap.add_argument("--budget", default="20s")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args()

    if args.clip == "pan":
        src = make_pan(args.work / f"pan_{args.size}_{args.frames}.mkv", args.size, args.frames)
    else:
        src = make_pose(args.work / f"pose_{args.size}_{args.frames}.mkv", args.size, args.frames)
    out = args.work / f"profile_{args.clip}_{args.size}_{args.method}.mkv"
    from vs_zstsr.cli import main as cli

    argv = ["upsample", str(src), "-o", str(out), "--method", args.method, "--budget", args.budget]
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    try:
        cli.main(argv, standalone_mode=False)
    finally:
        prof.disable()
    wall = time.perf_counter() - t0
    st = pstats.Stats(prof)
    stats = st.stats  # {(file, line, func): (cc, nc, tt, ct, callers)}
    print(f"{args.clip} {args.size} {args.frames} frames, --method {args.method}: {wall:.1f} s wall")
    for name, (suffix, func) in STAGES.items():
        ct = sum(v[3] for (f, _, fn), v in stats.items() if f.endswith(suffix) and fn == func)
        if ct:
            print(f"  {name:36s} {ct:8.1f} s  {100 * ct / wall:5.1f} %")
    print("top functions by own time:")
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:args.top]
    for (f, line, fn), v in rows:
        print(f"  {v[2]:8.2f} s  {fn} ({Path(f).name}:{line})")


if __name__ == "__main__":
    main()
