"""Remedies for devices that do not train under plain MGD (issue 12), and the LinearStep
bound reference: each checked against an independent value (equation, hand computation)."""

import numpy as np
import pytest

from hwsim.chip.devices import DeviceArray, params_for
from hwsim.chip.profiles import load_profile
from tests import naive


# ------------------------------------------------------------------ LinearStep bound reference

def _slopes(mean_ref, seed=5, n=64):
    p = params_for("LinearStep", dict(gamma_up=0.4, gamma_down=0.6, gamma_up_dtod=0.05,
                                      gamma_down_dtod=0.05, w_max=1.2, w_min=-0.8,
                                      w_max_dtod=0.2, w_min_dtod=0.2,
                                      mean_bound_reference=mean_ref))
    arr = DeviceArray(p, n, seed)
    rows = arr.device_parameters()
    expect_up, expect_down = [], []
    for c in range(n):  # aihwkit LinearStep: slope = −|γ + γ_dtod·ξ| / reference bound
        gu = abs(0.4 + 0.05 * naive.dtod_normal(seed, 4, c))
        gd = abs(0.6 + 0.05 * naive.dtod_normal(seed, 5, c))
        ref_up = 1.2 if mean_ref else rows["b_max"][c]
        ref_down = -0.8 if mean_ref else rows["b_min"][c]
        expect_up.append(-gu / ref_up)
        expect_down.append(-gd / ref_down)
    return rows, np.array(expect_up), np.array(expect_down)


@pytest.mark.parametrize("mean_ref", [True, False])
def test_linear_step_slope_divides_by_mean_or_own_bounds(mean_ref):
    rows, up, down = _slopes(mean_ref)
    np.testing.assert_allclose(rows["gamma_up"], up, rtol=1e-12)
    np.testing.assert_allclose(rows["gamma_down"], down, rtol=1e-12)
    # the two references really differ when the bounds spread
    other, _, _ = _slopes(not mean_ref)
    assert not np.allclose(other["gamma_up"], rows["gamma_up"])


def test_mean_bound_reference_default_is_aihwkits_and_ecram_fits_use_it():
    assert params_for("LinearStep").mean_bound_reference is True
    for name in ("ecram_li", "ecram_mo", "capacitor"):
        assert load_profile(name).params.mean_bound_reference is True
