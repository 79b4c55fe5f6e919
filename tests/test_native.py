"""Native plugins in worker processes (vs_zstsr/native.py): a crash is an exception, never the end
of the process. The fixture ../shared/data/mvtools_crash_6x32x32.npy kills any process that runs
MVTools FlowFPS on it (issue 18); here it goes through every entry point that can reach flow.

The measured size guard (baselines.MIN_FLOW_SIZE) keeps flow off the fixture's 32x32 frames by
itself; the tests that need MVTools to crash lower the guard to 24 (``unguarded``), so that what
they check is the worker, not the guard."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, moving_blob_htr, run

from vs_zstsr import baselines, io, native
from vs_zstsr.resample import rect_downsample

FIXTURE = ROOT.parent / "shared" / "data" / "mvtools_crash_6x32x32.npy"
CRASH = "flow interpolation crashed on this clip"


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    if not FIXTURE.is_file():
        pytest.skip(f"{FIXTURE} is not here (../shared beside the checkout)")
    if not baselines.flow_available():
        pytest.skip("MVTools is not installed")
    return np.load(FIXTURE)


@pytest.fixture
def unguarded(monkeypatch):
    """Flow's size guard lowered, and the whole-pipeline self-check run at the clip's own size
    (it shrinks the clip 2x first: selfcheck.PIPELINE_SHRINK), so that the fixture reaches MVTools."""
    from vs_zstsr import selfcheck

    monkeypatch.setattr(baselines, "MIN_FLOW_SIZE", 24)
    monkeypatch.setattr(selfcheck, "PIPELINE_SHRINK", 1)


def doubled(crop: np.ndarray) -> np.ndarray:
    """12 frames whose rect-halving (the self-check's proxy at full size) is the crop itself."""
    return np.repeat(crop, 2, axis=0)


def write(path: Path, frames: np.ndarray) -> Path:
    io.write_video(path, frames, Fraction(30), bit_depth=16)   # FFV1: the crash survives the round trip
    return path


class Repeat:
    """A stand-in net that loses to every interpolator (no training, no onnxruntime)."""
    receptive_field = {"frames": 1, "pixels": 1}
    metadata = {}

    def run(self, clip):
        return np.repeat(clip, 2, axis=0)


@pytest.fixture
def fake_net(monkeypatch, tmp_path) -> Path:
    from vs_zstsr import model

    monkeypatch.setattr(model, "load_model", lambda *a, **k: Repeat())
    path = tmp_path / "net.onnx"
    path.write_bytes(b"a stand-in")
    return path


def error_lines(r) -> list[str]:
    return [ln for ln in r.stderr.splitlines() if ln.startswith("zstsr: error:")]


def one_error(r, needle: str, folder: Path) -> None:
    """Exit status 1, one ``zstsr: error:`` line (after any progress notes), no traceback, no output."""
    assert r.exit_code == 1 and "Traceback" not in r.stderr, r.output
    lines = error_lines(r)
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert not [p for p in folder.iterdir() if p.name.startswith("out") or "partial" in p.name]


def test_a_crash_is_an_exception_and_the_next_call_gets_a_fresh_worker():
    pool = native.Pool(1)
    try:
        first = pool.call("os:getpid", what="a worker")
        with pytest.raises(native.NativeCrash, match=r"^a test crashed: signal SIGSEGV"):
            pool.call("ctypes:string_at", 0, what="a test")
        with pytest.raises(native.NativeCrash, match="SIGABRT"):
            pool.call("os:abort", what="a test")
        assert pool.call("os:getpid", what="a worker") not in (first, None)
        assert pool.started == 3
        # arrays go both ways whole; a Python error comes back as itself, the worker lives on
        x = np.random.default_rng(0).random((3, 5, 7, 3), dtype=np.float32)
        np.testing.assert_array_equal(pool.call("numpy:negative", x, what="numpy"), -x)
        assert list(pool.stream("builtins:range", 3, what="range")) == [0, 1, 2]
        with pytest.raises(baselines.ZstsrError, match="needs frames of at least"):
            pool.call("vs_zstsr.baselines:check_flow_size", 8, 8, what="a check")
        assert pool.started == 3
    finally:
        pool.close()


CRASHY = """
import ctypes, os, signal
import numpy as np

def big_then_die(mb):
    yield np.ones(mb << 18, np.float32)      # through the ring: the caller acks it after copying it
    ctypes.string_at(0)                      # meanwhile the worker dies, as MVTools does on a later frame
"""

# A host that embeds Python without its signal set-up (vspipe) keeps SIGPIPE's default action.
SIGPIPE_HOST = """
import signal
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
from vs_zstsr import native
try:
    list(native.stream("crashy:big_then_die", 64, what="a test"))
except native.NativeCrash as e:
    print("NativeCrash:", e)
print("then", native.call("os:getpid", what="a worker"))
"""


def test_a_worker_that_dies_mid_stream_cannot_take_down_a_host_without_sigpipe_handling(tmp_path):
    (tmp_path / "crashy.py").write_text(CRASHY)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", SIGPIPE_HOST], env=env, capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, (r.returncode, r.stderr)      # not -13 (SIGPIPE)
        assert "NativeCrash: a test crashed: signal SIGSEGV" in r.stdout and "then " in r.stdout, r.stdout


ORPHAN_HOST = """
import os, sys, threading
from vs_zstsr import native
pool = native.Pool(1)
print(pool.call("os:getpid", what="a worker"), flush=True)
threading.Thread(target=pool.call, args=("time:sleep", 600), kwargs={"what": "a sleeper"}, daemon=True).start()
import time; time.sleep(0.5)
os.kill(os.getpid(), 9)     # the host dies outright while its worker is busy
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_busy_worker_leaves_soon_after_its_host_is_killed():
    r = subprocess.run([sys.executable, "-c", ORPHAN_HOST], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == -9, r.stderr
    worker = int(r.stdout.split()[0])
    deadline = time.monotonic() + 10 * native.ORPHAN_CHECK_S + 5
    while time.monotonic() < deadline:
        try:     # gone, or a zombie its new parent has not reaped yet
            if Path(f"/proc/{worker}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.1)
    os.kill(worker, 9)
    raise AssertionError("the worker outlived its killed host")


class HereOnly:
    """An argument whose class the worker cannot import (this test module is not on its path)."""


def test_a_worker_that_hangs_is_stopped_and_one_that_cannot_read_a_request_lives_on(monkeypatch):
    monkeypatch.setattr(native, "ANSWER_TIMEOUT_S", 1.0)
    pool = native.Pool(1)
    try:
        with pytest.raises(native.NativeCrash, match="did not answer in 1 s"):
            pool.call("time:sleep", 30, what="a sleeper")
        first = pool.call("os:getpid", what="a worker")
        with pytest.raises(baselines.ZstsrError, match="could not be read"):
            pool.call("builtins:repr", HereOnly(), what="repr")
        assert pool.call("os:getpid", what="a worker") == first and pool.started == 2
    finally:
        pool.close()


def test_streamed_frames_come_back_whole_through_the_ring():
    """Large streamed items cross the shared-memory ring (native._Ring), small ones the pipe; a
    larger item mid-stream makes a larger ring; an error after items, or a caller that stops
    early, leaves the next call a working worker."""
    pool = native.Pool(1)
    try:
        sizes = [(600, 800, 3), (2, 2), (600, 800, 3), (900, 1000, 3), (600, 800, 3), (5,)]
        xs = [np.random.default_rng(k).random(shape, dtype=np.float32) for k, shape in enumerate(sizes)]
        assert xs[0].nbytes >= native.RING_MIN_BYTES > xs[1].nbytes and xs[3].nbytes > xs[0].nbytes
        for _ in range(2):      # the second call reuses the worker and its ring
            got = list(pool.stream("builtins:map", np.negative, xs, what="numpy"))
            assert len(got) == len(xs) and all(np.array_equal(g, -x) for g, x in zip(got, xs))
        with pytest.raises(Exception):
            list(pool.stream("builtins:map", np.negative, xs[:3] + ["not an array"], what="numpy"))
        first = pool.stream("builtins:map", np.negative, xs, what="numpy")
        assert np.array_equal(next(first), -xs[0])
        first.close()           # stopped early: that worker is dropped
        assert np.array_equal(list(pool.stream("builtins:map", np.negative, xs[:1], what="numpy"))[0], -xs[0])
        assert pool.started == 2
    finally:
        pool.close()


def test_large_arguments_reach_the_worker_through_shared_memory(monkeypatch):
    """A call's large arrays cross the worker's shared arguments file (native._Args), copy-on-write
    in the worker: its writes stay its own, and the next call sees the next arguments."""
    written, put = [], native._Args.put
    monkeypatch.setattr(native._Args, "put", lambda self, views: written.append(1) or put(self, views))
    pool = native.Pool(1)
    try:
        rng = np.random.default_rng(4)
        x, y = (rng.random((300, 400, 3), dtype=np.float32) for _ in range(2))
        assert x.nbytes >= native.RING_MIN_BYTES
        np.testing.assert_array_equal(pool.call("numpy:negative", x, what="numpy"), -x)
        assert written and pool._idle[0].args.size == 0     # it went through the file, emptied after
        np.testing.assert_array_equal(pool.call("numpy:negative", y, what="numpy"), -y)   # not x's values
        # the argument itself as the result: still mapped when the call ends, made the worker's own
        np.testing.assert_array_equal(pool.call("numpy:asarray", y, what="numpy"), y)
        kept = x.copy()
        assert pool.call("numpy:copyto", x, np.float32(0), what="numpy") is None   # the worker writes its copy
        np.testing.assert_array_equal(x, kept)                                    # ... not the caller's
        np.testing.assert_array_equal(pool.call("numpy:negative", x, what="numpy"), -x)
        frames = [rng.random((200, 300, 3), dtype=np.float32) for _ in range(5)]   # a segment, larger
        np.testing.assert_array_equal(pool.call("numpy:stack", frames, what="numpy"), np.stack(frames))

        def no_memory(*a):
            raise OSError(12, "Cannot allocate memory")

        with monkeypatch.context() as m:      # the file cannot grow now: that request by the pipe
            m.setattr(native.os, "pwrite", no_memory)
            np.testing.assert_array_equal(pool.call("numpy:negative", y, what="numpy"), -y)
        np.testing.assert_array_equal(pool.call("numpy:negative", x, what="numpy"), -x)
        assert pool.started == 1
    finally:
        pool.close()
    monkeypatch.setattr(native, "SHARED_ARGS", False)   # turned off (native_transfer.py): the pipe
    pool = native.Pool(1)
    try:
        np.testing.assert_array_equal(pool.call("numpy:negative", x, what="numpy"), -x)
        assert pool._idle[0].args.fd == -1
    finally:
        pool.close()
    monkeypatch.setattr(native, "SHARED_ARGS", True)
    monkeypatch.delattr(native.os, "memfd_create")     # no memfd: the pipe, as before
    pool = native.Pool(1)
    try:
        np.testing.assert_array_equal(pool.call("numpy:negative", x, what="numpy"), -x)
        assert pool._idle[0].args.fd == -1
    finally:
        pool.close()


def test_calls_from_many_threads_share_the_pool():
    pool = native.Pool(2)
    got, xs = {}, {k: np.full((2, 4, 4, 3), k, np.float32) for k in range(6)}

    def work(k):
        got[k] = pool.call("numpy:negative", xs[k], what="numpy")

    threads = [threading.Thread(target=work, args=(k,)) for k in xs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    assert all(np.array_equal(got[k], -xs[k]) for k in xs) and pool.started <= 2


def test_the_fixture_crashes_mvtools_in_the_worker_and_flow_works_after(crop, unguarded):
    with pytest.raises(native.NativeCrash, match="MVTools FlowFPS crashed"):
        baselines.interpolate(crop, 2, "flowfps")
    padded = np.pad(crop, ((0, 0), (0, 16), (0, 16), (0, 0)), mode="edge")
    assert baselines.interpolate(padded, 2, "flowfps").shape == (12, 48, 48, 3)


@pytest.mark.parametrize("guard", ["measured", "lowered"])
def test_explicit_flow_on_the_fixture_is_one_error_line(tmp_path, crop, monkeypatch, guard):
    """`baseline -m flowfps` and `upsample --method flow`: one error line, exit 1, no output;
    refused by the size guard, or (guard lowered) MVTools' crash reported."""
    if guard == "lowered":
        monkeypatch.setattr(baselines, "MIN_FLOW_SIZE", 24)
    guarded = crop.shape[1] < baselines.MIN_FLOW_SIZE
    needle = "needs frames of at least" if guarded else "MVTools FlowFPS crashed: signal SIG"
    src = write(tmp_path / "crop.mkv", crop)
    one_error(run("baseline", src, "-o", tmp_path / "out.mkv", "-f", 2, "-m", "flowfps", ok=False), needle, tmp_path)
    # --scene-threshold 0: the crop's six frames as one shot (the detector may cut it up), as in the report
    one_error(run("upsample", src, "-o", tmp_path / "out.mkv", "-f", 2, "--method", "flow", "--scene-threshold", 0,
                  ok=False),
              needle, tmp_path)


def test_upsample_auto_drops_flow_that_crashes_and_renders(tmp_path, crop, unguarded, fake_net):
    src = write(tmp_path / "crop.mkv", doubled(crop))
    r = run("upsample", src, "-o", tmp_path / "out.mkv", "-f", 2, "--model", fake_net)
    said = [ln for ln in r.stderr.splitlines() if CRASH in ln]
    assert len(said) == 1 and "MVTools FlowFPS crashed" in said[0], r.stderr
    assert io.count_frames(tmp_path / "out.mkv") == 24


def test_the_self_check_drops_flow_that_crashes(crop, unguarded):
    from vs_zstsr import ladder, selfcheck

    logs = []
    p = selfcheck.choose_methods(ladder.plan(32, 32, 2), None, doubled(crop), (32, 32), log=logs.append)
    assert sum(CRASH in m for m in logs) == 1, logs
    assert p.rungs[0].method in ("cubic", "linear")
    assert "flow" not in logs[-1].split("->")[-2], logs       # the full-size ranking went on without it


def test_render_folder_with_the_crashing_clip(tmp_path, crop, unguarded, fake_net):
    """The other clips are rendered and the CSV names the failure (explicit flow); with the
    self-check (auto), the crashing clip falls back and is rendered too."""
    folder = tmp_path / "card"
    folder.mkdir()
    good = rect_downsample(moving_blob_htr(t=16, h=48, w=64), 2)
    write(folder / "a_good.mkv", good)
    write(folder / "b_crash.mkv", crop)
    out = tmp_path / "renders"
    r = run("render", folder, "-o", out, "-f", 2, "--codec", "ffv1", "--method", "flow", "--scene-threshold", 0,
            ok=False)
    assert r.exit_code == 1 and len(error_lines(r)) == 1 and "b_crash.mkv" in error_lines(r)[0], r.stderr
    rows = {Path(row["source"]).name: row for row in csv.DictReader(open(out / "zstsr_render.csv"))}
    assert rows["a_good.mkv"]["status"] == "ok" and (out / "a_good.mkv").is_file()
    assert rows["b_crash.mkv"]["status"].startswith("error: MVTools FlowFPS crashed: signal SIG"), rows
    assert not (out / "b_crash.mkv").exists()

    write(folder / "b_crash.mkv", doubled(crop))
    out2 = tmp_path / "renders2"
    r = run("render", folder, "-o", out2, "-f", 2, "--codec", "ffv1", "--model", fake_net)
    assert sum(CRASH in ln for ln in r.stderr.splitlines()) == 1, r.stderr
    rows = list(csv.DictReader(open(out2 / "zstsr_render.csv")))
    assert [row["status"] for row in rows] == ["ok", "ok"] and (out2 / "b_crash.mkv").is_file()


def test_the_vapoursynth_filter_survives_the_crash(crop, unguarded, fake_net):
    vs = pytest.importorskip("vapoursynth")
    from test_filter import array_clip

    from vs_zstsr import filter as F

    core = vs.core
    messages = []
    handle = core.add_log_handler(lambda level, msg: messages.append(msg))
    try:
        explicit = F.upsample(array_clip(core, crop), 2, method="flow")
        with pytest.raises(vs.Error, match="MVTools FlowFPS crashed"):
            explicit.get_frame(0)
        auto = F.upsample(array_clip(core, doubled(crop)), 2, model=str(fake_net))
        assert sum(CRASH in m for m in messages) == 1, messages
        assert auto.num_frames == 24 and auto.get_frame(23).width == 32
    finally:
        core.remove_log_handler(handle)


def test_a_flow_rung_that_crashes_falls_back_to_cubic_or_fails_when_asked_for(crop, unguarded):
    """A ladder whose flow was chosen by the self-check renders what MVTools crashed on with cubic
    (said once; frames flow handed out before it died are kept); one built for ``method="flow"``
    raises."""
    from vs_zstsr import ladder

    logs = []
    auto = ladder.Ladder(ladder.plan(32, 32, 2, "flow"), log=logs.append)
    out = auto.run(crop)
    assert out.shape == (12, 32, 32, 3)
    assert np.abs(rect_downsample(out, 2) - crop).mean() < 2e-3   # back-projected onto the input (then clipped)
    auto.run(crop)
    assert len(logs) == 1 and logs[0].startswith(CRASH + "; using cubic"), logs
    with pytest.raises(native.NativeCrash):
        ladder.Ladder(ladder.plan(32, 32, 2, "flow"), flow_fallback=None).run(crop)


def test_a_finished_flow_stream_that_crashes_finishes_the_rest_with_cubic(crop, unguarded):
    """The CLI's stream (flow's frames finished in the worker, vs_zstsr/direct.py's Finish): what
    MVTools left undone comes from cubic, back-projected, clipped and quantized here, so that every
    frame is there, as the writer stores it."""
    from vs_zstsr import ladder

    logs = []
    out = list(ladder.Ladder(ladder.plan(32, 32, 2, "flow"), log=logs.append).stream(iter(crop), bits=8))
    assert len(out) == 12 and all(y.dtype == np.uint8 and y.shape == (32, 32, 3) for y in out)
    assert np.abs(rect_downsample(io.dequantize(np.stack(out), 8), 2) - crop).mean() < 3e-3
    assert len(logs) == 1 and logs[0].startswith(CRASH + "; using cubic"), logs


def test_the_self_check_ranks_on_whole_frames_at_the_coarse_size(monkeypatch):
    """A frame wider than the self-check's crop: the coarse proxy is made from the whole frames
    (selfcheck.self_check_samples), not from the crop (a 32x32 proxy at 1080p x8)."""
    from vs_zstsr import ladder, selfcheck

    ltr = rect_downsample(moving_blob_htr(t=16 * 8, h=64, w=640, speed=2.0), 8)
    p = ladder.plan(64, 640, 4)
    size = selfcheck.coarse_size(p, (64, 640))
    crop, coarse = selfcheck.self_check_samples(lambda idx, s=None: ltr[idx], len(ltr), 0.0, size)
    assert crop.shape[1:3] == (64, selfcheck.SELF_CHECK_CROP) and coarse.shape[1:3] == size == (16, 160)
    seen = []
    real = selfcheck.interpolate
    monkeypatch.setattr(selfcheck, "interpolate", lambda clip, f, m: seen.append(clip.shape[1:3]) or real(clip, f, m))
    selfcheck.choose_methods(p, None, crop, (64, 640), candidates=("cubic", "linear"), coarse=coarse)
    assert seen[:2] == [(16, 160)] * 2 and seen[2:] == [(64, 512)] * 2


def test_a_netflow_rung_that_crashes_runs_the_net_as_trained_or_fails_when_asked_for(crop, unguarded):
    """netflow (the net's residual over flow's x2, vs_zstsr/methods.py NETS) chosen by the
    self-check: where MVTools crashes, the net as trained (said once); asked for by name: raises."""
    from vs_zstsr import ladder

    logs = []
    auto = ladder.Ladder(ladder.plan(32, 32, 2, "netflow"), Repeat(), log=logs.append)
    net = ladder.Ladder(ladder.plan(32, 32, 2, "net"), Repeat())
    np.testing.assert_array_equal(auto.run(crop), net.run(crop))
    assert len(logs) == 1 and logs[0].startswith(CRASH + "; using the net as trained"), logs
    with pytest.raises(native.NativeCrash):
        ladder.Ladder(ladder.plan(32, 32, 2, "netflow"), Repeat(), flow_fallback=None).run(crop)
