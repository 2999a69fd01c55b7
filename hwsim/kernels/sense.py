"""Stage 3, sense: device reads, periphery, forward passes and the cost of the current input.

The sense model (:class:`SenseModel`) says what the chip computes: an MLP (:mod:`.mlp`), an
MLP through its converters and neuron variation (:mod:`.periphery`), or an analytic cost of
the parameters (C = a·θ or C = ½‖θ‖², for estimator studies where the gradient is known in
closed form). ``measure`` writes ``out[0]`` = C(θ + θ̃) and, when asked, ``out[1]`` = C(θ).
With noisy device reads the weights are first read through the devices, once per inference,
each read with its own noise coordinates (sub 0 perturbed, 1 baseline).

A minibatch of B samples (``m.batch``) is B inferences per pass, presented one after the
other on the same array: the b-th sample of the k-th inference of step n reads its devices
and converters anew, at noise sub-coordinate k + b·BATCH_SUB (b = 0 is the one-sample
coordinate, so B = 1 is unchanged), and C, C₀ are the batch means (docs/engine.md,
"Minibatches").
"""

from collections import namedtuple

import numpy as np

from hwsim.kernels._config import inline, jit
from hwsim.kernels.devices import read_weights
from hwsim.kernels.mlp import SUB_NEURON, forward, forward2, forward_read_noise, output_cost
from hwsim.kernels.periphery import forward_periph

MLP, PERIPHERY, LINEAR, QUADRATIC, MLP_READ_NOISE = 0, 1, 2, 3, 4

#: Noise sub-coordinate stride between the samples of a minibatch: sample b of the k-th
#: inference of a step draws its converter and read noise at sub-coordinate k + b·BATCH_SUB
#: (k < 2 for training inferences, 2 + i for evaluation, all far below the stride).
BATCH_SUB = 1 << 32

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
                        "read_noise read_noise_key batch",
                        defaults=(np.zeros(2), np.uint64(0), np.zeros(0, np.int64)))


@jit
def _measure_batch(m, theta, pert, want_base, out, counter):
    """Minibatch costs: ``out[0]`` = (1/B)·Σ_b C(θ + θ̃; x_b), ``out[1]`` = (1/B)·Σ_b C(θ; x_b)
    over the B samples in ``m.batch``, summed in batch order (deterministic). MLP, MLP with
    per-neuron read noise and periphery; sample b draws its noise at sub-coordinates
    (0 perturbed, 1 baseline) + b·BATCH_SUB of step ``counter``."""
    nb = m.batch.shape[0]
    c = 0.0
    c0 = 0.0
    for b in range(nb):
        i = m.batch[b]
        x = m.X[i]
        y = m.Y[i]
        if m.kind == PERIPHERY:
            c += _cost_sample(m, theta, pert, True, i, counter, b * BATCH_SUB)
            if want_base:
                c0 += _cost_sample(m, theta, pert, False, i, counter, 1 + b * BATCH_SUB)
            continue
        if m.kind == MLP_READ_NOISE:
            off = forward_read_noise(theta, pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf,
                                     m.buf_b, m.scale, want_base, m.read_noise[0],
                                     m.read_noise[1] != 0.0, m.read_noise_key, counter,
                                     SUB_NEURON + b * BATCH_SUB)
            if want_base:
                c0 += output_cost(m.buf_b, off, y, m.kinds[1], m.kinds[2])
        elif want_base:
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
def _cost_sample(m, theta, pert, use_pert, i, counter, sub):
    """C of training sample ``i``, one inference of an MLP (``m.buf``) or through the
    periphery (converter noise at sub-coordinate ``sub`` of step ``counter``)."""
    x = m.X[i]
    if m.kind == PERIPHERY:
        off = forward_periph(theta, pert, use_pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf,
                             m.qbuf, m.per, m.gain, m.offset, counter, sub, m.scale)
    else:
        off = forward(theta, pert, use_pert, x, m.sizes, m.kinds[0], m.kinds[1], m.buf, m.scale)
    return output_cost(m.buf, off, m.Y[i], m.kinds[1], m.kinds[2])


@jit
def measure(m, theta, pert, sample, want_base, out, counter):
    """C(θ + θ̃) into ``out[0]`` and, if ``want_base``, C(θ) into ``out[1]``.

    ``counter`` (the step) keys converter noise and per-neuron read noise; sub 0 is the
    perturbed pass, 1 the baseline. With a minibatch (``m.batch`` longer than 1: MLP, MLP
    with per-neuron read noise, periphery) both are means over the batch and ``sample`` is
    ignored.
    """
    kind = m.kind
    if (kind == MLP or kind == PERIPHERY or kind == MLP_READ_NOISE) and m.batch.shape[0] > 1:
        _measure_batch(m, theta, pert, want_base, out, counter)
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
    """One pass, C(θ + θ̃) into ``out[0]``, as the ``sub``-th inference of step ``counter``.

    ``sub`` keys the converter noise of the periphery (its other sense kinds draw none), so
    every inference of a step draws its own: the k-th inference of a step is sub k, and a
    baseline read on its own is sub 1, as in :func:`measure`. With a minibatch the pass is
    the batch mean, sample b at sub-coordinate ``sub`` + b·BATCH_SUB.
    """
    nb = m.batch.shape[0]
    if m.kind == PERIPHERY and nb > 1:
        c = 0.0
        for b in range(nb):
            c += _cost_sample(m, theta, pert, True, m.batch[b], counter, sub + b * BATCH_SUB)
        out[0] = c / nb
    elif m.kind == PERIPHERY:
        off = forward_periph(theta, pert, True, m.X[sample], m.sizes, m.kinds[0], m.kinds[1],
                             m.buf, m.qbuf, m.per, m.gain, m.offset, counter, sub, m.scale)
        out[0] = output_cost(m.buf, off, m.Y[sample], m.kinds[1], m.kinds[2])
    else:
        measure(m, theta, pert, sample, False, out, counter)


@jit
def measure_pass(m, dev, noisy, theta, pert, buf, sample, out, n, sub):
    """One pass, C(θ + ``pert``) into ``out[0]``, as the ``sub``-th inference of step ``n``,
    the weights read through the devices into ``buf`` when ``noisy``.

    A minibatch is B inferences one after the other, each reading the array anew: sample b
    reads (read-noise sub-coordinate ``sub`` + b·BATCH_SUB, or the step's frozen draw) and
    converts at that sub-coordinate; ``out[0]`` is the mean over the batch. One sample: one
    read at ``sub``, as before.
    """
    nb = m.batch.shape[0]
    if noisy and nb > 1:
        c = 0.0
        for b in range(nb):
            k = sub + b * BATCH_SUB
            read_weights(dev, theta, buf, n, k)
            c += _cost_sample(m, buf, pert, True, m.batch[b], n, k)
        out[0] = c / nb
    elif noisy:
        read_weights(dev, theta, buf, n, sub)
        measure_one(m, buf, pert, sample, out, n, sub)
    else:
        measure_one(m, theta, pert, sample, out, n, sub)


@jit
def stored_cost(m, dev, noisy, theta, buf, zeros, sample, out, n, sub):
    """C of the weights as the devices hold them (nothing added on the read path) into
    ``out[0]``, as the ``sub``-th inference of step ``n``: read through the devices into
    ``buf`` (read-noise sub-coordinate ``sub``, per sample of a minibatch as
    :func:`measure_pass`) when ``noisy``. Used when the perturbation is written into the
    devices."""
    measure_pass(m, dev, noisy, theta, zeros, buf, sample, out, n, sub)


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
    inferences whether or not the reads are noisy (case D5). With a minibatch and noisy
    reads, every inference of the batch reads the array anew (:func:`measure_pass`).
    """
    if noisy_reads and m.batch.shape[0] > 1:
        if want_base:
            measure_pass(m, dev, True, theta, zeros, rb1, sample, out, n, 1)
            out[1] = out[0]
        measure_pass(m, dev, True, theta, pert, rb0, sample, out, n, 0)
    elif noisy_reads:
        read_weights(dev, theta, rb0, n, 0)
        if want_base:
            read_weights(dev, theta, rb1, n, 1)
            measure_one(m, rb1, zeros, sample, out, n, 1)
            out[1] = out[0]
        measure_one(m, rb0, pert, sample, out, n, 0)
    else:
        measure(m, theta, pert, sample, want_base, out, n)
