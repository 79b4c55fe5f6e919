"""Why a shot's end groups stay under mid-shot with the motion continuation: the gap taken apart.

    nice -n 15 python benchmarks/bench_shot_end_gap.py [--write-docs]

The synthetic shot / reverse shot of tests/test_cuts.py (two drifting textures, 0.1 px per HTR
frame to the right, a cut at LTR frame 8; x8, cubic + back-projection) is analytic, so the frames
each shot would have shown past the cut are known. Each shot is run through the renderer's ladder
with its ends extended by (rows):

- the true frames past its ends (the ceiling: what the ladder makes of a perfect continuation);
- the true frames with the strip that enters the picture during the continuation (no frame of the
  shot shows it) filled as the warp fills it, from the end frame's edge: the cost of the entering
  content alone;
- the end frame warped by the true motion (0.8 px per LTR frame), bilinear or Keys-cubic, with the
  entering strip true (the warp's interpolation alone) or as the warp fills it;
- the end frame warped by the motion shotends.flow measures (the continuation as shipped, either
  kernel).

Columns: PSNR of the two groups at the cut (shot 1's last, shot 2's first) over the whole frame and
without a border as wide as the continuation reaches (3 frames x 0.8 px -> 3 px); mid-shot, the
mean of the groups that read no continued frame. Then the error of the shipped continuation per
column from the side where content enters (an error map folded over rows and frames), how well
real pictures continue past an edge, and the gap against mid-shot at other drift speeds and with
each interpolator (the last table).
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from common import ROOT, replace_section

from vs_zstsr import shotends
from vs_zstsr.metrics import psnr
from vs_zstsr.options import UpsampleOptions
from vs_zstsr.resample import rect_downsample
from vs_zstsr.stream import Renderer

sys.path.insert(0, str(ROOT / "tests"))
from test_cuts import drifting_waves, group_psnr, similar_palette_shots  # noqa: E402

F, N, SPEED = 8, 64, 0.1          # x8; HTR frames per shot; px per HTR frame (tests/test_cuts.py)


def scene(e: int):
    """Per shot (seeds 1, 2): its LTR frames with ``e`` true frames each side, and its HTR truth."""
    pos = np.arange(-F * e, N + F * e) * SPEED
    shots = []
    for seed in (1, 2):
        full = rect_downsample(drifting_waves(pos, seed), F, 0)
        shots.append((full, drifting_waves(pos[F * e:F * e + N], seed)))
    htr, cut = similar_palette_shots()
    assert cut == N // F and np.array_equal(htr, np.concatenate([s[1] for s in shots])), "scene changed"
    return shots


def extensions(full: np.ndarray, e: int, u_end: np.ndarray, u_start: np.ndarray):
    """The rows' extended shots (see the module doc) of one shot whose true frames are ``full``."""
    shot = full[e:-e]
    true_u = np.zeros(shot.shape[1:3] + (2,), np.float32)
    true_u[..., 0] = -F * SPEED              # last(x) ~ previous(x + u): content moves right

    def warped(u_after, u_before, kernel, edge="repeat"):
        after = [shotends.warp(shot[-1], k * u_after, kernel, edge) for k in range(1, e + 1)]
        before = [shotends.warp(shot[0], k * u_before, kernel, edge) for k in range(1, e + 1)][::-1]
        return np.concatenate([np.stack(before), shot, np.stack(after)])

    def strip(x, source):
        """``x`` with the entering strip of each continued frame taken from ``source``."""
        x = x.copy()
        for k in range(1, e + 1):
            n = int(np.ceil(k * F * SPEED)) + 1      # columns whose sample reaches past the frame (+1 tap)
            x[e - 1 + len(shot) + k][:, :n] = source[e - 1 + len(shot) + k][:, :n]   # after: enters at the left
            x[e - k][:, -n:] = source[e - k][:, -n:]                                 # before: at the right
        return x

    lin, cub = warped(true_u, -true_u, "linear"), warped(true_u, -true_u, "cubic")
    return [("true frames past the ends", full),
            ("true frames, entering strip from the edge", strip(full, cub)),
            ("true frames, entering strip extrapolated (odd)", strip(full, warped(true_u, -true_u, "cubic", "odd"))),
            ("true motion, bilinear warp, true strip", strip(lin, full)),
            ("true motion, cubic warp, true strip", strip(cub, full)),
            ("true motion, bilinear warp", lin),
            ("true motion, cubic warp", cub),
            ("true motion, cubic warp, odd edge", warped(true_u, -true_u, "cubic", "odd")),
            ("measured motion, bilinear warp (as shipped)", warped(u_end, u_start, "linear")),
            ("measured motion, cubic warp", warped(u_end, u_start, "cubic")),
            ("measured motion, bilinear warp, odd edge", warped(u_end, u_start, "linear", "odd")),
            ("measured motion, cubic warp, odd edge", warped(u_end, u_start, "cubic", "odd"))]


def rows() -> tuple[list[str], list[str]]:
    r = Renderer.create(None, UpsampleOptions(method="cubic", shot_ends="motion"), height=64, width=96)
    e = r.extension
    shots = scene(e)
    border = int(np.ceil(e * F * SPEED))
    b = np.s_[:, border:-border, border:-border]
    table, results = {}, {}
    for i, (full, htr) in enumerate(shots):
        shot = full[e:-e]
        u_end, u_start = shotends.flow(shot[-2], shot[-1]), shotends.flow(shot[1], shot[0])
        for name, ext in extensions(full, e, u_end, u_start):
            out = r.ladder.run(ext, keep=(e, len(shot)))
            g = -1 if i == 0 else 0                            # the group at the cut
            grp = np.s_[len(out) - F:] if i == 0 else np.s_[:F]
            table.setdefault(name, []).append((group_psnr(out, htr)[g], psnr(out[grp][b], htr[grp][b])))
            results[name, i] = out, htr, group_psnr(out, htr)
    mid = np.mean(np.concatenate([results[k][2][e:-e] for k in results if k[0] == "true frames past the ends"]))
    lines = [f"| extension | group {N // F - 1} (shot 1's last) | group {N // F} (shot 2's first) | "
             f"the same without a {border} px border |", "| --- | --- | --- | --- |"]
    for name, v in table.items():
        lines.append(f"| {name} | {v[0][0]:.1f} | {v[1][0]:.1f} | {v[0][1]:.1f} / {v[1][1]:.1f} |")
    lines.append(f"| mid-shot (groups reading no continued frame) | {mid:.1f} | | |")
    # error map of the shipped continuation: MSE per column counted from the entering side
    prof, share = [], 0.0
    for name in ("measured motion, bilinear warp (as shipped)", "measured motion, cubic warp", "measured motion, cubic warp, odd edge"):
        out, htr, _ = results[name, 0]
        err = ((out[-F:] - htr[-F:]) ** 2).mean(axis=(0, 1, 3))     # shot 1's last group: enters at the left
        out2, htr2, _ = results[name, 1]
        err = 0.5 * (err + ((out2[:F] - htr2[:F]) ** 2).mean(axis=(0, 1, 3))[::-1])   # shot 2's first: right
        cols = [10 * np.log10(1 / max(v, 1e-20)) for v in err[:6]]
        share = share or 100 * err[:border].sum() / err.sum()          # the shipped continuation's
        prof.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in cols)
                    + f" | {10 * np.log10(1 / err[6:].mean()):.1f} | {100 * err[:border].sum() / err.sum():.0f}% |")
    maps = ["| continuation | col 0 | 1 | 2 | 3 | 4 | 5 | the rest | share of the squared error in cols 0-"
            f"{border - 1} |", "| --- |" + " --- |" * 8, *prof]
    t = {k: np.array(v) for k, v in table.items()}                 # [group][whole, without border]
    gap = lambda a, b, col: " / ".join(f"{x:.1f}" for x in t[a][:, col] - t[b][:, col])   # noqa: E731
    summary = dict(border=border, share=f"{share:.0f}",
                   strip=gap("true frames past the ends", "true frames, entering strip from the edge", 0),
                   interp=gap("true frames past the ends", "true motion, bilinear warp, true strip", 1),
                   motion=gap("true motion, bilinear warp", "measured motion, bilinear warp (as shipped)", 1),
                   repeat=" / ".join(f"{mid - x:.1f}" for x in t["true frames, entering strip from the edge"][:, 0]),
                   odd=" / ".join(f"{mid - x:.1f}" for x in t["true frames, entering strip extrapolated (odd)"][:, 0]))
    return lines, maps, summary


def edge_rows(margin: int = 24, distances=(1, 2, 3, 4, 8, 16)) -> list[str]:
    """How well a real picture continues past its edge: in every LTR frame of the x8 real clips,
    an edge is drawn 24 px (``margin``) in from each side and the column ``d`` px past it is guessed from
    the picture inside: the edge column repeated (what the warp does), its odd reflection
    ``2 f(0) - f(d)`` (clipped to 0..1), and the best linear mix ``f(0) + a (f(0) - f(d))`` (``a``
    fitted to the answer: the most any guess of that form can do). PSNR (dB) against the column."""
    from bench_shot_ends import clip

    lines = ["| clip | " + " | ".join(f"{d} px: repeat / odd / best (a)" for d in distances) + " |",
             "| --- |" + " --- |" * len(distances)]
    for name in ("cam01", "cam03", "city"):
        frames = [np.rot90(f, side) for f in clip(name, 8)[0] for side in range(4)]
        cells = []
        for d in distances:
            t, e, i = (np.concatenate([f[:, c].ravel() for f in frames]) for c in (margin - d, margin, margin + d))
            a = np.sum((t - e) * (e - i)) / np.sum((e - i) ** 2)
            cells.append(" / ".join(f"{psnr(x, t):.1f}" for x in (e, np.clip(2 * e - i, 0, 1), e + a * (e - i)))
                         + f" ({a:+.2f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    return lines


VERDICT = (
    "Why the groups at the cut stay under mid-shot. The ladder is not the cause: given the true frames past "
    "the ends they score as mid-shot. Most of the gap is the content that enters the picture during the "
    "continuation, which no frame of the shot shows (a strip at most {border} px wide, column 0 above all): "
    "it costs {strip} dB of the two groups with the true frames everywhere else, and holds {share}% of the "
    "shipped continuation's squared error. The rest, seen without the border: the bilinear warp's smoothing "
    "({interp} dB, true motion) and the measured motion's error ({motion} dB). With the entering strip "
    "repeated from the edge as shipped, even the true frames everywhere else leave the groups {repeat} dB "
    "under mid-shot; extrapolated (odd reflection) {odd} dB, and only because this texture is smooth: real "
    "pictures continue past an edge better repeated than oddly reflected at every distance (third table; the "
    "best linear guess gains at most {best} dB, at 1 px). So the issue's \"within 1 dB of mid-shot\" does not "
    "hold on this scene for a reason the clip cannot remove: the groups at a shot's end need what the camera "
    "had not yet shown. On the real shot ends the cubic warp and the odd edge bring no consistent gain "
    "(\"the continuation's warp\" above): kept bilinear, edge repeated.")


SPEEDS = (0.1, 0.2, 0.4, 0.8, 1.6)
METHODS = ("cubic", "linear", "flow")


def speed_rows() -> tuple[list[str], str]:
    """The same two shots drifting at other speeds (px per HTR frame), rendered as shipped (the
    cut found by the detector, the shot ends continued along the motion) by each interpolator of
    the direct path: the groups at the cut against mid-shot (the groups 3, 4, 11 and 12, which read
    no continued frame). The gap is the worse of the two groups at the cut under mid-shot."""
    from vs_zstsr import cuts

    out = ["| px per HTR frame | cuts found | method | groups at the cut (dB) | clip's ends (dB) | mid-shot (dB) | gap (dB) |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    gaps = []   # (mid-shot, gap, speed, method)
    for speed in SPEEDS:
        pos = np.arange(N) * speed
        htr = np.concatenate([drifting_waves(pos, 1), drifting_waves(pos, 2)])
        ltr = rect_downsample(htr, F, 0)
        found = cuts.detect(ltr)
        for method in METHODS:
            r = Renderer.create(None, UpsampleOptions(method=method), height=ltr.shape[1], width=ltr.shape[2])
            g = group_psnr(r.render(ltr, 0, len(ltr)), htr)
            cut, last = N // F, len(ltr) - 1
            mid = float(g[[3, 4, cut + 3, cut + 4]].mean())
            gap = mid - float(min(g[cut - 1], g[cut]))
            gaps.append((mid, gap, speed, method))
            out.append(f"| {speed} | {found} | {method} | {g[cut - 1]:.1f} / {g[cut]:.1f} | {g[0]:.1f} / {g[last]:.1f} "
                       f"| {mid:.1f} | {gap:.1f} |")
    over = sorted((m, gp, sp, me) for m, gp, sp, me in gaps if gp > 1)
    flow = [gp for m, gp, sp, me in gaps if me == "flow"]
    verdict = (f"The gap exceeds 1 dB in {len(over)} of {len(gaps)} rows, all with mid-shot at {over[0][0]:.1f} dB "
               f"or more ({', '.join(f'{me} at {sp}: {gp:.1f} dB under {m:.1f}' for m, gp, sp, me in over)}); in "
               f"every row with mid-shot under {over[0][0]:.1f} dB it is at most "
               f"{max(gp for m, gp, *_ in gaps if m < over[0][0]):.1f} dB, and with flow at most {max(flow):.1f} dB "
               "at every speed. What enters the picture past a shot's end costs more the faster the drift, but "
               "the interpolation's own error grows faster still: the gap shows where the groups mid-shot are "
               "near perfect (cubic and linear on slow drifts; the issue's scene, 48.5 dB mid-shot, is among "
               "those levels), and there the issue's \"within 1 dB of mid-shot\" does not hold. What `zstsr "
               "upsample`'s self-check would pick on these scenes is not in this table (it needs a trained net)."
               ) if over else "The gap is at most 1 dB in every row."
    return out, verdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write-docs", action="store_true", help="Write the tables into docs/BENCHMARKS.md.")
    args = ap.parse_args()
    lines, maps, summary = rows()
    edges = edge_rows()
    speeds, speed_verdict = speed_rows()
    intro = " ".join(__doc__.split("\n\n", 2)[2].split("\n\n")[0].split())
    items = [" ".join(x.split()) for x in __doc__.split("\n\n", 2)[2].split("\n\n")[1].split("\n- ")]
    text = "\n".join(["### Shot ends: the gap to mid-shot taken apart (`nice -n 15 python "
                      "benchmarks/bench_shot_end_gap.py --write-docs`)", "", intro,
                      *[f"- {x.lstrip('- ')}" for x in items], "",
                      " ".join(__doc__.split("\n\n", 2)[2].split("\n\n")[2].split()), "", *lines, "", *maps, "",
                      " ".join(edge_rows.__doc__.split()), "", *edges, "", VERDICT.format(**summary, best=best(edges)),
                      "", " ".join(speed_rows.__doc__.split()), "", *speeds, "", speed_verdict])
    print(text)
    if args.write_docs:
        replace_section(ROOT / "docs" / "BENCHMARKS.md", "shot-end-gap", text)


def best(edges: list[str]) -> str:
    """The largest gain of the best linear guess over the repeated edge at 1 px, over the clips."""
    gains = []
    for line in edges[2:]:
        rep, _, rest = line.split("|")[2].split(" / ")
        gains.append(float(rest.split()[0]) - float(rep))
    return f"{max(gains):.1f}"


if __name__ == "__main__":
    main()
