"""Digits on every shipped device profile: plain MGD and each remedy at its best setting.

    python examples/device_remedies.py                  # the full study (resumable)
    python examples/device_remedies.py --quick          # only the best setting of each row
    python examples/device_remedies.py --table-only     # print the table from results.jsonl

The docs/devices.md table "Remedies per profile" (issue 12). Task: the 64-32-10 digits MLP,
discrete CDMA MGD, amplitude 0.05, stochastic pulse rounding unless a setting says
otherwise, target 0.85. For each profile and each family of settings below, every setting
of the family's grid is run with seed 1, the best (final held-out accuracy) is rerun with
seeds 2 and 3, and the row reports the median over the three seeds of the final test
accuracy, of the steps to 0.85 (evaluations every ``--steps``/20 steps; "—" when fewer than
two seeds reach it) and of the training pulses, with the devices per weight and the extra
pulses of the remedy, and the gap to the ideal device's row at the same budget. Every
finished run is appended to ``OUT/results.jsonl``, and runs already there are not repeated,
so an interrupted study continues where it stopped. ``--quick`` runs only the settings
named in BEST (the best ones of the full study) with the three seeds.
"""

import argparse
import json
import statistics
from pathlib import Path

from hwsim.chip.profiles import load_profile
from hwsim.config import load_config
from hwsim.experiment import run_experiment

HERE = Path(__file__).resolve().parent
PROFILES = ("ideal", "rpu_spec", "idealized", "capacitor", "ecram_li", "ecram_mo", "reram_es",
            "reram_sb", "pcm_pair")
SEEDS = (1, 2, 3)
STEPS = 600_000
#: pcm_pair's budget: its PCM read noise (a conductance-dependent σ drawn for both devices of
#: every pair at every read, hwsim/kernels/devices.py read_weights/_pcm_sigma) makes a step
#: about 100× dearer than on the other profiles (≈ 1,000 steps/s against ≈ 100,000).
PCM_STEPS = 100_000


def _s(eta, tau=50, **more):
    return {"mgd.eta": eta, "mgd.tau_theta": tau, **more}


def _label(eta, tau=50, k=None, ws=None, extra=""):
    parts = ([f"k {k:g}"] if k is not None else []) + [f"η {eta:g}", f"τθ {tau}"]
    parts += [f"weight_scale {ws:g}"] if ws is not None else []
    return ", ".join(parts) + (f", {extra}" if extra else "")


#: Profiles that plain MGD already trains within 5 points of ideal: a smaller grid.
SYMMETRIC = ("rpu_spec", "idealized")
#: The cheap baselines (sign updates, a pulse cap) run on these only: the 200,000-step study
#: of 2026-12-02 found them below plain MGD on every profile.
BASELINES = ("rpu_spec", "capacitor", "ecram_li", "reram_es")
#: Profiles whose symmetry points `hwsim devices diagnose` puts at 0.000 ± 0.037 or closer:
#: the reference alone would subtract almost nothing (it still runs with threshold writes).
SP_AT_ZERO = ("ecram_li", "ecram_mo", "reram_sb")
#: Profiles with write noise, where the read-back residue is not affordable: the change read
#: back includes the redrawn write-noise offset (σ = 75 dw_min on reram_es), the residue
#: takes it up and the synapse writes it back: reram_es at k 256, η 1, seed 1 sent
#: 1,177 M pulses (2.7 M nominal) at 1,300 steps/s (31,000) for 0.924 (0.927 nominal).
SLOW_READ_BACK = ("reram_es", "reram_sb")
#: Threshold grids k (dw_min) where (64, 256, 1024) does not fit: the capacitor has only 400
#: states, ecram_mo 7,089 (and its best k of the 200,000-step study was 256, the grid's edge).
THRESHOLDS = {"capacitor": (4.0, 16.0, 64.0), "ecram_mo": (256.0, 1024.0, 4096.0),
              "rpu_spec": (16.0, 64.0), "idealized": (16.0, 64.0)}


#: Tiki-Taka: γ = 0, a transfer at every update, 8 columns of each layer (examples/tiki_taka.py,
#: whose λ = 0.05 was the best of {0.02, 0.05, 0.2, 1} at 60,000 steps).
TT = {"chip.transfer.enabled": True, "chip.transfer.transfer_every": 1,
      "chip.transfer.columns_per_transfer": 8, "chip.transfer.gamma": 0.0}
#: Tiki-Taka runs on two profiles at chance under plain MGD, one limited by the walk to w*
#: (ecram_li) and one by write noise (reram_sb): threshold writes already bring every two-sided
#: profile within 5 points, and the transfer refuses pcm_pair's PCM read noise.
TT_PROFILES = ("ecram_li", "reram_sb")
TT_GRID = (("TTv1", 0.05, 0.5, {}), ("TTv1", 0.05, 1.0, {}), ("TTv1", 0.2, 1.0, {}),
           ("c-TTv2 (H threshold 1 dw_min, chopper p 0.1)", 0.05, 1.0,
            {"chip.transfer.buffer": True, "chip.transfer.buffer_threshold": 1.0,
             "chip.transfer.chopper_p": 0.1}))


def families(profile, done=None, steps=STEPS):
    """family → list of (label, overrides) for ``profile``; the remedies count in dw_min.

    The combinations (threshold + weight_scale, + read-back residue, + nearest rounding,
    + symmetry-point reference) are run at the (k, η) of the best seed-1 threshold run in
    ``done`` (the results so far, at budget ``steps``), so they exist only once the
    threshold family has run."""
    prof = load_profile(profile)
    if prof.model == "Ideal":
        return {"plain": [(_label(e, t), _s(e, t))
                          for e, t in ((0.5, 50), (1.0, 50), (2.0, 50), (1.0, 200))]}
    one_sided = prof.params.one_sided
    etas = (1.0,) if profile in SYMMETRIC else (0.5, 1.0, 2.0)
    ks = THRESHOLDS.get(profile, (64.0, 256.0, 1024.0))
    thr = lambda k, e, **m: _s(e, **{"learn.write_threshold": k, **m})  # noqa: E731
    fam = {
        "plain": [(_label(e), _s(e)) for e in (0.5, 1.0)],
        "threshold": [(_label(e, k=k), thr(k, e)) for k in ks for e in etas],
    }
    if profile in BASELINES:
        fam["sign"] = [("1 pulse, τθ 50", _s(0.5, **{"learn.optimizer": "sign",
                                                     "learn.sign_step": 1.0}))]
        fam["pulse cap"] = [(_label(1.0, extra="max 2 pulses"),
                             _s(1.0, **{"chip.max_pulses": 2}))]
    if one_sided:  # pcm_pair: ≈ 100× dearer per step, so one setting per family
        fam = {"plain": [(_label(1.0), _s(1.0))],
               "threshold": [(_label(1.0, k=2.0), thr(2.0, 1.0))]}
    else:  # potentiation-only pairs have no symmetry point
        if profile not in SP_AT_ZERO:
            fam["sp reference"] = [(_label(1.0), _s(1.0, **{"chip.symmetry_reference": True}))]
    if profile in TT_PROFILES:  # Tiki-Taka (docs/tiki_taka.md) refuses PCM read noise
        fam["tiki-taka"] = [(f"{name}, λ {lr:g}, 8 columns, {_label(e)}", _s(e, **TT, **{
            "chip.transfer.transfer_lr": lr}, **more)) for name, lr, e, more in TT_GRID]
    first = [((done or {}).get(_key(profile, "threshold", lab, SEEDS[0], steps)), ov)
             for lab, ov in fam["threshold"]]
    first = [(r, ov) for r, ov in first if r is not None]
    if first:
        ov = max(first, key=lambda x: x[0]["acc"])[1]
        k, e = ov["learn.write_threshold"], ov["mgd.eta"]
        combos = [("threshold + weight_scale", _label(e, k=k, ws=w), {"chip.weight_scale": w})
                  for w in ((0.25,) if one_sided else (0.5,))]
        if profile not in SLOW_READ_BACK:
            combos.append(("threshold + read-back", _label(e, k=k, extra="read-back residue"),
                           {"learn.write_residue": "read_back"}))
        combos.append(("threshold + nearest", _label(e, k=k, extra="nearest rounding"),
                       {"chip.update_rounding": "nearest"}))
        if not one_sided:
            combos.append(("threshold + sp reference", _label(e, k=k),
                           {"chip.symmetry_reference": True}))
        else:  # pcm_pair: its budget allows only plain and threshold writes
            combos = []
        for name, lab, more in combos:
            fam.setdefault(name, []).append((lab, thr(k, e, **more)))
    return fam


#: The families built on the best threshold setting (see families()).
COMBOS = ("threshold + weight_scale", "threshold + read-back", "threshold + nearest",
          "threshold + sp reference")

#: (profile, family, steps) → label of the best seed-1 setting of the full study (--quick).
BEST = {
    ('ideal', 'plain', 600000): 'η 1, τθ 50',
    ('ideal', 'plain', 100000): 'η 2, τθ 50',
    ('rpu_spec', 'plain', 600000): 'η 1, τθ 50',
    ('rpu_spec', 'threshold', 600000): 'k 64, η 1, τθ 50',
    ('rpu_spec', 'sign', 600000): '1 pulse, τθ 50',
    ('rpu_spec', 'pulse cap', 600000): 'η 1, τθ 50, max 2 pulses',
    ('rpu_spec', 'sp reference', 600000): 'η 1, τθ 50',
    ('idealized', 'plain', 600000): 'η 1, τθ 50',
    ('idealized', 'threshold', 600000): 'k 64, η 1, τθ 50',
    ('capacitor', 'plain', 600000): 'η 0.5, τθ 50',
    ('capacitor', 'threshold', 600000): 'k 16, η 1, τθ 50',
    ('capacitor', 'sign', 600000): '1 pulse, τθ 50',
    ('capacitor', 'pulse cap', 600000): 'η 1, τθ 50, max 2 pulses',
    ('capacitor', 'sp reference', 600000): 'η 1, τθ 50',
    ('capacitor', 'threshold + weight_scale', 600000): 'k 16, η 1, τθ 50, weight_scale 0.5',
    ('capacitor', 'threshold + read-back', 600000): 'k 16, η 1, τθ 50, read-back residue',
    ('capacitor', 'threshold + nearest', 600000): 'k 16, η 1, τθ 50, nearest rounding',
    ('capacitor', 'threshold + sp reference', 600000): 'k 16, η 1, τθ 50',
    ('ecram_li', 'plain', 600000): 'η 1, τθ 50',
    ('ecram_li', 'threshold', 600000): 'k 64, η 0.5, τθ 50',
    ('ecram_li', 'sign', 600000): '1 pulse, τθ 50',
    ('ecram_li', 'pulse cap', 600000): 'η 1, τθ 50, max 2 pulses',
    ('ecram_li', 'tiki-taka', 600000): 'TTv1, λ 0.05, 8 columns, η 1, τθ 50',
    ('ecram_li', 'threshold + weight_scale', 600000): 'k 64, η 0.5, τθ 50, weight_scale 0.5',
    ('ecram_li', 'threshold + read-back', 600000): 'k 64, η 0.5, τθ 50, read-back residue',
    ('ecram_li', 'threshold + nearest', 600000): 'k 64, η 0.5, τθ 50, nearest rounding',
    ('ecram_li', 'threshold + sp reference', 600000): 'k 64, η 0.5, τθ 50',
    ('ecram_mo', 'plain', 600000): 'η 0.5, τθ 50',
    ('ecram_mo', 'threshold', 600000): 'k 1024, η 0.5, τθ 50',
    ('ecram_mo', 'threshold + weight_scale', 600000): 'k 1024, η 0.5, τθ 50, weight_scale 0.5',
    ('ecram_mo', 'threshold + nearest', 600000): 'k 1024, η 0.5, τθ 50, nearest rounding',
    ('ecram_mo', 'threshold + sp reference', 600000): 'k 1024, η 0.5, τθ 50',
    ('reram_es', 'plain', 600000): 'η 1, τθ 50',
    ('reram_es', 'threshold', 600000): 'k 256, η 1, τθ 50',
    ('reram_es', 'sign', 600000): '1 pulse, τθ 50',
    ('reram_es', 'pulse cap', 600000): 'η 1, τθ 50, max 2 pulses',
    ('reram_es', 'threshold + weight_scale', 600000): 'k 256, η 1, τθ 50, weight_scale 0.5',
    ('reram_es', 'threshold + nearest', 600000): 'k 256, η 1, τθ 50, nearest rounding',
    ('reram_sb', 'plain', 600000): 'η 0.5, τθ 50',
    ('reram_sb', 'threshold', 600000): 'k 256, η 1, τθ 50',
    ('reram_sb', 'tiki-taka', 600000): 'TTv1, λ 0.05, 8 columns, η 0.5, τθ 50',
    ('reram_sb', 'threshold + weight_scale', 600000): 'k 256, η 1, τθ 50, weight_scale 0.5',
    ('reram_sb', 'threshold + nearest', 600000): 'k 256, η 1, τθ 50, nearest rounding',
    ('reram_sb', 'threshold + sp reference', 600000): 'k 256, η 1, τθ 50',
    ('pcm_pair', 'plain', 100000): 'η 1, τθ 50',
    ('pcm_pair', 'threshold', 100000): 'k 2, η 1, τθ 50',
}


def _key(profile, family, label, seed, steps):
    return f"{profile}|{family}|{label}|{seed}|{steps}"


def _load(path):
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                done[r["key"]] = r
    return done


def _run(base, profile, family, label, over, seed, steps, done, path):
    key = _key(profile, family, label, seed, steps)
    if key in done:
        return done[key]
    cfg = base.with_overrides({**over, "chip.device": profile, "seed": seed,
                               "sim.steps": steps, "sim.eval_every": steps // 20})
    s = run_experiment(cfg, None).summary_
    r = {"key": key, "profile": profile, "family": family, "label": label, "seed": seed,
         "steps": steps, "acc": s["final_test_accuracy"], "best": s["best_test_accuracy"],
         "steps_to_target": s["steps_to_target"],
         "pulses": s["device_stats"].get("pulses", 0),
         "readback_reads": s["counters"].get("readback_reads", 0),
         "reference_pulses": s["device_stats"].get("reference_pulses", 0),
         "steps_per_s": s.get("steps_per_s"),
         "transfer_reads": s["counters"].get("transfer_reads", 0)}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(r) + "\n")
    done[key] = r
    print(f"{profile:10s} {family:24s} {label:44s} seed {seed}: acc {r['acc']:.3f} "
          f"({r['steps_per_s'] or 0:,.0f} steps/s)", flush=True)
    return r


def budget(profile, steps, pcm_steps):
    return pcm_steps if profile == "pcm_pair" else steps


def study(base, profiles, steps, pcm_steps, out, quick=False, only=None, run=True):
    """Run (or resume; with ``run=False`` only read) the study; returns the table rows."""
    path = out / "results.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    done = _load(path)
    rows = []
    jobs = [(p, budget(p, steps, pcm_steps)) for p in profiles]
    if "pcm_pair" in profiles and pcm_steps != steps:  # the ideal row at pcm_pair's budget
        jobs.insert(1, ("ideal", pcm_steps))
    for profile, n in jobs:
        for family in dict.fromkeys(list(families(profile, done, n)) + list(COMBOS)):
            # recomputed per family: the combinations follow the threshold family's best
            settings = families(profile, done, n).get(family)
            if not settings or (only and family not in only):
                continue
            if quick and (profile, family, n) in BEST:
                settings = [s for s in settings if s[0] == BEST[profile, family, n]]
            if run:
                first = [_run(base, profile, family, lab, ov, SEEDS[0], n, done, path)
                         for lab, ov in settings]
            else:
                first = [done.get(_key(profile, family, lab, SEEDS[0], n)) for lab, _ in settings]
                if any(f is None for f in first):
                    continue
            best = max(range(len(settings)), key=lambda i: first[i]["acc"])
            lab, ov = settings[best]
            if run:
                runs = [first[best]] + [_run(base, profile, family, lab, ov, s, n, done, path)
                                        for s in SEEDS[1:]]
            else:
                runs = [first[best]] + [done.get(_key(profile, family, lab, s, n))
                                        for s in SEEDS[1:]]
                if not all(runs):
                    continue
            rows.append(_row(profile, family, lab, runs))
    return rows


def _row(profile, family, label, runs):
    reached = [r["steps_to_target"] for r in runs if r["steps_to_target"] is not None]
    prof = load_profile(profile)
    return {"profile": profile, "family": family, "label": label, "steps": runs[0]["steps"],
            "acc": statistics.median(r["acc"] for r in runs),
            "accs": [r["acc"] for r in runs],
            "to_target": statistics.median(reached) if len(reached) >= 2 else None,
            "pulses": statistics.median(r["pulses"] for r in runs),
            "devices": 2 if (getattr(prof.params, "one_sided", False)
                             or "sp reference" in family
                             or family == "tiki-taka") else 1,
            "reads": statistics.median(r["readback_reads"] for r in runs),
            "ref_pulses": statistics.median(r.get("reference_pulses", 0) for r in runs)}


def table(rows):
    """The Markdown table of docs/devices.md; the gap is to the ideal row of the same budget."""
    ideal = {r["steps"]: r["acc"] for r in rows if r["profile"] == "ideal"}
    lines = ["| profile | remedy | best setting | test acc. (median of 3) | seeds | gap to "
             "ideal (points) | steps to 0.85 | steps | pulses | devices / weight | extra "
             "pulses | read-back reads |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        to = f"{r['to_target']:,.0f}" if r["to_target"] is not None else "—"
        gap = (f"{100 * (ideal[r['steps']] - r['acc']):.1f}" if r["steps"] in ideal
               else "n/a")
        lines.append(f"| {r['profile']} | {r['family']} | {r['label']} | {r['acc']:.3f} | "
                     f"{' '.join(f'{a:.3f}' for a in r['accs'])} | {gap} | {to} | "
                     f"{r['steps']:,} | {r['pulses']:,.0f} | {r['devices']} | "
                     f"{r['ref_pulses']:,.0f} | {r['reads']:,.0f} |")
    return "\n".join(lines)


def profile_table(rows):
    """Per profile: the model, states, the best plain-MGD and best-remedy accuracy and gap."""
    ideal = {r["steps"]: r["acc"] for r in rows if r["profile"] == "ideal"}
    lines = ["| profile | model | states | steps | plain MGD | best remedy | its test acc. | "
             "gap to ideal (points) | within 5 points |",
             "|---|---|---:|---:|---:|---|---:|---:|---|"]
    for name in dict.fromkeys(r["profile"] for r in rows):
        mine = [r for r in rows if r["profile"] == name]
        for steps in dict.fromkeys(r["steps"] for r in mine):
            at = [r for r in mine if r["steps"] == steps]
            if name == "ideal" and steps not in {r["steps"] for r in rows
                                                 if r["profile"] != "ideal"}:
                continue
            prof = load_profile(name)
            plain = max((r["acc"] for r in at if r["family"] == "plain"), default=float("nan"))
            best = max(at, key=lambda r: r["acc"])
            gap = 100 * (ideal[steps] - best["acc"]) if steps in ideal else float("nan")
            states = "∞" if prof.model == "Ideal" else f"{prof.n_states():,.0f}"
            model = prof.model + (" (one-sided pair)" if getattr(prof.params, "one_sided",
                                                               False) else "")
            lines.append(f"| {name} | {model} | {states} | {steps:,} | {plain:.3f} | "
                         f"{best['family']}: {best['label']} | {best['acc']:.3f} | {gap:.1f} | "
                         f"{'yes' if gap <= 5.0 else 'no'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--pcm-steps", type=int, default=PCM_STEPS,
                    help="budget of pcm_pair (about 100× slower per step: PCM read noise)")
    ap.add_argument("--out", default="runs/device_remedies")
    ap.add_argument("--profiles", nargs="*", default=list(PROFILES))
    ap.add_argument("--families", nargs="*", default=None, help="only these families")
    ap.add_argument("--quick", action="store_true",
                    help="run only the best setting (BEST) of each row, with the three seeds")
    ap.add_argument("--table-only", action="store_true",
                    help="no new runs: print the table from the results so far")
    args = ap.parse_args()
    base = load_config(HERE / "digits.toml").with_overrides({"sim.target_accuracy": 0.85})
    profiles = list(args.profiles)
    if "ideal" not in profiles:  # the gap column needs the ideal row at the same budget
        profiles.insert(0, "ideal")
    rows = study(base, profiles, args.steps, args.pcm_steps, Path(args.out), args.quick,
                 args.families, run=not args.table_only)
    print(f"\ndigits 64-32-10, CDMA, amplitude {base.mgd.amplitude}, {args.steps:,} steps "
          f"(pcm_pair {args.pcm_steps:,}) of {base.sim.dt:g} s, seeds {SEEDS}\n")
    print(table(rows))
    print()
    print(profile_table(rows))


if __name__ == "__main__":
    main()
