"""Tiki-Taka transfer on the chip: the column layout of θ, the slow device array C, and the
stage record of :mod:`hwsim.kernels.transfer` (docs/tiki_taka.md).

The fast array A is the chip's own device array (the one a run without transfer has); C is a
second :class:`~hwsim.chip.devices.DeviceArray` of the same profile, seeded with
``hash4(seed, STREAM_TRANSFER_DEVICE, 0, 0) >> 1``: its own device-to-device draws and its
own pulse, rounding and read-noise streams. At construction C holds the initial weights and A
is set to 0 (each clipped to its device's bounds), so the network starts from θ0 = γ·0 + C.
Columns are defined for dense layers only (an MLP, or dense-only ``network.layers``); a chip
with conv2d or pool layers refuses transfer (ConfigError).
"""

from collections import namedtuple

import numpy as np

from hwsim.chip.devices import DeviceArray
from hwsim.exceptions import ConfigError
from hwsim.kernels import devices as _dk
from hwsim.kernels import transfer as _tt
from hwsim.kernels.hashing import STREAM_TRANSFER_DEVICE, hash4

#: The state arrays of the stage (``hwsim.kernels.step.State`` fields), saved in checkpoints.
STATE_NAMES = ("tt_a", "tt_c", "tt_h", "tt_chop", "tt_ptr")

#: What :func:`build` returns: the kernel record, C's DeviceArray (None on ideal synapses),
#: C's device tuple, and the State fields (name → array).
Setup = namedtuple("Setup", "params device_c dev_c state")


def columns(sizes, P):
    """The column layout of θ: ``(col_of, col_start, col_idx, layer_cols)``, int64 arrays.

    Column j < n_l of layer l is input j of its weight matrix W_l (n_{l+1} × n_l, row-major in
    θ at offset o_l): the weights o_l + r·n_l + j for r = 0 … n_{l+1} − 1; column n_l is the
    layer's biases. ``sizes`` None (an analytic cost) makes every parameter its own column of
    one layer. Shapes: (P,), (n_cols + 1,), (P,), (L + 1,).
    """
    if sizes is None:
        idx = np.arange(P, dtype=np.int64)
        return idx.copy(), np.arange(P + 1, dtype=np.int64), idx, np.array([0, P], np.int64)
    col_of = np.empty(P, np.int64)
    col_idx, col_start, layer_cols = [], [0], [0]
    off = c = 0
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        nin, nout = int(nin), int(nout)
        for j in range(nin + 1):
            members = (off + np.arange(nout) * nin + j if j < nin
                       else off + nin * nout + np.arange(nout))
            col_of[members] = c
            col_idx.extend(members.tolist())
            col_start.append(len(col_idx))
            c += 1
        layer_cols.append(c)
        off += nout * (nin + 1)
    return (col_of, np.array(col_start, np.int64), np.array(col_idx, np.int64),
            np.array(layer_cols, np.int64))


def transfer_seed(seed: int) -> int:
    """The seed of C's DeviceArray (in [0, 2**63))."""
    return int(hash4(np.int64(seed), np.int64(STREAM_TRANSFER_DEVICE), np.int64(0),
                     np.int64(0))) >> 1


def _off(dtype):
    e = np.zeros(0, dtype)
    dev_c = _dk.empty_dev(0, 0, 1, dtype)
    return Setup(_tt.off_params(), None, dev_c,
                 dict(tt_a=e, tt_c=e.copy(), tt_h=e.copy(), tt_chop=e.copy(),
                      tt_ptr=np.zeros(0, np.int64), tt_req=np.zeros(0)))


def _check(device, why):
    for bad, need in why:
        if bad:
            raise ConfigError(f"chip.transfer.enabled = true: needs {need}")
    if device is not None:
        p = device.params
        if getattr(p, "drift", "none") != "none":
            raise ConfigError(f"chip.transfer.enabled = true: needs device.drift = 'none' (got "
                              f"{p.drift!r}): drift of the two arrays is not modelled")
        if getattr(p, "read_noise", "none") == "pcm":
            raise ConfigError("chip.transfer.enabled = true: needs device.read_noise = "
                              "'none' or 'additive' (got 'pcm'): PCM read noise depends on "
                              "each array's conductance, not modelled on γ·A + C")


def build(spec, *, sizes, P, seed, dtype, device, theta0, why=()):
    """The transfer setup of a chip.

    Parameters
    ----------
    spec : dict or None
        ``[chip.transfer]`` as a dict (:class:`hwsim.sections.transfer.TransferConfig`); None or
        ``enabled = false``: the off setup (empty arrays, a zero-size C).
    sizes : array of int or None
        The MLP's layer sizes (None for an analytic cost).
    P, seed, dtype
        The chip's parameter count, master seed and state dtype.
    device : DeviceArray or None
        A, already attached (None on ideal synapses: A is then the chip's ideal tuple).
    theta0 : ndarray (P,)
        The requested initial weights (written into C).
    why : iterable of (bool, str)
        The chip's other settings that rule transfer out: (broken, what is needed).

    Raises
    ------
    ConfigError
        A setting transfer cannot run with (one line naming it).
    """
    spec = dict(spec or {})
    if not spec.get("enabled", False):
        return _off(dtype)
    _check(device, why)
    n_dense = None if sizes is None else sum(
        (int(a) + 1) * int(b) for a, b in zip(sizes[:-1], sizes[1:]))
    if n_dense is not None and n_dense != P:
        raise ConfigError(f"chip.transfer.enabled = true: the column layout of network sizes "
                          f"{list(map(int, sizes))} covers {n_dense} weights, the chip has "
                          f"{P} (needs a dense network)")
    col_of, col_start, col_idx, layer_cols = columns(sizes, P)
    seed_c = transfer_seed(seed)
    if device is None:
        device_c = None
        dev_c = _dk.empty_dev(P, 0, 1, dtype)
        I = dev_c[0]
        I[_dk.I_MODEL], I[_dk.I_P], I[_dk.I_SEED] = _dk.M_IDEAL, P, seed_c
        tt_a = np.zeros(P, dtype)
        tt_c = np.array(theta0, dtype)
        dw_min = 0.0
    else:
        device_c = DeviceArray(device.params, P, seed_c, dtype=dtype)
        for k in (_dk.I_ROUNDING, _dk.I_MAX_PULSES):  # the chip's pulse settings, on C too
            device_c.dev[0][k] = device.dev[0][k]
        device.init_weights(np.zeros(P, dtype))
        device_c.init_weights(np.asarray(theta0, dtype))
        dev_c, tt_a, tt_c = device_c.dev, device.theta, device_c.theta
        dw_min = float(device.params.dw_min)
    buffer = bool(spec.get("buffer", False))
    if buffer and device is None:
        raise ConfigError("chip.transfer.buffer = true: needs a pulsed device (chip.device "
                          "other than 'ideal'): its threshold is in units of C's dw_min")
    tp = _tt.TransferParams(
        np.int64(1), np.int64(spec.get("transfer_every", 1)),
        np.int64(spec.get("columns_per_transfer", 1)), float(spec.get("gamma", 0.0)),
        float(spec.get("transfer_lr", 1.0)), np.int64(buffer),
        float(spec.get("buffer_threshold", 1.0)) * dw_min,
        np.int64(bool(spec.get("forget_buffer", True))), float(spec.get("chopper_p", 0.0)),
        float(spec.get("reset_prob", 0.0)), np.int64(seed), col_of, col_start, col_idx, layer_cols)
    theta = np.zeros(P, dtype)
    _tt.combine(tp, tt_a, tt_c, theta)
    # H and χ follow the state dtype (case D10); arithmetic is float64, rounded on store.
    state = dict(theta=theta, tt_a=tt_a, tt_c=tt_c, tt_h=np.zeros(P if buffer else 0, dtype),
                 tt_chop=np.ones(len(col_start) - 1, dtype), tt_ptr=np.zeros(len(layer_cols) - 1,
                                                                       np.int64),
                 tt_req=np.zeros(P))
    return Setup(tp, device_c, dev_c, state)


def get_state(state, device_c) -> dict:
    """Copies of the stage's state arrays (``tt_*``) and C's device state (``device_c.*``)."""
    out = {name: getattr(state, name).copy() for name in STATE_NAMES}
    if device_c is not None:
        out.update({f"device_c.{k}": v for k, v in device_c.get_state().items()})
    return out


def set_state(state, device_c, saved) -> None:
    """Restore :func:`get_state` output into ``state`` and C.

    Raises
    ------
    ConfigError
        A missing array or a shape mismatch (a checkpoint of a chip without transfer?).
    """
    for name in STATE_NAMES:
        if name not in saved:
            raise ConfigError(f"state lacks '{name}' (a checkpoint of a chip without "
                              "chip.transfer?)")
        arr, cur = np.asarray(saved[name]), getattr(state, name)
        if arr.shape != cur.shape:
            raise ConfigError(f"state '{name}' has shape {arr.shape}; this chip needs "
                              f"{cur.shape}")
        cur[...] = arr
    if device_c is not None:
        device_c.set_state({k[9:]: v for k, v in saved.items() if k.startswith("device_c.")})
