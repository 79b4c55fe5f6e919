"""Rendering on a Ray cluster (``--ray``): clips and chunks spread over machines, resumable, and
identical to a local render (docs/SCALE.md).

Ray is imported only here, and only when a job starts: without ``--ray`` nothing changes.

The work units are the local render's own steps, moved onto workers:

* **prepare**, one task per clip: what ``Renderer.create`` does locally (train the clip's net or
  find it in the cache, the self-check, the ladder plan). It asks for a GPU when the cluster has
  one. The renderer it returns travels through the object store with its ONNX models
  (``model.TSRModel`` pickles as its bytes); models it trained are copied into the user's cache on
  this machine too, so a later run (local or not) trains nothing.
* **chunks**, one task per chunk: the windows of :func:`.stream.stream_chunks` (the streaming
  render's chunking: each window carries the ladder's context, so each chunk's inside is exact),
  read here in one pass over the source and shipped to the workers, which return a lossless
  segment (FFV1 RGB at the writer's depth: ``io.quantize`` / ``io.dequantize`` make the round
  trip exact). A chunk on a worker that dies is run again elsewhere (Ray task retries).
* **one writer**, here: the segments are kept in the output's temporary folder
  (``.NAME.chunks/`` beside it, with ``manifest.json``) as they arrive, and are joined in order by
  the local writer (``render.render_clip`` or ``zstsr upsample``'s), which adds audio, timecode,
  reel name and colour tags as for a local render and renames the file into place. The folder is
  removed once the output is complete; an interrupted job leaves it, and the same command run
  again resumes from the chunks it holds.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from . import io, outputs
from .errors import UsageError, ZstsrError

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
CHUNK_RETRIES = 3        # runs of a chunk after its worker died (Ray's max_retries)
PREPARE_RETRIES = 1
RENDERS_PER_GPU = 4      # chunk tasks sharing one GPU when the net runs on it
IN_FLIGHT_PER_CPU = 2    # windows shipped ahead per CPU of the cluster: bounds the object store's use
LOCAL = "local"          # --ray without an address


def chunk_folder(target: str | os.PathLike) -> Path:
    """The temporary folder of an output's segments and manifest: ``.NAME.chunks`` beside it (NAME
    shortened when long, as the outputs' temporary names are: :func:`.outputs.short_name`)."""
    t = Path(str(target).rstrip("/" + os.sep))
    return t.parent / f".{outputs.short_name(t.name)}.chunks"


# What a chunk folder holds: its manifest and segments, and their temporary names while written
# (io.atomic_path). Only these are ever deleted from it, and a folder holding anything else is
# not taken for one (docs/SAFETY.md).
_CHUNK_FILE = re.compile(rf"^\.?(?:{re.escape(MANIFEST)}|chunk-\d{{5,}}\.mkv)(?:\.partial-(?:h[0-9a-f]{{8}}-)?\d+(?:-\d+)?(?:\.\w+)?)?$")


def check_chunk_folder(folder: Path, inputs=()) -> None:
    """Refuse a chunk folder that zstsr did not make: one that is a file or a link, holds anything
    but a chunk folder's files, or holds an input."""
    if not os.path.lexists(folder):
        return
    if folder.is_symlink() or not folder.is_dir():
        raise UsageError(f"{folder} exists and is not a folder of zstsr's chunks; move it or choose "
                         "another output name")
    for inp in inputs:
        if inp is not None and outputs.inside(Path(inp), folder):
            raise UsageError(f"{folder} holds the input {inp}; move it or choose another output name")
    others = sorted(p.name for p in folder.iterdir() if not _CHUNK_FILE.match(p.name) or not p.is_file()
                    or p.is_symlink())
    if others:
        raise UsageError(f"{folder} holds files zstsr did not write ({', '.join(others[:3])}"
                         f"{', ...' if len(others) > 3 else ''}); move them or choose another output name")


def remove_chunk_folder(folder: Path) -> None:
    """Delete a chunk folder's own files (:data:`_CHUNK_FILE`), then the folder if it is empty:
    never anything else (no ``rmtree``)."""
    if folder.is_symlink() or not folder.is_dir():
        return
    for p in folder.iterdir():
        if _CHUNK_FILE.match(p.name) and p.is_file() and not p.is_symlink():
            with contextlib.suppress(OSError):
                p.unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _import_ray(address: str):
    if address == LOCAL and "ray" not in sys.modules:
        # A Ray started here for this job listens on the loopback interface only (Ray otherwise
        # binds to the machine's network address); read by Ray when it is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")   # Ray's C++ warnings: ours are one line
    try:
        import ray
    except ImportError:
        raise ZstsrError("--ray needs Ray: pip install 'zstsr[ray]'") from None
    return ray


def _check_reachable(address: str) -> None:
    """Refuse an address nothing listens on at once (Ray itself retries for minutes)."""
    import socket

    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise ZstsrError(f"--ray takes auto, HOST:PORT or ray://HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as e:
        raise ZstsrError(f"cannot reach the Ray cluster at {address} ({e.strerror or e})") from None


# --------------------------------------------------------------------------------------------
# the tasks (run on the workers; plain functions, wrapped by ray.remote when a job starts)


def _prepare(create: Callable, seed: dict[str, bytes]):
    """Build a clip's renderer as a local render would; return it with the log lines and the
    models it left in this worker's cache (to be copied into the user's)."""
    from .fit import HASH_SUFFIX, cache_dir

    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for name, data in seed.items():     # models the driver has for this clip: nothing to retrain
        if not (cache / name).exists():
            with io.atomic_path(cache / name) as tmp:
                tmp.write_bytes(data)
    before = _listing(cache)
    lines: list[str] = []
    renderer = create(log=lines.append, progress=None)
    models = [m for m in (renderer.ladder.model, *renderer.ladder.rung_models.values()) if m is not None]
    used = {Path(m.path) for m in models if Path(m.path).parent == cache}
    made = {p for p, t in _listing(cache).items() if before.get(p) != t}
    kept = used | made | {p.with_name(p.name + HASH_SUFFIX) for p in used}   # with their hashes (fit.intact)
    files = {p.name: p.read_bytes() for p in kept if p.suffix in (".onnx", HASH_SUFFIX) and p.is_file()}
    return replace(renderer, log=None), lines, files


def _listing(folder: Path) -> dict[Path, int]:
    with contextlib.suppress(OSError):
        return {p: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file()}
    return {}


_RENDERERS: dict[str, object] = {}   # per worker process: a clip's renderer, loaded once


def _render_chunk(holder: list, window: np.ndarray, source_depth: int, lead: int, count: int, depth: int
                  ) -> tuple[bytes, str]:
    """One chunk's HTR frames as a lossless segment (bytes), and the node that made it. The window
    comes as the source's integers (``io.quantize``: 2 to 4 times smaller than float32), which
    give back exactly the frames the source decodes to (``io.dequantize``)."""
    import ray

    from .stream import render_chunk

    key = holder[0].hex()
    if key not in _RENDERERS:
        _RENDERERS.clear()               # one clip at a time is the common case: keep memory flat
        _RENDERERS[key] = ray.get(holder[0])
    frames = render_chunk(_RENDERERS[key], io.dequantize(window, source_depth), lead, count)
    return encode_segment(frames, depth), ray.get_runtime_context().get_node_id()


def segment_depth(bit_depth: int) -> int:
    """The depth a segment is stored at: the writer's quantization (8 bits, else 16)."""
    return 8 if bit_depth <= 8 else 16


def encode_segment(frames: np.ndarray, depth: int) -> bytes:
    """Frames as an FFV1 RGB file at ``depth``: reading it gives ``io.as_written(frames)``."""
    with tempfile.TemporaryDirectory(prefix="zstsr-segment-") as d:
        path = Path(d) / "segment.mkv"
        with io.VideoWriter(path, frames.shape[2], frames.shape[1], Fraction(1), depth, "ffv1") as w:
            for f in frames:
                w.write(f)
        return path.read_bytes()


# --------------------------------------------------------------------------------------------
# the driver


@dataclass
class _Clip:
    name: str
    source: str
    info: io.VideoInfo
    num_frames: int
    create: Callable
    folder: Path
    chunk: int | None
    prepare: object = None            # ObjectRef of the prepare task, until it is collected
    renderer: object = None           # ObjectRef (owned here) of the renderer
    windows: Iterator | None = None   # stream_chunks over the source, read as chunks are shipped
    shipped: int = 0                  # chunks handed out (or found done) so far
    total: int | None = None          # chunks, once the source has been read to its end
    manifest: dict = field(default_factory=dict)
    error: str | None = None
    resumed: int = 0
    uses_net: bool = False


class Job:
    """One ``--ray`` run: ``with Job(address) as job``, :meth:`add` every clip (their prepare
    tasks start at once), then ``with job.output(source) as frames`` for each in turn, giving
    the clip's upsampled frames, in order, to the local writer."""

    def __init__(self, address: str | None, *, log: Callable[[str], None] | None = None, bar=None,
                 chunk: int | None = None):
        self.address = address or LOCAL
        self.log = log or (lambda msg: None)
        self.bar = bar            # tqdm-like: total, update(), refresh(); over prepares and chunks
        self.chunk = chunk        # LTR frames per chunk (None: the renderer's own)
        self.clips: dict[str, _Clip] = {}
        self.running: dict[object, tuple[_Clip, int]] = {}   # chunk ObjectRef -> (clip, index)
        self.computed = 0        # chunks rendered by this run

    # -- session

    def __enter__(self) -> "Job":
        if self.address not in (LOCAL, "auto"):
            _check_reachable(self.address)
        ray = self.ray = _import_ray(self.address)
        kw = dict(log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
        try:
            if self.address == LOCAL:
                ray.init(address="local", include_dashboard=False, **kw)
            else:
                ray.init(address=self.address, **kw)
        except (ConnectionError, RuntimeError, ValueError) as e:
            where = "start Ray on this machine" if self.address == LOCAL else f"reach the Ray cluster at {self.address}"
            raise ZstsrError(f"cannot {where} ({str(e).strip().splitlines()[0][:200]})") from None
        res = ray.cluster_resources()
        self.cpus, self.gpus = int(res.get("CPU", 0)), float(res.get("GPU", 0))
        if self.cpus < 1:
            ray.shutdown()
            raise ZstsrError(f"the Ray cluster at {self.address} has no CPU to run on")
        self._prepare_task = ray.remote(_prepare).options(
            num_cpus=1, num_gpus=1 if self.gpus >= 1 else 0, max_retries=PREPARE_RETRIES)
        self._chunk_task = ray.remote(_render_chunk)
        self.log(f"Ray: {self.cpus} CPUs" + (f", {self.gpus:g} GPUs" if self.gpus else "") + " on "
                 + ("this machine" if self.address == LOCAL else self.address))
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            resumed = sum(c.resumed for c in self.clips.values())
            self.log(f"Ray: {self.computed} chunks rendered" + (f", {resumed} taken from an earlier run"
                                                                 if resumed else ""))
        with contextlib.suppress(Exception):
            self.ray.shutdown()   # a Ray started here stops; a cluster's tasks of this job end

    # -- clips

    def add(self, source: str | os.PathLike, info: io.VideoInfo, num_frames: int, create: Callable,
            target: str | os.PathLike) -> None:
        """Start preparing a clip: ``create(log=, progress=)`` makes its renderer (picklable: it
        runs on a worker); its output will be ``target`` (its chunks go beside it)."""
        source = str(source)
        folder = chunk_folder(target)
        check_chunk_folder(folder, [source, *(v for v in getattr(create, "args", ()) if isinstance(v, str))])
        clip = _Clip(Path(source).name, source, info, num_frames, create, folder, self.chunk)
        clip.manifest = self._load_manifest(clip)
        seed = {}
        from .fit import cache_dir

        for name in clip.manifest.get("models", []):   # a resumed job: the models it used before
            with contextlib.suppress(OSError):
                seed[name] = (cache_dir() / name).read_bytes()
        clip.prepare = self._prepare_task.remote(create, seed)
        self.clips[source] = clip
        self._grow(1)

    @contextlib.contextmanager
    def output(self, source: str | os.PathLike):
        """The clip's frames, for the writer; its chunk folder is removed when the block ends
        without an error (the output is complete), kept otherwise (to resume from)."""
        clip = self.clips.get(str(source))
        if clip is None:
            raise ZstsrError(f"{source}: not part of this Ray job")
        try:
            yield self._frames(clip)
        except BaseException:
            done = len(clip.manifest.get("chunks", {}))
            if done:
                self.log(f"note: {clip.name}: {done} finished chunks kept in {clip.folder}; the same command "
                         "resumes from them")
            raise
        remove_chunk_folder(clip.folder)

    def _frames(self, clip: _Clip) -> Iterator[np.ndarray]:
        i = 0
        while True:
            def ready():
                return clip.error or clip.renderer is not None and (
                    str(i) in clip.manifest["chunks"] or clip.total is not None and i >= clip.total)

            while not ready():
                self._step(0.1)
            if clip.error:
                raise ZstsrError(clip.error)
            if clip.total is not None and i >= clip.total:
                return
            yield from io.read_frames(clip.folder / clip.manifest["chunks"][str(i)]["file"])
            i += 1

    # -- scheduling

    def _step(self, timeout: float) -> None:
        """Collect what has finished (waiting up to ``timeout``), then ship more chunks."""
        ray = self.ray
        pending = [c.prepare for c in self.clips.values() if c.prepare is not None] + list(self.running)
        if pending:
            ready, _ = ray.wait(pending, num_returns=len(pending), timeout=timeout)
            for ref in ready:
                if ref in self.running:
                    self._collect_chunk(ref)
                else:
                    self._collect_prepare(next(c for c in self.clips.values() if c.prepare == ref))
        self._ship()

    def _collect_prepare(self, clip: _Clip) -> None:
        ref, clip.prepare = clip.prepare, None
        self._tick()
        try:
            renderer, lines, files = self.ray.get(ref)
        except Exception as e:  # noqa: BLE001 - the task's error, for this clip only
            self._fail(clip, e)
            return
        for line in lines:
            self.log(f"{clip.name}: {line}")
        from .fit import cache_dir

        for name, data in files.items():   # the user's cache gets the clip's models
            cache_dir().mkdir(parents=True, exist_ok=True)
            if not (cache_dir() / name).exists():
                with io.atomic_path(cache_dir() / name) as tmp:
                    tmp.write_bytes(data)
        if clip.chunk:
            renderer.chunk = clip.chunk
        m = clip.manifest
        if m.get("chunk") != renderer.chunk or m.get("context") != renderer.context:
            if m.get("chunks"):
                self.log(f"note: {clip.name}: the chunks of an earlier run do not fit this one; starting over")
            m.clear()
            remove_chunk_folder(clip.folder)
            m.update(version=MANIFEST_VERSION, key=self._key(clip), chunk=renderer.chunk,
                     context=renderer.context, runs=0, chunks={})
        m["runs"] += 1
        m["models"] = sorted(files)
        clip.resumed = sum((clip.folder / c["file"]).is_file() for c in m["chunks"].values())
        m["chunks"] = {k: c for k, c in m["chunks"].items() if (clip.folder / c["file"]).is_file()}
        if clip.resumed:
            self.log(f"{clip.name}: {clip.resumed} of {-(-clip.num_frames // renderer.chunk)} chunks were "
                     f"finished by an earlier run (in {clip.folder}); rendering the others")
        self._save(clip)
        clip.uses_net = renderer.ladder.plan.uses_net
        clip.renderer = self.ray.put(renderer)
        from .stream import stream_chunks

        clip.windows = stream_chunks(io.read_frames(clip.source, clip.info), renderer)
        self._grow(-(-clip.num_frames // renderer.chunk))

    def _ship(self) -> None:
        limit = IN_FLIGHT_PER_CPU * self.cpus
        for clip in self.clips.values():
            while len(self.running) < limit and clip.windows is not None and not clip.error:
                try:
                    item = next(clip.windows, None)
                except Exception as e:  # noqa: BLE001 - a damaged source fails its clip alone
                    self._fail(clip, e)
                    break
                if item is None:
                    clip.windows, clip.total = None, clip.shipped
                    break
                i = clip.shipped
                clip.shipped += 1
                if str(i) in clip.manifest["chunks"]:
                    self._tick()
                    continue
                window, lead, count = item
                gpu = self.gpus > 0 and clip.uses_net
                ref = self._chunk_task.options(
                    num_cpus=1, num_gpus=1 / RENDERS_PER_GPU if gpu else 0, max_retries=CHUNK_RETRIES,
                ).remote([clip.renderer], io.quantize(window, clip.info.bit_depth), clip.info.bit_depth, lead, count,
                         segment_depth(clip.info.bit_depth))
                self.running[ref] = (clip, i)
            if len(self.running) >= limit:
                return
            if clip.windows is not None or clip.prepare is not None:
                return            # clips are shipped in order: wait for this one

    def _collect_chunk(self, ref) -> None:
        clip, i = self.running.pop(ref)
        self._tick()
        try:
            data, node = self.ray.get(ref)
        except Exception as e:  # noqa: BLE001 - retries spent, or the chunk itself failed
            self._fail(clip, e)
            return
        name = f"chunk-{i:05d}.mkv"
        with io.atomic_path(clip.folder / name, ".mkv") as tmp:
            tmp.write_bytes(data)
        clip.manifest["chunks"][str(i)] = {"file": name, "run": clip.manifest["runs"], "node": node[:12]}
        self._save(clip)
        self.computed += 1

    def _fail(self, clip: _Clip, e: BaseException) -> None:
        clip.error = clip.error or _reason(e)
        clip.windows = None

    # -- manifest

    def _key(self, clip: _Clip) -> str:
        """What the chunks depend on: the source file and the renderer's settings."""
        c = clip.create
        values = [*getattr(c, "args", ()), *sorted((k, v) for k, v in getattr(c, "keywords", {}).items()
                                                   if not callable(v))]
        files = [clip.source] + [v for v in values if isinstance(v, str) and os.path.isfile(v)]  # a model
        parts = [os.path.abspath(clip.source), clip.num_frames, values,
                 [(os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]]
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]

    def _load_manifest(self, clip: _Clip) -> dict:
        try:
            m = json.loads((clip.folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        if m.get("version") != MANIFEST_VERSION or m.get("key") != self._key(clip):
            return {}
        return m

    def _save(self, clip: _Clip) -> None:
        clip.folder.mkdir(parents=True, exist_ok=True)
        with io.atomic_path(clip.folder / MANIFEST) as tmp:
            tmp.write_text(json.dumps(clip.manifest, indent=1))

    # -- progress

    def _grow(self, n: int) -> None:
        if self.bar is not None:
            self.bar.total = (self.bar.total or 0) + n
            self.bar.refresh()

    def _tick(self) -> None:
        if self.bar is not None:
            self.bar.update(1)


def _reason(e: BaseException) -> str:
    """A task's error as one line: the ZstsrError it raised, or what killed it."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, ZstsrError):
        return str(cause)
    if cause is not None:
        return f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return f"{type(e).__name__}: {first[:300]}"
