"""Networks of layers (dense, conv2d, pooling, flatten): shapes, θ layout and the chip's view.

:func:`infer_shapes` checks a ``[[network.layers]]`` list against an input shape and gives
every layer's output shape; :class:`LayerNet` is the network the chip runs (the same
interface as :class:`hwsim.chip.network.MLP`), and :func:`build_network` picks between
them: a list of dense layers only is the MLP of the same widths (same θ layout, same bits).

θ layout, layer by layer in order: dense W (n_out, n_in) row-major then b (n_out,); conv2d
kernel (out_c, in_c, k, k) row-major then b (out_c,); pools and flatten have none. A conv
layer's output is (out_c, ⌊(H + 2·pad − k)/stride⌋ + 1, same for W); a pool's
(C, ⌊(H − size)/stride⌋ + 1, …). The forward kernels are :mod:`hwsim.kernels.layers`.
"""

import math
from dataclasses import dataclass

import numpy as np

from hwsim.chip.network import ACTIVATIONS, COSTS, MLP, fill_uniform
from hwsim.exceptions import ConfigError
from hwsim.kernels import layers as _kl
from hwsim.kernels import sense as _sense
from hwsim.sections.layers import LayerConfig

__all__ = ["LayerShape", "LayerNet", "infer_shapes", "build_network", "dense_only",
           "io_widths", "crossbar_widths", "check_layer_run", "CHUNK"]

#: Samples per chunk of the batched forward pass (the scratch holds this many).
CHUNK = 256
#: Input shapes of the standard dataset files (used before the data are loaded).
TASK_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (3, 32, 32),
               "digits": (8, 8)}


@dataclass(frozen=True)
class LayerShape:
    """One layer after shape inference: its spec, input and output shapes (tuples), and
    its number of weights and biases."""

    spec: LayerConfig
    index: int
    in_shape: tuple
    out_shape: tuple
    n_w: int
    n_b: int


def _bad(i, key, value, why):
    return ConfigError(f"network.layers[{i}].{key} = {value!r}: {why}")


def _shape_text(s):
    return "×".join(map(str, s))


def infer_shapes(layers, input_shape):
    """Output shape and parameter count of every layer.

    Parameters
    ----------
    layers : sequence of LayerConfig
    input_shape : tuple of int
        (n,), (H, W) (one channel) or (C, H, W).

    Returns
    -------
    list of LayerShape

    Raises
    ------
    ConfigError
        ``network.layers[i].field = value: why`` for a kernel or window larger than its
        (padded) input, a conv/pool on a flat input, a dense layer on an image (flatten
        missing), or a last layer that is not dense.
    """
    layers = [s if isinstance(s, LayerConfig) else LayerConfig(**s) for s in layers]
    if not layers:
        raise ConfigError("network.layers = []: need at least one layer")
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 2:
        shape = (1,) + shape
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ConfigError(f"network.input_shape = {list(input_shape)}: allowed: (n,), (H, W) "
                          "or (C, H, W), each ≥ 1")
    image = any(s.type not in ("dense", "flatten") for s in layers)
    if not image:  # a dense stack reads the flat input
        shape = (int(np.prod(shape)),)
    out = []
    for i, s in enumerate(layers):
        t = s.type
        n_w = n_b = 0
        if t == "flatten":
            new = (int(np.prod(shape)),)
        elif t == "dense":
            if len(shape) != 1:
                raise _bad(i, "type", t, f"its input is {_shape_text(shape)} (C×H×W): put a "
                           "flatten layer before it")
            new = (s.units,)
            n_w, n_b = s.units * shape[0], s.units
        else:
            if len(shape) != 3:
                raise _bad(i, "type", t, f"needs an image input (C, H, W), not the flat "
                           f"{shape[0]} values of the layer before; set network.input_shape or "
                           "remove the flatten")
            c, h, w = shape
            k, key = (s.kernel, "kernel") if t == "conv2d" else (s.size, "size")
            pad = s.padding
            if k > h + 2 * pad or k > w + 2 * pad:
                raise _bad(i, key, k, f"larger than its input {h}×{w} (padding {pad}): "
                           f"allowed ≤ {min(h, w) + 2 * pad}")
            st = s.resolved_stride
            oh, ow = (h + 2 * pad - k) // st + 1, (w + 2 * pad - k) // st + 1
            if t == "conv2d":
                new = (s.channels, oh, ow)
                n_w, n_b = s.channels * c * k * k, s.channels
            else:
                new = (c, oh, ow)
        out.append(LayerShape(s, i, shape, new, n_w, n_b))
        shape = new
    if layers[-1].type != "dense":
        i = len(layers) - 1
        raise _bad(i, "type", layers[-1].type, "the last layer must be dense (the outputs)")
    if layers[-1].activation:
        i = len(layers) - 1
        raise _bad(i, "activation", layers[-1].activation, "the last layer takes "
                   "network.output_activation; remove it")
    return out


def dense_only(layers) -> bool:
    """True when every layer is dense (or flatten): the network is an MLP."""
    return all(s.type in ("dense", "flatten") for s in layers)


def io_widths(ncfg, task_name, sample_shape=None):
    """``(n_in, n_out)`` of a ``[network]`` section, for checking data files before loading.

    ``n_in`` is prod(``network.input_shape``), else of ``sample_shape``, else of the standard
    shape of ``task_name``.

    Raises
    ------
    ConfigError
        ``layers`` set, no ``input_shape`` and a task whose shape is not known in advance.
    """
    if not ncfg.layers:
        return Widths(int(ncfg.sizes[0]), int(ncfg.sizes[-1]), None)
    shape = ncfg.input_shape or sample_shape or TASK_SHAPES.get(task_name)
    if not shape:
        raise ConfigError(f"network.input_shape = []: needed with network.layers and "
                          f"task.name = {task_name!r} (the shape of one sample, e.g. [3, 32, 32])")
    last = len(ncfg.layers) - 1
    return Widths(int(np.prod(shape)), int(ncfg.layers[-1].units),
                  (f"network.input_shape = {list(shape)}", f"network.layers[{last}].units"))


class Widths(tuple):
    """``(n_in, n_out)`` with ``names``: the keys that set them, for the data checks'
    messages (None: ``network.sizes``)."""

    def __new__(cls, n_in, n_out, names):
        obj = super().__new__(cls, (n_in, n_out))
        obj.names = names
        return obj


def crossbar_widths(ncfg, task_name, sample_shape=None):
    """Fan-ins of the weight layers, then the last layer's width: ``network.sizes`` for a
    dense stack, else [in_c·k·k (conv2d) or n_in (dense) per weight layer..., n_out], the
    rows (minus the bias row) each layer's weight matrix occupies on a crossbar (a conv
    kernel is mapped as an (in_c·k·k) × out_c matrix). Used by the energy model's
    row-parallel write time (:func:`hwsim.energy.crossbar_rows`).

    Raises
    ------
    ConfigError
        As :func:`io_widths` when the input shape is unknown, or as :func:`infer_shapes`.
    """
    if not ncfg.layers:
        return [int(n) for n in ncfg.sizes]
    shape = ncfg.input_shape or sample_shape or TASK_SHAPES.get(task_name)
    io_widths(ncfg, task_name, sample_shape)  # the one-line error when the shape is unknown
    shapes = infer_shapes(ncfg.layers, tuple(shape))
    fans = [sh.n_w // max(sh.n_b, 1) for sh in shapes if sh.n_w]
    return fans + [int(ncfg.layers[-1].units)]


def check_layer_run(cfg):
    """Refuse, before any data are read, what a run of a layer network does not model:
    converters or neuron variation (``chip.inp_bound``, ``out_bound``, ``dac_bits``,
    ``adc_bits``, ``neuron_*_dtod``).

    Raises
    ------
    ConfigError
        One line naming the key.
    """
    n, c = cfg.network, cfg.chip
    if not n.layers or dense_only(n.layers):
        return
    if c.has_periphery() or c.dac_bits or c.adc_bits or c.inp_res or c.out_res:
        raise ConfigError("network.layers: converters and neuron variation (chip.inp_bound, "
                          "chip.out_bound, chip.dac_bits, chip.adc_bits, chip.neuron_*) are "
                          "not modelled for conv networks; leave them off")


def build_network(ncfg, input_shape, *, periphery=None, seed=0, weight_scale=1.0,
                  dtype=np.float64):
    """The chip's network for a ``[network]`` section: :class:`MLP` for ``sizes`` or a
    dense-only ``layers`` list (bit-identical to the same ``sizes``), else :class:`LayerNet`
    whose forward passes run in ``dtype`` (``sim.dtype``; the MLP ignores it).

    Raises
    ------
    ConfigError
        As :class:`MLP`, :func:`infer_shapes` and :class:`LayerNet`.
    """
    n = ncfg
    if not n.layers:
        return MLP(n.sizes, n.activation, n.output_activation, n.cost, periphery=periphery,
                   seed=seed, weight_scale=weight_scale)
    shapes = infer_shapes(n.layers, n.input_shape or input_shape)
    if dense_only(n.layers):
        if any(s.spec.activation not in ("", n.activation) for s in shapes):
            bad = next(s for s in shapes if s.spec.activation not in ("", n.activation))
            raise _bad(bad.index, "activation", bad.spec.activation, "a dense stack has one "
                       f"hidden activation, network.activation = {n.activation!r}")
        sizes = [shapes[0].in_shape[0]] + [s.out_shape[0] for s in shapes
                                           if s.spec.type == "dense"]
        return MLP(sizes, n.activation, n.output_activation, n.cost, periphery=periphery,
                   seed=seed, weight_scale=weight_scale)
    return LayerNet(shapes, n.activation, n.output_activation, n.cost, periphery=periphery,
                    weight_scale=weight_scale, dtype=dtype)


class LayerNet:
    """A network of dense, conv2d, pooling and flatten layers, as the chip implements it.

    The interface is that of :class:`hwsim.chip.network.MLP` (``n_params``, ``sizes``,
    ``init_params``, ``sense_model``, ``evaluate``, ``per_inference_counts``,
    ``describe_param``, ``layer_slices``); ``sizes`` are the flat widths of the input and of
    every dense or conv layer's output.

    Parameters
    ----------
    shapes : list of LayerShape
        From :func:`infer_shapes`.
    activation, output_activation, cost : str
        As :class:`MLP` (``network.*``); a layer's own ``activation`` overrides the first.
    periphery : hwsim.config.ChipConfig or None
        Must be None or ideal: converters are not modelled for layer networks.
    weight_scale : float
        As :class:`MLP`.
    chunk : int
        Samples per chunk of the batched passes (≥ 1; the scratch holds this many; results
        do not depend on it beyond rounding of the matrix products).
    dtype : {numpy.float64, numpy.float32}
        Precision of the forward passes (``sim.dtype``): the scratch ``work`` holding the
        inputs (rounded from X on gather), the weights as read (θ, θ + θ̃), the im2col
        columns and the activations, so the matrix products are dgemm or sgemm. Bias,
        scale and activation are evaluated in float64 and rounded on store (case D10);
        the costs are summed in float64 in both.

    Raises
    ------
    ConfigError
        Unknown names, periphery (DAC/ADC, neuron variation) on, a dtype other than
        float64 or float32.
    """

    def __init__(self, shapes, activation="relu", output_activation="auto", cost="mse", *,
                 periphery=None, weight_scale=1.0, chunk=CHUNK, dtype=np.float64):
        if periphery is not None and periphery.has_periphery():
            raise ConfigError("network.layers: converters and neuron variation (chip.inp_bound, "
                              "chip.out_bound, chip.dac_bits, chip.adc_bits, chip.neuron_*) are "
                              "not modelled for conv networks; leave them off")
        ref = MLP([1, 2], activation, output_activation, cost, weight_scale=weight_scale)
        self.activation, self.output_activation, self.cost = (
            ref.activation, ref.output_activation, ref.cost)
        self.kinds, self.weight_scale, self.periphery = ref.kinds, ref.weight_scale, None
        self.shapes = list(shapes)
        self.input_shape = self.shapes[0].in_shape
        self.n_params = int(sum(s.n_w + s.n_b for s in self.shapes))
        self.offsets = np.cumsum([0] + [s.n_w + s.n_b for s in self.shapes])[:-1]
        self.sizes = np.array([int(np.prod(self.input_shape))] + [
            int(np.prod(s.out_shape)) for s in self.shapes if s.n_w], dtype=np.int64)
        if not (isinstance(chunk, (int, np.integer)) and chunk >= 1):
            raise ConfigError(f"LayerNet chunk = {chunk!r}: must be an integer ≥ 1")
        self.chunk = int(chunk)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ConfigError(f"sim.dtype = {self.dtype.name}: allowed: float64, float32")
        self.rows, self.work_size = self._table()

    def _table(self):
        rows = []
        last = len(self.shapes) - 1
        for s, off in zip(self.shapes, self.offsets):
            t = s.spec.type
            if t == "flatten":
                continue
            r = np.zeros(_kl.N_COLS, np.int64)
            code = {"dense": _kl.T_DENSE, "conv2d": _kl.T_CONV, "maxpool": _kl.T_MAXPOOL,
                    "avgpool": _kl.T_AVGPOOL}[t]
            ins = s.in_shape if len(s.in_shape) == 3 else (s.in_shape[0], 1, 1)
            outs = s.out_shape if len(s.out_shape) == 3 else (s.out_shape[0], 1, 1)
            k = s.spec.kernel if t == "conv2d" else s.spec.size if t != "dense" else 1
            act = (self.output_activation if s.index == last else
                   s.spec.activation or self.activation)
            r[[_kl.C_TYPE, _kl.C_ACT, _kl.C_IC, _kl.C_IH, _kl.C_IW, _kl.C_OC, _kl.C_OH,
               _kl.C_OW, _kl.C_KH, _kl.C_KW, _kl.C_ST, _kl.C_PAD, _kl.C_POFF, _kl.C_NIN,
               _kl.C_NOUT]] = (code, ACTIVATIONS[act], *ins, *outs, k, k,
                               s.spec.resolved_stride if t != "dense" else 1,
                               s.spec.padding, off, int(np.prod(ins)), int(np.prod(outs)))
            rows.append(r)
        head = np.zeros(_kl.N_COLS, np.int64)
        head[_kl.C_TYPE], head[_kl.C_NOUT] = _kl.T_INPUT, int(np.prod(self.input_shape))
        table = np.array([head] + rows)
        chunk = self.chunk
        pos = chunk * table[0, _kl.C_NOUT]  # the input region starts at 0
        for r in table[1:]:
            r[_kl.C_AOFF] = pos
            pos += 2 * chunk * r[_kl.C_NOUT]
        cols = [r[_kl.C_IC] * r[_kl.C_KH] * r[_kl.C_KW] * r[_kl.C_OH] * r[_kl.C_OW]
                for r in table[1:] if r[_kl.C_TYPE] == _kl.T_CONV]
        head = table[0]
        head[_kl.C_COLS] = pos
        pos += chunk * max(cols, default=0)
        head[_kl.C_WB], head[_kl.C_WP], head[_kl.C_NP] = pos, pos + self.n_params, self.n_params
        head[_kl.C_CHUNK] = chunk
        return np.ascontiguousarray(table), int(pos + 2 * self.n_params)

    def per_inference_counts(self):
        """(MACs, device reads, DAC, ADC conversions) of one inference: MACs are the weight
        multiply-accumulates Σ n_out·n_in (dense) and out_c·OH·OW·in_c·k² (conv2d); every
        parameter's device is read once; no converters."""
        macs = 0
        for s in self.shapes:
            if s.spec.type == "dense":
                macs += s.n_w
            elif s.spec.type == "conv2d":
                macs += s.n_w * s.out_shape[1] * s.out_shape[2]
        return tuple(np.int64(v) for v in (macs, self.n_params, 0, 0))

    def layer_slices(self, l):
        """Slices of ``theta`` holding the weights and biases of ``layers[l]`` (empty for
        pools and flatten); reshape the first to (n_out, n_in) or (out_c, in_c, k, k)."""
        s, off = self.shapes[l], int(self.offsets[l])
        return slice(off, off + s.n_w), slice(off + s.n_w, off + s.n_w + s.n_b)

    def describe_param(self, i: int) -> str:
        """Human name of parameter ``i``, e.g. ``layer0.K[3, 0, 1, 2]`` or ``layer4.b[2]``."""
        for l, s in enumerate(self.shapes):
            w, b = self.layer_slices(l)
            if w.start <= i < w.stop:
                shape = ((s.out_shape[0], s.in_shape[0]) if s.spec.type == "dense" else
                         (s.out_shape[0], s.in_shape[0], s.spec.kernel, s.spec.kernel))
                idx = ", ".join(map(str, np.unravel_index(i - w.start, shape)))
                return f"layer{l}.{'W' if s.spec.type == 'dense' else 'K'}[{idx}]"
            if b.start <= i < b.stop:
                return f"layer{l}.b[{i - b.start}]"
        raise IndexError(i)

    def init_params(self, seed: int, scheme="xavier", low=0.0, high=1.0, dtype=np.float64):
        """Initial parameters from the counter hash (stream ``init``), as :meth:`MLP.init_params`:
        "xavier" weights U[-a, a), a = sqrt(6 / (fan_in + fan_out)) with fan_in = in_c·k²,
        fan_out = out_c·k² for conv2d (Glorot & Bengio 2010), biases 0; "uniform" U[low, high)."""
        theta = np.empty(self.n_params)
        if scheme == "uniform":
            fill_uniform(theta, seed, low, high, np.ones(self.n_params))
            return theta.astype(dtype)
        if scheme != "xavier":
            raise ConfigError(f"network.init = {scheme!r}: allowed: xavier, uniform")
        scale, a = np.zeros(self.n_params), np.zeros(self.n_params)
        for l, s in enumerate(self.shapes):
            w, _ = self.layer_slices(l)
            k2 = s.spec.kernel ** 2 if s.spec.type == "conv2d" else 1
            scale[w] = 1.0
            a[w] = math.sqrt(6.0 / ((s.in_shape[0] + s.out_shape[0]) * k2)) if s.n_w else 0.0
        fill_uniform(theta, seed, 0.0, 1.0, scale)
        return np.where(scale > 0, (2.0 * theta - 1.0) * a, 0.0).astype(dtype)

    def _check_data(self, X, Y):
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.ascontiguousarray(Y, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.sizes[0] or Y.shape[1] != self.sizes[-1]:
            raise ConfigError(f"network.layers: the network takes inputs of shape "
                              f"{_shape_text(self.input_shape)} ({self.sizes[0]} values) and has "
                              f"{self.sizes[-1]} outputs; the task has {X.shape[1:]} inputs and "
                              f"{Y.shape[1]} outputs (set network.input_shape or the last "
                              "layer's units)")
        return X, Y

    def sense_model(self, X, Y):
        """The sense stage's model (kind NET: :func:`hwsim.kernels.layers.net_measure`).

        Raises
        ------
        ConfigError
            X, Y do not fit the network.
        """
        X, Y = self._check_data(X, Y)
        f0 = np.zeros(0)
        return _sense.SenseModel(np.int64(_sense.NET), X, Y, self.sizes, self.kinds, f0, f0,
                                 f0, f0, f0, f0, self.weight_scale, f0,
                                 net=self.rows, net_work=self.scratch())

    def scratch(self):
        """A fresh scratch array for the forward kernels: (``work_size``,) of ``dtype``."""
        return np.zeros(self.work_size, self.dtype)

    def outputs(self, theta, X):
        """Output activations (N, n_out) of the unperturbed network on X (N, n_in) (logits
        with a softmax output)."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        out = np.zeros((len(X), int(self.sizes[-1])))
        _kl.net_outputs(self.rows, self.scratch(), np.ascontiguousarray(theta), X,
                        self.weight_scale, out)
        return out

    def evaluate(self, theta, X, Y, labels, counter=0):
        """Mean cost and accuracy of the unperturbed network on (X, Y, labels): ``(cost,
        acc)``, in chunks of :data:`CHUNK` samples (``counter`` is unused: no converters)."""
        X, Y = self._check_data(X, Y)
        out = np.zeros(2)
        _kl.net_evaluate(self.rows, self.scratch(), np.ascontiguousarray(theta), X,
                         Y, np.asarray(labels, dtype=np.int64), self.kinds, self.weight_scale,
                         out)
        return float(out[0]), float(out[1])
