"""Would the auto examples' pick be the same after a quarter of the training? (issue 15)

``--examples auto`` trains two nets (within, both: vs_zstsr.fit.AUTO_EXAMPLES), each with half the
budget, and keeps the one whose first rung has the lower group seam on the self-check's frames
(vs_zstsr.selfcheck.fit_and_pick). This script trains both as the default job does (the same rung
size, frames, config and seed) and scores each net's seam at ``--marks`` iterations, the last being
the job's own: if the pick after the first mark is the job's pick on every clip, the job can train
the loser only that far and the frames it writes do not change.

    python benchmarks/bench_early_pick.py --clips cam01 cam03 city cam01x4 cam03x4 fan texture
    python benchmarks/bench_early_pick.py --report --write-docs     # the table, from --json
"""
from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from common import CLIPS, FACTOR, REAL, ROOT, prepare, publish

WORK = ROOT / "out" / "bench"


def clip_picks(name: str, marks: list[int]) -> dict:
    import torch
    import zstsr_trainer
    from zstsr_export import export_onnx

    from vs_zstsr import cuts, io
    from vs_zstsr.fit import AUTO_EXAMPLES, Budget, train_config, training_frames
    from vs_zstsr.ladder import plan
    from vs_zstsr.options import UpsampleOptions
    from vs_zstsr.selfcheck import coarse_size, first_rung_seams, self_check_samples

    ltr_path, _ = prepare(name, WORK)
    vi = io.probe(ltr_path)
    read, n = io.frame_reader(ltr_path, vi), io.count_frames(ltr_path, vi)
    full = (vi.height, vi.width)
    ladder_plan = plan(vi.height, vi.width, FACTOR.get(name, 8), "cubic")
    rung = ladder_plan.rungs[0].size
    engine = UpsampleOptions().engine
    window, _ = self_check_samples(read, n, cuts.DEFAULT_THRESHOLD, coarse_size(ladder_plan, full))
    share = Budget.of().share(len(AUTO_EXAMPLES))
    pieces = training_frames(read, n, rung, 128, cuts.DEFAULT_THRESHOLD)
    row = {"clip": name, "real": name in REAL, "rung": list(rung), "share": share.iterations, "seams": {}, "stopped": {}}
    for kind in AUTO_EXAMPLES:
        config = train_config(None, None, kind, share.iterations)
        snaps, todo = {}, [m for m in sorted(marks) if m < share.iterations]

        def progress(step, total, info):
            while todo and step >= todo[0]:
                snaps[todo.pop(0)] = copy.deepcopy(info["net"]).float().cpu().to(memory_format=torch.contiguous_format)

        t = time.perf_counter()
        r = zstsr_trainer.train(pieces, config, progress=progress)
        snaps[share.iterations] = r.net       # where it stopped (the lr policy may end it earlier)
        row["stopped"][kind] = [r.stopped, r.iterations, round(time.perf_counter() - t, 1)]
        for mark, net in snaps.items():
            with tempfile.TemporaryDirectory() as d:
                path = str(Path(d) / "net.onnx")
                export_onnx(net.eval(), path, {"training_scale": list(rung)})
                seam = first_rung_seams({kind: engine.load(path)}, window, rung, full, engine.tilesize, engine.ensemble)
            row["seams"].setdefault(str(mark), {})[kind] = round(float(seam[kind]), 4)
        print(name, kind, row["stopped"][kind], {m: s.get(kind) for m, s in row["seams"].items()}, flush=True)
    final = row["seams"][str(share.iterations)]
    row["pick"] = {m: min(s, key=s.get) for m, s in row["seams"].items() if len(s) == len(AUTO_EXAMPLES)}
    row["agrees"] = {m: p == min(final, key=final.get) for m, p in row["pick"].items()}
    return row


def report(rows: list[dict], write_docs: bool) -> None:
    marks = sorted({int(m) for r in rows for m in r["seams"]})
    lines = ["Group seam of each net's first rung (dB, lower is better; within / both) after each number of its "
             "iterations, and the kind it picks (* where that is not the pick at the end of the share):", "",
             "| clip | " + " | ".join(f"{m} it" for m in marks) + " |", "|---|" + "---|" * len(marks)]
    wrong = {m: [] for m in marks}
    for r in rows:
        cells = []
        for m in marks:
            s = r["seams"].get(str(m), {})
            pick = r["pick"].get(str(m))
            if pick and not r["agrees"][str(m)]:
                wrong[m].append(r["clip"])
            cells.append(f"{s.get('within', float('nan')):.2f} / {s.get('both', float('nan')):.2f}: "
                         f"{pick}{'' if r['agrees'].get(str(m), True) else ' *'}")
        lines.append(f"| {r['clip']}{' (real)' if r['real'] else ''} | " + " | ".join(cells) + " |")
    real = [r for r in rows if r["real"]]
    lines += ["", "Picks unlike the end's: " + "; ".join(
        f"after {m}: {len(wrong[m])} of {len(rows)} clips ({sum(c in {r['clip'] for r in real} for c in wrong[m])} "
        f"of {len(real)} real){': ' + ', '.join(wrong[m]) if wrong[m] else ''}" for m in marks[:-1]) + "."]
    publish(lines, "early-pick", write_docs)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    ap.add_argument("--marks", default="125,250,500", help="iterations at which to score each net (the job's own count is added)")
    ap.add_argument("--json", type=Path, default=ROOT / "out" / "early" / "picks.jsonl")
    ap.add_argument("--report", action="store_true", help="print the table of --json's rows, train nothing")
    ap.add_argument("--write-docs", action="store_true", help="with --report: into docs/BENCHMARKS.md")
    a = ap.parse_args(argv)
    if a.report:
        rows = {}
        for line in a.json.read_text().splitlines():     # the last row of each clip
            r = json.loads(line)
            rows[r["clip"]] = r
        report(list(rows.values()), a.write_docs)
        return
    marks = [int(m) for m in a.marks.split(",")]
    a.json.parent.mkdir(parents=True, exist_ok=True)
    for name in a.clips:
        row = clip_picks(name, marks)
        print(json.dumps(row), flush=True)
        with open(a.json, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
