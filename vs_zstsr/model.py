"""Loading a zstsr ONNX model (numpy + onnxruntime only; never torch).

``load_model(path)`` validates the file and its metadata and picks an execution provider:

* ``cpu``; ``cuda`` (error if no GPU); ``tensorrt`` (TensorRT, then CUDA, then CPU);
* ``auto``: CUDA only when a GPU is really there, else CPU, silently. onnxruntime-gpu lists the
  CUDA provider even on machines without a GPU and prints a red multi-line error when asked for it
  (docs/PROTOTYPE.md), so we probe the driver ourselves (libcuda's ``cuDeviceGetCount``) before asking.

``fp16=True`` runs the net in float16 on CUDA/TensorRT (inputs and outputs stay float32); on the CPU
it is ignored - onnxruntime's CPU float16 convolutions are slower than float32, not faster. Converting
the graph for CUDA needs the ``onnx`` package (TensorRT does it itself).
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
from dataclasses import dataclass

import numpy as np

from .errors import ZstsrError
from .options import GPU_PROVIDERS, PROVIDERS

FORMAT_VERSION = "1"     # must match zstsr_export.FORMAT_VERSION


@functools.lru_cache(maxsize=1)
def gpu_count() -> int:
    """Number of CUDA devices the driver reports (0 without a driver); never raises."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return 0
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        n = ctypes.c_int(0)
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGetCount(ctypes.byref(n)) != 0:
            return 0
        return int(n.value)
    except (OSError, AttributeError):
        return 0


@dataclass
class TSRModel:
    session: object
    metadata: dict
    path: str
    provider: str          # the provider actually running the graph
    fp16: bool
    request: tuple = ("auto", 0, False, 0)  # load_model's provider, device_id, fp16, num_threads

    def __reduce__(self):
        # Pickled as its ONNX bytes and loaded again on the other side with the same request
        # (not the provider it got here: a CPU node must not be asked for CUDA), so a renderer
        # can travel to other machines through Ray's object store (vs_zstsr/distributed.py).
        with open(self.path, "rb") as f:
            return _from_bytes, (f.read(), os.path.basename(self.path), *self.request)

    @property
    def receptive_field(self) -> dict:
        """Reach of one output sample, each side: ``{"frames": LTR frames, "pixels": pixels}``."""
        return {"frames": int(self.metadata["receptive_field_frames"]),
                "pixels": int(self.metadata["receptive_field_pixels"])}

    @property
    def factor(self) -> int:
        return int(self.metadata.get("factor", 2))

    @property
    def given_base(self) -> bool:
        """Whether the graph takes its base's x2 as a second input (a net over flow; see
        vs_zstsr/methods.py ``NET_BASES``) rather than computing cubic's itself."""
        return len(self.session.get_inputs()) == 2

    def run(self, ltr: np.ndarray, base: np.ndarray | None = None) -> np.ndarray:
        """``(T, H, W, 3)`` float32 in [0, 1] -> ``(2T, H, W, 3)`` float32 (not clipped). ``base``:
        the base's x2 ``(2T, H, W, 3)``, required by a model over a given base (only by one)."""
        ltr = np.asarray(ltr, dtype=np.float32)
        if ltr.ndim != 4 or ltr.shape[-1] != 3:
            raise ZstsrError(f"model input must be (T, H, W, 3) frames, got shape {ltr.shape}")
        x = np.ascontiguousarray(ltr.transpose(3, 0, 1, 2)[None])
        feed = {"ltr": x}
        if (base is not None) != self.given_base:
            raise ZstsrError(f"{self.path}: the net over the {self.metadata.get('base', 'cubic')} base "
                             + ("needs that base's x2 as an input" if self.given_base else "takes no base input"))
        if base is not None:
            base = np.asarray(base, dtype=np.float32)
            if base.shape != (2 * ltr.shape[0],) + ltr.shape[1:]:
                raise ZstsrError(f"the base's x2 must be {2 * ltr.shape[0]} frames of the input's size, "
                                 f"got shape {base.shape}")
            feed["base"] = np.ascontiguousarray(base.transpose(3, 0, 1, 2)[None])
        y = self.session.run(["htr"], feed)[0]
        if y.shape != (1, 3, 2 * x.shape[2]) + x.shape[3:]:
            raise ZstsrError(f"{self.path}: the net turned {x.shape[2]} frames of {x.shape[4]}x{x.shape[3]} into "
                             f"an output of shape {tuple(y.shape)}, not {2 * x.shape[2]} frames of that size")
        # One sum (no copy) finds any NaN or infinity: a damaged model must not render black frames.
        if not np.isfinite(y.sum()):
            raise ZstsrError(f"{self.path}: the net's output holds NaN or infinite values (a damaged or "
                             "badly trained model); retrain it, or delete it if it is in the cache")
        return np.ascontiguousarray(y[0].transpose(1, 2, 3, 0))


# Bounds of a sane net's reach (each side): the nets zstsr trains reach a few frames and pixels
# (zstsr_trainer.net.receptive_field); larger values in a file are damage, and would make every
# chunk's context (vs_zstsr/stream.py) huge.
MAX_REACH = {"receptive_field_frames": 64, "receptive_field_pixels": 1024}


def _check_metadata(path: str, meta: dict) -> None:
    """The metadata the runtime relies on: a x2 model with a whole, bounded reach."""
    for key, top in MAX_REACH.items():
        v = meta.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= top:
            raise ZstsrError(f"{path}: bad metadata {key}={v!r} (a whole number from 0 to {top}); "
                             "re-export the model with zstsr export")
    if meta.get("factor", 2) != 2:
        raise ZstsrError(f"{path}: metadata says the model multiplies frames by {meta.get('factor')!r}; "
                         "zstsr models double them (factor 2)")


def _parse_metadata(raw: dict) -> dict:
    meta = {}
    for k, v in raw.items():
        try:
            meta[k] = json.loads(v)
        except (ValueError, TypeError):
            meta[k] = v
    return meta


def _to_fp16(path: str) -> bytes:
    """The graph with float16 weights and compute, float32 at its input and output."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ZstsrError("fp16 on CUDA needs the 'onnx' package (pip install onnx)") from None
    m = onnx.load(path)
    g = m.graph
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for node in g.node:
        for a in node.attribute:   # Constant nodes holding float tensors
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == TensorProto.FLOAT:
                a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16)))
    inps, out = [i.name for i in g.input], g.output[0].name
    for node in g.node:            # rewire: ltr (and base) -> Cast(fp16) -> graph -> Cast(fp32) -> htr
        node.input[:] = [i + "_fp16" if i in inps else i for i in node.input]
        node.output[:] = [out + "_fp16" if o == out else o for o in node.output]
    for inp in inps:
        g.node.insert(0, helper.make_node("Cast", [inp], [inp + "_fp16"], to=TensorProto.FLOAT16))
    g.node.append(helper.make_node("Cast", [out + "_fp16"], [out], to=TensorProto.FLOAT))
    del g.value_info[:]
    return m.SerializeToString()


def trt_engine_folder(path: str, device_id: int, fp16: bool) -> str:
    """Where TensorRT keeps the engines it builds for the model at ``path``: in the model cache
    (:func:`.fit.cache_dir`), one folder per model content, precision and device, so that an
    engine is built once, not on every run (vs-mlrt's ``engine_folder``). Shapes are told apart
    inside it by onnxruntime, which names each engine file after its input-shape profile (one
    model runs at several shapes: each rung's size, tiles)."""
    import hashlib

    from .fit import cache_dir

    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return str(cache_dir() / "tensorrt" / f"{digest}-{'fp16' if fp16 else 'fp32'}-gpu{device_id}")


def provider_chain(provider: str, path: str, device_id: int = 0, fp16: bool = False) -> list:
    """onnxruntime's providers, best first, for a resolved ``provider`` (cpu, cuda, tensorrt);
    the CPU always comes last (the fallback)."""
    chain: list = []
    if provider == "tensorrt":
        folder = trt_engine_folder(path, device_id, fp16)
        chain.append(("TensorrtExecutionProvider", {
            "device_id": device_id, "trt_fp16_enable": bool(fp16),
            "trt_engine_cache_enable": True, "trt_engine_cache_path": folder,
            "trt_timing_cache_enable": True, "trt_timing_cache_path": folder}))
    if provider in GPU_PROVIDERS:
        chain.append(("CUDAExecutionProvider", {"device_id": device_id}))
    chain.append("CPUExecutionProvider")
    return chain


def load_model(path, provider: str = "auto", device_id: int = 0, fp16: bool = False,
               num_threads: int = 0) -> TSRModel:
    """Load and validate a zstsr ONNX model; see the module doc for ``provider`` and ``fp16``."""
    path = os.fspath(path)
    if provider not in PROVIDERS:
        raise ZstsrError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if not os.path.isfile(path):
        raise ZstsrError(f"model file not found: {path}")
    import onnxruntime as ort

    if provider == "auto":
        gpu = gpu_count() > device_id and "CUDAExecutionProvider" in ort.get_available_providers()
        provider = "cuda" if gpu else "cpu"
        explicit = False
    else:
        explicit = True
    if provider in GPU_PROVIDERS and gpu_count() <= device_id:
        raise ZstsrError(f"provider {provider!r} needs a CUDA GPU (device {device_id}); none was found")

    chain = provider_chain(provider, path, device_id, fp16)
    if provider == "tensorrt":
        os.makedirs(chain[0][1]["trt_engine_cache_path"], exist_ok=True)
    if provider in GPU_PROVIDERS:
        if hasattr(ort, "preload_dlls"):   # CUDA/cuDNN from pip's nvidia-* wheels, if that is where they are
            try:
                ort.preload_dlls()
            except Exception:
                pass
    use_fp16 = fp16 and provider == "cuda"

    so = ort.SessionOptions()
    so.log_severity_level = 3 if explicit else 4   # auto stays silent; an explicit choice may warn
    so.intra_op_num_threads = max(0, int(num_threads))
    # No memory patterns on the CPU: onnxruntime plans and keeps one block per input shape it has
    # seen, and the net sees many (tiles of two sizes, slices, the self-ensemble's rotated
    # copies): 1.0-1.1 GiB of the peak at 1080p's upper rungs, and no slower (docs/BENCHMARKS.md,
    # "The net's pieces at 1080p and 4K"). The GPU providers keep the default until
    # scripts/gpu-check measures them.
    so.enable_mem_pattern = provider in GPU_PROVIDERS
    try:
        source = _to_fp16(path) if use_fp16 else path
        sess = ort.InferenceSession(source, so, providers=chain)
    except ZstsrError:
        raise
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ZstsrError(f"{path} is not a loadable ONNX model ({first[:200]})") from None

    meta = _parse_metadata(sess.get_modelmeta().custom_metadata_map)
    if meta.get("format") != "zstsr":
        raise ZstsrError(f"{path} is an ONNX model but not a zstsr model (no zstsr metadata)")
    version = str(meta.get("format_version"))
    if version != FORMAT_VERSION:
        raise ZstsrError(f"{path} has model format version {version}; this zstsr reads version "
                         f"{FORMAT_VERSION} (re-export it with this version's trainer)")
    _check_metadata(path, meta)
    from .methods import NET_BASES

    if str(meta.get("base", "cubic")) not in NET_BASES:
        raise ZstsrError(f"{path}: unknown base {meta.get('base')!r} (this zstsr knows {', '.join(NET_BASES)})")
    inputs = ["ltr"] if NET_BASES[str(meta.get("base", "cubic"))][0] == "cubic" else ["ltr", "base"]
    if [i.name for i in sess.get_inputs()] != inputs or [o.name for o in sess.get_outputs()] != ["htr"]:
        raise ZstsrError(f"{path}: expected the input{'s' if len(inputs) > 1 else ''} {', '.join(map(repr, inputs))} "
                         f"and one output 'htr' for a net over the {meta.get('base', 'cubic')} base")
    active = sess.get_providers()[0]
    if explicit and provider == "cuda" and active != "CUDAExecutionProvider":
        raise ZstsrError("the CUDA provider failed to start (CUDA/cuDNN libraries missing?); use provider='cpu'")
    name = {"TensorrtExecutionProvider": "tensorrt", "CUDAExecutionProvider": "cuda"}.get(active, "cpu")
    return TSRModel(sess, meta, path, name, use_fp16 or (fp16 and name == "tensorrt"),
                    (provider if explicit else "auto", device_id, fp16, num_threads))


def _from_bytes(data: bytes, name: str, *request) -> TSRModel:
    """A pickled :class:`TSRModel`: its bytes kept in a file named by their hash (once per process
    and content; the file is what ``load_model`` and ``fp16`` conversion read), then loaded."""
    import hashlib
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), "zstsr-models")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{hashlib.sha256(data).hexdigest()[:20]}-{name}")
    if not os.path.isfile(path):
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".partial")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return load_model(path, *request)
