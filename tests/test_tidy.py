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
    # As in the chip, lsb alone does not make the integrator nonideal.
    base.with_overrides({"mgd.mode": "analog", "mgd.tau_x": 3, "chip.integrator.lsb": 0.1})


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


# ---------------------------------------------------------------- (d) clean times, (e) corrupt summary

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """xor, dt = 0.1 s, evaluated every 3 steps, 6 steps: the times 3·0.1 and 6·0.1 are the
    binary products 0.30000000000000004 and 0.6000000000000001."""
    from hwsim.cli import main

    out = tmp_path_factory.mktemp("tidy") / "r"
    assert main(["run", str(EXAMPLES / "xor.toml"), "--out", str(out), "--quiet",
                 "--set", "sim.dt=0.1", "--set", "sim.eval_every=3",
                 "--set", "sim.steps=6"]) == 0
    return out


def test_written_hardware_times_print_cleanly(tiny_run):
    from hwsim.runs import clean_time, read_metrics

    assert 3 * 0.1 == 0.30000000000000004 and clean_time(3 * 0.1) == 0.3  # the noise, gone
    assert clean_time(6 * 0.1) == 0.6 and clean_time(clean_time(6 * 0.1)) == 0.6
    assert clean_time(2e-7 + 1e-22) == 2e-7 and clean_time(None) is None
    text = (tiny_run / "metrics.csv").read_text(encoding="utf-8")
    times = [line.split(",")[1] for line in text.splitlines()[1:]]
    assert times == ["0.0", "0.3", "0.6"]
    s = json.loads((tiny_run / "summary.json").read_text(encoding="utf-8"))
    assert s["hardware_time_s"] == 0.6 and '"hardware_time_s": 0.6,' in \
        (tiny_run / "summary.json").read_text(encoding="utf-8")
    assert [r["hardware_time_s"] for r in read_metrics(tiny_run / "metrics.csv")] == \
        [0.0, 0.3, 0.6]


@pytest.mark.parametrize("damage", [b'{"wall_s": 3.', b"[1, 2]", b"\xff\xfe{}"])
def test_resume_refuses_a_corrupt_summary(tiny_run, tmp_path, capsys, damage):
    import shutil

    from hwsim.cli import main

    out = tmp_path / "r"
    shutil.copytree(tiny_run, out)
    (out / "summary.json").write_bytes(damage)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["run", "--resume", str(out), "--quiet", "--set", "sim.steps=9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"hwsim: error: {out / 'summary.json'}: ") and err.count("\n") == 1
    assert "restore it, or delete it" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched


def test_resume_without_a_summary_still_works(tiny_run, tmp_path):
    import shutil

    from hwsim.cli import main

    out = tmp_path / "r"
    shutil.copytree(tiny_run, out)
    (out / "summary.json").unlink()
    assert main(["run", "--resume", str(out), "--quiet", "--set", "sim.steps=9"]) == 0
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert s["steps"] == 9 and s["wall_s"] == s["segment_wall_s"]


# ---------------------------------------------------------------- (f) SIGTERM on a sweep

def _group_alive(pgid: int) -> list[int]:
    """PIDs of live (not zombie) processes in process group ``pgid`` (Linux /proc)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigterm_ends_a_sweep_cleanly(tmp_path):
    import signal
    import time

    (tmp_path / "sw.toml").write_text(
        f'base = "{(EXAMPLES / "xor.toml").as_posix()}"\n'
        'set = ["sim.steps=1000000000", "sim.eval_every=1000000"]\n'
        '[grid]\n"mgd.eta" = [0.5, 1.0]\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "hwsim", "sweep", "sw.toml", "--out", "out",
                             "--workers", "1", "--quiet"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        # Wait for the event, not for a time: the worker has begun a run (its folder exists).
        runs = tmp_path / "out" / "runs"
        while not (runs.exists() and any(runs.iterdir())):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=120)[1]  # EOF only once no worker holds stderr
        deadline = time.monotonic() + 60  # a bound on a hang, not a measurement
        while _group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _group_alive(proc.pid) == []  # no worker outlives the driver
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 130
    assert "leaked semaphore" not in err and "Traceback" not in err
    assert err.startswith("hwsim: sweep interrupted: 0 of 2 runs finished")


def test_cross_section_rules_agree_with_the_chip():
    """The config refuses a combination exactly when the chip's own check (the independent
    reference, hwsim.chip.signal_path / perturbation) refuses it for one of these rules."""
    import itertools

    from hwsim.chip.chip import Chip
    from hwsim.chip.network import MLP
    from hwsim.tasks import load_task

    ds, net = load_task("xor"), MLP([2, 2, 1])
    theta0 = net.init_params(3)
    extras = [(), ("cost_line", "latency", 2), ("cost_line", "latency_s", 2e-6),
              ("cost_line", "latency_s", 1e-13), ("integrator", "lsb", 0.1),
              ("integrator", "saturation", 1.0), ("source_noise", "p_plus", 0.6),
              ("source_noise", "fdma_phase_jitter", 0.1), ("source_noise", "amp_dtod", 0.1)]
    section = {"cost_line": "chip.cost_line", "integrator": "chip.integrator",
               "source_noise": "chip.perturbation"}
    for target, mode, code, extra in itertools.product(("weights", "nodes"),
                                                       ("discrete", "analog"),
                                                       ("cdma", "fdma", "walsh"), extras):
        kw = dict(target=target, mode=mode, tau_x=3, perturbation=code, dt=1e-6)
        over = {"mgd.target": target, "mgd.mode": mode, "mgd.tau_x": 3,
                "mgd.perturbation": code}
        if extra:
            kw[extra[0]] = {extra[1]: extra[2]}
            over[f"{section[extra[0]]}.{extra[1]}"] = extra[2]
        try:
            RunConfig().with_overrides(over)
            config_ok = True
        except ConfigError:
            config_ok = False
        try:
            Chip(net, ds.X_train, ds.Y_train, theta0, **kw)
            chip_ok = True
        except ConfigError:
            chip_ok = False
        assert config_ok == chip_ok, (over, config_ok, chip_ok)
