"""Markdown table of the device-tradeoff reproduction (docs/reproductions/device_tradeoff.md).

    python examples/reproductions/device_table.py RESULTS.csv

Reads the results.csv of examples/sweeps/device_rpu_parity3.toml and prints, per
(device.dw_min, device.dw_min_std): the number of states 2/dw_min, final and best test
accuracy (mean over replicates), runs that reached 100 %, and the medians over those runs of
steps, hardware time and energy to the target, with the write pulses of the whole run.
Then the runs on the Pareto front of energy vs hardware time to target (both minimised).
"""

import csv
import statistics
import sys
from collections import defaultdict


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
    d = defaultdict(list)
    for r in rows:
        d[(float(r["device.dw_min"]), float(r["device.dw_min_std"]))].append(r)
    print("| dw_min | states | dw_min_std | final acc. (mean) | best acc. (mean) | reached 100 % "
          "| steps to target (median) | hardware time to target (median) "
          "| energy to target (median) | write pulses, whole run (median) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (dw, sd), rs in sorted(d.items()):
        hit = [r for r in rs if r["energy_to_target_j"]]
        fin = statistics.mean(float(r["final_test_accuracy"]) for r in rs)
        best = statistics.mean(float(r["best_test_accuracy"]) for r in rs)
        st = med([float(r["steps_to_target"]) for r in hit])
        ht = med([float(r["hardware_time_to_target_s"]) for r in hit])
        en = med([float(r["energy_to_target_j"]) for r in hit])
        pu = med([float(r["device_stats.pulses"]) for r in rs])
        print(f"| {dw:g} | {2 / dw:,.0f} | {sd:g} | {fin:.3f} | {best:.3f} | {len(hit)}/{len(rs)} "
              f"| {st:,.0f} | {ht * 1e3:.1f} ms | {en * 1e6:.2f} µJ | {pu / 1e6:.2f} M |")
    pts = [r for r in rows if r["energy_to_target_j"]]
    front = [r for r in pts if not any(
        float(o["energy_to_target_j"]) <= float(r["energy_to_target_j"])
        and float(o["hardware_time_to_target_s"]) <= float(r["hardware_time_to_target_s"])
        and (float(o["energy_to_target_j"]), float(o["hardware_time_to_target_s"]))
        != (float(r["energy_to_target_j"]), float(r["hardware_time_to_target_s"]))
        for o in pts)]
    print("\nPareto front (energy vs hardware time to target):\n")
    print("| dw_min | dw_min_std | replicate | steps to target | hardware time | energy |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in sorted(front, key=lambda r: float(r["hardware_time_to_target_s"])):
        print(f"| {float(r['device.dw_min']):g} | {float(r['device.dw_min_std']):g} "
              f"| {r['replicate']} | {float(r['steps_to_target']):,.0f} "
              f"| {float(r['hardware_time_to_target_s']) * 1e3:.1f} ms "
              f"| {float(r['energy_to_target_j']) * 1e6:.2f} µJ |")


if __name__ == "__main__":
    main()
