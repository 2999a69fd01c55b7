"""Cost of each nonideality: steps/s of a device or periphery setting against the ideal chip.

    python benchmarks/bench_devices.py [--quick]

Digits 64-32-10 MLP (P = 2,410), discrete CDMA MGD, measured through ``build_chip`` and
``chip.advance`` (the path of ``hwsim run``), best of 3 repeats, alternating with the ideal
baseline so both see the same machine load. Two update regimes: tau_theta = 1 (a device write
every step, the worst case) and tau_theta = 50. Prints a Markdown table of steps/s and the
slowdown relative to the ideal chip measured in the same run (which runs the fused fast
path; the row "ideal, general path" is the same chip through the stage driver).

Additive read noise is measured both ways: per neuron (``chip.read_noise_model = "auto"``,
the default) and per weight (the 0.1.0 draws, ``chip.read_noise_model = "per_weight"``).
"""

import argparse
import datetime
import os
import tempfile
import time
from pathlib import Path

from hwsim.config import load_config
from hwsim.learn import build_chip

ROOT = Path(__file__).resolve().parents[1]

PROFILES = {  # name: [device] table of a profile written to a temporary folder
    "ConstantStep, no noise": dict(model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0,
                                   dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0,
                                   w_max_dtod=0.0, w_min_dtod=0.0),
    "+ dtod and c2c noise": dict(model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0),
    "+ write noise": dict(model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0,
                          write_noise_std=1.0),
    "+ additive read noise": dict(model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0,
                                  read_noise="additive", read_noise_std=0.01),
    "+ additive read noise, frozen per step": dict(
        model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0, read_noise="additive",
        read_noise_std=0.01, read_noise_frozen_per_step=True),
    "+ power-law drift": dict(model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0,
                              drift="power", drift_nu=0.05),
    "+ 64 finite states": dict(model="ConstantStep", dw_min=0.001, w_max=1.0, w_min=-1.0,
                               n_states=64),
}
SHIPPED = ["rpu_spec", "reram_es", "ecram_li", "pcm_pair"]
PERIPHERY = {"8-bit DAC + 8-bit ADC": {"chip.inp_bound": 1.0, "chip.inp_res": 1 / 255,
                                       "chip.out_bound": 8.0, "chip.out_res": 1 / 255},
             "+ ADC noise": {"chip.inp_bound": 1.0, "chip.inp_res": 1 / 255,
                             "chip.out_bound": 8.0, "chip.out_res": 1 / 255,
                             "chip.out_noise": 0.001}}


def steps_per_s(cfg, seconds, repeats=3, fast_path=True):
    """Best of ``repeats`` timings, each about ``seconds`` long (sized from a short trial)."""
    chip, _, _ = build_chip(cfg)
    chip.fast_path = fast_path
    chip.advance(0)  # compile
    t = time.perf_counter()
    chip.advance(200)
    n = max(200, int(seconds * 200 / (time.perf_counter() - t)))
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        chip.advance(n)
        best = max(best, n / (time.perf_counter() - t))
    return best


def write_profile(folder, name, device):
    """Write a device profile TOML for ``device`` into ``folder``; returns its path."""
    path = Path(folder) / (name.replace(" ", "_").replace("+", "p").replace(",", "") + ".toml")
    lines = [f'name = "{name}"', 'source = "benchmark fixture"', "[device]"]
    lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {str(v).lower()}"
              if isinstance(v, bool) else f"{k} = {v!r}" for k, v in device.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def main():
    """Print the nonideality tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x shorter timings (a smoke test)")
    args = ap.parse_args()
    base = load_config(ROOT / "examples" / "digits.toml").with_overrides({"mgd.eta": 0.5})
    print(f"# hwsim device benchmark ({'quick' if args.quick else 'full'})\n")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"- machine: {os.cpu_count()} logical cores; load average {os.getloadavg()[0]:.2f}")
    print("- digits 64-32-10 (P = 2,410), discrete CDMA, best of 3")
    print(f"- command: python benchmarks/bench_devices.py{' --quick' if args.quick else ''}\n")
    with tempfile.TemporaryDirectory() as tmp:
        settings = [("ideal (reference)", {}, {}), ("ideal, general path", {}, {"fast": False})]
        for k, v in PROFILES.items():
            over = {"chip.device": write_profile(tmp, k, v)}
            if "read_noise" in v:
                settings.append((k + ", per neuron (default)", over, {}))
                settings.append((k + ", per weight (0.1.0 draws)",
                                 {**over, "chip.read_noise_model": "per_weight"}, {}))
            else:
                settings.append((k, over, {}))
        settings += [(f"profile {p}", {"chip.device": p}, {}) for p in SHIPPED]
        settings += [(k, v, {}) for k, v in PERIPHERY.items()]
        print("| setting | τθ = 1: steps/s | slowdown | τθ = 50: steps/s | slowdown |")
        print("|---|---:|---:|---:|---:|")
        for name, over, kw in settings:
            row = [name]
            kw = dict(kw)
            fast = kw.pop("fast", True)
            for tau in (1, 50):
                secs = 0.15 if args.quick else 1.5
                cfg = base.with_overrides({"mgd.tau_theta": tau, **over})
                ref = steps_per_s(base.with_overrides({"mgd.tau_theta": tau}), secs)
                val = steps_per_s(cfg, secs, fast_path=fast)
                row += [f"{val:,.0f}", f"{ref / val:.1f}×"]
            print("| " + " | ".join(row) + " |", flush=True)
        # The read path alone: η = 0 (no writes), so noisier updates cost no extra pulses.
        print("\nRead noise alone: η = 0 (no device writes), τθ = 50, slowdown against the same "
              "device without read noise.\n")
        print("| setting | steps/s | slowdown |")
        print("|---|---:|---:|")
        quiet = base.with_overrides({"mgd.eta": 0.0, "mgd.tau_theta": 50})
        ref_over = {"chip.device": write_profile(tmp, "+ dtod and c2c noise",
                                                 PROFILES["+ dtod and c2c noise"])}
        for name, over, kw in settings:
            if "read noise" not in name:
                continue
            secs = 0.15 if args.quick else 1.5
            ref = steps_per_s(quiet.with_overrides(ref_over), secs)
            val = steps_per_s(quiet.with_overrides(over), secs)
            print(f"| {name} | {val:,.0f} | {ref / val:.1f}× |", flush=True)


if __name__ == "__main__":
    main()
