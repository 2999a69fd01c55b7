"""hwsim sweep: sweep files, seeds, results.csv, resume, failures, executors; device keys in --set."""

import hashlib
import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

from hwsim.chip.profiles import load_profile
from hwsim.cli import main
from hwsim.config import load_config
from hwsim.exceptions import ConfigError
from hwsim.experiment import run_experiment
from hwsim.sweep import load_sweep, run_sweep
from hwsim.sweep.results import TIMING_COLUMNS, read_results
from hwsim.sweep.spec import expand_points, sample_points
from hwsim.sweep.tasks import RESULT_NAME, config_hash, derive_seed

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
XOR = (EXAMPLES / "xor.toml").read_text(encoding="utf-8")


def write_sweep(tmp_path, body, steps=2000, name="s.toml"):
    base = tmp_path / "base.toml"
    base.write_text(XOR.replace("steps = 50_000", f"steps = {steps}"), encoding="utf-8")
    path = tmp_path / name
    path.write_text(f'base = "base.toml"\n{body}', encoding="utf-8")
    return path


def comparable(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows]


# ---------------------------------------------------------------------------- device keys

def test_set_device_key_overrides_the_profile_and_is_recorded(tmp_path):
    cfg = load_config(EXAMPLES / "xor.toml", ["chip.device=reram_es", "device.dw_min=0.01",
                                              "device.up_down=0.1", "sim.steps=1000"])
    assert cfg.chip.device_set == ("dw_min = 0.01", "up_down = 0.1")
    # the same overrides in another order, or through with_overrides, are the same config
    other = load_config(EXAMPLES / "xor.toml", ["device.up_down=0.1", "chip.device=reram_es",
                                                "device.dw_min=0.01", "sim.steps=1000"])
    assert other == cfg
    assert load_config(EXAMPLES / "xor.toml", ["chip.device=reram_es", "sim.steps=1000"]
                       ).with_overrides({"device.dw_min": 0.01, "device.up_down": 0.1}) == cfg
    shipped = load_profile("reram_es")
    assert shipped.params.dw_min != 0.01
    trainer = run_experiment(cfg, tmp_path / "run")
    assert trainer.chip_.device.params.dw_min == 0.01
    assert trainer.chip_.device.params.up_down == 0.1
    assert trainer.chip_.device.params.w_max == shipped.params.w_max  # the rest untouched
    dev = tomllib.loads((tmp_path / "run" / "device.toml").read_text(encoding="utf-8"))
    assert dev["device"]["dw_min"] == 0.01 and dev["device"]["up_down"] == 0.1
    # the folder's config.toml reproduces the run
    again = load_config(tmp_path / "run" / "config.toml")
    assert again == cfg
    rerun = run_experiment(again, tmp_path / "rerun")
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == \
        (tmp_path / "rerun" / "metrics.csv").read_bytes()


@pytest.mark.parametrize("arg, expected", [
    ("device.dw_mni=0.01", "--set device.dw_mni=0.01 (device profile reram_es): device.dw_mni: "
                           "unknown key; did you mean 'dw_min'?"),
    ("device.dw_min=-1", "--set device.dw_min=-1 (device profile reram_es): device.dw_min = -1:"
                         " must be a finite number > 0.0"),
    ("device.model=Ideal", "device.model: the model of a profile cannot be overridden"),
    ("device.a.b=1", "device.a.b: name one key of the device profile's [device] table"),
])
def test_bad_device_keys_name_the_argument_and_key(arg, expected):
    with pytest.raises(ConfigError) as e:
        load_config(EXAMPLES / "xor.toml", ["chip.device=reram_es", arg])
    assert expected in str(e.value)


def test_device_key_of_ideal_profile_is_refused():
    with pytest.raises(ConfigError, match='not a parameter of model "Ideal"'):
        load_config(EXAMPLES / "xor.toml", ["device.dw_min=0.01"])


# ---------------------------------------------------------------------------- sweep files

def test_blocks_expand_to_the_product_of_grid_zip_and_list():
    doc = {"list": {"points": [{"learn": {"optimizer": "momentum"}}, {"learn.optimizer": "adam"}]},
           "grid": {"mgd.eta": [0.1, 0.2], "mgd": {"amplitude": [0.05, 0.1, 0.2]}},
           "zip": {"mgd.tau_p": [1, 2], "mgd.tau_x": [3, 4]}}
    points, keys = expand_points(doc, "s.toml")
    assert keys == ["learn.optimizer", "mgd.eta", "mgd.amplitude", "mgd.tau_p", "mgd.tau_x"]
    assert len(points) == 2 * 6 * 2
    assert points[0] == {"learn.optimizer": "momentum", "mgd.eta": 0.1, "mgd.amplitude": 0.05,
                         "mgd.tau_p": 1, "mgd.tau_x": 3}
    assert points[-1] == {"learn.optimizer": "adam", "mgd.eta": 0.2, "mgd.amplitude": 0.2,
                          "mgd.tau_p": 2, "mgd.tau_x": 4}
    assert len({json.dumps(p, sort_keys=True) for p in points}) == len(points)


def test_latin_hypercube_puts_one_sample_in_each_stratum():
    n = 10
    pts = sample_points({"a": {"low": 2.0, "high": 4.0}, "b": {"low": 1e-3, "high": 1e1,
                                                              "log": True}}, n, "lhs", 7)
    a = np.array([p["a"] for p in pts])
    b = np.array([p["b"] for p in pts])
    assert sorted(np.floor((a - 2.0) / 2.0 * n).astype(int)) == list(range(n))
    assert sorted(np.floor((np.log10(b) + 3) / 4 * n).astype(int)) == list(range(n))
    assert pts == sample_points({"a": {"low": 2.0, "high": 4.0}, "b": {
        "low": 1e-3, "high": 1e1, "log": True}}, n, "lhs", 7)  # reproducible
    ints = sample_points({"k": {"low": 1, "high": 5, "int": True}}, 50, "uniform", 0)
    assert {type(p["k"]) for p in ints} == {int} and {p["k"] for p in ints} <= {1, 2, 3, 4, 5}


@pytest.mark.parametrize("body, expected", [
    ("[grid]\n\"mgd.etaa\" = [0.1]\n", "point 0: mgd.etaa: unknown key; did you mean 'eta'?"),
    ("[sweep]\nreplicate = 2\n", "sweep.replicate = 2: unknown key (valid: name, replicates)"),
    ("[zip]\n\"mgd.eta\" = [0.1, 0.2]\n\"mgd.tau_p\" = [1]\n", "same length"),
    ("[grid]\n\"mgd.eta\" = [-1.0]\n", "point 0: mgd.eta = -1"),
    ("[random]\nsamples = 2\n\"mgd.eta\" = { low = 0.0, high = 1.0, log = true }\n",
     "log = true needs low > 0"),
    ("[grids]\n\"mgd.eta\" = [0.1]\n", "grids = "),
    # case C1: typos in a sweep file name the nearest key
    ("[grd]\n\"mgd.eta\" = [0.1]\n", "did you mean 'grid'"),
    ("[sweep]\nreplicate = 2\n[grid]\n\"mgd.eta\" = [0.1]\n", "did you mean 'replicates'"),
    ("[random]\nsamples = 2\nmethd = \"lhs\"\n\"mgd.eta\" = { low = 0.1, high = 1.0 }\n",
     "did you mean 'method'"),
    ("[random]\nsamples = 2\n\"mgd.eta\" = { lo = 0.1, high = 1.0 }\n",
     "unknown key 'lo'; did you mean 'log' or 'low'"),
])
def test_bad_sweep_files_are_refused_naming_the_key(tmp_path, body, expected):
    with pytest.raises(ConfigError) as e:
        load_sweep(write_sweep(tmp_path, body))
    assert expected in str(e.value)


def test_replicate_seeds_are_derived_from_base_seed_point_hash_and_replicate(tmp_path):
    spec = load_sweep(write_sweep(tmp_path, "[sweep]\nreplicates = 3\n[grid]\n"
                                  "\"mgd.eta\" = [0.5]\n"))
    from hwsim.sweep.tasks import make_tasks
    tasks = make_tasks(spec, tmp_path / "runs")
    point_cfg = spec.base.with_overrides({"mgd.eta": 0.5})
    h = config_hash(point_cfg)
    for r, t in enumerate(tasks):
        digest = hashlib.sha256(f"hwsim-sweep-seed:2:{h}:{r}".encode()).digest()
        assert t["seed"] == int.from_bytes(digest[:8], "big") // 2 == derive_seed(2, h, r)
        assert Path(t["run_dir"]).name == t["run_id"] == config_hash(
            point_cfg.with_overrides({"seed": t["seed"]}))[:16]
    assert len({t["seed"] for t in tasks}) == 3


# ---------------------------------------------------------------------------- running

def test_resume_skips_finished_runs_and_redoes_the_in_flight_one(tmp_path):
    sweep = write_sweep(tmp_path, "[grid]\n\"mgd.eta\" = [0.5, 1.0, 2.0]\n")
    out = tmp_path / "out"
    first = run_sweep(sweep, out, workers=1, progress=False)
    assert (first.total, first.skipped, first.ran) == (3, 0, 3)
    rows = read_results(out / "results.csv")
    dirs = [out / "runs" / r["run_id"] for r in rows]
    before = [(d / RESULT_NAME).stat().st_mtime_ns for d in dirs]
    metrics = (dirs[1] / "metrics.csv").read_bytes()
    # run 1 "was in flight": its folder is there, half written, without result.json
    (dirs[1] / RESULT_NAME).unlink()
    (dirs[1] / "summary.json").unlink()
    again = run_sweep(sweep, out, workers=1, progress=False)
    assert (again.skipped, again.ran) == (2, 1)
    assert [(d / RESULT_NAME).stat().st_mtime_ns for d in (dirs[0], dirs[2])] == \
        [before[0], before[2]]
    assert (dirs[1] / "metrics.csv").read_bytes() == metrics  # redone, bit for bit
    assert comparable(read_results(out / "results.csv")) == comparable(rows)
    third = run_sweep(sweep, out, workers=1, progress=False)
    assert (third.skipped, third.ran) == (3, 0)


def test_a_failing_point_is_recorded_and_the_rest_finish(tmp_path):
    sweep = write_sweep(tmp_path, '[list]\npoints = [{ "mgd.eta" = 1.0 }, '
                        '{ "network.sizes" = [3, 2, 1] }, { "mgd.eta" = 0.5 }]\n')
    code = main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--workers", "2",
                 "--quiet"])
    assert code == 0
    rows = read_results(tmp_path / "out" / "results.csv")
    assert [r["point"] for r in rows] == ["0", "1", "2"]
    assert [r["status"] for r in rows] == ["completed", "failed", "completed"]
    assert rows[1]["network.sizes"] == "[3, 2, 1]"
    assert rows[1]["error"].startswith("ConfigError: ") and "network.sizes" in rows[1]["error"]
    assert "\n" not in rows[1]["error"]
    assert rows[0]["error"] == rows[2]["error"] == ""
    assert rows[0]["final_test_accuracy"] and rows[1]["final_test_accuracy"] == ""
    # the row's metrics are the run folder's summary
    s = json.loads((tmp_path / "out" / "runs" / rows[0]["run_id"] / "summary.json").read_text())
    assert float(rows[0]["final_test_accuracy"]) == s["final_test_accuracy"]
    assert int(rows[0]["counters.macs"]) == s["counters"]["macs"]


def test_replicates_differ_and_are_identical_between_1_and_4_workers(tmp_path):
    sweep = write_sweep(tmp_path, "[sweep]\nreplicates = 4\n")
    one = run_sweep(sweep, tmp_path / "w1", workers=1, progress=False)
    four = run_sweep(sweep, tmp_path / "w4", workers=4, progress=False)
    rows1 = read_results(tmp_path / "w1" / "results.csv")
    rows4 = read_results(tmp_path / "w4" / "results.csv")
    assert comparable(rows1) == comparable(rows4) and len(rows1) == 4
    assert len({r["seed"] for r in rows1}) == 4
    assert len({r["final_train_cost"] for r in rows1}) == 4  # different runs
    for r in rows1:  # each run folder holds its seed
        cfg = tomllib.loads((tmp_path / "w1" / "runs" / r["run_id"] / "config.toml").read_text())
        assert cfg["seed"] == int(r["seed"])
    assert one.ran == four.ran == 4


def test_dask_local_cluster_and_local_processes_give_identical_rows(tmp_path):
    pytest.importorskip("distributed")
    sweep = write_sweep(tmp_path, "[sweep]\nreplicates = 2\n[grid]\n\"mgd.eta\" = [0.5, 1.0]\n")
    run_sweep(sweep, tmp_path / "local", workers=2, progress=False)
    run_sweep(sweep, tmp_path / "dask", dask_local=2, progress=False)
    local = (tmp_path / "local" / "results.csv").read_text().splitlines()
    dask = (tmp_path / "dask" / "results.csv").read_text().splitlines()
    assert local[0] == dask[0]  # same columns, same order
    assert comparable(read_results(tmp_path / "local" / "results.csv")) == \
        comparable(read_results(tmp_path / "dask" / "results.csv"))
    for r in read_results(tmp_path / "local" / "results.csv"):
        assert math.isfinite(float(r["final_train_cost"]))
        assert (tmp_path / "local" / "runs" / r["run_id"] / "metrics.csv").read_bytes() == \
            (tmp_path / "dask" / "runs" / r["run_id"] / "metrics.csv").read_bytes()


def test_sweep_over_a_device_key_records_it_in_each_run(tmp_path):
    sweep = write_sweep(tmp_path, 'set = ["chip.device=reram_es"]\n[grid]\n'
                        '"device.dw_min" = [0.002, 0.02]\n')
    run_sweep(sweep, tmp_path / "out", workers=1, progress=False)
    rows = read_results(tmp_path / "out" / "results.csv")
    assert [r["device.dw_min"] for r in rows] == ["0.002", "0.02"]
    for r in rows:
        dev = tomllib.loads((tmp_path / "out" / "runs" / r["run_id"] / "device.toml").read_text())
        assert dev["device"]["dw_min"] == float(r["device.dw_min"])
    # a 10x larger step: the same updates take far fewer write pulses
    assert int(rows[0]["device_stats.pulses"]) > 3 * int(rows[1]["device_stats.pulses"]) > 0


@pytest.mark.parametrize("flags, expected", [
    (["--workers", "0"], "--workers 0: must be at least 1"),
    (["--dask-local", "2", "--scheduler", "tcp://127.0.0.1:1"], "give one, not both"),
    (["--scheduler", "127.0.0.1:8786"], "expected an address like tcp://HOST:PORT"),
])
def test_bad_executor_options_fail_before_anything_is_written(tmp_path, capsys, flags,
                                                              expected):
    sweep = write_sweep(tmp_path, "")
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), *flags]) == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_is_never_written_into_a_sweep_folder(tmp_path, capsys):
    sweep = write_sweep(tmp_path, "[grid]\n\"mgd.eta\" = [0.5]\n", steps=500)
    out = tmp_path / "out"
    run_sweep(sweep, out, workers=1, progress=False)
    before = sorted(p.name for p in out.iterdir())
    assert main(["run", str(EXAMPLES / "xor.toml"), "--quiet", "--set", "sim.steps=500",
                 "--out", str(out), "--force"]) == 2
    assert "is a sweep folder" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == before
