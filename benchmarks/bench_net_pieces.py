"""The net's pieces (vs_zstsr/netrun.py: tiles and slices under ``NET_BYTES``) on the clips the x8
ladder gives it at 1080p and 4K: seconds, onnxruntime calls, voxels computed against the clip's,
peak RSS, this checkout against another tree, and whether their outputs agree.

    git worktree add --detach /tmp/zref REV    # (and its built shim: vs_zstsr/_shim/libzstsr.so)
    python benchmarks/bench_net_pieces.py [--ref /tmp/zref] [--rounds 2] [--write-docs]
    python benchmarks/bench_net_pieces.py --job cam01 --ref /tmp/zref [--write-docs]

Each run is a process of its own (the peak is the kernel's high-water mark of that process): an
untrained net of the ``fast`` preset (exported once by this checkout; the time does not depend on
its weights) runs ``netrun.net_x2`` (self-ensemble 1) on random frames of each shape, the trees
alternately. The shapes (LTR frames x height x width of the net's input) are what the default
render's one-frame chunks give the net's rungs with ``--method net``: at 1080p 19 frames at
135x240, 22 at 270x480 and 20 at 540x960 (each rung's input has the rate of the rungs below it),
and 4K's first rung, 19 at 270x480, where auto puts the net.

``--job CLIP``: instead, the whole ``zstsr upsample --method net --ensemble 1`` with that net
(``--model``: no training, no self-check) on a dev clip (benchmarks/common.py) or a video file, each tree in turn,
its seconds and peak RSS, and the outputs compared value for value.
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

from common import ROOT, publish, tree_env

SHAPES = ((19, 135, 240), (22, 270, 480), (20, 540, 960), (19, 270, 480))

_RUN = r"""
import json, resource, sys, time
import numpy as np
from vs_zstsr import netrun
from vs_zstsr.model import load_model
path, t, h, w, out, pattern = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5], sys.argv[6] == "1"
if int(sys.argv[7]):
    netrun.NET_BYTES = int(sys.argv[7])
m = load_model(path, provider="cpu")
if pattern:      # onnxruntime's memory patterns on again (vs_zstsr/model.py turns them off)
    import onnxruntime as ort
    so = m.session.get_session_options()
    so.enable_mem_pattern = True
    m.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
calls = []
class Counted:
    receptive_field, metadata = m.receptive_field, m.metadata
    def run(self, clip, *base):
        calls.append(clip.shape[:3])
        return m.run(clip, *base)
x = np.random.default_rng(0).random((t, h, w, 3), dtype=np.float32)
t0 = time.perf_counter()
y = netrun.net_x2(Counted(), x)
secs = time.perf_counter() - t0
np.save(out, y[:, ::5, ::5])
print(json.dumps({"s": secs, "calls": len(calls), "voxels": sum(a * b * c for a, b, c in calls) / (t * h * w),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


# the CLI with netrun.NET_BYTES set first (argv: bytes, then the CLI's arguments)
_ZSTSR_WITH = ("import sys; from vs_zstsr import netrun; netrun.NET_BYTES = int(sys.argv.pop(1)); "
               "from vs_zstsr.cli import main; main(prog_name='zstsr')")


def run(tree: Path | None, model: str, shape: tuple[int, int, int], out: str, pattern: bool = False,
        net_bytes: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as pkgs:
        env, cwd = (tree_env(tree, pkgs), pkgs) if tree is not None else (dict(os.environ), None)
        r = subprocess.run([sys.executable, "-c", _RUN, model, *map(str, shape), out, str(int(pattern)), str(net_bytes)],
                           check=True, env=env, cwd=cwd,
                           stdout=subprocess.PIPE, text=True)
    return json.loads(r.stdout.splitlines()[-1])


def job(tree: Path | None, model: str, clip: Path, out: Path, net_bytes: int = 0) -> tuple[float, int]:
    from bench_speed import _PEAK

    with tempfile.TemporaryDirectory() as pkgs:
        env, cwd = (tree_env(tree, pkgs), pkgs) if tree is not None else (dict(os.environ), None)
        t0 = time.perf_counter()
        zstsr = [sys.executable, "-c", _ZSTSR_WITH, str(net_bytes)] if net_bytes else [sys.executable, "-m", "vs_zstsr"]
        r = subprocess.run([sys.executable, "-c", _PEAK, *zstsr, "upsample", str(clip), "-o",
                            str(out), "-y", "--method", "net", "--ensemble", "1", "--model", model], check=True,
                           env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, int(r.stdout.split()[-1]) // 1024


def main(argv=None) -> None:
    import numpy as np
    import torch
    from zstsr_export import export_onnx
    from zstsr_trainer import PRESETS
    from zstsr_trainer.net import TSRNet

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", type=Path, help="another tree to run alternately with this checkout")
    ap.add_argument("--ref-label", default="ref")
    ap.add_argument("--label", default="this checkout")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--patterns", action="store_true", help="also this checkout with onnxruntime's memory "
                    "patterns on (as before vs_zstsr/model.py turned them off)")
    ap.add_argument("--net-bytes", type=int, nargs="*", default=[], metavar="MIB",
                    help="also this checkout with netrun.NET_BYTES set to each of these MiB")
    ap.add_argument("--job", metavar="CLIP", help="the whole job with --method net on this dev clip instead")
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args(argv)
    trees = [(a.label, None)] + ([(a.ref_label, a.ref.resolve())] if a.ref else [])
    trees += [(f"{a.label}, memory patterns on", None)] if a.patterns else []
    trees += [(f"{a.label}, NET_BYTES {mib} MiB", None) for mib in a.net_bytes]
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        c = PRESETS["fast"]
        torch.manual_seed(0)
        model = export_onnx(TSRNet(c.width, c.depth, padding=c.padding).eval(), os.path.join(tmp, "fast.onnx"))
        if a.job:
            return whole_job(a, trees, model, Path(tmp))
        for r in range(a.rounds):
            for shape in SHAPES:
                for label, tree in (trees if r % 2 == 0 else trees[::-1]):
                    out = os.path.join(tmp, f"{label}_{'x'.join(map(str, shape))}.npy".replace(" ", "_"))
                    mib = int(label.split("NET_BYTES ")[1].split()[0]) if "NET_BYTES" in label else 0
                    got = run(tree, model, shape, out, label.endswith("memory patterns on"), mib * 2 ** 20)
                    rows.setdefault(shape, {}).setdefault(label, []).append(got)
                    print(f"round {r + 1} {shape} {label}: {json.dumps(got)}", flush=True)
        diffs = {}
        if len(trees) > 1:
            for shape in SHAPES:
                y = [np.load(os.path.join(tmp, f"{label}_{'x'.join(map(str, shape))}.npy".replace(" ", "_")))
                     for label, _ in trees]
                diffs[shape] = max(float(np.abs(y[0] - v).max()) for v in y[1:])
    cols = " | ".join(f"{label}: s (each round), calls, voxels, peak MiB" for label, _ in trees)
    lines = [f"Command: `python benchmarks/bench_net_pieces.py{' --ref REF' if a.ref else ''}"
             f"{' --patterns' if a.patterns else ''}{' --net-bytes ' + ' '.join(map(str, a.net_bytes)) if a.net_bytes else ''}"
             f" --rounds {a.rounds}` "
             f"({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"| net input (LTR frames x h x w) | {cols} |" + (" largest difference |" if diffs else ""),
             "|---|" + "---|" * len(trees) + ("---|" if diffs else "")]
    for shape in SHAPES:
        cells = []
        for label, _ in trees:
            g = rows[shape][label]
            cells.append(f"{', '.join(f'{x['s']:.1f}' for x in g)}; {g[0]['calls']}; {g[0]['voxels']:.2f}x; "
                         f"{max(x['peak_mib'] for x in g)}")
        lines.append(f"| {' x '.join(map(str, shape))} | " + " | ".join(cells) + " |"
                     + (f" {diffs[shape]:.1g} |" if diffs else ""))
    publish(lines, "net-pieces", a.write_docs)


def whole_job(a, trees, model: str, tmp: Path) -> None:
    import numpy as np
    from common import prepare

    from vs_zstsr import io

    clip = Path(a.job) if Path(a.job).is_file() else prepare(a.job, ROOT / "out" / "bench")[0]
    info = io.probe(str(clip))
    n, h, w = info.frames, info.height, info.width
    rows = {}
    for r in range(a.rounds):
        for label, tree in (trees if r % 2 == 0 else trees[::-1]):
            out = tmp / f"{label.replace(' ', '_')}.mkv"
            mib = int(label.split("NET_BYTES ")[1].split()[0]) if "NET_BYTES" in label else 0
            rows.setdefault(label, []).append(job(tree, model, clip, out, mib * 2 ** 20))
            print(f"round {r + 1} {label}: {rows[label][-1][0]:.1f} s, peak {rows[label][-1][1]} MiB", flush=True)
    frames = {label: list(io.read_frames(str(tmp / f"{label.replace(' ', '_')}.mkv"))) for label, _ in trees}
    first = frames[trees[0][0]]
    lines = [f"Command: `python benchmarks/bench_net_pieces.py --job {Path(a.job).name}{' --ref REF' if a.ref else ''}"
             f"{' --net-bytes ' + ' '.join(map(str, a.net_bytes)) if a.net_bytes else ''} --rounds "
             f"{a.rounds}` ({time.strftime('%Y-%m-%d %H:%M')}; {a.job}: {n} frames of {w}x{h}, x8)", "",
             "| tree | s (each round) | peak RSS MiB | output values differing from the first row's |", "|---|---|---|---|"]
    for label, _ in trees:
        diff = sum(int(np.count_nonzero(x != y)) for x, y in zip(first, frames[label])) + abs(len(first) - len(frames[label]))
        lines.append(f"| {label} | {', '.join(f'{s:.0f}' for s, _ in rows[label])} | {max(p for _, p in rows[label])} | {diff} |")
    publish(lines, f"net-pieces-job-{Path(a.job).stem}", a.write_docs)


if __name__ == "__main__":
    main()
