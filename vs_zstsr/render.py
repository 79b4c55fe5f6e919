"""``zstsr render``: an edit-ready master and a matching proxy for NLEs (docs/NLE.md).

One clip in, up to two files out, written in one pass over the upsampled frames:

* the **master**, ``OUT_DIR/<stem>.mov`` (ProRes 422 HQ, or DNxHR HQX 10-bit 4:2:2) or
  ``OUT_DIR/<stem>.mkv`` (FFV1, lossless);
* with ``proxy``, the **proxy**, ``OUT_DIR/Proxy/<stem>.mov``: ProRes Proxy at half or quarter size,
  with the master's frame count, frame rate, start timecode, reel name and audio track, so that
  Resolve, Premiere, Final Cut or Avid can relink one to the other.

**Rate.** Without ``conform`` the output runs at FACTOR x the input rate (real time); with it, at
the input rate, so the FACTOR x frames play as FACTOR x slow motion.

**Timecode.** The source's start timecode (stream, tmcd track or container tag ``timecode``; else
``00:00:00:00``) is counted as ffmpeg does: a frame number at the integer base ``round(rate)``
(drop-frame with ``;`` when the base is a multiple of 30). For real-rate output the start *time*
is kept: the frame number is rescaled to the new base ``round(rate * FACTOR)``, which is exactly
FACTOR x the old one for every usual rate (``01:00:10:15`` at 30 -> ``01:00:10:120`` at 240). For
conformed output the rate is unchanged, so the timecode is copied as it is.

**Audio.** ``keep`` (the default at real rate) re-encodes the source's first audio track to PCM
(16-bit if it was 16-bit or less, else 24-bit; same rate and channel layout), aligned to the
video's start and cut at its end. ``drop`` (the default with ``conform``) writes no audio;
``stretch`` slows the audio by FACTOR like tape (resampled to FACTOR x its rate, then played at
its rate: exactly FACTOR x as long, so it stays in sync, and FACTOR x lower in pitch: 3 octaves
for x8). The choice is written to the file's metadata as ``zstsr_audio`` (``keep``, ``drop``,
``stretch`` or ``none`` when the source has no audio).

Every file (master, proxy, the batch CSV) is written under a temporary name and renamed when
complete; master and proxy are both completed before either is renamed.

**Footage.** Each source goes through ``io.open_input`` as in ``zstsr upsample`` (docs/FOOTAGE.md):
rotated clips are turned upright, a variable rate is converted (``vfr="convert"``) or refused,
alpha and interlaced input (unless ``assume_progressive``) are refused; in a folder render such a
clip is one error line and a CSV row, and the others are rendered.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import itertools
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from math import floor
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from . import io
from .errors import ZstsrError
from .options import UpsampleOptions

MASTER_CODECS = ("prores", "dnxhr", "ffv1")
PROXY_SIZES = {"half": 2, "quarter": 4}
AUDIO_MODES = ("auto", "keep", "drop", "stretch")
PROXY_FOLDER = "Proxy"
CSV_NAME = "zstsr_render.csv"
CSV_FIELDS = ("source", "master", "proxy", "frames", "rate", "start_timecode", "status")
# What a folder render picks up (non-recursive); anything else in the folder is left alone.
VIDEO_EXTS = {".mov", ".mp4", ".m4v", ".mkv", ".avi", ".mxf", ".webm", ".nut", ".mts", ".m2ts",
              ".ts", ".mpg", ".mpeg", ".y4m", ".dv", ".flv", ".wmv", ".3gp", ".ogv"}
_MASTER_EXT = {"prores": ".mov", "dnxhr": ".mov", "ffv1": ".mkv"}
_MASTER_PROFILE = {"prores": "3", "dnxhr": "dnxhr_hqx", "ffv1": None}  # 3: ProRes 422 HQ
PROXY_PROFILE = "0"  # ProRes Proxy


# --------------------------------------------------------------------------------------------
# timecode (the arithmetic of ffmpeg's libavutil/timecode.c)


_TC = re.compile(r"^\s*(\d{1,2}):(\d{1,2}):(\d{1,2})([:;.,])(\d{1,5})\s*$")


def timecode_base(rate: Fraction) -> int:
    """The integer frame count per timecode second: ffmpeg's rounding of the rate (29.97 -> 30)."""
    rate = Fraction(rate)
    return max(1, (rate.numerator + rate.denominator // 2) // rate.denominator)


def _drop_ok(base: int) -> bool:
    return base % 30 == 0


def parse_timecode(tc: str, base: int) -> tuple[int, bool]:
    """``HH:MM:SS:FF`` (``;`` ``.`` or ``,`` before FF: drop-frame) -> (frame number, drop)."""
    m = _TC.match(tc or "")
    if not m:
        raise ValueError(f"not a timecode: {tc!r}")
    hh, mm, ss, sep, ff = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    if mm > 59 or ss > 59 or ff >= base:
        raise ValueError(f"timecode {tc!r} out of range at {base} frames per second")
    drop = sep != ":" and _drop_ok(base)
    frame = ff + (ss + 60 * mm + 3600 * hh) * base
    if drop:
        tmins = 60 * hh + mm
        frame -= (base // 30 * 2) * (tmins - tmins // 10)
    return frame, drop


def format_timecode(frame: int, base: int, drop: bool = False) -> str:
    """A frame number as ffmpeg writes it (more than 100 frames a second: 3 frame digits)."""
    drop = drop and _drop_ok(base)
    if drop:
        # ffmpeg's av_timecode_adjust_ntsc_framenum2, with the length of a dropping minute
        # (base * 60 - dropped) where ffmpeg has per10 / 10: the same at 30, 60 and 120, and
        # right at 240, where ffmpeg's is one frame long.
        d_frames = base // 30 * 2
        per10 = base // 30 * 17982
        d, m = divmod(frame, per10)
        frame += 9 * d_frames * d + d_frames * max(0, (m - d_frames) // (base * 60 - d_frames))
    ff = frame % base
    ss = frame // base % 60
    mm = frame // (base * 60) % 60
    hh = frame // (base * 3600) % 24
    digits = 5 if base > 10000 else 4 if base > 1000 else 3 if base > 100 else 2
    return f"{hh:02d}:{mm:02d}:{ss:02d}{';' if drop else ':'}{ff:0{digits}d}"


def scale_timecode(tc: str | None, src_rate: Fraction, out_rate: Fraction) -> str:
    """The source's start timecode for the output rate: same start time (see the module doc)."""
    src_base, out_base = timecode_base(src_rate), timecode_base(out_rate)
    frame, drop = parse_timecode(tc, src_base) if tc else (0, False)
    new = floor(Fraction(frame * out_base, src_base) + Fraction(1, 2))
    return format_timecode(new, out_base, drop)


def _tags(path: str | os.PathLike) -> list[dict]:
    """The metadata dicts of a file: video stream, other streams (a tmcd track), container."""
    p = Path(path)
    if p.is_dir():
        return []
    av = io._av()
    try:
        with av.open(str(p)) as c:
            video = [dict(s.metadata) for s in c.streams.video[:1]]
            others = [dict(s.metadata) for s in c.streams if s.type != "video"]
            return video + others + [dict(c.metadata)]
    except (av.error.FFmpegError, OSError) as e:
        raise ZstsrError(f"{p}: cannot read as video ({io._reason(e)})") from None


def _tag(tags: list[dict], key: str) -> str | None:
    for d in tags:
        for k, v in d.items():
            if k.lower() == key and str(v).strip():
                return str(v).strip()
    return None


def read_timecode(path: str | os.PathLike) -> str | None:
    """The start timecode a file carries (video stream, tmcd track or container; in a MOV above
    io.MOV_TIMECODE_MAX_FPS, its io.TIMECODE_TAG), or None."""
    tags = _tags(path)
    return _tag(tags, "timecode") or _tag(tags, io.TIMECODE_TAG)


def read_reel_name(path: str | os.PathLike) -> str | None:
    return _tag(_tags(path), "reel_name")


# --------------------------------------------------------------------------------------------
# audio


@dataclass
class _AudioSource:
    spec: io.AudioSpec
    chunks: Iterator[np.ndarray]  # float32 planar (channels, n) at spec.rate, from the video's start


def _open_audio(path: str, stretch: int) -> _AudioSource | None:
    """The first audio track of ``path`` as float32 chunks; ``stretch`` > 1 slows it like tape."""
    av = io._av()
    with av.open(path) as c:
        if not c.streams.audio:
            return None
        a = c.streams.audio[0]
        cc = a.codec_context
        rate = cc.sample_rate or a.rate
        if not rate:
            raise ZstsrError(f"{path}: audio stream has no sample rate")
        layout = cc.layout.name if cc.layout and cc.layout.name else (
            "mono" if cc.channels == 1 else "stereo")
        fmt = cc.format.name if cc.format else "fltp"
        bits = 16 if fmt in ("u8", "u8p", "s16", "s16p") else 24
    spec = io.AudioSpec(int(rate), layout, bits)
    return _AudioSource(spec, _audio_chunks(path, stretch, spec.rate, layout))


def _start(stream) -> Fraction:
    return Fraction(stream.start_time * stream.time_base) if stream.start_time is not None else Fraction(0)


def _audio_chunks(path: str, stretch: int, rate: int, layout: str) -> Iterator[np.ndarray]:
    av = io._av()
    try:
        with av.open(path) as c:
            a = c.streams.audio[0]
            offset = _start(a) - (_start(c.streams.video[0]) if c.streams.video else 0)
            # Resampled to stretch x the rate and then counted at the rate: stretch x as long.
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate * stretch)
            skip = max(0, round(-offset * rate * stretch))
            if offset > 0:  # audio starts after the picture: silence first
                channels = len(av.AudioLayout(layout).channels)
                yield np.zeros((channels, round(offset * rate * stretch)), np.float32)
            for frame in itertools.chain(c.decode(a), [None]):
                for f in resampler.resample(frame):
                    x = f.to_ndarray().astype(np.float32, copy=False)
                    if skip:
                        cut = min(skip, x.shape[1])
                        x, skip = x[:, cut:], skip - cut
                    if x.shape[1]:
                        yield x
    except (av.error.FFmpegError, OSError) as e:
        raise ZstsrError(f"{path}: corrupt audio stream ({io._reason(e)})") from None


class _AudioPump:
    """Feeds audio to the writers alongside the picture (interleaved, so muxers need not buffer),
    up to the end of the picture."""

    def __init__(self, src: _AudioSource, writers: list[io.VideoWriter], duration: Fraction):
        self.src, self.writers = src, writers
        self.end = floor(duration * src.spec.rate)
        self.done = 0
        self.pending: np.ndarray | None = None

    def until(self, seconds: Fraction) -> None:
        target = min(self.end, floor(Fraction(seconds) * self.src.spec.rate))
        while self.done < target:
            x = self.pending if self.pending is not None else next(self.src.chunks, None)
            self.pending = None
            if x is None:
                self.done = self.end  # the audio is shorter than the picture
                return
            take = min(x.shape[1], target - self.done)
            if take < x.shape[1]:
                self.pending = x[:, take:]
            for w in self.writers:
                w.write_audio(x[:, :take])
            self.done += take

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.src.chunks.close()


# --------------------------------------------------------------------------------------------
# one clip


@dataclass
class RenderSettings:
    conform: bool = False
    codec: str = "prores"
    proxy: str | None = None       # None, "half" or "quarter"
    audio: str = "auto"            # auto, keep, drop, stretch
    fps: Fraction | None = None    # rate of a PNG folder without zstsr.json
    vfr: str = "convert"           # variable frame rate: convert or error (docs/FOOTAGE.md)
    assume_progressive: bool = False  # else input flagged interlaced is refused
    allow_truncated: bool = False     # else a file shorter than its container says is refused
    options: UpsampleOptions = field(default_factory=UpsampleOptions)   # the upsampling job (.options)
    model: str | None = None       # a trained ONNX model; None: train one on each clip (and cache it)
    chunk: int | None = None       # LTR frames rendered at once (None: the renderer's own)

    @property
    def factor(self) -> int:
        return self.options.factor

    def check(self) -> None:
        self.options.check()
        if self.codec not in MASTER_CODECS:
            raise ZstsrError(f"--codec must be one of {', '.join(MASTER_CODECS)}, got {self.codec!r}")
        if self.proxy is not None and self.proxy not in PROXY_SIZES:
            raise ZstsrError(f"--proxy-size must be half or quarter, got {self.proxy!r}")
        if self.audio not in AUDIO_MODES:
            raise ZstsrError(f"--audio must be one of {', '.join(AUDIO_MODES)}, got {self.audio!r}")
        if self.vfr not in io.VFR_POLICIES:
            raise ZstsrError(f"--vfr must be convert or error, got {self.vfr!r}")
        if self.audio == "keep" and self.conform:
            raise ZstsrError("--audio keep would play out of sync with --conform (slow motion); "
                             "use --audio stretch or --audio drop")
        if self.audio == "stretch" and not self.conform:
            raise ZstsrError("--audio stretch is for --conform (slow motion); real-rate output keeps "
                             "the audio as it is")

    @property
    def audio_mode(self) -> str:
        return self.audio if self.audio != "auto" else ("drop" if self.conform else "keep")


@dataclass
class ClipResult:
    source: str
    master: str = ""
    proxy: str = ""
    frames: int = 0
    rate: Fraction | None = None
    start_timecode: str = ""
    status: str = "ok"

    def row(self, out_dir: Path) -> dict:
        def rel(p):
            if not p:
                return ""
            with contextlib.suppress(ValueError):
                return Path(p).relative_to(out_dir).as_posix()
            return str(p)

        return {"source": self.source, "master": rel(self.master), "proxy": rel(self.proxy),
                "frames": self.frames or "", "rate": str(self.rate) if self.rate else "",
                "start_timecode": self.start_timecode, "status": self.status}


def master_path(source: str | os.PathLike, out_dir: str | os.PathLike, codec: str) -> Path:
    """``OUT_DIR/<stem>.mov`` (ProRes, DNxHR) or ``.mkv`` (FFV1); a PNG folder gives its name."""
    src = Path(str(source).rstrip("/" + os.sep))
    return Path(out_dir) / ((src.name if src.is_dir() else src.stem) + _MASTER_EXT[codec])


def proxy_path(master: Path) -> Path:
    return master.parent / PROXY_FOLDER / (master.stem + ".mov")


def output_paths(source: str | os.PathLike, out_dir: str | os.PathLike, codec: str, proxy: bool) -> list[Path]:
    """The files rendering ``source`` writes: its master and, with ``proxy``, its proxy."""
    master = master_path(source, out_dir, codec)
    return [master, proxy_path(master)] if proxy else [master]


def proxy_size(width: int, height: int, which: str) -> tuple[int, int]:
    d = PROXY_SIZES[which]
    return max(2, round(width / d / 2) * 2), max(2, round(height / d / 2) * 2)


def _same(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        return a.exists() and b.exists() and os.path.samefile(a, b)
    return False


def render_clip(source: str | os.PathLike, out_dir: str | os.PathLike, settings: RenderSettings, *,
                log: Callable[[str], None] | None = None, train_progress=None,
                frame_bar: Callable[[int, str], object] | None = None,
                protect: tuple[Path, ...] = (), info: io.VideoInfo | None = None,
                frames: Iterable[np.ndarray] | None = None) -> ClipResult:
    """Render one clip into ``out_dir`` (which must exist). Raises ZstsrError with one clear line;
    nothing is left under the output names on failure (but for a master already in place when its
    proxy's name turned out taken: the error names it). ``protect``: paths the outputs must not
    overwrite (the other sources of a folder render). The source goes through ``io.open_input``
    (alpha and interlaced input refused, a variable rate converted or refused, as ``settings``
    say; docs/FOOTAGE.md) unless ``info`` is what that already returned for it. ``frames``: the
    upsampled frames made elsewhere (a ``--ray`` job, vs_zstsr/distributed.py) instead of by
    :func:`clip_engine` and ``upsample_stream`` here."""
    from .resample import resize_spatial
    from .stream import upsample_stream

    settings.check()
    source = str(source)
    out_dir = Path(out_dir)
    factor = settings.factor
    vi = info or io.open_input(source, settings.fps, vfr=settings.vfr,
                               assume_progressive=settings.assume_progressive,
                               allow_truncated=settings.allow_truncated, log=log)
    n = io.count_frames(source, vi)
    if n < 1:
        raise ZstsrError(f"{source}: video has no frames")
    master = master_path(source, out_dir, settings.codec)
    proxy = proxy_path(master) if settings.proxy else None
    for target in filter(None, (master, proxy)):
        if any(_same(target, Path(p)) for p in (source, *protect)):
            raise ZstsrError(f"{source}: output {target} would overwrite a source clip; choose "
                             f"another output folder")
    if settings.codec in ("prores", "dnxhr") and (vi.width % 2 or vi.height % 2):
        raise ZstsrError(f"{source}: {settings.codec} needs an even picture size, got {vi.width}x{vi.height}")
    if settings.codec == "dnxhr" and (vi.width < 256 or vi.height < 120):
        raise ZstsrError(f"{source}: DNxHR needs a picture of at least 256x120, got {vi.width}x{vi.height}")

    rate = vi.rate if settings.conform else vi.rate * factor
    src_tc = read_timecode(source)
    try:
        tc = scale_timecode(src_tc, vi.rate, vi.rate if settings.conform else rate)
    except ValueError as e:
        if log:
            log(f"note: {source}: ignoring its start timecode ({e}); using 00:00:00:00")
        tc = scale_timecode(None, vi.rate, rate)
    if log and settings.codec in ("prores", "dnxhr") and round(rate) > io.MOV_TIMECODE_MAX_FPS:
        log(f"note: a MOV has no timecode track above {io.MOV_TIMECODE_MAX_FPS} fps: the start "
            f"timecode {tc} at {io.format_rate(rate)} fps is kept as the tag {io.TIMECODE_TAG}")
    reel = read_reel_name(source) or Path(source.rstrip("/" + os.sep)).stem
    mode = settings.audio_mode
    audio_src = None
    if vi.has_audio and mode != "drop":
        audio_src = _open_audio(source, factor if mode == "stretch" else 1)
    written_mode = mode if vi.has_audio else "none"
    meta = {"zstsr_audio": written_mode, "zstsr_factor": str(factor),
            "zstsr_conform": "1" if settings.conform else "0", "zstsr_source": Path(source).name}
    common = dict(timecode=tc, metadata=meta, stream_metadata={"reel_name": reel},
                  audio=audio_src.spec if audio_src else None, color=vi.color)

    renderer = None
    if frames is None:
        renderer = clip_engine(source, vi, n, settings)(log=log, progress=train_progress)
        renderer.chunk = settings.chunk or renderer.chunk

    made_proxy_dir = False
    writers: list[io.VideoWriter] = []
    pump = None
    try:
        writers.append(io.VideoWriter(master, vi.width, vi.height, rate, vi.bit_depth, settings.codec,
                                      pix_fmt=vi.pix_fmt, gray=vi.is_gray,
                                      profile=_MASTER_PROFILE[settings.codec], background=True, **common))
        if proxy is not None:
            pw, ph = proxy_size(vi.width, vi.height, settings.proxy)
            if not proxy.parent.exists():
                proxy.parent.mkdir()
                made_proxy_dir = True
            writers.append(io.VideoWriter(proxy, pw, ph, rate, vi.bit_depth, "prores", pix_fmt=vi.pix_fmt,
                                          gray=vi.is_gray, profile=PROXY_PROFILE, background=True, **common))
        if renderer is not None:
            # flow's frames may come quantized as the master stores them, and without a proxy (made
            # from RGB) in its pixel format (vs_zstsr/direct.py)
            frames = upsample_stream(io.read_frames(source, vi), renderer, bits=io.sample_bits(vi.bit_depth),
                                     planes=writers[0].planes if proxy is None else None)
        if audio_src is not None:
            pump = _AudioPump(audio_src, writers, Fraction(n * factor) / rate)
        bar = frame_bar(n * factor, f"render {Path(source).name}") if frame_bar else contextlib.nullcontext()
        k = 0
        with bar as b:
            for frame in frames:
                writers[0].write(frame)
                if proxy is not None:  # made from the master's stored pixels, wherever they were made
                    frame = io.as_written(frame, writers[0].depth)
                    writers[1].write(resize_spatial(frame, writers[1].height, writers[1].width))
                k += 1
                if pump is not None:
                    pump.until(Fraction(k) / rate)
                if b is not None:
                    b.update(1)
        if k != n * factor:
            raise ZstsrError(f"{source}: read {k // factor} frames, expected {n}")
        for w in writers:
            w.finish()
        done: list[str] = []
        for w in writers:
            try:
                w.commit()
            except ZstsrError as e:   # (a proxy that appeared meanwhile): the master stays written; say so
                raise ZstsrError(f"{e}{''.join(f'; {d} was written' for d in done)}") from None
            done.append(str(w.path))
    except BaseException:
        for w in writers:
            w.abort()
        if made_proxy_dir:
            with contextlib.suppress(OSError):
                proxy.parent.rmdir()  # only if empty
        raise
    finally:
        if pump is not None:
            pump.close()
    return ClipResult(source=source, master=str(master), proxy=str(proxy) if proxy else "",
                      frames=n * factor, rate=rate, start_timecode=tc, status="ok")


def clip_engine(source: str | os.PathLike, vi: io.VideoInfo, n: int, settings: RenderSettings
                ) -> functools.partial:
    """``Renderer.create`` for this clip with the settings' model and options, to be called with
    ``log=`` and ``progress=``; picklable, so that it can run on another machine (``--ray``)."""
    from .stream import Renderer

    return functools.partial(Renderer.create, settings.model, settings.options, height=vi.height, width=vi.width,
                             read=io.frame_reader(source, vi), num_frames=n)


# --------------------------------------------------------------------------------------------
# a folder of clips


def is_batch(source: str | os.PathLike) -> bool:
    """A folder of video files (not a folder of PNG frames, which is one clip)."""
    p = Path(source)
    return p.is_dir() and bool(list_sources(p))


def list_sources(folder: str | os.PathLike) -> list[Path]:
    """The video files in ``folder`` (by extension, non-recursive, sorted, no hidden files)."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in VIDEO_EXTS)


def short_reason(source: str | os.PathLike, e: BaseException) -> str:
    """An error's message without the file name it may already start with."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    for prefix in (f"{source}: ", f"{Path(source).name}: "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg if isinstance(e, ZstsrError) else f"{type(e).__name__}: {msg}"


def write_csv(out_dir: str | os.PathLike, results: list[ClipResult]) -> Path:
    """``OUT_DIR/zstsr_render.csv``, atomically: master and proxy relative to OUT_DIR."""
    out_dir = Path(out_dir)
    target = out_dir / CSV_NAME
    with io.atomic_path(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in results:
            w.writerow(r.row(out_dir))
    return target
