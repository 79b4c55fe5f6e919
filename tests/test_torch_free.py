"""The runtime never imports torch (only zstsr_trainer and zstsr_export do): checked in a fresh
process that imports every vs_zstsr module, runs ``zstsr upsample --method cubic`` and a
VapourSynth render, and then looks at sys.modules."""
import subprocess
import sys

CODE = r"""
import importlib, pkgutil, sys, tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import vs_zstsr

names = [m.name for m in pkgutil.iter_modules(vs_zstsr.__path__, "vs_zstsr.") if m.name != "vs_zstsr.__main__"]
for name in names:
    importlib.import_module(name)
assert "torch" not in sys.modules, "importing the runtime imported torch"

from vs_zstsr import io
from vs_zstsr.cli import main

tmp = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
io.write_video(tmp / "in.mkv", rng.random((6, 32, 48, 3)).astype(np.float32), Fraction(30), bit_depth=8)
try:
    main(["upsample", str(tmp / "in.mkv"), "-o", str(tmp / "out.mkv"), "-f", "2", "--method", "cubic"])
except SystemExit as e:
    assert e.code in (0, None), e.code
assert io.count_frames(tmp / "out.mkv") == 12

import vapoursynth as vs
from vs_zstsr.filter import source
clip = vs.core.zstsr.Upsample(vs.core.resize.Point(source(tmp / "in.mkv"), format=vs.RGBS), 2, method="cubic")
for i in range(clip.num_frames):
    clip.get_frame(i)
print(len(names), "modules", "torch" in sys.modules)
"""


def test_the_runtime_never_imports_torch():
    r = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    count, _, torch = r.stdout.split()
    assert int(count) >= 15 and torch == "False", r.stdout
