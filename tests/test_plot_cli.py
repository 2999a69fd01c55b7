"""`hwsim plot`: aggregation over seeds, the Pareto front, learning curves, errors.

The results.csv files are generated here in the sweep's format (docs: one row per run,
run_id, point, replicate, seed, swept keys, status, error, wall_s, summary scalars)."""

import csv
import itertools
import random
import statistics

import pytest

from hwsim.analysis.sweep_plots import aggregate, pareto_mask, plot_curves, plot_metric, plot_pareto
from hwsim.cli import main
from hwsim.exceptions import HwsimError

PNG = b"\x89PNG\r\n\x1a\n"


def write_results(path, extra_cols=(), rows=()):
    cols = ["run_id", "point", "replicate", "seed", "mgd.eta", "mgd.perturbation", "status",
            "error", "wall_s", "final_test_accuracy", "steps_to_target", "energy_to_target_j",
            "hardware_time_to_target_s", "energy_breakdown_j.write_pulses_up", *extra_cols]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def sweep_rows():
    """eta ∈ {0.1, 1, 10} × {cdma, walsh} × 3 replicates; known accuracies; one failed run
    and one run that never reached the target (empty to-target cells)."""
    rng = random.Random(4)
    rows, acc = [], {}
    for point, (eta, code) in enumerate(itertools.product(("0.1", "1.0", "10.0"),
                                                          ("cdma", "walsh"))):
        for rep in range(3):
            a = round(rng.uniform(0.5, 1.0), 4)
            r = {"run_id": f"r{point}{rep}", "point": point, "replicate": rep, "seed": 100 + rep,
                 "mgd.eta": eta, "mgd.perturbation": code, "status": "completed",
                 "wall_s": 1.0, "final_test_accuracy": a, "steps_to_target": 1000 * (rep + 1),
                 "energy_to_target_j": rng.uniform(1e-9, 1e-6),
                 "hardware_time_to_target_s": rng.uniform(1e-4, 1e-1)}
            if point == 5 and rep == 2:
                r.update(status="failed", error="ValueError: boom", final_test_accuracy="",
                         steps_to_target="", energy_to_target_j="", hardware_time_to_target_s="")
            elif point == 4 and rep == 0:
                r.update(steps_to_target="", energy_to_target_j="",
                         hardware_time_to_target_s="")
            if r["final_test_accuracy"] != "":
                acc.setdefault((code, float(eta)), []).append(a)
            rows.append(r)
    return rows, acc


def test_metric_plot_aggregates_mean_and_minmax_over_seeds(tmp_path):
    rows, acc = sweep_rows()
    path = write_results(tmp_path / "results.csv", rows=rows)
    out = tmp_path / "acc.png"
    data = plot_metric(path, "mgd.eta", "final_test_accuracy", out, hue="mgd.perturbation",
                       logx=True)
    assert out.read_bytes().startswith(PNG)
    assert set(data) == {"cdma", "walsh"}
    for code, line in data.items():
        assert line["x"] == [0.1, 1.0, 10.0]  # numeric and sorted
        for i, eta in enumerate(line["x"]):
            vals = acc[(code, eta)]
            assert line["mean"][i] == pytest.approx(sum(vals) / len(vals), rel=1e-12, abs=0)
            assert (line["lo"][i], line["hi"][i]) == (min(vals), max(vals))
            assert line["n"][i] == len(vals)
    assert data["walsh"]["n"] == [3, 3, 2] and data["walsh"]["missing"] == [0, 0, 1]


def test_std_spread_and_text_x(tmp_path):
    rows, _ = sweep_rows()
    path = write_results(tmp_path / "results.csv", rows=rows)
    data = plot_metric(path, "mgd.perturbation", "steps_to_target", tmp_path / "s.png",
                       spread="std")
    line = data[""]
    assert line["x"] == ["cdma", "walsh"]  # text, in file order
    # 3 etas × steps 1000, 2000, 3000 each, minus cdma's never-reached run at eta 10
    # (1000) and walsh's failed one at eta 10 (3000)
    cdma = [1000, 2000, 3000] * 2 + [2000, 3000]
    walsh = [1000, 2000, 3000] * 2 + [1000, 2000]
    for i, vals in enumerate((cdma, walsh)):
        m, sd = statistics.fmean(vals), statistics.stdev(vals)
        assert line["mean"][i] == pytest.approx(m, rel=1e-12, abs=0)
        assert line["lo"][i] == pytest.approx(m - sd, rel=1e-12, abs=0)
        assert line["hi"][i] == pytest.approx(m + sd, rel=1e-12, abs=0)
    assert aggregate([{"x": "1", "y": "5"}], "x", "y", spread="std")[""]["lo"] == [5.0]


def test_pareto_front_is_the_set_of_non_dominated_runs(tmp_path):
    rows, _ = sweep_rows()
    path = write_results(tmp_path / "results.csv", rows=rows)
    out = tmp_path / "p.png"
    data = plot_pareto(path, out, logx=True, logy=True)
    assert out.read_bytes().startswith(PNG)
    assert data["skipped"] == 2 and len(data["points"]) == 16
    pts = data["points"]
    for p, on in zip(pts, data["front"]):  # brute force: no other point at least as good
        beaten = any(q != p and q[0] <= p[0] and q[1] <= p[1] for q in pts)
        assert on == (not beaten)
    assert any(data["front"])
    assert pareto_mask([(1, 5), (2, 2), (3, 3), (5, 1), (2, 2)]) == [True, True, False, True,
                                                                     True]


def write_metrics(folder, acc):
    folder.mkdir()
    with open(folder / "metrics.csv", "w", encoding="utf-8") as fh:
        fh.write("step,hardware_time_s,test_accuracy,train_cost\n")
        for i, a in enumerate(acc):
            fh.write(f"{i * 100},{i * 1e-4},{a},{1 - a}\n")
    return folder


def test_learning_curves_of_several_runs(tmp_path, capsys):
    a = write_metrics(tmp_path / "a", [0.5, 0.75, 1.0])
    b = write_metrics(tmp_path / "b", [0.5, 0.5, 0.75, 0.75])
    data = plot_curves([a, b], tmp_path / "c.png", x="time")
    assert data[str(a)] == ([0.0, 1e-4, 2e-4], [0.5, 0.75, 1.0])
    assert data[str(b)][1] == [0.5, 0.5, 0.75, 0.75]
    out = tmp_path / "cli.png"
    assert main(["plot", str(a), str(b), "--y", "train_cost", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG) and f"wrote {out}" in capsys.readouterr().out


def test_cli_metric_and_pareto_write_files(tmp_path, capsys):
    rows, _ = sweep_rows()
    path = write_results(tmp_path / "results.csv", rows=rows)
    assert main(["plot", str(path), "--x", "mgd.eta", "--y", "final_test_accuracy",
                 "--hue", "mgd.perturbation", "--logx"]) == 0
    assert (tmp_path / "results_final_test_accuracy_vs_mgd.eta.png").read_bytes().startswith(PNG)
    assert main(["plot", str(path), "--pareto", "--logx", "--logy"]) == 0
    assert (tmp_path / "results_pareto.png").read_bytes().startswith(PNG)


def test_missing_column_names_the_columns_that_exist(tmp_path, capsys):
    rows, _ = sweep_rows()
    path = write_results(tmp_path / "results.csv", rows=rows)
    assert main(["plot", str(path), "--x", "mgd.eta", "--y", "final_accuracy"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--y final_accuracy: no such column" in err and "final_test_accuracy" in err
    with pytest.raises(HwsimError, match=r"--hue chip\.device: no such column.*mgd\.eta"):
        plot_metric(path, "mgd.eta", "final_test_accuracy", tmp_path / "x.png",
                    hue="chip.device")
    with pytest.raises(HwsimError, match="no such column"):
        plot_pareto(path, tmp_path / "x.png", x="energy_j")
    run = write_metrics(tmp_path / "run", [0.5])
    assert main(["plot", str(run), "--y", "accuracy"]) == 2
    assert "test_accuracy" in capsys.readouterr().err
    assert main(["plot", str(path), "--y", "final_test_accuracy"]) == 2
    assert "give --x KEY and --y METRIC" in capsys.readouterr().err
    assert main(["plot", str(path), "--x", "mgd.perturbation", "--y", "final_test_accuracy",
                 "--logx"]) == 2
    assert "--logx needs a numeric --x" in capsys.readouterr().err
    empty = write_results(tmp_path / "empty.csv", rows=[{"run_id": "a", "mgd.eta": 1}])
    assert main(["plot", str(empty), "--x", "mgd.eta", "--y", "steps_to_target"]) == 2
    assert "no run has a value" in capsys.readouterr().err


def test_left_out_runs_are_said_and_bad_paths_are_named(tmp_path, capsys):
    rows, _ = sweep_rows()
    path = write_results(tmp_path / "results.csv", rows=rows)
    assert main(["plot", str(path), "--x", "mgd.eta", "--y", "steps_to_target", "--hue",
                 "mgd.perturbation", "--out", str(tmp_path / "s.png")]) == 0
    err = capsys.readouterr().err
    assert "2 run(s) without a value of steps_to_target" in err  # one failed, one not reached
    assert main(["plot", str(tmp_path / "nope")]) == 2
    assert "nope: not found" in capsys.readouterr().err
    assert main(["plot", str(path), "--x", "mgd.eta", "--y", "final_test_accuracy", "--out",
                 str(tmp_path / "no" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
