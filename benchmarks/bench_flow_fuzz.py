"""Which frame sizes make MVTools FlowFPS crash, and what running it in a worker process costs.

    flock /work/locks/bench .venv/bin/python benchmarks/bench_flow_fuzz.py [--trials 2000] [--seed 0] [--write-docs]

Fuzz: seeded random clips cut from the real footage in ../shared/data (cityCC0.mpg and both
pose2sim clips), as the self-check cuts them: a window of 4 to 12 frames, each the mean of 1, 2
or 4 source frames (a slower camera's exposure), a crop of 24..64 px a side (square 70% of the
time) taken from the clip shrunk 1, 2, 4, 8 or 16 times in space (antialiased bicubic, as
``resample.resize_spatial`` shrinks the self-check's crop), through ``baselines.peer_frames``
(FlowFPS at x 2N, N = 2 mostly, 4 or 8) in the worker pool of ``vs_zstsr.native``, below the size
guard (which is ``baselines.interpolate``'s). Plus the crash fixture
(../shared/data/mvtools_crash_6x32x32.npy) as it is, cut down to 24..31 px and padded (edges
repeated) or enlarged (bicubic) to 33..64 px. Every crash is recorded with what made it.

Overhead: a worker's start-up, an empty call's round trip, and FlowFPS on the self-check's clips
(the proxy at 64x64, the full-size crop at 512x512) and on a 1080p window, each timed in this
process and in a worker (median of repeats), reported as milliseconds more per call and as a ratio.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict
from fractions import Fraction

import numpy as np
from common import ROOT, SHARED, replace_section

from vs_zstsr import baselines, io, native
from vs_zstsr.resample import resize_spatial

CLIPS = ("cityCC0.mpg", "pose2sim_single_cam01.mp4", "pose2sim_single_cam03.mp4")
SHRINKS = (1, 2, 4, 8, 16)
FULL_FRAMES = 24          # frames kept at full size (1080p frames are large); the shrunk ones keep all
SIZES = range(24, 65)
FIXTURE = SHARED / "mvtools_crash_6x32x32.npy"
RATE = Fraction(30)


def load(name: str) -> dict[int, np.ndarray]:
    """The clip at each shrink in SHRINKS, as uint8 (T, H, W, 3)."""
    path = SHARED / name
    vi = io.probe(path)
    out: dict[int, list] = defaultdict(list)
    for i, f in enumerate(io.read_frames(path, vi)):
        for s in SHRINKS:
            if s == 1 and i >= FULL_FRAMES:
                continue
            g = f if s == 1 else resize_spatial(f[None], round(vi.height / s), round(vi.width / s))[0]
            out[s].append(np.clip(g * 255 + 0.5, 0, 255).astype(np.uint8))
    return {s: np.stack(v) for s, v in out.items()}


def flow(x: np.ndarray, factor: int, pool: native.Pool) -> str:
    """'ok', or what the crash was."""
    try:
        for _ in pool.stream("vs_zstsr.baselines:peer_frames", x, factor, "flowfps", RATE, what="MVTools FlowFPS"):
            pass
        return "ok"
    except native.NativeCrash as e:
        return str(e).split("crashed: ", 1)[-1]


def fuzz_cases(clips: dict, trials: int, rng: np.random.Generator):
    names = sorted(clips)
    for _ in range(trials):
        name = names[rng.integers(len(names))]
        s = int(rng.choice(SHRINKS))
        src = clips[name][s]
        h = int(rng.integers(SIZES.start, SIZES.stop))
        w = h if rng.random() < 0.7 else int(rng.integers(SIZES.start, SIZES.stop))
        t, avg = int(rng.choice((4, 6, 8, 12))), int(rng.choice((1, 2, 4)))
        factor = int(rng.choice((2, 2, 2, 4, 8)))
        if src.shape[1] < h or src.shape[2] < w or src.shape[0] < t * avg:
            continue
        t0 = int(rng.integers(0, src.shape[0] - t * avg + 1))
        y0, x0 = int(rng.integers(0, src.shape[1] - h + 1)), int(rng.integers(0, src.shape[2] - w + 1))
        crop = src[t0:t0 + t * avg, y0:y0 + h, x0:x0 + w].astype(np.float32) / 255
        crop = crop.reshape(t, avg, h, w, 3).mean(axis=1)
        yield dict(source=name, shrink=s, t0=t0, y0=y0, x0=x0, h=h, w=w, frames=t, exposure=avg,
                   factor=factor), np.ascontiguousarray(crop)


def fixture_cases(repeats: int):
    x = np.load(FIXTURE)
    for k in range(repeats):
        yield dict(source="fixture", how="as is", h=32, w=32, factor=2, repeat=k), x
    for n in range(24, 32):
        a = (32 - n) // 2
        yield dict(source="fixture", how="centre crop", h=n, w=n, factor=2), np.ascontiguousarray(x[:, a:a + n, a:a + n])
    for n in range(33, 65):
        yield dict(source="fixture", how="padded", h=n, w=n, factor=2), np.pad(x, ((0, 0), (0, n - 32), (0, n - 32), (0, 0)),
                                                                                mode="edge")
        yield dict(source="fixture", how="enlarged", h=n, w=n, factor=2), resize_spatial(x, n, n)


def fuzz(trials: int, seed: int, repeats: int) -> dict:
    clips = {name: load(name) for name in CLIPS}
    pool = native.Pool(1)
    rows = []
    t0 = time.perf_counter()
    cases = list(fixture_cases(repeats)) + list(fuzz_cases(clips, trials, np.random.default_rng(seed)))
    for k, (case, x) in enumerate(cases):
        case["result"] = flow(x, case["factor"], pool)
        rows.append(case)
        if case["result"] != "ok":
            print("crash:", case, flush=True)
        if k % 200 == 0:
            print(f"{k}/{len(cases)} cases, {time.perf_counter() - t0:.0f} s", flush=True)
    pool.close()
    return {"seed": seed, "trials": trials, "workers_started": pool.started, "rows": rows,
            "seconds": time.perf_counter() - t0}


def _median_ms(f, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def overhead(repeats: int) -> dict:
    pool = native.Pool(1)
    t = time.perf_counter()
    pool.call("os:getpid", what="a worker")
    start_ms = 1000 * (time.perf_counter() - t)
    empty_ms = _median_ms(lambda: pool.call("os:getpid", what="a worker"), 50)
    src = load(CLIPS[1])                   # pose2sim cam01: 1080x1920
    cases = {
        "self-check proxy, 6x64x64": src[16][:12].astype(np.float32)[::2, :64, :64] / 255,
        "self-check full size, 16x512x512": src[2][:16, 200:712, 0:512].astype(np.float32) / 255,
        "1080p window, 4x1920x1080": src[1][:4].astype(np.float32) / 255,
    }
    out = {"worker start-up ms": start_ms, "empty call ms": empty_ms, "cases": {}}
    for name, x in cases.items():
        x = np.ascontiguousarray(x)
        def here():
            return list(baselines.peer_frames(x, 2, "flowfps", RATE))

        def there():
            return list(pool.stream("vs_zstsr.baselines:peer_frames", x, 2, "flowfps", RATE, what="MVTools FlowFPS"))

        here(), there()       # warm: VapourSynth and MVTools loaded on both sides
        inproc, worker = _median_ms(here, repeats), _median_ms(there, repeats)
        out["cases"][name] = {"in process ms": inproc, "worker ms": worker, "overhead ms": worker - inproc,
                              "ratio": worker / inproc, "MB in+out": x.nbytes * 3 / 2 ** 20}
        print(name, out["cases"][name], flush=True)
    pool.close()
    return out


def table(result: dict, over: dict) -> str:
    rows = result["rows"]
    by_size = defaultdict(Counter)
    for r in rows:
        side = min(r["h"], r["w"])
        by_size[side]["trials"] += 1
        by_size[side]["crashes"] += r["result"] != "ok"
    crashed = sorted(s for s, c in by_size.items() if c["crashes"])
    largest = max(crashed) if crashed else None
    lines = [f"Seed {result['seed']}: {len(rows)} FlowFPS calls ({result['trials']} fuzz draws from the three "
             f"real clips, the rest from the fixture) in {result['seconds']:.0f} s, "
             f"{result['workers_started']} worker processes started.", "",
             "| shorter side (px) | calls | crashes |", "|---|---|---|"]
    groups = [(24, 27), (28, 31), (32, 32), (33, 35), (36, 39), (40, 43), (44, 47), (48, 55), (56, 64)]
    for a, b in groups:
        n = sum(by_size[s]["trials"] for s in range(a, b + 1))
        c = sum(by_size[s]["crashes"] for s in range(a, b + 1))
        lines.append(f"| {a}" + (f"-{b}" if b != a else "") + f" | {n} | {c} |")
    kinds = Counter(r["result"] for r in rows if r["result"] != "ok")
    fx = [r for r in rows if r["source"] == "fixture" and r.get("how") == "as is"]
    lines += ["", f"Sizes that crashed (shorter side): {', '.join(map(str, crashed)) or 'none'}; "
              f"largest {largest}. How: " + "; ".join(f"{k} ({n})" for k, n in kinds.most_common()) + ".",
              f"The fixture as it is crashed {sum(r['result'] != 'ok' for r in fx)} of {len(fx)} times.",
              f"Guard: `baselines.MIN_FLOW_SIZE = {baselines.MIN_FLOW_SIZE}` (flow is given no smaller frame).", ""]
    lines += ["Worker overhead (`vs_zstsr.native`; median of repeats; "
              f"start-up {over['worker start-up ms']:.0f} ms once per process, an empty call "
              f"{over['empty call ms']:.2f} ms):", "",
              "| FlowFPS x2 on | in process (ms) | in a worker (ms) | overhead (ms) | ratio | MB through the pipes |",
              "|---|---|---|---|---|---|"]
    for name, c in over["cases"].items():
        lines.append(f"| {name} | {c['in process ms']:.1f} | {c['worker ms']:.1f} | {c['overhead ms']:+.1f} | "
                     f"{c['ratio']:.2f} | {c['MB in+out']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fixture-repeats", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5, help="timing repeats per overhead case")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--report", action="store_true", help="only turn the last run's out/bench/flow_fuzz.json into the table")
    args = ap.parse_args()
    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    if args.report:
        saved = json.loads((out / "flow_fuzz.json").read_text())
        result, over = saved["fuzz"], saved["overhead"]
        args.trials, args.seed = result["trials"], result["seed"]
    else:
        result = fuzz(args.trials, args.seed, args.fixture_repeats)
        over = overhead(args.repeats)
        (out / "flow_fuzz.json").write_text(json.dumps({"fuzz": result, "overhead": over}, indent=1))
    body = table(result, over)
    print(body)
    if args.write_docs:
        cmd = (f"flock /work/locks/bench .venv/bin/python benchmarks/bench_flow_fuzz.py --trials {args.trials} "
               f"--seed {args.seed} --write-docs")
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "flow-fuzz",
                        "## MVTools FlowFPS: crashes by frame size, and the worker's cost\n\n"
                        f"`{cmd}` (2-core machine shared with other jobs: times are noisy; the ratio is "
                        "measured in the same run)\n\n" + body)


if __name__ == "__main__":
    main()
