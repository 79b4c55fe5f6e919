"""Where zero padding loses on a clip's x2 rung: near the frame's edges, or everywhere (issue 15)?

    python benchmarks/bench_padding_edges.py --clips fan texture cam01 [--json out/bench/padding_edges.jsonl]
    python benchmarks/bench_padding_edges.py --report --write-docs

For each padding, a net trained as the default job's first net is (the ``fast`` preset, ``within``
examples, 1,000 iterations) on the clip's x2 rung (bench_x2_rung.py's ``rung_clip``), exported
and run by the runtime (self-ensemble 4) + back-projection, scored against the rung's truth over
the whole frame and over its inside (``--border`` pixels off each side: the net's reach, so that
no output there sees a padded sample). The same net is also run on the input with its edges
repeated ``--border`` pixels out and cropped back ("edge-padded input"): the frame's own edges
then never meet the layers' padding. If zero padding lost at the edges, the inside would keep
replicate's PSNR and the edge-padded input would win it back.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from common import REAL, ROOT, publish

sys.path.insert(0, str(ROOT / "examples"))
WORK = ROOT / "out" / "bench"


def measure(name: str, padding: str, border: int, iterations: int) -> dict:
    import zstsr_trainer
    from bench_x2_rung import CACHE, rung_clip
    from zstsr_export import export_onnx
    from vs_zstsr.backprojection import temporal_backproject
    from vs_zstsr.metrics import psnr
    from vs_zstsr.model import load_model
    from vs_zstsr.netrun import net_x2
    from vs_zstsr.resample import rect_downsample, temporal_interpolate

    gt = rung_clip(name)
    gt = gt[: gt.shape[0] // 2 * 2]
    ltr = rect_downsample(gt, 2, 0)
    b = border

    def score(x2: np.ndarray) -> tuple[float, float]:
        out = np.clip(temporal_backproject(x2, ltr, 2), 0, 1)
        return round(psnr(out, gt), 3), round(psnr(out[:, b:-b, b:-b], gt[:, b:-b, b:-b]), 3)

    cfg = zstsr_trainer.PRESETS["fast"].replace(examples="within", padding=padding, max_iters=iterations,
                                                budget_s=None)
    r = zstsr_trainer.train([ltr], cfg)
    path = CACHE / f"{name}_edges_{padding}.onnx"
    export_onnx(r, str(path), {"training_scale": 0.25})
    model = load_model(path, provider="cpu")
    row = {"clip": name, "padding": padding, "size": f"{gt.shape[2]}x{gt.shape[1]}", "border": b,
           "iterations": r.iterations, "net": score(net_x2(model, ltr, ensemble=4))}
    big = np.pad(ltr, ((0, 0), (b, b), (b, b), (0, 0)), mode="edge")
    row["net, edge-padded input"] = score(net_x2(model, big, ensemble=4)[:, b:-b, b:-b])
    row["linear+bp"] = score(temporal_interpolate(ltr, 2, "linear"))
    path.unlink()
    return row


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=["fan", "texture", "cam01"])
    ap.add_argument("--paddings", nargs="+", default=["replicate", "zeros"])
    ap.add_argument("--border", type=int, default=8, help="pixels off each side for the inside's PSNR")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--json", type=Path, default=WORK / "padding_edges.jsonl")
    ap.add_argument("--report", action="store_true", help="only the table, from --json")
    ap.add_argument("--write-docs", action="store_true", help="with --report: into docs/BENCHMARKS.md")
    a = ap.parse_args(argv)
    if not a.report:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        for name in a.clips:
            for padding in a.paddings:
                row = measure(name, padding, a.border, a.iterations)
                print(json.dumps(row), flush=True)
                with open(a.json, "a") as f:
                    f.write(json.dumps(row) + "\n")
    rows = {}
    for line in a.json.read_text().splitlines():
        r = json.loads(line)
        rows[(r["clip"], r["padding"])] = r
    lines = ["| clip (x2 rung) | padding | net + BP: whole frame / inside (dB) | the same net, edge-padded input | "
             "linear + BP |", "|---|---|---|---|---|"]
    for (clip, padding), r in rows.items():
        lines.append(f"| {clip}{' (real)' if clip in REAL else ''} {r['size']} | {padding} | "
                     f"{r['net'][0]:.3f} / {r['net'][1]:.3f} | {r['net, edge-padded input'][0]:.3f} / "
                     f"{r['net, edge-padded input'][1]:.3f} | {r['linear+bp'][0]:.3f} / {r['linear+bp'][1]:.3f} |")
    publish(lines, "padding-edges", a.write_docs)


if __name__ == "__main__":
    main()
