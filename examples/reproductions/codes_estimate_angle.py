"""Angle between each code's frozen-θ gradient estimate and the true gradient, both modes.

    python examples/reproductions/codes_estimate_angle.py [--steps 4100]

3-bit parity on 3-8-1 (P = 41) at θ0 of examples/parity4.toml (seed 2), one training sample
(index 1) held, η = 0, Δ = 1e-3, τp = 1, τhp = 10; discrete mode integrates with τθ = 2⁴⁰,
analog mode low-passes with τθ = 10⁶ (only the direction of G is compared). After --steps
steps (100 TDMA sweeps of the 41 parameters by default) it prints the angle between
``chip.grad`` and ``hwsim.chip.gradient.backprop`` of that sample (docs/reproductions/codes.md).
"""

import argparse
import math
from pathlib import Path

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.chip.gradient import backprop
from hwsim.config import load_config
from hwsim.learn import build_chip

ROOT = Path(__file__).resolve().parents[2]


def angle(a, b):
    c = a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)
    return math.degrees(math.acos(float(np.clip(c, -1.0, 1.0))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4100)
    args = ap.parse_args()
    cfg = load_config(ROOT / "examples/parity4.toml").with_overrides(
        {"task.bits": 3, "network.sizes": [3, 8, 1]})
    chip, net, ds = build_chip(cfg)
    theta, X, Y = chip.theta.copy(), ds.X_train[1:2], ds.Y_train[1:2]
    true = backprop(net, theta, X, Y).grad
    print("| mode | code | angle to ∇C after", f"{args.steps:,} steps |\n|---|---|---:|")
    for mode in ("discrete", "analog"):
        for code in ("cdma", "walsh", "fdma", "tdma"):
            c = Chip(net, X, Y, theta, seed=1, perturbation=code, mode=mode, amplitude=1e-3,
                     eta=0.0, tau_p=1, tau_x=2**40, tau_hp=10.0,
                     tau_theta=2**40 if mode == "discrete" else 10**6)
            c.advance(args.steps)
            print(f"| {mode} | {code.upper() if code != 'walsh' else 'Walsh'} | "
                  f"{angle(c.grad, true):.1f}° |")


if __name__ == "__main__":
    main()
