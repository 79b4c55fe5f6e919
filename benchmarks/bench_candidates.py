"""Every candidate pipeline on each dev clip, against the truth, and what `zstsr upsample` (auto)
picks on it: the selector's regret.

    ZSTSR_CACHE=out/bench/cache_cand nice -n 15 python benchmarks/bench_candidates.py --clips cam01 [--budget 6m]
    python benchmarks/bench_candidates.py --report [--write-docs]

Clips (benchmarks/common.py): the real 60 fps pose2sim clips shrunk 2x in space at x8 (``cam01``,
``cam03``: 12 LTR frames) and x4 (``cam01x4``, ``cam03x4``: 25), and fan, texture, city at x8.
Candidates, each scored as `zstsr eval` does (PSNR per frame against the truth, averaged; and the
sharpness of :class:`vs_zstsr.metrics.Sharpness`):

* ``X xN + BP``: interpolator X (flow = MVTools FlowFPS, cubic, linear) x N at full size and
  temporal back-projection: the peers (minterpolate and repeat + BP too, for the peer bar);
* ladders (the paper's space-time diagonal, :class:`vs_zstsr.ladder.Ladder`) with a method per
  rung: X on every rung; a net on the first k rungs and X above (k = 1 is named "net + X above");
  the net's residual over flow (``netflow``, :data:`vs_zstsr.methods.NETS`) on the first k rungs
  and flow above; every k below the number of rungs (not the net at full size; auto weighs k = 1
  only, :func:`vs_zstsr.selfcheck.candidate_pipelines`, and these rows say why). Ladders
  that begin with the same rungs share them (``Ladder(memo=)``): the net's rungs run once. The nets are
  the two `zstsr upsample` trains with ``--examples auto`` (within, both; half the budget each,
  found in ZSTSR_CACHE where it keeps them), and with ``--single`` one ``both`` net on the whole
  budget (the issue's "two nets at half budget against one at the full budget");
* with ``--blends``, the means auto weighs: the best 2 and 3 pipelines with the net by the
  self-check's proxy, their frames averaged (:data:`vs_zstsr.selfcheck.BLEND_SIZES`);
* ``auto``: what :meth:`vs_zstsr.stream.Renderer.create` chooses (the same code as `zstsr
  upsample`, same cache, so the same nets), rendered as `zstsr upsample` renders it.

Every ladder candidate is rendered the same way (:meth:`vs_zstsr.stream.Renderer.render`: scene
cuts, each shot's ends continued as :mod:`vs_zstsr.shotends` does), so auto and its candidates
differ only in the pipeline.

Label-free signals the selector may use are recorded beside each (``--json``, one line per clip),
so selection rules can be validated against the truth without training again. ``--report`` turns
the records into the tables of docs/BENCHMARKS.md. Only PSNR and sharpness are reported (no
timing), so a run needs no exclusive machine; on a shared one, run it under ``nice``.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from common import CLIPS, FACTOR, REAL, ROOT, prepare, replace_section

from vs_zstsr import fit, io, ladder, methods, netrun
from vs_zstsr.backprojection import temporal_backproject
from vs_zstsr.baselines import interpolate as peer
from vs_zstsr.metrics import Sharpness, group_seam, psnr

WORK = ROOT / "out" / "bench"
JSON = WORK / "candidates.jsonl"
INTERP = ("flow", "cubic", "linear")
FLOW_NET = "within net over flow"   # --flow-net: trained over flow's x2, not cubic's (flow_bp: "... over flow_bp")


def score(out: np.ndarray, gt: np.ndarray) -> dict:
    sharp = Sharpness()
    for a, b in zip(out, gt):
        sharp.update(a, b)
    return {"psnr": float(np.mean([psnr(a, b) for a, b in zip(out, gt)])), **sharp.result()}


def ladder_of(shape, factor: int, rung_methods: list[str], model=None, direct: bool = False,
              memo: dict | None = None) -> ladder.Ladder:
    p = ladder.plan(*shape, factor)
    for r, m in zip(p.rungs, rung_methods):
        r.method = m
    return ladder.Ladder(p, model, direct=direct, memo=memo)     # default options: the runtime's ensemble


def render(lad: ladder.Ladder, ltr: np.ndarray) -> np.ndarray:
    """The whole clip through ``lad`` as `zstsr upsample` renders it (default cut detection and
    shot ends: :class:`vs_zstsr.stream.Renderer`)."""
    from vs_zstsr.options import UpsampleOptions
    from vs_zstsr.stream import Renderer

    return Renderer.of(lad, UpsampleOptions(factor=lad.factor), *ltr.shape[1:3]).render(ltr, 0, len(ltr))


def measure(clip: str, args) -> dict:
    from vs_zstsr.cli import parse_budget
    from vs_zstsr.fit import fit_model
    from vs_zstsr.model import load_model
    from vs_zstsr.options import TrainOptions, UpsampleOptions
    from vs_zstsr.selfcheck import first_rung_seams, self_check_window
    from vs_zstsr.stream import Renderer

    factor = FACTOR.get(clip, 8)
    ltr_path, gt_path = prepare(clip, WORK)
    info = io.probe(ltr_path)
    _, ltr = io.read_video(ltr_path)
    _, gt = io.read_video(gt_path)
    n, full = len(ltr), ltr.shape[1:3]
    read = io.frame_reader(ltr_path, info)
    window = self_check_window(read, n)
    rung = ladder.plan(*full, factor).rungs[0].size
    from vs_zstsr.fit import AUTO_EXAMPLES, Budget

    # the runtime's default (the preset's iterations, its seconds as a cap), read at run time, unless
    # --budget / --iterations say otherwise (as `zstsr upsample --budget --iterations` takes them)
    budget_s, iterations = (parse_budget(args.budget) if args.budget else None), args.iterations
    whole = Budget.of(None, budget_s, iterations)
    rec = {"clip": clip, "factor": factor, "size": list(full), "frames": n, "budget_s": whole.seconds, "iterations": whole.iterations,
           "window": list(window.shape[:3]), "candidates": {}}
    import scenes

    if clip == "fan":
        rec["truth_turn"] = scenes.FAN_DEGREES_PER_HTR_FRAME
    if args.auto_only or args.flow_net_only:     # keep the candidates measured before
        before = args.previous.get((clip, args.seed)) or args.previous[(clip, 0)]
        rec = dict(before, candidates=dict(before["candidates"]))
    if args.seed:
        # nets trained with another seed: only the candidates without a net (which no training
        # changes) are kept from the record of seed 0; the nets' rows are this seed's (--blends)
        rec["seed"] = args.seed
        rec["candidates"] = {k: v for k, v in rec["candidates"].items() if " net" not in k and " mean of " not in k}
        rec.pop("blend_alone", None)

    # --reuse: the candidates without a net measured before on this clip (they do not change from
    # run to run), kept as they were
    kept = {k: v for k, v in args.previous.get((clip, args.seed), {}).get("candidates", {}).items()
            if args.reuse and k != "auto" and " net" not in k}

    def reused(name: str) -> bool:
        if name in kept:
            rec["candidates"][name] = kept[name]
            print(f"{clip:8s} {name:34s} {kept[name]['psnr']:6.2f} dB  (measured before)", flush=True)
        return name in kept

    def add(name: str, out: np.ndarray, on_window: np.ndarray | None = None, secs: float | None = None):
        r = score(out, gt)
        r["seam_all"] = group_seam(out, factor) if len(out) > 2 * factor else None
        if on_window is not None and len(on_window) > 2 * factor:
            r["seam_window"] = group_seam(on_window, factor)
        r["s"] = secs
        if clip == "fan":        # which way the fan turns (degrees per HTR frame; the truth's in the record)
            r["turn"] = scenes.rotation_direction(out)
        rec["candidates"][name] = r
        print(f"{clip:8s} {name:34s} {r['psnr']:6.2f} dB  sharp {r['sharpness']:.3f} / "
              f"{r['sharpness_moving'] or 0:.3f}  seam {r['seam_all'] or 0:5.2f}", flush=True)

    # the peers + BP: minterpolate and repeat only for the peer bar (flowfps, cubic, linear + BP are
    # the candidates "direct X" below, the same computation)
    for m in () if args.auto_only or args.flow_net_only else ("minterpolate", "repeat"):
        if (m == "minterpolate" and not methods.flow_available()) or reused(f"peer {m} + BP"):
            continue
        t0 = time.perf_counter()
        add(f"peer {m} + BP", peer(ltr, factor, m, info.rate, backproject=True), None, time.perf_counter() - t0)
    # the nets: auto's two (found in its cache, or trained as it would), and optionally one on the
    # whole budget
    nets = {}
    if not args.no_net:
        share = whole.share(len(AUTO_EXAMPLES))
        for kind in AUTO_EXAMPLES:   # as selfcheck.fit_and_pick: found in the cache (checked), or trained
            nets[kind] = Path(fit_model(read, n, rung, budget_s=share.seconds, iterations=share.iterations,
                                        examples=kind, log=print))
        if args.single:
            nets["single"] = Path(fit_model(read, n, rung, budget_s=whole.seconds, iterations=whole.iterations,
                                            examples="both", log=print))
    models = {k: load_model(p, "cpu") for k, p in nets.items()}
    if args.flow_net or args.flow_net_only:
        # a within net whose residual is learnt over flow's x2 (trainer/net.py GIVEN_BASES), at as
        # many iterations as auto's within net got (equal iterations: their seconds differ)
        its = models["within"].metadata.get("iterations") if "within" in models else share.iterations
        try:
            models[FLOW_NET] = load_model(fit_model(read, n, rung, iterations=its,   # (no time cap)
                                                    examples="within", base=args.flow_net_base, log=print), "cpu")
        except fit.NotTrainable as e:      # e.g. city at x8: every pyramid level under flow's size guard
            print(f"{clip}: no {FLOW_NET}: {e}")
            rec["flow_net"] = str(e)
    if len(models) > 1 and not args.all_nets:
        # only the net auto keeps (the lower group seam, as selfcheck.fit_and_pick decides): the
        # other's pipelines cost minutes at full size and auto never runs them
        seams = first_rung_seams({k: models[k] for k in ("within", "both")}, window, rung, full,
                                 ensemble=netrun.DEFAULT_ENSEMBLE)
        rec["seams"] = seams
        models = {k: v for k, v in models.items() if k in (min(seams, key=seams.get), "single", FLOW_NET)}
    rungs = len(ladder.plan(*full, factor).rungs)
    pipelines = [(f"direct {m}", [m] * 4, None, True) for m in INTERP]
    pipelines += [(f"ladder {m}", [m] * 4, None, False) for m in INTERP]
    for kind, model in models.items():
        meta = model.metadata
        rec.setdefault("nets", {})[kind] = {"iterations": meta.get("iterations"), "seconds": float(meta.get("training_seconds", 0)),
                                            "loss_ratio": meta.get("loss_ratio")}
        # (not the net on every rung: minutes per clip at full size on the CPU; `zstsr upsample`
        # does not weigh it either, selfcheck.candidate_pipelines)
        if kind == FLOW_NET:   # (its netflow is itself: flow is its own base; flow above, as netflow's)
            label = kind if args.flow_net_base == "flow" else f"{kind}_bp"
            pipelines.append((f"{label} + flow above", ["net"] + ["flow"] * 3, model, False))
            continue
        if args.flow_net_only:
            continue
        for k in range(1, rungs):
            on = "" if k == 1 else f" on {k} rungs"
            pipelines += [(f"{kind} net{on} + {m} above", ["net"] * k + [m] * 4, model, False) for m in INTERP]
            # (of netflow's pipelines only flow above it: auto weighs cubic and linear above it too,
            # and its own pick is measured as "auto" whatever it is)
            if methods.flow_available():
                pipelines.append((f"{kind} net's residual over flow{on} + flow above", ["netflow"] * k + ["flow"] * 4,
                                  model, False))
        if not args.auto_only and not args.lean:
            rec.setdefault("proxy", {})[kind] = proxies(window, full, rung, model)
    if not models and not args.lean:
        rec["proxy"] = {"none": proxies(window, full, rung, None)}
    memo, proxy_memo = {}, {}       # rungs shared by the ladders (the clip; the window's proxies)
    for name, ms, model, direct in [] if args.auto_only else pipelines:
        if args.flow_net_only and model is None:
            continue
        if reused(name):
            continue
        lad = ladder_of(full, factor, ms, model, direct, memo)
        t0 = time.perf_counter()
        out = render(lad, ltr)
        secs = time.perf_counter() - t0      # (less than alone where it began from shared rungs)
        add(name, out, None if args.lean else lad.run(window), secs)
        rec["candidates"][name]["pipe_proxy"] = pipe_proxies(window, factor, ms, model, direct,
                                                             ("diag",) if args.lean else ("flat", "diag"), proxy_memo)
        del out
    if (args.blends or args.blends_any) and not args.no_net and not args.flow_net_only:
        kept = next(iter(k for k in models if k in ("within", "both")))
        alone = blend_rows(clip, window, ltr, gt, factor, models[kept], kept, add, with_net_only=not args.blends_any)
        rec["blend_alone" if not args.blends_any else "blend_any_alone"] = alone
    # auto, exactly as `zstsr upsample` does it
    if not args.no_net and not args.flow_net_only:
        logs = []
        t0 = time.perf_counter()
        options = UpsampleOptions(factor=factor, train=TrainOptions(budget_s=budget_s, iterations=iterations))
        renderer = Renderer.create(None, options, height=full[0], width=full[1], read=read, num_frames=n,
                                   log=logs.append)
        out = renderer.render(ltr, 0, n)
        add("auto", out, None, time.perf_counter() - t0)
        rec["auto_log"] = logs
        rec["auto_plan"] = {"direct": renderer.ladder.direct, "methods": [r.method for r in renderer.ladder.plan.rungs],
                            "blend": [p.describe_one() for p in renderer.ladder.plan.blend]}
        if renderer.ladder.plan.blend:
            rec["auto_plan"]["describe"] = next((m.split(" -> ")[-1] for m in logs if m.startswith("self-check, each")), None)
        print("\n".join(logs))
    return rec


def blend_rows(clip: str, window: np.ndarray, ltr: np.ndarray, gt: np.ndarray, factor: int, model, kind: str, add,
               with_net_only: bool = True) -> dict:
    """The means auto weighs (:data:`vs_zstsr.selfcheck.BLEND_SIZES`): the best k pipelines with
    the net by the self-check's proxy on the window (as :func:`vs_zstsr.selfcheck.choose_pipeline`
    ranks them), each rendered as a candidate is, their frames averaged; rows named "KIND mean of
    A + B". ``with_net_only=False`` (``--blends-any``): the best k of every pipeline, with the net
    or not, as first tried (rows "any mean of ..."; their proxy scores are printed), which auto
    does not weigh (deeper()). Returns the best alone by the proxy: its name and PSNR."""
    from vs_zstsr.selfcheck import (BLEND_SIZES, PIPELINE_SHRINK, _proxy_frames, _proxy_pair, _proxy_score,
                                    candidate_pipelines, pipeline_fits)

    lo, hi = _proxy_pair(window, PIPELINE_SHRINK)
    full = ltr.shape[1:3]
    rungs = len(ladder.plan(*full, factor).rungs)
    nets = tuple(methods.NETS)     # (pipeline_fits leaves out what cannot run here)
    memo, scores, frames = {}, {}, {}
    for p in candidate_pipelines(rungs, INTERP, nets):
        if (p.uses_net or not with_net_only) and pipeline_fits(p, *hi.shape[1:3], factor):
            frames[p] = _proxy_frames(p, lo, hi.shape[1:3], factor, model if p.uses_net else None, None, memo)
            scores[p] = _proxy_score(frames[p], hi)
    ranked = sorted(scores, key=lambda p: -scores[p])
    for k in BLEND_SIZES:
        print(f"{clip}: proxy of the mean of the best {k}: "
              f"{_proxy_score(np.mean([frames[p] for p in ranked[:k]], axis=0), hi):.2f} dB; the best alone: "
              f"{ranked[0].describe()} {scores[ranked[0]]:.2f}", flush=True)
    memo, outs = {}, []
    for p in ranked[:max(BLEND_SIZES)]:
        outs.append(render(ladder_of(full, factor, list(p.methods), model if p.uses_net else None, p.direct, memo), ltr))
    for k in BLEND_SIZES:
        if k <= len(outs):
            add(("any " if not with_net_only else "") + f"{kind} mean of " + " + ".join(p.describe() for p in ranked[:k]),
                np.mean(outs[:k], axis=0))
    return {"name": ranked[0].describe(), "psnr": score(outs[0], gt)["psnr"]}


def pipe_proxies(window: np.ndarray, factor: int, rung_methods, model, direct: bool,
                 which=("flat", "diag"), memo: dict | None = None) -> dict:
    """:func:`vs_zstsr.selfcheck.pipeline_proxy` of this pipeline at the window's size (``flat``)
    and shrunk 2x (``diag``, what `zstsr upsample` uses)."""
    from vs_zstsr.selfcheck import Pipeline, pipeline_proxy

    p = Pipeline(tuple(rung_methods[:factor.bit_length() - 1]), direct)
    return {name: pipeline_proxy(p, window, factor, model, shrink=s, memo=memo) for name, s in (("flat", 1), ("diag", 2))
            if name in which}


def proxies(window: np.ndarray, full, rung, model) -> dict:
    """PSNR of each x2 (+ BP) on the window halved in time, at the first rung's half size (the
    self-check's proxy, motion matched to the first rung), at half and at full size."""
    from vs_zstsr.resample import rect_downsample, resize_spatial

    h, w = window.shape[1:3]
    out = {}
    for name, s in (("rung", rung[0] / full[0] / 2), ("half", 0.5), ("full", 1.0)):
        hi = window if s == 1 else resize_spatial(window, max(1, round(h * s)), max(1, round(w * s)))
        hi = hi[:len(hi) // 2 * 2]
        if len(hi) < 4:
            continue
        lo = rect_downsample(hi, 2)
        row = {}
        for m in INTERP + (("net",) if model is not None else ()):
            if not methods.fits(m, lo):
                continue
            y = netrun.net_x2(model, lo, ensemble=netrun.DEFAULT_ENSEMBLE) if m == "net" else methods.interpolate(lo, 2, m)
            y = np.clip(temporal_backproject(y, lo, 2), 0, 1)
            row[m] = float(np.mean([psnr(a, b) for a, b in zip(y, hi)]))
        out[name] = row
    return out


def before_issue_14(rec: dict) -> str | None:
    """The pick of the selector issue 14 replaced, from the recorded proxies: the kept net on the
    first rung where it beat the best interpolator on the first rung's proxy by 0.05 dB, and then
    cubic above it (the fixed rule); else the full-size ranking's interpolator x N at full size."""
    logs = " ".join(rec.get("auto_log", []))
    kept = next((k for k in ("within", "both") if f"-> the {k} net" in logs), None)
    proxy = rec.get("proxy", {}).get(kept) if kept else None
    if not proxy or "rung" not in proxy or "full" not in proxy:
        return None
    rung, full = proxy["rung"], proxy["full"]
    if rung.get("net", -1e9) - max(v for k, v in rung.items() if k != "net") >= 0.05:
        return f"{kept} net + cubic above"
    return "direct " + max((k for k in full if k != "net"), key=full.get)


def selectors(records: list[dict]) -> str:
    """Regret (best candidate - chosen, dB, against the truth) of label-free selection rules, each
    choosing among the pipelines `zstsr upsample` can run (the net it kept by the seam, and no net):
    the whole-pipeline proxy on the window shrunk 2x (diag, what auto uses) or not (flat), and the
    lowest group seam of the candidate's output on the window."""
    rules = {"pipeline proxy, diag": lambda v: v.get("pipe_proxy", {}).get("diag"),
             "pipeline proxy, flat": lambda v: v.get("pipe_proxy", {}).get("flat"),
             "lowest seam on the window": lambda v: -v["seam_window"] if v.get("seam_window") is not None else None}
    head = ["| clip | " + " | ".join(rules) + " |", "|---|" + "---|" * len(rules)]
    rows, worst = [], {k: [] for k in rules}
    for rec in records:
        logs = " ".join(rec.get("auto_log", []))
        kept = next((k for k in ("within", "both") if f"-> the {k} net" in logs), None)
        pool = {k: v for k, v in rec["candidates"].items() if (k.startswith(("direct", "ladder"))
                or (kept and k.startswith((f"{kept} net +", f"{kept} net's residual")))) and not deeper(k)}
        best = max(v["psnr"] for v in pool.values())
        cells = []
        for name, f in rules.items():
            scored = {k: f(v) for k, v in pool.items() if f(v) is not None}
            if len(scored) < len(pool):     # not measured on every candidate (--lean): no verdict
                cells.append("")
                continue
            pick = max(scored, key=scored.get)
            worst[name].append(best - pool[pick]["psnr"])
            cells.append(f"{pick}: {best - pool[pick]['psnr']:+.2f}")
        rows.append(f"| {rec['clip']} | " + " | ".join(cells) + " |")
    rows.append("| largest | " + " | ".join(f"{max(v):+.2f}" if v else "" for v in worst.values()) + " |")
    return "\n".join(head + rows)


def means(records: list[dict]) -> str:
    """The means of the best pipelines with the net (``--blends``): for each, the self-check's
    proxy (from auto's log) and the truth, beside the best pipeline alone by the proxy."""
    head = ["| clip | the best alone by the proxy: proxy / truth | mean of 2: proxy / truth | mean of 3: proxy / truth | "
            "auto's pick | its truth - the best of these three |", "|---|---|---|---|---|---|"]
    rows = []
    for rec in records:
        c = rec["candidates"]
        line = next((m for m in rec.get("auto_log", []) if m.startswith("self-check, each")), None)
        ms = sorted((k for k in c if " mean of " in k and not k.startswith("any ")), key=lambda k: k.count(" + "))
        if not line or not ms or "auto" not in c:
            continue
        table, pick = line.split(": ", 1)[1].rsplit(" -> ", 1)
        proxy = dict(kv.rsplit(" ", 1) for kv in table.split(", "))
        alone = rec.get("blend_alone") or {"name": _best_alone(proxy)}
        name = alone["name"]
        if "psnr" not in alone:     # (a run before blend_alone was recorded): its row, or auto's if auto rendered it
            alone["psnr"] = c["auto"]["psnr"] if pick == name else c.get(_row_name(name, ms[0]), {}).get("psnr", float("nan"))
        cells = [f"{name} {float(proxy.get(name, 'nan')):.2f} / {alone['psnr']:.2f}"]
        truths = []
        for k in ms:
            name = "mean of " + k.split(" mean of ", 1)[1]
            cells.append(f"{float(proxy.get(name, 'nan')):.2f} / {c[k]['psnr']:.2f}")
            truths.append(c[k]["psnr"])
        rows.append(f"| {rec['clip']} | " + " | ".join(cells) + f" | {pick} | "
                    f"{c['auto']['psnr'] - max(truths):+.2f} |")
    return "\n".join(head + rows) if rows else ""


def _best_alone(proxy: dict) -> str:
    return max((k for k in proxy if not k.startswith("mean of ") and "net" in k), key=lambda k: float(proxy[k]))


def _row_name(pipeline: str, mean_row: str) -> str:
    """The candidate row of a pipeline with the net named as the self-check names it (net/flow/flow)."""
    kind = mean_row.split(" mean of ", 1)[0]
    first, *above = pipeline.split("/")
    if first == "netflow":
        return f"{kind} net's residual over flow + flow above" if set(above) == {"flow"} else ""
    return f"{kind} net + {above[0]} above" if above else ""


def deeper(name: str) -> bool:
    """Whether a candidate is one auto does not weigh: the net on more than the first rung, or
    the ``--single`` net (another training budget)."""
    return " rungs + " in name or name.startswith(("single ", "any "))


def seeds(records: list[dict], others: list[dict]) -> str:
    """auto with nets trained from other seeds (``--seed``), against the same clip's seed-0
    record: the net's part (auto - the best candidate without a net, which no seed changes)."""
    base = {r["clip"]: r for r in records}
    head = ["| clip | training seed | auto's pick | auto PSNR | net's part | auto - the best of the best alone by the "
            "proxy and the two means | seed 0: auto PSNR, net's part |", "|---|---|---|---|---|---|---|"]
    rows, parts = [], {}
    for rec in sorted(others, key=lambda r: (r.get("seed", 0), CLIPS.index(r["clip"]))):
        c, zero = rec["candidates"], base.get(rec["clip"])
        if "auto" not in c:
            continue
        no_net = max(v["psnr"] for k, v in c.items() if k != "auto" and not k.startswith(("peer", "any ", "single "))
                     and " net" not in k and " mean of " not in k)
        pick = rec["auto_plan"].get("describe") or ("direct " + rec["auto_plan"]["methods"][0] if rec["auto_plan"]["direct"]
                                                    else "/".join(rec["auto_plan"]["methods"]))
        part = c["auto"]["psnr"] - no_net
        if rec["clip"] in REAL:
            parts.setdefault(rec["seed"], []).append(part)
        z = f"{zero['candidates']['auto']['psnr']:.2f}, {zero['candidates']['auto']['psnr'] - no_net:+.2f}" if zero else ""
        three = [v["psnr"] for k, v in c.items() if " mean of " in k and not k.startswith("any ")]
        three += [rec["blend_alone"]["psnr"]] if rec.get("blend_alone") else []
        vs = f"{c['auto']['psnr'] - max(three):+.2f}" if three else ""
        rows.append(f"| {rec['clip']} | {rec['seed']} | {pick} | {c['auto']['psnr']:.2f} | {part:+.2f} | {vs} | {z} |")
    if not rows:
        return ""
    tail = [f"\nMean net's part over the real clips with training seed {sd} ({len(v)} clips): {np.mean(v):+.3f} dB."
            for sd, v in parts.items()]
    return "\n".join(head + rows + tail)


def report(records: list[dict], write: bool, others: list[dict] = ()) -> None:
    """The tables: per clip every candidate (PSNR, sharpness whole / moving), the best, auto's
    regret; and one summary line per clip."""
    lines, summary = [], ["| clip | best candidate | its PSNR | before: pick, regret | auto's pick | auto PSNR | regret (dB) | "
                          "best peer + BP | auto - best peer | net's part (auto - best without a net) | "
                          "best with the net on more rungs: its PSNR - auto |",
                          "|---|---|---|---|---|---|---|---|---|---|---|"]
    regrets, real, plain = {}, [], []
    for rec in records:
        c = rec["candidates"]
        deep = {k: v for k, v in c.items() if deeper(k) and not k.startswith(("single ", "any "))}
        cand = {k: v for k, v in c.items() if k != "auto" and not k.startswith("peer") and not deeper(k)}   # auto's
        best = max(cand, key=lambda k: cand[k]["psnr"])
        peers = {k: v for k, v in c.items() if k.startswith("peer")}
        best_peer = max(peers, key=lambda k: peers[k]["psnr"])
        no_net = {k: v for k, v in cand.items() if " net" not in k}
        best_no_net = max(no_net, key=lambda k: no_net[k]["psnr"])
        lines.append(f"\n**{rec['clip']}** (x{rec['factor']}, {rec['size'][1]}x{rec['size'][0]}, {rec['frames']} LTR "
                     f"frames; nets: " + ", ".join(f"{k} {v['iterations']} iterations in {v['seconds']:.0f} s"
                                                    for k, v in rec.get("nets", {}).items() if v["seconds"]) + ")\n")
        turn = "truth_turn" in rec
        lines += ["| candidate | PSNR | sharpness | sharpness, moving | seam |" + (" fan turns (deg/frame) |" if turn else ""),
                  "|---|---|---|---|---|" + ("---|" if turn else "")]
        for k, v in sorted(c.items(), key=lambda kv: -kv[1]["psnr"]):
            mark = " **best**" if k == best else ""
            lines.append(f"| {k}{mark} | {v['psnr']:.2f} | {v['sharpness']:.3f} | {v['sharpness_moving'] or 0:.3f} | "
                         f"{v['seam_all'] or 0:.2f} |" + (f" {v['turn']:+.2f} |" if turn else ""))
        if turn:
            lines.append(f"| truth |  |  |  |  | {rec['truth_turn']:+.2f} |")
        if rec["clip"] in REAL:
            plain.append(no_net[best_no_net]["psnr"] - peers[best_peer]["psnr"])
        if "auto" not in c:      # interpolators only (--no-net): the candidates without a net
            summary.append(f"| {rec['clip']} | {best} | {cand[best]['psnr']:.2f} |  | (no net trained) |  |  | "
                           f"{best_peer} {peers[best_peer]['psnr']:.2f} | ({best_no_net}: "
                           f"{no_net[best_no_net]['psnr'] - peers[best_peer]['psnr']:+.2f}) |  |  |")
        else:
            a = c["auto"]["psnr"]
            pick = "direct " + rec["auto_plan"]["methods"][0] if rec["auto_plan"]["direct"] else \
                "/".join(rec["auto_plan"]["methods"])
            if rec["auto_plan"].get("describe"):
                pick = rec["auto_plan"]["describe"]
            regrets[rec["clip"]] = cand[best]["psnr"] - a
            if rec["clip"] in REAL:
                real.append((a - peers[best_peer]["psnr"], a - no_net[best_no_net]["psnr"]))
            old = before_issue_14(rec)
            before = f"{old}, {cand[best]['psnr'] - c[old]['psnr']:+.2f}" if old in c else ""
            summary.append(f"| {rec['clip']} | {best} | {cand[best]['psnr']:.2f} | {before} | {pick} | {a:.2f} | "
                           f"{cand[best]['psnr'] - a:+.2f} | {best_peer} {peers[best_peer]['psnr']:.2f} | "
                           f"{a - peers[best_peer]['psnr']:+.2f} | {a - no_net[best_no_net]['psnr']:+.2f} | "
                           + (f"{(d := max(deep, key=lambda k: deep[k]['psnr']))}: {deep[d]['psnr'] - a:+.2f} |" if deep else " |"))
    if real:
        summary.append(f"\nMean over the real clips ({len(real)}): auto - best peer + BP {np.mean([r[0] for r in real]):+.2f} dB, "
                       f"net's part {np.mean([r[1] for r in real]):+.2f} dB; largest regret "
                       f"{max(regrets.values()):+.2f} dB.")
    halves = []     # (clip, best pipeline of auto's kept net, best of the --single net), first rung only
    for rec in records:
        c = rec["candidates"]
        one = {k: v["psnr"] for k, v in c.items() if k.startswith("single ") and not " rungs + " in k}
        kept = {k: v["psnr"] for k, v in c.items() if " net" in k and not deeper(k) and not k.startswith(FLOW_NET)
                and " mean of " not in k}
        if one and kept:
            halves.append(f"{rec['clip']} {max(kept.values()):.2f} against {max(one.values()):.2f}")
    if halves:
        summary.append("\nTwo nets at half the budget each (auto's, the one it keeps) against one both net at the whole "
                       "budget (--single), the best pipeline of each with the net on the first rung: " + "; ".join(halves) + ".")
    if plain:
        summary.append(f"\nThe best candidate without a net - the best peer + BP, over the {len(plain)} real clips "
                       f"measured: {np.mean(plain):+.2f} dB (what auto gives with the net off, at zero regret).")
    body = "\n".join(summary) + "\n\n" + selectors(records) + "\n\n" + means(records) + "\n" + "\n".join(lines)
    if others:
        body += "\n\n" + seeds(records, list(others))
    print(body)
    if write:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "candidates", body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=list(CLIPS), choices=CLIPS)
    ap.add_argument("--budget", default=None, help="the training wall-clock limit of auto (two nets, half each; "
                                                    "default: the runtime's, as `zstsr upsample` uses it)")
    ap.add_argument("--iterations", type=int, default=None, help="auto's training iterations (two nets, half each; "
                                                                 "with --budget: whichever ends first)")
    ap.add_argument("--single", action="store_true", help="also one both net on the whole budget")
    ap.add_argument("--no-net", action="store_true", help="interpolators only (no training)")
    ap.add_argument("--flow-net", action="store_true", help=f"also a {FLOW_NET} (its residual learnt over flow's "
                    "x2), as many iterations as auto's within net, with flow above it")
    ap.add_argument("--flow-net-base", default="flow", choices=[b for b, (i, _) in methods.NET_BASES.items() if i == "flow"],
                    help="the flow net's base: flow's x2, or with back-projection (flow_bp)")
    ap.add_argument("--flow-net-only", action="store_true", help="keep every candidate measured before (--json) "
                    "and measure only --flow-net's")
    ap.add_argument("--all-nets", action="store_true", help="the pipelines of both of auto's nets (default: "
                                                            "only the one it keeps)")
    ap.add_argument("--json", type=Path, default=JSON, help="records, one line per clip (replaced per clip)")
    ap.add_argument("--report", action="store_true", help="only the tables, from --json")
    ap.add_argument("--auto-only", action="store_true", help="measure auto again, keep the other candidates")
    ap.add_argument("--blends", action="store_true", help="also the means of the best pipelines with the net "
                                                          "that auto weighs (selfcheck.BLEND_SIZES)")
    ap.add_argument("--blends-any", action="store_true", help="the means of the best pipelines with the net "
                                                              "or not (what auto does not weigh: the city's case)")
    ap.add_argument("--seed", type=int, default=0, help="train every net (auto's too) with this seed, in its "
                    "own ZSTSR_CACHE; with --auto-only --blends: auto and the means, the net's part against "
                    "the candidates without a net of seed 0's record")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--reuse", action="store_true", help="keep the candidates without a net measured before "
                                                         "on the clip (--json), measure the rest")
    ap.add_argument("--lean", action="store_true", help="only what the regret table needs: no group seam on the "
                                                        "window, no flat pipeline proxy, no first-rung proxies "
                                                        "(the 'before' column)")
    args = ap.parse_args()
    recs = {}
    if args.json.exists():
        for line in args.json.read_text().splitlines():
            r = json.loads(line)
            recs[(r["clip"], r.get("seed", 0))] = r
    args.previous = recs
    if not args.report:
        os.environ.setdefault("ZSTSR_CACHE", str(WORK / "cache_cand"))
        if args.seed:      # every net trained here, auto's too, with this seed
            import dataclasses

            from vs_zstsr import fit as fit_module

            given = fit_module.train_config
            fit_module.train_config = lambda *a, **k: dataclasses.replace(given(*a, **k), seed=args.seed)
        for clip in args.clips:
            recs[(clip, args.seed)] = measure(clip, args)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text("".join(json.dumps(r) + "\n" for r in recs.values()))
    report([recs[(c, 0)] for c in CLIPS if (c, 0) in recs], args.write_docs,
           [r for k, r in recs.items() if k[1]])


if __name__ == "__main__":
    main()
