"""Steps per second of the Fashion-MNIST CNN at batch 1000: hwsim against plain NumPy im2col
and PyTorch CPU, same network, same synthetic data, in the same run.

The network is the authors' (examples/fashion_cnn.toml, P = 14,378): conv 3×3 1→16 ReLU,
max-pool 2; conv 3×3 16→32 ReLU, max-pool 2; conv 3×3 32→32 ReLU, max-pool 2; dense 32→10;
softmax cross-entropy. One MGD step (discrete CDMA, τp = τx = τθ = 1, Δ = 0.1, η = 10) on a
batch of 1000 28×28 images is two forward passes over the batch (θ + θ̃ and θ: the weights
change every step, so the baseline is remeasured every step) plus the O(P) code, integrator
and update. Timed:

- hwsim: ``Chip(LayerNet, ...)`` with ``batch = 1000``, ``chip.advance(n)`` (the path of
  ``hwsim run``; compilation excluded), in float64 (the default) and with
  ``sim.dtype = "float32"`` (state and forward passes in float32: sgemm);
- NumPy: the same step written in plain NumPy (im2col by fancy indexing, ``@`` for the
  products, pooling by reshape), :func:`numpy_step`;
- PyTorch CPU (only if ``import torch`` works; never a dependency of hwsim): the two forward
  passes alone (``torch.nn.functional`` conv2d/max_pool2d/linear/cross_entropy under
  ``torch.no_grad``), which is a lower bound on its step time; in float64 (the precision
  hwsim computes in) and in float32.

Each measurement is repeated (default 3 times) and the best is kept. Only ratios measured in
the same run mean anything on a shared machine. Synthetic data (uniform pixels, random
labels) are generated here, so nothing needs to be downloaded.

Usage::

    python benchmarks/bench_cnn.py             # about 3 minutes on 2 cores
    python benchmarks/bench_cnn.py --quick     # 1 repeat, fewer steps
    # PyTorch is timed in-process if importable, else with --torch-python (default
    # /work/torchvenv/bin/python: python -m venv /work/torchvenv && pip install numpy torch)
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

B, N_DATA, SEED = 1000, 2000, 0
LAYERS = [dict(type="conv2d", channels=16, kernel=3), dict(type="maxpool", size=2),
          dict(type="conv2d", channels=32, kernel=3), dict(type="maxpool", size=2),
          dict(type="conv2d", channels=32, kernel=3), dict(type="maxpool", size=2),
          dict(type="flatten"), dict(type="dense", units=10)]
CONVS = [(1, 16), (16, 32), (32, 32)]


def data():
    rng = np.random.default_rng(SEED)
    X = rng.random((N_DATA, 784))
    labels = rng.integers(0, 10, N_DATA)
    return X, np.eye(10)[labels]


def unpack(theta):
    """θ (layout of hwsim.chip.layers) → [(K, b)] * 3 + [(W, b)]."""
    out, o = [], 0
    for ci, co in CONVS:
        n = co * ci * 9
        out.append((theta[o:o + n].reshape(co, ci, 3, 3), theta[o + n:o + n + co]))
        o += n + co
    out.append((theta[o:o + 320].reshape(10, 32), theta[o + 320:o + 330]))
    return out


def np_forward(params, x):
    """Mean softmax cross-entropy logits of x (B, 1, 28, 28) in plain NumPy."""
    a = x
    for (K, b) in params[:3]:
        n, c, h, w = a.shape
        oh, ow = h - 2, w - 2
        i = np.arange(oh)[:, None] + np.arange(3)[None, :]  # (oh, 3)
        j = np.arange(ow)[:, None] + np.arange(3)[None, :]
        cols = a[:, :, i[:, None, :, None], j[None, :, None, :]]  # (n, c, oh, ow, 3, 3)
        cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * 9)
        z = cols @ K.reshape(K.shape[0], -1).T + b  # (n·oh·ow, co)
        a = np.maximum(z, 0).reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)
        ph, pw = oh // 2, ow // 2
        a = a[:, :, :2 * ph, :2 * pw].reshape(n, a.shape[1], ph, 2, pw, 2).max(axis=(3, 5))
    W, b = params[3]
    return a.reshape(len(a), -1) @ W.T + b


def np_cost(logits, Y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-(Y * logp).sum(axis=1).mean())


def numpy_step(theta, G, X, Y, k, rng, amp, eta):
    """One MGD step in NumPy: ±amp code, C(θ + θ̃) and C(θ) on batch k, G, θ update."""
    idx = np.arange(k * B, (k + 1) * B) % len(X)
    x = X[idx].reshape(B, 1, 28, 28)
    code = amp * (2.0 * rng.integers(0, 2, theta.size) - 1.0)
    c = np_cost(np_forward(unpack(theta + code), x), Y[idx])
    c0 = np_cost(np_forward(unpack(theta), x), Y[idx])
    G[:] = (c - c0) * code / (amp * amp * theta.size)
    theta -= eta * G


def time_best(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def make_chip(dtype="float64"):
    """The benchmarked chip: the Fashion CNN at batch B, state and forward passes in dtype."""
    from hwsim.chip.chip import Chip
    from hwsim.chip.layers import build_network
    from hwsim.config import NetworkConfig
    X, Y = data()
    net = build_network(NetworkConfig(layers=LAYERS, activation="relu", cost="cross_entropy"),
                        (28, 28), dtype=dtype)
    return Chip(net, X, Y, net.init_params(SEED, dtype=np.dtype(dtype)), seed=SEED, batch=B,
                amplitude=0.1, eta=10.0, dtype=dtype), net


def bench_hwsim(n, repeats, dtype="float64"):
    chip, net = make_chip(dtype)
    chip.advance(1)  # compile
    return n / time_best(lambda: chip.advance(n), repeats), net.n_params


def bench_numpy(n, repeats):
    X, Y = data()
    rng = np.random.default_rng(1)
    theta = rng.uniform(-0.1, 0.1, 14_378)
    G = np.zeros_like(theta)
    state = {"k": 0}

    def run():
        for _ in range(n):
            numpy_step(theta, G, X, Y, state["k"], rng, 0.1 / np.sqrt(theta.size), 10.0)
            state["k"] += 1
    return n / time_best(run, repeats)


def bench_torch(n, repeats):
    """PyTorch's two forward passes per step in float64 (hwsim's precision) and float32."""
    return [bench_torch_dtype(n, repeats, d) for d in ("float64", "float32")]


def bench_torch_dtype(n, repeats, dtype):
    import torch
    import torch.nn.functional as F
    dt = getattr(torch, dtype)
    X, Y = data()
    rng = np.random.default_rng(1)
    theta = torch.tensor(rng.uniform(-0.1, 0.1, 14_378), dtype=dt)
    Xt = torch.tensor(X, dtype=dt).reshape(-1, 1, 28, 28)
    lt = torch.tensor(Y.argmax(axis=1))

    def fwd(th, x):
        a = x
        for (K, b) in unpack(th):
            if K.ndim == 4:
                a = F.max_pool2d(F.relu(F.conv2d(a, K, b)), 2)
            else:
                a = F.linear(a.flatten(1), K, b)
        return a

    code = 0.1 / np.sqrt(14_378) * torch.ones(14_378, dtype=dt)

    def run():
        with torch.no_grad():
            for k in range(n):
                sl = slice((k * B) % N_DATA, (k * B) % N_DATA + B)
                F.cross_entropy(fwd(theta + code, Xt[sl]), lt[sl])
                F.cross_entropy(fwd(theta, Xt[sl]), lt[sl])
    run()  # warm-up
    return n / time_best(run, repeats), torch.__version__, torch.get_num_threads(), dtype


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-python", default="/work/torchvenv/bin/python",
                    help="a Python with torch, used in a subprocess if torch is not importable")
    ap.add_argument("--torch-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    n, reps = (2, 1) if a.quick else (6, a.repeats)
    if a.torch_only:
        print(json.dumps(bench_torch(n, reps)))
        return
    load0 = os.getloadavg()
    hw, P = bench_hwsim(n, reps)
    hw32, _ = bench_hwsim(n, reps, "float32")
    npy = bench_numpy(max(1, n // 3), reps)
    torch_res = None
    try:
        torch_res = bench_torch(n, reps)
    except ImportError:
        if Path(a.torch_python).exists():
            r = subprocess.run([a.torch_python, __file__, "--torch-only",
                                *(["--quick"] if a.quick else []), "--repeats", str(reps)],
                               capture_output=True, text=True)
            if r.returncode == 0:
                torch_res = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"## Fashion CNN (P = {P:,}), batch {B}, two forward passes per step, "
          f"{datetime.date.today()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, best of {reps}\n")
    print("| implementation | steps/s | hwsim float64 / it | hwsim float32 / it |")
    print("|---|---:|---:|---:|")
    print(f"| hwsim float64 (Chip, batch {B}) | {hw:.2f} | 1.00 | {hw32 / hw:.2f} |")
    print(f"| hwsim float32 (Chip, batch {B}, sim.dtype = float32) | {hw32:.2f} | "
          f"{hw / hw32:.2f} | 1.00 |")
    print(f"| NumPy im2col step, float64 | {npy:.2f} | {hw / npy:.2f} | {hw32 / npy:.2f} |")
    if torch_res is None:
        print("| PyTorch CPU (2 forward passes) | not installed | — | — |")
    else:
        for sps, ver, thr, dtype in torch_res:
            print(f"| PyTorch {ver} CPU {dtype}, {thr} threads (2 forward passes only) | "
                  f"{sps:.2f} | {hw / sps:.2f} | {hw32 / sps:.2f} |")
    print(f"\nload average before / after: {load0} / {os.getloadavg()}")

if __name__ == "__main__":
    main()
