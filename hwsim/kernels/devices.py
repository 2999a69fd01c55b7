"""Device physics kernels: pulsed weight updates, reads, drift and programming.

Implements the models of docs/devices.md ("One pulse", write noise, drift, decay, read noise,
finite states, one-sided pairs) on a structure of arrays. Every random value is a pure
function of its coordinates (:mod:`hwsim.kernels.hashing`), so runs reproduce bit for bit for
any thread count and any resume point.

The device tuple
----------------
``dev = (I, D, S, T, stats, W, WN, DREF, TPROG)``; build it with
:class:`hwsim.chip.devices.DeviceArray` (which also documents the sampling):

- ``I`` int64 ``(N_I,)``: integer settings, indices ``I_*``.
- ``D`` float ``(N_ROWS, n_cols)``: per-device parameters drawn at construction (dtod), rows
  ``R_*``. ``n_cols = P`` (one device per weight) or ``2P`` for one-sided pairs: column ``i``
  is G+ of weight ``i`` and column ``P + i`` is its G-.
- ``S`` float ``(N_S,)``: model-wide scalars, indices ``S_*``. ``S[S_TIME]`` is the hardware
  time in seconds; the caller sets it before :func:`apply_update`, :func:`program` and
  :func:`read_weights` (it stamps each write for drift and PCM read noise);
  :func:`apply_drift` sets it too.
- ``T`` float ``(3, L)``: tables. PiecewiseStep: row 0 up multipliers, row 1 down multipliers
  at ``L`` equally spaced nodes over each device's ``[b_min, b_max]``. MeasuredLUT: row 0 the
  weight nodes (increasing), rows 1/2 the up/down step magnitudes divided by ``dw_min``.
- ``stats`` int64 ``(N_STATS,)``: counters, indices ``ST_*`` (int64: exact past 2**31).
- ``W`` float ``(n_cols,)``: the stored (persistent) weight of each device, weight units, as
  of the last event that touched it (a write, a decay step or :func:`apply_drift`). With
  drift on, the device's value at time t is ``clip(DREF * f(t - TPROG))``: a write or decay
  step first brings the device to ``S[S_TIME]``, and :func:`apply_drift` brings all of them.
- ``WN`` float ``(P,)``: write-noise offset of each weight, redrawn at each write; the network
  sees ``theta[i] = clip(W[i] + WN[i] - D[R_REF, i])`` (pairs: ``W[i] - W[P + i] + WN[i]``).
- ``DREF`` float ``(n_cols,)``: drift reference: ``W = DREF * f(t - TPROG)`` (= the programmed
  weight until a decay step re-references it).
- ``TPROG`` float ``(n_cols,)``: hardware time of each device's last write (s).

All float arrays share ``theta``'s dtype (float32 or float64, case D10); arithmetic is done in
float64 and rounded on store.

Random coordinates
------------------
- c2c noise of pulse ``k`` of update ``counter`` on device column ``c``:
  ``normal_from_bits(hash_sub(stream_key(seed, STREAM_C2C), counter, c, k))``. A refresh uses
  sub-coordinates from ``SUB_RESET``; :func:`program` call ``n`` uses counter
  ``PROGRAM_COUNTER + n`` and :func:`init_weights` counter ``INIT_COUNTER``.
- stochastic rounding of weight ``i``: ``uniform01(hash_keyed(key(STREAM_ROUNDING), counter, i))``.
- write noise of weight ``i``: ``hash_sub(key(STREAM_WRITE_NOISE), counter, i, 0)`` (1 for a
  refresh).
- read noise: ``hash_sub(key(STREAM_READ_NOISE), counter, c, sub)``, ``sub = 0`` when frozen
  per step.

References
----------
aihwkit parameter conventions: Rasch et al., "A flexible and fast PyTorch toolkit for
simulating training and inference on analog crossbar arrays", AICAS 2021. Model equations:
docs/devices.md. PCM drift and read noise: Nandakumar et al., Front. Neurosci. 2020; Joshi et
al., Nat. Commun. 11, 2473 (2020).
"""

import math

import numpy as np

from hwsim.kernels._config import inline, jit
from hwsim.kernels.hashing import (
    STREAM_C2C,
    STREAM_DTOD,
    STREAM_READ_NOISE,
    STREAM_ROUNDING,
    STREAM_WRITE_NOISE,
    hash_keyed,
    hash_sub,
    normal_from_bits,
    stream_key,
    uniform01,
)

# Model codes (names in hwsim.chip.devices.REGISTRY). Never renumber: stored in checkpoints.
M_IDEAL, M_CONSTANT, M_LINEAR, M_SOFT, M_EXP, M_POW, M_PIECEWISE, M_LUT = range(8)

# I: int64 settings.
(I_MODEL, I_P, I_NCOLS, I_N_STATES, I_ROUNDING, I_MAX_PULSES, I_ONE_SIDED, I_REFRESH_EVERY,
 I_REFRESH_ITERS, I_SEED, I_MULT_NOISE, I_COMPLEX_NOISE, I_READ_NOISE, I_READ_FROZEN, I_DRIFT,
 I_DECAY, I_TABLE_N) = range(17)
N_I = 17
ROUND_NEAREST, ROUND_STOCHASTIC = 0, 1
READ_NONE, READ_ADDITIVE, READ_PCM = 0, 1, 2
DRIFT_NONE, DRIFT_POWER, DRIFT_PCM = 0, 1, 2

# D: per-device rows (dtod samples). R_GAMMA_*: LinearStep/SoftBounds slopes γ^d_ij, or
# PowStep exponents γ^±_ij. R_NU: power-law drift exponent; R_NU_XI: the device's N(0,1)
# draw scaling the PCM ν spread. R_DECAY: per-update decay factor 1 - 1/lifetime_ij (1 = none).
# R_G_MAX: conductance scale of PCM read noise and drift, max(|b_max|, |b_min|).
# R_REF: the symmetry-point reference subtracted from weight i's device (two-sided devices;
# 0 = none): the network sees W − R_REF (Kim et al. 2019, zero-shifting).
(R_DW_UP, R_DW_DOWN, R_B_MAX, R_B_MIN, R_GAMMA_UP, R_GAMMA_DOWN, R_NU, R_NU_XI, R_RESET,
 R_DECAY, R_STUCK, R_STUCK_VALUE, R_G_MAX, R_REF) = range(14)
N_ROWS = 14
ROW_NAMES = ("dw_up", "dw_down", "b_max", "b_min", "gamma_up", "gamma_down", "nu", "nu_xi",
             "reset", "decay", "stuck", "stuck_value", "g_max", "reference")

# S: model-wide scalars. S_WRITE_STD is absolute (write_noise_std * dw_min).
(S_TIME, S_DW_MIN, S_DW_STD, S_WRITE_STD, S_STD_ADD, S_STD_SLOPE, S_A_UP, S_A_DOWN,
 S_EXP_GAMMA_UP, S_EXP_GAMMA_DOWN, S_EXP_A, S_EXP_B, S_READ_STD, S_READ_SCALE, S_T0, S_T_READ,
 S_RESET_STD) = range(17)
N_S = 17

# stats: int64 counters. ST_PULSES counts training pulses (apply_update); refresh and program
# pulses are counted separately. ST_CLIPPED counts device writes in which a pulse hit a bound.
(ST_PULSES, ST_CLIPPED, ST_REFRESHES, ST_UPDATES, ST_INIT_CLIPPED, ST_PROGRAM_CLIPPED,
 ST_PROGRAMS, ST_CAPPED, ST_NONFINITE, ST_REFRESH_PULSES, ST_PROGRAM_PULSES, ST_PULSES_UP,
 ST_PULSES_DOWN, ST_DEVICE_WRITES, ST_RANGE_CAPPED, ST_REFERENCE_PULSES) = range(16)
N_STATS = 16
STAT_NAMES = ("pulses", "clipped_writes", "refreshes", "updates", "init_clipped",
              "program_clipped", "programs", "capped_updates", "nonfinite_requests",
              "refresh_pulses", "program_pulses", "pulses_up", "pulses_down", "device_writes",
              "range_capped_writes", "reference_pulses")

# Counter ranges outside any update index (updates use counter = update index >= 0).
INIT_COUNTER = (1 << 62) - 1
REFERENCE_COUNTER = (1 << 62) - 2  # the symmetry-point measurement of a reference
PROGRAM_COUNTER = 1 << 62
SUB_RESET = 1 << 48  # sub-coordinates of a refresh: reset draw, then its pulses

_MAX_PULSES_PER_REQUEST = float(1 << 53)  # a larger pulse count is not an exact float


# Helpers that take arrays are inlined into their callers at the Numba IR level: an ordinary
# call would copy the array structs and update their reference counts on every pulse
# (measured 4x slower updates).
_inline = inline


PCM_T_READ = 250e-9  # s, read duration of the PCM 1/f read-noise law (Joshi et al. 2020)


# ---------------------------------------------------------------------------- one pulse

@_inline
def _interp_uniform(T, row, n, pos):
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


@_inline
def _interp_nodes(T, row, n, w):
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


def _step_body(I, D, S, T, c, w, d, xi):
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
        m = _interp_uniform(T, 0 if d > 0 else 1, n, pos)
        return w + d * dw * m * (1.0 + sig * xi)
    # M_LUT: measured |Δw|(w)/dw_min, scaled by the device's own gain.
    m = _interp_nodes(T, 1 if d > 0 else 2, n, w)
    return w + d * dw * m * (1.0 + sig * xi)


# Inlined in the hot loop of apply_update; called (compiled once) everywhere else, which keeps
# compile time down: each inlined copy of the model dispatch costs seconds to compile.
_step = _inline(_step_body)
_step_call = jit(_step_body)


@_inline
def _quantize(I, D, c, w):
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


@_inline
def _clip(w, lo, hi):
    if w > hi:
        return hi
    if w < lo:
        return lo
    return w


@_inline
def _tolerance(I, D, S, c):
    """Write-verify tolerance: half a step (or half a level when quantized)."""
    tol = S[S_DW_MIN]
    n = I[I_N_STATES]
    if n >= 2:
        level = (D[R_B_MAX, c] - D[R_B_MIN, c]) / (n - 1)
        if level > tol:
            tol = level
    return 0.5 * tol * (1.0 + 1e-9)


# ---------------------------------------------------------------------------- weights seen

@_inline
def _weight_bounds(I, D, i):
    """(lo, hi) of weight ``i``: its device's bounds minus its reference, or the pair's
    G+ - G- range."""
    if I[I_ONE_SIDED] != 0:
        j = I[I_P] + i
        return D[R_B_MIN, i] - D[R_B_MAX, j], D[R_B_MAX, i] - D[R_B_MIN, j]
    return D[R_B_MIN, i] - D[R_REF, i], D[R_B_MAX, i] - D[R_REF, i]


@_inline
def _set_theta(I, D, W, WN, theta, i):
    """theta[i] = stored weight + write-noise offset (− reference), clipped to the weight's
    bounds."""
    if I[I_ONE_SIDED] != 0:
        v = W[i] - W[I[I_P] + i] + WN[i]
    else:
        v = W[i] + WN[i] - D[R_REF, i]
    lo, hi = _weight_bounds(I, D, i)
    theta[i] = _clip(v, lo, hi)


@_inline
def _draw_write_noise(S, WN, key_wn, counter, i, sub):
    sd = S[S_WRITE_STD]
    if sd > 0.0:
        WN[i] = sd * normal_from_bits(hash_sub(key_wn, counter, i, sub))


@jit
def _drift_law(mode, wref, dt, t0, nu, nu_xi, g_max):
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


@_inline
def _drift_factor(I, D, S, c, wref, dt):
    """Drift factor of device column ``c`` after ``dt`` seconds (see :func:`_drift_law`)."""
    return _drift_law(I[I_DRIFT], wref, dt, S[S_T0], D[R_NU, c], D[R_NU_XI, c], D[R_G_MAX, c])


@_inline
def _after_write(I, D, S, W, DREF, TPROG, c, w):
    """Store a freshly written value: quantize, reset the drift reference and time stamp."""
    w = _quantize(I, D, c, w)
    W[c] = w
    DREF[c] = w
    TPROG[c] = S[S_TIME]


@_inline
def _drift_to_now(I, D, S, W, DREF, TPROG, c):
    """Bring device c's stored value to the current time S[S_TIME] (drift is continuous in
    time; W only holds it as of the last event that touched the device)."""
    if I[I_DRIFT] != DRIFT_NONE:
        f = _drift_factor(I, D, S, c, DREF[c], S[S_TIME] - TPROG[c])
        W[c] = _clip(DREF[c] * f, D[R_B_MIN, c], D[R_B_MAX, c])


# ---------------------------------------------------------------------------- write-verify

@_inline
def _burst(err, est, rounding, most):
    """Pulses for a write-verify burst: max(1, floor(err/est + rounding)), at most ``most``."""
    x = err / est + rounding if est > 0.0 else 1.0
    n = int(min(x, most))
    return n if n >= 1 else 1


@_inline
def _most_pulses(D, c):
    """Cap of one burst: the nominal pulses to cross the device's range twice (a device whose
    observed step has collapsed near a bound must not be sent billions of pulses)."""
    dw = min(abs(D[R_DW_UP, c]), abs(D[R_DW_DOWN, c]))
    span = D[R_B_MAX, c] - D[R_B_MIN, c]
    if not dw > 0.0:
        return 1.0
    return min(2.0 * span / dw + 1.0, 2147483647.0)


@jit
def _verify(I, D, S, T, W, c, target, key_c2c, counter, sub0, max_iterations):
    """Write-verify one two-sided device toward ``target``; return pulses used.

    Each cycle reads the device, stops within tolerance, else fires
    n = max(1, round(|error| / s)) pulses in the error's direction, where s is the step per
    pulse observed in the previous burst in that direction (at first the device's nominal
    step), and n is at most twice that previous burst: nonlinear devices whose real step is
    far from dw_min still converge, and a noisy observation cannot trigger a runaway burst."""
    tol = _tolerance(I, D, S, c)
    b_max = D[R_B_MAX, c]
    b_min = D[R_B_MIN, c]
    noisy = S[S_DW_STD] > 0.0
    est_up = abs(D[R_DW_UP, c])
    est_down = abs(D[R_DW_DOWN, c])
    most = _most_pulses(D, c)
    n_up = most  # the previous burst in each direction: the next is at most twice as long
    n_down = most
    w = W[c]
    sub = sub0
    pulses = 0
    for _ in range(max_iterations):
        err = target - w
        if not abs(err) > tol:
            break
        d = 1 if err > 0.0 else -1
        if d > 0:
            n = _burst(abs(err), est_up, 0.5, min(most, 2.0 * n_up))
            n_up = n
        else:
            n = _burst(abs(err), est_down, 0.5, min(most, 2.0 * n_down))
            n_down = n
        w0 = w
        for _k in range(n):
            xi = normal_from_bits(hash_sub(key_c2c, counter, c, sub)) if noisy else 0.0
            w = _clip(_step_call(I, D, S, T, c, w, d, xi), b_min, b_max)
            sub += 1
        pulses += n
        w = _quantize(I, D, c, w)
        moved = abs(w - w0) / n
        if moved > 0.0:
            if d > 0:
                est_up = moved
            else:
                est_down = moved
    W[c] = w
    return pulses


@jit
def _pair_program(I, D, S, T, W, i, target, key_c2c, counter, sub0, max_iterations):
    """Reset both devices of pair ``i`` and re-program G+ - G- to ``target`` with
    potentiation pulses only (G+ to raise, G- to lower); return pulses used.

    Bursts of n = max(1, floor(|error| / s)) pulses (undershooting: an overshoot costs the
    other device's range), s the step per pulse last observed on that device; the first
    burst on each device is a single probing pulse and each burst at most doubles."""
    P = I[I_P]
    noisy = S[S_DW_STD] > 0.0
    rstd = S[S_RESET_STD]
    for c in (i, P + i):
        if D[R_STUCK, c] != 0.0:
            continue
        r = D[R_RESET, c]
        if rstd > 0.0:
            r += rstd * normal_from_bits(hash_sub(key_c2c, counter, c, sub0))
        W[c] = _quantize(I, D, c, _clip(r, D[R_B_MIN, c], D[R_B_MAX, c]))
    tol = _tolerance(I, D, S, i)
    est_p = 0.0  # unknown: probe with one pulse (a pair cannot take back an overshoot,
    est_n = 0.0  # and the step after a reset can be far from dw_min, e.g. PCM)
    n_p = 1.0  # previous burst on each device: the next is at most twice as long
    n_n = 1.0
    sub = sub0 + 1
    pulses = 0
    for _ in range(max_iterations):
        err = target - (W[i] - W[P + i])
        if not abs(err) > tol:
            break
        c = i if err > 0.0 else P + i
        if D[R_STUCK, c] != 0.0:
            break
        if c == i:
            n = _burst(abs(err), est_p, 0.0, min(_most_pulses(D, c), 2.0 * n_p))
            n_p = n
        else:
            n = _burst(abs(err), est_n, 0.0, min(_most_pulses(D, c), 2.0 * n_n))
            n_n = n
        w = W[c]
        w0 = w
        b_max = D[R_B_MAX, c]
        b_min = D[R_B_MIN, c]
        for _k in range(n):
            xi = normal_from_bits(hash_sub(key_c2c, counter, c, sub)) if noisy else 0.0
            w = _clip(_step_call(I, D, S, T, c, w, 1, xi), b_min, b_max)
            sub += 1
        pulses += n
        w = _quantize(I, D, c, w)
        W[c] = w
        moved = abs(w - w0) / n
        if moved > 0.0:
            if c == i:
                est_p = moved
            else:
                est_n = moved
    return pulses


@jit
def _decay_all(I, D, S, W, WN, DREF, TPROG, theta):
    """Every device leaks toward its reset value: w ← r + (w − r)·(1 − 1/lifetime)."""
    now = S[S_TIME]
    drifting = I[I_DRIFT] != DRIFT_NONE
    for c in range(I[I_NCOLS]):
        if D[R_STUCK, c] != 0.0:
            continue
        if drifting:
            _drift_to_now(I, D, S, W, DREF, TPROG, c)
        r = D[R_RESET, c]
        w = _clip(r + (W[c] - r) * D[R_DECAY, c], D[R_B_MIN, c], D[R_B_MAX, c])
        W[c] = w
        if drifting:  # re-reference so the drift law continues from the decayed value
            DREF[c] = w / _drift_factor(I, D, S, c, DREF[c], now - TPROG[c])
    for i in range(theta.shape[0]):
        _set_theta(I, D, W, WN, theta, i)


@jit
def _refresh_all(I, D, S, T, stats, W, WN, DREF, TPROG, theta, counter):
    """Reset both devices of every pair and re-program their difference (write-verify)."""
    P = I[I_P]
    key_c2c = stream_key(I[I_SEED], STREAM_C2C)
    key_wn = stream_key(I[I_SEED], STREAM_WRITE_NOISE)
    iters = I[I_REFRESH_ITERS]
    for i in range(P):
        for c in (i, P + i):
            if D[R_STUCK, c] == 0.0:
                _drift_to_now(I, D, S, W, DREF, TPROG, c)
        target = W[i] - W[P + i]
        stats[ST_REFRESH_PULSES] += _pair_program(I, D, S, T, W, i, target, key_c2c,
                                                  counter, SUB_RESET, iters)
        for c in (i, P + i):
            if D[R_STUCK, c] == 0.0:
                _after_write(I, D, S, W, DREF, TPROG, c, W[c])
        _draw_write_noise(S, WN, key_wn, counter, i, 1)
        _set_theta(I, D, W, WN, theta, i)
    stats[ST_REFRESHES] += 1


# ---------------------------------------------------------------------------- public kernels

@jit
def apply_update(dev, theta, req, counter):
    """Deliver ``req`` (P,) as pulses: :func:`apply_pulses` without recording what was sent."""
    apply_pulses(dev, theta, req, counter, req, False)


@jit
def apply_pulses(dev, theta, req, counter, written, record):
    """Deliver the requested change ``req[i]`` (the optimizer's update request Δθ) to every
    device as write pulses.

    Per weight i: n = |Δ_i|/dw_min rounded (nearest, or floor + Bernoulli(frac) from
    STREAM_ROUNDING) and capped at max_pulses (0 = no cap); each pulse applies the model's
    step with fresh c2c noise and clips to the device's own bounds; the result is quantized
    (finite states), time-stamped with S[S_TIME], and its write noise redrawn. One-sided pairs
    potentiate G+ for Δ > 0 and G- for Δ < 0. Stuck devices are skipped. Then every device
    decays toward its reset value (lifetime), and every ``refresh_every`` updates all pairs
    are refreshed. ``theta`` (P,) is updated in place; ``counter`` is the update index.

    With ``record`` true, ``written`` (P,) float64 receives the nominal change each weight
    was sent, d·n·dw_min for n pulses in direction d (0 when no pulse was sent; the request
    itself on an Ideal device): what a controller that counts its pulses believes it wrote
    (the threshold-write residue of :mod:`hwsim.kernels.optimizer`). ``written`` is not
    touched otherwise.
    """
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    P = theta.shape[0]
    model = I[I_MODEL]
    if model == M_IDEAL:
        for i in range(P):
            theta[i] += req[i]
            if record:
                written[i] = req[i]
        stats[ST_UPDATES] += 1
        return
    if record:
        for i in range(P):
            written[i] = 0.0
    seed = I[I_SEED]
    key_c2c = stream_key(seed, STREAM_C2C)
    key_rnd = stream_key(seed, STREAM_ROUNDING)
    key_wn = stream_key(seed, STREAM_WRITE_NOISE)
    # Switches hoisted out of the loop: each optional effect costs nothing when it is off.
    dw_min = S[S_DW_MIN]
    sig = S[S_DW_STD]
    noisy = sig > 0.0
    wn_std = S[S_WRITE_STD]
    now = S[S_TIME]
    stochastic = I[I_ROUNDING] == ROUND_STOCHASTIC
    cap = I[I_MAX_PULSES]
    one_sided = I[I_ONE_SIDED] != 0
    drifting = I[I_DRIFT] != DRIFT_NONE
    quantized = I[I_N_STATES] >= 2
    constant = model == M_CONSTANT
    pulses = 0
    clipped = 0
    capped = 0
    nonfinite = 0
    up = 0
    writes = 0
    range_capped = 0
    for i in range(P):
        delta = req[i]
        if delta == 0.0:
            continue
        if not math.isfinite(delta):
            nonfinite += 1
            continue
        x = abs(delta) / dw_min
        if x > _MAX_PULSES_PER_REQUEST:
            x = _MAX_PULSES_PER_REQUEST
        n = int(x)
        frac = x - n
        if stochastic:
            if frac > 0.0 and uniform01(hash_keyed(key_rnd, counter, i)) < frac:
                n += 1
        elif frac >= 0.5:
            n += 1
        if cap > 0 and n > cap:
            n = cap
            capped += 1
        if n == 0:
            continue
        if n > 64:
            # No write needs more pulses than cross the device's range twice: beyond that
            # it sits at its bound, so a huge request (G ~ noise/Δ²) cannot hang the kernel.
            most = int(_most_pulses(D, i if not one_sided else (i if delta > 0.0 else P + i)))
            if n > most:
                n = most
                range_capped += 1
        d = 1 if delta > 0.0 else -1
        if record:
            written[i] = d * (n * dw_min)
        c = i
        if one_sided:
            if d < 0:
                c = P + i
            d = 1
        if D[R_STUCK, c] != 0.0:
            continue
        b_max = D[R_B_MAX, c]
        b_min = D[R_B_MIN, c]
        if drifting:
            _drift_to_now(I, D, S, W, DREF, TPROG, c)
        w = W[c]
        hit = False
        if constant:  # the common case, written out: w += d·Δw^d·(1 + σξ)
            step = d * (D[R_DW_UP, c] if d > 0 else D[R_DW_DOWN, c])
            for k in range(n):
                if noisy:
                    w += step * (1.0 + sig * normal_from_bits(hash_sub(key_c2c, counter, c, k)))
                else:
                    w += step
                if w > b_max:
                    w = b_max
                    hit = True
                elif w < b_min:
                    w = b_min
                    hit = True
        else:
            for k in range(n):
                xi = normal_from_bits(hash_sub(key_c2c, counter, c, k)) if noisy else 0.0
                w = _step(I, D, S, T, c, w, d, xi)
                if w > b_max:
                    w = b_max
                    hit = True
                elif w < b_min:
                    w = b_min
                    hit = True
        pulses += n
        writes += 1
        if delta > 0.0:
            up += n
        if hit:
            clipped += 1
        if quantized:
            w = _quantize(I, D, c, w)
        W[c] = w
        DREF[c] = w
        TPROG[c] = now
        if wn_std > 0.0:
            WN[i] = wn_std * normal_from_bits(hash_sub(key_wn, counter, i, 0))
        if one_sided:
            _set_theta(I, D, W, WN, theta, i)
        else:
            ref = D[R_REF, c]
            v = w + WN[i] - ref
            hi = b_max - ref
            lo = b_min - ref
            theta[i] = hi if v > hi else (lo if v < lo else v)
    stats[ST_PULSES] += pulses
    stats[ST_PULSES_UP] += up
    stats[ST_PULSES_DOWN] += pulses - up
    stats[ST_DEVICE_WRITES] += writes
    stats[ST_RANGE_CAPPED] += range_capped
    stats[ST_CLIPPED] += clipped
    stats[ST_CAPPED] += capped
    stats[ST_NONFINITE] += nonfinite
    stats[ST_UPDATES] += 1
    if I[I_DECAY] != 0:
        _decay_all(I, D, S, W, WN, DREF, TPROG, theta)
    every = I[I_REFRESH_EVERY]
    if one_sided and every > 0 and stats[ST_UPDATES] % every == 0:
        _refresh_all(I, D, S, T, stats, W, WN, DREF, TPROG, theta, counter)


@_inline
def _pcm_sigma(I, D, S, W, TPROG, c):
    """Absolute PCM read-noise std of device column ``c`` (1/f: relative σ grows as the
    conductance falls): |g|·min(0.0088/(g/g_max)^0.65, 0.2)·sqrt(ln((t + t_read)/(2 t_read))),
    with t = (time since programming) + t0."""
    g = abs(W[c])
    gmax = D[R_G_MAX, c]
    if not g > 0.0 or not gmax > 0.0:
        return 0.0
    q = min(0.0088 / (g / gmax) ** 0.65, 0.2)
    t = S[S_TIME] - TPROG[c]
    if t < 0.0:
        t = 0.0
    t += S[S_T0]
    t_read = S[S_T_READ]
    arg = (t + t_read) / (2.0 * t_read)
    if arg <= 1.0:
        return 0.0
    return g * q * math.sqrt(math.log(arg)) * S[S_READ_SCALE]


@jit
def read_weights(dev, theta, out, counter, sub):
    """out = theta as read through the array: with read noise (additive σ·ξ, or PCM-like)
    at STREAM_READ_NOISE coordinates (counter, device, sub); ``sub`` is ignored when the
    noise is frozen per step (the same draw for both reads of a step, case D12)."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    P = theta.shape[0]
    mode = I[I_READ_NOISE]
    if mode == READ_NONE or I[I_MODEL] == M_IDEAL:
        for i in range(P):
            out[i] = theta[i]
        return
    key = stream_key(I[I_SEED], STREAM_READ_NOISE)
    s = 0 if I[I_READ_FROZEN] != 0 else sub
    if mode == READ_ADDITIVE:
        sd = S[S_READ_STD]
        for i in range(P):
            out[i] = theta[i] + sd * normal_from_bits(hash_sub(key, counter, i, s))
        return
    if I[I_ONE_SIDED] != 0:
        for i in range(P):
            j = P + i
            out[i] = (theta[i]
                      + _pcm_sigma(I, D, S, W, TPROG, i)
                      * normal_from_bits(hash_sub(key, counter, i, s))
                      - _pcm_sigma(I, D, S, W, TPROG, j)
                      * normal_from_bits(hash_sub(key, counter, j, s)))
        return
    for i in range(P):
        out[i] = theta[i] + _pcm_sigma(I, D, S, W, TPROG, i) * normal_from_bits(
            hash_sub(key, counter, i, s))


@jit
def apply_drift(dev, theta, t_s):
    """Set the hardware time to ``t_s`` (S[S_TIME]) and drift every device to it.

    W = clip(DREF·f(t_s − TPROG)) with f = ((t − t_prog)/t0)^(−ν) once t − t_prog > t0 and 1
    before (power law, per-device ν; or the PCM ν(g) of devices.md). Idempotent for a given
    t_s: it recomputes from the reference, so calling it at many times never compounds.
    No-op when drift is off."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    S[S_TIME] = t_s
    if I[I_DRIFT] == DRIFT_NONE or I[I_MODEL] == M_IDEAL:
        return
    for c in range(I[I_NCOLS]):
        if D[R_STUCK, c] != 0.0:
            continue
        f = _drift_factor(I, D, S, c, DREF[c], t_s - TPROG[c])
        W[c] = _clip(DREF[c] * f, D[R_B_MIN, c], D[R_B_MAX, c])
    for i in range(theta.shape[0]):
        _set_theta(I, D, W, WN, theta, i)


@jit
def init_weights(dev, requested, theta):
    """Set the weights to ``requested`` (P,), each clipped to its own device's bounds (pairs:
    G+ - G- from both reset values); write noise drawn at INIT_COUNTER. Returns the number of
    clipped requests (also added to stats[ST_INIT_CLIPPED], case D1)."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    P = theta.shape[0]
    if I[I_MODEL] == M_IDEAL:
        for i in range(P):
            theta[i] = requested[i]
        return 0
    key_wn = stream_key(I[I_SEED], STREAM_WRITE_NOISE)
    nclip = 0
    one_sided = I[I_ONE_SIDED] != 0
    for c in range(I[I_NCOLS]):
        if D[R_STUCK, c] != 0.0:
            W[c] = D[R_STUCK_VALUE, c]
            DREF[c] = W[c]
    for i in range(P):
        v = requested[i]
        lo, hi = _weight_bounds(I, D, i)
        if v > hi or v < lo or v != v:
            nclip += 1
            v = hi if v > hi else lo if v < lo else 0.5 * (lo + hi)
            v = _clip(v, lo, hi)
        if one_sided:
            cp = i
            cn = P + i
            if D[R_STUCK, cp] != 0.0 or D[R_STUCK, cn] != 0.0:
                gp = D[R_STUCK_VALUE, cp] if D[R_STUCK, cp] != 0.0 else D[R_RESET, cp]
                gn = D[R_STUCK_VALUE, cn] if D[R_STUCK, cn] != 0.0 else D[R_RESET, cn]
                if D[R_STUCK, cp] == 0.0:
                    gp = gn + v
                elif D[R_STUCK, cn] == 0.0:
                    gn = gp - v
            else:
                rp = D[R_RESET, cp]
                rn = D[R_RESET, cn]
                base = rp - rn
                gp = rp + max(v - base, 0.0)
                gn = rn + max(base - v, 0.0)
                if gp > D[R_B_MAX, cp]:
                    s = gp - D[R_B_MAX, cp]
                    gp -= s
                    gn -= s
                if gn > D[R_B_MAX, cn]:
                    s = gn - D[R_B_MAX, cn]
                    gp -= s
                    gn -= s
            if D[R_STUCK, cp] == 0.0:
                _after_write(I, D, S, W, DREF, TPROG, cp,
                             _clip(gp, D[R_B_MIN, cp], D[R_B_MAX, cp]))
            if D[R_STUCK, cn] == 0.0:
                _after_write(I, D, S, W, DREF, TPROG, cn,
                             _clip(gn, D[R_B_MIN, cn], D[R_B_MAX, cn]))
        elif D[R_STUCK, i] == 0.0:
            _after_write(I, D, S, W, DREF, TPROG, i, v + D[R_REF, i])
        _draw_write_noise(S, WN, key_wn, INIT_COUNTER, i, 0)
        _set_theta(I, D, W, WN, theta, i)
    stats[ST_INIT_CLIPPED] += nclip
    return nclip


@jit
def program(dev, targets, theta, max_iterations):
    """Write-verify every weight toward ``targets`` (P,) with at most ``max_iterations``
    verify cycles each; targets beyond a weight's bounds are clipped to them first (NaN
    targets leave the device as it is). Returns the number of clipped targets (also added to
    stats[ST_PROGRAM_CLIPPED], case D11). Always terminates."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    P = theta.shape[0]
    if I[I_MODEL] == M_IDEAL:
        for i in range(P):
            theta[i] = targets[i]
        stats[ST_PROGRAMS] += 1
        return 0
    seed = I[I_SEED]
    key_c2c = stream_key(seed, STREAM_C2C)
    key_wn = stream_key(seed, STREAM_WRITE_NOISE)
    counter = PROGRAM_COUNTER + stats[ST_PROGRAMS]
    stats[ST_PROGRAMS] += 1
    one_sided = I[I_ONE_SIDED] != 0
    nclip = 0
    for i in range(P):
        t = targets[i]
        if t != t:
            nclip += 1
            continue
        lo, hi = _weight_bounds(I, D, i)
        if t > hi:
            t = hi
            nclip += 1
        elif t < lo:
            t = lo
            nclip += 1
        if one_sided:
            stats[ST_PROGRAM_PULSES] += _pair_program(I, D, S, T, W, i, t, key_c2c, counter,
                                                      SUB_RESET, max_iterations)
            for c in (i, P + i):
                if D[R_STUCK, c] == 0.0:
                    _after_write(I, D, S, W, DREF, TPROG, c, W[c])
        elif D[R_STUCK, i] == 0.0:
            _drift_to_now(I, D, S, W, DREF, TPROG, i)
            stats[ST_PROGRAM_PULSES] += _verify(I, D, S, T, W, i, t + D[R_REF, i], key_c2c,
                                                counter, 0, max_iterations)
            _after_write(I, D, S, W, DREF, TPROG, i, W[i])
        _draw_write_noise(S, WN, key_wn, counter, i, 0)
        _set_theta(I, D, W, WN, theta, i)
    stats[ST_PROGRAM_CLIPPED] += nclip
    return nclip


@jit
def pulse_response(dev, n, counter, out):
    """Drive every weight ``n`` pulses up then ``n`` down from the stored state, on a copy
    (``dev`` is not changed); out (2n+1, P) receives the stored weights (no write noise)
    before the first pulse and after each pulse. Pulse k uses c2c coordinates
    (counter, device, k); pairs potentiate G+ going up and G- going down. Returns ``out``."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    P = out.shape[1]
    w = W.copy()
    one_sided = I[I_ONE_SIDED] != 0
    key_c2c = stream_key(I[I_SEED], STREAM_C2C)
    noisy = S[S_DW_STD] > 0.0
    ideal = I[I_MODEL] == M_IDEAL
    for k in range(2 * n + 1):
        if k > 0 and not ideal:
            d = 1 if k <= n else -1
            for i in range(P):
                c = i
                dd = d
                if one_sided:
                    if d < 0:
                        c = P + i
                    dd = 1
                if D[R_STUCK, c] != 0.0:
                    continue
                xi = normal_from_bits(hash_sub(key_c2c, counter, c, k - 1)) if noisy else 0.0
                v = _clip(_step_call(I, D, S, T, c, w[c], dd, xi), D[R_B_MIN, c], D[R_B_MAX, c])
                w[c] = _quantize(I, D, c, v)
        for i in range(P):
            out[k, i] = w[i] - w[P + i] if one_sided else w[i]
    return out


@jit
def symmetry_point(dev, n_cycles, counter, out):
    """Measure every device's symmetry point by alternating pulses, on a copy (``dev`` is
    not changed): from the stored weight fire n_cycles (up, down) pulse pairs with c2c noise
    at coordinates (counter, device, pulse) and write the mean weight over the second half
    of the pulses into ``out`` (n_cols,). Where |Δw⁺(w)| = |Δw⁻(w)| a pair leaves w where it
    is, so the train settles there (Gokmen & Haensch 2020; Kim et al. 2021, "Zero-shifting
    technique"). One-sided pairs only potentiate, so they have none: out = W there.
    Returns ``out``."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    ncols = I[I_NCOLS]
    key_c2c = stream_key(I[I_SEED], STREAM_C2C)
    noisy = S[S_DW_STD] > 0.0
    half = n_cycles  # pulses 2·n_cycles in all; average over the last n_cycles of them
    for c in range(ncols):
        w = W[c]
        if I[I_MODEL] == M_IDEAL or I[I_ONE_SIDED] != 0 or D[R_STUCK, c] != 0.0:
            out[c] = w
            continue
        acc = 0.0
        for k in range(2 * n_cycles):
            d = 1 if k % 2 == 0 else -1
            xi = normal_from_bits(hash_sub(key_c2c, counter, c, k)) if noisy else 0.0
            w = _clip(_step_call(I, D, S, T, c, w, d, xi), D[R_B_MIN, c], D[R_B_MAX, c])
            if k >= 2 * n_cycles - half:
                acc += w
        out[c] = acc / half if half > 0 else w
    return out


@jit
def dtod_normals(seed, param, out):
    """out[c] = N(0,1) draw of dtod parameter ``param`` for device column c (STREAM_DTOD)."""
    key = stream_key(seed, STREAM_DTOD)
    for c in range(out.shape[0]):
        out[c] = normal_from_bits(hash_keyed(key, param, c))
    return out


@jit
def dtod_uniforms(seed, param, out):
    """out[c] = U[0,1) draw of dtod parameter ``param`` for device column c (STREAM_DTOD)."""
    key = stream_key(seed, STREAM_DTOD)
    for c in range(out.shape[0]):
        out[c] = uniform01(hash_keyed(key, param, c))
    return out


def empty_dev(n_weights, n_cols, table_len, dtype):
    """Allocate a zeroed device tuple (Python helper for the wrapper; not a kernel)."""
    dtype = np.dtype(dtype)
    return (np.zeros(N_I, np.int64), np.zeros((N_ROWS, n_cols), dtype), np.zeros(N_S, dtype),
            np.zeros((3, max(table_len, 1)), dtype), np.zeros(N_STATS, np.int64),
            np.zeros(n_cols, dtype), np.zeros(n_weights, dtype), np.zeros(n_cols, dtype),
            np.zeros(n_cols, dtype))
