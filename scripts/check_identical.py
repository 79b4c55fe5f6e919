#!/usr/bin/env python3
"""Refactoring guard: the same inputs give bit-identical outputs before and after a change.

    python scripts/check_identical.py --record    # once, on the code before the change
    python scripts/check_identical.py             # after it: every job must say "same"

Not a benchmark (nothing is timed or scored): it runs the user-facing entry points (``zstsr
upsample`` and ``core.zstsr.Upsample``) on a few small clips with fixed inputs and one fixed model,
and compares a hash of every output frame (decoded to float) and the self-check's log lines with
what ``--record`` stored. Training is timed by the wall clock and so never repeats exactly: the
model is trained once (``zstsr train --budget 20s`` + ``zstsr export``), kept in ``--ref`` and
passed with ``--model`` to every job after that. Clips: the fan (192x288, 32 frames, aliased
rotation), the texture (small, 8 frames) and a 160x224 crop of 24 frames of ../shared/data's
cityCC0.mpg (real footage), each as 16-bit FFV1 so that small differences are not rounded away.
Run it under ``flock /work/locks/bench`` on a shared machine (a minute or two of CPU).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
ZSTSR = [sys.executable, "-m", "vs_zstsr"]
# ../shared/data beside the checkout (or beside its worktrees' folder)
REAL = next((d / "cityCC0.mpg" for d in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
             if (d / "cityCC0.mpg").exists()), Path("/work/shared/data/cityCC0.mpg"))
CACHE = {"ZSTSR_CACHE": ""}   # set to a folder under --ref: no job may find a model trained earlier


def _run(cmd: list[str]) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **CACHE})
    if p.returncode:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return p.stderr


def _clips(ref: Path) -> dict[str, Path]:
    from fractions import Fraction

    from scenes import render

    from vs_zstsr import io
    from vs_zstsr.resample import rect_downsample

    out = {}
    for name, size in (("fan", "large"), ("texture", "small")):
        path = ref / f"{name}.mkv"
        if not path.exists():
            htr, rate = render(name, size=size, subsamples=8, seed=0)
            io.write_video(path, rect_downsample(htr, 8), Fraction(rate) / 8, bit_depth=16, codec="ffv1")
        out[name] = path
    path = ref / "city.mkv"
    if not path.exists() and REAL.exists():
        vi = io.probe(REAL)
        frames = []
        for f in io.read_frames(REAL, vi):
            h, w = f.shape[:2]
            frames.append(f[(h - 160) // 2:(h - 160) // 2 + 160, (w - 224) // 2:(w - 224) // 2 + 224])
            if len(frames) == 24:
                break
        io.write_video(path, np.stack(frames), vi.rate, bit_depth=16, codec="ffv1")
    if path.exists():
        out["city"] = path
    return out


def _model(ref: Path, fan: Path) -> Path:
    onnx = ref / "model.onnx"
    if not onnx.exists():
        _run(ZSTSR + ["train", str(fan), "-o", str(ref / "model.pt"), "--budget", "20s", "--examples", "both",
                      "--preset", "fast"])
        _run(ZSTSR + ["export", str(ref / "model.pt"), "-o", str(onnx)])
    return onnx


def _hash_frames(frames) -> str:
    h = hashlib.sha256()
    for f in frames:
        h.update(np.ascontiguousarray(f, np.float32).tobytes())
    return h.hexdigest()[:24]


def _log_lines(stderr: str) -> list[str]:
    """The lines that say what was chosen (not paths or timings)."""
    keep = ("self-check", "ladder", "no ladder", "above the net", "the net did not")
    return [ln.split("zstsr: ", 1)[-1] for ln in stderr.splitlines() if any(k in ln for k in keep)]


def _cli_job(clip: Path, out: Path, args: list[str]) -> dict:
    from vs_zstsr import io

    if out.exists():
        out.unlink()
    err = _run(ZSTSR + ["upsample", str(clip), "-o", str(out), "--factor", "8"] + args)
    return {"frames": _hash_frames(io.read_frames(out)), "log": _log_lines(err)}


def _filter_job(clip: Path, kwargs: dict) -> dict:
    code = f"""
import hashlib, json, numpy as np, vapoursynth as vs
from vs_zstsr.filter import source
core = vs.core
logs = []
core.add_log_handler(lambda t, m: logs.append(m))
c = core.resize.Point(source({str(clip)!r}), format=vs.RGBS)
out = core.zstsr.Upsample(c, 8, **{kwargs!r})
h = hashlib.sha256()
for i in range(out.num_frames):
    f = out.get_frame(i)
    h.update(np.stack([np.asarray(f[p]) for p in range(3)], -1).astype(np.float32).tobytes())
print(json.dumps({{"frames": h.hexdigest()[:24], "logs": logs}}))
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, **CACHE})
    if p.returncode:
        raise SystemExit(f"filter job failed: {kwargs}\n{p.stderr}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return {"frames": r["frames"], "log": _log_lines("\n".join(r["logs"]))}


def jobs(ref: Path, only: str | None = None) -> dict[str, dict]:
    clips = _clips(ref)
    model = str(_model(ref, clips["fan"]))
    tmp = ref / "out"
    tmp.mkdir(exist_ok=True)
    results = {}
    light = ("cubic", ["--method", "cubic"]), ("linear", ["--method", "linear"]), ("flow", ["--method", "flow"]), \
        ("auto", ["--method", "auto", "--model", model])
    # the net on every rung (at full size, with the self-ensemble) only on the small clip: it is slow
    heavy = ("net", ["--method", "net", "--model", model]), \
        ("net tiled e2", ["--method", "net", "--model", model, "--tilesize", "32", "--ensemble", "2"]), \
        ("auto e1 no-cuts", ["--model", model, "--ensemble", "1", "--scene-threshold", "0"])
    for name, clip in clips.items():
        for label, args in light + (heavy if name == "texture" else ()):
            key = f"cli {name} {label}"
            if only and only not in key:
                continue
            print(key, flush=True)
            results[key] = _cli_job(clip, tmp / f"{name}.{label.replace(' ', '_')}.mkv", args)
    for name, label, kw in (("fan", "cubic", {"method": "cubic"}), ("fan", "auto", {"model": model}),
                            ("texture", "net e2", {"model": model, "method": "net", "ensemble": 2})):
        key = f"filter {name} {label}"
        if only and only not in key:
            continue
        print(key, flush=True)
        results[key] = _filter_job(clips[name], kw)
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ref", default="/tmp/zstsr_ref", help="folder for the clips, the model and the record")
    ap.add_argument("--record", action="store_true", help="store this code's outputs as the reference")
    ap.add_argument("--only", default=None, help="only the jobs whose name has this word (e.g. texture: the "
                    "small clip, under a minute of CPU)")
    a = ap.parse_args(argv)
    ref = Path(a.ref)
    ref.mkdir(parents=True, exist_ok=True)
    CACHE["ZSTSR_CACHE"] = str(ref / "cache")
    results = jobs(ref, a.only)
    record = ref / "record.json"
    if a.record:
        record.write_text(json.dumps(results, indent=1))
        print(f"recorded {len(results)} jobs in {record}")
        return 0
    want = json.loads(record.read_text())
    bad = 0
    for key, r in results.items():
        w = want.get(key)
        same = w == r
        bad += not same
        print(f"{'same' if same else 'DIFFERS'}  {key}")
        if w is not None and not same:
            print(f"    before: {w}\n    after:  {r}")
    missing = sorted(k for k in set(want) - set(results) if not a.only or a.only in k)
    for key in missing:
        print(f"MISSING  {key}")
    print(f"{len(results) - bad} of {len(results)} jobs bit-identical to {record}")
    return 1 if bad or missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
