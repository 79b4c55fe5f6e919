"""Measure the whole GPU path in one command and write the results as JSON (issue 15).

    scripts/gpu-check OUT [--device-id 0] [--dry-run]

Parts, each written to OUT as soon as it is done (about 8 minutes on one CUDA GPU; not yet run
on one, docs/BENCHMARKS.md):

1. ``env.json``: torch, CUDA, onnxruntime and its providers, the GPU.
2. ``train_throughput.json``: the paper preset's training step (``zstsr_trainer.train``'s net,
   optimizer and examples) in iterations/s and TFLOP/s, for fp32, bf16 autocast (channels-last,
   as ``train`` runs on CUDA) and bf16 under ``torch.compile(mode="reduce-overhead")`` (CUDA
   graphs); the fastest is named, with the minutes 75,000 iterations (the paper's run) would take.
3. ``x2_rung_<scene>.json``: the paper preset's x2-rung PSNR after 2 and 5 minutes of training on
   each example scene (benchmarks/bench_x2_rung.py: fan, texture), the scenes in parallel
   processes (a batch-1 step does not fill the GPU), as ``zstsr upsample`` trains on a GPU.
4. ``inference.json``: the net through the torch-free runtime (``vs_zstsr.model.load_model``,
   ``netrun.net_x2``) with onnxruntime CUDA (fp16) and TensorRT (fp16, engines cached under OUT)
   at 720p and 1080p: output frames per second of the whole-frame graph and of the runtime's
   tiled path.

A provider that is not there (no GPU, no TensorRT) is recorded as ``{"available": false,
"reason": ...}`` and the rest goes on. ``--dry-run`` runs every part on the CPU at toy sizes and
seconds: what CI checks (tests/test_gpu_check.py).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

SCENES = ("fan", "texture")
RESOLUTIONS = {"720p": (720, 1280), "1080p": (1080, 1920)}
PAPER_ITERS = 75_000


def write_json(out: Path, name: str, data: dict) -> Path:
    """``out/name.json``, written whole or not at all (a temporary name, then a rename)."""
    from vs_zstsr.io import atomic_path

    path = out / f"{name}.json"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=1, default=str) + "\n")
    return path


def plan(dry_run: bool) -> dict:
    """Sizes and seconds of every part; the dry run's are toys that finish in seconds on a CPU."""
    if dry_run:
        return {"device": "cpu", "throughput_s": 1.0, "warmup_iters": 1, "rung_marks_s": [1.0, 2.0], "scenes": "small",
                "net": {"width": 8, "crop": (8, 16, 16)}, "resolutions": {"toy": (32, 48)}, "frames": 4,
                "infer_reps": 1, "variants": ("fp32", "bf16")}
    return {"device": "cuda", "throughput_s": 12.0, "warmup_iters": 20, "rung_marks_s": [120.0, 300.0], "scenes": "large",
            "net": {}, "resolutions": RESOLUTIONS, "frames": 8, "infer_reps": 5,
            "variants": ("fp32", "bf16", "bf16+compile")}


def env_info(device_id: int) -> dict:
    import onnxruntime as ort
    import torch

    from vs_zstsr.model import gpu_count

    info = {"python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
            "cuda_available": torch.cuda.is_available(), "onnxruntime": ort.__version__,
            "ort_providers": ort.get_available_providers(), "gpus_seen_by_driver": gpu_count()}
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(device_id)
        info.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2 ** 30, 1),
                    bf16=torch.cuda.is_bf16_supported())
    return info


def train_throughput(p: dict, device_id: int, log) -> dict:
    """Iterations/s of the paper preset's step for each variant, timed after a warm-up."""
    import numpy as np
    import torch

    from bench_speed import conv_flops
    from bench_x2_rung import rung_clip
    from vs_zstsr.resample import rect_downsample
    from zstsr_trainer import PRESETS
    from zstsr_trainer.examples import ExampleSampler
    from zstsr_trainer.net import TSRNet, to_channels_last

    cfg = PRESETS["paper"].replace(**p["net"])
    device = torch.device(f"cuda:{device_id}" if p["device"] == "cuda" else "cpu")
    gt = rung_clip("fan", p["scenes"])
    sampler = ExampleSampler(rect_downsample(gt[: len(gt) // 2 * 2], 2, 0), cfg, np.random.default_rng(0))
    t, h, w = sampler.crops["within"]
    gflop = conv_flops(TSRNet(cfg.width, cfg.depth, padding=cfg.padding), cfg.batch * t * h * w, backward=True) / 1e9
    result = {"preset": "paper", "config": {k: getattr(cfg, k) for k in ("width", "depth", "crop", "batch")},
              "gflop_per_iteration": round(gflop, 2), "variants": {}}
    for variant in p["variants"]:
        torch.manual_seed(0)
        net = to_channels_last(TSRNet(cfg.width, cfg.depth, padding=cfg.padding).to(device).train())
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        step_net = net
        if "compile" in variant:
            try:
                step_net = torch.compile(net, mode="reduce-overhead")
            except Exception as e:   # noqa: BLE001 - a compiler that fails is a result, not a crash
                result["variants"][variant] = {"available": False, "reason": f"{type(e).__name__}: {e}"[:300]}
                continue
        bf16 = variant.startswith("bf16")
        batches = [sampler.batch() for _ in range(8)]

        def step(i):
            lo, hi, _ = batches[i % len(batches)]
            x = torch.from_numpy(lo).to(device).permute(0, 4, 1, 2, 3)
            y = torch.from_numpy(hi).to(device).permute(0, 4, 1, 2, 3)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = torch.mean((step_net(x).float() - y) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        try:
            t0 = time.perf_counter()
            for i in range(p["warmup_iters"]):
                step(i)
            sync(device)
            warm = time.perf_counter() - t0
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < p["throughput_s"]:
                step(n)
                n += 1
            sync(device)
            secs = time.perf_counter() - t0
        except Exception as e:   # noqa: BLE001
            result["variants"][variant] = {"available": False, "reason": f"{type(e).__name__}: {e}"[:300]}
            continue
        ips = n / secs
        result["variants"][variant] = {"available": True, "it_per_s": round(ips, 2), "tflops": round(ips * gflop / 1e3, 2),
                                       "warmup_s": round(warm, 1), f"minutes_for_{PAPER_ITERS}_iters": round(PAPER_ITERS / ips / 60, 1)}
        log(f"  train {variant}: {result['variants'][variant]}")
    ok = {k: v for k, v in result["variants"].items() if v.get("available")}
    result["fastest"] = max(ok, key=lambda k: ok[k]["it_per_s"]) if ok else None
    return result


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rung_scene(scene: str, p: dict, device_id: int, log) -> dict:
    """One scene's curve (bench_x2_rung.curve_clip) by seconds of training, on this process's GPU."""
    from bench_x2_rung import curve_clip
    from zstsr_trainer import PRESETS

    cfg = PRESETS["paper"].replace(device=p["device"] if p["device"] == "cpu" else "cuda", **p["net"])
    if p["device"] == "cuda":
        import torch
        torch.cuda.set_device(device_id)
    provider = "cpu" if p["device"] == "cpu" else "cuda"
    return curve_clip(scene, cfg, log, 4, p["rung_marks_s"], by="seconds", provider=provider, size=p["scenes"])


def providers_to_try(dry_run: bool) -> list[tuple[str, str, bool]]:
    """(label, provider, fp16) for the inference part; the CPU only stands in on a dry run."""
    tries = [("cuda-fp16", "cuda", True), ("tensorrt-fp16", "tensorrt", True)]
    return tries + ([("cpu-fp32", "cpu", False)] if dry_run else [])


def inference(p: dict, out: Path, device_id: int, dry_run: bool, log) -> dict:
    import numpy as np

    from vs_zstsr.errors import ZstsrError
    from vs_zstsr.model import load_model
    from vs_zstsr.netrun import net_x2
    from zstsr_export import export_onnx
    from zstsr_trainer import PRESETS
    from zstsr_trainer.net import TSRNet

    cfg = PRESETS["paper"].replace(**p["net"])
    path = out / "paper_net.onnx"
    export_onnx(TSRNet(cfg.width, cfg.depth, padding=cfg.padding), str(path))      # speed does not depend on the weights
    os.environ.setdefault("ZSTSR_CACHE", str(out / "cache"))  # TensorRT's engine cache (vs_zstsr.model)
    result = {"frames_in": p["frames"], "providers": {}}
    for label, provider, fp16 in providers_to_try(dry_run):
        try:
            model = load_model(path, provider, device_id, fp16)
        except ZstsrError as e:
            result["providers"][label] = {"available": False, "reason": str(e)}
            log(f"  {label}: not available ({e})")
            continue
        entry = {"available": True, "provider_running": model.provider, "fp16": model.fp16}
        if model.provider != provider:
            entry["fell_back_to"] = model.provider
        for res, (h, w) in p["resolutions"].items():
            clip = np.random.default_rng(0).random((p["frames"], h, w, 3), dtype=np.float32)
            for how, fn in (("whole_frames", model.run), ("runtime", lambda c: net_x2(model, c))):
                try:
                    t0 = time.perf_counter()
                    fn(clip)                                   # warm-up: engine build, cuDNN search
                    first = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    for _ in range(p["infer_reps"]):
                        fn(clip)
                    secs = (time.perf_counter() - t0) / p["infer_reps"]
                    entry[f"{res}_{how}"] = {"fps": round(2 * p["frames"] / secs, 1), "first_call_s": round(first, 1)}
                except Exception as e:   # noqa: BLE001 - out of memory at 1080p is a result too
                    entry[f"{res}_{how}"] = {"error": f"{type(e).__name__}: {e}"[:300]}
                log(f"  {label} {res} {how}: {entry[f'{res}_{how}']}")
        result["providers"][label] = entry
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder for the JSON files (created)")
    ap.add_argument("--device-id", type=int, default=0)
    ap.add_argument("--dry-run", action="store_true", help="every part on the CPU at toy sizes (CI)")
    ap.add_argument("--rung-scene", choices=SCENES, help=argparse.SUPPRESS)   # one scene's worker process
    a = ap.parse_args(argv)
    p = plan(a.dry_run)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if a.device_id < 0:
        ap.error("--device-id must be >= 0")
    a.out.mkdir(parents=True, exist_ok=True)
    if a.rung_scene:
        write_json(a.out, f"x2_rung_{a.rung_scene}", rung_scene(a.rung_scene, p, a.device_id, log))
        return 0
    if not a.dry_run:
        import torch
        if not torch.cuda.is_available():
            print("gpu-check: error: torch sees no CUDA GPU (use --dry-run to check the script on a CPU)",
                  file=sys.stderr)
            return 2
    t_start = time.perf_counter()
    summary = {"dry_run": a.dry_run, "parts": {}}
    env = env_info(a.device_id)
    write_json(a.out, "env", env)
    log(f"env: {env}")
    for name, fn in (("train_throughput", lambda: train_throughput(p, a.device_id, log)),
                     ("inference", lambda: inference(p, a.out, a.device_id, a.dry_run, log))):
        t0 = time.perf_counter()
        write_json(a.out, name, fn())
        summary["parts"][name] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, __file__, str(a.out), "--rung-scene", s, "--device-id", str(a.device_id)]
                              + (["--dry-run"] if a.dry_run else [])) for s in SCENES]
    codes = [pr.wait() for pr in procs]
    summary["parts"]["x2_rung"] = round(time.perf_counter() - t0, 1)
    summary["x2_rung_exit_codes"] = dict(zip(SCENES, codes))
    summary["total_s"] = round(time.perf_counter() - t_start, 1)
    write_json(a.out, "summary", summary)
    log(f"gpu-check: {summary['total_s']:.0f} s; results in {a.out}")
    return 0 if not any(codes) else 1


if __name__ == "__main__":
    sys.exit(main())
