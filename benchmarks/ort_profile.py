"""Where onnxruntime spends a zstsr model's run, node by node (its own profiler), for one or more
models on the same input.

    python benchmarks/ort_profile.py MODEL.onnx [MODEL2.onnx ...] [--frames 32 --size 72x128]
        [--threads 2] [--runs 4] [--export-from MODEL.onnx] [--fresh replicate zeros]

``--export-from``: also export the net inside that model with this checkout's exporter
(zstsr_export.export_onnx, which needs torch) and profile both: the old graph against the new one,
the same weights. ``--fresh PADDING ...``: also export an untrained net of the ``fast`` preset's
width and depth with each padding (zstsr_trainer.config.PADDINGS; the time does not depend on the
weights, so the outputs are not compared). Prints, per model, the best of ``--runs`` wall seconds for one window of
``--frames`` LTR frames (the default: the window the default job's render gives the first rung of
a 512x288 clip), the node time per operator type (mean per run, and its share) and the slowest
nodes, and the largest difference between the models' outputs.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time

import numpy as np


def profile(path: str, x: np.ndarray, threads: int, runs: int, prefix: str) -> tuple[float, dict, list, np.ndarray]:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.log_severity_level = 3
    so.enable_profiling = True
    so.profile_file_prefix = prefix
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    best, out = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = sess.run(["htr"], {"ltr": x})[0]
        best = min(best, time.perf_counter() - t0)
    events = json.load(open(sess.end_profiling()))
    by_op, by_node = collections.defaultdict(float), collections.defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"].get("op_name")] += e["dur"] / runs / 1e3
            by_node[(e["args"].get("op_name"), e["name"].removesuffix("_kernel_time"))] += e["dur"] / runs / 1e3
    return best, dict(by_op), sorted(by_node.items(), key=lambda kv: -kv[1])[:8], out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*")
    ap.add_argument("--export-from", help="a model whose net this checkout exports again, profiled beside it")
    ap.add_argument("--fresh", nargs="+", default=[], metavar="PADDING", help="untrained fast nets with these paddings")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", default="72x128", help="HxW of the window")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=4)
    args = ap.parse_args(argv)
    h, w = (int(v) for v in args.size.split("x"))
    x = np.random.default_rng(0).random((1, 3, args.frames, h, w), dtype=np.float32)
    models = list(args.models)
    with tempfile.TemporaryDirectory() as tmp:
        if args.export_from:
            from zstsr_export.onnx import export_onnx, load_onnx_net

            models += [args.export_from, export_onnx(load_onnx_net(args.export_from), os.path.join(tmp, "exported.onnx"))]
        fresh = []
        for padding in args.fresh:
            from common import untrained_net

            fresh.append(untrained_net(os.path.join(tmp, f"fresh_{padding}.onnx"), padding))
        outs = []
        for i, path in enumerate(models + fresh):
            best, by_op, slow, out = profile(path, x, args.threads, args.runs, os.path.join(tmp, f"p{i}"))
            if path not in fresh:
                outs.append(out)
            total = sum(by_op.values())
            name = "this checkout's export" if args.export_from and i == len(models) - 1 else \
                f"an untrained fast net, {args.fresh[i - len(models)]} padding" if path in fresh else path
            print(f"\n{name}: best {best:.3f} s for {args.frames} frames of {w}x{h}, {args.threads} threads; "
                  f"node time {total:.0f} ms a run")
            for op, ms in sorted(by_op.items(), key=lambda kv: -kv[1]):
                if ms >= 0.005 * total:
                    print(f"  {op:16s} {ms:7.1f} ms {100 * ms / total:5.1f}%")
            print("  slowest nodes: " + ", ".join(f"{op} {node} {ms:.0f} ms" for (op, node), ms in slow))
    if len(outs) > 1:
        print("\nlargest difference from the first model's output: "
              + ", ".join(f"{float(np.abs(o - outs[0]).max()):.2g}" for o in outs[1:]))


if __name__ == "__main__":
    main()
