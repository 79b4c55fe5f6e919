"""Shared fixtures: small clips with exact ground truth, written as real files."""
from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))  # examples/scenes.py renders the test scenes


def ffmpeg_exe() -> str:
    """The ffmpeg command: the static binary of the ``imageio-ffmpeg`` wheel (a dev dependency),
    so that tests which compare with ffmpeg run everywhere, with no system package."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def moving_blob_htr(t: int = 32, h: int = 32, w: int = 40, speed: float = 0.7, seed: int = 0) -> np.ndarray:
    """A smooth coloured blob gliding right over a gradient: small, exact, with real motion."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    colour = rng.uniform(0.3, 0.9, 3).astype(np.float32)
    frames = []
    for k in range(t):
        cx = 6 + speed * k
        blob = np.exp(-(((x - cx) / 4.0) ** 2 + ((y - h / 2) / 5.0) ** 2))
        base = 0.15 + 0.3 * x / w
        frames.append(base[..., None] * (1 - blob[..., None]) + colour * blob[..., None])
    return np.clip(np.stack(frames), 0, 1).astype(np.float32)


@pytest.fixture
def htr_file(tmp_path) -> tuple[Path, np.ndarray]:
    from vs_zstsr import io

    clip = moving_blob_htr()
    path = tmp_path / "htr.mkv"
    io.write_video(path, clip, Fraction(240), bit_depth=16)
    return path, clip


def run(*args, ok=True):
    """``zstsr ARGS`` in-process; with ``ok``, assert it succeeded."""
    from click.testing import CliRunner

    from vs_zstsr.cli import main

    r = CliRunner().invoke(main, [str(a) for a in args])
    if ok:
        assert r.exit_code == 0, r.output + r.stderr
    return r


def fails_cleanly(r, needle, folder, code=1):
    """One line ``zstsr: error: ...``, exit status ``code`` (1: bad input, 2: a bad option value),
    and no output (or partial file) left behind."""
    assert r.exit_code == code, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("zstsr: error: ") and needle in lines[0], r.stderr
    assert not [p for p in Path(folder).iterdir() if "partial" in p.name or p.name.startswith("out")]



def tiny_model(path):
    """A small untrained net with a visible residual (so it really acts), exported to ``path``:
    for tests that compare renders, not quality. Needs torch (callers importorskip it)."""
    import torch
    import zstsr_export
    from zstsr_trainer import TSRNet

    torch.manual_seed(0)
    net = TSRNet(width=4, depth=3)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    zstsr_export.export_onnx(net, str(path))
    return path
