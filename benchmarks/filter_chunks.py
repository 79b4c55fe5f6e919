"""The VapourSynth filter's chunk size (``stream.chunk_frames``) against time, on the real clips:
the filter (``core.zstsr.Upsample(method=...)``, zstsr's source, every output frame asked for in
order) run with each chunk size in a process of its own, its wall time, and a digest of every
output frame, which must be the same for every chunk size (rendering is stateless).

    python benchmarks/filter_chunks.py [CLIP ...] [--chunks 1 2] [--frames 24] [--method flow]

Default clips: the real ones in ../shared/data (common.real_clips). For a process's memory, run
the printed per-chunk command under benchmarks/rss_hd.py.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

from common import filter_with_chunk, real_clips

# one run: the first FRAMES frames of CLIP through the filter with CHUNK LTR frames per chunk
_RUN = ("import hashlib, sys, time; import numpy as np\n" + filter_with_chunk("int(sys.argv[2])") +
        "clip, frames, method = sys.argv[1], int(sys.argv[3]), sys.argv[4]\n"
        "t = time.perf_counter(); h = hashlib.blake2b(digest_size=8)\n"
        "src = F.source(clip)\n"
        "out = F.upsample(src[:min(frames, src.num_frames)], 8, method=method)\n"
        "for f in out.frames(close=True):\n"
        "    for p in range(f.format.num_planes):\n        h.update(np.asarray(f[p]).tobytes())\n"
        "print(f'{time.perf_counter() - t:.1f} {h.hexdigest()} {out.width}x{out.height}')")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*", help="default: the real clips in ../shared/data")
    ap.add_argument("--chunks", type=int, nargs="+", default=[1, 2], help="LTR frames per chunk (default 1 2)")
    ap.add_argument("--frames", type=int, default=24, help="the clip's first FRAMES frames (default 24)")
    ap.add_argument("--method", default="flow")
    args = ap.parse_args()
    print("| clip | size | chunk (LTR frames) | wall s | output digest |\n|---|---|---|---|---|")
    for clip in args.clips or real_clips():
        for chunk in args.chunks:
            out = subprocess.run([sys.executable, "-c", _RUN, str(clip), str(chunk), str(args.frames), args.method],
                                 check=True, capture_output=True, text=True).stdout.split()
            wall, digest, size = out[-3:]
            print(f"| {clip} | {size} | {chunk} | {wall} | {digest} |", flush=True)


if __name__ == "__main__":
    main()
