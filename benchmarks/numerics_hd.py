"""The streamed no-net path against the code before it: the same outputs within float32 rounding.

    python benchmarks/numerics_hd.py [--ref dda4f27] [--frames 6] [--only-filter]

Runs `zstsr upsample --method flow|cubic` and `zstsr baseline -m linear|flowfps -b` with the
commit ``--ref`` (exported to a temporary folder with `git archive`) and with this checkout, on a
small textured pan (270x480, ``--frames`` frames (6), x8, FFV1), and prints the largest difference between the
decoded outputs, in 8-bit levels, and how many values differ. The VapourSynth filter's Python API
(`vs_zstsr.filter.upsample`, method flow and cubic) runs too, with one LTR frame per chunk as at
4K, its float frames compared as they come (``--only-filter``: those alone); a clip longer
than a chunk's window (``--frames 20``: the flow ladder's is 7 frames, 15 with the cut detector's)
has chunks whose windows are cut from the clip, not the whole clip.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from common import ROOT, filter_with_chunk
from hd_clips import pan_frames

RUNS = {"upsample --method flow": ["upsample", "--method", "flow"],
        "upsample --method cubic": ["upsample", "--method", "cubic"],
        "baseline -m linear -b": ["baseline", "-m", "linear", "-b"],
        "baseline -m flowfps -b": ["baseline", "-m", "flowfps", "-b"]}
# The filter, as a script writes it, with 1-frame chunks (stream.chunk_frames at 4K)
_FILTER = ("import sys, numpy as np\n" + filter_with_chunk(1) +
           "out = F.upsample(F.source(sys.argv[1]), 8, method=sys.argv[2])\n"
           "np.save(sys.argv[3], np.stack([np.stack([np.asarray(f[p]) for p in range(3)], -1) "
           "for f in out.frames()]))")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", default="dda4f27", help="the commit to compare with (default: before direct.py)")
    ap.add_argument("--frames", type=int, default=6, help="LTR frames of the pan (default 6)")
    ap.add_argument("--only-filter", action="store_true", help="the filter's rows alone")
    args = ap.parse_args()
    from vs_zstsr import io

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = tmp / "old"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.ref, "vs_zstsr"], check=True,
                                 stdout=subprocess.PIPE).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        clip = tmp / "pan.mkv"
        io.write_video(clip, pan_frames(270, 480, args.frames), Fraction(30))
        print(f"| command | max difference (8-bit levels) | values that differ | of |\n|---|---|---|---|")
        for name, argv in ({} if args.only_filter else RUNS).items():
            outs = []
            for which, path in (("old", old), ("new", ROOT)):
                out = tmp / f"{which}_{argv[0]}_{argv[2]}.mkv"
                env = dict(os.environ, PYTHONPATH=str(path))
                subprocess.run([sys.executable, "-m", "vs_zstsr", argv[0], str(clip), "-o", str(out), *argv[1:]],
                               check=True, env=env, cwd=tmp, stderr=subprocess.DEVNULL)
                outs.append(np.stack(list(io.read_frames(out))))
            d = np.abs(outs[0] - outs[1]) * 255
            print(f"| {name} | {d.max():.0f} | {int((d > 0.5).sum())} | {d.size} |", flush=True)
        for method in ("flow", "cubic"):
            outs = []
            for which, path in (("old", old), ("new", ROOT)):
                out = tmp / f"{which}_filter_{method}.npy"
                env = dict(os.environ, PYTHONPATH=str(path))
                subprocess.run([sys.executable, "-c", _FILTER, str(clip), method, str(out)], check=True, env=env,
                               cwd=tmp, stderr=subprocess.DEVNULL)
                outs.append(np.load(out).astype(np.float64))
            d = np.abs(outs[0] - outs[1]) * 255
            print(f"| filter, method={method} (1-frame chunks) | {d.max():.0f} | {int((d > 0).sum())} | {d.size} |",
                  flush=True)


if __name__ == "__main__":
    main()
