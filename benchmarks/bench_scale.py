"""Scale-out on Ray: wall time of `zstsr render CARD --ray` on 1 and 2 local worker processes.

    flock /work/locks/bench python benchmarks/bench_scale.py [--method cubic] [--chunk 8] [--write-docs]

The card is the benchmark clips' LTR inputs (fan, texture, city: common.prepare). It is rendered
once locally (no Ray, the reference) and then on a Ray cluster on 127.0.0.1 whose head has 1, then
2, CPUs (so 1, then 2, worker processes); each cluster is started before its timing starts, as a
real cluster would be, so a run's wall time holds what a user waits for: connecting, the prepare
tasks, shipping the windows, the chunks, and the one writer. Every master must be bit-identical to
the local one. Reported: wall times, the speed-up of 2 workers over 1, and the overhead per chunk
((1 worker - local) / chunks).
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

from common import CLIPS, ROOT, prepare, replace_section

LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}   # Ray on 127.0.0.1 only (docs/SCALE.md)


def render(card, out, extra, env=None) -> tuple[float, str]:
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "vs_zstsr", "render", card, "-o", out, *map(str, extra)],
                       text=True, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit(r.stderr)
    return wall, r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", default="cubic", help="engine method (default cubic: nothing to train)")
    ap.add_argument("--factor", type=int, default=8)
    ap.add_argument("--chunk", type=int, default=8, help="LTR frames per chunk (the work unit)")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    os.environ.update(LOOPBACK)
    from ray.cluster_utils import Cluster

    work = ROOT / "out" / "bench_scale"
    card = work / "card"
    card.mkdir(parents=True, exist_ok=True)
    for name in CLIPS:
        ltr, _ = prepare(name, ROOT / "out" / "bench")
        if not (card / ltr.name).exists():
            shutil.copyfile(ltr, card / ltr.name)
    names = sorted(p.name for p in card.iterdir())
    opts = ["--method", args.method, "--factor", args.factor, "--chunk", args.chunk]
    local, _ = render(card, work / "local", opts)
    masters = sorted((work / "local").glob("*.mov"))
    rows, walls, chunks = [], {}, 0
    for workers in (1, 2):
        cluster = Cluster(initialize_head=True, connect=False, head_node_args={
            "num_cpus": workers, "include_dashboard": False, "node_ip_address": "127.0.0.1"})
        try:
            walls[workers], err = render(card, work / f"ray{workers}", opts + ["--ray", cluster.address], LOOPBACK)
        finally:
            cluster.shutdown()
        chunks = int(re.search(r"Ray: (\d+) chunks rendered", err).group(1))
        for m in masters:
            assert (work / f"ray{workers}" / m.name).read_bytes() == m.read_bytes(), f"{m.name} differs"
    per_chunk = (walls[1] - local) / chunks
    body = [f"`flock /work/locks/bench python benchmarks/bench_scale.py --method {args.method} --factor "
            f"{args.factor} --chunk {args.chunk}`: `zstsr render` of a card of {len(names)} clips "
            f"({', '.join(names)}), {chunks} chunks, on a Ray cluster on 127.0.0.1 (started before timing) "
            "against the local render; every master bit-identical to the local one. The 2-core machine "
            "was shared with other jobs, so the ratios are the numbers to read.",
            "", "| run | wall (s) | vs local |", "|---|---|---|",
            f"| local (no Ray) | {local:.1f} | 1.00 |",
            f"| Ray, 1 worker process (1 CPU) | {walls[1]:.1f} | {walls[1] / local:.2f} |",
            f"| Ray, 2 worker processes (1 CPU each) | {walls[2]:.1f} | {walls[2] / local:.2f} |",
            "", f"Speed-up of 2 workers over 1: **{walls[1] / walls[2]:.2f}x**; overhead per chunk "
            f"(1 worker - local, over {chunks} chunks, connecting to the cluster included): "
            f"**{per_chunk:.2f} s**."]
    print("\n".join(body))
    if args.write_docs:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "bench_scale", "## Scale-out on Ray (`--ray`)\n\n"
                        + "\n".join(body))


if __name__ == "__main__":
    main()
