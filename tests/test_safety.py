"""Never lose a user's file (issue 12; docs/SAFETY.md): each case runs ``zstsr`` as a subprocess
in a temporary folder and checks the exit status, one ``zstsr: error:`` line and no traceback, and
that every file there before is byte-identical after (nothing deleted, nothing half-written)."""
from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from conftest import moving_blob_htr

ROOT = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def zstsr(folder: Path, *args, code: int = 2, needle: str = "", batch: bool = False) -> subprocess.CompletedProcess:
    """Run ``zstsr ARGS`` in ``folder``; with ``code`` non-zero, assert it fails cleanly (and with
    ``batch``, a folder render, only that the files there before are untouched)."""
    before = snapshot(folder)
    env = dict(os.environ, ZSTSR_CACHE=str(folder.parent / "cache"), PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "vs_zstsr", *map(str, args)], cwd=folder, env=env,
                       capture_output=True, text=True, timeout=300)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == code, r.stderr
    after = snapshot(folder)
    if code:
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("zstsr: error:")]
        assert len(errors) == 1 and needle in errors[0], r.stderr
        assert {k: after.get(k) for k in before} == before, "a file changed or vanished"
        assert batch or after == before, "a file appeared"
    else:
        changed = [k for k in before if after.get(k) != before[k]]
        assert not changed or "-y" in args or "--overwrite" in args, changed
    assert not [k for k in after if ".partial-" in k], after
    return r


@pytest.fixture
def work(tmp_path) -> Path:
    """A folder holding a small FFV1 clip ``clip.mkv`` (16 frames, 40x32, 30 fps)."""
    from vs_zstsr import io

    folder = tmp_path / "work"
    folder.mkdir()
    io.write_video(folder / "clip.mkv", moving_blob_htr(t=16), Fraction(30))
    return folder


CUBIC = ("-f", 2, "--method", "cubic")


# --------------------------------------------------------------------------------------------
# data loss


def test_a_folder_holding_the_input_is_never_the_output(work):
    (work / "V" / "s").mkdir(parents=True)
    (work / "V" / "s" / "f").write_text("x")
    os.link(work / "clip.mkv", work / "V" / "clip.mkv")
    zstsr(work, "upsample", "V/clip.mkv", "-o", "V", *CUBIC, needle="holding the input")
    zstsr(work, "upsample", "clip.mkv", "-o", ".", *CUBIC, "-y", needle="holding the input")


@pytest.mark.parametrize("cmd", [("upsample", *CUBIC), ("baseline", "-f", 2), ("degrade", "-f", 2)])
def test_the_output_is_never_the_input(work, cmd):
    os.link(work / "clip.mkv", work / "hard.mkv")
    os.symlink("clip.mkv", work / "sym.mkv")
    for out in ("clip.mkv", "./clip.mkv", "hard.mkv", "sym.mkv"):
        zstsr(work, cmd[0], "clip.mkv", "-o", out, *cmd[1:], "-y", needle="is the input")


def test_degrade_ground_truth_is_never_the_input_or_the_other_output(work):
    zstsr(work, "degrade", "clip.mkv", "-o", "d.mkv", "--gt-out", "clip.mkv", "-f", 2, "-y", needle="is the input")
    zstsr(work, "degrade", "clip.mkv", "-o", "d.mkv", "--gt-out", "d.mkv", "-f", 2, needle="same file")


def test_an_existing_file_needs_overwrite(work):
    (work / "out.mkv").write_bytes(b"mine")
    zstsr(work, "baseline", "clip.mkv", "-o", "out.mkv", "-f", 2, needle="--overwrite")
    zstsr(work, "baseline", "clip.mkv", "-o", "out.mkv", "-f", 2, "-y", code=0)
    assert (work / "out.mkv").read_bytes() != b"mine"


def test_a_file_is_never_replaced_by_a_png_folder(work):
    (work / "noext").write_bytes(b"mine")
    zstsr(work, "upsample", "clip.mkv", "-o", "noext", *CUBIC, "-y", needle="is a file")


def test_png_folder_outputs(work):
    zstsr(work, "upsample", "clip.mkv", "-o", "frames", *CUBIC, code=0)
    first = snapshot(work / "frames")
    zstsr(work, "upsample", "clip.mkv", "-o", "frames", *CUBIC, needle="earlier PNG output")
    zstsr(work, "baseline", "clip.mkv", "-o", "frames", "-f", 4, "-y", code=0)  # replaced whole
    assert len(snapshot(work / "frames")) == 16 * 4 + 1 != len(first)
    (work / "empty").mkdir()
    zstsr(work, "upsample", "clip.mkv", "-o", "empty", *CUBIC, code=0)
    (work / "frames" / "notes.txt").write_text("mine")   # no longer only zstsr's
    zstsr(work, "upsample", "clip.mkv", "-o", "frames", *CUBIC, "-y", needle="holding other files")


def test_a_device_or_pipe_is_never_an_output(work):
    os.mkfifo(work / "fifo.mkv")
    zstsr(work, "baseline", "clip.mkv", "-o", "fifo.mkv", "-f", 2, "-y", needle="not a regular file")
    assert (work / "fifo.mkv").is_fifo()
    (work / "null.mkv").symlink_to(os.devnull)     # -o /dev/null -y as root would replace the device
    zstsr(work, "baseline", "clip.mkv", "-o", "null.mkv", "-f", 2, "-y", needle="not a regular file")
    assert Path(os.devnull).is_char_device()


def test_an_output_needs_a_name_of_its_own(work, monkeypatch):
    from vs_zstsr import outputs
    from vs_zstsr.errors import UsageError

    empty = work / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)    # `-o .` in an empty folder: its temporary folder would go inside it
    for name in (".", "./", "sub/.."):
        with pytest.raises(UsageError, match="names no file or folder"):
            outputs.check([(name, True)])


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_file_that_appears_during_the_run_is_replaced_only_with_overwrite(tmp_path, overwrite):
    from vs_zstsr import io, outputs
    from vs_zstsr.errors import ZstsrError

    target = tmp_path / "out.mkv"
    outputs.check([(target, False)], overwrite=overwrite)
    w = io.VideoWriter(target, 32, 24, Fraction(30), 8, "ffv1")
    w.write(np.zeros((24, 32, 3), np.float32))
    target.write_bytes(b"made meanwhile")       # another program, or a second run, wrote it first
    if overwrite:
        w.close()
        assert target.read_bytes() != b"made meanwhile"
    else:
        with pytest.raises(ZstsrError, match="appeared while zstsr was working") as e:
            w.close()
        assert target.read_bytes() == b"made meanwhile"
        kept = tmp_path / f"out.zstsr-{os.getpid()}.mkv"
        assert str(kept) in str(e.value) and io.probe(kept).frames == 1
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_png_output_that_appears_during_the_run_is_replaced_only_with_overwrite(tmp_path, overwrite):
    """The folder form of the rule above: an earlier zstsr PNG output made while this run worked
    (a second run) is replaced only with -y; without it, both outputs are kept."""
    from vs_zstsr import io, outputs
    from vs_zstsr.errors import ZstsrError

    def png_output(folder, frames):
        w = io.VideoWriter(folder, 32, 24, Fraction(30), 8, "png")
        for _ in range(frames):
            w.write(np.zeros((24, 32, 3), np.float32))
        w.close()

    target = tmp_path / "frames"
    outputs.check([(target, True)], overwrite=overwrite)
    w = io.VideoWriter(target, 32, 24, Fraction(30), 8, "png")
    w.write(np.zeros((24, 32, 3), np.float32))
    png_output(tmp_path / "theirs", 3)
    os.rename(tmp_path / "theirs", target)      # appeared meanwhile, a complete PNG output
    if overwrite:
        w.close()
        assert len(list(target.glob("*.png"))) == 1
    else:
        with pytest.raises(ZstsrError, match="left as it is") as e:
            w.close()
        assert len(list(target.glob("*.png"))) == 3
        kept = tmp_path / f"frames.zstsr-{os.getpid()}"
        assert str(kept) in str(e.value) and len(list(kept.glob("*.png"))) == 1
    assert not list(tmp_path.glob(".*partial*"))


def _png_folder(folder, frames, extra=()):
    from vs_zstsr import outputs

    folder.mkdir()
    for i in range(frames):
        (folder / f"{i:06d}.png").write_bytes(b"png")
    (folder / outputs.PNG_MARKER).write_text("{}")
    for name in extra:
        (folder / name).write_text("mine")
    return folder


def test_a_png_output_that_cannot_be_put_in_place_is_kept(tmp_path, monkeypatch):
    """The run's frames are never deleted at the last step: a rename refused (an empty mount
    point: EBUSY; a sticky folder: EPERM) keeps them beside the target, named in the error."""
    from vs_zstsr import outputs
    from vs_zstsr.errors import ZstsrError

    target = tmp_path / "frames"
    target.mkdir()
    outputs.check([(target, True)])
    tmp = _png_folder(tmp_path / ".frames.partial-1-1", 2)
    real = os.rename

    def refused(a, b, *k, **kw):
        if Path(b) == target:
            raise PermissionError(1, "Operation not permitted")
        return real(a, b, *k, **kw)

    monkeypatch.setattr(os, "rename", refused)
    with pytest.raises(ZstsrError, match="this run's output is") as e:
        outputs.replace_folder(tmp, target)
    kept = tmp_path / f"frames.zstsr-{os.getpid()}"
    assert str(kept) in str(e.value) and len(list(kept.glob("*.png"))) == 2 and target.is_dir()


def test_replacing_an_earlier_png_output_loses_nothing_on_the_way(tmp_path, monkeypatch):
    """With -y: a file put into the earlier output since it was checked stays (only frames and
    the marker are deleted), and a name taken while the earlier output was moved aside leaves
    all three: what appeared, the earlier output, this run's frames."""
    from vs_zstsr import outputs
    from vs_zstsr.errors import ZstsrError

    target = _png_folder(tmp_path / "frames", 3)
    outputs.check([(target, True)], overwrite=True)
    real_check = outputs.is_png_output

    def then_a_file(folder):     # put there just after the last look, before the move aside
        ok = real_check(folder)
        (Path(folder) / "notes.txt").write_text("mine")
        return ok

    monkeypatch.setattr(outputs, "is_png_output", then_a_file)
    outputs.replace_folder(_png_folder(tmp_path / ".new1", 1), target)
    monkeypatch.setattr(outputs, "is_png_output", real_check)
    assert sorted(p.name for p in target.iterdir()) == ["000000.png", outputs.PNG_MARKER]
    aside = [p for p in tmp_path.iterdir() if ".zstsr-old-" in p.name]
    assert [sorted(q.name for q in a.iterdir()) for a in aside] == [["notes.txt"]]

    real = os.rename

    def racing(a, b, *k, **kw):      # the target name is taken just after the move aside
        real(a, b, *k, **kw)
        if Path(a) == target:
            target.write_text("appeared")

    monkeypatch.setattr(os, "rename", racing)
    with pytest.raises(ZstsrError, match="earlier PNG output is") as e:
        outputs.replace_folder(_png_folder(tmp_path / ".new2", 2), target)
    assert target.read_text() == "appeared"
    olds = [p for p in tmp_path.iterdir() if ".zstsr-old-" in p.name and (p / outputs.PNG_MARKER).exists()]
    assert len(olds) == 1 and str(olds[0]) in str(e.value) and len(list(olds[0].glob("*.png"))) == 1
    kept = tmp_path / f"frames.zstsr-{os.getpid()}"
    assert len(list(kept.glob("*.png"))) == 2


def test_ctrl_c_while_replacing_a_png_output_puts_the_earlier_one_back(tmp_path, monkeypatch):
    from vs_zstsr import outputs

    target = _png_folder(tmp_path / "frames", 3)
    outputs.check([(target, True)], overwrite=True)
    real = outputs._rename_no_replace

    def interrupted(src, dst):
        if Path(src).name == ".new":
            raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(outputs, "_rename_no_replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        outputs.replace_folder(_png_folder(tmp_path / ".new", 1), target)
    assert len(list(target.glob("*.png"))) == 3 and not [p for p in tmp_path.iterdir() if "zstsr-old" in p.name]


def test_frames_kept_beside_a_name_with_a_long_dotted_tail(tmp_path):
    """'Take 1.xxxx...' (250 bytes): the kept name is shortened whole, not cut to fail."""
    from vs_zstsr import outputs
    from vs_zstsr.errors import ZstsrError

    target = tmp_path / ("Take 1." + "x" * 240)
    outputs.check([(target, True)])
    target.write_text("appeared")
    with pytest.raises(ZstsrError, match="this run's output is") as e:
        outputs.replace_folder(_png_folder(tmp_path / ".new", 2), target)
    kept = Path(str(e.value).rsplit("this run's output is ", 1)[1])
    assert len(list(kept.glob("*.png"))) == 2 and target.read_text() == "appeared"


def test_an_earlier_output_an_older_zstsr_moved_aside_is_never_cleaned(tmp_path):
    from vs_zstsr import outputs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = _png_folder(tmp_path / f".frames.partial-{dead.pid}-3.old", 2)
    outputs.clean_stale(tmp_path / "frames")
    assert old.is_dir() and len(list(old.glob("*.png"))) == 2


def test_a_refused_output_leaves_no_record_behind(tmp_path):
    """An output check() refused is not recorded as checked: a later write the process makes
    there without checking (a cache file does) behaves as for any unchecked path."""
    from vs_zstsr import io, outputs
    from vs_zstsr.errors import UsageError

    target = tmp_path / "cache.bin"
    target.write_bytes(b"old")
    with pytest.raises(UsageError):
        outputs.check([(target, False)])
    with io.atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_a_checked_output_replaces_its_own_earlier_save(tmp_path):
    """A checkpoint saved again and again (train) replaces its own file, never one it did not write."""
    from vs_zstsr import io, outputs
    from vs_zstsr.errors import ZstsrError

    target = tmp_path / "model.pt"
    outputs.check([(target, False)])
    for data in (b"first", b"second"):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(data)
    assert target.read_bytes() == b"second"
    target.unlink()
    outputs.check([(target, False)])
    target.write_bytes(b"theirs")
    with pytest.raises(ZstsrError, match="appeared"):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"ours")
    assert target.read_bytes() == b"theirs"


def test_a_ray_chunk_folder_zstsr_did_not_make_is_never_deleted(tmp_path):
    from vs_zstsr import distributed
    from vs_zstsr.errors import UsageError

    folder = distributed.chunk_folder(tmp_path / "out.mkv")
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="did not write"):
        distributed.check_chunk_folder(folder)
    (folder / "notes.txt").rename(folder / "clip.mkv")
    with pytest.raises(UsageError, match="holds the input"):
        distributed.check_chunk_folder(folder, [folder / "clip.mkv"])
    for name in (distributed.MANIFEST, "chunk-00000.mkv", ".chunk-00001.mkv.partial-1-2.mkv"):
        (folder / name).write_bytes(b"zstsr's")
    distributed.remove_chunk_folder(folder)     # only its own files; the folder stays for the rest
    assert [p.name for p in folder.iterdir()] == ["clip.mkv"]
    (folder / "clip.mkv").unlink()
    (folder / "chunk-00000.mkv").write_bytes(b"zstsr's")
    distributed.check_chunk_folder(folder)
    distributed.remove_chunk_folder(folder)
    assert not folder.exists()
    long = distributed.chunk_folder(tmp_path / ("x" * 250 + ".mkv"))
    assert len(long.name.encode()) < 100


def test_a_long_output_name_works(work):
    name = "x" * 250 + ".mkv"
    zstsr(work, "baseline", "clip.mkv", "-o", name, "-f", 2, code=0)
    assert (work / name).stat().st_size > 0


def test_stale_partial_outputs_are_cleaned_when_their_process_has_ended(work):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = work / f".out.mkv.partial-{dead.pid}.mkv"
    live = work / f".out.mkv.partial-{os.getppid()}.mkv"   # a running process (pytest's parent)
    other = work / f".other.mkv.partial-{dead.pid}.mkv"    # another output's
    from vs_zstsr import outputs

    here = work / f".out.mkv.partial-{outputs._host_tag()}-{dead.pid}-3.mkv"
    # another machine's, writing into a shared folder: its process number means nothing here
    elsewhere = work / f".out.mkv.partial-h{'0' * 8 if outputs._host_tag() != 'h' + '0' * 8 else '1' * 8}-{dead.pid}-3.mkv"
    for p in (stale, live, other, here, elsewhere):
        p.write_bytes(b"half")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "vs_zstsr", "baseline", "clip.mkv", "-o", "out.mkv", "-f", "2"],
                       cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and not here.exists() and live.exists() and other.exists() and elsewhere.exists()


def test_eval_plot_is_an_output_like_any_other(work):
    from vs_zstsr import io

    io.write_video(work / "b.mkv", moving_blob_htr(t=16), Fraction(30))
    zstsr(work, "eval", "clip.mkv", "b.mkv", "--plot", "missing/q.png", needle="does not exist")
    zstsr(work, "eval", "clip.mkv", "b.mkv", "--plot", "b.mkv", "-y", needle="is the input")


def test_render_refuses_to_replace_a_master_without_overwrite(work):
    (work / "out").mkdir()
    (work / "out" / "clip.mkv").write_bytes(b"an earlier master")
    zstsr(work, "render", "clip.mkv", "-o", "out", "--codec", "ffv1", "--method", "cubic", "-f", 2,
          needle="--overwrite")


def test_train_refuses_to_replace_a_checkpoint(work):
    (work / "model.pt").write_bytes(b"241 iterations")
    zstsr(work, "train", "clip.mkv", "-o", "model.pt", needle="--resume")
    (work / "gone.pt").symlink_to(work / "nowhere.pt")     # --resume of a link to nothing
    zstsr(work, "train", "clip.mkv", "-o", "gone.pt", "--resume", needle="not a checkpoint to resume")
    assert (work / "gone.pt").is_symlink()


def test_a_read_only_output_folder(work, monkeypatch):
    from click.testing import CliRunner

    from vs_zstsr import outputs
    from vs_zstsr.cli import main

    def refuse(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(outputs.os, "open", refuse)   # what a read-only file system answers
    r = CliRunner().invoke(main, ["baseline", str(work / "clip.mkv"), "-o", str(work / "o.mkv"), "-f", "2"])
    assert r.exit_code == 2 and r.stderr.strip().startswith("zstsr: error:") and "Read-only" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_folder_without_write_permission(work):
    (work / "ro").mkdir(mode=0o555)
    zstsr(work, "baseline", "clip.mkv", "-o", "ro/o.mkv", "-f", 2, needle="cannot write")


# --------------------------------------------------------------------------------------------
# input integrity


def faststart_h264(path: Path, frames=16) -> Path:
    """A small H.264 MP4 with its index (moov) first, as a streaming site serves it: a truncated
    copy still opens, so the missing frames must be noticed."""
    import av

    from vs_zstsr import io

    plain = path.with_name("plain_" + path.name)
    io.write_video(plain, moving_blob_htr(t=frames), Fraction(30))
    with av.open(str(plain)) as i, av.open(str(path), "w", options={"movflags": "faststart"}) as o:
        s = o.add_stream_from_template(i.streams.video[0])
        for p in i.demux(i.streams.video[0]):
            if p.dts is not None:
                p.stream = s
                o.mux(p)
    plain.unlink()
    return path


def cut(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.mark.parametrize("cmd", [("info",), ("upsample", "-o", "o.mkv", *CUBIC), ("baseline", "-o", "o.mkv", "-f", 2),
                                 ("degrade", "-o", "o.mkv", "-f", 2),
                                 ("render", "-o", "r", "--codec", "ffv1", "--method", "cubic", "-f", 2)])
def test_a_truncated_file_is_refused_everywhere(work, cmd):
    cut(work / "clip.mkv", work / "half.mkv")
    cut(faststart_h264(work / "h264.mp4"), work / "half.mp4", 0.7)
    for src in ("half.mkv", "half.mp4"):
        zstsr(work, cmd[0], src, *cmd[1:], code=1, needle="truncated")


def test_allow_truncated_takes_what_is_there_and_says_how_much(work):
    from vs_zstsr import io

    cut(work / "clip.mkv", work / "half.mkv")
    r = zstsr(work, "upsample", "half.mkv", "-o", "o.mkv", *CUBIC, "--allow-truncated", code=0)
    n = io.probe(work / "o.mkv").frames
    assert n % 2 == 0 and 0 < n < 32 and f"using the {n // 2} frames" in r.stderr


def test_a_truncated_clip_in_a_folder_render_is_an_error_row(work):
    (work / "card").mkdir()
    cut(work / "clip.mkv", work / "card" / "half.mkv")
    os.link(work / "clip.mkv", work / "card" / "whole.mkv")
    r = zstsr(work, "render", "card", "-o", "r", "--codec", "ffv1", "--method", "cubic", "-f", 2, code=1,
              needle="truncated", batch=True)
    rows = (work / "r" / "zstsr_render.csv").read_text().splitlines()
    assert any(",ok" in ln and "whole" in ln for ln in rows) and any("truncated" in ln for ln in rows), r.stderr


def test_a_gap_in_png_numbering_is_refused(work):
    zstsr(work, "baseline", "clip.mkv", "-o", "frames", "-f", 2, code=0)
    (work / "frames" / "000007.png").unlink()
    zstsr(work, "baseline", "frames", "-o", "o.mkv", "-f", 2, code=1, needle="frame 7 is missing")


def test_vapoursynth_source_refuses_a_truncated_file(work):
    vs = pytest.importorskip("vapoursynth")
    from vs_zstsr.filter import source

    cut(work / "clip.mkv", work / "half.mkv")
    with pytest.raises(vs.Error, match="truncated"):
        source(work / "half.mkv")
    assert 0 < source(work / "half.mkv", allow_truncated=True).num_frames < 16


def test_an_error_logged_twice_before_a_read_is_not_that_reads(work):
    """PyAV holds a message repeated back-to-back and hands it on with the next different one
    (its skip_repeated): an error another job logged twice (a muxer refusing a rate; the
    suite's order once did this) reached the next read's capture and turned a truncated file
    into "corrupt". zstsr has PyAV hand every message on when it comes."""
    from vs_zstsr import io

    cut(work / "clip.mkv", work / "half.mkv")
    av = io._av()
    for _ in range(2):   # no context name, as libavutil's timecode check logs it
        av.logging.log(av.logging.ERROR, "", "fps 480 is too large")
    with pytest.raises(io.ZstsrError, match="truncated"):
        io.open_input(work / "half.mkv")


def test_fuzzed_files_give_every_frame_or_one_line():
    """200 seeded truncations and byte flips of a small FFV1 MKV and a small H.264 MP4 through
    `zstsr info` and `zstsr upsample --method cubic` (in-process, to stay fast): each gives the
    full frame count, or one error line and no output; never a traceback."""
    import tempfile

    import numpy as np
    from click.testing import CliRunner

    from vs_zstsr import io
    from vs_zstsr.cli import main

    rng = np.random.default_rng(12)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        io.write_video(d / "a.mkv", moving_blob_htr(t=16), Fraction(30))
        originals = {".mkv": (d / "a.mkv").read_bytes(), ".mp4": faststart_h264(d / "a.mp4").read_bytes()}
        outcomes = []
        for k in range(200):
            ext = (".mkv", ".mp4")[k % 2]
            data = bytearray(originals[ext])
            if k % 4 < 2:
                data = data[:int(rng.integers(1, len(data)))]
            else:
                for i in rng.integers(0, len(data), int(rng.integers(1, 9))):
                    data[i] ^= int(rng.integers(1, 256))
            src, out = d / f"m{ext}", d / "o.mkv"
            src.write_bytes(bytes(data))
            for args, full in ((["info", src], " 16 frames"), (["upsample", src, "-o", out, *CUBIC, "-y"], None)):
                r = CliRunner().invoke(main, [str(a) for a in args])
                assert r.exception is None or isinstance(r.exception, SystemExit), (k, args, r.exception)
                if r.exit_code == 0:
                    if full:
                        assert full in r.stdout, (k, r.stdout)
                    else:
                        assert io.probe(out).frames == 32, k
                        out.unlink()
                else:
                    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
                    assert r.exit_code == 1 and len([ln for ln in lines if ln.startswith("zstsr: error:")]) == 1, \
                        (k, r.stderr)
                    assert not out.exists() and not [p for p in d.iterdir() if ".partial-" in p.name], k
                outcomes.append(r.exit_code == 0)
        assert 0 < sum(outcomes) < len(outcomes)   # both kinds of outcome were exercised


# --------------------------------------------------------------------------------------------
# small and short clips


@pytest.mark.parametrize("frames,h,w,factor", [(4, 96, 128, 8), (4, 48, 64, 8), (1, 96, 128, 8)])
def test_a_clip_too_small_to_train_falls_back_to_interpolation(tmp_path, frames, h, w, factor):
    pytest.importorskip("torch")
    from vs_zstsr import io

    work = tmp_path / "work"
    work.mkdir()
    io.write_video(work / "tiny.mkv", moving_blob_htr(t=frames, h=h, w=w), Fraction(30))
    r = zstsr(work, "upsample", "tiny.mkv", "-o", "o.mkv", "-f", factor, "--budget", "5s", code=0)
    said = [ln for ln in r.stderr.splitlines() if ln.startswith("zstsr: no net: ")]
    assert len(said) == 1 and "too small or short to train" in said[0], r.stderr
    assert io.probe(work / "o.mkv").frames == frames * factor
    if frames == 4:
        zstsr(work, "upsample", "tiny.mkv", "-o", "p.mkv", "-f", factor, "--method", "net", code=1,
              needle="too small")


def test_the_filter_falls_back_on_a_tiny_clip_too(caplog):
    vs = pytest.importorskip("vapoursynth")
    pytest.importorskip("torch")
    import vs_zstsr.filter as flt

    core = vs.core
    messages = []
    handle = core.add_log_handler(lambda level, msg: messages.append(msg))
    try:
        clip = core.std.BlankClip(width=128, height=96, format=vs.RGBS, length=4, fpsnum=30, color=[0.2, 0.5, 0.7])
        out = flt.upsample(clip, 8)
        assert out.num_frames == 32 and out.get_frame(31).width == 128
    finally:
        core.remove_log_handler(handle)
    assert sum(m.startswith("zstsr: no net: ") for m in messages) == 1, messages


# --------------------------------------------------------------------------------------------
# models and the cache


def tiny_model(path: Path, *, frames: str = "double", **meta) -> Path:
    """A zstsr-tagged ONNX file without torch: ``double`` repeats the clip (2T frames, right
    shape), ``same`` returns it (T frames), ``nan`` doubles it times NaN."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    dims = [1, 3, "T", "H", "W"]
    nodes = {"same": [helper.make_node("Identity", ["ltr"], ["htr"])],
             "double": [helper.make_node("Concat", ["ltr", "ltr"], ["htr"], axis=2)],
             "nan": [helper.make_node("Concat", ["ltr", "ltr"], ["d"], axis=2),
                     helper.make_node("Constant", [], ["n"], value=helper.make_tensor("n", TensorProto.FLOAT, [], [float("nan")])),
                     helper.make_node("Mul", ["d", "n"], ["htr"])]}[frames]
    graph = helper.make_graph(nodes, "t", [helper.make_tensor_value_info("ltr", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("htr", TensorProto.FLOAT, [1, 3, "T2", "H", "W"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    base = {"format": "zstsr", "format_version": "1", "factor": "2", "receptive_field_frames": "1",
            "receptive_field_pixels": "1"}
    for k, v in {**base, **meta}.items():
        model.metadata_props.add(key=k, value=v)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("meta,needle", [({"receptive_field_frames": "-1"}, "receptive_field_frames"),
                                         ({"receptive_field_pixels": "\"many\""}, "receptive_field_pixels"),
                                         ({"receptive_field_frames": "100000000"}, "receptive_field_frames"),
                                         ({"factor": "4"}, "factor 2")])
def test_crafted_model_metadata_is_one_line(work, meta, needle):
    tiny_model(work / "bad.onnx", **meta)
    zstsr(work, "upsample", "clip.mkv", "-o", "o.mkv", "-f", 2, "--model", "bad.onnx", "--method", "net",
          code=1, needle=needle)


@pytest.mark.parametrize("frames,needle", [("nan", "NaN"), ("same", "into an output of shape")])
def test_a_model_whose_output_is_wrong_is_one_line(work, frames, needle):
    tiny_model(work / "m.onnx", frames=frames)
    zstsr(work, "upsample", "clip.mkv", "-o", "o.mkv", "-f", 2, "--model", "m.onnx", "--method", "net",
          code=1, needle=needle)


def test_a_sound_tiny_model_renders(work):
    tiny_model(work / "m.onnx")
    zstsr(work, "upsample", "clip.mkv", "-o", "o.mkv", "-f", 2, "--model", "m.onnx", "--method", "net", code=0)


def test_export_refuses_an_onnx_file(work):
    tiny_model(work / "m.onnx")
    (work / "m.bin").write_bytes((work / "m.onnx").read_bytes())
    for name in ("m.onnx", "m.bin"):
        zstsr(work, "export", name, "-o", "x.onnx", needle="already an ONNX model")


def test_a_damaged_cached_model_is_trained_again(tmp_path, monkeypatch):
    from vs_zstsr import fit

    monkeypatch.setenv("ZSTSR_CACHE", str(tmp_path))
    clip = moving_blob_htr(t=16)

    def read(indices, size=None):
        return clip[list(indices)]

    target = fit.cached_model_path(read, 16, (16, 20), preset="fast", examples="within")
    tiny_model(target)
    fit.seal(target)
    logs: list[str] = []
    kw = dict(preset="fast", examples="within", log=logs.append)
    assert fit.fit_model(read, 16, (16, 20), **kw) == str(target)          # whole: used
    data = bytearray(target.read_bytes())
    for damaged in (bytes(data[: len(data) // 2]), bytes(data[:40]) + bytes([data[40] ^ 1]) + bytes(data[41:])):
        target.write_bytes(damaged)
        token = fit.TRAINING_ALLOWED.set(False)   # stop where training would start
        try:
            with pytest.raises(fit.NoModel):
                fit.fit_model(read, 16, (16, 20), **kw)
        finally:
            fit.TRAINING_ALLOWED.reset(token)
        assert "does not match its stored hash" in logs[-1] and str(target) in logs[-1]


# --------------------------------------------------------------------------------------------
# other bad values: one line, exit status 2


@pytest.mark.parametrize("args,needle", [
    (("upsample", "clip.mkv", "-o", "o.mkv", *CUBIC, "--tilesize", -1), "--tilesize"),
    (("upsample", "clip.mkv", "-o", "o.mkv", "-f", 32, "--method", "cubic"), "from 2 to 16"),
    (("baseline", "clip.mkv", "-o", "o.mkv", "-f", 131072), "from 2 to 16"),
    (("degrade", "clip.mkv", "-o", "o.mkv", "-f", 32), "from 2 to 16"),
    (("eval", "clip.mkv", "clip.mkv", "--border", -1), "--border"),
    (("eval", "clip.mkv", "clip.mkv", "--border", 16), "leaves nothing"),
])
def test_bad_values_are_one_line(work, args, needle):
    zstsr(work, *args, needle=needle)
