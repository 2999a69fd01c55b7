"""Perturbation codes and counter-based randomness: cases R1 (code part), R3, R4, E2."""

import numpy as np
import pytest

from hwsim.chip.chip import Chip
from hwsim.chip.network import MLP
from hwsim.kernels import clocks, codes as K, hashing
from tests import naive
from tests.costs import analytic_chip, linear_cost


def code_at(chip, k):
    """The code the chip's kernel writes for code period k."""
    pert = np.zeros(chip.P)
    K.fill_code(pert, chip.source, k)
    return pert


def test_R1_cdma_code_equals_pure_python_hash():  # case R1
    net = MLP([64, 32, 10])
    chip = Chip(net, np.zeros((3, 64)), np.zeros((3, 10)), net.init_params(0), seed=7,
                amplitude=0.05)
    A = chip.source.code_amp
    np.testing.assert_array_equal(code_at(chip, 123), A * naive.cdma_code(7, 123, chip.P))
    # the element-wise definition agrees with the kernel's block-of-64 shortcut
    assert all(hashing.cdma_sign(7, 123, i) == naive.cdma_code(7, 123, 70)[i] for i in range(70))


def test_R3_64_bit_counters():  # case R3
    seed, step, index = 2**63 - 1, 2**40, 10**6
    assert int(hashing.hash4(seed, hashing.STREAM_CDMA, step, index)) == naive.hash4(
        seed, hashing.STREAM_CDMA, step, index)
    assert hashing.cdma_sign(seed, step, index) == naive.cdma_code(seed, step, index + 1)[index]


@pytest.mark.parametrize("seed", [0, 1, 2**32 + 5, 2**63 - 1])
def test_hash_matches_reference_on_many_coordinates(seed):
    rng = np.random.default_rng(0)
    for stream, counter, index in rng.integers(0, 2**62, size=(50, 3)):
        assert int(hashing.hash4(seed, int(stream) % 8, int(counter), int(index))) == \
            naive.hash4(seed, int(stream) % 8, int(counter), int(index))


def test_R4_cdma_statistics():  # case R4
    P, steps = 4, 250_000  # 10^6 entries
    chip = analytic_chip(linear_cost, np.zeros(P), model=(np.zeros(P),), seed=7)
    A = chip.source.code_amp
    codes = np.array([code_at(chip, k) for k in range(steps)]) / A
    assert set(np.unique(codes)) == {-1.0, 1.0}
    assert abs(codes.mean()) < 0.003
    for i in range(P):
        c = codes[:, i]
        assert abs(np.mean(c[1:] * c[:-1])) < 0.01  # per-parameter lag-1, 2.5e5 samples
    corr = np.corrcoef(codes.T)
    assert np.abs(corr[~np.eye(P, dtype=bool)]).max() < 0.01


def test_R4_cdma_statistics_one_million_per_parameter():  # case R4, stated tolerance
    """10^6 entries per parameter: lag-1 autocorrelation and cross-correlation < 0.003."""
    P, steps = 2, 1_000_000
    chip = analytic_chip(linear_cost, np.zeros(P), model=(np.zeros(P),), seed=7)
    codes = np.empty((steps, P))
    pert = np.zeros(P)
    for k in range(steps):  # via the kernel, one period at a time
        K.fill_code(pert, chip.source, k)
        codes[k] = pert
    codes = np.sign(codes)
    assert abs(codes.mean()) < 0.003
    for i in range(P):
        assert abs(np.mean(codes[1:, i] * codes[:-1, i])) < 0.003
    assert abs(np.mean(codes[:, 0] * codes[:, 1])) < 0.003


def test_R4_walsh_rows_orthogonal_over_a_period():  # case R4
    P = 20
    chip = analytic_chip(linear_cost, np.zeros(P), model=(np.zeros(P),), perturbation="walsh")
    H = chip.code_period
    W = np.sign(np.array([code_at(chip, k) for k in range(H)])).astype(np.int64)
    gram = W.T @ W
    assert np.array_equal(gram, H * np.eye(P, dtype=np.int64))
    np.testing.assert_array_equal(W.T, np.array([naive.walsh_code(k, P, H) for k in range(H)]).T)


def test_E2_fdma_code_is_exactly_periodic():  # case E2
    """f * dt = 1/20 (period M = 20 code steps): the value at k equals the value at k mod 20."""
    P = 9
    chip = analytic_chip(linear_cost, np.zeros(P), model=(np.zeros(P),), perturbation="fdma",
                         fdma_period=20, seed=3)
    rng = np.random.default_rng(1)
    for k in list(rng.integers(0, 10**7, size=200)) + [10**7, 10**7 - 1]:
        assert np.array_equal(code_at(chip, int(k)), code_at(chip, int(k) % 20))
    for k in (2**60 + 3, 2**62 + 11):  # no int64 overflow in the phase (case R3 kind)
        assert np.array_equal(code_at(chip, k), code_at(chip, k % 20))
    ref = np.sqrt(2) * 0.05 / 3 * naive.fdma_code(3, 12345, P, 20)
    np.testing.assert_allclose(code_at(chip, 12345), ref, rtol=1e-12)


def test_fdma_rms_norm_is_amplitude():
    P = 9
    chip = analytic_chip(linear_cost, np.zeros(P), model=(np.zeros(P),), perturbation="fdma")
    M = chip.code_period
    norms = [np.sum(code_at(chip, k) ** 2) for k in range(M)]
    assert np.mean(norms) == pytest.approx(0.05**2, rel=1e-12)


@pytest.mark.parametrize("code", ["cdma", "walsh", "tdma"])
def test_code_norm_is_amplitude(code):
    P = 13
    chip = analytic_chip(linear_cost, np.zeros(P), model=(np.zeros(P),), perturbation=code,
                         amplitude=0.2)
    for k in range(30):
        assert np.linalg.norm(code_at(chip, k)) == pytest.approx(0.2, rel=1e-12)


def test_fdma_period_too_short_is_an_error():
    from hwsim.exceptions import ConfigError

    with pytest.raises(ConfigError, match="fdma_period"):
        analytic_chip(linear_cost, np.zeros(9), model=(np.zeros(9),), perturbation="fdma",
                      fdma_period=18)


def test_data_order_matches_reference():
    order = np.zeros(37, dtype=np.int64)
    for epoch in (0, 1, 2**40):
        clocks.shuffle_order(order, 99, epoch)
        assert order.tolist() == naive.data_order(99, epoch, 37)
        assert sorted(order.tolist()) == list(range(37))
