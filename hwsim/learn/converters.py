"""Converters given in bits: range calibration from a short pass over the training data, and
the start-up check that a perturbation's cost change is not below one ADC step (issue 13).

A DAC or ADC of b bits has 2^b levels over ±bound (``chip.dac_bits``/``adc_bits``, the same
as ``inp_res``/``out_res`` = 1/(2^b − 1)); one step (LSB) is 2·bound/(2^b − 1). With
``chip.converter_range = "calibrate"`` each bound still 0 is measured by one unperturbed pass
of the network at its initial weights over the first ``chip.calibration_samples`` training
samples (1.1 × the largest abs value: layer inputs for the DAC, pre-activations for the
ADC), and the resolved config (the run folder's config.toml) records the value.
"""

import numpy as np

from hwsim.chip.network import MLP

#: Head-room of a calibrated range over the largest value seen in the calibration pass.
CALIBRATION_MARGIN = 1.1


def _act(z, kind):
    if kind == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if kind == "relu":
        return np.maximum(z, 0.0)
    return np.tanh(z)


def layer_signals(net, theta, X):
    """One unperturbed, ideal forward pass over the rows of ``X``.

    Returns
    -------
    list of (inputs (N, n_l), pre-activations (N, n_{l+1})), one per layer
        Pre-activations are ``weight_scale·(W a + b)``; hidden layers use the network's
        activation (the output activation does not matter for the ranges).
    """
    a = np.asarray(X, dtype=np.float64)
    out = []
    n_layers = len(net.sizes) - 1
    th = np.asarray(theta, dtype=np.float64)
    for l in range(n_layers):
        w, b = net.layer_slices(l)
        W = th[w].reshape(int(net.sizes[l + 1]), int(net.sizes[l]))
        z = net.weight_scale * (a @ W.T + th[b])
        out.append((a, z))
        a = _act(z, net.activation)
    return out


def calibrate_config(cfg, dataset):
    """``cfg`` with every converter range still to be calibrated measured (module docstring).

    Parameters
    ----------
    cfg : hwsim.config.RunConfig
    dataset : hwsim.tasks.Dataset
        The run's training data (the pass takes its first ``chip.calibration_samples``).

    Returns
    -------
    hwsim.config.RunConfig
        Unchanged when nothing is to be calibrated (``chip.converter_range = "given"``, or
        the bounds are already set, as in a run folder's config.toml).
    """
    dac, adc = cfg.chip.needs_calibration()
    if not (dac or adc):
        return cfg
    n = cfg.network
    net = MLP(n.sizes, n.activation, n.output_activation, n.cost,
              weight_scale=cfg.chip.weight_scale)
    theta0 = net.init_params(cfg.seed, n.init, n.init_low, n.init_high)
    sig = layer_signals(net, theta0, dataset.X_train[: cfg.chip.calibration_samples])
    over = {}
    if dac:
        over["chip.inp_bound"] = CALIBRATION_MARGIN * max(float(np.abs(a).max()) for a, _ in sig)
    if adc:
        over["chip.out_bound"] = CALIBRATION_MARGIN * max(float(np.abs(z).max()) for _, z in sig)
    return cfg.with_overrides({k: v if v > 0 else 1.0 for k, v in over.items()})


def adc_warnings(cfg, chip, dataset) -> list:
    """A warning when the pre-activation change a perturbation causes is below one ADC step.

    With weight perturbation every weight of a neuron carries ±A, so its pre-activation
    moves by weight_scale·A·‖(a, 1)‖ in RMS (a its layer input; ‖·‖ averaged over the
    calibration samples at the initial weights); with node perturbation by A itself. When
    the largest of these over the layers is below one ADC step 2·out_bound·out_res, the
    converted cost barely moves with the code and MGD learns little or nothing.

    Returns
    -------
    list of str
        Empty, or one message naming the keys, the step and the ratio.
    """
    c = cfg.chip.converters()
    if not (c.out_bound > 0 and c.out_res > 0) or chip.network is None:
        return []
    lsb = 2.0 * c.out_bound * c.out_res
    A = float(chip.source.code_amp)
    if chip.target == "nodes":
        dz = A
    else:
        sig = layer_signals(chip.network, chip.theta, dataset.X_train[: c.calibration_samples])
        dz = max(chip.network.weight_scale * A * float(np.sqrt(np.mean(
            np.sum(a * a, axis=1) + 1.0))) for a, _ in sig)
    if dz >= lsb:
        return []
    bits = f"chip.adc_bits = {cfg.chip.adc_bits}" if cfg.chip.adc_bits else \
        f"chip.out_res = {c.out_res:g}"
    return [f"mgd.amplitude = {cfg.mgd.amplitude:g} moves a pre-activation by about "
            f"{dz:.3g} (RMS), below one ADC step 2·chip.out_bound·out_res = {lsb:.3g} "
            f"({bits}, chip.out_bound = {c.out_bound:.4g}; ratio {dz / lsb:.2g}): the cost "
            "change a perturbation causes is mostly lost in the ADC; raise mgd.amplitude by "
            f"at least {lsb / dz:.2g}x or give the ADC more bits"]
