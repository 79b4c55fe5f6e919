"""The trainer: internal examples, the net's built-in cubic, a short training run, checkpoints."""
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from vs_zstsr.resample import rect_downsample, temporal_interpolate
from zstsr_trainer import PRESETS, TrainConfig, load_checkpoint, train
from zstsr_trainer.examples import ExampleSampler, gradient_magnitude
from zstsr_trainer.net import CubicX2, TSRNet, receptive_field

torch.set_num_threads(2)


def moving_pattern(t=32, h=40, w=48, seed=0):
    """HTR clip: a smooth random texture translating diagonally, ~1.5 px per HTR frame."""
    rng = np.random.default_rng(seed)
    big = rng.random((h + 3 * t, w + 3 * t, 3)).astype(np.float32)
    k = np.ones(5, np.float32) / 5   # soften so motion is mostly sub-Nyquist in space
    big = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 0, big)
    big = np.apply_along_axis(lambda v: np.convolve(v, k, "same"), 1, big)
    frames = []
    for i in range(t):
        oy, ox = int(1.5 * i), int(1.5 * i)
        frames.append(big[oy:oy + h, ox:ox + w])
    f = np.stack(frames)
    return ((f - f.min()) / (f.max() - f.min())).astype(np.float32)


def tagged_video(t=12, h=20, w=28):
    """Channel 0 = t, 1 = y, 2 = x (scaled): shows where each axis went."""
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    return np.stack([tt / t, yy / h, xx / w], -1).astype(np.float32)


def tiny(**kw):
    base = dict(width=8, depth=4, crop=(8, 12, 12), batch=3, scales=(1.0,), jumps=(1,), seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_examples_shapes_and_ltr_is_rect_of_htr():
    rng = np.random.default_rng(0)
    v = rng.random((20, 30, 40, 3), dtype=np.float32)
    s = ExampleSampler(v, tiny(scales=(1.0, 0.7), jumps=(1, 2), examples="both"), rng)
    kinds = set()
    for _ in range(20):
        lo, hi, kind = s.batch()
        kinds.add(kind)
        assert hi.shape == (3, 8, 12, 12, 3) and lo.shape == (3, 4, 12, 12, 3)
        assert lo.dtype == hi.dtype == np.float32
        np.testing.assert_array_equal(lo, rect_downsample(hi, 2, axis=1))
    assert kinds == {"within", "across"}


def test_across_examples_swap_time_with_space():
    v = tagged_video()
    cfg = tiny(examples="across", augment=False, crop=(8, 10, 10))
    s = ExampleSampler(v, cfg, np.random.default_rng(1))
    for _ in range(10):
        _, hi, kind = s.batch()
        assert kind == "across"
        d0 = np.abs(np.diff(hi, axis=1)).max(axis=(0, 1, 2, 3))     # change along the new time axis
        assert d0[0] == 0, "old time must not vary along the new time axis"
        assert d0[1] > 0 or d0[2] > 0, "a spatial axis must have become time"
        # and old time now varies along a spatial axis
        assert np.abs(np.diff(hi[..., 0], axis=2)).max() > 0 or np.abs(np.diff(hi[..., 0], axis=3)).max() > 0


def test_within_examples_keep_time():
    v = tagged_video()
    s = ExampleSampler(v, tiny(examples="within", augment=False, crop=(8, 10, 10)), np.random.default_rng(2))
    _, hi, kind = s.batch()
    assert kind == "within"
    assert np.abs(np.diff(hi[..., 0], axis=1)).min() > 0      # time still runs along axis 1
    assert np.abs(np.diff(hi[..., 1:], axis=1)).max() == 0


def test_crop_sampling_prefers_texture():
    rng = np.random.default_rng(3)
    v = np.full((16, 32, 96, 3), 0.5, np.float32)
    v[:, :, 64:] = rng.random((16, 32, 32, 3))                 # texture only in the right third
    cfg = tiny(examples="within", augment=False, crop=(8, 16, 16), batch=1)
    s = ExampleSampler(v, cfg, rng)
    g = [gradient_magnitude(s.batch()[1][0]).mean() for _ in range(200)]
    flat_fraction = np.mean(np.array(g) < 1e-3)
    assert flat_fraction < 0.02        # uniform choice would give ~0.6 flat crops


def test_cubic_in_graph_equals_temporal_interpolate():
    rng = np.random.default_rng(4)
    for t in (1, 2, 5, 9):
        x = rng.random((t, 7, 6, 3), dtype=np.float32)
        ref = temporal_interpolate(x, 2, "cubic")
        got = CubicX2()(torch.from_numpy(x).permute(3, 0, 1, 2)[None])[0].permute(1, 2, 3, 0).numpy()
        np.testing.assert_allclose(got, ref, atol=1e-6)


def test_receptive_field():
    assert receptive_field(8) == {"frames": 3, "pixels": 8, "htr_frames": 3}
    # empirical: a change to LTR frame 10 must not reach HTR frames further than 3 LTR frames away
    net = TSRNet(4, 8).eval()
    x = torch.rand(1, 3, 21, 19, 19)
    y = x.clone()
    y[:, :, 10, 9, 9] += 1
    with torch.no_grad():
        d = (net(y) - net(x)).abs().sum(dim=(0, 1))
    frames = torch.nonzero(d.sum(dim=(1, 2))).flatten()
    assert frames.min() >= 2 * (10 - 3) and frames.max() <= 2 * (10 + 3) + 1
    rows = torch.nonzero(d.sum(dim=(0, 2))).flatten()
    assert rows.min() >= 9 - 8 and rows.max() <= 9 + 8


def test_short_training_learns_a_nonzero_residual_and_beats_cubic():
    """The collapse test: if a layer dies the output is exactly cubic and the residual is zero."""
    htr = moving_pattern()
    ltr = rect_downsample(htr, 2, axis=0)
    cfg = TrainConfig(width=16, depth=8, crop=(8, 16, 16), batch=4, lr=1e-3, max_iters=150, lr_window=50,
                      scales=(1.0, 0.8), jumps=(1,), examples="within", seed=0, num_threads=1)
    r = train(ltr, cfg)
    assert r.iterations == 150 and r.stopped == "max_iters" and not r.net.training
    assert r.loss_ratio < 0.98, r.loss_ratio   # 0.94..0.965 measured (seeds 0-2); cubic = 1
    x = torch.from_numpy(ltr).permute(3, 0, 1, 2)[None]
    with torch.no_grad():
        out, base = r.net(x), r.net.interp(x)
    residual = (out - base).numpy()
    assert residual.std() > 1e-3, "residual is (near) zero: collapsed to plain cubic"
    # ... and it generalises to internal examples it has not seen (fresh crops, another seed)
    lo, hi, _ = ExampleSampler(ltr, cfg.replace(batch=16), np.random.default_rng(99)).batch()
    x, y = torch.from_numpy(lo).permute(0, 4, 1, 2, 3), torch.from_numpy(hi).permute(0, 4, 1, 2, 3)
    with torch.no_grad():
        assert ((r.net(x) - y) ** 2).mean() < ((r.net.interp(x) - y) ** 2).mean()


def test_checkpoint_resume_round_trip(tmp_path):
    ltr = rect_downsample(moving_pattern(t=24, h=24, w=24), 2, axis=0)
    ck = str(tmp_path / "run.ckpt")
    cfg = tiny(max_iters=4, checkpoint_every_s=0.0)
    steps = []
    r1 = train(ltr, cfg, checkpoint=ck, progress=lambda s, tot, info: steps.append((s, tot, sorted(info))))
    assert r1.iterations == 4 and [s[0] for s in steps] == [1, 2, 3, 4] and steps[0][1] == 4
    assert {"loss", "lr", "ratio", "seconds"} <= set(steps[0][2])
    c = load_checkpoint(ck)
    assert c.state["iteration"] == 4 and c.config.width == 8
    for k, v in r1.net.state_dict().items():
        assert torch.equal(v, c.net.state_dict()[k])
    r2 = train(ltr, cfg.replace(max_iters=8), checkpoint=ck, resume=True)
    assert r2.iterations == 8
    straight = train(ltr, cfg.replace(max_iters=8))
    for k, v in straight.net.state_dict().items():
        torch.testing.assert_close(r2.net.state_dict()[k], v, atol=1e-5, rtol=1e-4)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError):
        train(ltr, cfg.replace(width=16), checkpoint=ck, resume=True)


def test_presets_and_budget():
    assert set(PRESETS) >= {"paper", "fast"}
    assert PRESETS["paper"].width == 128 and PRESETS["paper"].depth == 8 and PRESETS["paper"].lr == 1e-4
    assert PRESETS["paper"].crop == (16, 36, 36)
    ltr = rect_downsample(moving_pattern(t=24, h=24, w=24), 2, axis=0)
    r = train(ltr, tiny(budget_s=1.0))
    assert r.stopped == "budget" and 1.0 <= r.seconds < 5 and r.iterations > 0
    with pytest.raises(ValueError):
        TrainConfig(examples="sideways")


def test_backprojected_base_agrees_with_input():
    from zstsr_trainer.net import backproject_x2
    net = TSRNet(4, 8, base="cubic_bp").eval()
    x = torch.rand(1, 3, 7, 9, 10)
    base = net.make_base(x)
    torch.testing.assert_close(0.5 * (base[:, :, 0::2] + base[:, :, 1::2]), x, atol=1e-6, rtol=0)
    torch.testing.assert_close(backproject_x2(base, x), base, atol=1e-6, rtol=0)
    assert receptive_field(8, "cubic_bp")["frames"] == 4
    y = x.clone()
    y[:, :, 3, 4, 5] += 1
    with torch.no_grad():
        d = (net(y) - net(x)).abs().sum(dim=(0, 1, 3, 4))
    frames = torch.nonzero(d).flatten()
    assert frames.min() >= 2 * (3 - 4) and frames.max() <= 2 * (3 + 4) + 1


def test_onnx_holds_the_torch_net():
    """load_onnx_net gives back the exported weights (per-rung fine-tuning starts from them)."""
    import zstsr_export

    net = TSRNet(width=6, depth=4)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = str(Path(tempfile.mkdtemp()) / "m.onnx")
    zstsr_export.export_onnx(net, path)
    back = zstsr_export.load_onnx_net(path)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v)


def test_finetune_gives_each_upper_rung_its_own_net(tmp_path, monkeypatch):
    """--finetune: the rungs above the first get the net, trained further on their own input,
    within the shared budget; cached and reused; the output still averages back to the input."""
    import zstsr_trainer
    from conftest import moving_blob_htr
    from vs_zstsr import fit, model as vmodel
    from vs_zstsr.resample import rect_downsample, resize_spatial
    from vs_zstsr.options import TrainOptions, UpsampleOptions
    from vs_zstsr.stream import Renderer, upsample_stream

    monkeypatch.setenv("ZSTSR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(zstsr_trainer.PRESETS, "fast", zstsr_trainer.PRESETS["fast"].replace(width=4, budget_s=4.0))
    ltr = rect_downsample(moving_blob_htr(t=128, h=48, w=64, speed=0.8), 4)     # 32 frames

    def read(idx, size=None):
        x = ltr[list(idx)]
        return x if size is None or tuple(size) == x.shape[1:3] else resize_spatial(x, *size)

    logs = []
    coarse_budget = lambda r: vmodel.load_model(r.ladder.model.path, "cpu").metadata["config"]["budget_s"]
    job = UpsampleOptions(factor=4, method="net", train=TrainOptions(preset="fast", finetune=True))
    make = lambda: Renderer.create(None, job, height=48, width=64, read=read, num_frames=len(ltr), log=logs.append)
    r = make()
    assert [x.method for x in r.ladder.plan.rungs] == ["net", "net"] and set(r.ladder.rung_models) == {1}
    tuned = r.ladder.rung_models[1]
    assert tuned.metadata["rung"] == 1 and "finetuned_from" in tuned.metadata
    assert tuned.metadata["training_scale"] == [48, 64]
    assert tuned.metadata["config"]["budget_s"] == 2.0                  # half of 4 s, for the one upper rung
    assert coarse_budget(r) == 1.0            # the other half, shared by the two first-rung nets (examples auto)
    coarse = vmodel.load_model(r.ladder.model.path, "cpu")
    x = ltr[:6]
    assert np.abs(coarse.run(x) - tuned.run(x)).max() > 1e-4            # it did train further
    assert any("fine-tuning the net for rung 1" in m for m in logs)
    out = np.stack(list(upsample_stream(iter(ltr), r)))
    assert out.shape == (4 * len(ltr), 48, 64, 3)
    np.testing.assert_allclose(rect_downsample(out, 4), ltr, atol=2e-3)
    logs.clear()
    make()
    assert any("fine-tuned earlier" in m for m in logs), logs
    assert len(list((tmp_path / "cache").glob("*.rung1.onnx"))) == 1


def test_bf16_only_on_cpus_that_have_it(tmp_path, monkeypatch):
    """A CPU trains in bfloat16 (autocast) only where its flags name bf16 units; amp=False, or a
    cpuinfo that cannot be read, keeps float32. The weights stay float32 either way."""
    import importlib

    train_mod = importlib.import_module("zstsr_trainer.train")   # the module (the package exports train())

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n")
    assert train_mod.cpu_has_bf16(str(info))
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n")
    assert not train_mod.cpu_has_bf16(str(info))
    assert not train_mod.cpu_has_bf16(str(tmp_path / "missing"))
    cpu = torch.device("cpu")
    assert train_mod.autocast_dtype(cpu, amp=False) is None
    ltr = rect_downsample(moving_pattern(t=16, h=20, w=20), 2, axis=0)
    for has, amp, expect in ((True, True, "bfloat16"), (True, False, "float32"), (False, True, "float32")):
        monkeypatch.setattr(train_mod, "cpu_has_bf16", lambda has=has: has)
        assert train_mod.autocast_dtype(cpu, amp) == (torch.bfloat16 if expect == "bfloat16" else None)
        r = train(ltr, tiny(max_iters=3, amp=amp, device="cpu", num_threads=1))
        assert r.precision == expect and r.iterations == 3 and np.isfinite(r.final_loss)
        assert all(p.dtype == torch.float32 for p in r.net.parameters())


def test_a_net_keeps_its_padding_through_init_and_checkpoints(tmp_path):
    """TrainConfig.padding builds the net; a net to start from (fine-tuning) must pad as the config
    says, and a checkpoint brings its padding back."""
    ltr = rect_downsample(moving_pattern(t=24, h=24, w=24), 2, axis=0)
    zero = TSRNet(8, 4, padding="zeros")
    assert all(m.padding_mode == "zeros" for m in zero.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)))
    with pytest.raises(ValueError, match="padding"):
        train(ltr, tiny(max_iters=1), init=zero)
    ck = str(tmp_path / "run.ckpt")
    r = train(ltr, tiny(max_iters=2, padding="zeros"), init=zero, checkpoint=ck)
    assert r.net.padding == "zeros" and load_checkpoint(ck).net.padding == "zeros"
    with pytest.raises(ValueError, match="padding"):
        train(ltr, tiny(max_iters=3), checkpoint=ck, resume=True)
    with pytest.raises(ValueError, match="padding must be one of"):
        tiny(padding="reflect")


def test_replicate_padding_in_the_activations_dtype_changes_no_forward_value():
    """Under bfloat16 autocast the net pads its activations by replication in bfloat16 instead of
    autocast's float32 (net.conv_same_dtype): the same forward values, gradients within bfloat16's
    rounding (the edges' sums are rounded in bfloat16), and without autocast the layer itself."""
    from zstsr_trainer import net as netmod

    torch.manual_seed(0)
    net = netmod.to_channels_last(TSRNet(8, 4))
    x = torch.rand(2, 3, 5, 14, 18)

    def run(padded_by_layer: bool):
        net.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            if padded_by_layer:
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(netmod, "conv_same_dtype", lambda layer, v: layer(v))
                    out = net(x)
            else:
                out = net(x)
        out.float().square().mean().backward()
        return out.detach().float(), [p.grad.clone() for p in net.parameters()]

    (a, ga), (b, gb) = run(True), run(False)
    assert torch.equal(a, b)
    for u, v in zip(ga, gb):
        assert torch.allclose(u, v, rtol=0, atol=2 ** -7 * float(u.abs().max()))
    layer = next(m for m in net.body if isinstance(m, torch.nn.Conv2d))
    v = torch.rand(3, 8, 9, 11)
    assert torch.equal(netmod.conv_same_dtype(layer, v), layer(v))
