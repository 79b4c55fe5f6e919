"""`make demo`: the main job on the bundled fan scene, end to end, with the project's own CLI.

1. render the fan at 240 fps (exact ground truth) and degrade it to a 30 fps full-exposure clip,
   on which the fan appears to turn backwards;
2. upsample it x8 back to 240 fps with zstsr (training its nets on the 30 fps clip alone, with
   the job's defaults: a fixed number of iterations, so the same nets on a fast or a slow machine;
   ``--budget`` trains by the clock instead) and with the strongest peers (linear and MVTools
   FlowFPS, each + back-projection);
3. score every result against the truth, measure which way the fan turns in each, print the table
   and write a side-by-side picture (input, zstsr, peers, truth) to OUT/side_by_side.png.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def zstsr(*args: object, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "vs_zstsr", *map(str, args)]
    print("$ zstsr " + " ".join(map(str, args)), flush=True)
    r = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    return r.stdout if capture else ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/demo"))
    ap.add_argument("--size", choices=("small", "large"), default="large")
    # No budget by default: a wall-clock budget trains as many iterations as the machine manages in
    # it, and on the fan more is not better: with "2m" a fast idle host trained 2,200-2,350
    # iterations and the fan turned backwards, a slower one about 1,000 and it turned forwards
    # (docs/BENCHMARKS.md, "`make demo` by the clock and by iterations").
    ap.add_argument("--budget", help="train zstsr's nets for this long (e.g. 2m) instead of the job's default "
                    "iterations")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    import scenes
    from vs_zstsr import io

    frames, rate = scenes.render("fan", args.size)
    io.write_video(out / "fan_240fps.mkv", frames, rate, bit_depth=16)
    zstsr("degrade", out / "fan_240fps.mkv", "-o", out / "fan_30fps.mkv", "-f", 8, "--gt-out", out / "truth.mkv", "-y")

    results = {}
    budget = ("--budget", args.budget) if args.budget else ()
    zstsr("upsample", out / "fan_30fps.mkv", "-o", out / "zstsr.mkv", "-f", 8, *budget,
          "--save-model", out / "fan.onnx", "-y")
    results["zstsr"] = out / "zstsr.mkv"
    for method in ("linear", "flowfps"):
        target = out / f"{method}_bp.mkv"
        zstsr("baseline", out / "fan_30fps.mkv", "-o", target, "-f", 8, "-m", method, "--backproject", "-y")
        results[f"{method} + back-projection"] = target

    _, ltr = io.read_video(out / "fan_30fps.mkv")
    _, truth = io.read_video(out / "truth.mkv")
    print(f"\n{'result':34s} {'PSNR':>7s} {'SSIM':>7s} {'fan turns':>12s}")
    print(f"{'30 fps input (per frame)':34s} {'':7s} {'':7s} {scenes.rotation_direction(ltr) / 8:+9.2f} deg")
    print(f"{'240 fps truth':34s} {'':7s} {'':7s} {scenes.rotation_direction(truth):+9.2f} deg")
    for name, path in results.items():
        r = json.loads(zstsr("eval", path, out / "truth.mkv", "--json", capture=True))
        _, clip = io.read_video(path)
        print(f"{name:34s} {r['psnr']:7.2f} {r['ssim']:7.4f} {scenes.rotation_direction(clip):+9.2f} deg")
    clips = {"30 fps input": np.repeat(ltr, 8, axis=0), **{k: io.read_video(v)[1] for k, v in results.items()},
             "truth": truth}
    side_by_side(out / "side_by_side.png", clips, frames=(20, 21, 22, 23))
    print(f"\nfiles in {out}/ (positive degrees = clockwise, the true direction); "
          f"picture: {out / 'side_by_side.png'}")


def side_by_side(path: Path, clips: dict, frames) -> None:
    """Rows: a few consecutive 240 fps frames; columns: each result, labelled."""
    from PIL import Image, ImageDraw

    cols = []
    for name, clip in clips.items():
        col = np.concatenate([clip[k] for k in frames], axis=0)
        img = Image.fromarray((np.clip(col, 0, 1) * 255 + 0.5).astype(np.uint8))
        canvas = Image.new("RGB", (img.width, img.height + 14), "white")
        canvas.paste(img, (0, 14))
        ImageDraw.Draw(canvas).text((2, 1), name, fill="black")
        cols.append(np.asarray(canvas))
    gap = np.full((cols[0].shape[0], 4, 3), 255, np.uint8)
    Image.fromarray(np.concatenate([c for col in cols for c in (col, gap)][:-1], axis=1)).save(path)


if __name__ == "__main__":
    main()
