"""The ladder's resizes (vs_zstsr/resample.py ``resize_axis``): blocked and on every core, against
the whole-array sums it replaced, on the shapes the default x8 job of benchmarks/bench_speed.py
resizes most (a 512x288 clip of 60 frames; its top calls by time, counted by wrapping
``resize_axis`` in that job).

    python benchmarks/bench_resize.py [--rounds 3] [--blocks 65536 262144 1048576] [--write-docs]

For each shape: the best of ``--rounds`` seconds of the reference (each tap's sum over the whole
array, as before), of ``resize_axis`` on one thread and on all of this process's cores, and of
other block sizes on all cores; the ratios are to the reference of the same run. Every variant's
output is compared with the reference's, value for value.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from common import ROOT, publish

from vs_zstsr import resample

sys.path.insert(0, str(ROOT / "tests"))
from test_resample import _whole_array_resize as reference  # noqa: E402  (resize_axis before blocks)

# (shape, n_out, axis, kernel, antialias): the default job's largest resizes
SHAPES = [((96, 288, 256, 3), 512, 2, "cubic", True), ((24, 288, 512, 3), 96, 0, "cubic", False),
          ((96, 288, 512, 3), 144, 1, "cubic", True), ((72, 288, 512, 3), 144, 0, "linear", False),
          ((96, 144, 512, 3), 256, 2, "cubic", True), ((96, 144, 256, 3), 288, 1, "cubic", True),
          ((32, 288, 512, 3), 72, 1, "cubic", True)]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--blocks", type=int, nargs="*", default=[1 << 16, 1 << 20],
                    help="other block sizes (output values) to time on all cores")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args(argv)
    pool, block = resample._pool, resample._BLOCK
    variants = {"reference (whole array per tap)": reference,
                "resize_axis, 1 thread": ("one", block), f"resize_axis, {len(os.sched_getaffinity(0))} threads": ("all", block)}
    variants.update({f"block {b}, all threads": ("all", b) for b in args.blocks})
    rng = np.random.default_rng(0)
    totals = dict.fromkeys(variants, 0.0)
    same = True
    for shape, n_out, axis, kernel, antialias in SHAPES:
        x = rng.random(shape, dtype=np.float32)
        want = reference(x, n_out, axis, kernel, antialias)
        for name, how in variants.items():
            if callable(how):
                run = how
            else:
                threads, b = how
                def run(*a, threads=threads, b=b):
                    resample._BLOCK = b
                    resample._pool = (lambda: None) if threads == "one" else pool
                    try:
                        return resample.resize_axis(*a)
                    finally:
                        resample._BLOCK, resample._pool = block, pool
            best = float("inf")
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                got = run(x, n_out, axis, kernel, antialias)
                best = min(best, time.perf_counter() - t0)
            same &= bool(np.array_equal(got, want))
            totals[name] += best
        print(shape, n_out, axis, "done", flush=True)
    ref = totals[next(iter(variants))]
    lines = [f"`python benchmarks/bench_resize.py --rounds {args.rounds}` ({time.strftime('%Y-%m-%d %H:%M')}, "
             f"load {os.getloadavg()[0]:.2f}): the {len(SHAPES)} shapes' best seconds summed; every variant's "
             f"output {'equal to' if same else 'DIFFERENT from'} the reference's, value for value.", "",
             "| variant | s | x reference |", "|---|---|---|"]
    lines += [f"| {name} | {s:.2f} | {s / ref:.2f} |" for name, s in totals.items()]
    publish(lines, "resize", args.write_docs)


if __name__ == "__main__":
    main()
