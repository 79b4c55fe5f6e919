"""ZSSR's adaptive learning rate, plus the stopping rules (lr floor, iterations, wall clock).

ZSSR (Shocher et al. 2018) fits a line to the recent loss curve every few iterations; when the
slope is not clearly negative - ``-slope * ratio < standard error of the slope`` - progress has
stalled in the noise and the learning rate is divided by 10. Training stops when it would fall
below ``lr_min``.

ZSSR watched the error on one fixed image. Our loss is on random crops whose difficulty varies far
more than the progress we look for, so we fit the line to the per-batch ratio of the net's loss to
cubic's loss on the *same* crops: the content's difficulty cancels and the slope is measurable.
"""
from __future__ import annotations

import numpy as np


class LRPolicy:
    def __init__(self, config):
        self.lr = float(config.lr)
        self.lr_min = float(config.lr_min)
        self.every, self.window, self.ratio = config.lr_check_every, config.lr_window, config.lr_slope_ratio
        self.values: list[float] = []     # per-iteration loss ratios (net / cubic)
        self.last_change = 0              # iteration of the last lr change
        self.changes: list[tuple[int, float]] = []

    def record(self, value: float) -> None:
        self.values.append(float(value))
        del self.values[:-self.window]    # only the window is ever needed

    def update(self, iteration: int) -> bool:
        """Call after each iteration; returns True when the lr was just divided by 10."""
        if iteration % self.every or iteration - self.last_change < self.window:
            return False
        y = np.asarray(self.values[-self.window:])
        if len(y) < self.window:
            return False
        x = np.arange(len(y), dtype=np.float64)
        (slope, _), cov = np.polyfit(x, y, 1, cov=True)
        if -self.ratio * slope < np.sqrt(cov[0, 0]):
            self.lr /= 10.0
            self.last_change = iteration
            self.changes.append((iteration, self.lr))
            return True
        return False

    @property
    def exhausted(self) -> bool:
        return self.lr < self.lr_min * (1 - 1e-9)

    def state(self) -> dict:
        return {"lr": self.lr, "values": list(self.values), "last_change": self.last_change,
                "changes": [list(c) for c in self.changes]}

    def load(self, state: dict) -> None:
        self.lr = float(state["lr"])
        self.values = [float(v) for v in state["values"]]
        self.last_change = int(state["last_change"])
        self.changes = [(int(i), float(lr)) for i, lr in state["changes"]]
