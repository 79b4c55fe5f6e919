"""zstsr: zero-shot temporal super-resolution (Across Scales & Across Dimensions, ECCV 2020).

Three import packages ship from this source tree:

* ``vs_zstsr``       (folder ``vs_zstsr/``) the torch-free runtime: kernels, ladder, I/O, CLI, the
                     VapourSynth filter. Needs numpy, onnxruntime, av, vapoursynth.
* ``zstsr_trainer``  (folder ``trainer/``) the zero-shot trainer. Needs torch.
* ``zstsr_export``   (folder ``export/``) ONNX export and the torch/onnxruntime parity check.

The folders ``trainer/`` and ``export/`` are installed under the unique names above so that nothing
called plain ``trainer`` or ``export`` lands in site-packages.
"""
import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

SHIM = "vs_zstsr/_shim"


class build_shim(build_ext):
    """Builds the VapourSynth shim as a plain shared library ``vs_zstsr/_shim/libzstsr.so`` (no
    Python module init, no link to libpython: it finds Python's symbols at run time).

    A wheel also carries a copy at ``vapoursynth/plugins/libzstsr.so``, the folder VapourSynth
    autoloads from (``vapoursynth.get_plugin_dir()``, as vapoursynth-mvtools' wheel does), so
    ``pip install zstsr`` is enough. An editable install builds it in place; ``make`` (or
    ``python -m vs_zstsr.filter install-plugin``) then links it into the plugin folder.
    """

    def get_ext_filename(self, fullname):
        # called with the full dotted name or only its last part, depending on the caller
        if fullname.split(".")[-1] == "libzstsr":
            return os.path.join(*fullname.split(".")[:-1], "libzstsr.so")
        return super().get_ext_filename(fullname)

    def get_export_symbols(self, ext):
        return ext.export_symbols  # not PyInit_*: it is a VapourSynth plugin, not a Python module

    def run(self):
        super().run()
        if self.inplace or getattr(self, "editable_mode", False):
            return
        built = os.path.join(self.build_lib, SHIM, "libzstsr.so")
        if os.path.isfile(built):
            plugins = os.path.join(self.build_lib, "vapoursynth", "plugins")
            self.mkpath(plugins)
            self.copy_file(built, os.path.join(plugins, "libzstsr.so"))


SHIM_EXT = Extension(
    "vs_zstsr._shim.libzstsr",
    sources=[f"{SHIM}/zstsr_shim.c"],
    include_dirs=[f"{SHIM}/include"],  # VapourSynth4.h (LGPL-2.1, the plugin API header) vendored
    extra_compile_args=["-O2", "-fvisibility=hidden"],
    libraries=["dl", "pthread"],
)

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
RAY = ["ray>=2.40"]  # `--ray`: rendering on a cluster (vs_zstsr/distributed.py, docs/SCALE.md)

setup(
    name="zstsr",
    version="0.1.0",
    description="Zero-shot temporal super-resolution: deblur and de-alias video x2..x16 in time",
    long_description=__doc__,
    python_requires=">=3.12",
    packages=["vs_zstsr", "zstsr_trainer", "zstsr_export"],
    package_dir={"vs_zstsr": "vs_zstsr", "zstsr_trainer": "trainer", "zstsr_export": "export"},
    install_requires=RUNTIME,
    extras_require={"train": TRAIN, "ray": RAY, "dev": TRAIN + RAY + ["pytest>=8", "imageio-ffmpeg>=0.5"]},
    entry_points={"console_scripts": ["zstsr = vs_zstsr.cli:main"]},
    ext_modules=[SHIM_EXT],
    cmdclass={"build_ext": build_shim},
    package_data={"vs_zstsr": ["_shim/*.c", "_shim/include/*.h"]},
    license="MIT",
)
