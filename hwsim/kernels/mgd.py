"""The MGD hot loop: advance a chip through many hardware steps in one call.

Implements one discrete step of mgd.md (McCaughan, Oripov et al., APL Mach. Learn. 1,
026118 (2023), Sec. II) and the analog variant (first-order high-pass of C, low-pass of G):

1. every ``tau_x`` steps present the next sample (baseline stale);
2. every ``tau_theta`` steps theta <- theta - eta * G, G <- 0 (baseline stale);
3. every ``tau_p`` steps draw the perturbation code;
4. C = cost(theta + pert); 5. C0 = cost(theta) when stale; C~ = C - C0;
6. G += C~ * pert / amplitude**2.

All state lives in arrays the caller owns (structure of arrays), so a call can stop at any
step and the next call continues bit-identically. ``cost_fn`` is any jitted function
``cost_fn(model, theta, pert, sample, want_base, out, counter)``: the MLP of
:mod:`hwsim.kernels.mlp`, or an analytic cost in tests.
"""

import math

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.hashing import (
    STREAM_CDMA,
    STREAM_DATA_ORDER,
    STREAM_FDMA_PHASE,
    hash4,
    hash_keyed,
    stream_key,
    uniform01,
)

# Codes and modes (names in hwsim.chip.perturbation).
CDMA, WALSH, FDMA, TDMA = 0, 1, 2, 3
DISCRETE, ANALOG = 0, 1

# ip: int64 parameters.
IP_CODE, IP_MODE, IP_TAU_P, IP_TAU_X, IP_TAU_THETA, IP_SEED, IP_N_SAMPLES, IP_PERIOD = range(8)
IP_READ_NOISE = 8  # 1: weights are read through ``read_fn`` (noisy reads) on every inference
IP_WRITE_PERT = 9  # 1: the code is written into the devices as pulses (discrete mode only)
IP_SIZE = 10
# fp: float64 parameters. FP_CODE_AMP is the per-element code amplitude A.
FP_AMPLITUDE, FP_ETA, FP_TAU_HP, FP_CODE_AMP = range(4)
FP_SIZE = 4
# ist: int64 state. IST_ORDER_EPOCH: epoch whose permutation ``order`` holds (-1: none).
IST_STEP, IST_SAMPLE, IST_STALE, IST_ORDER_EPOCH, IST_STATUS, IST_BAD_STEP, IST_UPDATES = range(7)
IST_PERT_WRITTEN = 7  # write-based perturbation: 1 while the devices hold theta + code
IST_SIZE = 8
# Random coordinates of perturbation writes, apart from those of weight updates (< 2**61).
PERT_WRITE_COUNTER = 1 << 61
# fst: float64 state: baseline C0, last C, last C~, analog filter memory (previous C).
FST_C0, FST_C, FST_CTILDE, FST_CPREV = range(4)
FST_SIZE = 4

STATUS_OK, STATUS_NONFINITE_COST, STATUS_NONFINITE_BASE = 0, 1, 2


@jit
def popcount64(v):
    """Number of set bits of a non-negative int64."""
    c = 0
    while v:
        v &= v - 1
        c += 1
    return c


@jit
def shuffle_order(order, seed, epoch):
    """Fisher-Yates permutation of 0..N-1 for ``epoch``, from the counter hash (thread-free)."""
    n = order.shape[0]
    key = stream_key(seed, STREAM_DATA_ORDER)
    for i in range(n):
        order[i] = i
    for i in range(n - 1, 0, -1):
        j = int(uniform01(hash_keyed(key, epoch, i)) * (i + 1))
        t = order[i]
        order[i] = order[j]
        order[j] = t


@jit
def ideal_update(dev, theta, grad, eta, counter):
    """Weight write of an ideal device: theta <- theta - eta * G, exactly."""
    for i in range(theta.shape[0]):
        theta[i] -= eta * grad[i]


@jit
def exact_read(dev, theta, out, counter, sub):
    """Weight read of a noiseless device (used only when reads are not ``theta`` itself)."""
    for i in range(theta.shape[0]):
        out[i] = theta[i]


@jit
def fill_code(pert, ip, fp, k):
    """Write the perturbation theta~ of code period ``k`` into ``pert`` (length P)."""
    P = pert.shape[0]
    code = ip[IP_CODE]
    A = fp[FP_CODE_AMP]
    if code == CDMA:
        # One hash per block of 64 parameters; bit i mod 64 is parameter i's sign
        # (the same values as hashing.cdma_sign, which is the per-element definition).
        key = stream_key(ip[IP_SEED], STREAM_CDMA)
        for blk in range((P + 63) >> 6):
            bits = hash_keyed(key, k, blk)
            base = blk << 6
            for j in range(min(64, P - base)):
                pert[base + j] = A if (bits >> np.uint64(j)) & np.uint64(1) else -A
    elif code == WALSH:
        # Sylvester-Hadamard row i + 1 (row 0 is the constant row), column k mod H.
        col = k % ip[IP_PERIOD]
        for i in range(P):
            pert[i] = -A if popcount64((i + 1) & col) & 1 else A
    elif code == FDMA:
        # Integer phase arithmetic keeps the code exactly periodic (field case E2).
        M = ip[IP_PERIOD]
        for i in range(P):
            phi = 2.0 * math.pi * uniform01(hash4(ip[IP_SEED], STREAM_FDMA_PHASE, 0, i))
            # reduce both factors first: (i + 1) * k would overflow int64 for huge k
            pert[i] = A * math.sin(2.0 * math.pi * ((((i + 1) % M) * (k % M)) % M) / M + phi)
    else:  # TDMA: +amplitude on one parameter per slot
        for i in range(P):
            pert[i] = 0.0
        pert[k % P] = A


@jit
def run_steps(n_steps, cost_fn, model, theta, grad, pert, order, ip, fp, ist, fst, out,
              update_fn, read_fn, dev, rbuf):
    """Advance MGD by ``n_steps`` hardware steps (or until a non-finite cost).

    Parameters
    ----------
    n_steps : int
    cost_fn, model : jitted cost callback and its data tuple.
    update_fn, read_fn, dev : the synapse devices: ``update_fn(dev, theta, grad, eta, k)``
        delivers the update theta <- theta - eta * G of update number k (as write pulses on a
        real device); ``read_fn(dev, theta, out, step, sub)`` reads the weights with read
        noise (sub 0: perturbed read, 1: baseline read), used when ``ip[IP_READ_NOISE]``.
    rbuf : tuple of three float arrays (P,): read buffers for the two reads, and zeros.
    theta, grad, pert : float arrays (P,), parameters, accumulators G, current code.
    order : int64 (N,), data-order permutation of the current epoch (derived state).
    ip, fp, ist, fst : int/float parameter and state vectors (layout above).
    out : float64 (2,), scratch for the cost callback.

    Returns
    -------
    int
        STATUS_OK, or a non-finite status; ``ist[IST_BAD_STEP]`` then names the step.
    """
    tau_p = ip[IP_TAU_P]
    tau_x = ip[IP_TAU_X]
    tau_theta = ip[IP_TAU_THETA]
    analog = ip[IP_MODE] == ANALOG
    noisy_reads = ip[IP_READ_NOISE] == 1
    write_pert = ip[IP_WRITE_PERT] == 1 and not analog
    eta = fp[FP_ETA]
    inv_d2 = 1.0 / (fp[FP_AMPLITUDE] * fp[FP_AMPLITUDE])
    P = theta.shape[0]
    # Analog filter coefficients, time in units of dt.
    a_hp = fp[FP_TAU_HP] / (fp[FP_TAU_HP] + 1.0)
    lp_keep = tau_theta / (tau_theta + 1.0)
    lp_new = 1.0 / (tau_theta + 1.0)
    # Phases within the tau_x, tau_p and tau_theta periods, derived from the step once per
    # call and then counted (an integer division per step per clock costs more than the
    # whole 2-2-1 forward pass).
    n0 = ist[IST_STEP]
    ph_x = n0 % tau_x
    ph_p = n0 % tau_p
    ph_t = n0 % tau_theta
    # The next sample to present is number k = ceil(n0 / tau_x): epoch and position in it.
    n_samples = ip[IP_N_SAMPLES]
    k_next = (n0 + tau_x - 1) // tau_x
    epoch = k_next // n_samples
    pos = k_next - epoch * n_samples
    for _ in range(n_steps):
        n = ist[IST_STEP]
        new_input = ph_x == 0
        if new_input:
            if ist[IST_ORDER_EPOCH] != epoch:
                shuffle_order(order, ip[IP_SEED], epoch)
                ist[IST_ORDER_EPOCH] = epoch
            ist[IST_SAMPLE] = order[pos]
            ist[IST_STALE] = 1
            pos += 1
            if pos == n_samples:
                pos = 0
                epoch += 1
        new_code = ph_p == 0
        if new_code and not write_pert:
            fill_code(pert, ip, fp, n // tau_p)
        ph_x = ph_x + 1 if ph_x + 1 < tau_x else 0
        ph_p = ph_p + 1 if ph_p + 1 < tau_p else 0
        update_due = ph_t == 0 and n > 0
        ph_t = ph_t + 1 if ph_t + 1 < tau_theta else 0
        if not analog:
            if update_due:
                if eta != 0.0:
                    update_fn(dev, theta, grad, eta, ist[IST_UPDATES])
                    ist[IST_STALE] = 1
                for i in range(P):
                    grad[i] = 0.0
                ist[IST_UPDATES] += 1
            want_base = ist[IST_STALE] == 1
            if write_pert:
                # The code lives in the devices: remove it (as pulses) for a baseline read,
                # then write the new code; what the pulses really deliver is the physics.
                k = PERT_WRITE_COUNTER + 2 * n
                if want_base and ist[IST_PERT_WRITTEN] == 1:
                    update_fn(dev, theta, pert, 1.0, k)  # theta -= code
                    ist[IST_PERT_WRITTEN] = 0
                if want_base:
                    if noisy_reads:
                        read_fn(dev, theta, rbuf[1], n, 1)
                        cost_fn(model, rbuf[1], rbuf[2], ist[IST_SAMPLE], False, out, n)
                    else:
                        cost_fn(model, theta, rbuf[2], ist[IST_SAMPLE], False, out, n)
                    out[1] = out[0]
                if new_code or ist[IST_PERT_WRITTEN] == 0:
                    delta = rbuf[0]
                    for i in range(P):
                        delta[i] = -pert[i] if ist[IST_PERT_WRITTEN] == 1 else 0.0
                    if new_code:
                        fill_code(pert, ip, fp, n // tau_p)
                    for i in range(P):
                        delta[i] += pert[i]
                    update_fn(dev, theta, delta, -1.0, k + 1)  # theta += new - old code
                    ist[IST_PERT_WRITTEN] = 1
                if noisy_reads:
                    read_fn(dev, theta, rbuf[0], n, 0)
                    cost_fn(model, rbuf[0], rbuf[2], ist[IST_SAMPLE], False, out, n)
                else:
                    cost_fn(model, theta, rbuf[2], ist[IST_SAMPLE], False, out, n)
            elif noisy_reads:
                # Two physical reads, each with its own read noise (or the same, if the
                # device freezes it per step): the network sees the read weights.
                read_fn(dev, theta, rbuf[0], n, 0)
                if want_base:
                    read_fn(dev, theta, rbuf[1], n, 1)
                    cost_fn(model, rbuf[1], rbuf[2], ist[IST_SAMPLE], False, out, n)
                    out[1] = out[0]
                cost_fn(model, rbuf[0], pert, ist[IST_SAMPLE], False, out, n)
            else:
                cost_fn(model, theta, pert, ist[IST_SAMPLE], want_base, out, n)
            c = out[0]
            if not math.isfinite(c):
                ist[IST_STATUS] = STATUS_NONFINITE_COST
                ist[IST_BAD_STEP] = n
                return STATUS_NONFINITE_COST
            if want_base:
                if not math.isfinite(out[1]):
                    ist[IST_STATUS] = STATUS_NONFINITE_BASE
                    ist[IST_BAD_STEP] = n
                    return STATUS_NONFINITE_BASE
                fst[FST_C0] = out[1]
                ist[IST_STALE] = 0
            ct = c - fst[FST_C0]
            s = ct * inv_d2
            for i in range(P):
                grad[i] += s * pert[i]
        else:
            if noisy_reads:
                read_fn(dev, theta, rbuf[0], n, 0)
                cost_fn(model, rbuf[0], pert, ist[IST_SAMPLE], False, out, n)
            else:
                cost_fn(model, theta, pert, ist[IST_SAMPLE], False, out, n)
            c = out[0]
            if not math.isfinite(c):
                ist[IST_STATUS] = STATUS_NONFINITE_COST
                ist[IST_BAD_STEP] = n
                return STATUS_NONFINITE_COST
            if new_input or n == 0:
                fst[FST_CPREV] = c  # the high-pass restarts on a new input
                ist[IST_STALE] = 0
            ct = a_hp * (fst[FST_CTILDE] + c - fst[FST_CPREV])
            fst[FST_CPREV] = c
            s = ct * inv_d2
            for i in range(P):
                grad[i] = lp_keep * grad[i] + lp_new * (s * pert[i])
            if eta != 0.0:
                update_fn(dev, theta, grad, eta, ist[IST_UPDATES])
            ist[IST_UPDATES] += 1
        fst[FST_C] = c
        fst[FST_CTILDE] = ct
        ist[IST_STEP] = n + 1
    return STATUS_OK
