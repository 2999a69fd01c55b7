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
    net : hwsim.chip.network.MLP or hwsim.chip.layers.LayerNet
        The network (a LayerNet: conv2d, pooling, dense layers, no periphery; ∂C/∂z then
        holds every dense and conv pre-activation, layer by layer, (C, H, W) row-major): sizes, activations, cost, ``weight_scale`` and periphery (converter
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
    if getattr(net, "shapes", None) is not None:  # a hwsim.chip.layers.LayerNet
        return _layer_backprop(net, theta, X, Y, w)
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


def _windows(a, k, st, pad):
    """Index arrays and the (N, C, OH, OW, k, k) windows of a (N, C, H, W) zero-padded by
    ``pad``, step ``st``: windows[n, c, y, x, i, j] = a_pad[n, c, y·st + i, x·st + j]."""
    if pad:
        a = np.pad(a, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (a.shape[2] - k) // st + 1, (a.shape[3] - k) // st + 1
    i = (np.arange(oh) * st)[:, None] + np.arange(k)[None, :]
    j = (np.arange(ow) * st)[:, None] + np.arange(k)[None, :]
    idx = (slice(None), slice(None), i[:, None, :, None], j[None, :, None, :])
    return a[idx], idx


def _unwindow(dwin, shape, idx, pad):
    """Adjoint of :func:`_windows`: sum the window gradients back onto the (unpadded) input."""
    n, c, h, w = shape
    g = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    np.add.at(g, idx, dwin)
    return g[:, :, pad:pad + h, pad:pad + w]


def _layer_backprop(net, theta, X, Y, w):
    """:func:`backprop` of a :class:`hwsim.chip.layers.LayerNet` (dense, conv2d, max/avg
    pooling, flatten; no periphery): im2col forward with a tape, then the adjoints. Max
    pooling routes the gradient to the first maximum of each window (the chip's choice)."""
    N, scale, last = len(X), net.weight_scale, len(net.shapes) - 1
    a = X.reshape((N,) + tuple(net.input_shape)) if len(net.input_shape) == 3 else X
    tape = []
    for l, s in enumerate(net.shapes):
        t, ws, bs = s.spec.type, *net.layer_slices(l)
        if t == "flatten":
            tape.append((t, a.shape))
            a = a.reshape(N, -1)
            continue
        if t in ("maxpool", "avgpool"):
            k = s.spec.size
            win, idx = _windows(a, k, s.spec.resolved_stride, 0)
            flat = win.reshape(win.shape[:4] + (k * k,))
            arg = flat.argmax(axis=-1) if t == "maxpool" else None
            tape.append((t, a.shape, idx, arg, k))
            a = (np.take_along_axis(flat, arg[..., None], -1)[..., 0] if t == "maxpool" else
                 flat.mean(axis=-1))
            continue
        b = theta[bs]
        if t == "dense":
            W = theta[ws].reshape(s.n_b, -1)
            cols, z = a, scale * (a @ W.T + b)
            idx = None
        else:
            k, pad, oc = s.spec.kernel, s.spec.padding, s.spec.channels
            win, idx = _windows(a, k, s.spec.resolved_stride, pad)
            cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, a.shape[1] * k * k)
            W = theta[ws].reshape(oc, -1)
            z = (scale * (cols @ W.T + b)).reshape(N, win.shape[2], win.shape[3], oc)
            z = z.transpose(0, 3, 1, 2)
        kind = net.output_activation if l == last else s.spec.activation or net.activation
        tape.append((t, a.shape, idx, cols, W, ws, bs, s))
        a, da = _act(kind, z)
        tape[-1] += (da,)
    costs, d = _cost(net.output_activation, net.cost, a, Y)
    if net.output_activation != "softmax":
        d = d * tape[-1][-1]
    grad, dz_layers = np.zeros(net.n_params), []
    for l in range(last, -1, -1):
        e = tape[l]
        t = e[0]
        if t == "flatten":
            d = d.reshape(e[1])
            continue
        if t in ("maxpool", "avgpool"):
            _, shape, idx, arg, k = e
            if t == "maxpool":
                dflat = np.zeros(d.shape + (k * k,))
                np.put_along_axis(dflat, arg[..., None], d[..., None], -1)
            else:
                dflat = np.repeat(d[..., None] / (k * k), k * k, axis=-1)
            d = _unwindow(dflat.reshape(d.shape + (k, k)), shape, idx, 0)
            continue
        _, shape, idx, cols, W, ws, bs, s, da = e
        dz = d if l == last else d * da  # ∂C_i/∂z
        dz_layers.append(dz.reshape(N, -1))
        if t == "dense":
            wdz = dz * w[:, None]
            grad[ws] = scale * (wdz.T @ cols).ravel()
            grad[bs] = scale * wdz.sum(axis=0)
            d = scale * (dz @ W)
            continue
        dz2 = dz.transpose(0, 2, 3, 1).reshape(-1, W.shape[0])  # (N·OH·OW, out_c)
        wdz = dz2 * np.repeat(w, dz.shape[2] * dz.shape[3])[:, None]
        grad[ws] = scale * (wdz.T @ cols).ravel()
        grad[bs] = scale * wdz.sum(axis=0)
        k = s.spec.kernel
        dcols = (scale * (dz2 @ W)).reshape(N, dz.shape[2], dz.shape[3], shape[1], k, k)
        d = _unwindow(dcols.transpose(0, 3, 1, 2, 4, 5), shape, idx, s.spec.padding)
    dz_all = np.concatenate(dz_layers[::-1], axis=1)
    return Gradient(float(w @ costs), grad, w @ dz_all, dz_all, costs)
