"""The measuring tools end to end (degrade -> baseline -> eval) and their bad-input behaviour."""
import json
from fractions import Fraction

import numpy as np
import pytest

from vs_zstsr import io
from vs_zstsr.resample import rect_downsample

from conftest import fails_cleanly, moving_blob_htr, run


def test_degrade_is_the_mean_of_each_exposure_and_writes_matching_ground_truth(tmp_path, htr_file):
    path, clip = htr_file
    run("degrade", path, "-o", tmp_path / "ltr.mkv", "--factor", 8, "--gt-out", tmp_path / "gt.mkv")
    info, ltr = io.read_video(tmp_path / "ltr.mkv")
    assert info.rate == Fraction(30) and len(ltr) == 4 and info.bit_depth == 16
    np.testing.assert_allclose(ltr, rect_downsample(clip, 8), atol=2e-4)
    gi, gt = io.read_video(tmp_path / "gt.mkv")
    assert gi.rate == 240 and len(gt) == 32


def test_degrade_with_scale_shrinks_space(tmp_path, htr_file):
    path, _ = htr_file
    run("degrade", path, "-o", tmp_path / "ltr.mkv", "-f", 4, "--scale", 2)
    info = io.probe(tmp_path / "ltr.mkv")
    assert (info.width, info.height) == (20, 16) and info.rate == 60


@pytest.mark.parametrize("method", ["repeat", "linear", "cubic", "minterpolate", "flowfps"])
def test_baseline_then_eval_pipeline(tmp_path, htr_file, method):
    path, clip = htr_file
    if method == "flowfps":   # frames with room for MVTools (baselines.MIN_FLOW_SIZE)
        clip = moving_blob_htr(h=48, w=56)
        io.write_video(path, clip, Fraction(240), bit_depth=16)
    run("degrade", path, "-o", tmp_path / "ltr.mkv", "--gt-out", tmp_path / "gt.mkv")
    run("baseline", tmp_path / "ltr.mkv", "-o", tmp_path / "o.mkv", "-m", method)
    run("baseline", tmp_path / "ltr.mkv", "-o", tmp_path / "obp.mkv", "-m", method, "--backproject")
    info, out = io.read_video(tmp_path / "o.mkv")
    assert info.rate == 240 and out.shape == clip.shape
    plain = json.loads(run("eval", tmp_path / "o.mkv", tmp_path / "gt.mkv", "--json").stdout)
    bp = json.loads(run("eval", tmp_path / "obp.mkv", tmp_path / "gt.mkv", "--json").stdout)
    assert len(plain["per_frame"]) == 32 and 15 < plain["psnr"] < 100 and 0 < plain["ssim"] <= 1
    # back-projection makes every method consistent with its input, which never hurts much here
    assert bp["psnr"] > plain["psnr"] - 0.2
    _, obp = io.read_video(tmp_path / "obp.mkv")
    _, ltr = io.read_video(tmp_path / "ltr.mkv")
    np.testing.assert_allclose(rect_downsample(obp, 8), ltr, atol=3e-3)


@pytest.mark.parametrize("method", ["linear", "cubic", "minterpolate", "flowfps"])
def test_peers_are_aligned_to_the_exposure_centres(method):
    """A blob gliding at constant speed: the blob in output frame k must sit where the true one sits
    at time (k + 0.5)/N - 0.5. Half an output frame of misalignment would be a 0.75 px error."""
    from vs_zstsr.baselines import interpolate

    speed, bg = 1.5, 0.2
    y, x = np.mgrid[0:48, 0:96].astype(np.float32)      # room for flow: baselines.MIN_FLOW_SIZE
    clip = np.stack([bg + 0.7 * np.exp(-(((x - 12 - speed * k) / 4) ** 2 + ((y - 24) / 5) ** 2))
                     for k in range(48)])[..., None].repeat(3, axis=-1)
    out = interpolate(rect_downsample(clip, 8), 8, method, Fraction(30))

    def centre_x(frames):
        d = np.abs(frames - bg).sum(axis=(1, 3))
        return (d * np.arange(frames.shape[2])).sum(axis=1) / d.sum(axis=1)

    inner = slice(12, 36)  # away from the clamped ends
    err = centre_x(out[inner]) - centre_x(clip[inner])
    assert abs(err.mean()) < 0.25 * speed, err


def test_eval_prints_per_frame_rows_and_mean_and_plots(tmp_path, htr_file):
    path, _ = htr_file
    r = run("eval", path, path, "--plot", tmp_path / "q.png")
    assert "mean" in r.stdout and len(r.stdout.splitlines()) == 35
    assert (tmp_path / "q.png").read_bytes()[:4] == b"\x89PNG"


def test_eval_reports_sharpness_below_one_for_a_smeared_output(tmp_path, htr_file):
    path, clip = htr_file
    p = np.pad(clip, ((0, 0), (0, 0), (2, 2), (0, 0)), mode="edge")
    smeared = sum(p[:, :, k:k + clip.shape[2]] for k in range(5)) / 5     # a 5-pixel box blur along x
    io.write_video(tmp_path / "s.mkv", smeared, 240, bit_depth=16)
    same = json.loads(run("eval", path, path, "--json").stdout)
    blur = json.loads(run("eval", tmp_path / "s.mkv", path, "--json").stdout)
    assert same["sharpness"] == pytest.approx(1) and same["sharpness_moving"] == pytest.approx(1)
    assert blur["sharpness"] < 0.95 and blur["sharpness_moving"] < 0.95
    assert "sharpness" in run("eval", tmp_path / "s.mkv", path, "--summary").stdout


def test_info_reports_exact_rate(htr_file):
    path, _ = htr_file
    assert json.loads(run("info", path, "--json").stdout)["rate"] == "240"


# ------------------------------------------------------------------ bad input


def test_missing_and_unreadable_input(tmp_path):
    fails_cleanly(run("degrade", tmp_path / "nope.mkv", "-o", tmp_path / "out.mkv", ok=False),
                  "no such file", tmp_path)
    (tmp_path / "junk.mp4").write_bytes(b"\x00\x01junk" * 100)
    fails_cleanly(run("baseline", tmp_path / "junk.mp4", "-o", tmp_path / "out.mkv", ok=False),
                  "cannot read as video", tmp_path)


def test_corrupt_stream_leaves_no_output(tmp_path, htr_file):
    path, _ = htr_file
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 300):
        data[i] ^= 0x33
    (tmp_path / "bad.mkv").write_bytes(bytes(data))
    fails_cleanly(run("degrade", tmp_path / "bad.mkv", "-o", tmp_path / "out.mkv", ok=False),
                  "corrupt video stream", tmp_path)


def test_zero_frames(tmp_path):
    (tmp_path / "frames").mkdir()
    fails_cleanly(run("baseline", tmp_path / "frames", "-o", tmp_path / "out.mkv", ok=False),
                  "no PNG frames", tmp_path)


def test_fewer_frames_than_the_factor(tmp_path, htr_file):
    path, clip = htr_file
    io.write_video(tmp_path / "short.mkv", clip[:5], Fraction(240))
    fails_cleanly(run("degrade", tmp_path / "short.mkv", "-o", tmp_path / "out.mkv", ok=False),
                  "fewer than the factor 8", tmp_path)


def test_factor_must_be_a_power_of_two(tmp_path, htr_file):
    path, _ = htr_file
    for cmd in ("degrade", "baseline"):
        fails_cleanly(run(cmd, path, "-o", tmp_path / "out.mkv", "--factor", 6, ok=False),
                      "factor must be a power of 2", tmp_path, code=2)


def test_eval_refuses_ground_truth_of_another_length(tmp_path, htr_file):
    path, clip = htr_file
    io.write_video(tmp_path / "gt.mkv", clip[:-3], Fraction(240))
    r = run("eval", path, tmp_path / "gt.mkv", "--plot", tmp_path / "out.png", ok=False)
    fails_cleanly(r, "length differs", tmp_path)


def test_a_bad_option_value_is_one_line(tmp_path, htr_file):
    path, _ = htr_file
    for args, needle in ((["upsample", path, "-o", tmp_path / "o.mkv", "--scene-threshold", "2"], "--scene-threshold"),
                         (["baseline", path, "-o", tmp_path / "o.mkv", "-m", "dain"], "--method")):
        r = run(*args, ok=False)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("zstsr: error: ") and needle in lines[0]
        assert not list(tmp_path.glob("o*"))



def test_save_model_keeps_the_net_and_the_video_goes_to_output(tmp_path):
    """--save-model and -o are two outputs: the trained net lands at the first, the video at the
    second (a click parameter once bound both to one name, so the video went to the .onnx path)."""
    clip = moving_blob_htr(16 * 4, 32, 48)
    io.write_video(tmp_path / "hi.mkv", clip, Fraction(120), bit_depth=16)
    run("degrade", tmp_path / "hi.mkv", "-o", tmp_path / "in.mkv", "-f", 4)
    run("upsample", tmp_path / "in.mkv", "-o", tmp_path / "out.mkv", "-f", 2, "--method", "net",
        "--examples", "both", "--budget", "2s", "--save-model", tmp_path / "net.onnx")
    assert io.probe(tmp_path / "out.mkv").rate == 60
    from vs_zstsr.model import load_model

    assert load_model(tmp_path / "net.onnx").receptive_field["frames"] >= 1
