"""Throughput of the CPU path: training, inference and the whole x8 job, against sgemm.

    python benchmarks/bench_speed.py --label NAME [--write-docs]            # all three parts
    python benchmarks/bench_speed.py --label NAME --parts train,infer       # skip the whole job

The machine is shared and noisy (docs/BENCHMARKS.md), so every speed is reported next to a
reference measured in the same run: torch's sgemm (a 1024x1024 float32 matmul) at the same
thread count, interleaved with the measurement in ``--rounds`` rounds, best of each taken (the
least disturbed). The figure that is comparable across runs is the ratio.

* train: for each preset, ``zstsr_trainer.train`` itself (the real loop: sampler, forward,
  backward, Adam, the cubic loss) on the city clip's coarse rung (bench_x2_rung.py), timed per
  iteration from its progress callback after a warm-up. GFLOP per iteration: the convolutions'
  multiply-adds x 2, forward + weight gradient + input gradient (none for the first layer).
* infer: the trained fast net exported to ONNX and run by the torch-free runtime
  (``vs_zstsr.model.load_model``, ``ladder.net_x2``) on 30 LTR frames at 128x72 (the first rung of
  an x8 job on a 512x288 clip), per self-ensemble size: output Mvoxel/s (frames x pixels per
  second, each copy counted once) and GFLOP/s.
* job: ``zstsr upsample -f 8`` with default settings (a fresh model cache: it trains) and the
  peers, on 60 frames of cityCC0.mpg resized to 512x288: seconds per output frame and peak RSS,
  each in a process of its own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from common import ROOT, SHARED, replace_section

OUT = ROOT / "out" / "bench_speed"
INFER_SHAPE = (30, 72, 128)          # LTR frames, rows, cols: the first rung of x8 at 512x288
JOB_SIZE, JOB_FRAMES = (288, 512), 60
PEERS = {   # whole-job commands besides the default, as zstsr arguments after the input
    "zstsr upsample --method flow": ["upsample", "--method", "flow"],
    "zstsr upsample --method cubic": ["upsample", "--method", "cubic"],
    "zstsr baseline -m minterpolate": ["baseline", "-m", "minterpolate"],
}


def sgemm_gflops(threads: int, n: int = 1024, reps: int = 8) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def conv_flops(net, voxels: int, backward: bool) -> float:
    """Multiply-adds x 2 of the body's convolutions over ``voxels`` output voxels (the cubic base's
    4-tap filter is left out: 0.1% of the total). With ``backward``: + weight and input gradients."""
    import torch.nn as nn

    # (in, out, kernel volume) of each body convolution, read from the modules so that the net of
    # the baseline tree (before the speed work: no conv_shapes) is counted the same way
    shapes = [(c.in_channels, c.out_channels, int(np.prod(c.kernel_size))) for c in net.body
              if isinstance(c, (nn.Conv2d, nn.Conv3d))]
    total = 0.0
    for i, (cin, cout, kvol) in enumerate(shapes):
        f = 2.0 * cin * cout * kvol * voxels
        total += f * (1 + (2 if i else 1) * backward)
    return total


def rung_clip_city() -> np.ndarray:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_x2_rung import rung_clip
    from vs_zstsr.resample import rect_downsample

    gt = rung_clip("city")
    return rect_downsample(gt[: gt.shape[0] // 2 * 2], 2, 0)


def measure_train(preset: str, threads: int, rounds: int, iters: int, log, amp: bool = True) -> tuple[dict, object]:
    import torch
    import zstsr_trainer
    from zstsr_trainer.net import TSRNet

    ltr = rung_clip_city()
    cfg = zstsr_trainer.PRESETS[preset].replace(num_threads=threads, budget_s=None, max_iters=iters, amp=amp,
                                                lr_window=10 ** 6)   # the lr policy never fires
    best_it, best_gemm, result = float("inf"), 0.0, None
    for r in range(rounds):
        best_gemm = max(best_gemm, sgemm_gflops(threads))
        stamps = []
        result = zstsr_trainer.train(ltr, cfg, progress=lambda *a: stamps.append(time.perf_counter()))
        d = np.diff(stamps[min(3, len(stamps) - 2):])         # the first iterations warm up
        best_it = min(best_it, float(np.median(d)))
        log(f"  train {preset} {result.precision} threads={threads} round {r}: {1 / best_it:.2f} it/s, "
            f"sgemm {best_gemm:.1f} GFLOP/s")
    t, h, w = cfg.crop
    net = TSRNet(cfg.width, cfg.depth, base=cfg.base, padding=cfg.padding)
    gflop = conv_flops(net, cfg.batch * t * h * w, backward=True) / 1e9
    gf = gflop / best_it
    torch.set_num_threads(threads)
    return ({"preset": preset, "precision": result.precision, "threads": threads, "it_per_s": round(1 / best_it, 3), "gflop_per_it": round(gflop, 2),
             "gflops": round(gf, 1), "sgemm_gflops": round(best_gemm, 1), "ratio": round(gf / best_gemm, 3)},
            result)


def measure_infer(result, threads: int, rounds: int, ensembles, log) -> list[dict]:
    from zstsr_export import export_onnx
    from vs_zstsr.netrun import net_x2
    from vs_zstsr.model import load_model

    OUT.mkdir(parents=True, exist_ok=True)
    path = export_onnx(result, str(OUT / "fast.onnx"))
    model = load_model(path, "cpu", num_threads=threads)
    t, h, w = INFER_SHAPE
    clip = np.random.default_rng(0).random((t, h, w, 3), dtype=np.float32)
    per_copy = conv_flops(result.net, 2 * t * h * w, backward=False)
    rows = []
    for n in ensembles:
        best, best_gemm = float("inf"), 0.0
        net_x2(model, clip, ensemble=n)      # warm-up (onnxruntime plans per shape)
        for _ in range(rounds):
            best_gemm = max(best_gemm, sgemm_gflops(threads))
            s = time.perf_counter()
            net_x2(model, clip, ensemble=n)
            best = min(best, time.perf_counter() - s)
        gf = n * per_copy / best / 1e9
        rows.append({"ensemble": n, "threads": threads, "seconds": round(best, 3),
                     "mvoxel_per_s": round(n * 2 * t * h * w / best / 1e6, 2), "gflops": round(gf, 1),
                     "sgemm_gflops": round(best_gemm, 1), "ratio": round(gf / best_gemm, 3)})
        log(f"  infer ensemble {n} threads={threads}: {rows[-1]}")
    return rows


# RUSAGE_CHILDREN's ru_maxrss is the largest child this process ever waited for, so each run goes
# through a fresh wrapper process whose only child is that run (as bench_upsample.py does).
_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def job_clip() -> Path:
    from vs_zstsr import io
    from vs_zstsr.resample import resize_spatial

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"city_{JOB_SIZE[1]}x{JOB_SIZE[0]}_{JOB_FRAMES}.mkv"
    if not path.exists():
        frames = []
        for i, f in enumerate(io.read_frames(SHARED / "cityCC0.mpg")):
            if i == JOB_FRAMES:
                break
            frames.append(resize_spatial(f[None], *JOB_SIZE)[0])
        io.write_video(path, frames, Fraction(25), bit_depth=8)
    return path


def measure_job(commands: dict, log) -> list[dict]:
    clip = job_clip()
    rows = []
    for name, args in commands.items():
        with tempfile.TemporaryDirectory() as cache:
            out = Path(cache) / "out.mkv"
            env = dict(os.environ, ZSTSR_CACHE=cache)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "vs_zstsr", *args, str(clip),
                                "-o", str(out), "-f", "8"], check=True, stdout=subprocess.PIPE, text=True, env=env)
            secs = time.perf_counter() - t0
        frames = 8 * JOB_FRAMES
        rows.append({"command": name, "seconds": round(secs, 1), "s_per_output_frame": round(secs / frames, 3),
                     "peak_rss_mib": round(int(r.stdout.split()[-1]) / 1024)})
        log(f"  job {rows[-1]}")
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", required=True, help="name of this run (the row label, e.g. baseline)")
    ap.add_argument("--parts", default="train,infer,job")
    ap.add_argument("--presets", default="fast,paper")
    ap.add_argument("--threads", default="1,2", help="CPU thread counts to measure train/infer at")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ensembles", default="1,4")
    ap.add_argument("--amp", default="off,on", help="training with the trainer's amp off and/or on (on: bfloat16 "
                    "where the CPU has it, zstsr_trainer.train.autocast_dtype; the default)")
    ap.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--json", type=Path, default=OUT / "runs.jsonl", help="append the run here")
    ap.add_argument("--write-docs", action="store_true", help="add the run to docs/BENCHMARKS.md")
    a = ap.parse_args(argv)
    parts = set(a.parts.split(","))

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    run = {"label": a.label, "date": time.strftime("%Y-%m-%d %H:%M"), "cpu": platform.processor() or platform.machine(),
           "cores": os.cpu_count(), "load_avg": os.getloadavg()[0], "train": [], "infer": [], "job": []}
    fast_result = None
    for threads in map(int, a.threads.split(",")):
        for preset in a.presets.split(",") if parts & {"train", "infer"} else []:
            if preset != "fast" and "train" not in parts:
                continue
            iters = 12 if preset == "fast" else 4
            seen = set()
            for amp in [v == "on" for v in a.amp.split(",")] if "train" in parts else [True]:
                row, result = measure_train(preset, threads, a.rounds if "train" in parts else 1, iters, log, amp)
                if row["precision"] in seen:     # amp on a CPU without bfloat16: float32 again
                    continue
                seen.add(row["precision"])
                if "train" in parts:
                    run["train"].append(row)
                if preset == "fast" and fast_result is None:
                    fast_result = result
        if "infer" in parts and fast_result is not None:
            run["infer"] += measure_infer(fast_result, threads, a.rounds, list(map(int, a.ensembles.split(","))), log)
    if "job" in parts:
        commands = {"zstsr upsample (defaults)": ["upsample"]}
        if a.peers:
            commands.update(PEERS)
        run["job"] = measure_job(commands, log)
    run["peak_rss_mib_this_process"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    a.json.parent.mkdir(parents=True, exist_ok=True)
    with open(a.json, "a") as f:
        f.write(json.dumps(run) + "\n")
    print(json.dumps(run, indent=1))
    if a.write_docs:
        write_docs(a.json)


def _table(intro: str, columns: list[str], runs: dict, part: str, cells) -> list[str]:
    """``intro`` and a table of ``part`` in every run: a row per measurement, the run's label first,
    then ``cells(measurement)`` under ``columns``."""
    return [intro, "", "| " + " | ".join(["run", *columns]) + " |", "|" + "---|" * (len(columns) + 1),
            *(f"| {r['label']} | {cells(t)} |" for r in runs.values() for t in r[part])]


# The last three columns of the train and infer tables, and their cells
AGAINST_SGEMM = ["GFLOP/s", "sgemm GFLOP/s (same run)", "ratio"]


def _against_sgemm(t: dict) -> str:
    return f"{t['gflops']:.1f} | {t['sgemm_gflops']:.1f} | **{t['ratio']:.0%}**"


def write_docs(runs_file: Path) -> None:
    """Every run in ``runs_file`` (latest per label) as tables in docs/BENCHMARKS.md."""
    runs = {}
    for line in runs_file.read_text().splitlines():
        r = json.loads(line)
        runs[r["label"]] = r
    lines = [*_table("Training step (`zstsr_trainer.train`, the real loop):",
                     ["preset", "precision", "threads", "it/s", "GFLOP/it", *AGAINST_SGEMM], runs, "train",
                     lambda t: f"{t['preset']} | {t.get('precision', 'float32')} | {t['threads']} | {t['it_per_s']:.2f} | "
                               f"{t['gflop_per_it']:.1f} | "
                               f"{_against_sgemm(t)}"), "",
             *_table(f"Inference (onnxruntime CPU through `vs_zstsr`, fast net, {INFER_SHAPE[0]} LTR frames at "
                     f"{INFER_SHAPE[2]}x{INFER_SHAPE[1]}):",
                     ["ensemble", "threads", "s", "output Mvoxel/s", *AGAINST_SGEMM], runs, "infer",
                     lambda t: f"{t['ensemble']} | {t['threads']} | {t['seconds']:.2f} | {t['mvoxel_per_s']:.2f} | "
                               f"{_against_sgemm(t)}"), "",
             *_table(f"Whole x8 job on {JOB_FRAMES} frames of cityCC0.mpg at {JOB_SIZE[1]}x{JOB_SIZE[0]} "
                     f"({8 * JOB_FRAMES} output frames), each command in a process of its own with an empty "
                     "model cache:",
                     ["command", "s", "s per output frame", "peak RSS MiB"], runs, "job",
                     lambda t: f"`{t['command']}` | {t['seconds']:.0f} | {t['s_per_output_frame']:.3f} | "
                               f"{t['peak_rss_mib']}")]
    loads = ", ".join(f"{r['label']} {r['load_avg']:.1f}" for r in runs.values())
    body = ("Command: `flock /work/locks/bench .venv/bin/python benchmarks/bench_speed.py --label NAME --write-docs` "
            f"(runs kept in out/bench_speed/runs.jsonl). 2 CPU cores shared with other work: "
            f"absolute speeds move with the load (1-minute load average at the start: {loads}); the ratio "
            "to sgemm measured in the same run is the comparable figure.\n\n" + "\n".join(lines))
    replace_section(ROOT / "docs" / "BENCHMARKS.md", "speed", body)


if __name__ == "__main__":
    main()
