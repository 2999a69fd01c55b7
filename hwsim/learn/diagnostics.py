"""Gradient diagnostics at evaluation ticks: how well the MGD estimate aims at the true gradient.

At each evaluation tick (``[diagnostics] enabled = true``) a *probe*, a second chip built
from the same config with η = 0, is set to the training chip's exact state (θ, G, codes,
clocks, cost line, devices) and run ``window`` steps: the same codes, samples and noise
coordinates the training chip would use next, with θ frozen (no write is ever made, since
η = 0). The training chip is only read, so a run's other columns are bit-identical with and
without diagnostics. From the probe, per step n:

- g_n (P,), the step's estimate: what the integrators add in step n, G_n − G_{n−1} (G_n after
  a reset at an update; (G_n − k·G_{n−1})/(1 − k), k = τθ/(τθ+1), in analog mode). With node
  perturbation this is the node-implied weight estimate, each synapse's g_i·x_j.
- h_n (M,), the node estimate C̃·ñ/Δ² (node perturbation only).

The true gradient ∇C and ∂C/∂z come from :func:`hwsim.chip.gradient.backprop` at the tick's
θ (the read weights), over the samples that ``samples`` names (with a minibatch, every
sample of each step's batch). Written columns:

- ``grad_cos``, ``grad_angle_deg``: cosine and angle (degrees) between Σₙ g_n (the estimate
  an integrator with τθ = window would hold at the end of the window) and ∇C;
- ``grad_snr`` = |mean(s)|/std(s) over the window of s_n = g_n·∇C/‖∇C‖, the projection of
  each step's estimate on the true direction (std with the 1/(n−1) normalisation);
- ``node_cos``, ``node_angle_deg``, ``node_snr``: the same for h_n against ∂C/∂z.

An undefined value (a zero gradient or estimate) is NaN.
"""

import math

import numpy as np

from hwsim.chip.gradient import backprop
from hwsim.exceptions import ConfigError
from hwsim.runs import METRICS_COLUMNS


def metrics_columns(diag):
    """The metrics.csv columns of a run with diagnostics ``diag`` (None: the default ones)."""
    return METRICS_COLUMNS + (diag.columns if diag is not None else ())


def angle_stats(est, true):
    """(cosine, angle in degrees) between two vectors; NaN when either is zero."""
    ne, nt = float(np.linalg.norm(est)), float(np.linalg.norm(true))
    if not (ne > 0 and nt > 0):
        return float("nan"), float("nan")
    c = float(est @ true) / (ne * nt)
    return c, math.degrees(math.acos(min(1.0, max(-1.0, c))))


def projected_snr(steps, true):
    """|mean|/std (ddof 1) of the per-step estimates ``steps`` (n, P) projected on ``true``."""
    nt = float(np.linalg.norm(true))
    if not nt > 0 or len(steps) < 2:
        return float("nan")
    s = steps @ (true / nt)
    sd = float(np.std(s, ddof=1))
    m = abs(float(np.mean(s)))
    return m / sd if sd > 0 else (float("inf") if m > 0 else float("nan"))


class Diagnostics:
    """The gradient diagnostics of one MGD run (module docstring).

    Parameters
    ----------
    cfg : hwsim.config.RunConfig
        ``cfg.diagnostics`` says what to measure.
    chip : hwsim.chip.chip.Chip
        The training chip (only read).
    probe : hwsim.chip.chip.Chip
        A chip built from ``cfg`` with ``mgd.eta = 0`` (the same network, data and devices).
    network : hwsim.chip.network.MLP
    dataset : hwsim.tasks.Dataset

    Attributes
    ----------
    columns : tuple of str
        The metrics.csv columns this run adds.
    """

    def __init__(self, cfg, chip, probe, network, dataset):
        d = cfg.diagnostics
        self.cfg, self.chip, self.probe, self.net, self.ds = cfg, chip, probe, network, dataset
        self.window, self.samples, self.quantizer = d.window, d.samples, d.quantizer_gradient
        self.nodes = cfg.mgd.target == "nodes"
        if self.nodes and cfg.mgd.batch > 1:
            raise ConfigError(f"diagnostics.enabled = true: with mgd.target = 'nodes' and "
                              f"mgd.batch = {cfg.mgd.batch} every sample has its own nodes, "
                              "which the node columns (one ∂C/∂z per node) do not describe; "
                              "use mgd.batch = 1 or mgd.target = 'weights'")
        self.analog = cfg.mgd.mode == "analog"
        tau = cfg.mgd.tau_theta
        self.keep, self.new = tau / (tau + 1.0), 1.0 / (tau + 1.0)
        cols = []
        for prefix in ("grad", "node") if self.nodes else ("grad",):
            if d.angle:
                cols += [f"{prefix}_cos", f"{prefix}_angle_deg"]
            if d.snr:
                cols.append(f"{prefix}_snr")
        self.columns = tuple(cols)

    def _probe_window(self):
        """Run the probe ``window`` steps from the chip's state: (g (n, P), h (n, M), samples)."""
        probe = self.probe
        probe.set_state(self.chip.get_state())
        n, P = self.window, self.chip.P
        g = np.full((n, P), np.nan)
        h = np.full((n, probe.n_perturbed), np.nan) if self.nodes else None
        B = probe.batch  # a minibatch step's samples are all its batch's (each counted once)
        samples = np.zeros((n, B), np.int64)
        inv_d2 = 1.0 / (self.cfg.mgd.amplitude ** 2)
        for k in range(n):
            before = np.array(probe.grad, dtype=np.float64)
            updates = probe.updates
            if probe.advance(1) != 0:
                return g[:k], None if h is None else h[:k], samples[:k].reshape(-1)
            after = np.array(probe.grad, dtype=np.float64)
            if self.analog:
                g[k] = (after - self.keep * before) / self.new
            else:
                g[k] = after if probe.updates != updates else after - before
            if h is not None:
                h[k] = probe.cost_line["ctilde"] * inv_d2 * np.asarray(probe.state.reference)
            samples[k] = probe.model.sense.batch if B > 1 else probe.state.clock[0]["sample"]
        return g, h, samples.reshape(-1)

    def true_gradient(self, samples):
        """The :class:`hwsim.chip.gradient.Gradient` of the emulated network at the chip's θ
        over the window's ``samples`` (each counted once per step) or the training set."""
        ds = self.ds
        if self.samples == "train":
            return backprop(self.net, self.chip.theta, ds.X_train, ds.Y_train,
                            quantizer=self.quantizer)
        idx, counts = np.unique(samples, return_counts=True)
        return backprop(self.net, self.chip.theta, ds.X_train[idx], ds.Y_train[idx],
                        weights=counts / counts.sum(), quantizer=self.quantizer)

    def measure(self, step):
        """The diagnostics columns at the tick of ``step`` (a dict over :attr:`columns`)."""
        g, h, samples = self._probe_window()
        row = dict.fromkeys(self.columns, float("nan"))
        if len(samples) == 0:
            return row
        true = self.true_gradient(samples)
        pairs = [("grad", g, true.grad)] + ([("node", h, true.node_grad)] if self.nodes else [])
        for prefix, est, ref in pairs:
            if f"{prefix}_cos" in row:
                row[f"{prefix}_cos"], row[f"{prefix}_angle_deg"] = angle_stats(est.sum(0), ref)
            if f"{prefix}_snr" in row:
                row[f"{prefix}_snr"] = projected_snr(est, ref)
        return row


def diagnostics_for(cfg, chip, network, dataset, build_probe):
    """The run's :class:`Diagnostics`, or None when ``diagnostics.enabled`` is false (then
    nothing is built and evaluation ticks cost what they did before).

    Parameters
    ----------
    cfg : hwsim.config.RunConfig
    chip : hwsim.chip.chip.Chip
        The training chip.
    network : hwsim.chip.network.MLP
    dataset : hwsim.tasks.Dataset
    build_probe : callable
        ``build_probe(cfg)`` returns a chip built from a config (the trainer's
        ``build_chip``); it is called with ``mgd.eta = 0``.

    Returns
    -------
    Diagnostics or None
    """
    if not cfg.diagnostics.enabled:
        return None
    probe = build_probe(cfg.with_overrides({"mgd.eta": 0.0}))
    return Diagnostics(cfg, chip, probe, network, dataset)
