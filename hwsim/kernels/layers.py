"""Batched forward passes of a layer table: dense, conv2d (im2col + BLAS), max/avg pooling.

A network is an int64 *layer table* ``rows`` (one row per layer, columns ``C_*`` below;
built by :mod:`hwsim.chip.layers`) and one scratch array ``work`` (float64 or float32)
whose regions the table's offsets name. Row 0 is the header: the input region (``C_AOFF``,
width ``C_NOUT``), the im2col region (``C_COLS``), the two copies of the weights in the
scratch dtype (``C_WB`` θ, ``C_WP`` θ + θ̃, each of ``C_NP`` entries) and the chunk
``C_CHUNK``: samples are run ``C_CHUNK`` at a time, so the scratch does not grow with the
batch. Rows 1.. are layers;
their outputs, (chunk, C, H, W) sample-major, are at ``C_AOFF`` (pass 0) and
``C_AOFF + chunk·C_NOUT`` (pass 1). Flatten is not a row: (C, H, W) row-major already is the
flat vector.

Parameter layout in ``theta`` (offset ``C_POFF``): dense W (n_out, n_in) row-major then
b (n_out,); conv2d K (out_c, in_c, kh, kw) row-major then b (out_c,). Pre-activations are
``scale·(W a + b)`` as in :mod:`hwsim.kernels.mlp`, whose ``act`` and ``output_cost`` are
reused. Conv is im2col, cols[(c·kh + i)·kw + j, s·OH·OW + y·OW + x] = in[s, c, y·st − pad + i,
x·st − pad + j] (0 outside), then one matrix product K·cols per pass (``np.dot``, BLAS);
the first layer's cols are shared by both passes. OpenBLAS's dgemm splits the output, never
the inner sum, among threads, so the bits do not depend on the BLAS thread count (tested in
a subprocess, tests/test_layers_kernels.py).

Precision: every kernel is generic in the dtype of ``work`` (float64, or float32 with
``sim.dtype = "float32"``, :class:`hwsim.chip.layers.LayerNet`): inputs, weights as read,
columns and activations are stored in it (float32: sgemm), the bias, scale and activation
are evaluated in float64 and rounded on store, and the costs are summed in float64.
"""

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.mlp import act, output_cost, predict

# Layer types.
T_INPUT, T_DENSE, T_CONV, T_MAXPOOL, T_AVGPOOL = 0, 1, 2, 3, 4
# Columns of a row: type, activation code, input (C, H, W), output (C, H, W), kernel or
# window (kh, kw), stride, padding, parameter offset in theta, flat input and output widths,
# output offset in work; header only: cols, θ and θ + θ̃ offsets, P, chunk.
(C_TYPE, C_ACT, C_IC, C_IH, C_IW, C_OC, C_OH, C_OW, C_KH, C_KW, C_ST, C_PAD, C_POFF,
 C_NIN, C_NOUT, C_AOFF, C_COLS, C_WB, C_WP, C_NP, C_CHUNK) = range(21)
N_COLS = 21


@jit
def _im2col(work, src, nb, r, cols):
    ic, ih, iw, oh, ow = r[C_IC], r[C_IH], r[C_IW], r[C_OH], r[C_OW]
    kh, kw, st, pad = r[C_KH], r[C_KW], r[C_ST], r[C_PAD]
    nin = ic * ih * iw
    ncol = nb * oh * ow
    for c in range(ic):
        for i in range(kh):
            for j in range(kw):
                row = cols + ((c * kh + i) * kw + j) * ncol
                # the output columns x whose input column x·st − pad + j lies inside [0, iw)
                x0 = min(ow, max(0, (pad - j + st - 1) // st))
                x1 = max(x0, min(ow, (iw - 1 + pad - j) // st + 1))
                for s in range(nb):
                    base = src + s * nin + c * ih * iw
                    for y in range(oh):
                        yy = y * st - pad + i
                        o = row + (s * oh + y) * ow
                        if yy < 0 or yy >= ih:
                            for x in range(ow):
                                work[o + x] = 0.0
                            continue
                        for x in range(x0):
                            work[o + x] = 0.0
                        a = base + yy * iw - pad + j
                        if st == 1:
                            for x in range(x0, x1):  # contiguous copy
                                work[o + x] = work[a + x]
                        else:
                            for x in range(x0, x1):
                                work[o + x] = work[a + x * st]
                        for x in range(x1, ow):
                            work[o + x] = 0.0


@jit
def _conv(work, w, src, dst, nb, r, cols, make_cols, scale, npert, noff, use_np):
    oc, ohw = r[C_OC], r[C_OH] * r[C_OW]
    k = r[C_IC] * r[C_KH] * r[C_KW]
    if make_cols:
        _im2col(work, src, nb, r, cols)
    p = r[C_POFF]
    wm = w[p:p + oc * k].reshape((oc, k))
    g = np.dot(wm, work[cols:cols + k * nb * ohw].reshape((k, nb * ohw)))
    kind = r[C_ACT]
    for o in range(oc):
        b = w[p + oc * k + o]
        for s in range(nb):
            d = dst + (s * oc + o) * ohw
            for q in range(ohw):
                z = scale * (g[o, s * ohw + q] + b)
                if use_np:  # node perturbation (one sample): node noff + (o, y, x)
                    z += npert[noff + o * ohw + q]
                work[d + q] = act(kind, z)


@jit
def _dense(work, w, src, dst, nb, r, scale, npert, noff, use_np):
    nin, nout, p = r[C_NIN], r[C_NOUT], r[C_POFF]
    wm = w[p:p + nout * nin].reshape((nout, nin))
    g = np.dot(work[src:src + nb * nin].reshape((nb, nin)), wm.T)
    kind = r[C_ACT]
    for s in range(nb):
        for o in range(nout):
            z = scale * (g[s, o] + w[p + nout * nin + o])
            if use_np:
                z += npert[noff + o]
            work[dst + s * nout + o] = act(kind, z)


@jit
def _pool(work, src, dst, nb, r):
    c_, ih, iw, oh, ow = r[C_IC], r[C_IH], r[C_IW], r[C_OH], r[C_OW]
    kh, kw, st = r[C_KH], r[C_KW], r[C_ST]
    inv = 1.0 / (kh * kw)
    if r[C_TYPE] == T_MAXPOOL:  # two loops, so the inner one has no type test
        for s in range(nb):
            for c in range(c_):
                base = src + (s * c_ + c) * ih * iw
                out = dst + (s * c_ + c) * oh * ow
                for y in range(oh):
                    for x in range(ow):
                        first = base + (y * st) * iw + x * st
                        acc = work[first]
                        for i in range(kh):
                            for j in range(kw):
                                v = work[first + i * iw + j]
                                if v > acc or v != v:  # NaN propagates (divergence guard)
                                    acc = v
                        work[out + y * ow + x] = acc
        return
    for s in range(nb):
        for c in range(c_):
            base = src + (s * c_ + c) * ih * iw
            out = dst + (s * c_ + c) * oh * ow
            for y in range(oh):
                for x in range(ow):
                    first = base + (y * st) * iw + x * st
                    acc = 0.0
                    for i in range(kh):
                        for j in range(kw):
                            acc += work[first + i * iw + j]
                    work[out + y * ow + x] = acc * inv


@jit
def _run_chunk(rows, work, nb, npass, w0, w1, scale):
    """Both passes (weights ``w0``, then ``w1`` when ``npass`` = 2) of ``nb`` samples whose
    inputs are at the header's input region; returns the output layer's pass-0 offset."""
    return _run_layers(rows, work, nb, npass, w0, w1, scale, w0, 0, False)


@jit
def _run_layers(rows, work, nb, npass, w0, w1, scale, npert, first, use_np):
    """:func:`_run_chunk`, passes ``first`` .. ``npass − 1``; with ``use_np`` the node
    perturbation ``npert`` (M,) is added to every dense and conv pre-activation (one
    sample; nodes layer by layer, (C, H, W) row-major)."""
    h = rows[0]
    chunk = h[C_CHUNK]
    cols = h[C_COLS]
    noff = 0
    for l in range(1, rows.shape[0]):
        r = rows[l]
        prev = rows[l - 1]
        for ps in range(first, npass):
            w = w0 if ps == 0 else w1
            src = prev[C_AOFF] + (0 if l == 1 else ps * chunk * prev[C_NOUT])
            dst = r[C_AOFF] + ps * chunk * r[C_NOUT]
            t = r[C_TYPE]
            if t == T_CONV:
                _conv(work, w, src, dst, nb, r, cols, l > 1 or ps == first, scale, npert, noff,
                      use_np)
            elif t == T_DENSE:
                _dense(work, w, src, dst, nb, r, scale, npert, noff, use_np)
            else:
                _pool(work, src, dst, nb, r)
        if r[C_TYPE] == T_CONV or r[C_TYPE] == T_DENSE:
            noff += r[C_NOUT]
    return rows[rows.shape[0] - 1, C_AOFF]


@jit
def net_node_pass(rows, work, theta, npert, use_pert, X, Y, sample, kinds, scale):
    """C of one sample through θ, with (``use_pert``: pass slot 0, whose activations the
    synapses then integrate) or without (slot 1) the node perturbation ``npert`` (M,) on the
    pre-activations (node perturbation; :func:`net_integrate_nodes`)."""
    wb, wp = _load_weights(rows, work, theta, theta, False)
    _gather(rows, work, X, np.zeros(0, np.int64), 0, 1, sample)
    ps = 0 if use_pert else 1
    off = _run_layers(rows, work, 1, ps + 1, wb, wb, scale, npert, ps, use_pert)
    return output_cost(work, off + ps * rows[0, C_CHUNK] * Y.shape[1], Y[sample], kinds[1],
                       kinds[2])


@jit
def net_integrate_nodes(G, s, ref, rows, work, analog, keep, new):
    """Node perturbation's synapse integration on a layer network: node i correlates
    g_i = s·ref_i; a dense weight W[o, j] integrates g_o·a_j, a conv weight K[o, c, i, j]
    the sum over the output positions of its node grid, Σ_{y,x} g[o, y, x]·a_pad[c, y·st + i,
    x·st + j], a bias the sum of its nodes' g; a the layer input of the last perturbed pass
    (slot 0). Discrete: G += ·; analog: G ← keep·G + new·(·)."""
    noff = 0
    for l in range(1, rows.shape[0]):
        r = rows[l]
        t = r[C_TYPE]
        if t != T_CONV and t != T_DENSE:
            continue
        src = rows[l - 1, C_AOFF]
        p = r[C_POFF]
        oc, ohw = r[C_OC], r[C_OH] * r[C_OW]
        k = r[C_IC] * r[C_KH] * r[C_KW]
        if t == T_CONV:
            _im2col(work, src, 1, r, rows[0, C_COLS])
        cols = rows[0, C_COLS]
        nin = r[C_NIN]
        for o in range(oc):
            gb = 0.0
            for q in range(ohw):
                gb += s * ref[noff + o * ohw + q]
            for j in range(k):
                v = 0.0
                if t == T_CONV:
                    for q in range(ohw):
                        v += (s * ref[noff + o * ohw + q]) * work[cols + j * ohw + q]
                else:
                    v = gb * work[src + j] if j < nin else 0.0
                i = p + o * k + j
                G[i] = keep * G[i] + new * v if analog else G[i] + v
            i = p + oc * k + o
            G[i] = keep * G[i] + new * gb if analog else G[i] + gb
        noff += r[C_NOUT]


@jit
def _load_weights(rows, work, theta, pert, with_pert):
    """θ (and θ + θ̃) into the header's float64 regions; returns them as views."""
    h = rows[0]
    n = h[C_NP]
    wb = work[h[C_WB]:h[C_WB] + n]
    wp = work[h[C_WP]:h[C_WP] + n]
    for i in range(n):
        wb[i] = theta[i]
        if with_pert:
            wp[i] = theta[i] + pert[i]
    return wb, wp


@jit
def _gather(rows, work, X, idx, start, nb, sample):
    h = rows[0]
    nin = h[C_NOUT]
    a = h[C_AOFF]
    for s in range(nb):
        x = X[sample if idx.shape[0] == 0 else idx[start + s]]
        for j in range(nin):
            work[a + s * nin + j] = x[j]


@jit
def net_measure(rows, work, theta, pert, X, Y, idx, sample, want_base, kinds, scale, out):
    """Mean costs of the samples ``idx`` (or the one ``sample`` when ``idx`` is empty):
    ``out[0]`` = (1/B)·Σ_b C(θ + θ̃; x_b), and ``out[1]`` = (1/B)·Σ_b C(θ; x_b) when
    ``want_base``, summed in batch order. ``kinds`` = (hidden act, output act, cost) codes
    of :mod:`hwsim.kernels.mlp` (only [1] and [2] are read: the rows carry the rest)."""
    wb, wp = _load_weights(rows, work, theta, pert, True)
    n = idx.shape[0] if idx.shape[0] > 0 else 1
    chunk = rows[0, C_CHUNK]
    nout = Y.shape[1]
    npass = 2 if want_base else 1
    c = 0.0
    c0 = 0.0
    start = 0
    while start < n:
        nb = min(chunk, n - start)
        _gather(rows, work, X, idx, start, nb, sample)
        off = _run_chunk(rows, work, nb, npass, wp, wb, scale)
        for s in range(nb):
            y = Y[sample if idx.shape[0] == 0 else idx[start + s]]
            c += output_cost(work, off + s * nout, y, kinds[1], kinds[2])
            if want_base:
                c0 += output_cost(work, off + (chunk + s) * nout, y, kinds[1], kinds[2])
        start += nb
    out[0] = c / n
    if want_base:
        out[1] = c0 / n


@jit
def net_outputs(rows, work, theta, X, scale, outputs):
    """Output-layer activations (N, n_out) of the unperturbed network (logits for softmax)
    into ``outputs``, ``C_CHUNK`` samples at a time."""
    wb, wp = _load_weights(rows, work, theta, theta, False)
    n = X.shape[0]
    chunk = rows[0, C_CHUNK]
    nout = outputs.shape[1]
    idx = np.arange(n)
    start = 0
    while start < n:
        nb = min(chunk, n - start)
        _gather(rows, work, X, idx, start, nb, 0)
        off = _run_chunk(rows, work, nb, 1, wb, wb, scale)
        for s in range(nb):
            for k in range(nout):
                outputs[start + s, k] = work[off + s * nout + k]
        start += nb


@jit
def net_evaluate(rows, work, theta, X, Y, labels, kinds, scale, out):
    """Mean cost ``out[0]`` and accuracy ``out[1]`` of the unperturbed network on (X, Y,
    labels), in chunks (accuracy as :func:`hwsim.kernels.mlp.predict`)."""
    wb, wp = _load_weights(rows, work, theta, theta, False)
    n = X.shape[0]
    chunk = rows[0, C_CHUNK]
    nout = Y.shape[1]
    idx = np.arange(n)
    cost = 0.0
    correct = 0
    start = 0
    while start < n:
        nb = min(chunk, n - start)
        _gather(rows, work, X, idx, start, nb, 0)
        off = _run_chunk(rows, work, nb, 1, wb, wb, scale)
        for s in range(nb):
            cost += output_cost(work, off + s * nout, Y[start + s], kinds[1], kinds[2])
            correct += predict(work, off + s * nout, nout) == labels[start + s]
        start += nb
    out[0] = cost / n
    out[1] = correct / n
