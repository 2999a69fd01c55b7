"""Figure and table of the scaling reproduction (docs/reproductions/scaling.md).

    python examples/reproductions/scaling_report.py --parity3 P3.csv [P3_EDGES.csv] \
        --digits DIGITS.csv [DIGITS_EDGES.csv] --estimate ESTIMATE.csv \
        [--out docs/reproductions/img/scaling.png]

Reads the results.csv of the sweeps examples/sweeps/scaling_parity3.toml and
scaling_digits.toml (and of their *_edges.toml extensions, whose rows join the same η grid)
and the CSV of examples/reproductions/estimate_convergence.py. For each
task, width W and perturbation target it picks the best η of the grid: the lowest median
steps_to_target over the replicates, a run that never reached the target counted as the
step limit (sim.steps). Writes a two-panel figure (steps to target vs W; steps for the
estimate to come within 30° of the true gradient vs P, log-log) and prints the Markdown table.
"""

import argparse
import csv
import json
import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"weights": "tab:blue", "nodes": "tab:orange"}
MARKERS = {"parity3": "o", "digits": "s"}


def best_eta(paths):
    """{(W, target): dict(eta, median, lo, hi, reached, n, P, grid, limit)}."""
    runs = defaultdict(list)
    P = {}
    limit = None
    rows = [r for p in paths for r in csv.DictReader(open(p, encoding="utf-8"))]
    for r in rows:
        w = json.loads(r["network.sizes"])[1]
        limit = int(float(r["steps"])) if r["status"] == "completed" else limit
        s = r["steps_to_target"]
        runs[(w, r["mgd.target"], float(r["mgd.eta"]))].append(int(float(s)) if s else None)
        P[w] = int(r["n_params"])
    out = {}
    for (w, tgt, eta), steps in runs.items():
        lim = limit or 300_000
        full = [s if s is not None else lim for s in steps]
        med = statistics.median(full)
        key = (w, tgt)
        grid = sorted(e for (w2, t2, e) in runs if w2 == w and t2 == tgt)
        if key not in out or med < out[key]["median"]:
            out[key] = dict(eta=eta, median=med, lo=min(full), hi=max(full),
                            reached=sum(s is not None for s in steps), n=len(steps), P=P[w],
                            grid=grid, limit=lim)
    return out


def estimate(path):
    """{(task, W, target): (P, median N, theory)}."""
    acc = defaultdict(list)
    meta = {}
    for r in csv.DictReader(open(path, encoding="utf-8")):
        k = (r["task"], int(r["width"]), r["target"])
        acc[k].append(int(r["steps_to_30deg"]) if r["steps_to_30deg"] else None)
        meta[k] = (int(r["P"]), int(r["theory_weights"]))
    return {k: (meta[k][0], statistics.median([x for x in v if x is not None] or [0]),
                meta[k][1], v) for k, v in acc.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parity3", nargs="+", required=True)
    ap.add_argument("--digits", nargs="+", required=True)
    ap.add_argument("--estimate", required=True)
    ap.add_argument("--out", default="docs/reproductions/img/scaling.png")
    args = ap.parse_args()
    tasks = {"parity3": best_eta(args.parity3), "digits": best_eta(args.digits)}
    est = estimate(args.estimate)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.3))
    for task, res in tasks.items():
        for tgt in ("weights", "nodes"):
            ws = sorted(w for (w, t) in res if t == tgt)
            med = [res[(w, tgt)]["median"] for w in ws]
            lo = [res[(w, tgt)]["median"] - res[(w, tgt)]["lo"] for w in ws]
            hi = [res[(w, tgt)]["hi"] - res[(w, tgt)]["median"] for w in ws]
            a1.errorbar(ws, med, yerr=[lo, hi], color=COLORS[tgt], marker=MARKERS[task],
                        ls="-" if task == "digits" else "--", capsize=3,
                        label=f"{task}, {tgt}")
            ks = sorted(k for k in est if k[0] == task and k[2] == tgt)
            a2.plot([est[k][0] for k in ks], [est[k][1] for k in ks], color=COLORS[tgt],
                    marker=MARKERS[task], ls="-" if task == "digits" else "--",
                    label=f"{task}, {tgt}")
    Ps = sorted({v[0] for v in est.values()})
    a2.plot(Ps, [3 * (p - 1) for p in Ps], color="k", lw=0.8, ls=":",
            label="theory (weights): 3(P−1)")
    a1.set(xscale="log", yscale="log", xlabel="hidden width W",
           ylabel="steps to target (median, min–max; best η)",
           title="time to reach the target accuracy")
    a2.set(xscale="log", yscale="log", xlabel="parameters P",
           ylabel="steps until angle(estimate, ∇C) < 30°",
           title="time for the gradient estimate to converge")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    fig.suptitle("3-bit parity (3-W-1, target 100 %) and digits (64-W-10, target 0.85)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}\n")

    print("| task | W | P | perturbation | η grid | best η | median steps to target "
          "| min – max | reached | estimate: steps to 30° (median) | 3(P−1) |")
    print("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for task, res in tasks.items():
        for tgt in ("weights", "nodes"):
            for w in sorted(w for (w, t) in res if t == tgt):
                r = res[(w, tgt)]
                edge = " (edge)" if r["eta"] in (r["grid"][0], r["grid"][-1]) else ""
                e = est.get((task, w, tgt))
                print(f"| {task} | {w} | {r['P']:,} | {tgt} | "
                      f"{', '.join(f'{g:g}' for g in r['grid'])} | {r['eta']:g}{edge} | "
                      f"{r['median']:,.0f} | {r['lo']:,} – {r['hi']:,} | "
                      f"{r['reached']}/{r['n']} | {e[1]:,.0f} | {e[2]:,} |")


if __name__ == "__main__":
    main()
