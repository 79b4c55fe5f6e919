"""End to end, as a new user runs it: the default `zstsr upsample` on a real full-size clip (issue 18:
this is where MVTools used to kill the process, in the self-check's 32x32 crop of a 1080x1920 clip)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT, run

from vs_zstsr import io

CLIP = ROOT.parent / "shared" / "data" / "pose2sim_single_cam01.mp4"


@pytest.mark.slow
def test_default_upsample_of_a_real_1080x1920_clip_survives_and_averages_back(tmp_path):
    """pose2sim cam01 (1080x1920, 60 fps) as a 7.5 fps camera (12 frames, each the mean of 8), then
    `zstsr upsample` with its defaults (two nets trained on a short budget, the self-check with
    flow, the ladder) at x8, in a process of its own: it must exit 0 (not die of a signal) with 96
    frames at 60 fps, each group of 8 averaging back to its input frame."""
    pytest.importorskip("torch")
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is not here (../shared beside the checkout)")
    ltr = tmp_path / "ltr.mkv"
    run("degrade", CLIP, "-o", ltr, "-f", 8)
    assert io.count_frames(ltr) == 12
    out = tmp_path / "out.mkv"
    env = dict(os.environ, ZSTSR_CACHE=str(tmp_path / "cache"))
    r = subprocess.run([sys.executable, "-m", "vs_zstsr", "upsample", str(ltr), "-o", str(out), "-f", "8",
                        "--budget", "20s"], env=env, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    assert "self-check" in r.stderr and "Traceback" not in r.stderr, r.stderr
    vi = io.probe(out)
    assert (vi.width, vi.height, vi.rate) == (1080, 1920, 60) and io.count_frames(out) == 96
    inputs = io.read_frames(ltr)
    group, worst = [], 0.0
    for f in io.read_frames(out):
        group.append(f.mean(axis=(0, 1)))   # per channel: bounds memory (96 full-size frames)
        if len(group) == 8:
            worst = max(worst, float(np.abs(np.mean(group, axis=0) - next(inputs).mean(axis=(0, 1))).max()))
            group = []
    assert worst < 2 / 255, worst
