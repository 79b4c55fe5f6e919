"""MVTools' frame cache and frames in flight in the flow worker against its peak memory and the
job's time (issue 19).

    python benchmarks/flow_cache_hd.py [--sizes 1024 512] [--ahead 3 1] [--rounds 2] [--pan 1080p] [--frames 24] [--clip CLIP]

Runs ``zstsr upsample CLIP --method flow --codec ffvhuff`` (bench_hd.py's pan at ``--pan``'s size,
``--frames`` frames, made if missing) with the VapourSynth cache limit the flow worker sets
(vs_zstsr/baselines.py, ``flow_cache_mb``) at each size, exactly (``FLOW_CACHE_FRAMES`` off;
``--sizes 0``: the shipped rule), with each ``--ahead`` (FlowFPS frames in flight per VapourSynth
thread: ``FLOW_AHEAD``; 0: the shipped value), every pair interleaved ``--rounds`` times, and
prints the wall seconds, the peak resident set of the command's process and of its worker, and
the job's peak, the two together (benchmarks/rss_hd.py: /proc sampled every 0.25 s). The settings reach the worker, a process of
its own, through a ``sitecustomize`` module on PYTHONPATH that sets the constants when Python
starts; the code under test is unchanged.
"""
from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT
from hd_clips import SIZES, make_pan

HOOK = """import os
if os.environ.get("ZSTSR_BENCH_FLOW_CACHE_MB"):
    import vs_zstsr.baselines as _b
    _b.FLOW_CACHE_MB = int(os.environ["ZSTSR_BENCH_FLOW_CACHE_MB"])
    _b.FLOW_CACHE_FRAMES = 0
if os.environ.get("ZSTSR_BENCH_FLOW_AHEAD"):
    import vs_zstsr.baselines as _b
    _b.FLOW_AHEAD = int(os.environ["ZSTSR_BENCH_FLOW_AHEAD"])
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 512],
                    help="FLOW_CACHE_MB values (MiB; 0: as shipped)")
    ap.add_argument("--ahead", type=int, nargs="+", default=[0],
                    help="FLOW_AHEAD values (frames in flight per thread; 0: as shipped)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pan", choices=SIZES, default="1080p", help="the pan's frame size (bench_hd.py)")
    ap.add_argument("--frames", type=int, default=24, help="the pan's length")
    ap.add_argument("--clip", type=Path, default=None, help="another clip instead of the pan")
    args = ap.parse_args()
    work = Path(tempfile.gettempdir()) / "zstsr_hd"
    work.mkdir(exist_ok=True)
    clip = args.clip
    if clip is None:
        clip = make_pan(work / f"pan_{args.pan}_{args.frames}.mkv", args.pan, args.frames)
    hook = Path(tempfile.mkdtemp())
    (hook / "sitecustomize.py").write_text(HOOK)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(hook), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    print("| FLOW_CACHE_MB | FLOW_AHEAD | round | wall s | peak RSS main (MiB) | peak RSS worker (MiB) | job peak (MiB) |")
    print("|---|---|---|---|---|---|---|")
    for r in range(args.rounds):
        for mb, ahead in [(mb, ahead) for mb in args.sizes for ahead in args.ahead]:
            cmd = [sys.executable, str(ROOT / "benchmarks" / "rss_hd.py"), "--every", "0.25", sys.executable, "-m", "vs_zstsr", "upsample",
                   str(clip), "-o", str(work / "flow_cache.nut"), "--method", "flow", "--codec", "ffvhuff", "-y"]
            t0 = time.perf_counter()
            run_env = dict(env, ZSTSR_BENCH_FLOW_CACHE_MB=str(mb or ""), ZSTSR_BENCH_FLOW_AHEAD=str(ahead or ""))
            out = subprocess.run(cmd, env=run_env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if out.returncode:
                sys.exit(f"failed ({mb} MiB, ahead {ahead}): {out.stdout[-500:]}")
            peak = ast.literal_eval(out.stdout.splitlines()[0].split("peak MiB", 1)[1].strip())
            shown = [v or "as shipped" for v in (mb, ahead)]
            print(f"| {shown[0]} | {shown[1]} | {r + 1} | {wall:.1f} | {peak.get('main', 0)} "
                  f"| {peak.get('worker', 0)} | {peak.get('job', 0)} |", flush=True)


if __name__ == "__main__":
    main()
