"""The memory check counts every array a run allocates, devices included (issue 8, fault 1)."""

import resource

import pytest

from hwsim.chip.profiles import load_profile
from hwsim.cli import main
from hwsim.config import RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.trainer import check_memory


def test_a_network_too_large_is_refused_before_allocating(capsys, tmp_path):
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = main(["run", "examples/digits.toml", "--set", "network.sizes=[64,4000000,10]",
                 "--set", "sim.steps=10", "--out", str(tmp_path / "big"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "network.sizes" in err and "GiB" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "big").exists()
    # nothing close to the estimate was allocated (ru_maxrss is in KiB on Linux)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0 < 2 * 2**20


def test_device_arrays_count_toward_the_estimate():
    """~7.5e7 parameters fit as ideal synapses but not as rpu_spec devices (16 rows each)."""
    cfg = RunConfig.from_dict({"network": {"sizes": [64, 1_000_000, 10]}})
    check_memory(cfg, load_profile("ideal"), 1347, 450)
    with pytest.raises(ConfigError, match="device arrays of 'rpu_spec'"):
        check_memory(cfg, load_profile("rpu_spec"), 1347, 450)


def test_a_huge_update_request_cannot_hang_a_run(tmp_path):
    """Read noise with Δ = 1e-9 makes G ~ noise/Δ², i.e. ~1e12 pulses per update: each write
    is capped at the pulses that cross the device's range twice, and the cap is counted
    (issue 8, fault 11)."""
    import json

    prof = tmp_path / "noisy.toml"
    prof.write_text('name = "noisy"\nsource = "test"\n[device]\nmodel = "ConstantStep"\n'
                    'dw_min = 0.001\nw_max = 1.0\nw_min = -1.0\nread_noise = "additive"\n'
                    "read_noise_std = 0.01\ndw_min_dtod = 0.0\nup_down_dtod = 0.0\n"
                    "w_max_dtod = 0.0\nw_min_dtod = 0.0\n", encoding="utf-8")
    out = tmp_path / "run"
    code = main(["run", "examples/xor.toml", "--out", str(out), "--quiet",
                 "--set", f"chip.device={json.dumps(str(prof))}", "--set", "mgd.amplitude=1e-9",
                 "--set", "mgd.tau_theta=10", "--set", "sim.steps=400", "--set",
                 "sim.eval_every=100"])
    summary = json.loads((out / "summary.json").read_text())
    assert code in (0, 3), summary
    st = summary["device_stats"]
    assert st["range_capped_writes"] > 0
    # at most two ranges (2 * 2000 + 1 pulses) per device per write
    assert st["pulses"] <= st["device_writes"] * 4001


def test_a_perturbation_below_the_read_noise_is_warned_before_the_run(tmp_path, capsys):
    """Δ = 1e-4 on 9 weights is A = 3.3e-5 per weight, below σ = 0.01 (issue 8, fault 11)."""
    prof = tmp_path / "noisy.toml"
    prof.write_text('name = "noisy"\nsource = "test"\n[device]\nmodel = "ConstantStep"\n'
                    'dw_min = 0.001\nw_max = 1.0\nw_min = -1.0\nread_noise = "additive"\n'
                    "read_noise_std = 0.01\n", encoding="utf-8")
    import json

    args = ["run", "examples/xor.toml", "--quiet", "--set", f"chip.device={json.dumps(str(prof))}",
            "--set", "sim.steps=100", "--set", "sim.eval_every=50"]
    assert main([*args, "--set", "mgd.amplitude=1e-4", "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert err.count("hwsim: warning:") == 1 and "A/σ = 0.0033" in err
    assert "device.read_noise_std = 0.01" in err and len(err.strip().splitlines()) == 1
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["startup_warnings"]
    assert main([*args, "--set", "mgd.amplitude=0.5", "--out", str(tmp_path / "b")]) == 0
    assert "warning" not in capsys.readouterr().err
