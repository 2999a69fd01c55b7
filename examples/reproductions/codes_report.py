"""Figure and table of the codes reproduction (docs/reproductions/codes.md).

    python examples/reproductions/codes_report.py RESULTS.csv [--out docs/reproductions/img/codes.png]

Reads the results.csv of examples/sweeps/codes_parity3.toml. For each mode (discrete,
analog) and code (CDMA, Walsh, FDMA, TDMA) it picks the best η of the mode's grid: the
lowest median steps_to_target over the replicates, a run that never reached the target
counted as the step limit (sim.steps = 300,000). Writes a bar chart (median, min–max) and
prints the Markdown table, with every η's median so the grid can be judged.
"""

import argparse
import csv
import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LIMIT = 300_000
CODES = ("cdma", "walsh", "fdma", "tdma")
MODES = ("discrete", "analog")
NAMES = {"cdma": "CDMA", "walsh": "Walsh", "fdma": "FDMA", "tdma": "TDMA"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    ap.add_argument("--out", default="docs/reproductions/img/codes.png")
    args = ap.parse_args()
    runs = defaultdict(list)
    for r in csv.DictReader(open(args.results, encoding="utf-8")):
        s = r["steps_to_target"]
        runs[(r["mgd.mode"], r["mgd.perturbation"], float(r["mgd.eta"]))].append(
            int(float(s)) if s else None)
    best = {}
    for (mode, code, eta), steps in sorted(runs.items()):
        full = [s if s is not None else LIMIT for s in steps]
        med = statistics.median(full)
        if (mode, code) not in best or med < best[(mode, code)]["median"]:
            best[(mode, code)] = dict(eta=eta, median=med, lo=min(full), hi=max(full),
                                      reached=sum(s is not None for s in steps), n=len(steps))

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.38
    for j, mode in enumerate(MODES):
        xs = [i + (j - 0.5) * width for i in range(len(CODES))]
        b = [best[(mode, c)] for c in CODES]
        ax.bar(xs, [r["median"] for r in b], width,
               yerr=[[r["median"] - r["lo"] for r in b], [r["hi"] - r["median"] for r in b]],
               capsize=3, label=mode, color=("tab:blue", "tab:green")[j])
        for x, r in zip(xs, b):
            ax.text(x, r["median"] * 1.08, f"η={r['eta']:g}\n{r['reached']}/{r['n']}",
                    ha="center", fontsize=7)
    ax.axhline(LIMIT, color="k", lw=0.8, ls=":", label="step limit (not reached)")
    ax.set_xticks(range(len(CODES)), [NAMES[c] for c in CODES])
    ax.set_yscale("log")
    ax.set_ylim(1e3, 1e6)
    ax.set_ylabel("steps to 100 % (median, min–max; best η)")
    ax.set_title("3-bit parity, 3-8-1 (P = 41), τx = 10: codes × modes")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}\n")

    etas = {m: sorted({e for (mm, _, e) in runs if mm == m}) for m in MODES}
    print("| mode | code | best η | median steps to 100 % | min – max | reached | "
          "median at each η |")
    print("|---|---|---:|---:|---:|---:|---|")
    for mode in MODES:
        for c in CODES:
            r = best[(mode, c)]
            grid = etas[mode]
            edge = " (edge)" if r["eta"] in (grid[0], grid[-1]) else ""
            each = ", ".join(
                f"{e:g}: {statistics.median([s if s is not None else LIMIT for s in runs[(mode, c, e)]]):,.0f}"
                for e in grid)
            if r["reached"] == 0:
                print(f"| {mode} | {NAMES[c]} | – | never | – | 0/{r['n']} | {each} |")
                continue
            print(f"| {mode} | {NAMES[c]} | {r['eta']:g}{edge} | {r['median']:,.0f} | "
                  f"{r['lo']:,} – {r['hi']:,} | {r['reached']}/{r['n']} | {each} |")


if __name__ == "__main__":
    main()
