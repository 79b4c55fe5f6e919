import numpy as np
import pytest

from vs_zstsr import resample
from vs_zstsr.backprojection import temporal_backproject


def test_a_rect_of_n_frames_averages_back_and_is_centred_on_its_group():
    rng = np.random.default_rng(0)
    ltr = rng.random((5, 3, 4, 3)).astype(np.float32)
    # N copies of a frame (a still camera) average back to that frame; a remainder is dropped
    np.testing.assert_allclose(resample.rect_downsample(np.concatenate([np.repeat(ltr, 8, 0), ltr[:3]]), 8),
                               ltr, atol=1e-6)
    # linear in its input, and the LTR frame sits at the centre of its group: a scene changing
    # linearly in time, sampled at the HTR frames' times, averages to its value at LTR frame i
    a, b = rng.random((2, 40, 2, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(resample.rect_downsample(2 * a - b, 8),
                               2 * resample.rect_downsample(a, 8) - resample.rect_downsample(b, 8), atol=1e-5)
    t = resample.output_times(5, 8).reshape(-1, 1, 1, 1).astype(np.float32)
    np.testing.assert_allclose(resample.rect_downsample(3 * t + 1, 8)[:, 0, 0, 0], 3 * np.arange(5) + 1, atol=1e-5)


@pytest.mark.parametrize("factor", [2, 8])
def test_cubic_reproduces_quadratics_but_not_cubics(factor):
    """Keys' cubic (a = -0.5) is exact on polynomials up to degree 2 away from the clamped edges
    (two frames each side); a cubic polynomial is where it starts to err."""
    n = 12
    t = resample.output_times(n, factor)
    inside = (t >= 1) & (t <= n - 3)
    for degree, exact in ((0, True), (1, True), (2, True), (3, False)):
        ltr = (np.arange(n, dtype=np.float64) ** degree).astype(np.float32).reshape(n, 1, 1, 1)
        out = resample.temporal_interpolate(ltr, factor, "cubic")[:, 0, 0, 0]
        err = np.abs(out[inside] - t[inside] ** degree).max()
        assert (err < 1e-3) == exact, (degree, err)


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


def test_the_cubic_x2_taps_are_an_interpolation_exact_on_quadratics():
    even, odd = resample.cubic_x2_taps()
    assert abs(even.sum() - 1) < 1e-6 and abs(odd.sum() - 1) < 1e-6
    q = lambda t: 0.5 * t ** 2 - t + 2
    # output 2i at time i - 1/4 reads frames i-2 .. i+1; output 2i+1 at i + 1/4 reads i-1 .. i+2
    assert np.dot(even, q(np.arange(-2, 2, dtype=np.float32))) == pytest.approx(q(-0.25), abs=1e-5)
    assert np.dot(odd, q(np.arange(-1, 3, dtype=np.float32))) == pytest.approx(q(0.25), abs=1e-5)
    # and they are what temporal_interpolate does (the ONNX graph and the torch net build them)
    ltr = q(np.arange(9, dtype=np.float32)).reshape(9, 1, 1, 1)
    ref = resample.temporal_interpolate(ltr, 2, "cubic")[:, 0, 0, 0]
    assert ref[8] == pytest.approx(np.dot(even, ltr[2:6, 0, 0, 0]), abs=1e-5)
    assert ref[9] == pytest.approx(np.dot(odd, ltr[3:7, 0, 0, 0]), abs=1e-5)


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


def _whole_array_resize(x, n_out, axis, kernel, antialias):
    """resize_axis's sums as written before blocks: each tap over the whole array."""
    idx, w = resample.resize_weights(x.shape[axis], n_out, kernel, antialias)
    live = np.any(w != 0, axis=0)
    idx, w = idx[:, live], w[:, live]
    shape = [1] * x.ndim
    shape[axis] = n_out
    out = np.zeros(x.shape[:axis] + (n_out,) + x.shape[axis + 1:], dtype=np.float32)
    for j in range(idx.shape[1]):
        out += np.take(x, idx[:, j], axis=axis) * w[:, j].reshape(shape)
    return out


@pytest.mark.parametrize("block", [1, 37, 1 << 18])
def test_blocked_resize_gives_the_whole_array_sums_value_for_value(monkeypatch, block):
    """resize_axis works on blocks of the other axes, on several threads: the same sums in the same
    order, so the same values as one pass over the whole array, on every axis, kernel and input type,
    with one block or many (a block of 1 value: every row of the other axis its own block)."""
    monkeypatch.setattr(resample, "_BLOCK", block)
    rng = np.random.default_rng(1)
    for shape in [(9,), (7, 11), (6, 10, 12, 3), (2, 5, 4, 6, 3)]:
        x = rng.random(shape).astype(np.float32)
        for axis in range(len(shape)):
            for n_out in (1, max(1, shape[axis] // 2 - 1), shape[axis] * 2 + 1):
                for kernel in resample.KERNELS:
                    for antialias in (False, True):
                        want = _whole_array_resize(x, n_out, axis, kernel, antialias)
                        got = resample.resize_axis(x, n_out, axis, kernel, antialias)
                        assert got.dtype == np.float32 and np.array_equal(got, want), (shape, axis, n_out, kernel)
    u8 = rng.integers(0, 256, (4, 6, 8, 3), dtype=np.uint8)
    assert np.array_equal(resample.resize_axis(u8, 13, 1), _whole_array_resize(u8, 13, 1, "cubic", True))
    odd = x[:, ::2, 1:]     # a strided view resizes as its copy does
    assert np.array_equal(resample.resize_axis(odd, 7, 2), _whole_array_resize(odd.copy(), 7, 2, "cubic", True))


def test_rect_and_back_projection_without_copies_give_the_same_values():
    """rect_downsample skips its copy of whole groups and temporal_backproject its repeated error:
    the same sums as before, value for value (a remainder and a strided view still copy)."""
    rng = np.random.default_rng(2)
    htr = rng.random((24, 5, 6, 3)).astype(np.float32)
    ltr = rng.random((3, 5, 6, 3)).astype(np.float32)
    for x in (htr, htr[:, :, ::2], np.concatenate([htr, htr[:5]])):
        n = x.shape[0] // 8
        want = np.take(x, np.arange(n * 8), axis=0).reshape((n, 8) + x.shape[1:]).mean(axis=1, dtype=np.float32)
        assert np.array_equal(resample.rect_downsample(x, 8), want)
    err = ltr - resample.rect_downsample(htr, 8)
    want = htr + np.repeat(err, 8, axis=0)
    assert np.array_equal(temporal_backproject(htr, ltr, 8), want)
    mine = htr.copy()
    assert temporal_backproject(mine, ltr, 8, in_place=True) is mine and np.array_equal(mine, want)
    frozen = htr.copy()
    frozen.flags.writeable = False                   # not writeable: a new array, the input kept
    assert np.array_equal(temporal_backproject(frozen, ltr, 8, in_place=True), want)
    assert np.array_equal(frozen, htr)


def test_the_resize_threads_follow_omp_num_threads(monkeypatch):
    """One thread per core, or OMP_NUM_THREADS where it is set lower (a host's or Ray's limit):
    1 means no pool at all."""
    monkeypatch.setattr(resample, "_POOL", {})
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert resample._pool() is None
    monkeypatch.setattr(resample, "_POOL", {})
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    pool = resample._pool()
    import os
    assert (pool is None) == (len(os.sched_getaffinity(0)) == 1)
    assert pool is None or pool._max_workers == len(os.sched_getaffinity(0))
