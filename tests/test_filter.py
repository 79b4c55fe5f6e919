"""The VapourSynth filter: core.zstsr.Upsample (native shim) and vs_zstsr.upsample, in-process and in vspipe.

Every test uses ``method="cubic"`` (the ladder without a net: no model, no training), which is
enough to check the frame server: timing, props, formats, caching, ordering and threads.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import random
import subprocess
import sys
import textwrap
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

vs = pytest.importorskip("vapoursynth")

from conftest import moving_blob_htr, tiny_model  # noqa: E402
from test_footage import write_raw  # noqa: E402  (PyAV: rotation, timestamps, field order)
from vs_zstsr import filter as F  # noqa: E402
from vs_zstsr.baselines import frame_bytes  # noqa: E402
from vs_zstsr import io  # noqa: E402
from vs_zstsr.resample import rect_downsample  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VSPIPE = Path(vs.__file__).with_name("vspipe")
CHUNK = 3  # LTR frames per chunk in these tests, so that small clips have several chunks

# a preamble for .vpy scripts and subprocesses: small chunks, like the in-process tests
SMALL_CHUNKS = textwrap.dedent(f"""
    import vs_zstsr.filter as _F
    _orig = _F._make_renderer
    def _small(*a, **k):
        r = _orig(*a, **k)
        r.chunk = {CHUNK}
        return r
    _F._make_renderer = _small
""")


@pytest.fixture(scope="session")
def vs_env(tmp_path_factory) -> dict:
    """Environment in which vspipe runs: its own `vapoursynth config`, and the shim reachable."""
    shim = Path(F.plugin_path())
    if not shim.is_file():
        pytest.fail(f"the shim is not built ({shim}): run `pip install -e .` (or make)")
    env = dict(os.environ)
    env["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg"))
    subprocess.run([sys.executable, "-m", "vapoursynth", "config"], env=env, check=True,
                   capture_output=True)
    if not os.path.exists(os.path.join(vs.get_plugin_dir(), F.PLUGIN_NAME)):
        env["VAPOURSYNTH_EXTRA_PLUGIN_PATH"] = str(shim.parent)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="session")
def core():
    c = vs.core
    if not hasattr(c, "zstsr"):  # shim not in the plugin folder (not installed by make)
        c.std.LoadPlugin(F.plugin_path())
    return c


@pytest.fixture
def small_chunks(monkeypatch):
    orig = F._make_renderer

    def small(*a, **k):
        r = orig(*a, **k)
        r.chunk = CHUNK
        return r

    monkeypatch.setattr(F, "_make_renderer", small)


def vspipe(env, script: Path, *args, out: str = "-") -> subprocess.CompletedProcess:
    return subprocess.run([str(VSPIPE), *args, str(script), out], env=env, capture_output=True, timeout=120)


def array_clip(core, data: np.ndarray, rate=Fraction(30000, 1001)) -> vs.VideoNode:
    """An RGBS clip of float32 frames (T, H, W, 3)."""
    t, h, w, _ = data.shape
    blank = core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=t, fpsnum=rate.numerator,
                               fpsden=rate.denominator)

    def put(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), data[n, ..., p])
        return out

    return core.std.ModifyFrame(blank, blank, put)


def planes(frame) -> list[np.ndarray]:
    return [np.array(frame[p]) for p in range(frame.format.num_planes)]


def raw_bytes(clip, order=None, gbr: bool = False) -> bytes:
    """Frames as raw planes; ``gbr``: RGB planes in vspipe's raw order (G, B, R, like gbrp)."""
    order = range(clip.num_frames) if order is None else order
    perm = [1, 2, 0] if gbr and clip.format.color_family == vs.RGB else range(clip.format.num_planes)

    def one(i):
        ps = planes(clip.get_frame(i))
        return b"".join(ps[k].tobytes() for k in perm)
    return b"".join(one(i) for i in order)


@pytest.fixture(scope="module")
def ltr_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vs") / "ltr.mkv"
    io.write_video(path, moving_blob_htr(t=10, h=24, w=32), Fraction(30000, 1001), bit_depth=8)
    return path


# ---------------------------------------------------------------------------------------------

def test_import_is_lazy():
    code = "import sys, vs_zstsr; assert 'vapoursynth' not in sys.modules and 'torch' not in sys.modules; " \
           "f = vs_zstsr.upsample; assert 'vapoursynth' in sys.modules; print(f.__module__)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "vs_zstsr.filter"


def test_vspipe_upsample_matches_python_api(vs_env, tmp_path, ltr_file, core, small_chunks):
    script = tmp_path / "up.vpy"
    script.write_text(SMALL_CHUNKS + textwrap.dedent(f"""
        import vapoursynth as vs
        from vs_zstsr.filter import source
        clip = vs.core.zstsr.Upsample(source({str(ltr_file)!r}), 8, method="cubic")
        clip.set_output()
    """))
    info = vspipe(vs_env, script, "--info")
    assert info.returncode == 0, info.stderr.decode()
    text = info.stdout.decode()
    assert "Frames: 80" in text and "FPS: 240000/1001" in text and "Format Name: RGB24" in text
    r1 = vspipe(vs_env, script, "-r", "1")
    r4 = vspipe(vs_env, script, "-r", "4")
    assert r1.returncode == 0 and r4.returncode == 0, r1.stderr.decode() + r4.stderr.decode()
    assert hashlib.md5(r1.stdout).digest() == hashlib.md5(r4.stdout).digest()
    assert b"rendered chunk" in r1.stderr  # progress goes to VapourSynth's log

    src = F.source(ltr_file)
    api = F.upsample(src, 8, method="cubic")
    assert (api.num_frames, api.fps) == (80, Fraction(240000, 1001))
    assert raw_bytes(api, gbr=True) == r1.stdout  # pixel-identical to the Python API
    # and the API is the sequential whole-clip render of vs_zstsr.stream
    from vs_zstsr.options import UpsampleOptions
    from vs_zstsr.stream import Renderer, upsample_stream
    ltr = np.stack(list(io.read_frames(ltr_file)))
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=24, width=32)
    ref = np.stack(list(upsample_stream(list(ltr), r)))
    rgb = np.stack([np.stack(planes(api.get_frame(i)), -1) for i in range(80)]).astype(np.float32) / 255
    assert np.abs(rgb - np.clip(ref, 0, 1)).max() <= 0.5 / 255 + 1e-6


def test_props_timing_and_durations(core, small_chunks):
    data = np.random.default_rng(1).random((7, 16, 20, 3), dtype=np.float32)
    src = array_clip(core, data)
    src = core.std.SetFrameProps(src, _AbsoluteTime=10.0, Custom=42)
    out = core.zstsr.Upsample(src, factor=4, method="cubic")
    assert out.num_frames == 28 and out.fps == Fraction(120000, 1001)
    for j in (0, 5, 27):
        p = out.get_frame(j).props
        assert Fraction(p["_DurationNum"], p["_DurationDen"]) == Fraction(1001, 120000)
        assert p["Custom"] == 42  # the source frame's props are carried over
        assert p["_AbsoluteTime"] == pytest.approx(10.0 + (j % 4) * 1001 / 120000)


def test_any_order_and_threads_identical_to_sequential(core, small_chunks):
    data = np.random.default_rng(2).random((11, 16, 24, 3), dtype=np.float32)
    src = array_clip(core, data)
    seq = [raw_bytes(F.upsample(src, 8, method="cubic"), [i]) for i in range(88)]
    from vs_zstsr.options import UpsampleOptions
    from vs_zstsr.stream import Renderer, upsample_stream
    r = Renderer.create(None, UpsampleOptions(method="cubic"), height=16, width=24)
    ref = np.stack(list(upsample_stream(list(data), r)))
    got = np.stack([np.frombuffer(b, np.float32).reshape(3, 16, 24).transpose(1, 2, 0) for b in seq])
    assert np.array_equal(got, ref)

    out = F.upsample(src, 8, method="cubic")  # a fresh cache
    order = list(range(88))
    random.Random(0).shuffle(order)
    res: dict[int, bytes] = {}

    def work(ids):
        for i in ids:
            res[i] = raw_bytes(out, [i])

    threads = [threading.Thread(target=work, args=(order[k::6],)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(res[i] == seq[i] for i in range(88))


def test_chunk_cache_renders_each_chunk_once(core, small_chunks, monkeypatch):
    renders = []
    orig = F._make_renderer

    def counting(*a, **k):
        r = orig(*a, **k)
        real = r.render

        class Wrapped:
            chunk, context, run_context = r.chunk, r.context, r.run_context

            def render(self, window, lead, count, cut_at=None):
                renders.append((lead, count))
                return real(window, lead, count, cut_at)

            def cuts(self, window, lead, count):
                return r.cuts(window, lead, count)
        return Wrapped()

    monkeypatch.setattr(F, "_make_renderer", counting)
    src = array_clip(core, np.random.default_rng(3).random((9, 8, 8, 3), dtype=np.float32))
    out = F.upsample(src, 2, method="cubic")
    futures = [out.get_frame_async(i) for i in reversed(range(out.num_frames))]
    for f in futures:
        f.result()
    assert len(renders) == 3  # 9 frames / chunks of 3


FORMATS = ["GRAY8", "GRAY16", "YUV420P8", "YUV422P10", "YUV444P16", "YUV420P10", "RGB24", "RGB48",
           "RGBS", "RGBH", "GRAYS"]


@pytest.mark.parametrize("name", FORMATS)
def test_formats_round_trip(core, name):
    fmt = getattr(vs, name)
    f = core.get_video_format(fmt)
    top = (1 << f.bits_per_sample) - 1 if f.sample_type == vs.INTEGER else 1.0
    color = [top * 0.4] * f.num_planes if f.color_family != vs.YUV else \
        [top * 0.4, top * 0.5, top * 0.55] if f.sample_type == vs.FLOAT else \
        [int(top * 0.4), (top + 1) // 2, int(top * 0.55)]
    src = core.std.BlankClip(format=fmt, width=32, height=16, length=4, color=color)
    out = core.zstsr.Upsample(src, factor=2, method="cubic")
    assert out.format.id == src.format.id and out.num_frames == 8
    assert (out.width, out.height) == (32, 16)
    a, b = planes(src.get_frame(0)), planes(out.get_frame(5))
    tol = 1e-2 if f.sample_type == vs.FLOAT else max(1, top // 255)
    for pa, pb in zip(a, b):  # a still clip stays the same (up to rounding)
        assert np.abs(pa.astype(np.float64) - pb.astype(np.float64)).max() <= tol


def test_moving_yuv_values_sensible(core, small_chunks):
    data = moving_blob_htr(t=6, h=16, w=24)
    rgb = array_clip(core, data)
    yuv = core.resize.Bicubic(rgb, format=vs.YUV420P10, matrix_s="709")
    out = F.upsample(yuv, 2, method="cubic")
    back = core.resize.Bicubic(out, format=vs.RGBS, matrix_in_s="709")
    got = np.stack(planes(back.get_frame(5)), -1)
    assert out.format.id == vs.YUV420P10
    assert np.abs(got - data[2]).max() < 0.15  # near its own exposure's frame
    assert got.min() > -0.05 and got.max() < 1.05


# ---------------------------------------------------------------------------------------------
# errors

@pytest.mark.parametrize("call", ["api", "shim"])
def test_clear_errors(core, tmp_path, call):
    up = (lambda c, *a, **k: F.upsample(c, *a, **k)) if call == "api" else \
        (lambda c, *a, **k: core.zstsr.Upsample(c, *a, **k))
    clip = core.std.BlankClip(format=vs.YUV420P8, width=32, height=16, length=4)
    for factor in (3, 32, 1):
        with pytest.raises(vs.Error, match=r"^zstsr: factor must be a power of 2"):
            up(clip, factor)
    with pytest.raises(vs.Error, match=r"^zstsr: model file not found"):
        up(clip, 8, model=str(tmp_path / "missing.onnx"))
    bogus = tmp_path / "bogus.onnx"
    bogus.write_bytes(b"not a model")
    with pytest.raises(vs.Error, match=r"^zstsr: "):
        up(clip, 8, model=str(bogus))
    with pytest.raises(vs.Error, match=r"^zstsr: provider must be one of"):
        up(clip, 8, provider="metal")
    with pytest.raises(vs.Error, match=r"^zstsr: ensemble must be one of 1, 2, 4, 8, 16"):
        up(clip, 8, ensemble=3)
    var = core.std.BlankClip(varformat=True, varsize=True, length=4)
    spliced = core.std.Splice([clip, core.std.BlankClip(clip, format=vs.RGBS)], mismatch=True)
    for v in (var, spliced):
        with pytest.raises(vs.Error, match=r"^zstsr: the clip has a variable format or size"):
            up(v, 8)
    vfr = core.std.BlankClip(clip, fpsnum=0, fpsden=1)
    with pytest.raises(vs.Error, match=r"^zstsr: the clip has a variable or unknown frame rate"):
        up(vfr, 8)
    with pytest.raises(vs.Error, match=r"^zstsr: unsupported format"):
        up(core.std.BlankClip(format=vs.YUV410P8, width=32, height=16, length=4), 8)


def test_vspipe_error_is_one_clear_line(vs_env, tmp_path):
    script = tmp_path / "bad.vpy"
    script.write_text("import vapoursynth as vs\n"
                      "c = vs.core.std.BlankClip(format=vs.YUV420P8, width=32, height=16, length=4)\n"
                      "vs.core.zstsr.Upsample(c, 8, model='/nonexistent/model.onnx').set_output()\n")
    r = vspipe(vs_env, script, "--info")
    assert r.returncode != 0
    assert "zstsr: model file not found: /nonexistent/model.onnx" in r.stderr.decode()


def test_second_core_in_one_process(vs_env):
    """Two VapourSynth environments (two cores) in one process, each in its own thread: the shim
    keeps one implementation per core and registers it again for the second one."""
    code = textwrap.dedent("""
        import threading, vapoursynth as vs
        import numpy as np

        class Policy(vs.EnvironmentPolicy):
            def __init__(self):
                self.local = threading.local()
                self.envs = set()
            def on_policy_registered(self, api):
                self.api = api
            def on_policy_cleared(self):
                pass
            def get_current_environment(self):
                return getattr(self.local, "env", None)
            def set_environment(self, env):
                old = getattr(self.local, "env", None)
                self.local.env = env
                return old
            def is_alive(self, env):
                return env in self.envs

        policy = Policy()
        vs.register_policy(policy)
        sums = []

        def run():
            env = policy.api.create_environment()
            policy.envs.add(env)
            policy.local.env = env
            core = vs.core
            clip = core.std.BlankClip(format=vs.GRAY8, width=16, height=8, length=3, color=[77])
            out = core.zstsr.Upsample(clip, factor=2, method="cubic")
            sums.append((out.num_frames, int(np.asarray(out.get_frame(5)[0]).sum())))

        for _ in range(2):
            t = threading.Thread(target=run)
            t.start()
            t.join()
        print(sums)
        assert sums == [(6, 77 * 128)] * 2, sums
    """)
    r = subprocess.run([sys.executable, "-c", code], env=vs_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_example_script_runs(vs_env, ltr_file):
    r = vspipe(vs_env, ROOT / "examples" / "upsample.vpy", "-c", "y4m", "-a", f"input={ltr_file}",
               "-a", "method=cubic", "-a", "factor=4")
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.startswith(b"YUV4MPEG2 ") and b"F120000:1001" in r.stdout[:100]
    assert r.stdout.count(b"FRAME") == 40


def test_source_random_access(ltr_file, core):
    clip = F.source(ltr_file)
    ref = list(io.read_frames(ltr_file))
    assert clip.num_frames == 10 and clip.fps == Fraction(30000, 1001)
    rgb = core.resize.Point(clip, format=vs.RGBS)
    for i in (7, 2, 9, 0, 8, 1):
        assert np.array_equal(np.stack(planes(rgb.get_frame(i)), -1), ref[i])


# stored pixels -> what a player shows, for PyAV's set_display_rotation(degrees, hflip)
_SHOWN = {
    (90, False): lambda a: np.rot90(a, 1, axes=(1, 2)),
    (-90, False): lambda a: np.rot90(a, -1, axes=(1, 2)),
    (180, False): lambda a: a[:, ::-1, ::-1],
    (90, True): lambda a: a[:, ::-1, ::-1].transpose(0, 2, 1, 3),
}


@pytest.mark.parametrize("turn", list(_SHOWN))
def test_source_turns_rotated_files_upright(core, tmp_path, turn):
    rng = np.random.default_rng(5)
    stored = rng.integers(0, 256, (3, 3, 5, 3), dtype=np.uint8).repeat(4, 1).repeat(4, 2)  # 3 frames, 20x12
    shown = _SHOWN[turn](stored)
    src = tmp_path / "phone.mkv"
    write_raw(src, stored, rotation=turn[0], hflip=turn[1])
    clip = F.source(src)
    assert (clip.height, clip.width) == shown.shape[1:3] and clip.format.id == vs.RGB24
    for i in (2, 0, 1):
        assert np.array_equal(np.stack(planes(clip.get_frame(i)), -1), shown[i])


@pytest.mark.parametrize("pix_fmt, fmt", [("yuv420p", vs.YUV420P8), ("yuv422p", vs.YUV444P8),
                                          ("yuv422p10le", vs.YUV444P10)])
def test_source_turns_subsampled_yuv_like_read_frames(core, tmp_path, pix_fmt, fmt):
    data = (moving_blob_htr(t=3, h=16, w=24) * 255 + 0.5).astype(np.uint8)
    src = tmp_path / "phone.mkv"
    write_raw(src, data, pix_fmt=pix_fmt, rotation=90)
    clip = F.source(src)
    assert (clip.width, clip.height) == (16, 24) and clip.format.id == fmt  # 4:2:2 turned: 4:4:4
    ref = list(io.read_frames(src))
    rgb = core.resize.Bicubic(clip, format=vs.RGBS, matrix_in_s="470bg")
    for i in range(3):
        assert np.abs(np.stack(planes(rgb.get_frame(i)), -1) - ref[i]).mean() < 0.02


def test_source_reads_an_mpeg_program_stream_of_odd_height_in_any_order(core, tmp_path):
    # the shape of ../shared/data/cityCC0.mpg (720x405 MPEG-2 4:2:0 in an MPEG-PS file): no
    # VapourSynth 4:2:0 format of odd height, and seeks in a file without an index that land a
    # keyframe late; both stopped source() before
    noise = np.random.default_rng(0).random((40, 27, 48, 3)) * 0.5   # packets of many sectors: seeks land late
    data = (np.clip(moving_blob_htr(t=40, h=27, w=48) + noise, 0, 1) * 255 + 0.5).astype(np.uint8)
    src = tmp_path / "city.mpg"
    write_raw(src, data, codec="mpeg2video", pix_fmt="yuv420p", rate=25, options={"g": "6"})
    clip = F.source(src)
    assert (clip.width, clip.height, clip.num_frames) == (48, 27, 40) and clip.format.id == vs.YUV444P8
    import av
    with av.open(str(src)) as c:   # every frame decoded in order, the same 4:4:4 conversion
        ref = [[np.frombuffer(bytes(p), np.uint8).reshape(27, -1)[:, :48] for p in f.reformat(format="yuv444p").planes]
               for f in c.decode(video=0)]
    order = list(range(40))
    random.Random(3).shuffle(order)
    for i in order:
        assert all(np.array_equal(np.asarray(a), b) for a, b in zip(planes(clip.get_frame(i)), ref[i])), i


def test_source_refuses_alpha_and_interlaced_and_converts_variable_rate(core, tmp_path):
    data = (moving_blob_htr(t=3, h=16, w=16) * 255 + 0.5).astype(np.uint8)
    rgba = np.concatenate([data, np.full((3, 16, 16, 1), 128, np.uint8)], -1)
    write_raw(tmp_path / "a.mkv", rgba, pix_fmt="yuva420p")
    with pytest.raises(vs.Error, match=r"^zstsr: .*alpha channel") as e:
        F.source(tmp_path / "a.mkv")
    assert "\n" not in str(e.value)
    write_raw(tmp_path / "tv.mkv", data, field_order=2)  # top field first
    with pytest.raises(vs.Error, match=r"^zstsr: .*interlaced video \(top field first\).*--assume-progressive"):
        F.source(tmp_path / "tv.mkv")
    assert F.source(tmp_path / "tv.mkv", assume_progressive=True).num_frames == 3
    # 30 fps with frames 5 and 6 dropped: 12 frames at 30, the gap repeating the frame before
    levels = np.stack([np.full((16, 16, 3), (i + 1) * 16, np.uint8) for i in range(10)])
    write_raw(tmp_path / "vfr.nut", levels, pts=[3000 * t for t in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)],
               time_base=Fraction(1, 90000))
    clip = F.source(tmp_path / "vfr.nut")
    assert clip.num_frames == 12 and clip.fps == 30
    got = [int(np.asarray(clip.get_frame(i)[0])[0, 0]) // 16 - 1 for i in range(12)]
    assert got == [0, 1, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9]
    with pytest.raises(vs.Error, match=r"^zstsr: .*variable frame rate"):
        F.source(tmp_path / "vfr.nut", vfr="error")


def test_vspipe_with_a_model_matches_the_cli(vs_env, tmp_path, ltr_file):
    """Same input, same (small, untrained but non-trivial) model, the net on every rung:
    `core.zstsr.Upsample` in vspipe and `zstsr upsample` give the same frames."""
    pytest.importorskip("torch")
    from click.testing import CliRunner

    from vs_zstsr.cli import main
    from vs_zstsr.metrics import psnr

    model = tiny_model(tmp_path / "m.onnx")
    r = CliRunner().invoke(main, ["upsample", str(ltr_file), "-o", str(tmp_path / "cli.mkv"),
                                  "--model", str(model), "--method", "net"])
    assert r.exit_code == 0, r.output
    _, cli = io.read_video(tmp_path / "cli.mkv")
    script = tmp_path / "net.vpy"
    script.write_text(textwrap.dedent(f"""
        import vapoursynth as vs
        from vs_zstsr.filter import source
        vs.core.zstsr.Upsample(source({str(ltr_file)!r}), 8, model={str(model)!r}, method="net").set_output()
    """))
    out = vspipe(vs_env, script, "-r", "2")
    assert out.returncode == 0, out.stderr.decode()
    n, h, w = cli.shape[:3]
    gbr = np.frombuffer(out.stdout, np.uint8).reshape(n, 3, h, w)
    frames = np.stack([gbr[:, 2], gbr[:, 0], gbr[:, 1]], axis=-1).astype(np.float32) / 255
    assert frames.shape == cli.shape
    assert psnr(frames, cli) > 60


def test_trains_at_first_use_then_reuses_the_cached_model(core, tmp_path, monkeypatch):
    """model=None: train on the clip (progress in VapourSynth's log), cache the model keyed by the
    clip's content and the settings, and reuse it the next time."""
    pytest.importorskip("torch")
    import zstsr_trainer
    from vs_zstsr import fit

    monkeypatch.setenv("ZSTSR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fit, "default_preset", lambda: "fast")
    monkeypatch.setitem(zstsr_trainer.PRESETS, "fast",
                        zstsr_trainer.PRESETS["fast"].replace(width=4, budget_s=2.0))
    messages = []
    handle = core.add_log_handler(lambda level, msg: messages.append(msg))
    try:
        src = array_clip(core, rect_downsample(moving_blob_htr(t=64, h=32, w=48), 4))
        first = F.upsample(src, 2, method="net")
        models = list((tmp_path / "cache").glob("*.onnx"))
        # examples="auto": a within net and a both net, and the log says which one is used
        assert len(models) == 2 and any("training" in m for m in messages), messages
        assert any("group seam of each net's first rung" in m for m in messages), messages
        stamps = [m.stat().st_mtime_ns for m in models]
        messages.clear()
        second = F.upsample(src, 2, method="net")
        assert sum("using the model trained earlier" in m for m in messages) == 2, messages
        assert [m.stat().st_mtime_ns for m in models] == stamps
        assert raw_bytes(first) == raw_bytes(second)
        other = array_clip(core, rect_downsample(moving_blob_htr(t=64, h=32, w=48, seed=5), 4))
        F.upsample(other, 2, method="net")                      # another clip: other models
        assert len(list((tmp_path / "cache").glob("*.onnx"))) == 4
    finally:
        core.remove_log_handler(handle)


def test_the_shim_forwards_every_option(core, monkeypatch):
    seen = {}
    real = F._make_renderer

    def spy(model, options, **kw):
        seen.update(options=options)
        return real(model, options, **kw)

    monkeypatch.setattr(F, "_make_renderer", spy)
    src = array_clip(core, np.random.default_rng(0).random((4, 16, 20, 3), dtype=np.float32))
    core.zstsr.Upsample(src, 2, method="cubic", ensemble=8, finetune=1, tilesize=64, sc_threshold=0.5, padding="zeros")
    o = seen["options"]
    assert (o.engine.ensemble, o.train.finetune, o.engine.tilesize, o.cut_threshold) == (8, True, 64, 0.5)
    assert o.train.padding == "zeros"


def test_the_shim_registers_the_filters_arguments():
    """The C shim registers Upsample with the arguments Python's filter has (it asks Python for
    them when the plugin loads), so the two cannot drift."""
    assert vs.core.zstsr.Upsample.signature == F.shim_signature()
    names = [a.split(":")[0] for a in F.shim_signature().split(";") if a]
    assert names == list(inspect.signature(F.upsample).parameters)
    assert "num_streams" not in names    # no option that does nothing


def test_chunk_cache_counts_the_chunk_being_rendered():
    """Two chunks' worth of bytes: while a third renders only the last one is held beside it (at
    4K the two held beside the one rendering were 2.3 GB); once done, the last two are held."""
    held_while_rendering = []

    def render(c, frames):
        held_while_rendering.append(sorted(cache.done))
        return np.zeros(1000, np.uint8)

    cache = F._ChunkCache(2000, render)
    for c in range(4):
        cache.get(c, None)
    assert held_while_rendering == [[], [0], [1], [2]]
    assert list(cache.done) == [2, 3]
    cache.get(3, None)                       # held: not rendered again
    assert cache.rendered == 4
    small = F._ChunkCache(10_000, render)    # room for all: nothing dropped
    for c in range(4):
        small.get(c, None)
    assert list(small.done) == [0, 1, 2, 3]


def test_chunk_cache_drops_a_served_chunk_while_the_next_renders():
    """A chunk's worth of bytes: while the next chunk renders, the last one is held until each of
    its frames has been served, then dropped (at 4K it was 0.8 GB beside the one rendering); a
    chunk with frames not yet served is kept past the bound, and one asked for after it was
    dropped is rendered again."""
    held = []

    def render(c, frames):
        held.append((c, sorted(cache.done)))
        if c == 1:        # chunk 0's last frames served meanwhile, by the host's other threads
            for m in range(1, 4):
                cache.served(0, m)
                held.append((c, sorted(cache.done)))
        return np.zeros((4, 250), np.uint8)     # 4 frames, 1000 bytes

    cache = F._ChunkCache(1000, render)
    cache.get(0, None)
    cache.served(0, 0)
    cache.get(1, None)
    assert held == [(0, []), (1, [0]), (1, [0]), (1, [0]), (1, [])]
    cache.get(2, None)                     # chunk 1 unserved: kept beside it
    assert held[-1] == (2, [1]) and list(cache.done) == [1, 2]
    cache.get(0, None)                     # dropped: rendered again
    assert cache.rendered == 4


def _renders_under_a_neighbour_filter(core, fmt, threads: int, n: int = 12, factor: int = 4) -> int:
    """Chunks rendered (one LTR frame each, frames repeated x ``factor``) when a temporal filter
    after ours (std.Merge of frames k-1 and k+1) reads every output frame of an ``n``-frame clip."""
    renders = []

    class Renderer:
        chunk, run_context, context = 1, 1, 1

        def cuts(self, frames, lead, count):
            return []

        def render(self, window, lead, count, cut_at=None):
            renders.append(lead)
            return np.repeat(np.asarray(window[lead:lead + count]), factor, axis=0)

    before = core.num_threads
    core.num_threads = threads
    try:
        clip = core.std.BlankClip(width=64, height=32, format=fmt, length=n, fpsnum=25, fpsden=1)
        out = F._serve(clip, F._to_rgbs(clip, {"matrix": 1}), Renderer(), factor, {"matrix": 1})
        for _ in core.std.Merge(out[0] + out[:-1], out[1:] + out[-1]).frames(close=True):
            pass
    finally:
        core.num_threads = before
    return len(renders)


@pytest.mark.parametrize("threads", [1, 4])
def test_a_filter_reading_neighbours_after_this_one_renders_each_chunk_once(core, monkeypatch, threads):
    """A chunk whose frames have all been served is dropped (_ChunkCache); a temporal filter after
    ours (here std.Merge of frames k-1 and k+1) asks again for the frame before a chunk's start
    once the next chunk has rendered: it comes from the last frames served, not a second render
    (12 -> 24 renders of 12 chunks before). With several threads the frames come out of order and,
    on a loaded machine, one of them now and then left the cache first (13 renders in 1 of 30 runs
    with 3 copies of the test at once): a few, never one per chunk."""
    monkeypatch.setattr(F, "CACHE_BYTES", 0)      # as at 1080p and 4K x8: one chunk is the bound
    renders = _renders_under_a_neighbour_filter(core, vs.YUV420P8, threads)
    assert renders == 12 if threads == 1 else renders <= 12 + 2


def test_the_frames_served_kept_are_two_chunks_within_a_bound_never_under_one(core, monkeypatch):
    """The filter's last node keeps two chunks' frames (the test above), at most SERVED_BYTES:
    an RGBS output at 4K x8 (a chunk of 8 frames, 0.8 GB) keeps one chunk's, 8-bit 4:2:0 two."""
    def kept(fmt, w, h, per_chunk=8):
        return F.served_frames(per_chunk, frame_bytes(core.std.BlankClip(width=w, height=h, format=fmt, length=1)))

    assert kept(vs.YUV420P8, 3840, 2160) == 16 and kept(vs.RGBS, 3840, 2160) == 8
    assert kept(vs.RGBS, 1920, 1080, per_chunk=16) == 21 and kept(vs.RGBS, 64, 32, per_chunk=4) == 8
    # one chunk's frames are enough for a temporal filter after ours asking in order
    monkeypatch.setattr(F, "CACHE_BYTES", 0)
    monkeypatch.setattr(F, "SERVED_BYTES", 0)
    assert _renders_under_a_neighbour_filter(core, vs.RGBS, 1) == 12


def test_chunk_cache_renders_one_large_chunk_at_a_time():
    """Chunks as large as the budget's half: a second render waits for the first (two at once
    beside the last one held were 2.3 GB at 4K); small ones render side by side."""
    import threading
    import time

    def run(max_bytes):
        state = {"now": 0, "most": 0}
        lock = threading.Lock()

        def render(c, frames):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            time.sleep(0.05)
            with lock:
                state["now"] -= 1
            return np.zeros(1000, np.uint8)

        cache = F._ChunkCache(max_bytes, render)
        cache.get(0, None)                         # its size is known from here on
        threads = [threading.Thread(target=cache.get, args=(c, None)) for c in range(1, 7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cache.rendered == 7 and cache.rendering == 0
        return state["most"], sum(a.nbytes for a in cache.done.values())

    most, held = run(2000)
    assert most == 1 and held <= 2000
    most, held = run(100_000)
    assert most > 1


def test_vapoursynth_caches_do_not_grow_with_the_clip(core):
    """Every output frame of a chunk asks for the chunk's whole window: VapourSynth's adaptive
    caches grew on those repeats with the clip's length (4 GB of the host at 4K on 32 frames).
    The filter's nodes hold a fixed few frames, the same on a clip 4x longer."""
    import gc

    from vs_zstsr import cuts as detector

    w, h, factor = 320, 180, 8

    class Renderer:   # a window as --method flow's at 1080p and 4K: one frame per chunk, 7 each side
        chunk, run_context, context = 1, 7, 7 + detector.REACH

        def cuts(self, frames, lead, count):
            reach = self.run_context
            return [k for k in detector.detect(frames, detector.DEFAULT_THRESHOLD) if lead - reach < k < lead + count + reach]

        def render(self, window, lead, count, cut_at=None):
            return np.repeat(window[lead:lead + count], factor, axis=0)

    def peak(n):
        clip = core.std.BlankClip(width=w, height=h, format=vs.YUV420P8, length=n, fpsnum=25, fpsden=1)
        colour = F._colour(clip)
        out = F._serve(clip, F._to_rgbs(clip, colour), Renderer(), factor, colour)
        gc.collect()
        base, most = core.used_cache_size, 0
        for _ in out.frames(close=True):
            most = max(most, core.used_cache_size - base)
        return most / (w * h * 12)     # in RGBS frames

    short, long = peak(16), peak(64)
    window = 2 * Renderer.chunk + 2 * Renderer.run_context + 2     # what _serve's caches hold
    assert long <= 1.2 * short and long <= 2 * window, (short, long)


def test_a_streamed_ladder_reads_its_window_from_vapoursynths_frames(core):
    """A renderer that reads its window as a stream (the direct ladders: flow, the kernels) gets
    the window's VapourSynth frames, each converted as it is read, not a stacked float copy of
    them all (at 4K that copy was 15 frames, 1.4 GB, beside VapourSynth's own); the same frames
    out as from the stacked array."""
    from vs_zstsr import cuts as detector

    w, h, factor = 40, 24, 4
    x = np.random.default_rng(3).random((10, h, w, 3), np.float32)

    class Renderer:
        chunk, run_context, context = 2, 2, 2 + detector.REACH

        def __init__(self, streams):
            self.streams, self.windows = streams, []

        def cuts(self, frames, lead, count):
            return []

        def render(self, window, lead, count, cut_at=None):
            self.windows.append(type(window))
            assert window.shape[1:] == (h, w, 3)
            inside = window[lead:lead + count]              # a slice, read once in order
            frames = list(inside)
            assert len(frames) == count == len(inside)
            return np.repeat(np.stack(frames), factor, axis=0)

    clip = core.std.BlankClip(width=w, height=h, format=vs.RGBS, length=len(x), fpsnum=25, fpsden=1)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), x[n, ..., p])
        return out

    clip = core.std.ModifyFrame(clip, clip, fill)
    got = {}
    for streams in (False, True):
        r = Renderer(streams)
        out = F._serve(clip, clip, r, factor, {})
        got[streams] = np.stack([F._rgb_frame(f) for f in out.frames(close=True)])
        assert set(r.windows) == {F._RGBFrames if streams else np.ndarray}
    np.testing.assert_array_equal(got[True], got[False])
    np.testing.assert_array_equal(got[True], np.repeat(x, factor, axis=0))

    frames = F._RGBFrames([clip.get_frame(i) for i in range(6)], held=x[2:5], at=2)
    part = frames[1:5]                                       # held frames keep their offset
    assert part.shape == (4, h, w, 3) and len(part) == 4
    for k, y in enumerate(part):
        np.testing.assert_array_equal(y, x[1 + k])
    np.testing.assert_array_equal(part[-1], x[4])
    with pytest.raises(IndexError):
        frames[::2]


def test_install_plugin_replaces_only_zstsrs_own_shim(tmp_path, monkeypatch):
    """install-plugin replaces an earlier zstsr shim there (a link into any vs_zstsr/_shim, even
    one gone; a copy of any version) and refuses anything else of that name unless asked."""
    from vs_zstsr.errors import ZstsrError

    if not os.path.isfile(F.plugin_path()):
        pytest.skip("the shim is not built")
    plugins = tmp_path / "plugins"
    monkeypatch.setattr(F.vs, "get_plugin_dir", lambda: str(plugins))
    dst = plugins / F.PLUGIN_NAME
    assert F.install_plugin() == str(dst) and os.path.realpath(dst) == os.path.realpath(F.plugin_path())
    F.install_plugin(link=False)                      # a copy after a link
    assert not dst.is_symlink() and dst.read_bytes() == Path(F.plugin_path()).read_bytes()
    dst.write_bytes(b"an older shim: " + F._SHIM_ID)  # an earlier zstsr copy
    F.install_plugin(link=False)
    assert dst.read_bytes() == Path(F.plugin_path()).read_bytes()
    dst.unlink()
    dst.symlink_to(tmp_path / "gone" / "vs_zstsr" / "_shim" / F.PLUGIN_NAME)   # a removed checkout's link
    F.install_plugin()
    assert os.path.realpath(dst) == os.path.realpath(F.plugin_path())

    mine = tmp_path / "mybuild.so"
    mine.write_bytes(b"my own build, tuned")
    dst.unlink()
    dst.symlink_to(mine)
    for link in (True, False):
        with pytest.raises(ZstsrError, match="not zstsr's shim"):
            F.install_plugin(link=link)
        assert dst.is_symlink() and os.readlink(dst) == str(mine) and mine.read_bytes() == b"my own build, tuned"
    dst.unlink()
    dst.write_bytes(b"my own build, tuned")
    with pytest.raises(ZstsrError, match="pass --overwrite"):
        F.install_plugin()
    assert dst.read_bytes() == b"my own build, tuned"
    assert F._main(["install-plugin"]) == 1 and dst.read_bytes() == b"my own build, tuned"
    assert F._main(["install-plugin", "--overwrite"]) == 0     # (the command's flag)
    assert os.path.realpath(dst) == os.path.realpath(F.plugin_path())
    assert sorted(p.name for p in plugins.iterdir()) == [F.PLUGIN_NAME]     # no temporary left
