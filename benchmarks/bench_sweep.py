"""Runs per second of ``hwsim sweep`` against the same runs as sequential ``hwsim run`` calls.

The sweep is N replicates (derived seeds) of one example config, by default 32 runs of
``examples/xor.toml`` (50,000 steps each). Both sides run the very same runs, in the same
session, back to back:

1. ``hwsim sweep`` in a subprocess (local processes, ``--workers`` default: all cores), from
   start to finish, wall time included process start-up, the kernel load in each worker and
   writing every run folder and results.csv;
2. N sequential ``hwsim run CONFIG --seed S --out DIR --quiet`` subprocesses with the seeds
   the sweep derived, one after the other, as a user would script it.

Then it checks that every run's metrics.csv is byte-identical between the two, and prints
the runs/s of each and their ratio as a markdown row for docs/performance.md. The kernels are
compiled (the on-disk cache warmed) by one untimed ``hwsim run`` first. Only the ratio means
anything on a shared machine.

Usage::

    python benchmarks/bench_sweep.py                       # 32 xor runs
    python benchmarks/bench_sweep.py --config examples/digits.toml --runs 8 \\
        --set sim.steps=20000 --set sim.eval_every=5000   # a short digits run
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hwsim.sweep.results import read_results  # noqa: E402


def hwsim(*args, env):
    return subprocess.run([sys.executable, "-m", "hwsim", *args], env=env, check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(REPO / "examples" / "xor.toml"))
    ap.add_argument("--runs", type=int, default=32)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    config = Path(args.config).resolve()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        tmp = Path(tmp)
        sets = "".join(f'"{s}", ' for s in args.overrides)
        sweep = tmp / "bench.toml"
        sweep.write_text(f'base = "{config}"\nset = [{sets}]\n[sweep]\nreplicates = '
                         f"{args.runs}\n", encoding="utf-8")
        overrides = [x for s in args.overrides for x in ("--set", s)]
        hwsim("run", str(config), "--out", str(tmp / "warm"), "--quiet", *overrides, env=env)

        t0 = time.perf_counter()
        extra = ["--workers", str(args.workers)] if args.workers else []
        hwsim("sweep", str(sweep), "--out", str(tmp / "sweep"), "--quiet", *extra, env=env)
        sweep_s = time.perf_counter() - t0
        rows = read_results(tmp / "sweep" / "results.csv")
        assert len(rows) == args.runs and all(r["status"] != "failed" for r in rows), rows

        t0 = time.perf_counter()
        for r in rows:
            hwsim("run", str(config), "--seed", r["seed"], "--out", str(tmp / "seq" / r["run_id"]),
                  "--quiet", *overrides, env=env)
        seq_s = time.perf_counter() - t0
        same = all((tmp / "sweep" / "runs" / r["run_id"] / "metrics.csv").read_bytes()
                   == (tmp / "seq" / r["run_id"] / "metrics.csv").read_bytes() for r in rows)
    cores = os.cpu_count()
    ratio = seq_s / sweep_s
    print(f"# {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
          f"{platform.processor() or platform.machine()}, {cores} cores, "
          f"python {platform.python_version()}")
    print(f"# command: python benchmarks/bench_sweep.py {' '.join(argv or sys.argv[1:])}")
    print("| runs | config | sweep runs/s | sequential `hwsim run` runs/s | ratio | "
          "metrics.csv identical |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.runs} | {config.name} {' '.join(args.overrides)} | "
          f"{args.runs / sweep_s:.2f} ({sweep_s:.1f} s) | {args.runs / seq_s:.2f} "
          f"({seq_s:.1f} s) | {ratio:.1f}x | {'yes' if same else 'NO'} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
