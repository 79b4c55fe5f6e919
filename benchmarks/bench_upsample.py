"""x8 with zstsr (`zstsr upsample`) on each example scene and the real clip, against the peers.

    python benchmarks/bench_upsample.py [--budget 10m] [--clips fan texture city] [--write-docs]

Run benchmarks/bench_baselines.py first (same --work): this script reads its results for the
peer rows. Also measures the fan's direction of rotation in each result and the peak memory (RSS)
of `zstsr upsample` on a clip and on the same clip looped 10 times.
"""
from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path

from common import CLIPS, FACTOR, ROOT, evaluate, prepare, replace_section


# RUSAGE_CHILDREN's ru_maxrss is the largest child this process ever waited for, so each run goes
# through a fresh wrapper process whose only child is that run.
_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def run_measured(*args) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one `zstsr` run in a child process of its own."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "vs_zstsr", *map(str, args)],
                       check=True, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - t0, int(r.stdout.split()[-1]) / 1024


def examples_of(model: Path) -> str:
    """The internal examples a saved model was trained with (from its metadata)."""
    from vs_zstsr.model import load_model

    config = load_model(model, "cpu").metadata["config"]
    return str((ast.literal_eval(config) if isinstance(config, str) else config)["examples"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "bench")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    ap.add_argument("--budget", default="10m")
    ap.add_argument("--methods", nargs="+", default=["auto", "net"],
                    help="zstsr --method values; 'finetune' = auto with --finetune (its own model, trained "
                         "with the budget shared by the rungs); 'net-unfinetuned' = --method net with that "
                         "same first-rung model, not fine-tuned (what the fine-tuning itself buys)")
    ap.add_argument("--examples", choices=("auto", "within", "across", "both"), default="auto",
                    help="train with these internal examples (other than auto, the default: a model and "
                         "outputs of their own)")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the peak-memory measurement")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the peak-memory measurement (prints the table, writes no docs)")
    args = ap.parse_args()

    import scenes
    from vs_zstsr import io

    label = {"finetune": "auto, fine-tuned", "net-unfinetuned": "net, the fine-tuned run's first net"}
    lines = ["| clip | result | PSNR | SSIM | fan turns (deg/frame) | s (train + render; render only when the model existed) |", "|---|---|---|---|---|---|"]
    for clip in ([] if args.memory_only else args.clips):
        ltr, gt = prepare(clip, args.work)
        tag = "" if args.examples == "auto" else f"_{args.examples}"
        model = args.work / f"{clip}_model{tag}.onnx"
        rows = []
        for method in args.methods:
            out = args.work / f"{clip}_zstsr_{method}{tag}.mkv"
            how = ["--method", method] + (["--examples", args.examples] if args.examples else [])
            m = model
            if method == "finetune":   # the first rung's net gets half the budget: a model of its own
                how, m = ["--method", "auto", "--finetune", "--budget", args.budget], args.work / f"{clip}_model_ft.onnx"
            elif method == "net-unfinetuned":
                how, m = ["--method", "net"], args.work / f"{clip}_model_ft.onnx"
                if not m.exists():
                    sys.exit(f"{m} is missing: run with --methods finetune first")
            extra = ["--model", m] if m.exists() else ["--save-model", m, "--budget", args.budget]
            secs, _ = run_measured("upsample", ltr, "-o", out, "-f", FACTOR.get(clip, 8), *how, *extra, "-y")
            rows.append((f"zstsr ({label.get(method, method)}; {examples_of(m)} net)", out, secs))
        for m in ("linear", "cubic", "flowfps", "minterpolate", "repeat"):
            for bp in ("", "_bp"):
                p = args.work / f"{clip}_{m}{bp}.mkv"
                if p.exists():
                    rows.append((m + (" + BP" if bp else ""), p, None))
        for name, path, secs in rows:
            r = evaluate(path, gt)
            turn = ""
            if clip == "fan":
                turn = f"{scenes.rotation_direction(io.read_video(path)[1]):+.2f}"
            lines.append(f"| {clip} | {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {turn} | "
                         f"{'' if secs is None else f'{secs:.0f}'} |")
            print(lines[-1], flush=True)
        if clip == "fan":
            lines.append(f"| fan | truth |  |  | {scenes.FAN_DEGREES_PER_HTR_FRAME:+.2f} |  |")

    table = "\n".join(lines)
    if args.no_memory:
        print(table)
        return
    # memory: the same clip, once and looped 10 times, with its model and the net on the first
    # rung (the ladder and the streaming path; the first rung's model, the self-check decides)
    ltr, _ = prepare(args.clips[0], args.work)
    model = args.work / f"{args.clips[0]}_model.onnx"
    _, clip = io.read_video(ltr)
    long = args.work / "long_ltr.mkv"
    io.write_video(long, (f for _ in range(10) for f in clip), io.probe(ltr).rate, bit_depth=16)
    how = ["--model", model, "--method", "net"] if model.exists() else ["--method", "cubic"]
    _, short_rss = run_measured("upsample", ltr, "-o", args.work / "mem_short.mkv", *how, "-y")
    _, long_rss = run_measured("upsample", long, "-o", args.work / "mem_long.mkv", *how, "-y")
    mem = (f"Peak RSS of `zstsr upsample {' '.join(map(str, how[-2:]))}` on {args.clips[0]}, each run in a "
           f"process of its own: {short_rss:.0f} MiB for {len(clip)} LTR frames, {long_rss:.0f} MiB for "
           f"{10 * len(clip)} ({long_rss / short_rss:.2f}x).")
    print(mem)
    if args.write_docs:
        doc = ROOT / "docs" / "BENCHMARKS.md"
        if not args.memory_only:
            body = (f"## x8 with zstsr (issue 7)\n\nCommand: `python benchmarks/bench_upsample.py --budget "
                    f"{args.budget} --write-docs` after `make bench`. Training: preset fast, budget "
                    f"{args.budget}, 2 CPU cores.\n\n{table}")
            replace_section(doc, "upsample", body)
        replace_section(doc, "upsample-memory", f"Command: `python benchmarks/bench_upsample.py --memory-only "
                                                f"--write-docs` (also part of the full run).\n\n{mem}")


if __name__ == "__main__":
    main()
