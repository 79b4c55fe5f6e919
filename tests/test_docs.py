"""docs/VAPOURSYNTH.md runs as written: its code blocks, in order, in one folder holding the small
clip and model the page assumes; and its vspipe | ffmpeg recipe keeps the exact rate and colour."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

pytest.importorskip("vapoursynth")
from conftest import ffmpeg_exe, moving_blob_htr  # noqa: E402
from test_filter import vs_env  # noqa: E402,F401  (the fixture: vspipe's environment)

from vs_zstsr import io  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def code_blocks(doc: Path) -> list[tuple[str, str]]:
    """``[(language, code), ...]`` of the fenced blocks of a Markdown file, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w+)\n(.*?)^```", doc.read_text(), re.M | re.S)]


def tiny_model(path: Path) -> None:
    torch = pytest.importorskip("torch")
    import zstsr_export
    from zstsr_trainer import TSRNet

    torch.manual_seed(0)
    zstsr_export.export_onnx(TSRNet(width=4, depth=3), str(path))


def test_vapoursynth_md_runs_as_written(vs_env, tmp_path):  # noqa: F811
    io.write_video(tmp_path / "clip.mkv", moving_blob_htr(t=6, h=24, w=32), Fraction(30000, 1001), bit_depth=8,
                   pix_fmt="yuv420p", color=io.ColorInfo(primaries=1, trc=1, matrix=1, range=1))
    tiny_model(tmp_path / "clip.onnx")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ffmpeg").symlink_to(ffmpeg_exe())
    env = dict(vs_env, PATH=os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), vs_env["PATH"]]))
    blocks = code_blocks(ROOT / "docs" / "VAPOURSYNTH.md")
    assert {lang for lang, _ in blocks} <= {"python", "sh"} and len(blocks) >= 4
    for lang, code in blocks:
        first = code.splitlines()[0]
        if lang == "python" and re.match(r"# [\w.-]+\.vpy\b", first):
            (tmp_path / first.split()[1].rstrip(":")).write_text(code)
            continue
        cmd = ["bash", "-e", "-o", "pipefail", "-c", code] if lang == "sh" else [sys.executable, "-c", code]
        r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"{lang} block failed:\n{code}\n{r.stdout}\n{r.stderr}"
    # the recipe's file: every frame, the exact rate, the colour tags
    out = io.probe(tmp_path / "out.mp4")
    assert (out.frames, out.rate, out.codec) == (48, Fraction(240000, 1001), "h264")
    assert (out.color.matrix, out.color.primaries, out.color.trc, out.color.range) == (1, 1, 1, 1)
    assert io.count_frames(tmp_path / "out.mp4", out) == 48
    # fps_num: 6 frames at 30000/1001 -> x4 -> 13 frames at exactly 60 fps
    out60 = io.probe(tmp_path / "out60.mp4")
    assert (io.count_frames(tmp_path / "out60.mp4", out60), out60.rate) == (13, 60)
