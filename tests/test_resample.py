import numpy as np
import pytest

from vs_zstsr import resample
from vs_zstsr.backprojection import temporal_backproject


def test_rect_downsample_is_mean_of_groups_and_drops_remainder():
    x = np.arange(2 * 19, dtype=np.float32).reshape(19, 2, 1, 1)
    y = resample.rect_downsample(x, 8)
    assert y.shape == (2, 2, 1, 1)
    np.testing.assert_allclose(y[1, 0, 0, 0], x[8:16, 0, 0, 0].mean())


def test_output_times_follow_the_exposure_centred_convention():
    t = resample.output_times(3, 8)
    np.testing.assert_allclose(t[:8], (np.arange(8) + 0.5) / 8 - 0.5)
    np.testing.assert_allclose(t[:8].mean(), 0.0, atol=1e-12)  # group i is centred on LTR frame i


@pytest.mark.parametrize("kernel", ["linear", "cubic"])
def test_temporal_interpolation_is_exact_on_a_linear_ramp_inside(kernel):
    n, f = 10, 8
    ltr = np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1)
    out = resample.temporal_interpolate(ltr, f, kernel)[:, 0, 0, 0]
    t = resample.output_times(n, f)
    inside = (t >= 1) & (t <= n - 3)  # cubic reads two frames each side
    np.testing.assert_allclose(out[inside], t[inside], atol=1e-5)
    if kernel == "linear":  # clamped edges: no extrapolation (cubic may ring slightly there)
        assert out.min() >= 0 and out.max() <= n - 1


def test_repeat_is_frame_repetition():
    ltr = np.random.rand(5, 3, 4, 3).astype(np.float32)
    out = resample.temporal_interpolate(ltr, 4, "nearest")
    np.testing.assert_array_equal(out, np.repeat(ltr, 4, axis=0))


def test_cubic_x2_taps_match_temporal_interpolate():
    ltr = np.random.default_rng(1).random((9, 2, 2, 1)).astype(np.float32)
    even, odd = resample.cubic_x2_taps()
    pad = np.concatenate([ltr[:1], ltr[:1], ltr, ltr[-1:], ltr[-1:]])
    ref = resample.temporal_interpolate(ltr, 2, "cubic")
    for i in range(ltr.shape[0]):
        np.testing.assert_allclose(ref[2 * i], np.tensordot(even, pad[i:i + 4], 1), atol=1e-6)
        np.testing.assert_allclose(ref[2 * i + 1], np.tensordot(odd, pad[i + 1:i + 5], 1), atol=1e-6)
    assert abs(even.sum() - 1) < 1e-6


def test_resize_preserves_constant_and_downscale_is_antialiased():
    flat = np.full((1, 20, 30, 3), 0.4, np.float32)
    np.testing.assert_allclose(resample.resize_spatial(flat, 7, 11), 0.4, atol=1e-6)
    # A Nyquist-rate checkerboard shrunk by 4 must come out nearly flat (antialiasing), not aliased.
    y, x = np.mgrid[0:64, 0:64]
    board = ((x + y) % 2).astype(np.float32)[None, :, :, None]
    small = resample.resize_spatial(board, 16, 16)
    assert small.std() < 0.02
    up = resample.resize_spatial(small, 64, 64)
    assert up.shape == (1, 64, 64, 1)


def test_temporal_backprojection_restores_the_observation():
    rng = np.random.default_rng(0)
    ltr = rng.random((4, 5, 6, 3)).astype(np.float32)
    guess = rng.random((32, 5, 6, 3)).astype(np.float32)
    out = temporal_backproject(guess, ltr, 8)
    np.testing.assert_allclose(resample.rect_downsample(out, 8), ltr, atol=1e-5)
    with pytest.raises(ValueError):
        temporal_backproject(guess[:31], ltr, 8)
