"""Hardware time lives in the kernel: chunking and evaluation cadence never change physics.

Every device model and every shipped profile, with drift, decay and read noise switched on:
the timeline's longest kernel call (1, 997 and 20,000 steps) and the evaluation cadence
(500 and 1000 steps) give bit-identical weights and metrics.
"""

import tomllib
from pathlib import Path

import numpy as np
import pytest
import tomli_w

from hwsim.chip.devices import REGISTRY
from hwsim.config import RunConfig
from hwsim.learn.trainer import MGDTrainer

SHIPPED = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "hwsim" / "devices")
                 .glob("*.toml"))
PHYSICS = {"drift_t0": 0.05, "lifetime": 300.0, "read_noise_std": 0.003}


def _profile(tmp_path, name):
    """A profile with drift, decay and read noise on (shipped values kept where set)."""
    if name in SHIPPED:
        raw = tomllib.loads((Path(__file__).resolve().parents[1] / "hwsim" / "devices" /
                             f"{name}.toml").read_text(encoding="utf-8"))
        lut = raw["device"].get("lut_file")
        if lut:
            raw["device"]["lut_file"] = str(Path(__file__).resolve().parents[1] / "hwsim" /
                                            "devices" / lut)
    else:
        raw = {"name": name, "source": "test", "device": {"model": name, "dw_min": 0.002,
                                                           "w_max": 1.5, "w_min": -1.5}}
    d = raw["device"]
    if d["model"] != "Ideal":
        d.setdefault("drift", "power")
        if d["drift"] == "none":
            d["drift"] = "power"
        if d.get("read_noise", "none") == "none":
            d["read_noise"] = "additive"
        d.update({k: v for k, v in PHYSICS.items()
                  if not (k == "read_noise_std" and d["read_noise"] != "additive")})
    path = tmp_path / f"{name}.toml"
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return str(path)


def _run(profile, max_chunk, eval_every):
    cfg = RunConfig.from_dict({
        "seed": 4, "task": {"name": "xor"},
        "network": {"sizes": [2, 3, 1], "init": "uniform", "init_low": -0.5, "init_high": 0.5},
        "mgd": {"amplitude": 0.05, "eta": 0.5, "tau_theta": 3, "tau_p": 2},
        "chip": {"device": profile},
        "sim": {"dt": 1e-3, "steps": 3000, "eval_every": eval_every, "drift_every": 250}})
    tr = MGDTrainer(cfg, max_chunk=max_chunk).run()
    return tr.chip_, {r["step"]: r for r in tr.metrics_}


@pytest.mark.parametrize("name", SHIPPED + sorted(set(REGISTRY) - {"Ideal", "MeasuredLUT"}))
def test_results_do_not_depend_on_chunking_or_eval_cadence(tmp_path, name):
    prof = _profile(tmp_path, name)
    ref_chip, ref_rows = _run(prof, 20_000, 500)
    for max_chunk, every in ((1, 500), (997, 500), (20_000, 1000)):
        chip, rows = _run(prof, max_chunk, every)
        assert np.array_equal(chip.theta, ref_chip.theta), (max_chunk, every)
        for k, v in chip.get_state().items():
            assert np.array_equal(v, ref_chip.get_state()[k]), (k, max_chunk, every)
        for step, row in rows.items():
            assert row == ref_rows[step], (step, max_chunk, every)
    if ref_chip.has_devices:  # the physics was really on
        assert ref_chip.device.params.drift != "none" and ref_chip.device_stats()["pulses"] > 0
