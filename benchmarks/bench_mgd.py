"""Steps per second of hwsim against a plain NumPy MGD, on the same data, in the same run.

For each MLP (2-2-1, 64-32-10, 784-128-10) this times discrete CDMA MGD with one sample per
step and tau_p = tau_x = tau_theta = 1 (sigmoid, MSE, Δ = 0.05, η = 1):

- hwsim through the code path of ``hwsim run``: ``RunConfig.from_dict`` ->
  ``hwsim.learn.build_chip`` -> ``chip.advance(0)`` once (compilation, timed separately) ->
  ``chip.advance(n)``, which is what the trainer's timeline calls;
- the NumPy baseline of ``numpy_baseline.py`` (two forward passes per step, a fresh ±1 code
  per parameter per step from numpy's Generator).

Both see the same seeded random dataset and start from the same parameters. Each measurement
is repeated (default 3 times, hwsim and NumPy alternating) and the best is kept: machines are
noisy and the best run is the one least disturbed by other load. Prints a markdown table ready for docs/performance.md.

Usage::

    python benchmarks/bench_mgd.py            # full run, ~2-5 s per measurement
    python benchmarks/bench_mgd.py --quick    # 10x fewer steps, a smoke test
"""

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from numpy_baseline import numpy_mgd  # noqa: E402

# (sizes, hwsim steps, NumPy steps, committed minimum ratio hwsim/NumPy). Step counts are
# chosen so one full-mode measurement takes ~2-5 s on a 2-core AMD EPYC VM.
CASES = [
    ((2, 2, 1), 8_000_000, 60_000, 100.0),
    ((64, 32, 10), 450_000, 35_000, 6.0),
    ((784, 128, 10), 15_000, 3_000, 2.5),
]
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


def bench_case(sizes, n_hw, n_np, repeats, seed):
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
    if not np.isfinite(chip.theta).all():
        raise RuntimeError(f"hwsim {sizes}: non-finite parameters after the benchmark")
    return dict(sizes=sizes, P=chip.P, compile_s=compile_s, n_hw=n_hw, hw_rate=hw_rate,
                hw_times=hw_times, n_np=n_np, np_rate=np_rate, np_times=np_times,
                ratio=hw_rate / np_rate)


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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="10x fewer steps per measurement (a smoke test, not a measurement)")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions; the best is kept")
    ap.add_argument("--seed", type=int, default=0, help="seed of the data, θ₀ and codes")
    ap.add_argument("--check", action="store_true",
                    help="exit with status 1 when a ratio is below its committed threshold")
    args = ap.parse_args(argv)

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
          f"best of {args.repeats} (alternating hwsim/NumPy)")
    print(flush=True)

    rows = []
    for sizes, n_hw, n_np, threshold in CASES:
        r = bench_case(sizes, n_hw // scale, n_np // scale, args.repeats, args.seed)
        r["threshold"] = threshold
        rows.append(r)
        print(f"  done {'-'.join(map(str, sizes))}", file=sys.stderr, flush=True)

    print("| MLP | P | hwsim steps/s | NumPy steps/s | hwsim/NumPy | threshold | holds |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    for r in rows:
        ok = r["ratio"] >= r["threshold"]
        r["ok"] = ok
        print(f"| {'-'.join(map(str, r['sizes']))} | {r['P']:,} | {_fmt_rate(r['hw_rate'])} | "
              f"{_fmt_rate(r['np_rate'])} | {r['ratio']:.1f}× | ≥ {r['threshold']:g}× | "
              f"{'yes' if ok else '**no**'} |")
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
    print("Compilation happens once per process (on the first chip); later chips reuse the "
          "same specialisation, so their compile time is ~0.")
    if args.quick:
        print("Quick mode: short runs, numbers are indicative only.")
    if args.check and not all(r["ok"] for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
