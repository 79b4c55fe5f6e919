"""Back-projection (paper section 4.2): make an estimate consistent with what was observed.

* Temporal: the camera model says LTR frame ``i`` is the mean of HTR frames ``N*i .. N*i+N-1``.
  Adding to each frame of a group the difference between the observed LTR frame and the group's
  mean makes the estimate reproduce its input exactly. Cheap, and on its own a strong baseline
  (it turns plain linear interpolation into a much better one, ../docs/BENCHMARKS.md).
"""
from __future__ import annotations

import numpy as np

from .resample import rect_downsample


def temporal_backproject(htr: np.ndarray, ltr: np.ndarray, factor: int) -> np.ndarray:
    """Shift each group of ``factor`` output frames so that it averages back to its LTR frame."""
    if htr.shape[0] != ltr.shape[0] * factor or htr.shape[1:] != ltr.shape[1:]:
        raise ValueError(f"back-projection needs {ltr.shape[0]} x {factor} frames of shape "
                         f"{ltr.shape[1:]}, got {htr.shape}")
    err = ltr - rect_downsample(htr, factor, axis=0)
    return htr + np.repeat(err, factor, axis=0)
