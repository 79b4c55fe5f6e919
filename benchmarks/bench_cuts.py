"""Scene cuts: what the detector (vs_zstsr/cuts.py) finds on the real clips and on the cases it
must get right, against the rule it replaced (both scores over fixed bars: thumbnails 0.12,
histograms 0.2), and what a cut it finds changes in the x8 output.

    python benchmarks/bench_cuts.py [--write-docs]
    python benchmarks/bench_cuts.py --cost

Real clips (../shared/data, shrunk 4x in space: the detector works on 48-px thumbnails anyway):
cityCC0 (one hard cut, at frame 116 of 190) and the two pose2sim clips (none), at their own rate
and rect-averaged x2, x4, x8 (the slow camera of docs/BENCHMARKS.md: at x8 the city's cut falls
inside an exposure, frame 14 of 23 holds both shots). Then the city at x8 as bench_upsample makes
it (`zstsr degrade --scale 2`), upsampled by cubic + back-projection with each rule's cuts: PSNR
of the groups next to the cut and of the whole clip. Synthetic cases from tests/test_cuts.py: a
cut that keeps the palette, the same while the camera pans, a whip pan, a one-frame flash.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from common import ROOT, SHARED, prepare, publish

from vs_zstsr import cuts, io
from vs_zstsr.metrics import psnr
from vs_zstsr.options import UpsampleOptions
from vs_zstsr.resample import rect_downsample, resize_spatial
from vs_zstsr.stream import Renderer

sys.path.insert(0, str(ROOT / "tests"))
from test_cuts import group_psnr  # noqa: E402

REAL = ("cityCC0.mpg", "pose2sim_single_cam01.mp4", "pose2sim_single_cam03.mp4")


def fixed_bars(frames: np.ndarray, threshold: float = cuts.DEFAULT_THRESHOLD) -> list[int]:
    """The rule before the adaptive one: both pair scores over fixed bars."""
    s = cuts.pair_scores(frames)
    return [int(i) + 1 for i in np.nonzero((s[:, 0] >= 0.6 * threshold) & (s[:, 1] >= threshold))[0]]


def unshifted(frames: np.ndarray, threshold: float = cuts.DEFAULT_THRESHOLD) -> list[int]:
    """The adaptive rule without the shifted score (cuts.SHIFT = 0: the rule before it)."""
    keep = cuts.SHIFT
    cuts.SHIFT = 0
    try:
        return cuts.detect(frames, threshold)
    finally:
        cuts.SHIFT = keep


def real_rows() -> list[str]:
    rows = []
    for name in REAL:
        path = SHARED / name
        vi = io.probe(path)
        h, w = max(1, vi.height // 4), max(1, vi.width // 4)
        frames = np.stack([resize_spatial(f, h, w) for f in io.read_frames(path, vi)])
        for f in (1, 2, 4, 8):
            x = frames if f == 1 else rect_downsample(frames[: len(frames) // f * f], f, 0)
            rows.append(f"| {name} | x{f} ({len(x)} frames) | {fixed_bars(x)} | {unshifted(x)} | {cuts.detect(x)} |")
    return rows


def city_x8() -> list[str]:
    ltr_path, gt_path = prepare("city", ROOT / "out" / "bench")
    _, ltr = io.read_video(ltr_path)
    _, gt = io.read_video(gt_path)
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=ltr.shape[1], width=ltr.shape[2])
    rows = []
    for label, found in (("fixed bars", fixed_bars(ltr)), ("adaptive", cuts.detect(ltr))):
        out = r.render(ltr, 0, len(ltr), cut_at=found)
        g = np.array([psnr(out[i:i + 8], gt[i:i + 8]) for i in range(0, len(gt), 8)])
        near = " / ".join(f"{g[i]:.2f}" for i in (13, 14, 15, 16))
        rows.append(f"| {label} | {found} | {near} | {psnr(out, gt):.2f} |")
    return rows


def cut_rows(case: str, htr: np.ndarray, cut: int, rules) -> list[str]:
    """One row per ``(label, detect)`` of ``rules``: the cuts it finds in ``htr`` averaged x8 (a
    cut at LTR frame ``cut``), the pair scores there and around, and the x8 groups (cubic + BP)."""
    ltr = rect_downsample(htr, 8, 0)
    s = cuts.pair_scores(ltr)
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=htr.shape[1], width=htr.shape[2])
    rows = []
    for label, detect in rules:
        found = detect(ltr)
        g = group_psnr(r.render(ltr, 0, len(ltr), cut_at=found), htr)
        rows.append(f"| {case}, {label} | {found} | pair at the cut {s[cut - 1, 0]:.3f} / {s[cut - 1, 1]:.3f} / "
                    f"shifted {s[cut - 1, 2]:.3f}, neighbours {s[cut - 3, 0]:.3f} / {s[cut - 3, 1]:.3f} / shifted "
                    f"{s[cut - 3, 2]:.3f} | groups at the cut {g[cut - 1]:.1f} / {g[cut]:.1f} dB, clip ends {g[0]:.1f} / "
                    f"{g[-1]:.1f}, mid-shot {np.mean(g[2:cut - 2]):.1f} / {np.mean(g[cut + 2:-2]):.1f} |")
    return rows


def synthetic_rows() -> list[str]:
    from test_cuts import drifting_waves, similar_palette_shots

    htr, cut = similar_palette_shots()
    ltr = rect_downsample(htr, 8, 0)
    rows = cut_rows("palette-keeping cut", htr, cut, (("fixed bars", fixed_bars), ("adaptive", cuts.detect)))
    speeds = np.concatenate([np.full(40, 0.1), np.interp(np.arange(48), [0, 24, 47], [0.1, 6, 0.1]),
                             np.full(40, 0.1)])
    whip = rect_downsample(drifting_waves(np.cumsum(speeds), 3), 8, 0)
    ws = cuts.pair_scores(whip)
    rows.append(f"| whip pan | fixed bars {fixed_bars(whip)}, adaptive {cuts.detect(whip)} | largest pair "
                f"{ws[:, 0].max():.3f} / {ws[:, 1].max():.3f} / shifted {ws[:, 2].max():.3f} | |")
    from test_cuts import panning_noise

    for speed in (0.25, 1.0):     # the palette-keeping cut while the camera pans (2 and 8 px per LTR frame)
        pos = np.arange(64) * speed
        rows += cut_rows(f"palette-keeping cut in a pan, {8 * speed:g} px per frame",
                         np.concatenate([panning_noise(1, pos), panning_noise(2, pos)]), 8,
                         (("unshifted", unshifted), ("adaptive", cuts.detect)))
    flash = ltr[:8].copy()
    flash[3] = np.clip(flash[3] * 1.8 + 0.1, 0, 1)
    fs = cuts.pair_scores(flash)
    rows.append(f"| one-frame flash | fixed bars {fixed_bars(flash)}, adaptive {cuts.detect(flash)} | pairs "
                f"{fs[2, 0]:.3f} / {fs[2, 1]:.3f} | |")
    return rows


def _mean_thumbnail(frame: np.ndarray) -> np.ndarray:
    """cuts.thumbnail as it was before 2026-12-02: a mean over each box's two axes at once."""
    h, w = frame.shape[:2]
    k = cuts._block(h, w)
    f = frame[:h // k * k, :w // k * k].astype(np.float32)
    return f.reshape(h // k, k, w // k, k, -1).mean(axis=(1, 3))


def cost_rows() -> list[str]:
    """Milliseconds per frame of the detector at pose2sim's full size and at 2160p (its frames
    doubled): the thumbnail as shipped and as it was, and the whole ``StreamDetector.push`` (the
    thumbnail, its histogram and the pair's scores), the best of 3 runs of 10 frames."""
    import itertools
    import time

    full = next(itertools.islice(io.read_frames(SHARED / "pose2sim_single_cam01.mp4"), 1))
    rows = ["| frame | thumbnail (ms) | the mean it replaced (ms) | largest error against a float64 mean: "
            "thumbnail / the old mean | push (ms) |", "| --- | --- | --- | --- | --- |"]
    def best(fn) -> float:
        """ms per call, the best of 3 runs of 10 calls (after one)."""
        fn()
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(10):
                fn()
            runs.append(time.perf_counter() - t0)
        return min(runs) * 100

    for f in (full, full.repeat(2, axis=0).repeat(2, axis=1)):
        det = cuts.StreamDetector()
        h, w = f.shape[:2]
        k = cuts._block(h, w)
        exact = f[:h // k * k, :w // k * k].astype(np.float64).reshape(h // k, k, w // k, k, -1).mean(axis=(1, 3))
        err = [float(np.abs(t - exact).max()) for t in (cuts.thumbnail(f), _mean_thumbnail(f))]
        rows.append(f"| {f.shape[1]}x{f.shape[0]} | {best(lambda: cuts.thumbnail(f)):.1f} | "
                    f"{best(lambda: _mean_thumbnail(f)):.1f} | {err[0]:.1e} / {err[1]:.1e} | "
                    f"{best(lambda: det.push(f)):.1f} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-docs", action="store_true", help="Write the tables into docs/BENCHMARKS.md.")
    ap.add_argument("--cost", action="store_true", help="Only time the detector per frame (no docs written).")
    args = ap.parse_args()
    if args.cost:
        print("\n".join(cost_rows()))
        return
    body = ["### Scene cuts (`python benchmarks/bench_cuts.py --write-docs`)", "",
            "Cuts found (the index of each shot's first frame) by the rule before (both scores over fixed "
            "bars), the adaptive rule without its shifted score (the rule before that score) and the "
            "adaptive rule (vs_zstsr/cuts.py). cityCC0's real cut is at frame 116.", "",
            "| clip | rate | fixed bars | adaptive, unshifted | adaptive |", "| --- | --- | --- | --- | --- |",
            *real_rows(), "",
            "cityCC0 at x8 (`zstsr degrade --scale 2`), cubic + back-projection on each shot: PSNR of the "
            "groups of LTR frames 13-16 (frame 14 holds both shots) and of the whole clip.", "",
            "| rule | cuts | groups 13 / 14 / 15 / 16 (dB) | clip (dB) |", "| --- | --- | --- | --- |",
            *city_x8(), "",
            "Synthetic cases (tests/test_cuts.py), x8, cubic + back-projection.", "",
            "| case | cuts | scores (thumbnails / histograms / shifted thumbnails) | PSNR |", "| --- | --- | --- | --- |",
            *synthetic_rows()]
    publish(body, "cuts", args.write_docs)


if __name__ == "__main__":
    main()
