"""Digits on every shipped device profile under the same MGD settings (docs/devices.md table).

    python examples/device_study.py [--steps N] [--out runs/device_study]

Each profile trains the 64-32-10 digits MLP with discrete CDMA MGD, tau_theta = 50 (the
local integrators accumulate 50 steps before writing, so each write carries a better
gradient estimate), eta = 0.5, stochastic pulse rounding. Prints a Markdown table: final and
best held-out accuracy, steps to 0.85, pulses issued and writes clipped at bounds.
"""

import argparse
import time
from pathlib import Path

from hwsim.chip.profiles import list_profiles, load_profile
from hwsim.config import load_config
from hwsim.experiment import run_experiment

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--out", default="runs/device_study")
    ap.add_argument("--profiles", nargs="*", help="only these profiles (default: ideal and all)")
    ap.add_argument("--no-header", action="store_true")
    args = ap.parse_args()
    base = load_config(HERE / "digits.toml").with_overrides({
        "mgd.tau_theta": 50, "mgd.eta": 0.5, "sim.steps": args.steps, "sim.eval_every": 50_000,
        "sim.target_accuracy": 0.85})
    if not args.no_header:
        print(f"digits 64-32-10, CDMA, amplitude {base.mgd.amplitude}, eta {base.mgd.eta}, "
              f"tau_theta {base.mgd.tau_theta}, {args.steps:,} steps of {base.sim.dt:g} s, "
              f"seed {base.seed}\n")
        print("| profile | model | states | final acc. | best acc. | steps to 0.85 | steps | "
              "pulses | clipped writes | steps/s |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = args.profiles or ["ideal"] + [p for p in list_profiles() if p != "ideal"]
    for name in names:
        cfg = base.with_overrides({"chip.device": name})
        t0 = time.perf_counter()
        s = run_experiment(cfg, Path(args.out) / name, force=True).summary_
        prof = load_profile(name)
        st = s["device_stats"]
        states = prof.n_states()
        print(f"| {name} | {prof.model} | {'∞' if states == float('inf') else f'{states:,.0f}'} | "
              f"{s['final_test_accuracy']:.3f} | {s['best_test_accuracy']:.3f} | "
              f"{s['steps_to_target'] if s['steps_to_target'] is not None else 'not reached'} | "
              f"{s['steps']:,} | {st.get('pulses', 0):,} | {st.get('clipped_writes', 0):,} | "
              f"{s['steps_per_s']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
