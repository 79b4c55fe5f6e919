"""zstsr_export: ONNX export with metadata and the torch/onnxruntime parity check."""
from .onnx import FORMAT_VERSION, build_metadata, check_parity, export_onnx

__all__ = ["export_onnx", "check_parity", "build_metadata", "FORMAT_VERSION"]
