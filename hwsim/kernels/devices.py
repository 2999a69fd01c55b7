"""Device physics kernels: pulsed weight updates, reads, drift and programming.

This module holds the update, read and drift kernels and re-exports the rest: the layout
(:mod:`.device_layout`), one pulse (:mod:`.device_pulse`), programming
(:mod:`.device_program`) and measurements on a copy (:mod:`.device_probe`).

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

from hwsim.kernels._config import inline, jit
from hwsim.kernels.device_program import (
    decay_all, most_pulses, refresh_all,
)
from hwsim.kernels.device_pulse import (
    clip_to, drift_factor, drift_to_now, pulse_step, quantize_level, set_theta,
)
from hwsim.kernels.hashing import (
    STREAM_C2C, STREAM_READ_NOISE, STREAM_ROUNDING, STREAM_WRITE_NOISE, hash_keyed, hash_sub,
    normal_from_bits, stream_key, uniform01,
)

# The device kernels' public surface in one place: callers import from here.
from hwsim.kernels.device_layout import (  # noqa: F401
    DRIFT_NONE, DRIFT_PCM, DRIFT_POWER, INIT_COUNTER, I_COMPLEX_NOISE, I_DECAY, I_DRIFT,
    I_MAX_PULSES, I_MODEL, I_MULT_NOISE, I_NCOLS, I_N_STATES, I_ONE_SIDED, I_P, I_READ_FROZEN,
    I_READ_NOISE, I_REFRESH_EVERY, I_REFRESH_ITERS, I_ROUNDING, I_SEED, I_TABLE_N,
    MAX_PULSES_PER_REQUEST, M_CONSTANT, M_EXP, M_IDEAL, M_LINEAR, M_LUT, M_PIECEWISE, M_POW,
    M_SOFT, N_I, N_ROWS, N_S, N_STATS, PCM_T_READ, PROGRAM_COUNTER, READ_ADDITIVE, READ_NONE,
    READ_PCM, REFERENCE_COUNTER, ROUND_NEAREST, ROUND_STOCHASTIC, ROW_NAMES, R_B_MAX, R_B_MIN,
    R_DECAY, R_DW_DOWN, R_DW_UP, R_GAMMA_DOWN, R_GAMMA_UP, R_G_MAX, R_NU, R_NU_XI, R_REF,
    R_RESET, R_STUCK, R_STUCK_VALUE, STAT_NAMES, ST_CAPPED, ST_CLIPPED, ST_DEVICE_WRITES,
    ST_INIT_CLIPPED, ST_NONFINITE, ST_PROGRAMS, ST_PROGRAM_CLIPPED, ST_PROGRAM_PULSES,
    ST_PULSES, ST_PULSES_DOWN, ST_PULSES_UP, ST_RANGE_CAPPED, ST_REFERENCE_PULSES,
    ST_REFRESHES, ST_REFRESH_PULSES, ST_UPDATES, SUB_RESET, S_A_DOWN, S_A_UP, S_DW_MIN,
    S_DW_STD, S_EXP_A, S_EXP_B, S_EXP_GAMMA_DOWN, S_EXP_GAMMA_UP, S_READ_SCALE, S_READ_STD,
    S_RESET_STD, S_STD_ADD, S_STD_SLOPE, S_T0, S_TIME, S_T_READ, S_WRITE_STD, empty_dev,
)
from hwsim.kernels.device_probe import (  # noqa: F401
    dtod_normals, dtod_uniforms, pulse_response, symmetry_point,
)
from hwsim.kernels.device_program import init_weights, program  # noqa: F401


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
        if x > MAX_PULSES_PER_REQUEST:
            x = MAX_PULSES_PER_REQUEST
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
            most = int(most_pulses(D, i if not one_sided else (i if delta > 0.0 else P + i)))
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
            drift_to_now(I, D, S, W, DREF, TPROG, c)
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
                w = pulse_step(I, D, S, T, c, w, d, xi)
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
            w = quantize_level(I, D, c, w)
        W[c] = w
        DREF[c] = w
        TPROG[c] = now
        if wn_std > 0.0:
            WN[i] = wn_std * normal_from_bits(hash_sub(key_wn, counter, i, 0))
        if one_sided:
            set_theta(I, D, W, WN, theta, i)
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
        decay_all(I, D, S, W, WN, DREF, TPROG, theta)
    every = I[I_REFRESH_EVERY]
    if one_sided and every > 0 and stats[ST_UPDATES] % every == 0:
        refresh_all(I, D, S, T, stats, W, WN, DREF, TPROG, theta, counter)


@inline
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
        f = drift_factor(I, D, S, c, DREF[c], t_s - TPROG[c])
        W[c] = clip_to(DREF[c] * f, D[R_B_MIN, c], D[R_B_MAX, c])
    for i in range(theta.shape[0]):
        set_theta(I, D, W, WN, theta, i)
