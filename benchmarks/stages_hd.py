"""Where the time of the no-net path goes at 1080p: CPU seconds per output frame of each stage.

    python benchmarks/stages_hd.py [--frames 4] [--size 1080p] [--rounds 1]

On the textured pan (hd_clips.py), x8: MVTools FlowFPS as zstsr runs it (in this process, and in
the worker process of vs_zstsr/native.py, whose frames cross its shared-memory ring; then finished
in VapourSynth as the CLI runs it now, vs_zstsr/direct.py's Finish), then each step after it:
clip and back-projection, quantizing, the pixel-format conversion and the encoders (FFV1, ffvhuff).
CPU time (all threads, and the worker's) rather than wall time: the machine is shared. With
``--rounds N`` the four MVTools stages run N times, interleaved, and each row is their median with
the range (one run of a stage moved by about 20% on a quiet machine).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path
from fractions import Fraction

import numpy as np

from hd_clips import SIZES, pan_frames


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=SIZES, default="1080p")
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=1, help="runs of each MVTools stage, interleaved (median, range)")
    args = ap.parse_args()
    import av

    from vs_zstsr import baselines, direct, io, native

    h, w = SIZES[args.size]
    x = np.stack(list(pan_frames(h, w, args.frames)))
    n = args.frames * 8
    rows = []

    def measure(fn):
        t0, c0 = time.process_time(), cpu_children()
        out = fn()
        return out, (time.process_time() - t0 + cpu_children() - c0) / n

    def stage(name, fn):
        out, secs = measure(fn)
        rows.append((name, secs))
        print(f"{name:58s} {1000 * secs:7.1f} ms CPU per output frame", flush=True)
        return out

    clip = "/tmp/zstsr_stages_pan.mkv"     # bench_hd.py's reference: YUV frames made before its clock starts
    io.write_video(clip, x, Fraction(30), codec="ffv1")
    ref = subprocess.run([sys.executable, str(Path(__file__).with_name("bench_hd.py")), "--reference", clip, "8"],
                         check=True, stdout=subprocess.PIPE, text=True)
    rows.append(("MVTools FlowFPS alone (bench_hd.py's reference: YUV in, frames dropped)",
                 float(ref.stdout.split()[-1]) / n))
    print(f"{rows[-1][0]:58s} {1000 * rows[-1][1]:7.1f} ms CPU per output frame", flush=True)
    fin = direct.Finish(backproject=True, clip_input=True, bits=8)
    flow_stages = [
        ("MVTools FlowFPS, in this process (RGB<->YUV included)",
         lambda: list(baselines.peer_frames(x, 8, "flowfps", Fraction(30)))),
        ("MVTools FlowFPS in the worker process, frames through its ring",
         lambda: (list(baselines.peer_stream(x, 8, "flowfps", Fraction(30))), native.pool().close())),
        ("MVTools FlowFPS finished in VapourSynth (back-projection, clip, 8 bits: direct.Finish), in this process",
         lambda: list(baselines.peer_frames(x, 8, "flowfps", Fraction(30), finish=fin))),
        ("the same in the worker process, 8-bit frames through its ring",
         lambda: (list(baselines.peer_stream(x, 8, "flowfps", Fraction(30), finish=fin)), native.pool().close())),
    ]
    runs = {name: [] for name, _ in flow_stages}
    outs = None
    for _ in range(max(1, args.rounds)):
        for name, fn in flow_stages:
            out, secs = measure(fn)
            outs = out if outs is None else outs       # the first stage's frames, for the stages below
            runs[name].append(secs)
            print(f"{name:58s} {1000 * secs:7.1f} ms CPU per output frame", flush=True)
    for name, v in runs.items():
        label = name if len(v) == 1 else f"{name} (median of {len(v)}, {1000 * min(v):.1f}-{1000 * max(v):.1f})"
        rows.append((label, float(np.median(v))))
    stage("back-projection and clip (streamed, vs_zstsr/direct.py)",
          lambda: list(direct.stream(iter(x), 8, "flow", peer=lambda s, k: (y.copy() for y in outs))))
    data = stage("quantize to 8 bits (io.quantize)", lambda: [io.quantize(y, 8) for y in outs])
    img = [av.VideoFrame.from_ndarray(d, format="rgb24") for d in data]
    for pf in ("bgr0", "yuv420p"):
        stage(f"rgb24 -> {pf} (swscale)", lambda: [f.reformat(format=pf, threads=1) for f in img])
    for codec, pf, path in (("ffv1", "bgr0", "/tmp/zstsr_stages.mkv"), ("ffv1", "yuv420p", "/tmp/zstsr_stages.mkv"),
                            ("ffvhuff", None, "/tmp/zstsr_stages.nut")):
        def write():
            with io.VideoWriter(path, w, h, Fraction(240), 8, codec, pix_fmt=pf) as wr:
                for y in outs:
                    wr.write(y)
        stage(f"VideoWriter {codec} {pf or 'rgb24'} (quantize, convert, encode)", write)
    print("| stage | ms CPU per output frame |\n|---|---|")
    for name, s in rows:
        print(f"| {name} | {1000 * s:.1f} |")


if __name__ == "__main__":
    main()
