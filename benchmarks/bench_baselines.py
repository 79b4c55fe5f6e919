"""x8 baselines on each example scene and the real clip: repeat, linear, cubic, minterpolate and
MVTools FlowFPS, each with and without temporal back-projection.

    python benchmarks/bench_baselines.py [--work out/bench] [--write-docs]

Every number comes from the CLI: ``zstsr degrade`` -> ``zstsr baseline`` -> ``zstsr eval``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import CLIPS, FACTOR, ROOT, evaluate, prepare, replace_section, zstsr

METHODS = ("repeat", "linear", "cubic", "minterpolate", "flowfps")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "out" / "bench")
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    ap.add_argument("--write-docs", action="store_true", help="update docs/BENCHMARKS.md")
    args = ap.parse_args()

    rows = {}
    for clip in args.clips:
        ltr, gt = prepare(clip, args.work)
        for method in METHODS:
            for bp in (False, True):
                out = args.work / f"{clip}_{method}{'_bp' if bp else ''}.mkv"
                t0 = time.perf_counter()
                zstsr("baseline", ltr, "-o", out, "-f", FACTOR.get(clip, 8), "-m", method, *(["--backproject"] if bp else []), "-y")
                secs = time.perf_counter() - t0
                r = evaluate(out, gt)
                rows[(clip, method, bp)] = (r["psnr"], r["ssim"], secs)
                print(f"{clip:8s} {method:13s} {'+BP' if bp else '   '} {r['psnr']:7.2f} dB "
                      f"{r['ssim']:.4f} {secs:6.1f} s", flush=True)

    head = "| method | " + " | ".join(f"{c} PSNR / SSIM" for c in args.clips) + " | mean PSNR |"
    lines = [head, "|" + "---|" * (len(args.clips) + 2)]
    for method in METHODS:
        for bp in (False, True):
            vals = [rows[(c, method, bp)] for c in args.clips]
            mean = sum(v[0] for v in vals) / len(vals)
            cells = " | ".join(f"{p:.2f} / {s:.4f}" for p, s, _ in vals)
            lines.append(f"| {method}{' + BP' if bp else ''} | {cells} | {mean:.2f} |")
    table = "\n".join(lines)
    print("\n" + table)
    if args.write_docs:
        body = ("## x8 baselines (issue 2)\n\nCommand: `python benchmarks/bench_baselines.py --write-docs` "
                "(`make bench`).\n\nEach clip: `zstsr degrade` (mean of 8 frames) -> `zstsr baseline -f 8 "
                "-m METHOD [--backproject]` -> `zstsr eval`. Clips: `fan` and `texture` are "
                "`examples/scenes.py` at size large (192x288, 256 HTR frames at 240 fps, 32 LTR frames at "
                "30 fps); `city` is `cityCC0.mpg` shrunk 2x in space (360x202, 184 HTR frames at 25 fps, "
                "23 LTR frames). PSNR in dB over all RGB channels, SSIM averaged over channels.\n\n" + table)
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "baselines", body)


if __name__ == "__main__":
    main()
