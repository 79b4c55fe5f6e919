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

import pytest

from conftest import moving_blob_htr

ROOT = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def zstsr(folder: Path, *args, code: int = 2, needle: str = "") -> subprocess.CompletedProcess:
    """Run ``zstsr ARGS`` in ``folder``; with ``code`` non-zero, assert it fails cleanly."""
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
        assert after == before, "a file changed, appeared or vanished"
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
    for p in (stale, live, other):
        p.write_bytes(b"half")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "vs_zstsr", "baseline", "clip.mkv", "-o", "out.mkv", "-f", "2"],
                       cwd=work, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and live.exists() and other.exists()


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
