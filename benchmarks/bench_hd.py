"""Large frames: seconds per output frame and peak memory of zstsr's commands at 720p, 1080p and
2160p, against MVTools FlowFPS alone on the same clip in the same run.

    python benchmarks/bench_hd.py [--sizes 1080p 2160p 720p] [--frames 16] [--frames-2160p 4]
                                  [--budget 20s] [--long 4] [--pose] [--write-docs]

Clips (hd_clips.py): the synthetic textured pan at each size (16 frames, 2160p 4 frames by
default), x8, written losslessly (FFV1 .mkv, or ffvhuff .nut where said). Each command runs in a process of its own; its peak
RSS is the largest resident set of one of its processes (RUSAGE_CHILDREN: zstsr's, or MVTools'
worker's), and the job's peak that of its processes together (sampled: benchmarks/rss_hd.py). The reference runs in a process
of its own too, measured the same way (its peak holds the decoded clip): the pan's frames as YUV 4:4:4 16-bit in VapourSynth (made before the clock starts),
MVTools Super, Analyse (both directions) and FlowFPS exactly as zstsr calls them (the x16 grid's
frames that x8 keeps: vs_zstsr/baselines.py), frames computed on every core and dropped. The ratio
to it is the figure (the machine is shared, so seconds alone are noisy). ``--long 4``: the 1080p
runs (or those of ``--long-sizes``) again on a clip 4x as long, for the memory's independence of
the clip length.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

from common import ROOT, replace_section
from hd_clips import INPUT_CODEC, INPUT_CODECS, SIZES, make_pan
from rss_hd import pss_mib, tree

# RUSAGE_CHILDREN: the largest child's peak RSS, and the CPU of all descendants (the MVTools worker too)
_PEAK = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
         "r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime, r.ru_maxrss)")


def run_measured(*args, out: list | None = None) -> tuple[float, float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MiB, the job's peak in MiB) of one command in a child
    process of its own; ``out``: the command's own printed words are appended to it. The peak RSS is
    its largest process's (the kernel's high-water mark); the job's peak is its processes' memory
    together, sampled every 0.25 s (rss_hd.py: proportional sets summed, a shared page once)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", _PEAK, *map(str, args)], stdout=subprocess.PIPE, text=True)
    job = [0]

    def sample():
        while p.poll() is None:
            job[0] = max(job[0], sum(pss_mib(q) for q in tree(p.pid)[1:]))   # not the measuring process
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = p.communicate()
    sampler.join()
    if p.returncode:
        raise subprocess.CalledProcessError(p.returncode, args)
    words = stdout.split()
    if out is not None:
        out.extend(words[:-2])
    cpu, rss = words[-2:]
    return time.perf_counter() - t0, float(cpu), int(rss) / 1024, job[0]


def reference(path: str, factor: int, uncached: bool = False, capped: bool = False) -> None:
    """MVTools FlowFPS alone (run by ``--reference``): prints its seconds. ``uncached``: with the
    frame caches zstsr's graph sets (vs_zstsr/baselines.py, ``FLOW_CACHES``: fixed, or off);
    ``capped``: VapourSynth's cache limit as zstsr's worker sets it for this frame size
    (``baselines.flow_cache_mb`` and what the fixed caches hold: memory bounded by the frame
    size), not its default (half the machine's memory)."""
    import numpy as np
    import vapoursynth as vs

    from vs_zstsr import io

    core = vs.core
    d0, dc0 = time.perf_counter(), time.process_time()
    frames = [(np.clip(f, 0, 1) * 65535 + 0.5).astype(np.uint16) for f in io.read_frames(path)]
    decoded = time.perf_counter() - d0, time.process_time() - dc0
    t, (h, w) = len(frames), frames[0].shape[:2]
    if capped:
        from vs_zstsr.baselines import flow_cache_mb

        core.max_cache_size = flow_cache_mb(h, w)
    blank = core.std.BlankClip(width=w, height=h, format=vs.RGB48, length=t, fpsnum=30, fpsden=1)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n][:, :, p])
        return out

    yuv = core.resize.Bicubic(core.std.ModifyFrame(blank, blank, fill), format=vs.YUV444P16, matrix_s="709",
                              range_s="full")
    yuv = core.std.Cache(yuv) if hasattr(core.std, "Cache") else yuv
    for _ in yuv.frames():   # convert up front: not MVTools' work
        pass
    held = [np.stack([np.asarray(f[p]).copy() for p in range(3)]) for f in yuv.frames()]
    src = core.std.BlankClip(yuv, length=t)

    def put(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), held[n][p])
        return out

    src = core.std.ModifyFrame(src, src, put)
    t0, c0 = time.perf_counter(), time.process_time()
    blk = 16 if min(w, h) >= 256 else 8
    sup = core.mv.Super(src, pel=2)
    bv = core.mv.Analyse(sup, isb=True, blksize=blk, overlap=blk // 2)
    fv = core.mv.Analyse(sup, isb=False, blksize=blk, overlap=blk // 2)
    flow = core.mv.FlowFPS(src, sup, bv, fv, num=30 * 2 * factor, den=1)
    if uncached:   # zstsr's own graph's caches, where this graph has the node (src: its YUV frames)
        from vs_zstsr.baselines import set_caches

        fixed_mb = set_caches({"yuv": (src,), "super": (sup,), "vectors": (bv, fv), "flow": (flow,)})
        if capped:
            core.max_cache_size += fixed_mb
    from vs_zstsr.baselines import _select

    wanted = np.clip(2 * np.arange(t * factor) + 1 - factor, 0, flow.num_frames - 1)
    for _ in _select(flow, wanted).frames(close=True):
        pass
    # last: its own seconds (wall, CPU); before them, the clip's decoding, which is not in them
    print(*decoded, time.perf_counter() - t0, time.process_time() - c0)


LABELS = {"flow": "upsample --method flow (FFV1 .mkv)", "flow-ffvhuff": "upsample --method flow --codec ffvhuff (.nut)",
          "cubic": "upsample --method cubic (FFV1 .mkv)", "default": "upsample (default: nets, self-check)",
          "baseline": "baseline -m flowfps -b (FFV1 .mkv)", "render": "render --method cubic --codec ffv1",
          "filter": "filter: core.zstsr.Upsample(method=\"flow\"), frames dropped",
          "filter-rgbs": "filter on the clip made RGBS (float), frames dropped"}

# The VapourSynth filter as a script uses it: zstsr's own source, every output frame asked for in
# order; with a second argument "rgbs" the clip is made RGBS first (a float output: its frames are
# 4x the bytes of 8-bit 4:2:0 ones; an RGB source, as the pan's FFV1 is, or a YUV one with _Matrix)
_FILTER = ("import sys; import vapoursynth as vs; from vs_zstsr import filter as zf; src = zf.source(sys.argv[1]); "
           "src = vs.core.resize.Bicubic(src, format=vs.RGBS) if sys.argv[2:] == ['rgbs'] else src; "
           "out = zf.upsample(src, 8, method='flow'); "
           "[None for _ in out.frames(close=True)]")


def commands(clip: Path, out: str, budget: str) -> dict:
    zs = [sys.executable, "-m", "vs_zstsr"]
    return {
        "flow": zs + ["upsample", clip, "-o", f"{out}_flow.mkv", "--method", "flow", "-y"],
        "flow-ffvhuff": zs + ["upsample", clip, "-o", f"{out}_flow.nut", "--method", "flow", "--codec", "ffvhuff", "-y"],
        "cubic": zs + ["upsample", clip, "-o", f"{out}_cubic.mkv", "--method", "cubic", "-y"],
        "default": zs + ["upsample", clip, "-o", f"{out}_default.mkv", "--budget", budget, "-y"],
        "baseline": zs + ["baseline", clip, "-o", f"{out}_baseline.mkv", "-m", "flowfps", "-b", "-y"],
        "render": zs + ["render", clip, "-o", f"{out}_render", "--method", "cubic", "--codec", "ffv1", "-y"],
        "filter": [sys.executable, "-c", _FILTER, clip],
        "filter-rgbs": [sys.executable, "-c", _FILTER, clip, "rgbs"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/zstsr_hd"))
    ap.add_argument("--sizes", nargs="+", default=["1080p", "2160p", "720p"], choices=SIZES)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--input-codec", choices=INPUT_CODECS, default=INPUT_CODEC,
                    help="the pan's codec (h264: as a camera delivers it, ~0.04 CPU s to decode a 1080p frame against FFV1's 0.25)")
    ap.add_argument("--frames-2160p", type=int, default=4)
    ap.add_argument("--budget", default="20s")
    ap.add_argument("--long", type=int, default=4, help="--long-sizes again on a clip this many times as long (0: no)")
    ap.add_argument("--long-sizes", nargs="+", default=["1080p"], choices=SIZES,
                    help="the sizes --long runs again (default 1080p)")
    ap.add_argument("--commands", nargs="+", default=["flow", "flow-ffvhuff", "cubic", "default", "baseline"],
                    choices=list(LABELS))
    ap.add_argument("--pose", action="store_true", help="also the default path on the real pose2sim clip, "
                    "full size and upscaled to 2160p")
    ap.add_argument("--pose-frames", type=int, default=8, help="frames of the 2160p pose clip")
    ap.add_argument("--memory-only", action="store_true",
                    help="peak memory only (the largest process and the job), no reference and no seconds (for a run that shares the machine)")
    ap.add_argument("--reference", nargs=2, metavar=("CLIP", "FACTOR"), help=argparse.SUPPRESS)
    ap.add_argument("--uncached", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--capped", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--reference-capped", action="store_true",
                    help="also MVTools alone with the frame caches and VapourSynth's cache limit as zstsr's "
                         "worker sets them (memory bounded by the frame size, as zstsr's)")
    ap.add_argument("--reference-uncached", action="store_true",
                    help="also MVTools alone with the frame caches as zstsr sets them (a second reference row)")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    if args.reference:
        reference(args.reference[0], int(args.reference[1]), args.uncached, args.capped)
        return

    factor = 8
    runs = []
    for size in args.sizes:
        runs.append((size, args.frames_2160p if size == "2160p" else args.frames))
        if args.long and size in args.long_sizes:
            runs.append((size, runs[-1][1] * args.long))
    rows, ref, decoding = [], {}, {}
    for size, n in runs:
        suffix = "" if args.input_codec == INPUT_CODEC else f"_{args.input_codec}"
        clip = make_pan(args.work / f"pan_{size}_{n}{suffix}{INPUT_CODECS[args.input_codec][0]}", size, n,
                        codec=args.input_codec)
        if size not in ref and not args.memory_only:
            refs = {"MVTools FlowFPS alone (reference)": []}
            if args.reference_uncached:
                refs["MVTools FlowFPS alone, frame caches as zstsr sets them"] = ["--uncached"]
            if args.reference_capped:   # automatic caches under the limit thrash (docs/BENCHMARKS.md): both as zstsr
                refs["MVTools FlowFPS alone in zstsr's memory settings (its caches, its limit)"] = ["--uncached", "--capped"]
            for label, extra in refs.items():
                words: list[str] = []
                _, _, rss, job = run_measured(sys.executable, __file__, "--reference", clip, factor, *extra, out=words)
                dec_wall, dec_cpu, wall, cpu = map(float, words[-4:])
                ref.setdefault(size, (wall / n, cpu / n))     # the ratios are to the first row
                decoding.setdefault((size, n), (dec_wall, dec_cpu))
                rows.append((size, n, label, wall, cpu, rss, job))   # its peak holds the clip, decoded
                print(rows[-1], flush=True)
        cmds = commands(clip, str(args.work / f"out_{size}_{n}"), args.budget)
        for name in args.commands:
            rows.append((size, n, LABELS[name]) + run_measured(*cmds[name]))
            print(rows[-1], flush=True)
    lines = ["| size | LTR frames (x8 out) | command | s per output frame | x reference (wall) | "
             "x reference (CPU) | largest process peak RSS (GiB) | job peak (GiB) |", "|---|---|---|---|---|---|---|---|"]
    if args.memory_only:   # run beside other work: the seconds mean nothing, memory does
        lines = ["| size | LTR frames (x8 out) | command | largest process peak RSS (GiB) | job peak (GiB) |",
                 "|---|---|---|---|---|"]
    for size, n, label, wall, cpu, rss, job in rows:
        if args.memory_only:
            lines.append(f"| {size} | {n} ({n * factor}) | {label} | {rss / 1024:.2f} | {job / 1024:.2f} |")
            continue
        rw, rc = ref[size]
        lines.append(f"| {size} | {n} ({n * factor}) | {label} | {wall / (n * factor):.3f} | {wall / n / rw:.2f} | "
                     f"{cpu / n / rc:.2f} | {rss / 1024:.2f} | {job / 1024:.2f} |")
    # The reference reads its clip before its clock starts; zstsr's seconds include reading it
    for (size, n), (dw, dc) in decoding.items():
        lines.append(f"\nNot in the reference's seconds: decoding its clip ({size}, {n} frames) and converting it "
                     f"to 16 bits, {dw:.1f} s ({dc:.1f} CPU s), {dw / (n * factor):.3f} s per output frame.")
    table = "\n".join(lines)
    print(table)
    if args.pose:
        table += "\n\n" + pose_runs(args)
        print(table)
    if args.write_docs:
        body = (f"Command: `python benchmarks/bench_hd.py {' '.join(sys.argv[1:])}` (the machine was shared, "
                "2 cores: compare the ratios to the reference, measured in the same run; CPU seconds count every "
                "thread and the MVTools worker process). The synthetic textured pan (benchmarks/hd_clips.py, "
                f"{args.input_codec.upper()}), "
                f"x{factor}; seconds include start-up, decoding, training (default) and writing. The reference: "
                "MVTools Super, Analyse and FlowFPS alone on the same clip, frames computed and dropped.\n\n" + table)
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "bench_hd", body)


def pose_runs(args) -> str:
    """The default path end to end on real footage: pose2sim_single_cam01.mp4 at full size
    (1080x1920, all 100 frames) and upscaled to 2160x3840 (its first --pose-frames frames)."""
    from hd_clips import POSE, make_pose

    lines = ["| clip | LTR frames (x8 out) | command | wall s | s per output frame | largest process peak RSS (GiB) | "
             "job peak (GiB) | result |", "|---|---|---|---|---|---|---|---|"]
    clips = [("pose2sim_single_cam01.mp4, 1080x1920", POSE, 100),
             (f"the same upscaled to 2160x3840 (first {args.pose_frames} frames)",
              make_pose(args.work / f"pose_2160p_{args.pose_frames}.mkv", "2160p", args.pose_frames), args.pose_frames)]
    for name, clip, n in clips:
        out = args.work / f"pose_{n}_default.mkv"
        wall, cpu, rss, job = run_measured(sys.executable, "-m", "vs_zstsr", "upsample", clip, "-o", out,
                                           "--budget", args.budget, "-y")
        from vs_zstsr import io

        got = io.count_frames(out)
        lines.append(f"| {name} | {n} ({n * 8}) | upsample (default, --budget {args.budget}) | {wall:.0f} | "
                     f"{wall / (n * 8):.3f} | {rss / 1024:.2f} | {job / 1024:.2f} | {'complete' if got == n * 8 else f'{got} frames'} |")
        print(lines[-1], flush=True)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
