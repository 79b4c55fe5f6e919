"""Native plugins that can crash run in worker processes, so that a crash is an exception.

MVTools' FlowFPS kills the process it runs in on some real crops (a segmentation fault, or glibc's
``double free or corruption``, on the 6x32x32 crop ``../shared/data/mvtools_crash_6x32x32.npy``
of a 1080x1920 clip; issue 18), and no Python ``try`` can catch that. So such a call runs here:
in a small pool of worker processes (plain Python, one VapourSynth core each) that are started
once and reused, with the arguments sent through pipes (pickle protocol 5, NumPy buffers out of
band, no copy into the pickle), a call's large arrays (a segment of frames) through a file of
shared memory the worker was started with (:class:`_Args`), and what a worker streams back, when
its arrays are large (frames), through a small ring of shared memory (:class:`_Ring`) beside the
pipe. When a worker dies mid-call, the caller gets :class:`NativeCrash` (a
:class:`.errors.ZstsrError`, so the CLI prints one line) naming the signal and the library's last
words on stderr, and the pool starts a fresh worker for the next call.

Any native plugin uses it the same way: write a module-level function that does the native work
(a generator to stream frames back as they come), and call it by name::

    native.call("vs_zstsr.baselines:flow_available", what="MVTools")
    for frame in native.stream("vs_zstsr.baselines:peer_frames", ltr, 2, "flowfps", rate, what="MVTools FlowFPS"):
        ...

The workers run in their own session (a Ctrl-C in the terminal reaches only the main process,
which then stops them), print nothing to the terminal (their stderr is kept in a temporary file,
read back only to explain a crash), and end when the main process closes their pipe or exits.
Their cost per call is measured in docs/BENCHMARKS.md (``benchmarks/bench_flow_fuzz.py``).
"""
from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import io
import mmap
import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import ZstsrError

# Workers started at most; more are started only while that many calls run at once (e.g. a
# VapourSynth script served with `vspipe -r 4`), so a plain CLI run starts one.
MAX_WORKERS = max(1, min(4, os.cpu_count() or 1))
# pickle length, number of out-of-band buffers, ring slot (-1: none), whether the buffers are in the
# call's shared arguments file (:class:`_Args`; its size follows)
_HEAD = struct.Struct("<QIq?")
_LEN = struct.Struct("<Q")
_RING = struct.Struct("<iQ")      # the ring's file descriptor in the worker, slot size
PIPE_BYTES = 1 << 20
# Seconds a worker may go without a word (a streamed item, or its reply) before it is taken for
# hung and stopped: a caller waiting on it (a VapourSynth host's frame request) gets NativeCrash
# instead of waiting forever. MVTools' slowest step, a 4K segment's motion search before its first
# frame, takes seconds on 2 cores; this leaves a very slow machine two orders of magnitude.
ANSWER_TIMEOUT_S = 600.0
# A streamed item whose arrays hold at least this many bytes goes through the worker's ring of
# shared memory, not the pipe: at 1080p the pipe's copies in and out of the kernel cost MVTools'
# worker about a tenth of the CPU of `upsample --method flow` (docs/BENCHMARKS.md, "1080p and 4K").
RING_MIN_BYTES = 1 << 20
# Items in the ring at once: the worker fills one slot while the caller copies another out.
RING_SLOTS = 2
# Whether a call's large arguments go through a file of shared memory (:class:`_Args`) where the
# system has one (Linux's memfd), or through the pipe (benchmarks/native_transfer.py compares them).
SHARED_ARGS = True
_ARGS_FD = "--args-fd"        # the worker's option: that file's descriptor, inherited


class NativeCrash(ZstsrError):
    """A native library killed its worker process during a call (the call's result is lost)."""


# ---------------------------------------------------------------------------------------------
# messages: a pickle and its out-of-band buffers, each prefixed by its length

class _Ring:
    """The worker's side of its shared memory: ``RING_SLOTS`` slots in an anonymous file
    (``memfd``), which the caller maps through ``/proc/<worker>/fd``. The caller sends one byte
    on the worker's stdin once it has copied a slot out; the worker waits for it before it writes
    that slot again. A larger item than a slot holds makes a larger file (once the caller has
    let go of the old one: every slot given back)."""

    def __init__(self, acks):
        self.acks, self.fd, self.size, self.mm = acks, -1, 0, None
        self.sent = self.acked = 0

    @staticmethod
    def available() -> bool:
        return hasattr(os, "memfd_create") and Path(f"/proc/{os.getpid()}/fd").is_dir()

    def _wait(self, upto: int) -> None:
        while self.acked < upto:
            if not self.acks.read(1):
                raise EOFError
            self.acked += 1

    def put(self, views) -> tuple[int, bytes]:
        """Copy ``views`` into the next free slot: (its index, the ring's header if it is new)."""
        need = sum(-(-v.nbytes // 64) * 64 for v in views)
        head = b""
        if need > self.size:
            self._wait(self.sent)                       # the caller holds no slot of the old file
            self.close()
            self.size = max(need, 1 << 20)
            self.fd = os.memfd_create("zstsr-ring")
            os.ftruncate(self.fd, self.size * RING_SLOTS)
            self.mm = mmap.mmap(self.fd, self.size * RING_SLOTS)
            head = _RING.pack(self.fd, self.size)
        self._wait(self.sent - RING_SLOTS + 1)          # this slot's last item copied out
        slot = self.sent % RING_SLOTS
        at = slot * self.size
        for v in views:
            self.mm[at:at + v.nbytes] = v.cast("B")
            at += -(-v.nbytes // 64) * 64
        self.sent += 1
        return slot, head

    def drain(self) -> None:
        """Wait until the caller has every item sent (before the next request is read)."""
        self._wait(self.sent)

    def close(self) -> None:
        if self.mm is not None:
            self.mm.close()
            os.close(self.fd)
        self.mm, self.fd, self.size = None, -1, 0


class _Args:
    """The caller's side of a worker's shared arguments file: an anonymous file (``memfd``) made
    before the worker starts and handed to it (its descriptor inherited), into which a request's
    large buffers are written; the worker maps it for the call (:class:`_ArgsView`). Through the
    pipe a 1080p segment (23 float frames, 546 MiB) reached a fresh worker in 2-2.6 s, which
    waited for it, and every segment's copy in the worker was fresh memory; here the caller writes
    it once and the worker reads it in place (docs/BENCHMARKS.md, "Where `--method flow`'s CPU
    goes at 1080p"). Written with ``pwrite``, not through a mapping, so that memory the system
    cannot give is an ``OSError`` (the request then goes through the pipe), never a SIGBUS in the
    caller. A worker serves one call at a time and lets go of the file before its last reply, so
    the file is emptied then (:meth:`empty`: its pages are memory no process's resident set shows)
    and written again only for the next request."""

    def __init__(self):
        self.fd, self.size = -1, 0
        if SHARED_ARGS and hasattr(os, "memfd_create") and hasattr(mmap, "MAP_PRIVATE"):
            try:
                self.fd = os.memfd_create("zstsr-args")
            except OSError:           # e.g. not allowed here (seccomp): the pipe
                self.fd = -1

    def put(self, views) -> int:
        """Write ``views`` into the file, each at a multiple of 64 bytes; returns the bytes used."""
        need = sum(-(-v.nbytes // 64) * 64 for v in views)
        if need > self.size:
            os.ftruncate(self.fd, need)
            self.size = need
        at = 0
        for v in views:
            b = v.cast("B")
            done = 0
            while done < len(b):
                done += os.pwrite(self.fd, b[done:], at + done)
            at += -(-v.nbytes // 64) * 64
        return need

    def empty(self) -> None:
        """Give the file's pages back (after a call: the worker has let go of it)."""
        if self.size:
            os.ftruncate(self.fd, 0)
            self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.size = -1, 0


class _ArgsView:
    """The worker's side of :class:`_Args`: the file mapped for one request, copy-on-write (what
    the call writes into its arguments stays its own, as with arguments read from the pipe), and
    let go once the call is over, before its last reply (the caller then empties the file)."""

    def __init__(self, fd: int):
        self.fd, self.mm = fd, None

    def take(self, size: int, lens: list[int]) -> list[np.ndarray]:
        self.release()
        self.mm = mmap.mmap(self.fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        out, at = [], 0
        for n in lens:
            out.append(np.frombuffer(self.mm, np.uint8, n, at))
            at += -(-n // 64) * 64
        return out

    def release(self) -> None:
        if self.mm is not None:
            try:
                self.mm.close()
            except BufferError:
                # an array of the call is still alive (kept by the plugin, or returned): every page
                # it may read is made this process's own copy (a write to each, copy-on-write), as
                # the caller empties the file and writes the next request into it; the mapping
                # then goes with the array
                pages = np.frombuffer(self.mm, np.uint8)
                pages[::mmap.PAGESIZE] = pages[::mmap.PAGESIZE]
            self.mm = None


def _send(f, obj: Any, ring: _Ring | None = None, args: _Args | None = None) -> None:
    bufs: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=bufs.append)
    views = [b.raw() for b in bufs]
    slot, head = -1, b""
    large = sum(v.nbytes for v in views) >= RING_MIN_BYTES
    if ring is not None and large:
        slot, head = ring.put(views)
    shared = args is not None and args.fd >= 0 and large and slot < 0
    if shared:
        try:
            head = _LEN.pack(args.put(views))
        except OSError:                  # no memory for the file now: this request by the pipe
            shared = False
    f.write(_HEAD.pack(len(data), len(views), slot if not head or shared else -2 - slot, shared) + head
            + b"".join(_LEN.pack(v.nbytes) for v in views))
    f.write(data)
    if slot < 0 and not shared:
        for v in views:
            f.write(v)
    f.flush()


@contextlib.contextmanager
def _no_sigpipe():
    """Writes to a worker's pipe in this block cannot kill this process. A host that embeds Python
    without its signal set-up (vspipe: ``Py_InitializeEx(0)``) keeps SIGPIPE's default action, so a
    write to a worker that has just died (a crash in MVTools while its last frame is being taken)
    would end the host, not raise BrokenPipeError. So SIGPIPE is blocked in this thread for the
    block (a write then fails with EPIPE: a NativeCrash), and a SIGPIPE raised meanwhile is taken
    before it is unblocked. (In a Python that ignores SIGPIPE, as python itself does, nothing changes.)"""
    if not (hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigtimedwait")):   # (macOS: no sigtimedwait)
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGPIPE})
    try:
        yield
    finally:
        if signal.SIGPIPE not in old:
            try:
                with contextlib.suppress(OSError):
                    while signal.sigtimedwait({signal.SIGPIPE}, 0) is not None:
                        pass
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _read_exact(f, n: int):
    buf = np.empty(n, np.uint8)       # not zero-filled first (bytearray is): frames are megabytes
    view, got = memoryview(buf), 0
    while got < n:
        k = f.readinto(view[got:])
        if not k:
            raise EOFError
        got += k
    return buf


class _RingView:
    """The caller's side of a worker's :class:`_Ring`."""

    def __init__(self, pid: int, acks):
        self.pid, self.acks, self.mm, self.size = pid, acks, None, 0

    def open(self, fd: int, size: int) -> None:
        self.close()
        with open(f"/proc/{self.pid}/fd/{fd}", "rb") as f:
            self.mm = mmap.mmap(f.fileno(), size * RING_SLOTS, prot=mmap.PROT_READ)
        self.size = size

    def take(self, slot: int, lens: list[int]) -> list[np.ndarray]:
        """Copies of the buffers in ``slot``; the slot is then given back."""
        at, out = slot * self.size, []
        for n in lens:
            buf = np.empty(n, np.uint8)
            buf[:] = np.frombuffer(self.mm, np.uint8, n, at)
            out.append(buf)
            at += -(-n // 64) * 64
        with _no_sigpipe():
            self.acks.write(b"\x01")
            self.acks.flush()
        return out

    def close(self) -> None:
        if self.mm is not None:
            self.mm.close()
            self.mm = None


def _recv(f, ring: _RingView | None = None, args: _ArgsView | None = None) -> Any:
    size, nbuf, slot, shared = _HEAD.unpack(_read_exact(f, _HEAD.size))
    if shared:                           # the buffers are in the shared arguments file
        used = _LEN.unpack(_read_exact(f, _LEN.size))[0]
    elif slot <= -2:                     # a new ring file first, then the item in slot -2 - slot
        slot = -2 - slot
        ring.open(*_RING.unpack(_read_exact(f, _RING.size)))
    lens = [_LEN.unpack(_read_exact(f, _LEN.size))[0] for _ in range(nbuf)]
    data = _read_exact(f, size).data
    if shared and args is None:
        raise EOFError                   # (a worker only: the caller is never sent such a message)
    bufs = (args.take(used, lens) if shared else ring.take(slot, lens) if slot >= 0
            else [_read_exact(f, n) for n in lens])
    try:
        return pickle.loads(data, buffers=bufs)
    except EOFError:
        raise ZstsrError("a worker's message could not be read") from None
    except Exception as e:  # noqa: BLE001 - e.g. an exception class that cannot be rebuilt here
        # not "error": the worker may be mid-stream, so the pool must not take it back
        return "unreadable", ZstsrError(f"a worker's message could not be read ({type(e).__name__}: {e})")


def _resolve(name: str):
    module, _, attr = name.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------------------------------
# the parent side

def _python() -> str:
    """This interpreter's executable; inside a host that embeds Python (vspipe, an editor),
    ``sys.executable`` is the host, so look for the interpreter of this environment instead."""
    if Path(sys.executable).name.startswith("python"):
        return sys.executable
    ver = f"{sys.version_info.major}.{sys.version_info.minor}"
    for prefix in (sys.prefix, sys.base_prefix):
        for name in (f"python{ver}", "python3", "python"):
            p = Path(prefix) / ("python.exe" if os.name == "nt" else f"bin/{name}")
            if p.is_file():
                return str(p)
    raise ZstsrError(f"cannot find a Python {ver} interpreter to run native plugins in (looked in {sys.prefix})")


def _widen(f) -> None:
    """Frames are megabytes: a 1 MiB pipe (Linux; 64 KiB by default) takes far fewer switches."""
    try:
        import fcntl

        fcntl.fcntl(f.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass


class _Worker:
    def __init__(self):
        env = dict(os.environ)
        # the worker imports this same vs_zstsr, wherever it was imported from
        root = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
        self.stderr = tempfile.TemporaryFile()
        self.args = _Args()
        shared = [_ARGS_FD, str(self.args.fd)] if self.args.fd >= 0 else []
        try:
            self.proc = subprocess.Popen([_python(), "-m", "vs_zstsr.native", *shared], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.stderr, env=env,
                                         start_new_session=True, close_fds=True,
                                         pass_fds=(self.args.fd,) if shared else ())
        except OSError as e:
            self.stderr.close()
            self.args.close()
            raise ZstsrError(f"cannot start a worker process for native plugins: {e}") from None
        for f in (self.proc.stdin, self.proc.stdout):
            _widen(f)
        self.ring = _RingView(self.proc.pid, self.proc.stdin)
        self.hung = False
        self._watch = threading.Condition()    # guards _due and _closed (the watchdog's)
        self._due: float | None = None         # time.monotonic() by which the next message is due
        self._closed = False
        self._watchdog: threading.Thread | None = None

    def request(self, fn: str, args, kwargs, streaming: bool, what: str) -> Iterator[tuple[str, Any]]:
        try:
            with _no_sigpipe():
                _send(self.proc.stdin, (fn, args, kwargs, streaming, streaming and _Ring.available()),
                      args=self.args)
            while True:
                with self._deadline():
                    kind, value = _recv(self.proc.stdout, self.ring)
                if kind not in ("item", "unreadable"):
                    self.args.empty()            # the worker let go of it before this reply
                yield kind, value
                if kind != "item":
                    return
        except (EOFError, BrokenPipeError, OSError):
            raise self._crash(what) from None

    @contextlib.contextmanager
    def _deadline(self):
        """Stop the worker if the block (waiting for its next message) lasts ANSWER_TIMEOUT_S.
        One watchdog thread per worker, started on first use, checks the deadline (a thread per
        message cost ~0.5 ms each)."""
        with self._watch:
            self._due = time.monotonic() + ANSWER_TIMEOUT_S
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch_loop, name="zstsr-native-watchdog",
                                                  daemon=True)
                self._watchdog.start()
            self._watch.notify()
        try:
            yield
        finally:
            with self._watch:
                self._due = None
        if self.hung:
            raise EOFError          # it answered just as it was stopped: stopped all the same

    def _watch_loop(self) -> None:
        with self._watch:
            while not self._closed:
                if self._due is None:
                    self._watch.wait()
                    continue
                left = self._due - time.monotonic()
                if left > 0:
                    self._watch.wait(left)
                    continue
                self.hung = True
                with contextlib.suppress(OSError):
                    self.proc.kill()                 # the read then ends: _crash says why
                return

    def _crash(self, what: str) -> NativeCrash:
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if rc < 0:
            try:
                how = f"signal {signal.Signals(-rc).name}"
            except ValueError:
                how = f"signal {-rc}"
        else:
            how = f"exit status {rc}"
        said = self._last_words()
        self.close()
        if self.hung:
            return NativeCrash(f"{what} did not answer in {ANSWER_TIMEOUT_S:g} s and was stopped")
        return NativeCrash(f"{what} crashed: {how}{', ' + said if said else ''}")

    def _last_words(self) -> str:
        try:
            self.stderr.seek(0, io.SEEK_END)
            self.stderr.seek(max(0, self.stderr.tell() - 4096))
            lines = [ln.strip() for ln in self.stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        except (OSError, ValueError):
            return ""
        return lines[-1][:200] if lines else ""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        with self._watch:
            self._closed = True
            self._watch.notify()
        self.ring.close()
        self.args.close()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                with _no_sigpipe():     # closing flushes what a failed write left in the buffer
                    f.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            try:
                self.proc.wait(timeout=2)     # it leaves when its stdin closes
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


class Pool:
    """Up to ``size`` workers, started when needed and reused; thread-safe (one call per worker
    at a time). A worker that crashed or was left mid-stream is dropped; the next call starts
    another one."""

    def __init__(self, size: int = MAX_WORKERS):
        self.size = size
        self._idle: list[_Worker] = []
        self._busy = 0
        self._cond = threading.Condition()
        self.started = 0          # workers started so far (crashes included)

    def _take(self) -> _Worker:
        with self._cond:
            while True:
                while self._idle:
                    w = self._idle.pop()
                    if w.alive:
                        self._busy += 1
                        return w
                    w.close()
                if self._busy < self.size:
                    self._busy += 1
                    break
                self._cond.wait()
        try:
            w = _Worker()
        except BaseException:
            self._put(None)
            raise
        self.started += 1
        return w

    def _put(self, w: _Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            if w is not None:
                self._idle.append(w)
            self._cond.notify()

    def stream(self, fn: str, *args, what: str, **kwargs) -> Iterator[Any]:
        """Run generator function ``fn`` ("module:name") in a worker; yield what it yields."""
        w, ok = self._take(), False
        try:
            for kind, value in w.request(fn, args, kwargs, True, what):
                if kind == "unreadable":
                    raise value                 # the worker's state is unknown: dropped below
                if kind == "error":
                    ok = True
                    raise value
                if kind == "done":
                    ok = True
                    return
                yield value
        finally:
            if not ok:            # crashed, or the caller stopped early: the worker's state is unknown
                w.close()
                w = None
            self._put(w)

    def call(self, fn: str, *args, what: str, **kwargs) -> Any:
        """Run function ``fn`` ("module:name") in a worker and return its result."""
        w, ok = self._take(), False
        try:
            for kind, value in w.request(fn, args, kwargs, False, what):
                ok = kind != "unreadable"
                if kind in ("error", "unreadable"):
                    raise value
                return value
        finally:
            if not ok:
                w.close()
                w = None
            self._put(w)

    def close(self) -> None:
        with self._cond:
            idle, self._idle = self._idle, []
        for w in idle:
            w.close()


_POOL = Pool()
atexit.register(_POOL.close)


def call(fn: str, *args, what: str, **kwargs) -> Any:
    """``fn(*args, **kwargs)`` in a worker process of the shared pool; see the module doc."""
    return _POOL.call(fn, *args, what=what, **kwargs)


def stream(fn: str, *args, what: str, **kwargs) -> Iterator[Any]:
    """What generator ``fn(*args, **kwargs)`` yields, run in a worker process of the shared pool."""
    return _POOL.stream(fn, *args, what=what, **kwargs)


def pool() -> Pool:
    return _POOL


# ---------------------------------------------------------------------------------------------
# the worker side

# How often a worker checks that its host still runs (:func:`_leave_when_orphaned`).
ORPHAN_CHECK_S = 1.0


def _leave_when_orphaned(host: int) -> None:
    """End this worker within ORPHAN_CHECK_S of its host's end. A host killed outright (``kill
    -9``, an editor's crash) closes the pipes, but a worker busy with a call (a 4K segment:
    minutes of MVTools) would only notice at its next write, computing for nobody meanwhile. When
    the host is gone the worker is re-parented (to init or a subreaper), which ``getppid`` shows."""
    def watch() -> None:
        while os.getppid() == host:
            time.sleep(ORPHAN_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="zstsr-orphan-watch", daemon=True).start()


def _serve(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # the main process decides when to stop
    _leave_when_orphaned(os.getppid())
    from .direct import keep_frame_memory, release_free_memory

    keep_frame_memory(one_arena=True)                    # frames are megabytes (vs_zstsr/direct.py)
    out = os.fdopen(os.dup(1), "wb")                     # the messages' own pipe ...
    os.dup2(2, 1)                                        # ... so a plugin's prints cannot corrupt it
    inp = sys.stdin.buffer
    ring = _Ring(inp)
    shared = _ArgsView(int(argv[argv.index(_ARGS_FD) + 1])) if _ARGS_FD in argv else None
    if shared is not None:
        os.set_inheritable(shared.fd, False)             # not for a plugin's own child processes
    while True:
        try:
            request = _recv(inp, args=shared)
        except EOFError:
            return
        result = item = None
        try:
            if request[0] == "unreadable":   # e.g. an argument of a class this process cannot import
                raise request[1]
            fn, args, kwargs, streaming, use_ring = request
            result = _resolve(fn)(*args, **kwargs)
            if streaming:
                for item in result:
                    _send(out, ("item", item), ring if use_ring else None)
                result = None
            msg = ("done", result)
        except Exception as e:  # noqa: BLE001 - every error goes back to the caller
            e.__traceback__ = e.__context__ = e.__cause__ = None   # (its frames hold the arguments)
            msg = ("error", e)
        del result, item, request
        args = kwargs = None
        gc.collect()                                     # a plugin's graph may sit in a cycle
        if shared is not None:
            shared.release()                             # the call's arguments, before the reply
        try:
            _send(out, msg)
        except (pickle.PicklingError, TypeError, AttributeError):
            _send(out, ("error", ZstsrError(f"{type(msg[1]).__name__}: {msg[1]}")))
        try:
            ring.drain()                 # the caller's acks, before its next request on stdin
        except EOFError:
            return
        del msg
        release_free_memory()                            # each call's memory, before the next one


if __name__ == "__main__":
    _serve(sys.argv[1:])
