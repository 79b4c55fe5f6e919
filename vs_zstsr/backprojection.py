"""Back-projection (paper section 4.2): make an estimate consistent with what was observed.

* Temporal: the camera model says LTR frame ``i`` is the mean of HTR frames ``N*i .. N*i+N-1``.
  Adding to each frame of a group the difference between the observed LTR frame and the group's
  mean makes the estimate reproduce its input exactly. Cheap, and on its own a strong baseline
  (it turns plain linear interpolation into a much better one, ../docs/BENCHMARKS.md).
"""
from __future__ import annotations

import numpy as np

from .resample import rect_downsample, resize_spatial, temporal_interpolate


def temporal_backproject(htr: np.ndarray, ltr: np.ndarray, factor: int, in_place: bool = False) -> np.ndarray:
    """Shift each group of ``factor`` output frames so that it averages back to its LTR frame.
    ``in_place``: into ``htr`` itself (a float32 array the caller made and no longer needs): the
    same values, without a second array of its size."""
    if htr.shape[0] != ltr.shape[0] * factor or htr.shape[1:] != ltr.shape[1:]:
        raise ValueError(f"back-projection needs {ltr.shape[0]} x {factor} frames of shape "
                         f"{ltr.shape[1:]}, got {htr.shape}")
    err = ltr - rect_downsample(htr, factor, axis=0)
    # each group plus its error, broadcast: the sums of htr + repeat(err), without the repeated copy
    groups = htr.reshape((ltr.shape[0], factor) + htr.shape[1:])
    # a reshape is a view of htr or a copy of it: overlapping bounds (an O(1) test) tell which
    if in_place and htr.flags.writeable and np.may_share_memory(groups, htr) and np.result_type(htr, err) == htr.dtype:
        groups += err[:, None]
        return htr
    return (groups + err[:, None]).reshape(htr.shape)


def spatiotemporal_backproject(small: np.ndarray, big_ltr: np.ndarray, rate: int,
                               iters: int = 1) -> np.ndarray:
    """Enlarge ``small`` (``(T*rate, h, w, 3)``, the result of a rung) to the size of ``big_ltr``
    (``(T, H, W, 3)``, the LTR input at the next rung's size), consistent with both:

    * spatial (bicubic) consistency: shrinking the estimate gives back ``small``;
    * temporal (rect) consistency: averaging each group of ``rate`` frames gives back ``big_ltr``.

    The estimate starts from cubic temporal interpolation of ``big_ltr`` (full spatial detail, blurred
    in time); the spatial step replaces its low frequencies by the rung's sharper-in-time result,
    the temporal step restores what the camera saw. A prototype found 3 iterations no better than 1
    (docs/PROTOTYPE.md, "Back-projection"), so 1 is the default.
    """
    n, h, w = small.shape[0], small.shape[1], small.shape[2]
    if n != big_ltr.shape[0] * rate:
        raise ValueError(f"need {big_ltr.shape[0]} x {rate} frames, got {n}")
    big = big_ltr.shape[1:3]
    est = temporal_interpolate(big_ltr, rate, "cubic")
    for _ in range(iters):
        est += resize_spatial(small - resize_spatial(est, h, w), *big)
        est = temporal_backproject(est, big_ltr, rate)
    return est


def spatiotemporal_backproject_groups(small: np.ndarray, big_ltr: np.ndarray, rate: int, first: int, count: int,
                                      iters: int = 1) -> np.ndarray:
    """The frames of groups ``first .. first+count-1`` of :func:`spatiotemporal_backproject`,
    made one group at a time (within float32 rounding of it): the estimate's cubic interpolation
    reads two LTR frames each side of a group, and the rest works frame by frame or group by group.
    So only one group's full-size frames are worked on at once: at 4K, a few hundred MB rather
    than the whole window's many GB."""
    from .direct import group_weights

    t, (hh, ww), (h, w) = big_ltr.shape[0], big_ltr.shape[1:3], small.shape[1:3]
    if small.shape[0] != t * rate:
        raise ValueError(f"need {t} x {rate} frames, got {small.shape[0]}")
    out = np.empty((count * rate,) + big_ltr.shape[1:], np.float32)
    for g in range(first, first + count):
        idx, mat = group_weights("cubic", rate, g, 0, t, backproject=False)
        est = out[(g - first) * rate:(g - first + 1) * rate]
        for p in range(rate):
            est[p] = 0
            for i, wt in zip(idx, mat[p]):
                if wt:
                    est[p] += big_ltr[i] * wt
        for _ in range(iters):
            est += resize_spatial(small[g * rate:(g + 1) * rate] - resize_spatial(est, h, w), hh, ww)
            est += big_ltr[g] - rect_downsample(est, rate, axis=0)[0]
    return out
