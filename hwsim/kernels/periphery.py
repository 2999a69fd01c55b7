"""Array periphery on the inference path: DACs on inputs, ADCs on outputs, neuron variation.

Converters quantise *signals*, never weights (devices.md, "Periphery"): a DAC with range
±inp_bound and resolution inp_res (a fraction of the full range) has step
inp_res·2·inp_bound and 1/inp_res + 1 levels; values beyond the range saturate. The ADC is
the same for out_bound/out_res, after the multiply-accumulate, with additive noise
out_noise·out_bound·ξ before conversion. Each neuron's activation has a fixed gain and offset
drawn once: y = act(g·s + o), g = 1 + gain_dtod·ξ, o = offset_dtod·ξ.

The periphery vector ``per`` (float64) holds, by index: inp_bound, inp_res, inp_noise,
out_bound, out_res, out_noise, seed. A bound of 0 switches that converter off.
"""

import math

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.hashing import STREAM_PERIPHERY, hash_sub, normal_from_bits, stream_key
from hwsim.kernels.mlp import act, output_cost, predict

PER_INP_BOUND, PER_INP_RES, PER_INP_NOISE, PER_OUT_BOUND, PER_OUT_RES, PER_OUT_NOISE, PER_SEED = range(7)
PER_SIZE = 7


@jit
def quantize(x, bound, res):
    """Saturate to ±bound and round to the grid of step res·2·bound (bound 0: pass through).

    NaN passes through (case R2: a converter must not hide a non-finite weight from the
    divergence guard; Numba's math.floor would turn it into a finite integer)."""
    if bound <= 0.0 or x != x:
        return x
    if x > bound:
        x = bound
    elif x < -bound:
        x = -bound
    if res > 0.0:
        step = res * 2.0 * bound
        x = math.floor(x / step + 0.5) * step
        if x > bound:  # the grid may not land exactly on the bound
            x -= step
        elif x < -bound:
            x += step
    return x


@jit
def forward_periph(theta, pert, use_pert, x, sizes, hidden_act, out_act, buf, qbuf, per, gain,
                   offset, counter, sub, scale=1.0, on_nodes=False):
    """:func:`hwsim.kernels.mlp.forward` through the periphery; returns the output offset.

    ``qbuf`` (length sum(sizes[:-1])) receives every layer's DAC-converted inputs, layer by
    layer (what each synapse multiplies: the presynaptic activity of node perturbation);
    ``gain``/``offset`` (length sum(sizes[1:])) are the neurons' fixed variations; noise uses
    coordinates (STREAM_PERIPHERY, counter, converter index, sub). With ``on_nodes`` the
    perturbation ``pert`` (M,) is added to each neuron's analog pre-activation scale·s before
    its ADC (node perturbation, :mod:`.nodes`); else ``pert`` (P,) is added to the weights.
    """
    key = stream_key(np.int64(per[PER_SEED]), STREAM_PERIPHERY)
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1
    out_off = 0
    conv = 0  # running index of converters, for noise coordinates
    q0 = 0  # this layer's inputs in qbuf
    w_pert = use_pert and not on_nodes
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        kind = out_act if l == n_layers - 1 else hidden_act
        for j in range(nin):
            a = x[j] if in_off < 0 else buf[in_off + j]
            if per[PER_INP_NOISE] > 0.0:
                a += per[PER_INP_NOISE] * per[PER_INP_BOUND] * normal_from_bits(
                    hash_sub(key, counter, conv + j, sub))
            qbuf[q0 + j] = quantize(a, per[PER_INP_BOUND], per[PER_INP_RES])
        conv += nin
        bias0 = p + nin * nout
        for o in range(nout):
            s = 0.0
            base = p + o * nin
            if w_pert:
                for j in range(nin):
                    s += (theta[base + j] + pert[base + j]) * qbuf[q0 + j]
                s += theta[bias0 + o] + pert[bias0 + o]
            else:
                for j in range(nin):
                    s += theta[base + j] * qbuf[q0 + j]
                s += theta[bias0 + o]
            if per[PER_OUT_NOISE] > 0.0:
                s += per[PER_OUT_NOISE] * per[PER_OUT_BOUND] * normal_from_bits(
                    hash_sub(key, counter, conv + o, sub))
            z = scale * s
            if use_pert and on_nodes:
                z += pert[out_off + o]
            s = quantize(z, per[PER_OUT_BOUND], per[PER_OUT_RES])
            buf[out_off + o] = act(kind, gain[out_off + o] * s + offset[out_off + o])
        conv += nout
        p = bias0 + nout
        q0 += nin
        in_off = out_off
        out_off += nout
    return in_off


@jit
def evaluate_periph(theta, X, Y, labels, sizes, kinds, buf, qbuf, per, gain, offset, counter, out,
                    scale=1.0):
    """:func:`hwsim.kernels.mlp.evaluate` through the periphery (noise sub-coordinate 2 + i)."""
    n = X.shape[0]
    nout = Y.shape[1]
    cost_sum = 0.0
    correct = 0
    for i in range(n):
        off = forward_periph(theta, theta, False, X[i], sizes, kinds[0], kinds[1], buf, qbuf, per,
                             gain, offset, counter, 2 + i, scale)
        cost_sum += output_cost(buf, off, Y[i], kinds[1], kinds[2])
        correct += predict(buf, off, nout) == labels[i]
    out[0] = cost_sum / n
    out[1] = correct / n
