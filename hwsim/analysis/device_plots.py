"""Device plots: the pulse response researchers compare with their measured data."""

import math
import os
import textwrap

import numpy as np

from hwsim.analysis.plots import new_figure
from hwsim.exceptions import HwsimError

__all__ = ["pulse_response", "plot_pulse_response", "default_pulses"]


def default_pulses(profile) -> int:
    """Return a pulse count that sweeps a device across its range and back.

    Parameters
    ----------
    profile : hwsim.chip.profiles.Profile

    Returns
    -------
    int
        1.2 × the number of states, clipped to [100, 10 000]; 100 for the Ideal model.
    """
    states = profile.n_states()
    if math.isinf(states):
        return 100
    return int(min(max(math.ceil(1.2 * states), 100), 10_000))


def pulse_response(profile, *, pulses: int, devices: int = 10, seed: int = 0,
                   dtype=np.float64) -> np.ndarray:
    """Drive ``devices`` devices of a profile up ``pulses`` pulses, then down ``pulses`` pulses.

    Parameters
    ----------
    profile : hwsim.chip.profiles.Profile
    pulses : int
        Potentiation pulses, followed by as many depression pulses (≥ 1).
    devices : int
        Devices drawn (each with its own device-to-device parameters, ≥ 1).
    seed : int
        Construction and cycle-to-cycle seed.
    dtype : numpy dtype

    Returns
    -------
    ndarray, shape (2·pulses + 1, devices)
        Weight after each pulse; row 0 is the starting weight.

    Raises
    ------
    HwsimError
        If ``pulses`` or ``devices`` is < 1 or ``seed`` is negative.
    """
    from hwsim.chip.devices import DeviceArray

    if pulses < 1 or devices < 1 or seed < 0:
        raise HwsimError(f"pulse response: need pulses ≥ 1, devices ≥ 1 and seed ≥ 0 "
                         f"(got {pulses}, {devices}, {seed})")
    array = DeviceArray(profile.params, devices, seed, dtype)
    traj = np.asarray(array.pulse_response(pulses))
    return traj.reshape(2 * pulses + 1, devices)


def plot_pulse_response(profile, out: str | os.PathLike[str], *, pulses: int | None = None,
                        devices: int = 10, seed: int = 0) -> np.ndarray:
    """Save the pulse-response PNG of a profile.

    Thin lines show each device, the bold line their mean; x is the pulse number (up pulses
    first, then down pulses after the dotted line), y the weight. The title names the profile,
    its model, its number of states and its source.

    Parameters
    ----------
    profile : hwsim.chip.profiles.Profile
    out : path
        PNG file to write.
    pulses : int, optional
        Up pulses (then as many down); default :func:`default_pulses`.
    devices : int
    seed : int

    Returns
    -------
    ndarray, shape (2·pulses + 1, devices)
        The plotted trajectories.

    Raises
    ------
    HwsimError
        For bad ``pulses``/``devices``/``seed`` or when ``out`` cannot be written.
    """
    from hwsim.chip.profiles import format_states

    n = default_pulses(profile) if pulses is None else pulses
    traj = pulse_response(profile, pulses=n, devices=devices, seed=seed)
    x = np.arange(traj.shape[0])
    fig = new_figure((7.5, 4.6))
    ax = fig.subplots()
    ax.plot(x, traj, lw=0.7, alpha=0.45, color="C0")
    ax.plot(x, traj.mean(axis=1), lw=2.2, color="k", label=f"mean of {devices} devices")
    ax.axvline(n, ls=":", color="gray", lw=1)
    ax.text(n / 2, 0.02, "up pulses", transform=ax.get_xaxis_transform(), ha="center",
            color="gray")
    ax.text(1.5 * n, 0.02, "down pulses", transform=ax.get_xaxis_transform(), ha="center",
            color="gray")
    ax.set_xlabel("pulse number")
    ax.set_ylabel("weight")
    ax.set_xlim(0, 2 * n)
    ax.legend(loc="upper right")
    lines = textwrap.wrap(profile.source, 100)
    source = "\n".join(lines[:2]) + (" …" if len(lines) > 2 else "")
    ax.set_title(f"{profile.name} ({profile.model}, {format_states(profile.n_states())} "
                 f"states)\n{source}", fontsize=8.5)
    try:
        fig.savefig(out, dpi=110)
    except OSError as exc:
        raise HwsimError(f"{out}: cannot write the plot: {exc.strerror or exc}") from None
    return traj
