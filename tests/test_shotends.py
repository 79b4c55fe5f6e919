"""A shot's ends continued along its own motion (vs_zstsr/shotends.py), alike on every path."""
from __future__ import annotations

import numpy as np
import pytest

from test_cuts import drifting_waves, shots_alone, two_shots
from vs_zstsr import shotends
from vs_zstsr.ladder import Ladder, plan
from vs_zstsr.metrics import psnr
from vs_zstsr.methods import flow_available
from vs_zstsr.options import UpsampleOptions
from vs_zstsr.resample import rect_downsample
from vs_zstsr.stream import Renderer, render_chunk, stream_chunks, upsample_stream


def test_the_motion_is_measured_and_continued():
    f = drifting_waves(np.arange(4) * 0.8, 1)               # 0.8 px per frame to the right
    u = shotends.flow(f[0], f[1])                           # f1(x) ~ f0(x + u)
    np.testing.assert_allclose(u[8:-8, 8:-8].mean(axis=(0, 1)), [-0.8, 0], atol=0.03)
    ahead = shotends.continuation(f[1], f[0], 2)
    for k in (0, 1):
        assert psnr(ahead[k], f[2 + k]) > psnr(f[1], f[2 + k]) + 10
    still = shotends.extend(np.repeat(f[:1], 3, 0), 2, 2)   # nothing moves: the clamped extension
    np.testing.assert_array_equal(still, np.repeat(f[:1], 7, 0))
    one = shotends.extend(f[:1], 1, 2)                      # a one-frame shot: repeated
    np.testing.assert_array_equal(one, np.repeat(f[:1], 4, 0))
    assert shotends.frames("clamp", 3) == 0 and shotends.frames("motion", 3) == 3


@pytest.mark.parametrize("shape", [(1, 7), (5, 1), (1, 1)])
def test_a_frame_one_pixel_high_or_wide_has_no_motion(shape):
    f = np.random.default_rng(0).random((3,) + shape + (3,), dtype=np.float32)
    assert not shotends.flow(f[0], f[1]).any()
    ends = shotends.continuation(f[1], f[0], 2)        # the end frame repeated, as clamped
    np.testing.assert_array_equal(ends, np.stack([f[1], f[1]]))
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=shape[0], width=shape[1])
    assert len(list(upsample_stream(iter(f), r))) == 3 * 8


@pytest.mark.parametrize("method", ["cubic", "flow", "ladder"])
def test_every_path_continues_a_shot_as_it_would_alone(method):
    """The streamed path (CLI), chunked windows through render_chunk (what a Ray worker runs) and,
    for a ladder that climbs rungs (the net's path), chunked Renderer.render (the filter's): each
    equals each shot rendered alone; the ends differ from clamped ones, the middle does not."""
    if method == "flow" and not flow_available():
        pytest.skip("needs MVTools")
    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    r = {}
    for ends in ("motion", "clamp"):
        r[ends] = Renderer.create(None, UpsampleOptions(method="cubic" if method == "ladder" else method, shot_ends=ends),
                                  height=64, width=96)
        if method == "ladder":
            r[ends].ladder = Ladder(plan(64, 96, 8), direct=False)
    rm = r["motion"]
    alone = shots_alone(rm, ltr, [cut])
    clamped = shots_alone(r["clamp"], ltr, [cut])
    f, e = 8, rm.ladder.reach
    ends = [0, cut - 1, cut, len(ltr) - 1]
    for g in ends:
        assert np.abs(alone[g * f:(g + 1) * f] - clamped[g * f:(g + 1) * f]).max() > 1e-3, g
    far = [g for g in range(len(ltr)) if min(abs(g - c) for c in (-1, cut - 1, cut, len(ltr))) > e]
    for g in far:
        np.testing.assert_allclose(alone[g * f:(g + 1) * f], clamped[g * f:(g + 1) * f], atol=1e-6)
    if rm.ladder.streams:
        np.testing.assert_allclose(np.stack(list(upsample_stream(iter(ltr), rm))), alone, atol=1e-5)
    if method == "flow":   # the CLI's flow: frames finished (quantized) in MVTools' worker
        got = np.stack([np.asarray(y, np.float32) / 65535 for y in upsample_stream(iter(ltr), rm, bits=16)])
        np.testing.assert_allclose(got, alone, atol=2 / 65535)
    for chunk in (3,) if method == "flow" else (1, 3):   # flow: a worker call per chunk
        rm.chunk = chunk
        parts = [render_chunk(rm, w, lead, count) for w, lead, count in stream_chunks(iter(ltr), rm)]
        np.testing.assert_allclose(np.concatenate(parts), alone, atol=1e-5, err_msg=f"chunk {chunk}")


def test_the_warp_interpolates_and_fills_what_enters_the_picture():
    """The continuation's warp (shotends.KERNEL, EDGE; measured in benchmarks/bench_shot_ends.py
    --warps): cubic keeps a smooth texture's sub-pixel shift where bilinear smooths it; past the
    frame's edge the edge is repeated, or the picture continued linearly (odd reflection)."""
    f = drifting_waves([0.0, 0.37], 1)                      # f1(x) = f0(x - 0.37)
    u = np.zeros(f.shape[1:3] + (2,), np.float32)
    u[..., 0] = -0.37
    inside = np.s_[2:-2, 2:-2]
    lin, cub = (psnr(shotends.warp(f[0], u, k)[inside], f[1][inside]) for k in ("linear", "cubic"))
    assert cub > lin + 8 and cub > 60
    np.testing.assert_array_equal(shotends.warp(f[0], 0 * u, "cubic"), f[0])
    ramp = np.tile(0.2 + 0.01 * np.arange(16, dtype=np.float32), (8, 1))
    shift = np.zeros((8, 16, 2), np.float32)
    shift[..., 0] = -2.5                                    # columns 0-2 sample past the left edge
    np.testing.assert_allclose(shotends.warp(ramp, shift)[:, :3], 0.2)
    np.testing.assert_allclose(shotends.warp(ramp, shift, "linear", "odd"), 0.2 + 0.01 * (np.arange(16) - 2.5) + 0 * ramp,
                               atol=1e-6)


def _sample_by_2d_index(frame, x, y, kernel):
    """shotends._sample as first written (``frame[rows, col]``): the flat-index gather that
    replaced it must give the very same values, only sooner."""
    from vs_zstsr.resample import _keys_cubic

    h, w = frame.shape[:2]
    x0, y0 = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    fx, fy = x - x0, y - y0
    if kernel == "linear":
        taps, wx, wy = (0, 1), (1 - fx, fx), (1 - fy, fy)
    else:
        taps = (-1, 0, 1, 2)
        wx, wy = ([_keys_cubic(f - t).astype(np.float32) for t in taps] for f in (fx, fy))
    cols = [np.clip(x0 + t, 0, w - 1) for t in taps]
    out = np.zeros(frame.shape, np.float32)
    for j, wyj in zip(taps, wy):
        rows = np.clip(y0 + j, 0, h - 1)
        for col, wxi in zip(cols, wx):
            wij = wyj * wxi
            out += frame[rows, col] * (wij[..., None] if frame.ndim == 3 else wij)
    return out


@pytest.mark.parametrize("block", [shotends.SAMPLE_BLOCK, 100])      # 100: two rows at a time
@pytest.mark.parametrize("kernel", shotends.KERNELS)
def test_the_warp_samples_the_same_values_as_plain_indexing(kernel, block, monkeypatch):
    monkeypatch.setattr(shotends, "SAMPLE_BLOCK", block)
    rng = np.random.default_rng(3)
    rgb = rng.random((37, 53, 3), dtype=np.float32)
    u = ((rng.random((37, 53, 2)) - 0.5) * 12).astype(np.float32)    # some taps past every edge
    ys, xs = np.mgrid[0:37, 0:53].astype(np.float32)
    x, y = np.clip(xs + u[..., 0], 0, 52), np.clip(ys + u[..., 1], 0, 36)
    for frame in (rgb, rgb[..., 1], rgb[:, ::-1]):       # colour, grey, and a frame that is a view
        np.testing.assert_array_equal(shotends._sample(frame, x, y, kernel),
                                      _sample_by_2d_index(frame, x, y, kernel))


def _box_whole(x, r):
    """shotends._box as first written: np.cumsum over each axis of the whole frame."""
    k = 2 * r + 1
    for axis in (0, 1):
        p = np.pad(x, [(r + 1, r) if a == axis else (0, 0) for a in range(2)], mode="symmetric")
        c = np.cumsum(p, axis=axis, dtype=np.float64)
        m = x.shape[axis]
        d = (c[k:k + m] - c[:m]) if axis == 0 else (c[:, k:k + m] - c[:, :m])
        d /= k
        x = d.astype(np.float32)
    return x


@pytest.mark.parametrize("block", [shotends.SAMPLE_BLOCK, 100])
def test_the_box_filter_sums_as_numpy_does_over_the_whole_frame(block, monkeypatch):
    monkeypatch.setattr(shotends, "SAMPLE_BLOCK", block)
    rng = np.random.default_rng(5)
    for shape, r in (((1, 7), 2), ((40, 33), 16), ((71, 5), 3), ((300, 40), 16)):
        x = rng.random(shape, dtype=np.float32)
        np.testing.assert_array_equal(shotends._box(x, r), _box_whole(x, r))
