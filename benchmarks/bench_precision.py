"""The whole default x8 job trained in float32 and in bfloat16: PSNR on every dev clip (issue 15).

    python benchmarks/bench_precision.py --ref /tmp/zref [--clips cam01 cam03 ...] [--json out/bench/precision.jsonl]

``zstsr upsample`` with its defaults (``--examples auto``: two nets, the self-check, the render)
on each dev clip's LTR (benchmarks/common.py), from a fresh model cache, run by two trees: this
checkout, whose trainer computes the net's convolutions in bfloat16 on a CPU with bfloat16 units
(``zstsr_trainer.train.autocast_dtype``), and ``--ref``, a checkout of the code before it (float32;
e.g. ``git worktree add /tmp/zref b26435b``), its packages linked under their import names into a
temporary folder put first on PYTHONPATH (as bench_iter_rate.py does). Each job is scored as
`zstsr eval` scores it against the clip's truth. Training runs the default 2,000 iterations with the
wall-clock cap raised (``--budget``), so that a busy machine gives both trees the same nets it
would give them idle; the seconds are reported but depend on the load (bench_speed.py times the
job on its own).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import CLIPS, FACTOR, ROOT, evaluate, job_table, prepare, replace_section, tree_env

WORK = ROOT / "out" / "bench"


def run_job(tree: Path | None, ltr: Path, out: Path, factor: int, budget: str | None, env_extra: dict,
            args: tuple[str, ...] = (), log: Path | None = None) -> float:
    """Seconds of ``zstsr upsample`` (defaults but ``args``, a fresh model cache) run by ``tree``
    (None: this checkout); its log written to ``log`` when given. ``budget``: the training cap
    with 2,000 iterations; None: the tree's own defaults, nothing added (a tree from before
    ``--iterations``)."""
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as pkgs:
        env = dict(tree_env(tree, pkgs) if tree is not None else os.environ, ZSTSR_CACHE=cache, **env_extra)
        t0 = time.perf_counter()
        cap = ("--iterations", "2000", "--budget", budget, "-y") if budget is not None else ()
        subprocess.run([sys.executable, "-m", "vs_zstsr", "upsample", str(ltr), "-o", str(out), "-f", str(factor),
                        *cap, *args], check=True, env=env,
                       cwd=pkgs if tree is not None else None, stdout=subprocess.DEVNULL,
                       stderr=open(log, "w") if log is not None else subprocess.DEVNULL)
        return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", type=Path, help="a checkout of the float32 trainer (the code before); not with --report")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    ap.add_argument("--budget", default="1h", help="the training cap of each job (high: iterations decide)")
    ap.add_argument("--json", type=Path, default=WORK / "precision.jsonl", help="append one line per clip and tree")
    ap.add_argument("--report", action="store_true", help="only the table, from --json (the latest line per clip "
                    "and tree)")
    ap.add_argument("--write-docs", action="store_true", help="with --report: into docs/BENCHMARKS.md")
    a = ap.parse_args(argv)
    if a.report:
        report(a.json, a.write_docs)
        return
    if a.ref is None:
        ap.error("--ref: a checkout of the code before (float32) is needed to run the jobs")
    a.json.parent.mkdir(parents=True, exist_ok=True)
    for name in a.clips:
        ltr, gt = prepare(name, WORK)
        factor = FACTOR.get(name, 8)
        for label, tree in (("bfloat16 (this checkout)", None), (f"float32 ({a.ref})", a.ref.resolve())):
            out = WORK / f"precision_{name}_{'ref' if tree else 'new'}.mkv"
            secs = run_job(tree, ltr, out, factor, a.budget, {})
            score = evaluate(out, gt)
            row = {"clip": name, "tree": label, "seconds": round(secs, 1), "psnr": round(score["psnr"], 3),
                   "ssim": round(score["ssim"], 4)}
            out.unlink()
            print(json.dumps(row), flush=True)
            with open(a.json, "a") as f:
                f.write(json.dumps(row) + "\n")


def report(path: Path, write: bool) -> None:
    """The job's PSNR per clip in each tree, and the means over the real and all clips."""
    rows: dict[str, dict[str, dict]] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        rows.setdefault(r["clip"], {})["bfloat16" if r["tree"].startswith("bfloat16") else "float32"] = r
    done = {c: v for c, v in rows.items() if len(v) == 2}
    lines = job_table(done, "float32", "bfloat16")
    body = ("### The whole job's PSNR in each precision (`python benchmarks/bench_precision.py --ref REF`, then "
            "`--report --write-docs`)\n\n" + " ".join(__doc__.split("\n\n")[2].split()) + "\n\n" + "\n".join(lines))
    print(body)
    if write:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "precision-job", body)


if __name__ == "__main__":
    main()
