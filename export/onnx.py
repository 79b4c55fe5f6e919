"""Export a trained net to ONNX for the torch-free runtime, and check that both agree.

The graph maps ``ltr`` (1, 3, T, H, W) float32 R'G'B' in [0, 1] to ``htr`` (1, 3, 2T, H, W), with
T, H and W dynamic. Cubic x2 interpolation and the residual are inside it, so the runtime needs only
onnxruntime. A net over a given base (metadata ``base``: flow or flow_bp, trainer/net.py
``GIVEN_BASES``) has a second input ``base`` (1, 3, 2T, H, W): that interpolation's x2 of ``ltr``,
which the runtime computes (vs_zstsr/methods.py); back-projection, for flow_bp, is in the graph.
Metadata (``metadata_props``) tells the runtime what the model does; see FORMAT_VERSION.
"""
from __future__ import annotations

import io
import json
import os
import warnings

import numpy as np
import onnx
import torch

from vs_zstsr.io import atomic_path
from zstsr_trainer.net import TSRNet
from zstsr_trainer.train import load_checkpoint

FORMAT_VERSION = "1"        # bump when the graph's inputs/outputs or the metadata keys the runtime reads change
OPSET = 17
COLOUR_SPACE = "R'G'B' gamma-encoded [0,1]"


def _resolve(net_or_checkpoint) -> tuple[TSRNet, dict]:
    if hasattr(net_or_checkpoint, "net") and isinstance(net_or_checkpoint.net, TSRNet):   # TrainResult
        return net_or_checkpoint.net, {"config": net_or_checkpoint.config.to_dict(),
                                       "iterations": net_or_checkpoint.iterations,
                                       "training_seconds": round(net_or_checkpoint.seconds, 1),
                                       "training_precision": getattr(net_or_checkpoint, "precision", "float32")}
    if isinstance(net_or_checkpoint, TSRNet):
        return net_or_checkpoint, {}
    ck = load_checkpoint(os.fspath(net_or_checkpoint))
    return ck.net, {"config": ck.config.to_dict(), "iterations": ck.state.get("iteration"),
                    "training_seconds": ck.state.get("seconds")}


def build_metadata(net: TSRNet, metadata: dict | None = None, extra: dict | None = None) -> dict[str, str]:
    """All values as strings (ONNX metadata_props are string pairs); dicts/lists as JSON."""
    rf = net.receptive_field()
    meta = {"format": "zstsr", "format_version": FORMAT_VERSION, "factor": 2,
            "colour_space": COLOUR_SPACE, "training_scale": 1.0,
            "receptive_field_frames": rf["frames"], "receptive_field_pixels": rf["pixels"],
            "width": net.width, "depth": net.depth, "base": net.base, "padding": net.padding}
    meta.update(extra or {})
    meta.update(metadata or {})
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def load_onnx_net(path: str) -> TSRNet:
    """The torch net inside a zstsr ONNX file (its initializers carry the state-dict names), so a
    model can be trained further (per-rung fine-tuning) without a separate checkpoint."""
    from onnx import numpy_helper

    model = onnx.load(os.fspath(path))
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get("format") != "zstsr":
        raise ValueError(f"{path} is not a zstsr ONNX model")
    net = TSRNet(int(meta["width"]), int(meta["depth"]), base=meta.get("base", "cubic"),
                 padding=meta.get("padding", "replicate"))      # (models written before it: replicate)
    names = set(net.state_dict())
    state = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer
             if i.name in names}
    state.update({k: v for k, v in net.state_dict().items() if k not in state})   # fixed buffers
    net.load_state_dict(state)
    return net.eval()


def _to_onnx(net: TSRNet) -> onnx.ModelProto:
    net = net.to("cpu").eval()
    x = torch.rand(1, 3, 6, 20, 24)
    args, names, axes = (x,), ["ltr"], {"ltr": {2: "T", 3: "H", 4: "W"}, "htr": {2: "T2", 3: "H", 4: "W"}}
    if net.given_base:
        args, names = (x, torch.rand(1, 3, 12, 20, 24)), names + ["base"]
        axes["base"] = {2: "T2", 3: "H", 4: "W"}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the TorchScript exporter is chatty about Slice folding
        # no constant folding: the last layer's weights are rearranged in the graph
        # (zstsr_trainer.net.last_layer_on_frames), and folded they would lose the state-dict names
        # that load_onnx_net reads; onnxruntime folds them when it loads the graph
        torch.onnx.export(net, args, buf, input_names=names, output_names=["htr"], dynamo=False,
                          opset_version=OPSET, dynamic_axes=axes, do_constant_folding=False)
    return onnx.load_from_string(buf.getvalue())


def export_onnx(net_or_checkpoint, path: str, metadata: dict | None = None) -> str:
    """Write ``path`` atomically; ``metadata`` entries override/extend the defaults (e.g.
    ``training_scale``). Returns the path."""
    net, extra = _resolve(net_or_checkpoint)
    model = _to_onnx(net)
    for k, v in build_metadata(net, metadata, extra).items():
        model.metadata_props.add(key=k, value=v)
    model.doc_string = (f"zstsr temporal x2: the {net.base} base (given) + learned residual (ltr, base -> htr)"
                        if net.given_base else "zstsr temporal x2: cubic interpolation + learned residual (ltr -> htr)")
    onnx.checker.check_model(model)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(model.SerializeToString())
        f.flush()
        os.fsync(f.fileno())
    return path


def check_parity(net_or_checkpoint, path: str, shapes=((5, 24, 32), (9, 17, 41)), atol: float = 1e-4,
                 seed: int = 0) -> float:
    """Run torch and onnxruntime (CPU) on random LTR clips of each ``(T, H, W)``; return the largest
    absolute difference, raising AssertionError if it exceeds ``atol``."""
    import onnxruntime as ort

    net, _ = _resolve(net_or_checkpoint)
    net = net.to("cpu").eval()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    for t, h, w in shapes:
        x = rng.random((1, 3, t, h, w), dtype=np.float32)
        feed = {"ltr": x}
        if net.given_base:     # any x2 will do for parity: the graph takes it as it comes
            feed["base"] = rng.random((1, 3, 2 * t, h, w), dtype=np.float32)
        with torch.no_grad():
            ref = net(*(torch.from_numpy(v) for v in feed.values())).numpy()
        got = sess.run(["htr"], feed)[0]
        if got.shape != ref.shape:
            raise AssertionError(f"shape {got.shape} != {ref.shape} for input {x.shape}")
        worst = max(worst, float(np.abs(got - ref).max()))
    if worst > atol:
        raise AssertionError(f"torch and onnxruntime differ by {worst:.3g} > {atol:g}")
    return worst
