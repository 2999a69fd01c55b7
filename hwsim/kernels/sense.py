"""Stage 3, sense: device reads, periphery, forward passes and the cost of the current input.

The sense model (:class:`SenseModel`) says what the chip computes: an MLP (:mod:`.mlp`), an
MLP through its converters and neuron variation (:mod:`.periphery`), or an analytic cost of
the parameters (C = a·θ or C = ½‖θ‖², for estimator studies where the gradient is known in
closed form). ``measure`` writes ``out[0]`` = C(θ + θ̃) and, when asked, ``out[1]`` = C(θ).
With noisy device reads the weights are first read through the devices, once per inference,
each read with its own noise coordinates (sub 0 perturbed, 1 baseline).
"""

from collections import namedtuple

import numpy as np

from hwsim.kernels._config import inline, jit
from hwsim.kernels.devices import read_weights
from hwsim.kernels.mlp import forward, forward2, forward_read_noise, output_cost
from hwsim.kernels.layers import net_measure
from hwsim.kernels.periphery import forward_periph

MLP, PERIPHERY, LINEAR, QUADRATIC, MLP_READ_NOISE = 0, 1, 2, 3, 4
#: A layer network (dense, conv2d, pools): ``net`` its layer table, ``net_work`` its
#: scratch (:mod:`hwsim.kernels.layers`); one sample, or the minibatch ``batch``.
NET = 5

#: What the chip computes. ``X``, ``Y`` (N, n_in), (N, n_out) training data; ``sizes``,
#: ``kinds`` (hidden act, output act, cost) and activation buffers ``buf``, ``buf_b`` of the
#: MLP; ``qbuf``, ``per``, ``gain``, ``offset`` the periphery (:mod:`.periphery`); ``scale``
#: the weight scale; ``a`` the slope of the LINEAR cost. Unused fields hold small arrays.
#: MLP_READ_NOISE is an MLP read through additive Gaussian read noise drawn per neuron
#: (:func:`hwsim.kernels.mlp.forward_read_noise`): ``read_noise`` = [σ, frozen per step]
#: and ``read_noise_key`` the stream key of STREAM_READ_NOISE (both unused otherwise).
#: ``batch`` (B,) int64: the sample indices of the current minibatch (written by the
#: clocks, :func:`hwsim.kernels.clocks.fill_batch`); empty for one sample per step.
SenseModel = namedtuple("SenseModel",
                        "kind X Y sizes kinds buf buf_b qbuf per gain offset scale a "
                        "read_noise read_noise_key batch net net_work",
                        defaults=(np.zeros(2), np.uint64(0), np.zeros(0, np.int64),
                                  np.zeros((1, 21), np.int64), np.zeros(0)))


@jit
def _measure_batch(m, theta, pert, want_base, out):
    """Minibatch MLP costs: ``out[0]`` = (1/B)·Σ_b C(θ + θ̃; x_b), ``out[1]`` = (1/B)·Σ_b C(θ; x_b)
    over the B samples in ``m.batch``, summed in batch order (deterministic)."""
    nb = m.batch.shape[0]
    c = 0.0
    c0 = 0.0
    for b in range(nb):
        x = m.X[m.batch[b]]
        y = m.Y[m.batch[b]]
        if want_base:
            off = forward2(theta, pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf, m.buf_b,
                           m.scale)
            c0 += output_cost(m.buf_b, off, y, m.kinds[1], m.kinds[2])
        else:
            off = forward(theta, pert, True, x, m.sizes, m.kinds[0], m.kinds[1], m.buf, m.scale)
        c += output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])
    out[0] = c / nb
    if want_base:
        out[1] = c0 / nb


@jit
def measure(m, theta, pert, sample, want_base, out, counter):
    """C(θ + θ̃) into ``out[0]`` and, if ``want_base``, C(θ) into ``out[1]``.

    ``counter`` (the step) keys converter noise and per-neuron read noise; sub 0 is the
    perturbed pass, 1 the baseline. With a minibatch (``m.batch`` longer than 1, MLP only)
    both are means over the batch and ``sample`` is ignored.
    """
    kind = m.kind
    if kind == NET:
        net_measure(m.net, m.net_work, theta, pert, m.X, m.Y, m.batch, sample, want_base,
                    m.kinds, m.scale, out)
    elif kind == MLP and m.batch.shape[0] > 1:
        _measure_batch(m, theta, pert, want_base, out)
    elif kind == MLP:
        x = m.X[sample]
        y = m.Y[sample]
        if want_base:
            off = forward2(theta, pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf, m.buf_b,
                           m.scale)
            out[1] = output_cost(m.buf_b, off, y, m.kinds[1], m.kinds[2])
        else:
            off = forward(theta, pert, True, x, m.sizes, m.kinds[0], m.kinds[1], m.buf, m.scale)
        out[0] = output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])
    elif kind == MLP_READ_NOISE:
        x = m.X[sample]
        y = m.Y[sample]
        off = forward_read_noise(theta, pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf,
                                 m.buf_b, m.scale, want_base, m.read_noise[0],
                                 m.read_noise[1] != 0.0, m.read_noise_key, counter)
        out[0] = output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])
        if want_base:
            out[1] = output_cost(m.buf_b, off, y, m.kinds[1], m.kinds[2])
    elif kind == PERIPHERY:
        x = m.X[sample]
        y = m.Y[sample]
        off = forward_periph(theta, pert, True, x, m.sizes, m.kinds[0], m.kinds[1], m.buf,
                             m.qbuf, m.per, m.gain, m.offset, counter, 0, m.scale)
        out[0] = output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])
        if want_base:
            off = forward_periph(theta, pert, False, x, m.sizes, m.kinds[0], m.kinds[1], m.buf,
                                 m.qbuf, m.per, m.gain, m.offset, counter, 1, m.scale)
            out[1] = output_cost(m.buf, off, y, m.kinds[1], m.kinds[2])
    elif kind == LINEAR:
        a = m.a
        c = 0.0
        for i in range(a.shape[0]):
            c += a[i] * (theta[i] + pert[i])
        out[0] = c
        if want_base:
            c0 = 0.0
            for i in range(a.shape[0]):
                c0 += a[i] * theta[i]
            out[1] = c0
    else:  # QUADRATIC
        c = 0.0
        for i in range(theta.shape[0]):
            c += 0.5 * (theta[i] + pert[i]) ** 2
        out[0] = c
        if want_base:
            c0 = 0.0
            for i in range(theta.shape[0]):
                c0 += 0.5 * theta[i] ** 2
            out[1] = c0


@jit
def measure_one(m, theta, pert, sample, out, counter, sub):
    """One inference, C(θ + θ̃) into ``out[0]``, as the ``sub``-th of step ``counter``.

    ``sub`` keys the converter noise of the periphery (its other sense kinds draw none), so
    every inference of a step draws its own: the k-th inference of a step is sub k, and a
    baseline read on its own is sub 1, as in :func:`measure`.
    """
    if m.kind == PERIPHERY:
        off = forward_periph(theta, pert, True, m.X[sample], m.sizes, m.kinds[0], m.kinds[1],
                             m.buf, m.qbuf, m.per, m.gain, m.offset, counter, sub, m.scale)
        out[0] = output_cost(m.buf, off, m.Y[sample], m.kinds[1], m.kinds[2])
    else:
        measure(m, theta, pert, sample, False, out, counter)


@jit
def stored_cost(m, dev, noisy, theta, buf, zeros, sample, out, n, sub):
    """C of the weights as the devices hold them (nothing added on the read path) into
    ``out[0]``, as the ``sub``-th inference of step ``n``: read through the devices into
    ``buf`` (read-noise sub-coordinate ``sub``) when ``noisy``. Used when the perturbation
    is written into the devices."""
    if noisy:
        read_weights(dev, theta, buf, n, sub)
        measure_one(m, buf, zeros, sample, out, n, sub)
    else:
        measure_one(m, theta, zeros, sample, out, n, sub)


@inline
def count(cnt, cp, perturbed, baseline):
    """Count ``perturbed`` + ``baseline`` passes of ``cp.batch`` inferences each and their
    fixed per-inference events."""
    n = (perturbed + baseline) * cp.batch
    cnt.perturbed_inferences += perturbed * cp.batch
    cnt.baseline_inferences += baseline * cp.batch
    cnt.macs += n * cp.macs
    cnt.device_reads += n * cp.reads
    cnt.dac_conversions += n * cp.dacs
    cnt.adc_conversions += n * cp.adcs


@inline
def sense(m, dev, noisy_reads, theta, pert, rb0, rb1, zeros, sample, want_base, out, n):
    """The costs of step ``n``: through noisy device reads when ``noisy_reads``.

    Two physical reads, each with its own read noise (or the same, if the device freezes it
    per step): the network sees the read weights. Converter noise is drawn apart for the two
    inferences whether or not the reads are noisy (case D5).
    """
    if noisy_reads:
        read_weights(dev, theta, rb0, n, 0)
        if want_base:
            read_weights(dev, theta, rb1, n, 1)
            measure_one(m, rb1, zeros, sample, out, n, 1)
            out[1] = out[0]
        measure_one(m, rb0, pert, sample, out, n, 0)
    else:
        measure(m, theta, pert, sample, want_base, out, n)
