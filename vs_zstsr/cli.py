"""The ``zstsr`` command line.

Every command reports bad input as one line ``zstsr: error: ...`` with exit status 1 (usage errors:
click's message, status 2) and never leaves a half-written output behind (see ``io.VideoWriter``).
The trainer (torch) is imported only by the commands that train.
"""
from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import click
import numpy as np

from . import baselines, io, methods, outputs
from .errors import UsageError, ZstsrError
from .options import EngineOptions, TrainOptions, UpsampleOptions, check_factor, option_fields
from .stream import CHUNK_BYTES


# --------------------------------------------------------------------------------------------
# shared bits


def _bar(total: int | None, desc: str, unit: str = "frame"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, leave=False,
                dynamic_ncols=True)


def _note(msg: str) -> None:
    """A line on stderr, above any progress bar (tqdm.write clears the bar, prints, redraws it)."""
    from tqdm import tqdm

    tqdm.write(f"zstsr: {msg}", file=sys.stderr)


def _audio_note(info: io.VideoInfo) -> None:
    if info.has_audio:
        _note("note: the input's audio is not carried to this output (video only)")


def _parse_rate(value: str | None, name: str = "--fps") -> Fraction | None:
    if value is None:
        return None
    try:
        rate = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise ZstsrError(f"{name} must be a number or a fraction like 30000/1001, got {value!r}") from None
    if rate <= 0:
        raise ZstsrError(f"{name} must be positive, got {value}")
    return rate


_FACTOR = {f.name: f for f in option_fields(UpsampleOptions)}["factor"]
factor_option = click.option("--factor", "-f", type=int, default=_FACTOR.default, show_default=True,
                             help=_FACTOR.metadata["help"])
fps_option = click.option("--fps", "fps", default=None, metavar="RATE",
                          help="Frame rate of a PNG-frame folder without a zstsr.json (default 30).")
output_option = click.option("-o", "--output", required=True, type=click.Path(dir_okay=True),
                             help="Output file (.mkv FFV1, .mp4 H.264, .mov ProRes) or folder/ for PNG frames.")
codec_option = click.option("--codec", type=click.Choice(io.CODECS), default=None,
                            help="Override the codec chosen from the output's extension.")
encode_options = [
    click.option("--crf", type=click.IntRange(0, 51), default=None,
                 help=f"H.264/H.265 quality (x264/x265 CRF): lower is better and bigger; default "
                      f"{io.DEFAULT_CRF}, visually lossless for most footage."),
    click.option("--prores-profile", type=click.Choice(list(io.PRORES_PROFILES)), default=None,
                 help="ProRes profile (.mov); default hq (422 HQ), 4444 for 4:4:4 pictures (odd sizes)."),
]


def _encode_kw(output: str, codec: str | None, crf: int | None, prores_profile: str | None) -> dict:
    """The writer's quality settings; each refused where the output's codec does not use it."""
    used = io.codec_for(output, codec)
    if crf is not None and used not in ("h264", "h265"):
        raise ZstsrError(f"--crf applies to H.264/H.265 output (.mp4, --codec h264/h265); {output} gets {used}")
    if prores_profile is not None and used != "prores":
        raise ZstsrError(f"--prores-profile applies to ProRes output (.mov, --codec prores); {output} gets {used}")
    return {"crf": crf, "profile": io.PRORES_PROFILES[prores_profile] if prores_profile else None}


overwrite_option = click.option("--overwrite", "-y", is_flag=True,
                                help="Replace existing output files (and earlier PNG outputs). Folders "
                                     "holding anything else, and the inputs, are never replaced.")


def _check_outputs(files=(), folders_or_files=(), inputs=(), overwrite=False, codec=None) -> None:
    """The output-path rules (vs_zstsr/outputs.py) for files and for outputs whose kind follows
    their extension (a PNG folder or a file), before any work starts."""
    outputs.check([(f, False) for f in files]
                  + [(o, o is not None and io.codec_for(o, codec) == "png") for o in folders_or_files],
                  inputs, overwrite=overwrite)
def _with(options):
    """Apply a list of click options as one decorator."""
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f
    return deco


# Real-world footage (docs/FOOTAGE.md): every command that reads video takes these (use _with).
input_options = [
    click.option("--vfr", type=click.Choice(io.VFR_POLICIES), default="convert", show_default=True,
                 help="Variable frame rate input: convert to the nearest constant rate (frames "
                      "repeated or dropped, said in one line), or refuse it."),
    click.option("--assume-progressive", is_flag=True,
                 help="Treat input flagged as interlaced as progressive (else it is refused)."),
    click.option("--allow-truncated", is_flag=True,
                 help="Accept a file that ends before its container says (else it is refused): use "
                      "the frames that decode, with a warning naming how many."),
]


def _open_input(path: str, fps: str | None, vfr: str = "convert", assume_progressive: bool = False,
                allow_truncated: bool = False) -> io.VideoInfo:
    """Probe an input and apply the footage checks (truncation, alpha, interlacing, variable rate)."""
    return io.open_input(path, _parse_rate(fps), vfr=vfr, assume_progressive=assume_progressive,
                         allow_truncated=allow_truncated, log=_note)


class _Group(click.Group):
    """Turn our own errors into one line and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ZstsrError as e:
            click.echo(f"zstsr: error: {e}", err=True)
            ctx.exit(e.exit_code)
        except OSError as e:   # a disk that fills up, a folder that vanishes: one line too
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            click.echo(f"zstsr: error: {where}{e.strerror or e}", err=True)
            ctx.exit(1)
        except click.UsageError as e:   # a bad option value: one line too, and click's status 2
            sub = e.ctx is not None and e.ctx.parent is not None
            where = f" (zstsr {e.ctx.info_name} --help)" if sub else " (zstsr --help)"
            click.echo(f"zstsr: error: {e.format_message()}{where}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("zstsr: interrupted; no output was written", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zstsr")
def main() -> None:
    """Zero-shot temporal super-resolution, and the tools to measure it."""
    from .direct import keep_frame_memory

    keep_frame_memory()   # frames are megabytes: reuse their memory (vs_zstsr/direct.py)


# --------------------------------------------------------------------------------------------
# inspection


@main.command()
@click.argument("video", type=click.Path())
@fps_option
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@_with(input_options[-1:])
def info(video: str, fps: str | None, as_json: bool, allow_truncated: bool) -> None:
    """Describe VIDEO: size, exact frame rate, frames (counted when the container does not say),
    pixel format, colour, start timecode, reel name and audio."""
    from . import render as rd

    vi = io.probe(video, _parse_rate(fps), allow_truncated=allow_truncated, log=_note)
    d = io.info_dict(vi)
    d["frames_counted"] = vi.frames is None
    if vi.frames is None:
        d["frames"] = io.count_frames(video, vi)
    is_file = Path(video).is_file()
    d["timecode"] = rd.read_timecode(video) if is_file else None
    d["reel_name"] = rd.read_reel_name(video) if is_file else None
    d["audio"] = io.audio_info(video) if is_file else []
    # what the commands that read VIDEO make of a variable frame rate (io.open_input)
    found = io.variable_rate(video, vi) if is_file and vi.frames is not None else None
    d["variable_rate"] = None if found is None else {
        "timestamps_span": found[1], "read_as_frames": len(found[0][1]), "read_at_fps": io.format_rate(found[0][0])}
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    counted = " (counted)" if d["frames_counted"] else ""
    click.echo(vi.describe().replace("? frames", f"{d['frames']} frames{counted}", 1))
    if d["variable_rate"]:
        v = d["variable_rate"]
        click.echo(f"  variable frame rate ({v['timestamps_span']}): read as {v['read_as_frames']} frames at "
                   f"{v['read_at_fps']} fps (repeated or dropped as ffmpeg's fps filter does; --vfr error refuses)")
    click.echo(f"  colour: {io.describe_color(vi.color)}")
    click.echo(f"  timecode: {d['timecode'] or 'none'}" + (f", reel {d['reel_name']}" if d["reel_name"] else ""))
    click.echo("  audio: " + ("; ".join(f"{a['codec']} {a['sample_rate']} Hz {a['layout']}" for a in d["audio"])
                              or "none"))


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
@_with(encode_options)
@overwrite_option
@fps_option
@_with(input_options)
def degrade(htr: str, output: str, factor: int, scale: float, gt_out: str | None,
            codec: str | None, crf: int | None, prores_profile: str | None, overwrite: bool, fps: str | None,
            vfr: str, assume_progressive: bool, allow_truncated: bool) -> None:
    """Simulate a slow camera with full exposure: each output frame is the mean of FACTOR input frames.

    Input frames N*i .. N*i+N-1 make output frame i; the output rate is the input rate / N. A
    trailing remainder of fewer than N frames is dropped (and said so).
    """
    from .resample import resize_spatial

    check_factor(factor)
    if scale < 1:
        raise ZstsrError(f"--scale must be 1 or more (a shrink factor), got {scale}")
    _check_outputs(folders_or_files=[output, gt_out], inputs=[htr], overwrite=overwrite, codec=codec)
    enc = _encode_kw(output, codec, crf, prores_profile)
    vi = _open_input(htr, fps, vfr, assume_progressive, allow_truncated)
    _audio_note(vi)
    h, w = max(1, round(vi.height / scale)), max(1, round(vi.width / scale))
    kw = dict(bit_depth=vi.bit_depth, pix_fmt=vi.pix_fmt, color=vi.color, gray=vi.is_gray, log=_note)
    out_rate = vi.rate / factor
    acc = np.zeros((h, w, 3), np.float64)
    n = written = 0
    with io.VideoWriter(output, w, h, out_rate, codec=codec, **kw, **enc) as wr, \
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
@click.option("--method", "-m", type=click.Choice(baselines.METHODS),
              default="linear", show_default=True, help="Interpolator to measure against.")
@click.option("--backproject/--no-backproject", "-b", default=False, show_default=True,
              help="Add temporal back-projection: shift each group of N outputs to average back to "
                   "its input frame.")
@click.option("--conform", is_flag=True, help="Keep the input frame rate (N x slow motion).")
@codec_option
@_with(encode_options)
@overwrite_option
@fps_option
@_with(input_options)
def baseline(ltr: str, output: str, factor: int, method: str, backproject: bool, conform: bool,
             codec: str | None, crf: int | None, prores_profile: str | None, overwrite: bool, fps: str | None,
             vfr: str, assume_progressive: bool, allow_truncated: bool) -> None:
    """Upsample LTR in time by an existing interpolator (the peers zstsr is measured against).

    Output frame k is centred at input time (k + 0.5)/N - 0.5 for every method (the slow-camera
    timing); motion-compensated peers are run at 2N and resampled onto it (docs/BENCHMARKS.md).
    """
    from . import direct

    check_factor(factor)
    _check_outputs(folders_or_files=[output], inputs=[ltr], overwrite=overwrite, codec=codec)
    enc = _encode_kw(output, codec, crf, prores_profile)
    vi = _open_input(ltr, fps, vfr, assume_progressive, allow_truncated)
    _audio_note(vi)
    n = io.count_frames(ltr, vi)
    # streamed group by group: memory is a few frames, whatever the clip's length (vs_zstsr/direct.py)
    kernel = baselines.KERNELS.get(method)
    segment = direct.segment_frames(vi.height, vi.width)
    if method == "minterpolate":
        segment = max(1, n)   # ffmpeg's filter is not exact on segments: the whole clip at once
    rate = vi.rate if conform else vi.rate * factor
    with io.VideoWriter(output, vi.width, vi.height, rate, vi.bit_depth, codec, pix_fmt=vi.pix_fmt, color=vi.color,
                        gray=vi.is_gray, log=_note, background=True, **enc) as w, _bar(n * factor, method) as bar:
        # flow's frames come finished in its worker, quantized as the writer stores them and in its
        # pixel format where it has one (vs_zstsr/direct.py), as `upsample --method flow` hands them
        finish = direct.Finish(backproject, bits=io.sample_bits(vi.bit_depth), planes=w.planes) \
            if method in baselines.FINISHES else None
        for frame in direct.stream(io.read_frames(ltr, vi), factor, kernel or method, backproject=backproject,
                                   segment=segment, finished=finish is not None,
                                   peer=lambda seg, keep: baselines.peer_stream(seg, factor, method, vi.rate, keep,
                                                                                finish)):
            w.write(frame)
            bar.update(1)
        if not w.count:
            raise ZstsrError(f"{ltr}: video has no frames")
    _note(f"wrote {w.count} frames at {io.format_rate(rate)} fps to {output}")


# --------------------------------------------------------------------------------------------
# the main job


def parse_budget(value: str | None) -> float | None:
    """'90s', '10m', '1.5h' or plain seconds."""
    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    v = value.strip().lower()
    try:
        secs = float(v[:-1]) * units[v[-1]] if v and v[-1] in units else float(v)
    except ValueError:
        raise ZstsrError(f"--budget must look like 90s, 10m or 1h, got {value!r}") from None
    if secs <= 0:
        raise ZstsrError(f"--budget must be positive, got {value!r}")
    return secs


# click parameter names are the fields' names, except where a command has a parameter of that name
# already: every command's -o is `output`, so TrainOptions.output (--save-model) is `save_model`.
_PARAM = {"output": "save_model"}


def _click_options(cls, only: tuple[str, ...] | None = None, skip: tuple[str, ...] = ()) -> list:
    """click options made from the fields of an options dataclass (:mod:`.options`): each one's name,
    type, choices, bounds, default and help come from there, so a new field is a new option."""
    out = []
    for f in option_fields(cls):
        if (only is not None and f.name not in only) or f.name in skip:
            continue
        md = f.metadata
        kw = {"default": f.default, "help": md["help"], "show_default": f.default is not None and f.default is not False}
        if isinstance(f.default, bool):
            kw["is_flag"] = True
        elif md["choices"]:
            kw["type"] = click.Choice([str(c) for c in md["choices"]])
            kw["default"] = None if f.default is None else str(f.default)
        elif md["metavar"]:
            kw["metavar"] = md["metavar"]        # the command parses it (e.g. --budget 10m)
        elif md["bounds"]:
            lo, hi = md["bounds"]
            kw["type"] = (click.FloatRange if isinstance(f.default, float) else click.IntRange)(lo, hi)
        elif f.default is not None:
            kw["type"] = type(f.default)
        out.append(click.option(md["cli"] or "--" + f.name.replace("_", "-"), _PARAM.get(f.name, f.name), **kw))
    return out


def _take(cls, params: dict):
    """``cls`` built from the click parameters named as its fields (removed from ``params``); a
    choice of numbers comes back as a number."""
    kw = {}
    for f in option_fields(cls):
        if _PARAM.get(f.name, f.name) in params:
            v = params.pop(_PARAM.get(f.name, f.name))
            if f.metadata["choices"] and isinstance(v, str) and isinstance(f.default, int):
                v = int(v)
            kw[f.name] = v
    return cls(**kw)


def _upsample_options(factor: int, params: dict) -> UpsampleOptions:
    """The job's options from a command's click parameters (see :func:`_click_options`)."""
    if "budget_s" in params:
        params["budget_s"] = parse_budget(params["budget_s"])
    if "out_fps" in params:
        try:
            params["out_fps"] = _parse_rate(params["out_fps"], "--out-fps")
        except ZstsrError as e:
            raise UsageError(str(e)) from None
    engine, train = _take(EngineOptions, params), _take(TrainOptions, params)
    return replace(_take(UpsampleOptions, params), factor=factor, engine=engine, train=train).check()


# The upsampling job's options, shared by `upsample` and `render` (`train` takes the training ones);
# an output rate that is not a power-of-two multiple (--out-fps) is upsample's only.
job_options = _click_options(UpsampleOptions, skip=("factor",))
render_job_options = _click_options(UpsampleOptions, skip=("factor", "out_fps"))
device_options = _click_options(EngineOptions)
train_options = _click_options(TrainOptions, skip=("output",))
save_model_option = _click_options(TrainOptions, only=("output",))


class _Bar:
    """A training progress bar over what stops training: its iterations when they bound it (the
    presets), else the wall-clock budget; the ETA, seconds or iterations, and the loss over
    cubic's; notes print above it (:func:`_note`). Several nets in a row (``--examples auto``,
    fine-tuning) each restart it."""

    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} {unit} [{elapsed}<{remaining}{postfix}]"

    def __init__(self, desc: str):
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit="s", file=sys.stderr, disable=None, leave=False, dynamic_ncols=True,
                        bar_format=self.FORMAT)
        self.last = 0.0

    def __call__(self, step, total, info) -> None:
        info = info or {}
        seconds, budget = float(info.get("seconds", 0.0)), info.get("budget_s")
        if seconds < self.last:                  # the next net: a fresh bar
            self.bar.reset()
        self.last = seconds
        if total:                                # iterations bound it (the time only caps it)
            self.bar.unit, self.bar.total, self.bar.n = "it", total, min(step, total)
            post = {"s": f"{seconds:.0f}"}
        else:
            self.bar.unit, self.bar.total = "s", budget or None
            self.bar.n = min(seconds, budget) if budget else seconds
            post = {"it": step}
        if "ratio" in info:
            post["loss/cubic"] = f"{info['ratio']:.3f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


model_option = click.option(
    "--model", type=click.Path(), default=None,
    help="A trained zstsr ONNX model; without one, a model is trained on VIDEO (and cached).")

# Scale-out (docs/SCALE.md): the same render on a Ray cluster, and the chunk size it splits into.
scale_options = [
    click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
                 help="Render on Ray (pip install 'zstsr[ray]'): alone, a Ray started on this machine; auto or "
                      "HOST:PORT or ray://HOST:PORT, a running cluster. Same output as without it; an "
                      "interrupted run resumes from its finished chunks (docs/SCALE.md). Put it after SOURCE."),
    click.option("--chunk", type=click.IntRange(min=1), default=None, metavar="FRAMES",
                 help=f"Input frames rendered at once (default: as many as fit in about {CHUNK_BYTES / 2 ** 30:.3g} GiB, "
                      "at most 32). "
                      "Smaller: less memory per chunk, and more work units to spread with --ray."),
]


def _ray_job(address: str | None, chunk: int | None):
    """The ``--ray`` job with its one progress bar over prepares and chunks (``with`` it), or None."""
    if address is None:
        return None
    from .distributed import Job

    return Job(address, log=_note, bar=_bar(0, "ray", "task"), chunk=chunk)


@main.command()
@click.argument("video", type=click.Path())
@output_option
@factor_option
@model_option
@_with(job_options)
@click.option("--conform", is_flag=True, help="Keep the input frame rate: N x slow motion.")
@_with(device_options)
@_with(save_model_option)
@_with(train_options)
@codec_option
@_with(encode_options)
@overwrite_option
@fps_option
@_with(input_options)
@_with(scale_options)
def upsample(video, output, factor, model, conform, codec, crf, prores_profile, overwrite, fps, vfr,
             assume_progressive, allow_truncated, ray_address, chunk, **params) -> None:
    """Temporal super-resolution of VIDEO by FACTOR: coarse-to-fine with back-projection.

    The output has FACTOR x the frame rate (or the same rate with --conform), the input's size,
    pixel format and colour description, and averaging each group of FACTOR output frames gives
    back the input frame. --out-fps RATE instead of a factor: any rate above the input's (e.g.
    24 -> 60), each output frame the exposure-weighted mean of the x2^k result over its interval.
    """
    import functools

    from . import retime
    from .stream import Renderer, upsample_stream

    options = _upsample_options(factor, params)
    if options.out_fps is not None and conform:
        raise UsageError("--conform keeps the input rate and --out-fps sets another: pass one of them")
    _check_outputs(files=[options.train.output], folders_or_files=[output], inputs=[video, model],
                   overwrite=overwrite, codec=codec)
    enc = _encode_kw(output, codec, crf, prores_profile)
    if ray_address is None:   # (with --ray flow runs on Ray's workers)
        methods.ask_flow_ahead(options.method)
    vi = _open_input(video, fps, vfr, assume_progressive, allow_truncated)
    given = click.get_current_context().get_parameter_source("factor") != click.core.ParameterSource.DEFAULT
    options, rt = retime.resolve(options, vi.rate, factor_given=given)
    factor = options.factor
    _audio_note(vi)
    n = io.count_frames(video, vi)
    if n < 1:
        raise ZstsrError(f"{video}: video has no frames")
    if model is not None and not Path(model).is_file():
        raise ZstsrError(f"model file not found: {model}")
    if ray_address is not None and options.train.output:
        raise ZstsrError("--save-model is not available with --ray (the model is kept in the cache)")
    if rt is not None:   # the shots the ladder splits at (one pass over the clip), so no retimed frame mixes two
        starts = retime.detect_starts(io.read_frames(video, vi), factor, options.cut_threshold)
    create = functools.partial(   # picklable: with --ray it runs on a worker
        Renderer.create, model, options, height=vi.height, width=vi.width, read=io.frame_reader(video, vi),
        num_frames=n)
    job = _ray_job(ray_address, chunk)
    with job or contextlib.nullcontext():
        if job is not None:
            job.add(video, vi, n, create, output)
            frames_cm, pbar = job.output(video), contextlib.nullcontext(None)
        else:
            bar = _Bar("train")
            try:
                renderer = create(log=_note, progress=bar)
            finally:
                bar.close()
            renderer.chunk = chunk or renderer.chunk
            # straight to the writer: flow's frames may come quantized as it stores them, in its
            # pixel format (vs_zstsr/direct.py), so they are made once it is open (below)
            bits = io.sample_bits(vi.bit_depth) if rt is None else None
            frames_cm = contextlib.nullcontext(None)
            pbar = _bar(rt.count(n * factor) if rt else n * factor, "upsample")
        rate = vi.rate if conform else options.out_fps or vi.rate * factor
        written = rt.count(n * factor) if rt else n * factor
        # the chunks (with --ray) are let go only once the writer has put the output in place
        with frames_cm as frames, io.VideoWriter(output, vi.width, vi.height, rate, vi.bit_depth, codec,
                                                 pix_fmt=vi.pix_fmt, color=vi.color, gray=vi.is_gray, log=_note,
                                                 background=True, **enc) as w, pbar as b:
            if frames is None:
                frames = upsample_stream(io.read_frames(video, vi), renderer, bits=bits, planes=bits and w.planes)
            for frame in rt.stream(frames, n * factor, starts) if rt else frames:
                w.write(frame)
                if b is not None:
                    b.update(1)
    _note(f"wrote {written} frames at {io.format_rate(rate)} fps to {output}")


@main.command()
@click.argument("source", type=click.Path())
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder (created if missing): masters, Proxy/ and, for a folder SOURCE, "
                   "zstsr_render.csv.")
@factor_option
@click.option("--conform", is_flag=True,
              help="Keep the input frame rate: the N x frames play as N x slow motion.")
@click.option("--codec", type=click.Choice(["prores", "dnxhr", "ffv1"]), default="prores", show_default=True,
              help="Master: ProRes 422 HQ (.mov), DNxHR HQX 10-bit (.mov, at least 256x120) or FFV1 "
                   "lossless (.mkv).")
@click.option("--proxy", is_flag=True,
              help="Also write a ProRes Proxy with the same name in OUT_DIR/Proxy/ (same frames, rate, "
                   "timecode, reel name, audio) for the NLE to relink.")
@click.option("--proxy-size", type=click.Choice(["half", "quarter"]), default="half", show_default=True,
              help="Proxy picture size.")
@click.option("--audio", type=click.Choice(["auto", "keep", "drop", "stretch"]), default="auto",
              show_default=True,
              help="auto: keep at real rate, drop with --conform; stretch: slow it N x like tape "
                   "(pitch falls) to match --conform. Written to the file as zstsr_audio.")
@model_option
@_with(render_job_options)
@_with(device_options)
@_with(train_options)
@overwrite_option
@fps_option
@_with(input_options)
@_with(scale_options)
def render(source, out_dir, factor, conform, codec, proxy, proxy_size, audio, model, overwrite, fps, vfr,
           assume_progressive, allow_truncated, ray_address, chunk, **params) -> None:
    """Edit-ready output for NLEs: a mezzanine master of SOURCE upsampled N x, and with --proxy a
    matching proxy (docs/NLE.md).

    SOURCE is a clip, a PNG-frame folder, or a folder of clips (each video file in it, not
    recursive): then a bad clip gets one error line, the rest are rendered, OUT_DIR/zstsr_render.csv
    lists them all, and the exit status is 1 if any failed. The start timecode and reel name are
    carried over (the timecode rescaled to the new rate, or copied with --conform). Real-world
    footage is handled as by `upsample` (docs/FOOTAGE.md): rotation, variable rate (--vfr),
    interlaced (--assume-progressive) and alpha input, clip by clip.
    """
    import contextlib

    from . import render as rd

    options = _upsample_options(factor, params)
    if model is not None and not Path(model).is_file():
        raise ZstsrError(f"model file not found: {model}")
    settings = rd.RenderSettings(
        conform=conform, codec=codec, proxy=proxy_size if proxy else None, audio=audio,
        fps=_parse_rate(fps), vfr=vfr, assume_progressive=assume_progressive, allow_truncated=allow_truncated,
        options=options, model=model, chunk=chunk)
    settings.check()
    src = Path(source)
    if not src.exists():
        raise ZstsrError(f"{source}: no such file or folder")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ZstsrError(f"{out_dir}: exists and is not a folder")
    if not out.parent.exists():
        raise ZstsrError(f"{out.parent}: output folder does not exist")
    batch = rd.is_batch(src)
    sources = rd.list_sources(src) if batch else [src]
    targets = {t for s in sources for t in rd.output_paths(s, out, codec, proxy)}
    outputs.check([(t, False) for t in sorted(targets) + ([out / rd.CSV_NAME] if batch else [])],
                  [*sources, model], overwrite=overwrite, make_parents=True)

    job = _ray_job(ray_address, chunk)
    if job is None:
        methods.ask_flow_ahead(options.method)
    refused: dict = {}   # with --ray: clips refused before the job started, and why

    def start(path, info=None):
        """With --ray: probe the clip and start its prepare task (all clips start at once)."""
        try:
            vi = info or io.open_input(path, settings.fps, vfr=vfr, assume_progressive=assume_progressive,
                                       log=_note)
            n = io.count_frames(path, vi)
            job.add(path, vi, n, rd.clip_engine(path, vi, n, settings), rd.master_path(path, out, codec))
            return vi
        except ZstsrError as e:
            refused[path] = e

    def one(path, protect=(), info=None):
        if job is not None and path in refused:
            raise refused[path]
        bar = _Bar("train") if job is None else None
        try:
            with job.output(path) if job is not None else contextlib.nullcontext() as frames:
                return rd.render_clip(path, out, settings, log=_note, train_progress=bar,
                                      frame_bar=_bar if job is None else None, protect=protect, info=info,
                                      frames=frames)
        finally:
            if bar is not None:
                bar.close()

    def said(r):
        return (f"wrote {r.frames} frames at {io.format_rate(r.rate)} fps from {r.start_timecode} to "
                f"{r.master}" + (f" and {r.proxy}" if r.proxy else ""))

    with job or contextlib.nullcontext():
        if not batch:
            # refuse bad input (unreadable, alpha, interlaced, --vfr error) before creating anything
            vi = io.open_input(src, settings.fps, vfr=vfr, assume_progressive=assume_progressive,
                               allow_truncated=allow_truncated, log=_note)
            made = not out.exists()
            out.mkdir(exist_ok=True)
            try:
                if job is not None:
                    start(src, vi)
                _note(said(one(src, info=vi)))
            except BaseException:
                if made:
                    with contextlib.suppress(OSError):
                        out.rmdir()  # only if empty: leave nothing behind
                raise
            return
        out.mkdir(exist_ok=True)
        infos, started = {}, set()
        for path in sources if job is not None else ():
            target = rd.master_path(path, out, codec)
            if target not in started:   # a clash is reported below, clip by clip
                started.add(target)
                infos[path] = start(path)
        results, masters = [], {}
        for path in sources:
            target = rd.master_path(path, out, codec)
            try:
                if target in masters:
                    raise ZstsrError(f"its master {target.name} would overwrite the one of {masters[target].name}")
                r = one(path, protect=tuple(p for p in sources if p != path), info=infos.get(path))
                masters[target] = path
                _note(said(r))
            except Exception as e:  # noqa: BLE001 - one bad clip must not stop the batch
                reason = rd.short_reason(path, e)
                click.echo(f"zstsr: error: {path}: {reason}", err=True)
                r = rd.ClipResult(source=str(path), status=f"error: {reason}")
            results.append(r)
    csv_path = rd.write_csv(out, results)
    failed = sum(r.status != "ok" for r in results)
    _note(f"rendered {len(results) - failed} of {len(results)} clips; list in {csv_path}")
    if failed:
        sys.exit(1)


@main.command(name="train")
@click.argument("video", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="Checkpoint to write (.pt).")
@factor_option
@click.option("--resume", is_flag=True, help="Continue from OUTPUT if it exists.")
@click.option("--overwrite", "-y", is_flag=True, help="Start afresh, replacing an existing OUTPUT.")
@_with(_click_options(TrainOptions, only=("preset", "budget_s", "iterations", "examples", "padding")))
@_with(_click_options(UpsampleOptions, only=("cut_threshold",)))
@fps_option
@_with(input_options)
def train_cmd(video, output, factor, resume, overwrite, preset, budget_s, iterations, examples, padding, cut_threshold,
              fps, vfr, assume_progressive, allow_truncated) -> None:
    """Train the video-specific net on VIDEO at the ladder's coarse scale (needs torch)."""
    from .fit import default_preset, train_config, train_or_explain, training_frames, training_modules
    from .ladder import plan

    if examples == "auto":
        raise ZstsrError("--examples auto picks between two nets while upsampling; zstsr train fits one: "
                         "choose within, across or both")
    if resume and overwrite:
        raise UsageError("--resume continues OUTPUT and --overwrite replaces it: pass one of them")
    check_factor(factor)
    try:
        # --resume allows replacing only the checkpoint it continues: with none there yet, a file
        # that appears under OUTPUT while training runs is kept (outputs.commit_file)
        _check_outputs(files=[output], inputs=[video], overwrite=overwrite or (resume and os.path.isfile(output)))
    except UsageError as e:
        if "--overwrite" not in str(e):
            raise
        if resume:    # there, but not a file to continue (a link to nothing)
            raise UsageError(f"{output} is not a checkpoint to resume; pass --overwrite (-y) to start "
                             "afresh") from None
        raise UsageError(f"checkpoint {output} exists; pass --resume to continue it or --overwrite (-y) "
                         "to start afresh") from None
    zstsr_trainer, _ = training_modules()
    vi = _open_input(video, fps, vfr, assume_progressive, allow_truncated)
    n = io.count_frames(video, vi)
    size = plan(vi.height, vi.width, factor).rungs[0].size
    ltr = training_frames(io.frame_reader(video, vi), n, size, cut_threshold=cut_threshold)
    preset = preset or default_preset()
    config = train_config(preset, parse_budget(budget_s), examples, iterations, padding=padding)
    shots = f" in {len(ltr)} pieces (runs and shots)" if len(ltr) > 1 else ""
    _note(f"training the {preset} net with {config.padding} padding on {sum(len(p) for p in ltr)} frames{shots} at "
          f"{size[1]}x{size[0]}; checkpoints go to {output}")
    bar = _Bar("train")
    try:
        result = train_or_explain(zstsr_trainer, ltr, config, checkpoint=output, resume=resume, progress=bar)
    finally:
        bar.close()
    _note(f"{result.iterations} iterations in {result.seconds:.0f} s ({result.stopped}, {result.precision}); loss "
          f"{result.loss_ratio:.3f} x cubic's on its own examples; wrote {output}")


@main.command(name="export")
@click.argument("checkpoint", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(), help="ONNX file to write.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Check that onnxruntime agrees with torch to 1e-4.")
@overwrite_option
def export_cmd(checkpoint, output, check, overwrite) -> None:
    """Export a trained checkpoint to ONNX (cubic x2 + residual inside the graph; needs torch)."""
    if not Path(checkpoint).is_file():
        raise ZstsrError(f"checkpoint not found: {checkpoint}")
    if _is_onnx(checkpoint):
        raise UsageError(f"{checkpoint} is already an ONNX model; export takes the .pt checkpoint that "
                         "zstsr train writes")
    _check_outputs(files=[output], inputs=[checkpoint], overwrite=overwrite)
    try:
        import zstsr_export
    except ImportError:
        raise ZstsrError("export needs torch and onnx: pip install 'zstsr[train]'") from None
    # written and checked under a temporary name: a graph that fails the check never takes OUTPUT's
    # name, nor replaces (with -y) the file that had it
    tmp = outputs.temp_path(output, ".onnx")
    try:
        try:
            zstsr_export.export_onnx(checkpoint, str(tmp))
        except (ValueError, KeyError, RuntimeError, OSError) as e:
            raise ZstsrError(f"{checkpoint}: not a zstsr checkpoint ({str(e).splitlines()[0]})") from None
        if check:
            try:
                worst = zstsr_export.check_parity(checkpoint, str(tmp))
            except AssertionError as e:
                raise ZstsrError(f"{checkpoint}: the exported graph fails the check ({e}); {output} was not "
                                 "written") from None
            _note(f"torch and onnxruntime agree to {worst:.1e}")
        outputs.commit_file(tmp, output)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _note(f"wrote {output}")


def _is_onnx(path: str) -> bool:
    """An ONNX file (a protobuf whose first field is ir_version), not a torch checkpoint (a zip)."""
    with open(path, "rb") as f:
        head = f.read(4)
    return Path(path).suffix.lower() == ".onnx" or (head[:1] == b"\x08" and not head.startswith(b"PK"))


# --------------------------------------------------------------------------------------------
# measuring


@main.command(name="eval")
@click.argument("output", type=click.Path())
@click.argument("gt", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON (per-frame and mean).")
@click.option("--plot", type=click.Path(), default=None, help="Write a PNG of PSNR/SSIM over time.")
@click.option("--summary", is_flag=True, help="Print only the means.")
@click.option("--border", type=click.IntRange(min=0), default=0, show_default=True,
              help="Ignore this many pixels at each edge.")
@overwrite_option
@fps_option
def evaluate(output: str, gt: str, as_json: bool, plot: str | None, summary: bool, border: int,
             overwrite: bool, fps: str | None) -> None:
    """Compare OUTPUT with ground truth GT frame by frame: PSNR (dB) and SSIM, and their means, and
    the sharpness (mean gradient magnitude of OUTPUT over GT's: below 1 is blurrier than the truth)
    over whole frames and over the moving regions."""
    from .metrics import Sharpness, psnr, ssim

    _check_outputs(files=[plot], inputs=[output, gt], overwrite=overwrite)
    rate = _parse_rate(fps)
    a, b = io.probe(output, rate), io.probe(gt, rate)
    if 2 * border >= min(a.width, a.height):
        raise UsageError(f"--border {border} leaves nothing of a {a.width}x{a.height} frame")
    if (a.width, a.height) != (b.width, b.height):
        raise ZstsrError(f"size differs: {output} is {a.width}x{a.height}, {gt} is {b.width}x{b.height}")
    if a.frames and b.frames and a.frames != b.frames:
        raise ZstsrError(f"length differs: {output} has {a.frames} frames, {gt} has {b.frames}")
    rows = []
    sharp = Sharpness()
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
            sharp.update(x[sl], y[sl])
            bar.update(1)
    if not rows:
        raise ZstsrError(f"{output}: no frames to compare")
    p = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    result = {"output": output, "gt": gt, "frames": len(rows), "psnr": float(p.mean()),
              "ssim": float(s.mean()), "psnr_min": float(p.min()), **sharp.result(),
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
    sh = sharp.result()
    moving = "nothing moves" if sh["sharpness_moving"] is None else f"{sh['sharpness_moving']:.3f} where the truth moves"
    click.echo(f"sharpness (gradient over the truth's): {sh['sharpness']:.3f} whole frames, {moving}")


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
    try:
        with io.atomic_path(path, ".png") as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)


if __name__ == "__main__":  # pragma: no cover
    main()
