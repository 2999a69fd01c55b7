"""A plain NumPy implementation of discrete CDMA MGD: the baseline hwsim is measured against.

One sample per step, tau_p = tau_x = tau_theta = 1, so every step draws a fresh code, runs
two forward passes (perturbed and baseline), accumulates G and applies the update: exactly
what a researcher would write in an afternoon. Sigmoid MLP, MSE cost.
"""

import numpy as np


def _forward(Ws, bs, x):
    a = x
    for W, b in zip(Ws, bs):
        a = 1.0 / (1.0 + np.exp(-(W @ a + b)))
    return a


def numpy_mgd(sizes, X, Y, n_steps, *, amplitude=0.05, eta=1.0, seed=0, theta0=None):
    """Run ``n_steps`` of discrete CDMA MGD; returns the final flat parameter vector.

    Parameters are one flat vector laid out like hwsim's (per layer: W row-major, then b).
    ``theta0`` (optional) is the starting vector; by default weights ~ U(-0.1, 0.1), biases 0.
    """
    rng = np.random.default_rng(seed)
    shapes = [(sizes[l + 1], sizes[l]) for l in range(len(sizes) - 1)]
    if theta0 is None:
        theta = np.concatenate([np.concatenate([rng.uniform(-0.1, 0.1, s).ravel(), np.zeros(s[0])])
                                for s in shapes])
    else:
        theta = np.array(theta0, dtype=np.float64)
    P = theta.size
    A = amplitude / np.sqrt(P)
    G = np.zeros(P)

    def unpack(t):
        Ws, bs, o = [], [], 0
        for (r, c) in shapes:
            Ws.append(t[o:o + r * c].reshape(r, c))
            o += r * c
            bs.append(t[o:o + r])
            o += r
        return Ws, bs

    N = len(X)
    for n in range(n_steps):
        theta -= eta * G
        G[:] = 0.0
        i = n % N
        pert = A * (2.0 * rng.integers(0, 2, P) - 1.0)
        c = np.mean((_forward(*unpack(theta + pert), X[i]) - Y[i]) ** 2)
        c0 = np.mean((_forward(*unpack(theta), X[i]) - Y[i]) ** 2)
        G += (c - c0) * pert / amplitude**2
    return theta
