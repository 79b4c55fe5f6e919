"""zstsr: zero-shot temporal super-resolution (Across Scales & Across Dimensions, ECCV 2020).

Three import packages ship from this source tree:

* ``vs_zstsr``       (folder ``vs_zstsr/``) the torch-free runtime: kernels, ladder, I/O, CLI, the
                     VapourSynth filter. Needs numpy, onnxruntime, av, vapoursynth.
* ``zstsr_trainer``  (folder ``trainer/``) the zero-shot trainer. Needs torch.
* ``zstsr_export``   (folder ``export/``) ONNX export and the torch/onnxruntime parity check.

The folders ``trainer/`` and ``export/`` are installed under the unique names above so that nothing
called plain ``trainer`` or ``export`` lands in site-packages.
"""
from setuptools import setup

RUNTIME = [
    "numpy>=1.26",
    "av>=14",
    "onnxruntime-gpu>=1.20",  # lists CPU, CUDA and TensorRT providers; falls back to the CPU
    "vapoursynth>=72",
    "vapoursynth-mvtools>=24",  # MVTools FlowFPS, one of the baselines we measure against
    "click>=8.1",
    "tqdm>=4.66",
    "matplotlib>=3.8",  # `zstsr eval --plot`
]
TRAIN = ["torch>=2.4", "onnx>=1.16"]

setup(
    name="zstsr",
    version="0.1.0",
    description="Zero-shot temporal super-resolution: deblur and de-alias video x2..x16 in time",
    long_description=__doc__,
    python_requires=">=3.12",
    packages=["vs_zstsr", "zstsr_trainer", "zstsr_export"],
    package_dir={"vs_zstsr": "vs_zstsr", "zstsr_trainer": "trainer", "zstsr_export": "export"},
    install_requires=RUNTIME,
    extras_require={"train": TRAIN, "dev": TRAIN + ["pytest>=8"]},
    entry_points={"console_scripts": ["zstsr = vs_zstsr.cli:main"]},
    license="MIT",
)
