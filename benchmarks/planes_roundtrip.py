"""How close a written file reads back to the RGB frames zstsr meant: swscale's conversion (packed
RGB -> Y'CbCr, the writer's before ``io.to_planes``) against zimg's (``io.to_planes``: the writer's
and MVTools' worker's now, frames handed to the writer as ``io.Planar`` planes), issue 19.

    python benchmarks/planes_roundtrip.py [CLIP ...] [--every 10] [--frames 4]

For every ``--every``-th frame of each clip (default: the real clips of ../shared/data), up to
``--frames`` of them: its 8-bit RGB samples (as zstsr reads the clip) go through a VideoWriter of
the clip's own pixel format both ways, the file is read back by zstsr's reader, and the PSNR
against those samples is printed, per frame and as each clip's mean. Also at 16-bit RGB samples
into yuv420p10le (``--deep``: a 10-bit writer), where swscale's luma is off BT.709/601's levels (io.VideoWriter's
``_planar`` says why that case stays with swscale).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from common import ROOT, real_clips

sys.path.insert(0, str(ROOT))

from vs_zstsr import io  # noqa: E402


def roundtrip(samples: np.ndarray, vi: io.VideoInfo, depth: int, pix_fmt: str, planar: bool, tmp: Path) -> float:
    h, w, _ = samples.shape
    path = tmp / f"{planar}.mkv"
    with io.VideoWriter(path, w, h, Fraction(24), depth, "ffv1", pix_fmt=pix_fmt, color=vi.color) as wr:
        planes = wr.planes or io.Planar(pix_fmt, w, h, wr.color.matrix, 2 if wr.color.range == 2 else 1,
                                        *{"yuv420p": (1, 1, 8), "yuv420p10le": (1, 1, 10)}[pix_fmt])
        # swscale: the writer without planes (as before io.to_planes); --deep: a case the writer
        # does not take as planes, forced here to measure it
        wr.planes = planes if planar else None
        wr.write(io._PlanesOf(planes, 8 * samples.itemsize)(samples) if planar else samples)
    back = io.quantize(next(io.read_frames(path)), depth).astype(np.float64)
    peak = 255.0 if depth == 8 else 65535.0    # (io.sample_bits: deeper is uint16)
    return 10 * np.log10(peak ** 2 / np.mean((back - samples) ** 2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="*")
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--deep", action="store_true", help="16-bit RGB samples into yuv420p10le")
    args = ap.parse_args()
    clips = args.clips or real_clips()
    depth, pix_fmt = (10, "yuv420p10le") if args.deep else (8, "yuv420p")   # 10 bits: 16-bit samples
    print("| clip | frames | swscale dB | zimg (io.to_planes) dB | difference |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            vi = io.probe(clip)
            rows = []
            for k, f in enumerate(io.read_frames(clip, vi)):
                if k % args.every:
                    continue
                f = f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2]
                samples = io.quantize(f, depth)
                rows.append([roundtrip(samples, vi, depth, pix_fmt, planar, Path(tmp)) for planar in (False, True)])
                if len(rows) == args.frames:
                    break
            a, b = np.mean(rows, axis=0)
            print(f"| {Path(clip).name} | {len(rows)} | {a:.2f} | {b:.2f} | {b - a:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
