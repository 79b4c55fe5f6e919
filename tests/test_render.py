"""`zstsr render`: edit-ready masters and matching proxies for NLEs (docs/NLE.md).

Tiny clips (48x32, 8 frames; 256x128 for DNxHR, whose minimum is 256x120) and `--method cubic`
(no training), so the whole file runs in seconds.
"""
import csv
import os
from fractions import Fraction

import av
import numpy as np
import pytest
from click.testing import CliRunner

from vs_zstsr import io
from vs_zstsr import render as rd
from vs_zstsr.cli import main

from test_footage import write_raw  # PyAV: rotation, timestamps, field order

SR = 48000


def make_clip(path, n=8, w=48, h=32, rate=Fraction(30), timecode=None, reel=None, tone_hz=None,
              codec="prores_ks", pix_fmt="yuv422p10le", fmt=None):
    """A moving pattern, optionally with a timecode, reel name and a stereo sine of n/rate seconds."""
    c = av.open(str(path), "w", format=fmt)
    if timecode:
        c.metadata["timecode"] = timecode
    s = c.add_stream(codec, rate=rate)
    s.width, s.height, s.pix_fmt = w, h, pix_fmt
    if timecode:
        s.metadata["timecode"] = timecode
    if reel:
        s.metadata["reel_name"] = reel
    a = None
    if tone_hz:
        a = c.add_stream("pcm_s16le", rate=SR)
        a.layout = "stereo"
    y, x = np.mgrid[0:h, 0:w]
    for i in range(n):
        img = (np.stack([x * 4 + i * 10, y * 6, (x + y + i * 7) * 3], -1) % 256).astype(np.uint8)
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
        f.pts, f.time_base = i, 1 / rate
        for p in s.encode(f):
            c.mux(p)
    if a is not None:
        t = np.arange(round(n / rate * SR)) / SR
        mono = (np.sin(2 * np.pi * tone_hz * t) * 12000).astype(np.int16)
        af = av.AudioFrame.from_ndarray(np.repeat(mono[:, None], 2, 1).reshape(1, -1), format="s16",
                                        layout="stereo")
        af.sample_rate, af.pts = SR, 0
        for p in a.encode(af):
            c.mux(p)
        for p in a.encode():
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    return path


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "A001C003.mov", timecode="01:00:10:15", reel="A001", tone_hz=800)


def run(*args, ok=True):
    r = CliRunner().invoke(main, ["render", *[str(a) for a in args], "--method", "cubic"])
    if ok:
        assert r.exit_code == 0, r.output + r.stderr
    return r


def probe(path):
    """What an NLE would see: codec, profile, frames, rate, size, timecode, reel, tags, audio."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for p in c.demux(v) if p.size)
        tags = {k.lower(): v for k, v in c.metadata.items()}
        audio = None
        if c.streams.audio:
            c.seek(0)
            samples, chunks = 0, []
            for f in c.decode(audio=0):
                x = f.to_ndarray()
                chunks.append(x[0] if f.format.is_planar else x.reshape(-1, len(f.layout.channels))[:, 0])
                samples += f.samples
            audio = {"rate": c.streams.audio[0].codec_context.sample_rate, "samples": samples,
                     "codec": c.streams.audio[0].codec_context.name,
                     "left": np.concatenate(chunks).astype(np.float64)}
        return {"codec": v.codec_context.name, "profile": v.profile, "frames": frames,
                "rate": io.probe(path).rate, "size": (v.codec_context.width, v.codec_context.height),
                "timecode": rd.read_timecode(path), "reel": rd.read_reel_name(path), "tags": tags,
                "audio": audio}


def dominant_hz(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.argmax(spectrum) * rate / len(x)


# --------------------------------------------------------------------------------------------
# timecode arithmetic


def test_timecode_scaling_keeps_the_start_time():
    assert rd.scale_timecode("01:00:10:15", Fraction(30), Fraction(240)) == "01:00:10:120"
    assert rd.scale_timecode("00:00:01:12", Fraction(25), Fraction(200)) == "00:00:01:096"
    assert rd.scale_timecode(None, Fraction(24000, 1001), Fraction(192000, 1001)) == "00:00:00:000"
    assert rd.timecode_base(Fraction(240000, 1001)) == 240
    # conformed: same rate, copied as is
    assert rd.scale_timecode("10:59:59:23", Fraction(24), Fraction(24)) == "10:59:59:23"


def test_drop_frame_timecode_round_trips_like_ffmpeg():
    # 00:01:00;02 is the first label after the drop at minute 1 (frames ;00 and ;01 are skipped)
    assert rd.parse_timecode("00:01:00;02", 30) == (1800, True)
    assert rd.format_timecode(1800, 30, True) == "00:01:00;02"
    for base in (30, 60, 240):
        for frame in (0, 1799, 1800, 14399, 14400, 17981, 17982, 107892, 143855, 143856, 1000001):
            assert rd.parse_timecode(rd.format_timecode(frame, base, True), base) == (frame, True)
    # x8: the same instant; drop-frame stays drop-frame (240 is a multiple of 30)
    assert rd.scale_timecode("00:01:00;02", Fraction(30000, 1001), Fraction(240000, 1001)) == "00:01:00;016"
    with pytest.raises(ValueError):
        rd.parse_timecode("00:00:00:30", 30)


# --------------------------------------------------------------------------------------------
# master and proxy


def test_real_rate_master_and_proxy_match_for_relinking(tmp_path, clip):
    out = tmp_path / "out"
    r = run(clip, "-o", out, "--proxy")
    master, proxy = out / "A001C003.mov", out / "Proxy" / "A001C003.mov"
    m, p = probe(master), probe(proxy)
    assert (m["codec"], m["profile"]) == ("prores", "HQ")
    assert (p["codec"], p["profile"]) == ("prores", "Proxy")
    assert m["frames"] == p["frames"] == 64
    assert m["rate"] == p["rate"] == 240
    assert m["size"] == (48, 32) and p["size"] == (24, 16)
    assert m["timecode"] == p["timecode"] == "01:00:10:120"  # 10.5 s past the hour, at 240 fps
    assert m["reel"] == p["reel"] == "A001"
    # real rate: the audio is passed through (PCM), as long as the picture, at its pitch
    for a in (m["audio"], p["audio"]):
        assert a["codec"] == "pcm_s16le" and a["rate"] == SR and a["samples"] == round(8 / 30 * SR)
        assert abs(dominant_hz(a["left"], SR) - 800) < 10
    assert m["tags"]["zstsr_audio"] == p["tags"]["zstsr_audio"] == "keep"
    assert "240 fps" in r.stderr and not list(tmp_path.rglob("*partial*"))
    # the picture is the upsampled clip (each group of 8 averages back to its input frame)
    _, src = io.read_video(clip)
    _, out_frames = io.read_video(master)
    from vs_zstsr.resample import rect_downsample
    assert out_frames.shape == (64, 32, 48, 3)
    assert np.abs(rect_downsample(out_frames, 8) - src).mean() < 0.01  # ProRes 4:2:2, clipping


def test_conform_keeps_the_rate_and_drops_audio_by_default(tmp_path, clip):
    out = tmp_path / "out"
    run(clip, "-o", out, "--proxy", "--proxy-size", "quarter", "--conform")
    m, p = probe(out / "A001C003.mov"), probe(out / "Proxy" / "A001C003.mov")
    assert m["frames"] == p["frames"] == 64 and m["rate"] == p["rate"] == 30
    assert m["timecode"] == p["timecode"] == "01:00:10:15"  # same rate: copied as is
    assert p["size"] == (12, 8)
    assert m["audio"] is None and p["audio"] is None
    assert m["tags"]["zstsr_audio"] == p["tags"]["zstsr_audio"] == "drop"
    assert m["tags"]["zstsr_conform"] == "1"


def test_conform_with_audio_stretch_slows_the_audio_by_the_factor(tmp_path, clip):
    out = tmp_path / "out"
    run(clip, "-o", out, "--conform", "--audio", "stretch", "--codec", "ffv1", "--proxy")
    m, p = probe(out / "A001C003.mkv"), probe(out / "Proxy" / "A001C003.mov")
    assert m["codec"] == "ffv1" and (p["codec"], p["profile"]) == ("prores", "Proxy")
    assert m["frames"] == p["frames"] == 64 and m["rate"] == p["rate"] == 30
    assert m["timecode"] == p["timecode"] == "01:00:10:15"
    for a in (m["audio"], p["audio"]):
        assert a["samples"] == round(64 / 30 * SR)  # 8 x as long: still in sync with the picture
        assert abs(dominant_hz(a["left"], SR) - 100) < 5  # 8 x lower: tape-style slow down
    assert m["tags"]["zstsr_audio"] == p["tags"]["zstsr_audio"] == "stretch"


def test_dnxhr_master(tmp_path):
    src = make_clip(tmp_path / "wide.mov", n=4, w=256, h=128, rate=Fraction(25))
    out = tmp_path / "out"
    run(src, "-o", out, "--codec", "dnxhr", "--factor", 2, "--proxy")
    m, p = probe(out / "wide.mov"), probe(out / "Proxy" / "wide.mov")
    assert (m["codec"], m["profile"]) == ("dnxhd", "DNXHR HQX")
    assert m["frames"] == p["frames"] == 8 and m["rate"] == p["rate"] == 50
    assert m["timecode"] == p["timecode"] == "00:00:00:00"  # none in the source
    assert m["reel"] == p["reel"] == "wide"  # from the file name
    assert m["tags"]["zstsr_audio"] == "none"
    with av.open(str(out / "wide.mov")) as c:
        assert c.streams.video[0].codec_context.pix_fmt == "yuv422p10le"


@pytest.mark.parametrize("args, needle", [
    (["--conform", "--audio", "keep"], "out of sync"),
    (["--audio", "stretch"], "is for --conform"),
    (["--codec", "dnxhr"], "at least 256x120"),
])
def test_bad_choices_fail_cleanly(tmp_path, clip, args, needle):
    out = tmp_path / "out"
    r = run(clip, "-o", out, *args, ok=False)
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("zstsr: error:") and needle in lines[0], r.stderr
    assert not out.exists()


def test_bad_single_input_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.mov"
    bad.write_bytes(b"\0not a video" * 100)
    out = tmp_path / "out"
    r = run(bad, "-o", out, ok=False)
    assert r.exit_code == 1 and "cannot read as video" in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1
    assert not out.exists()


def test_stream_damaged_midway_leaves_no_master_or_proxy(tmp_path, htr_file):
    path, _ = htr_file  # FFV1 with slice CRCs: the damage is found while rendering, not at probe
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 300):
        data[i] ^= 0x33
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    r = run(bad, "-o", out, "--factor", 2, "--proxy", ok=False)
    assert r.exit_code == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("zstsr: error:")]
    assert len(errors) == 1 and "corrupt video stream" in errors[0], r.stderr
    assert not out.exists()  # no master, no proxy, no temporary file, not even the empty folder


def test_a_master_above_255_fps_keeps_its_timecode_as_a_tag(tmp_path):
    """x8 of 60 fps is 480: MOV's timecode track cannot count that many frames a second (ffmpeg's
    muxer failed at the trailer: a traceback and no file). Master and proxy are written, readable,
    with the start timecode and reel as tags, and a note says so."""
    src = make_clip(tmp_path / "B001.mov", rate=Fraction(60), timecode="01:00:10:15", reel="B001")
    out = tmp_path / "out"
    r = run(src, "-o", out, "--factor", 8, "--proxy")
    assert "no timecode track above 255 fps" in r.stderr
    for f in (out / "B001.mov", out / "Proxy" / "B001.mov"):
        p = probe(f)
        assert p["frames"] == 64 and p["rate"] == 480, p
        assert rd.read_timecode(f) == "01:00:10:120" and rd.read_reel_name(f) == "B001"


def test_master_never_overwrites_its_source(tmp_path, clip):
    r = run(clip, "-o", tmp_path, ok=False)
    assert r.exit_code == 2 and "is the input" in r.stderr
    assert probe(clip)["frames"] == 8


# --------------------------------------------------------------------------------------------
# real-world footage (docs/FOOTAGE.md): the checks of io.open_input, the options of input_options


def phone_clip(path):
    """A rotated (display matrix: 90 degrees) clip at a variable rate: 10 frames at 25 fps stored
    48x32, frames 5 and 6 dropped; upright it is 32x48, 12 frames at 25 fps (Matroska's millisecond
    clock holds 25 fps exactly)."""
    frames = np.stack([np.full((32, 48, 3), (i + 1) * 16, np.uint8) for i in range(10)])
    frames[:, :8, :8] = 255  # a corner, to see the turn
    write_raw(path, frames, rotation=90, pts=[3600 * t for t in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)],
              time_base=Fraction(1, 90000))
    return path


def test_rotated_variable_rate_clip_renders_upright_at_a_constant_rate(tmp_path):
    src = phone_clip(tmp_path / "phone.mkv")
    out = tmp_path / "out"
    r = run(src, "-o", out, "--factor", 2, "--codec", "ffv1", "--proxy")
    said = [ln for ln in r.stderr.splitlines() if "variable frame rate" in ln]
    assert len(said) == 1 and "constant 25 fps" in said[0], r.stderr
    m, p = probe(out / "phone.mkv"), probe(out / "Proxy" / "phone.mov")
    assert m["size"] == (32, 48) and p["size"] == (16, 24)  # upright, no rotation left to apply
    assert m["frames"] == p["frames"] == 24 and m["rate"] == p["rate"] == 50
    info, frames = io.read_video(out / "phone.mkv")
    assert info.orientation == ""
    assert frames[0, -8:, :8].min() > 0.99 and frames[0, :8, :8].max() < 0.1  # turned counter-clockwise
    levels = np.round(frames[::2, 20, 20, 0] * 255 / 16).astype(int) - 1
    assert levels.tolist() == [0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9]  # the gap repeats the frame before
    r = run(src, "-o", tmp_path / "refused", "--vfr", "error", ok=False)
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 1 and len(errors) == 1 and "variable frame rate" in errors[0], r.stderr
    assert not (tmp_path / "refused").exists()


def test_interlaced_clip_is_refused_unless_assumed_progressive(tmp_path):
    src = tmp_path / "tv.mkv"
    write_raw(src, np.zeros((3, 16, 16, 3), np.uint8), field_order=2)  # top field first
    out = tmp_path / "out"
    r = run(src, "-o", out, ok=False)
    errors = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 1 and len(errors) == 1 and "interlaced" in errors[0]
    assert "--assume-progressive" in errors[0] and not out.exists()
    run(src, "-o", out, "--factor", 2, "--assume-progressive")
    assert probe(out / "tv.mov")["frames"] == 6


# --------------------------------------------------------------------------------------------
# a folder of clips


def test_folder_renders_the_good_clips_reports_the_bad_one_and_lists_all(tmp_path, clip):
    folder = tmp_path / "clips"
    folder.mkdir()
    clip.rename(folder / clip.name)
    make_clip(folder / "B002.mkv", codec="ffv1", pix_fmt="yuv420p", rate=Fraction(24000, 1001))
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (folder / "notes.txt").write_text("not a clip; ignored")
    out = tmp_path / "out"
    r = run(folder, "-o", out, "--proxy", ok=False)
    assert r.exit_code == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("zstsr: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"zstsr: error: {folder / 'broken.mp4'}: "), r.stderr
    with open(out / "zstsr_render.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["source"].rsplit("/", 1)[-1] for row in rows] == ["A001C003.mov", "B002.mkv", "broken.mp4"]
    a, b, bad = rows
    assert a["status"] == b["status"] == "ok" and bad["status"].startswith("error:")
    assert (a["master"], a["proxy"]) == ("A001C003.mov", "Proxy/A001C003.mov")
    assert (a["frames"], a["rate"], a["start_timecode"]) == ("64", "240", "01:00:10:120")
    assert (b["frames"], b["rate"], b["start_timecode"]) == ("64", "192000/1001", "00:00:00:000")
    for row in (a, b):
        m, p = probe(out / row["master"]), probe(out / row["proxy"])
        assert m["frames"] == p["frames"] == 64 and str(m["rate"]) == str(p["rate"]) == row["rate"]
        assert m["timecode"] == p["timecode"] == row["start_timecode"]
    assert sorted(x.name for x in out.iterdir()) == ["A001C003.mov", "B002.mov", "Proxy", "zstsr_render.csv"]
    assert not list(tmp_path.rglob(".*partial*"))


def test_folder_reports_footage_it_refuses_and_renders_the_rest(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_clip(folder / "good.mov", n=4)
    phone_clip(folder / "phone.mkv")
    rgba = np.full((3, 16, 16, 4), 128, np.uint8)
    write_raw(folder / "alpha.mkv", rgba, pix_fmt="yuva420p")
    write_raw(folder / "tv.mkv", np.zeros((3, 16, 16, 3), np.uint8), field_order=2)
    out = tmp_path / "out"
    r = run(folder, "-o", out, "--factor", 2, "--vfr", "error", ok=False)
    assert r.exit_code == 1
    errors = sorted(ln for ln in r.stderr.splitlines() if ln.startswith("zstsr: error:"))
    assert len(errors) == 3, r.stderr
    for line, name, needle in zip(errors, ("alpha.mkv", "phone.mkv", "tv.mkv"),
                                  ("alpha channel", "variable frame rate", "interlaced")):
        assert line.startswith(f"zstsr: error: {folder / name}: ") and needle in line, line
    with open(out / "zstsr_render.csv", newline="") as f:
        status = {row["source"].rsplit("/", 1)[-1]: row["status"] for row in csv.DictReader(f)}
    assert status["good.mov"] == "ok" and status["phone.mkv"].startswith("error: variable frame rate")
    assert status["tv.mkv"].startswith("error: interlaced") and "alpha channel" in status["alpha.mkv"]
    assert sorted(x.name for x in out.iterdir()) == ["good.mov", "zstsr_render.csv"]
    assert "rendered 1 of 4 clips" in r.stderr
    # the defaults: the variable-rate clip is converted; --assume-progressive lets the TV clip in
    r = run(folder, "-o", tmp_path / "out2", "--factor", 2, "--assume-progressive", ok=False)
    assert "rendered 3 of 4 clips" in r.stderr and r.stderr.count("zstsr: error:") == 1
    assert probe(tmp_path / "out2" / "phone.mov")["size"] == (32, 48)


def test_folder_all_good_exits_zero(tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    make_clip(folder / "one.mov", n=4)
    r = run(folder, "-o", tmp_path / "out", "--factor", 2)
    assert "rendered 1 of 1 clips" in r.stderr
    assert probe(tmp_path / "out" / "one.mov")["frames"] == 8


def test_a_proxy_name_taken_mid_render_keeps_both_and_names_the_master(tmp_path, clip, monkeypatch):
    """A file that appears at the proxy's name while the clip renders is left as it is; the
    master, already in place, is named in the clip's error rather than reported as not written."""
    out = tmp_path / "out"
    real = io.VideoWriter.commit

    def proxy_taken(self):
        if "Proxy" in str(self.path):
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "wb") as f:
                f.write(b"theirs")
        return real(self)

    monkeypatch.setattr(io.VideoWriter, "commit", proxy_taken)
    r = CliRunner().invoke(main, ["render", str(clip), "-o", str(out), "--proxy", "--method", "cubic"])
    assert r.exit_code == 1
    master, proxy = out / "A001C003.mov", out / "Proxy" / "A001C003.mov"
    assert proxy.read_bytes() == b"theirs" and master.stat().st_size > 0
    assert f"{master} was written" in r.output
