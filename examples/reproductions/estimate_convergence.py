"""Steps for the MGD gradient *estimate* to converge, vs the number of parameters P.

    python examples/reproductions/estimate_convergence.py [--seeds 3] [--out FILE.csv]

For each network of the scaling study (3-bit parity 3-W-1, W = 4..64; digits 64-W-10,
W = 8..128), weight and node perturbation (``mgd.target``), and each seed: θ is frozen at the
run's θ0 (η = 0, τx and τθ huge), one training sample is held (sample 0 of the run's
training set), Δ = 1e-3, CDMA. N is the first step at which the angle between the
integrated estimate ``chip.grad`` and the true gradient of that sample falls below 30°. The
true gradient is ``hwsim.chip.gradient.backprop`` of the same network, checked here against
central finite differences of ``net.evaluate`` on the first network. With node perturbation
``chip.grad`` is the node-implied weight estimate (gᵢ·xⱼ per synapse), compared with the same
∇C. Theory for weight perturbation: the angle after N steps is atan(√((P−1)/N)), so it falls
below 30° at N = 3(P−1).

The chip is built as ``hwsim run`` builds it (``hwsim.learn.build_chip`` on the example
config with the same overrides as the sweeps), then a ``hwsim.chip.Chip`` on the one sample.
Writes one CSV row per (task, W, target, seed); the angle is checked every
max(1, ⌊N/50⌋) steps (2 % resolution in N).
"""

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np

from hwsim.chip.chip import Chip
from hwsim.chip.gradient import backprop
from hwsim.config import load_config
from hwsim.learn import build_chip

ROOT = Path(__file__).resolve().parents[2]
TASKS = {  # name: (base config, overrides, widths, sizes(W))
    "parity3": ("examples/parity4.toml", {"task.bits": 3}, (4, 8, 16, 32, 64),
                lambda w: [3, w, 1]),
    "digits": ("examples/digits.toml", {}, (8, 16, 32, 64, 128), lambda w: [64, w, 10]),
}
ANGLE = 30.0
AMPLITUDE = 1e-3
HOLD = 2**40


def angle_deg(a, b):
    c = float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-300)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def fd_gradient(net, theta, X, Y, lab, h=1e-6):
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (net.evaluate(theta + e, X, Y, lab)[0] - net.evaluate(theta - e, X, Y, lab)[0]) / (2 * h)
    return g


def setup(task, width, seed):
    base, over, _, sizes = TASKS[task]
    cfg = load_config(ROOT / base).with_overrides({**over, "network.sizes": sizes(width),
                                                   "seed": seed})
    chip, net, ds = build_chip(cfg)
    X, Y, lab = ds.X_train[:1], ds.Y_train[:1], ds.labels_train[:1]
    return cfg, net, chip.theta.copy(), X, Y, lab


def steps_below(cfg, net, theta0, X, Y, target, true, limit):
    chip = Chip(net, X, Y, theta0, seed=cfg.seed, perturbation="cdma", mode="discrete",
                amplitude=AMPLITUDE, eta=0.0, tau_p=1, tau_x=HOLD, tau_theta=HOLD,
                dt=cfg.sim.dt, target=target)
    n = 0
    while n < limit:
        k = max(1, n // 50)
        chip.advance(k)
        n += k
        if np.any(chip.grad) and angle_deg(chip.grad, true) < ANGLE:
            return n
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="estimate_convergence.csv")
    args = ap.parse_args()
    t0 = time.perf_counter()
    # backprop against central finite differences of net.evaluate, first network, seed 1
    cfg, net, theta0, X, Y, lab = setup("parity3", 4, 1)
    bp = backprop(net, theta0, X, Y).grad
    fd = fd_gradient(net, theta0, X, Y, lab)
    rel = float(np.max(np.abs(bp - fd)) / np.max(np.abs(fd)))
    print(f"backprop vs finite differences (parity3 3-4-1, sample 0): max rel. diff {rel:.1e}")
    assert rel < 1e-5, rel
    rows = []
    for task, (_, _, widths, _) in TASKS.items():
        for w in widths:
            for seed in range(1, args.seeds + 1):
                cfg, net, theta0, X, Y, lab = setup(task, w, seed)
                true = backprop(net, theta0, X, Y).grad
                P = net.n_params
                M = sum(net.sizes[1:])
                for target in ("weights", "nodes"):
                    N = steps_below(cfg, net, theta0, X, Y, target, true, limit=30 * P)
                    rows.append(dict(task=task, width=w, P=P, M=M, target=target, seed=seed,
                                     steps_to_30deg=N if N is not None else "",
                                     theory_weights=3 * (P - 1)))
                    print(f"{task:8s} W={w:<4d} P={P:<6d} M={M:<4d} {target:8s} seed={seed} "
                          f"N={N}  (3(P-1) = {3 * (P - 1)})", flush=True)
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    print(f"wrote {args.out} ({len(rows)} rows, {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
