"""One pulse on one device, and the weight the network sees (docs/devices.md, "One pulse").

Inlined into the device kernels of :mod:`hwsim.kernels.devices`; scalar helpers over the
device tuple of :mod:`hwsim.kernels.device_layout`.
"""

import math

from hwsim.kernels._config import inline, jit
from hwsim.kernels.device_layout import (
    DRIFT_NONE, DRIFT_PCM, I_COMPLEX_NOISE, I_DRIFT, I_MODEL, I_MULT_NOISE, I_N_STATES,
    I_ONE_SIDED, I_P, I_TABLE_N, M_CONSTANT, M_EXP, M_IDEAL, M_LINEAR, M_LUT, M_PIECEWISE,
    M_POW, M_SOFT, R_B_MAX, R_B_MIN, R_DW_DOWN, R_DW_UP, R_GAMMA_DOWN, R_GAMMA_UP, R_G_MAX,
    R_NU, R_NU_XI, R_REF, S_A_DOWN, S_A_UP, S_DW_MIN, S_DW_STD, S_EXP_A, S_EXP_B,
    S_EXP_GAMMA_DOWN, S_EXP_GAMMA_UP, S_STD_ADD, S_STD_SLOPE, S_T0, S_TIME, S_WRITE_STD,
)
from hwsim.kernels.hashing import (
    hash_sub, normal_from_bits,
)


# ---------------------------------------------------------------------------- one pulse

@inline
def interp_uniform(T, row, n, pos):
    """Linear interpolation of ``T[row, :n]`` at fractional node position ``pos``."""
    if n == 1:
        return T[row, 0]
    if pos <= 0.0:
        return T[row, 0]
    if pos >= n - 1:
        return T[row, n - 1]
    k = int(pos)
    q = pos - k
    return (1.0 - q) * T[row, k] + q * T[row, k + 1]


@inline
def interp_nodes(T, row, n, w):
    """Linear interpolation of ``T[row, :n]`` over the increasing nodes ``T[0, :n]`` at ``w``;
    held constant beyond the first and last node."""
    if w <= T[0, 0]:
        return T[row, 0]
    if w >= T[0, n - 1]:
        return T[row, n - 1]
    lo = 0
    hi = n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if T[0, mid] <= w:
            lo = mid
        else:
            hi = mid
    q = (w - T[0, lo]) / (T[0, hi] - T[0, lo])
    return (1.0 - q) * T[row, lo] + q * T[row, hi]


def step_body(I, D, S, T, c, w, d, xi):
    """Weight after one pulse in direction ``d`` (+1/-1) on device column ``c``, before the
    clip to the bounds; ``xi`` is the pulse's N(0,1) c2c draw (devices.md, "One pulse")."""
    model = I[I_MODEL]
    if model == M_IDEAL:
        return w
    sig = S[S_DW_STD]
    if d > 0:
        dw = D[R_DW_UP, c]
    else:
        dw = D[R_DW_DOWN, c]
    if model == M_CONSTANT:
        return w + d * dw * (1.0 + sig * xi)
    if model == M_LINEAR or model == M_SOFT:
        g = D[R_GAMMA_UP, c] if d > 0 else D[R_GAMMA_DOWN, c]
        f = g * w + 1.0
        if f < 0.0:  # the deterministic step never reverses (aihwkit allow_increasing=False)
            f = 0.0
        if I[I_MULT_NOISE] != 0:
            return w + d * dw * f * (1.0 + sig * xi)
        return w + d * dw * (f + sig * xi)
    b_max = D[R_B_MAX, c]
    b_min = D[R_B_MIN, c]
    span = b_max - b_min
    if model == M_EXP:
        z = S[S_EXP_B]
        if span > 0.0:
            z += 2.0 * S[S_EXP_A] * w / span
        # exponent capped at 700 (exp = 1e304): an overflowing step is clipped to the bound
        # anyway, and 0·inf would make it NaN.
        if d > 0:
            y = 1.0 - S[S_A_UP] * math.exp(min(S[S_EXP_GAMMA_UP] * z, 700.0))
        else:
            y = 1.0 - S[S_A_DOWN] * math.exp(min(-S[S_EXP_GAMMA_DOWN] * z, 700.0))
        if y < 0.0:
            y = 0.0
        step = y * dw
        if I[I_COMPLEX_NOISE] != 0:
            return w + d * step + sig * (abs(step) + S[S_STD_ADD]
                                         + S[S_STD_SLOPE] * abs(w)) * xi
        return w + d * step * (1.0 + sig * xi)
    if model == M_POW:
        om = (b_max - w) / span if span > 0.0 else 0.5
        if om < 0.0:
            om = 0.0
        elif om > 1.0:
            om = 1.0
        if d > 0:
            return w + dw * om ** D[R_GAMMA_UP, c] * (1.0 + sig * xi)
        return w - dw * (1.0 - om) ** D[R_GAMMA_DOWN, c] * (1.0 + sig * xi)
    n = I[I_TABLE_N]
    if model == M_PIECEWISE:
        pos = (w - b_min) / span * (n - 1) if span > 0.0 else 0.0
        m = interp_uniform(T, 0 if d > 0 else 1, n, pos)
        return w + d * dw * m * (1.0 + sig * xi)
    # M_LUT: measured |Δw|(w)/dw_min, scaled by the device's own gain.
    m = interp_nodes(T, 1 if d > 0 else 2, n, w)
    return w + d * dw * m * (1.0 + sig * xi)


# Inlined in the hot loop of apply_update; called (compiled once) everywhere else, which keeps
# compile time down: each inlined copy of the model dispatch costs seconds to compile.
pulse_step = inline(step_body)
pulse_step_call = jit(step_body)


@inline
def quantize_level(I, D, c, w):
    """Nearest of the device's ``n_states`` equally spaced levels over [b_min, b_max]."""
    n = I[I_N_STATES]
    if n < 2:
        return w
    b_min = D[R_B_MIN, c]
    b_max = D[R_B_MAX, c]
    span = b_max - b_min
    if not span > 0.0:
        return b_min
    k = math.floor((w - b_min) / span * (n - 1) + 0.5)
    if k <= 0:
        return b_min
    if k >= n - 1:
        return b_max
    v = b_min + k * (span / (n - 1))
    return b_max if v > b_max else v


@inline
def clip_to(w, lo, hi):
    if w > hi:
        return hi
    if w < lo:
        return lo
    return w


@inline
def verify_tolerance(I, D, S, c):
    """Write-verify tolerance: half a step (or half a level when quantized)."""
    tol = S[S_DW_MIN]
    n = I[I_N_STATES]
    if n >= 2:
        level = (D[R_B_MAX, c] - D[R_B_MIN, c]) / (n - 1)
        if level > tol:
            tol = level
    return 0.5 * tol * (1.0 + 1e-9)


# ---------------------------------------------------------------------------- weights seen

@inline
def weight_bounds(I, D, i):
    """(lo, hi) of weight ``i``: its device's bounds minus its reference, or the pair's
    G+ - G- range."""
    if I[I_ONE_SIDED] != 0:
        j = I[I_P] + i
        return D[R_B_MIN, i] - D[R_B_MAX, j], D[R_B_MAX, i] - D[R_B_MIN, j]
    return D[R_B_MIN, i] - D[R_REF, i], D[R_B_MAX, i] - D[R_REF, i]


@inline
def set_theta(I, D, W, WN, theta, i):
    """theta[i] = stored weight + write-noise offset (− reference), clipped to the weight's
    bounds."""
    if I[I_ONE_SIDED] != 0:
        v = W[i] - W[I[I_P] + i] + WN[i]
    else:
        v = W[i] + WN[i] - D[R_REF, i]
    lo, hi = weight_bounds(I, D, i)
    theta[i] = clip_to(v, lo, hi)


@inline
def draw_write_noise(S, WN, key_wn, counter, i, sub):
    sd = S[S_WRITE_STD]
    if sd > 0.0:
        WN[i] = sd * normal_from_bits(hash_sub(key_wn, counter, i, sub))


@jit
def drift_law(mode, wref, dt, t0, nu, nu_xi, g_max):
    """f(dt) = (dt/t0)^(-ν) for dt > t0, else 1 (the programmed weight is read at t0).
    Power law: ν = nu. PCM: ν mean and spread from the programmed conductance (devices.md),
    ν = mean + spread·nu_xi, at least 0. Scalars only, so calls cost nothing extra."""
    if mode == DRIFT_NONE or not dt > t0:
        return 1.0
    if mode == DRIFT_PCM:
        g = abs(wref) / g_max if g_max > 0.0 else 1.0
        if g < 1e-12:
            g = 1e-12
        lg = math.log(g)
        mu = min(max(-0.0155 * lg + 0.0244, 0.049), 0.1)
        sd = min(max(-0.0125 * lg - 0.0059, 0.008), 0.045)
        nu = mu + sd * nu_xi
        if nu < 0.0:
            nu = 0.0
    return (dt / t0) ** (-nu)


@inline
def drift_factor(I, D, S, c, wref, dt):
    """Drift factor of device column ``c`` after ``dt`` seconds (see :func:`drift_law`)."""
    return drift_law(I[I_DRIFT], wref, dt, S[S_T0], D[R_NU, c], D[R_NU_XI, c], D[R_G_MAX, c])


@inline
def after_write(I, D, S, W, DREF, TPROG, c, w):
    """Store a freshly written value: quantize, reset the drift reference and time stamp."""
    w = quantize_level(I, D, c, w)
    W[c] = w
    DREF[c] = w
    TPROG[c] = S[S_TIME]


@inline
def drift_to_now(I, D, S, W, DREF, TPROG, c):
    """Bring device c's stored value to the current time S[S_TIME] (drift is continuous in
    time; W only holds it as of the last event that touched the device)."""
    if I[I_DRIFT] != DRIFT_NONE:
        f = drift_factor(I, D, S, c, DREF[c], S[S_TIME] - TPROG[c])
        W[c] = clip_to(DREF[c] * f, D[R_B_MIN, c], D[R_B_MAX, c])
