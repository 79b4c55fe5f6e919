"""Video in and out with PyAV: any file ffmpeg reads, or a folder of PNG frames.

Frames travel through zstsr as float32 RGB arrays ``(H, W, 3)`` in [0, 1] (the model colour space:
the stored, gamma-encoded R'G'B', converted from Y'CbCr with the file's own matrix and range).
Frame rates stay exact :class:`fractions.Fraction` values (30000/1001 x 8 = 240000/1001).
Bit depth is kept: 8-bit sources are written at 8 bits, deeper ones at 10 or 16.

Audio is not carried by the measuring tools (degrade, baseline, eval): they write video only, and the
CLI says so in one line when the input has an audio stream. A :class:`VideoWriter` can hold a PCM
audio track (:class:`AudioSpec`), which ``zstsr render`` uses (``vs_zstsr/render.py``).

Outputs are written under a temporary name beside the target and renamed on success, so an error
or an interrupt never leaves a half-written file (or folder) under the requested name.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import outputs
from .errors import ZstsrError

FRAME_SIDECAR = outputs.PNG_MARKER  # rate and depth of a folder of PNG frames
# ffvhuff: FFmpeg's HuffYUV, lossless like FFV1 but about 10x cheaper to write at 1.5x the size
# (1080p: 11 against 121 ms of CPU a frame; docs/BENCHMARKS.md, benchmarks/bench_hd.py): for
# large frames where writing FFV1 would cost more than making the frames. In .nut or .avi.
CODECS = ("ffv1", "ffvhuff", "png", "h264", "h265", "prores")
# Codecs a VideoWriter also takes, though the measuring tools' --codec does not offer them: DNxHR HQX
# (10-bit 4:2:2, in .mov) for `zstsr render`'s edit-ready masters.
EXTRA_CODECS = ("dnxhr",)
DEFAULT_CRF = 16   # H.264/H.265 quality when none is asked for: visually lossless for most footage
# ProRes profiles by name (prores_ks's numbers); hq is the default, 4444 where the picture is 4:4:4
PRORES_PROFILES = {"proxy": "0", "lt": "1", "standard": "2", "hq": "3", "4444": "4", "4444xq": "5"}
_ENCODER = {"ffv1": "ffv1", "ffvhuff": "ffvhuff", "h264": "libx264", "h265": "libx265", "prores": "prores_ks", "dnxhr": "dnxhd"}
_EXT_CODEC = {".mkv": "ffv1", ".nut": "ffv1", ".avi": "ffv1", ".mp4": "h264", ".m4v": "h264",
              ".mov": "prores", ".png": "png"}


@dataclass
class ColorInfo:
    """Colour description of a stream, as ffmpeg's enum values (2 = unspecified)."""
    primaries: int = 2
    trc: int = 2
    matrix: int = 2
    range: int = 0  # 0 unspecified, 1 limited (tv), 2 full (pc)


CLOCK_AVI, CLOCK_FRAMES = "avi", "frames"   # VideoInfo.clock


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
    # Real-world footage (docs/FOOTAGE.md). width/height above are as displayed: a phone clip's
    # display matrix is applied to the pixels on read (``orientation``, an ffmpeg transpose/flip
    # name, "" for none), so outputs are upright and carry no rotation.
    orientation: str = ""
    field_order: str = "progressive"  # or "unknown", "tt", "bb", "tb", "bt" (interlaced)
    vfr: bool = False  # timestamps vary; ``slots`` then maps each constant-rate frame to a source frame
    slots: list[int] | None = field(default=None, repr=False)
    # Integrity (docs/SAFETY.md): a file holding fewer frames than its container declares is
    # refused by probe(), unless accepted with allow_truncated: then ``truncated`` is set and
    # ``frames`` is what decodes cleanly, where reading stops.
    truncated: bool = False
    declared: str = field(default="", repr=False)  # what the container declares, said when truncated
    times: tuple | None = field(default=None, repr=False)  # the packets' (pts, time base)
    keyframes: list | None = field(default=None, repr=False)  # the keyframes' pts, sorted (filter.source seeks)
    # frames at the stream's start that never decode (a stream cut between keyframes, an open GOP's
    # first B-frames): not frames of the clip, as for ffmpeg and players (_undecodable_lead)
    undecodable: int = 0
    first_interlaced: bool = False   # the first frame that decodes is flagged interlaced (open_input)
    # what a tick of ``times`` is: CLOCK_AVI (a frame, in decoding order), CLOCK_FRAMES (a frame: an
    # MP4/MOV whose timescale is its frame rate), "" (a time; rounded, maybe)
    clock: str = field(default="", repr=False)

    @property
    def is_gray(self) -> bool:
        return self.pix_fmt.startswith(("gray", "ya"))

    @property
    def has_alpha(self) -> bool:
        return _has_alpha(self.pix_fmt)

    @property
    def interlaced(self) -> bool:
        return self.field_order not in ("progressive", "unknown")

    @property
    def stored_size(self) -> tuple[int, int]:
        """(width, height) of the decoded pictures, before ``orientation`` turns them."""
        return (self.height, self.width) if _transposes(self.orientation) else (self.width, self.height)

    def describe(self) -> str:
        n = "?" if self.frames is None else str(self.frames)
        extra = "".join([f", turned upright on read ({self.orientation})" if self.orientation else "",
                         f", interlaced ({self.field_order})" if self.interlaced else ""])
        return (f"{Path(self.path).name}: {self.width}x{self.height}, {n} frames at "
                f"{format_rate(self.rate)} fps, {self.pix_fmt} ({self.bit_depth}-bit, {self.codec})"
                + extra)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; renamed to ``path`` when the block ends
    without an exception, removed otherwise. Nothing half-written is ever left under ``path``.
    ``suffix``: for writers that pick the format from the extension (e.g. ``".png"``). The folder
    must exist; partial files of the same name left by a killed run are removed
    (:func:`.outputs.clean_stale`)."""
    target = Path(path)
    outputs.clean_stale(target)
    tmp = outputs.temp_path(target, suffix)
    try:
        yield tmp
        outputs.commit_file(tmp, target)   # never over a file that appeared since it was checked
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


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
    if av.logging.get_skip_repeated():
        # PyAV holds a message repeated back-to-back and hands it on with the next different
        # one, in whatever capture is open then: another job's error (logged twice, by a muxer
        # on another thread) would become this read's "corrupt" (tests/test_safety.py)
        av.logging.set_skip_repeated(False)
    return av


# An error ffmpeg logs where a stream starts mid-way (an open GOP cut by a stream copy): H.264's
# first frame asks to let go of references before the cut, which are not in the file. The frame
# decodes whole, and ffmpeg shows it (tests/test_footage.py's open-GOP trims). Not damage there.
CUT_START_MESSAGES = ("mmco: unref short failure",)


@contextlib.contextmanager
def _ffmpeg_errors(path, what: str, own: Iterable[str] = (), benign: Iterable[str] = ()):
    """Turn ffmpeg's error-level messages while decoding (CRC mismatch, file ended prematurely,
    invalid data) into one ZstsrError: a damaged input is refused, not silently concealed.
    ``own``: the names this input's messages come under (its decoder, its codec, its container
    format: :func:`_own_names`); messages from any other codec (an audio stream decoded, or a
    file encoded, on another thread meanwhile: the direct path reads the next segment on a thread
    of its own, vs_zstsr/direct.py) are not this input's. ``benign``: messages that are not
    damage here (:data:`CUT_START_MESSAGES` before the first frame)."""
    av = _av()
    with av.logging.Capture(local=False) as logs:  # slice threads log from other threads
        yield
    errors = [(name, m.strip()) for lvl, name, m in logs
              if lvl <= av.logging.ERROR and m.strip() and m.strip() not in benign]
    if errors and own:     # (per frame: the names are only compared when there is an error)
        others = _codec_names() - set(own)
        errors = [e for e in errors if e[0] not in others]
    if errors:
        raise ZstsrError(f"{path}: corrupt video stream {what} ({errors[0][1]})")


@functools.lru_cache(maxsize=1)
def _codec_names() -> frozenset:
    """Every codec's name, as ffmpeg names a codec context's messages."""
    return frozenset(_av().codecs_available)


def _own_names(container, stream) -> set[str]:
    """The names an input's own messages come under: its decoder's (libdav1d), its codec's (av1)
    and its container format's (matroska, webm; flv, h264 for raw streams, which are codecs' too)."""
    ctx = stream.codec_context
    names = {ctx.name, ctx.codec.name, getattr(ctx.codec, "canonical_name", ctx.name)}
    return names | set(container.format.name.split(","))


def _depth_of(pix_fmt: str) -> int:
    av = _av()
    try:
        return max(c.bits for c in av.VideoFormat(pix_fmt).components)
    except Exception:
        return 8


def _has_alpha(pix_fmt: str) -> bool:
    av = _av()
    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except Exception:
        return False


_FIELD_ORDERS = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}  # AVFieldOrder


def orientation_of(matrix: bytes | None, rotate_tag: str | None = None) -> str:
    """What a player does to show a frame upright, as ffmpeg's ``-autorotate`` decides it from the
    display matrix (``fftools``' get_rotation and its transpose/hflip/vflip choice): "" (nothing),
    "cclock", "clock", "cclock_flip" (a transpose), "clock_flip", "hflip", "vflip" or "hflip+vflip".
    An old-style ``rotate`` tag (clockwise degrees) is taken when there is no matrix. Angles that
    are not a multiple of 90 degrees are refused."""
    import math
    import struct

    if matrix is not None and len(matrix) >= 36:
        m = struct.unpack("<9i", matrix[:36])
        fp = [v / 65536.0 for v in m]
        sx, sy = math.hypot(fp[0], fp[3]), math.hypot(fp[1], fp[4])
        if sx == 0 or sy == 0:
            return ""
        ccw = -math.degrees(math.atan2(fp[1] / sy, fp[0] / sx))  # av_display_rotation_get
        theta = -round(ccw)
    elif rotate_tag:
        try:
            theta = round(float(rotate_tag))
        except ValueError:
            return ""
        m = None
    else:
        return ""
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    if abs(theta - 90) < 1:
        return "cclock_flip" if m is not None and m[3] > 0 else "clock"
    if abs(theta - 180) < 1:
        if m is None:
            return "hflip+vflip"
        return "+".join(f for f, on in (("hflip", m[0] < 0), ("vflip", m[4] < 0)) if on)
    if abs(theta - 270) < 1:
        return "clock_flip" if m is not None and m[3] < 0 else "cclock"
    if abs(theta) > 1:
        raise ZstsrError(f"the video is rotated by {theta:g} degrees, not a multiple of 90; "
                         "rotate it first (e.g. ffmpeg -i IN -vf rotate=... OUT)")
    return "vflip" if m is not None and m[4] < 0 else ""


def orient(frame: np.ndarray, orientation: str) -> np.ndarray:
    """Apply :func:`orientation_of`'s answer to a ``(H, W, C)`` frame (as ffmpeg's transpose,
    hflip and vflip filters do)."""
    if not orientation:
        return frame
    if orientation == "cclock":
        frame = np.rot90(frame, 1)
    elif orientation == "clock":
        frame = np.rot90(frame, -1)
    elif orientation == "cclock_flip":
        frame = frame.transpose(1, 0, 2)
    elif orientation == "clock_flip":
        frame = frame[::-1, ::-1].transpose(1, 0, 2)
    else:
        if "hflip" in orientation:
            frame = frame[:, ::-1]
        if "vflip" in orientation:
            frame = frame[::-1]
    return np.ascontiguousarray(frame)


def _transposes(orientation: str) -> bool:
    return orientation in ("cclock", "clock", "cclock_flip", "clock_flip")


def _png_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# reading


def probe(path: str | os.PathLike, rate: Fraction | None = None, *, allow_truncated: bool = False,
          log=None) -> VideoInfo:
    """Describe a video file or a folder of PNG frames; raise ZstsrError with one clear line if it
    cannot be read. ``rate`` sets the rate of a frame folder that has no ``zstsr.json`` sidecar.

    A file's packets are all read (not decoded) to count its frames; one that ends before its
    container says (a truncated download or copy) is refused, or with ``allow_truncated`` taken
    as the frames that decode cleanly, said through ``log``. A frame folder with a gap in its
    numbering is refused, naming the first missing number."""
    path = Path(path)
    if not path.exists():
        raise ZstsrError(f"{path}: no such file or folder")
    if path.is_dir():
        files = _png_files(path)
        if not files:
            raise ZstsrError(f"{path}: folder holds no PNG frames")
        _check_numbering(path, files)
        meta = {}
        if (path / FRAME_SIDECAR).exists():
            meta = json.loads((path / FRAME_SIDECAR).read_text())
        info = _probe_file(files[0])
        info.path, info.frames, info.codec = str(path), len(files), "png"
        info.rate = Fraction(meta["rate"]) if "rate" in meta else (rate or Fraction(30))
        return info
    info = _probe_file(path)
    if info.truncated:
        if not allow_truncated:
            raise ZstsrError(f"{path}: the file is truncated: it holds {info.frames} frames where its "
                             f"container declares {info.declared}; pass --allow-truncated to use them")
        info.frames = _decodable(path, info)
        if not info.frames:
            raise ZstsrError(f"{path}: the file is truncated and no frame of it decodes")
        if log:
            log(f"warning: {path.name} is truncated (its container declares {info.declared}): using the "
                f"{info.frames} frames that decode (--allow-truncated)")
    if info.undecodable and log:
        log(f"note: {path.name} starts with {info.undecodable} frames that cannot be decoded (cut between "
            f"keyframes, or an open GOP's first frames), left out as players do: {info.frames} frames")
    return info


def _check_numbering(folder: Path, files: list[Path]) -> None:
    """Numbered frames (``0001.png``, ``frame_0002.png``...) must not skip a number."""
    import re

    nums = [re.search(r"(\d+)$", f.stem) for f in files]
    if not all(nums):
        return
    ordered = sorted(int(m.group(1)) for m in nums)
    for a, b in zip(ordered, ordered[1:]):
        if b == a:
            raise ZstsrError(f"{folder}: two frames are numbered {a}")
        if b != a + 1:
            raise ZstsrError(f"{folder}: frame {a + 1} is missing (the numbering jumps from {a} to {b})")


def _declared_seconds(container, stream) -> float | None:
    """How long the video stream says it is, where the container records it when written
    (Matroska's DURATION tag or Segment duration with no other stream to stretch it; MP4/MOV's
    track duration; AVI's length); None where ffmpeg would only estimate it."""
    tag = next((v for k, v in stream.metadata.items() if k.upper() == "DURATION"), None)
    if tag:
        try:
            h, m, sec = tag.split(":")
            return int(h) * 3600 + int(m) * 60 + float(sec)
        except ValueError:
            return None
    fmt = container.format.name
    if fmt.startswith("matroska") and len(container.streams) == 1 and container.duration:
        return container.duration / 1e6
    if fmt.startswith("mov") and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if fmt == "avi" and stream.frames and stream.time_base:
        # its header's length in frames (a tick is a frame), dropped frames (empty chunks, no
        # packets) included; ffmpeg's duration is what it found (a cut-off file's shorter)
        return float(stream.frames * stream.time_base)
    return None


# Frames a stream may show past its container's declared end: a stream copy cut by duration
# (`ffmpeg -ss 0.5 -t 1.6 -i IN.mp4 -c copy OUT.mp4`) keeps the frames its last packets need, and
# those B-frames' successors can lie past the edit list's end, as far as the codec reorders frames
# (H.264 and HEVC: at most 16). ffmpeg and players show them; a wider span is damage.
PAST_DECLARED_END = 16


def _scan(container, stream, rate: Fraction) -> tuple[list, list, Fraction | None, bool, str]:
    """Demux every packet: (the frames' pts, the keyframes' pts, the time base, truncated?, what
    the container declares).
    Timestamps that span more than the container's own duration are damage, refused here (they
    would otherwise turn into millions of repeated frames as a "variable frame rate")."""
    av = _av()
    pts, keys, ends, held, hidden = [], [], [], 0, []
    with av.logging.Capture(local=False) as logs:
        for p in container.demux(stream):
            held += bool(p.size)    # the sample table's entries, those cut off by an edit list too
            if p.size and p.is_keyframe and p.pts is not None:
                keys.append(p.pts)  # a place to decode from, cut off by an edit list or not
            # a packet the container's edit list cuts off (MP4/MOV trimmed by a stream copy,
            # `ffmpeg -ss 1.3 -i IN.mp4 -c copy OUT.mp4`: the GOP before the cut is kept to decode
            # from) is decoded but never shown: not a frame of the clip
            if p.size and p.is_discard:
                hidden.append(p.pts)
            if p.size and not p.is_discard:
                pts.append(p.pts)
                if p.pts is not None and p.duration:
                    ends.append(p.pts + p.duration)
    errors = [(name, m.strip()) for lvl, name, m in logs if lvl <= av.logging.ERROR and m.strip()]
    if errors:   # not another codec's (a file written on another thread meanwhile: _ffmpeg_errors)
        others = _codec_names() - _own_names(container, stream)
        errors = [m for name, m in errors if name not in others]
    early = [m for m in errors if any(w in m for w in ("prematurely", "runcat", "partial file"))]   # ends mid-way
    if len(early) < len(errors):   # lost or mangled blocks
        raise ZstsrError(f"{container.name}: corrupt video stream in its container "
                         f"({next(m for m in errors if m not in early)})")
    tb = Fraction(stream.time_base) if stream.time_base else None
    if not pts:
        raise ZstsrError(f"{container.name}: the video stream holds no frames (empty or damaged)")
    short = bool(stream.frames) and held < stream.frames   # MP4/MOV's sample table lists more
    declared = _declared_seconds(container, stream)
    known = sorted(x for x in pts if x is not None)
    if declared is None or tb is None or not known:
        if short:
            return pts, keys, tb, True, f"{stream.frames} frames"
        return pts, keys, tb, bool(early), "more (it ends early)" if early else ""
    slack = 0.5 / float(rate) + 0.002
    span = float((known[-1] - known[0]) * tb)
    if container.format.name == "avi" and span >= declared:
        # frames past AVI's header length: the length of its first part only (an OpenDML file
        # over 1 GB, as some writers count it), not damage; and nothing is missing before them
        return pts, keys, tb, bool(early), "more (it ends early)" if early else ""
    if span > declared + slack + PAST_DECLARED_END / float(rate):
        raise ZstsrError(f"{container.name}: damaged timestamps: the frames span {span:.6g} s where the "
                         f"container declares {declared:.3f} s")
    if short:
        # packets the sample table lists are missing: a file cut off, unless the frames shown
        # reach the edit list's end (ffmpeg leaves samples before an edit list's start out of the
        # packets altogether: a stream copy's cut of a file whose seek found no keyframe near it)
        # AVI's length counts from its first chunk, time 0: frames dropped before the first one
        # shown (empty chunks; with B-frames the first time is the decoder's delay) are in it
        origin = 0 if container.format.name == "avi" else known[0]
        reach = float((max(ends, default=known[-1]) - origin) * tb) if ends else span + 1 / float(rate)
        if declared - reach > slack or early:
            return pts, keys, tb, True, f"{stream.frames} frames"
        return pts, keys, tb, False, ""
    if not early and stream.frames and all(h is not None and h < known[0] for h in hidden):
        # every packet of MP4/MOV's sample table is here (checked above): its duration is the edit
        # list's, which a stream copy's trim (or an HEVC CRA cut) may end past the last frame
        # shown. Not where a packet after the first frame shown is hidden: a damaged table
        return pts, keys, tb, False, ""
    end = float((max(ends, default=known[-1]) - known[0]) * tb) if ends else span + 1 / float(rate)
    gap = declared - end
    if container.format.name.startswith("matroska") and known[0] > 0:
        # ffmpeg writes Matroska's duration as where the stream ends from time 0, mkvmerge as how
        # long it lasts from its first frame, which may start later (`-avoid_negative_ts make_zero`
        # after a stream copy's cut, a remuxed capture): either reading that fits will do
        whole = float(max(ends, default=known[-1]) * tb) if ends else end + float(known[0] * tb)
        if abs(declared - whole) <= slack:
            gap = 0.0
    if gap > slack or early:
        return pts, keys, tb, True, f"{declared:.3f} s (about {round(declared * float(rate))} frames)"
    return pts, keys, tb, False, ""


def _decodable(path: Path, info: VideoInfo) -> int:
    """How many frames of a damaged file decode before the first error."""
    import dataclasses

    n = 0
    try:
        for _ in read_frames(path, dataclasses.replace(info, frames=None, truncated=False)):
            n += 1
    except ZstsrError:
        pass
    return n


def _first_frame(path: Path):
    """The stream's first frame that decodes (PyAV's), or None (the read reports a damaged
    stream in its own words): decoded once when a file is opened, for :func:`_undecodable_lead`
    and the interlace check of :func:`open_input`."""
    av = _av()
    try:
        with av.open(str(path)) as c, av.logging.Capture(local=False):   # its complaints: said later
            s = c.streams.video[0]
            s.thread_type = "SLICE"
            return next(iter(c.decode(s)), None)
    except (av.error.FFmpegError, OSError):
        return None


def _undecodable_lead(pts: list, first, near: float = 0, shown=None) -> list:
    """Frames at the start of the stream that never decode: a transport stream cut between
    keyframes (a capture, a split recording) starts with frames whose references are gone, and the
    decoder begins at the next keyframe; a stream copy cut at an open GOP's I-frame keeps B-frames
    that refer to frames before it, which the decoder drops. Found from ``first``, the first frame
    that decodes (its timestamp against the packets'): they are left out of the clip, as ffmpeg and
    players leave them out, where the read refused the file once every frame had been processed
    ("the video stream ends after N of its M frames"). Their timestamps (one per frame); none
    when the frames carry no timestamps or nothing decodes (the read reports that). Frames timed
    with the first one are of them too (a stream copy into Matroska gives such B-frames the
    I-frame's own time), and so are frames less than ``near`` ticks (half a frame) after it that
    do not decode (a stream copy into a transport stream times them a tick or two after it; a
    variable rate's real frame may come as soon): ``shown(last)``, the times of the frames that
    decode up to ``last``, is asked only where there are such frames."""
    import bisect

    known = sorted(p for p in pts if p is not None)
    if len(known) < len(pts) or not known or first is None or first.pts is None:
        return []
    i = max(0, bisect.bisect_right(known, first.pts) - 1)
    if known[i] != first.pts:
        return known[:i]
    soon = known[i + 1:bisect.bisect_left(known, first.pts + near, i + 1)] if shown is not None else []
    if soon:
        decoded = shown(soon[-1])
        soon = [p for p in soon if p not in decoded]
    return known[:i] + soon


def _shown_times(path: Path, last: int, most: int = 64) -> set:
    """The times of the frames that decode from the start of the file up to time ``last`` (at
    most ``most`` frames): for :func:`_undecodable_lead`."""
    av = _av()
    times = set()
    try:
        with av.open(str(path)) as c, av.logging.Capture(local=False):   # its complaints: said later
            s = c.streams.video[0]
            s.thread_type = "SLICE"
            for k, fr in enumerate(c.decode(s)):
                times.add(fr.pts)
                if k >= most or (fr.pts is not None and fr.pts > last):
                    break
    except (av.error.FFmpegError, OSError):
        pass
    return times


def _untimed_lead(pts: list, first) -> int:
    """Packets without a timestamp right after the stream's first one, where every other packet
    has one and the first frame that decodes is that first packet's: an open GOP's B-frames after a
    stream copy's cut into Matroska (their times fell before the cut). They never decode (the
    first frame shown is the keyframe after them); 0 otherwise."""
    n = 0
    while 1 + n < len(pts) and pts[1 + n] is None:
        n += 1
    if (not n or pts[0] is None or any(p is None for p in pts[1 + n:]) or first is None
            or first.pts != pts[0]):
        return 0
    return n


def _probe_file(path: Path) -> VideoInfo:
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ZstsrError(f"{path}: no video stream")
            s = container.streams.video[0]
            cc = s.codec_context
            if cc is None:
                raise ZstsrError(f"{path}: no decoder for its video stream (unknown codec, or damaged)")
            rate = _exact_rate(container, s)
            pix_fmt = cc.pix_fmt or "rgb24"
            if not cc.width or not cc.height:
                raise ZstsrError(f"{path}: video stream has no picture size (corrupt or not a video)")
            side = getattr(cc, "coded_side_data", None) or {}
            turn = orientation_of(side.get("display_matrix"), s.metadata.get("rotate"))
            w, h = (cc.height, cc.width) if _transposes(turn) else (cc.width, cc.height)
            has_audio = bool(container.streams.audio)
            pts, keys, tb, truncated, declared = _scan(container, s, Fraction(rate))
            first = _first_frame(path)
            untimed = _untimed_lead(pts, first)
            pts = pts[:1] + pts[1 + untimed:]
            lead = _undecodable_lead(pts, first, 0.5 / float(rate) / float(tb) if tb else 0,
                                     lambda last: _shown_times(path, last))
            if lead:    # the clip starts at the first frame that decodes (one at its time)
                drop, kept = collections.Counter(lead), []
                for p in pts:
                    if drop[p]:
                        drop[p] -= 1
                    else:
                        kept.append(p)
                pts = kept
            lead = len(lead) + untimed
            info = VideoInfo(
                path=str(path), width=w, height=h, rate=Fraction(rate),
                frames=len(pts), bit_depth=_depth_of(pix_fmt), pix_fmt=pix_fmt,
                codec=cc.name, has_audio=has_audio,
                color=ColorInfo(int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace),
                                int(cc.color_range)),
                orientation=turn, field_order=_FIELD_ORDERS.get(int(cc.field_order or 0), "unknown"),
                truncated=truncated, declared=declared, times=(pts, tb), keyframes=sorted(keys), undecodable=lead,
                first_interlaced=bool(first is not None and first.interlaced_frame), clock=_clock(container, s))
            return info
    except ZstsrError:
        raise
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise ZstsrError(f"{path}: cannot read as video ({_reason(e)})") from None


RATE_TAG = "ZSTSR_RATE"  # the exact rate, for containers (Matroska) whose clocks cannot hold it
# MOV/MP4's timecode track counts a second's frames in one byte (ffmpeg's movenc.c,
# mov_write_tmcd_tag: "fps N is too large" above 255), and the muxer then fails at the trailer,
# leaving no readable file: x8 of 60 fps is 480. Above that rate the start timecode is written as
# this tag instead (render.read_timecode reads it; an NLE has no timecode at such rates).
MOV_TIMECODE_MAX_FPS = 255
TIMECODE_TAG = "zstsr_timecode"


_SNAP_DENS = (1, 1001, 2, 4, 8, 16)   # the denominators of the rates cameras and editors use


def snap_rate(rate: Fraction) -> Fraction:
    """A measured rate (e.g. 29011/121 from millisecond timestamps) back to the NTSC-style or
    whole-number rate it stands for, when one is within 0.01%."""
    rate = Fraction(rate)
    if rate.denominator in _SNAP_DENS:    # already such a rate (a stream's declared 15/2): keep it
        return rate
    near = [c for c in (Fraction(round(rate * den), den) for den in _SNAP_DENS)
            if c and abs(c - rate) <= rate * Fraction(1, 10000)]
    return min(near, key=lambda c: abs(c - rate)) if near else rate


def _exact_rate(container, stream) -> Fraction:
    for tags in (stream.metadata, container.metadata):
        for k, v in tags.items():
            if k.upper() == RATE_TAG:
                try:
                    return Fraction(v)
                except (ValueError, ZeroDivisionError):
                    pass
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate:
        return Fraction(30)
    rate = snap_rate(Fraction(rate))
    if rate not in STANDARD_RATES:
        for guess in (stream.guessed_rate, stream.base_rate):   # ffmpeg's guess (its own), r_frame_rate
            base = Fraction(guess) if guess else None
            if base in STANDARD_RATES and abs(rate - base) <= base * Fraction(5, 1000):
                # a standard rate the times show, where the average (the frames over a duration
                # whose last frame's length a coarse time base rounds: 240 frames in 601/600 s)
                # is a little off any: it was read as 239840/1001 fps
                return base
    return rate


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).split(":")[0] or type(e).__name__


def _to_float(frame, depth: int) -> np.ndarray:
    fmt = "rgb24" if depth <= 8 else "rgb48le"
    if depth > 8 and frame.width % 2:
        # swscale's deep 4:2:0 -> RGB of an odd width is off by 7-8 levels of 255 on average (a
        # 47x27 yuv420p10le frame against ffmpeg's own rgb48le: 0.03 of full scale; 4:4:4 first:
        # 0.0003, as even sizes are): chroma to full size at the same depth, then RGB
        name = frame.format.name
        sub = next((s for s in ("420", "422", "440") if s in name), None)
        if sub is not None:
            frame = frame.reformat(format=name.replace(sub, "444"))
    return dequantize(frame.reformat(format=fmt).to_ndarray(), depth)


# The one mapping between float frames and stored integers: writers quantize with the first,
# readers undo it with the second; quantize(dequantize(q)) == q, so a frame can go through a
# lossless file (FFV1 RGB at the same depth) and come out exactly as it was written.
def quantize(frame: np.ndarray, depth: int) -> np.ndarray:
    """Float32 RGB in [0, 1] -> uint8 (``depth`` <= 8) or uint16 (deeper), rounded to nearest:
    ``clip(frame * scale + 0.5, 0, scale)`` in one float32 buffer (no temporaries: at 4K each one
    is 100 MB)."""
    hi = sample_bits(depth) > 8
    scale = _levels(depth)
    buf = np.multiply(frame, np.float32(scale), dtype=np.float32)
    np.add(buf, np.float32(0.5), out=buf)
    np.clip(buf, 0, scale, out=buf)
    with np.errstate(invalid="ignore"):     # NaN: cast to some integer (compact() then refuses it)
        return buf.astype(np.uint16 if hi else np.uint8)


def sample_bits(depth: int) -> int:
    """The bits per sample of :func:`quantize`'s frames at this depth (8, or 16 for deeper)."""
    return 16 if depth > 8 else 8


def _levels(depth: int) -> float:
    """The largest stored sample at this depth: 1.0 as :func:`quantize` stores it."""
    return 255.0 if depth <= 8 else 65535.0


def dequantize(data: np.ndarray, depth: int) -> np.ndarray:
    return data.astype(np.float32) * np.float32(1.0 / _levels(depth))


def dequantize_into(data: np.ndarray, out: np.ndarray) -> None:
    """``data`` as float32 into ``out``: stored samples (uint8 or uint16, :func:`quantize`'s)
    turned back as :func:`dequantize` turns them, value for value; float32 copied."""
    if data.dtype in (np.uint8, np.uint16):
        np.multiply(data, np.float32(1.0 / _levels(8 * data.itemsize)), out=out)
    else:
        np.copyto(out, data)


def compact(frame: np.ndarray) -> np.ndarray:
    """A float32 frame as its stored samples where it is exactly what :func:`dequantize` makes of
    them (a frame read from an 8-bit video: uint8, a quarter of the bytes; deeper: uint16), else
    the frame itself (a virtual or resized frame): :func:`dequantize_into` gives back the same
    values. For a frame crossing to a worker process (vs_zstsr/baselines.py)."""
    if frame.dtype != np.float32 or frame.size == 0:
        return frame
    for depth in (8, 16):
        q = _stored(frame[:1], depth)          # the first row: most frames off the grid stop here
        if q is not None and (frame.shape[0] == 1 or (q := _stored(frame, depth)) is not None):
            return q
    return frame


def as_float(frame: np.ndarray) -> np.ndarray:
    """A frame from :func:`compact` as float32 (:func:`dequantize` of its samples; a float32 frame
    as it is)."""
    return frame if frame.dtype == np.float32 else dequantize(frame, 8 * frame.itemsize)


def _stored(frame: np.ndarray, depth: int) -> np.ndarray | None:
    """``quantize(frame, depth)`` if it gives ``frame`` back bit for bit (-0.0 too), else None (a
    value between levels, outside [0, 1] or NaN)."""
    q = quantize(frame, depth)
    back = np.empty(frame.shape, np.float32)
    dequantize_into(q, back)
    return q if np.array_equal(back.view(np.uint32), frame.view(np.uint32)) else None


def as_written(frame: np.ndarray, depth: int) -> np.ndarray:
    """The frame a writer of this depth stores, back as float32 (what reading the file gives); a
    frame already quantized (:meth:`VideoWriter.write`) is only turned back."""
    return dequantize(quantize(frame, depth) if frame.dtype.kind == "f" else frame, depth)


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
            own = _own_names(container, s)
            stored = info.stored_size
            slots, j = info.slots, 0  # variable rate converted: each frame fills the slots nearest it
            while slots is None or j < len(slots):
                if info.truncated and n >= info.frames:
                    break   # accepted as truncated: the frames that decode cleanly
                with _ffmpeg_errors(path, f"at frame {n}", own, () if n else CUT_START_MESSAGES):
                    frame = next(frames, None)
                if frame is None:
                    break
                if (frame.width, frame.height) != stored:
                    raise ZstsrError(f"{path}: frame {n} changes size to {frame.width}x{frame.height}")
                if slots is None:
                    yield orient(_to_float(frame, info.bit_depth), info.orientation)
                elif j < len(slots) and slots[j] == n:
                    f = orient(_to_float(frame, info.bit_depth), info.orientation)
                    while j < len(slots) and slots[j] == n:
                        yield f.copy()
                        j += 1
                n += 1
            expected = len(info.times[0]) if info.times else info.frames
            if not info.truncated and expected and n < expected:
                raise ZstsrError(f"{path}: the video stream ends after {n} of its {expected} frames (damaged "
                                 "or truncated)")
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
            return sum(1 for p in c.demux(c.streams.video[0]) if p.size and not p.is_discard)
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


def read_video(path: str | os.PathLike, rate: Fraction | None = None, info: VideoInfo | None = None
               ) -> tuple[VideoInfo, np.ndarray]:
    """Read a whole clip into a ``(T, H, W, 3)`` float32 array; refuse one with no frames.
    ``info`` (from :func:`open_input`, say) is used instead of probing again."""
    info = info or probe(path, rate)
    frames = list(read_frames(path, info))
    if not frames:
        raise ZstsrError(f"{path}: video has no frames")
    info.frames = len(frames)
    return info, np.stack(frames)


# --------------------------------------------------------------------------------------------
# real-world footage: the checks of the commands that read video (docs/FOOTAGE.md)

VFR_POLICIES = ("convert", "error")
STANDARD_RATES = tuple(Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50",
                                             "60000/1001", "60", "90", "100", "120000/1001", "120",
                                             "240"))


def frame_times(path: str | os.PathLike) -> tuple[np.ndarray, Fraction] | None:
    """Presentation times of every frame, sorted (display order), in ticks of the returned time
    base; from the packets, without decoding. None when some packet has no timestamp."""
    av = _av()
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            pts = [p.pts for p in c.demux(s) if p.size and not p.is_discard]   # as _scan
            tb = Fraction(s.time_base) if s.time_base else None
    except (av.error.FFmpegError, OSError) as e:
        raise ZstsrError(f"{path}: cannot read timestamps ({_reason(e)})") from None
    if not pts or tb is None or any(p is None for p in pts):
        return None
    return np.sort(np.asarray(pts, np.int64)), tb


ROUNDING_STEP_MAX = 0.002   # seconds: the longest step a file's times may have been rounded to


def constant_rate_slots(times: np.ndarray, time_base: Fraction, exact: bool = False) -> tuple[Fraction, list[int]] | None:
    """None when ``times`` (sorted ticks) are evenly spaced, up to timestamp rounding (none where
    ``exact``: where ticks count frames, AVI's or a timescale of the frame rate); else the
    constant rate to convert to (the typical frame duration, snapped to a standard rate) and, for
    each frame at that rate, the index of the source frame it shows: each source frame goes to the
    slot nearest its time, empty slots repeat the frame before, a crowded one keeps the last
    (exactly ffmpeg's fps filter)."""
    d = np.diff(times)
    if len(d) < 2:
        return None
    med = float(np.median(d))
    # ticks: 30000/1001 in a 1/1000 time base alternates 33 and 34. Times rounded before they came
    # into this time base (Matroska's milliseconds copied into a transport stream's 1/90000:
    # 59.94 fps alternates 1440 and 1530) are rounded to their own step, where that is a time
    # base's (up to 2 ms; a step as long as 8 ms is 24 and 30 fps timed exactly, not rounding).
    step = int(np.gcd.reduce(d[d > 0])) if np.any(d > 0) else 1
    # None where times count frames (AVI): there 2 ticks are a dropped frame, not rounding (a
    # 2-frame gap was taken for rounding, and 25 fps made 24.49). Matroska's milliseconds at
    # 960 fps (1 and 2 ms apart) are rounding, and look the same: the container tells them apart.
    rounding = 0 if exact else 2 * (step if step * float(time_base) <= ROUNDING_STEP_MAX else 1)
    tol = rounding + 0.01 * med
    if np.all(np.abs(d - med) <= tol):
        return None
    typical = float(np.mean(d[np.abs(d - med) <= tol])) * float(time_base)
    # Dropped frames leave gaps of whole frame durations: the whole span then pins the duration
    # down far better than the rounded timestamps of single frames do.
    span = float(times[-1] - times[0]) * float(time_base)
    whole = round(span / typical) if typical > 0 else 0
    if whole and abs(span / whole - typical) <= 0.01 * typical:
        typical = span / whole
    measured = 1.0 / typical if typical > 0 else 30.0
    best = min(STANDARD_RATES, key=lambda r: abs(float(r) - measured))
    rate = best if abs(float(best) - measured) <= 0.02 * measured else snap_rate(
        Fraction(measured).limit_denominator(1001))
    # ffmpeg's fps filter: each frame goes to the slot nearest its time (rounding half up); a
    # slot that gets none repeats the frame before, one that gets several keeps the last.
    t = (times - times[0]).astype(np.float64) * float(time_base)
    slot = np.floor(t * float(rate) + 0.5).astype(np.int64)
    n = max(1, int(np.floor((t[-1] + typical) * float(rate) + 0.5)))
    pick = np.searchsorted(slot, np.arange(n), side="right") - 1
    return rate, [int(i) for i in np.maximum(pick, 0)]


def _clock(container, stream) -> str:
    """:attr:`VideoInfo.clock`: AVI's ticks count frames in decoding order; so does a time base
    that is the stream's frame duration (an MP4 or MOV with a timescale of 25 at 25 fps): none of
    their differences is rounding (a dropped frame's gap of 2 ticks was read as a constant 22.5 fps)."""
    if container.format.name == "avi":
        return CLOCK_AVI
    base, tb = stream.base_rate, stream.time_base
    return CLOCK_FRAMES if base and tb and Fraction(base) * Fraction(tb) == 1 else ""


def _avi_shown_times(path, n: int) -> list | None:
    """The times of an AVI's first ``n`` frames as they come out of the decoder, as ffmpeg times
    them (its best-effort timestamps): AVI's times are packets' places in decoding order, and with
    B-frames a frame comes out under the decoding time of the packet fed then, the decoder's
    delay later (dropped frames, empty chunks, leave gaps in those times: placed by the times of
    the packets, a gap was filled two frames early, with the frame after it). The delay is the
    first frame's decoding time against the packets'; the last frames (drained) one step each."""
    av = _av()
    try:
        with av.open(str(path)) as c:
            dts = [p.dts for p in c.demux(c.streams.video[0]) if p.size]
    except (av.error.FFmpegError, OSError):
        return None
    first = _first_frame(path)
    if first is None or first.dts is None or None in dts or first.dts not in dts:
        return None
    shown = dts[dts.index(first.dts):]
    shown += [shown[-1] + k for k in range(1, len(dts) - len(shown) + 1)]
    return shown[:n]


def variable_rate(path: str | os.PathLike, info: VideoInfo) -> tuple[tuple[Fraction, list[int]], str, int] | None:
    """None for a constant frame rate (or frames without timestamps); else the conversion
    :func:`constant_rate_slots` makes (the rate, each frame's source frame), the rates the
    timestamps span, in words, and the source frames. Sets ``info.frames`` where it was unknown."""
    times = info.times if info.times is not None else frame_times(path)
    if times is None or not times[0] or times[1] is None or any(p is None for p in times[0]):
        return None
    pts = times[0][:info.frames] if info.truncated else times[0]   # only the frames read
    times = (np.sort(np.asarray(pts, np.int64)), times[1])
    if not info.frames:
        info.frames = len(times[0])
    conv = constant_rate_slots(*times, exact=bool(info.clock))
    if conv is not None and info.clock == CLOCK_AVI:   # gaps: where they fall (read again only then: every packet)
        shown = _avi_shown_times(path, len(pts))
        if shown:
            times = (np.sort(np.asarray(shown, np.int64)), times[1])
            conv = constant_rate_slots(*times, exact=True)
    if conv is None:
        return None
    d = np.diff(times[0]).astype(np.float64) * float(times[1])
    d = d[d > 0]
    span = f"{1 / d.max():.3g} to {1 / d.min():.3g} fps" if len(d) else "irregular timestamps"
    return conv, span, len(times[0])


def open_input(path: str | os.PathLike, rate: Fraction | None = None, *, vfr: str = "convert",
               assume_progressive: bool = False, allow_truncated: bool = False, log=None) -> VideoInfo:
    """:func:`probe` for the commands that read video, with the checks real footage needs:
    alpha and interlaced input are refused (one line naming what to do); a variable frame rate is
    converted to the nearest constant one (``vfr="convert"``, said in one line through ``log``)
    or refused (``vfr="error"``). Rotation needs nothing here: :func:`read_frames` applies it."""
    if vfr not in VFR_POLICIES:
        raise ZstsrError(f"--vfr must be convert or error, got {vfr!r}")
    info = probe(path, rate, allow_truncated=allow_truncated, log=log)
    name = Path(path).name
    if info.has_alpha:
        raise ZstsrError(f"{path}: the video has an alpha channel ({info.pix_fmt}), which zstsr does not carry; "
                         f"drop it first (e.g. ffmpeg -i {name} -pix_fmt yuv420p OUT.mkv)")
    if Path(path).is_dir():
        return info
    if not assume_progressive:
        order = info.field_order
        if not info.interlaced and info.first_interlaced:
            order = "interlaced"
        if order not in ("progressive", "unknown"):
            what = {"tt": "top field first", "tb": "top field first", "bb": "bottom field first",
                    "bt": "bottom field first"}.get(order, "interlaced frames")
            raise ZstsrError(f"{path}: interlaced video ({what}); deinterlace it first (e.g. ffmpeg -i "
                             f"{name} -vf bwdif OUT.mkv, or VapourSynth's QTGMC), or pass "
                             "--assume-progressive if it is really progressive")
    found = variable_rate(path, info)
    if found is None:
        return info
    conv, span, src_frames = found
    if vfr == "error":
        raise ZstsrError(f"{path}: variable frame rate ({span}); convert it to a constant rate first "
                         f"(e.g. ffmpeg -i {name} -fps_mode cfr -r 30 OUT.mkv) or pass --vfr convert")
    new_rate, slots = conv
    info.rate, info.slots, info.vfr, info.frames = new_rate, slots, True, len(slots)
    if log:
        log(f"note: {name} has a variable frame rate ({span}): converted to a constant "
            f"{format_rate(new_rate)} fps ({src_frames} -> {len(slots)} frames, repeated or dropped as "
            "ffmpeg's fps filter does; --vfr error refuses instead)")
    return info


# --------------------------------------------------------------------------------------------
# writing


def codec_for(path: str | os.PathLike, codec: str | None = None) -> str:
    """The codec a path asks for: explicit, else by extension (.mkv FFV1, .mp4 H.264, .mov ProRes,
    a folder or a name ending in '/' PNG frames)."""
    if codec:
        if codec not in CODECS + EXTRA_CODECS:
            raise ZstsrError(f"unknown codec {codec!r}; choose from {', '.join(CODECS + EXTRA_CODECS)}")
        return codec
    p = str(path)
    if p.endswith(("/", os.sep)) or Path(p).is_dir() or Path(p).suffix == "":
        return "png"
    ext = Path(p).suffix.lower()
    if ext not in _EXT_CODEC:
        raise ZstsrError(f"{path}: unknown output type {ext!r}; use .mkv (FFV1), .mp4 (H.264), "
                         ".mov (ProRes) or a folder for PNG frames, or pass --codec")
    return _EXT_CODEC[ext]


def _is_rgb(pix_fmt: str | None) -> bool:
    try:
        return bool(pix_fmt) and _av().VideoFormat(pix_fmt).is_rgb
    except Exception:
        return False


def default_matrix(width: int, height: int) -> int:
    """The YUV matrix of a picture whose source says none (ffmpeg's enum): BT.709 for HD (wider than
    1024 or taller than 576), BT.601 (smpte170m) for SD, as players assume."""
    return 1 if width > 1024 or height > 576 else 6


def _subsampled(pix_fmt: str) -> bool:
    """Chroma at less than full resolution (4:2:0, 4:2:2, ...): encoders want even sizes."""
    av = _av()
    try:
        f = av.VideoFormat(pix_fmt)
        return f.chroma_width(5) < 5 or f.chroma_height(5) < 5
    except Exception:
        return False


def _pix_fmt_for(codec: str, depth: int, gray: bool, source: str | None, odd: bool = False) -> str:
    """Keep the source's pixel format where the encoder takes it; else the nearest one that keeps
    the bit depth (and RGB stays RGB for lossless FFV1). ``odd``: the picture has an odd width or
    height, which H.264, H.265 and ProRes take only without chroma subsampling (4:4:4)."""
    av = _av()
    name = _ENCODER[codec]
    supported = {f.name for f in av.codec.Codec(name, "w").video_formats}
    # RGB stays RGB only in the lossless codecs: H.264/H.265 in RGB (gbrp) are for few players,
    # and ProRes is YUV; their RGB sources are converted (with a matrix tag, see VideoWriter).
    rgb_kept = codec in ("ffv1", "ffvhuff", "png") or not _is_rgb(source)
    if source in supported and _depth_of(source) == depth and rgb_kept and not (
            odd and codec != "ffv1" and _subsampled(source)):
        return source
    hi = depth > 8
    if odd and codec in ("h264", "h265", "prores") and not (gray and codec != "prores"):
        return "yuv444p10le" if hi or codec == "prores" else "yuv444p"
    if codec in ("prores", "dnxhr"):
        return "yuv422p10le"
    if codec == "ffv1":
        if gray:
            return "gray16le" if depth > 10 else ("gray10le" if hi else "gray")
        return "gbrp16le" if depth > 10 else ("gbrp10le" if hi else "bgr0")
    if codec == "ffvhuff":
        if gray:
            return "gray16le" if depth > 10 else ("gray10le" if hi else "gray")
        return "gbrp16le" if depth > 10 else ("gbrp10le" if hi else "rgb24")
    if gray and "gray" in supported:
        return "gray10le" if hi else "gray"
    return "yuv420p10le" if hi else "yuv420p"


# Y'CbCr pixel formats a writer takes as planes made elsewhere (:class:`Planar`): name ->
# (chroma subsampling, log2 across and down; bits per sample)
_PLANAR_FORMATS = {f"yuv{chroma}p{'' if bits == 8 else f'{bits}le'}": (*sub, bits)
                   for chroma, sub in (("420", (1, 1)), ("422", (1, 0)), ("444", (0, 0))) for bits in (8, 10, 12, 16)}
# The matrices (ffmpeg's numbers, which are ITU-T H.273's, as zimg's are) whose coefficients
# swscale, this writer's conversion, and zimg, VapourSynth's resize, both have: BT.709, FCC,
# BT.470BG, SMPTE 170M, SMPTE 240M, BT.2020 non-constant luminance
_PLANAR_MATRICES = (1, 4, 5, 6, 7, 9)


@dataclass(frozen=True)
class Planar:
    """A writer's Y'CbCr pixel format, for frames converted where they are made (MVTools' worker:
    :class:`.direct.Finish`) instead of in the writer's thread, where swscale's conversion of
    packed RGB cost more than the encoder itself (docs/BENCHMARKS.md, "Frames in the writer's
    format"). A frame is then its planes' samples, Y then Cb then Cr, each row by row, in one
    1-D array of ``size`` (uint8, or uint16 above 8 bits), made from the writer's RGB samples
    (:func:`quantize`'s) with ``matrix`` and ``range`` (ffmpeg's numbers: 1 limited, 2 full),
    chroma sited at the centre as swscale has it; ``sub_w``, ``sub_h``: chroma subsampling
    (log2); ``bits``: per sample."""
    pix_fmt: str
    width: int
    height: int
    matrix: int
    range: int
    sub_w: int
    sub_h: int
    bits: int

    @property
    def size(self) -> int:
        return self.width * self.height + 2 * (self.width >> self.sub_w) * (self.height >> self.sub_h)

    @property
    def dtype(self) -> type:
        return np.uint16 if self.bits > 8 else np.uint8


def to_planes(rgb, planes: Planar):
    """An integer RGB VapourSynth clip as ``planes`` (:class:`Planar`), by zimg: chroma sited at the
    centre (swscale's, which zstsr reads with), bicubic, rounded (no dither). The one conversion
    of both a writer's RGB frames and MVTools' worker's (:class:`.direct.Finish`), so that a frame
    is stored alike whichever made it (a local render and ``--ray``'s are the same file). Read back
    by swscale it is 0.2-0.9 dB closer to the RGB frames than swscale's own conversion on the real
    clips (``python benchmarks/planes_roundtrip.py``)."""
    import vapoursynth as vs

    fmt = vs.core.query_video_format(vs.YUV, vs.INTEGER, planes.bits, planes.sub_w, planes.sub_h)
    return vs.core.resize.Bicubic(rgb, format=fmt.id, matrix=planes.matrix, chromaloc_s="center",
                                  range_s="full" if planes.range == 2 else "limited")


def planes_row(frame) -> np.ndarray:
    """A VapourSynth frame's three planes in a row: :class:`Planar`'s 1-D frame."""
    return np.concatenate([np.asarray(frame[p]).ravel() for p in range(3)])


class _PlanesOf:
    """A writer's RGB samples ``(H, W, 3)`` uint8 (uint16 with ``sample_bits`` 16: only
    benchmarks/planes_roundtrip.py's ``--deep``) as its :class:`Planar` frames, through
    :func:`to_planes` in VapourSynth (in this process: a core built-in, no plugin)."""

    def __init__(self, planes: Planar, sample_bits: int = 8):
        import vapoursynth as vs

        core = vs.core
        # one source frame per frame made (n counts up): every node's cache off, so nothing is kept
        blank = core.std.BlankClip(width=planes.width, height=planes.height,
                                   format=vs.RGB24 if sample_bits == 8 else vs.RGB48, length=2 ** 31 - 1)
        self._rgb: np.ndarray | None = None

        def fill(n: int, f):
            out = f.copy()
            for p in range(3):
                np.copyto(np.asarray(out[p]), self._rgb[:, :, p])
            return out

        src = core.std.ModifyFrame(blank, blank, fill)
        self._clip = to_planes(src, planes)
        for node in (src, self._clip):
            core.std.SetVideoCache(node, 0)
        self._n = 0

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        self._rgb = rgb
        f = self._clip.get_frame(self._n % (2 ** 31 - 1))
        self._n += 1
        self._rgb = None
        return planes_row(f)


@dataclass
class AudioSpec:
    """An audio track for :class:`VideoWriter`: PCM (16- or 24-bit little-endian) at ``rate`` Hz."""
    rate: int
    layout: str = "stereo"
    bits: int = 24  # 16 or 24

    @property
    def codec(self) -> str:
        return "pcm_s16le" if self.bits <= 16 else "pcm_s24le"


# Frames a background VideoWriter may hold queued, in bytes of float32 RGB (1080p: 10, 4K: 2).
WRITE_QUEUE_BYTES = 256 * 2 ** 20


class VideoWriter:
    """Write float32 RGB frames to a file or a PNG folder, atomically.

    Use as a context manager: on a clean exit the temporary output is renamed to ``path``; on an
    exception it is deleted and ``path`` is left as it was. ``finish()`` then ``commit()`` do the
    two halves of ``close()`` separately, so that several files can be completed before any of
    them is moved into place.

    Optional extras (files only, not PNG folders): ``profile`` (the encoder's profile: ProRes
    0..5, default 3 = 422 HQ; DNxHR ``dnxhr_hqx`` by default), ``timecode`` (start timecode, e.g.
    ``01:00:00:00``; MOV gets a tmcd track), ``metadata`` (container tags; MOV keeps arbitrary
    keys), ``stream_metadata`` (video stream tags, e.g. ``reel_name``, which MOV puts on the tmcd
    track), and ``audio`` (an :class:`AudioSpec`: the file gets a PCM track, fed by
    ``write_audio``).
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, rate: Fraction,
                 bit_depth: int = 8, codec: str | None = None, pix_fmt: str | None = None,
                 color: ColorInfo | None = None, gray: bool = False, crf: int | None = None,
                 profile: str | None = None, timecode: str | None = None,
                 metadata: dict | None = None, stream_metadata: dict | None = None,
                 audio: AudioSpec | None = None, log=None, background: bool = False):
        self.path = Path(str(path).rstrip("/" + os.sep))
        self.log = log  # one-line notes (a changed pixel format), e.g. the CLI's
        self.codec = codec_for(path, codec)
        self.width, self.height, self.rate = width, height, Fraction(rate)
        self.depth = 16 if bit_depth > 10 else (10 if bit_depth > 8 else 8)
        self.color = color or ColorInfo()
        self.gray = gray
        self.count = 0      # frames accepted by write()
        self._encoded = 0   # frames encoded (behind count while a background thread works)
        # background: frames are quantized and encoded on a thread of their own, overlapped with
        # whatever makes them (numpy, PyAV and VapourSynth release the GIL), through a queue
        # bounded in bytes (WRITE_QUEUE_BYTES); an error there is raised by the next call here.
        self._queue = self._thread = self._error = None
        if background:
            import queue

            self._queue = queue.Queue(max(2, WRITE_QUEUE_BYTES // max(1, width * height * 12)))
        self.profile, self.timecode, self.audio = profile, timecode, audio
        self.metadata, self.stream_metadata = dict(metadata or {}), dict(stream_metadata or {})
        self.audio_samples = 0
        self._astream = self._aresampler = None
        self._finished = self._committed = False
        if self.path.parent and not self.path.parent.exists():
            raise ZstsrError(f"{self.path.parent}: output folder does not exist")
        if self.codec == "h265" and min(width, height) < 64:
            # libx265 corrupts its heap (and kills the process) on 10-bit pictures below one CTU.
            raise ZstsrError(f"h265 needs a picture of at least 64x64, got {width}x{height}")
        if self.codec == "dnxhr" and (width < 256 or height < 120):
            raise ZstsrError(f"DNxHR needs a picture of at least 256x120, got {width}x{height}")
        if self.codec == "ffvhuff" and self.path.suffix.lower() not in (".nut", ".avi"):
            raise ZstsrError(f"{self.path}: ffvhuff goes in .nut or .avi (Matroska and MOV cannot hold it)")
        if self.codec == "png" and (audio or timecode or metadata or stream_metadata):
            raise ZstsrError(f"{self.path}: a PNG folder cannot hold audio, a timecode or tags")
        outputs.clean_stale(self.path, log)
        self._container = self._stream = None
        self.planes: Planar | None = None   # frames may come as these planes (set by _open)
        self._planes_of: _PlanesOf | None = None
        if self.codec == "png":
            self._tmp = outputs.temp_path(self.path)
            self._tmp.mkdir()
            self._pix_fmt = ("gray16be" if self.depth > 8 else "gray") if gray else (
                "rgb48be" if self.depth > 8 else "rgb24")
        else:
            self._tmp = outputs.temp_path(self.path, self.path.suffix)
            self._open(pix_fmt, crf)

    def _open(self, pix_fmt: str | None, crf: int | None) -> None:
        av = _av()
        fmt = {"ffv1": "matroska", "ffvhuff": "nut", "h264": None, "h265": None, "prores": "mov", "dnxhr": "mov"}[self.codec]
        if self.codec == "ffvhuff" and self.path.suffix.lower() == ".avi":
            fmt = "avi"
        if self.codec in ("h264", "h265") and self.path.suffix.lower() == ".mkv":
            fmt = "matroska"
        fmt = fmt or "mp4"
        copts = {"movflags": "use_metadata_tags"} if self.metadata and fmt in ("mov", "mp4") else {}
        tc_key = "timecode"
        if fmt in ("mov", "mp4") and round(self.rate) > MOV_TIMECODE_MAX_FPS:
            tc_key = TIMECODE_TAG
            if self.timecode and "movflags" not in copts:
                copts = {"movflags": "use_metadata_tags"}    # MOV keeps arbitrary keys so
        self._container = av.open(str(self._tmp), "w", format=fmt, options=copts)
        for k, v in self.metadata.items():
            self._container.metadata[k] = str(v)
        if self.timecode:
            self._container.metadata[tc_key] = self.timecode
        name = _ENCODER[self.codec]
        # A fine time base so that any rate (x8 of 30000/1001, say) stays exact in the container.
        s = self._container.add_stream(name, rate=self.rate)
        s.width, s.height = self.width, self.height
        odd = bool(self.width % 2 or self.height % 2)
        s.pix_fmt = _pix_fmt_for(self.codec, self.depth, self.gray, pix_fmt, odd)
        if odd and self.log and self.codec in ("h264", "h265", "prores") and s.pix_fmt != pix_fmt \
                and not _subsampled(s.pix_fmt):
            self.log(f"note: {self.width}x{self.height} is odd, which {self.codec} cannot hold with "
                     f"subsampled chroma: writing {s.pix_fmt} (4:4:4) at the same size")
        if self.color.matrix in (0, 2) and not _is_rgb(s.pix_fmt) and not self.gray and self.codec != "png":
            # Every RGB -> YUV conversion is tagged with the matrix it used, so players agree; an
            # RGB source's tags (matrix "rgb", full range) say nothing about YUV: limited range.
            self.color = replace(self.color, matrix=default_matrix(self.width, self.height),
                                 range=1 if self.color.matrix == 0 else self.color.range)
        s.time_base = 1 / self.rate
        s.metadata[RATE_TAG] = str(self.rate)
        for k, v in self.stream_metadata.items():
            s.metadata[k] = str(v)
            if tc_key != "timecode":   # no tmcd track to carry them (e.g. reel_name): the file's tags
                self._container.metadata[k] = str(v)
        if self.timecode and tc_key == "timecode":
            s.metadata["timecode"] = self.timecode  # the mov muxer makes its tmcd track from this
        opts = {}
        if self.codec == "ffv1":
            opts = {"level": "3", "slicecrc": "1", "g": "1"}
        elif self.codec in ("h264", "h265"):
            opts = {"crf": str(crf if crf is not None else DEFAULT_CRF), "preset": "medium"}
            if self.codec == "h265":
                opts["x265-params"] = "log-level=error"
        elif self.codec == "prores":
            opts = {"profile": self.profile or "3", "vendor": "apl0"}  # 3: 422 HQ, 0: Proxy
            if not self.profile and not _subsampled(s.pix_fmt):
                opts["profile"] = "4"  # 4444: a 4:4:4 picture (odd sizes) needs it
        elif self.codec == "dnxhr":
            opts = {"profile": self.profile or "dnxhr_hqx"}
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
        self.planes = self._planar()
        if self.audio is not None:
            a = self._container.add_stream(self.audio.codec, rate=self.audio.rate)
            a.layout = self.audio.layout
            self._astream = a
            self._aresampler = av.AudioResampler(format="s16" if self.audio.bits <= 16 else "s32",
                                                 layout=self.audio.layout, rate=self.audio.rate)

    def _range(self) -> int:
        """The range this writer's Y'CbCr samples are in (ffmpeg's number; 0 for RGB). It must be
        given to swscale, which writes limited range unless told, whatever the tag says. ProRes
        and DNxHR are limited range by definition (their encoders tag it so)."""
        if _is_rgb(self._stream.pix_fmt):
            return 0
        return 1 if self.codec in ("prores", "dnxhr") else self.color.range

    def _planar(self) -> Planar | None:
        """:attr:`planes`: this writer's format as :class:`Planar`, where it is one (8-bit RGB
        samples, a Y'CbCr format of :data:`_PLANAR_FORMATS`, a whole number of chroma samples
        across and down, a matrix of :data:`_PLANAR_MATRICES`), else None. Its RGB frames are
        then converted by :func:`to_planes`, as frames that come as planes were."""
        fmt = self._stream.pix_fmt
        # 8-bit RGB samples only: from 16-bit ones swscale's 10-bit luma is 1.7 levels above
        # BT.601's (zimg's is exact, benchmarks/planes_roundtrip.py), and the reader (swscale)
        # takes those levels off again: a file made by zimg would read 1.7 levels dark here
        if self.depth > 8 or self.gray or fmt not in _PLANAR_FORMATS or self.color.matrix not in _PLANAR_MATRICES:
            return None
        try:
            import vapoursynth  # noqa: F401 - to_planes' (a dependency; without it swscale converts)
        except ImportError:
            return None
        sub_w, sub_h, bits = _PLANAR_FORMATS[fmt]
        if self.width % (1 << sub_w) or self.height % (1 << sub_h):
            return None
        return Planar(fmt, self.width, self.height, self.color.matrix, 2 if self._range() == 2 else 1,
                      sub_w, sub_h, bits)

    def write_audio(self, samples: np.ndarray | None) -> None:
        """Add float32 planar samples ``(channels, n)`` in [-1, 1] at the track's rate (``None``
        flushes; ``finish`` does that)."""
        if self._astream is None:
            raise ValueError("this writer has no audio track")
        if self._thread is not None:   # muxed in order with the video, on the writer's thread
            self._raise_error()
            self._queue.put(("audio", samples))
            return
        self._write_audio(samples)

    def _write_audio(self, samples: np.ndarray | None) -> None:
        av = _av()
        frame = None
        if samples is not None:
            if samples.shape[1] == 0:
                return
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, np.float32), format="fltp",
                                               layout=self.audio.layout)
            frame.sample_rate = self.audio.rate
        for f in self._aresampler.resample(frame):
            f.pts = self.audio_samples
            f.time_base = Fraction(1, self.audio.rate)
            self.audio_samples += f.samples
            for pkt in self._astream.encode(f):
                self._container.mux(pkt)

    def write(self, frame: np.ndarray) -> None:
        """Add a frame (float32 RGB ``(H, W, 3)`` in [0, 1]; values outside are clipped), or one
        already quantized as this writer stores it (:func:`quantize` at its depth: uint8, or uint16
        above 8 bits; e.g. :class:`.direct.Finish`'s), or already in its pixel format (1-D, as
        :attr:`planes` says). In the background mode the writer owns ``frame`` from here on: do not
        change it afterwards."""
        if frame.ndim == 1:
            if self.planes is None or frame.size != self.planes.size or frame.dtype != self.planes.dtype:
                raise ValueError(f"{frame.size} {frame.dtype} samples are not a frame of this writer's planes "
                                 f"({self.planes})")
        elif frame.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame is {frame.shape[1]}x{frame.shape[0]}, writer is {self.width}x{self.height}")
        elif frame.dtype.kind != "f" and frame.dtype != (np.uint16 if sample_bits(self.depth) > 8 else np.uint8):
            raise ValueError(f"a {frame.dtype} frame for a {self.depth}-bit writer")
        if self._queue is None:
            self._encode(frame)
        else:
            self._raise_error()
            if self._thread is None:
                import threading

                self._thread = threading.Thread(target=self._work, name="zstsr-writer", daemon=True)
                self._thread.start()
            self._queue.put(frame)
        self.count += 1

    def _work(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            if self._error is None:
                try:
                    if isinstance(frame, tuple):
                        self._write_audio(frame[1])
                    else:
                        self._encode(frame)
                except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                    self._error = e

    def _raise_error(self) -> None:
        if self._error is not None:   # kept: every later call fails the same way
            raise self._error

    def _drain(self) -> None:
        """Wait for the background thread to encode everything queued."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise_error()

    def _encode(self, frame: np.ndarray) -> None:
        av = _av()
        hi = self.depth > 8
        data = quantize(frame, self.depth) if frame.dtype.kind == "f" else frame
        if self.codec == "png":
            if self.gray:
                img = av.VideoFrame.from_ndarray(data[..., 0], format="gray16le" if hi else "gray")
            else:
                img = av.VideoFrame.from_ndarray(data, format="rgb48le" if hi else "rgb24")
            img = img.reformat(format=self._pix_fmt)
            with av.open(str(self._tmp / f"{self._encoded:06d}.png"), "w", format="image2") as c:
                s = c.add_stream("png", rate=1)
                s.width, s.height, s.pix_fmt = self.width, self.height, self._pix_fmt
                for pkt in s.encode(img):
                    c.mux(pkt)
                for pkt in s.encode():
                    c.mux(pkt)
        elif frame.ndim == 1 or self.planes is not None:   # the planes of this writer's format (Planar)
            if frame.ndim == 3:
                if self._planes_of is None:
                    self._planes_of = _PlanesOf(self.planes)
                frame = self._planes_of(data)
            img = av.VideoFrame(self.width, self.height, self.planes.pix_fmt)
            at = 0
            for plane in img.planes:   # rows padded to the plane's line size
                n = plane.width * plane.height
                dst = np.frombuffer(plane, frame.dtype).reshape(plane.height, -1)[:, :plane.width]
                dst[...] = frame[at:at + n].reshape(plane.height, plane.width)
                at += n
            self._mux(img)
        else:
            img = av.VideoFrame.from_ndarray(data, format="rgb48le" if hi else "rgb24")
            # threads=1: swscale's slice threads (threads=0, PyAV's default) sometimes garble
            # small 10-bit pictures in this ffmpeg build (tests/test_footage.py's HDR clips).
            kw = {"format": self._stream.pix_fmt, "threads": 1}
            if self.color.matrix != 2:
                kw["dst_colorspace"] = self.color.matrix
            if rng := self._range():
                kw["dst_color_range"] = rng
            self._mux(img.reformat(**kw))
        self._encoded += 1

    def _mux(self, img) -> None:
        img.pts = self._encoded  # set last: reformat makes a new frame without timestamps
        img.time_base = 1 / self.rate  # not the stream's: the muxer may change that one
        for pkt in self._stream.encode(img):
            self._container.mux(pkt)

    def close(self) -> None:
        """Finish the file and move it into place."""
        self.finish()
        self.commit()

    def finish(self) -> None:
        """Complete the temporary output (flush the encoders, close the file), not yet renamed."""
        if self._finished:
            return
        self._drain()
        if self.codec == "png":
            (self._tmp / FRAME_SIDECAR).write_text(json.dumps(
                {"rate": str(self.rate), "bit_depth": self.depth, "frames": self.count}))
        else:
            for pkt in self._stream.encode():
                self._container.mux(pkt)
            if self._astream is not None:
                self.write_audio(None)
                for pkt in self._astream.encode():
                    self._container.mux(pkt)
            self._container.close()
        self._finished = True

    def commit(self) -> None:
        """Move the finished output into place under its name."""
        if self._committed:
            return
        if not self._finished:
            raise RuntimeError("commit() before finish()")
        if self.codec == "png":
            left = outputs.replace_folder(self._tmp, self.path)  # never deletes a folder that is not ours
            if left is not None and self.log:
                self.log(f"note: {self.path} held files other than its earlier frames; they are now in {left}")
        else:
            outputs.commit_file(self._tmp, self.path)
        self._committed = True

    def abort(self) -> None:
        """Remove the temporary output; the target is untouched."""
        if self._committed:
            return
        if self._thread is not None:
            self._error = self._error or ZstsrError("aborted")   # the thread skips what is left
            with contextlib.suppress(BaseException):
                self._drain()
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
                empty: str | None = None, **kw) -> int:
    """Write frames (float32 RGB, [0, 1]) to ``path``; returns the number written.

    ``like`` copies pixel format, depth and colour description from an input's :class:`VideoInfo`.
    ``empty``: the error when there are no frames (default: nothing to write).
    """
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ZstsrError(empty or f"{path}: nothing to write (no frames)")
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


# ffmpeg's names of its colour enums (libavutil/pixfmt.h), for people to read
_COLOR_NAMES = {
    "matrix": {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "ycgco",
               9: "bt2020nc", 10: "bt2020c", 14: "ictcp"},
    "primaries": {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film",
                  9: "bt2020", 11: "smpte431", 12: "smpte432"},
    "trc": {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
            13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67"},
    "range": {1: "tv (limited)", 2: "pc (full)"},
}


def describe_color(c: ColorInfo) -> str:
    """``matrix bt709, primaries bt709, transfer bt709, range tv (limited)``; unspecified said so."""
    parts = []
    for key, label in (("matrix", "matrix"), ("primaries", "primaries"), ("trc", "transfer"), ("range", "range")):
        v = getattr(c, key)
        parts.append(f"{label} {_COLOR_NAMES[key].get(v, 'unspecified' if v in (0, 2) else str(v))}")
    return ", ".join(parts)


def audio_info(path: str | os.PathLike) -> list[dict]:
    """The audio streams of a file: codec, sample rate, channel layout."""
    av = _av()
    with av.open(str(path)) as c:
        return [{"codec": a.codec_context.name, "sample_rate": int(a.codec_context.sample_rate or a.rate or 0),
                 "layout": (a.codec_context.layout.name if a.codec_context.layout else "")
                 or f"{a.codec_context.channels} channels"} for a in c.streams.audio]


def info_dict(info: VideoInfo) -> dict:
    d = asdict(info)
    d["rate"] = str(info.rate)
    for k in ("slots", "times", "declared", "clock"):
        d.pop(k, None)
    return d
