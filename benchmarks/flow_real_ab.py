"""``zstsr upsample --method flow`` on the real clips, this checkout against another tree: seconds
of each and how far apart their outputs are (issue 19: a change that should keep or barely move
the output).

    git worktree add --detach /tmp/zold REV     # (and its built shim: vs_zstsr/_shim/libzstsr.so)
    python benchmarks/flow_real_ab.py --ref /tmp/zold [--codec ffvhuff] [CLIP ...]

Each clip (default: the real clips of ../shared/data) is upsampled x8 by the other tree, then by
this one, into ``--codec`` files in a temporary folder; each run starts from that folder, so that
``python -m vs_zstsr`` imports the tree it is given (from the checkout's own folder the current
folder would come first, whatever PYTHONPATH says). Prints the seconds of each, whether the two
files are identical, and else the PSNR between their decoded frames and the largest difference.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import ROOT, real_clips

sys.path.insert(0, str(ROOT))

from vs_zstsr import io  # noqa: E402


def run(tree: Path, clip: str, out: Path, codec: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "vs_zstsr", "upsample", clip, "-o", str(out), "--method", "flow",
                    "--codec", codec, "-y"], check=True, cwd=out.parent, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(tree)})
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*")
    ap.add_argument("--ref", required=True, help="the other tree (a git worktree)")
    ap.add_argument("--codec", default="ffvhuff")
    args = ap.parse_args()
    clips = args.clips or real_clips()
    ext = {"ffvhuff": ".nut", "ffv1": ".mkv"}.get(args.codec, ".mkv")
    print("| clip | reference s | this s | outputs |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            outs = {k: Path(tmp) / f"{k}{ext}" for k in ("ref", "this")}
            secs = {k: run(Path(args.ref) if k == "ref" else ROOT, clip, outs[k], args.codec) for k in outs}
            if filecmp.cmp(outs["ref"], outs["this"], shallow=False):
                what = "identical"
            else:
                se, top = [], 0.0
                for a, b in zip(io.read_frames(outs["ref"]), io.read_frames(outs["this"])):
                    d = a - b
                    se.append(float(np.mean(d * d)))
                    top = max(top, float(np.abs(d).max()))
                what = f"{10 * np.log10(1 / np.mean(se)):.2f} dB apart, at most {top * 255:.0f} levels"
            print(f"| {Path(clip).name} | {secs['ref']:.1f} | {secs['this']:.1f} | {what} |", flush=True)


if __name__ == "__main__":
    main()
