"""Node perturbation: the sense and integrator stages when θ̃ is applied to the neurons.

With ``target = "nodes"`` the code perturbs each neuron's pre-activation (M = Σ n_{l+1}
nodes, hidden and output): z_i = scale·(Σ_j W_ij a_j + b_i) + ñ_i. Each node correlates the
broadcast C̃ with its own code, g_i = C̃·ñ_i/Δ² (≈ ∂C/∂z_i / M for ± codes), and each synapse
W_ij integrates g_i·x_j, x_j its own presynaptic activity in the same (perturbed) inference;
each bias integrates g_i. Williams, Mach. Learn. 8, 229 (1992); Flower & Jabri, NIPS 5 (1993);
Oripov et al., APL Mach. Learn. (2025). Parameter layout as :mod:`.mlp`.
"""

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.mlp import act, dot, output_cost

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
def measure_nodes(m, theta, npert, sample, want_base, out):
    """C with the node perturbation into ``out[0]`` (activations kept in ``m.buf``) and, if
    ``want_base``, the unperturbed C into ``out[1]`` (activations in ``m.buf_b``)."""
    x = m.X[sample]
    y = m.Y[sample]
    if want_base:
        off = forward_nodes(theta, npert, False, x, m.sizes, m.kinds[0], m.kinds[1], m.buf_b,
                            m.scale)
        out[1] = output_cost(m.buf_b, off, y, m.kinds[1], m.kinds[2])
    off = forward_nodes(theta, npert, True, x, m.sizes, m.kinds[0], m.kinds[1], m.buf, m.scale)
    out[0] = output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])


@jit
def integrate_nodes(G, s, ref, x, buf, sizes, analog, keep, new):
    """Each synapse integrates (s·ref_i)·x_j, each bias s·ref_i (discrete: G += ·; analog:
    G ← keep·G + new·(·)). ``x`` the input and ``buf`` the perturbed pass's activations."""
    n_layers = sizes.shape[0] - 1
    p = 0
    in_off = -1
    out_off = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
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
