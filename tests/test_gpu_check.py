"""scripts/gpu-check's CPU parts: argument handling, provider fallbacks and the JSON it writes,
through its --dry-run (every part on the CPU at toy sizes)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check  # noqa: E402
from vs_zstsr.model import gpu_count  # noqa: E402


def test_dry_run_writes_every_part(tmp_path):
    assert gpu_check.main([str(tmp_path / "out"), "--dry-run"]) == 0
    out = tmp_path / "out"
    data = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert set(data) == {"env", "train_throughput", "inference", "x2_rung_fan", "x2_rung_texture", "summary"}
    assert not list(out.glob("*.tmp*"))
    tt = data["train_throughput"]
    assert tt["fastest"] in tt["variants"] and all(v["it_per_s"] > 0 for v in tt["variants"].values())
    providers = data["inference"]["providers"]
    if not gpu_count():     # no GPU: CUDA and TensorRT are recorded as unavailable, the CPU stands in
        assert providers["cuda-fp16"]["available"] is False and "GPU" in providers["cuda-fp16"]["reason"]
        assert providers["tensorrt-fp16"]["available"] is False
    assert providers["cpu-fp32"]["toy_whole_frames"]["fps"] > 0
    for scene in ("fan", "texture"):
        curve = data[f"x2_rung_{scene}"]["curve"]
        assert len(curve) == 2 and all(c["psnr"] > 10 for c in curve.values())
    assert data["summary"]["x2_rung_exit_codes"] == {"fan": 0, "texture": 0}


@pytest.mark.skipif(gpu_count() > 0, reason="checks the refusal on a machine without a GPU")
def test_refuses_without_a_gpu_unless_dry_run(tmp_path):
    r = subprocess.run([str(ROOT / "scripts" / "gpu-check"), str(tmp_path / "o")], capture_output=True, text=True,
                       env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith("gpu-check: error:")
    assert "Traceback" not in r.stderr


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit) as e:
        gpu_check.main([str(tmp_path), "--device-id", "-1", "--dry-run"])
    assert e.value.code == 2
