"""When each part of ``zstsr upsample --method flow`` runs: a timeline of one job (issue 19).

    python benchmarks/timeline_hd.py CLIP [zstsr upsample options ...]
    python benchmarks/timeline_hd.py /tmp/zstsr_hd/pan_1080p_96.mkv -o /tmp/out.nut --method flow --codec ffvhuff -y

Runs the CLI in this process with a few of its steps wrapped to print the seconds since start
when they begin and end: each shot end's motion and virtual frames (vs_zstsr/shotends.py, as
the direct path makes them), every 8th LTR frame read (the cut detector's push), and each segment's
stream from MVTools' worker (vs_zstsr/native.py; every 32nd frame received, and the last). At the
end, this process's CPU seconds and the worker's (read from /proc before it exits), so that what
runs in parallel and what waits can be told apart. bench_hd.py makes the pan clips.
"""
from __future__ import annotations

import functools
import os
import resource
import sys
import time

T0 = time.perf_counter()
_WORKER_CPU: dict[int, float] = {}


def log(msg: str) -> None:
    print(f"{time.perf_counter() - T0:8.2f} s  {msg}", file=sys.stderr, flush=True)


def _proc_cpu(pid: int) -> float | None:
    """utime + stime of a live process (Linux /proc), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    from vs_zstsr import baselines, cli, native, shotends

    from vs_zstsr import cuts

    def timed(name: str, fn, what: str):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            log(f"{what} starts")
            out = fn(*a, **k)
            log(f"{what} done")
            return out
        setattr(shotends, name, wrapper)

    timed("flow", shotends.flow, "shot end: motion")
    timed("continued", shotends.continued, "shot end: a virtual frame")
    push, read = cuts.StreamDetector.push, [0]

    def counted_push(self, f):
        read[0] += 1
        if read[0] % 8 == 1:
            log(f"LTR frame {read[0] - 1} read")
        return push(self, f)

    cuts.StreamDetector.push = counted_push
    stream = native.stream

    def timed_stream(*a, **k):
        log("segment: sent to the worker")
        n = 0
        for x in stream(*a, **k):
            if n % 32 == 0:
                log(f"segment: frame {n} received")
            n += 1
            yield x
        for w in native.pool()._idle:            # the worker's CPU so far (it is reaped only at exit)
            cpu = _proc_cpu(w.proc.pid)
            if cpu is not None:
                _WORKER_CPU[w.proc.pid] = cpu
        log(f"segment: done ({n} frames)")

    native.stream = baselines.native.stream = timed_stream
    log("imports done")
    try:
        cli.main.main(["upsample", *sys.argv[1:]], standalone_mode=False)
    finally:
        me = resource.getrusage(resource.RUSAGE_SELF)
        log(f"end: this process {me.ru_utime + me.ru_stime:.1f} CPU s, MVTools' worker "
            f"{sum(_WORKER_CPU.values()):.1f} CPU s")


if __name__ == "__main__":
    main()
