"""Newcomer findings: cheap typo errors, origins of cross-key errors (tidy session)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwsim.config import ChipConfig, CostLineConfig, MgdConfig, RunConfig, load_config
from hwsim.exceptions import ConfigError

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- (a) validation imports little

_PROBE = """
import json, sys
from hwsim.cli import main
try:
    rc = int(main(sys.argv[1:]))
except SystemExit as e:  # --help
    rc = e.code
heavy = sorted(m for m in ("numba", "matplotlib", "simpy", "hwsim.learn.trainer")
               if m in sys.modules)
print(json.dumps({"rc": rc, "heavy": heavy}))
"""


def _probe(tmp_path, *args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_typos_and_help_load_neither_numba_nor_matplotlib(tmp_path):
    (tmp_path / "bad.toml").write_text("[mgd]\netaa = 1\n", encoding="utf-8")
    (tmp_path / "ok.toml").write_text("[mgd]\neta = 1\n", encoding="utf-8")
    res, err = _probe(tmp_path, "run", "bad.toml")
    assert res == {"rc": 2, "heavy": []} and "mgd.etaa: unknown key; did you mean 'eta'" in err
    res, err = _probe(tmp_path, "run", "ok.toml", "--set", "mgd.etaa=1")
    assert res == {"rc": 2, "heavy": []} and err.startswith("hwsim: error: --set mgd.etaa=1:")
    res, err = _probe(tmp_path, "--help")
    assert res == {"rc": 0, "heavy": []}


# ---------------------------------------------------------------- (b) cross-key errors name origins

def _error(tmp_path, text, overrides):
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value), str(path)


def test_cross_key_error_names_the_origin_of_each_key(tmp_path):
    msg, f = _error(tmp_path, "[network]\nsizes = [2, 1]\n", ["network.cost=cross_entropy"])
    assert msg == (f"--set network.cost=cross_entropy: network.sizes = [2, 1]: must end in at "
                   'least 2 outputs when network.cost = "cross_entropy" (network.sizes from '
                   f"{f}, network.cost from --set network.cost=cross_entropy)")
    msg, f = _error(tmp_path, '[network]\ncost = "cross_entropy"\n', ["network.sizes=[4, 1]"])
    assert msg.startswith("--set network.sizes=[4, 1]: network.sizes = [4, 1]:")
    assert msg.endswith(f"(network.sizes from --set network.sizes=[4, 1], network.cost from {f})")


def test_single_origin_errors_are_unchanged(tmp_path):
    msg, f = _error(tmp_path, '[network]\ncost = "cross_entropy"\nsizes = [2, 1]\n', [])
    assert msg == (f'{f}: network.sizes = [2, 1]: must end in at least 2 outputs when '
                   'network.cost = "cross_entropy"')


@pytest.mark.parametrize("text, override, key, related", [
    ('[mgd]\ntarget = "nodes"\n', "chip.cost_line.latency=2", "chip.cost_line.latency = 2",
     ["mgd.target"]),
    ("[chip.cost_line]\nlatency_s = 3e-6\n", "mgd.target=nodes", "chip.cost_line.latency_s",
     ["mgd.target"]),
    ('[mgd]\ntarget = "nodes"\n', "chip.integrator.saturation=1.0",
     "chip.integrator.saturation = 1.0", ["mgd.mode", "mgd.target"]),
    ('[mgd]\nmode = "analog"\ntau_x = 3\n', "chip.integrator.tau_leak=3.0",
     "chip.integrator.tau_leak = 3.0", ["mgd.mode", "mgd.target"]),
    ('[mgd]\ntarget = "nodes"\n', "chip.perturbation.amp_dtod=0.1",
     "chip.perturbation.amp_dtod = 0.1", ["mgd.target"]),
    ('[mgd]\nperturbation = "walsh"\n', "chip.perturbation.p_plus=0.6",
     "chip.perturbation.p_plus = 0.6", ["mgd.perturbation"]),
    ("[chip.perturbation]\nfdma_phase_jitter = 0.1\n", "mgd.perturbation=cdma",
     "chip.perturbation.fdma_phase_jitter = 0.1", ["mgd.perturbation"]),
])
def test_cross_section_rules_are_config_errors_with_origins(tmp_path, text, override, key,
                                                           related):
    msg, f = _error(tmp_path, text, [override])
    assert msg.startswith(f"--set {override}: {key}"), msg
    for k in related:
        assert f"{k} from " in msg
    assert f" from {f}" in msg and f" from --set {override}" in msg


def test_cross_section_rules_hold_for_direct_construction():
    base = RunConfig()
    with pytest.raises(ConfigError, match=r"^chip.cost_line.latency = 2: needs mgd.target"):
        RunConfig(mgd=MgdConfig(target="nodes"),
                  chip=ChipConfig(cost_line=CostLineConfig(latency=2)))
    with pytest.raises(ConfigError, match=r"^<overrides>: chip.cost_line.latency = 2: needs"):
        base.with_overrides({"mgd.target": "nodes", "chip.cost_line.latency": 2})
    # A latency below 1e-6 of a step rounds to 0 steps, as the chip computes it: allowed.
    ok = base.with_overrides({"mgd.target": "nodes", "chip.cost_line.latency_s": 1e-13})
    assert ok.chip.cost_line.latency_s == 1e-13
    # Defaults and the valid combinations stay valid.
    base.with_overrides({"chip.cost_line.latency": 2, "chip.integrator.saturation": 1.0,
                         "chip.perturbation.p_plus": 0.6})
    base.with_overrides({"mgd.perturbation": "fdma", "chip.perturbation.fdma_freq_dtod": 0.01})


# ---------------------------------------------------------------- (c) devices show/plot --set

def test_devices_show_takes_device_overrides(capsys):
    from hwsim.cli import main

    assert main(["devices", "show", "reram_es", "--set", "device.dw_min=0.01",
                 "--set", "device.up_down=0.1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()
            if line.startswith("device.")}
    assert rows["device.dw_min"] == "0.01" and rows["device.up_down"] == "0.1"
    assert "states:      200  " in out  # (w_max − w_min)/dw_min = 2/0.01
    assert main(["devices", "show", "reram_es", "--set", "device.dw_mn=0.01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwsim: error: --set device.dw_mn=0.01 (device profile reram_es): "
                          "device.dw_mn: unknown key; did you mean 'dw_min'?")
    assert main(["devices", "show", "reram_es", "--set", "mgd.eta=1"]) == 2
    assert "--set mgd.eta=1: only device.KEY=VALUE keys apply here" in capsys.readouterr().err


def test_devices_plot_takes_device_overrides(tmp_path, capsys):
    from hwsim.cli import main

    out = tmp_path / "p.png"
    assert main(["devices", "plot", "reram_es", "--set", "device.dw_min=0.01", "--out",
                 str(out), "--devices", "2"]) == 0
    # Default pulses: 1.2 × states = 1.2 × 2/0.01 = 240 (the override reached the plot).
    assert "2 devices, 240 pulses up then 240 down" in capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
