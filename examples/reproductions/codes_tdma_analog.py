"""Why analog TDMA does not learn: the two laws of a unipolar code behind a cost high-pass.

    python examples/reproductions/codes_tdma_analog.py [--sweeps 100]

TDMA's code is +Δ on one parameter per slot of τp steps and 0 elsewhere (mgd.md), so every
parameter's reference has a non-zero mean Δ/P. Analog mode's cost high-pass
C̃_n = a·(C̃_{n−1} + C_n − C_{n−1}), a = τhp/(τhp + 1), removes the mean of C. Two
consequences, both printed here against the measured chip (docs/reproductions/codes.md):

1. **Static law (θ frozen, one input).** In steady state the low-passed estimate is

       G = κ/P · (I − W)·∇C,   W_ij = (1 − b)·b^(d−1)/(1 − b^P),  d = (i − j) mod P ∈ 1..P,
       b = a^τp,  κ = a·(1 − b)/((1 − a)·τp)

   (sum of the high-pass step responses a^(k+1) to the jumps Δ·(g_j − g_{j−1}) at the slot
   boundaries; discrete TDMA gives ∇C/P). The rows of W sum to 1, so Σ_i G_i = 0: the
   component of ∇C along (1, …, 1) is lost (it sits in the DC of C with C₀), and the rest is
   smeared over the preceding ~τhp/τp slots. τhp ≫ P·τp leaves the projection ∇C − mean(∇C);
   τhp ≪ τp leaves the differences g_i − g_{i−1}.
2. **Common-mode law (θ learning, one input).** Every step exactly one integrator receives
   C̃/Δ, so Σ_i G_i follows C̃, and the sum of the high-pass is τhp times the change of C:

       Σθ(N) − Σθ(0) = −η·[(τhp/Δ)·(C_{N−1} − C_0 − C̃_{N−1}) − τθ·Σ_i G_i(N−1)]

   (exact, any cost; C the measured perturbed costs). Whatever lowers the cost while an input
   is held (the learning itself) raises every parameter: ΔΣθ ≈ (η·τhp/Δ)·(cost removed).
   With inputs changing every τx the high-pass restarts and drops the jumps between inputs,
   so the per-presentation decreases add up and Σθ drifts up for as long as the samples'
   costs are being lowered, saturating the sigmoids; the ratio η·τhp/Δ sets how fast (50 in the codes sweep: η = 0.25, τhp = 10,
   Δ = 0.05).

Setting: 3-bit parity on 3-8-1 (P = 41) at θ0 of examples/parity4.toml (seed 2), training
sample 1 held; part 1 with η = 0, Δ = 1e-3, τθ = 10⁹ and --sweeps sweeps of the P slots;
the same law on 3-h-1 networks (P = 11 to 161); part 2 with η = 0.05, Δ = 0.05, τθ = 1,
2,000 steps; part 3 with all 8 samples in turn
(τx = 10) for 20,000 steps at the codes sweep's setting and at one that learns.
"""

import argparse
import math
from pathlib import Path

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.chip.gradient import backprop
from hwsim.chip.network import MLP
from hwsim.config import load_config
from hwsim.learn import build_chip

ROOT = Path(__file__).resolve().parents[2]


def tdma_analog_estimate(grad, tau_p, tau_hp):
    """The steady-state analog TDMA estimate κ/P·(I − W)·∇C of the module docstring.

    grad : (P,) the true gradient; tau_p (steps) and tau_hp (steps, > 0). Returns (P,), in the
    units of the chip's G (the discrete TDMA estimate is grad/P).
    """
    g = np.asarray(grad, float)
    P = g.size
    a = tau_hp / (tau_hp + 1.0)
    b = a ** tau_p
    d = np.arange(1, P + 1)
    w = (1.0 - b) * b ** (d - 1) / (1.0 - b ** P)
    est = g - sum(wk * np.roll(g, k) for k, wk in zip(d, w))  # np.roll(g, k)[i] = g[i − k]
    return a * (1.0 - b) / ((1.0 - a) * tau_p) * est / P


def angle(u, v):
    c = u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-300)
    return math.degrees(math.acos(float(np.clip(c, -1.0, 1.0))))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=100)
    args = ap.parse_args()
    cfg = load_config(ROOT / "examples/parity4.toml").with_overrides(
        {"task.bits": 3, "network.sizes": [3, 8, 1]})
    chip, net, ds = build_chip(cfg)
    theta, X, Y = chip.theta.copy(), ds.X_train[1:2], ds.Y_train[1:2]
    true = backprop(net, theta, X, Y).grad
    P = true.size
    print(f"P = {P}; angle of ∇C to its zero-mean projection: "
          f"{angle(true - true.mean(), true):.1f}°\n")
    print("| τp | τhp | measured angle | law | rel. error of G vs law |\n|---:|---:|---:|---:|---:|")
    tau_theta = 10 ** 9
    for tau_p, tau_hp in ((1, 0.3), (1, 1), (1, 10), (1, 100), (1, 1000), (3, 30), (10, 1),
                          (10, 10), (10, 100)):
        steps = args.sweeps * P * tau_p
        if tau_hp * 20 > steps:  # reach the steady state: many high-pass time constants
            steps = int(math.ceil(tau_hp * 20 / (P * tau_p))) * P * tau_p
        c = Chip(net, X, Y, theta, seed=1, perturbation="tdma", mode="analog", amplitude=1e-3,
                 eta=0.0, tau_p=tau_p, tau_x=2 ** 40, tau_hp=float(tau_hp), tau_theta=tau_theta)
        c.advance(steps)
        G = c.grad * (tau_theta + 1) / steps  # the low-pass of gain 1/(τθ+1) ≈ the mean
        law = tdma_analog_estimate(true, tau_p, tau_hp)
        print(f"| {tau_p} | {tau_hp:g} | {angle(G, true):.1f}° | {angle(law, true):.1f}° | "
              f"{np.linalg.norm(G - law) / np.linalg.norm(law):.3f} |")
    print("\nThe static law vs P (3-h-1 networks, Xavier θ0 of seed 2, sample 1, τp = 1, τhp = 10):")
    print("| h | P | measured angle | law | zero-mean projection |\n|---:|---:|---:|---:|---:|")
    for h in (2, 8, 16, 32):
        net_h = MLP([3, h, 1])
        th = net_h.init_params(2, "xavier")
        g = backprop(net_h, th, X, Y).grad
        steps = args.sweeps * g.size
        c = Chip(net_h, X, Y, th, seed=1, perturbation="tdma", mode="analog", amplitude=1e-3,
                 eta=0.0, tau_p=1, tau_x=2 ** 40, tau_hp=10.0, tau_theta=tau_theta)
        c.advance(steps)
        G = c.grad * (tau_theta + 1) / steps
        print(f"| {h} | {g.size} | {angle(G, g):.1f}° | "
              f"{angle(tdma_analog_estimate(g, 1, 10.0), g):.1f}° | {angle(g - g.mean(), g):.1f}° |")
    print("\nCommon-mode law (η = 0.05, Δ = 0.05, τθ = 1, 2,000 steps, one input):")
    print("| τhp | C(0) | C(N) | ΔΣθ measured | ΔΣθ law |\n|---:|---:|---:|---:|---:|")
    eta, amp, n = 0.05, 0.05, 2000
    for tau_hp in (1.0, 10.0):
        c = Chip(net, X, Y, theta, seed=1, perturbation="tdma", mode="analog", amplitude=amp,
                 eta=eta, tau_p=1, tau_x=2 ** 40, tau_hp=tau_hp, tau_theta=1)
        c.advance(1)
        c0 = float(c.state.cost_line[0]["c"])
        c.advance(n - 1)
        cl = c.state.cost_line[0]
        law = -eta * (tau_hp / amp * (cl["c"] - c0 - cl["ctilde"]) - 1 * c.grad.sum())
        print(f"| {tau_hp:g} | {backprop(net, theta, X, Y).cost:.4f} | "
              f"{backprop(net, c.theta, X, Y).cost:.4f} | {c.theta.sum() - theta.sum():.4f} | "
              f"{law:.4f} |")
    print("\nWith inputs changing (all 8 samples, τx = 10, τp = 1, τθ = 1, 20,000 steps; "
          "Σ_k ΔC_k = sum of the within-presentation changes of the measured cost):")
    print("| Δ | η | τhp | η·τhp/Δ | Σ_k ΔC_k | ΔΣθ measured | ΔΣθ law | C(θ) before → after |\n"
          "|---:|---:|---:|---:|---:|---:|---:|---|")
    X, Y = ds.X_train, ds.Y_train
    tau_x = 10
    for amp, eta, tau_hp in ((0.05, 0.25, 10.0), (1.0, 1.0, 1.0)):
        c = Chip(net, X, Y, theta, seed=1, perturbation="tdma", mode="analog", amplitude=amp,
                 eta=eta, tau_p=1, tau_x=tau_x, tau_hp=tau_hp, tau_theta=1)
        passed = 0.0
        for _ in range(20_000 // tau_x):
            c.advance(1)
            first = float(c.state.cost_line[0]["c"])
            c.advance(tau_x - 1)
            passed += float(c.state.cost_line[0]["c"]) - first
        law = -eta * (tau_hp / amp * (passed - c.state.cost_line[0]["ctilde"]) - c.grad.sum())
        print(f"| {amp:g} | {eta:g} | {tau_hp:g} | {eta * tau_hp / amp:g} | {passed:.3f} | "
              f"{c.theta.sum() - theta.sum():.2f} | {law:.2f} | "
              f"{backprop(net, theta, X, Y).cost:.3f} → {backprop(net, c.theta, X, Y).cost:.3f} |")


if __name__ == "__main__":
    main()
