"""The resident set of a command and of each process it starts, sampled through the run: which
process holds the memory and whether it grows segment by segment (issue 19).

    python benchmarks/rss_hd.py COMMAND [ARGS...]
    python benchmarks/rss_hd.py --every SECONDS COMMAND [ARGS...]
    e.g. python benchmarks/rss_hd.py python -m vs_zstsr upsample pan.mkv -o o.nut --method flow --codec ffvhuff -y

Prints the peak RSS (MiB) of the command's own process ("main") and of its child processes
("worker", e.g. MVTools' worker of vs_zstsr/native.py), the peak of the shared memory in each
(RssShmem: the segment the worker maps), the peak of the whole job's memory ("job": the
processes' proportional sets, Pss, summed at the same instant, so a page both map - a segment,
MVTools' ring - counts once, where adding the RSS peaks counts it twice and adds peaks that did
not coincide; "job rss": the RSS summed at the same instant), then one sample every 10 s of each.
Every ``--every`` s (0.5) it reads /proc (Linux only), so a peak shorter than that can be missed:
for one process's peak, bench_hd.py --memory-only (the kernel's own high-water mark) is exact.
"""
from __future__ import annotations

import subprocess
import sys
import time


def tree(pid: int) -> list[int]:
    out = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            for c in f.read().split():
                out += tree(int(c))
    except OSError:
        pass
    return out


def rss_mib(pid: int, field: str = "VmRSS") -> int | None:
    """A process's resident set (or another of its /proc status fields: ``RssShmem``, its shared
    memory resident, e.g. a segment MVTools' worker maps from the CLI), in MiB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(f.read().split(f"{field}:")[1].split()[0]) // 1024
    except (OSError, IndexError):
        return None


def pss_mib(pid: int) -> int:
    """A process's proportional set in MiB: each page it maps divided by the processes mapping it."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return int(f.read().split("Pss:")[1].split()[0]) // 1024
    except (OSError, IndexError):
        return 0


def main() -> None:
    args = sys.argv[1:]
    every = 0.5
    if args[:1] == ["--every"]:
        if len(args) < 2:
            sys.exit("rss_hd.py: --every needs seconds")
        every, args = float(args[1]), args[2:]
    if not args:
        sys.exit(__doc__)
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak: dict[str, int] = {}
    shared: dict[str, int] = {}
    samples: dict[tuple[int, str], int] = {}
    t0 = time.time()
    while p.poll() is None:
        procs = tree(p.pid)
        peak["job"] = max(peak.get("job", 0), sum(pss_mib(q) for q in procs))
        peak["job rss"] = max(peak.get("job rss", 0), sum(rss_mib(q) or 0 for q in procs))
        for q in procs:
            r = rss_mib(q)
            if r is None:
                continue
            name = "main" if q == p.pid else "worker"
            peak[name] = max(peak.get(name, 0), r)
            shared[name] = max(shared.get(name, 0), rss_mib(q, "RssShmem") or 0)
            t = int(time.time() - t0)
            if t % 10 == 0:
                samples.setdefault((t, name), r)
        time.sleep(every)
    print("peak MiB", peak)
    print("peak shared memory MiB", shared)
    print("every 10 s:", sorted(samples.items()))
    print(p.stderr.read().decode()[-300:])
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
