"""Training configuration and its presets.

``paper`` holds the paper's numbers (8 layers of 128 channels, 36x36x16 crops, Adam 1e-4, ZSSR's
learning-rate policy; a couple of hours on a GPU). ``fast`` is what a 2-core CPU can afford: the
measurements behind it are in docs/TRAINER.md and docs/BENCHMARKS.md.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

# How each conv layer pads its input (torch's padding_mode): "replicate" repeats the edge (both
# presets); "zeros" pads with the centred input's zero (defined with the runtime's options, which
# offer it: vs_zstsr/options.py).
from vs_zstsr.options import PADDINGS, PRESET_PADDING

EXAMPLE_KINDS = ("within", "across", "both")


@dataclass
class TrainConfig:
    # --- the net (paper 4.1) ---
    width: int = 128                  # channels of every hidden layer
    depth: int = 8                    # conv layers; first two and last are 3x3x3, the rest 1x3x3
    base: str = "cubic"               # what the residual is added to: net.py BASES (cubic, cubic_bp, flow, flow_bp)
    padding: str = "replicate"        # of every conv layer: PADDINGS
    # --- internal examples (paper 3) ---
    crop: tuple[int, int, int] = (16, 36, 36)   # HTR crop (frames, rows, cols); LTR half has frames/2
    batch: int = 4
    examples: str = "both"            # within | across | both (paper Table 2 ablation)
    p_across: float = 0.5             # with examples="both": chance that a batch is an across batch
    scales: tuple[float, ...] = (1.0, 0.8, 0.64, 0.5)   # spatial pyramid levels (of the LTR input)
    jumps: tuple[int, ...] = (1, 2)   # temporal jumps: keep every j-th frame (faster motion)
    augment: bool = True              # flips, 90-degree rotations, time reversal
    # --- optimisation ---
    lr: float = 1e-4
    lr_min: float = 1e-6              # stop when the policy would go below this
    lr_check_every: int = 60          # ZSSR: look at the loss curve every N iterations ...
    lr_window: int = 256              # ... fitting a line to the last N iterations
    lr_slope_ratio: float = 1.5       # ... divide lr by 10 if -slope * ratio < std error of slope
    max_iters: int | None = None      # None: until the lr policy or the budget stops
    budget_s: float | None = None     # wall-clock limit of training (resumed runs count it all)
    # --- machine ---
    device: str = "auto"              # auto | cpu | cuda
    num_threads: int = 0              # CPU threads for torch; 0 = measured: 1..all cores (see train.py)
    amp: bool = True                  # mixed precision: bf16 on GPUs and CPUs that have it (train.autocast_dtype)
    checkpoint_every_s: float = 60.0
    seed: int = 0
    extra: dict = field(default_factory=dict)   # free-form notes carried into checkpoints/metadata

    def __post_init__(self):
        self.crop = tuple(int(c) for c in self.crop)
        self.scales = tuple(float(s) for s in self.scales)
        self.jumps = tuple(int(j) for j in self.jumps)
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        if self.examples not in EXAMPLE_KINDS:
            raise ValueError(f"examples must be one of {EXAMPLE_KINDS}, got {self.examples!r}")
        if len(self.crop) != 3 or self.crop[0] < 4 or self.crop[0] % 2:
            raise ValueError("crop is (frames, rows, cols) with an even number of frames >= 4")
        if self.depth < 3 or self.width < 1:
            raise ValueError("need depth >= 3 and width >= 1")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, TrainConfig] = {
    # The paper: 128 channels, 8 layers, 36x36x16 crops, Adam 1e-4, ZSSR lr policy; GPU hours.
    "paper": TrainConfig(width=128, depth=8, crop=(16, 36, 36), batch=1, lr=1e-4,
                         max_iters=75_000, budget_s=2 * 3600.0, padding=PRESET_PADDING["paper"]),
    # 2 CPU cores, minutes: see docs/TRAINER.md for the measurements behind each number.
    # Its examples are the pyramid levels whose motion matches the rung the net works on (a
    # level at scale s, halved in time, moves 2s times as fast as that rung's input: s = 0.5 is
    # the match), in crops small enough that those levels fit at the coarse size.
    # It stops on iterations, with 6 minutes as a cap for slow or busy machines: on the real clips'
    # x2 rung every doubling of the iterations gained (cam01 +0.70 dB over interpolation + BP at
    # 480, +1.15 at 960, +1.79 at 1920) until the lr policy ended training (cam01 after 1920,
    # cam03 before 1920): docs/BENCHMARKS.md, "Quality per training iteration".
    # Replicate padding still (vs_zstsr.options.PRESET_PADDING): zero padding trains faster and
    # is as good on the seven real clips, two of them with a first rung the fan's size, but lost
    # 2 dB on the fan's whole job, inside the frame as much as near its edges: the net learns less
    # (docs/BENCHMARKS.md, "Zero padding on small real clips").
    "fast": TrainConfig(width=32, depth=8, crop=(16, 24, 24), batch=4, lr=3e-4, scales=(0.5, 0.6, 0.7),
                        jumps=(1,), lr_window=256, max_iters=2000, budget_s=360.0,
                        padding=PRESET_PADDING["fast"]),
}
