"""Node perturbation: the sense and integrator stages when θ̃ is applied to the neurons.

With ``target = "nodes"`` the code perturbs each neuron's pre-activation (M = Σ n_{l+1}
nodes, hidden and output): z_i = scale·(Σ_j W_ij a_j + b_i) + ñ_i. Each node correlates the
broadcast C̃ with its own code, g_i = C̃·ñ_i/Δ² (≈ ∂C/∂z_i / M for ± codes), and each synapse
W_ij integrates g_i·x_j, x_j its own presynaptic activity in the same (perturbed) inference;
each bias integrates g_i. Through the periphery the perturbation is injected on each
neuron's analog pre-activation before its ADC, and x_j is the DAC-converted input the synapse
multiplies. Williams, Mach. Learn. 8, 229 (1992); Flower & Jabri, NIPS 5 (1993);
Oripov et al., APL Mach. Learn. (2025). Parameter layout as :mod:`.mlp`.

With a minibatch of B samples every sample has its own nodes: node j of sample b is
perturbed by code entry b·M + j (M·B perturbed quantities), and each synapse integrates
Σ_b g_{b,i}·x_{b,j}, whose expectation is the batch-mean weight gradient over M·B
(docs/algorithms.md, "Minibatches with node perturbation"). A code shared by the batch would
only estimate the batch-mean ∂C/∂z_i, which has lost the per-sample correlation with x_j.
"""

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.devices import read_weights
from hwsim.kernels.mlp import act, dot, output_cost
from hwsim.kernels.periphery import forward_periph
from hwsim.kernels.sense import BATCH_SUB, PERIPHERY

_U = np.uint64


@jit
def forward_nodes(theta, npert, use_pert, x, sizes, hidden_act, out_act, buf, scale):
    """One inference with node perturbation ``npert`` (M,) on the pre-activations (when
    ``use_pert``); every layer's activations land in ``buf`` (M,). Returns the output offset."""
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1
    out_off = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        kind = out_act if l == n_layers - 1 else hidden_act
        a_in = x if in_off < 0 else buf[in_off:in_off + nin]
        bias0 = p + nin * nout
        for o in range(nout):
            z = scale * (dot(theta, p + o * nin, a_in, nin) + theta[bias0 + o])
            if use_pert:
                z += npert[out_off + o]
            buf[out_off + o] = act(kind, z)
        p = bias0 + nout
        in_off = out_off
        out_off += nout
    return in_off


@jit
def node_pass(m, theta, npert, use_pert, sample, counter, sub):
    """One inference with (``use_pert``) or without the node perturbation ``npert`` (M,);
    returns C. The perturbed pass leaves its activations in ``m.buf`` (and, through the
    periphery, its DAC-converted layer inputs in ``m.qbuf``); an MLP's unperturbed pass uses
    ``m.buf_b``. ``counter``, ``sub`` key the converter noise (perturbed sub 0, baseline 1)."""
    x = m.X[sample]
    y = m.Y[sample]
    if m.kind == PERIPHERY:
        off = forward_periph(theta, npert, use_pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf,
                             m.qbuf, m.per, m.gain, m.offset, counter, sub, m.scale, True)
        return output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])
    buf = m.buf if use_pert else m.buf_b
    off = forward_nodes(theta, npert, use_pert, x, m.sizes, m.kinds[0], m.kinds[1], buf,
                        m.scale)
    return output_cost(buf, off, y, m.kinds[1], m.kinds[2])


@jit
def node_pass_batch(m, dev, noisy, theta, rbuf, npert, use_pert, counter, sub):
    """The batch-mean C over the B samples of ``m.batch`` with per-sample node codes: node j
    of sample b is perturbed by ``npert[b·M + j]`` (``npert`` (M·B,), when ``use_pert``).

    Sample b is one inference of its own: it reads the weights through the devices into
    ``rbuf`` when ``noisy`` and converts, both at noise sub-coordinate ``sub`` + b·BATCH_SUB
    of step ``counter``. A perturbed pass leaves sample b's activations in
    ``m.buf[b·M:(b+1)·M]`` (through the periphery its DAC outputs in ``m.qbuf[b·Q:(b+1)·Q]``,
    Q = Σ sizes[:-1]), what :func:`integrate_nodes_batch` correlates; an MLP's unperturbed
    pass uses ``m.buf_b``.
    """
    nb = m.batch.shape[0]
    M = npert.shape[0] // nb
    Q = m.qbuf.shape[0] // nb
    periph = m.kind == PERIPHERY
    c = 0.0
    for b in range(nb):
        k = sub + b * BATCH_SUB
        w = theta
        if noisy:
            read_weights(dev, theta, rbuf, counter, k)
            w = rbuf
        i = m.batch[b]
        nps = npert[b * M:(b + 1) * M]
        if periph:
            buf = m.buf[b * M:(b + 1) * M]
            off = forward_periph(w, nps, use_pert, m.X[i], m.sizes, m.kinds[0], m.kinds[1], buf,
                                 m.qbuf[b * Q:(b + 1) * Q], m.per, m.gain, m.offset, counter, k,
                                 m.scale, True)
        else:
            buf = m.buf[b * M:(b + 1) * M] if use_pert else m.buf_b
            off = forward_nodes(w, nps, use_pert, m.X[i], m.sizes, m.kinds[0], m.kinds[1], buf,
                                m.scale)
        c += output_cost(buf, off, m.Y[i], m.kinds[1], m.kinds[2])
    return c / nb


@jit
def measure_nodes(m, theta, npert, sample, want_base, out, counter):
    """C with the node perturbation into ``out[0]`` and, if ``want_base``, the unperturbed C
    into ``out[1]`` (computed first, so the sense buffers keep the perturbed pass)."""
    if want_base:
        out[1] = node_pass(m, theta, npert, False, sample, counter, 1)
    out[0] = node_pass(m, theta, npert, True, sample, counter, 0)


@jit
def integrate_nodes(G, s, ref, m, sample, analog, keep, new):
    """Each synapse integrates (s·ref_i)·x_j, each bias s·ref_i (discrete: G += ·; analog:
    G ← keep·G + new·(·)). x_j is the presynaptic activity of the last perturbed pass: the
    sample's input and ``m.buf`` for an MLP, the DAC-converted inputs ``m.qbuf`` through the
    periphery."""
    sizes = m.sizes
    x = m.X[sample]
    buf = m.buf
    periph = m.kind == PERIPHERY
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1
    out_off = 0
    q0 = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        if periph:
            a_in = m.qbuf[q0:q0 + nin]
        else:
            a_in = x if in_off < 0 else buf[in_off:in_off + nin]
        bias0 = p + nin * nout
        for o in range(nout):
            g = s * ref[out_off + o]
            base = _U(p + o * nin)
            if analog:
                for jj in range(nin):
                    j = _U(jj)
                    G[base + j] = keep * G[base + j] + new * (g * a_in[j])
                G[bias0 + o] = keep * G[bias0 + o] + new * g
            else:
                for jj in range(nin):
                    j = _U(jj)
                    G[base + j] += g * a_in[j]
                G[bias0 + o] += g
        p = bias0 + nout
        q0 += nin
        in_off = out_off
        out_off += nout


@jit
def integrate_nodes_batch(G, s, ref, m, analog, keep, new):
    """:func:`integrate_nodes` for a minibatch with per-sample node codes (``ref`` (M·B,)):
    each synapse's input u = Σ_b (s·ref[b·M + i])·x_{b,j}, summed over b in batch order from
    0, x_{b,j} its presynaptic activity in sample b's last perturbed inference (the bias: 1);
    then G += u (discrete) or G ← keep·G + new·u (analog)."""
    sizes = m.sizes
    nb = m.batch.shape[0]
    M = ref.shape[0] // nb
    Q = m.qbuf.shape[0] // nb
    buf = m.buf
    periph = m.kind == PERIPHERY
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1
    out_off = 0
    q0 = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        bias0 = p + nin * nout
        for o in range(nout):
            node = out_off + o
            base = p + o * nin
            for j in range(nin):
                u = 0.0
                for b in range(nb):
                    if periph:
                        a = m.qbuf[b * Q + q0 + j]
                    elif in_off < 0:
                        a = m.X[m.batch[b], j]
                    else:
                        a = buf[b * M + in_off + j]
                    u += (s * ref[b * M + node]) * a
                if analog:
                    G[base + j] = keep * G[base + j] + new * u
                else:
                    G[base + j] += u
            u = 0.0
            for b in range(nb):
                u += s * ref[b * M + node]
            if analog:
                G[bias0 + o] = keep * G[bias0 + o] + new * u
            else:
                G[bias0 + o] += u
        p = bias0 + nout
        q0 += nin
        in_off = out_off
        out_off += nout


def presynaptic_layout(sizes):
    """For each parameter: the index of its postsynaptic node (M nodes, layer by layer) and of
    its presynaptic activity in ``concat(x, activations)`` (-1 for a bias, whose input is 1).

    Returns two int64 arrays (P,), (P,).
    """
    node, pre = [], []
    n_off, a_off = 0, 0  # node offset; offset of this layer's inputs in concat(x, acts)
    for l in range(len(sizes) - 1):
        nin, nout = int(sizes[l]), int(sizes[l + 1])
        for o in range(nout):
            node += [n_off + o] * nin
            pre += list(range(a_off, a_off + nin))
        node += list(range(n_off, n_off + nout))
        pre += [-1] * nout
        a_off += nin
        n_off += nout
    return np.array(node, np.int64), np.array(pre, np.int64)
