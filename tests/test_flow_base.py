"""A net whose residual is learnt over a given base (flow's x2): examples cut from one x2 of each
whole source, the graph's second input, and the runtime that computes that base for it."""
import numpy as np
import pytest
import torch

from vs_zstsr import baselines, methods, netrun
from vs_zstsr.errors import ZstsrError
from vs_zstsr.model import load_model
from vs_zstsr.resample import rect_downsample, temporal_interpolate
from zstsr_export import check_parity, export_onnx
from zstsr_trainer import TrainConfig, train
from zstsr_trainer.examples import ExampleSampler, TooSmall
from zstsr_trainer.net import TSRNet, backproject_x2

torch.set_num_threads(1)
flow = pytest.mark.skipif(not baselines.flow_available(), reason="MVTools is not installed")


def _repeat_x2(lo):
    return np.repeat(lo, 2, axis=0)   # a stand-in base whose crops are exact: repeat commutes with crops


def test_examples_take_the_base_from_one_x2_of_each_whole_source():
    rng = np.random.default_rng(0)
    v = rng.random((21, 30, 40, 3), dtype=np.float32)           # odd length: trimmed to even
    calls = []
    cfg = TrainConfig(width=8, depth=4, crop=(8, 12, 12), batch=3, scales=(1.0, 0.7), jumps=(1, 2), examples="both")
    s = ExampleSampler(v, cfg, rng, lambda lo: calls.append(lo.shape) or _repeat_x2(lo))
    assert len(calls) == 8               # once per source (2 scales x 2 jumps, within and across), not per crop
    for _ in range(20):
        lo, x2, hi, _ = s.batch_x2()     # augmented alike, starting on even frames: exactly the crop's own x2
        np.testing.assert_array_equal(lo, rect_downsample(hi, 2, axis=1))
        np.testing.assert_array_equal(x2, np.repeat(lo, 2, axis=1))
    assert ExampleSampler(v, cfg, rng).batch_x2()[1] is None    # no given base: none


def test_sources_where_the_base_cannot_run_are_left_out():
    v = np.random.default_rng(1).random((16, 30, 40, 3), dtype=np.float32)
    cfg = TrainConfig(width=8, depth=4, crop=(8, 12, 12), batch=2, scales=(1.0,), jumps=(1,), examples="both")
    s = ExampleSampler(v, cfg, np.random.default_rng(0), lambda lo: _repeat_x2(lo) if lo.shape[1] == 30 else None)
    assert s.kinds == ["within"] and len(s.dropped) == 2         # the two across views
    with pytest.raises(TooSmall, match="left out, where the base cannot run"):
        ExampleSampler(v, cfg, np.random.default_rng(0), lambda lo: None)


@pytest.mark.parametrize("base", ["flow", "flow_bp"])
def test_the_graph_takes_the_base_as_an_input(base, tmp_path):
    torch.manual_seed(0)
    net = TSRNet(8, 4, base=base).eval()
    with torch.no_grad():
        net.body[-1].weight.mul_(10)
    x, x2 = torch.rand(1, 3, 5, 12, 14), torch.rand(1, 3, 10, 12, 14)
    with pytest.raises(ValueError, match="needs that base's x2"):
        net(x)
    with torch.no_grad():
        want = backproject_x2(x2, x) if base == "flow_bp" else x2
        np.testing.assert_allclose(net(x, x2), want + net.residual(want), atol=1e-6)
    path = export_onnx(net, str(tmp_path / "m.onnx"))
    assert check_parity(net, path) < 1e-4
    m = load_model(path, "cpu")
    assert m.given_base and m.metadata["base"] == base
    clip = np.random.default_rng(0).random((5, 12, 14, 3), dtype=np.float32)
    with pytest.raises(ZstsrError, match="needs that base's x2"):
        m.run(clip)
    with pytest.raises(ZstsrError, match="must be 10 frames"):
        m.run(clip, np.zeros((8, 12, 14, 3), np.float32))
    base_x2 = temporal_interpolate(clip, 2, "linear")
    with torch.no_grad():
        ref = net(torch.from_numpy(clip.transpose(3, 0, 1, 2)[None].copy()),
                  torch.from_numpy(base_x2.transpose(3, 0, 1, 2)[None].copy()))[0].numpy().transpose(1, 2, 3, 0)
    np.testing.assert_allclose(m.run(clip, base_x2), ref, atol=1e-4)


class _Pointwise:
    """Reaches one frame and one pixel: its pieces must add up to its whole."""
    receptive_field = {"frames": 1, "pixels": 1}
    metadata = {"width": 4, "base": "flow"}
    given_base = True

    def run(self, clip, base=None):
        return base + 0.1 * np.repeat(clip, 2, axis=0)


def test_the_base_is_cut_and_turned_with_the_clip(monkeypatch):
    rng = np.random.default_rng(2)
    clip, base = rng.random((9, 20, 24, 3), dtype=np.float32), rng.random((18, 20, 24, 3), dtype=np.float32)
    whole = _Pointwise().run(clip, base)
    monkeypatch.setattr(netrun, "NET_BYTES", netrun._net_bytes_per_pixel(_Pointwise()) * 20 * 24 * 5)
    np.testing.assert_allclose(netrun.net_x2(_Pointwise(), clip, tilesize=8, base=base), whole, atol=1e-6)
    np.testing.assert_allclose(netrun.net_x2(_Pointwise(), clip, ensemble=16, base=base), whole, atol=1e-6)


def test_where_flow_cannot_run_the_net_gets_cubic_as_its_base():
    small = np.random.default_rng(3).random((6, 16, 20, 3), dtype=np.float32)    # under MIN_FLOW_SIZE
    for method in methods.NETS:
        got = methods.net_method_x2(_Pointwise(), small, method)
        np.testing.assert_allclose(got, _Pointwise().run(small, temporal_interpolate(small, 2, "cubic")), atol=1e-6)


@flow
def test_a_net_trained_over_flow_runs_over_flow(tmp_path):
    from conftest import moving_blob_htr

    ltr = rect_downsample(moving_blob_htr(32, baselines.MIN_FLOW_SIZE + 8, 64, speed=1.5), 2)
    cfg = TrainConfig(width=8, depth=4, crop=(8, 16, 16), batch=2, scales=(1.0,), jumps=(1,), max_iters=3,
                      base="flow", examples="both")
    r = train(ltr, cfg)
    assert r.iterations == 3 and list(r.examples) == ["within"]   # across views: 16 rows, under flow's guard
    m = load_model(export_onnx(r, str(tmp_path / "f.onnx")), "cpu")
    flow_x2 = methods.interpolate(ltr, 2, "flow")
    want = netrun.net_x2(m, ltr, ensemble=2, base=flow_x2)
    for method in methods.NETS:                   # "net" and "netflow" alike: flow is its own base
        np.testing.assert_allclose(methods.net_method_x2(m, ltr, method, ensemble=2), want, atol=1e-6)


def test_the_cache_keeps_a_net_over_flow_apart(tmp_path, monkeypatch):
    from conftest import moving_blob_htr

    from vs_zstsr import fit

    monkeypatch.setenv("ZSTSR_CACHE", str(tmp_path))
    clip = moving_blob_htr(t=16)

    def read(indices, size=None):
        return clip[list(indices)]

    kw = dict(preset="fast", examples="within", iterations=10)
    old = fit.cached_model_path(read, 16, (16, 20), **kw)
    assert fit.cached_model_path(read, 16, (16, 20), base=None, **kw) == old      # old keys unchanged
    assert fit.cached_model_path(read, 16, (16, 20), base="flow", **kw) != old
    assert fit.train_config("fast", base="flow").base == "flow" and fit.train_config("fast").base == "cubic"
