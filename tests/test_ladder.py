"""The coarse-to-fine ladder, back-projection and streaming (numpy + onnxruntime only)."""
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

from vs_zstsr import io, ladder, methods, netrun, selfcheck
from vs_zstsr.backprojection import spatiotemporal_backproject
from vs_zstsr.cli import main
from vs_zstsr.metrics import psnr
from vs_zstsr.resample import rect_downsample, resize_spatial
from vs_zstsr.options import EngineOptions, TrainOptions, UpsampleOptions
from vs_zstsr.stream import Renderer, upsample_stream


def _ltr(t=12, h=40, w=56, seed=0):
    from conftest import moving_blob_htr

    return rect_downsample(moving_blob_htr(t * 8, h, w, speed=0.9, seed=seed), 8)


def test_plan_climbs_the_diagonal():
    p = ladder.plan(288, 192, 8)
    assert [r.size for r in p.rungs] == [(72, 48), (144, 96), (288, 192)]
    assert [r.rate for r in p.rungs] == [1, 2, 4]
    assert [r.size for r in ladder.plan(64, 64, 16).rungs][0] == (8, 8)
    assert len(ladder.plan(10, 10, 2).rungs) == 1
    with pytest.raises(Exception, match="power of 2"):
        ladder.plan(64, 64, 6)
    # large frames start one level lower (paper: 1/4, or 1/8 for large frames)
    assert [r.size for r in ladder.plan(720, 1280, 8).rungs] == [(180, 320), (360, 640), (720, 1280)]
    hd = ladder.plan(1080, 1920, 8)
    assert [r.size for r in hd.rungs] == [(135, 240), (270, 480), (540, 960)] and hd.padded == (1080, 1920)
    assert hd.describe().endswith("back-projection to 1920x1080")


def test_a_large_frame_ladder_ends_with_a_spatial_step(monkeypatch):
    """With the first rung one level lower, the last rung runs at half size and a last
    back-projection brings it to full size: output still x8, averaging back to the input, and
    chunked streaming still equals whole-clip processing."""
    monkeypatch.setattr(ladder, "LARGE_FIRST_RUNG", 8)
    ltr = _ltr(t=10, h=64, w=96)
    p = ladder.plan(64, 96, 8, "cubic")
    assert [r.size for r in p.rungs] == [(8, 12), (16, 24), (32, 48)]
    lad = ladder.Ladder(p, None, direct=False)
    whole = Renderer(lad, len(ltr)).render(ltr, 0, len(ltr))     # the clip's ends continued (.shotends)
    assert whole.shape == (80, 64, 96, 3)
    np.testing.assert_allclose(rect_downsample(whole, 8), ltr, atol=2e-3)
    streamed = np.stack(list(upsample_stream(iter(ltr), Renderer(lad, 3))))
    assert psnr(streamed, whole) > 80


def test_spatiotemporal_backprojection_is_consistent_with_both_inputs():
    rng = np.random.default_rng(0)
    big_ltr = rng.random((4, 32, 40, 3)).astype(np.float32)
    small = rng.random((8, 16, 20, 3)).astype(np.float32)
    est = spatiotemporal_backproject(small, big_ltr, 2, iters=1)
    np.testing.assert_allclose(rect_downsample(est, 2), big_ltr, atol=1e-4)  # rect consistency
    est3 = spatiotemporal_backproject(small, big_ltr, 2, iters=5)
    err1 = np.abs(resize_spatial(est, 16, 20) - small).mean()
    err3 = np.abs(resize_spatial(est3, 16, 20) - small).mean()
    assert err3 < err1  # iterating approaches both constraints


@pytest.mark.parametrize("factor", [2, 4, 8, 16])
def test_output_averages_back_to_the_input(factor):
    ltr = _ltr(t=6)
    out = ladder.Ladder(ladder.plan(*ltr.shape[1:3], factor)).run(ltr)
    assert out.shape == (6 * factor,) + ltr.shape[1:]
    np.testing.assert_allclose(rect_downsample(out, factor), ltr, atol=2e-3)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "ladder"])
def test_chunked_streaming_equals_whole_clip_processing(direct):
    ltr = _ltr(t=23)
    lad = ladder.Ladder(ladder.plan(*ltr.shape[1:3], 8), direct=direct)
    assert lad.direct == direct
    whole = Renderer(lad, len(ltr)).render(ltr, 0, len(ltr))     # the clip's ends continued (.shotends)
    for chunk in (2, 5, 16):
        r = Renderer(lad, chunk)
        streamed = np.stack(list(upsample_stream(iter(ltr), r)))
        assert streamed.shape == whole.shape
        assert psnr(streamed, whole) > 80  # identical up to float rounding: no seams
    # random access to one chunk gives the same frames
    r = Renderer(lad, 4)
    a, b = r.window_bounds(8, 4, len(ltr))
    np.testing.assert_allclose(r.render(ltr[a:b], 8 - a, 4), whole[64:96], atol=1e-5)


@pytest.mark.parametrize("method", ["linear", "flow"])
def test_every_interpolator_streams_without_seams(method):
    if method == "flow" and not methods.flow_available():
        pytest.skip("MVTools not installed")
    ltr = _ltr(t=12, h=96, w=128)    # x4: rungs at 64x48 (flow: baselines.MIN_FLOW_SIZE) and 128x96
    lad = ladder.Ladder(ladder.plan(96, 128, 4, method), direct=False)
    whole = Renderer(lad, len(ltr)).render(ltr, 0, len(ltr))
    r = Renderer(lad, 3)
    streamed = np.stack(list(upsample_stream(iter(ltr), r)))
    assert psnr(streamed, whole) > 60
    np.testing.assert_allclose(rect_downsample(whole, 4), ltr, atol=2e-3)   # true to the input


def test_tiled_net_equals_whole_frame_net():
    class ConvLike:  # a stand-in with spatial reach 2: a 5x5 box blur of cubic x2
        receptive_field = {"frames": 1, "pixels": 2}

        def run(self, clip):
            from vs_zstsr.resample import temporal_interpolate

            x = temporal_interpolate(clip, 2, "cubic")
            p = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="edge")
            return sum(p[:, i:i + x.shape[1], j:j + x.shape[2]] for i in range(5) for j in range(5)) / 25

    clip = _ltr(t=4, h=37, w=45)
    whole = netrun.net_x2(ConvLike(), clip)
    tiled = netrun.net_x2(ConvLike(), clip, tilesize=16)
    np.testing.assert_allclose(tiled, whole, atol=1e-6)


def test_upsample_cli_without_net_writes_x8_and_keeps_the_input(tmp_path):
    ltr = _ltr(t=5)
    io.write_video(tmp_path / "in.mkv", ltr, Fraction(30000, 1001), bit_depth=16)
    r = CliRunner().invoke(main, ["upsample", str(tmp_path / "in.mkv"), "-o", str(tmp_path / "o.mkv"),
                                  "--method", "cubic"])
    assert r.exit_code == 0, r.output
    info, out = io.read_video(tmp_path / "o.mkv")
    assert info.rate == Fraction(240000, 1001) and len(out) == 40 and info.bit_depth == 16
    np.testing.assert_allclose(rect_downsample(out, 8), ltr, atol=3e-3)
    r = CliRunner().invoke(main, ["upsample", str(tmp_path / "in.mkv"), "-o", str(tmp_path / "c.mkv"),
                                  "--method", "cubic", "--conform", "-f", 4])
    assert io.probe(tmp_path / "c.mkv").rate == Fraction(30000, 1001)


def test_upsample_cli_bad_model_and_factor(tmp_path):
    io.write_video(tmp_path / "in.mkv", _ltr(t=3), Fraction(30))
    for args, msg, code in ((["--model", str(tmp_path / "none.onnx")], "model file not found", 1),
                            (["-f", "3"], "power of 2", 2)):   # a bad option value: exit 2
        r = CliRunner().invoke(main, ["upsample", str(tmp_path / "in.mkv"), "-o", str(tmp_path / "o.mkv"), *args])
        assert r.exit_code == code and msg in r.stderr
        assert not (tmp_path / "o.mkv").exists()


class Noisy:
    """A net that is cubic plus noise: worse than cubic on any clip."""
    receptive_field = {"frames": 1, "pixels": 1}

    def run(self, clip):
        from vs_zstsr.resample import temporal_interpolate

        x = temporal_interpolate(clip, 2, "cubic")
        return x + np.random.default_rng(0).normal(0, 0.05, x.shape).astype(np.float32)


def test_self_check_keeps_a_harmful_net_off_the_ladder():
    ltr = _ltr(t=16, h=64, w=96)
    logs = []
    p = selfcheck.choose_methods(ladder.plan(64, 96, 8, "net"), Noisy(), ltr, (64, 96), log=logs.append)
    chosen = {r.method for r in p.rungs}
    assert len(chosen) == 1 and chosen <= set(methods.INTERPOLATORS)        # the best interpolator, no net
    assert p.rungs[0].gain_db < 0 and f"{p.rungs[0].method} on the first rung" in logs[0]
    for m in ("net", "cubic", "linear"):
        assert f"{m} " in logs[0]                                            # every candidate was scored
    p = selfcheck.choose_methods(ladder.plan(64, 96, 8), Noisy(), ltr, (64, 96), candidates=("net", "cubic"))
    assert [r.method for r in p.rungs] == ["cubic"] * 3


def test_self_check_gives_the_first_rung_to_a_net_that_wins():
    from vs_zstsr.resample import resize_spatial

    clip = _ltr(t=32, h=64, w=96)
    truth = resize_spatial(clip, 8, 12)   # the proxy's ground truth: the first rung's 1/4, halved again

    class Oracle:  # returns the proxy's truth: far better than any interpolator
        receptive_field = {"frames": 1, "pixels": 1}

        def run(self, lo):
            return truth[: 2 * len(lo)]

    logs = []
    p = selfcheck.choose_methods(ladder.plan(64, 96, 8), Oracle(), clip, (64, 96), log=logs.append)
    assert p.rungs[0].method == "net" and p.rungs[0].gain_db > 1
    # above the net: whichever interpolator won the full-size ranking (no fixed rule)
    above = logs[0].rsplit(" -> ", 1)[1].split()[0]
    assert [r.method for r in p.rungs[1:]] == [above, above] and len(logs) == 1


def test_group_seam_sees_the_groups_an_ltr_clip_was_made_of():
    from vs_zstsr.metrics import group_seam
    from vs_zstsr.resample import temporal_interpolate

    from conftest import moving_blob_htr

    htr = moving_blob_htr(48, 32, 40, speed=0.8)
    assert group_seam(htr, 2) < 0.5 and group_seam(htr, 4) < 0.5      # real motion: no groups to see
    ltr = rect_downsample(htr, 2)
    repeat = np.repeat(ltr, 2, axis=0)                                 # no change inside a group at all
    cubic = temporal_interpolate(ltr, 2, "cubic")
    assert group_seam(repeat, 2) > 20
    assert group_seam(htr, 2) < group_seam(cubic, 2) < group_seam(repeat, 2)
    with pytest.raises(ValueError, match="at least 5 frames"):
        group_seam(htr[:4], 2)


def test_first_rung_seams_prefer_the_net_that_recovers_the_sub_frames():
    from conftest import moving_blob_htr

    htr = moving_blob_htr(12 * 8, 64, 96, speed=0.9)
    ltr = rect_downsample(htr, 8)
    truth = resize_spatial(rect_downsample(htr, 4), 16, 24)   # the first rung's answer at x8 (16x24)

    class Truth:
        receptive_field = {"frames": 1, "pixels": 1}

        def run(self, clip):
            return truth[: 2 * len(clip)]

    class Repeat:
        receptive_field = {"frames": 1, "pixels": 1}

        def run(self, clip):
            return np.repeat(clip, 2, axis=0)

    seams = selfcheck.first_rung_seams({"truth": Truth(), "repeat": Repeat()}, ltr, (16, 24), (64, 96))
    assert set(seams) == {"truth", "repeat"} and seams["truth"] < seams["repeat"] - 3
    assert selfcheck.first_rung_seams({"truth": Truth()}, ltr[:2], (16, 24), (64, 96)) == {}   # too short


def test_self_check_weighs_motion_compensated_flow():
    if not methods.flow_available():
        pytest.skip("MVTools not installed")
    from test_cuts import sliding_texture

    # a pan: flow's home ground; the proxy (half size) has room for flow (baselines.MIN_FLOW_SIZE)
    clip = rect_downsample(sliding_texture(t=64, h=96, w=128, step=3), 2)
    logs = []
    p = selfcheck.choose_methods(ladder.plan(96, 128, 2), None, clip, (96, 128), log=logs.append)
    scores = dict(kv.rsplit(" ", 1) for kv in logs[0].split(": ", 1)[1].split(" -> ")[0].split(", "))
    assert set(scores) == {"cubic", "linear", "flow"}
    assert p.rungs[0].method == max(scores, key=lambda m: float(scores[m]))


def test_the_self_check_sees_only_frames_the_trainer_never_saw():
    from vs_zstsr import fit

    for n, held in ((10, 0), (16, 8), (40, 10), (400, 32)):
        a, b = fit.held_out(n)
        assert b == n and b - a == held
    seen = []

    def read(idx, size=None):
        seen.extend(idx)
        return np.zeros((len(idx), 8, 8, 3), np.float32)

    for n in (40, 400):
        seen.clear()
        fit.training_frames(read, n, (8, 8))
        trained = set(seen)
        seen.clear()
        selfcheck.self_check_window(read, n)
        assert trained and seen and not trained & set(seen)


def test_without_the_net_the_fallback_is_the_peer_itself():
    """No rung uses the net: one interpolation x factor + temporal back-projection, exactly what
    `zstsr baseline -m METHOD --backproject` writes (so "do no harm" loses nothing to the peer)."""
    from vs_zstsr.baselines import interpolate

    ltr = _ltr(t=10, h=40, w=56)
    for method, peer in (("cubic", "cubic"), ("linear", "linear")):
        out = ladder.Ladder(ladder.plan(40, 56, 8, method)).run(ltr)
        np.testing.assert_allclose(out, interpolate(ltr, 8, peer, backproject=True), atol=1e-6)


class _Reach:   # a stand-in net that mixes 1 LTR frame each side in time and 2 pixels in space
    receptive_field = {"frames": 1, "pixels": 2}
    metadata = {"width": 4}
    calls = []

    def run(self, clip):
        from vs_zstsr.resample import temporal_interpolate

        self.calls.append(clip.shape)
        x = temporal_interpolate(clip, 2, "linear")
        x = (np.roll(x, 1, 0) + x + np.roll(x, -1, 0)) / 3
        x[0], x[-1] = x[1], x[-2]   # no wrap-around at the clip's ends: reach 1 frame
        k = np.ones(5, np.float32) / 5
        x = np.apply_along_axis(lambda v: np.convolve(np.pad(v, 2, mode="edge"), k, "valid"), 1, x)
        return x.astype(np.float32)


def test_the_net_runs_in_slices_and_tiles_that_change_nothing(monkeypatch):
    clip = np.random.default_rng(0).random((20, 24, 30, 3), dtype=np.float32)
    whole = _Reach().run(clip)
    per_px = 2 * 4 * 4 * 3
    monkeypatch.setattr(netrun, "NET_BYTES", per_px * 24 * 30 * 7)     # 7 frames: slices of 5 + reach
    _Reach.calls = []
    np.testing.assert_allclose(netrun.net_x2(_Reach(), clip), whole, atol=1e-6)
    assert len(_Reach.calls) > 1 and max(c[0] for c in _Reach.calls) <= 7
    np.testing.assert_allclose(netrun.net_x2(_Reach(), clip, tilesize=12), whole, atol=1e-6)


def test_the_pieces_are_the_cheapest_that_fit(monkeypatch):
    """choose_tilesize: whole frames when the clip fits one call; where whole frames would need
    slices, tiles when they compute on fewer voxels (every call within NET_BYTES), the same frames out."""
    per_px = netrun._net_bytes_per_pixel(_Reach())
    assert netrun.choose_tilesize(20, 200, 300, 2, 1, per_px) == 0            # 115 MB: one call
    clip = np.random.default_rng(0).random((12, 160, 200, 3), dtype=np.float32)
    whole = _Reach().run(clip)
    budget = per_px * 160 * 200 * 4                                           # 4 whole frames a call
    monkeypatch.setattr(netrun, "NET_BYTES", budget)
    tile = netrun.choose_tilesize(12, 160, 200, 2, 1, per_px)
    assert tile >= netrun.MIN_TILE
    tiled, fits = netrun._pieces_voxels(12, 160, 200, tile, 2, 1, per_px)
    sliced, _ = netrun._pieces_voxels(12, 160, 200, 0, 2, 1, per_px)
    assert fits and tiled < 0.7 * sliced                                      # slices of 4 keep 2 of them
    _Reach.calls = []
    np.testing.assert_allclose(netrun.net_x2(_Reach(), clip), whole, atol=1e-6)
    assert all(t * h * w * per_px <= budget for t, h, w, _ in _Reach.calls)
    assert sum(t * h * w for t, h, w, _ in _Reach.calls) == tiled
    gpu = type("OnCuda", (_Reach,), {"provider": "cuda"})()                  # a GPU keeps its larger calls
    assert netrun._call_bytes(gpu) == netrun.GPU_NET_BYTES and netrun._call_bytes(_Reach()) == budget



class _Cubic:
    """A stand-in net that is exactly cubic x2: it commutes with every flip, rotation and time reversal."""
    receptive_field = {"frames": 2, "pixels": 0}

    def run(self, clip):
        from vs_zstsr.resample import temporal_interpolate
        return temporal_interpolate(clip, 2, "cubic")


def test_self_ensemble_undoes_each_transform():
    ltr = _ltr(t=6, h=20, w=28)           # not square: a rotation that is not undone changes the shape
    single = netrun.net_x2(_Cubic(), ltr)
    assert len(netrun.ENSEMBLE) == 16 and len(set(netrun.ENSEMBLE)) == 16
    for n in netrun.ENSEMBLE_SIZES:
        np.testing.assert_allclose(netrun.net_x2(_Cubic(), ltr, ensemble=n), single, atol=1e-6)
    # tiles inside each transformed copy (turned copies are 28x20: other tiles) change nothing either
    ltr = _ltr(t=6, h=20, w=28)
    np.testing.assert_allclose(netrun.net_x2(_Skewed(), ltr, tilesize=8, ensemble=16),
                               netrun.net_x2(_Skewed(), ltr, ensemble=16), atol=1e-6)


class _Skewed:
    """A stand-in net that prefers the later frame and the right-hand pixel: its answer changes when
    time is reversed or the picture flipped or turned. _Reach: 1 LTR frame, 1 pixel."""
    receptive_field = {"frames": 1, "pixels": 1}

    def run(self, clip):
        nxt = np.concatenate([clip[1:], clip[-1:]])
        right = np.concatenate([clip[:, :, 1:], clip[:, :, -1:]], axis=2)
        return np.repeat(0.2 * clip + 0.6 * nxt + 0.2 * right, 2, axis=0)


def test_self_ensemble_averages_the_transformed_answers():
    Skewed = _Skewed
    ltr = _ltr(t=6, h=16, w=16)
    fwd = Skewed().run(ltr)
    bwd = Skewed().run(ltr[::-1])[::-1]
    np.testing.assert_allclose(netrun.net_x2(Skewed(), ltr, ensemble=2), (fwd + bwd) / 2, atol=1e-6)
    with pytest.raises(Exception, match="ensemble must be one of 1, 2, 4, 8, 16"):
        netrun.net_x2(Skewed(), ltr, ensemble=3)
    with pytest.raises(Exception, match="ensemble"):
        Renderer.create(None, UpsampleOptions(method="cubic", engine=EngineOptions(ensemble=5)), height=16, width=16)


def test_the_ensembled_net_streams_without_seams():
    ltr = _ltr(t=19)
    lad = ladder.Ladder(ladder.plan(*ltr.shape[1:3], 8, "net"), _Skewed(), UpsampleOptions(engine=EngineOptions(ensemble=4)))
    whole = lad.run(ltr)
    alone = UpsampleOptions(engine=EngineOptions(ensemble=1))
    assert psnr(lad.run(ltr), ladder.Ladder(ladder.plan(*ltr.shape[1:3], 8, "net"), _Skewed(), alone).run(ltr)) < 80
    whole = Renderer(lad, len(ltr)).render(ltr, 0, len(ltr))     # the clip's ends continued (.shotends)
    for chunk in (3, 8):
        streamed = np.stack(list(upsample_stream(iter(ltr), Renderer(lad, chunk))))
        assert psnr(streamed, whole) > 80


def test_auto_examples_train_a_net_per_kind_and_keep_the_lower_seam(monkeypatch, tmp_path):
    """examples="auto": one net per kind on half the budget each; the group seam of each net's
    first rung picks one; --save-model keeps that one; zstsr train refuses auto in one line."""
    from conftest import moving_blob_htr

    from vs_zstsr import fit as fit_mod
    from vs_zstsr import model as model_mod
    from vs_zstsr import prepare

    htr = moving_blob_htr(24 * 8, 64, 96, speed=0.4)   # stays in the picture
    ltr = rect_downsample(htr, 8)
    truth = resize_spatial(rect_downsample(htr, 4), 16, 24)

    start = fit_mod.held_out(len(ltr))[0]   # the seams are measured on the self-check's frames

    class Truth:   # recovers the first rung's sub-frames of those frames
        receptive_field = {"frames": 1, "pixels": 1}
        metadata = {}

        def run(self, clip):
            return truth[2 * start: 2 * (start + len(clip))]

    class Repeat:
        receptive_field = {"frames": 1, "pixels": 1}
        metadata = {}

        def run(self, clip):
            return np.repeat(clip, 2, axis=0)

    calls = []

    def fake_fit(read, num_frames, size, *, examples=None, budget_s=None, **kw):
        calls.append((examples, budget_s, tuple(size)))
        path = tmp_path / f"{examples}.onnx"
        path.write_bytes(examples.encode())
        return str(path)

    monkeypatch.setattr(selfcheck, "fit_model", fake_fit)    # examples="auto": one per kind
    monkeypatch.setattr(prepare, "fit_model", fake_fit)      # an explicit kind
    monkeypatch.setattr(model_mod, "load_model",
                        lambda path, *a, **k: Truth() if str(path).endswith("both.onnx") else Repeat())
    logs = []
    saved = tmp_path / "kept.onnx"
    job = UpsampleOptions(method="net", engine=EngineOptions(ensemble=1),
                          train=TrainOptions(budget_s=60.0, output=str(saved)))
    r = Renderer.create(None, job, height=64, width=96, read=lambda idx, size=None: ltr[list(idx)], num_frames=len(ltr),
                        log=logs.append)
    assert calls == [("within", 30.0, (16, 24)), ("both", 30.0, (16, 24))]
    assert isinstance(r.ladder.model, Truth) and saved.read_bytes() == b"both", logs
    assert any(m.startswith("group seam of each net's first rung") and m.endswith("-> the both net") for m in logs)
    # an explicit kind trains one net
    calls.clear()
    job = UpsampleOptions(method="net", train=TrainOptions(budget_s=60.0, examples="within"))
    Renderer.create(None, job, height=64, width=96, read=lambda idx, size=None: ltr[list(idx)], num_frames=len(ltr))
    assert calls == [("within", 60.0, (16, 24))]

    res = CliRunner().invoke(main, ["train", str(tmp_path / "any.mkv"), "-o", str(tmp_path / "m.pt"),
                                    "--examples", "auto"])
    assert res.exit_code != 0 and "zstsr train fits one" in res.output


def test_pipeline_self_check_keeps_a_harmful_net_off_and_says_what_it_measured():
    ltr = _ltr(t=16, h=64, w=96)
    logs = []
    p = selfcheck.choose_pipeline(ladder.plan(64, 96, 8), Noisy(), ltr, log=logs.append,
                                  candidates=("net", "cubic", "linear"))
    assert not p.uses_net and len({r.method for r in p.rungs}) == 1 and p.rungs[0].gain_db < 0
    for name in ("cubic xN at full size", "linear/linear/linear", "net/cubic/cubic", "net/linear/linear"):
        assert name in logs[0]                                  # every whole pipeline was scored
    assert selfcheck.choose_pipeline(ladder.plan(64, 96, 8), Noisy(), ltr[:4]) is None   # too short


def test_the_self_check_weighs_the_net_on_the_first_rung_only():
    # (its proxy cannot vouch for the net above it: docs/BENCHMARKS.md, "The net on the rungs below
    # full size")
    names = {p.describe() for p in selfcheck.candidate_pipelines(3, ("flow", "cubic"), ("net", "netflow"))}
    assert {"net/flow/flow", "net/cubic/cubic", "netflow/flow/flow", "netflow/cubic/cubic", "flow/flow/flow",
            "cubic xN at full size"} <= names
    assert not any(n.count("net") > 1 for n in names)
    assert {p.describe() for p in selfcheck.candidate_pipelines(1, ("cubic",), ("net",))} == {"cubic xN at full size", "net"}


def test_ladders_that_begin_with_the_same_rungs_compute_them_once():
    class Counting(Noisy):
        calls = 0

        def run(self, clip):
            Counting.calls += 1
            return super().run(clip)

    ltr, net = _ltr(t=8, h=64, w=96), Counting()
    one = UpsampleOptions(engine=EngineOptions(ensemble=1))

    def lad(methods_, memo):
        p = ladder.plan(64, 96, 8)
        for r, m in zip(p.rungs, methods_):
            r.method = m
        return ladder.Ladder(p, net, one, memo=memo)

    alone = {ms: lad(ms, None).run(ltr) for ms in (("net", "cubic", "cubic"), ("net", "linear", "linear"),
                                                   ("net", "net", "cubic"), ("net", "net", "linear"))}
    Counting.calls, memo = 0, {}
    for ms, want in alone.items():
        np.testing.assert_array_equal(lad(ms, memo).run(ltr), want)   # the same frames
    assert Counting.calls == 2                      # each net rung once, not once per ladder
    other = ltr.copy()
    other[0] += 0.01                                # another input: nothing reused
    lad(("net", "cubic", "cubic"), memo).run(other)
    assert Counting.calls == 3


def test_pipeline_self_check_gives_the_first_rung_to_a_net_that_splits_exposures_right():
    from vs_zstsr.resample import temporal_interpolate

    from conftest import moving_blob_htr

    htr = moving_blob_htr(32 * 2, 64, 96, speed=1.5)
    clip = rect_downsample(htr, 2)                    # the LTR clip the self-check looks at
    truth = resize_spatial(clip, 32, 48)             # its proxy's truth: the clip shrunk 2x

    class Oracle:  # splits each proxy exposure into the two frames it was made of (cubic elsewhere)
        receptive_field = {"frames": 1, "pixels": 1}

        def run(self, lo):
            if 2 * len(lo) != len(truth):
                return temporal_interpolate(lo, 2, "cubic")
            return resize_spatial(truth, *lo.shape[1:3])

    logs = []
    one_copy = UpsampleOptions(engine=EngineOptions(ensemble=1))    # the oracle knows one orientation
    p = selfcheck.choose_pipeline(ladder.plan(64, 96, 8), Oracle(), clip, one_copy, log=logs.append,
                                  candidates=("net", "cubic", "linear"))
    assert p.rungs[0].method == "net" and p.rungs[0].gain_db > 0.3
    scores = dict(kv.rsplit(" ", 1) for kv in logs[0].split(": ", 1)[1].split(" -> ")[0].split(", "))
    assert logs[0].endswith("-> " + max(scores, key=lambda k: float(scores[k])))


def test_a_plan_can_climb_the_ladder_without_the_net():
    p = ladder.plan(64, 96, 8, "linear")
    assert ladder.Ladder(p).direct
    p.direct = False                  # the self-check measured the ladder better on this clip
    lad = ladder.Ladder(p)
    ltr = _ltr(t=6, h=64, w=96)
    assert not lad.direct and lad.run(ltr).shape == (48, 64, 96, 3)


def test_the_self_check_weighs_the_mean_of_its_best_pipelines_with_the_net_and_renders_it(monkeypatch):
    """Two pipelines with the net that err in opposite directions: their mean is the truth, so the
    self-check picks it over each (and over the pipelines without the net, which are never
    averaged); the ladder it builds renders the mean of the two ladders, chunk by chunk as whole."""
    ltr = _ltr(t=16, h=64, w=96)
    err = {"net/cubic/cubic": +0.02, "net/linear/linear": -0.03, "cubic xN at full size": 0.01,
           "linear xN at full size": -0.01}   # alone: cubic x8 the best; a mean of these two is not weighed

    def frames(p, lo, size, factor, model, options, memo):     # each pipeline's proxy output
        hi = resize_spatial(ltr, *size)[:len(lo) * 2]
        return np.clip(hi + err.get(p.describe(), 0.05), -1, 2)

    monkeypatch.setattr(selfcheck, "_proxy_frames", frames)
    logs = []
    p = selfcheck.choose_pipeline(ladder.plan(64, 96, 8), Noisy(), ltr, log=logs.append, candidates=("net", "cubic", "linear"))
    assert logs[0].endswith("-> mean of net/cubic/cubic + net/linear/linear"), logs
    assert "mean of cubic" not in logs[0] and "mean of linear" not in logs[0]
    assert [r.method for r in p.rungs] == ["net", "cubic", "cubic"]
    assert [[r.method for r in q.rungs] for q in p.blend] == [["net", "linear", "linear"]]
    assert p.describe().startswith("the mean of (") and p.uses_net
    # with no blends weighed, the best single pipeline
    q = selfcheck.choose_pipeline(ladder.plan(64, 96, 8), Noisy(), ltr, candidates=("net", "cubic", "linear"), blends=())
    assert not q.blend and q.runs_direct and q.rungs[0].method == "cubic"

    monkeypatch.undo()

    class Bent(Noisy):  # cubic, bent pixel by pixel: a net whose frames do not depend on the chunk
        def run(self, clip):
            from vs_zstsr.resample import temporal_interpolate

            x = temporal_interpolate(clip, 2, "cubic")
            return x + 0.03 * np.sin(20 * x)

    one = UpsampleOptions(factor=8, engine=EngineOptions(ensemble=1))
    lad = ladder.Ladder(p, Bent(), one)
    members = [ladder.Ladder(x, Bent(), one) for x in (replace(p, blend=[]), p.blend[0])]
    np.testing.assert_allclose(lad.run(ltr), (members[0].run(ltr) + members[1].run(ltr)) / 2, atol=1e-6)
    assert lad.context == max(m.context for m in members) and not lad.streams
    r = Renderer.of(lad, one, 64, 96)
    whole = r.render(ltr, 0, len(ltr))
    r.chunk = 5
    np.testing.assert_allclose(np.stack(list(upsample_stream(iter(ltr), r))), whole, atol=1e-6)


def test_chunks_are_sized_by_the_frame_so_that_memory_is_bounded_by_it():
    """stream.chunk_frames: the sizes docs/BENCHMARKS.md ("The render's chunks") and docs/SCALE.md
    state: 27 LTR frames for the job's 512x288 clip at x8, 1 at 1080p and 4K (the memory bound of
    the 1080p and 4K measurements), 17 at 360p; at most 32. A streamed ladder's chunks by their
    output alone: 2 at 1080p, 1 at 4K."""
    from vs_zstsr.stream import chunk_frames

    assert chunk_frames(288, 512, 8) == 27
    assert chunk_frames(1080, 1920, 8) == chunk_frames(2160, 3840, 8) == 1
    assert chunk_frames(360, 640, 8) == 17
    assert chunk_frames(16, 16, 2) == 32
    assert (chunk_frames(1080, 1920, 8, True), chunk_frames(2160, 3840, 8, True)) == (2, 1)
    assert chunk_frames(720, 1280, 8, True) == chunk_frames(720, 1280, 8) == 4
