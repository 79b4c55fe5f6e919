"""Shared set-up of the benchmark clips: each is an HTR ground truth and its degraded LTR input,
made with the project's own CLI (``zstsr degrade``) so that anyone can rerun them."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# $ZSTSR_DATA, else ../shared/data beside the checkout or beside the folder of git worktrees (/work/wt/NAME)
SHARED = Path(os.environ["ZSTSR_DATA"]) if os.environ.get("ZSTSR_DATA") else next((p / "shared" / "data" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "data").is_dir()),
              ROOT.parent / "shared" / "data")
sys.path.insert(0, str(ROOT / "examples"))

# name -> how to get its HTR ground truth. Real footage first (docs/BENCHMARKS.md reports each clip
# and the mean over these): the pose2sim clips are real 60 fps, shrunk 2x in space (540x960 and
# 544x960, portrait); averaging every 8 frames gives 12 LTR frames at 7.5 fps, every 4 gives 25 at
# 15 fps. Synthetic scenes (examples/scenes.py) and city: x8 (30 -> 240 fps for the scenes).
REAL = {"cam01": "pose2sim_single_cam01.mp4", "cam03": "pose2sim_single_cam03.mp4",
        "cam01x4": "pose2sim_single_cam01.mp4", "cam03x4": "pose2sim_single_cam03.mp4", "city": "cityCC0.mpg",
        "cam01s": "pose2sim_single_cam01.mp4", "cam03s": "pose2sim_single_cam03.mp4",
        "cam01full": "pose2sim_single_cam01.mp4", "cam03full": "pose2sim_single_cam03.mp4",
        "cam01fullx4": "pose2sim_single_cam01.mp4", "cam03fullx4": "pose2sim_single_cam03.mp4"}
FACTOR = {"cam01x4": 4, "cam03x4": 4, "cam01fullx4": 4, "cam03fullx4": 4}      # the others: 8
# How much real footage is shrunk in space (the others: 2). The small pose2sim clips (180x320 and
# 181x320, first x8 rung 45x80, about the synthetic scenes' 48x72) are for choices that depend on
# the frame's size, such as the net's padding (docs/BENCHMARKS.md, "Zero padding on small real clips").
# The full-size ones (1080x1920 and 1088x1920) are for choices that depend on it at 1080p.
SCALE = {"cam01s": 6, "cam03s": 6, "cam01full": 1, "cam03full": 1, "cam01fullx4": 1, "cam03fullx4": 1}
def real_clips() -> list[str]:
    """The real footage's files, each once (REAL's clips, in ../shared/data)."""
    return sorted(str(SHARED / f) for f in set(REAL.values()))


CLIPS = ("cam01", "cam03", "cam01x4", "cam03x4", "fan", "texture", "city")
SMALL_CLIPS = ("cam01s", "cam03s")   # not in the default set: only benchmarks about size offer them
FULL_CLIPS = ("cam01full", "cam03full", "cam01fullx4", "cam03fullx4")   # likewise


def zstsr(*args: object, capture: bool = False) -> str:
    cmd = [sys.executable, "-m", "vs_zstsr", *map(str, args)]
    r = subprocess.run(cmd, check=True, text=True, stdout=subprocess.PIPE if capture else None)
    return r.stdout if capture else ""


def prepare(name: str, work: Path, factor: int = 8, size: str = "large") -> tuple[Path, Path]:
    """Write ``work/<name>_ltr.mkv`` and ``work/<name>_gt.mkv`` (once) and return their paths."""
    work.mkdir(parents=True, exist_ok=True)
    ltr, gt = work / f"{name}_ltr.mkv", work / f"{name}_gt.mkv"
    if ltr.exists() and gt.exists():
        return ltr, gt
    factor = FACTOR.get(name, factor)
    if name in REAL:
        # city: real 25 fps footage becomes a usable HTR source once shrunk in space (docs/PROTOTYPE.md,
        # data README); pose2sim: real 60 fps, shrunk 2x to keep runs short (SCALE: more).
        zstsr("degrade", SHARED / REAL[name], "-o", ltr, "-f", factor, "--scale", SCALE.get(name, 2),
              "--gt-out", gt, "-y")
    else:
        from scenes import render
        from vs_zstsr import io

        frames, rate = render(name, size=size)
        htr = work / f"{name}_htr.mkv"
        io.write_video(htr, frames, rate, bit_depth=16)
        zstsr("degrade", htr, "-o", ltr, "-f", factor, "--gt-out", gt, "-y")
    return ltr, gt


def evaluate(out: Path, gt: Path) -> dict:
    return json.loads(zstsr("eval", out, gt, "--json", capture=True))


# This project's packages: import name -> folder of a tree (what setup.py installs them as)
PACKAGES = (("vs_zstsr", "vs_zstsr"), ("zstsr_trainer", "trainer"), ("zstsr_export", "export"))


def tree_env(tree: Path, pkgs: str | os.PathLike) -> dict:
    """The environment in which another tree's packages import first: links to them under their
    import names in ``pkgs`` (an empty folder, which the run should also use as its working
    folder, away from this checkout's own packages), put on PYTHONPATH."""
    for name, sub in PACKAGES:
        os.symlink(Path(tree) / sub, Path(pkgs) / name)
    return dict(os.environ, PYTHONPATH=str(pkgs))


def untrained_net(path: str | os.PathLike, padding: str | None = None) -> str:
    """Export an untrained net of the ``fast`` preset (its padding unless ``padding``; seed 0) to
    ``path``: for timing the runtime, whose speed does not depend on the weights. Needs torch."""
    import torch
    from zstsr_export import export_onnx
    from zstsr_trainer import PRESETS
    from zstsr_trainer.net import TSRNet

    c = PRESETS["fast"]
    torch.manual_seed(0)
    return export_onnx(TSRNet(c.width, c.depth, padding=padding or c.padding).eval(), os.fspath(path))


def replace_section(doc: Path, marker: str, body: str) -> None:
    """Replace the text between ``<!-- marker -->`` and ``<!-- /marker -->`` in doc (or append)."""
    start, end = f"<!-- {marker} -->", f"<!-- /{marker} -->"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        a, b = text.index(start), text.index(end) + len(end)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)


def publish(lines: list[str], marker: str, write_docs: bool) -> None:
    """Print a benchmark's section (``lines``, one a line) and, with ``write_docs``, put it between
    the ``marker`` comments of docs/BENCHMARKS.md."""
    text = "\n".join(lines)
    print(text)
    if write_docs:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", marker, text)


def job_table(done: dict[str, dict[str, dict]], old: str, new: str, seconds: bool = False) -> list[str]:
    """The table of two trees' whole jobs (rows with psnr, ssim, seconds) per clip, ``done[clip][old]``
    against ``done[clip][new]``, and the mean PSNR over the real and over all clips."""
    lines = [f"| clip | {old} (dB) | {new} (dB) | change (dB) | SSIM {old} / {new} |"
             + (f" job s {old} / {new} |" if seconds else ""), "|---|---|---|---|---|" + ("---|" if seconds else "")]
    for c, v in done.items():
        a, b = v[old], v[new]
        lines.append(f"| {c}{' (real)' if c in REAL else ''} | {a['psnr']:.3f} | {b['psnr']:.3f} | "
                     f"{b['psnr'] - a['psnr']:+.3f} | {a['ssim']:.4f} / {b['ssim']:.4f} |"
                     + (f" {a['seconds']:.0f} / {b['seconds']:.0f} |" if seconds else ""))
    for name, clips in (("real clips", [c for c in done if c in REAL]), ("all clips", list(done))):
        if clips:
            a = sum(done[c][old]["psnr"] for c in clips) / len(clips)
            b = sum(done[c][new]["psnr"] for c in clips) / len(clips)
            lines.append(f"| mean, {name} ({len(clips)}) | {a:.3f} | {b:.3f} | {b - a:+.3f} | |" + (" |" if seconds else ""))
    return lines


def job_log(log: Path) -> dict:
    """From a job's log: the seconds and iterations each net trained and the self-check's pick
    (from a tree before the whole-pipeline self-check (dda4f27): the ladder it logged)."""
    text = log.read_text()
    trained = re.findall(r"trained (\d+) iterations in (\d+) s", text)
    pick = re.findall(r"self-check, each whole pipeline.*-> (.+)", text) or re.findall(r"zstsr: (no ladder: .+|ladder: .+)",
                                                                                        text)
    return {"train_s": [int(s) for _, s in trained], "train_it": [int(i) for i, _ in trained],
            "pick": pick[-1].strip() if pick else None}


def filter_with_chunk(chunk: int) -> str:
    """Python source that makes the VapourSynth filter (``vs_zstsr.filter``, imported as ``F``)
    render ``chunk`` LTR frames per chunk, whatever ``stream.chunk_frames`` gives: the preamble of
    a script run with ``python -c`` (numerics_hd.py, filter_chunks.py). ``chunk`` may be a Python
    expression (e.g. ``int(sys.argv[2])``)."""
    return ("import vs_zstsr.filter as F\nmake = F._make_renderer\n"
            f"def sized(*a, **k):\n    r = make(*a, **k); r.chunk = {chunk}; return r\n"
            "F._make_renderer = sized\n")
