"""Programming kernels: write-verify bursts, pair refresh, decay, init and targeted programming.

On the device tuple of :mod:`hwsim.kernels.device_layout`, with the pulse of
:mod:`hwsim.kernels.device_pulse` (docs/devices.md: write-verify, refresh, lifetime).
"""


from hwsim.kernels._config import inline, jit
from hwsim.kernels.device_layout import (
    DRIFT_NONE, INIT_COUNTER, I_DRIFT, I_MODEL, I_NCOLS, I_ONE_SIDED, I_P, I_REFRESH_ITERS,
    I_SEED, M_IDEAL, PROGRAM_COUNTER, R_B_MAX, R_B_MIN, R_DECAY, R_DW_DOWN, R_DW_UP, R_REF,
    R_RESET, R_STUCK, R_STUCK_VALUE, ST_INIT_CLIPPED, ST_PROGRAMS, ST_PROGRAM_CLIPPED,
    ST_PROGRAM_PULSES, ST_REFRESHES, ST_REFRESH_PULSES, SUB_RESET, S_DW_STD, S_RESET_STD,
    S_TIME,
)
from hwsim.kernels.device_pulse import (
    after_write, clip_to, draw_write_noise, drift_factor, drift_to_now, pulse_step_call,
    quantize_level, set_theta, verify_tolerance, weight_bounds,
)
from hwsim.kernels.hashing import (
    STREAM_C2C, STREAM_WRITE_NOISE, hash_sub, normal_from_bits, stream_key,
)


# ---------------------------------------------------------------------------- write-verify

@inline
def _burst(err, est, rounding, most):
    """Pulses for a write-verify burst: max(1, floor(err/est + rounding)), at most ``most``."""
    x = err / est + rounding if est > 0.0 else 1.0
    n = int(min(x, most))
    return n if n >= 1 else 1


@inline
def most_pulses(D, c):
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
    tol = verify_tolerance(I, D, S, c)
    b_max = D[R_B_MAX, c]
    b_min = D[R_B_MIN, c]
    noisy = S[S_DW_STD] > 0.0
    est_up = abs(D[R_DW_UP, c])
    est_down = abs(D[R_DW_DOWN, c])
    most = most_pulses(D, c)
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
            w = clip_to(pulse_step_call(I, D, S, T, c, w, d, xi), b_min, b_max)
            sub += 1
        pulses += n
        w = quantize_level(I, D, c, w)
        moved = abs(w - w0) / n
        if moved > 0.0:
            if d > 0:
                est_up = moved
            else:
                est_down = moved
    W[c] = w
    return pulses


@jit
def pair_program(I, D, S, T, W, i, target, key_c2c, counter, sub0, max_iterations):
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
        W[c] = quantize_level(I, D, c, clip_to(r, D[R_B_MIN, c], D[R_B_MAX, c]))
    tol = verify_tolerance(I, D, S, i)
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
            n = _burst(abs(err), est_p, 0.0, min(most_pulses(D, c), 2.0 * n_p))
            n_p = n
        else:
            n = _burst(abs(err), est_n, 0.0, min(most_pulses(D, c), 2.0 * n_n))
            n_n = n
        w = W[c]
        w0 = w
        b_max = D[R_B_MAX, c]
        b_min = D[R_B_MIN, c]
        for _k in range(n):
            xi = normal_from_bits(hash_sub(key_c2c, counter, c, sub)) if noisy else 0.0
            w = clip_to(pulse_step_call(I, D, S, T, c, w, 1, xi), b_min, b_max)
            sub += 1
        pulses += n
        w = quantize_level(I, D, c, w)
        W[c] = w
        moved = abs(w - w0) / n
        if moved > 0.0:
            if c == i:
                est_p = moved
            else:
                est_n = moved
    return pulses


@jit
def decay_all(I, D, S, W, WN, DREF, TPROG, theta):
    """Every device leaks toward its reset value: w ← r + (w − r)·(1 − 1/lifetime)."""
    now = S[S_TIME]
    drifting = I[I_DRIFT] != DRIFT_NONE
    for c in range(I[I_NCOLS]):
        if D[R_STUCK, c] != 0.0:
            continue
        if drifting:
            drift_to_now(I, D, S, W, DREF, TPROG, c)
        r = D[R_RESET, c]
        w = clip_to(r + (W[c] - r) * D[R_DECAY, c], D[R_B_MIN, c], D[R_B_MAX, c])
        W[c] = w
        if drifting:  # re-reference so the drift law continues from the decayed value
            DREF[c] = w / drift_factor(I, D, S, c, DREF[c], now - TPROG[c])
    for i in range(theta.shape[0]):
        set_theta(I, D, W, WN, theta, i)


@jit
def refresh_all(I, D, S, T, stats, W, WN, DREF, TPROG, theta, counter):
    """Reset both devices of every pair and re-program their difference (write-verify)."""
    P = I[I_P]
    key_c2c = stream_key(I[I_SEED], STREAM_C2C)
    key_wn = stream_key(I[I_SEED], STREAM_WRITE_NOISE)
    iters = I[I_REFRESH_ITERS]
    for i in range(P):
        for c in (i, P + i):
            if D[R_STUCK, c] == 0.0:
                drift_to_now(I, D, S, W, DREF, TPROG, c)
        target = W[i] - W[P + i]
        stats[ST_REFRESH_PULSES] += pair_program(I, D, S, T, W, i, target, key_c2c,
                                                  counter, SUB_RESET, iters)
        for c in (i, P + i):
            if D[R_STUCK, c] == 0.0:
                after_write(I, D, S, W, DREF, TPROG, c, W[c])
        draw_write_noise(S, WN, key_wn, counter, i, 1)
        set_theta(I, D, W, WN, theta, i)
    stats[ST_REFRESHES] += 1


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
        lo, hi = weight_bounds(I, D, i)
        if v > hi or v < lo or v != v:
            nclip += 1
            v = hi if v > hi else lo if v < lo else 0.5 * (lo + hi)
            v = clip_to(v, lo, hi)
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
                after_write(I, D, S, W, DREF, TPROG, cp,
                             clip_to(gp, D[R_B_MIN, cp], D[R_B_MAX, cp]))
            if D[R_STUCK, cn] == 0.0:
                after_write(I, D, S, W, DREF, TPROG, cn,
                             clip_to(gn, D[R_B_MIN, cn], D[R_B_MAX, cn]))
        elif D[R_STUCK, i] == 0.0:
            after_write(I, D, S, W, DREF, TPROG, i, v + D[R_REF, i])
        draw_write_noise(S, WN, key_wn, INIT_COUNTER, i, 0)
        set_theta(I, D, W, WN, theta, i)
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
        lo, hi = weight_bounds(I, D, i)
        if t > hi:
            t = hi
            nclip += 1
        elif t < lo:
            t = lo
            nclip += 1
        if one_sided:
            stats[ST_PROGRAM_PULSES] += pair_program(I, D, S, T, W, i, t, key_c2c, counter,
                                                      SUB_RESET, max_iterations)
            for c in (i, P + i):
                if D[R_STUCK, c] == 0.0:
                    after_write(I, D, S, W, DREF, TPROG, c, W[c])
        elif D[R_STUCK, i] == 0.0:
            drift_to_now(I, D, S, W, DREF, TPROG, i)
            stats[ST_PROGRAM_PULSES] += _verify(I, D, S, T, W, i, t + D[R_REF, i], key_c2c,
                                                counter, 0, max_iterations)
            after_write(I, D, S, W, DREF, TPROG, i, W[i])
        draw_write_noise(S, WN, key_wn, counter, i, 0)
        set_theta(I, D, W, WN, theta, i)
    stats[ST_PROGRAM_CLIPPED] += nclip
    return nclip
