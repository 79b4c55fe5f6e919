"""Shared set-up of the benchmark clips: each is an HTR ground truth and its degraded LTR input,
made with the project's own CLI (``zstsr degrade``) so that anyone can rerun them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# $ZSTSR_DATA, else ../shared/data beside the checkout or beside the folder of git worktrees (/work/wt/NAME)
SHARED = Path(os.environ["ZSTSR_DATA"]) if os.environ.get("ZSTSR_DATA") else next((p / "shared" / "data" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared" / "data").is_dir()),
              ROOT.parent / "shared" / "data")
sys.path.insert(0, str(ROOT / "examples"))

# name -> how to get its HTR ground truth; the factor is 8 everywhere (30 -> 240 fps for scenes).
CLIPS = ("fan", "texture", "city")


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
    if name == "city":
        # Real 25 fps footage becomes a usable HTR source once shrunk in space (NOTES.md, data README).
        zstsr("degrade", SHARED / "cityCC0.mpg", "-o", ltr, "-f", factor, "--scale", 2, "--gt-out", gt)
    else:
        from scenes import render
        from vs_zstsr import io

        frames, rate = render(name, size=size)
        htr = work / f"{name}_htr.mkv"
        io.write_video(htr, frames, rate, bit_depth=16)
        zstsr("degrade", htr, "-o", ltr, "-f", factor, "--gt-out", gt)
    return ltr, gt


def evaluate(out: Path, gt: Path) -> dict:
    return json.loads(zstsr("eval", out, gt, "--json", capture=True))


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
