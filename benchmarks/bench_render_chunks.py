"""The render's chunk size (vs_zstsr/stream.py ``chunk_frames``): time and peak memory of the
default x8 job with its nets already trained, per chunk size, and whether the outputs agree.

    python benchmarks/bench_render_chunks.py [--chunks 13 27] [--rounds 2] [--cache DIR]

On the clip of benchmarks/bench_speed.py (60 frames of cityCC0.mpg at 512x288). The nets come
from ``--cache`` (a model cache folder, ZSTSR_CACHE): a first run with an empty one trains them
(not timed), so every timed run does the self-check and the render only. Each round runs every
chunk size once (``zstsr upsample --chunk N``), alternately; peak RSS is the run's process (a fresh
wrapper per run, as bench_speed.py measures it). Then every output is decoded and compared with
the first, value for value.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_speed import _PEAK, job_clip

from vs_zstsr import io


def run(clip: Path, out: Path, cache: str, chunk: int | None) -> tuple[float, int]:
    env = dict(os.environ, ZSTSR_CACHE=cache)
    args = [sys.executable, "-m", "vs_zstsr", "upsample", str(clip), "-o", str(out), "-f", "8", "-y"]
    args += ["--chunk", str(chunk)] if chunk else []
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _PEAK, *args], check=True, stdout=subprocess.PIPE, text=True, env=env)
    return time.perf_counter() - t0, int(r.stdout.split()[-1]) // 1024


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, nargs="+", default=[13, 27], help="LTR frames per chunk")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cache", help="model cache folder (default: a new one, trained first)")
    args = ap.parse_args(argv)
    clip = job_clip()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or os.path.join(tmp, "cache")
        if not any(Path(cache).glob("*.onnx")):
            print("training the nets (not timed) ...", flush=True)
            run(clip, Path(tmp) / "train.mkv", cache, None)
        rows = {c: [] for c in args.chunks}
        for r in range(args.rounds):
            for c in args.chunks:
                secs, peak = run(clip, Path(tmp) / f"c{c}.mkv", cache, c)
                rows[c].append((secs, peak))
                print(f"round {r + 1} chunk {c}: {secs:.1f} s, peak {peak} MiB", flush=True)
        frames = {c: list(io.read_frames(str(Path(tmp) / f"c{c}.mkv"))) for c in args.chunks}
    first = frames[args.chunks[0]]
    print(f"\n`python benchmarks/bench_render_chunks.py --chunks {' '.join(map(str, args.chunks))} --rounds "
          f"{args.rounds}` ({time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f})\n")
    print("| LTR frames per chunk | s (each round) | peak RSS MiB | differing output values |")
    print("|---|---|---|---|")
    for c in args.chunks:
        diff = sum(int(np.count_nonzero(a != b)) for a, b in zip(first, frames[c])) + abs(len(first) - len(frames[c]))
        print(f"| {c} | {', '.join(f'{s:.1f}' for s, _ in rows[c])} | {max(p for _, p in rows[c])} | {diff} |")


if __name__ == "__main__":
    main()
