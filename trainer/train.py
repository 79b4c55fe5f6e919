"""The training loop and its checkpoints.

``train(ltr, config)`` fits a fresh :class:`TSRNet` to internal examples of one LTR video: L2 loss,
Adam, ZSSR's learning-rate policy, a wall-clock budget. It reports the net's loss as a ratio to
cubic interpolation's loss on the same crops - the one quality signal available without ground truth
(below 1: the net improves on its own base on its own examples; docs/PROTOTYPE.md: this alone does not prove it
helps on the test video, hence temporal back-projection and "do no harm" downstream).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from vs_zstsr.io import atomic_path

from .config import TrainConfig
from .examples import BaseX2, ExampleSampler
from .net import TSRNet, base_interpolator, to_channels_last
from .schedule import LRPolicy

CHECKPOINT_FORMAT = "zstsr-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class TrainResult:
    net: TSRNet                  # in eval mode, on the CPU
    config: TrainConfig
    iterations: int
    seconds: float               # training wall clock, resumed runs included
    final_loss: float            # mean L2 over the last lr_window iterations
    cubic_loss: float            # cubic interpolation's L2 on the same crops
    loss_ratio: float            # final_loss / cubic_loss (< 1: better than cubic)
    lr: float
    stopped: str                 # "budget" | "max_iters" | "lr_min"
    device: str
    lr_changes: list = field(default_factory=list)
    examples: dict = field(default_factory=dict)
    precision: str = "float32"   # of the net's convolutions in training (autocast_dtype)


# CPU flags (Linux /proc/cpuinfo) of units that compute in bfloat16: oneDNN runs the net's
# convolutions on them about 2x (32 channels) to 4x (128) as fast as in float32 on this project's
# 2-core machines (docs/BENCHMARKS.md, "Speed"). Without them bfloat16 is emulated, and slower.
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes in bfloat16 natively (:data:`BF16_CPU_FLAGS`); False where
    ``cpuinfo`` cannot be read (not Linux)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in BF16_CPU_FLAGS)
    except OSError:
        pass
    return False


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The lower precision the net's forward pass runs in (autocast; weights, loss and Adam stay
    float32), or None for float32: with ``amp``, bfloat16 on a CUDA GPU that has it (else
    float16, with a gradient scaler) and on a CPU with bfloat16 units (:func:`cpu_has_bf16`). A
    rule on the hardware, not a timing, so that one clip trains the same net on any such machine."""
    if not amp:
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_has_bf16() else None


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA GPU")
    return torch.device(name)


class ThreadTuner:
    """Pick the CPU thread count by measurement, and re-check now and then.

    On a 2-core machine shared with other jobs, 2 torch threads were 10x *slower* than 1 (OpenMP
    threads wait on a core that is busy elsewhere: 1.13 vs 0.10 s per iteration, measured), while
    alone 2 threads are faster. So every ``every_s`` seconds we time a few iterations at each
    candidate count and keep the fastest; a candidate far slower than the best is dropped after
    one sample, so a probe never costs much.
    """

    def __init__(self, max_threads: int, every_s: float = 120.0, probe: int = 3):
        self.candidates = sorted({max_threads, max(1, max_threads // 2), 1}, reverse=True)
        self.every_s, self.probe = every_s, probe
        self.best, self.queue, self.times = max_threads, [], {}
        self.next_check = time.monotonic()

    def before(self) -> None:
        if len(self.candidates) == 1:
            return
        if not self.queue and time.monotonic() >= self.next_check:
            order = [self.best] + [n for n in self.candidates if n != self.best]
            self.queue = [n for n in order for _ in range(self.probe)]
            self.times = {n: [] for n in self.candidates}
        n = self.queue[0] if self.queue else self.best
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        self.t = time.perf_counter()

    def after(self) -> None:
        if not self.queue:
            return
        n = self.queue.pop(0)
        self.times[n].append(time.perf_counter() - self.t)
        done = {k: min(v) for k, v in self.times.items() if v}
        if len(done) > 1 and done[n] > 2 * min(done.values()):
            self.queue = [k for k in self.queue if k != n]          # hopeless: stop probing it
        if not self.queue:
            self.best = min(done, key=done.get)
            torch.set_num_threads(self.best)
            self.next_check = time.monotonic() + self.every_s


def _to_torch(x: np.ndarray, device) -> torch.Tensor:
    """(B, T, H, W, C) numpy -> (B, C, T, H, W) channels-last: the batch's own layout, no copy."""
    t = torch.from_numpy(np.ascontiguousarray(x)).to(device, non_blocking=True)
    return t.permute(0, 4, 1, 2, 3)


def given_base_x2(base: str) -> BaseX2:
    """The runtime's own x2 of a given base (vs_zstsr.methods.INTERPOLATORS, so the net trains
    over exactly what it gets at inference: flow is MVTools in a worker process), None on a clip
    where it cannot run (too small) or crashed (the sampler then leaves that source out)."""
    from vs_zstsr import methods
    from vs_zstsr.native import NativeCrash

    interp = methods.INTERPOLATORS[base_interpolator(base)]
    if interp is methods.INTERPOLATORS["flow"] and not methods.flow_available():
        raise ValueError(f"a net over the {base} base needs MVTools: pip install vapoursynth-mvtools")

    def x2(clip: np.ndarray) -> np.ndarray | None:
        if not interp.fits(clip):
            return None
        try:
            return interp.run(clip, 2)
        except NativeCrash:
            return None
    return x2


# ------------------------------------------------------------------------------------ checkpoints
def save_checkpoint(path: str, net: TSRNet, config: TrainConfig, *, optimizer=None, state: dict | None = None) -> None:
    """Write atomically (temp file in the same folder + os.replace): a crash leaves the old one."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": config.to_dict(),
               "net": {k: v.detach().cpu() for k, v in net.state_dict().items()},
               "optimizer": optimizer.state_dict() if optimizer is not None else None,
               "state": state or {}}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())


@dataclass
class Checkpoint:
    net: TSRNet                  # eval mode, CPU
    config: TrainConfig
    state: dict                  # iteration, seconds, stats, lr policy, rng states
    optimizer: dict | None


def load_checkpoint(path: str) -> Checkpoint:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint not found: {path}")
    d = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(d, dict) or d.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a zstsr checkpoint")
    if d.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path}: checkpoint version {d.get('version')}, expected {CHECKPOINT_VERSION}")
    config = TrainConfig.from_dict(d["config"])
    net = TSRNet(config.width, config.depth, base=config.base, padding=config.padding)
    net.load_state_dict(d["net"])
    return Checkpoint(net.eval(), config, d.get("state", {}), d.get("optimizer"))


# ------------------------------------------------------------------------------------ training
def train(ltr: np.ndarray, config: TrainConfig, *, checkpoint: str | None = None, resume: bool = False,
          progress=None, init: TSRNet | None = None) -> TrainResult:
    """Train on one LTR video ``(T, H, W, 3)`` float32 in [0, 1], or on a list of them (the shots
    of one video: no example spans two).

    ``checkpoint``: file written every ``config.checkpoint_every_s`` and at the end. ``resume``:
    continue from it if it exists (the budget counts the earlier time too). ``progress(step, total,
    info)`` is called after every iteration; ``total`` is ``max_iters`` or None (budget/lr-bound);
    ``info["net"]`` is the net being trained (benchmarks snapshot it: bench_x2_rung.py --curve).
    ``init``: start from this net's weights (fine-tuning) instead of a fresh initialisation.
    """
    ltr = np.asarray(ltr, np.float32) if isinstance(ltr, np.ndarray) else [np.asarray(c, np.float32) for c in ltr]
    device = pick_device(config.device)
    cuda = device.type == "cuda"
    tuner = None
    if not cuda:
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        else:
            tuner = ThreadTuner(os.cpu_count() or 1)
    else:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)

    net = TSRNet(config.width, config.depth, base=config.base, padding=config.padding)
    if init is not None:
        if (init.width, init.depth, init.base, init.padding) != (config.width, config.depth, config.base, config.padding):
            raise ValueError(f"init is a {init.width}x{init.depth} {init.base} net ({init.padding} padding); config "
                             f"asks {config.width}x{config.depth} {config.base} ({config.padding} padding)")
        net.load_state_dict(init.state_dict())
    opt_state, state = None, {}
    if resume and checkpoint and os.path.isfile(checkpoint):
        ck = load_checkpoint(checkpoint)
        if (ck.config.width, ck.config.depth, ck.config.padding) != (config.width, config.depth, config.padding):
            raise ValueError(f"{checkpoint} holds a {ck.config.width}x{ck.config.depth} net ({ck.config.padding} "
                             f"padding); config asks {config.width}x{config.depth} ({config.padding} padding)")
        net, opt_state, state = ck.net, ck.optimizer, ck.state
    # channels-last on the CPU too: oneDNN's convolutions run faster in it, and the net's
    # Conv2d layers then see time folded into the batch as a view (docs/BENCHMARKS.md, "Speed")
    net = to_channels_last(net.to(device).train())
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    policy = LRPolicy(config)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
        policy.load(state["policy"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    for g in opt.param_groups:
        g["lr"] = policy.lr

    sampler = ExampleSampler(ltr, config, rng, given_base_x2(config.base) if net.given_base else None)
    amp_dtype = autocast_dtype(device, config.amp)
    use_amp = amp_dtype is not None
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and amp_dtype == torch.float16)

    it = int(state.get("iteration", 0))
    seconds0 = float(state.get("seconds", 0.0))
    recent = [tuple(x) for x in state.get("recent", [])]   # (net loss, cubic loss) per iteration
    t0 = last_ckpt = time.monotonic()
    stopped = "budget"

    def snapshot() -> dict:
        return {"iteration": it, "seconds": seconds0 + time.monotonic() - t0, "policy": policy.state(),
                "recent": [list(r) for r in recent], "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state()}

    while True:
        elapsed = seconds0 + time.monotonic() - t0
        if config.budget_s is not None and elapsed >= config.budget_s:
            stopped = "budget"
            break
        if config.max_iters is not None and it >= config.max_iters:
            stopped = "max_iters"
            break
        if policy.exhausted:
            stopped = "lr_min"
            break
        if tuner:
            tuner.before()
        lo, x2, hi, kind = sampler.batch_x2()
        x, y = _to_torch(lo, device), _to_torch(hi, device)
        with torch.no_grad():
            cubic = net.interp(x)        # the paper's baseline, whatever the base; the net's base too
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=use_amp):
            out = net(x, cubic if x2 is None else _to_torch(x2, device))
        loss = torch.mean((out.float() - y) ** 2)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        with torch.no_grad():
            cubic_loss = torch.mean((cubic.float() - y) ** 2)
        l, c = float(loss.detach()), max(float(cubic_loss), 1e-12)
        if tuner:
            tuner.after()
        it += 1
        recent.append((l, c))
        del recent[:-config.lr_window]
        policy.record(l / c)
        if policy.update(it):
            for g in opt.param_groups:
                g["lr"] = policy.lr
        if progress is not None:
            s = sum(r[0] for r in recent) / max(sum(r[1] for r in recent), 1e-12)
            progress(it, config.max_iters, {"loss": l, "cubic_loss": c, "ratio": s, "lr": policy.lr,
                                            "seconds": seconds0 + time.monotonic() - t0, "budget_s": config.budget_s,
                                            "kind": kind, "net": net})   # the net being trained (for snapshots)
        if checkpoint and time.monotonic() - last_ckpt >= config.checkpoint_every_s:
            save_checkpoint(checkpoint, net, config, optimizer=opt, state=snapshot())
            last_ckpt = time.monotonic()

    if checkpoint:
        save_checkpoint(checkpoint, net, config, optimizer=opt, state=snapshot())
    net = net.to("cpu", memory_format=torch.contiguous_format).eval()
    fl = float(np.mean([r[0] for r in recent])) if recent else float("nan")
    cl = float(np.mean([r[1] for r in recent])) if recent else float("nan")
    return TrainResult(net=net, config=config, iterations=it, seconds=seconds0 + time.monotonic() - t0,
                       final_loss=fl, cubic_loss=cl, loss_ratio=fl / cl if recent else float("nan"),
                       lr=policy.lr, stopped=stopped, device=str(device), lr_changes=list(policy.changes),
                       examples=sampler.describe(), precision=str(amp_dtype or torch.float32).removeprefix("torch."))
