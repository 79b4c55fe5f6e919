"""Rates that are not a power-of-two multiple (vs_zstsr/retime.py): the exposure-weighted retiming,
the frame counts and rates, the refusals, and the filter and the CLI giving the same frames."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from conftest import fails_cleanly, moving_blob_htr, run
from vs_zstsr import io
from vs_zstsr.errors import UsageError
from vs_zstsr.options import UpsampleOptions
from vs_zstsr.resample import rect_downsample
from vs_zstsr.retime import Retime, ladder_factor, resolve


def retime_array(rt: Retime, htr: np.ndarray, starts=()) -> np.ndarray:
    return np.stack(list(rt.stream(iter(htr), len(htr), set(starts))))


def test_each_output_is_the_exposure_of_its_interval():
    """24 -> 60 by x4 (96 fps; 8 ladder frames per 5 outputs). On a 480 fps grid (both rates'
    boundaries), hold each ladder frame over its own exposure: the truth at 60 fps is the mean of
    every 8 grid frames (the slow camera of resample.py). The retimed frames are that, exactly."""
    rt = Retime(Fraction(24), ladder_factor(Fraction(24), Fraction(60)), Fraction(60))
    assert (rt.factor, rt.ratio, rt.count(40)) == (4, Fraction(8, 5), 25)
    htr = np.random.default_rng(0).random((40, 4, 5, 3), dtype=np.float32)
    truth = rect_downsample(np.repeat(htr, 5, axis=0), 8)
    np.testing.assert_allclose(retime_array(rt, htr), truth, atol=1e-6)


def test_a_scene_linear_in_time_keeps_its_exposure_over_every_common_period():
    """A pixel ramping linearly in time, the ladder's frames its exact exposures at 96 fps. Over
    each 1/12 s (8 ladder frames, 5 outputs) the outputs average to the true exposure exactly; each
    output is its interval's true exposure to within 3/40 of the ramp over one ladder frame (the
    staircase above is not the ramp: a partly covered ladder frame brings its whole exposure)."""
    rt = Retime(Fraction(24), 4, Fraction(60))
    k = np.arange(40, dtype=np.float64)
    slope = 0.02                                         # per ladder frame
    htr = np.broadcast_to((0.1 + slope * (k + 0.5))[:, None, None, None], (40, 2, 2, 3)).astype(np.float32)
    out = retime_array(rt, htr)[:, 0, 0, 0]
    i = np.arange(25)
    truth = 0.1 + slope * (i + 0.5) * 8 / 5              # the ramp at each output's middle
    np.testing.assert_allclose(out.reshape(5, 5).mean(1), truth.reshape(5, 5).mean(1), atol=1e-6)
    assert np.abs(out - truth).max() == pytest.approx(3 * slope / 40, abs=1e-6)


def test_no_drift_and_exact_counts_far_into_a_long_clip():
    rt = Retime(Fraction(30000, 1001), 4, Fraction(60))      # 29.97 -> 60 (x4 then 2000/1001)
    assert rt.ratio == Fraction(2000, 1001)
    n_htr = 4 * 10 ** 7
    assert rt.count(n_htr) == -(-Fraction(n_htr) / rt.ratio // 1)
    i = rt.count(n_htr) - 1                                  # the last output of a 3.8-day clip
    weights, _, _ = rt.plan(i, n_htr, set())
    assert sum(w for _, w in weights) == pytest.approx(1, abs=1e-12)
    assert weights[0][0] == i * 2000 // 1001 and weights[-1][0] == n_htr - 1


def test_a_cut_inside_an_output_keeps_the_middles_shot():
    rt = Retime(Fraction(24), 4, Fraction(60))
    htr = np.concatenate([np.zeros((20, 1, 1, 3)), np.ones((20, 1, 1, 3))]).astype(np.float32)
    out = retime_array(rt, htr, starts={20})[:, 0, 0, 0]       # LTR frame 5: 12.5 outputs in
    assert set(np.unique(out)) == {0.0, 1.0}                   # no frame mixes the shots
    assert list(out[:13]) == [0] * 12 + [1]                    # the cut is in output 12's middle
    marks = [rt.plan(i, 40, {20})[1:] for i in range(rt.count(40))]
    assert [i for i, (p, _) in enumerate(marks) if p] == [12] and [i for i, (_, n) in enumerate(marks) if n] == [11]


def test_rates_factors_and_refusals():
    assert [ladder_factor(Fraction(24), Fraction(f)) for f in (25, 48, 49, 60, 96, 97, 384)] == [2, 2, 4, 4, 4, 8, 16]
    opts, rt = resolve(UpsampleOptions(out_fps=Fraction(60000, 1001)), Fraction(30000, 1001))
    assert (opts.factor, rt) == (2, None)                        # a power of two: the plain x2 path
    for bad in (Fraction(24), Fraction(20), Fraction(24 * 17)):
        with pytest.raises(UsageError):
            ladder_factor(Fraction(24), bad)
    with pytest.raises(UsageError, match="not both"):
        resolve(UpsampleOptions(out_fps=Fraction(60)), Fraction(24), factor_given=True)


@pytest.fixture(scope="module")
def clip24(tmp_path_factory):
    """A 24 fps clip with a hard cut at LTR frame 5 (odd: inside a 60 fps output)."""
    a = moving_blob_htr(t=5, h=24, w=32, seed=0)
    b = np.roll(moving_blob_htr(t=5, h=24, w=32, speed=1, seed=5), 12, axis=2)[:, ::-1, :, ::-1]
    path = tmp_path_factory.mktemp("retime") / "in24.mkv"
    io.write_video(path, np.concatenate([a, b]), Fraction(24), bit_depth=8)
    return path


def test_cli_out_fps_count_rate_and_refusals(tmp_path, clip24):
    run("upsample", clip24, "-o", tmp_path / "o.mkv", "--out-fps", "60", "--method", "cubic")
    info = io.probe(tmp_path / "o.mkv")
    assert (io.count_frames(tmp_path / "o.mkv", info), info.rate) == (25, 60)
    for args, needle in ((["--out-fps", "20"], "must be above the input's 24 fps"),
                         (["--out-fps", "60", "-f", "4"], "not both"),
                         (["--out-fps", "60", "--conform"], "pass one of them"),
                         (["--out-fps", "x"], "--out-fps must be a number")):
        fails_cleanly(run("upsample", clip24, "-o", tmp_path / "out.mkv", "--method", "cubic", *args, ok=False),
                      needle, tmp_path, code=2)


def test_the_filter_and_the_cli_give_the_same_frames(tmp_path, clip24):
    vs = pytest.importorskip("vapoursynth")
    from test_filter import planes

    from vs_zstsr import filter as F
    from vs_zstsr import retime
    from vs_zstsr.stream import Renderer, upsample_stream

    out = F.upsample(F.source(clip24), fps_num=60, method="cubic")
    assert (out.num_frames, out.fps) == (25, Fraction(60))
    got = np.stack([np.stack(planes(f), -1) for f in out.frames()]).astype(np.float32) / 255
    props = [f.props for f in out.frames()]
    assert [Fraction(p["_DurationNum"], p["_DurationDen"]) for p in props] == [Fraction(1, 60)] * 25
    np.testing.assert_allclose([p["_AbsoluteTime"] for p in props], np.arange(25) / 60, atol=1e-9)
    assert [j for j, p in enumerate(props) if p["_SceneChangePrev"]] == [12]
    assert [j for j, p in enumerate(props) if p["_SceneChangeNext"]] == [11]
    # the CLI's path (cli.upsample): the ladder's frames, the detector's shots, the same retiming
    vi = io.probe(clip24)
    options, rt = resolve(UpsampleOptions(method="cubic", out_fps=Fraction(60)), vi.rate)
    r = Renderer.create(None, options, height=24, width=32)
    starts = retime.detect_starts(io.read_frames(clip24, vi), 4, options.cut_threshold)
    assert starts == {20}
    ref = retime_array(rt, np.stack(list(upsample_stream(io.read_frames(clip24, vi), r))), starts)
    assert np.abs(got - np.clip(ref, 0, 1)).max() <= 0.5 / 255 + 1e-6
    run("upsample", clip24, "-o", tmp_path / "o.mkv", "--out-fps", "60", "--method", "cubic")
    _, cli = io.read_video(tmp_path / "o.mkv")
    assert np.abs(cli - got).max() <= 1 / 255 + 1e-6
    # cuts ignored (sc=False, --scene-threshold 0): output 12 mixes the shots, in both
    off = F.upsample(F.source(clip24), fps_num=60, method="cubic", sc=False)
    got_off = np.stack([np.stack(planes(f), -1) for f in off.frames()]).astype(np.float32) / 255
    run("upsample", clip24, "-o", tmp_path / "off.mkv", "--out-fps", "60", "--method", "cubic", "--scene-threshold", 0)
    _, cli_off = io.read_video(tmp_path / "off.mkv")
    assert np.abs(cli_off - got_off).max() <= 1 / 255 + 1e-6 and np.abs(got_off[12] - got[12]).max() > 0.1
    # a power-of-two target is the plain factor, frame for frame: 30000/1001 -> 60000/1001 is x2
    src = vs.core.std.AssumeFPS(F.source(clip24), fpsnum=30000, fpsden=1001)
    x2 = F.upsample(src, 2, method="cubic")
    rate = F.upsample(src, fps_num=60000, fps_den=1001, method="cubic")
    assert (rate.num_frames, rate.fps) == (x2.num_frames, x2.fps)
    assert all(np.array_equal(a, b) for i in (0, 7, 19)
               for a, b in zip(planes(rate.get_frame(i)), planes(x2.get_frame(i))))
    for kw, needle in (({"fps_num": 20}, "above the input's 30000/1001"), ({"fps_den": 2}, "fps_den needs fps_num"),
                       ({"fps_num": 60, "factor": 4}, "not both"), ({"fps_num": 0}, "at least 1")):
        with pytest.raises(vs.Error, match=needle):
            F.upsample(src, **kw)


def test_the_retimed_filter_serves_any_frame_in_any_order():
    """A frame server: each output frame is computed from its own window, so a fresh instance asked
    in reverse order, or from several threads, gives the sequential frames byte for byte."""
    vs = pytest.importorskip("vapoursynth")
    import threading

    from test_filter import array_clip, raw_bytes

    from vs_zstsr import filter as F

    data = np.random.default_rng(4).random((9, 12, 16, 3), dtype=np.float32)
    src = array_clip(vs.core, data, Fraction(25))
    seq = raw_bytes(F.upsample(src, fps_num=60000, fps_den=1001, method="cubic"))   # 25 -> 59.94: x4, 1001/600 per output
    out = F.upsample(src, fps_num=60000, fps_den=1001, method="cubic")
    n = out.num_frames
    assert (n, out.fps) == (22, Fraction(60000, 1001))
    got: dict[int, bytes] = {}
    threads = [threading.Thread(target=lambda ids: got.update({i: raw_bytes(out, [i]) for i in ids}),
                                args=(list(range(n))[::-1][k::3],)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b"".join(got[i] for i in range(n)) == seq
