"""MLP forward passes and costs on flat parameter vectors (the chip's inference path).

Parameter layout (shared with :mod:`hwsim.chip.network`): for each layer l the weights
``W_l`` of shape ``(n_{l+1}, n_l)`` row-major, then the biases ``b_l`` of shape
``(n_{l+1},)``. Dot products use eight independent partial sums in a fixed order: that is
deterministic (no fastmath reassociation) yet breaks the add-latency chain.
"""

import math

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.hashing import hash_sub

_U = np.uint64

# Activation and cost codes; names live in hwsim.chip.network.
SIGMOID, RELU, TANH, LINEAR, SOFTMAX = 0, 1, 2, 3, 4
MSE, CROSS_ENTROPY = 0, 1


@jit
def act(kind, s):
    if kind == SIGMOID:
        if s >= 0.0:
            return 1.0 / (1.0 + math.exp(-s))
        e = math.exp(s)
        return e / (1.0 + e)
    if kind == RELU:
        return 0.0 if s <= 0.0 else s  # NaN stays NaN, so the divergence guard sees it
    if kind == TANH:
        return math.tanh(s)
    return s  # LINEAR, and SOFTMAX's logits (normalised in _output_cost)


@jit
def dot(w, base, a, n):
    """sum_j w[base + j] * a[j], eight partial sums in a fixed order.

    Offsets are unsigned: with signed ones Numba emits wraparound checks that keep LLVM from
    vectorising the eight independent sums (measured 1.7x on 784 inputs, same bits)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
        s0 += w[k] * a[j]
        s1 += w[k + _U(1)] * a[j + _U(1)]
        s2 += w[k + _U(2)] * a[j + _U(2)]
        s3 += w[k + _U(3)] * a[j + _U(3)]
        s4 += w[k + _U(4)] * a[j + _U(4)]
        s5 += w[k + _U(5)] * a[j + _U(5)]
        s6 += w[k + _U(6)] * a[j + _U(6)]
        s7 += w[k + _U(7)] * a[j + _U(7)]
        j += _U(8)
    while j < un:
        s0 += w[ub + j] * a[j]
        j += _U(1)
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@jit
def _dot_pert(w, p, base, a, n):
    """sum_j (w[base + j] + p[base + j]) * a[j], same summation order as :func:`dot`."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
        s0 += (w[k] + p[k]) * a[j]
        s1 += (w[k + _U(1)] + p[k + _U(1)]) * a[j + _U(1)]
        s2 += (w[k + _U(2)] + p[k + _U(2)]) * a[j + _U(2)]
        s3 += (w[k + _U(3)] + p[k + _U(3)]) * a[j + _U(3)]
        s4 += (w[k + _U(4)] + p[k + _U(4)]) * a[j + _U(4)]
        s5 += (w[k + _U(5)] + p[k + _U(5)]) * a[j + _U(5)]
        s6 += (w[k + _U(6)] + p[k + _U(6)]) * a[j + _U(6)]
        s7 += (w[k + _U(7)] + p[k + _U(7)]) * a[j + _U(7)]
        j += _U(8)
    while j < un:
        s0 += (w[ub + j] + p[ub + j]) * a[j]
        j += _U(1)
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))


@jit
def forward(theta, pert, use_pert, x, sizes, hidden_act, out_act, buf, scale=1.0):
    """Run one sample through the MLP; returns the offset of the output layer in ``buf``.

    ``buf`` (length ``sum(sizes[1:])``) receives every layer's activations; the output layer
    holds pre-softmax logits when ``out_act`` is SOFTMAX. With ``use_pert`` the weights are
    ``theta + pert`` (the perturbation is never written into ``theta``). Pre-activations are
    ``scale * (W a + b)``: ``scale`` maps device weight units to network weights.
    """
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1  # -1: the input is x
    out_off = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        kind = out_act if l == n_layers - 1 else hidden_act
        a_in = x if in_off < 0 else buf[in_off:in_off + nin]
        bias0 = p + nin * nout
        for o in range(nout):
            if use_pert:
                s = _dot_pert(theta, pert, p + o * nin, a_in, nin) + (theta[bias0 + o] + pert[bias0 + o])
            else:
                s = dot(theta, p + o * nin, a_in, nin) + theta[bias0 + o]
            buf[out_off + o] = act(kind, scale * s)
        p = bias0 + nout
        in_off = out_off
        out_off += nout
    return in_off


@jit
def _dot2(w, p, base, ap, ab, n):
    """Both sums of :func:`_dot_pert` (inputs ``ap``) and :func:`dot` (inputs ``ab``) in one
    pass over ``w``, each with exactly the summation order of its single-pass twin."""
    p0 = p1 = p2 = p3 = p4 = p5 = p6 = p7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    ub = _U(base)
    un = _U(n)
    m = un - (un & _U(7))
    j = _U(0)
    while j < m:
        k = ub + j
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
        p0 += (w0 + p[k]) * ap[j]
        p1 += (w1 + p[k + _U(1)]) * ap[j + _U(1)]
        p2 += (w2 + p[k + _U(2)]) * ap[j + _U(2)]
        p3 += (w3 + p[k + _U(3)]) * ap[j + _U(3)]
        p4 += (w4 + p[k + _U(4)]) * ap[j + _U(4)]
        p5 += (w5 + p[k + _U(5)]) * ap[j + _U(5)]
        p6 += (w6 + p[k + _U(6)]) * ap[j + _U(6)]
        p7 += (w7 + p[k + _U(7)]) * ap[j + _U(7)]
        j += _U(8)
    while j < un:
        b0 += w[ub + j] * ab[j]
        p0 += (w[ub + j] + p[ub + j]) * ap[j]
        j += _U(1)
    return (((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)),
            ((b0 + b1) + (b2 + b3)) + ((b4 + b5) + (b6 + b7)))


@jit
def forward2(theta, pert, x, sizes, hidden_act, out_act, buf_p, buf_b, scale=1.0):
    """:func:`forward` with and without the perturbation in one pass over ``theta``.

    Bit-identical to two calls of :func:`forward`; returns the output offset (same in both
    buffers).
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
        for o in range(nout):
            sp, sb = _dot2(theta, pert, p + o * nin, ap, ab, nin)
            buf_p[out_off + o] = act(kind, scale * (sp + (theta[bias0 + o] + pert[bias0 + o])))
            buf_b[out_off + o] = act(kind, scale * (sb + theta[bias0 + o]))
        p = bias0 + nout
        in_off = out_off
        out_off += nout
    return in_off


#: Sub-coordinate of per-neuron read noise on STREAM_READ_NOISE (per-weight reads use 0, 1).
SUB_NEURON = 2


@jit
def _normal_pair(bits):
    """Two independent standard normals from 64 random bits (both Box-Muller outputs of
    :func:`hwsim.kernels.hashing.normal_from_bits`'s two 32-bit halves)."""
    u1 = ((bits >> _U(32)) + 0.5) * (1.0 / 4294967296.0)
    u2 = (bits & _U(0xFFFFFFFF)) * (1.0 / 4294967296.0)
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.cos(2.0 * math.pi * u2), r * math.sin(2.0 * math.pi * u2)


@jit
def _norm1(a, b, n):
    """(‖ā‖², ‖b̄‖², ⟨ā, d⟩, ‖d‖²) for ā = (a, 1), b̄ = (b, 1), d = b̄ − ā, of two length-n
    vectors. The difference is summed directly, so a tiny d (a tiny perturbation) keeps its
    relative precision."""
    aa = 1.0
    bb = 1.0
    ad = 0.0
    dd = 0.0
    for j in range(n):
        d = b[j] - a[j]
        aa += a[j] * a[j]
        bb += b[j] * b[j]
        ad += a[j] * d
        dd += d * d
    return aa, bb, ad, dd


@jit
def forward_read_noise(theta, pert, x, sizes, hidden_act, out_act, buf_p, buf_b, scale,
                       want_base, sigma, frozen, key, counter, sub=SUB_NEURON):
    """:func:`forward2` (``forward`` without ``want_base``) through weights read with additive
    Gaussian noise σ·ξ per weight and bias, drawn as one normal per neuron and pass.

    Σⱼ(wᵢⱼ + σξᵢⱼ)xⱼ + (bᵢ + σξᵢ) = Σⱼwᵢⱼxⱼ + bᵢ + σ‖(x, 1)‖ζᵢ with ζᵢ ~ N(0, 1): given the
    layer's input, this is exactly the distribution of per-weight read noise, for P normals
    fewer. Independent reads (``frozen`` = 0) draw ζ apart for the two passes; noise frozen
    per step is the same ξ on both passes' different inputs, so (ζ_p, ζ_b) get the
    correlation ρ = ⟨x̄_p, x̄_b⟩/(‖x̄_p‖‖x̄_b‖), x̄ = (x, 1), drawn as the conditional law of
    the baseline's noise from the difference x̄_b − x̄_p (the same input gives exactly the
    same noise, case D12). Both normals of a neuron come
    from one hash at STREAM_READ_NOISE coordinates (``counter``, neuron, ``sub``): SUB_NEURON
    for one sample, SUB_NEURON + b·BATCH_SUB for sample b of a minibatch (each inference of
    a batch reads the array anew; only with independent reads, ``frozen`` = 0).

    Returns
    -------
    int
        The output layer's offset in ``buf_p`` (and ``buf_b``).
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
        aa, bb, ad, dd = _norm1(ap, ab, nin)
        na = math.sqrt(aa)
        nb = math.sqrt(bb)
        # Frozen noise: the baseline's noise σ·⟨ξ, b̄⟩ given the perturbed pass's σ·⟨ξ, ā⟩ = σ·na·ζa
        # is σ·(⟨ā, b̄⟩/na·ζa + ‖b̄⊥‖·ζ'), b̄⊥ = d − (⟨ā, d⟩/‖ā‖²)·ā: from d, so the same input
        # on both passes gives exactly the same noise.
        a_part = (aa + ad) / na
        perp = math.sqrt(max(0.0, dd - ad * ad / aa))
        bias0 = p + nin * nout
        for o in range(nout):
            neuron = out_off + o
            za, zb = _normal_pair(hash_sub(key, counter, neuron, sub))
            if want_base:
                sp, sb = _dot2(theta, pert, p + o * nin, ap, ab, nin)
                noise_b = sigma * (a_part * za + perp * zb) if frozen else sigma * nb * zb
                buf_b[out_off + o] = act(kind, scale * (sb + theta[bias0 + o] + noise_b))
            else:
                sp = _dot_pert(theta, pert, p + o * nin, ap, nin)
            buf_p[out_off + o] = act(kind, scale * (sp + (theta[bias0 + o] + pert[bias0 + o])
                                                     + sigma * na * za))
        p = bias0 + nout
        in_off = out_off
        out_off += nout
    return in_off


@jit
def output_cost(buf, off, y, out_act, cost):
    """Cost of one sample from the output layer ``buf[off:off+n_out]`` against target ``y``.

    MSE is the mean over outputs of (y_k - t_k)^2; cross-entropy is -sum_k t_k log softmax_k,
    computed from logits with the log-sum-exp shift.
    """
    n = y.shape[0]
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
                c -= y[k] * (buf[off + k] - lse)
            return c
        c = 0.0
        for k in range(n):
            d = math.exp(buf[off + k] - lse) - y[k]
            c += d * d
        return c / n
    if cost == CROSS_ENTROPY:  # validated away; kept total for safety
        c = 0.0
        for k in range(n):
            c -= y[k] * math.log(max(buf[off + k], 1e-300))
        return c
    c = 0.0
    for k in range(n):
        d = buf[off + k] - y[k]
        c += d * d
    return c / n


@jit
def predict(buf, off, nout):
    """Predicted class: threshold y > 0.5 for one output (mgd.md pitfalls), else argmax."""
    if nout == 1:
        return 1 if buf[off] > 0.5 else 0
    pred = 0
    for k in range(1, nout):
        if buf[off + k] > buf[off + pred]:
            pred = k
    return pred


@jit
def evaluate(theta, X, Y, labels, sizes, kinds, buf, out, scale=1.0):
    """Mean cost and accuracy of the unperturbed network on a dataset.

    ``X`` (N, n_in), ``Y`` (N, n_out) targets, ``labels`` (N,) int class. Accuracy is argmax
    for several outputs and threshold (y > 0.5) for one output. Writes ``out[0]`` = mean
    cost, ``out[1]`` = accuracy.
    """
    n = X.shape[0]
    nout = Y.shape[1]
    cost_sum = 0.0
    correct = 0
    for i in range(n):
        off = forward(theta, theta, False, X[i], sizes, kinds[0], kinds[1], buf, scale)
        cost_sum += output_cost(buf, off, Y[i], kinds[1], kinds[2])
        correct += predict(buf, off, nout) == labels[i]
    out[0] = cost_sum / n
    out[1] = correct / n
