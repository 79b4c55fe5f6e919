"""Training iterations per second of this tree against another (e.g. the tree before the speed work).

    git worktree add --detach /tmp/zbase dda4f27
    flock /work/locks/bench python benchmarks/bench_iter_rate.py --baseline /tmp/zbase --rounds 2
    python benchmarks/bench_iter_rate.py --paddings --threads 2     # this tree, replicate against zero padding

The same loop (``zstsr_trainer.train`` with the ``fast`` preset, ``--iters`` iterations, the lr
policy off, on a clip's x2 rung from bench_x2_rung.py) runs in a fresh process per measurement,
alternating between the two trees so that both see the same load; the median time per iteration
after ``--warmup`` iterations is reported. The baseline tree runs from its own sources: its
packages are linked under their import names into a temporary folder put first on PYTHONPATH.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from common import tree_env

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, time
sys.path.insert(0, {bench!r})
import numpy as np
import zstsr_trainer
from bench_x2_rung import rung_clip
from vs_zstsr.resample import rect_downsample
gt = rung_clip({clip!r})
ltr = rect_downsample(gt[: gt.shape[0] // 2 * 2], 2, 0)
cfg = zstsr_trainer.PRESETS["fast"].replace(num_threads={threads}, budget_s=None, max_iters={iters}, lr_window=10 ** 6,
                                           **{changes!r})
stamps = []
zstsr_trainer.train(ltr, cfg, progress=lambda *a: stamps.append(time.perf_counter()))
print(1 / float(np.median(np.diff(stamps[{warmup}:]))))
"""


def measure(tree: Path | None, args, changes: dict | None = None) -> float:
    with tempfile.TemporaryDirectory() as pkgs:
        env = tree_env(tree, pkgs) if tree is not None else dict(os.environ)   # the other tree's packages first
        code = CHILD.format(bench=str(ROOT / "benchmarks"), clip=args.clip, threads=args.threads, iters=args.iters,
                            warmup=args.warmup, changes=changes or {})
        out = subprocess.run([sys.executable, "-c", code], cwd=pkgs, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    how = ap.add_mutually_exclusive_group(required=True)
    how.add_argument("--baseline", type=Path, help="the other tree (a git worktree)")
    how.add_argument("--paddings", action="store_true",
                     help="this tree only: the preset with replicate (baseline) against zero padding")
    ap.add_argument("--clip", default="city")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iters", type=int, default=80)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args(argv)
    if a.paddings:
        runs, names = (lambda: measure(None, a, {"padding": "replicate"}), lambda: measure(None, a, {"padding": "zeros"})), \
            ("replicate", "zeros")
    else:
        runs, names = (lambda: measure(a.baseline.resolve(), a), lambda: measure(None, a)), ("baseline", "this tree")
    rows = []
    for r in range(a.rounds):
        base, this = runs[0](), runs[1]()
        rows.append((base, this))
        print(f"round {r}: {names[0]} {base:.2f} it/s, {names[1]} {this:.2f} it/s, ratio {this / base:.2f}", flush=True)
    ratio = sum(t for _, t in rows) / sum(b for b, _ in rows)
    print(f"{a.clip}, fast preset, {a.threads} thread(s): {names[1]} / {names[0]} = {ratio:.2f}")


if __name__ == "__main__":
    main()
