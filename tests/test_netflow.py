"""The rung method ``netflow`` (vs_zstsr/methods.py NETS): the net's residual over its own cubic
base, added to flow's x2. It runs through the CLI and the filter by name, the whole-pipeline
self-check weighs it like any other candidate, and where flow cannot run it is the net itself."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import moving_blob_htr, run

from vs_zstsr import baselines, io, ladder, methods, netrun, selfcheck
from vs_zstsr.options import EngineOptions, UpsampleOptions
from vs_zstsr.resample import rect_downsample, temporal_interpolate

pytestmark = pytest.mark.skipif(not baselines.flow_available(), reason="MVTools is not installed")


class Split:
    """A stand-in net whose x2 of the self-check's proxy is ``target(lo)``, cubic elsewhere."""
    receptive_field = {"frames": 1, "pixels": 1}
    metadata = {}

    def __init__(self, truth, target):
        self.truth, self.target = truth, target

    def run(self, lo):
        if 2 * len(lo) != len(self.truth):
            return temporal_interpolate(lo, 2, "cubic")
        return self.target(lo, self.truth).astype(np.float32)


def _flow(lo):
    return methods.interpolate(lo, 2, "flow")


# "for": the residual that is right over flow's base (net + flow = the truth); "against": the
# truth itself (the net as trained is right, its residual over flow is not)
CASES = {"for": (lambda lo, truth: temporal_interpolate(lo, 2, "cubic") + truth - _flow(lo), "netflow"),
         "against": (lambda lo, truth: truth, "net")}


@pytest.mark.parametrize("case", CASES)
def test_the_self_check_picks_netflow_only_where_its_proxy_favours_it(case, monkeypatch):
    monkeypatch.setattr(selfcheck, "PIPELINE_SHRINK", 1)          # the proxy at the clip's own size
    htr = moving_blob_htr(24 * 2, baselines.MIN_FLOW_SIZE, 64, speed=1.5)
    clip = rect_downsample(htr, 2)                                  # the LTR frames the self-check sees
    truth = clip[:len(clip) // 2 * 2]                               # the x2 proxy's truth: the clip itself
    target, want = CASES[case]
    logs = []
    p = selfcheck.choose_pipeline(ladder.plan(*clip.shape[1:3], 2), Split(truth, target), clip,
                                  UpsampleOptions(factor=2, engine=EngineOptions(ensemble=1)), log=logs.append)
    assert [r.method for r in p.rungs] == [want], logs
    scores = dict(kv.rsplit(" ", 1) for kv in logs[0].split(": ", 1)[1].split(" -> ")[0].split(", "))
    assert {"netflow", "net", "flow xN at full size"} <= set(scores), logs     # each measured, none ruled out


def test_netflow_is_the_net_where_flow_cannot_run():
    class Noisy:
        receptive_field = {"frames": 1, "pixels": 1}
        metadata = {}

        def run(self, clip):
            x = temporal_interpolate(clip, 2, "cubic")
            return x + np.random.default_rng(0).normal(0, 0.05, x.shape).astype(np.float32)

    small = rect_downsample(moving_blob_htr(16, 24, 32), 2)          # under baselines.MIN_FLOW_SIZE
    assert not methods.fits("netflow", small) and methods.fits("net", small)
    np.testing.assert_array_equal(methods.net_method_x2(Noisy(), small, "netflow"), netrun.net_x2(Noisy(), small))
    big = rect_downsample(moving_blob_htr(16, baselines.MIN_FLOW_SIZE, 64), 2)
    got = methods.net_method_x2(Noisy(), big, "netflow")
    want = netrun.net_x2(Noisy(), big) - temporal_interpolate(big, 2, "cubic") + _flow(big)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_netflow_by_name_through_the_cli_and_the_filter(tmp_path):
    pytest.importorskip("torch")
    from conftest import tiny_model

    model = tiny_model(tmp_path / "m.onnx")
    ltr = rect_downsample(moving_blob_htr(16, baselines.MIN_FLOW_SIZE, 64, speed=1.5), 2)
    io.write_video(tmp_path / "in.mkv", ltr, Fraction(30), bit_depth=16)
    run("upsample", tmp_path / "in.mkv", "-o", tmp_path / "out.mkv", "-f", 2, "--method", "netflow",
        "--model", model, "--scene-threshold", 0)
    _, cli = io.read_video(tmp_path / "out.mkv")
    assert cli.shape == (16, *ltr.shape[1:])
    # the ladder it ran: the net's residual over flow, not the net alone
    from vs_zstsr.model import load_model
    from vs_zstsr.stream import Renderer

    net = load_model(model, "cpu")
    p = ladder.plan(*ltr.shape[1:3], 2, "netflow")
    _, back = io.read_video(tmp_path / "in.mkv")
    def whole(lad):     # as the CLI renders it: the clip's ends continued (vs_zstsr/shotends.py)
        return Renderer(lad, len(back), cut_threshold=0).render(back, 0, len(back))

    want = whole(ladder.Ladder(p, net, flow_fallback=None))
    alone = whole(ladder.Ladder(ladder.plan(*ltr.shape[1:3], 2, "net"), net))
    assert np.abs(cli - want).max() < 2e-3 < np.abs(cli - alone).max()
    # too small for flow at full size: refused by name, as --method flow is
    io.write_video(tmp_path / "small.mkv", ltr[:, :32, :32], Fraction(30), bit_depth=16)
    r = run("upsample", tmp_path / "small.mkv", "-o", tmp_path / "s.mkv", "-f", 2, "--method", "netflow",
            "--model", model, ok=False)
    assert r.exit_code == 1 and "needs frames of at least" in r.stderr and not (tmp_path / "s.mkv").exists()

    vs = pytest.importorskip("vapoursynth")
    from test_filter import array_clip, planes

    from vs_zstsr import filter as F

    out = F.upsample(array_clip(vs.core, back), 2, model=str(model), method="netflow", sc=False)
    frame = np.stack(planes(out.get_frame(5)), axis=-1)
    assert out.num_frames == 16 and np.abs(frame - want[5]).max() < 1e-4
