"""Case T1: one epoch of MGD on a 784-100-10 MLP with per-device dtod variation.

    python benchmarks/bench_t1.py [--samples 60000]

A 60,000-step epoch (one MNIST training epoch at τx = 1: one sample per step), discrete CDMA
MGD, τθ = 1 (a device write every step, the worst case), on ConstantStep synapses with the
model's default device-to-device spreads (dw_min, up/down, bounds) and cycle-to-cycle noise,
against the ideal chip in the same run. Synthetic inputs (no dataset is downloaded): the cost
of a step does not depend on what the pixels are. Prints the epoch's wall time and the ratio.
"""

import argparse
import datetime
import os
import time

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP

SIZES = [784, 100, 10]


def epoch_seconds(device, steps, X, Y, seed=0):
    """Wall seconds of ``steps`` MGD steps (after compiling), and the chip."""
    net = MLP(SIZES, cost="cross_entropy", output_activation="softmax")
    dev = None
    if device:
        dev = DeviceArray(params_for("ConstantStep", {"dw_min": 0.001, "w_max": 1.0,
                                                      "w_min": -1.0}), net.n_params, seed)
    chip = Chip(net, X, Y, net.init_params(seed), seed=seed, amplitude=0.05, eta=0.5,
                device=dev)
    chip.advance(10)  # compile (or load the cached kernels)
    t = time.perf_counter()
    chip.advance(steps)
    return time.perf_counter() - t, chip


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60_000, help="steps in the epoch")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = 6_000  # presented ten times over: the step cost is independent of the data
    X = rng.random((n, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], n)]
    print("# Case T1: one epoch of 784-100-10 MGD with per-device dtod\n")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"- machine: {os.cpu_count()} logical cores; load average {os.getloadavg()[0]:.2f}")
    print(f"- command: python benchmarks/bench_t1.py --steps {args.steps}\n")
    print("| chip | epoch wall s | steps/s | vs ideal |")
    print("|---|---:|---:|---:|")
    ideal, _ = epoch_seconds(False, args.steps, X, Y)
    dtod, chip = epoch_seconds(True, args.steps, X, Y)
    ideal2, _ = epoch_seconds(False, args.steps, X, Y)  # bracket the device run
    ideal = min(ideal, ideal2)
    print(f"| ideal synapses | {ideal:.1f} | {args.steps / ideal:,.0f} | 1.0× |")
    print(f"| ConstantStep, dtod + c2c | {dtod:.1f} | {args.steps / dtod:,.0f} | "
          f"{dtod / ideal:.1f}× |")
    c = chip.counters()
    print(f"\n{c['steps']:,} steps, {c['write_pulses_up'] + c['write_pulses_down']:,} write pulses.")


if __name__ == "__main__":
    main()
