"""Network topology of the chip: a multilayer perceptron over one flat parameter vector.

Layout of ``theta`` (shared with :mod:`hwsim.kernels.mlp`): layer by layer, the weights
``W_l`` (n_{l+1}, n_l) row-major then the biases ``b_l`` (n_{l+1},). Biases are ordinary
parameters: perturbed and trained like weights. P = sum_l n_{l+1} (n_l + 1)
(mgd.md fact 6: 9 for 2-2-1, h(n+2)+1 for n-h-1).
"""

import math

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.kernels import mlp as _k
from hwsim.kernels._config import jit
from hwsim.kernels import periphery as _per
from hwsim.kernels import sense as _sense
from hwsim.kernels.hashing import STREAM_INIT, STREAM_NEURON, hash4, normal_from_bits, uniform01

ACTIVATIONS = {"sigmoid": _k.SIGMOID, "relu": _k.RELU, "tanh": _k.TANH, "linear": _k.LINEAR,
               "softmax": _k.SOFTMAX}
COSTS = {"mse": _k.MSE, "cross_entropy": _k.CROSS_ENTROPY}


def n_params(sizes) -> int:
    """Number of parameters (weights and biases) of an MLP with layer ``sizes``."""
    return int(sum(sizes[l + 1] * (sizes[l] + 1) for l in range(len(sizes) - 1)))


@jit
def _fill_uniform(out, seed, low, high, scale):
    for i in range(out.shape[0]):
        out[i] = low + (high - low) * uniform01(hash4(seed, STREAM_INIT, 0, i)) * scale[i]


#: Public name of the init fill, shared with :mod:`hwsim.chip.layers`.
fill_uniform = _fill_uniform


@jit
def _neuron_normals_kernel(out, seed):
    for i in range(out.shape[0]):
        out[i] = normal_from_bits(hash4(seed, STREAM_NEURON, 0, i))


def _neuron_normals(seed, n):
    out = np.empty(n)
    _neuron_normals_kernel(out, seed)
    return out


class MLP:
    """A fully connected network as the chip implements it.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths ``[n_in, h_1, ..., n_out]``, at least two entries, each >= 1.
    activation : {"sigmoid", "relu", "tanh"}
        Hidden-layer activation.
    output_activation : {"auto", "sigmoid", "relu", "tanh", "linear", "softmax"}
        "auto" is softmax for cross-entropy, else ``activation``.
    cost : {"mse", "cross_entropy"}
        Per-sample cost: mean over outputs of squared error, or softmax cross-entropy.
    periphery : hwsim.config.ChipConfig or None
        Converters and neuron variation (inp_bound, inp_res, inp_noise, out_bound, out_res,
        out_noise, neuron_gain_dtod, neuron_offset_dtod); None or all zero = ideal periphery.
    seed : int
        Seed of the neuron variation (stream ``neuron``) and converter noise (``periphery``).
    weight_scale : float
        Network weight per device weight unit (> 0): every pre-activation is
        ``weight_scale * (W a + b)``, the digital output scaling that maps a bounded device
        range onto the weights a task needs.

    Raises
    ------
    ConfigError
        Unknown names or inconsistent choices.
    """

    def __init__(self, sizes, activation="sigmoid", output_activation="auto", cost="mse", *,
                 periphery=None, seed=0, weight_scale=1.0):
        if any(isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer))
               for n in sizes):
            raise ConfigError(f"network.sizes = {list(sizes)}: layer widths must be integers")
        self.sizes = np.asarray(sizes, dtype=np.int64)
        if self.sizes.ndim != 1 or len(self.sizes) < 2 or (self.sizes < 1).any():
            raise ConfigError(f"network.sizes = {list(sizes)}: need >= 2 layer widths, each >= 1")
        for key, val, allowed in (("activation", activation, ("sigmoid", "relu", "tanh")),
                                  ("cost", cost, tuple(COSTS))):
            if val not in allowed:
                raise ConfigError(f"network.{key} = {val!r}: allowed: {', '.join(allowed)}")
        if output_activation == "auto":
            output_activation = "softmax" if cost == "cross_entropy" else activation
        if output_activation not in ACTIVATIONS:
            raise ConfigError(f"network.output_activation = {output_activation!r}: "
                              f"allowed: auto, {', '.join(ACTIVATIONS)}")
        if cost == "cross_entropy" and output_activation != "softmax":
            raise ConfigError("network.cost = 'cross_entropy' needs output_activation 'softmax'")
        self.activation = activation
        self.output_activation = output_activation
        self.cost = cost
        self.kinds = np.array([ACTIVATIONS[activation], ACTIVATIONS[output_activation],
                               COSTS[cost]], dtype=np.int64)
        self.n_params = n_params(self.sizes)
        if not (np.isfinite(weight_scale) and weight_scale > 0):
            raise ConfigError(f"chip.weight_scale = {weight_scale!r}: must be a finite number > 0")
        self.weight_scale = float(weight_scale)
        self._fk = np.array([self.weight_scale])
        self.periphery = periphery if periphery is not None and periphery.has_periphery() else None
        if self.periphery is not None:
            c = self.periphery
            self._per = np.zeros(_per.PER_SIZE)
            self._per[[_per.PER_INP_BOUND, _per.PER_INP_RES, _per.PER_INP_NOISE, _per.PER_OUT_BOUND,
                       _per.PER_OUT_RES, _per.PER_OUT_NOISE, _per.PER_SEED]] = (
                c.inp_bound, c.inp_res, c.inp_noise, c.out_bound, c.out_res, c.out_noise, seed)
            n_neurons = int(self.sizes[1:].sum())
            xi = _neuron_normals(seed, 2 * n_neurons)
            self.neuron_gain = 1.0 + c.neuron_gain_dtod * xi[:n_neurons]
            self.neuron_offset = c.neuron_offset_dtod * xi[n_neurons:]

    def per_inference_counts(self):
        """(MACs, device reads, DAC conversions, ADC conversions) of one inference.

        MACs are weight multiply-accumulates Σ n_l·n_{l+1}; every parameter's device is read
        once; a DAC converts each layer's inputs and an ADC each pre-activation, when on.
        """
        s = [int(v) for v in self.sizes]
        macs = sum(s[l] * s[l + 1] for l in range(len(s) - 1))
        c = self.periphery
        dacs = sum(s[:-1]) if c is not None and c.inp_bound > 0 else 0
        adcs = sum(s[1:]) if c is not None and c.out_bound > 0 else 0
        return tuple(np.int64(v) for v in (macs, self.n_params, dacs, adcs))

    def layer_slices(self, l):
        """Slices of ``theta`` holding layer ``l``'s weights (reshape to (n_out, n_in)) and biases."""
        off = n_params(self.sizes[: l + 1]) if l > 0 else 0
        nin, nout = int(self.sizes[l]), int(self.sizes[l + 1])
        return slice(off, off + nin * nout), slice(off + nin * nout, off + nin * nout + nout)

    def describe_param(self, i: int) -> str:
        """Human name of parameter ``i``, e.g. ``layer0.W[3, 5]`` or ``layer1.b[2]``."""
        for l in range(len(self.sizes) - 1):
            w, b = self.layer_slices(l)
            if w.start <= i < w.stop:
                r, c = divmod(i - w.start, int(self.sizes[l]))
                return f"layer{l}.W[{r}, {c}]"
            if b.start <= i < b.stop:
                return f"layer{l}.b[{i - b.start}]"
        raise IndexError(i)

    def init_params(self, seed: int, scheme="xavier", low=0.0, high=1.0, dtype=np.float64):
        """Initial parameters from the counter hash (stream ``init``).

        "xavier": weights U[-a, a), a = sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010),
        biases 0. "uniform": every parameter U[low, high) (mgd.md fact 7 uses U[0, 1)).
        Returns an array (P,) of ``dtype``.
        """
        theta = np.empty(self.n_params, dtype=np.float64)
        if scheme == "uniform":
            _fill_uniform(theta, seed, low, high, np.ones(self.n_params))
        elif scheme == "xavier":
            scale = np.zeros(self.n_params)
            a = np.zeros(self.n_params)
            for l in range(len(self.sizes) - 1):
                w, _ = self.layer_slices(l)
                scale[w] = 1.0
                a[w] = math.sqrt(6.0 / (self.sizes[l] + self.sizes[l + 1]))
            _fill_uniform(theta, seed, 0.0, 1.0, scale)
            theta = np.where(scale > 0, (2.0 * theta - 1.0) * a, 0.0)
        else:
            raise ConfigError(f"network.init = {scheme!r}: allowed: xavier, uniform")
        return theta.astype(dtype)

    def sense_model(self, X, Y):
        """The sense stage's model (:class:`hwsim.kernels.sense.SenseModel`) on data (X, Y).

        Raises
        ------
        ConfigError
            X, Y do not fit ``sizes``.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        if X.shape[1] != self.sizes[0] or Y.shape[1] != self.sizes[-1]:
            n_in, n_out = X.shape[1], Y.shape[1]
            raise ConfigError(f"network.sizes = {self.sizes.tolist()}: the task has {n_in} "
                              f"input{'s' * (n_in != 1)} and {n_out} output{'s' * (n_out != 1)}: "
                              f"set network.sizes = [{n_in}, ..., {n_out}] (the default is "
                              "[64, 32, 10], for digits)")
        n_act = int(self.sizes[1:].sum())
        f0 = np.zeros(0)
        if self.periphery is not None:
            return _sense.SenseModel(np.int64(_sense.PERIPHERY), X, Y, self.sizes, self.kinds,
                                     np.zeros(n_act), f0, np.zeros(int(self.sizes[:-1].sum())),
                                     self._per, self.neuron_gain, self.neuron_offset,
                                     self.weight_scale, f0)
        return _sense.SenseModel(np.int64(_sense.MLP), X, Y, self.sizes, self.kinds,
                                 np.zeros(n_act), np.zeros(n_act), f0, f0, f0, f0,
                                 self.weight_scale, f0)

    def evaluate(self, theta, X, Y, labels, counter=0):
        """Mean cost and accuracy of the unperturbed chip on (X, Y, labels): ``(cost, acc)``.

        ``counter`` (the hardware step of the evaluation) sets the converter-noise draws.
        """
        m = self.sense_model(X, Y)
        labels = np.asarray(labels, dtype=np.int64)
        out = np.zeros(2)
        if self.periphery is None:
            _k.evaluate(theta, m.X, m.Y, labels, m.sizes, m.kinds, m.buf, out, self.weight_scale)
        else:
            _per.evaluate_periph(theta, m.X, m.Y, labels, m.sizes, m.kinds, m.buf, m.qbuf, m.per,
                                 m.gain, m.offset, counter, out, self.weight_scale)
        return float(out[0]), float(out[1])
