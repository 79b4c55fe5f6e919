"""What the input-integrity check costs (docs/SAFETY.md): `io.probe` reads every packet of a file
(no decoding) to count its frames and compare them with what the container declares. Measured on
the real clips against the container open alone (the probe before the check) and against decoding
every frame (what any command then does), as ratios measured in the same run.

    flock /work/locks/bench python benchmarks/bench_integrity.py [--write-docs]
"""
from __future__ import annotations

import argparse
import time

from common import ROOT, SHARED, replace_section

from vs_zstsr import io

REAL = ("cityCC0.mpg", "pose2sim_single_cam01.mp4", "pose2sim_single_cam03.mp4")


def best_of(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def open_only(path) -> None:
    av = io._av()
    with av.open(str(path)) as c:
        c.streams.video[0].codec_context   # what the probe read before it counted packets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    rows, ratios = [], []
    for name in REAL:
        path = SHARED / name
        opened = best_of(lambda: open_only(path))
        probed = best_of(lambda: io.probe(path))
        decoded = best_of(lambda: sum(1 for _ in io.read_frames(path, io.probe(path))), 1)
        ratios.append(probed / decoded)
        rows.append(f"| {name} | {io.probe(path).frames} | {opened * 1e3:.0f} | {probed * 1e3:.0f} | "
                    f"{decoded * 1e3:.0f} | {probed / decoded:.3f} |")
    table = "\n".join(["| clip | frames | open (ms) | probe with the packet scan (ms) | decode all (ms) | "
                       "probe / decode |", "|---|---|---|---|---|---|", *rows])
    body = ("## Cost of the input-integrity check (issue 12)\n\nCommand: `flock /work/locks/bench python "
            "benchmarks/bench_integrity.py --write-docs` (best of 3 for open and probe, one decode; the "
            "machine was shared, so read the ratios, not the times).\n\n" + table +
            f"\n\nMean probe / decode over the real clips: {sum(ratios) / len(ratios):.3f}.\n")
    print(body)
    if args.write_docs:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "integrity", body)


if __name__ == "__main__":
    main()
