"""Quality measures: PSNR and SSIM of frames in [0, 1] (all channels, peak 1)."""
from __future__ import annotations

import numpy as np

_SSIM_SIGMA, _SSIM_RADIUS = 1.5, 5  # Wang et al. 2004: 11x11 Gaussian, sigma 1.5
_C1, _C2 = (0.01) ** 2, (0.03) ** 2


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for values in [0, 1]; capped at 100 dB for equal inputs."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return 100.0 if mse <= 1e-10 else float(10 * np.log10(1.0 / mse))


def _gauss_blur(x: np.ndarray) -> np.ndarray:
    """Separable Gaussian over the two leading axes ('valid' region only, as in the reference code)."""
    t = np.arange(-_SSIM_RADIUS, _SSIM_RADIUS + 1)
    g = np.exp(-(t ** 2) / (2 * _SSIM_SIGMA ** 2))
    g /= g.sum()
    n = len(g)
    h = sum(g[i] * x[i:x.shape[0] - n + 1 + i] for i in range(n))
    return sum(g[i] * h[:, i:h.shape[1] - n + 1 + i] for i in range(n))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two ``(H, W[, C])`` frames, averaged over channels."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    if min(a.shape[:2]) < 2 * _SSIM_RADIUS + 1:  # too small for the window: global statistics
        mu_a, mu_b = a.mean((0, 1)), b.mean((0, 1))
        va, vb = a.var((0, 1)), b.var((0, 1))
        cov = ((a - mu_a) * (b - mu_b)).mean((0, 1))
        s = ((2 * mu_a * mu_b + _C1) * (2 * cov + _C2)) / ((mu_a ** 2 + mu_b ** 2 + _C1) * (va + vb + _C2))
        return float(np.mean(s))
    mu_a, mu_b = _gauss_blur(a), _gauss_blur(b)
    saa = _gauss_blur(a * a) - mu_a ** 2
    sbb = _gauss_blur(b * b) - mu_b ** 2
    sab = _gauss_blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + _C1) * (2 * sab + _C2)) / ((mu_a ** 2 + mu_b ** 2 + _C1) * (saa + sbb + _C2))
    return float(s.mean())


def group_seam(frames: np.ndarray, period: int) -> float:
    """How much the change from one frame to the next depends on its place in a group of
    ``period`` frames, in dB (0: not at all); no ground truth needed.

    A real high-frame-rate video changes about as much between any two consecutive frames. A
    video made from LTR frames (each the exposure of ``period`` instants) keeps a trace of its
    groups: an interpolator's sub-frames of one exposure stay close to each other and jump at the
    group's edge; a guess that stays blurred or misplaced jumps there too. For each place ``k`` in
    the group, the mean squared change between frames ``i`` and ``i + 1`` with ``i = k mod
    period`` is averaged over the clip (the mean: the energy, dominated by the biggest jumps; a
    median ranked the fan's two nets the other way round); the seam is the ratio of the largest
    to the smallest of those, in dB. Used to choose between candidates for the same job (the lower
    seam is the better guess, docs/BENCHMARKS.md); it says nothing about one candidate alone.
    """
    y = np.asarray(frames, np.float32)
    if period < 2 or y.shape[0] < 2 * period + 1:
        raise ValueError(f"need at least {2 * period + 1} frames for a seam of period {period}")
    d = np.mean(np.diff(y, axis=0) ** 2, axis=tuple(range(1, y.ndim)))
    e = np.array([np.mean(d[k::period]) for k in range(period)], np.float64)
    return float(10 * np.log10((e.max() + 1e-12) / (e.min() + 1e-12)))


# A pixel "moves" where the truth changes by more than this between consecutive frames (mean over
# channels, values in [0, 1]): about 5 grey levels of 255, above the noise of an 8-bit camera.
MOVING_THRESHOLD = 0.02


def gradient_magnitude(frame: np.ndarray) -> np.ndarray:
    """``(H, W)``: the length of the spatial gradient (forward differences, edge-padded), mean over
    channels."""
    f = np.asarray(frame, np.float32)
    dy = np.diff(f, axis=0, append=f[-1:])
    dx = np.diff(f, axis=1, append=f[:, -1:])
    return np.sqrt(dx * dx + dy * dy).mean(axis=-1) if f.ndim == 3 else np.sqrt(dx * dx + dy * dy)


class Sharpness:
    """How sharp a result is next to its ground truth: the mean gradient magnitude of the output
    over the truth's (1: as sharp; below 1: smeared, which is what motion blur left in a frame
    looks like), over whole frames and over the moving regions only (where the truth changes from
    the previous frame by more than :data:`MOVING_THRESHOLD`), where the paper's claim is: a
    camera's exposure blur undone. Fed frame pairs in order; PSNR does not see this (a blurred
    frame can score higher than a sharp but slightly misplaced one). Edges doubled by ghosting also
    raise it, so it is read beside PSNR, not alone."""

    def __init__(self) -> None:
        self.sums = np.zeros(4)     # output all, truth all, output moving, truth moving
        self._prev = None

    def update(self, output: np.ndarray, truth: np.ndarray) -> None:
        go, gt = gradient_magnitude(output), gradient_magnitude(truth)
        self.sums[:2] += go.sum(), gt.sum()
        t = np.asarray(truth, np.float32)
        if self._prev is not None:
            moving = np.abs(t - self._prev).reshape(t.shape[0], t.shape[1], -1).mean(-1) > MOVING_THRESHOLD
            self.sums[2:] += go[moving].sum(), gt[moving].sum()
        self._prev = t

    def result(self) -> dict:
        """``{"sharpness": ..., "sharpness_moving": ...}``; the moving one is None when nothing moved."""
        o, t, om, tm = self.sums
        return {"sharpness": float(o / t) if t > 0 else None,
                "sharpness_moving": float(om / tm) if tm > 0 else None}
