"""Scene cuts: detection, and every consumer treating each shot as a clip of its own."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import moving_blob_htr
from vs_zstsr import cuts, io
from vs_zstsr.cli import main
from vs_zstsr.ladder import Ladder, plan
from vs_zstsr.metrics import psnr
from vs_zstsr.options import UpsampleOptions
from vs_zstsr.resample import rect_downsample
from vs_zstsr.stream import Renderer, upsample_stream


def sliding_texture(t: int = 64, h: int = 64, w: int = 96, step: int = 2, seed: int = 1) -> np.ndarray:
    """HTR frames of a smooth periodic texture sliding ``step`` px per frame, with the exact blur of
    that motion (each frame the mean of its ``step`` integer positions): steady quality all along."""
    rng = np.random.default_rng(seed)
    tex = rng.random((h, w, 3)).astype(np.float32)
    for axis in (0, 1):   # smooth it, periodically
        tex = sum(np.roll(tex, s, axis) for s in range(-3, 4)) / 7
    tex = 0.2 + 0.6 * (tex - tex.min()) / (tex.max() - tex.min())
    frames = [np.mean([np.roll(tex, step * k + j, axis=1) for j in range(step)], axis=0) for k in range(t)]
    return np.stack(frames).astype(np.float32)


def two_shots() -> tuple[np.ndarray, int]:
    """128 HTR frames: the photo texture scene, then a hard cut (at an LTR frame boundary for x8)
    to a different sliding texture. Returns the frames and the cut's LTR index."""
    from scenes import render

    a, _ = render("texture", size="small")
    b = sliding_texture()
    return np.concatenate([a, b]), len(a) // 8


def group_psnr(out: np.ndarray, gt: np.ndarray, factor: int = 8) -> np.ndarray:
    return np.array([psnr(out[i:i + factor], gt[i:i + factor]) for i in range(0, len(gt), factor)])


def test_detects_the_hard_cut_and_nothing_in_fast_motion():
    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    assert cuts.detect(ltr) == [cut]
    assert cuts.detect(ltr, 0) == []
    from scenes import render
    for name in ("fan", "texture"):           # fast rotation, aliasing, a moving photo: no cuts
        v, _ = render(name, size="small")
        assert cuts.detect(rect_downsample(v, 8, 0)) == [], name
    assert cuts.detect(rect_downsample(moving_blob_htr(t=64, speed=3.0), 8, 0)) == []
    assert cuts.segments(10, [4, 0, 10, 4]) == [(0, 4), (4, 10)]


def test_pairwise_decisions_do_not_depend_on_the_window():
    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    for a in range(0, cut):
        for b in range(cut + 1, len(ltr) + 1):
            assert cuts.detect(ltr[a:b]) == [cut - a]


def test_frames_next_to_the_cut_are_as_good_as_mid_shot_and_would_not_be_without_cut_handling(tmp_path):
    """The issue's acceptance, through the CLI: no ghost of the other shot at the cut."""
    htr, cut = two_shots()
    src = tmp_path / "two_shots.mkv"
    io.write_video(src, rect_downsample(htr, 8, 0), Fraction(30), bit_depth=16)
    scores = {}
    for label, thr in (("cuts", "0.2"), ("no cuts", "0")):
        out = tmp_path / f"{label.replace(' ', '_')}.mkv"
        r = CliRunner().invoke(main, ["upsample", str(src), "-o", str(out), "-f", "8", "--method", "cubic",
                                      "--scene-threshold", thr])
        assert r.exit_code == 0, r.output
        _, frames = io.read_video(out)
        scores[label] = group_psnr(frames, htr)
    n = len(htr) // 8
    mid = {0: scores["cuts"][2:cut - 2].mean(), 1: scores["cuts"][cut + 2:n - 2].mean()}
    near = {0: cut - 1, 1: cut}                      # the last group of shot A, the first of shot B
    for shot in (0, 1):
        assert scores["cuts"][near[shot]] > mid[shot] - 1.0, (shot, scores["cuts"], mid)
    worst = min(scores["no cuts"][near[s]] - mid[s] for s in (0, 1))
    assert worst < -1.0, scores["no cuts"]           # without cut handling: a ghost of the other shot
    # far from the cut (beyond the ladder's reach) nothing changes
    np.testing.assert_allclose(scores["cuts"][:2], scores["no cuts"][:2], atol=1e-6)


def shots_alone(r: Renderer, ltr: np.ndarray, cut_at) -> np.ndarray:
    """Each shot rendered as a clip of its own, its ends continued or clamped as ``r`` says."""
    return np.concatenate([r.render(shot, 0, len(shot), cut_at=[]) for shot in cuts.split(ltr, cut_at)])


def test_chunked_rendering_equals_each_shot_rendered_alone():
    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    for ends in ("motion", "clamp"):
        r = Renderer.create(None, UpsampleOptions(method="cubic", shot_ends=ends), height=64, width=96)
        alone = shots_alone(r, ltr, [cut])
        for chunk in (1, 3, 5, 16):
            r.chunk = chunk
            streamed = np.stack(list(upsample_stream(iter(ltr), r)))
            np.testing.assert_allclose(streamed, alone, atol=1e-6, err_msg=f"{ends}, chunk {chunk}")
    # clamped, a shot alone is the ladder on its frames; explicit cut lists (VapourSynth props)
    # override detection
    ladder = Ladder(plan(64, 96, 8))
    np.testing.assert_allclose(alone, np.concatenate([ladder.run(ltr[:cut]), ladder.run(ltr[cut:])]), atol=1e-6)
    np.testing.assert_allclose(r.render(ltr, 0, len(ltr), cut_at=[]), ladder.run(ltr), atol=1e-6)


def test_a_one_frame_shot_is_handled():
    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=64, width=96)
    out = r.render(ltr[cut - 3:cut + 3], 0, 6, cut_at=[3, 4])
    assert out.shape == (48, 64, 96, 3)
    np.testing.assert_allclose(out[24:32], np.repeat(ltr[cut:cut + 1], 8, 0), atol=1e-5)


def test_training_pieces_never_span_a_cut():
    from vs_zstsr.fit import training_frames

    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    ltr = np.concatenate([ltr, ltr[cut:]])                  # 24 frames: shot A 8, shot B 16

    def read(idx, size=None):
        return ltr[idx]

    pieces = training_frames(read, len(ltr), (64, 96))      # the last 8 are held out (self-check)
    assert [len(p) for p in pieces] == [cut, 8]
    assert [len(p) for p in training_frames(read, len(ltr), (64, 96), cut_threshold=0)] == [16]


def test_sampler_draws_each_example_from_one_piece():
    zstsr_trainer = pytest.importorskip("zstsr_trainer")
    from zstsr_trainer.examples import ExampleSampler

    pieces = [np.full((12, 16, 16, 3), 0.25, np.float32), np.full((14, 16, 16, 3), 0.75, np.float32)]
    for kind in ("within", "across"):
        cfg = zstsr_trainer.TrainConfig(width=4, depth=3, crop=(8, 12, 12), batch=8, examples=kind,
                                        scales=(1.0,), jumps=(1,))
        s = ExampleSampler(pieces, cfg, np.random.default_rng(0))
        seen = set()
        for _ in range(10):
            _, hi, _ = s.batch()
            for crop in hi:
                assert crop.min() == crop.max()      # a single piece's value: never two
                seen.add(float(crop.min()))
        assert seen == {0.25, 0.75}


def test_vapoursynth_props_and_detection():
    vs = pytest.importorskip("vapoursynth")
    from test_filter import array_clip
    from vs_zstsr import filter as F

    core = vs.core
    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=64, width=96)
    alone = shots_alone(r, ltr, [cut])
    whole = shots_alone(r, ltr, [])

    def frames(clip):
        return np.stack([np.stack([np.asarray(f[p]) for p in range(3)], -1) for f in clip.frames()])

    src = array_clip(core, ltr)
    np.testing.assert_allclose(frames(F.upsample(src, 8, method="cubic")), alone, atol=1e-5)   # detected
    np.testing.assert_allclose(frames(F.upsample(src, 8, method="cubic", sc=False)), whole, atol=1e-5)
    # props win over detection: no cut flagged at the real one, one flagged elsewhere
    def flag(n, f):
        g = f.copy()
        g.props["_SceneChangePrev"] = int(n == 4)
        g.props["_SceneChangeNext"] = 0
        return g
    flagged = core.std.ModifyFrame(src, src, flag)
    expect = shots_alone(r, ltr, [4])
    np.testing.assert_allclose(frames(F.upsample(flagged, 8, method="cubic")), expect, atol=1e-5)
    with pytest.raises(vs.Error, match="sc_threshold"):
        F.upsample(src, 8, method="cubic", sc_threshold=2)


@pytest.mark.parametrize("chunk", [1, 3])
def test_filter_chunks_detect_on_the_context_and_run_the_ladder_on_its_own(chunk, monkeypatch):
    """The filter decides cuts on a chunk's whole context (Renderer.context), the frames beyond the
    ladder's as thumbnails, and hands the ladder only the frames it reads (Renderer.run_context):
    the same frames as each shot alone."""
    vs = pytest.importorskip("vapoursynth")
    from test_filter import array_clip
    from vs_zstsr import filter as F

    htr, cut = two_shots()
    ltr = rect_downsample(htr, 8, 0)
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=64, width=96)
    alone = shots_alone(r, ltr, [cut])
    windows, shapes = [], set()
    orig = F._make_renderer

    def small(*a, **k):
        rr = orig(*a, **k)
        rr.chunk = chunk
        real = rr.render

        def render(window, lead, count, cut_at=None):
            windows.append((len(window), lead, count))
            return real(window, lead, count, cut_at)
        rr.render = render
        real_cuts = rr.cuts

        def detect(window, lead, count):
            frames = list(window)
            shapes.update(f.shape for f in frames)
            return real_cuts(frames, lead, count)
        rr.cuts = detect
        return rr

    monkeypatch.setattr(F, "_make_renderer", small)
    out = F.upsample(array_clip(vs.core, ltr), 8, method="cubic")
    got = np.stack([np.stack([np.asarray(f[p]) for p in range(3)], -1) for f in out.frames()])
    np.testing.assert_allclose(got, alone, atol=1e-5)
    assert r.context == r.run_context + cuts.REACH
    assert all(w <= c + 2 * r.run_context and lead <= r.run_context for w, lead, c in windows)
    # the frames only the detector reads came as its thumbnails (VapourSynth holds no full frames for them)
    assert shapes == {(64, 96, 3), cuts.thumbnail_size(64, 96) + (3,)}


def drifting_waves(positions, seed: int, h: int = 64, w: int = 96, period: float = 12.0, n: int = 6) -> np.ndarray:
    """Frames of a smooth texture (six random sinusoids per channel, about ``period`` px long) at
    the horizontal offsets ``positions``: every seed has the same colour statistics, so two seeds
    are two shots of one place (shot / reverse shot) as far as the palette goes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    fx, fy = rng.uniform(-1, 1, (2, n, 3)) / period
    ph = rng.uniform(0, 2 * np.pi, (n, 3))
    frames = [np.stack([np.sin(2 * np.pi * (fx[:, c] * (x[..., None] - p) + fy[:, c] * y[..., None]) + ph[:, c]).sum(-1)
                        for c in range(3)], -1) for p in positions]
    return np.clip(0.5 + 0.12 * np.stack(frames), 0, 1).astype(np.float32)


def similar_palette_shots() -> tuple[np.ndarray, int]:
    """128 HTR frames: two drifting textures of equal colour statistics (0.1 px per HTR frame)
    joined by a hard cut at an LTR boundary for x8. Returns the frames and the cut's LTR index."""
    pos = np.arange(64) * 0.1
    return np.concatenate([drifting_waves(pos, 1), drifting_waves(pos, 2)]), 8


def test_a_cut_that_keeps_the_palette_is_found_and_costs_nothing():
    """The issue's shot / reverse shot: the thumbnails jump ten times their neighbours' change,
    under the fixed bars. Found, the groups at the cut are made as each shot's other end is (the
    clip's): continued along the shot's motion, or clamped, far above the ghost without the cut."""
    htr, cut = similar_palette_shots()
    ltr = rect_downsample(htr, 8, 0)
    s = cuts.pair_scores(ltr)
    assert s[cut - 1, 1] < cuts.DEFAULT_THRESHOLD                # the old fixed bars miss it
    assert cuts.detect(ltr) == [cut]
    g = {ends: group_psnr(Renderer.create(None, UpsampleOptions(method="cubic", shot_ends=ends), height=64, width=96)
                          .render(ltr, 0, len(ltr)), htr) for ends in ("motion", "clamp")}
    ghost = group_psnr(Renderer.create(None, UpsampleOptions(method="cubic", cut_threshold=0), height=64, width=96)
                       .render(ltr, 0, len(ltr)), htr)
    n, at = len(ltr), [cut - 1, cut]
    np.testing.assert_allclose(g["clamp"][at], g["clamp"][[0, n - 1]], atol=0.5)   # like the clip's own ends
    assert (g["motion"][at] - ghost[at]).min() > 25                                # a ghost without the cut
    assert (g["motion"][at] - g["clamp"][at]).min() > 10
    # The acceptance figure, "within 1 dB of mid-shot", does not hold on this scene: the
    # groups at the cut score 59.5 / 60.8 dB continued along the motion (43.0 / 43.1 clamped), the
    # clip's own ends 61.5 / 60.0, mid-shot 69. Most of the gap is the content that enters the
    # picture past the shot's end (0.8 px per LTR frame at the left edge), which no frame of the shot
    # shows: with the true frames everywhere else the groups score 60.3 / 61.7; the bilinear warp and
    # the measured motion cost the rest. benchmarks/bench_shot_end_gap.py, docs/BENCHMARKS.md "Shot ends"
    # (its last table: the gap at other drift speeds, at most 0.8 dB wherever mid-shot is under 40.5 dB).
    np.testing.assert_allclose(g["motion"][[cut - 1, cut, 0, n - 1]], [59.5, 60.8, 61.5, 60.0], atol=0.3)
    np.testing.assert_allclose(g["clamp"][[cut - 1, cut, 0, n - 1, 3]], [43.0, 43.1, 43.1, 43.1, 69.3], atol=0.3)
    assert g["motion"][3] > 68


def panning_noise(seed: int, positions, h: int = 96, w: int = 128) -> np.ndarray:
    """Frames of a smoothed-noise texture (every seed: zero mean, unit deviation per channel
    before the common scaling, so two seeds share one palette) shifted by ``positions`` px to
    the right (exactly, by Fourier phase: the texture is periodic)."""
    rng = np.random.default_rng(seed)
    tex = rng.random((h, w, 3))
    for axis in (0, 1):
        tex = sum(np.roll(tex, s, axis) for s in range(-3, 4)) / 7
    tex = (tex - tex.mean((0, 1))) / tex.std((0, 1))
    spectrum, k = np.fft.fft(tex, axis=1), np.fft.fftfreq(w)[None, :, None]
    out = [np.real(np.fft.ifft(spectrum * np.exp(-2j * np.pi * k * p), axis=1)) for p in positions]
    return np.clip(0.5 + 0.12 * np.stack(out), 0, 1).astype(np.float32)


@pytest.mark.parametrize("speed", [0.25, 1.0])
def test_a_cut_between_two_pans_of_one_palette_is_found(speed):
    """Shot / reverse shot while the camera pans (2 or 8 px per LTR frame): every pair changes
    the thumbnails about as much as the cut does, so only the score with the pan compensated
    tells the cut apart."""
    pos = np.arange(64) * speed
    ltr = rect_downsample(np.concatenate([panning_noise(1, pos), panning_noise(2, pos)]), 8, 0)
    s = cuts.pair_scores(ltr)
    cut = 8
    assert s[cut - 1, 0] < cuts.RATIO * s[cut - 3, 0]       # the plain scores do not stand out
    assert s[cut - 1, 2] > 10 * max(s[cut - 3, 2], 1e-3)    # the shifted one does
    assert cuts.detect(ltr) == [cut]
    detector = cuts.StreamDetector()
    assert [c for f in ltr for c in detector.push(f)] + detector.end() == [cut]


def test_a_whip_pan_and_a_flash_are_not_cuts():
    speeds = np.concatenate([np.full(40, 0.1), np.interp(np.arange(48), [0, 24, 47], [0.1, 6, 0.1]), np.full(40, 0.1)])
    whip = rect_downsample(drifting_waves(np.cumsum(speeds), 3), 8, 0)
    assert cuts.pair_scores(whip)[:, 0].max() > 0.6 * cuts.DEFAULT_THRESHOLD    # as big a change as a cut
    assert cuts.detect(whip) == []
    flash = rect_downsample(similar_palette_shots()[0][:64], 8, 0)
    for lit in ([3], [3, 4]):                  # one or two frames lit up
        f = flash.copy()
        f[lit] = np.clip(f[lit] * 1.8 + 0.1, 0, 1)
        assert cuts.detect(f) == [], lit


def test_any_chunk_with_its_context_finds_the_cuts_of_the_whole_clip():
    """Decisions read a neighbourhood; the renderer's context covers it, so chunked rendering of
    a clip with a palette-keeping cut, a flash and a whip pan equals rendering it whole."""
    htr, cut = similar_palette_shots()
    ltr = rect_downsample(htr, 8, 0)
    ltr[3] = np.clip(ltr[3] * 1.8 + 0.1, 0, 1)
    speeds = np.concatenate([np.full(24, 0.1), np.interp(np.arange(40), [0, 20, 39], [0.1, 6, 0.1])])
    ltr = np.concatenate([ltr, rect_downsample(drifting_waves(np.cumsum(speeds), 2), 8, 0)])
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=64, width=96)
    assert r.context == r.ladder.reach + cuts.REACH and r.ladder.reach < r.ladder.context   # direct: its one step's
    whole = r.render(ltr, 0, len(ltr))
    assert cuts.detect(ltr) == [cut, 16]
    det = cuts.StreamDetector()                  # frame by frame (the direct path, vs_zstsr/direct.py)
    assert [k for f in ltr for k in det.push(f)] + det.end() == [cut, 16]
    for chunk in (1, 2, 5):
        r.chunk = chunk
        np.testing.assert_array_equal(np.stack(list(upsample_stream(iter(ltr), r))), whole, err_msg=f"chunk {chunk}")


@pytest.mark.parametrize("size", [(2160, 3840), (1920, 1080), (288, 512), (64, 96), (45, 80), (97, 96), (3, 500)])
def test_a_thumbnail_is_its_own_thumbnail(size):
    """What lets the filter hand the detector thumbnails for frames only it reads."""
    f = np.random.default_rng(0).random(size + (3,), dtype=np.float32)
    t = cuts.thumbnail(f)
    assert t.shape[:2] == cuts.thumbnail_size(*size)
    np.testing.assert_array_equal(cuts.thumbnail(t), t)


@pytest.mark.parametrize("size", [(64, 96), (100, 150), (1080, 1920), (37, 41)])
def test_a_thumbnail_is_the_mean_of_each_box(size):
    f = np.random.default_rng(2).random(size + (3,), dtype=np.float32)
    k = cuts._block(*size)
    h, w = size[0] // k * k, size[1] // k * k
    boxes = f[:h, :w].astype(np.float64).reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(cuts.thumbnail(f), boxes, rtol=0, atol=1e-5)
    assert cuts.thumbnail(f).dtype == np.float32
