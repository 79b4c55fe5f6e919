"""CPU of MVTools' graph as zstsr builds it, against the reference's, in one process (issue 19).

    python benchmarks/flow_graph_cpu.py [--clip /tmp/zstsr_hd/pan_1080p_24.mkv] [--rounds 2] [--ahead 3 6]

Each variant runs in a process of its own on every frame of the clip (bench_hd.py's pan, x8):
``ref`` bench_hd.py's reference (YUV frames made before the clock, MVTools alone, frames dropped);
``yuv`` ``baselines.peer_frames`` with MVTools' own YUV frames out; ``rgbs`` float RGB out;
``fin`` finished as ``--method flow`` runs it (back-projection, 8 bits: ``direct.Finish``);
``planes`` and then made 4:2:0 8-bit Y'CbCr planes, as a writer of a yuv420p clip takes them
(``io.Planar``).
Prints wall and CPU seconds of each: the CPU is the figure (the machine is shared). ``--ahead``:
each variant again with each of these ``baselines.FLOW_AHEAD`` values (FlowFPS frames in flight per
VapourSynth thread; 0 or none: as shipped).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

VARIANTS = ("ref", "yuv", "rgbs", "fin", "planes")


def _one(variant: str, clip: str, ahead: int = 0) -> None:
    if variant == "ref":
        import bench_hd

        bench_hd.reference(clip, 8)          # prints its own wall and CPU seconds
        return
    import numpy as np

    from vs_zstsr import baselines, io
    from vs_zstsr.direct import Finish, keep_frame_memory

    keep_frame_memory(one_arena=True)        # as MVTools' worker sets it (vs_zstsr/native.py)
    if ahead:
        baselines.FLOW_AHEAD = ahead
    x = np.stack(list(io.read_frames(clip)))
    planes = io.Planar("yuv420p", x.shape[2], x.shape[1], matrix=1, range=1, sub_w=1, sub_h=1, bits=8)
    kw = {"yuv": {"yuv": True}, "rgbs": {}, "fin": {"finish": Finish(backproject=True, clip_input=True, bits=8)},
          "planes": {"finish": Finish(backproject=True, clip_input=True, bits=8, planes=planes)}}
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in baselines.peer_frames(x, 8, "flowfps", Fraction(30), **kw[variant]):
        pass
    print(time.perf_counter() - t0, time.process_time() - c0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", default="/tmp/zstsr_hd/pan_1080p_24.mkv", help="made by bench_hd.py")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--ahead", type=int, nargs="+", default=[0], help="FLOW_AHEAD values (0: as shipped)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _one(args.one, args.clip, args.ahead[0])
        return
    print("| variant | FLOW_AHEAD | round | wall s | CPU s |")
    print("|---|---|---|---|---|")
    for r in range(args.rounds):
        for v in args.variants:
            for ahead in args.ahead if v != "ref" else [0]:
                out = subprocess.run([sys.executable, __file__, "--one", v, "--clip", args.clip, "--ahead", str(ahead)],
                                     check=True, capture_output=True, text=True, cwd=Path(__file__).parent)
                wall, cpu = map(float, out.stdout.split()[-2:])
                print(f"| {v} | {ahead or 'as shipped'} | {r + 1} | {wall:.1f} | {cpu:.1f} |", flush=True)


if __name__ == "__main__":
    main()
