"""The exact gradient of the emulated network: backpropagation through the chip's own forward pass.

What the chip computes for one sample (:func:`hwsim.kernels.mlp.forward`, and through the
periphery :func:`hwsim.kernels.periphery.forward_periph`), layer by layer:

    q = DAC(a)                      the layer's inputs, quantised (identity without a DAC)
    z = weight_scale·(W·q + b)      the node pre-activation (where node perturbation adds ñ)
    u = ADC(z)                      quantised (identity without an ADC)
    a' = act(g·u + o)               neuron gain g and offset o (1 and 0 without variation)

and the cost of the output layer (mean squared error over outputs, or softmax
cross-entropy; softmax outputs are logits normalised in the cost). This module
differentiates exactly that, with NumPy in float64, for one sample or a weighted batch
mean, giving ∂C/∂θ for every weight and bias (the weights as the network reads them: pass
the devices' values, ``chip.theta``) and ∂C/∂z for every node pre-activation.

Choices at the non-differentiable parts (docs/algorithms.md, "Gradient diagnostics"):

- **Clipping** (a converter's saturation at ±bound): derivative 1 strictly inside the range,
  0 outside it (and at the bound itself).
- **Rounding** (a converter with resolution > 0): ``quantizer = "exact"`` uses its true
  derivative, 0 almost everywhere, so nothing upstream of a quantising converter gets a
  gradient (the emulated network's gradient is exactly that: a small change of θ changes no
  output); ``"straight_through"`` passes the gradient through the rounding as if it were the
  identity inside the range (Bengio et al. 2013, arXiv 1308.3432), the gradient of the
  unquantised network with the same clipping.
- **Noise** (DAC/ADC noise, device read noise): off. The gradient is that of the noiseless
  network; the devices' stored values are the weights.
- **ReLU** at 0: derivative 0 (the chip's relu returns 0 for s ≤ 0).
"""

from collections import namedtuple

import numpy as np

from hwsim.exceptions import ConfigError

QUANTIZER_GRADIENTS = ("exact", "straight_through")

#: ``cost`` float, the (weighted mean) cost; ``grad`` (P,) ∂C/∂θ of that mean; ``node_grad``
#: (M,) ∂C/∂z of that mean, nodes layer by layer as in node perturbation; ``dz`` (N, M)
#: each sample's own ∂C_i/∂z (unweighted); ``costs`` (N,) each sample's cost.
Gradient = namedtuple("Gradient", "cost grad node_grad dz costs")


def _converter(x, bound, res, quantizer):
    """A converter on ``x`` (any shape) and its derivative: (value, d value / d x)."""
    if bound <= 0.0:
        return x, np.ones_like(x)
    v = np.clip(x, -bound, bound)
    d = ((x > -bound) & (x < bound)).astype(np.float64)
    if res > 0.0:
        step = res * 2.0 * bound
        v = np.floor(v / step + 0.5) * step
        v = np.where(v > bound, v - step, v)
        v = np.where(v < -bound, v + step, v)
        if quantizer == "exact":
            d = np.zeros_like(x)
    return v, d


def _act(kind, v):
    """Activation and its derivative (kind names as :data:`hwsim.chip.network.ACTIVATIONS`)."""
    if kind == "sigmoid":
        y = 0.5 * (1.0 + np.tanh(0.5 * v))  # = 1/(1 + e^-v), without overflow
        return y, y * (1.0 - y)
    if kind == "relu":
        return np.where(v > 0.0, v, 0.0), (v > 0.0).astype(np.float64)
    if kind == "tanh":
        y = np.tanh(v)
        return y, 1.0 - y * y
    return v, np.ones_like(v)  # linear, and softmax's logits (normalised in the cost)


def _cost(out_act, cost, v, T):
    """Per-sample costs (N,) and ∂C_i/∂(output layer before softmax) (N, n_out)."""
    n = T.shape[1]
    if out_act == "softmax":
        s = v - v.max(axis=1, keepdims=True)
        lse = np.log(np.exp(s).sum(axis=1, keepdims=True))
        logp = s - lse
        p = np.exp(logp)
        if cost == "cross_entropy":
            return -(T * logp).sum(axis=1), p * T.sum(axis=1, keepdims=True) - T
        dp = 2.0 * (p - T) / n
        return ((p - T) ** 2).mean(axis=1), p * (dp - (p * dp).sum(axis=1, keepdims=True))
    if cost == "cross_entropy":
        raise ConfigError("network.cost = 'cross_entropy' needs output_activation 'softmax'")
    return ((v - T) ** 2).mean(axis=1), 2.0 * (v - T) / n


def backprop(net, theta, X, Y, *, weights=None, quantizer="exact"):
    """∂C/∂θ and ∂C/∂z of the emulated network ``net`` at ``theta``, by backpropagation.

    Parameters
    ----------
    net : hwsim.chip.network.MLP
        The network: sizes, activations, cost, ``weight_scale`` and periphery (converter
        bounds and resolutions, neuron gain and offset; converter noise is ignored).
    theta : array (P,)
        The weights as the network reads them (weight units; ``chip.theta`` on devices).
    X, Y : arrays (N, n_in), (N, n_out), or (n_in,), (n_out,) for one sample
        Inputs and targets.
    weights : array (N,) or None
        Weight of each sample's cost in C = Σᵢ wᵢ·Cᵢ (None: the mean, wᵢ = 1/N).
    quantizer : {"exact", "straight_through"}
        The derivative of a converter's rounding (module docstring).

    Returns
    -------
    Gradient
        ``cost``, ``grad`` (P,), ``node_grad`` (M,), ``dz`` (N, M), ``costs`` (N,).

    Raises
    ------
    ConfigError
        Shapes that do not fit the network, or an unknown ``quantizer``.

    References
    ----------
    Rumelhart, Hinton & Williams, Nature 323, 533 (1986); the forward pass is
    :func:`hwsim.kernels.periphery.forward_periph`.
    """
    if quantizer not in QUANTIZER_GRADIENTS:
        raise ConfigError(f"diagnostics.quantizer_gradient = {quantizer!r}: allowed: "
                          f"{', '.join(QUANTIZER_GRADIENTS)}")
    if getattr(net, "rows", None) is not None:  # a hwsim.chip.layers.LayerNet
        raise ConfigError("backprop: network.layers with conv2d or pooling: the exact "
                          "gradient is computed for dense stacks (network.sizes) only")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
    theta = np.asarray(theta, dtype=np.float64)
    sizes = [int(s) for s in net.sizes]
    if theta.shape != (net.n_params,) or X.shape[1] != sizes[0] or Y.shape != (len(X), sizes[-1]):
        raise ConfigError(f"backprop: theta {theta.shape}, X {X.shape}, Y {Y.shape} do not fit "
                          f"network.sizes = {sizes} ({net.n_params} parameters)")
    N = len(X)
    w = np.full(N, 1.0 / N) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (N,):
        raise ConfigError(f"backprop: weights has shape {w.shape}; need ({N},)")
    per = net.periphery
    ib, ir, ob, orr = ((per.inp_bound, per.inp_res, per.out_bound, per.out_res)
                       if per is not None else (0.0, 0.0, 0.0, 0.0))
    M = sum(sizes[1:])
    gain = net.neuron_gain if per is not None else np.ones(M)
    offset = net.neuron_offset if per is not None else np.zeros(M)
    scale = net.weight_scale
    L = len(sizes) - 1
    # Forward, keeping what the backward pass needs.
    a, tape, p, k = X, [], 0, 0
    for l in range(L):
        nin, nout = sizes[l], sizes[l + 1]
        W = theta[p:p + nin * nout].reshape(nout, nin)
        b = theta[p + nin * nout:p + nin * nout + nout]
        q, dq = _converter(a, ib, ir, quantizer)
        z = scale * (q @ W.T + b)
        u, du = _converter(z, ob, orr, quantizer)
        g = gain[k:k + nout]
        kind = net.output_activation if l == L - 1 else net.activation
        a, da = _act(kind, g * u + offset[k:k + nout])
        tape.append((p, W, q, dq, du, g, da))
        p += nin * nout + nout
        k += nout
    costs, d = _cost(net.output_activation, net.cost, a, Y)
    if net.output_activation != "softmax":
        d = d * tape[-1][6]
    # Backward: d holds ∂C_i/∂v for v = g·u + o of the current layer, per sample.
    grad = np.zeros(net.n_params)
    dz_layers = []
    for l in range(L - 1, -1, -1):
        p, W, q, dq, du, g, da = tape[l]
        if l < L - 1:
            d = d * da
        dz = d * g * du  # ∂C_i/∂z
        dz_layers.append(dz)
        nin, nout = sizes[l], sizes[l + 1]
        wdz = dz * w[:, None]
        grad[p:p + nin * nout] = scale * (wdz.T @ q).ravel()
        grad[p + nin * nout:p + nin * nout + nout] = scale * wdz.sum(axis=0)
        d = scale * (dz @ W) * dq  # ∂C_i/∂a of the layer's inputs
    dz_all = np.concatenate(dz_layers[::-1], axis=1)
    return Gradient(float(w @ costs), grad, w @ dz_all, dz_all, costs)
