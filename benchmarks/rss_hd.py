"""The resident set of a command and of each process it starts, sampled through the run: which
process holds the memory and whether it grows segment by segment (issue 19).

    python benchmarks/rss_hd.py COMMAND [ARGS...]
    e.g. python benchmarks/rss_hd.py python -m vs_zstsr upsample pan.mkv -o o.nut --method flow --codec ffvhuff -y

Prints the peak RSS (MiB) of the command's own process ("main") and of its child processes
("worker", e.g. MVTools' worker of vs_zstsr/native.py), the peak of the shared memory in each
(RssShmem: the segment the worker maps), then one sample every 10 s of each.
Every 0.5 s it reads /proc (Linux only), so a peak shorter than that can be missed: for the
peak alone, bench_hd.py --memory-only (the kernel's own high-water mark) is exact.
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


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak: dict[str, int] = {}
    shared: dict[str, int] = {}
    samples: dict[tuple[int, str], int] = {}
    t0 = time.time()
    while p.poll() is None:
        for q in tree(p.pid):
            r = rss_mib(q)
            if r is None:
                continue
            name = "main" if q == p.pid else "worker"
            peak[name] = max(peak.get(name, 0), r)
            shared[name] = max(shared.get(name, 0), rss_mib(q, "RssShmem") or 0)
            t = int(time.time() - t0)
            if t % 10 == 0:
                samples.setdefault((t, name), r)
        time.sleep(0.5)
    print("peak MiB", peak)
    print("peak shared memory MiB", shared)
    print("every 10 s:", sorted(samples.items()))
    print(p.stderr.read().decode()[-300:])
    sys.exit(p.returncode)


if __name__ == "__main__":
    main()
