"""Large-frame clips for the throughput and memory benchmarks (benchmarks/bench_hd.py).

A synthetic *textured pan*: the bundled photo (examples/data/coffee.png) with fine grain on top,
as one wide plane that the camera pans across by ``shift`` pixels per frame. Made frame by frame
and written losslessly (FFV1), so a 2160p clip never sits in memory whole. Also the real clip
``pose2sim_single_cam01.mp4`` upscaled (bicubic) to 2160p for the 4K end-to-end run.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from common import ROOT, SHARED  # noqa: F401  (common puts examples/ on the path)

SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "2160p": (2160, 3840)}
POSE = SHARED / "pose2sim_single_cam01.mp4"


def pan_frames(height: int, width: int, frames: int, shift: int = 5, seed: int = 0):
    """Yield ``frames`` float32 frames of a textured plane panning ``shift`` px per frame."""
    from PIL import Image

    from scenes import PHOTO_PATH

    wide = width + shift * frames
    with Image.open(PHOTO_PATH) as im:
        photo = np.asarray(im.convert("RGB").resize((wide, height), Image.Resampling.LANCZOS),
                           np.float32) / np.float32(255)
    # grain at 1/2 px scale, fixed to the plane: detail that moves with it, as on a real surface
    rng = np.random.default_rng(seed)
    grain = rng.standard_normal((-(-height // 2), -(-wide // 2), 1)).astype(np.float32)
    grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[:height, :wide] * np.float32(0.04)
    np.add(photo, grain, out=photo)
    np.clip(photo, 0, 1, out=photo)
    for i in range(frames):
        yield np.ascontiguousarray(photo[:, i * shift:i * shift + width])


# The pan's codecs: FFV1 (lossless, the default) and H.264 at a high quality, as a camera or an
# editor's intermediate delivers it (FFV1 costs ~0.25 CPU s to decode a 1080p frame, H.264 ~0.04)
INPUT_CODECS = {"ffv1": (".mkv", {}), "h264": (".mp4", {"codec": "h264", "crf": 12})}
INPUT_CODEC = "ffv1"


def make_pan(path: Path, size: str, frames: int, rate: Fraction = Fraction(30), codec: str = INPUT_CODEC) -> Path:
    """Write the pan at ``size`` (a key of :data:`SIZES`) to ``path`` once, in ``codec``
    (:data:`INPUT_CODECS`; ``path`` should end with its suffix)."""
    from vs_zstsr import io

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        io.write_video(path, pan_frames(*SIZES[size], frames), rate, **INPUT_CODECS[codec][1])
    return path


def make_pose(path: Path, size: str, frames: int | None = None) -> Path:
    """pose2sim_single_cam01.mp4 (1080x1920 portrait) at ``size``'s long side (2160p: 2160x3840
    portrait, bicubic), its first ``frames`` frames, lossless."""
    from vs_zstsr import io
    from vs_zstsr.resample import resize_spatial

    if path.exists():
        return path
    h, w = SIZES[size]
    info = io.probe(POSE)
    th, tw = (w, h) if info.height > info.width else (h, w)

    def frames_of():
        for i, f in enumerate(io.read_frames(POSE, info)):
            if frames is not None and i >= frames:
                return
            yield f if f.shape[:2] == (th, tw) else resize_spatial(f, th, tw, kernel="cubic", antialias=True)

    path.parent.mkdir(parents=True, exist_ok=True)
    io.write_video(path, frames_of(), info.rate)
    return path
