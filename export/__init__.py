"""zstsr_export: ONNX export with metadata and the torch/onnxruntime parity check."""
from .onnx import FORMAT_VERSION, build_metadata, check_parity, export_onnx, load_onnx_net

__all__ = ["export_onnx", "check_parity", "build_metadata", "load_onnx_net", "FORMAT_VERSION"]
