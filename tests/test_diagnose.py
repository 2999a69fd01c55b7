"""``hwsim devices diagnose`` (issue 12): the measured quantities against hand counts."""

import math

import pytest

from hwsim.cli import main
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.diagnose import diagnose

XOR = {"task.name": "xor", "network.sizes": [2, 4, 1], "network.cost": "mse",
       "mgd.eta": 1.0, "mgd.tau_theta": 5, "seed": 2}


def _profile(tmp_path, name, model, **device):
    body = "\n".join(f"{k} = {v!r}".replace("'", '"').replace("True", "true")
                     .replace("False", "false") for k, v in device.items())
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\nsource = "test"\n\n[device]\nmodel = "{model}"\n{body}\n')
    return str(path)


def test_noise_free_constant_step_every_write_goes_the_requested_way(tmp_path):
    prof = _profile(tmp_path, "clean", "ConstantStep", dw_min=0.01, w_max=2.0, w_min=-2.0,
                    dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0, w_max_dtod=0.0,
                    w_min_dtod=0.0, pulse_rounding="nearest")
    d = diagnose(cfg=RunConfig().with_overrides({**XOR, "chip.device": prof}), steps=2000)
    assert d.updates == 2000 // 5 - 1
    assert d.sign_agreement == 1.0  # no noise, no bound reached: pulses move as asked
    assert math.isinf(d.request_to_write_noise) and math.isinf(d.request_to_pulse_noise)
    # nearest rounding: the kernel writes exactly the requests with |Δθ| ≥ dw_min/2
    assert d.written_fraction == pytest.approx(1.0 - d.zero_pulse_fraction, abs=1e-12)
    assert 0.0 < d.zero_pulse_fraction < 1.0


def test_asymmetric_soft_bounds_walk_toward_their_symmetry_point(tmp_path):
    prof = _profile(tmp_path, "asym", "SoftBounds", dw_min=0.01, w_max=1.0, w_min=-1.0,
                    up_down=0.5, dw_min_std=0.0, dw_min_dtod=0.0, w_max_dtod=0.0,
                    w_min_dtod=0.0, up_down_dtod=0.0)
    d = diagnose(cfg=RunConfig().with_overrides({**XOR, "chip.device": prof}), steps=2000)
    # Δw⁺ = 0.01(1 − w), Δw⁻ = 0.005(1 + w) are equal at w* = 1/3 (hand computation)
    assert d.symmetry_point_mean_w == pytest.approx(1 / 3, abs=0.01)
    assert d.walk_toward_sp > 0 and d.distance_to_sp_end_w < d.distance_to_sp_start_w
    assert d.request_to_write_noise == math.inf


def test_diagnose_refuses_an_ideal_device_and_too_few_steps():
    with pytest.raises(ConfigError, match="nothing to diagnose"):
        diagnose("ideal")
    with pytest.raises(ConfigError, match="--steps 10: must be an integer >= 2·τθ = 100"):
        diagnose("rpu_spec", steps=10)


def test_cli_prints_the_walk_and_the_noise_ratio_for_reram_es(capsys):
    assert main(["devices", "diagnose", "reram_es", "--steps", "400",
                 "--set", "network.sizes=[64, 8, 10]"]) == 0
    out = capsys.readouterr().out
    for key in ("symmetry point w*", "walk toward w* per update", "request / write noise",
                "pulses per synapse and update", "requests rounding to zero pulses"):
        assert key in out
    assert "profile reram_es (ExpStep)" in out and "7 updates" in out
