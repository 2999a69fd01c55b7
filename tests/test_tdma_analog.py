"""Analog TDMA: the two laws that keep it from learning (docs/reproductions/codes.md).

TDMA's code is +Δ on one parameter per slot (never ±), so each reference has a mean Δ/P, and
analog mode's cost high-pass C̃_n = a·(C̃_{n−1} + C_n − C_{n−1}), a = τhp/(τhp + 1), removes
the mean of C (mgd.md, "One discrete step", analog paragraph).

1. Static law, θ frozen: the estimate is the superposition of the high-pass step responses
   a^(k+1) to the jumps Δ·(g_j − g_{j−1}) at the slot boundaries, G → κ/P·(I − W)·∇C with
   Σ_i G_i = 0 (the common-mode part of ∇C is lost).
2. Common-mode law, θ learning: every step one integrator receives C̃/Δ, and the high-pass
   sums to τhp times the changes of C it passed (it drops the jump at each new input), so
   exactly Σθ(N) − Σθ(0) = −η·[(τhp/Δ)·(Σ_k (C_k,last − C_k,first) − C̃_{N−1}) − τθ·Σ_i G_i]
   over the presentations k of the inputs (C the measured perturbed costs).
"""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.gradient import backprop
from hwsim.chip.network import MLP
from hwsim.tasks import load_task
from tests.costs import analytic_chip, linear_cost


def law_by_step_responses(g, tau_p, tau_hp, periods=400):
    """κ/P·(I − W)·g by direct superposition (not the closed form of the example script).

    Each slot boundary m ≤ i carries the jump J_m = g_m − g_{m−1} (slot indices mod P); the
    high-pass's response to a unit step is a^(k+1) k steps later, so the sum over the τp
    steps of slot i is Σ_m J_m·a^((i−m)·τp + 1)·(1 − a^τp)/(1 − a); the time-averaged
    integrator is that sum /(P·τp) (per unit Δ). Truncated after ``periods`` sweeps.
    """
    P = g.size
    a = tau_hp / (tau_hp + 1.0)
    out = np.zeros(P)
    for i in range(P):
        tot = 0.0
        for lag in range(periods * P):
            m = i - lag
            tot += (g[m % P] - g[(m - 1) % P]) * a ** (lag * tau_p + 1)
        out[i] = tot * (1.0 - a ** tau_p) / (1.0 - a) / (P * tau_p)
    return out


def angle(u, v):
    return math.degrees(math.acos(float(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)),
                                                -1.0, 1.0))))


TAU_THETA = 2 ** 40  # the low-pass then averages: G ≈ Σ g/(τθ + 1)


@pytest.mark.parametrize("tau_p,tau_hp", [(1, 10.0), (1, 1.0), (4, 2.0), (2, 30.0)])
def test_static_law_linear_cost(tau_p, tau_hp):
    """Linear cost C = a·θ (gradient a exactly), η = 0: the time-averaged analog TDMA
    estimate equals the superposed step responses, sums to zero and is biased off a."""
    a = np.array([1.0, -2.0, 3.0, 0.5, -1.5, 2.5, 0.7])
    P = a.size
    n = 400 * P * tau_p
    chip = analytic_chip(linear_cost, np.zeros(P), model=(a,), amplitude=0.05, eta=0.0,
                         perturbation="tdma", mode="analog", tau_p=tau_p, tau_hp=tau_hp,
                         tau_theta=TAU_THETA, tau_x=2 ** 40, seed=3)
    chip.advance(n)
    G = chip.grad * (TAU_THETA + 1.0) / n
    law = law_by_step_responses(a, tau_p, tau_hp)
    # the start-up transient (y starts at 0) is O(τhp/n) of the mean
    assert np.linalg.norm(G - law) <= 0.005 * np.linalg.norm(law)
    assert abs(angle(G, a) - angle(law, a)) < 0.2
    assert abs(G.sum()) <= 0.01 * np.linalg.norm(G)  # the common mode is lost
    assert angle(law, a) > 15.0  # the law is a real bias, not ∇C/P
    # discrete TDMA on the same cost is exact (mgd.md fact 4): the bias is analog's
    d = analytic_chip(linear_cost, np.zeros(P), model=(a,), amplitude=0.05, eta=0.0,
                      perturbation="tdma", tau_p=tau_p, tau_theta=2 ** 40, seed=3)
    d.advance(P * tau_p)
    np.testing.assert_allclose(d.grad, tau_p * a, rtol=1e-9)


@pytest.fixture(scope="module")
def xor_sample():
    ds = load_task("xor")
    net = MLP([2, 2, 1])
    theta = net.init_params(5, "uniform")
    return net, theta, ds.X_train[2:3], ds.Y_train[2:3]


def test_static_law_mlp(xor_sample):
    """2-2-1 MLP at a fixed sample, Δ = 1e-4: the analog TDMA estimate follows the law
    around the backpropagated gradient (to the O(Δ) curvature and the start-up transient)."""
    net, theta, X, Y = xor_sample
    true = backprop(net, theta, X, Y).grad
    P = true.size
    n = 400 * P
    chip = Chip(net, X, Y, theta, seed=1, perturbation="tdma", mode="analog", amplitude=1e-4,
                eta=0.0, tau_p=1, tau_x=2 ** 40, tau_hp=10.0, tau_theta=TAU_THETA)
    chip.advance(n)
    G = chip.grad * (TAU_THETA + 1.0) / n
    law = law_by_step_responses(true, 1, 10.0)
    assert np.linalg.norm(G - law) <= 0.02 * np.linalg.norm(law)
    assert abs(angle(G, true) - angle(law, true)) < 1.0


@pytest.mark.parametrize("tau_p,tau_hp,tau_theta", [(1, 10.0, 1), (3, 1.0, 5), (2, 4.0, 2)])
def test_common_mode_law_exact(xor_sample, tau_p, tau_hp, tau_theta):
    """θ learning on one held input: Σθ moves by exactly −η·[(τhp/Δ)·(C_{N−1} − C_0 −
    C̃_{N−1}) − τθ·ΣG], so lowering the cost raises every parameter (η·τhp/Δ per unit)."""
    net, theta, X, Y = xor_sample
    eta, amp, n = 0.05, 0.05, 1500
    chip = Chip(net, X, Y, theta, seed=1, perturbation="tdma", mode="analog", amplitude=amp,
                eta=eta, tau_p=tau_p, tau_x=2 ** 40, tau_hp=tau_hp, tau_theta=tau_theta)
    chip.advance(1)
    c_first = float(chip.state.cost_line[0]["c"])
    chip.advance(n - 1)
    cl = chip.state.cost_line[0]
    moved = chip.theta.sum() - theta.sum()
    law = -eta * ((tau_hp / amp) * (cl["c"] - c_first - cl["ctilde"]) - tau_theta * chip.grad.sum())
    assert moved == pytest.approx(law, rel=1e-9, abs=1e-12)
    cost_removed = backprop(net, theta, X, Y).cost - backprop(net, chip.theta, X, Y).cost
    assert cost_removed > 0.0  # it learns the held sample ...
    assert moved > 0.5 * eta * tau_hp / amp * cost_removed  # ... and drifts up with it


def test_common_mode_law_with_input_changes():
    """Inputs changing every τx = 5 (the restarts drop the jumps between inputs): Σθ follows
    the sum of the within-presentation cost changes, exactly; learning each presentation's
    input lowers its cost, so the sum keeps growing and Σθ drifts up with it."""
    ds = load_task("xor")
    net = MLP([2, 2, 1])
    theta = net.init_params(5, "uniform")
    eta, amp, tau_hp, tau_x, n_pres = 0.05, 0.05, 10.0, 5, 400
    chip = Chip(net, ds.X_train, ds.Y_train, theta, seed=1, perturbation="tdma", mode="analog",
                amplitude=amp, eta=eta, tau_p=1, tau_x=tau_x, tau_hp=tau_hp, tau_theta=1)
    passed = 0.0  # Σ_k (C_k,last − C_k,first)
    for _ in range(n_pres):
        chip.advance(1)
        first = float(chip.state.cost_line[0]["c"])
        chip.advance(tau_x - 1)
        passed += float(chip.state.cost_line[0]["c"]) - first
    law = -eta * ((tau_hp / amp) * (passed - chip.state.cost_line[0]["ctilde"])
                  - 1 * chip.grad.sum())
    moved = chip.theta.sum() - theta.sum()
    assert moved == pytest.approx(law, rel=1e-9, abs=1e-12)
    assert passed < 0.0 and moved > 1.0  # the drift of the codes sweep, on XOR
