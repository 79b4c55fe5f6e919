"""The VapourSynth filter: ``core.zstsr.Upsample(clip, 8)`` in a .vpy, or :func:`upsample` from Python.

How a frame is served
---------------------
The clip is converted to R'G'B' float (``RGBS``, gamma-encoded, as the net was trained) and cut
into chunks of ``renderer.chunk`` LTR frames; output frame ``j`` belongs to LTR frame
``i = j // factor`` and chunk ``c = i // chunk``. A chunk is rendered from a window of its frames
plus ``renderer.context`` frames on each side (cut short at the clip's ends): the cuts are decided
on all of them, one frame at a time (those beyond the ladder's reach come as the detector's
thumbnails), and the ladder is given only the ``renderer.run_context`` frames each side that it
reads; rendering is stateless (vs_zstsr.stream), so any frame, in any order, from any thread, is
the same as in a sequential render.

The window's source frames are *requested through VapourSynth*, never fetched with ``get_frame``
inside a frame callback (which blocks a worker thread on another request and can deadlock once
the thread pool is saturated): ``std.ModifyFrame`` is given, besides the clip itself, one clip per
window position ``d``, whose frame ``j`` is LTR frame ``chunk_start(j) - context + d``. VapourSynth
requests all of them before calling us, and the caches of our own nodes make the repeats cheap.
Those caches are fixed at what that pattern needs (:func:`_cached`): VapourSynth's adaptive caches
grew on it toward the core's whole limit (4 GB of 4K frames on a 32-frame clip).

Rendered chunks are kept in a bounded LRU cache, which counts the chunks being rendered in (a
large chunk renders while others wait); a lock per chunk makes parallel requests for the same
chunk (``vspipe -r 4``) render it once. The renderer is built when the filter is created:
loading the model, the per-rung self-check and, with ``model=None``, training (or finding the
model trained earlier for this clip in ``~/.cache/zstsr``) happen while the script is evaluated.

The native shim (``vs_zstsr/_shim``) registers the ``zstsr`` namespace and calls
:func:`_register_core` the first time ``core.zstsr.Upsample`` runs on a core.
"""
from __future__ import annotations

import collections
import contextlib
import inspect
import os
import threading
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

import vapoursynth as vs

from . import cuts
from .baselines import frame_bytes
from .errors import ZstsrError
from .options import EngineOptions, TrainOptions, UpsampleOptions, check_factor
from .retime import resolve

_E, _T, _U = EngineOptions(), TrainOptions(), UpsampleOptions()   # the defaults, defined in .options

__all__ = ["upsample", "source", "install_plugin", "plugin_path"]

TRAIN_LOG_S = 10.0     # seconds between training progress lines in VapourSynth's log
# Rendered chunks kept per filter instance, in bytes, or one chunk where that is more (the chunks
# being rendered counted in: _ChunkCache): a host asks for frames in order or nearly (VapourSynth's
# threads, vspipe -r), and the filter's last node caches the last frames served (_serve). Chunks
# with frames not yet served are kept beyond the bound (the newest two); one whose frames have all
# been served is dropped first, also while the next renders: at 4K x8 (a chunk of 8 float frames,
# 0.8 GB) the last chunk held beside the one rendering was 0.8 GB of the host's 5 GiB. At 1080p x8
# (a one-frame chunk 0.2 GB) the host's peak fell from 3.0 to 2.6 GiB on 8 frames against 1 GiB
# (benchmarks/rss_hd.py, docs/BENCHMARKS.md, "1080p and 4K").
CACHE_BYTES = 256 * 2 ** 20
# Frames served kept at the filter's last node, in the output's format (_serve): two chunks' worth,
# at most this many bytes but never under one chunk. 8-bit YUV at 4K x8 is 16 frames, 0.2 GB; an
# RGBS output at 4K (a chunk of 8 frames, 0.8 GB) kept two chunks, 1.6 GB of float frames beside
# the chunk cache, now one.
SERVED_BYTES = 512 * 2 ** 20

# _Matrix values resize understands (VSConstants4.h); 2 = unspecified, 3 = reserved
_MATRICES = {0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}


def _err(msg: str) -> vs.Error:
    return vs.Error(f"zstsr: {msg}")


def _log(core: vs.Core, msg: str) -> None:
    try:
        core.log_message(vs.MESSAGE_TYPE_INFORMATION, f"zstsr: {msg}")
    except Exception:  # a core being torn down; logging must never break a frame
        pass


# ---------------------------------------------------------------------------------------------
# validation and colour conversion

def _check_format(clip: vs.VideoNode) -> None:
    fmt = clip.format
    # A clip spliced from several formats reports a format with id 0 ("None"), not None.
    if fmt is None or fmt.id == 0 or fmt.color_family == vs.UNDEFINED or clip.width == 0 or clip.height == 0:
        raise _err("the clip has a variable format or size; give it one (e.g. resize.Bicubic(format=..., "
                   "width=..., height=...))")
    if clip.num_frames < 1:
        raise _err("the clip has no frames")
    if clip.fps_num == 0 or clip.fps_den == 0:
        raise _err("the clip has a variable or unknown frame rate; set one with std.AssumeFPS")
    fam, st, bits = fmt.color_family, fmt.sample_type, fmt.bits_per_sample
    ok_depth = (st == vs.INTEGER and 8 <= bits <= 16) or (st == vs.FLOAT and bits in (16, 32))
    if fam == vs.YUV:
        ok = st == vs.INTEGER and ok_depth and (fmt.subsampling_w, fmt.subsampling_h) in ((1, 1), (1, 0), (0, 0))
    else:
        ok = fam in (vs.GRAY, vs.RGB) and ok_depth
    if not ok:
        raise _err(f"unsupported format {fmt.name}: use GRAY, YUV 4:2:0/4:2:2/4:4:4 (8-16 bit), "
                   "RGB (8-16 bit integer) or RGBS/RGBH")


def _colour(clip: vs.VideoNode) -> dict[str, Any]:
    """Matrix, range and chroma location for the YUV <-> RGB conversion, from frame 0's props."""
    props = clip.get_frame(0).props
    m = int(props.get("_Matrix", 2))
    if m not in _MATRICES or m == 0:
        from .io import default_matrix

        m = default_matrix(clip.width, clip.height)  # BT.709 for HD, 170M (601) for SD
    out: dict[str, Any] = {"matrix": m}
    # R81 writes _Range (API 4.2: 1 full, 0 limited); older sources write _ColorRange (0 full, 1 limited)
    if "_Range" in props:
        out["range"] = "full" if int(props["_Range"]) == 1 else "limited"
    elif "_ColorRange" in props:
        out["range"] = "full" if int(props["_ColorRange"]) == 0 else "limited"
    if "_ChromaLocation" in props:
        out["chromaloc"] = int(props["_ChromaLocation"])
    return out


def _resize_colour(colour: dict, side: str) -> dict[str, Any]:
    """``colour`` as vapoursynth resize keywords for the YUV side of the conversion: ``side`` "_in"
    for the source (matrix_in, range_in_s, chromaloc_in), "" for the destination (matrix, range_s, chromaloc)."""
    kw = {f"matrix{side}": colour["matrix"]}
    if "range" in colour:
        kw[f"range{side}_s"] = colour["range"]
    if "chromaloc" in colour:
        kw[f"chromaloc{side}"] = colour["chromaloc"]
    return kw


def _to_rgbs(clip: vs.VideoNode, colour: dict) -> vs.VideoNode:
    core, fam = vs.core, clip.format.color_family
    if fam == vs.RGB:
        return clip if clip.format.id == vs.RGBS else core.resize.Point(clip, format=vs.RGBS)
    if fam == vs.GRAY:
        g = clip if clip.format.id == vs.GRAYS else core.resize.Point(clip, format=vs.GRAYS)
        return core.std.ShufflePlanes([g, g, g], [0, 0, 0], vs.RGB)
    return core.resize.Bicubic(clip, format=vs.RGBS, **_resize_colour(colour, "_in"))


def _from_rgbs(rgb: vs.VideoNode, fmt: vs.VideoFormat, colour: dict) -> vs.VideoNode:
    core, fam = vs.core, fmt.color_family
    if fam == vs.RGB:
        return rgb if fmt.id == vs.RGBS else core.resize.Point(rgb, format=fmt.id)
    if fam == vs.GRAY:
        g = core.std.ShufflePlanes(rgb, 0, vs.GRAY)
        return g if fmt.id == vs.GRAYS else core.resize.Point(g, format=fmt.id)
    return core.resize.Bicubic(rgb, format=fmt.id, **_resize_colour(colour, ""))


def _as_str(value, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise _err(f"{name} must be a string")


def _as_int(value, name: str, lo: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _err(f"{name} must be an integer")
    value = int(value)
    if lo is not None and value < lo:
        raise _err(f"{name} must be at least {lo}, got {value}")
    return value


def _rgb_frame(frame: vs.VideoFrame, out: np.ndarray | None = None) -> np.ndarray:
    """An RGBS frame as float32 ``(H, W, 3)``, into ``out`` when given (no temporary)."""
    if out is None:
        return np.stack([np.asarray(frame[p]) for p in range(3)], axis=-1)
    for p in range(3):
        out[..., p] = np.asarray(frame[p])
    return out


class _RGBFrames:
    """RGBS frames as float32 ``(H, W, 3)`` arrays made one at a time as they are iterated or
    indexed (the cut detector and a streamed ladder read each once: no stacked copy of them all);
    those from ``at`` on that ``held`` holds already are taken from it (no second conversion).
    Sized and sliced like the array of them (``shape``, ``window[a:b]``), so that a renderer that
    reads its window as a stream can take it in place of the array."""

    def __init__(self, frames, held: np.ndarray | None = None, at: int = 0):
        self.frames, self.held, self.at = frames, held, at

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        f = self.frames[0]
        return len(self.frames), f.height, f.width, 3

    def _frame(self, k: int) -> np.ndarray:
        n = 0 if self.held is None else len(self.held)
        return self.held[k - self.at] if 0 <= k - self.at < n else _rgb_frame(self.frames[k])

    def __getitem__(self, k):
        if isinstance(k, slice):
            a, b, step = k.indices(len(self.frames))
            if step != 1:
                raise IndexError("only contiguous slices of frames")
            return _RGBFrames(self.frames[a:max(a, b)], self.held, self.at - a)
        return self._frame(range(len(self.frames))[k])

    def __iter__(self):
        return (self._frame(k) for k in range(len(self.frames)))


def _rgb_frames(frames) -> np.ndarray:
    """RGBS frames as one float32 ``(T, H, W, 3)`` array, each written into it in place (at 4K a
    list of frames and its stacked copy held a window twice: 0.9 GB)."""
    out = np.empty((len(frames), frames[0].height, frames[0].width, 3), np.float32)
    for k, f in enumerate(frames):
        _rgb_frame(f, out[k])
    return out


# ---------------------------------------------------------------------------------------------
# the chunk cache

class _ChunkCache:
    """LRU of rendered chunks, bounded in bytes with the chunks being rendered counted in (each
    taken as large as the largest so far): the oldest are dropped first; the newest two (the newest
    one when a render is about to start) are kept beyond the bound until each of their frames has
    been served (:meth:`served`), and one whose frames all have been is dropped as soon as it is
    past the bound, also while another renders (at 4K the chunk held beside the one rendering was 0.8 GB:
    docs/BENCHMARKS.md). While others render and there is no room a render waits for them (at 4K
    two chunks held beside one rendering, or two rendering at once, were 2.3 GB). A chunk is
    rendered once even when several threads want it at the same time; one dropped is rendered again
    when asked for (the same frames: rendering is stateless)."""

    def __init__(self, max_bytes: int, render):
        self.max_bytes = max_bytes
        self.render = render
        self.cond = threading.Condition()
        self.done: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self.pending: dict[int, threading.Lock] = {}
        self.sent: dict[int, set[int]] = {}   # chunk held -> its frames served since it was rendered
        self.rendered = 0   # chunks rendered (a re-render after eviction counts again)
        self.rendering = 0  # chunks being rendered now
        self.size = 0       # bytes of the largest chunk rendered so far

    def _held(self, c: int) -> np.ndarray | None:
        out = self.done.get(c)
        if out is not None:
            self.done.move_to_end(c)
        return out

    def _spent(self, c: int) -> bool:
        return len(self.sent.get(c, ())) >= len(self.done[c])

    def _trim(self, extra: int, keep: int) -> int:
        """Drop chunks, oldest first, until they and ``extra`` bytes fit, but not the newest
        ``keep`` while some of their frames are unserved; the bytes of those held."""
        total = sum(a.nbytes for a in self.done.values())
        newest = set(list(self.done)[len(self.done) - keep:]) if keep else set()
        for c in list(self.done):
            if total + extra <= self.max_bytes:
                break
            if c not in newest or self._spent(c):
                total -= self.done.pop(c).nbytes
                self.sent.pop(c, None)
        return total

    def served(self, c: int, m: int) -> None:
        """Frame ``m`` of chunk ``c`` has been served; a chunk all of whose frames have been may go
        as soon as it is past the bound, the chunks rendering counted in."""
        with self.cond:
            if c in self.done:
                self.sent.setdefault(c, set()).add(m)
                if self._spent(c):
                    self._trim(self.rendering * self.size, keep=2)
                    self.cond.notify_all()

    def get(self, c: int, frames) -> np.ndarray:
        with self.cond:
            out = self._held(c)
            if out is not None:
                return out
            lk = self.pending.setdefault(c, threading.Lock())
        with lk:  # another thread rendering c: wait for it (the GIL is released while waiting)
            with self.cond:
                out = self._held(c)
                if out is not None:
                    return out
                while True:   # room for this chunk beside those held and those rendering
                    coming = (self.rendering + 1) * self.size
                    if self._trim(coming, keep=1) + coming <= self.max_bytes or not self.rendering:
                        break
                    self.cond.wait()
                self.rendering += 1
            try:
                out = self.render(c, frames)
            finally:
                with self.cond:
                    self.rendering -= 1
                    self.cond.notify_all()
            with self.cond:
                self.done[c] = out
                self.sent.pop(c, None)
                self.rendered += 1
                self.size = max(self.size, out.nbytes)
                self._trim(self.rendering * self.size, keep=2)
                self.pending.pop(c, None)
            return out


# ---------------------------------------------------------------------------------------------
# the filter

def upsample(clip: vs.VideoNode, factor: int = _U.factor, *, fps_num: int | None = None,
             fps_den: int | None = None, model: str | os.PathLike | None = None,
             provider: str = _E.provider, device_id: int = _E.device_id,
             fp16: bool = _E.fp16, tilesize: int = _E.tilesize, overlap: int = _E.overlap,
             method: str = _U.method, ensemble: int = _E.ensemble, finetune: bool = _T.finetune,
             sc: bool = True, sc_threshold: float = _U.cut_threshold, budget: float = 0.0,
             iterations: int | None = _T.iterations, preset: str | None = _T.preset, examples: str | None = _T.examples,
             padding: str | None = _T.padding, train: bool = True, bp_iters: int = _U.bp_iters, shot_ends: str = _U.shot_ends) -> vs.VideoNode:
    """Zero-shot temporal super-resolution: ``factor`` times as many frames, deblurred.

    Each input frame is taken as the exposure of ``factor`` instants; the output has
    ``factor * num_frames`` frames at ``factor * fps``, each the image at one of those instants,
    which removes motion blur and motion aliasing (the wagon-wheel effect) rather than only adding
    frames between the blurred ones (ECCV 2020, "Across Scales & Across Dimensions").

    :param clip:        Clip to process. Constant format, size and frame rate. GRAY, YUV
                        4:2:0/4:2:2/4:4:4 and RGB at 8 to 16 bits integer, RGBS and RGBH. The net
                        works on R'G'B' float: YUV is converted with the clip's ``_Matrix``
                        (BT.709 for HD, 170M for SD when unspecified) and converted back after,
                        so chroma goes through the same conversion; GRAY is replicated to RGB.
                        The output has the input's format.
    :param factor:      2, 4, 8 or 16.
    :param fps_num:     With ``fps_den`` (default 1), an output frame rate instead of a factor: any
                        rate above the clip's, e.g. ``fps_num=60`` for 24 -> 60 or
                        ``fps_num=60000, fps_den=1001``. The ladder runs by the smallest power of 2
                        that reaches it, and each output frame is the mean of those frames over its
                        own interval ``[i/fps, (i+1)/fps)``, each weighted by its overlap (the
                        camera's exposure, as in the ladder; no frame dropped or repeated;
                        vs_zstsr/retime.py). A power-of-2 multiple is that factor exactly.
    :param fps_den:     Denominator of the output rate (see ``fps_num``).
    :param model:       Path to a zstsr ONNX model trained for this clip (``zstsr train``). None:
                        train now (needs ``zstsr[train]``) one net on within-dimension examples
                        and one on both kinds, half the preset's iterations each, and keep the one
                        whose first rung shows the lower group seam; or reuse the nets trained
                        earlier for this clip from ``~/.cache/zstsr``.
    :param provider:    ``auto`` (CUDA when a GPU is present, else CPU), ``cpu``, ``cuda`` or
                        ``tensorrt``.
    :param device_id:   GPU to use.
    :param fp16:        Run the net in half precision (CUDA/TensorRT only; ignored on the CPU).
    :param tilesize:    Run the net on spatial tiles of this size (0: whole frames).
    :param overlap:     Overlap of neighbouring tiles, in pixels.
    :param method:      ``auto``: a self-check on the clip's own temporal x2 picks cubic, linear
                        or motion-compensated flow interpolation for the ladder's rungs and uses
                        the net on the first rung only where it beats that; ``net``: the net on
                        every rung (the paper); ``netflow``: the net's residual added to flow's
                        x2 instead of cubic's, on every rung; ``cubic``, ``linear`` or ``flow``:
                        that interpolation, no net. Flow (MVTools) runs in a worker process, so a crash
                        there is an error (``flow``) or a fallback to cubic (``auto``), not the
                        end of the host.
    :param ensemble:    Where the net runs, its answer is the mean over this many time-reversed,
                        rotated and flipped copies of its input (the geometric self-ensemble; the
                        net's cost grows with it): 2, 4, 8 or 16 copies; ``True`` or 1: on, the
                        default 4; ``False`` or 0: off, the net alone. (A .vpy passes booleans as
                        0 and 1, so they mean the same in both; ``zstsr upsample --ensemble``
                        counts copies.)
    :param finetune:    Where the net takes the first rung, also run it on the rungs above,
                        fine-tuned on each rung's own input while the filter is created (needs
                        ``zstsr[train]``; cached like the model).
    :param sc:          Scene-change handling: every shot is processed as a clip of its own, so
                        no output frame mixes two shots. Cuts come from the ``_SceneChangePrev`` /
                        ``_SceneChangeNext`` frame props when the clip has them (e.g. from
                        ``core.mv.SCDetection``), else from zstsr's own detector. False: ignore cuts.
    :param sc_threshold: The detector's threshold, 0 to 1 (higher finds fewer cuts).
                        The output's ``_SceneChangePrev`` is 1 on the first output frame of each
                        shot (after a cut) and ``_SceneChangeNext`` on the last before one, 0 on
                        every other frame: the cuts the filter used (the props', or its own).
    :param budget:      Training wall-clock limit in seconds when the filter trains (``model=None``);
                        0: the preset's (its iterations, with its time as a cap).
    :param iterations:  Training iterations (with ``budget``: whichever ends first); None: the
                        preset's. Iterations give the same net whatever the machine's load.
    :param preset:      Training preset, ``fast`` or ``paper`` (default: paper on a GPU, fast on the CPU).
    :param examples:    Internal examples to train on: ``auto`` (default), ``within``, ``across``
                        or ``both`` (as ``zstsr upsample --examples``).
    :param padding:     How the net's layers pad their input when the filter trains: ``replicate``
                        (the presets') or ``zeros`` (faster; as good on the real test footage,
                        worse on the synthetic fan; as ``zstsr upsample --padding``). None: the preset's.
    :param train:       False: never train while the script is evaluated; without ``model`` the
                        model trained earlier for this clip (the cache) is used, or the filter
                        refuses with a ``vs.Error`` saying how to train one with ``zstsr train``.
                        Training logs its progress to VapourSynth's log about every 10 s.
    :param bp_iters:    Spatio-temporal back-projection iterations between the ladder's rungs.
    :param shot_ends:   ``motion``: half of each shot's first and last output group, which lies
                        beyond the frames the shot shows, continues the shot along its own motion
                        (measured between its two end frames); ``clamp``: its end frame repeated.
    """
    if not isinstance(clip, vs.VideoNode):
        raise _err("this is not a video clip")
    factor = _as_int(factor, "factor")
    try:
        check_factor(factor)
    except ZstsrError as e:
        raise _err(str(e)) from None
    _check_format(clip)
    out_fps = _out_fps(fps_num, fps_den, factor)
    model = _as_str(model, "model")
    provider = _as_str(provider, "provider") or _E.provider
    method = _as_str(method, "method") or _U.method
    try:
        sc_threshold = float(sc_threshold)
    except (TypeError, ValueError):
        raise _err(f"sc_threshold must be a number, got {sc_threshold!r}") from None
    try:
        budget_s = float(budget)
    except (TypeError, ValueError):
        raise _err(f"budget must be a number of seconds, got {budget!r}") from None
    if budget_s < 0:
        raise _err(f"budget must be 0 (the preset's) or a positive number of seconds, got {budget}")
    iterations = None if iterations is None else _as_int(iterations, "iterations")
    engine = EngineOptions(provider=provider, device_id=_as_int(device_id, "device_id"), fp16=bool(fp16),
                           tilesize=_as_int(tilesize, "tilesize"), overlap=_as_int(overlap, "overlap"),
                           ensemble=_ensemble(ensemble))
    options = UpsampleOptions(factor=factor, method=method, cut_threshold=sc_threshold, engine=engine,
                              train=TrainOptions(finetune=bool(finetune), budget_s=budget_s or None,
                                                 iterations=iterations,
                                                 preset=_as_str(preset, "preset"), examples=_as_str(examples, "examples"),
                                                 padding=_as_str(padding, "padding")),
                              bp_iters=_as_int(bp_iters, "bp_iters"), out_fps=out_fps,
                              shot_ends=_as_str(shot_ends, "shot_ends") or _U.shot_ends)
    try:
        options, rt = resolve(options.check(), Fraction(clip.fps_num, clip.fps_den))
    except ZstsrError as e:
        raise _err(str(e)) from None
    if not sc:
        options = replace(options, cut_threshold=0.0)
    if model is not None and not os.path.isfile(model):
        raise _err(f"model file not found: {model}")   # loaded (and checked) once, by the renderer

    core = vs.core
    colour = _colour(clip) if clip.format.color_family == vs.YUV else {}
    rgb = _to_rgbs(clip, colour)
    n, h, w = clip.num_frames, clip.height, clip.width

    def read(indices, size=None) -> np.ndarray:
        # Called while the filter is created (self-check, training): not from a frame callback.
        out = np.empty((len(indices), h, w, 3), np.float32)
        for k, i in enumerate(indices):    # one VapourSynth frame at a time
            _rgb_frame(rgb.get_frame(int(i)), out[k])
        if size is not None and tuple(size) != (h, w):
            from .resample import resize_spatial
            out = resize_spatial(out, int(size[0]), int(size[1]))
        return np.ascontiguousarray(out, dtype=np.float32)

    from .fit import TRAINING_ALLOWED, NoModel

    allowed = TRAINING_ALLOWED.set(bool(train))
    try:
        renderer = _make_renderer(model, options, height=h, width=w, read=read, num_frames=n,
                                  log=lambda m: _log(core, m), progress=_TrainingLog(core))
    except NoModel as e:
        raise _err(f"{e}: train a model with `zstsr train CLIP -o clip.pt` and `zstsr export clip.pt -o clip.onnx` "
                   "and pass model='clip.onnx', or let the filter train (train=True)") from None
    finally:
        TRAINING_ALLOWED.reset(allowed)
    return _serve(clip, rgb, renderer, options.factor, colour, use_props=bool(sc), retime=rt)


def _out_fps(num, den, factor) -> Fraction | None:
    """The output rate from ``fps_num``/``fps_den`` (None: by the factor)."""
    if num is None:
        if den is not None:
            raise _err("fps_den needs fps_num (the output rate is fps_num / fps_den)")
        return None
    if factor != _U.factor:
        raise _err("give factor or fps_num/fps_den, not both (the rate sets the factor)")
    return Fraction(_as_int(num, "fps_num", 1), _as_int(1 if den is None else den, "fps_den", 1))


def _ensemble(value) -> int:
    """The filter's ``ensemble``: booleans and their .vpy spellings 0/1 switch it, other values
    count copies (see :func:`upsample`)."""
    if isinstance(value, bool) or value in (0, 1):
        return _E.ensemble if value else 1
    return _as_int(value, "ensemble")


class _TrainingLog:
    """Training progress to VapourSynth's log about every :data:`TRAIN_LOG_S` seconds: iterations,
    seconds left of the budget, the loss over cubic interpolation's on the clip's own examples."""

    def __init__(self, core: vs.Core):
        self.core, self.last = core, None

    def __call__(self, step, total, info) -> None:
        info = info or {}
        seconds = float(info.get("seconds", 0.0))
        if self.last is not None and seconds - self.last < TRAIN_LOG_S and seconds >= self.last:
            return
        self.last = seconds
        budget = info.get("budget_s")
        left = f", {max(0.0, budget - seconds):.0f} s left of {budget:.0f} s" if budget else ""
        if total and step:   # iterations bound it: the time left at the rate so far
            left = f" of {total}, about {seconds * (total - step) / step:.0f} s left" + \
                (f" (at most {max(0.0, budget - seconds):.0f} s)" if budget else "")
        ratio = f", loss {info['ratio']:.3f} x cubic's" if "ratio" in info else ""
        kind = f" ({info['kind']} examples)" if info.get("kind") else ""
        _log(self.core, f"training{kind}: iteration {step}, {seconds:.0f} s{left}{ratio}")


def _make_renderer(model, options, **kw):
    """The renderer for a clip (vs_zstsr.stream.Renderer); tests may replace this function."""
    from .fit import NoModel
    from .stream import Renderer

    try:
        return Renderer.create(model, options, **kw)
    except NoModel:
        raise                       # upsample() says how to train one
    except ZstsrError as e:
        raise _err(str(e)) from None


def _cached(node: vs.VideoNode, frames: int) -> vs.VideoNode:
    """``node`` (one the filter made, never the caller's clip) with VapourSynth's cache fixed at
    ``frames`` frames, or off with 0. Every output frame of a chunk asks for the chunk's whole
    window, so VapourSynth's adaptive caches grew on the repeats toward the core's limit: at 4K,
    4 GB of the host on a 32-frame clip (docs/BENCHMARKS.md, "VapourSynth's caches in the
    filter's host"). Fixed, the nodes that serve the repeats hold what the requests in order
    need, the nodes that only pass frames on hold none."""
    if frames > 0:
        vs.core.std.SetVideoCache(node, mode=1, fixedsize=1, maxsize=frames)
    else:
        vs.core.std.SetVideoCache(node, mode=0)
    return node


def _thumbnails(rgb: vs.VideoNode) -> vs.VideoNode:
    """The clip's frames as the cut detector's thumbnails (:func:`.cuts.thumbnail`, exactly: it
    gives the same cuts on them), with the frames' props; the clip itself where they are no smaller."""
    th, tw = cuts.thumbnail_size(rgb.height, rgb.width)
    if (th, tw) == (rgb.height, rgb.width):
        return rgb
    core = vs.core
    blank = core.std.BlankClip(rgb, width=tw, height=th, keep=True)

    def shrink(n: int, f) -> vs.VideoFrame:
        out = f[0].copy()
        t = cuts.thumbnail(_rgb_frame(f[1]))
        for p in range(3):
            np.copyto(np.asarray(out[p]), t[..., p])
        return out

    # not cached here: the window's padded thumbnails are (_serve)
    return core.std.CopyFrameProps(_cached(core.std.ModifyFrame(blank, [blank, rgb], shrink), 0), rgb)


def _cuts_from_props(frames) -> list[int] | None:
    """Window indices where a shot starts, from ``_SceneChangePrev``/``_SceneChangeNext``; None
    when no frame of the window carries either prop (then the renderer detects cuts itself)."""
    found, cut_at = False, set()
    for i, f in enumerate(frames):
        p = f.props
        if "_SceneChangePrev" in p or "_SceneChangeNext" in p:
            found = True
        if i > 0 and int(p.get("_SceneChangePrev", 0)):
            cut_at.add(i)
        if i + 1 < len(frames) and int(p.get("_SceneChangeNext", 0)):
            cut_at.add(i + 1)
    return sorted(cut_at) if found else None


def _serve(clip: vs.VideoNode, rgb: vs.VideoNode, renderer, factor: int, colour: dict,
           use_props: bool = True, retime=None) -> vs.VideoNode:
    core = vs.core
    n = clip.num_frames
    ctx, chunk, run_ctx = int(renderer.context), int(renderer.chunk), int(renderer.run_context)
    if chunk < 1 or not 0 <= run_ctx <= ctx:
        raise _err(f"renderer gave chunk {chunk}, context {ctx}, run_context {run_ctx}")
    n_chunks = -(-n // chunk)
    span = chunk + 2 * ctx          # window positions d: LTR frame c*chunk - ctx + d
    n_out = n * factor

    def padded(src: vs.VideoNode) -> vs.VideoNode:
        """Frame k is LTR frame clamp(k - ctx); padding frames are requested, never used."""
        parts = []
        if ctx:
            parts.append(src[0] * ctx)
        parts.append(src)
        pad = n_chunks * chunk + ctx - n
        if pad > 0:
            parts.append(src[n - 1] * pad)
        return core.std.Splice(parts) if len(parts) > 1 else src

    # The outer window positions feed only the cut detector: they come as its thumbnails, so that
    # VapourSynth holds no full frames for them (at 4K 8 of a window's 15 frames, 0.8 GB)
    outer = ctx - run_ctx
    full, small = padded(rgb), (padded(_thumbnails(rgb)) if outer else None)
    # What each node's cache holds (_cached): the full frames of a window's inside and the next
    # chunk's, all its thumbnails and the next chunk's; the converted frame an output frame takes
    # its props from (and the one beside it); none on the nodes that only pass frames on. A node
    # that is two of these (no padding, frames no larger than a thumbnail) holds the most of them;
    # the caller's own clip (an RGBS clip is its own conversion) keeps its own settings.
    held: dict[int, tuple[vs.VideoNode, int]] = {}
    for node, frames in ((full, 2 * chunk + 2 * run_ctx), (small, span + chunk), (rgb, 2)):
        if node is not None and node is not clip:
            held[id(node)] = (node, max(frames, held.get(id(node), (node, 0))[1]))
    for node, frames in held.values():
        _cached(node, frames)
    per_chunk = chunk * factor      # output frames per chunk
    windows = []
    for d in range(span):
        src = full if small is None or outer <= d < span - outer else small
        sel = _cached(_cached(src[d::chunk], 0)[:n_chunks], 0)      # frame c: padded frame c*chunk + d
        rep = _cached(core.std.Interleave([sel] * per_chunk, modify_duration=False), 0)  # frame j: sel[j // per_chunk]
        windows.append(_cached(rep[:n_out], 0))
    # frame j: LTR frame j // factor, with its props (durations untouched: select() sets them)
    base = _cached(core.std.Interleave([rgb] * factor, modify_duration=False), 0)
    fps = Fraction(clip.fps_num, clip.fps_den)

    def render(c: int, frames) -> np.ndarray:
        s = c * chunk
        count = min(chunk, n - s)
        lo, hi = max(0, s - ctx), min(n, s + count + ctx)
        wf = [frames[1 + (i - s + ctx)] for i in range(lo, hi)]
        # the ladder gets only the frames it reads (renderer.run_context); a ladder that reads
        # them as a stream (once, in order) gets them converted as it reads them, not stacked
        # first: at 4K the stacked window was 15 float frames, 1.4 GB beside VapourSynth's own
        a = max(lo, s - run_ctx)
        inside = wf[a - lo:min(hi, s + count + run_ctx) - lo]
        streamed = bool(getattr(renderer, "streams", False))
        window = _RGBFrames(inside) if streamed else _rgb_frames(inside)
        given = _cuts_from_props(wf)
        if use_props and given is not None:
            cut_at = given
        else:   # zstsr's detector (none with sc=False), on the whole context, a frame at a time;
            # a streamed window's frames are converted again when the ladder reads them (once per
            # chunk, not per output frame: the 1080p speed was the same, docs/BENCHMARKS.md)
            cut_at = renderer.cuts(_RGBFrames(wf, None if streamed else window, a - lo), s - lo, count)
        # the cuts' indices shifted to the ladder's window (one at its first frame changes
        # nothing: a shot starts there)
        inner = [k - (a - lo) for k in cut_at if 0 < k - (a - lo) < len(window)]
        out = renderer.render(window, s - a, count, cut_at=inner)
        del window
        # the shots as the output's props say them: the cuts used (sc=False: the input's own)
        marks = cut_at if use_props else (given or [])
        shot_starts[c] = frozenset(lo + k for k in marks)
        out = np.asarray(out, dtype=np.float32)
        if out.shape != (count * factor, clip.height, clip.width, 3):
            raise _err(f"renderer returned {out.shape} for chunk {c}")
        _log(core, f"rendered chunk {c + 1}/{n_chunks} (frames {s * factor}-{(s + count) * factor - 1})")
        return out

    cache = _ChunkCache(max(CACHE_BYTES, per_chunk * clip.width * clip.height * 12), render)
    shot_starts: dict[int, frozenset] = {}   # chunk -> LTR frames (of its window) that start a shot

    def select(n: int, f) -> vs.VideoFrame:
        i = n // factor
        c, m = divmod(n, per_chunk)
        data = cache.get(c, f)
        out = f[0].copy()
        px = data[m]
        for p in range(3):
            np.copyto(np.asarray(out[p]), px[..., p])
        cache.served(c, m)
        props = out.props
        starts = shot_starts[c]
        props["_SceneChangePrev"] = int(n % factor == 0 and i in starts)
        props["_SceneChangeNext"] = int(n % factor == factor - 1 and i + 1 in starts)
        dn, dd = props.get("_DurationNum"), props.get("_DurationDen")
        dur = Fraction(int(dn), int(dd)) if dn and dd else 1 / fps
        sub = dur / factor
        props["_DurationNum"], props["_DurationDen"] = sub.numerator, sub.denominator
        t0 = props.get("_AbsoluteTime")
        t0 = float(t0) if t0 is not None else float(i / fps)
        props["_AbsoluteTime"] = t0 + float((n - i * factor) * sub)
        return out

    # served frames are copies of the chunk cache's (a frame asked for again is copied again);
    # retimed, each is read by the few output frames around it
    served = _cached(core.std.ModifyFrame(base, [base] + windows, select),
                     0 if retime is None else retime.taps + 2)
    out_fps = fps * factor
    served = _cached(core.std.AssumeFPS(served, fpsnum=out_fps.numerator, fpsden=out_fps.denominator), 0)
    if retime is not None:
        served = _retimed(served, retime, split=use_props)
    # the last two chunks' frames served, in the output's format: a filter after this one that
    # reads neighbours (a temporal denoiser, std.Merge of frames k-1 and k+1) asks again for frames
    # whose chunk _ChunkCache has dropped once each of them was served, and rendered it again; with
    # several threads the frames come out of order, and one chunk's worth was not always enough.
    # At most SERVED_BYTES, never under one chunk (a float output at 4K)
    out = _from_rgbs(served, clip.format, colour)
    return _cached(out, served_frames(per_chunk, frame_bytes(out)))


def served_frames(per_chunk: int, frame_bytes: int) -> int:
    """Frames the filter's last node keeps (see :data:`SERVED_BYTES`)."""
    return min(2 * per_chunk, max(per_chunk, SERVED_BYTES // max(1, frame_bytes)))


def _retimed(htr: vs.VideoNode, rt, split: bool = True) -> vs.VideoNode:
    """``htr`` (the ladder's frames, RGBS, with their props) at the rate ``rt.rate``
    (:class:`.retime.Retime`): output frame ``i`` mixes ladder frames ``rt.window(i) ..`` + taps,
    requested through VapourSynth like the chunk windows of :func:`_serve`. With ``R / F = p / q``,
    clip ``d`` below has frame ``i`` = ladder frame ``floor(i p / q) - 1 + d`` (each ladder frame
    repeated ``q`` times, then every ``p``-th taken: integer arithmetic, so exact at any length).
    ``split``: an output frame spanning a cut keeps one shot (False, ``sc=False``: cuts are only marked)."""
    core = vs.core
    n_htr = htr.num_frames
    n_out, taps = rt.count(n_htr), rt.taps
    p, q = rt.ratio.numerator, rt.ratio.denominator
    if (n_htr + 1 + taps) * q >= 2 ** 31:
        raise _err(f"the clip is too long to retime from {rt.rate_in * rt.factor} to {rt.rate} fps in one "
                   f"piece (VapourSynth counts frames in 31 bits); split it")
    padded = core.std.Splice([htr[0], htr, htr[-1] * taps])            # frame j: ladder frame j - 1, clamped
    rep = core.std.Interleave([padded] * q, modify_duration=False) if q > 1 else padded
    # these only pass the ladder's frames on (_cached: _serve's node before them holds them)
    clips = [_cached(core.std.SelectEvery(rep[d * q:], cycle=p, offsets=[0], modify_duration=False)[:n_out], 0)
             for d in range(taps)]
    rate = Fraction(rt.rate)
    base = core.std.BlankClip(htr, length=n_out, fpsnum=rate.numerator, fpsden=rate.denominator, keep=True)
    htr_rate = Fraction(htr.fps_num, htr.fps_den)

    def mix(n: int, f) -> vs.VideoFrame:
        i, starts = n, set()
        lo = rt.window(i)
        for d in range(taps):
            k, props = lo + d, f[d].props
            if 0 <= k < n_htr:
                if int(props.get("_SceneChangePrev", 0)):
                    starts.add(k)
                if int(props.get("_SceneChangeNext", 0)):
                    starts.add(k + 1)
        weights, prev, nxt = rt.plan(i, n_htr, starts)
        if not split:
            weights = rt.plan(i, n_htr, ())[0]
        mid = min(n_htr - 1, (2 * i + 1) * rt.ratio.numerator // (2 * rt.ratio.denominator))
        out = f[mid - lo].copy()          # the props of the ladder frame holding the middle
        px = rt.mix((_rgb_frame(f[k - lo]) for k, _ in weights), (w for _, w in weights))
        for c in range(3):
            np.copyto(np.asarray(out[c]), px[..., c])
        props = out.props
        props["_SceneChangePrev"], props["_SceneChangeNext"] = int(prev), int(nxt)
        props["_DurationNum"], props["_DurationDen"] = rate.denominator, rate.numerator
        props["_AbsoluteTime"] = float(props["_AbsoluteTime"]) + float(i / rate - mid / htr_rate)
        return out

    return _cached(core.std.ModifyFrame(base, clips, mix), 0)


# ---------------------------------------------------------------------------------------------
# the shim's side

_SHIM_TYPES = {"vs.VideoNode": "vnode", "int": "int", "int | None": "int", "bool": "int", "float": "float"}


def shim_signature() -> str:
    """The argument string the shim registers ``Upsample`` with (vs_zstsr/_shim/zstsr_shim.c),
    made from :func:`upsample`'s signature: tests/test_filter.py checks the two agree."""
    out = []
    for name, p in inspect.signature(upsample).parameters.items():
        kind = _SHIM_TYPES.get(p.annotation.removesuffix(" | None"), "data" if "str" in p.annotation else None)
        out.append(f"{name}:{kind}" + ("" if p.default is inspect.Parameter.empty else ":opt") + ";")
    return "".join(out)


def _shim_upsample(clip, **kw):
    """``core.zstsr.Upsample``: the shim calls this with its VSMap's keys as keyword arguments
    (strings as bytes, booleans as ints), given to :func:`upsample` as its types."""
    params = inspect.signature(upsample).parameters
    unknown = sorted(set(kw) - set(params))
    if unknown:
        raise _err(f"unknown argument(s): {', '.join(unknown)}")
    if "factor" in kw and "fps_num" in kw:     # here a factor given as the default is seen too
        raise _err("give factor or fps_num/fps_den, not both (the rate sets the factor)")
    for k, v in kw.items():
        if params[k].annotation == "bool":
            kw[k] = bool(v)
        elif isinstance(v, (bytes, bytearray)):
            kw[k] = _as_str(v, k)
    return upsample(clip, **kw)


def _register_core() -> None:
    """Give the current core's ``zstsr`` namespace its implementation (the shim calls this)."""
    vs.core.zstsr.SetImpl(impl=_shim_upsample)


# ---------------------------------------------------------------------------------------------
# a source filter (the VapourSynth wheel ships none)

_PIX = {  # PyAV pix_fmt -> (VapourSynth format, plane order to VS order, bytes per sample)
    "gray": (vs.GRAY8, None), "gray10le": (vs.GRAY10, None), "gray12le": (vs.GRAY12, None),
    "gray16le": (vs.GRAY16, None),
    "yuv420p": (vs.YUV420P8, None), "yuv422p": (vs.YUV422P8, None), "yuv444p": (vs.YUV444P8, None),
    "yuvj420p": (vs.YUV420P8, None), "yuvj422p": (vs.YUV422P8, None), "yuvj444p": (vs.YUV444P8, None),
    "yuv420p10le": (vs.YUV420P10, None), "yuv422p10le": (vs.YUV422P10, None),
    "yuv444p10le": (vs.YUV444P10, None), "yuv420p12le": (vs.YUV420P12, None),
    "yuv422p12le": (vs.YUV422P12, None), "yuv444p12le": (vs.YUV444P12, None),
    "yuv420p16le": (vs.YUV420P16, None), "yuv422p16le": (vs.YUV422P16, None),
    "yuv444p16le": (vs.YUV444P16, None),
    "gbrp": (vs.RGB24, (2, 0, 1)), "gbrp10le": (vs.RGB30, (2, 0, 1)), "gbrp12le": (vs.RGB36, (2, 0, 1)),
    "gbrp16le": (vs.RGB48, (2, 0, 1)),
}


class _Decoder:
    """Random access to a file's frames with PyAV: seek to the keyframe before, decode forward.

    Frames are known by their timestamps, except where a file's timestamps are not the order
    frames are shown in: AVI gives each packet its place in decoding order as its time (with
    B-frames, frames come out of the decoder in display order under other frames' times), and
    raw streams (.264, .hevc) have none. There a frame is known by its place in the decoder's
    output, counted from the start of the file (raw streams cannot seek) or from a keyframe
    whose place is known: seen when decoding from before it, or its time in AVI where its place
    by that time agrees with its decoding time (the first frame of a closed GOP comes out with the
    packet the decoder's delay after its own; dropped frames leave gaps in both).
    A keyframe of an open GOP (shown after B-frames decoded after it) is found the first way."""

    def __init__(self, path: str, pts: list, keys: list | None, avi: bool = False):
        """``pts``: the clip's frames' timestamps and ``keys`` the keyframes', as
        :func:`.io.probe` found them (:attr:`.io.VideoInfo.times`, ``keyframes``): which packets
        are frames is decided there once (those an edit list hides, or that never decode, are not).
        ``avi``: the times are AVI's (:attr:`.io.VideoInfo.clock`)."""
        from . import io

        self.path = path
        self.av = io._av()
        self.lock = threading.Lock()
        self.untimed = any(p is None for p in pts)
        self.pts = list(range(len(pts))) if self.untimed else sorted(pts)
        if not self.pts:
            raise _err(f"{path}: no video frames")
        self.keys = [] if self.untimed else list(keys or []) or [self.pts[0]]
        self.index = {p: i for i, p in enumerate(self.pts)}
        self.container = None
        self.ordinal = self.untimed or avi   # frames known by their place in the decoder's output
        self.placed: dict = {}      # counting frames: a keyframe's time -> its place, where seen
        self.delay = None           # counting frames (AVI): the first frame's decoding time, and
        self.dts: list = []         # the packets' decoding times, in order (read at the first seek)
        self.lag = None             # the decoder's delay in packets
        self.frames = None   # (index, frame) in the decoder's order, from the last seek
        self.next_index: int | None = None
        self.recent: collections.OrderedDict[int, Any] = collections.OrderedDict()

    def _open(self):
        if self.container is None:
            self.container = self.av.open(self.path)
            self.stream = self.container.streams.video[0]
            self.stream.thread_type = "SLICE"
            if self.ordinal and not self.untimed and self.delay is None:
                from . import io

                first = io._first_frame(self.path)   # its place and decoding time
                if first is not None and first.pts is not None:
                    self.delay, self.placed[first.pts] = first.dts, 0

    def get(self, n: int):
        with self.lock:
            if n in self.recent:
                self.recent.move_to_end(n)
                return self.recent[n]
            self._open()
            nxt = self.next_index
            if self.frames is None or nxt is None or n < nxt or n - nxt > 32:
                self._seek(n)
            for idx, fr in self.frames:
                self.next_index = idx + 1
                self.recent[idx] = fr
                while len(self.recent) > 8:
                    self.recent.popitem(last=False)
                if idx == n:
                    return fr
                if idx > n:
                    break
            self.frames = None
            raise _err(f"{self.path}: cannot decode frame {n}")

    def _numbered(self, frames, first=None):
        """``(index, frame)`` for the decoded ``frames`` (``first`` put back before them)."""
        import itertools

        frames = itertools.chain((first,), frames) if first is not None else frames
        if not self.ordinal:
            return ((self.index[fr.pts], fr) for fr in frames if fr.pts in self.index)
        return self._placing(frames, self.placed[first.pts] if first is not None else 0)

    def _placing(self, frames, start: int):
        for idx, fr in enumerate(frames, start):
            if fr.key_frame and fr.pts is not None:
                self.placed[fr.pts] = idx
            yield idx, fr

    def _place(self, first) -> bool:
        """Whether a keyframe a seek landed on has a known place (counting frames)."""
        if first is None or not first.key_frame or first.pts not in self.index:
            return False
        if first.pts not in self.placed and None not in (self.delay, first.dts):
            if not self.dts:   # the packets' decoding times: read once, at the first seek
                with self.av.open(self.path) as c:
                    self.dts = [p.dts for p in c.demux(c.streams.video[0]) if p.size]
                self.lag = self.dts.index(self.delay) if self.delay in self.dts else None
            idx = self.index[first.pts]
            # AVI: it comes out with the packet fed the decoder's delay (lag) after its own
            lag = self.lag
            if lag is not None and idx + lag < len(self.dts) and self.dts[idx + lag] == first.dts:
                self.placed[first.pts] = idx
        return first.pts in self.placed

    def _seek(self, n: int) -> None:
        """Decode from a keyframe at or before frame ``n``. A container without an index (MPEG
        program streams: ../shared/data/cityCC0.mpg) may land a keyframe or two after the one asked
        for; then the keyframes before are tried, twice as far back each time, and last the
        start of the file. Counting frames (:attr:`ordinal`), a seek must land on a keyframe
        whose place is known (:meth:`_place`) and not after frame ``n``."""
        import bisect

        target = self.pts[n]
        i = bisect.bisect_right(self.keys, target) - 1
        step = 1
        while i >= 0:
            try:
                self.container.seek(self.keys[i], stream=self.stream, backward=True, any_frame=False)
            except self.av.error.FFmpegError:   # a raw stream with times (.m4v) cannot seek
                self.keys = []
                break
            frames = self.container.decode(self.stream)
            if self.ordinal:
                # the keyframe asked for, under its own time: after a seek in an AVI with audio
                # ffmpeg may label the frames one place on (the next frame's time), and counting
                # from there showed every frame one late
                first = next(frames, None)
                landed = (first is not None and first.pts == self.keys[i] and self._place(first)
                          and self.placed[first.pts] <= n)
            else:
                first = next((fr for fr in frames if fr.pts in self.index), None)
                landed = first is not None and first.pts <= target
            if landed:
                self.frames = self._numbered(frames, first)
                return
            i -= step
            step *= 2
        self.container.close()   # from the start: a new demuxer, no seek
        self.container = None
        self._open()
        self.frames = self._numbered(self.container.decode(self.stream))


def source(path: str | os.PathLike, core: vs.Core | None = None, *, vfr: str = "convert",
           assume_progressive: bool = False, allow_truncated: bool = False) -> vs.VideoNode:
    """A clip read from a video file with PyAV (the VapourSynth wheel ships no source filter).

    Keeps the file's format where VapourSynth has it (GRAY, YUV 4:2:0/4:2:2/4:4:4 and planar RGB
    at 8-16 bits; packed RGB becomes planar RGB24/RGB48, subsampled YUV of an odd size YUV 4:4:4 at
    its depth, anything else YUV 4:4:4 16-bit), its exact frame rate and its
    colour description (``_Matrix``, ``_Primaries``, ``_Transfer``, ``_Range``). Frames are
    decoded on request (seeking to the keyframe before), so any order works. Built as
    ``std.ModifyFrame`` over a ``BlankClip`` of the right size, format, length and rate. Containers
    without a seek index (MPEG program streams) are read in any order too.

    Real-world footage is handled as the ``zstsr`` commands do (``io.open_input``, docs/FOOTAGE.md):
    a rotated file (display matrix) gives upright frames of the displayed size (4:2:2 turned by
    90 degrees becomes 4:4:4 at the same depth); a variable frame rate is converted to the nearest
    constant one (``vfr="convert"``, logged) or refused (``vfr="error"``); alpha and interlaced
    input (unless ``assume_progressive``) are refused with one ``vs.Error`` line, and so is a file
    that ends before its container says (truncated), unless ``allow_truncated``: then the clip is
    the frames that decode, and a warning says how many.
    """
    from . import io

    path = os.fspath(path)
    core = core or vs.core
    if os.path.isdir(path):
        raise _err(f"{path}: source() reads a video file, not a folder")
    try:
        info = io.open_input(path, vfr=vfr, assume_progressive=assume_progressive,
                             allow_truncated=allow_truncated, log=lambda msg: _log(core, msg))
    except ZstsrError as e:
        raise _err(str(e)) from None
    dec = _Decoder(path, info.times[0], info.keyframes, avi=info.clock == io.CLOCK_AVI)
    turn = info.orientation
    transposed = io._transposes(turn)
    slots = info.slots  # variable rate converted: output frame n shows source frame slots[n]
    fmt_id, order = _PIX.get(info.pix_fmt, (None, None))
    convert = None
    if fmt_id is None:  # packed or exotic: planar RGB for RGB sources (exact), else YUV 4:4:4 16-bit
        if any(k in info.pix_fmt for k in ("rgb", "bgr", "gbr")):
            convert = "gbrp" if info.bit_depth <= 8 else "gbrp16le"
        else:
            convert = "yuv444p16le"
        fmt_id, order = _PIX[convert]
    elif transposed and "422" in info.pix_fmt:  # turned 4:2:2 would be 4:4:0: 4:4:4, same depth
        convert = info.pix_fmt.replace("422", "444")
        fmt_id, order = _PIX[convert]
    fmt = core.get_video_format(fmt_id)
    if info.width % (1 << fmt.subsampling_w) or info.height % (1 << fmt.subsampling_h):
        # VapourSynth has no 4:2:0 frame of odd height nor 4:2:x of odd width (720x405 MPEG-2:
        # ../shared/data/cityCC0.mpg): 4:4:4 at the same depth, chroma upsampled by the decoder
        convert = info.pix_fmt.replace("420", "444").replace("422", "444")
        fmt_id, order = _PIX[convert]
        fmt = core.get_video_format(fmt_id)
        _log(core, f"source: {os.path.basename(path)} is {info.pix_fmt} at {info.width}x{info.height}, "
                   f"which VapourSynth cannot hold (odd size): read as {fmt.name}")
    rate = Fraction(info.rate)
    length = len(slots) if slots else (info.frames if info.truncated else len(dec.pts))
    blank = core.std.BlankClip(width=info.width, height=info.height, format=fmt_id, length=length,
                               fpsnum=rate.numerator, fpsden=rate.denominator, keep=True)
    col = info.color
    props: dict[str, int] = {}
    if col.matrix not in (2, 3):
        props["_Matrix"] = col.matrix
    if col.primaries not in (2, 3):
        props["_Primaries"] = col.primaries
    if col.trc not in (2, 3):
        props["_Transfer"] = col.trc
    full = col.range == 2 or (col.range == 0 and info.pix_fmt.startswith("yuvj"))
    if fmt.color_family == vs.YUV or col.range in (1, 2):
        props["_Range"] = 1 if full else 0  # R81's _Range: 1 full, 0 limited
    bps = fmt.bytes_per_sample

    def load(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        fr = dec.get(slots[n] if slots else n)
        if convert:
            fr = fr.reformat(format=convert)
        out = f.copy()
        for p in range(fmt.num_planes):
            src_plane = fr.planes[order[p] if order else p]
            dst = np.asarray(out[p])
            hh, ww = dst.shape[::-1] if transposed else dst.shape  # the stored plane's size
            raw = np.frombuffer(src_plane, dtype=np.uint8).reshape(-1, src_plane.line_size)
            plane = raw[:hh, :ww * bps].view(dst.dtype).reshape(hh, ww)
            dst[...] = io.orient(plane[..., None], turn)[..., 0] if turn else plane
        out.props.update(props)
        return out

    return core.std.ModifyFrame(blank, blank, load)


# ---------------------------------------------------------------------------------------------
# installing the shim where VapourSynth autoloads plugins

PLUGIN_NAME = "libzstsr.so"


def plugin_path() -> str:
    """The built shim beside this module (``vs_zstsr/_shim/libzstsr.so``)."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_shim", PLUGIN_NAME)


# In every build of the shim (vs_zstsr/_shim/zstsr_shim.c, configPlugin): how a copy is known as ours.
_SHIM_ID = b"org.zstsr.upsample"


def _ours(path: str) -> bool:
    """``path`` in the plugin folder is zstsr's shim, a link or a copy, of any version: a link into
    some ``vs_zstsr/_shim`` folder (another checkout's, even one gone), or a file carrying the
    shim's plugin identifier. A user's own build or link there is not."""
    if os.path.islink(path):
        target = os.path.join(os.path.dirname(path), os.readlink(path))
        parent = os.path.dirname(os.path.normpath(target))
        return (os.path.basename(target) == PLUGIN_NAME and os.path.basename(parent) == "_shim"
                and os.path.basename(os.path.dirname(parent)) == "vs_zstsr")
    try:
        with open(path, "rb") as f:
            return _SHIM_ID in f.read(64 * 2 ** 20)
    except OSError:
        return False


def install_plugin(link: bool = True, overwrite: bool = False) -> str:
    """Put the shim into ``vapoursynth.get_plugin_dir()`` (a symlink, or a copy with ``link=False``)
    so that every core autoloads ``core.zstsr``. Returns the path written; idempotent. An earlier
    zstsr shim there (link or copy) is replaced; anything else of that name only with
    ``overwrite`` (a user's own build is theirs)."""
    import filecmp
    import shutil

    from . import outputs

    src = plugin_path()
    if not os.path.isfile(src):
        raise ZstsrError(f"the zstsr VapourSynth shim is not built ({src} is missing): pip install -e . again")
    d = vs.get_plugin_dir()
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, PLUGIN_NAME)
    if link and os.path.islink(dst) and os.path.realpath(dst) == os.path.realpath(src):
        return dst
    if not link and not os.path.islink(dst) and os.path.isfile(dst) and filecmp.cmp(src, dst, shallow=False):
        return dst       # (a link asked for after a copy, or a copy after a link, replaces it)
    if os.path.lexists(dst) and not (overwrite or _ours(dst)):
        raise ZstsrError(f"{dst} exists and is not zstsr's shim (a build of your own?); left as it is: "
                         "pass --overwrite to replace it")
    if os.path.isdir(dst) and not os.path.islink(dst):
        raise ZstsrError(f"{dst} is a folder; left as it is")
    # made under a temporary name and renamed over the old one: a host loading plugins meanwhile
    # sees the old file or the new one, never a half-copied one
    outputs.clean_stale(dst)       # what a killed install left
    tmp = str(outputs.temp_path(dst))
    try:
        if link:
            os.symlink(src, tmp)
        else:
            shutil.copy2(src, tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())     # on disk before it takes the name (a power cut meanwhile)
        os.replace(tmp, dst)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
    return dst


def _main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m vs_zstsr.filter",
                                 description="Install zstsr's VapourSynth shim into VapourSynth's plugin folder.")
    ap.add_argument("command", choices=["install-plugin", "plugin-path"])
    ap.add_argument("--copy", action="store_true", help="copy instead of a symlink")
    ap.add_argument("--overwrite", "-y", action="store_true",
                    help=f"replace a {PLUGIN_NAME} there that is not zstsr's (a build of your own)")
    a = ap.parse_args(argv)
    if a.command == "plugin-path":
        print(plugin_path())
        return 0
    try:
        print(install_plugin(link=not a.copy, overwrite=a.overwrite))
    except ZstsrError as e:
        print(f"zstsr: error: {e}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
