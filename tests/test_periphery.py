"""Periphery: DAC/ADC quantisation of signals (never weights), converter noise, neuron variation."""

import numpy as np
import pytest

from hwsim.chip.network import MLP
from hwsim.config import ChipConfig, RunConfig
from hwsim.kernels.periphery import quantize
from tests import naive


def chip_cfg(**kw):
    return RunConfig.from_dict({"chip": kw}).chip


def test_D4_dac_levels():  # case D4
    levels = {quantize(x, 1.0, 1 / 126) for x in np.linspace(-2, 2, 200_001)}
    assert len(levels) == 127
    assert min(levels) == -1.0 and max(levels) == 1.0
    assert quantize(5.0, 1.0, 1 / 126) == 1.0 and quantize(-5.0, 1.0, 1 / 126) == -1.0


@pytest.mark.parametrize("res,n", [(0.5, 3), (0.25, 5), (1 / 254, 255)])
def test_converter_level_count_is_one_over_res_plus_one(res, n):
    assert len({quantize(x, 2.0, res) for x in np.linspace(-3, 3, 100_001)}) == n


def _data(sizes, n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, sizes[0]))
    labels = rng.integers(0, sizes[-1], n)
    return X, np.eye(sizes[-1])[labels], labels


def test_wide_converters_equal_the_ideal_chip():
    sizes = [5, 7, 3]
    X, Y, lab = _data(sizes)
    ideal = MLP(sizes)
    wide = MLP(sizes, periphery=chip_cfg(inp_bound=1e6, out_bound=1e6))
    theta = ideal.init_params(1)
    assert wide.periphery is not None and ideal.periphery is None
    np.testing.assert_allclose(wide.evaluate(theta, X, Y, lab), ideal.evaluate(theta, X, Y, lab),
                               rtol=1e-12)


def test_quantisation_matches_reference_and_never_touches_weights():
    sizes = [4, 6, 2]
    X, Y, lab = _data(sizes)
    c = chip_cfg(inp_bound=1.0, inp_res=1 / 14, out_bound=2.0, out_res=1 / 30,
                 neuron_gain_dtod=0.2, neuron_offset_dtod=0.1)
    net = MLP(sizes, periphery=c, seed=3)
    theta = net.init_params(2)
    before = theta.copy()
    cost, _ = net.evaluate(theta, X, Y, lab)
    assert np.array_equal(theta, before)

    def ref(x, y):
        a, o, k = x, 0, 0
        for l in range(len(sizes) - 1):
            nin, nout = sizes[l], sizes[l + 1]
            W = theta[o:o + nin * nout].reshape(nout, nin)
            b = theta[o + nin * nout:o + nin * nout + nout]
            o += nin * nout + nout
            q = np.array([quantize(v, 1.0, 1 / 14) for v in a])
            s = np.array([quantize(v, 2.0, 1 / 30) for v in W @ q + b])
            a = 1 / (1 + np.exp(-(net.neuron_gain[k:k + nout] * s + net.neuron_offset[k:k + nout])))
            k += nout
        return np.mean((a - y) ** 2)

    assert cost == pytest.approx(np.mean([ref(X[i], Y[i]) for i in range(len(X))]), rel=1e-10)


def test_adc_noise_has_the_stated_spread():
    """out_noise is relative to out_bound: a linear 1-1 layer shows std out_noise * out_bound."""
    c = chip_cfg(out_bound=4.0, out_noise=0.05)
    net = MLP([1, 1], "sigmoid", "linear", periphery=c, seed=1)
    theta = np.array([0.0, 0.5])  # w = 0, b = 0.5: output 0.5 + noise
    X, Y, lab = np.zeros((1, 1)), np.zeros((1, 1)), np.zeros(1, dtype=np.int64)
    outs = np.array([net.evaluate(theta, X, Y, lab, counter=k)[0] for k in range(20000)])
    # cost = (0.5 + e)^2 with e ~ N(0, 0.2^2): mean 0.25 + 0.04
    assert outs.mean() == pytest.approx(0.25 + 0.2**2, rel=0.03)


def test_converter_noise_is_reproducible_and_keyed_by_counter():
    sizes = [3, 4, 2]
    X, Y, lab = _data(sizes)
    net = MLP(sizes, periphery=chip_cfg(inp_bound=1.0, inp_noise=0.05), seed=1)
    th = net.init_params(0)
    a = net.evaluate(th, X, Y, lab, counter=7)
    assert a == net.evaluate(th, X, Y, lab, counter=7)
    assert a != net.evaluate(th, X, Y, lab, counter=8)


def test_quantisation_blocks_small_perturbations_and_larger_amplitude_recovers(tmp_path):
    """The physics users come for: a 127-level DAC hides a tiny perturbation's effect on hidden
    activations; MGD with amplitude 0.05 fails where 0.5 learns."""
    from hwsim.learn import MGDTrainer

    base = {"seed": 1, "task": {"name": "digits"},
            "network": {"sizes": [64, 32, 10], "cost": "cross_entropy"},
            "chip": {"inp_bound": 1.0, "inp_res": 1 / 126},
            "sim": {"steps": 300_000, "eval_every": 100_000}}
    acc = {}
    for amp in (0.05, 0.5):
        d = dict(base, mgd={"amplitude": amp, "eta": 1.0})
        acc[amp] = MGDTrainer(RunConfig.from_dict(d)).run().summary_["final_test_accuracy"]
    assert acc[0.5] > 0.85 and acc[0.05] < acc[0.5] - 0.2


@pytest.mark.parametrize("over", [["chip.out_bound=4.0", "chip.adc_bits=6"],
                                  ["chip.inp_bound=1.0", "chip.dac_bits=6"]])
def test_R2_the_nan_guard_fires_through_converters(over):  # case R2
    """A converter's clip must not turn a NaN weight into a finite signal the guard misses."""
    from hwsim.config import load_config
    from hwsim.learn import build_chip

    assert np.isnan(quantize(float("nan"), 1.0, 1 / 63))
    cfg = load_config("examples/xor.toml", over)
    chip, _, _ = build_chip(cfg)
    st = {k: v.copy() for k, v in chip.get_state().items()}
    st["theta"][1] = np.nan  # layer 0: seen by the DAC'd input's product and the ADC
    chip.set_state(st)
    assert chip.advance(10) != 0
