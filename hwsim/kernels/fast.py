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
- the update is applied inside the dot-product loop that next reads the weight (τθ = 1),
  or row by row just before (from G, τθ > 1), so θ makes one trip through the cache per
  step, shared by the perturbed and baseline passes;
- nothing is reference-counted per step: no array slices or reassignments in the loop, one
  activation array, and the per-step helpers are compiled without Numba's reference
  counting (each count is an atomic operation, and they were a third of a 2-2-1 step).

Dot products keep the summation order of :mod:`hwsim.kernels.mlp` (eight partial sums over
unsigned offsets, the remainder into the first), so every path gives the same bits. At the
end of a call (or at a non-finite cost) the state is what ``run_steps`` leaves: ``applied``
holds the current code and ``G`` the integrators, so checkpoints and the general path
continue seamlessly.
"""

import math

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.clocks import shuffle_order
from hwsim.kernels.codes import fill_code
from hwsim.kernels.devices import ST_UPDATES
from hwsim.kernels.fast_words import (
    ONE64, U64, UPD_G, UPD_NONE, UPD_SIGN, borrow, dot2s, dot2su, dots, fill_words, nibble_table,
    update_g, update_sign,
)
from hwsim.kernels.mlp import CROSS_ENTROPY, SOFTMAX, act
from hwsim.kernels.sense import count
from hwsim.kernels.step import STATUS_NONFINITE_BASE, STATUS_NONFINITE_COST, STATUS_OK, fail


@borrow
def output_cost_flat(buf, off, Y, yo, n, out_act, cost):
    """:func:`hwsim.kernels.mlp.output_cost` with the target ``Y[yo : yo + n]`` of a flat
    array (no per-step slice, so no reference count), the same arithmetic."""
    if out_act == SOFTMAX:
        mx = buf[off]
        for k in range(1, n):
            if buf[off + k] > mx:
                mx = buf[off + k]
        z = 0.0
        for k in range(n):
            z += math.exp(buf[off + k] - mx)
        lse = mx + math.log(z)
        if cost == CROSS_ENTROPY:
            c = 0.0
            for k in range(n):
                c -= Y[yo + k] * (buf[off + k] - lse)
            return c
        c = 0.0
        for k in range(n):
            d = math.exp(buf[off + k] - lse) - Y[yo + k]
            c += d * d
        return c / n
    if cost == CROSS_ENTROPY:
        c = 0.0
        for k in range(n):
            c -= Y[yo + k] * math.log(max(buf[off + k], 1e-300))
        return c
    c = 0.0
    for k in range(n):
        d = buf[off + k] - Y[yo + k]
        c += d * d
    return c / n


@borrow
def forward_fast(theta, A, n_act, sizes, hidden_act, out_act, scale, wd, wo, T, both, mode,
                 po, R, G, eta):
    """Perturbed (and, with ``both``, baseline) forward pass with the update fused in.

    ``A`` holds the input at [0, n_in), then the perturbed activations of every layer, then
    (from n_in + n_act) the baseline ones. The code is the sign words ``wd[wo ...]`` read
    through the nibble table ``T`` of ±A. Each row first receives its update (``mode``:
    UPD_NONE; UPD_SIGN, the previous code's words at ``po`` choosing from the nibble table
    ``R`` of the two requests; UPD_G, −η·G), then is read once for both passes.
    Bit-identical to the optimizer + ideal write, then :func:`hwsim.kernels.mlp.forward2`
    (``forward`` when not ``both``). One activation array and no array chosen by a branch:
    either would cost atomic reference counts per layer.

    Returns
    -------
    int
        The offset of the perturbed output layer in ``A`` (the baseline's is + n_act).
    """
    n_layers = sizes.shape[0] - 1
    n_in = sizes[0]
    p = 0
    ia = 0  # inputs of this layer, perturbed and baseline
    ib = 0
    oa = n_in  # outputs
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        kind = out_act if l == n_layers - 1 else hidden_act
        bias0 = p + nin * nout
        if mode == UPD_SIGN:  # biases first: they are one short row
            update_sign(theta, bias0, nout, wd, po, R)
        elif mode == UPD_G:
            update_g(theta, G, bias0, nout, eta)
        for o in range(nout):
            base = p + o * nin
            if mode == UPD_G:
                update_g(theta, G, base, nin, eta)
            elif mode == UPD_SIGN and not both:
                update_sign(theta, base, nin, wd, po, R)
            b = bias0 + o
            tb = theta[b]
            pb = T[((wd[wo + (b >> 6)] >> U64(b & 63)) & ONE64) << U64(2)]
            if mode == UPD_SIGN and both:  # the usual case: an update makes C0 stale
                sp, sb = dot2su(theta, base, wd, wo, po, T, R, A, ia, ib, nin)
            elif both:
                sp, sb = dot2s(theta, base, wd, wo, T, A, ia, ib, nin)
            else:
                sb = 0.0
                sp = dots(theta, base, wd, wo, T, A, ia, nin)
            A[oa + o] = act(kind, scale * (sp + (tb + pb)))
            if both:
                A[oa + n_act + o] = act(kind, scale * (sb + tb))
        p = bias0 + nout
        ia = oa
        ib = oa + n_act
        oa += nout
    return ia


@jit
def _accumulate_words(G, wd, wo, S, fresh):
    """G (+)= s·θ̃ with θ̃ from the words at ``wo``; ``S`` = [s·(−A), s·(+A)]; ``fresh``: G
    was just reset, so G = 0.0 + s·θ̃ (what :func:`hwsim.kernels.integrator.accumulate`
    stores after a reset)."""
    P = G.shape[0]
    for i in range(P):
        bit = (wd[wo + (i >> 6)] >> U64(i & 63)) & ONE64
        if fresh:
            G[i] = 0.0 + S[bit]
        else:
            G[i] += S[bit]


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
    # No array variable is (re)assigned inside the step loop: each assignment would cost an
    # atomic reference count, which at 2-2-1 is a large share of a step.
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
    order = s.order
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
    S = np.empty(2)  # s·(−A), s·(+A)
    g1 = np.empty(1, theta.dtype)  # rounds G to the state dtype
    nw = ((P + 63) >> 6) + 1
    wd = np.zeros(2 * nw, np.uint64)  # two codes' words: current at cur, previous at the other
    cur = 0
    X = sm.X
    Xf = X.reshape(X.size)
    n_in = X.shape[1]
    Yf = sm.Y.reshape(sm.Y.size)
    n_out = sm.Y.shape[1]
    sizes = sm.sizes
    hidden_act = sm.kinds[0]
    out_act = sm.kinds[1]
    cost = sm.kinds[2]
    n_act = sm.buf.shape[0]
    A = np.zeros(n_in + 2 * n_act)  # input, perturbed and baseline activations
    scale = sm.scale
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
        fill_words(wd, cur, src, k_cur, P)  # the code held since the period began
    generated = False
    virtual = False  # True: G = 0.0 + s_prev·θ̃ is held as (s_prev, code words), not in G
    s_prev = 0.0
    fresh = False
    status = STATUS_OK
    for _ in range(n_steps):
        n = clk.step
        if ph_x == 0:
            if clk.order_epoch != epoch:
                shuffle_order(order, ck.seed, epoch)
                clk.order_epoch = epoch
            clk.sample = order[pos]
            cl.stale = 1
            pos += 1
            if pos == n_samples:
                pos = 0
                epoch += 1
        if ph_p == 0:
            po = cur
            cur = nw - cur
            k_cur = n // tau_p
            fill_words(wd, cur, src, k_cur, P)
            cnt.code_generations += P
            generated = True
        else:
            po = cur
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
                cnt.updates_sent += 1
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
        smp = clk.sample
        xo = smp * n_in
        for j in range(n_in):
            A[j] = Xf[xo + j]
        off = forward_fast(theta, A, n_act, sizes, hidden_act, out_act, scale, wd, cur, T,
                           want_base, mode, po, R, G, eta)
        c = output_cost_flat(A, off, Yf, smp * n_out, n_out, out_act, cost)
        out[0] = c
        count(cnt, p.counters, 1, 1 if want_base else 0)
        if want_base:
            c0 = output_cost_flat(A, off + n_act, Yf, smp * n_out, n_out, out_act, cost)
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
            S[0] = sc * An
            S[1] = sc * Ap
            _accumulate_words(G, wd, cur, S, fresh)
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
        S[0] = s_prev * An
        S[1] = s_prev * Ap
        _accumulate_words(G, wd, cur, S, True)
    if generated:
        fill_code(pert, src, k_cur)
    if status != STATUS_OK:
        return fail(s, status, clk.step)
    return STATUS_OK
