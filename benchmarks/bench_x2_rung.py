"""TSR x2 at the coarse scale (the ladder's first rung): the trained net vs linear/cubic (+BP).

Clips (HTR = ground truth of the rung, LTR = mean of each pair of HTR frames, as in docs/PROTOTYPE.md):
* fan, texture: examples/scenes.py ``large`` (192x288, 240 fps). The rung of an x8 job at S/4:
  HTR = 240 fps averaged to 60 fps, shrunk 4x in space (48x72, 64 frames); LTR = 30 fps, 32 frames.
* city: /work/shared/data/cityCC0.mpg shrunk 4x in space (180x101, 190 frames at 25 fps); LTR 95.

Ours: train on the LTR alone (``zstsr_trainer.train``), export to ONNX, run with the torch-free
runtime (``vs_zstsr.model``) as the ladder does (``netrun.net_x2``: the mean over ``--ensemble``
transformed copies of the input; "1 copy" is the net alone), then temporal back-projection.
``--ensemble-curve`` also scores every ensemble size. Everything is clipped to [0, 1].

    .venv/bin/python benchmarks/bench_x2_rung.py --preset fast --write-docs fast        # main table
    .venv/bin/python benchmarks/bench_x2_rung.py --budget 90 --examples within --write-docs ablation-within
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

from vs_zstsr import cuts                                                   # noqa: E402
from vs_zstsr.metrics import psnr, ssim                                     # noqa: E402
from vs_zstsr.resample import rect_downsample, resize_spatial, temporal_interpolate  # noqa: E402

from vs_zstsr.backprojection import temporal_backproject                    # noqa: E402
from vs_zstsr.methods import NET_BASES                                      # noqa: E402
from vs_zstsr.netrun import DEFAULT_ENSEMBLE, ENSEMBLE_SIZES                # noqa: E402

CACHE = ROOT / "out" / "bench_x2"
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import REAL, SCALE, SHARED                                             # noqa: E402

CITY = SHARED / "cityCC0.mpg"


def rung_clip(name: str, size: str = "large") -> np.ndarray:
    """HTR ground truth of the coarse x2 rung, cached as .npy. ``size``: of the example scenes
    (scripts/gpu-check --dry-run takes the small ones)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    f = CACHE / f"{name}_htr.npy" if size == "large" else CACHE / f"{name}_{size}_htr.npy"
    if f.exists():
        return np.load(f)
    if name == "city":
        from vs_zstsr.io import read_video
        _, v = read_video(CITY)
        htr = resize_spatial(v, round(v.shape[1] / 4), round(v.shape[2] / 4))
    elif name in REAL:
        # pose2sim: the x8 job's truth is the real 60 fps shrunk 2x (6x for the small clips:
        # benchmarks/common.py, SCALE); its first rung runs at 1/4 of that, on 60 fps averaged by 4. Read 4 frames at a time (1080x1920 each).
        from vs_zstsr.io import read_frames
        groups, group = [], []
        for frame in read_frames(SHARED / REAL[name]):
            group.append(frame)
            if len(group) == 4:
                m = np.mean(group, axis=0)[None]
                shrink = 4 * SCALE.get(name, 2)
                groups.append(resize_spatial(m, round(m.shape[1] / shrink), round(m.shape[2] / shrink))[0])
                group = []
        htr = np.stack(groups)
    else:
        from scenes import render
        v, _ = render(name, size=size)
        htr = resize_spatial(rect_downsample(v, 4, 0), v.shape[1] // 4, v.shape[2] // 4)
    htr = np.clip(htr, 0, 1).astype(np.float32)
    np.save(f, htr)
    return htr


def score(out: np.ndarray, gt: np.ndarray) -> dict:
    out = np.clip(out, 0, 1)
    return {"psnr": round(psnr(out, gt), 3), "ssim": round(float(np.mean([ssim(a, b) for a, b in zip(out, gt)])), 4)}


def run_clip(name: str, config, log, ensemble: int = 1, curve: bool = False) -> dict:
    import zstsr_trainer
    from zstsr_export import export_onnx
    from vs_zstsr.netrun import ENSEMBLE_SIZES, net_x2
    from vs_zstsr.model import load_model

    gt = rung_clip(name)
    gt = gt[: gt.shape[0] // 2 * 2]
    ltr = rect_downsample(gt, 2, 0)
    # Scene cuts (city has one): every method runs on each shot alone and the net trains on
    # pieces that never span a cut, as `zstsr upsample` does; this isolates what the net adds.
    cut_at = cuts.detect(ltr)
    shots = cuts.segments(len(ltr), cut_at)

    def per_shot(fn):
        return np.concatenate([fn(ltr[a:b]) for a, b in shots])

    row = {"clip": name, "size": f"{gt.shape[2]}x{gt.shape[1]}", "ltr_frames": ltr.shape[0], "cuts": cut_at}
    turns = {}   # the fan: which way each result turns (degrees per HTR frame of this rung)

    def turn(key, frames):
        if name == "fan":
            from scenes import rotation_direction
            turns[key] = round(rotation_direction(np.clip(frames, 0, 1)), 2)

    turn("truth", gt)
    for k in ("linear", "cubic"):
        base = per_shot(lambda x: temporal_interpolate(x, 2, k))
        row[k] = score(base, gt)
        row[k + "+bp"] = score(temporal_backproject(base, ltr, 2), gt)
        turn(k + "+bp", temporal_backproject(base, ltr, 2))
    last = [0.0]

    def progress(step, total, info):
        if info["seconds"] - last[0] >= 30:
            last[0] = info["seconds"]
            log(f"  {name} it {step} {info['seconds']:.0f}s ratio {info['ratio']:.3f} lr {info['lr']:.0e}")

    r = zstsr_trainer.train([ltr[a:b] for a, b in shots], config, progress=progress)
    path = CACHE / f"{name}_{config.examples}_{config.width}.onnx"
    export_onnx(r, str(path), {"training_scale": 0.25})
    t = time.perf_counter()
    model = load_model(path, provider="cpu")
    out = per_shot(model.run)
    row["infer_s"] = round(time.perf_counter() - t, 2)
    row["ours1"] = score(out, gt)
    row["ours1+bp"] = score(temporal_backproject(out, ltr, 2), gt)
    turn("ours1+bp", temporal_backproject(out, ltr, 2))
    row["ensemble"] = ensemble
    curve_at = [n for n in ENSEMBLE_SIZES if n > 1 and (curve or n == ensemble)]
    for n in curve_at:
        t = time.perf_counter()
        out = per_shot(lambda x: net_x2(model, x, ensemble=n))
        row[f"infer_s_{n}"] = round(time.perf_counter() - t, 2)
        row[f"ours{n}"] = score(out, gt)
        row[f"ours{n}+bp"] = score(temporal_backproject(out, ltr, 2), gt)
        turn(f"ours{n}+bp", temporal_backproject(out, ltr, 2))
    row["ours"], row["ours+bp"] = row[f"ours{ensemble}"], row[f"ours{ensemble}+bp"]
    if turns:
        row["turns"] = turns
    row["sources"] = r.examples      # which pyramid levels fitted the crop, per kind
    row.update(iterations=r.iterations, train_s=round(r.seconds, 1), loss_ratio=round(r.loss_ratio, 4),
               lr=r.lr, stopped=r.stopped)
    best = max(row["linear+bp"]["psnr"], row["cubic+bp"]["psnr"])
    row["gain_db"] = round(row["ours+bp"]["psnr"] - best, 3)
    return row


def curve_clip(name: str, config, log, ensemble: int, marks: list[float], by: str = "iterations",
               provider: str = "cpu", size: str = "large", methods: tuple[str, ...] = ("net",)) -> dict:
    """The x2 rung's PSNR (ours, ensemble, +BP) after each of ``marks`` iterations (or seconds, with
    ``by="seconds"``: scripts/gpu-check) of one training run: the net is snapshot when it gets there.
    ``methods``: the rung methods of vs_zstsr.methods.NETS each snapshot is scored as, the ladder's
    way (``net_method_x2``: e.g. ``netflow``, the net's residual over flow's x2); the first is
    ``curve``, each other ``curve_<method>``. Flow + BP is scored too where it fits (``flow_bp``).
    Iterations, not seconds, for the CPU curve: the same iterations take less time after the speed
    work (the training function is the same), so one run gives the curve before and after
    (bench_speed.py measures the iterations per second of each)."""
    import copy

    import torch
    import zstsr_trainer
    from zstsr_export import export_onnx
    from vs_zstsr.model import load_model
    from vs_zstsr.netrun import net_x2

    gt = rung_clip(name, size)
    gt = gt[: gt.shape[0] // 2 * 2]
    ltr = rect_downsample(gt, 2, 0)
    shots = cuts.segments(len(ltr), cuts.detect(ltr))

    def per_shot(fn):
        return np.concatenate([fn(ltr[a:b]) for a, b in shots])

    from vs_zstsr import methods as rung_methods

    best = max(score(temporal_backproject(per_shot(lambda x: temporal_interpolate(x, 2, k)), ltr, 2), gt)["psnr"]
               for k in ("linear", "cubic"))
    flow_bp = None
    if all(rung_methods.fits("flow", ltr[a:b]) for a, b in shots):
        flow_bp = score(temporal_backproject(per_shot(lambda x: rung_methods.interpolate(x, 2, "flow")), ltr, 2),
                        gt)["psnr"]
    snaps, todo = {}, sorted(marks)

    def progress(step, total, info):
        while todo and (step if by == "iterations" else info["seconds"]) >= todo[0]:
            snaps[todo.pop(0)] = (copy.deepcopy(info["net"]).float().cpu().to(memory_format=torch.contiguous_format),
                                  info["seconds"], step)
            log(f"  {name} it {step} {info['seconds']:.0f}s ratio {info['ratio']:.3f} lr {info['lr']:.0e}")

    stop = {"max_iters": int(max(marks)), "budget_s": None} if by == "iterations" else \
        {"max_iters": None, "budget_s": float(max(marks)) + 1}
    r = zstsr_trainer.train([ltr[a:b] for a, b in shots], config.replace(**stop), progress=progress)
    row = {"clip": name, "size": f"{gt.shape[2]}x{gt.shape[1]}", "ltr_frames": ltr.shape[0], "best_bp": best,
           "flow_bp": flow_bp, "ensemble": ensemble, "base": config.base, "methods": list(methods), "curve": {}}
    def rung_psnr(net, method: str) -> float:
        path = CACHE / f"{name}_curve_{os.getpid()}.onnx"
        export_onnx(net.eval(), str(path), {"training_scale": 0.25})
        model = load_model(path, provider=provider)
        path.unlink()
        if method == "net" and not model.given_base:
            x2 = lambda x: net_x2(model, x, ensemble=ensemble)                          # noqa: E731
        else:
            x2 = lambda x: rung_methods.net_method_x2(model, x, method, ensemble=ensemble)  # noqa: E731
        return score(temporal_backproject(per_shot(x2), ltr, 2), gt)["psnr"]

    for mark, (net, secs, step) in sorted(snaps.items()):
        for k, method in enumerate(methods):
            p = rung_psnr(net, method)
            row.setdefault("curve" if k == 0 else f"curve_{method}", {})[mark] = {
                "psnr": p, "gain_db": round(p - best, 3), "seconds": round(secs, 1), "iterations": step}
    row["stopped"], row["precision"], row["padding"] = r.stopped, r.precision, config.padding
    # the net where training ended (the lr policy's stop), as the runtime gets it; a run that ended
    # at a mark has it scored already
    at_end = [v["psnr"] for v in row["curve"].values() if v["iterations"] == r.iterations]
    p = at_end[0] if at_end else rung_psnr(r.net, methods[0])
    row["final"] = {"psnr": p, "gain_db": round(p - best, 3), "seconds": round(r.seconds, 1), "iterations": r.iterations}
    return row


def method_rows(rows: list[dict]) -> list[dict]:
    """One row per (clip, net method) of curves scored as several methods (``--methods``), with
    the gains over the best of linear/cubic/flow + BP: the x2 rung's best interpolation."""
    out = []
    for r in rows:
        best = max(v for v in (r["best_bp"], r.get("flow_bp")) if v is not None)
        for k, method in enumerate(r["methods"]):
            curve = r["curve" if k == 0 else f"curve_{method}"]
            out.append({**r, "clip": r["clip"], "size": f"{r['size']}, {method}, trained over {r['base']}",
                        "variant": f"{method}, trained over {r['base']}",
                        "best_bp": best, "curve": {m: {**v, "gain_db": round(v["psnr"] - best, 3)} for m, v in curve.items()}})
    return out


def write_curve(rows: list[dict], label: str, argv) -> None:
    several = any(len(r.get("methods", ("net",))) > 1 or r.get("base", "cubic") != "cubic" for r in rows)
    if several:
        rows = method_rows(rows)
    marks = sorted({int(k) for r in rows for k in r["curve"]})
    ends = any("final" in r for r in rows)    # the net where training stopped (runs since 2026-12-02)
    paddings = list(dict.fromkeys(r.get("padding", "replicate") for r in rows))
    lines = ["| clip | best of linear+BP / cubic+BP | " + " | ".join(f"{m} it" for m in marks)
             + (" | where training stopped |" if ends else " |"), "|---" * (len(marks) + 2 + ends) + "|"]
    for r in rows:
        cells = " | ".join(f"{r['curve'][m]['psnr']:.2f} ({r['curve'][m]['gain_db']:+.2f})" if m in r["curve"] else ""
                           for m in marks)
        if ends:
            f = r.get("final")
            cells += f" | {f['psnr']:.2f} ({f['gain_db']:+.2f}) at {f['iterations']} it" if f else " | "
        row = f"{r['clip']} {r['size']}" + (f", {r['precision']}" if "precision" in r else "") \
            + (f", {r.get('padding', 'replicate')} padding" if len(paddings) > 1 else "")
        lines.append(f"| {row} | {r['best_bp']:.2f} | {cells} |")
    if several:
        lines[0] = lines[0].replace("best of linear+BP / cubic+BP", "best of linear/cubic/flow + BP")
    real = [r for r in rows if r["clip"] in REAL]
    groups = [("all clips", rows), ("real clips", real)]
    if several:     # a mean per variant (method, base), over the real clips
        groups = [(f"real clips, {v}", [r for r in real if r["variant"] == v])
                  for v in dict.fromkeys(r["variant"] for r in rows)]
    precisions = list(dict.fromkeys(r.get("precision", "float32") for r in rows))
    if len(precisions) > 1:   # runs in each training precision (--set amp=...): a mean per precision
        groups = [(f"{name}, {p}", [r for r in rs if r.get("precision", "float32") == p])
                  for p in precisions for name, rs in groups]
    if len(paddings) > 1:     # runs with each padding (--set padding=...): a mean per padding
        groups = [(f"{name}, {p} padding", [r for r in rs if r.get("padding", "replicate") == p])
                  for p in paddings for name, rs in groups]
    for group, rs in groups:
        if rs:
            gains = [[r["curve"][m]["gain_db"] for r in rs if m in r["curve"]] for m in marks]
            end = [r["final"]["gain_db"] for r in rs if "final" in r]
            lines.append(f"| mean gain, {group} |  | " + " | ".join(f"{np.mean(g):+.2f}" if g else "" for g in gains)
                         + (f" | {np.mean(end):+.2f} |" if ends and end else " | |" if ends else " |"))
    best = "the best of linear+BP, cubic+BP and flow+BP" if several else "the better of linear+BP and cubic+BP"
    body = (f"### {label}\n\nCommand: `python benchmarks/bench_x2_rung.py {' '.join(argv)}`\n\n"
            f"PSNR of ours+BP (self-ensemble {rows[0]['ensemble']}) on the x2 rung after N training iterations "
            f"of one run (gain over {best} in brackets).\n\n" + "\n".join(lines))
    print(body)
    from common import replace_section
    replace_section(ROOT / "docs" / "BENCHMARKS.md", f"x2-{label}", body)


def main(argv=None) -> None:
    import zstsr_trainer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast", choices=sorted(zstsr_trainer.PRESETS))
    ap.add_argument("--clips", default="fan,texture,city")
    ap.add_argument("--budget", type=float, help="seconds of training per clip (default: the preset's)")
    ap.add_argument("--examples", choices=("within", "across", "both"))
    ap.add_argument("--width", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--base", choices=tuple(NET_BASES), help="what the net's residual is learnt over")
    ap.add_argument("--methods", default="net", help="with --curve: the rung methods (vs_zstsr.methods.NETS) each "
                    "snapshot is scored as, e.g. net,netflow")
    ap.add_argument("--crop", help="HTR crop frames,rows,cols (e.g. 16,24,24)")
    ap.add_argument("--scales", help="pyramid levels, e.g. 1,0.8,0.64,0.5")
    ap.add_argument("--jumps", help="temporal jumps, e.g. 1,2")
    ap.add_argument("--batch", type=int)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="any other TrainConfig field, e.g. --set lr_window=512")
    ap.add_argument("--ensemble", type=int, default=DEFAULT_ENSEMBLE, choices=ENSEMBLE_SIZES,
                    help="self-ensemble size of 'ours' (the runtime's default)")
    ap.add_argument("--ensemble-curve", action="store_true", help="also score every ensemble size")
    ap.add_argument("--curve", help="iteration counts, e.g. 60,120,240,480,960: PSNR after each (one run per clip)")
    ap.add_argument("--json", help="append one JSON line per clip here")
    ap.add_argument("--from-json", nargs="+", metavar="FILE",
                    help="with --curve and --write-docs: write the table of the curve rows in these files "
                    "(runs made with --json), run nothing")
    ap.add_argument("--write-docs", metavar="LABEL",
                    help="write the table to docs/BENCHMARKS.md as section x2-LABEL, with this command")
    a = ap.parse_args(argv)
    cfg = zstsr_trainer.PRESETS[a.preset]
    changes = {k: v for k, v in (("budget_s", a.budget), ("examples", a.examples), ("width", a.width),
                                 ("lr", a.lr), ("base", a.base), ("batch", a.batch)) if v is not None}
    for item in a.set:
        key, _, value = item.partition("=")
        current = getattr(cfg, key)
        if isinstance(current, bool):    # bool("false") is True
            if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
                ap.error(f"--set {key}: true or false, not {value!r}")
            changes[key] = value.lower() in ("1", "true", "yes")
        else:
            changes[key] = type(current)(value) if current is not None else float(value)
    for name, text, kind in (("crop", a.crop, int), ("scales", a.scales, float), ("jumps", a.jumps, int)):
        if text:
            changes[name] = tuple(kind(v) for v in text.split(","))
    cfg = cfg.replace(**changes)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log(f"config: {cfg}")
    rows = []
    if a.curve and a.from_json:
        rows = [json.loads(line) for f in a.from_json for line in open(f) if line.strip()]
        for r in rows:
            for key in [k for k in r if k.startswith("curve")]:
                r[key] = {int(m): v for m, v in r[key].items()}
        write_curve(rows, a.write_docs, argv or sys.argv[1:])
        return
    if a.curve:
        marks = sorted(int(v) for v in a.curve.split(","))
        for name in a.clips.split(","):
            rows.append(curve_clip(name, cfg, log, a.ensemble, marks, methods=tuple(a.methods.split(","))))
            log(json.dumps(rows[-1]))
            if a.json:
                with open(a.json, "a") as f:
                    f.write(json.dumps(rows[-1]) + "\n")
        if a.write_docs:
            write_curve(rows, a.write_docs, argv or sys.argv[1:])
        return
    for name in a.clips.split(","):
        row = run_clip(name, cfg, log, a.ensemble, a.ensemble_curve)
        row["config"] = {k: getattr(cfg, k) for k in ("width", "examples", "lr", "budget_s", "base", "crop",
                                                      "scales", "jumps", "batch")}
        rows.append(row)
        log(json.dumps(row))
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(row) + "\n")
    e = a.ensemble
    lines = ["| clip | linear | linear+BP | cubic | cubic+BP | ours, 1 copy, +BP | ours | ours+BP | gain vs best BP "
             "| iters | train s | loss / cubic's |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = " | ".join(f"{r[k]['psnr']:.2f} / {r[k]['ssim']:.4f}"
                           for k in ("linear", "linear+bp", "cubic", "cubic+bp", "ours1+bp", "ours", "ours+bp"))
        lines.append(f"| {r['clip']} {r['size']} | {cells} | {r['gain_db']:+.2f} | {r['iterations']} | "
                     f"{r['train_s']:.0f} | {r['loss_ratio']:.3f} |")
    mean = (f"Ours = the net with a self-ensemble of {e} ({'no ensemble' if e == 1 else 'time reversal, rotations, flips'}). "
            f"Mean gain over the better of linear+BP / cubic+BP: {np.mean([r['gain_db'] for r in rows]):+.3f} dB.")
    for r in rows:
        if "turns" in r:
            mean += (f"\n\nThe {r['clip']} turns (degrees per frame of this rung; truth first): "
                     + ", ".join(f"{k} {v:+.2f}" for k, v in r["turns"].items()) + ".")
    curve = []
    if a.ensemble_curve:
        sizes = [n for n in ENSEMBLE_SIZES]
        curve += ["", "Ours+BP (PSNR) by self-ensemble size, and the net's run time over the clip:", "",
                  "| clip | " + " | ".join(f"{n}" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
        for r in rows:
            cells = " | ".join(f"{r[f'ours{n}+bp']['psnr']:.2f} ({r['infer_s' if n == 1 else f'infer_s_{n}']:.1f} s)"
                               for n in sizes)
            curve.append(f"| {r['clip']} | {cells} |")
    print("\n".join(lines) + "\n" + mean + ("\n" + "\n".join(curve) if curve else ""))
    if a.write_docs:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from common import replace_section

        changed = {k: v for k, v in cfg.to_dict().items() if k in ("width", "crop", "batch", "lr", "budget_s",
                                                                   "examples", "scales", "jumps", "base", "lr_window")}
        body = (f"### {a.write_docs}\n\nCommand: `python benchmarks/bench_x2_rung.py {' '.join(argv or sys.argv[1:])}`"
                f"\n\nConfig: {changed}\n\n" + "\n".join(lines) + "\n\n" + mean + ("\n" + "\n".join(curve) if curve else ""))
        replace_section(ROOT / "docs" / "BENCHMARKS.md", f"x2-{a.write_docs}", body)


if __name__ == "__main__":
    main()
