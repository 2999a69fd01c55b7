"""Minibatch costs through the periphery and through noisy device reads (mgd.batch = B > 1).

Every inference of a batch draws its own converter and read noise (sample b of the k-th
inference of step n at noise sub-coordinate k + b·2³²). Independent values: NumPy forward
passes through the same converters and noise draws (tests/naive.py hashes), the batch-mean
gradient by finite differences, hand counts, and the plain-Python controller over the port.
"""

import math

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.network import MLP
from hwsim.chip.port import EmulatorPort
from hwsim.config import ChipConfig
from hwsim.exceptions import ConfigError
from hwsim.kernels.devices import I_SEED, S_READ_STD
from hwsim.learn.controller import MGDController
from tests import naive
from tests.test_mgd_facts import fd_gradient

SIZES = [3, 4, 2]
STREAM_PERIPHERY = 10
BS = 1 << 32  # the batch stride of the noise sub-coordinate
NOISY = dict(inp_bound=1.0, inp_res=1 / 30, inp_noise=0.02, out_bound=3.0, out_res=1 / 60,
             out_noise=0.03, neuron_gain_dtod=0.1, neuron_offset_dtod=0.05)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.random((10, 3))
    return X, np.eye(2)[rng.integers(0, 2, 10)]


def periph_chip(data, periphery=NOISY, **kw):
    net = MLP(SIZES, "sigmoid", "auto", "mse", periphery=ChipConfig(**periphery), seed=2)
    X, Y = data
    return Chip(net, X, Y, net.init_params(1, "uniform", -1.0, 1.0), seed=3, **kw)


def _quant(v, bound, res):
    if bound <= 0.0:
        return v
    v = np.clip(v, -bound, bound)
    if res > 0.0:
        step = res * 2.0 * bound
        v = np.floor(v / step + 0.5) * step
        v = np.where(v > bound, v - step, np.where(v < -bound, v + step, v))
    return v


def periph_cost(m, theta, x, y, counter, sub, npert=None):
    """One inference through DACs, ADCs (noise at (counter, converter, sub)) and the neurons'
    gain/offset, in NumPy, from docs/devices.md "Periphery"; ``npert`` (M,) a node
    perturbation added to each analog pre-activation before its ADC."""
    ib, ir, inoise, ob, orr, onoise, seed = (float(v) for v in m.per[:7])

    def noise(idx):
        return np.array([naive.normal_from_bits(naive.hash_sub(int(seed), STREAM_PERIPHERY,
                                                               counter, i, sub)) for i in idx])

    a, p, k, conv = np.asarray(x, float), 0, 0, 0
    for l in range(len(SIZES) - 1):
        nin, nout = SIZES[l], SIZES[l + 1]
        W = theta[p:p + nin * nout].reshape(nout, nin)
        b = theta[p + nin * nout:p + nin * nout + nout]
        p += nin * nout + nout
        if inoise > 0:
            a = a + inoise * ib * noise(range(conv, conv + nin))
        q = _quant(a, ib, ir)
        conv += nin
        s = W @ q + b
        if onoise > 0:
            s = s + onoise * ob * noise(range(conv, conv + nout))
        z = m.scale * s + (0.0 if npert is None else npert[k:k + nout])
        s = _quant(z, ob, orr)
        conv += nout
        a = 1.0 / (1.0 + np.exp(-(m.gain[k:k + nout] * s + m.offset[k:k + nout])))
        k += nout
    return float(np.mean((a - y) ** 2))


def batch_periph_cost(m, theta, batch, counter, sub, stride=BS):
    return float(np.mean([periph_cost(m, theta, m.X[i], m.Y[i], counter, sub + b * stride)
                          for b, i in enumerate(batch)]))


def test_periphery_costs_are_batch_means_through_the_converters(data):
    c = periph_chip(data, batch=4, eta=0.0, tau_x=4)
    m, theta = c.model.sense, c.theta.copy()
    A = 0.05 / np.sqrt(c.P)
    c.advance(1)
    batch = naive.batch_indices(3, 0, 4, 10)
    assert c.cost_line["c0"] == pytest.approx(batch_periph_cost(m, theta, batch, 0, 1), rel=1e-12)
    want = batch_periph_cost(m, theta + A * naive.cdma_code(3, 0, c.P), batch, 0, 0)
    assert c.cost_line["c"] == pytest.approx(want, rel=1e-12)
    c.advance(1)  # step 1: the held batch, its own noise draws, the next code
    want = batch_periph_cost(m, theta + A * naive.cdma_code(3, 1, c.P), batch, 1, 0)
    assert c.cost_line["c"] == pytest.approx(want, rel=1e-12)
    # every sample draws its own noise: the same draw for the whole batch is another cost
    shared = batch_periph_cost(m, theta + A * naive.cdma_code(3, 1, c.P), batch, 1, 0, stride=0)
    assert abs(shared - want) > 1e-6


def test_two_sided_periphery_pass_is_the_batch_mean(data):
    c = periph_chip(data, batch=3, eta=0.0, tau_x=5, estimate="two_sided")
    m, theta = c.model.sense, c.theta.copy()
    pert = 0.05 / np.sqrt(c.P) * naive.cdma_code(3, 0, c.P)
    c.advance(1)
    batch = naive.batch_indices(3, 0, 3, 10)
    plus = batch_periph_cost(m, theta + pert, batch, 0, 0)
    minus = batch_periph_cost(m, theta - pert, batch, 0, 1)
    assert c.cost_line["c"] == pytest.approx(plus, rel=1e-12)
    assert c.cost_line["ctilde"] == pytest.approx(0.5 * (plus - minus), rel=1e-9, abs=1e-15)


TRANSPARENT = dict(inp_bound=1e6, out_bound=1e6)  # converters on, never saturating, no grid


def test_walsh_estimate_through_a_transparent_periphery_is_the_batch_mean_gradient(data):
    X, Y = data
    c = periph_chip(data, TRANSPARENT, batch=6, perturbation="walsh", estimate="two_sided",
                    amplitude=1e-3, eta=0.0, tau_x=10**6, tau_theta=10**6)
    theta, H = c.theta.copy(), c.code_period
    c.advance(H)
    batch = naive.batch_indices(3, 0, 6, 10)
    cost = lambda th: np.mean([naive.mlp_cost(th, X[i], Y[i], SIZES) for i in batch])  # noqa: E731
    assert np.allclose(c.grad / H, fd_gradient(cost, theta) / c.P, rtol=1e-5, atol=1e-12)


def test_cdma_expectation_through_a_transparent_periphery_is_the_batch_mean_gradient(data):
    X, Y = data
    T = 20_000
    c = periph_chip(data, TRANSPARENT, batch=4, amplitude=0.01, eta=0.0, tau_x=T,
                    tau_theta=T + 1)
    theta = c.theta.copy()
    c.advance(T)
    batch = naive.batch_indices(3, 0, 4, 10)
    cost = lambda th: np.mean([naive.mlp_cost(th, X[i], Y[i], SIZES) for i in batch])  # noqa: E731
    want = fd_gradient(cost, theta) / c.P
    assert np.linalg.norm(c.grad / T - want) / np.linalg.norm(want) < 0.15


def test_periphery_counts_B_inferences_and_their_conversions(data):
    c = periph_chip(data, batch=4, tau_x=3, eta=0.0)
    c.advance(7)  # inputs at steps 0, 3, 6: 3 baseline + 7 perturbed passes of 4 inferences
    cnt = c.counters()
    assert (cnt["perturbed_inferences"], cnt["baseline_inferences"]) == (28, 12)
    assert cnt["macs"] == 40 * (3 * 4 + 4 * 2) and cnt["device_reads"] == 40 * 26
    assert cnt["dac_conversions"] == 40 * (3 + 4) and cnt["adc_conversions"] == 40 * (4 + 2)


# -- device read noise ------------------------------------------------------------------

def noisy_device(std=0.01, frozen=False, P=26, by_write=False):
    p = params_for("ConstantStep", {"dw_min": 0.001, "w_max": 2.0, "w_min": -2.0,
                                    "read_noise": "additive", "read_noise_std": std,
                                    "read_noise_frozen_per_step": frozen,
                                    "perturbation_by_write": by_write})
    return DeviceArray(p, P, 3)


def mlp_chip(data, dev, **kw):
    net = MLP(SIZES, "sigmoid", "auto", "mse")
    X, Y = data
    return Chip(net, X, Y, net.init_params(1, "uniform", -1.0, 1.0), seed=3, device=dev, **kw)


@pytest.mark.parametrize("frozen", [False, True], ids=["independent", "frozen"])
def test_per_weight_reads_one_per_inference(data, frozen):
    """Each inference of the batch reads the array anew: sample b of inference k at read-noise
    sub-coordinate k + b·2³² (independent reads), or the step's one frozen draw."""
    X, Y = data
    c = mlp_chip(data, noisy_device(frozen=frozen), batch=4, eta=0.0, tau_x=4,
                 read_noise_model="auto" if frozen else "per_weight")
    assert c.read_noise_model == "per_weight"  # frozen: auto picks per-weight with a batch
    I, S = c.model.dev[0], c.model.dev[2]
    seed, sd = int(I[I_SEED]), float(S[S_READ_STD])
    theta = c.theta.copy()
    pert = 0.05 / np.sqrt(c.P) * naive.cdma_code(3, 0, c.P)
    c.advance(1)
    batch = naive.batch_indices(3, 0, 4, 10)

    def cost(add, sub):
        return np.mean([naive.mlp_cost(np.array(naive.additive_read(
            theta, sd, seed, 0, 0 if frozen else sub + b * BS)) + add, X[i], Y[i], SIZES)
            for b, i in enumerate(batch)])

    assert c.cost_line["c0"] == pytest.approx(cost(0.0, 1), rel=1e-12)
    assert c.cost_line["c"] == pytest.approx(cost(pert, 0), rel=1e-12)
    cnt = c.counters()
    assert cnt["device_reads"] == 2 * 4 * c.P  # two passes of four inferences, P cells each


def test_write_based_perturbation_reads_the_stored_weights_per_inference(data):
    """Perturbation written into the devices: the step-0 baseline reads the stored weights
    once per inference of the batch (sub 1 + b·2³²), before the code is written."""
    X, Y = data
    c = mlp_chip(data, noisy_device(by_write=True), batch=3, eta=0.0, tau_x=4,
                 read_noise_model="per_weight")
    seed, sd = int(c.model.dev[0][I_SEED]), float(c.model.dev[2][S_READ_STD])
    theta = c.theta.copy()
    c.advance(1)
    batch = naive.batch_indices(3, 0, 3, 10)
    want = np.mean([naive.mlp_cost(np.array(naive.additive_read(theta, sd, seed, 0, 1 + b * BS)),
                                   X[i], Y[i], SIZES) for b, i in enumerate(batch)])
    assert c.cost_line["c0"] == pytest.approx(want, rel=1e-12)
    assert c.counters()["device_reads"] == 2 * 3 * c.P


def _normal_pair(bits):
    u1 = ((bits >> 32) + 0.5) / 4294967296.0
    u2 = (bits & 0xFFFFFFFF) / 4294967296.0
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)


def test_per_neuron_read_noise_per_inference_of_the_batch(data):
    """Per-neuron draws (σ·‖(a, 1)‖·ζ per neuron, independent reads), sample b at
    sub-coordinate 2 + b·2³²: the perturbed pass takes the pair's first normal, the
    baseline its second."""
    X, Y = data
    c = mlp_chip(data, noisy_device(std=0.02), batch=3, eta=0.0, tau_x=4,
                 read_noise_model="per_neuron")
    seed, sd = int(c.model.dev[0][I_SEED]), float(c.model.dev[2][S_READ_STD])
    theta = c.theta.copy()
    pert = 0.05 / np.sqrt(c.P) * naive.cdma_code(3, 0, c.P)
    c.advance(1)
    batch = naive.batch_indices(3, 0, 3, 10)

    def cost(th, which, b, i):
        a, p, k = X[i], 0, 0
        for l in range(len(SIZES) - 1):
            nin, nout = SIZES[l], SIZES[l + 1]
            W = th[p:p + nin * nout].reshape(nout, nin)
            bias = th[p + nin * nout:p + nin * nout + nout]
            p += nin * nout + nout
            z = np.array([_normal_pair(naive.hash_sub(seed, 7, 0, k + o, 2 + b * BS))[which]
                          for o in range(nout)])
            a = 1 / (1 + np.exp(-(W @ a + bias + sd * np.sqrt(1 + a @ a) * z)))
            k += nout
        return np.mean((a - Y[i]) ** 2)

    c0 = np.mean([cost(theta, 1, b, i) for b, i in enumerate(batch)])
    cp = np.mean([cost(theta + pert, 0, b, i) for b, i in enumerate(batch)])
    assert c.cost_line["c0"] == pytest.approx(c0, rel=1e-12)
    assert c.cost_line["c"] == pytest.approx(cp, rel=1e-12)
    assert c.counters()["device_reads"] == 2 * 3 * c.P


def test_frozen_read_noise_with_a_batch_is_per_weight(data):
    c = mlp_chip(data, noisy_device(frozen=True), batch=2)
    assert c.read_noise_model == "per_weight"
    with pytest.raises(ConfigError, match="^chip.read_noise_model = 'per_neuron': with "
                       "mgd.batch = 2 the read noise frozen per step"):
        mlp_chip(data, noisy_device(frozen=True), batch=2, read_noise_model="per_neuron")
    assert mlp_chip(data, noisy_device(frozen=True)).read_noise_model == "per_neuron"


# -- the controller over the port -------------------------------------------------------

RULE = dict(perturbation="cdma", amplitude=0.05, eta=0.5, tau_p=2, tau_x=3, tau_theta=4)


@pytest.mark.parametrize("case", ["periph-discrete", "periph-two_sided", "periph-analog",
                                  "reads-discrete", "reads-two_sided", "reads-analog"])
def test_controller_over_the_port_equals_the_fused_driver(data, case):
    what, how = case.split("-")
    rule = dict(RULE, mode="analog" if how == "analog" else "discrete",
                estimate="two_sided" if how == "two_sided" else "one_sided")
    if what == "periph":
        fused, ported = (periph_chip(data, batch=4, **rule) for _ in range(2))
    else:
        fused, ported = (mlp_chip(data, noisy_device(), batch=4, read_noise_model="per_weight",
                                  **rule) for _ in range(2))
    ctl = MGDController(EmulatorPort(ported), seed=3, batch=4, **rule)
    theta0 = fused.theta.copy()
    for n in (1, 5, 37, 157):
        fused.advance(n)
        ctl.run(n)
        assert np.array_equal(fused.theta, ported.theta) and np.array_equal(fused.grad, ctl.G)
        assert fused.cost_line["ctilde"] == ctl.ctilde
    a, b = fused.counters(), ported.counters()
    for k in ("perturbed_inferences", "baseline_inferences", "macs", "device_reads",
              "dac_conversions", "adc_conversions"):
        assert a[k] == b[k], k
    passes = 200 * (2 if how == "two_sided" else 1)
    assert a["perturbed_inferences"] == 4 * passes
    assert not np.allclose(fused.theta, theta0, atol=1e-3)  # it trained
