"""The fused fast path (hwsim.kernels.fast) against the general stage driver, bit for bit."""

import itertools

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP

CHUNKS = (1, 997, 3, 40, 1, 258)


def _chip(sizes, code, tau_theta, tau_p, tau_x, eta, dtype, fast, seed=3, act="sigmoid",
          cost="mse", n_samples=37):
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation=act, cost=cost)
    X = rng.random((n_samples, sizes[0]))
    lab = rng.integers(0, max(2, sizes[-1]), n_samples)
    Y = lab[:, None].astype(float) if sizes[-1] == 1 else np.eye(sizes[-1])[lab]
    theta0 = rng.normal(0.0, 0.5, net.n_params)
    chip = Chip(net, X, Y, theta0, seed=seed, perturbation=code, amplitude=0.05, eta=eta,
                tau_p=tau_p, tau_x=tau_x, tau_theta=tau_theta, dtype=dtype)
    chip.fast_path = fast
    return chip


def _same_state(a, b):
    sa, sb = a.get_state(), b.get_state()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].tobytes() == sb[k].tobytes(), k


def _run_pair(chunks, **kw):
    fast, gen = _chip(fast=True, **kw), _chip(fast=False, **kw)
    assert fast.fast_path_applies() and not gen.fast_path_applies()
    for n in chunks:
        assert fast.advance(n) == gen.advance(n) == 0
        _same_state(fast, gen)
    return fast, gen


@pytest.mark.parametrize("code,tau_theta,tau_p,tau_x,eta,dtype", list(itertools.product(
    ("cdma", "walsh"), (1, 3), (1, 2), (1, 4), (0.0, 0.5), (np.float64, np.float32))))
def test_fast_matches_general(code, tau_theta, tau_p, tau_x, eta, dtype):
    """Fast and general paths agree bit for bit over every clock/code/dtype setting."""
    _run_pair(CHUNKS, sizes=(5, 7, 3), code=code, tau_theta=tau_theta, tau_p=tau_p,
              tau_x=tau_x, eta=eta, dtype=dtype)


@pytest.mark.parametrize("sizes", [(2, 2, 1), (64, 32, 10), (70, 9, 3, 2), (131, 67, 5)])
def test_fast_matches_general_sizes(sizes):
    """Rows longer than a word, unaligned rows, deeper networks."""
    # rows longer than 64, rows not aligned to words, more than two layers
    _run_pair((1, 120, 7), sizes=sizes, code="cdma", tau_theta=1, tau_p=1, tau_x=1, eta=1.0,
              dtype=np.float64)


@pytest.mark.parametrize("act,cost", [("relu", "cross_entropy"), ("tanh", "mse")])
def test_fast_matches_general_kinds(act, cost):
    """Other activations and costs, float32, τθ = 2."""
    _run_pair((50, 11), sizes=(9, 6, 4), code="walsh", tau_theta=2, tau_p=1, tau_x=1, eta=0.3,
              dtype=np.float32, act=act, cost=cost)


def test_switching_paths_between_calls():
    """Alternating paths between calls, and checkpoints across paths."""
    kw = dict(sizes=(12, 8, 3), code="cdma", tau_theta=1, tau_p=2, tau_x=3, eta=0.7,
              dtype=np.float64)
    a, ref = _chip(fast=True, **kw), _chip(fast=False, **kw)
    for i, n in enumerate((5, 8, 1, 13, 2, 100)):
        a.fast_path = i % 2 == 0
        a.advance(n)
        ref.advance(n)
        _same_state(a, ref)
    # a checkpoint of the fast chip resumes on the general path and vice versa
    st = a.get_state()
    b = _chip(fast=False, **kw)
    b.set_state(st)
    a.fast_path = True
    a.advance(77)
    b.advance(77)
    _same_state(a, b)


def test_nan_weight_stops_at_that_step():
    """A NaN weight stops both paths at the same step with the same state."""
    kw = dict(sizes=(6, 4, 2), code="cdma", tau_theta=1, tau_p=1, tau_x=1, eta=0.5,
              dtype=np.float64)
    a, b = _chip(fast=True, **kw), _chip(fast=False, **kw)
    a.advance(10)
    b.advance(10)
    a.theta[3] = np.nan
    b.theta[3] = np.nan
    sa, sb = a.advance(50), b.advance(50)
    assert sa == sb == 1  # STATUS_NONFINITE_COST
    assert a.bad_step == b.bad_step == 10
    _same_state(a, b)


# -- per-neuron read noise against per-weight read noise, in distribution -------------------

def _noisy_chip(tmp_path, frozen, model, sigma=0.05, seed=5, sizes=(8, 6, 3)):
    from hwsim.chip.devices.array import DeviceArray
    from hwsim.chip.profiles import load_profile

    path = tmp_path / f"rn_{int(frozen)}.toml"
    path.write_text('name = "rn"\nsource = "test fixture"\n[device]\nmodel = "ConstantStep"\n'
                    'dw_min = 0.001\nw_max = 2.0\nw_min = -2.0\nread_noise = "additive"\n'
                    f'read_noise_std = {sigma}\n'
                    f'read_noise_frozen_per_step = {"true" if frozen else "false"}\n')
    rng = np.random.default_rng(seed)
    net = MLP(sizes)
    X = rng.random((64, sizes[0]))
    Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], 64)]
    theta0 = rng.normal(0.0, 0.7, net.n_params)
    dev = DeviceArray(load_profile(str(path)).params, net.n_params, seed)
    return Chip(net, X, Y, theta0, seed=seed, eta=0.0, amplitude=0.2, device=dev,
                read_noise_model=model)


def _costs(chip, n):
    c, ct = np.empty(n), np.empty(n)
    for i in range(n):
        assert chip.advance(1) == 0
        rec = chip.cost_line
        c[i], ct[i] = rec["c"], rec["ctilde"]
    return c, ct


def _ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic."""
    x = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(np.sort(a), x, side="right") / a.size
    fb = np.searchsorted(np.sort(b), x, side="right") / b.size
    return np.abs(fa - fb).max()


@pytest.mark.parametrize("frozen", [False, True])
def test_per_neuron_read_noise_has_the_per_weight_distribution(tmp_path, frozen):
    """Per-neuron read noise against per-weight reads, in distribution."""
    n = 4000
    pw = _noisy_chip(tmp_path, frozen, "per_weight")
    pn = _noisy_chip(tmp_path, frozen, "per_neuron")
    ideal = _noisy_chip(tmp_path, frozen, "per_weight", sigma=0.0)
    assert pw.read_noise_model == "per_weight" and pn.read_noise_model == "per_neuron"
    # same samples and codes (same seed, θ fixed at η = 0); only the noise draws differ
    c_w, ct_w = _costs(pw, n)
    c_n, ct_n = _costs(pn, n)
    c_0, ct_0 = _costs(ideal, n)
    d_w, d_n = c_w - c_0, c_n - c_0
    e_w, e_n = ct_w - ct_0, ct_n - ct_0
    # the noise is what is compared, and it must be large enough to see
    assert d_w.std() > 10 * abs(c_0).std() * 1e-3
    # KS at alpha = 1e-3: c(alpha) = 1.95, times sqrt(2/n) for two samples of n
    crit = 1.95 * np.sqrt(2.0 / n)
    assert _ks(d_w, d_n) < crit
    assert _ks(e_w, e_n) < crit
    # variances agree within 12 % (about 4 standard errors of a ratio of two variances of
    # n = 4000 heavy-tailed draws); a wrong correlation changes var(C~) far more (below)
    assert 0.88 < e_n.var() / e_w.var() < 1.12
    assert 0.88 < d_n.var() / d_w.var() < 1.12
    # means agree within 4 standard errors
    se = np.sqrt(e_w.var() / n + e_n.var() / n)
    assert abs(e_w.mean() - e_n.mean()) < 4 * se
    if frozen:  # frozen noise largely cancels in C~ = C - C0; independent draws would not
        indep = _noisy_chip(tmp_path, False, "per_neuron")
        _, ct_i = _costs(indep, n)
        assert (ct_i - ct_0).var() > 3 * e_n.var()


def test_read_noise_model_validation(tmp_path):
    """Unknown model rejected; 'auto' picks per-neuron for additive noise."""
    from hwsim.exceptions import ConfigError

    with pytest.raises(ConfigError):
        _noisy_chip(tmp_path, False, "per_pixel")
    auto = _noisy_chip(tmp_path, False, "auto")
    assert auto.read_noise_model == "per_neuron" and auto.noisy_reads
    assert not auto.fast_path_applies()
