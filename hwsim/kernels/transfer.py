"""Device-write stage option, Tiki-Taka transfer: two device arrays per weight, a fast A and a
slow C, and the network sees γ·A + C.

Gokmen & Haensch, "Algorithm for training neural networks on resistive device arrays", Front.
Neurosci. 14, 103 (2020) (TTv1); Gokmen, "Enabling training of neural networks on noisy
hardware", Front. Artif. Intell. 4, 699148 (2021) (TTv2, the hidden accumulator H); Rasch et
al., "Fast and robust analog in-memory deep neural network training", Nat. Commun. 15, 7133
(2024) (c-TTv2, the chopper). docs/tiki_taka.md describes the schedule; this module is the
stage, :mod:`hwsim.chip.transfer` builds its records.

Per update k (0-based, the optimizer's index):

1. the request Δθ = −η·G is multiplied by the chopper sign χ_c of each weight's column
   (:func:`chop_request`, before the write; χ = +1 without a chopper) and written as pulses
   into A (the usual device write, :func:`hwsim.kernels.devices.apply_update`);
2. when (k + 1) is a multiple of ``every`` (transfer number n = (k + 1)/every − 1), A is read
   through its read path (read noise at counter ``TRANSFER_COUNTER + n``, sub 0) and, in
   every layer, the next ``per`` columns (cyclic; a layer with fewer columns transfers all of
   them) give C the request lr·χ_c·a_i for each of their weights i (TTv1), or add it to H_i
   and request trunc(H_i/thr)·thr once abs(H_i) ≥ thr (TTv2; H_i then loses what was
   requested, or is zeroed when ``forget``); then each transferred column's χ_c flips with
   probability ``chop_p`` (U[0,1) from ``hash_keyed(stream_key(seed, STREAM_CHOPPER), n, c)``),
   and each transferred column is **reset** with probability ``reset_p`` (U[0,1) from
   ``hash_keyed(stream_key(seed, STREAM_TT_RESET), n, c)``; aihwkit ``with_reset_prob``): a
   hard reset of every device of the column of A to its reset value, as aihwkit's
   ``reset_columns`` (``resetCols``) does: w = clip(r_d + reset_std·ξ) with ξ =
   ``normal_from_bits(hash_sub(stream_key(seed_A, STREAM_C2C), TRANSFER_COUNTER + n, d, 0))``
   (d the device column: i, and P + i for a pair), quantized, write-noise offset 0; counted
   in ``transfer_resets`` (one per weight; an Ideal A is set to 0);
3. C receives its request as pulses (:func:`~hwsim.kernels.devices.apply_update` with counter
   k on C's own device tuple: every update, so C's decay and refresh run per update as A's
   do; a zero request sends no pulse);
4. θ = γ·A + C (float64 arithmetic, rounded to the state dtype).

A "column" of a dense layer with weight matrix W (n_out × n_in, row-major in θ) is one input
index j: the n_out weights W[:, j], read together by one forward read with input e_j, as on a
crossbar whose inputs drive its columns (aihwkit ``transfer_columns = True``). The biases of a
layer are its own last column (a crossbar's bias is a column driven by a constant input).
"""

from collections import namedtuple

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.device_layout import (
    I_MODEL, I_ONE_SIDED, I_P, I_SEED, M_IDEAL, R_B_MAX, R_B_MIN, R_RESET, R_STUCK, S_RESET_STD,
)
from hwsim.kernels.device_pulse import after_write, clip_to, set_theta
from hwsim.kernels.devices import ST_PULSES, ST_PULSES_UP, apply_update, read_weights
from hwsim.kernels.hashing import (
    STREAM_C2C, STREAM_CHOPPER, STREAM_TT_RESET, hash_keyed, hash_sub, normal_from_bits,
    stream_key, uniform01,
)

#: Read-noise coordinates of the transfer reads of A (apart from the steps' reads, < 2**58).
TRANSFER_COUNTER = 1 << 58

#: The stage's parameters. ``on`` int64 1 when transfer runs; ``every`` updates between
#: transfers; ``per`` columns per layer per transfer; ``gamma`` γ; ``lr`` transfer_lr;
#: ``buffer`` int64 1 for TTv2's H; ``thr`` H's threshold in weight units (buffer_threshold ×
#: C's dw_min); ``forget`` int64 1: H is zeroed after a write; ``chop_p`` the chopper's flip
#: probability; ``reset_p`` the probability that a transferred column of A is reset;
#: ``seed`` the master seed; ``col_of`` (P,) int64 the column of each weight;
#: ``col_start`` (n_cols + 1,) and ``col_idx`` (P,) int64 the weights of column c are
#: ``col_idx[col_start[c]:col_start[c + 1]]``; ``layer_cols`` (L + 1,) int64 the columns of
#: layer l are ``layer_cols[l]:layer_cols[l + 1]``.
TransferParams = namedtuple("TransferParams", "on every per gamma lr buffer thr forget chop_p "
                                              "reset_p seed col_of col_start col_idx layer_cols")


def off_params() -> TransferParams:
    """The record of a chip without transfer (every array empty)."""
    e = np.zeros(0, np.int64)
    return TransferParams(np.int64(0), np.int64(1), np.int64(1), 0.0, 0.0, np.int64(0), 0.0,
                          np.int64(0), 0.0, 0.0, np.int64(0), e, np.zeros(1, np.int64), e,
                          np.zeros(1, np.int64))


@jit
def chop_request(tp, chop, req):
    """req[i] *= χ of weight i's column (the chopper on what is written into A)."""
    for i in range(req.shape[0]):
        req[i] *= chop[tp.col_of[i]]


@jit
def combine(tp, a, c, theta):
    """θ = γ·A + C, each (P,), in float64 and rounded to θ's dtype."""
    g = tp.gamma
    for i in range(theta.shape[0]):
        theta[i] = g * np.float64(a[i]) + np.float64(c[i])


@jit
def reset_column(tp, dev_a, a, c, counter):
    """Hard-reset every weight of column ``c`` of A (``a`` (P,) its weights) to its devices'
    reset value (module doc, step 2; aihwkit ``resetCols``). Returns the weights reset."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev_a
    n = tp.col_start[c + 1] - tp.col_start[c]
    if I[I_MODEL] == M_IDEAL:
        for q in range(tp.col_start[c], tp.col_start[c + 1]):
            a[tp.col_idx[q]] = 0.0
        return n
    P = I[I_P]
    rstd = S[S_RESET_STD]
    key = stream_key(I[I_SEED], STREAM_C2C)
    for q in range(tp.col_start[c], tp.col_start[c + 1]):
        i = tp.col_idx[q]
        for dc in range(2 if I[I_ONE_SIDED] != 0 else 1):
            d = i + dc * P
            if D[R_STUCK, d] != 0.0:
                continue
            r = D[R_RESET, d]
            if rstd > 0.0:
                r += rstd * normal_from_bits(hash_sub(key, counter, d, 0))
            after_write(I, D, S, W, DREF, TPROG, d, clip_to(r, D[R_B_MIN, d], D[R_B_MAX, d]))
        WN[i] = 0.0
        set_theta(I, D, W, WN, a, i)
    return n


@jit
def _column_requests(tp, s, n, read, dev_a):
    """Fill ``s.tt_req`` for transfer ``n`` from the read of A; advance the column pointers,
    flip the chopper and reset columns of A. Returns the number of device reads (weights of
    the columns) and of weights reset."""
    req = s.tt_req
    h = s.tt_h
    chop = s.tt_chop
    key = stream_key(tp.seed, STREAM_CHOPPER)
    key_r = stream_key(tp.seed, STREAM_TT_RESET)
    reads = 0
    resets = 0
    for layer in range(tp.layer_cols.shape[0] - 1):
        c0 = tp.layer_cols[layer]
        n_cols = tp.layer_cols[layer + 1] - c0
        k = min(tp.per, n_cols)
        for _ in range(k):
            c = c0 + s.tt_ptr[layer]
            s.tt_ptr[layer] = s.tt_ptr[layer] + 1 if s.tt_ptr[layer] + 1 < n_cols else 0
            sign = chop[c]
            for q in range(tp.col_start[c], tp.col_start[c + 1]):
                i = tp.col_idx[q]
                v = tp.lr * (sign * np.float64(read[i]))
                if tp.buffer == 1:
                    hv = h[i] + v
                    if abs(hv) >= tp.thr:
                        w = np.trunc(hv / tp.thr) * tp.thr
                        req[i] = w
                        hv = 0.0 if tp.forget == 1 else hv - w
                    h[i] = hv
                else:
                    req[i] = v
            reads += tp.col_start[c + 1] - tp.col_start[c]
            if tp.chop_p > 0.0 and uniform01(hash_keyed(key, n, c)) < tp.chop_p:
                chop[c] = -chop[c]
            if tp.reset_p > 0.0 and uniform01(hash_keyed(key_r, n, c)) < tp.reset_p:
                resets += reset_column(tp, dev_a, s.tt_a, c, TRANSFER_COUNTER + n)
    return reads, resets


@jit
def after_update(tp, s, dev_a, dev_c, k):
    """Stage steps 2–4 of the module doc after update ``k`` was written into A.

    Parameters
    ----------
    tp : TransferParams
    s : hwsim.kernels.step.State
        Uses ``tt_a``, ``tt_c`` (P,) the arrays' weights, ``tt_h`` (P,) H in the state dtype (empty
        without the buffer), ``tt_chop`` (n_cols,) χ in the state dtype, ``tt_ptr`` (L,) int64 the next
        column of each layer, ``tt_req`` (P,) float64 C's request, ``rb1`` (read scratch),
        ``counters`` (``transfers``, ``transfer_reads``, ``transfer_resets``,
        ``transfer_pulses_up/down``).
    dev_a, dev_c : device tuples of A and C (:mod:`hwsim.kernels.devices`).
    k : int
        The update index.
    """
    req = s.tt_req
    for i in range(req.shape[0]):
        req[i] = 0.0
    cnt = s.counters[0]
    if (k + 1) % tp.every == 0:
        n = (k + 1) // tp.every - 1
        read_weights(dev_a, s.tt_a, s.rb1, TRANSFER_COUNTER + n, 0)
        reads, resets = _column_requests(tp, s, n, s.rb1, dev_a)
        cnt.transfer_reads += reads
        cnt.transfer_resets += resets
        cnt.transfers += 1
    st = dev_c[4]
    p0 = st[ST_PULSES]
    u0 = st[ST_PULSES_UP]
    apply_update(dev_c, s.tt_c, req, k)
    cnt.transfer_pulses_up += st[ST_PULSES_UP] - u0
    cnt.transfer_pulses_down += (st[ST_PULSES] - p0) - (st[ST_PULSES_UP] - u0)
    combine(tp, s.tt_a, s.tt_c, s.theta)
