"""Slow pure-Python/NumPy references for every kernel (style rule 12).

Written from the equations (mgd.md, the SplitMix64 paper), not from the kernels, so a test
comparing the two checks each against an independent value.
"""

import math

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def hash4(seed, stream, counter, index):
    h = mix64(seed + GOLDEN)
    h = mix64(h ^ ((stream * GOLDEN) & MASK))
    h = mix64(h ^ (counter & MASK))
    return mix64(h + index * GOLDEN)


def cdma_code(seed, k, P):
    """CDMA signs of P parameters at code period k: bit i%64 of hash(seed, 1, k, i//64)."""
    return np.array([1.0 if (hash4(seed, 1, k, i // 64) >> (i % 64)) & 1 else -1.0
                     for i in range(P)])


def walsh_code(k, P, H):
    return np.array([-1.0 if bin((i + 1) & (k % H)).count("1") % 2 else 1.0 for i in range(P)])


def uniform01(bits):
    return (bits >> 11) * (1.0 / 9007199254740992.0)


def fdma_code(seed, k, P, M):
    return np.array([math.sin(2 * math.pi * (((i + 1) * k) % M) / M
                              + 2 * math.pi * uniform01(hash4(seed, 2, 0, i))) for i in range(P)])


def data_order(seed, epoch, n):
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = int(uniform01(hash4(seed, 3, epoch, i)) * (i + 1))
        order[i], order[j] = order[j], order[i]
    return order


ACT = {"sigmoid": lambda s: 1 / (1 + np.exp(-s)), "relu": lambda s: np.maximum(s, 0),
       "tanh": np.tanh, "linear": lambda s: s}


def mlp_cost(theta, x, y, sizes, act="sigmoid", out_act="sigmoid", cost="mse"):
    """Per-sample cost of the MLP with flat parameters ``theta`` (layout of hwsim.chip.network)."""
    a, o = np.asarray(x, float), 0
    L = len(sizes) - 1
    for l in range(L):
        nin, nout = sizes[l], sizes[l + 1]
        W = theta[o:o + nin * nout].reshape(nout, nin)
        b = theta[o + nin * nout:o + nin * nout + nout]
        o += nin * nout + nout
        s = W @ a + b
        kind = out_act if l == L - 1 else act
        if kind == "softmax":
            z = s - s.max()
            logp = z - np.log(np.exp(z).sum())
            return float(-(y * logp).sum()) if cost == "cross_entropy" else float(
                np.mean((np.exp(logp) - y) ** 2))
        a = ACT[kind](s)
    return float(np.mean((a - y) ** 2))


def mgd_reference(cost, theta0, n_samples, n_steps, *, seed=0, code="cdma", mode="discrete",
                  amplitude=0.05, eta=1.0, tau_p=1, tau_x=1, tau_theta=1, tau_hp=10.0, period=0):
    """Straightforward MGD (mgd.md 'One discrete step' and the analog filters).

    ``cost(theta, sample)`` returns the per-sample cost. Returns (theta, G).
    """
    theta = np.array(theta0, float)
    P = theta.size
    A = {"cdma": amplitude / math.sqrt(P), "walsh": amplitude / math.sqrt(P),
         "fdma": math.sqrt(2) * amplitude / math.sqrt(P), "tdma": amplitude}[code]
    G = np.zeros(P)
    c0 = ct = cprev = 0.0
    stale = True
    order, epoch = None, -1
    sample = 0
    for n in range(n_steps):
        new_input = n % tau_x == 0
        if new_input:
            k = n // tau_x
            if k // n_samples != epoch:
                epoch = k // n_samples
                order = data_order(seed, epoch, n_samples)
            sample = order[k % n_samples]
            stale = True
        if n % tau_p == 0:
            k = n // tau_p
            if code == "cdma":
                pert = A * cdma_code(seed, k, P)
            elif code == "walsh":
                pert = A * walsh_code(k, P, period)
            elif code == "fdma":
                pert = A * fdma_code(seed, k, P, period)
            else:
                pert = np.zeros(P)
                pert[k % P] = A
        if mode == "discrete":
            if n % tau_theta == 0 and n > 0:
                if eta != 0:
                    theta = theta - eta * G
                    stale = True
                G = np.zeros(P)
            c = cost(theta + pert, sample)
            if stale:
                c0 = cost(theta, sample)
                stale = False
            G = G + (c - c0) * pert / amplitude**2
        else:
            c = cost(theta + pert, sample)
            if new_input or n == 0:
                cprev = c
            a = tau_hp / (tau_hp + 1)
            ct = a * (ct + c - cprev)
            cprev = c
            g = ct * pert / amplitude**2
            G = (g + tau_theta * G) / (tau_theta + 1)
            theta = theta - eta * G
    return theta, G
