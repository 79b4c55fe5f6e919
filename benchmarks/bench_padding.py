"""The whole default x8 job with zero padding against replicate padding: PSNR on every dev clip
(issue 15).

    python benchmarks/bench_padding.py [--ref /tmp/zref] [--clips cam01 cam03 ...]
    python benchmarks/bench_padding.py --report --write-docs

``zstsr upsample`` with its defaults (bench_precision.py's ``run_job``: a fresh model cache, the
default 2,000 iterations, the wall-clock cap raised) run by this checkout with ``--padding zeros``
(when the table was made, the checkout's ``fast`` preset padded with zeros), scored by `zstsr eval`
against each clip's truth. The replicate-padded job is
either run from ``--ref`` (a checkout from before the change, e.g. ``git worktree add /tmp/zref
fb0b40e``) or, without it, taken from bench_precision.py's rows of this code's bfloat16 job
(``--ref-json``, tree "bfloat16 (this checkout)": main of 2026-12-02 00:xx, the same trainer and
net but for the padding; its graph's last layer was exported otherwise, which moves 7 of 212
million 8-bit values by one level: docs/BENCHMARKS.md, "The exported graph's last layer").

    python benchmarks/bench_padding.py --same-run [--clips cam01s cam03s fan ...]
    python benchmarks/bench_padding.py --same-run --report --write-docs

``--same-run``: both paddings from this checkout, asked for with ``zstsr upsample --padding``, one
job after the other on each clip (the order alternating from clip to clip), so that the seconds
compare too; each job's log gives the two nets' training seconds and the self-check's pick (a
padding matters only where the picked pipeline runs the net). The small real clips
(common.SMALL_CLIPS: first rung 45x80) are offered here.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_precision import WORK, run_job
from common import CLIPS, FACTOR, REAL, SMALL_CLIPS, evaluate, job_log, job_table, prepare, publish

NEW, REF = "zeros (this checkout)", "replicate"
SAME_RUN = WORK / "padding_same.jsonl"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", type=Path, help="a checkout from before the change, run beside this one")
    ap.add_argument("--ref-json", type=Path, default=WORK / "precision.jsonl",
                    help="without --ref: the replicate rows (bench_precision.py's bfloat16 job)")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS + SMALL_CLIPS)
    ap.add_argument("--same-run", action="store_true", help="both paddings from this checkout (--padding), "
                    f"one after the other; rows in {SAME_RUN.relative_to(WORK.parents[1])} unless --json")
    ap.add_argument("--budget", default="1h", help="the training cap of each job (high: iterations decide)")
    ap.add_argument("--json", type=Path, default=WORK / "padding.jsonl", help="append one line per clip and tree")
    ap.add_argument("--report", action="store_true", help="only the table, from --json and --ref-json")
    ap.add_argument("--write-docs", action="store_true", help="with --report: into docs/BENCHMARKS.md")
    a = ap.parse_args(argv)
    if a.same_run:
        same_run(a)
        return
    if not a.report:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        for name in a.clips:
            ltr, gt = prepare(name, WORK)
            for label, tree in ((NEW, None), *(((f"{REF} ({a.ref})", a.ref.resolve()),) if a.ref else ())):
                out = WORK / f"padding_{name}_{'ref' if tree else 'new'}.mkv"
                # (this checkout asks for zeros: its preset pads by replication since the option came)
                secs = run_job(tree, ltr, out, FACTOR.get(name, 8), a.budget, {}, () if tree else ("--padding", "zeros"))
                score = evaluate(out, gt)
                out.unlink()
                row = {"clip": name, "tree": label, "seconds": round(secs, 1), "psnr": round(score["psnr"], 3),
                       "ssim": round(score["ssim"], 4)}
                print(json.dumps(row), flush=True)
                with open(a.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
    report(a)


def report(a) -> None:
    rows: dict[str, dict[str, dict]] = {}
    for line in a.json.read_text().splitlines():
        r = json.loads(line)
        rows.setdefault(r["clip"], {})["new" if r["tree"] == NEW else "ref"] = r
    if a.ref is None and a.ref_json.exists():
        for line in a.ref_json.read_text().splitlines():
            r = json.loads(line)
            if r["tree"] == "bfloat16 (this checkout)" and r["clip"] in rows:
                rows[r["clip"]].setdefault("ref", r)
    done = {c: v for c, v in rows.items() if len(v) == 2}
    lines = job_table({c: {"replicate": v["ref"], "zeros": v["new"]} for c, v in done.items()}, "replicate", "zeros",
                      seconds=True)
    publish(lines, "padding-job", a.write_docs)


def same_run(a) -> None:
    path = SAME_RUN if a.json == WORK / "padding.jsonl" else a.json
    if not a.report:
        path.parent.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(a.clips):
            ltr, gt = prepare(name, WORK)
            for padding in (("replicate", "zeros") if i % 2 == 0 else ("zeros", "replicate")):
                out, log = WORK / f"padding_{name}_{padding}.mkv", WORK / f"padding_{name}_{padding}.log"
                secs = run_job(None, ltr, out, FACTOR.get(name, 8), a.budget, {}, ("--padding", padding), log)
                score = evaluate(out, gt)
                out.unlink()
                row = {"clip": name, "tree": padding, "seconds": round(secs, 1), "psnr": round(score["psnr"], 3),
                       "ssim": round(score["ssim"], 4), **job_log(log)}
                print(json.dumps(row), flush=True)
                with open(path, "a") as f:
                    f.write(json.dumps(row) + "\n")
    rows: dict[str, dict[str, dict]] = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        rows.setdefault(r["clip"], {})[r["tree"]] = r       # the latest of each
    done = {c: v for c, v in rows.items() if len(v) == 2}
    lines = job_table(done, "replicate", "zeros", seconds=True)
    lines += ["", "| clip | nets' training s, replicate / zeros | the self-check's pick, replicate / zeros |",
              "|---|---|---|"]
    for c, v in done.items():
        r, z = v["replicate"], v["zeros"]
        lines.append(f"| {c}{' (real)' if c in REAL else ''} | {'+'.join(map(str, r['train_s']))} / "
                     f"{'+'.join(map(str, z['train_s']))} | {r['pick']} / {z['pick']} |")
    publish(lines, "padding-same-run", a.write_docs)


if __name__ == "__main__":
    main()
