"""The fused fast path: the common discrete-MGD chip in one kernel, bit-identical to
:func:`hwsim.kernels.step.run_steps`.

It applies to an MLP sense model on ideal synapses (no device, no read noise, no periphery),
discrete mode, CDMA or Walsh codes (±A), the plain optimizer and a perturbation added on the
read path (see :meth:`hwsim.chip.chip.Chip.fast_path_applies`). What it saves, with the same
arithmetic on every value:

- the code is packed into uint64 words, bit j of word b set when θ̃ of parameter 64·b + j is
  +A (CDMA's words are the counter hashes themselves, :func:`hwsim.kernels.codes.fill_code`);
  signs are read from the words inside the loops that use them, so no float code array is
  written or read per step;
- at τθ = 1 the integrators are not stored: G after one step is 0.0 + s·θ̃ (s = C̃/Δ²), so
  the next update −η·G takes one of two values per parameter, chosen by the previous code's
  bit;
- the update is applied row by row just before the forward pass reads that row, so θ makes
  one trip through the cache per step, and the perturbed and baseline passes share it.

Dot products keep the summation order of :mod:`hwsim.kernels.mlp` (eight partial sums over
unsigned offsets, the remainder into the first), so every path gives the same bits. At the
end of a call (or at a non-finite cost) the state is what ``run_steps`` leaves: ``applied``
holds the current code and ``G`` the integrators, so checkpoints and the general path
continue seamlessly.
"""

import math

import numpy as np

from hwsim.kernels._config import inline, jit
from hwsim.kernels.clocks import shuffle_order
from hwsim.kernels.codes import CDMA, fill_code
from hwsim.kernels.devices import ST_UPDATES
from hwsim.kernels.hashing import STREAM_CDMA, hash_keyed, stream_key
from hwsim.kernels.mlp import _act, output_cost
from hwsim.kernels.sense import count
from hwsim.kernels.step import STATUS_NONFINITE_BASE, STATUS_NONFINITE_COST, STATUS_OK, _fail

_U = np.uint64
_ONE = np.uint64(1)
UPD_NONE, UPD_SIGN, UPD_G = 0, 1, 2


@inline
def _parity(v):
    v = _U(v)
    v ^= v >> _U(32)
    v ^= v >> _U(16)
    v ^= v >> _U(8)
    v ^= v >> _U(4)
    v ^= v >> _U(2)
    v ^= v >> _U(1)
    return v & _ONE


@jit
def fill_words(words, src, k, P):
    """Pack the signs of code period ``k`` into ``words`` (length ceil(P/64) + 1).

    Bit j of ``words[b]`` is 1 when θ̃ of parameter 64·b + j is +A (CDMA or Walsh); the last
    word is padding, read by :func:`_word` at the end of the vector.

    Parameters
    ----------
    words : ndarray of uint64
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
            words[blk] = hash_keyed(key, k, blk)
    else:  # WALSH: row i + 1 of the Sylvester-Hadamard matrix, column k mod H
        col = k % src.period
        for blk in range(nblk):
            base = blk << 6
            w = _U(0)
            for j in range(min(64, P - base)):
                w |= (_parity((base + j + 1) & col) ^ _ONE) << _U(j)
            words[blk] = w
    words[nblk] = _U(0)


@inline
def _bits_at(lo, hi, sh):
    """Bits sh .. sh + 63 of the 128-bit word (hi, lo), without a branch (sh = 0 gives lo):
    a branch or an inlined helper taking arrays here would keep Numba from pruning the
    reference counts of the caller's arrays (an atomic operation per call)."""
    return (lo >> sh) | ((hi << _ONE) << (_U(63) - sh))


@inline
def _word(words, g):
    """Sign bits of parameters g, g + 1, ... (bit 0 = parameter g)."""
    return _bits_at(words[g >> _U(6)], words[(g >> _U(6)) + _ONE], g & _U(63))


@jit
def _update_sign(theta, pw, R, base, n):
    """θ += Δθ on parameters base .. base + n − 1, with Δθ = R[...] (the nibble table of the
    two requests) chosen by the previous code's bits ``pw``: the ideal write of −η·G."""
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
        cw = _bits_at(pw[k >> _U(6)], pw[(k >> _U(6)) + _ONE], k & _U(63))
        t0 = (cw & _U(15)) << _U(2)
        t1 = ((cw >> _U(4)) & _U(15)) << _U(2)
        theta[k] += R[t0]
        theta[k + _U(1)] += R[t0 + _U(1)]
        theta[k + _U(2)] += R[t0 + _U(2)]
        theta[k + _U(3)] += R[t0 + _U(3)]
        theta[k + _U(4)] += R[t1]
        theta[k + _U(5)] += R[t1 + _U(1)]
        theta[k + _U(6)] += R[t1 + _U(2)]
        theta[k + _U(7)] += R[t1 + _U(3)]
        j += _U(8)
    k = ub + j
    cw = _bits_at(pw[k >> _U(6)], pw[(k >> _U(6)) + _ONE], k & _U(63))
    while j < un:
        theta[ub + j] += R[(cw & _ONE) << _U(2)]
        cw >>= _ONE
        j += _ONE


@jit
def _update_g(theta, G, base, n, eta):
    """θ += −η·G on parameters base .. base + n − 1 (optimizer request + ideal write)."""
    for j in range(n):
        theta[base + j] += -eta * G[base + j]


@jit
def nibble_table(out, vp, vn):
    """out[4·v + r] = ``vp`` if bit r of the nibble v is set, else ``vn`` (64 entries): eight
    signs are two contiguous loads of four, which LLVM vectorises (a select per lane does
    not)."""
    for v in range(16):
        for r in range(4):
            out[4 * v + r] = vp if (v >> r) & 1 else vn


@jit
def _dot2s(w, words, T, base, ap, ab, n):
    """:func:`hwsim.kernels.mlp._dot2` with θ̃ read from sign words through the nibble table
    ``T`` of ±A (same summation order)."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
        cw = _bits_at(words[k >> _U(6)], words[(k >> _U(6)) + _ONE], k & _U(63))
        t0 = (cw & _U(15)) << _U(2)
        t1 = ((cw >> _U(4)) & _U(15)) << _U(2)
        w0, w1, w2, w3 = w[k], w[k + _U(1)], w[k + _U(2)], w[k + _U(3)]
        w4, w5, w6, w7 = w[k + _U(4)], w[k + _U(5)], w[k + _U(6)], w[k + _U(7)]
        b0 += w0 * ab[j]
        b1 += w1 * ab[j + _U(1)]
        b2 += w2 * ab[j + _U(2)]
        b3 += w3 * ab[j + _U(3)]
        b4 += w4 * ab[j + _U(4)]
        b5 += w5 * ab[j + _U(5)]
        b6 += w6 * ab[j + _U(6)]
        b7 += w7 * ab[j + _U(7)]
        p0 += (w0 + T[t0]) * ap[j]
        p1 += (w1 + T[t0 + _U(1)]) * ap[j + _U(1)]
        p2 += (w2 + T[t0 + _U(2)]) * ap[j + _U(2)]
        p3 += (w3 + T[t0 + _U(3)]) * ap[j + _U(3)]
        p4 += (w4 + T[t1]) * ap[j + _U(4)]
        p5 += (w5 + T[t1 + _U(1)]) * ap[j + _U(5)]
        p6 += (w6 + T[t1 + _U(2)]) * ap[j + _U(6)]
        p7 += (w7 + T[t1 + _U(3)]) * ap[j + _U(7)]
        j += _U(8)
    k = ub + j
    cw = _bits_at(words[k >> _U(6)], words[(k >> _U(6)) + _ONE], k & _U(63))
    while j < un:
        wj = w[ub + j]
        b0 += wj * ab[j]
        p0 += (wj + T[(cw & _ONE) << _U(2)]) * ap[j]
        cw >>= _ONE
        j += _ONE
    return (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
            ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)))


@jit
def _dot2su(w, words, T, pw, R, base, ap, ab, n):
    """:func:`_dot2s` after the update θ += R[...] (the nibble table of the two requests,
    chosen by the previous code's bits ``pw``), in the same pass: each weight is updated,
    stored (rounded to the state dtype) and read back for both sums."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
        q = k >> _U(6)
        sh = k & _U(63)
        cw = _bits_at(words[q], words[q + _ONE], sh)
        pv = _bits_at(pw[q], pw[q + _ONE], sh)
        t0 = (cw & _U(15)) << _U(2)
        t1 = ((cw >> _U(4)) & _U(15)) << _U(2)
        u0 = (pv & _U(15)) << _U(2)
        u1 = ((pv >> _U(4)) & _U(15)) << _U(2)
        w[k] += R[u0]
        w[k + _U(1)] += R[u0 + _U(1)]
        w[k + _U(2)] += R[u0 + _U(2)]
        w[k + _U(3)] += R[u0 + _U(3)]
        w[k + _U(4)] += R[u1]
        w[k + _U(5)] += R[u1 + _U(1)]
        w[k + _U(6)] += R[u1 + _U(2)]
        w[k + _U(7)] += R[u1 + _U(3)]
        w0 = w[k]
        w1 = w[k + _U(1)]
        w2 = w[k + _U(2)]
        w3 = w[k + _U(3)]
        w4 = w[k + _U(4)]
        w5 = w[k + _U(5)]
        w6 = w[k + _U(6)]
        w7 = w[k + _U(7)]
        b0 += w0 * ab[j + _U(0)]
        b1 += w1 * ab[j + _U(1)]
        b2 += w2 * ab[j + _U(2)]
        b3 += w3 * ab[j + _U(3)]
        b4 += w4 * ab[j + _U(4)]
        b5 += w5 * ab[j + _U(5)]
        b6 += w6 * ab[j + _U(6)]
        b7 += w7 * ab[j + _U(7)]
        p0 += (w0 + T[t0]) * ap[j + _U(0)]
        p1 += (w1 + T[t0 + _U(1)]) * ap[j + _U(1)]
        p2 += (w2 + T[t0 + _U(2)]) * ap[j + _U(2)]
        p3 += (w3 + T[t0 + _U(3)]) * ap[j + _U(3)]
        p4 += (w4 + T[t1]) * ap[j + _U(4)]
        p5 += (w5 + T[t1 + _U(1)]) * ap[j + _U(5)]
        p6 += (w6 + T[t1 + _U(2)]) * ap[j + _U(6)]
        p7 += (w7 + T[t1 + _U(3)]) * ap[j + _U(7)]
        j += _U(8)
    k = ub + j
    cw = _bits_at(words[k >> _U(6)], words[(k >> _U(6)) + _ONE], k & _U(63))
    pv = _bits_at(pw[k >> _U(6)], pw[(k >> _U(6)) + _ONE], k & _U(63))
    while j < un:
        w[ub + j] += R[(pv & _ONE) << _U(2)]
        wj = w[ub + j]
        b0 += wj * ab[j]
        p0 += (wj + T[(cw & _ONE) << _U(2)]) * ap[j]
        cw >>= _ONE
        pv >>= _ONE
        j += _ONE
    return (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
            ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)))


@jit
def _dots(w, words, T, base, ap, n):
    """:func:`hwsim.kernels.mlp._dot_pert` with θ̃ from sign words (same order)."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
        cw = _bits_at(words[k >> _U(6)], words[(k >> _U(6)) + _ONE], k & _U(63))
        t0 = (cw & _U(15)) << _U(2)
        t1 = ((cw >> _U(4)) & _U(15)) << _U(2)
        p0 += (w[k] + T[t0]) * ap[j]
        p1 += (w[k + _U(1)] + T[t0 + _U(1)]) * ap[j + _U(1)]
        p2 += (w[k + _U(2)] + T[t0 + _U(2)]) * ap[j + _U(2)]
        p3 += (w[k + _U(3)] + T[t0 + _U(3)]) * ap[j + _U(3)]
        p4 += (w[k + _U(4)] + T[t1]) * ap[j + _U(4)]
        p5 += (w[k + _U(5)] + T[t1 + _U(1)]) * ap[j + _U(5)]
        p6 += (w[k + _U(6)] + T[t1 + _U(2)]) * ap[j + _U(6)]
        p7 += (w[k + _U(7)] + T[t1 + _U(3)]) * ap[j + _U(7)]
        j += _U(8)
    k = ub + j
    cw = _bits_at(words[k >> _U(6)], words[(k >> _U(6)) + _ONE], k & _U(63))
    while j < un:
        p0 += (w[ub + j] + T[(cw & _ONE) << _U(2)]) * ap[j]
        cw >>= _ONE
        j += _ONE
    return ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7))


@jit
def forward_fast(theta, words, T, x, sizes, hidden_act, out_act, buf_p, buf_b, scale, Ap, An,
                 both, mode, pw, R, G, eta):
    """Perturbed (and, with ``both``, baseline) forward pass with the update fused in.

    Each row of each layer first receives its update (``mode``: UPD_NONE, UPD_SIGN from the
    previous code's words ``pw`` and the nibble table ``R`` of the two requests, or UPD_G from ``G``),
    then is read once for both passes. Bit-identical to the optimizer + ideal write followed
    by :func:`hwsim.kernels.mlp.forward2` (or ``forward`` when not ``both``).

    Returns
    -------
    int
        The offset of the output layer in ``buf_p`` (and ``buf_b``).
    """
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1
    out_off = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        kind = out_act if l == n_layers - 1 else hidden_act
        ap = x if in_off < 0 else buf_p[in_off:in_off + nin]
        ab = x if in_off < 0 else buf_b[in_off:in_off + nin]
        bias0 = p + nin * nout
        if mode == UPD_SIGN:  # biases first: they are one short row
            _update_sign(theta, pw, R, bias0, nout)
        elif mode == UPD_G:
            _update_g(theta, G, bias0, nout, eta)
        for o in range(nout):
            base = p + o * nin
            if mode == UPD_G:
                _update_g(theta, G, base, nin, eta)
            elif mode == UPD_SIGN and not both:
                _update_sign(theta, pw, R, base, nin)
            b = bias0 + o
            tb = theta[b]
            pb = T[((words[b >> 6] >> _U(b & 63)) & _ONE) << _U(2)]
            if mode == UPD_SIGN and both:  # the usual case: an update makes C0 stale
                sp, sb = _dot2su(theta, words, T, pw, R, base, ap, ab, nin)
                buf_p[out_off + o] = _act(kind, scale * (sp + (tb + pb)))
                buf_b[out_off + o] = _act(kind, scale * (sb + tb))
            elif both:
                sp, sb = _dot2s(theta, words, T, base, ap, ab, nin)
                buf_p[out_off + o] = _act(kind, scale * (sp + (tb + pb)))
                buf_b[out_off + o] = _act(kind, scale * (sb + tb))
            else:
                sp = _dots(theta, words, T, base, ap, nin)
                buf_p[out_off + o] = _act(kind, scale * (sp + (tb + pb)))
        p = bias0 + nout
        in_off = out_off
        out_off += nout
    return in_off


@jit
def _accumulate_words(G, words, sp, sn, fresh):
    """G (+)= s·θ̃ with θ̃ from the words; ``sp``/``sn`` = s·(+A)/s·(−A); ``fresh``: G was
    just reset, so G = 0.0 + s·θ̃ (the value :func:`hwsim.kernels.integrator.accumulate`
    stores after a reset)."""
    P = G.shape[0]
    for blk in range((P + 63) >> 6):
        cw = words[blk]
        base = blk << 6
        e = min(64, P - base)
        if fresh:
            for j in range(e):
                G[base + j] = 0.0 + (sp if (cw >> _U(j)) & _ONE else sn)
        else:
            for j in range(e):
                G[base + j] += sp if (cw >> _U(j)) & _ONE else sn


@jit
def run_fast(n_steps, p, s, m):
    """:func:`hwsim.kernels.step.run_steps` for the fast-path chip, bit for bit.

    Parameters
    ----------
    n_steps : int
    p : hwsim.kernels.step.Params
    s : hwsim.kernels.step.State
    m : hwsim.kernels.step.Model

    Returns
    -------
    int
        STATUS_OK, or a non-finite status; ``s.driver[1]`` then names the step.
    """
    ck = p.clock
    src = p.source
    clk = s.clock[0]
    cl = s.cost_line[0]
    cnt = s.counters[0]
    stats = m.dev[4]
    sm = m.sense
    theta = s.theta
    G = s.G
    pert = s.applied
    out = s.out
    P = theta.shape[0]
    tau_p = ck.tau_p
    tau_x = ck.tau_x
    tau_theta = ck.tau_theta
    eta = p.optimizer.eta
    inv_d2 = p.integrator.inv_d2
    # ±A rounded to the state dtype, as the code array holds them
    amp = np.empty(2, theta.dtype)
    amp[0] = src.code_amp
    amp[1] = -src.code_amp
    Ap = amp[0]
    An = amp[1]
    T = np.empty(64, theta.dtype)
    nibble_table(T, Ap, An)
    R = np.empty(64)  # the two update requests, by nibble
    g1 = np.empty(1, theta.dtype)  # rounds G to the state dtype
    nblk = (P + 63) >> 6
    cur = np.zeros(nblk + 1, np.uint64)
    prev = np.zeros(nblk + 1, np.uint64)
    n0 = clk.step
    ph_x = n0 % tau_x
    ph_p = n0 % tau_p
    ph_t = n0 % tau_theta
    n_samples = ck.n_samples
    k_next = (n0 + tau_x - 1) // tau_x
    epoch = k_next // n_samples
    pos = k_next - epoch * n_samples
    k_cur = n0 // tau_p
    if ph_p != 0:
        fill_words(cur, src, k_cur, P)  # the code held since the period began
    generated = False
    virtual = False  # True: G = 0.0 + s_prev·θ̃ is held as (s_prev, code words), not in G
    s_prev = 0.0
    X = sm.X
    Y = sm.Y
    sizes = sm.sizes
    kinds = sm.kinds
    buf = sm.buf
    buf_b = sm.buf_b
    scale = sm.scale
    status = STATUS_OK
    for _ in range(n_steps):
        n = clk.step
        if ph_x == 0:
            if clk.order_epoch != epoch:
                shuffle_order(s.order, ck.seed, epoch)
                clk.order_epoch = epoch
            clk.sample = s.order[pos]
            cl.stale = 1
            pos += 1
            if pos == n_samples:
                pos = 0
                epoch += 1
        if ph_p == 0:
            t = prev
            prev = cur
            cur = t
            k_cur = n // tau_p
            fill_words(cur, src, k_cur, P)
            cnt.code_generations += P
            generated = True
            pw = prev
        else:
            pw = cur
        ph_x = ph_x + 1 if ph_x + 1 < tau_x else 0
        ph_p = ph_p + 1 if ph_p + 1 < tau_p else 0
        update_due = ph_t == 0 and n > 0
        ph_t = ph_t + 1 if ph_t + 1 < tau_theta else 0
        mode = UPD_NONE
        rp = 0.0
        rn = 0.0
        fresh = False
        if update_due:
            if eta != 0.0:
                cnt.update_requests += P
                cnt.updates += 1
                stats[ST_UPDATES] += 1
                cl.stale = 1
                if virtual:
                    g1[0] = 0.0 + s_prev * Ap
                    rp = -eta * g1[0]
                    g1[0] = 0.0 + s_prev * An
                    rn = -eta * g1[0]
                    nibble_table(R, rp, rn)
                    mode = UPD_SIGN
                else:
                    mode = UPD_G
            fresh = True
            virtual = False
            clk.updates += 1
        want_base = cl.stale == 1
        c0 = 0.0
        x = X[clk.sample]
        y = Y[clk.sample]
        off = forward_fast(theta, cur, T, x, sizes, kinds[0], kinds[1], buf, buf_b, scale, Ap, An,
                           want_base, mode, pw, R, G, eta)
        c = output_cost(buf, off, y, kinds[1], kinds[2])
        out[0] = c
        count(cnt, p.counters, 1, 1 if want_base else 0)
        if want_base:
            c0 = output_cost(buf_b, off, y, kinds[1], kinds[2])
            out[1] = c0
        if not math.isfinite(c):
            status = STATUS_NONFINITE_COST
            break
        if want_base:
            if not math.isfinite(c0):
                status = STATUS_NONFINITE_BASE
                break
            cl.c0 = c0
            cl.stale = 0
        ct = c - cl.c0
        sc = ct * inv_d2
        if fresh and tau_theta == 1:
            virtual = True  # the next step consumes G whole: keep it as (s, code)
            s_prev = sc
        else:
            _accumulate_words(G, cur, sc * Ap, sc * An, fresh)
        fresh = False
        cnt.cost_broadcasts += 1
        cnt.integrator_ops += P
        cnt.steps += 1
        cl.c = c
        cl.ctilde = ct
        clk.step = n + 1
    # Leave the state run_steps leaves.
    if status != STATUS_OK and fresh:
        for i in range(P):
            G[i] = 0.0
    elif virtual:
        _accumulate_words(G, cur, s_prev * Ap, s_prev * An, True)
    if generated:
        fill_code(pert, src, k_cur)
    if status != STATUS_OK:
        return _fail(s, status, clk.step)
    return STATUS_OK
