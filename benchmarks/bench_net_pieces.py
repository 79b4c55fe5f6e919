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
from dataclasses import dataclass
from pathlib import Path

from common import ROOT, publish, tree_env, untrained_net

SHAPES = ((19, 135, 240), (22, 270, 480), (20, 540, 960), (19, 270, 480))


@dataclass
class Variant:
    """What one column runs: a tree (None: this checkout) and this checkout's settings changed."""
    label: str
    tree: Path | None = None
    pattern: bool = False      # onnxruntime's memory patterns on again
    net_bytes: int = 0         # netrun.NET_BYTES set to this (0: as the tree has it)

    def file(self, tmp, suffix: str) -> str:
        return os.path.join(tmp, f"{self.label}{suffix}".replace(" ", "_").replace(",", ""))

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


def run(v: Variant, model: str, shape: tuple[int, int, int], out: str) -> dict:
    with tempfile.TemporaryDirectory() as pkgs:
        env, cwd = (tree_env(v.tree, pkgs), pkgs) if v.tree is not None else (dict(os.environ), None)
        r = subprocess.run([sys.executable, "-c", _RUN, model, *map(str, shape), out, str(int(v.pattern)),
                            str(v.net_bytes)], check=True, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    return json.loads(r.stdout.splitlines()[-1])


def job(v: Variant, model: str, clip: Path, out: str) -> tuple[float, int]:
    from bench_speed import _PEAK

    with tempfile.TemporaryDirectory() as pkgs:
        env, cwd = (tree_env(v.tree, pkgs), pkgs) if v.tree is not None else (dict(os.environ), None)
        t0 = time.perf_counter()
        zstsr = [sys.executable, "-c", _ZSTSR_WITH, str(v.net_bytes)] if v.net_bytes else [sys.executable, "-m", "vs_zstsr"]
        r = subprocess.run([sys.executable, "-c", _PEAK, *zstsr, "upsample", str(clip), "-o",
                            str(out), "-y", "--method", "net", "--ensemble", "1", "--model", model], check=True,
                           env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, int(r.stdout.split()[-1]) // 1024


def main(argv=None) -> None:
    import numpy as np

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
    if a.job and a.patterns:
        ap.error("--patterns is for the net alone, not with --job")
    variants = [Variant(a.label)] + ([Variant(a.ref_label, a.ref.resolve())] if a.ref else [])
    variants += [Variant(f"{a.label}, memory patterns on", pattern=True)] if a.patterns else []
    variants += [Variant(f"{a.label}, NET_BYTES {mib} MiB", net_bytes=mib * 2 ** 20) for mib in a.net_bytes]
    rows: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = untrained_net(os.path.join(tmp, "fast.onnx"))
        if a.job:
            return whole_job(a, variants, model, tmp)
        for r in range(a.rounds):
            for shape in SHAPES:
                for v in (variants if r % 2 == 0 else variants[::-1]):
                    got = run(v, model, shape, v.file(tmp, f"_{'x'.join(map(str, shape))}.npy"))
                    rows.setdefault(shape, {}).setdefault(v.label, []).append(got)
                    print(f"round {r + 1} {shape} {v.label}: {json.dumps(got)}", flush=True)
        diffs = {}
        if len(variants) > 1:
            for shape in SHAPES:
                y = [np.load(v.file(tmp, f"_{'x'.join(map(str, shape))}.npy")) for v in variants]
                diffs[shape] = max(float(np.abs(y[0] - x).max()) for x in y[1:])
    cols = " | ".join(f"{v.label}: s (each round), calls, voxels, peak MiB" for v in variants)
    lines = [f"Command: `python benchmarks/bench_net_pieces.py{' --ref REF' if a.ref else ''}"
             f"{' --patterns' if a.patterns else ''}{' --net-bytes ' + ' '.join(map(str, a.net_bytes)) if a.net_bytes else ''}"
             f" --rounds {a.rounds}` "
             f"({time.strftime('%Y-%m-%d %H:%M')})", "",
             f"| net input (LTR frames x h x w) | {cols} |" + (" largest difference |" if diffs else ""),
             "|---|" + "---|" * len(variants) + ("---|" if diffs else "")]
    for shape in SHAPES:
        cells = []
        for v in variants:
            g = rows[shape][v.label]
            cells.append(f"{', '.join(f'{x['s']:.1f}' for x in g)}; {g[0]['calls']}; {g[0]['voxels']:.2f}x; "
                         f"{max(x['peak_mib'] for x in g)}")
        lines.append(f"| {' x '.join(map(str, shape))} | " + " | ".join(cells) + " |"
                     + (f" {diffs[shape]:.1g} |" if diffs else ""))
    publish(lines, "net-pieces", a.write_docs)


def whole_job(a, variants: list[Variant], model: str, tmp: str) -> None:
    import numpy as np
    from common import prepare

    from vs_zstsr import io

    clip = Path(a.job) if Path(a.job).is_file() else prepare(a.job, ROOT / "out" / "bench")[0]
    info = io.probe(str(clip))
    n, h, w = info.frames, info.height, info.width
    rows = {}
    for r in range(a.rounds):
        for v in (variants if r % 2 == 0 else variants[::-1]):
            rows.setdefault(v.label, []).append(job(v, model, clip, v.file(tmp, ".mkv")))
            print(f"round {r + 1} {v.label}: {rows[v.label][-1][0]:.1f} s, peak {rows[v.label][-1][1]} MiB", flush=True)
    frames = {v.label: list(io.read_frames(v.file(tmp, ".mkv"))) for v in variants}
    first = frames[variants[0].label]
    lines = [f"Command: `python benchmarks/bench_net_pieces.py --job {Path(a.job).name}{' --ref REF' if a.ref else ''}"
             f"{' --net-bytes ' + ' '.join(map(str, a.net_bytes)) if a.net_bytes else ''} --rounds "
             f"{a.rounds}` ({time.strftime('%Y-%m-%d %H:%M')}; {a.job}: {n} frames of {w}x{h}, x8)", "",
             "| tree | s (each round) | peak RSS MiB | output values differing from the first row's |", "|---|---|---|---|"]
    for v in variants:
        got = frames[v.label]
        diff = sum(int(np.count_nonzero(x != y)) for x, y in zip(first, got)) + abs(len(first) - len(got))
        lines.append(f"| {v.label} | {', '.join(f'{s:.0f}' for s, _ in rows[v.label])} | "
                     f"{max(p for _, p in rows[v.label])} | {diff} |")
    publish(lines, f"net-pieces-job-{Path(a.job).stem}", a.write_docs)


if __name__ == "__main__":
    main()
