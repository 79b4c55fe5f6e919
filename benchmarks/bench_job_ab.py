"""The whole default x8 job, this checkout against another tree, on each dev clip: PSNR, SSIM,
seconds, the nets' training seconds and the self-check's pick (issue 15).

    git worktree add --detach /tmp/zref REV     # (and its built shim: vs_zstsr/_shim/libzstsr.so)
    python benchmarks/bench_job_ab.py --ref /tmp/zref --label "bf16 padding" --ref-label "main before"
    python benchmarks/bench_job_ab.py --report --label ... --ref-label ... --write-docs MARKER

``zstsr upsample`` with its defaults (bench_precision.py's ``run_job``: a fresh model cache, the
default 2,000 iterations with the wall-clock cap raised, so that the nets do not depend on the
load) run by both trees one after the other on each clip, the order alternating from clip to clip
so that both see the same load; each job scored by `zstsr eval` against the clip's truth. With
``--budget default`` each tree runs with its own defaults and nothing added (a tree from before
``--iterations``, whose nets train by the clock: then the host's speed decides them). The same
tree does not give the same frames twice: the trainer picks its thread count by timing
(``zstsr_trainer.train.ThreadTuner``), and oneDNN's sums, so the nets, depend on it; the fan's job
moved by 0.45 dB between two runs of one tree, the small real clips' by 0.01. ``--repeat`` runs
each pair that many times (the table shows the mean, and the spread).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_precision import WORK, run_job
from common import CLIPS, FACTOR, REAL, SMALL_CLIPS, evaluate, job_log, job_table, prepare, publish


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", type=Path, help="the other tree (a git worktree); not with --report")
    ap.add_argument("--label", required=True, help="this checkout's name in the table")
    ap.add_argument("--ref-label", required=True, help="the other tree's name in the table")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS + SMALL_CLIPS), choices=CLIPS + SMALL_CLIPS)
    ap.add_argument("--repeat", type=int, default=1, help="pairs of jobs per clip")
    ap.add_argument("--budget", default="1h", help="the training cap of each job (high: iterations decide); "
                    "'default': each tree's own defaults, nothing added (for a tree from before --iterations, "
                    "whose nets train by the clock: then the load decides them)")
    ap.add_argument("--json", type=Path, default=WORK / "job_ab.jsonl", help="append one line per clip and tree")
    ap.add_argument("--report", action="store_true", help="only the table, from --json (each clip and tree: the "
                    "mean of its runs)")
    ap.add_argument("--write-docs", metavar="MARKER", help="with --report: into docs/BENCHMARKS.md at MARKER")
    a = ap.parse_args(argv)
    if not a.report:
        if a.ref is None:
            ap.error("--ref: the other tree is needed to run the jobs")
        a.json.parent.mkdir(parents=True, exist_ok=True)
        trees = [(a.label, None), (a.ref_label, a.ref.resolve())]
        pairs = [name for name in a.clips for _ in range(a.repeat)]
        for i, name in enumerate(pairs):
            ltr, gt = prepare(name, WORK)
            for label, tree in trees if i % 2 == 0 else trees[::-1]:
                tag = "ref" if tree else "new"
                out, log = WORK / f"ab_{name}_{tag}.mkv", WORK / f"ab_{name}_{tag}.log"
                secs = run_job(tree, ltr, out, FACTOR.get(name, 8), None if a.budget == "default" else a.budget,
                               {}, (), log)
                score = evaluate(out, gt)
                out.unlink()
                row = {"clip": name, "tree": label, "seconds": round(secs, 1), "psnr": round(score["psnr"], 3),
                       "ssim": round(score["ssim"], 4), **job_log(log)}
                print(json.dumps(row), flush=True)
                with open(a.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
    report(a)


def report(a) -> None:
    runs: dict[str, dict[str, list[dict]]] = {}
    for line in a.json.read_text().splitlines():
        r = json.loads(line)
        if r["tree"] in (a.label, a.ref_label):
            runs.setdefault(r["clip"], {}).setdefault(r["tree"], []).append(r)
    done = {c: {t: mean_row(rs) for t, rs in v.items()} for c, v in runs.items() if len(v) == 2}
    old, new = a.ref_label, a.label
    lines = job_table(done, old, new, seconds=True)
    lines += ["", f"| clip | nets' training s (iterations), {old} / {new} | job s, {new} / {old} | the self-check's "
              f"pick ({old}; {new} where it differs) |", "|---|---|---|---|"]
    for c, v in done.items():
        r, n = v[old], v[new]
        pick = r["pick"] + ("" if n["pick"] == r["pick"] else f"; {n['pick']}")
        lines.append(f"| {c}{' (real)' if c in REAL else ''} | {_trained(r)} / {_trained(n)} | "
                     f"{n['seconds'] / r['seconds']:.2f} | {pick} |")
    several = {c: v for c, v in runs.items() if c in done and max(len(rs) for rs in v.values()) > 1}
    if several:
        lines += ["", f"| clip | runs | PSNR of each run, {old} | PSNR of each run, {new} |", "|---|---|---|---|"]
        for c, v in several.items():
            each = {t: ", ".join(f"{r['psnr']:.3f}" for r in v[t]) for t in (old, new)}
            lines.append(f"| {c} | {len(v[old])} / {len(v[new])} | {each[old]} | {each[new]} |")
    total = [sum(v[t]["seconds"] for v in done.values()) for t in (old, new)]
    if done:
        lines.append(f"\nAll {len(done)} jobs: {total[0]:.0f} s ({old}) and {total[1]:.0f} s ({new}): "
                     f"{total[1] / total[0]:.2f}x.")
    publish(lines, a.write_docs or "job-ab", bool(a.write_docs))


def _trained(row: dict) -> str:
    """The nets' training seconds, with their iterations where the run recorded them."""
    its = row.get("train_it") or [None] * len(row["train_s"])
    return "+".join(f"{s}" + (f" ({i})" if i is not None else "") for s, i in zip(row["train_s"], its))


def mean_row(rows: list[dict]) -> dict:
    """One tree's runs on a clip as one row: the mean PSNR, SSIM and seconds; the last run's
    training seconds and pick."""
    out = dict(rows[-1])
    for k in ("psnr", "ssim", "seconds"):
        out[k] = sum(r[k] for r in rows) / len(rows)
    return out


if __name__ == "__main__":
    main()
