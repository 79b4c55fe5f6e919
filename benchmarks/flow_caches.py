"""VapourSynth's frame caches in MVTools' graph against time and memory (issue 19).

    python benchmarks/flow_caches.py [--frames 12] [--rounds 2] [--clip CLIP] [--variants ...]

Runs ``baselines.peer_frames(pan, 8, "flowfps", finish=...)`` (what ``--method flow`` runs in its
worker) in a process of its own on the first ``--frames`` frames of bench_hd.py's 1080p pan (or
``--clip``), with ``baselines.FLOW_CACHES`` (each node's cache: fixed frames, 0 none, None
VapourSynth's automatic one) changed as each variant below says, the variants interleaved
``--rounds`` times, and prints wall and CPU seconds, the peak resident set (/proc sampled every
0.2 s) and a hash of the finished frames (the same in every row: caches change no value).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

from common import ROOT

# label: changes to baselines.FLOW_CACHES ("all": every node)
VARIANTS = {"as shipped": {}, "automatic (VapourSynth's caches)": {"all": None},
            "none at all": {"all": 0},
            "before (automatic on vectors, phases, error; none elsewhere)":
                {"all": 0, "vectors": None, "phases": None, "error": None},
            "yuv, super 3": {"yuv": 3, "super": 3}, "yuv, super, vectors 6": {"yuv": 6, "super": 6, "vectors": 6},
            "phases 2": {"phases": 2}}


def caches(change: dict) -> dict:
    """FLOW_CACHES with a variant's changes."""
    from vs_zstsr.baselines import FLOW_CACHES

    out = dict.fromkeys(FLOW_CACHES, change["all"]) if "all" in change else dict(FLOW_CACHES)
    out.update((k, v) for k, v in change.items() if k != "all")
    return out


def _one(clip: str, frames: int, change: str) -> None:
    import numpy as np

    import vs_zstsr.baselines as b
    from vs_zstsr import io
    from vs_zstsr.direct import Finish, keep_frame_memory

    b.FLOW_CACHES = caches(json.loads(change))
    keep_frame_memory(one_arena=True)      # as MVTools' worker sets it (vs_zstsr/native.py)
    ltr = np.stack([f for _, f in zip(range(frames), io.read_frames(clip))])
    peak, done = [0], threading.Event()

    def sample():
        while not done.is_set():
            with open("/proc/self/status") as f:
                peak[0] = max([peak[0]] + [int(x.split()[1]) for x in f if x.startswith("VmRSS")])
            time.sleep(0.2)

    threading.Thread(target=sample, daemon=True).start()
    h, t0, c0 = hashlib.md5(), time.perf_counter(), os.times()
    for fr in b.peer_frames(ltr, 8, "flowfps", Fraction(30), finish=Finish(clip_input=True)):
        h.update(np.ascontiguousarray(fr).tobytes())
    c1 = os.times()
    done.set()
    print(time.perf_counter() - t0, c1.user + c1.system - c0.user - c0.system, peak[0] / 2 ** 20, h.hexdigest()[:8])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clip", help="a clip instead of the 1080p pan (bench_hd.py's, made if missing)")
    ap.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _one(args.one[0], int(args.one[1]), args.one[2])
        return
    from hd_clips import make_pan

    clip = args.clip or make_pan(Path(tempfile.gettempdir()) / "zstsr_hd" / "pan_1080p_24.mkv", "1080p", 24)
    print("| caches | round | wall s | CPU s | peak RSS (GiB) | frames' hash |")
    print("|---|---|---|---|---|---|")
    for r in range(args.rounds):
        for label in args.variants:
            out = subprocess.run([sys.executable, __file__, "--one", str(clip), str(args.frames),
                                  json.dumps(VARIANTS[label])],
                                 check=True, capture_output=True, text=True, cwd=ROOT)
            wall, cpu, rss, digest = out.stdout.split()[-4:]
            print(f"| {label} | {r + 1} | {float(wall):.1f} | {float(cpu):.1f} | {float(rss):.2f} | {digest} |", flush=True)


if __name__ == "__main__":
    main()
