"""The chip's signal path on digits: what latency, cost-line bits and integrator flaws cost.

Measures the numbers and plots of docs/chip.md (issue 13):

* ``angles``: θ frozen at the digits init, one fixed training sample, ∇C by central finite
  differences; the angle between the integrated estimate G and ∇C (i) vs the cost line's
  latency k, with and without reference delay matching, and (ii) vs the bits b of the
  quantised line (range calibrated to 4× the RMS of C̃ measured on the ideal line).
  Writes docs/img/signal_latency_angle.png and docs/img/signal_bits_angle.png.
* ``bits``: digits training (examples/digits.toml) with C̃ quantised to b bits over ±0.02,
  stopping at 0.90 test accuracy, evaluated every 10,000 steps, 3 seeds: steps to 0.90
  per b, and the least b within one evaluation tick of the unquantised line for every seed.
* ``table``: one short digits run per nonideality at one stated setting: final test
  accuracy and steps to 0.90.

Usage: ``python examples/signal_path_study.py [angles|bits|table|all]``. CPU: about 1-3
minutes per part on one core.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.config import load_config
from hwsim.experiment import run_experiment
from hwsim.learn.trainer import build_chip

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits.toml"
IMG = ROOT / "docs" / "img"


def _angle(g, true):
    c = g @ true / (np.linalg.norm(g) * np.linalg.norm(true))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def _frozen_setup():
    """The digits network at its seed-1 init and training sample 0, with ∇C there."""
    cfg = load_config(DIGITS)
    chip, net, ds = build_chip(cfg)
    theta = chip.theta.copy()
    X, Y, lab = ds.X_train[:1], ds.Y_train[:1], ds.labels_train[:1]
    f = lambda th: net.evaluate(th, X, Y, lab)[0]  # noqa: E731
    h, true = 1e-5, np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        true[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return net, X, Y, theta, true


def _estimate(net, X, Y, theta, seed, N, tau_p=1, cost_line=None):
    chip = Chip(net, X, Y, theta, seed=seed, amplitude=0.01, eta=0.0, tau_theta=10**12,
                tau_p=tau_p, cost_line=cost_line)
    L = (cost_line or {}).get("latency", 0)
    chip.advance(N + L)
    return chip


def angles(seeds=(1, 2), N=20_000):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net, X, Y, theta, true = _frozen_setup()
    ks = list(range(0, 17))
    rows = {}
    for label, tau_p, match in (("unmatched, τp = 1", 1, False), ("unmatched, τp = 8", 8, False),
                                ("matched, τp = 8", 8, True)):
        rows[label] = [np.mean([_angle(_estimate(net, X, Y, theta, s, N, tau_p, dict(
            latency=k, match_delay=match) if k else None).grad, true) for s in seeds])
            for k in ks]
        print(f"latency angle [{label}]: " + ", ".join(f"k={k}: {a:.1f}°"
                                                      for k, a in zip(ks, rows[label])))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, ys in rows.items():
        ax.plot(ks, ys, "o-" if "unmatched" in label else "s--", label=label, ms=4)
    ax.set_xlabel("cost-line latency k (steps)")
    ax.set_ylabel("angle(G, ∇C) (degrees)")
    ax.set_title(f"digits 64-32-10, θ frozen, one sample, N = {N:,} steps, Δ = 0.01",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(IMG / "signal_latency_angle.png", dpi=110)
    # bits: range calibrated on the ideal line
    ideal = Chip(net, X, Y, theta, seed=1, amplitude=0.01, eta=0.0, tau_theta=10**12)
    cs = []
    for _ in range(2000):
        ideal.advance(1)
        cs.append(ideal.cost_line["ctilde"])
    R = 4 * float(np.sqrt(np.mean(np.square(cs))))
    bits = list(range(2, 13))
    analog = np.mean([_angle(_estimate(net, X, Y, theta, s, N).grad, true) for s in seeds])
    ab, frac = [], []
    for b in bits:
        chips = [_estimate(net, X, Y, theta, s, N, cost_line=dict(bits=b, range=R))
                 for s in seeds]
        ab.append(np.mean([_angle(c.grad, true) for c in chips]))
        frac.append(np.mean([c.cost_clipped_fraction() for c in chips]))
    print(f"bits angle (range ±{R:.3g} = 4×RMS C̃; unquantised {analog:.2f}°): " + ", ".join(
        f"b={b}: {a:.2f}° (clipped {f:.4f})" for b, a, f in zip(bits, ab, frac)))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(bits, ab, "o-", label="quantised C̃")
    ax.axhline(analog, color="k", ls=":", label=f"unquantised ({analog:.1f}°)")
    ax.set_xlabel("cost-line bits b")
    ax.set_ylabel("angle(G, ∇C) (degrees)")
    ax.set_title(f"digits 64-32-10, θ frozen, one sample, N = {N:,}, range ±4·RMS(C̃)",
                 fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(IMG / "signal_bits_angle.png", dpi=110)


def _run(overrides, seed=1):
    cfg = load_config(DIGITS).with_overrides({"seed": seed, **overrides})
    tr = run_experiment(cfg)
    s = tr.summary_
    return s["steps_to_target"], s["final_test_accuracy"], s["cost_clipped_fraction"]


def bits(seeds=(1, 2, 3), every=10_000):
    base = {"sim.steps": 1_500_000, "sim.eval_every": every, "sim.stop_at_target": True}
    results = {}
    for b in (0, 2, 3, 4, 5, 6, 7, 8, 10, 12):
        over = dict(base, **({"chip.cost_line.bits": b, "chip.cost_line.range": 0.02} if b else {}))
        runs = [_run(over, s) for s in seeds]
        results[b] = runs
        print(f"bits {b or 'analog'}: steps to 0.90 per seed {[r[0] for r in runs]}, clipped "
              f"fraction {np.mean([r[2] for r in runs]):.4f}", flush=True)
    ref = [r[0] for r in results[0]]
    ok = [b for b in results if b and all(r[0] is not None and r[0] <= t + every
                                          for r, t in zip(results[b], ref))]
    best = min((b for b in ok if all(c in ok for c in results if c and c > b)), default=None)
    print(f"least bits within one tick ({every:,} steps) of the unquantised line for every "
          f"seed (and every larger b): {best}")


SETTINGS = (
    ("ideal (digits.toml)", {}),
    ("cost line: latency 4 steps, unmatched", {"chip.cost_line.latency": 4}),
    ("cost line: latency 4 steps, matched", {"chip.cost_line.latency": 4,
                                             "chip.cost_line.match_delay": True}),
    ("cost line: noise σ = 0.003 (≈ RMS C̃)", {"chip.cost_line.noise_std": 0.003}),
    ("cost line: 4 bits over ±0.02", {"chip.cost_line.bits": 4, "chip.cost_line.range": 0.02}),
    ("cost line: bandwidth τ = 2 steps", {"chip.cost_line.bandwidth_tau": 2.0}),
    ("integrator, τθ = 10: ideal", {"mgd.tau_theta": 10, "mgd.eta": 1.0}),
    ("integrator: leak τ = 10 steps (= τθ)", {"mgd.tau_theta": 10, "mgd.eta": 1.0,
                                             "chip.integrator.tau_leak": 10.0}),
    ("integrator: saturation 0.002", {"mgd.tau_theta": 10, "mgd.eta": 1.0,
                                      "chip.integrator.saturation": 0.002}),
    ("integrator: offset 1e-4 per step", {"mgd.tau_theta": 10, "mgd.eta": 1.0,
                                          "chip.integrator.offset": 1e-4}),
    ("integrator: gain mismatch 0.3", {"mgd.tau_theta": 10, "mgd.eta": 1.0,
                                       "chip.integrator.gain_dtod": 0.3}),
    ("integrator: 8-bit counter, LSB 1e-4", {"mgd.tau_theta": 10, "mgd.eta": 1.0,
                                             "chip.integrator.bits": 8,
                                             "chip.integrator.lsb": 1e-4}),
    ("integrator: reset keeps 0.5", {"mgd.tau_theta": 10, "mgd.eta": 1.0,
                                     "chip.integrator.reset_keep": 0.5}),
    ("source: amplitude mismatch 0.3 (dtod)", {"chip.perturbation.amp_dtod": 0.3}),
    ("source: amplitude mismatch 0.3, measured reference",
     {"chip.perturbation.amp_dtod": 0.3, "chip.perturbation.reference": "measured"}),
    ("source: amplitude noise 0.3 (c2c)", {"chip.perturbation.amp_c2c": 0.3}),
    ("source: code bias P(+) = 0.6", {"chip.perturbation.p_plus": 0.6}),
    ("source: bandwidth τ = 2 steps", {"chip.perturbation.bandwidth_tau": 2.0}),
    ("source: one generator per row", {"chip.perturbation.shared": "row"}),
    ("source: one generator per column", {"chip.perturbation.shared": "column"}),
    ("source: neighbour cross-talk 0.1", {"chip.perturbation.crosstalk": 0.1}),
)


def table(steps=600_000, every=20_000):
    print(f"digits, seed 1, {steps:,} steps, evaluated every {every:,}")
    print("| setting | final test accuracy | steps to 0.90 |")
    print("|---|---|---|")
    for label, over in SETTINGS:
        s2t, acc, _ = _run({"sim.steps": steps, "sim.eval_every": every, **over})
        print(f"| {label} | {acc:.3f} | {s2t if s2t is not None else 'not reached'} |",
              flush=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    t0 = time.time()
    for name, fn in (("angles", angles), ("bits", bits), ("table", table)):
        if what in (name, "all"):
            fn()
    print(f"wall {time.time() - t0:.0f} s")
