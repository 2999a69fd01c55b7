"""The nonideal perturbation source ([chip.perturbation], docs/chip.md): shared generators
with the cross-talk they cause, amplitude mismatch and noise, code bias, bandwidth,
neighbour cross-talk, FDMA frequency error and jitter, nominal or measured reference."""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.chip.perturbation import generator_map
from hwsim.chip.port import EmulatorPort
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.tasks import load_task
from tests import naive
from tests.test_mgd_facts import fd_gradient


def _setup():
    ds = load_task("parity", bits=4)
    net = MLP([4, 10, 1])
    X, Y, lab = ds.X_train[5:6], ds.Y_train[5:6], ds.labels_train[5:6]
    theta = net.init_params(2, "uniform", -1.0, 1.0)
    return net, X, Y, lab, theta


def _chip(src=None, code="cdma", amplitude=1e-2, seed=4, tau_theta=10**9, **kw):
    net, X, Y, _, theta = _setup()
    return Chip(net, X, Y, theta, seed=seed, amplitude=amplitude, eta=0.0, tau_theta=tau_theta,
                perturbation=code, source_noise=src, **kw)


def test_row_generators_give_identical_codes_within_a_row():
    chip = _chip(dict(shared="row"))
    gen, n_gen = generator_map("row", 1, chip.network.sizes, chip.P)
    assert n_gen == 11  # 10 hidden neurons and the output
    for _ in range(5):
        chip.advance(1)
        for g in range(n_gen):
            assert np.unique(chip.pert[gen == g]).size == 1
        assert np.unique(chip.pert[gen != gen[0]]).size == 2  # other rows differ
    w, b = chip.network.layer_slices(0)
    assert (gen[w].reshape(10, 4) == np.arange(10)[:, None]).all() and (gen[b] == np.arange(10)).all()
    assert chip.counters()["code_generations"] == 5 * n_gen  # one value per generator


@pytest.mark.parametrize("shared", ["row", "column"])
def test_shared_generator_crosstalk_matches_the_derived_expectation(shared):
    """docs/chip.md: with θ̃_i = A·s_g(i), C̃ ≈ Σ_j ∂C/∂θ_j θ̃_j, so E[G_i] per step is
    (A²/Δ²)·Σ_{j: g(j) = g(i)} ∂C/∂θ_j: every synapse's estimate is its generator's summed
    gradient (cross-talk coefficient 1 within a generator, 0 across)."""
    net, X, Y, lab, theta = _setup()
    N, delta = 40_000, 1e-3
    chip = _chip(dict(shared=shared), amplitude=delta)
    chip.advance(N)
    grad = fd_gradient(lambda th: net.evaluate(th, X, Y, lab)[0], theta)
    gen, n_gen = generator_map(shared, 1, net.sizes, net.n_params)
    summed = np.array([grad[gen == gen[i]].sum() for i in range(net.n_params)])
    A = float(chip.source.code_amp)
    measured = chip.grad * delta ** 2 / (A * A * N)
    assert np.linalg.norm(measured - summed) < 0.05 * np.linalg.norm(summed)
    # and not the per-synapse gradient an unshared source estimates
    assert np.linalg.norm(measured - grad) > 0.5 * np.linalg.norm(grad)


def test_group_sharing_on_an_analytic_cost():
    a = np.array([1.0, -2.0, 3.0, 0.5, -1.5, 2.5])
    chip = Chip(None, np.zeros((1, 0)), None, np.zeros(6), analytic=("linear", a), eta=0.0,
                amplitude=0.01, tau_theta=10**9, seed=2, source_noise=dict(shared="group",
                                                                          group_size=2))
    chip.advance(20_000)
    A = float(chip.source.code_amp)
    est = chip.grad * 0.01 ** 2 / (A * A * 20_000)
    want = np.repeat(a.reshape(3, 2).sum(1), 2)
    assert np.allclose(est, want, atol=0.03 * np.abs(want).max())
    with pytest.raises(ConfigError, match="needs a network"):
        Chip(None, np.zeros((1, 0)), None, np.zeros(6), analytic=("linear", a),
             source_noise=dict(shared="row"))


def _pair(src, code="cdma", steps=1):
    ideal, noisy = _chip(None, code), _chip(src, code)
    ideal.advance(steps)
    noisy.advance(steps)
    return ideal, noisy


def test_amplitude_mismatch_and_noise_scale_the_applied_code_only():
    sd, sc = 0.1, 0.05
    ideal, chip = _pair(dict(amp_dtod=sd, amp_c2c=sc), steps=3)
    alpha = np.array([1 + sd * naive.normal_from_bits(naive.hash4(4, 22, 0, i))
                      for i in range(chip.P)])
    zeta = np.array([naive.normal_from_bits(naive.hash4(4, 23, 2, i)) for i in range(chip.P)])
    assert np.array_equal(chip.state.reference, ideal.pert)  # the nominal code
    assert np.allclose(chip.pert, ideal.pert * alpha * (1 + sc * zeta), rtol=1e-12, atol=0)
    a, b = chip.get_state(), ideal.get_state()
    for k in a:
        if k not in ("G", "applied", "cost_line"):
            assert a[k].tobytes() == b[k].tobytes(), k


def test_code_bias_sets_the_share_of_plus():
    chip = _chip(dict(p_plus=0.7))
    plus = 0
    for _ in range(200):
        chip.advance(1)
        plus += int((chip.pert > 0).sum())
    n = 200 * chip.P
    assert abs(plus / n - 0.7) < 4 * np.sqrt(0.21 / n)
    assert np.array_equal(chip.pert, chip.state.reference)  # the generator is the nominal
    with pytest.raises(ConfigError, match="p_plus = 0.7: a code bias needs"):
        _chip(dict(p_plus=0.7), code="walsh")


def test_bandwidth_low_passes_the_applied_code_step_by_step():
    tau = 2.0
    ideal, chip = _chip(None, tau_p=3), _chip(dict(bandwidth_tau=tau), tau_p=3)
    a, y = tau / (tau + 1), np.zeros(chip.P)
    for _ in range(10):
        ideal.advance(1)
        chip.advance(1)
        y = a * y + (1 - a) * ideal.pert
        assert np.allclose(chip.pert, y, rtol=1e-12, atol=1e-18)
        assert np.array_equal(chip.state.reference, ideal.pert)


def test_neighbour_crosstalk():
    chi = 0.1
    ideal, chip = _pair(dict(crosstalk=chi))
    v = ideal.pert
    want = v + chi * (np.r_[0.0, v[:-1]] + np.r_[v[1:], 0.0])
    assert np.allclose(chip.pert, want, rtol=1e-12, atol=0)


def test_fdma_frequency_error_and_jitter_move_the_applied_sine_only():
    ideal, chip = _pair(dict(fdma_freq_dtod=0.01, fdma_phase_jitter=0.1), code="fdma", steps=7)
    assert np.array_equal(chip.state.reference, ideal.pert)
    assert not np.allclose(chip.pert, ideal.pert)
    assert np.abs(chip.pert).max() <= float(chip.source.code_amp) * (1 + 1e-12)
    with pytest.raises(ConfigError, match="need mgd.perturbation = 'fdma'"):
        _chip(dict(fdma_phase_jitter=0.1))


def test_measured_reference_correlates_with_the_applied_perturbation():
    src = dict(amp_dtod=0.3, reference="measured")
    chip, nominal = _chip(src), _chip(dict(amp_dtod=0.3))
    chip.advance(1000)
    nominal.advance(1000)
    assert chip.state.reference is chip.state.applied
    assert not np.array_equal(chip.grad, nominal.grad)


def test_chunked_and_resumed_runs_are_bit_identical():
    src = dict(shared="column", amp_c2c=0.1, bandwidth_tau=1.5, crosstalk=0.05)
    mk = lambda: _chip(src, tau_p=3, cost_line=dict(latency=4, match_delay=True))  # noqa
    whole, part = mk(), mk()
    whole.advance(301)
    for n in (1, 7, 100):
        part.advance(n)
    fresh = mk()
    fresh.set_state(part.get_state())
    fresh.advance(301 - 108)
    for k, v in whole.get_state().items():
        assert v.tobytes() == fresh.get_state()[k].tobytes(), k
    assert np.array_equal(whole.grad, fresh.grad)


def test_refusals_and_config():
    with pytest.raises(ConfigError, match="EmulatorPort: the chip's perturbation source"):
        EmulatorPort(_chip(dict(amp_dtod=0.1)))
    with pytest.raises(ConfigError, match="needs mgd.target = 'weights'"):
        _chip(dict(amp_dtod=0.1), target="nodes")
    with pytest.raises(ConfigError, match="reference = 'measured' with"):
        _chip(dict(reference="measured"), cost_line=dict(latency=2, match_delay=True))
    with pytest.raises(ConfigError, match="chip.perturbation.p_plus = 1.0"):
        RunConfig().with_overrides({"chip.perturbation.p_plus": 1.0})
    assert _chip({}).fast_path_applies() and not _chip(dict(crosstalk=0.1)).fast_path_applies()


# Every option of the three signal-path sections, with the state it may change when θ is
# frozen (η = 0): everything else must stay bit-identical to the ideal chip.
ISOLATION = [
    ("cost_line", dict(latency=3), {"G", "line_mem"}),
    ("cost_line", dict(latency=3, match_delay=True), {"G", "line_mem", "counters"}),
    ("cost_line", dict(noise_std=1e-3), {"G", "line_mem"}),
    ("cost_line", dict(bits=4, range=3e-4), {"G", "line_mem", "counters"}),
    ("cost_line", dict(bandwidth_tau=2.0), {"G", "line_mem"}),
    ("integrator", dict(tau_leak=20.0), {"G"}),
    ("integrator", dict(saturation=0.05), {"G"}),
    ("integrator", dict(offset=1e-4), {"G"}),
    ("integrator", dict(gain_dtod=0.2), {"G"}),
    ("integrator", dict(bits=12, lsb=1e-4), {"G"}),
    ("integrator", dict(reset_keep=0.5), {"G"}),
    ("source_noise", dict(amp_dtod=0.2), {"G", "applied", "cost_line"}),
    ("source_noise", dict(amp_c2c=0.2), {"G", "applied", "cost_line"}),
    ("source_noise", dict(p_plus=0.6), {"G", "applied", "cost_line"}),
    ("source_noise", dict(bandwidth_tau=2.0), {"G", "applied", "cost_line"}),
    ("source_noise", dict(shared="row"), {"G", "applied", "cost_line", "counters"}),
    ("source_noise", dict(crosstalk=0.1), {"G", "applied", "cost_line"}),
    ("source_noise", dict(amp_dtod=0.2, reference="measured"), {"G", "applied", "cost_line"}),
]


@pytest.mark.parametrize("section,spec,may_change", ISOLATION,
                         ids=[f"{s}-{'-'.join(d)}" for s, d, _ in ISOLATION])
def test_each_option_changes_only_its_own_outputs(section, spec, may_change):
    """θ frozen, 200 steps, tau_theta = 50: the listed state differs from the ideal chip
    (the option does something) and every other named state array is bit-identical.
    ``counters`` may differ only in the counter the option owns."""
    ideal = _chip(None, tau_theta=50)
    chip = (_chip(spec, tau_theta=50) if section == "source_noise"
            else _chip(**{section: spec}, tau_theta=50))
    ideal.advance(200)
    chip.advance(200)
    a, b = chip.get_state(), ideal.get_state()
    changed = {k for k in a if a[k].tobytes() != b[k].tobytes()}
    assert "G" in changed and changed <= may_change, changed
    ca, cb = chip.counters(), ideal.counters()
    own = {"cost_clipped", "code_generations"}
    assert {k for k in ca if ca[k] != cb[k]} <= own
