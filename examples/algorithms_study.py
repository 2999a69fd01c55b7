"""Digits (64-32-10): steps to 0.85 held-out accuracy for weight vs node perturbation and with
vs without heavy-ball momentum, each at its best η from a small grid, over several seeds.

    python examples/algorithms_study.py [--seeds 5] [--out docs/algorithms_table.md]

Each run is what ``hwsim run examples/digits.toml`` does with ``--set mgd.target=...``,
``--set mgd.eta=...`` and ``--set learn.optimizer=...``, stopped at the target (evaluated
every 2,500 steps, at most 600,000 steps). The best η of a variant is the one with the lowest
median steps to target (a run that never gets there counts as the step limit).
"""

import argparse
import statistics
import time

from hwsim.config import load_config
from hwsim.learn.trainer import MGDTrainer

VARIANTS = {  # name: (overrides, η grid)
    "weight perturbation": ({"mgd.target": "weights"}, (0.5, 1.0, 2.0, 3.0, 4.0)),
    "node perturbation": ({"mgd.target": "nodes"}, (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)),
    "weight perturbation + momentum 0.9": (
        {"mgd.target": "weights", "learn.optimizer": "momentum", "learn.momentum": 0.9},
        (0.05, 0.1, 0.2, 0.3, 0.4)),
    "node perturbation + momentum 0.9": (
        {"mgd.target": "nodes", "learn.optimizer": "momentum", "learn.momentum": 0.9},
        (0.01, 0.02, 0.04, 0.08, 0.16)),
}
LIMIT = 600_000


def steps_to_target(over, eta, seed):
    cfg = load_config("examples/digits.toml").with_overrides({
        **over, "mgd.eta": eta, "seed": seed, "sim.steps": LIMIT, "sim.eval_every": 2_500,
        "sim.target_accuracy": 0.85, "sim.stop_at_target": True})
    tr = MGDTrainer(cfg).run()
    s = tr.summary_["steps_to_target"]
    return s if s is not None else LIMIT


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    seeds = range(1, args.seeds + 1)
    rows = ["| variant | best η | median steps to 0.85 | min – max | reached |",
            "|---|---:|---:|---:|---:|"]
    t0 = time.perf_counter()
    for name, (over, grid) in VARIANTS.items():
        best = None
        for eta in grid:
            steps = [steps_to_target(over, eta, s) for s in seeds]
            med = statistics.median(steps)
            print(f"{name:38s} eta={eta:<5g} median={med:>8,.0f} {steps}", flush=True)
            if best is None or med < best[1]:
                best = (eta, med, steps)
        eta, med, steps = best
        hit = sum(s < LIMIT for s in steps)
        rows.append(f"| {name} | {eta:g} | {med:,.0f} | {min(steps):,} – {max(steps):,} | "
                    f"{hit}/{len(steps)} |")
    table = "\n".join(rows)
    print(table)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
