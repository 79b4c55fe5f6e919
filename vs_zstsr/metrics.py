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
