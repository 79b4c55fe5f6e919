"""Video in and out with PyAV: any file ffmpeg reads, or a folder of PNG frames.

Frames travel through zstsr as float32 RGB arrays ``(H, W, 3)`` in [0, 1] (the model colour space:
the stored, gamma-encoded R'G'B', converted from Y'CbCr with the file's own matrix and range).
Frame rates stay exact :class:`fractions.Fraction` values (30000/1001 x 8 = 240000/1001).
Bit depth is kept: 8-bit sources are written at 8 bits, deeper ones at 10 or 16.

Audio is not carried by this module: the measuring tools (degrade, baseline, eval) write video only,
and the CLI says so in one line when the input has an audio stream.

Outputs are written under a temporary name beside the target and renamed on success, so an error
or an interrupt never leaves a half-written file (or folder) under the requested name.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .errors import ZstsrError

FRAME_SIDECAR = "zstsr.json"  # rate and depth of a folder of PNG frames
CODECS = ("ffv1", "png", "h264", "h265", "prores")
_EXT_CODEC = {".mkv": "ffv1", ".nut": "ffv1", ".avi": "ffv1", ".mp4": "h264", ".m4v": "h264",
              ".mov": "prores", ".png": "png"}


@dataclass
class ColorInfo:
    """Colour description of a stream, as ffmpeg's enum values (2 = unspecified)."""
    primaries: int = 2
    trc: int = 2
    matrix: int = 2
    range: int = 0  # 0 unspecified, 1 limited (tv), 2 full (pc)


@dataclass
class VideoInfo:
    path: str
    width: int
    height: int
    rate: Fraction
    frames: int | None  # None when the container does not say; count by decoding
    bit_depth: int
    pix_fmt: str
    codec: str
    has_audio: bool = False
    color: ColorInfo = field(default_factory=ColorInfo)

    @property
    def is_gray(self) -> bool:
        return self.pix_fmt.startswith(("gray", "ya"))

    def describe(self) -> str:
        n = "?" if self.frames is None else str(self.frames)
        return (f"{Path(self.path).name}: {self.width}x{self.height}, {n} frames at "
                f"{format_rate(self.rate)} fps, {self.pix_fmt} ({self.bit_depth}-bit, {self.codec})")


def format_rate(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator} (~{float(rate):.3f})"


def _av():
    import av  # deferred: `zstsr --help` should not pay for loading ffmpeg
    import logging

    if av.logging.get_level() != av.logging.ERROR:
        # ffmpeg's errors reach Python (to be caught by _ffmpeg_errors), never the user's terminal
        # directly: we report them ourselves, in one line.
        av.logging.set_level(av.logging.ERROR)
        lg = logging.getLogger("libav")
        lg.addHandler(logging.NullHandler())
        lg.propagate = False
    return av


@contextlib.contextmanager
def _ffmpeg_errors(path, what: str):
    """Turn ffmpeg's error-level messages while decoding (CRC mismatch, file ended prematurely,
    invalid data) into one ZstsrError: a damaged input is refused, not silently concealed."""
    av = _av()
    with av.logging.Capture(local=False) as logs:  # slice threads log from other threads
        yield
    errors = [m.strip() for lvl, _, m in logs if lvl <= av.logging.ERROR and m.strip()]
    if errors:
        raise ZstsrError(f"{path}: corrupt video stream {what} ({errors[0]})")


def _depth_of(pix_fmt: str) -> int:
    av = _av()
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except Exception:
        return 8


def _png_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# reading


def probe(path: str | os.PathLike, rate: Fraction | None = None) -> VideoInfo:
    """Describe a video file or a folder of PNG frames; raise ZstsrError with one clear line if it
    cannot be read. ``rate`` sets the rate of a frame folder that has no ``zstsr.json`` sidecar."""
    path = Path(path)
    if not path.exists():
        raise ZstsrError(f"{path}: no such file or folder")
    if path.is_dir():
        files = _png_files(path)
        if not files:
            raise ZstsrError(f"{path}: folder holds no PNG frames")
        meta = {}
        if (path / FRAME_SIDECAR).exists():
            meta = json.loads((path / FRAME_SIDECAR).read_text())
        info = _probe_file(files[0])
        info.path, info.frames, info.codec = str(path), len(files), "png"
        info.rate = Fraction(meta["rate"]) if "rate" in meta else (rate or Fraction(30))
        return info
    return _probe_file(path)


def _probe_file(path: Path) -> VideoInfo:
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ZstsrError(f"{path}: no video stream")
            s = container.streams.video[0]
            cc = s.codec_context
            rate = _exact_rate(container, s)
            pix_fmt = cc.pix_fmt or "rgb24"
            if not cc.width or not cc.height:
                raise ZstsrError(f"{path}: video stream has no picture size (corrupt or not a video)")
            return VideoInfo(
                path=str(path), width=cc.width, height=cc.height, rate=Fraction(rate),
                frames=s.frames or None, bit_depth=_depth_of(pix_fmt), pix_fmt=pix_fmt,
                codec=cc.name, has_audio=bool(container.streams.audio),
                color=ColorInfo(int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace),
                                int(cc.color_range)))
    except ZstsrError:
        raise
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise ZstsrError(f"{path}: cannot read as video ({_reason(e)})") from None


RATE_TAG = "ZSTSR_RATE"  # the exact rate, for containers (Matroska) whose clocks cannot hold it


def snap_rate(rate: Fraction) -> Fraction:
    """A measured rate (e.g. 29011/121 from millisecond timestamps) back to the NTSC-style or
    whole-number rate it stands for, when one is within 0.01%."""
    rate = Fraction(rate)
    for den in (1, 1001, 2, 4, 8, 16):
        cand = Fraction(round(rate * den), den)
        if cand and abs(cand - rate) <= rate * Fraction(1, 10000):
            return cand
    return rate


def _exact_rate(container, stream) -> Fraction:
    for tags in (stream.metadata, container.metadata):
        for k, v in tags.items():
            if k.upper() == RATE_TAG:
                try:
                    return Fraction(v)
                except (ValueError, ZeroDivisionError):
                    pass
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return snap_rate(Fraction(rate)) if rate else Fraction(30)


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).split(":")[0] or type(e).__name__


def _to_float(frame, depth: int) -> np.ndarray:
    fmt = "rgb24" if depth <= 8 else "rgb48le"
    rgb = frame.reformat(format=fmt).to_ndarray()
    return rgb.astype(np.float32) * np.float32(1.0 / (255.0 if depth <= 8 else 65535.0))


def read_frames(path: str | os.PathLike, info: VideoInfo | None = None) -> Iterator[np.ndarray]:
    """Yield every frame as float32 RGB ``(H, W, 3)`` in [0, 1], in display order."""
    info = info or probe(path)
    path = Path(path)
    if path.is_dir():
        yield from _read_png_folder(path, info)
        return
    av = _av()
    n = 0
    try:
        with av.open(str(path)) as container:
            s = container.streams.video[0]
            # Slice threads only: frame threads would log a damaged frame's error while we are
            # outside _ffmpeg_errors, and the damage would pass unnoticed.
            s.thread_type = "SLICE"
            frames = container.decode(s)
            while True:
                with _ffmpeg_errors(path, f"at frame {n}"):
                    frame = next(frames, None)
                if frame is None:
                    break
                if (frame.width, frame.height) != (info.width, info.height):
                    raise ZstsrError(f"{path}: frame {n} changes size to {frame.width}x{frame.height}")
                yield _to_float(frame, info.bit_depth)
                n += 1
    except ZstsrError:
        raise
    except (av.error.FFmpegError, OSError) as e:
        raise ZstsrError(f"{path}: corrupt video stream after {n} frames ({_reason(e)})") from None


def _read_png_folder(folder: Path, info: VideoInfo) -> Iterator[np.ndarray]:
    av = _av()
    for i, f in enumerate(_png_files(folder)):
        try:
            with av.open(str(f)) as c:
                frame = next(c.decode(video=0))
        except (av.error.FFmpegError, OSError, StopIteration) as e:
            raise ZstsrError(f"{f}: cannot read PNG frame {i} ({_reason(e)})") from None
        if (frame.width, frame.height) != (info.width, info.height):
            raise ZstsrError(f"{f}: frame {i} is {frame.width}x{frame.height}, the first is "
                             f"{info.width}x{info.height}")
        yield _to_float(frame, info.bit_depth)


def count_frames(path: str | os.PathLike, info: VideoInfo | None = None) -> int:
    """Frames in a clip: the container's count when it has one, else its packets (no decoding)."""
    info = info or probe(path)
    if info.frames:
        return info.frames
    av = _av()
    try:
        with av.open(str(path)) as c:
            return sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    except (av.error.FFmpegError, OSError) as e:
        raise ZstsrError(f"{path}: cannot count frames ({_reason(e)})") from None


def frame_reader(path: str | os.PathLike, info: VideoInfo | None = None):
    """``read(indices, size=None)``: those frames (decoded in one pass), optionally shrunk."""
    info = info or probe(path)

    def read(indices, size=None) -> np.ndarray:
        from .resample import resize_spatial

        want = sorted(set(indices))
        got: dict[int, np.ndarray] = {}
        for i, f in enumerate(read_frames(path, info)):
            if i in want:
                got[i] = resize_spatial(f, *size) if size else f
                if len(got) == len(want):
                    break
        missing = [i for i in want if i not in got]
        if missing:
            raise ZstsrError(f"{path}: has no frame {missing[0]}")
        return np.stack([got[i] for i in indices])

    return read


def read_video(path: str | os.PathLike, rate: Fraction | None = None) -> tuple[VideoInfo, np.ndarray]:
    """Read a whole clip into a ``(T, H, W, 3)`` float32 array; refuse one with no frames."""
    info = probe(path, rate)
    frames = list(read_frames(path, info))
    if not frames:
        raise ZstsrError(f"{path}: video has no frames")
    info.frames = len(frames)
    return info, np.stack(frames)


# --------------------------------------------------------------------------------------------
# writing


def codec_for(path: str | os.PathLike, codec: str | None = None) -> str:
    """The codec a path asks for: explicit, else by extension (.mkv FFV1, .mp4 H.264, .mov ProRes,
    a folder or a name ending in '/' PNG frames)."""
    if codec:
        if codec not in CODECS:
            raise ZstsrError(f"unknown codec {codec!r}; choose from {', '.join(CODECS)}")
        return codec
    p = str(path)
    if p.endswith(("/", os.sep)) or Path(p).is_dir() or Path(p).suffix == "":
        return "png"
    ext = Path(p).suffix.lower()
    if ext not in _EXT_CODEC:
        raise ZstsrError(f"{path}: unknown output type {ext!r}; use .mkv (FFV1), .mp4 (H.264), "
                         ".mov (ProRes) or a folder for PNG frames, or pass --codec")
    return _EXT_CODEC[ext]


def _pix_fmt_for(codec: str, depth: int, gray: bool, source: str | None) -> str:
    """Keep the source's pixel format where the encoder takes it; else the nearest one that keeps
    the bit depth (and RGB stays RGB for lossless FFV1)."""
    av = _av()
    name = {"ffv1": "ffv1", "h264": "libx264", "h265": "libx265", "prores": "prores_ks"}[codec]
    supported = {f.name for f in av.codec.Codec(name, "w").video_formats}
    if source in supported and _depth_of(source) == depth:
        return source
    hi = depth > 8
    if codec == "prores":
        return "yuv422p10le"
    if codec == "ffv1":
        if gray:
            return "gray16le" if depth > 10 else ("gray10le" if hi else "gray")
        return "gbrp16le" if depth > 10 else ("gbrp10le" if hi else "bgr0")
    if gray and "gray" in supported:
        return "gray10le" if hi else "gray"
    return "yuv420p10le" if hi else "yuv420p"


class VideoWriter:
    """Write float32 RGB frames to a file or a PNG folder, atomically.

    Use as a context manager: on a clean exit the temporary output is renamed to ``path``; on an
    exception it is deleted and ``path`` is left as it was.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, rate: Fraction,
                 bit_depth: int = 8, codec: str | None = None, pix_fmt: str | None = None,
                 color: ColorInfo | None = None, gray: bool = False, crf: int | None = None):
        self.path = Path(str(path).rstrip("/" + os.sep))
        self.codec = codec_for(path, codec)
        self.width, self.height, self.rate = width, height, Fraction(rate)
        self.depth = 16 if bit_depth > 10 else (10 if bit_depth > 8 else 8)
        self.color = color or ColorInfo()
        self.gray = gray
        self.count = 0
        if self.path.parent and not self.path.parent.exists():
            raise ZstsrError(f"{self.path.parent}: output folder does not exist")
        if self.codec in ("h264", "h265", "prores") and (width % 2 or height % 2):
            raise ZstsrError(f"{self.codec} needs an even picture size, got {width}x{height}")
        if self.codec == "h265" and min(width, height) < 64:
            # libx265 corrupts its heap (and kills the process) on 10-bit pictures below one CTU.
            raise ZstsrError(f"h265 needs a picture of at least 64x64, got {width}x{height}")
        self._tmp = self.path.parent / f".{self.path.name}.partial-{os.getpid()}{self.path.suffix}"
        self._container = self._stream = None
        if self.codec == "png":
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-", dir=self.path.parent))
            self._pix_fmt = ("gray16be" if self.depth > 8 else "gray") if gray else (
                "rgb48be" if self.depth > 8 else "rgb24")
        else:
            self._open(pix_fmt, crf)

    def _open(self, pix_fmt: str | None, crf: int | None) -> None:
        av = _av()
        fmt = {"ffv1": "matroska", "h264": None, "h265": None, "prores": "mov"}[self.codec]
        if self.codec in ("h264", "h265") and self.path.suffix.lower() == ".mkv":
            fmt = "matroska"
        self._container = av.open(str(self._tmp), "w", format=fmt or "mp4")
        name = {"ffv1": "ffv1", "h264": "libx264", "h265": "libx265", "prores": "prores_ks"}[self.codec]
        # A fine time base so that any rate (x8 of 30000/1001, say) stays exact in the container.
        s = self._container.add_stream(name, rate=self.rate)
        s.width, s.height = self.width, self.height
        s.pix_fmt = _pix_fmt_for(self.codec, self.depth, self.gray, pix_fmt)
        s.time_base = 1 / self.rate
        s.metadata[RATE_TAG] = str(self.rate)
        opts = {}
        if self.codec == "ffv1":
            opts = {"level": "3", "slicecrc": "1", "g": "1"}
        elif self.codec in ("h264", "h265"):
            opts = {"crf": str(crf if crf is not None else 16), "preset": "medium"}
            if self.codec == "h265":
                opts["x265-params"] = "log-level=error"
        elif self.codec == "prores":
            opts = {"profile": "3", "vendor": "apl0"}  # 422 HQ
        s.options = opts
        cc = s.codec_context
        c = self.color
        if c.matrix != 2:
            cc.colorspace = c.matrix
        if c.primaries != 2:
            cc.color_primaries = c.primaries
        if c.trc != 2:
            cc.color_trc = c.trc
        if c.range:
            cc.color_range = c.range
        self._stream = s

    def write(self, frame: np.ndarray) -> None:
        if frame.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, writer is {self.width}x{self.height}")
        av = _av()
        hi = self.depth > 8
        scale = 65535.0 if hi else 255.0
        data = np.clip(frame * scale + 0.5, 0, scale).astype(np.uint16 if hi else np.uint8)
        if self.codec == "png":
            if self.gray:
                img = av.VideoFrame.from_ndarray(data[..., 0], format="gray16le" if hi else "gray")
            else:
                img = av.VideoFrame.from_ndarray(data, format="rgb48le" if hi else "rgb24")
            img = img.reformat(format=self._pix_fmt)
            with av.open(str(self._tmp / f"{self.count:06d}.png"), "w", format="image2") as c:
                s = c.add_stream("png", rate=1)
                s.width, s.height, s.pix_fmt = self.width, self.height, self._pix_fmt
                for pkt in s.encode(img):
                    c.mux(pkt)
                for pkt in s.encode():
                    c.mux(pkt)
        else:
            img = av.VideoFrame.from_ndarray(data, format="rgb48le" if hi else "rgb24")
            kw = {"format": self._stream.pix_fmt}
            if self.color.matrix != 2:
                kw["dst_colorspace"] = self.color.matrix
            img = img.reformat(**kw)
            img.pts = self.count  # after reformat, which makes a new frame without timestamps
            img.time_base = 1 / self.rate  # not the stream's: the muxer may change that one
            for pkt in self._stream.encode(img):
                self._container.mux(pkt)
        self.count += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self.codec == "png":
            (self._tmp / FRAME_SIDECAR).write_text(json.dumps(
                {"rate": str(self.rate), "bit_depth": self.depth, "frames": self.count}))
            if self.path.exists():
                shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
            os.replace(self._tmp, self.path)
            return
        for pkt in self._stream.encode():
            self._container.mux(pkt)
        self._container.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Remove the temporary output; the target is untouched."""
        with contextlib.suppress(Exception):
            if self._container is not None:
                self._container.close()
        if self._tmp.is_dir():
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], rate: Fraction,
                bit_depth: int = 8, codec: str | None = None, like: VideoInfo | None = None,
                **kw) -> int:
    """Write frames (float32 RGB, [0, 1]) to ``path``; returns the number written.

    ``like`` copies pixel format, depth and colour description from an input's :class:`VideoInfo`.
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ZstsrError(f"{path}: nothing to write (no frames)")
    if like is not None:
        kw.setdefault("pix_fmt", like.pix_fmt)
        kw.setdefault("color", like.color)
        kw.setdefault("gray", like.is_gray)
        bit_depth = like.bit_depth
    with VideoWriter(path, first.shape[1], first.shape[0], rate, bit_depth, codec, **kw) as w:
        w.write(first)
        for f in it:
            w.write(f)
        return w.count


def info_dict(info: VideoInfo) -> dict:
    d = asdict(info)
    d["rate"] = str(info.rate)
    return d
