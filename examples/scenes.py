"""Synthetic video scenes with exact, physically right high-frame-rate ground truth.

The temporal super-resolution model: a slow camera with a full (100 %) exposure
records every low-temporal-resolution (LTR) frame as the mean of ``LTR_FACTOR``
consecutive high-temporal-resolution (HTR) frames. This module renders only the
HTR clip (the ground truth); the HTR -> LTR degradation is done elsewhere.

Every HTR frame ``k`` is itself the mean of ``subsamples`` instantaneous renders
of the continuous scene, taken at the evenly spaced instants
``t = k + (j + 0.5) / subsamples`` (``j = 0 .. subsamples - 1``, ``t`` in units of
HTR frames, i.e. seconds * HTR_RATE), which lie inside the frame's exposure
interval ``[k, k + 1)``. So the motion blur of HTR frames is the box-filter of a
full exposure, and the mean of 8 HTR frames is exactly what a 30 fps camera with
full exposure would record (with ``8 * subsamples`` samples per exposure).
Averaging is done in the stored, gamma-encoded value domain (the photo's sRGB
values), i.e. the camera is modelled as integrating encoded values.

Scenes (``SCENES``):

``"fan"``
    A ``FAN_BLADES``-bladed fan (identical, curved blades, analytic anti-aliased
    edges) over a static procedural texture. It turns by
    ``FAN_DEGREES_PER_HTR_FRAME`` (= 6.75) degrees per HTR frame, i.e. 0.6 of the
    blade period (90 deg) per LTR frame: above the temporal Nyquist limit, so at
    30 fps it appears to turn *backwards* by 0.4 blade periods (-36 deg) per frame,
    while at 240 fps it clearly turns forwards. Angles follow ``atan2(y, x)`` in
    image coordinates (x right, y *down*), so a positive angle is **clockwise on
    screen**. ``fan_angle(t)`` gives the true blade angle at time ``t``;
    ``rotation_direction`` estimates the per-frame rotation of a clip.

``"texture"``
    A square patch of a real photograph (``data/coffee.png``, CC0) that moves on an
    elliptic orbit across a static background (the same photo at a lower zoom)
    while rotating at ``TEXTURE_DEGREES_PER_HTR_FRAME`` (clockwise on screen).
    Bilinear inverse mapping of the rotation + translation; analytic
    anti-aliased patch edges. ``texture_pose(t, size, seed)`` gives the pose.

Sizes (``SIZES``, all multiples of 8): ``"small"`` 64x96, 64 HTR frames (8 LTR
frames), for unit tests; ``"large"`` 192x288, 256 HTR frames (32 LTR frames),
for benchmarks. The large scene is the small one at 3x the spatial resolution.

Command line::

    python examples/scenes.py fan -o fan.mkv [--size small|large] [--subsamples 16]
    python examples/scenes.py fan --selfcheck
"""

from __future__ import annotations

import fractions
import math
from pathlib import Path

import numpy as np

__all__ = [
    "SCENES",
    "SIZES",
    "HTR_RATE",
    "LTR_RATE",
    "LTR_FACTOR",
    "FAN_BLADES",
    "FAN_BLADE_PERIOD_DEG",
    "FAN_PERIODS_PER_LTR_FRAME",
    "FAN_DEGREES_PER_HTR_FRAME",
    "FAN_DEGREES_PER_LTR_FRAME",
    "FAN_ALIASED_DEGREES_PER_LTR_FRAME",
    "FAN_PHASE0_DEG",
    "TEXTURE_DEGREES_PER_HTR_FRAME",
    "PHOTO_PATH",
    "render",
    "fan_angle",
    "fan_center",
    "texture_pose",
    "rotation_direction",
]

SCENES = ("fan", "texture")

#: size name -> (height, width, number of HTR frames)
SIZES = {"small": (64, 96, 64), "large": (192, 288, 256)}

LTR_FACTOR = 8
HTR_RATE = fractions.Fraction(240)
LTR_RATE = HTR_RATE / LTR_FACTOR  # 30 fps

FAN_BLADES = 4
FAN_BLADE_PERIOD_DEG = 360.0 / FAN_BLADES  # 90
FAN_PERIODS_PER_LTR_FRAME = 0.6
#: true rotation, degrees per HTR frame; positive = clockwise on screen (y down)
FAN_DEGREES_PER_HTR_FRAME = FAN_PERIODS_PER_LTR_FRAME * FAN_BLADE_PERIOD_DEG / LTR_FACTOR  # 6.75
FAN_DEGREES_PER_LTR_FRAME = FAN_DEGREES_PER_HTR_FRAME * LTR_FACTOR  # 54
#: what a 30 fps viewer perceives: 54 deg wrapped into +-45 deg -> -36 deg
FAN_ALIASED_DEGREES_PER_LTR_FRAME = (
    (FAN_DEGREES_PER_LTR_FRAME + FAN_BLADE_PERIOD_DEG / 2) % FAN_BLADE_PERIOD_DEG
    - FAN_BLADE_PERIOD_DEG / 2
)
FAN_PHASE0_DEG = 10.0

TEXTURE_DEGREES_PER_HTR_FRAME = 4.0  # 32 deg per LTR frame, clockwise on screen
# Orbit of the patch centre, in units of the frame size.
_ORBIT_AX = 0.27  # x semi-axis / W
_ORBIT_AY = 0.20  # y semi-axis / H
_ORBIT_RAD_PER_HTR_FRAME = 0.16
_PATCH_SIDE = 0.5  # / H
_PATCH_ZOOM = 1.2  # patch magnification relative to the background
_PATCH_SRC_CENTER = (215.0, 100.0)  # (x, y) in the 450x300 photo: top of the cup (crema, rim)

PHOTO_PATH = Path(__file__).resolve().parent / "data" / "coffee.png"


def _size(size: str) -> tuple[int, int, int]:
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown size {size!r}; expected one of {tuple(SIZES)}") from None


def _instants(k: int, subsamples: int) -> np.ndarray:
    """Evenly spaced sample instants inside HTR frame k's exposure [k, k+1)."""
    return k + (np.arange(subsamples, dtype=np.float64) + 0.5) / subsamples


# --------------------------------------------------------------------------- fan


def fan_angle(t: float | np.ndarray) -> float | np.ndarray:
    """True blade angle (degrees, clockwise on screen) at time ``t`` in HTR frames.

    HTR frame ``k`` integrates ``t`` over ``[k, k + 1)``; its mean angle is
    ``fan_angle(k + 0.5)``. Independent of the size and the seed.
    """
    return FAN_PHASE0_DEG + FAN_DEGREES_PER_HTR_FRAME * np.asarray(t, dtype=np.float64)[()]


def fan_center(size: str = "small") -> tuple[float, float]:
    """Fan centre ``(x, y)`` in pixel coordinates (pixel (i, j) has centre (j+.5, i+.5))."""
    h, w, _ = _size(size)
    return w / 2.0, h / 2.0


def _procedural_background(h: int, w: int, seed: int) -> np.ndarray:
    """Static, smooth, non-flat texture (sum of random plane waves), values ~[0.1, 0.5]."""
    rng = np.random.default_rng([seed, 1])
    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    y /= h  # normalised so that sizes are rescaled versions of each other
    x /= h
    out = np.zeros((h, w, 3))
    for _ in range(10):
        freq = rng.uniform(1.5, 7.0)  # cycles per frame height
        ang = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        col = rng.uniform(0.2, 1.0, 3)
        wave = np.sin(2 * np.pi * freq * (x * np.cos(ang) + y * np.sin(ang)) + phase)
        out += wave[..., None] * col
    out /= np.abs(out).max()
    base = np.array([0.22, 0.30, 0.36]) + 0.12 * (y[..., None] - 0.5) * np.array([1.0, 0.5, -0.5])
    return np.clip(base + 0.14 * out, 0.0, 1.0)


def _render_fan(size: str, subsamples: int, seed: int) -> np.ndarray:
    h, w, n = _size(size)
    bg = _procedural_background(h, w, seed)
    cx, cy = fan_center(size)
    scale = h / 2.0
    r_tip, r_hub = 0.92 * scale, 0.20 * scale

    y, x = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    r = np.hypot(x - cx, y - cy)
    theta = np.degrees(np.arctan2(y - cy, x - cx))  # clockwise on screen
    sel = (r < r_tip + 1.0) & (r > r_hub - 1.5)  # pixels whose coverage varies in time
    rs, ths = r[sel], theta[sel]
    rho = np.clip((rs - r_hub) / (r_tip - r_hub), 0.0, 1.0)
    # identical curved, paddle-shaped blades: centreline offset and half-width (deg)
    centre = -28.0 * rho**1.5  # blades sweep back (against the rotation)
    half = 6.0 + 11.0 * np.sin(np.pi * np.clip(0.15 + 0.8 * rho, 0, 1))
    base_off = (ths - centre)[None, :]
    rs_rad = np.radians(1.0) * rs[None, :]  # deg -> px of arc at radius r
    d_tip = (rs - r_tip)[None, :]
    per = FAN_BLADE_PERIOD_DEG

    frames = np.empty((n, h, w, 3), np.float32)
    blade_col = np.array([0.93, 0.86, 0.62])
    shade = (0.72 + 0.28 * rho)[:, None] * blade_col  # same for every blade
    bg_sel = bg[sel]
    for k in range(n):
        phi = fan_angle(_instants(k, subsamples))[:, None]
        d_ang = np.abs((base_off - phi + per / 2) % per - per / 2) - half
        d = np.maximum(d_ang * rs_rad, d_tip)  # approx. signed distance in px
        cov = np.clip(0.5 - d, 0.0, 1.0).mean(axis=0)[:, None]
        f = bg.copy()
        f[sel] = bg_sel * (1.0 - cov) + shade * cov
        frames[k] = f
    # static hub (rotation invariant) on top
    hub = np.clip(r_hub + 0.5 - r, 0.0, 1.0)[..., None]
    ring = np.clip(1.0 - np.abs(r - 0.6 * r_hub) / 1.0, 0.0, 1.0)[..., None]
    hub_col = np.array([0.45, 0.45, 0.50]) * (1 - 0.5 * ring) + 0.5 * ring * np.array([0.9, 0.9, 0.9])
    frames[:] = frames * (1.0 - hub) + (hub * hub_col).astype(np.float32)
    return frames


# ----------------------------------------------------------------------- texture

_photo_cache: dict[tuple[int, int], np.ndarray] = {}


def _photo(width: int, height: int) -> np.ndarray:
    """The bundled photo, Lanczos-resampled (i.e. prefiltered) to width x height, float64."""
    key = (width, height)
    if key not in _photo_cache:
        from PIL import Image

        with Image.open(PHOTO_PATH) as im:
            im = im.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
            _photo_cache[key] = np.asarray(im, dtype=np.float64) / 255.0
    return _photo_cache[key]


def texture_pose(t: float | np.ndarray, size: str = "small", seed: int = 0):
    """Pose of the moving patch at time ``t`` (HTR frames): ``(cx, cy, angle_deg)``.

    ``(cx, cy)`` is the patch centre in pixel coordinates, ``angle_deg`` its
    rotation (clockwise on screen). HTR frame ``k`` integrates ``t`` over ``[k, k+1)``.
    """
    h, w, _ = _size(size)
    rng = np.random.default_rng([seed, 2])
    phase0, angle0 = rng.uniform(0, 2 * np.pi), rng.uniform(0, 360)
    t = np.asarray(t, dtype=np.float64)
    a = phase0 + _ORBIT_RAD_PER_HTR_FRAME * t
    cx = w / 2 + _ORBIT_AX * w * np.cos(a)
    cy = h / 2 + _ORBIT_AY * h * np.sin(a)
    ang = angle0 + TEXTURE_DEGREES_PER_HTR_FRAME * t
    return cx[()], cy[()], ang[()]


def _bilinear(img: np.ndarray, sx: np.ndarray, sy: np.ndarray) -> np.ndarray:
    """Sample img (h, w, c) at continuous coords (pixel centres at +0.5), edge-clamped."""
    ih, iw, _ = img.shape
    fx = np.clip(sx - 0.5, 0.0, iw - 1.0)
    fy = np.clip(sy - 0.5, 0.0, ih - 1.0)
    x0f = np.minimum(np.floor(fx), iw - 2)  # keeps the dtype of the coordinates
    y0f = np.minimum(np.floor(fy), ih - 2)
    ax = (fx - x0f)[..., None]
    ay = (fy - y0f)[..., None]
    x0, y0 = x0f.astype(np.intp), y0f.astype(np.intp)
    flat = img.reshape(-1, img.shape[2])
    i00 = y0 * iw + x0
    top = np.take(flat, i00, axis=0) * (1 - ax) + np.take(flat, i00 + 1, axis=0) * ax
    bot = np.take(flat, i00 + iw, axis=0) * (1 - ax) + np.take(flat, i00 + iw + 1, axis=0) * ax
    return top * (1 - ay) + bot * ay


def _render_texture(size: str, subsamples: int, seed: int) -> np.ndarray:
    h, w, n = _size(size)
    bg = _photo(w, h)  # whole photo (3:2, like the frame) as static background
    zoom = _PATCH_ZOOM * h / 300.0  # photo px (450x300 file) -> output px
    src = _photo(round(450 * zoom), round(300 * zoom)).astype(np.float32)
    scx, scy = np.float32(_PATCH_SRC_CENTER[0] * zoom), np.float32(_PATCH_SRC_CENTER[1] * zoom)
    half = np.float32(_PATCH_SIDE * h / 2.0)
    reach = half * math.sqrt(2.0) + 1.5  # circumradius + AA margin

    frames = np.empty((n, h, w, 3), np.float32)
    for k in range(n):
        cx, cy, ang = texture_pose(_instants(k, subsamples), size, seed)
        x0 = max(int(np.floor(cx.min() - reach)), 0)
        x1 = min(int(np.ceil(cx.max() + reach)), w)
        y0 = max(int(np.floor(cy.min() - reach)), 0)
        y1 = min(int(np.ceil(cy.max() + reach)), h)
        f = bg.copy()
        if x1 > x0 and y1 > y0:
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + np.float32(0.5)
            dx = xx.ravel()[None, :] - cx[:, None].astype(np.float32)
            dy = yy.ravel()[None, :] - cy[:, None].astype(np.float32)
            rad = np.radians(ang)[:, None]
            c, s = np.cos(rad).astype(np.float32), np.sin(rad).astype(np.float32)
            u = c * dx + s * dy  # inverse rotation: patch-local coordinates
            v = -s * dx + c * dy
            cov = np.clip(half + 0.5 - np.abs(u), 0, 1) * np.clip(half + 0.5 - np.abs(v), 0, 1)
            tex = _bilinear(src, scx + u, scy + v)
            cov_m = cov.mean(axis=0)[:, None]
            tex_m = (tex * cov[..., None]).mean(axis=0)
            region = f[y0:y1, x0:x1].reshape(-1, 3)
            f[y0:y1, x0:x1] = (region * (1.0 - cov_m) + tex_m).reshape(y1 - y0, x1 - x0, 3)
        frames[k] = f
    return frames


# ------------------------------------------------------------------------ public


def render(
    name: str, size: str = "small", subsamples: int = 16, seed: int = 0
) -> tuple[np.ndarray, fractions.Fraction]:
    """HTR frames float32 (T, H, W, 3) in [0, 1] and the HTR frame rate (240 fps: an LTR x8 of 30 fps).

    Each frame is the mean of ``subsamples`` instantaneous renders evenly spaced
    over its full exposure interval. Deterministic for a given seed.
    """
    if subsamples < 1:
        raise ValueError("subsamples must be >= 1")
    if name == "fan":
        frames = _render_fan(size, subsamples, seed)
    elif name == "texture":
        frames = _render_texture(size, subsamples, seed)
    else:
        raise ValueError(f"unknown scene {name!r}; expected one of {SCENES}")
    np.clip(frames, 0.0, 1.0, out=frames)
    return frames, HTR_RATE


def _polar(frames: np.ndarray, center, n_theta: int = 720, n_r: int = 24) -> np.ndarray:
    """Sample an annulus of grey frames in polar coordinates -> (T, n_r, n_theta)."""
    g = frames.mean(axis=-1) if frames.ndim == 4 else frames
    t, h, w = g.shape
    cx, cy = (w / 2.0, h / 2.0) if center is None else center
    rmax = min(cx, cy, w - cx, h - cy)
    r = np.linspace(0.35, 0.9, n_r) * rmax
    th = np.radians(np.arange(n_theta) * 360.0 / n_theta)
    sx = cx + r[:, None] * np.cos(th)[None, :]
    sy = cy + r[:, None] * np.sin(th)[None, :]
    stack = np.moveaxis(g, 0, -1).astype(np.float64)  # (h, w, t)
    return np.moveaxis(_bilinear(stack, sx, sy), -1, 0)  # (t, n_r, n_theta)


def rotation_direction(frames: np.ndarray, center=None, blades: int = FAN_BLADES) -> float:
    """Estimate the signed rotation (degrees per frame) between consecutive frames.

    An annulus around ``center`` (default: the frame centre; ``(x, y)`` pixel
    coordinates) is sampled in polar coordinates; the static part (temporal mean)
    is removed; the phase of the angular cross-correlation of consecutive frames at
    the blade harmonic (``blades`` cycles per turn) gives the shift, which is thus
    searched within +-half a blade period. Returns the mean over frame pairs.
    Positive = the sign convention of ``FAN_DEGREES_PER_HTR_FRAME`` (clockwise on
    screen).
    """
    frames = np.asarray(frames)
    if frames.shape[0] < 2:
        raise ValueError("need at least two frames")
    p = _polar(frames, center)
    p = p - p.mean(axis=0, keepdims=True)
    p = p - p.mean(axis=-1, keepdims=True)
    coef = np.fft.rfft(p, axis=-1)[..., blades]  # (T, n_r): ~ exp(-i*B*phi)
    cross = (coef[1:] * np.conj(coef[:-1])).sum(axis=-1)  # per frame pair
    shifts = -np.degrees(np.angle(cross)) / blades
    return float(shifts.mean())


# --------------------------------------------------------------------------- CLI


def _ltr(frames: np.ndarray, factor: int = LTR_FACTOR) -> np.ndarray:
    t = frames.shape[0] // factor * factor
    return frames[:t].reshape(-1, factor, *frames.shape[1:]).mean(axis=1)


def _selfcheck() -> None:
    import time

    for size in SIZES:
        h, w, n = SIZES[size]
        for name in SCENES:
            t0 = time.perf_counter()
            f, rate = render(name, size)
            dt = time.perf_counter() - t0
            assert f.shape == (n, h, w, 3) and f.dtype == np.float32, f.shape
            assert 0.0 <= f.min() and f.max() <= 1.0 and rate == 240
            assert np.array_equal(f, render(name, size)[0]), "not deterministic"
            line = f"{name:8s} {size:6s} {f.shape} rendered in {dt:5.2f} s"
            if name == "fan":
                htr = rotation_direction(f)
                ltr = rotation_direction(_ltr(f))
                line += f"; rotation HTR {htr:+.3f} deg/frame, LTR {ltr:+.3f} deg/frame"
                assert abs(htr - FAN_DEGREES_PER_HTR_FRAME) < 0.5, htr
                assert abs(ltr - FAN_ALIASED_DEGREES_PER_LTR_FRAME) < 3.0, ltr
            print(line)
    print("selfcheck OK")


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Render a synthetic 240 fps ground-truth clip.")
    ap.add_argument("scene", choices=SCENES, nargs="?", default="fan")
    ap.add_argument("-o", "--output", help="output video path (.mkv -> FFV1)")
    ap.add_argument("--size", choices=tuple(SIZES), default="small")
    ap.add_argument("--subsamples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--selfcheck", action="store_true", help="run quick assertions and exit")
    args = ap.parse_args(argv)
    if args.selfcheck:
        _selfcheck()
        return
    if not args.output:
        ap.error("-o/--output is required")
    try:
        from vs_zstsr.io import write_video
    except ImportError:  # running from a checkout without installing the package
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from vs_zstsr.io import write_video
    frames, rate = render(args.scene, args.size, args.subsamples, args.seed)
    write_video(args.output, frames, rate)


if __name__ == "__main__":
    main()
