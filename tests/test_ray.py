"""`--ray`: the same render on a Ray cluster, identical to the local one, surviving a dead worker
and resuming an interrupted run (vs_zstsr/distributed.py, docs/SCALE.md).

One cluster for the module, on 127.0.0.1 only: a head and a worker node of 1 CPU each
(``ray.cluster_utils.Cluster``), always shut down. The renders run as ``python -m vs_zstsr``
subprocesses, as a user would run them (an interrupt is a real SIGINT). Clips are tiny (48x32, 8
frames; one of 48 frames in 8 chunks with ``--chunk 6``) so the module takes about a minute.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vs_zstsr import distributed, io
from vs_zstsr.methods import flow_available

from conftest import run, tiny_model
from test_render import make_clip

# Ray binds to the machine's network address unless told to stay on the loopback interface; the
# variable is read when ray is imported, here and in every Ray process the test starts.
LOOPBACK = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
os.environ.update(LOOPBACK)
CHUNK = 6
SMALL = ("a.mov", "b.mov", "c.mov")
LONG = "d_long.mov"   # sorted last: its chunks are the last shipped
LONG_CHUNKS = 8       # enough that an interrupt lands while some of them are still to do
NET = ["--factor", "4", "--method", "net"]    # + --model: the tiny net on every rung


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray", reason="ray is not installed (pip install 'zstsr[ray]'; CI installs it)")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, connect=False, head_node_args={
        "num_cpus": 1, "include_dashboard": False, "node_ip_address": "127.0.0.1"})
    try:
        worker = cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        assert cluster.address.startswith("127.0.0.1:")
        yield cluster, worker
    finally:
        cluster.shutdown()


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    """A folder of 3 small clips (one with timecode, reel name and audio) and a long one, a tiny
    pre-trained net, and the local renders everything is compared with."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("card")
    src = root / "card"
    src.mkdir()
    make_clip(src / "a.mov", timecode="01:00:10:15", reel="A001", tone_hz=800)
    make_clip(src / "b.mov")
    make_clip(src / "c.mov", n=8, w=64, h=48)
    make_clip(src / LONG, n=LONG_CHUNKS * CHUNK)
    model = tiny_model(root / "tiny.onnx")
    local = {}
    for name, args in (("cubic", ["--method", "cubic", "--factor", "2"]), ("net", NET + ["--model", model])):
        local[name] = root / f"local-{name}"
        run("render", src, "-o", local[name], *args)
    local["upsample"] = root / "local-upsample.mov"
    run("upsample", src / LONG, "-o", local["upsample"], "--method", "cubic", "--factor", "2")
    return src, model, local


def zstsr(*args, wait=True, env=None):
    cmd = [sys.executable, "-m", "vs_zstsr", *[str(a) for a in args]]
    # SIGINT as a terminal gives it: a suite started in the background of a non-interactive shell
    # (nohup make test &) runs with SIGINT ignored, which the child would inherit and keep
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, **LOOPBACK, **(env or {})},
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    if wait:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        return err
    return p


def same_files(a: Path, b: Path, names=SMALL + (LONG,)):
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


def manifests(out: Path) -> dict:
    """Each clip's manifest in OUT (name -> manifest) while the job runs."""
    found = {}
    for m in out.glob(".*.chunks/" + distributed.MANIFEST):
        try:
            found[m.parent.name[1:-len(".chunks")]] = json.loads(m.read_text())
        except (OSError, ValueError):
            pass   # finished (and removed) meanwhile
    return found


def wait_for(cond, p, what, timeout=120):
    t = time.monotonic()
    while not cond():
        assert p.poll() is None, f"the render ended before {what}: {p.communicate()[1]}"
        assert time.monotonic() - t < timeout, f"no {what} after {timeout} s"
        time.sleep(0.02)


# --------------------------------------------------------------------------------------------


def test_without_ray_nothing_imports_it(tmp_path):
    clip = make_clip(tmp_path / "a.mov")
    code = ("import sys; from vs_zstsr.cli import main\n"
            f"try: main(['render', {str(clip)!r}, '-o', {str(tmp_path / 'out')!r}, '--method', 'cubic', '--factor', '2'])\n"
            "except SystemExit as e: assert not e.code, e.code\n"
            "assert 'ray' not in sys.modules, 'ray was imported'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "a.mov").is_file()


@pytest.mark.parametrize("depth", [8, 16])
def test_segments_are_lossless_at_the_writers_depth(depth):
    rng = np.random.default_rng(depth)
    frames = rng.random((3, 6, 10, 3), dtype=np.float32)
    seg = distributed.encode_segment(frames, depth)
    with distributed.tempfile.TemporaryDirectory() as d:
        (Path(d) / "s.mkv").write_bytes(seg)
        back = np.stack(list(io.read_frames(Path(d) / "s.mkv")))
    np.testing.assert_array_equal(back, io.as_written(frames, depth))
    np.testing.assert_array_equal(io.quantize(back, depth), io.quantize(frames, depth))


def test_prepare_seeds_the_cache_and_returns_its_models_which_pickle_as_bytes(card, tmp_path, monkeypatch):
    import functools
    import pickle

    from vs_zstsr.options import UpsampleOptions
    from vs_zstsr.stream import Renderer

    _, model, _ = card
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZSTSR_CACHE", str(cache))
    create = functools.partial(Renderer.create, str(cache / "m.onnx"), UpsampleOptions(factor=2, method="net"),
                               height=32, width=48)
    renderer, lines, files = distributed._prepare(create, {"m.onnx": model.read_bytes()})  # as on a worker
    assert (cache / "m.onnx").read_bytes() == model.read_bytes()         # seeded: nothing to train
    assert files == {"m.onnx": model.read_bytes()} and renderer.log is None
    assert any("ladder" in line for line in lines)
    again = pickle.loads(pickle.dumps(renderer))   # what the object store does: the model travels as bytes
    assert again.ladder.model.path != renderer.ladder.model.path
    window = np.random.default_rng(0).random((6, 32, 48, 3), dtype=np.float32)
    np.testing.assert_array_equal(again.render(window, 1, 3), renderer.render(window, 1, 3))


def test_card_and_long_clip_on_the_cluster_match_the_local_render(ray_cluster, card, tmp_path):
    cluster, _ = ray_cluster
    src, model, local = card
    err = zstsr("render", src, "-o", tmp_path / "cubic", "--method", "cubic", "--factor", "2",
                "--chunk", CHUNK, "--ray", cluster.address)
    assert f"Ray: 2 CPUs on {cluster.address}" in err
    assert f"Ray: {6 + LONG_CHUNKS} chunks rendered" in err      # 2 per small clip, the long one's
    same_files(tmp_path / "cubic", local["cubic"])
    zstsr("render", src, "-o", tmp_path / "net", *NET, "--model", model, "--chunk", CHUNK, "--ray", cluster.address)
    same_files(tmp_path / "net", local["net"])
    rows = (tmp_path / "net" / "zstsr_render.csv").read_text()
    assert rows.count(",ok") == 4
    assert not list((tmp_path / "net").glob(".*"))   # no chunk folder left
    mixed = tmp_path / "mixed"      # a clip that fails is one error line and a CSV row, as locally
    mixed.mkdir()
    (mixed / "a.mov").write_bytes((src / "a.mov").read_bytes())
    (mixed / "bad.mov").write_bytes(b"not a video" * 100)
    p = zstsr("render", mixed, "-o", tmp_path / "mixed-out", "--method", "cubic", "--factor", "2",
              "--ray", cluster.address, wait=False)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 1 and "zstsr: error: " in err and "bad.mov" in err, err
    rows = (tmp_path / "mixed-out" / "zstsr_render.csv").read_text().splitlines()
    assert rows[1].endswith(",ok") and "bad.mov" in rows[2] and ",error: " in rows[2], rows
    same_files(tmp_path / "mixed-out", local["cubic"], ("a.mov",))
    zstsr("upsample", src / LONG, "-o", tmp_path / "long.mov", "--method", "cubic", "--factor", "2",
          "--chunk", CHUNK, "--ray", cluster.address)
    assert (tmp_path / "long.mov").read_bytes() == local["upsample"].read_bytes()


@pytest.mark.skipif(not flow_available(), reason="needs VapourSynth and MVTools")
def test_flow_into_a_yuv_file_on_the_cluster_matches_the_local_render(ray_cluster, tmp_path):
    """Flow's frames reach a local writer as its Y'CbCr planes, made in MVTools' worker, and a
    --ray writer as RGB read from the chunks, which it converts the same way (io.to_planes): the
    two files hold the same pictures, but for a quantizing tie (a level, vs_zstsr/direct.py's
    Finish)."""
    cluster, _ = ray_cluster
    clip = tmp_path / "clip.mkv"
    make_clip(clip, n=2 * CHUNK, w=64, h=48, codec="ffv1", pix_fmt="yuv420p")
    outs = {}
    for where, extra in (("local", []), ("ray", ["--chunk", CHUNK, "--ray", cluster.address])):
        outs[where] = tmp_path / f"{where}.mkv"
        zstsr("upsample", clip, "-o", outs[where], "--method", "flow", "--factor", "2", *extra)
    a, b = (np.stack(list(io.read_frames(outs[k]))) for k in ("local", "ray"))
    d = np.abs(a - b) * 255
    # a level of an RGB sample at a tie moves its Y'CbCr samples, read back as RGB, by up to 2
    assert a.shape == (4 * CHUNK, 48, 64, 3) and d.max() < 2.5 and (d > 0.5).mean() < 1e-3, (d.max(), (d > 0.5).mean())


def test_a_worker_killed_mid_render_changes_nothing(ray_cluster, card, tmp_path):
    cluster, worker = ray_cluster
    src, model, local = card
    out = tmp_path / "out"
    p = zstsr("render", src, "-o", out, *NET, "--model", model, "--chunk", CHUNK, "--ray", cluster.address, wait=False)
    try:
        # the first finished chunk, from either node: waiting for one from the worker node raced the
        # end of the job (the head could finish the rest before the poll saw it)
        wait_for(lambda: any(m["chunks"] for m in manifests(out).values()), p, "a finished chunk")
        cluster.remove_node(worker, allow_graceful=False)   # its raylet and workers die mid-job
        _, err = p.communicate(timeout=300)
    finally:
        p.kill()
    assert p.returncode == 0, err
    same_files(out, local["net"])


def test_a_chunk_folder_zstsr_did_not_make_is_refused_and_kept(ray_cluster, tmp_path):
    """.NAME.chunks beside the output is zstsr's only if it holds nothing but chunks: a folder of
    the user's by that name is neither used nor deleted (docs/SAFETY.md)."""
    cluster, _ = ray_cluster
    make_clip(tmp_path / "clip.mov")
    folder = distributed.chunk_folder(tmp_path / "out.mov")
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    p = zstsr("upsample", tmp_path / "clip.mov", "-o", tmp_path / "out.mov", "--method", "cubic", "--factor", "2",
              "--ray", cluster.address, wait=False)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 2 and "did not write (notes.txt)" in err, err
    assert (folder / "notes.txt").read_text() == "mine" and not (tmp_path / "out.mov").exists()


def test_an_interrupted_run_resumes_from_its_finished_chunks(ray_cluster, card, tmp_path):
    cluster, _ = ray_cluster
    src, model, local = card
    out = tmp_path / "out"
    args = ("render", src, "-o", out, *NET, "--model", model, "--chunk", CHUNK, "--ray", cluster.address)
    p = zstsr(*args, wait=False)
    try:
        wait_for(lambda: manifests(out).get(LONG, {}).get("chunks"), p, f"a finished chunk of {LONG}")
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert not (out / LONG).exists()
    kept = manifests(out)   # the long clip's, and a small clip's if it was being written
    done = kept[LONG]["chunks"]
    assert 1 <= len(done) < LONG_CHUNKS and kept[LONG]["runs"] == 1
    resumed = sum(len(m["chunks"]) for m in kept.values())
    err = zstsr(*args, "--overwrite")   # the small clips were finished by the first run
    assert f"{LONG}: {len(done)} of {LONG_CHUNKS} chunks were finished by an earlier run" in err
    assert f"Ray: {6 + LONG_CHUNKS - resumed} chunks rendered, {resumed} taken from an earlier run" in err
    same_files(out, local["net"])
    assert not list(out.glob(".*"))
