"""The ``zstsr`` command line.

Every command reports bad input as one line ``zstsr: error: ...`` with exit status 1 (usage errors:
click's message, status 2) and never leaves a half-written output behind (see ``io.VideoWriter``).
The trainer (torch) is imported only by the commands that train.
"""
from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import click
import numpy as np

from . import io
from .errors import ZstsrError


# --------------------------------------------------------------------------------------------
# shared bits


def _bar(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", file=sys.stderr, disable=None, leave=False,
                dynamic_ncols=True)


def check_factor(factor: int) -> int:
    if factor < 2 or factor & (factor - 1):
        raise ZstsrError(f"factor must be a power of 2 (2, 4, 8, 16), got {factor}")
    return factor


def _note(msg: str) -> None:
    click.echo(f"zstsr: {msg}", err=True)


def _audio_note(info: io.VideoInfo) -> None:
    if info.has_audio:
        _note("note: the input's audio is not carried to this output (video only)")


def _parse_rate(value: str | None) -> Fraction | None:
    if value is None:
        return None
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ZstsrError(f"--fps must be a number or a fraction like 30000/1001, got {value!r}") from None
    if rate <= 0:
        raise ZstsrError(f"--fps must be positive, got {value}")
    return rate


factor_option = click.option("--factor", "-f", type=int, default=8, show_default=True,
                             help="Temporal factor N (a power of 2).")
fps_option = click.option("--fps", "fps", default=None, metavar="RATE",
                          help="Frame rate of a PNG-frame folder without a zstsr.json (default 30).")
output_option = click.option("-o", "--output", required=True, type=click.Path(dir_okay=True),
                             help="Output file (.mkv FFV1, .mp4 H.264, .mov ProRes) or folder/ for PNG frames.")
codec_option = click.option("--codec", type=click.Choice(io.CODECS), default=None,
                            help="Override the codec chosen from the output's extension.")


class _Group(click.Group):
    """Turn our own errors into one line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ZstsrError as e:
            click.echo(f"zstsr: error: {e}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("zstsr: interrupted; no output was written", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zstsr")
def main() -> None:
    """Zero-shot temporal super-resolution, and the tools to measure it."""


# --------------------------------------------------------------------------------------------
# inspection


@main.command()
@click.argument("video", type=click.Path())
@fps_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(video: str, fps: str | None, as_json: bool) -> None:
    """Describe VIDEO (size, exact frame rate, frames, pixel format, colour)."""
    vi = io.probe(video, _parse_rate(fps))
    click.echo(json.dumps(io.info_dict(vi), indent=2) if as_json else vi.describe())


# --------------------------------------------------------------------------------------------
# the slow camera


@main.command()
@click.argument("htr", type=click.Path())
@output_option
@factor_option
@click.option("--scale", type=float, default=1.0, show_default=True,
              help="Also shrink space by this factor (antialiased bicubic): turns ordinary footage "
                   "into a usable high-frame-rate source, keeping motion sizes and blur alike.")
@click.option("--gt-out", type=click.Path(), default=None,
              help="Also write the ground truth that matches OUTPUT: HTR after --scale, trimmed to "
                   "whole exposures.")
@codec_option
@fps_option
def degrade(htr: str, output: str, factor: int, scale: float, gt_out: str | None,
            codec: str | None, fps: str | None) -> None:
    """Simulate a slow camera with full exposure: each output frame is the mean of FACTOR input frames.

    Input frames N*i .. N*i+N-1 make output frame i; the output rate is the input rate / N. A
    trailing remainder of fewer than N frames is dropped (and said so).
    """
    from .resample import resize_spatial

    check_factor(factor)
    if scale < 1:
        raise ZstsrError(f"--scale must be 1 or more (a shrink factor), got {scale}")
    vi = io.probe(htr, _parse_rate(fps))
    _audio_note(vi)
    h, w = max(1, round(vi.height / scale)), max(1, round(vi.width / scale))
    kw = dict(bit_depth=vi.bit_depth, pix_fmt=vi.pix_fmt, color=vi.color, gray=vi.is_gray)
    out_rate = vi.rate / factor
    acc = np.zeros((h, w, 3), np.float64)
    n = written = 0
    with io.VideoWriter(output, w, h, out_rate, codec=codec, **kw) as wr, \
            _maybe_writer(gt_out, w, h, vi.rate, kw) as gt, _bar(vi.frames, "degrade") as bar:
        group = []
        for frame in io.read_frames(htr, vi):
            if scale != 1:
                frame = resize_spatial(frame, h, w)
            group.append(frame)
            acc += frame
            n += 1
            if len(group) == factor:
                wr.write((acc / factor).astype(np.float32))
                if gt is not None:
                    for g in group:
                        gt.write(g)
                written += 1
                acc[:] = 0
                group = []
            bar.update(1)
        if written == 0:
            raise ZstsrError(f"{htr}: {n} frames is fewer than the factor {factor}; nothing to degrade")
    if n % factor:
        _note(f"dropped the last {n % factor} frames (not a whole exposure of {factor})")
    _note(f"wrote {written} frames at {io.format_rate(out_rate)} fps to {output}"
          + (f", ground truth {written * factor} frames to {gt_out}" if gt_out else ""))


class _NoWriter:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _maybe_writer(path, w, h, rate, kw):
    return io.VideoWriter(path, w, h, rate, **kw) if path else _NoWriter()


# --------------------------------------------------------------------------------------------
# the peers


@main.command()
@click.argument("ltr", type=click.Path())
@output_option
@factor_option
@click.option("--method", "-m", type=click.Choice(["repeat", "linear", "cubic", "minterpolate", "flowfps"]),
              default="linear", show_default=True, help="Interpolator to measure against.")
@click.option("--backproject/--no-backproject", "-b", default=False, show_default=True,
              help="Add temporal back-projection: shift each group of N outputs to average back to "
                   "its input frame.")
@click.option("--conform", is_flag=True, help="Keep the input frame rate (N x slow motion).")
@codec_option
@fps_option
def baseline(ltr: str, output: str, factor: int, method: str, backproject: bool, conform: bool,
             codec: str | None, fps: str | None) -> None:
    """Upsample LTR in time by an existing interpolator (the peers zstsr is measured against).

    Output frame k is centred at input time (k + 0.5)/N - 0.5 for every method (the slow-camera
    timing); motion-compensated peers are run at 2N and resampled onto it (docs/BENCHMARKS.md).
    """
    from .baselines import interpolate

    check_factor(factor)
    vi, clip = io.read_video(ltr, _parse_rate(fps))
    _audio_note(vi)
    with _bar(clip.shape[0] * factor, method) as bar:
        out = interpolate(clip, factor, method, vi.rate, backproject, progress=bar.update)
    rate = vi.rate if conform else vi.rate * factor
    io.write_video(output, out, rate, codec=codec, like=vi)
    _note(f"wrote {len(out)} frames at {io.format_rate(rate)} fps to {output}")


# --------------------------------------------------------------------------------------------
# measuring


@main.command(name="eval")
@click.argument("output", type=click.Path())
@click.argument("gt", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON (per-frame and mean).")
@click.option("--plot", type=click.Path(), default=None, help="Write a PNG of PSNR/SSIM over time.")
@click.option("--summary", is_flag=True, help="Print only the means.")
@click.option("--border", type=int, default=0, show_default=True,
              help="Ignore this many pixels at each edge.")
@fps_option
def evaluate(output: str, gt: str, as_json: bool, plot: str | None, summary: bool, border: int,
             fps: str | None) -> None:
    """Compare OUTPUT with ground truth GT frame by frame: PSNR (dB) and SSIM, and their means."""
    from .metrics import psnr, ssim

    rate = _parse_rate(fps)
    a, b = io.probe(output, rate), io.probe(gt, rate)
    if (a.width, a.height) != (b.width, b.height):
        raise ZstsrError(f"size differs: {output} is {a.width}x{a.height}, {gt} is {b.width}x{b.height}")
    if a.frames and b.frames and a.frames != b.frames:
        raise ZstsrError(f"length differs: {output} has {a.frames} frames, {gt} has {b.frames}")
    rows = []
    fa, fb = io.read_frames(output, a), io.read_frames(gt, b)
    sl = (slice(border, -border or None),) * 2
    with _bar(a.frames or b.frames, "eval") as bar:
        while True:
            x, y = next(fa, None), next(fb, None)
            if x is None or y is None:
                if x is not None or y is not None:
                    longer, shorter = (output, gt) if x is not None else (gt, output)
                    raise ZstsrError(f"length differs: {shorter} ends after {len(rows)} frames, "
                                     f"{longer} goes on")
                break
            rows.append((psnr(x[sl], y[sl]), ssim(x[sl], y[sl])))
            bar.update(1)
    if not rows:
        raise ZstsrError(f"{output}: no frames to compare")
    p = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    result = {"output": output, "gt": gt, "frames": len(rows), "psnr": float(p.mean()),
              "ssim": float(s.mean()), "psnr_min": float(p.min()),
              "per_frame": [{"frame": i, "psnr": float(pp), "ssim": float(ss)}
                            for i, (pp, ss) in enumerate(rows)]}
    if plot:
        _plot(plot, p, s, output, gt)
    if as_json:
        click.echo(json.dumps(result, indent=1))
        return
    if not summary:
        click.echo(f"{'frame':>6} {'PSNR':>8} {'SSIM':>7}")
        for i, (pp, ss) in enumerate(rows):
            click.echo(f"{i:6d} {pp:8.3f} {ss:7.4f}")
    click.echo(f"{'mean':>6} {p.mean():8.3f} {s.mean():7.4f}   ({len(rows)} frames, min PSNR {p.min():.3f})")


def _plot(path: str, p: np.ndarray, s: np.ndarray, output: str, gt: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    ax[0].plot(p, lw=1)
    ax[0].axhline(p.mean(), color="k", lw=0.6, ls="--")
    ax[0].set_ylabel("PSNR (dB)")
    ax[1].plot(s, lw=1, color="tab:orange")
    ax[1].set_ylabel("SSIM")
    ax[1].set_xlabel("frame")
    ax[0].set_title(f"{Path(output).name} vs {Path(gt).name}: mean {p.mean():.2f} dB, SSIM {s.mean():.4f}",
                    fontsize=9)
    fig.tight_layout()
    target = Path(path)
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, target)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":  # pragma: no cover
    main()
