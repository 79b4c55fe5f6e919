"""MVTools' worker's heap within a segment (issue 19): which blocks stay on its heap (APART: the
largest, in MiB), and glibc's malloc_trim whenever the resident set has grown by GROW MiB since the
last trim.

    python benchmarks/heap_trim.py [--apart 0] [--grow 0 256 128] [--reps 3] [--size 1080p]

The worker keeps frame-sized blocks on one heap (vs_zstsr/direct.py, ``keep_frame_memory``), those
above the clip's ``baselines.flow_heap_block_bytes`` apart (``heap_blocks_up_to``), and trims it
after each call. This runs the worker's call in a process of its own per APART and GROW, as the
worker does (the same malloc settings, one segment of 17 LTR frames with 2 of context each side,
x8, finished to 8 bits), ``--reps`` times, and prints the process's peak RSS (the kernel's
high-water mark), the trims made and its CPU time. APART 0: the code's own size (as shipped; 32 is
glibc's largest, every block on the heap: as before, e.g. ``--apart 32 0 1 --grow 0``); GROW 0: no trim within the call (as shipped).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from hd_clips import make_pan

_RUN = """
import itertools, os, sys, time
from fractions import Fraction
from vs_zstsr import baselines, direct, io
direct.keep_frame_memory(one_arena=True)
clip, grow, reps, apart = sys.argv[1], int(sys.argv[2]) * 2 ** 20, int(sys.argv[3]), int(sys.argv[4])
if apart:
    baselines.flow_heap_block_bytes = lambda h, w: apart * 2 ** 20
seg = direct.FrameList([io.compact(f) for f in itertools.islice(io.read_frames(clip), 21)])
page = os.sysconf("SC_PAGE_SIZE")
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
finish, trims, cpu = direct.Finish(True, bits=8), 0, time.process_time()
for _ in range(reps):
    base = resident()
    for _f in baselines.peer_frames(seg, 8, "flowfps", Fraction(30), (2, 17), finish=finish):
        if grow and resident() > base + grow:
            direct.release_free_memory()
            trims, base = trims + 1, resident()
    direct.release_free_memory()
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(hwm // 1024, trims, round(time.process_time() - cpu, 1))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apart", type=int, nargs="+", default=[0], help="MiB (0: the code's own size)")
    ap.add_argument("--grow", type=int, nargs="+", default=[0, 256, 128], help="MiB (0: no trim)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--size", default="1080p")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_pan(Path(tmp) / "pan.mp4", args.size, 21, codec="h264")
        print("| largest heap block (MiB) | grow (MiB) | peak RSS (MiB) | trims | CPU s |\n|---|---|---|---|---|")
        for apart in args.apart:
            for grow in args.grow:
                out = subprocess.run([sys.executable, "-c", _RUN, str(clip), str(grow), str(args.reps), str(apart)],
                                     check=True, capture_output=True, text=True).stdout.split()
                print(f"| {apart or 'as shipped'} | {grow} | {out[-3]} | {out[-2]} | {out[-1]} |", flush=True)


if __name__ == "__main__":
    main()
