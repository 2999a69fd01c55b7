"""Steps per second of hwsim against a plain NumPy MGD, on the same data, in the same run.

For each MLP (2-2-1, 64-32-10, 784-128-10) this times discrete CDMA MGD with one sample per
step and tau_p = tau_x = tau_theta = 1 (sigmoid, MSE, Δ = 0.05, η = 1):

- hwsim through the code path of ``hwsim run``: ``RunConfig.from_dict`` ->
  ``hwsim.learn.build_chip`` -> ``chip.advance(0)`` once (compilation, timed separately) ->
  ``chip.advance(n)``, which is what the trainer's timeline calls;
- the NumPy baseline of ``numpy_baseline.py`` (two forward passes per step, a fresh ±1 code
  per parameter per step from numpy's Generator);
- hwsim 0.1.0 (``--baseline-src DIR``, a checkout of that version): the same measurement
  through its own ``build_chip`` in a subprocess with ``PYTHONPATH=DIR``, right after hwsim;
- the reference ceiling (``--ceiling DIR``): ``ceiling_steps_per_s`` of ``DIR/ceiling.py``, a
  minimal fused step with fastmath (an upper yardstick, not a faithful engine).

All see the same seeded random dataset and start from the same parameters (the ceiling its
own). Each measurement is repeated (default 3 times, hwsim and NumPy alternating, then 0.1.0
and the ceiling, then hwsim once more) and the best is kept: machines are noisy and the best
run is the one least disturbed by other load. Only ratios measured in the same run mean
anything. Prints markdown tables ready for docs/performance.md.

Usage::

    python benchmarks/bench_mgd.py --baseline-src ../v010 --ceiling ../shared/bench
    python benchmarks/bench_mgd.py --quick    # 10x fewer steps, a smoke test
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from numpy_baseline import numpy_mgd  # noqa: E402

# (sizes, hwsim steps, NumPy steps, committed minimum ratio hwsim/NumPy, target ratio
# hwsim/0.1.0). Step counts are chosen so one full-mode measurement takes ~1-4 s on a 2-core
# VM.
CASES = [
    ((2, 2, 1), 16_000_000, 60_000, 100.0, 1.5),
    ((64, 32, 10), 900_000, 35_000, 6.0, 2.0),
    ((784, 128, 10), 30_000, 3_000, 2.5, 2.0),
]

# Run in a subprocess with PYTHONPATH = the 0.1.0 checkout: its own build_chip and kernels.
_BASELINE_SCRIPT = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import bench_mgd as b
import hwsim
from hwsim.learn import build_chip
sizes = tuple(json.loads(sys.argv[2])); n = int(sys.argv[3]); repeats = int(sys.argv[4])
seed = int(sys.argv[5])
chip, _, _ = build_chip(b.make_config(sizes, seed), b.make_dataset(sizes, seed))
chip.advance(0)
times = []
for _ in range(repeats):
    t0 = time.perf_counter()
    status = chip.advance(n)
    times.append(time.perf_counter() - t0)
    if status != 0:
        raise SystemExit(f"status {status}")
print(json.dumps({"version": hwsim.__version__, "file": hwsim.__file__, "times": times}))
"""


def baseline_rate(src, sizes, n, repeats, seed):
    """Best steps/s of the hwsim checkout at ``src`` (e.g. 0.1.0), in a subprocess.

    Its kernels compile uncached (``HWSIM_NUMBA_CACHE=0``) and no bytecode is written, so the
    checkout is left untouched. Returns (steps/s, version, wall times)."""
    env = dict(os.environ, PYTHONPATH=str(src), HWSIM_NUMBA_CACHE="0",
               PYTHONDONTWRITEBYTECODE="1")
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run([sys.executable, "-c", _BASELINE_SCRIPT, here, json.dumps(sizes),
                          str(n), str(repeats), str(seed)], env=env, cwd="/",
                         capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if not r["file"].startswith(str(Path(src).resolve())):
        raise RuntimeError(f"baseline imported hwsim from {r['file']}, not from {src}")
    return n / min(r["times"]), r["version"], r["times"]
AMPLITUDE = 0.05
ETA = 1.0
N_TRAIN = 256
N_TEST = 32


def make_dataset(sizes, seed):
    """A seeded random dataset of the right shape: X ~ U[0, 1), one-hot (or 0/1) targets."""
    from hwsim.tasks import Dataset

    rng = np.random.default_rng(seed)
    n_in, n_out = sizes[0], sizes[-1]
    n = N_TRAIN + N_TEST
    X = rng.random((n, n_in))
    labels = rng.integers(0, max(2, n_out), n)
    Y = labels[:, None].astype(np.float64) if n_out == 1 else np.eye(n_out)[labels]
    tr, te = slice(0, N_TRAIN), slice(N_TRAIN, n)
    return Dataset("random", np.ascontiguousarray(X[tr]), np.ascontiguousarray(Y[tr]), labels[tr],
                   np.ascontiguousarray(X[te]), np.ascontiguousarray(Y[te]), labels[te])


def make_config(sizes, seed):
    """The benchmark's RunConfig for an MLP of ``sizes`` (discrete CDMA, τ = 1)."""
    from hwsim.config import RunConfig

    return RunConfig.from_dict({
        "seed": seed,
        # The task name only matters when no dataset is passed to build_chip; ours is random.
        "task": {"name": "digits"},
        "network": {"sizes": list(sizes), "activation": "sigmoid", "cost": "mse"},
        "mgd": {"perturbation": "cdma", "mode": "discrete", "amplitude": AMPLITUDE, "eta": ETA,
                "tau_p": 1, "tau_x": 1, "tau_theta": 1},
    }, source="bench_mgd")


def best_rates(fn_a, n_a, fn_b, n_b, repeats):
    """Time ``fn_a(n_a)`` and ``fn_b(n_b)`` alternately ``repeats`` times each.

    Alternating exposes both sides to the same machine conditions (load from other processes
    drifts over seconds). Returns (best steps/s of a, wall times of a, same for b).
    """
    ta, tb = [], []
    for _ in range(repeats):
        for fn, n, times in ((fn_a, n_a, ta), (fn_b, n_b, tb)):
            t0 = time.perf_counter()
            fn(n)
            times.append(time.perf_counter() - t0)
    return n_a / min(ta), ta, n_b / min(tb), tb


def bench_case(sizes, n_hw, n_np, repeats, seed, baseline_src=None, ceiling=None):
    """Measure one MLP: hwsim and NumPy alternating, then 0.1.0 and the ceiling if given.

    Returns
    -------
    dict
        Rates (steps/s), wall times and ratios of the case.
    """
    from hwsim.learn import build_chip

    ds = make_dataset(sizes, seed)
    cfg = make_config(sizes, seed)
    chip, net, _ = build_chip(cfg, ds)
    theta0 = chip.theta.copy()

    t0 = time.perf_counter()
    chip.advance(0)  # compiles run_steps for this chip's argument types (a no-op afterwards)
    compile_s = time.perf_counter() - t0

    def run_hw(n):
        status = chip.advance(n)
        if status != 0:
            raise RuntimeError(f"hwsim {sizes}: kernel status {status} at step {chip.bad_step}")

    def run_np(n):
        theta = numpy_mgd(sizes, ds.X_train, ds.Y_train, n, amplitude=AMPLITUDE, eta=ETA,
                          seed=seed, theta0=theta0)
        if not np.isfinite(theta).all():
            raise RuntimeError(f"NumPy {sizes}: non-finite parameters after the benchmark")

    hw_rate, hw_times, np_rate, np_times = best_rates(run_hw, n_hw, run_np, n_np, repeats)
    r = dict(sizes=sizes, P=chip.P, compile_s=compile_s, n_hw=n_hw, n_np=n_np,
             np_rate=np_rate, np_times=np_times, fast=chip.fast_path_applies())
    if baseline_src is not None:
        r["base_rate"], r["base_version"], r["base_times"] = baseline_rate(
            baseline_src, sizes, n_hw, repeats, seed)
    if ceiling is not None:
        r["ceil_rate"] = ceiling(sizes, seconds=n_hw / hw_rate, repeats=repeats, seed=seed)
    if baseline_src is not None or ceiling is not None:
        for _ in range(repeats):  # bracket the others: hwsim again, after them
            t0 = time.perf_counter()
            run_hw(n_hw)
            hw_times.append(time.perf_counter() - t0)
        hw_rate = n_hw / min(hw_times)
    if not np.isfinite(chip.theta).all():
        raise RuntimeError(f"hwsim {sizes}: non-finite parameters after the benchmark")
    r.update(hw_rate=hw_rate, hw_times=hw_times, ratio=hw_rate / np_rate)
    return r


def load_ceiling(folder):
    """``ceiling_steps_per_s`` from ``folder/ceiling.py`` (imported in place, not copied)."""
    sys.path.insert(0, str(Path(folder).resolve()))
    try:
        from ceiling import ceiling_steps_per_s
    finally:
        sys.path.pop(0)
    return ceiling_steps_per_s


def _blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl not installed)"
    libs = [f"{d.get('internal_api')} {d.get('version')} ({d.get('num_threads')} threads)"
            for d in threadpool_info() if d.get("user_api") == "blas"]
    return ", ".join(libs) or "none found"


def _cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _fmt_rate(r):
    return f"{r:,.0f}"


def main(argv=None):
    """Run every case and print the tables; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="10x fewer steps per measurement (a smoke test, not a measurement)")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions; the best is kept")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data, θ₀ and codes")
    ap.add_argument("--check", action="store_true",
                    help="exit with status 1 when a ratio is below its committed threshold")
    ap.add_argument("--baseline-src", metavar="DIR", default=None,
                    help="checkout of hwsim 0.1.0 to measure in the same run (skipped if absent)")
    ap.add_argument("--ceiling", metavar="DIR", default=None,
                    help="folder holding ceiling.py (ceiling_steps_per_s); skipped if absent")
    args = ap.parse_args(argv)
    base_src = args.baseline_src
    if base_src and not (Path(base_src) / "hwsim" / "__init__.py").is_file():
        print(f"(no hwsim checkout at {base_src}: 0.1.0 column skipped)", file=sys.stderr)
        base_src = None
    ceiling = None
    if args.ceiling and (Path(args.ceiling) / "ceiling.py").is_file():
        ceiling = load_ceiling(args.ceiling)
    elif args.ceiling:
        print(f"(no ceiling.py in {args.ceiling}: ceiling column skipped)", file=sys.stderr)

    import numba

    import hwsim

    scale = 10 if args.quick else 1
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    print(f"# hwsim MGD benchmark ({'quick' if args.quick else 'full'} mode)")
    print()
    print(f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"- machine: {_cpu_model()}, {os.cpu_count()} logical cores ({usable} usable), "
          f"{platform.system()} {platform.release()}")
    print(f"- load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"- python {platform.python_version()}, hwsim {hwsim.__version__}, "
          f"numba {numba.__version__}, numpy {np.__version__}; BLAS: {_blas_info()}")
    ob = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}
    if ob:
        print(f"- environment: {', '.join(f'{k}={v}' for k, v in sorted(ob.items()))}")
    print(f"- discrete CDMA, sigmoid MLP, MSE, Δ = {AMPLITUDE}, η = {ETA}, "
          f"τp = τx = τθ = 1, {N_TRAIN} random samples, seed {args.seed}; "
          f"best of {args.repeats} (alternating hwsim/NumPy, then 0.1.0 and the ceiling, "
          "then hwsim again)")
    print(f"- command: python {' '.join([Path(sys.argv[0]).name] + (argv or sys.argv[1:]))}")
    print(flush=True)

    rows = []
    for sizes, n_hw, n_np, threshold, target in CASES:
        r = bench_case(sizes, n_hw // scale, n_np // scale, args.repeats, args.seed, base_src,
                       ceiling)
        r["threshold"] = threshold
        r["target"] = target
        rows.append(r)
        print(f"  done {'-'.join(map(str, sizes))}", file=sys.stderr, flush=True)

    def ratio(r, key):
        return f"{r['hw_rate'] / r[key]:.2f}×" if key in r else "–"

    def rate(r, key):
        return _fmt_rate(r[key]) if key in r else "–"

    print("| MLP | P | hwsim steps/s | 0.1.0 steps/s | hwsim/0.1.0 | NumPy steps/s | "
          "hwsim/NumPy | ceiling steps/s | hwsim/ceiling |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {'-'.join(map(str, r['sizes']))} | {r['P']:,} | {_fmt_rate(r['hw_rate'])} | "
              f"{rate(r, 'base_rate')} | {ratio(r, 'base_rate')} | {_fmt_rate(r['np_rate'])} | "
              f"{r['ratio']:.1f}× | {rate(r, 'ceil_rate')} | {ratio(r, 'ceil_rate')} |")
    print()
    print("| MLP | hwsim/NumPy | threshold | holds | hwsim/0.1.0 | target | met |")
    print("|---|---:|---:|:---:|---:|---:|:---:|")
    for r in rows:
        ok = r["ratio"] >= r["threshold"]
        r["ok"] = ok
        met = "–"
        if "base_rate" in r:
            met = "yes" if r["hw_rate"] / r["base_rate"] >= r["target"] else "**no**"
            r["ok"] = ok and met == "yes"
        print(f"| {'-'.join(map(str, r['sizes']))} | {r['ratio']:.1f}× | ≥ {r['threshold']:g}× | "
              f"{'yes' if ok else '**no**'} | {ratio(r, 'base_rate')} | ≥ {r['target']:g}× | "
              f"{met} |")
    print()
    print("| MLP | hwsim compile (s) | hwsim steps timed | hwsim times (s) | "
          "NumPy steps timed | NumPy times (s) |")
    print("|---|---:|---:|---|---:|---|")
    for r in rows:
        hw_t = ", ".join(f"{t:.2f}" for t in r["hw_times"])
        np_t = ", ".join(f"{t:.2f}" for t in r["np_times"])
        print(f"| {'-'.join(map(str, r['sizes']))} | {r['compile_s']:.2f} | {r['n_hw']:,} | "
              f"{hw_t} | {r['n_np']:,} | {np_t} |")
    print()
    if any("base_rate" in r for r in rows):
        print(f"0.1.0 (hwsim {rows[0].get('base_version', '?')} from {base_src}, subprocess, "
              "same steps): " + "; ".join(
                  f"{'-'.join(map(str, r['sizes']))}: "
                  + ", ".join(f"{t:.2f}" for t in r.get("base_times", [])) + " s"
                  for r in rows) + ".")
    print("hwsim ran the fused fast path (hwsim.kernels.fast) on: "
          + (", ".join("-".join(map(str, r["sizes"])) for r in rows if r["fast"]) or "none")
          + ".")
    print()
    print("Compilation happens once per process (on the first chip); later chips reuse the "
          "same specialisation, so their compile time is ~0.")
    if args.quick:
        print("Quick mode: short runs, numbers are indicative only.")
    if args.check and not all(r["ok"] for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
