"""ONNX export (metadata, dynamic shapes, parity with torch) and the torch-free runtime loader."""
import os

import numpy as np
import onnx
import pytest
import torch

from vs_zstsr.errors import ZstsrError
from vs_zstsr.model import load_model, gpu_count
from zstsr_export import FORMAT_VERSION, check_parity, export_onnx
from zstsr_export.onnx import load_onnx_net
from zstsr_trainer import TrainConfig, save_checkpoint
from zstsr_trainer.net import TSRNet

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    n = TSRNet(8, 8).eval()
    with torch.no_grad():   # a non-trivial residual, so parity tests the body, not just cubic
        n.body[-1].weight.mul_(10)
    return n


@pytest.fixture(scope="module")
def model_path(net, tmp_path_factory):
    return export_onnx(net, str(tmp_path_factory.mktemp("m") / "x2.onnx"), {"training_scale": 0.25})


def test_parity_with_dynamic_shapes(net, model_path):
    worst = check_parity(net, model_path, shapes=((4, 20, 28), (9, 33, 17)))
    assert worst < 1e-4



@pytest.mark.parametrize("width, base, padding", [(8, "cubic", "replicate"), (32, "cubic_bp", "replicate"),
                                                   (16, "flow", "replicate"), (8, "cubic", "zeros"),
                                                   (16, "flow", "zeros")])
def test_the_graph_runs_the_last_layer_as_a_2d_convolution_with_the_same_function(width, base, padding, tmp_path):
    """onnxruntime's blocked 2-D kernels are the fast ones (trainer/net.py, NCHWC_CHANNELS): in the
    graph the last layer (3 outputs, 3x3x3) is one 2-D convolution with 16 outputs, the other
    3x3x3 layers stay 3-D; torch's net and the graph agree on clips of 1 and 2 frames (where time
    is clamped, or zero, on both sides) and longer ones, with either padding; the padding is in the
    model's metadata, and a zero-padded graph has no Pad nodes (its convolutions pad)."""
    torch.manual_seed(1)
    n = TSRNet(width, 8, base=base, padding=padding).eval()
    with torch.no_grad():
        n.body[-1].weight.mul_(10)
    path = export_onnx(n, str(tmp_path / "m.onnx"))
    convs = [node for node in onnx.load(path).graph.node if node.op_type == "Conv"]
    kernels = [next(list(a.ints) for a in c.attribute if a.name == "kernel_shape") for c in convs]
    assert [len(k) for k in kernels] == [3, 3, 2, 2, 2, 2, 2, 2]
    assert check_parity(n, path, shapes=((1, 6, 7), (2, 9, 5), (7, 12, 10))) < 1e-4
    back = load_onnx_net(path)                  # the weights are still the graph's initializers
    assert back.padding == padding and all(torch.equal(v, back.state_dict()[k]) for k, v in n.state_dict().items())
    pads = [node for node in onnx.load(path).graph.node if node.op_type == "Pad"]
    assert (len(pads) == 0) == (padding == "zeros")

def test_metadata(model_path):
    meta = {p.key: p.value for p in onnx.load(model_path).metadata_props}
    assert meta["factor"] == "2" and meta["format_version"] == FORMAT_VERSION
    assert meta["colour_space"] == "R'G'B' gamma-encoded [0,1]"
    assert meta["training_scale"] == "0.25"
    assert meta["receptive_field_frames"] == "3" and meta["receptive_field_pixels"] == "8"
    assert not [p for p in os.listdir(os.path.dirname(model_path)) if p.endswith(".tmp")]


def test_export_from_checkpoint_carries_config(net, tmp_path):
    ck = str(tmp_path / "a.ckpt")
    save_checkpoint(ck, net, TrainConfig(width=8, depth=8), state={"iteration": 7, "seconds": 1.5})
    path = export_onnx(ck, str(tmp_path / "a.onnx"))
    m = load_model(path)
    assert m.metadata["config"]["width"] == 8 and m.metadata["iterations"] == 7
    assert check_parity(net, path) < 1e-4


def test_runtime_model_matches_torch(net, model_path):
    m = load_model(model_path, provider="auto")
    assert m.provider == ("cuda" if gpu_count() else "cpu")
    assert m.receptive_field == {"frames": 3, "pixels": 8}
    x = np.random.default_rng(0).random((6, 14, 22, 3), dtype=np.float32)
    y = m.run(x)
    assert y.shape == (12, 14, 22, 3) and y.dtype == np.float32
    with torch.no_grad():
        ref = net(torch.from_numpy(x).permute(3, 0, 1, 2)[None])[0].permute(1, 2, 3, 0).numpy()
    np.testing.assert_allclose(y, ref, atol=1e-4)


def test_the_session_keeps_no_memory_pattern_per_shape(model_path):
    """The net runs on many shapes (tiles, slices, rotated copies); on the CPU a pattern kept for
    each cost 1.0-1.1 GiB of the peak at 1080p's upper rungs (vs_zstsr/model.py)."""
    assert load_model(model_path, provider="cpu").session.get_session_options().enable_mem_pattern is False


def test_fp16_graph_conversion_is_close(model_path):
    # The CUDA fp16 path converts the graph; check the converted graph itself on the CPU provider.
    import onnxruntime as ort
    from vs_zstsr.model import _to_fp16

    x = np.random.default_rng(1).random((1, 3, 5, 12, 16), dtype=np.float32)
    ref = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"]).run(None, {"ltr": x})[0]
    got = ort.InferenceSession(_to_fp16(model_path), providers=["CPUExecutionProvider"]).run(None, {"ltr": x})[0]
    assert got.dtype == np.float32 and np.abs(got - ref).max() < 1e-2
    assert load_model(model_path, provider="cpu", fp16=True).fp16 is False   # ignored on the CPU


def test_bad_files(tmp_path, net):
    with pytest.raises(ZstsrError, match="not found"):
        load_model(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not a protobuf")
    with pytest.raises(ZstsrError, match="not a loadable ONNX model") as e:
        load_model(junk)
    assert "\n" not in str(e.value)
    old = export_onnx(net, str(tmp_path / "old.onnx"), {"format_version": "0"})
    with pytest.raises(ZstsrError, match="format version 0"):
        load_model(old)
    plain = onnx.load(old)
    del plain.metadata_props[:]
    onnx.save(plain, str(tmp_path / "plain.onnx"))
    with pytest.raises(ZstsrError, match="not a zstsr model"):
        load_model(tmp_path / "plain.onnx")
    with pytest.raises(ZstsrError, match="unknown provider"):
        load_model(old, provider="metal")


@pytest.mark.skipif(gpu_count() > 0, reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error(model_path, capfd):
    with pytest.raises(ZstsrError, match="needs a CUDA GPU"):
        load_model(model_path, provider="cuda")
    load_model(model_path, provider="auto")
    out, err = capfd.readouterr()
    assert out == "" and err == ""        # auto falls back silently


def test_models_written_before_the_conv2d_layers_still_load():
    """tests/data/tsrnet_conv3d_4x4.onnx was exported when every body layer was a Conv3d and the
    cubic filter a buffer: the runtime runs it, and load_onnx_net (fine-tuning, checkpoints) turns it
    into today's net computing the same function."""
    from zstsr_export import load_onnx_net

    path = os.path.join(os.path.dirname(__file__), "data", "tsrnet_conv3d_4x4.onnx")
    x = np.random.default_rng(2).random((5, 12, 18, 3), dtype=np.float32)
    y = load_model(path, provider="cpu").run(x)
    net = load_onnx_net(path)
    assert isinstance(net.body[4], torch.nn.Conv2d)
    with torch.no_grad():
        xt = torch.from_numpy(x).permute(3, 0, 1, 2)[None]
        ref = net(xt)[0].permute(1, 2, 3, 0).numpy()
        cubic = net.interp(xt)[0].permute(1, 2, 3, 0).numpy()
    assert np.abs(ref - cubic).max() > 1e-3     # the residual is there, not only the cubic base
    np.testing.assert_allclose(y, ref, atol=1e-4)


def test_tensorrt_keeps_its_engines_in_the_model_cache(model_path, tmp_path, monkeypatch):
    """What the TensorRT provider is given (checked here without a GPU): an engine cache in the
    model cache folder, one folder per model content, precision and device."""
    from vs_zstsr.model import provider_chain

    monkeypatch.setenv("ZSTSR_CACHE", str(tmp_path / "cache"))
    chain = provider_chain("tensorrt", model_path, device_id=1, fp16=True)
    assert [p if isinstance(p, str) else p[0] for p in chain] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    trt = chain[0][1]
    assert trt["trt_engine_cache_enable"] and trt["trt_fp16_enable"] and trt["device_id"] == 1
    folder = trt["trt_engine_cache_path"]
    assert folder.startswith(str(tmp_path / "cache")) and folder.endswith("-fp16-gpu1")
    assert provider_chain("tensorrt", model_path, 1, True)[0][1]["trt_engine_cache_path"] == folder
    assert provider_chain("tensorrt", model_path, 1, False)[0][1]["trt_engine_cache_path"] != folder
    assert provider_chain("cpu", model_path) == ["CPUExecutionProvider"]


def test_cli_export_writes_nothing_when_the_check_fails(net, tmp_path, monkeypatch):
    """`zstsr export` checks the graph under a temporary name: one that fails never takes OUTPUT's
    name, nor replaces (with -y) the file there."""
    import zstsr_export
    from click.testing import CliRunner
    from vs_zstsr.cli import main

    ck = str(tmp_path / "a.ckpt")
    save_checkpoint(ck, net, TrainConfig(width=8, depth=8), state={"iteration": 7, "seconds": 1.5})
    out = tmp_path / "a.onnx"
    out.write_bytes(b"an earlier export")

    def fails(*a, **k):
        raise AssertionError("torch and onnxruntime differ by 0.5 > 0.0001")

    monkeypatch.setattr(zstsr_export, "check_parity", fails)
    r = CliRunner().invoke(main, ["export", ck, "-o", str(out), "-y"])
    assert r.exit_code == 1 and "fails the check" in r.output
    assert out.read_bytes() == b"an earlier export" and sorted(p.name for p in tmp_path.iterdir()) == ["a.ckpt", "a.onnx"]
    monkeypatch.undo()
    r = CliRunner().invoke(main, ["export", ck, "-o", str(out), "-y"])
    assert r.exit_code == 0 and load_model(str(out)).metadata["iterations"] == 7
