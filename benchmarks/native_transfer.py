"""A segment's frames on their way to MVTools' worker: through the pipe or a file of shared memory
(vs_zstsr/native.py, ``_Args``; issue 19).

    python benchmarks/native_transfer.py [--clip /tmp/zstsr_hd/pan_1080p_24.mkv] [--frames 23] [--rounds 3]

Reads ``--frames`` frames of the clip (bench_hd.py's 1080p pan by default, made if missing) as the
direct path holds a segment (a FrameList of float32 frames: 23 at 1080p), then, for each way
(``native.SHARED_ARGS`` off and on), alternately ``--rounds`` times, each in a fresh worker:
the seconds until a call that reads nothing of them returns (the transfer alone), then, on the
same worker, until MVTools' first finished output frame of the segment comes back and until its
last (``baselines.peer_frames`` as `zstsr upsample --method flow` runs it: x8, the segment's inside
frames, finished), and a second segment in the same worker, as a long clip's
later segments are.
"""
from __future__ import annotations

import argparse
import itertools
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from hd_clips import make_pan

from vs_zstsr import direct, io, native
from vs_zstsr.direct import PEER_CONTEXT, Finish


def run(frames: direct.FrameList, shared: bool) -> list[float]:
    native.SHARED_ARGS = shared
    pool = native.Pool(1)
    try:
        pool.call("vs_zstsr.baselines:has_mvtools", what="VapourSynth")       # the worker started
        t0 = time.perf_counter()
        pool.call("builtins:len", frames, what="a transfer")
        out = [time.perf_counter() - t0]
        for _ in range(2):                      # a first segment, then another in the same worker
            t0, first = time.perf_counter(), None
            for _ in pool.stream("vs_zstsr.baselines:peer_frames", frames, 8, "flowfps", Fraction(30),
                                 (PEER_CONTEXT, len(frames) - 2 * PEER_CONTEXT), finish=Finish(), what="MVTools"):
                first = first or time.perf_counter() - t0
            out += [first, time.perf_counter() - t0]
        return out
    finally:
        pool.close()
        native.SHARED_ARGS = True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=None, help="default: bench_hd.py's 1080p pan of 24 frames")
    ap.add_argument("--frames", type=int, default=23, help="the segment's frames (1080p: 23)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    clip = args.clip or make_pan(Path("/tmp/zstsr_hd/pan_1080p_24.mkv"), "1080p", 24)
    frames = direct.FrameList(np.asarray(f, np.float32) for f in itertools.islice(io.read_frames(clip), args.frames))
    print(f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} "
          f"({sum(f.nbytes for f in frames) / 2 ** 20:.0f} MiB)")
    print("| way | round | transfer alone (s) | first segment: first frame / all (s) | second segment: first frame / all (s) |")
    print("|---|---|---|---|---|")
    for r in range(1, args.rounds + 1):
        for shared in (False, True):
            t = run(frames, shared)
            print(f"| {'shared memory' if shared else 'pipe'} | {r} | {t[0]:.2f} | {t[1]:.2f} / {t[2]:.2f} | "
                  f"{t[3]:.2f} / {t[4]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
