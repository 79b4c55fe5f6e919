from fractions import Fraction

import av
import numpy as np
import pytest

from vs_zstsr import io
from vs_zstsr.errors import ZstsrError


def _clip(t=6, h=16, w=24, seed=0):
    return np.random.default_rng(seed).random((t, h, w, 3)).astype(np.float32)


@pytest.mark.parametrize("depth,tol", [(8, 0.5 / 255 + 1e-6), (10, 0.5 / 1023 + 1e-3), (16, 1e-4)])
def test_ffv1_round_trip_keeps_depth_and_exact_ntsc_rate(tmp_path, depth, tol):
    clip = _clip()
    rate = Fraction(30000, 1001) * 8
    io.write_video(tmp_path / "a.mkv", clip, rate, bit_depth=depth)
    info, back = io.read_video(tmp_path / "a.mkv")
    assert info.rate == Fraction(240000, 1001)
    assert info.bit_depth == depth
    assert back.shape == clip.shape
    assert np.abs(back - clip).max() <= tol


@pytest.mark.parametrize("codec,ext,depth", [("h264", "mp4", 8), ("h265", "mp4", 10),
                                              ("prores", "mov", 10), ("png", "", 16)])
def test_every_output_codec_writes_a_readable_file_at_the_exact_rate(tmp_path, codec, ext, depth):
    clip = _clip(h=64, w=96)
    rate = Fraction(24000, 1001)
    target = tmp_path / (f"out.{ext}" if ext else "frames")
    n = io.write_video(target, clip, rate, bit_depth=depth, codec=codec)
    info, back = io.read_video(target)
    assert n == len(back) == len(clip)
    assert info.rate == rate
    assert info.bit_depth >= min(depth, 10)
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_png_folder_keeps_rate_in_sidecar_and_rejects_mixed_sizes(tmp_path):
    io.write_video(tmp_path / "f", _clip(t=3), Fraction(50))
    assert io.probe(tmp_path / "f").rate == 50
    # a frame of another size in the folder is named
    io.write_video(tmp_path / "g", _clip(t=1, h=8, w=8), Fraction(50))
    (tmp_path / "g" / "000000.png").rename(tmp_path / "f" / "000003.png")
    with pytest.raises(ZstsrError, match="000003.png"):
        io.read_video(tmp_path / "f")


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "keep.mkv"
    target.write_bytes(b"precious")

    def frames():
        yield _clip(t=1)[0]
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        io.write_video(target, frames(), Fraction(24))
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mkv"]


def test_corrupt_and_truncated_streams_are_refused(tmp_path):
    good = tmp_path / "good.mkv"
    io.write_video(good, _clip(t=16, h=32, w=48), Fraction(24))
    data = bytearray(good.read_bytes())
    (tmp_path / "trunc.mkv").write_bytes(bytes(data[: len(data) // 2]))
    for i in range(len(data) // 3, len(data) // 3 + 200):
        data[i] ^= 0x5A
    (tmp_path / "flip.mkv").write_bytes(bytes(data))
    for name, why in (("trunc.mkv", "truncated"), ("flip.mkv", "corrupt video stream")):
        with pytest.raises(ZstsrError, match=why):
            io.read_video(tmp_path / name)


def test_unreadable_inputs_give_one_clear_line(tmp_path):
    (tmp_path / "text.mp4").write_text("not a video " * 50)
    (tmp_path / "empty").mkdir()
    with av.open(str(tmp_path / "novideo.mkv"), "w") as c:  # a file with only an audio stream
        a = c.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for pkt in a.encode(frame):
            c.mux(pkt)
    cases = {"missing.mkv": "no such file", "text.mp4": "cannot read as video",
             "empty": "no PNG frames", "novideo.mkv": "no video stream"}
    for name, msg in cases.items():
        with pytest.raises(ZstsrError, match=msg) as e:
            io.read_video(tmp_path / name)
        assert "\n" not in str(e.value)


def test_snap_rate_recovers_ntsc_rates_from_millisecond_clocks():
    assert io.snap_rate(Fraction(29011, 121)) == Fraction(240000, 1001)
    assert io.snap_rate(Fraction(2997, 100)) == Fraction(30000, 1001)
    assert io.snap_rate(Fraction(25)) == 25


def test_h265_refuses_pictures_smaller_than_a_ctu(tmp_path):
    with pytest.raises(ZstsrError, match="at least 64x64"):
        io.write_video(tmp_path / "a.mp4", _clip(h=32, w=48), Fraction(24), bit_depth=10, codec="h265")
    assert list(tmp_path.iterdir()) == []


def test_output_type_is_chosen_by_extension_or_refused(tmp_path):
    assert io.codec_for("a.mkv") == "ffv1" and io.codec_for("a.mov") == "prores"
    assert io.codec_for("a.mp4") == "h264" and io.codec_for(str(tmp_path) + "/") == "png"
    with pytest.raises(ZstsrError, match="unknown output type"):
        io.codec_for("a.xyz")


def test_compact_keeps_a_frame_as_its_stored_samples_only_where_they_give_it_back_exactly():
    """io.compact (a segment crossing to MVTools' worker): a frame read from an 8-bit video as
    uint8, a 16-bit one as uint16, anything else (a virtual frame, a value past [0, 1], NaN) as it
    is; io.dequantize_into turns each back into the very same float32 values."""
    rng = np.random.default_rng(0)
    q8 = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    q16 = rng.integers(0, 65536, (6, 7, 3), dtype=np.uint16)
    f8, f16 = io.dequantize(q8, 8), io.dequantize(q16, 16)
    c8, c16 = io.compact(f8), io.compact(f16)
    assert c8.dtype == np.uint8 and c16.dtype == np.uint16
    np.testing.assert_array_equal(c8, q8)
    np.testing.assert_array_equal(c16, q16)
    off_row, off_later = f8.copy(), f8.copy()
    off_row[0, 0, 0] += np.float32(1e-3)      # stops at the first row
    off_later[5, 6, 2] += np.float32(1e-3)    # passes the first row, not the whole frame
    past, nan, negative_zero = f8.copy(), f8.copy(), f8.copy()
    past[3, 3, 1], nan[2, 2, 2], negative_zero[4, 1, 0] = 1.5, np.nan, -0.0
    wide = f8.astype(np.float64)
    for frame in (off_row, off_later, past, nan, negative_zero, wide):
        assert io.compact(frame) is frame
    out = np.empty(f8.shape, np.float32)
    io.dequantize_into(wide, out)              # not compacted: copied as it is
    np.testing.assert_array_equal(out, f8)
    for frame in (f8, f16, off_later):
        out = np.full(frame.shape, -1, np.float32)
        io.dequantize_into(io.compact(frame), out)
        np.testing.assert_array_equal(out, frame)
        assert out.tobytes() == frame.tobytes()


def test_another_codecs_errors_are_not_the_inputs(tmp_path):
    """A damaged packet decoded by another codec meanwhile (render's audio, on the main thread,
    while the direct path reads the video on a thread of its own) is not blamed on the video being read."""
    def damage():
        ctx = av.CodecContext.create("mpeg2video", "r")
        for data in (b"\x00\x00\x01\xb3" + bytes(range(256)) * 8, b"\x00\x00\x01\x00" + bytes(range(255, 0, -1)) * 8):
            try:
                ctx.decode(av.Packet(data))
            except av.error.FFmpegError:
                pass

    with io._ffmpeg_errors("clip.mkv", "at frame 1", {"ffv1", "matroska", "webm"}):
        damage()
    for own in ({"mpeg2video", "matroska"}, {"h264", "mpeg2video"}):     # its codec's, or its container's
        with pytest.raises(ZstsrError, match="corrupt video stream at frame 1"):
            with io._ffmpeg_errors("clip.mkv", "at frame 1", own):
                damage()


