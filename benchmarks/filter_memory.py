"""What holds the VapourSynth filter's memory in its host process (issue 19): the filter
(``core.zstsr.Upsample``, as bench_hd.py's filter row runs it: zstsr's source, every output frame
asked for in order and dropped), with the host's resident set, the bytes numpy holds (tracemalloc)
and VapourSynth's frame cache sampled every 2 s, and the host's peak (the kernel's high-water
mark) at the end.

    python benchmarks/filter_memory.py CLIP [--method flow] [--factor 8] [--snapshot GIB]
                                            [--source-cache FRAMES]

``--snapshot GIB``: once numpy holds more than GIB GiB, print the allocation sites that hold the
most (tracebacks), twice, 8 s apart, and stop after the next frame. tracemalloc slows numpy's
allocations a little; the seconds are not the figure here, the bytes are. At the end it also
prints what VapourSynth still holds once the filter's clip is released (a leak would stay there);
``--source-cache FRAMES`` fixes the source clip's own cache (0: off), to tell its frames from the
filter's.
"""
from __future__ import annotations

import argparse
import gc
import threading
import time
import tracemalloc


def _status(field: str) -> int:
    """A /proc/self/status field in MiB (Linux)."""
    with open("/proc/self/status") as f:
        return int(f.read().split(f"{field}:")[1].split()[0]) // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("--method", default="flow")
    ap.add_argument("--factor", type=int, default=8)
    ap.add_argument("--snapshot", type=float, default=0.0, metavar="GIB")
    ap.add_argument("--source-cache", type=int, default=-1, metavar="FRAMES",
                    help="fix the source's own VapourSynth cache at FRAMES (0: off); default: VapourSynth's")
    args = ap.parse_args()

    import vapoursynth as vs

    from vs_zstsr import filter as zf

    tracemalloc.start(12 if args.snapshot else 1)
    core = vs.core
    state = {"stop": False, "snaps": 0, "peak": (0, 0, 0)}

    def sample() -> None:
        t0 = time.time()
        while not state["stop"]:
            rss, held = _status("VmRSS"), tracemalloc.get_traced_memory()[0] // 2 ** 20
            cache = core.used_cache_size // 2 ** 20
            state["peak"] = max(state["peak"], (rss, held, cache))
            print(f"{time.time() - t0:7.1f} s  host RSS {rss:6d} MiB  numpy {held:6d} MiB  "
                  f"VapourSynth cache {cache:5d} MiB", flush=True)
            if args.snapshot and held > args.snapshot * 1024 and state["snaps"] < 2:
                print(f"--- numpy holds {held} MiB; the sites that hold the most:")
                for st in tracemalloc.take_snapshot().statistics("traceback")[:8]:
                    print(f"{st.size / 2 ** 20:8.0f} MiB in {st.count} blocks")
                    for line in st.traceback.format()[-8:]:
                        print("      " + line)
                state["snaps"] += 1
                time.sleep(6)
            time.sleep(2)

    threading.Thread(target=sample, daemon=True).start()
    t0 = time.perf_counter()
    src = zf.source(args.clip)
    if args.source_cache == 0:
        core.std.SetVideoCache(src, mode=0)
    elif args.source_cache > 0:
        core.std.SetVideoCache(src, mode=1, fixedsize=1, maxsize=args.source_cache)
    out = zf.upsample(src, args.factor, method=args.method)
    for _ in out.frames(close=True):
        if args.snapshot and state["snaps"] >= 2:
            break
    state["stop"] = True
    del out, src
    gc.collect()
    left = core.used_cache_size // 2 ** 20
    rss, held, cache = state["peak"]
    print(f"{time.perf_counter() - t0:.0f} s; host peak (high-water mark) {_status('VmHWM')} MiB; "
          f"numpy's peak {tracemalloc.get_traced_memory()[1] // 2 ** 20} MiB; at the largest sample: "
          f"RSS {rss}, numpy {held}, VapourSynth cache {cache} MiB; "
          f"VapourSynth's frames left once the filter's clip is released: {left} MiB")


if __name__ == "__main__":
    main()
