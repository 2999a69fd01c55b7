"""The fast path's code words and fused dot products (used by :mod:`hwsim.kernels.fast`).

The code is packed into uint64 words, bit j of word b set when θ̃ of parameter 64·b + j is
+A; the dot products are :func:`hwsim.kernels.mlp.dot`'s with θ̃ read from those words and,
for the update variants, the weight update applied inside the loop that next reads the
weight. Same eight partial sums in the same order as :mod:`hwsim.kernels.mlp`, so every
path gives the same bits.
"""

import numpy as np
from numba import njit

from hwsim.kernels._config import JIT_OPTIONS, inline, jit
from hwsim.kernels.codes import CDMA
from hwsim.kernels.hashing import STREAM_CDMA, hash_keyed, stream_key

U64 = np.uint64
ONE64 = np.uint64(1)
UPD_NONE, UPD_SIGN, UPD_G = 0, 1, 2


def borrow(func):
    """Compile a helper that allocates nothing with the production flags and without
    reference counting: its array arguments are borrowed from the caller, which keeps them
    alive. Numba cannot prune the counts of a function with loops around calls, and each
    is an atomic operation per argument per call (a third of a 2-2-1 step)."""
    return njit(_nrt=False, **JIT_OPTIONS)(func)


@inline
def parity64(v):
    v = U64(v)
    v ^= v >> U64(32)
    v ^= v >> U64(16)
    v ^= v >> U64(8)
    v ^= v >> U64(4)
    v ^= v >> U64(2)
    v ^= v >> U64(1)
    return v & ONE64


@borrow
def fill_words(words, wo, src, k, P):
    """Pack the signs of code period ``k`` into ``words[wo : wo + ceil(P/64) + 1]``.

    Bit j of word b is 1 when θ̃ of parameter 64·b + j is +A (CDMA or Walsh); the last word
    is padding, read at the end of the vector.

    Parameters
    ----------
    words : ndarray of uint64
    wo : int
        Offset of word 0 in ``words``.
    src : hwsim.kernels.codes.SourceParams
    k : int
        The code period (step // tau_p).
    P : int
        Number of parameters.
    """
    nblk = (P + 63) >> 6
    if src.code == CDMA:
        key = stream_key(src.seed, STREAM_CDMA)
        for blk in range(nblk):
            words[wo + blk] = hash_keyed(key, k, blk)
    else:  # WALSH: row i + 1 of the Sylvester-Hadamard matrix, column k mod H
        col = k % src.period
        for blk in range(nblk):
            base = blk << 6
            w = U64(0)
            for j in range(min(64, P - base)):
                w |= (parity64((base + j + 1) & col) ^ ONE64) << U64(j)
            words[wo + blk] = w
    words[wo + nblk] = U64(0)


@inline
def bits_at(lo, hi, sh):
    """Bits sh .. sh + 63 of the 128-bit word (hi, lo), without a branch (sh = 0 gives lo).

    Scalars only, and no branch: an inlined helper taking arrays, or a branchy loop, keeps
    Numba from pruning the callers' reference counts (an atomic operation per call)."""
    return (lo >> sh) | ((hi << ONE64) << (U64(63) - sh))


@jit
def nibble_table(out, vp, vn):
    """out[4·v + r] = ``vp`` if bit r of the nibble v is set, else ``vn`` (64 entries).

    Eight signs become two lookups of four neighbours, with no branch per lane."""
    for v in range(16):
        for r in range(4):
            out[4 * v + r] = vp if (v >> r) & 1 else vn


# The dot products below are :func:`hwsim.kernels.mlp._dot2` / ``_dot_pert`` with θ̃ read
# from sign words: parameters w[base ...], code words wd[wo ...], inputs A[ao ...] (A[bo ...] for
# the baseline). Same
# eight partial sums in the same order, the remainder into the first.


@jit
def dot2s(w, base, wd, wo, T, A, ao, bo, n):
    """(Σ (w + θ̃)·A[ao ...], Σ w·A[bo ...]) over one row; θ̃ = T[...] from the words."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    ub = U64(base)
    uo = U64(wo)
    ua = U64(ao)
    ub_ = U64(bo)
    un = U64(n)
    m = un - (un & U64(7))
    j = U64(0)
    while j < m:
        k = ub + j
        ja = ua + j
        jb = ub_ + j
        q = uo + (k >> U64(6))
        cw = bits_at(wd[q], wd[q + ONE64], k & U64(63))
        t0 = (cw & U64(15)) << U64(2)
        t1 = ((cw >> U64(4)) & U64(15)) << U64(2)
        w0 = w[k]
        w1 = w[k + U64(1)]
        w2 = w[k + U64(2)]
        w3 = w[k + U64(3)]
        w4 = w[k + U64(4)]
        w5 = w[k + U64(5)]
        w6 = w[k + U64(6)]
        w7 = w[k + U64(7)]
        b0 += w0 * A[jb]
        b1 += w1 * A[jb + U64(1)]
        b2 += w2 * A[jb + U64(2)]
        b3 += w3 * A[jb + U64(3)]
        b4 += w4 * A[jb + U64(4)]
        b5 += w5 * A[jb + U64(5)]
        b6 += w6 * A[jb + U64(6)]
        b7 += w7 * A[jb + U64(7)]
        p0 += (w0 + T[t0]) * A[ja]
        p1 += (w1 + T[t0 + U64(1)]) * A[ja + U64(1)]
        p2 += (w2 + T[t0 + U64(2)]) * A[ja + U64(2)]
        p3 += (w3 + T[t0 + U64(3)]) * A[ja + U64(3)]
        p4 += (w4 + T[t1]) * A[ja + U64(4)]
        p5 += (w5 + T[t1 + U64(1)]) * A[ja + U64(5)]
        p6 += (w6 + T[t1 + U64(2)]) * A[ja + U64(6)]
        p7 += (w7 + T[t1 + U64(3)]) * A[ja + U64(7)]
        j += U64(8)
    k = ub + j
    q = uo + (k >> U64(6))
    cw = bits_at(wd[q], wd[q + ONE64], k & U64(63))
    while j < un:
        wj = w[ub + j]
        b0 += wj * A[ub_ + j]
        p0 += (wj + T[(cw & ONE64) << U64(2)]) * A[ua + j]
        cw >>= ONE64
        j += ONE64
    return (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
            ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)))


@jit
def dot2su(w, base, wd, wo, po, T, R, A, ao, bo, n):
    """:func:`dot2s` after the update w += R[...] (the nibble table of the two requests,
    chosen by the previous code's words at ``po``), in the same pass: each weight is
    updated, stored (rounded to the state dtype) and read back for both sums."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    ub = U64(base)
    uo = U64(wo)
    up = U64(po)
    ua = U64(ao)
    ub_ = U64(bo)
    un = U64(n)
    m = un - (un & U64(7))
    j = U64(0)
    while j < m:
        k = ub + j
        ja = ua + j
        jb = ub_ + j
        sh = k & U64(63)
        q = k >> U64(6)
        cw = bits_at(wd[uo + q], wd[uo + q + ONE64], sh)
        pv = bits_at(wd[up + q], wd[up + q + ONE64], sh)
        t0 = (cw & U64(15)) << U64(2)
        t1 = ((cw >> U64(4)) & U64(15)) << U64(2)
        u0 = (pv & U64(15)) << U64(2)
        u1 = ((pv >> U64(4)) & U64(15)) << U64(2)
        w[k] += R[u0]
        w[k + U64(1)] += R[u0 + U64(1)]
        w[k + U64(2)] += R[u0 + U64(2)]
        w[k + U64(3)] += R[u0 + U64(3)]
        w[k + U64(4)] += R[u1]
        w[k + U64(5)] += R[u1 + U64(1)]
        w[k + U64(6)] += R[u1 + U64(2)]
        w[k + U64(7)] += R[u1 + U64(3)]
        w0 = w[k]
        w1 = w[k + U64(1)]
        w2 = w[k + U64(2)]
        w3 = w[k + U64(3)]
        w4 = w[k + U64(4)]
        w5 = w[k + U64(5)]
        w6 = w[k + U64(6)]
        w7 = w[k + U64(7)]
        b0 += w0 * A[jb]
        b1 += w1 * A[jb + U64(1)]
        b2 += w2 * A[jb + U64(2)]
        b3 += w3 * A[jb + U64(3)]
        b4 += w4 * A[jb + U64(4)]
        b5 += w5 * A[jb + U64(5)]
        b6 += w6 * A[jb + U64(6)]
        b7 += w7 * A[jb + U64(7)]
        p0 += (w0 + T[t0]) * A[ja]
        p1 += (w1 + T[t0 + U64(1)]) * A[ja + U64(1)]
        p2 += (w2 + T[t0 + U64(2)]) * A[ja + U64(2)]
        p3 += (w3 + T[t0 + U64(3)]) * A[ja + U64(3)]
        p4 += (w4 + T[t1]) * A[ja + U64(4)]
        p5 += (w5 + T[t1 + U64(1)]) * A[ja + U64(5)]
        p6 += (w6 + T[t1 + U64(2)]) * A[ja + U64(6)]
        p7 += (w7 + T[t1 + U64(3)]) * A[ja + U64(7)]
        j += U64(8)
    k = ub + j
    sh = k & U64(63)
    q = k >> U64(6)
    cw = bits_at(wd[uo + q], wd[uo + q + ONE64], sh)
    pv = bits_at(wd[up + q], wd[up + q + ONE64], sh)
    while j < un:
        w[ub + j] += R[(pv & ONE64) << U64(2)]
        wj = w[ub + j]
        b0 += wj * A[ub_ + j]
        p0 += (wj + T[(cw & ONE64) << U64(2)]) * A[ua + j]
        cw >>= ONE64
        pv >>= ONE64
        j += ONE64
    return (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
            ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)))


@jit
def dots(w, base, wd, wo, T, A, ao, n):
    """Σ (w + θ̃)·A[ao ...] over one row (the perturbed pass alone)."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    ub = U64(base)
    uo = U64(wo)
    ua = U64(ao)
    un = U64(n)
    m = un - (un & U64(7))
    j = U64(0)
    while j < m:
        k = ub + j
        ja = ua + j
        q = uo + (k >> U64(6))
        cw = bits_at(wd[q], wd[q + ONE64], k & U64(63))
        t0 = (cw & U64(15)) << U64(2)
        t1 = ((cw >> U64(4)) & U64(15)) << U64(2)
        p0 += (w[k] + T[t0]) * A[ja]
        p1 += (w[k + U64(1)] + T[t0 + U64(1)]) * A[ja + U64(1)]
        p2 += (w[k + U64(2)] + T[t0 + U64(2)]) * A[ja + U64(2)]
        p3 += (w[k + U64(3)] + T[t0 + U64(3)]) * A[ja + U64(3)]
        p4 += (w[k + U64(4)] + T[t1]) * A[ja + U64(4)]
        p5 += (w[k + U64(5)] + T[t1 + U64(1)]) * A[ja + U64(5)]
        p6 += (w[k + U64(6)] + T[t1 + U64(2)]) * A[ja + U64(6)]
        p7 += (w[k + U64(7)] + T[t1 + U64(3)]) * A[ja + U64(7)]
        j += U64(8)
    k = ub + j
    q = uo + (k >> U64(6))
    cw = bits_at(wd[q], wd[q + ONE64], k & U64(63))
    while j < un:
        p0 += (w[ub + j] + T[(cw & ONE64) << U64(2)]) * A[ua + j]
        cw >>= ONE64
        j += ONE64
    return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))


@jit
def update_sign(theta, base, n, wd, po, R):
    """θ += R[...] on parameters base .. base + n − 1, the request chosen by the previous
    code's bits (words at ``po``): the ideal write of −η·G with G = 0.0 + s·θ̃."""
    ub = U64(base)
    up = U64(po)
    un = U64(n)
    j = U64(0)
    while j < un:
        k = ub + j
        q = up + (k >> U64(6))
        theta[k] += R[((wd[q] >> (k & U64(63))) & ONE64) << U64(2)]
        j += ONE64


@jit
def update_g(theta, G, base, n, eta):
    """θ += −η·G on parameters base .. base + n − 1 (optimizer request + ideal write)."""
    for j in range(n):
        theta[base + j] += -eta * G[base + j]
