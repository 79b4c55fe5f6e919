"""The CLI as ffmpeg and NLE users expect: `zstsr info` fields, --crf and --prores-profile, matrix
tags on RGB -> YUV, declared rates kept, a training bar over the budget."""
from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import pytest
from conftest import ffmpeg_exe, run

from vs_zstsr import io


def ffmpeg(*args) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def pattern_clip(path, size="128x96", rate="30000/1001", seconds=1, *extra) -> None:
    """An RGB (FFV1 bgr0) clip of ffmpeg's test pattern, with no colour tags unless ``extra``."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}", *extra, "-c:v", "ffv1", path)


def test_info_counts_frames_and_prints_colour_timecode_and_audio(tmp_path):
    src = tmp_path / "t.mkv"   # Matroska: no frame count in the container
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=128x96:rate=30000/1001:duration=1", "-f", "lavfi", "-i",
           "sine=r=48000:d=1", "-ac", "2", "-c:v", "ffv1", "-pix_fmt", "yuv420p", "-c:a", "flac",
           "-timecode", "01:00:00:00", "-metadata:s:v", "reel_name=A001",
           "-vf", "setparams=range=tv:color_primaries=bt709:color_trc=bt709:colorspace=bt709", src)
    out = run("info", src).output
    assert "30 frames" in out and "at 30000/1001" in out and "? frames" not in out
    assert "colour: matrix bt709, primaries bt709, transfer bt709, range tv (limited)" in out
    assert "timecode: 01:00:00:00, reel A001" in out and "audio: flac 48000 Hz stereo" in out
    d = json.loads(run("info", src, "--json").output)
    assert (d["frames"], d["timecode"], d["reel_name"]) == (30, "01:00:00:00", "A001")
    assert d["audio"] == [{"codec": "flac", "sample_rate": 48000, "layout": "stereo"}]


def test_a_declared_rate_is_kept_where_millisecond_timestamps_round_it(tmp_path):
    src = tmp_path / "r75.mkv"
    pattern_clip(src, "64x48", "15/2", 4)
    assert io.probe(src).rate == Fraction(15, 2) and io.open_input(src).rate == Fraction(15, 2)
    assert io.snap_rate(Fraction(29011, 121)) == Fraction(240000, 1001)   # measured rates still snap


def test_crf_and_prores_profile(tmp_path):
    src = tmp_path / "in.mkv"
    pattern_clip(src, "128x96", "30", 1, "-pix_fmt", "yuv420p")
    sizes = {}
    for crf in (10, 40):
        out = tmp_path / f"crf{crf}.mp4"
        run("degrade", src, "-o", out, "-f", "2", "--crf", crf)
        assert f"crf={crf}.0".encode() in out.read_bytes()       # x264 writes its settings in the stream
        sizes[crf] = out.stat().st_size
    assert sizes[40] < sizes[10]
    assert f"crf={io.DEFAULT_CRF}.0".encode() in (run("degrade", src, "-o", tmp_path / "d.mp4", "-f", "2") and
                                                  (tmp_path / "d.mp4").read_bytes())
    run("degrade", src, "-o", tmp_path / "p.mov", "-f", "2", "--prores-profile", "proxy")
    import av
    with av.open(str(tmp_path / "p.mov")) as c:
        assert c.streams.video[0].profile == "Proxy"
    for args, needle in ((["-o", tmp_path / "x.mkv", "--crf", "20"], "--crf applies to H.264/H.265"),
                         (["-o", tmp_path / "x.mp4", "--prores-profile", "lt"], "--prores-profile applies to ProRes")):
        r = run("degrade", src, "-f", "2", *args, ok=False)
        assert r.exit_code == 1 and needle in r.stderr and not (tmp_path / "x.mkv").exists()


@pytest.mark.parametrize("size, pix_fmt, matrix", [("128x96", "yuv420p", 6), ("33x25", "yuv444p", 6),
                                                   ("1280x720", "yuv420p", 1)])
def test_rgb_to_yuv_is_tagged_with_its_matrix(tmp_path, size, pix_fmt, matrix):
    src = tmp_path / "rgb.mkv"
    pattern_clip(src, size, "30", 0.2)
    assert io.probe(src).pix_fmt == "bgr0"
    out = tmp_path / "out.mp4"
    r = run("degrade", src, "-o", out, "-f", "2")
    info = io.probe(out)
    assert (info.pix_fmt, info.color.matrix) == (pix_fmt, matrix)
    if pix_fmt == "yuv444p":
        assert "writing yuv444p" in r.stderr


def test_training_bar_counts_seconds_of_the_budget():
    from vs_zstsr.cli import _Bar

    bar = _Bar("train")
    bar(12, None, {"seconds": 5.0, "budget_s": 20.0, "ratio": 0.75})
    assert (bar.bar.n, bar.bar.total) == (5.0, 20.0) and "loss/cubic=0.750" in bar.bar.postfix and "it=12" in bar.bar.postfix
    bar(3, None, {"seconds": 1.0, "budget_s": 10.0})          # the next net starts its own count
    assert (bar.bar.n, bar.bar.total) == (1.0, 10.0)
    bar(40, 400, {"seconds": 4.0, "budget_s": 180.0})         # iterations bound it: the bar counts them
    assert (bar.bar.n, bar.bar.total, bar.bar.unit) == (40, 400, "it") and "s=4" in bar.bar.postfix
    bar.close()
