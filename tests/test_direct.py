"""The streamed no-net path (vs_zstsr/direct.py): the same frames as the whole-clip arrays, read lazily."""
import dataclasses
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

from vs_zstsr import cuts, direct, io
from vs_zstsr.backprojection import temporal_backproject
from vs_zstsr.ladder import Ladder, plan
from vs_zstsr.methods import flow_available
from vs_zstsr.resample import temporal_interpolate


def _clip(t=9, h=40, w=48, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((h, w + 3 * t, 3), dtype=np.float32)
    return np.stack([base[:, 3 * i:3 * i + w] for i in range(t)])


class _Counting:
    """An iterator over frames that remembers how many were taken."""

    def __init__(self, frames):
        self.frames, self.taken = frames, 0

    def __iter__(self):
        for f in self.frames:
            self.taken += 1
            yield f


@pytest.mark.parametrize("kernel", direct.KERNELS)
@pytest.mark.parametrize("backproject", [True, False])
def test_kernels_equal_the_whole_clip_arrays(kernel, backproject):
    x = _clip()
    want = temporal_interpolate(x, 8, kernel)
    if backproject:
        want = temporal_backproject(want, x, 8)
    got = np.stack(list(direct.stream(iter(x), 8, kernel, backproject=backproject)))
    np.testing.assert_allclose(got, np.clip(want, 0, 1), atol=1e-6, rtol=0)


def test_reads_only_a_few_frames_ahead():
    x = _clip(t=30)
    src = _Counting(x)
    out = direct.stream(iter(src), 4, "cubic")
    for _ in range(4 * 10):
        next(out)
    assert src.taken <= 10 + 2 + 1   # cubic reaches 2 frames ahead


def test_a_cut_splits_the_clip_into_shots():
    a, b = _clip(t=5, seed=1), _clip(t=6, seed=2) * 0.2 + 0.7
    x = np.concatenate([a, b])
    assert cuts.detect(x, 0.2) == [5]
    got = np.stack(list(direct.stream(iter(x), 4, "cubic", cut_threshold=0.2)))
    want = np.concatenate([temporal_backproject(temporal_interpolate(s, 4, "cubic"), s, 4) for s in (a, b)])
    np.testing.assert_allclose(got, np.clip(want, 0, 1), atol=1e-6, rtol=0)


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
def test_flow_in_segments_equals_flow_on_the_whole_clip():
    from vs_zstsr.baselines import interpolate, peer_stream

    x = _clip(t=16, h=48, w=64)
    want = interpolate(x, 4, "flowfps", Fraction(30), backproject=True)
    src = _Counting(x)
    out = direct.stream(iter(src), 4, "flow", segment=3,
                        peer=lambda seg, keep: peer_stream(seg, 4, "flowfps", Fraction(30), keep))
    got = [next(out) for _ in range(4)]
    # what the first segment holds (3 inside, its context after it and, a shot's first, before it
    # inside too) and the next one (read while the peer works on the first)
    ctx = direct.PEER_CONTEXT
    assert src.taken <= (3 + ctx) + (3 + 2 * ctx) < len(x)
    got = np.stack(got + list(out))
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("method", ["flow", "cubic"])
def test_a_streams_groups_are_its_own_frames_and_only_those_are_computed(method):
    """``groups``: the output of a few LTR frames only, the same frames as the whole stream's,
    and a peer is asked for no others (a filter chunk's window of 7 frames had MVTools
    interpolate all 7 to keep 1)."""
    from vs_zstsr.baselines import peer_stream

    x, f = _clip(t=12, h=48, w=64), 4
    asked = []

    def peer(seg, keep):
        asked.append(keep[1])
        return peer_stream(seg, f, "flowfps", Fraction(30), keep)

    kw = {"peer": peer, "segment": 3} if method == "flow" else {}
    if method == "flow" and not flow_available():
        pytest.skip("MVTools not installed")
    whole = np.stack(list(direct.stream(iter(x), f, method, **kw)))
    for first, count in ((0, 1), (4, 1), (5, 4), (9, 3)):
        asked.clear()
        got = np.stack(list(direct.stream(iter(x), f, method, groups=(first, count), **kw)))
        np.testing.assert_array_equal(got, whole[first * f:(first + count) * f], err_msg=f"{first}+{count}")
        if method == "flow":
            assert sum(asked) == count


def _repeating_peer(seg, keep, factor=4):
    """A peer without motion: each kept LTR frame repeated (finish_group back-projects it to itself)."""
    lead, count = keep
    for i in range(lead, lead + count):
        for _ in range(factor):
            yield io.as_float(seg[i]).copy()


def test_the_next_segment_is_read_while_the_peer_works_on_this_one():
    """direct._peer_stream plans segment k+1 (reads its frames, finds its cuts, continues its shot
    ends) on a thread of its own once the peer has handed out segment k's first frame: here the
    peer of the first segment then waits until the frames of the second have been read, which would
    never happen if they were read after it."""
    import threading

    x = _clip(t=16)
    src = _Counting(x)
    second_read = threading.Event()
    calls = []

    def peer(seg, keep):
        calls.append(len(seg))
        for k, y in enumerate(_repeating_peer(seg, keep)):
            if len(calls) == 1 and k == 1:     # its first frame handed out: the peer is at work
                deadline = time.monotonic() + 10
                while src.taken < 12 and time.monotonic() < deadline:   # the second segment's last frame
                    time.sleep(0.01)
                if src.taken >= 12:
                    second_read.set()
            yield y

    got = np.stack(list(direct.stream(iter(src), 4, "flow", segment=3, peer=peer)))
    assert second_read.is_set()
    np.testing.assert_array_equal(got, np.repeat(x, 4, axis=0))
    assert not [t for t in threading.enumerate() if t.name == "zstsr-next-segment"]


def test_an_error_reading_ahead_comes_where_its_segment_would_have_begun_and_closing_waits_for_the_reader():
    """An error reading the next segment's frames (a damaged video) is raised in the caller's
    thread once this segment's frames are all out, as it was when segments were read one after the
    other; a stream closed early returns once the next segment's reading is over."""
    import threading

    from vs_zstsr.errors import ZstsrError

    x = _clip(t=16)

    def frames(fail_at):
        for i, f in enumerate(x):
            if i == fail_at:
                time.sleep(0.2)      # still reading when the stream is closed (below)
                raise ZstsrError(f"frame {i} is damaged")
            yield f

    out = direct.stream(frames(9), 4, "flow", segment=3, peer=_repeating_peer)
    got = []
    with pytest.raises(ZstsrError, match="frame 9 is damaged"):
        for y in out:
            got.append(y)
    assert len(got) == 5 * 4      # the first segment's 5 inside frames (a shot's first: 3 + context)
    out = direct.stream(frames(9), 4, "flow", segment=3, peer=_repeating_peer)
    next(out)
    out.close()
    assert not [t for t in threading.enumerate() if t.name == "zstsr-next-segment"]


LEFT_OPEN_BY_AN_ERROR = """
import time
import numpy as np
from vs_zstsr import direct

def frames():
    while True:
        time.sleep(0.05)
        yield np.zeros((8, 8, 3), np.float32)

def peer(seg, keep):
    for i in range(keep[0], keep[0] + keep[1]):
        for _ in range(4):
            yield np.float32(seg[i])

def run():
    out = direct.stream(frames(), 4, "flow", segment=3, peer=peer)
    next(out)
    next(out)
    raise RuntimeError("boom")     # its traceback keeps the stream open, its next segment being read, to the exit

run()
"""


def test_an_error_while_the_next_segment_is_read_ends_the_process():
    """A stream left open by an uncaught error (its traceback holds it to the interpreter's exit)
    while its next segment is read on another thread: the process ends, it does not wait for that
    thread at exit (which never ends then)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-c", LEFT_OPEN_BY_AN_ERROR], capture_output=True, text=True, timeout=60,
                       env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert r.returncode == 1 and "RuntimeError: boom" in r.stderr


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
@pytest.mark.parametrize("finish", [direct.Finish(True, True, 8), direct.Finish(False, False, 8),
                                    direct.Finish(True, False, 16)])
def test_flow_finished_in_its_worker_is_flow_finished_here_quantized(finish):
    """Back-projection, clipping and quantizing done in VapourSynth (the CLI's path) give what the
    float path gives, quantized as the writer does: within one level, where a value is a tie."""
    from vs_zstsr.baselines import peer_stream

    x = _clip(t=7, h=48, w=64)
    fl = lambda seg, keep: (np.clip(y, 0, 1, out=y) if finish.clip_input else y
                            for y in peer_stream(seg, 4, "flowfps", Fraction(30), keep))
    want = [io.quantize(y, finish.bits) for y in direct.stream(iter(x), 4, "flow", segment=3, peer=fl,
                                                               backproject=finish.backproject)]
    got = list(direct.stream(iter(x), 4, "flow", segment=3, finished=True, backproject=finish.backproject,
                             peer=lambda seg, keep: peer_stream(seg, 4, "flowfps", Fraction(30), keep, finish)))
    assert [y.dtype for y in got] == [want[0].dtype] * len(want) == [np.uint8 if finish.bits == 8 else np.uint16] * 28
    d = np.abs(np.stack(got).astype(np.int64) - np.stack(want))
    assert d.max() <= 1 and (d > 0).mean() < 1e-2


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
def test_frames_read_from_a_video_cross_to_flows_worker_as_samples_and_give_the_same_frames(monkeypatch):
    """A segment of frames on the 8-bit grid (as read from a video) goes to MVTools' worker as uint8
    (io.compact: a quarter of the bytes it holds), a virtual frame as float32; the frames that come
    back are the float path's, value for value, finished or not."""
    from vs_zstsr import baselines, native

    x = io.dequantize(io.quantize(_clip(t=5, h=48, w=64), 8), 8)
    seg = direct.FrameList(list(x) + [np.clip(x[-1] + np.float32(1e-3), 0, 1)])   # + a virtual frame
    sent = []
    real_stream = native.stream

    def spy(fn, ltr, *args, **kw):
        sent.append([f.dtype for f in ltr])
        return real_stream(fn, ltr, *args, **kw)

    monkeypatch.setattr(native, "stream", spy)
    for finish in (None, direct.Finish(True, True, 8)):
        here = baselines.peer_frames(seg, 4, "flowfps", Fraction(30), yuv=finish is None, finish=finish)
        want = np.stack([baselines.yuv16_to_rgb(y) if finish is None else y for y in here])   # as peer_stream
        got = np.stack(list(baselines.peer_stream(seg, 4, "flowfps", Fraction(30), finish=finish)))
        np.testing.assert_array_equal(got, want)
    assert sent == [[np.uint8] * 5 + [np.float32]] * 2


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
def test_flows_caches_change_no_frame(monkeypatch):
    """baselines.FLOW_CACHES (fixed caches on MVTools' graph, for speed and memory) changes no
    value: the same frames as with VapourSynth's automatic caches and with none, finished and not,
    every node named."""
    from vs_zstsr import baselines

    x = _clip(t=5, h=48, w=64)
    fin = direct.Finish(True, True, 8)
    runs = {}
    for label, frames in (("auto", None), ("shipped", ...), ("none", 0), ("one", 1)):
        caches = {k: (v if frames is ... else frames) for k, v in baselines.FLOW_CACHES.items()}
        monkeypatch.setattr(baselines, "FLOW_CACHES", caches)
        runs[label] = (np.stack(list(baselines.peer_frames(x, 4, "flowfps", Fraction(30)))),
                       np.stack(list(baselines.peer_frames(x, 4, "flowfps", Fraction(30), finish=fin))))
    first = runs.pop("auto")
    assert first[0].shape == (20, 48, 64, 3) and first[1].dtype == np.uint8
    for got in runs.values():
        np.testing.assert_array_equal(got[0], first[0])
        np.testing.assert_array_equal(got[1], first[1])


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
def test_flows_fixed_caches_fill_each_frame_about_twice(monkeypatch):
    """With FLOW_CACHES as shipped, each LTR frame is filled into VapourSynth about twice (without
    caches: once per request, several times that), and the limit on VapourSynth's caches leaves
    room for what the fixed caches hold."""
    import vapoursynth as vs

    from vs_zstsr import baselines, io

    fills = []
    real = io.dequantize_into

    def counted(src, dst):
        fills.append(1)
        return real(src, dst)

    monkeypatch.setattr(io, "dequantize_into", counted)
    # with more threads the counts depend on how requests meet in time (two: 12-14 against 24-92);
    # one thread asks in one order (14 against 781)
    monkeypatch.setattr(vs.core, "num_threads", 1)
    x = _clip(t=6, h=48, w=64)
    fin = direct.Finish(True, True, 8)
    counts = {}
    for label, caches in (("shipped", baselines.FLOW_CACHES), ("none", dict.fromkeys(baselines.FLOW_CACHES, 0))):
        monkeypatch.setattr(baselines, "FLOW_CACHES", caches)
        fills.clear()
        list(baselines.peer_frames(x, 8, "flowfps", Fraction(30), finish=fin))
        counts[label] = len(fills) // 3      # a fill is one call per plane
        if label == "shipped":
            limit = vs.core.max_cache_size
    # each frame filled for its YUV conversion and for its group's error (the error's LTR frame),
    # a few twice at the segment's ends; without caches at each of its many requests
    assert 12 <= counts["shipped"] <= 15 and counts["none"] > 10 * counts["shipped"], counts
    assert limit >= baselines.flow_cache_mb(48, 64) + 1      # the fixed caches' MiB on top


def test_flows_cache_limit_grows_with_the_frame_and_never_above_the_cores_own(monkeypatch):
    """baselines.flow_cache_mb: 1 GiB up to 4K, FLOW_CACHE_FRAMES YUV 16-bit frames above (MVTools'
    buffers need room: docs/BENCHMARKS.md); and flow sets the core's limit to it, never above what
    the core had before flow first ran, whatever clip came before."""
    import vapoursynth as vs

    from vs_zstsr import baselines

    mib = 2 ** 20
    assert baselines.flow_cache_mb(1080, 1920) == baselines.flow_cache_mb(1440, 2560) == baselines.FLOW_CACHE_MB
    assert baselines.flow_cache_mb(2160, 3840) == baselines.FLOW_CACHE_MB
    assert baselines.flow_cache_mb(4320, 7680) * mib >= baselines.FLOW_CACHE_FRAMES * 4320 * 7680 * 6 > 2 * 2 ** 30
    core = vs.core
    before = core.max_cache_size
    monkeypatch.setattr(baselines, "_CORE_CACHE_MB", None)
    try:
        core.max_cache_size = 1500
        assert baselines._core_cache_mb(core) == 1500
        core.max_cache_size = 700          # a smaller clip's limit: a larger clip still gets its own
        assert min(baselines._core_cache_mb(core), baselines.flow_cache_mb(4320, 7680)) == 1500
    finally:
        core.max_cache_size = before


def test_the_writer_takes_frames_quantized_as_it_stores_them(tmp_path):
    x = _clip(t=3)
    with io.VideoWriter(tmp_path / "a.mkv", 48, 40, Fraction(24)) as w:
        for f in x:
            w.write(io.quantize(f, 8) if w.count % 2 else f)
        with pytest.raises(ValueError, match="uint16 frame for a 8-bit writer"):
            w.write(io.quantize(x[0], 16))
    np.testing.assert_array_equal(np.stack(list(io.read_frames(tmp_path / "a.mkv"))), io.as_written(x, 8))


@pytest.mark.parametrize("method", ["linear", "cubic", "flow"])
def test_ladder_stream_equals_ladder_run(method):
    if method == "flow" and not flow_available():
        pytest.skip("needs VapourSynth and MVTools")
    x = _clip(t=7)
    ladder = Ladder(plan(40, 48, 8, method))
    assert ladder.direct
    np.testing.assert_allclose(np.stack(list(ladder.stream(iter(x)))), ladder.run(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("codec", ["ffv1", "png"])
def test_background_writer_writes_what_the_plain_one_does(tmp_path, codec):
    x = _clip(t=5)
    ext = ".mkv" if codec == "ffv1" else "/"
    for bg in (False, True):
        assert io.write_video(tmp_path / f"o{bg}{ext}", iter(x), Fraction(24), background=bg) == 5
    a, b = (io.read_video(tmp_path / f"o{bg}{ext}")[1] for bg in (False, True))
    np.testing.assert_array_equal(a, b)


def test_background_writer_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "o.mkv"
    with pytest.raises(RuntimeError):
        with io.VideoWriter(target, 48, 40, Fraction(24), background=True) as w:
            w.write(_clip(t=1)[0])
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("depth", [8, 10, 16])
def test_ffvhuff_is_lossless(tmp_path, depth):
    x = _clip(t=2, h=15, w=21)      # odd sizes too
    io.write_video(tmp_path / "o.nut", iter(x), Fraction(24000, 1001), bit_depth=depth, codec="ffvhuff")
    info, y = io.read_video(tmp_path / "o.nut")
    assert info.rate == Fraction(24000, 1001)
    assert info.codec == "ffvhuff"
    scale = 255 if depth == 8 else 65535
    np.testing.assert_allclose(y, np.floor(x * scale + 0.5) / scale, atol=1e-6 if depth == 8 else 1e-3 / 65535 + 1 / 1023)


def test_last_step_to_full_size_group_by_group():
    from vs_zstsr.backprojection import spatiotemporal_backproject, spatiotemporal_backproject_groups
    rng = np.random.default_rng(0)
    big, small = rng.random((7, 32, 48, 3), dtype=np.float32), rng.random((56, 16, 24, 3), dtype=np.float32)
    whole = spatiotemporal_backproject(small, big, 8)
    np.testing.assert_allclose(spatiotemporal_backproject_groups(small, big, 8, 2, 4), whole[16:48], atol=1e-6)


def test_large_frame_ladder_windows_equal_the_whole_clip():
    """A plan whose last step is the spatial back-projection to full size (large frames)."""
    from vs_zstsr.ladder import LadderPlan, Rung
    x = _clip(t=9, h=32, w=48)
    ladder = Ladder(LadderPlan(4, [Rung((8, 12), 1), Rung((16, 24), 2)], size=(32, 48), padded=(32, 48)),
                    direct=False)
    whole = ladder.run(x)
    parts = [ladder.run(x[max(0, s - ladder.context):s + 3 + ladder.context],
                        keep=(s - max(0, s - ladder.context), 3)) for s in (0, 3, 6)]
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-6)


_FAULTS = """
import resource, sys
import numpy as np
from vs_zstsr import direct
kept = direct.keep_frame_memory() if sys.argv[1] == "keep" else True
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones((1080, 1920, 3), np.float32)          # the heap is grown once
f0 = faults()
for _ in range(10):                          # then frame after frame, as the streamed path makes them
    np.multiply(np.ones((1080, 1920, 3), np.float32), 2)
direct.release_free_memory()
print(kept, (faults() - f0) // 10)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_frame_sized_arrays_reuse_memory():
    """keep_frame_memory: a new frame-sized array takes memory a freed one left (no fresh pages
    for the kernel to zero), where by default each one faults in pages of its own."""
    def run(mode):
        out = subprocess.run([sys.executable, "-c", _FAULTS, mode], check=True, capture_output=True, text=True)
        kept, per_frame = out.stdout.split()
        return kept == "True", int(per_frame)

    kept, reused = run("keep")
    if not kept:
        pytest.skip("not glibc")
    assert reused < 100 < run("default")[1]


_BLOCKS = """
import os, sys
import numpy as np
from vs_zstsr import direct
kept = direct.keep_frame_memory() if sys.argv[1] == "keep" else False
apart = direct.heap_blocks_up_to(6 * 2 ** 20)
def given_back(nbytes):   # MiB of a freed block's pages that left the resident set
    rss = lambda: int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    x = np.ones(nbytes // 4, np.float32)
    before = rss()
    del x
    return round(before - rss())
print(kept, apart, given_back(4 * 2 ** 20), given_back(8 * 2 ** 20))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_blocks_above_a_size_get_pages_of_their_own_only_where_frame_memory_is_kept():
    """heap_blocks_up_to (MVTools' worker, for its clip's float planes): a block above the size is
    mapped on its own and its pages go back when it is freed; a smaller one stays on the heap for
    the next (its pages kept); a process that did not keep frame memory (a host loading the filter)
    is left as it was."""
    def run(mode):
        out = subprocess.run([sys.executable, "-c", _BLOCKS, mode], check=True, capture_output=True, text=True)
        kept, apart, small, large = out.stdout.split()
        return kept == "True", apart == "True", int(small), int(large)

    kept, apart, small, large = run("keep")
    if not kept:
        pytest.skip("not glibc")
    assert apart and (small, large) == (0, 8)
    assert run("host") == (False, False, 4, 8)    # glibc's own thresholds: both mapped on their own


def test_a_peer_gets_the_streams_own_frames_not_a_stacked_copy():
    """A segment reaches the peer as a FrameList of the frames the stream holds (at 4K a stacked
    copy was 0.8 GB more), sized as their stack would be."""
    x = list(_clip(t=9))
    got = []

    def peer(seg, keep):
        assert isinstance(seg, direct.FrameList) and seg.shape == (len(seg),) + x[0].shape
        got.append(all(any(s is f for f in x) for s in seg))
        lead, count = keep
        return (seg[i].copy() for i in range(lead, lead + count) for _ in range(2))

    out = list(direct.stream(iter(x), 2, "flow", segment=3, peer=peer, backproject=False))
    assert len(out) == 18 and len(got) >= 3 and all(got)
    assert all(np.array_equal(out[2 * i], x[i]) for i in range(9))


def test_a_peers_frames_read_from_a_video_are_held_as_their_samples():
    """Frames on the 8-bit grid (as read from a video) are held as their uint8 samples (io.compact:
    a quarter of the memory) and reach the peer so, a virtual frame as float32; the output is the
    float frames' own."""
    x = list(io.dequantize(io.quantize(_clip(t=9), 8), 8))
    kinds = []

    def peer(seg, keep):
        kinds.append([f.dtype for f in seg])
        return _repeating_peer(seg, keep)

    want = list(direct.stream(iter(x), 4, "flow", segment=3, extend=2, peer=lambda seg, keep: _repeating_peer(
        direct.FrameList(io.as_float(f) for f in seg), keep)))
    got = list(direct.stream(iter(x), 4, "flow", segment=3, extend=2, peer=peer))
    assert kinds[0][:3] == [np.float32] * 2 + [np.uint8]           # the shot's start: 2 virtual frames
    assert kinds[-1][-3:] == [np.uint8] + [np.float32] * 2         # and its end
    assert all(sum(d == np.uint8 for d in k) == len(k) - 2 * (k[0] == np.float32) - 2 * (k[-1] == np.float32)
               for k in kinds)
    np.testing.assert_array_equal(np.stack(got), np.stack(want))


def test_a_shot_ends_virtual_frames_are_made_only_when_read_and_equal_its_continuation(monkeypatch):
    """The direct path's virtual frames past a shot's end are shotends.continuation's frames
    exactly (also when asked for by a NumPy index: a NumPy integer times float32 motion is
    float64), made one at a time as read: cubic reads 2 of the 3 at each end."""
    from vs_zstsr import shotends

    base = np.random.default_rng(3).random((40, 60, 3), dtype=np.float32)
    clip = [np.roll(base, 2 * i, axis=1) for i in range(6)]
    src = direct._Frames(iter(clip), 0.0, extend=3)
    src.has(6)
    before, after = shotends.continuation(clip[0], clip[1], 3), shotends.continuation(clip[5], clip[4], 3)
    for k in (3, 1, 2):
        assert np.array_equal(src.at(np.int64(-k), 0, 6), before[k - 1])
        assert np.array_equal(src.at(np.int64(5 + k), 0, 6), after[k - 1])
    made = []
    warp = shotends.warp
    monkeypatch.setattr(shotends, "warp", lambda f, u, *a, **k: made.append(a) or warp(f, u, *a, **k))
    assert len(list(direct.stream(iter(clip), 8, "cubic", extend=3))) == 48
    assert made.count((shotends.KERNEL, shotends.EDGE)) == 4     # 2 frames at each end, not 3


def _smooth_clip(t=5, h=48, w=64):
    """Colours that change over a few pixels, panning: chroma subsampling keeps most of them (on
    pixel noise any two chroma filters differ by levels)."""
    from vs_zstsr.resample import resize_spatial

    base = resize_spatial(_clip(t=1, h=h // 8, w=(w + 3 * t) // 8), h, w + 3 * t)[0]
    return np.clip(np.stack([base[:, 3 * i:3 * i + w] for i in range(t)]), 0, 1)


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
@pytest.mark.parametrize("codec, pix_fmt, depth", [("ffv1", "yuv420p", 8), ("prores", "yuv422p10le", 8),
                                                   ("ffvhuff", "yuv444p", 8)])
def test_flow_finished_in_the_writers_pixel_format_is_stored_as_the_writer_stores_rgb(tmp_path, codec, pix_fmt,
                                                                                      depth):
    """MVTools' worker converts its finished frames to the writer's Y'CbCr format (io.Planar), which
    the writer encodes as they are; the writer converts RGB frames the same way (io.to_planes): the
    two files are the same (a local render and --ray's, whose frames reach the writer as RGB), but
    for quantizing's ties (Finish), and read back as close to the frames as swscale's conversion
    makes them, or closer."""
    from vs_zstsr.baselines import peer_stream

    x = _smooth_clip()
    want = np.stack(list(direct.stream(iter(x), 4, "flow", segment=3, peer=lambda seg, keep: (
        np.clip(y, 0, 1, out=y) for y in peer_stream(seg, 4, "flowfps", Fraction(30), keep)))))
    got = {}
    for how in ("worker", "writer", "swscale"):
        path = tmp_path / f"{how}.{ {'prores': 'mov', 'ffvhuff': 'nut'}.get(codec, 'mkv')}"
        with io.VideoWriter(path, 64, 48, Fraction(120), depth, codec, pix_fmt=pix_fmt) as w:
            assert w.planes is not None and w.planes.pix_fmt == pix_fmt and w.planes.matrix == 6   # SD: BT.601
            planes = w.planes if how == "worker" else None
            if how == "swscale":
                w.planes = None    # the writer's conversion before io.to_planes
            finish = direct.Finish(True, True, io.sample_bits(depth), planes=planes)
            frames = list(direct.stream(iter(x), 4, "flow", segment=3, finished=True, peer=lambda seg, keep: (
                peer_stream(seg, 4, "flowfps", Fraction(30), keep, finish))))
            assert {f.shape for f in frames} == {(w.planes.size,) if planes else (48, 64, 3)}
            for f in frames:
                w.write(f)
        got[how] = np.stack(list(io.read_frames(path)))
    psnr = {k: 10 * np.log10(1 / np.mean((v - want) ** 2)) for k, v in got.items()}
    d = np.abs(got["worker"] - got["writer"]) * 255
    assert (d > 0.5).mean() < 1e-3 and psnr["worker"] > psnr["swscale"] - 0.1 and psnr["swscale"] > 30, psnr


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
def test_baseline_flowfps_has_its_worker_make_the_writers_planes(tmp_path, monkeypatch):
    """`zstsr baseline -m flowfps` hands MVTools' worker the writer's Y'CbCr format, as `upsample
    --method flow` does (the conversion in the CLI's process was 15% of baseline's time at 1080p:
    docs/BENCHMARKS.md, "baseline's frames in the writer's format"); the file is the same as with
    the writer's own conversion of RGB frames (the test above: the same conversion)."""
    from click.testing import CliRunner

    from vs_zstsr import baselines, cli

    x = _smooth_clip()
    src = tmp_path / "in.mkv"
    io.write_video(src, x, Fraction(30), codec="ffv1", pix_fmt="yuv420p")
    finishes, real, mode = [], baselines.peer_stream, {}

    def spy(seg, factor, method, rate, keep, finish=None):
        finishes.append(finish)
        if mode["how"] == "writer":   # RGB frames, converted by the writer (baseline before this)
            finish = dataclasses.replace(finish, planes=None)
        return real(seg, factor, method, rate, keep, finish)

    monkeypatch.setattr(baselines, "peer_stream", spy)
    runs = {}
    for how in ("worker", "writer"):
        mode["how"] = how
        out = tmp_path / f"{how}.mkv"
        r = CliRunner().invoke(cli.main, ["baseline", str(src), "-o", str(out), "-f", "4", "-m", "flowfps", "-b"])
        assert r.exit_code == 0, r.output
        runs[how] = np.stack(list(io.read_frames(out)))
        assert io.probe(out).pix_fmt == "yuv420p" and len(runs[how]) == 4 * len(x)
    assert finishes and all(f.planes is not None and f.planes.pix_fmt == "yuv420p" for f in finishes)
    assert (np.abs(runs["worker"] - runs["writer"]) * 255 > 0.5).mean() < 1e-3


def test_the_writer_takes_planes_only_of_its_own_pixel_format(tmp_path):
    """A writer says which Y'CbCr planes it takes (io.Planar), none where its format is RGB, gray or
    has half a chroma sample at an edge, or its samples are deeper than 8 bits; a frame of other
    planes is refused."""
    cases = {("ffv1", "yuv420p", 48, 40, 8): "yuv420p", ("ffv1", "rgb24", 48, 40, 8): None,
             ("ffv1", "gray", 48, 40, 8): None, ("ffv1", "yuv420p", 47, 40, 8): None,
             ("ffv1", "yuv420p10le", 48, 40, 10): None,
             ("h264", "yuv420p", 48, 40, 8): "yuv420p", ("ffvhuff", "yuv422p", 48, 40, 8): "yuv422p"}
    for (codec, pix_fmt, w_, h_, depth), want in cases.items():
        ext = {"ffv1": ".mkv", "h264": ".mp4", "ffvhuff": ".nut"}[codec]
        w = io.VideoWriter(tmp_path / f"{codec}{pix_fmt}{w_}{ext}", w_, h_, Fraction(24), depth, codec,
                           pix_fmt=pix_fmt, gray=pix_fmt == "gray")
        assert (w.planes and w.planes.pix_fmt) == want, (codec, pix_fmt, w_)
        if w.planes is not None:
            assert w.planes.size == w_ * h_ * {"yuv420p": 3 / 2, "yuv422p": 2}[want]
            with pytest.raises(ValueError, match="not a frame of this writer's planes"):
                w.write(np.zeros(w.planes.size - 1, np.uint8))
            with pytest.raises(ValueError, match="not a frame of this writer's planes"):
                w.write(np.zeros(w.planes.size, np.uint16))
            w.write(np.full(w.planes.size, 128, np.uint8))    # mid-grey in limited range
            w.close()
            np.testing.assert_allclose(next(io.read_frames(w.path)), (128 - 16) / 219, atol=1 / 255)
        else:
            with pytest.raises(ValueError, match="not a frame of this writer's planes"):
                w.write(np.zeros(w_ * h_ * 3, np.uint8))
            w.write(np.zeros((h_, w_, 3), np.float32))
            w.close()
            assert next(io.read_frames(w.path)).max() < 1 / 255
