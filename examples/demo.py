"""`make demo`: the main job on the bundled fan scene, end to end, with the project's own CLI.

1. render the fan at 240 fps (exact ground truth) and degrade it to a 30 fps full-exposure clip,
   on which the fan appears to turn backwards;
2. upsample it x8 back to 240 fps with the peers (and, once trained, with zstsr);
3. score every result against the truth and print the table.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

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
    ap.add_argument("--size", choices=("small", "large"), default="small")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    import scenes
    from vs_zstsr import io

    frames, rate = scenes.render("fan", args.size)
    io.write_video(out / "fan_240fps.mkv", frames, rate, bit_depth=16)
    zstsr("degrade", out / "fan_240fps.mkv", "-o", out / "fan_30fps.mkv", "-f", 8, "--gt-out", out / "truth.mkv")

    results = {}
    for method in ("linear", "flowfps"):
        target = out / f"{method}_bp.mkv"
        zstsr("baseline", out / "fan_30fps.mkv", "-o", target, "-f", 8, "-m", method, "--backproject")
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
    print(f"\nfiles in {out}/ (positive degrees = clockwise, the true direction)")


if __name__ == "__main__":
    main()
