"""One chunk of the render at a given frame size, in steady state: ``Renderer.render`` on a window
of ``count`` LTR frames with the ladder's context each side, seconds per kept LTR frame and the
process's peak RSS, per chunk size (vs_zstsr/stream.py ``chunk_frames`` gives 1 at 1080p x8).

    python benchmarks/bench_render_window.py [--size 1080x1920] [--counts 1 4] [--rungs net/cubic/cubic] [--rounds 2]

An untrained net of the ``fast`` preset (its time does not depend on its weights), the ladder of
``--method net`` with each rung's method then set by ``--rungs`` (auto's usual pick on real
footage puts the net on the first rung only), no scene cuts; the frames are a textured image
panning 5 pixels a frame. Each run is a process of its own, the counts alternately.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import publish, untrained_net

_RUN = r"""
import json, resource, sys, time
import numpy as np
from vs_zstsr.options import UpsampleOptions
from vs_zstsr.resample import resize_spatial
from vs_zstsr.stream import Renderer
model, h, w, count, rungs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
r = Renderer.create(model, UpsampleOptions(method="net", cut_threshold=0).check(), height=h, width=w)
for rung, method in zip(r.ladder.plan.rungs, rungs.split("/")):
    rung.method = method
ctx = r.context
texture = resize_spatial(np.random.default_rng(0).random((1, h // 8, w // 8, 3), dtype=np.float32), h, w)[0]
frames = np.stack([np.roll(texture, 5 * i, axis=1) for i in range(count + 2 * ctx)])
del texture
t0 = time.perf_counter()
y = r.render(frames, ctx, count, cut_at=[])
secs = time.perf_counter() - t0
print(json.dumps({"s": secs, "context": ctx, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1080x1920", help="HEIGHTxWIDTH")
    ap.add_argument("--counts", type=int, nargs="+", default=[1, 4], help="LTR frames kept per chunk")
    ap.add_argument("--rungs", default="net/cubic/cubic", help="each rung's method, / between them")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args(argv)
    h, w = (int(v) for v in a.size.split("x"))
    rows: dict[int, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = untrained_net(os.path.join(tmp, "fast.onnx"))
        for r in range(a.rounds):
            for count in (a.counts if r % 2 == 0 else a.counts[::-1]):
                out = subprocess.run([sys.executable, "-c", _RUN, model, str(h), str(w), str(count), a.rungs],
                                     check=True, stdout=subprocess.PIPE, text=True).stdout
                rows.setdefault(count, []).append(json.loads(out.splitlines()[-1]))
                print(f"round {r + 1} count {count}: {rows[count][-1]}", flush=True)
    ctx = rows[a.counts[0]][0]["context"]
    lines = [f"Command: `python benchmarks/bench_render_window.py --size {a.size} --counts "
             f"{' '.join(map(str, a.counts))} --rungs {a.rungs} --rounds {a.rounds}` ({time.strftime('%Y-%m-%d %H:%M')}; "
             f"context {ctx} LTR frames each side)", "",
             "| LTR frames kept per chunk | s per kept LTR frame (each round) | peak RSS MiB |", "|---|---|---|"]
    for count in a.counts:
        lines.append(f"| {count} | {', '.join(f'{x['s'] / count:.1f}' for x in rows[count])} | "
                     f"{max(x['peak_mib'] for x in rows[count])} |")
    publish(lines, f"render-window-{a.size}", a.write_docs)


if __name__ == "__main__":
    main()
