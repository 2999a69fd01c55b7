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
    return np.array([math.sin(2 * math.pi * (((i + 1) * k) % M) / M  # exact ints in Python
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


def batch_indices(seed, k, B, n):
    """Samples of presentation k with minibatches of B: the draws k·B … k·B + B − 1 of the
    sequence of per-epoch permutations (draw d is position d mod n of epoch d // n)."""
    return [data_order(seed, d // n, n)[d % n] for d in range(k * B, k * B + B)]


def mgd_reference(cost, theta0, n_samples, n_steps, *, seed=0, code="cdma", mode="discrete",
                  amplitude=0.05, eta=1.0, tau_p=1, tau_x=1, tau_theta=1, tau_hp=10.0, period=0,
                  batch=1):
    """Straightforward MGD (mgd.md 'One discrete step' and the analog filters).

    ``cost(theta, sample)`` returns the per-sample cost; with ``batch`` > 1 ``sample`` is the
    list of the minibatch's samples (:func:`batch_indices`) and ``cost`` returns their mean.
    Returns (theta, G).
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
            sample = order[k % n_samples] if batch == 1 else batch_indices(seed, k, batch,
                                                                            n_samples)
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


# ---------------------------------------------------------------------------- devices
# References for hwsim.kernels.devices, written from docs/devices.md in plain Python floats.

M2 = 0x94D049BB133111EB
STREAM_C2C, STREAM_WRITE_NOISE, STREAM_READ_NOISE, STREAM_ROUNDING, STREAM_DTOD = 5, 6, 7, 8, 9


def hash_sub(seed, stream, counter, index, sub):
    """hash4 with a fifth coordinate: mix64(hash4(...) + (sub + 1) * M2), masked to 64 bits."""
    return mix64((hash4(seed, stream, counter, index) + (sub + 1) * M2) & MASK)


def normal_from_bits(bits):
    """Box-Muller on the two 32-bit halves of a 64-bit word."""
    u1 = ((bits >> 32) + 0.5) / 4294967296.0
    u2 = (bits & 0xFFFFFFFF) / 4294967296.0
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def dtod_normal(seed, param, c):
    """The N(0,1) draw of dtod parameter ``param`` for device ``c``."""
    return normal_from_bits(hash4(seed, STREAM_DTOD, param, c))


def sample_steps_and_bounds(p, n, seed):
    """Per-device (dw_up, dw_down, b_max, b_min) of devices.md 'Per-device parameters' for a
    two-sided device with enforce_consistency. ``p`` is a dict of PulsedParams fields."""
    out = []
    for c in range(n):
        xg = dtod_normal(seed, 0, c)
        g = math.exp(p["dw_min_dtod"] * xg) if p.get("dw_min_dtod_log_normal") else \
            1 + p["dw_min_dtod"] * xg
        r = p["up_down_dtod"] * dtod_normal(seed, 1, c)
        up = abs(p["dw_min"] * (g + min(p["up_down"], 0) + r))
        down = abs(p["dw_min"] * (g - max(p["up_down"], 0) - r))
        bmax = p["w_max"] * (1 + p["w_max_dtod"] * dtod_normal(seed, 2, c))
        bmin = p["w_min"] * (1 + p["w_min_dtod"] * dtod_normal(seed, 3, c))
        if bmax < bmin:
            bmax, bmin = bmin, bmax
        out.append((up, down, max(bmax, 0.0), min(bmin, 0.0)))
    return out


def device_step(model, w, d, dev, xi=0.0):
    """One pulse of ``model`` (devices.md 'One pulse'), before clipping.

    ``dev``: dict with the device's dw_up, dw_down, b_max, b_min, gamma_up, gamma_down
    (LinearStep/SoftBounds slopes or PowStep exponents) and the model scalars dw_min_std,
    mult_noise, A_up, A_down, exp_gamma_up, exp_gamma_down, a, b, std_add, std_slope, table
    (PiecewiseStep: (up, down) multipliers; MeasuredLUT: (w nodes, up, down) multipliers).
    """
    s = dev.get("dw_min_std", 0.0)
    dw = dev["dw_up"] if d > 0 else dev["dw_down"]
    if model == "ConstantStep":
        return w + d * dw * (1 + s * xi)
    if model in ("LinearStep", "SoftBounds"):
        if model == "SoftBounds":
            gam = -1 / dev["b_max"] if d > 0 else -1 / dev["b_min"]
        else:
            gam = dev["gamma_up"] if d > 0 else dev["gamma_down"]
        f = max(gam * w + 1, 0.0)
        if dev.get("mult_noise", True):
            return w + d * dw * f * (1 + s * xi)
        return w + d * dw * (f + s * xi)
    span = dev["b_max"] - dev["b_min"]
    if model == "ExpStep":
        z = 2 * dev["a"] * w / span + dev["b"]
        y = 1 - dev["A_up"] * math.exp(dev["exp_gamma_up"] * z) if d > 0 else \
            1 - dev["A_down"] * math.exp(-dev["exp_gamma_down"] * z)
        step = max(y, 0.0) * dw
        if dev.get("std_add", 0.0) or dev.get("std_slope", 0.0):
            return w + d * step + s * (abs(step) + dev["std_add"] + dev["std_slope"] * abs(w)) * xi
        return w + d * step * (1 + s * xi)
    if model == "PowStep":
        om = min(max((dev["b_max"] - w) / span, 0.0), 1.0)
        if d > 0:
            return w + dw * om ** dev["gamma_up"] * (1 + s * xi)
        return w - dw * (1 - om) ** dev["gamma_down"] * (1 + s * xi)
    if model == "PiecewiseStep":
        vals = dev["table"][0] if d > 0 else dev["table"][1]
        n = len(vals)
        pos = (w - dev["b_min"]) / span * (n - 1)
        m = float(np.interp(pos, np.arange(n), vals))
        return w + d * dw * m * (1 + s * xi)
    if model == "MeasuredLUT":
        nodes, up, down = dev["table"]
        m = float(np.interp(w, nodes, up if d > 0 else down))
        return w + d * dw * m * (1 + s * xi)
    raise ValueError(model)


def pulse_train(model, dev, w0, n_up, n_down):
    """Noise-free trajectory [w0, after pulse 1, ...] of n_up up then n_down down pulses."""
    w, out = w0, [w0]
    for k in range(n_up + n_down):
        w = min(max(device_step(model, w, 1 if k < n_up else -1, dev), dev["b_min"]),
                dev["b_max"])
        out.append(w)
    return out


def quantize(w, b_min, b_max, n):
    """Nearest of n equally spaced levels from b_min to b_max."""
    k = math.floor((w - b_min) / (b_max - b_min) * (n - 1) + 0.5)
    k = min(max(k, 0), n - 1)
    return b_max if k == n - 1 else b_min + k * ((b_max - b_min) / (n - 1))


def device_update(model, devs, W, WN, grad, eta, counter, seed, *, dw_min, stochastic=True,
                  write_std=0.0, n_states=0, max_pulses=0):
    """One pulsed update of two-sided devices (no decay, drift or stuck devices).

    Returns (theta, W, WN, pulses). Coordinates as documented in hwsim.kernels.devices."""
    W, WN = list(W), list(WN)
    theta, pulses = [], 0
    for i, dev in enumerate(devs):
        delta = -eta * grad[i]
        x = abs(delta) / dw_min
        n = math.floor(x)
        if stochastic:
            if x - n > 0 and uniform01(hash4(seed, STREAM_ROUNDING, counter, i)) < x - n:
                n += 1
        elif x - n >= 0.5:
            n += 1
        if max_pulses and n > max_pulses:
            n = max_pulses
        if delta != 0 and n > 0:
            d = 1 if delta > 0 else -1
            w = W[i]
            for k in range(n):
                xi = normal_from_bits(hash_sub(seed, STREAM_C2C, counter, i, k)) \
                    if dev.get("dw_min_std", 0.0) > 0 else 0.0
                w = min(max(device_step(model, w, d, dev, xi), dev["b_min"]), dev["b_max"])
            if n_states:
                w = quantize(w, dev["b_min"], dev["b_max"], n_states)
            W[i] = w
            pulses += n
            if write_std > 0:
                WN[i] = write_std * normal_from_bits(
                    hash_sub(seed, STREAM_WRITE_NOISE, counter, i, 0))
        theta.append(min(max(W[i] + WN[i], dev["b_min"]), dev["b_max"]))
    return theta, W, WN, pulses


def additive_read(theta, sigma, seed, counter, sub):
    """theta + sigma * xi at read-noise coordinates (counter, i, sub)."""
    return [t + sigma * normal_from_bits(hash_sub(seed, STREAM_READ_NOISE, counter, i, sub))
            for i, t in enumerate(theta)]


def power_drift(w_prog, t, t_prog, t0, nu):
    """w_prog * ((t - t_prog)/t0)^(-nu) after t0, w_prog before."""
    dt = t - t_prog
    return w_prog if dt <= t0 else w_prog * (dt / t0) ** (-nu)


def write_verify(model, dev, c, w, target, max_iterations, seed, counter, dw_min, n_states=0):
    """Write-verify of one two-sided device (hwsim.kernels.devices.program): each cycle reads
    w, stops within half a step (or half a level), else fires max(1, round(|err|/s)) pulses
    toward the target (s: step per pulse seen in the last burst that way, at first the
    device's step; at most twice that burst and 2·range/step + 1); c2c coordinates
    (counter, c, pulse number)."""
    target = min(max(target, dev["b_min"]), dev["b_max"])
    tol = dw_min
    if n_states:
        tol = max(tol, (dev["b_max"] - dev["b_min"]) / (n_states - 1))
    tol = 0.5 * tol * (1 + 1e-9)
    sub = 0
    est = {1: abs(dev["dw_up"]), -1: abs(dev["dw_down"])}  # step per pulse last observed
    most = min(2 * (dev["b_max"] - dev["b_min"]) / min(abs(dev["dw_up"]), abs(dev["dw_down"]))
               + 1, 2**31 - 1)
    last = {1: most, -1: most}  # previous burst each way: the next is at most twice as long
    for _ in range(max_iterations):
        err = target - w
        if not abs(err) > tol:
            break
        d = 1 if err > 0 else -1
        n = max(1, int(min(abs(err) / est[d] + 0.5, most, 2 * last[d])))
        last[d] = n
        w0 = w
        for _k in range(n):
            xi = normal_from_bits(hash_sub(seed, STREAM_C2C, counter, c, sub)) \
                if dev.get("dw_min_std", 0.0) > 0 else 0.0
            w = min(max(device_step(model, w, d, dev, xi), dev["b_min"]), dev["b_max"])
            sub += 1
        if n_states:
            w = quantize(w, dev["b_min"], dev["b_max"], n_states)
        if abs(w - w0) / n > 0:
            est[d] = abs(w - w0) / n
    return w


def pcm_nu(g_rel, xi):
    """PCM drift exponent: mean -0.0155 ln(g/g_max) + 0.0244 clamped to [0.049, 0.1], spread
    -0.0125 ln(g/g_max) - 0.0059 clamped to [0.008, 0.045] (Joshi et al. 2020), at least 0."""
    lg = math.log(max(g_rel, 1e-12))
    mu = min(max(-0.0155 * lg + 0.0244, 0.049), 0.1)
    sd = min(max(-0.0125 * lg - 0.0059, 0.008), 0.045)
    return max(mu + sd * xi, 0.0)


# ------------------------------------------------------------------- layer networks (issue 11)
def conv2d_naive(x, K, b, stride=1, pad=0):
    """Direct nested loops: out[o, y, x] = b[o] + Σ_{c,i,j} K[o, c, i, j]·xp[c, y·s + i, x·s + j]
    for x (C, H, W), K (O, C, kh, kw) and the zero-padded input xp."""
    C, H, W = x.shape
    O, _, kh, kw = K.shape
    xp = np.zeros((C, H + 2 * pad, W + 2 * pad))
    xp[:, pad:pad + H, pad:pad + W] = x
    oh, ow = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    out = np.zeros((O, oh, ow))
    for o in range(O):
        for yy in range(oh):
            for xx in range(ow):
                s = 0.0
                for c in range(C):
                    for i in range(kh):
                        for j in range(kw):
                            s += K[o, c, i, j] * xp[c, yy * stride + i, xx * stride + j]
                out[o, yy, xx] = s + b[o]
    return out


def pool_naive(x, size, stride, kind="max"):
    """Max or mean over size×size windows of x (C, H, W), step ``stride``, direct loops."""
    C, H, W = x.shape
    oh, ow = (H - size) // stride + 1, (W - size) // stride + 1
    out = np.zeros((C, oh, ow))
    for c in range(C):
        for yy in range(oh):
            for xx in range(ow):
                win = [x[c, yy * stride + i, xx * stride + j] for i in range(size)
                       for j in range(size)]
                out[c, yy, xx] = max(win) if kind == "max" else sum(win) / len(win)
    return out


def layer_net_output(theta, x, layers, input_shape, act="relu", out_act="linear", scale=1.0):
    """Output of a layer network (list of dicts as ``[[network.layers]]``) on one sample
    x (flat), θ layout of hwsim.chip.layers; pre-activations scale·(W a + b)."""
    a = np.asarray(x, float).reshape(input_shape if len(input_shape) == 3 else
                                     (1, *input_shape))
    o = 0
    for n, L in enumerate(layers):
        t = L["type"]
        kind = out_act if n == len(layers) - 1 else L.get("activation") or act
        if t == "conv2d":
            oc, k, c = L["channels"], L["kernel"], a.shape[0]
            K = theta[o:o + oc * c * k * k].reshape(oc, c, k, k)
            b = theta[o + oc * c * k * k:o + oc * c * k * k + oc]
            o += oc * c * k * k + oc
            K, b = K * scale, b * scale
            a = conv2d_naive(a, K, b, L.get("stride", 1), L.get("padding", 0))
            a = a if kind in ("linear", "softmax") else ACT[kind](a)
        elif t in ("maxpool", "avgpool"):
            a = pool_naive(a, L["size"], L.get("stride", L["size"]), t[:3])
        elif t == "flatten":
            a = a.reshape(-1)
        else:
            nin, nout = a.size, L["units"]
            W = theta[o:o + nin * nout].reshape(nout, nin)
            b = theta[o + nin * nout:o + nin * nout + nout]
            o += nin * nout + nout
            s = scale * (W @ a.reshape(-1) + b)
            a = s if kind in ("linear", "softmax") else ACT[kind](s)
    return a


def layer_net_cost(theta, x, y, layers, input_shape, act="relu", out_act="linear", cost="mse"):
    """Per-sample cost of :func:`layer_net_output` (MSE, or cross-entropy of softmax logits)."""
    s = layer_net_output(theta, x, layers, input_shape, act, out_act)
    if out_act == "softmax":
        z = s - s.max()
        logp = z - np.log(np.exp(z).sum())
        return float(-(y * logp).sum()) if cost == "cross_entropy" else float(
            np.mean((np.exp(logp) - y) ** 2))
    return float(np.mean((s - y) ** 2))
