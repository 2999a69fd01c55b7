"""Device physics: every model of the registry, every invariant of docs/devices.md, the
published fits, and field cases D1, D2, D5, D8-D12, R3 (style rules 12 and 13)."""

import dataclasses
import math
import time

import numpy as np
import pytest

from hwsim.chip.devices import REGISTRY, DeviceArray, params_for, to_dict
from hwsim.config import build_validated
from hwsim.exceptions import ConfigError
from hwsim.kernels import devices as K
from tests import naive

PULSED = [m for m in REGISTRY if m != "Ideal"]

# A small measured table (weight units) for MeasuredLUT: steps shrink toward each bound.
LUT = dict(lut_w=[-0.6, 0.0, 0.6], lut_dw_up=[0.0012, 0.001, 0.0004],
           lut_dw_down=[-0.0004, -0.001, -0.0012])

# Published fits of docs/devices.md ("Published fits"), field by field.
FITS = {
    "reram_es": ("ExpStep", dict(
        dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0, a=-0.5, b=-0.5,
        gamma_up=5.0, gamma_down=5.0, A_up=-1.18445, A_down=-0.081404, dw_min_dtod=0.2,
        up_down_dtod=0.05, w_max_dtod=0.3, w_min_dtod=0.3, dw_min_std=5.0,
        write_noise_std=75.0)),
    "reram_sb": ("SoftBounds", dict(
        dw_min=0.002, w_max=1.25, w_min=-0.75, dw_min_dtod=0.3, up_down_dtod=0.01,
        w_max_dtod=0.24, w_min_dtod=0.4, dw_min_std=3.75, write_noise_std=56.0)),
    "ecram_li": ("LinearStep", dict(
        mult_noise=True, dw_min=0.002, w_max=1.1724, w_min=-0.8276, gamma_up=0.1153,
        gamma_down=0.5085, dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05,
        w_min_dtod=0.05, gamma_up_dtod=0.05, gamma_down_dtod=0.05, dw_min_std=0.3)),
    "ecram_mo": ("LinearStep", dict(
        mult_noise=True, dw_min=0.00028214, w_max=1.1714, w_min=-0.8286, gamma_up=0.4152,
        gamma_down=0.7342, dw_min_dtod=0.1, w_max_dtod=0.05, w_min_dtod=0.05,
        dw_min_std=2.0)),
    "capacitor": ("LinearStep", dict(
        dw_min=0.005, w_max=1.0, w_min=-1.0, gamma_up=0.05, gamma_down=0.05, dw_min_dtod=0.1,
        up_down_dtod=0.06, w_max_dtod=0.07, w_min_dtod=0.07, dw_min_std=0.3, lifetime=1e6,
        lifetime_dtod=0.3)),
    "pcm": ("ExpStep", dict(
        one_sided=True, refresh_every=7, dw_min=0.01, w_max=2.0, w_min=0.0, a=-1.0, b=0.0,
        gamma_up=2.5, gamma_down=2.5, A_up=-27.235, A_down=-2.235, dw_min_dtod=0.2,
        w_max_dtod=0.1, dw_min_std=0.6, dw_min_std_add=0.042, dw_min_std_slope=0.108,
        reset=0.01, reset_dtod=0.02, drift="pcm", read_noise="pcm")),
    "rpu_spec": ("ConstantStep", dict(
        dw_min=0.0016, w_max=1.0, w_min=-1.0, dw_min_dtod=0.3, dw_min_std=0.3,
        up_down_dtod=0.01, w_max_dtod=0.3, w_min_dtod=0.3)),
    "idealized": ("ConstantStep", dict(
        dw_min=0.0002, w_max=1.0, w_min=-1.0, up_down=0.0, dw_min_dtod=0.3, dw_min_std=0.3,
        w_max_dtod=0.3, w_min_dtod=0.3)),
    "ideal": ("Ideal", {}),
}

# Every noise and spread off, bounds ±1.
QUIET = dict(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0,
             dw_min_std=0.0, w_max=1.0, w_min=-1.0, dw_min=0.01)
QUIET_MODEL = {
    "LinearStep": dict(gamma_up_dtod=0.0, gamma_down_dtod=0.0),
    "PowStep": dict(pow_gamma_dtod=0.0),
}


def raw_for(model, **kw):
    """Minimal raw parameters of ``model`` (MeasuredLUT needs a table) plus ``kw``."""
    base = dict(LUT) if model == "MeasuredLUT" else {}
    base.update(kw)
    return base


def make(model, n=16, seed=0, dtype=np.float64, **kw):
    return DeviceArray(params_for(model, raw_for(model, **kw)), n, seed, dtype)


def quiet(model, n=4, **kw):
    if model == "Ideal":
        return make(model, n)
    return make(model, n, **{**QUIET, **QUIET_MODEL.get(model, {}), **kw})


def configs():
    """(id, model, raw) over the registry itself, each with every nonideality on, and the fits."""
    out = []
    for m in REGISTRY:
        out.append((m, m, raw_for(m)))
        if m != "Ideal":
            out.append((f"{m}-all", m, raw_for(
                m, write_noise_std=3.0, drift="power", drift_nu=0.08, drift_nu_dtod=0.3,
                read_noise="additive", lifetime=500.0, lifetime_dtod=0.2,
                corrupt_devices_prob=0.1, dw_min=0.02, dw_min_std=1.0)))
            out.append((f"{m}-pair", m, raw_for(
                m, one_sided=True, w_min=0.0, w_max=1.0, refresh_every=5, dw_min=0.02,
                write_noise_std=1.0, drift="power", read_noise="pcm")))
    out += [(f"fit-{k}", m, raw) for k, (m, raw) in FITS.items()]
    return out


CONFIGS = configs()


def random_run(arr, n_updates, rng, scale=None, t0=0.0, dt=1.0):
    """Random requests of 0-40 steps each way; hardware time advances dt per update."""
    dw = getattr(arr.params, "dw_min", 0.01)
    scale = scale or 20 * dw
    for k in range(n_updates):
        arr.set_time(t0 + k * dt)
        arr.apply_update(rng.normal(0, scale, arr.n_devices), 1.0, k)
        yield k


def assert_in_bounds(arr):
    D = arr.dev[1]
    W = arr.conductances
    if arr.model == "Ideal":
        return
    assert np.all(W <= D[K.R_B_MAX]) and np.all(W >= D[K.R_B_MIN]), "stored weight out of bounds"
    lo, hi = arr.bounds()
    assert np.all(arr.theta <= hi) and np.all(arr.theta >= lo), "seen weight out of bounds"


def device_dict(arr, c):
    """Per-device parameters of column c as tests/naive.py's device_step wants them."""
    D, S, T, I = arr.dev[1], arr.dev[2], arr.dev[3], arr.dev[0]
    d = {name: float(D[row, c]) for row, name in enumerate(K.ROW_NAMES)}
    n = int(I[K.I_TABLE_N])
    d.update(dw_min_std=float(S[K.S_DW_STD]), mult_noise=bool(I[K.I_MULT_NOISE]),
             A_up=float(S[K.S_A_UP]), A_down=float(S[K.S_A_DOWN]),
             exp_gamma_up=float(S[K.S_EXP_GAMMA_UP]), exp_gamma_down=float(S[K.S_EXP_GAMMA_DOWN]),
             a=float(S[K.S_EXP_A]), b=float(S[K.S_EXP_B]), std_add=float(S[K.S_STD_ADD]),
             std_slope=float(S[K.S_STD_SLOPE]),
             table=[list(map(float, T[r, :n])) for r in range(3)])
    return d


# ============================================================================ schema

def test_registry_names():
    assert list(REGISTRY) == ["Ideal", "ConstantStep", "LinearStep", "SoftBounds", "ExpStep",
                              "PowStep", "PiecewiseStep", "MeasuredLUT"]


@pytest.mark.parametrize("model", list(REGISTRY))
def test_model_default_constructible_and_round_trips(model):
    p = params_for(model, raw_for(model))
    assert isinstance(p, REGISTRY[model])
    d = to_dict(p)
    assert d["model"] == model
    assert params_for(model, d) == p
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.dw_min = 1.0  # frozen
    arr = DeviceArray(p, 5, seed=3)
    assert arr.theta.shape == (5,)
    assert arr.stats["pulses"] == 0 and arr.stats["init_clipped"] == 0


@pytest.mark.parametrize("model", PULSED)
def test_every_field_is_documented(model):
    for f in dataclasses.fields(REGISTRY[model]):
        m = f.metadata
        assert len(m.get("doc", "")) > 20, f.name
        assert m.get("sampled", "").split(":")[0] in (
            "dtod", "c2c", "per write", "per read", "fixed", "per update and device"), f.name


def test_aihwkit_defaults():
    p = params_for("ConstantStep", {})
    assert (p.dw_min, p.dw_min_dtod, p.dw_min_dtod_log_normal, p.dw_min_std, p.up_down,
            p.up_down_dtod, p.w_max, p.w_min, p.w_max_dtod, p.w_min_dtod,
            p.enforce_consistency, p.write_noise_std, p.reset, p.reset_dtod, p.reset_std,
            p.lifetime, p.lifetime_dtod, p.corrupt_devices_prob, p.corrupt_devices_range) == (
        0.001, 0.3, False, 0.3, 0.0, 0.01, 0.6, -0.6, 0.3, 0.3, True, 0.0, 0.01, 0.0, 0.01,
        0.0, 0.0, 0.0, 1000)
    e = params_for("ExpStep", {})
    assert (e.A_up, e.A_down, e.gamma_up, e.gamma_down, e.a, e.b) == (
        0.00081, 0.36833, 12.44625, 12.78785, 0.244, 0.2425)
    ls = params_for("LinearStep", {})
    assert (ls.gamma_up_dtod, ls.gamma_down_dtod) == (0.05, 0.05)
    pw = params_for("PowStep", {})
    assert (pw.pow_gamma, pw.pow_gamma_dtod, pw.pow_up_down, pw.pow_up_down_dtod) == (
        1.0, 0.1, 0.0, 0.0)


def test_unknown_model_lists_every_name():
    with pytest.raises(ConfigError) as e:
        params_for("SoftBound", {}, "p.toml")
    msg = str(e.value)
    assert msg.startswith("p.toml: ")
    assert all(f'"{n}"' in msg for n in REGISTRY)
    assert 'did you mean "SoftBounds"' in msg


def test_unknown_or_foreign_field_names_nearest_key():
    with pytest.raises(ConfigError, match="did you mean 'dw_min'"):
        params_for("ConstantStep", {"dw_mni": 0.1}, "p.toml")
    with pytest.raises(ConfigError, match="gamma_up: unknown key"):
        params_for("ConstantStep", {"gamma_up": 0.1}, "p.toml")
    with pytest.raises(ConfigError, match="unknown key"):
        params_for("Ideal", {"dw_min": 0.1}, "p.toml")


@pytest.mark.parametrize("raw,key", [
    (dict(w_min=0.5, w_max=0.5), "w_max"),
    (dict(one_sided=True, w_min=-0.1), "w_min"),
    (dict(n_states=1), "n_states"),
    (dict(refresh_every=3), "refresh_every"),
    (dict(read_noise_frozen_per_step=True), "read_noise_frozen_per_step"),
    (dict(w_min=0.1, w_max=1.0), "w_min"),
    (dict(dw_min=0.0), "dw_min"),
    (dict(pulse_rounding="round"), "pulse_rounding"),
    (dict(n_states=2.5), "n_states"),
])
def test_cross_field_and_range_rules(raw, key):
    with pytest.raises(ConfigError, match=rf"p\.toml: {key} = "):
        params_for("ConstantStep", raw, "p.toml")


def test_build_validated_path_used_by_profiles():
    p = build_validated(REGISTRY["SoftBounds"], {"dw_min": 0.002}, "x.toml", prefix="device.")
    assert p.dw_min == 0.002 and p.mult_noise is True
    with pytest.raises(ConfigError, match="x.toml: device.w_max = "):
        build_validated(REGISTRY["SoftBounds"], {"w_max": -1.0}, "x.toml", prefix="device.")


def test_piecewise_lengths_must_match():
    with pytest.raises(ConfigError, match="piecewise_down"):
        params_for("PiecewiseStep", {"piecewise_up": [1, 2], "piecewise_down": [1]}, "p.toml")


def test_measured_lut_reads_csv_next_to_profile(tmp_path):
    (tmp_path / "dev.csv").write_text("# measured\nw,dw_up,dw_down\n-1,0.02,-0.01\n"
                                      "1,0.01,-0.02\n", encoding="utf-8")
    profile = tmp_path / "dev.toml"
    profile.write_text("", encoding="utf-8")
    p = params_for("MeasuredLUT", {"lut_file": "dev.csv", "dw_min": 0.01}, str(profile))
    assert p.lut_w == (-1.0, 1.0) and p.lut_dw_down == (-0.01, -0.02)
    assert params_for("MeasuredLUT", to_dict(p)) == p  # the data travels with the config
    (tmp_path / "bad.csv").write_text("w,dw_up,dw_down\n1,0.1,-0.1\n0,0.1,x\n", "utf-8")
    with pytest.raises(ConfigError, match="line 3"):
        params_for("MeasuredLUT", {"lut_file": "bad.csv"}, str(profile))
    (tmp_path / "dec.csv").write_text("w,dw_up,dw_down\n1,0.1,-0.1\n0,0.1,-0.1\n", "utf-8")
    with pytest.raises(ConfigError, match="increasing"):
        params_for("MeasuredLUT", {"lut_file": "dec.csv"}, str(profile))
    with pytest.raises(ConfigError, match="cannot read"):
        params_for("MeasuredLUT", {"lut_file": "missing.csv"}, str(profile))
    with pytest.raises(ConfigError, match="lut_file"):
        params_for("MeasuredLUT", {}, "p.toml")


# ============================================================================ sampling

def test_dtod_sampling_matches_reference():
    raw = dict(dw_min=0.002, dw_min_dtod=0.3, up_down=0.2, up_down_dtod=0.05, w_max=0.8,
               w_min=-0.5, w_max_dtod=0.3, w_min_dtod=0.3)
    arr = make("ConstantStep", 20, seed=11, **raw)
    p = to_dict(arr.params)
    ref = np.array(naive.sample_steps_and_bounds(p, 20, 11))
    D = arr.dev[1]
    got = np.stack([D[K.R_DW_UP], D[K.R_DW_DOWN], D[K.R_B_MAX], D[K.R_B_MIN]], axis=1)
    np.testing.assert_allclose(got, ref, rtol=1e-12)


@pytest.mark.parametrize("cid,model,raw", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_bounds_after_construction_writes_and_drift(cid, model, raw):
    arr = DeviceArray(params_for(model, raw), 24, seed=5)
    D = arr.dev[1]
    if model != "Ideal":
        if raw.get("one_sided"):
            assert np.all(D[K.R_B_MIN] >= 0) and np.all(D[K.R_B_MAX] >= D[K.R_B_MIN])
        else:
            stuck = D[K.R_STUCK] != 0
            assert np.all(D[K.R_B_MAX][~stuck] >= 0) and np.all(D[K.R_B_MIN][~stuck] <= 0)
        assert np.all(D[K.R_DW_UP] >= 0) and np.all(D[K.R_DW_DOWN] >= 0)
    assert_in_bounds(arr)
    rng = np.random.default_rng(1)
    arr.init_weights(rng.uniform(-3, 3, 24))
    assert_in_bounds(arr)
    for _ in random_run(arr, 60, rng, dt=50.0):
        assert_in_bounds(arr)
    for t in (1e2, 1e4, 1e7):
        arr.drift(t)
        assert_in_bounds(arr)
    arr.program(rng.uniform(-3, 3, 24), 5)
    assert_in_bounds(arr)


@pytest.mark.parametrize("cid,model,raw", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_same_seed_bit_identical_other_seed_different(cid, model, raw):
    def run(seed):
        arr = DeviceArray(params_for(model, raw), 12, seed=seed)
        rng = np.random.default_rng(2)
        arr.init_weights(rng.uniform(-0.5, 0.5, 12))
        for _ in random_run(arr, 15, rng, dt=30.0):
            pass
        arr.drift(1e3)
        return arr, arr.read(3, 0)

    a, ra = run(7)
    b, rb = run(7)
    for k, v in a.get_state().items():
        assert np.array_equal(v, b.get_state()[k]), k
    assert np.array_equal(ra, rb)
    if model != "Ideal":
        c, _ = run(8)
        assert not np.array_equal(a.dev[1], c.dev[1]) or not np.array_equal(a.theta, c.theta)


@pytest.mark.parametrize("model", list(REGISTRY))
def test_noise_off_repeated_reads_identical(model):
    arr = quiet(model, 6)
    arr.init_weights(np.linspace(-0.5, 0.5, 6))
    arr.apply_update(np.linspace(-1, 1, 6), 0.05, 0)
    r = [arr.read(k, s).copy() for k in range(3) for s in (0, 1)]
    for x in r:
        assert np.array_equal(x, arr.theta)


@pytest.mark.parametrize("model", PULSED)
def test_ideal_limit_delivers_request_exactly(model):
    """dw_min → 0 with every noise off and the model's nonlinearity at identity."""
    identity = {"LinearStep": dict(gamma_up=0.0, gamma_down=0.0),
                "SoftBounds": dict(w_max=1e4, w_min=-1e4),
                "ExpStep": dict(A_up=0.0, A_down=0.0),
                "PowStep": dict(pow_gamma=0.0)}.get(model, {})
    request = np.array([0.1234567, -0.0765432, 0.3, -0.25])
    errs = []
    for dw in (1e-3, 1e-4, 1e-5):
        raw = dict(identity, pulse_rounding="nearest", dw_min=dw)
        if model == "MeasuredLUT":
            raw.update(lut_w=[-1.0, 1.0], lut_dw_up=[dw, dw], lut_dw_down=[dw, dw])
        arr = quiet(model, 4, **raw)
        arr.apply_update(-request, 1.0, 0)
        err = np.max(np.abs(arr.theta - request))
        assert err <= 0.5 * dw * (1 + 1e-6) + 1e-6 * (model == "SoftBounds")
        errs.append(err)
    assert errs[-1] < 1e-5


@pytest.mark.parametrize("model", PULSED)
def test_n_levels_never_more_than_n_values(model):
    table = {k: [30 * v for v in LUT[k]] for k in ("lut_dw_up", "lut_dw_down")} \
        if model == "MeasuredLUT" else {}
    arr = make(model, 8, seed=1, n_states=9, dw_min=0.03, dw_min_std=0.5, **table)
    rng = np.random.default_rng(0)
    arr.init_weights(rng.uniform(-1, 1, 8))
    seen = [set() for _ in range(8)]
    for _ in random_run(arr, 200, rng, scale=0.1):
        for c, v in enumerate(arr.conductances):
            seen[c].add(float(v))
    assert max(len(s) for s in seen) <= 9
    assert max(len(s) for s in seen) >= 3  # it does move between levels
    D = arr.dev[1]
    for c in range(8):  # and the levels are the device's own, from b_min to b_max
        levels = D[K.R_B_MIN, c] + np.arange(9) * (D[K.R_B_MAX, c] - D[K.R_B_MIN, c]) / 8
        assert all(np.min(np.abs(levels - v)) < 1e-12 for v in seen[c])


# ============================================================================ one pulse

def test_soft_bounds_closed_form():
    w0 = np.array([0.0, 0.5, -0.5, 0.9])
    arr = quiet("SoftBounds", 4, dw_min=0.01)
    tr = arr.pulse_response(120, w0=w0)
    n = np.arange(121)[:, None]
    np.testing.assert_allclose(tr[:121], 1.0 - (1.0 - w0) * (1 - 0.01 / 1.0) ** n, rtol=1e-12,
                               atol=1e-14)
    # and with per-device bounds: b_max − (b_max − w₀)(1 − dw/b_max)ⁿ
    arr = make("SoftBounds", 4, seed=2, **{**QUIET, "w_max_dtod": 0.3, "w_max": 0.8})
    bmax = arr.dev[1][K.R_B_MAX]
    tr = arr.pulse_response(50, w0=w0 * 0.5)
    np.testing.assert_allclose(tr[50], bmax - (bmax - w0 * 0.5) * (1 - 0.01 / bmax) ** 50,
                               rtol=1e-12)


def test_constant_step_reaches_bound_after_ceil_pulses():
    w0 = np.array([0.0, 0.5, -0.5, 0.123])
    arr = quiet("ConstantStep", 4, dw_min=0.01)
    tr = arr.pulse_response(300, w0=w0)
    first = np.argmax(tr >= 1.0, axis=0)
    np.testing.assert_array_equal(first, np.ceil((1.0 - w0) / 0.01 - 1e-9).astype(int))


@pytest.mark.parametrize("model,extra", [
    ("LinearStep", dict(gamma_up=0.5, gamma_down=0.3, gamma_up_dtod=0.1,
                        gamma_down_dtod=0.1, w_max_dtod=0.2, w_min_dtod=0.2)),
    ("SoftBounds", dict(w_max_dtod=0.2, w_min=-0.7, dw_min_dtod=0.2, up_down=0.1)),
    ("PowStep", dict(pow_gamma=1.7, pow_gamma_dtod=0.2, pow_up_down=0.2,
                     pow_up_down_dtod=0.1)),
    ("ExpStep", dict()),
    ("ExpStep", dict(A_up=-1.18445, A_down=-0.081404, a=-0.5, b=-0.5, gamma_up=5.0,
                     gamma_down=5.0, up_down=0.259359)),
    ("PiecewiseStep", dict(piecewise_up=[1.5, 1.0, 0.8, 0.2], piecewise_down=[0.1, 0.7, 1.0,
                                                                               1.4])),
    ("MeasuredLUT", dict(dw_min_dtod=0.2, up_down_dtod=0.05)),
    ("ConstantStep", dict(dw_min_dtod=0.3, up_down=-0.3)),
])
def test_pulse_response_matches_per_pulse_equations(model, extra):
    arr = make(model, 5, seed=4, **{**QUIET, **QUIET_MODEL.get(model, {}), **extra})
    w0 = np.array([0.0, 0.4, -0.4, 0.8, -0.8])
    arr.init_weights(w0)
    n = 150
    tr = arr.pulse_response(n)
    for c in range(5):
        ref = naive.pulse_train(model, device_dict(arr, c), float(arr.conductances[c]), n, n)
        np.testing.assert_allclose(tr[:, c], ref, rtol=1e-12, atol=1e-15)
    assert np.ptp(tr) > 0.1


def test_up_down_convention():
    """up_down > 0 shrinks the down step and leaves the up step at dw_min (and vice versa)."""
    arr = quiet("ConstantStep", 2, up_down=0.2)
    D = arr.dev[1]
    np.testing.assert_allclose(D[K.R_DW_UP], 0.01)
    np.testing.assert_allclose(D[K.R_DW_DOWN], 0.01 * 0.8)
    tr = arr.pulse_response(3, w0=np.zeros(2))
    np.testing.assert_allclose(tr[3], 0.03)
    np.testing.assert_allclose(tr[6], 0.03 - 3 * 0.008, atol=1e-15)
    arr = quiet("ConstantStep", 2, up_down=-0.2)
    np.testing.assert_allclose(arr.dev[1][K.R_DW_UP], 0.008)
    np.testing.assert_allclose(arr.dev[1][K.R_DW_DOWN], 0.01)


def test_one_sided_pair_only_potentiates_and_refreshes():
    arr = make("ConstantStep", 6, seed=3, **{**QUIET, "w_min": 0.0, "one_sided": True,
                                            "refresh_every": 4, "reset_std": 0.0})
    rng = np.random.default_rng(4)
    prev = arr.conductances.copy()
    for k in range(1, 13):
        arr.apply_update(rng.normal(0, 0.05, 6), 1.0, k)
        if k % 4:
            assert np.all(arr.conductances >= prev)  # potentiation only
        else:
            # refresh: both devices back near reset, difference preserved to half a step
            assert np.all(np.minimum(arr.conductances[:6], arr.conductances[6:]) <= 0.01 + 1e-12)
        prev = arr.conductances.copy()
    assert arr.stats["refreshes"] == 3
    # a request up moves G+ only, down moves G- only
    arr.init_weights(np.zeros(6))
    before = arr.conductances.copy()
    arr.apply_update(-np.array([0.05, -0.05, 0, 0, 0, 0]), 1.0, 100)
    d = arr.conductances - before
    assert d[0] > 0 and d[6] == 0 and d[1] == 0 and d[7] > 0
    np.testing.assert_allclose(arr.theta[:2], [0.05, -0.05])


def test_refresh_preserves_weights():
    arr = make("SoftBounds", 20, seed=9, **{**QUIET, "w_min": 0.0, "one_sided": True,
                                           "refresh_every": 1, "dw_min": 0.002,
                                           "refresh_iterations": 50})
    arr.init_weights(np.linspace(-0.6, 0.6, 20))
    before = arr.theta.copy()
    arr.apply_update(np.zeros(20), 1.0, 0)  # no pulses: only the refresh
    assert arr.stats["refreshes"] == 1 and arr.stats["refresh_pulses"] > 0
    np.testing.assert_allclose(arr.theta, before, atol=0.002)


def test_decay_toward_reset_closed_form():
    arr = quiet("ConstantStep", 3, lifetime=10.0, reset=0.1, reset_dtod=0.0)
    arr.init_weights(np.array([0.9, -0.5, 0.1]))
    for k in range(5):
        arr.apply_update(np.zeros(3), 1.0, k)
    np.testing.assert_allclose(arr.theta, 0.1 + (np.array([0.9, -0.5, 0.1]) - 0.1) * 0.9 ** 5,
                               rtol=1e-12)


def test_stuck_devices_never_change():
    arr = make("ConstantStep", 200, seed=2, corrupt_devices_prob=0.2, dw_min=0.01,
               write_noise_std=1.0)
    stuck = arr.dev[1][K.R_STUCK] != 0
    assert 10 < stuck.sum() < 80
    arr.init_weights(np.zeros(200))
    v = arr.theta[stuck].copy()
    np.testing.assert_array_equal(v, arr.dev[1][K.R_STUCK_VALUE][stuck])
    rng = np.random.default_rng(0)
    for _ in random_run(arr, 20, rng):
        pass
    np.testing.assert_array_equal(arr.theta[stuck], v)


def test_max_pulses_and_rounding_modes():
    arr = quiet("ConstantStep", 3, max_pulses=5, pulse_rounding="nearest")
    arr.apply_update(-np.array([0.5, 0.026, 0.024]), 1.0, 0)
    np.testing.assert_allclose(arr.theta, [0.05, 0.03, 0.02])
    assert arr.stats["capped_updates"] == 1 and arr.stats["pulses"] == 5 + 3 + 2
    # stochastic rounding is unbiased: 0.3 steps on average
    arr = quiet("ConstantStep", 4000)
    arr.apply_update(np.full(4000, -0.003), 1.0, 1)
    assert abs(arr.theta.mean() - 0.003) < 0.0003
    assert set(np.round(arr.theta / 0.01).astype(int)) == {0, 1}


def test_nonfinite_request_is_counted_not_written():
    arr = quiet("ConstantStep", 3)
    arr.apply_update(np.array([np.nan, np.inf, 1.0]), 0.01, 0)
    assert arr.stats["nonfinite_requests"] == 2
    np.testing.assert_allclose(arr.theta, [0.0, 0.0, -0.01])


# ============================================================================ kernels vs naive

@pytest.mark.parametrize("model", PULSED)
def test_update_kernel_matches_naive_reference(model):
    raw = raw_for(model, dw_min=0.01, dw_min_std=0.7, write_noise_std=2.0, n_states=0)
    arr = DeviceArray(params_for(model, raw), 6, seed=13)
    rng = np.random.default_rng(5)
    arr.init_weights(rng.uniform(-0.4, 0.4, 6))
    devs = [device_dict(arr, c) for c in range(6)]
    W, WN = list(arr.conductances), list(arr.dev[6])
    for k in range(6):
        grad = rng.normal(0, 0.1, 6)
        theta, W, WN, pulses = naive.device_update(model, devs, W, WN, grad, 1.0, k, 13,
                                                   dw_min=0.01, write_std=0.02)
        before = arr.stats["pulses"]
        arr.apply_update(grad, 1.0, k)
        assert arr.stats["pulses"] - before == pulses
        np.testing.assert_allclose(arr.conductances, W, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(arr.theta, theta, rtol=1e-12, atol=1e-15)


def test_quantized_update_matches_naive_reference():
    arr = make("SoftBounds", 5, seed=3, dw_min=0.02, n_states=17, pulse_rounding="nearest")
    arr.init_weights(np.linspace(-0.3, 0.3, 5))
    devs = [device_dict(arr, c) for c in range(5)]
    W, WN = list(arr.conductances), [0.0] * 5
    rng = np.random.default_rng(1)
    for k in range(5):
        grad = rng.normal(0, 0.2, 5)
        theta, W, WN, _ = naive.device_update("SoftBounds", devs, W, WN, grad, 1.0, k, 3,
                                              dw_min=0.02, stochastic=False, n_states=17)
        arr.apply_update(grad, 1.0, k)
        np.testing.assert_allclose(arr.theta, theta, rtol=1e-12, atol=1e-15)


def test_read_and_drift_kernels_match_naive():
    arr = make("ConstantStep", 5, seed=4, read_noise="additive", read_noise_std=0.03,
               drift="power", drift_nu=0.06, drift_nu_dtod=0.3)
    arr.set_time(3.0)
    arr.init_weights(np.linspace(-0.4, 0.4, 5))
    ref = naive.additive_read(list(arr.theta), 0.03, 4, 17, 1)
    np.testing.assert_allclose(arr.read(17, 1), ref, rtol=1e-12)
    w_prog = arr.conductances.copy()
    nu = arr.dev[1][K.R_NU].copy()
    for t in (10.0, 23.0, 1e3, 1e6):
        arr.drift(t)
        ref = [naive.power_drift(w_prog[i], t, 3.0, 20.0, nu[i]) for i in range(5)]
        np.testing.assert_allclose(arr.theta, ref, rtol=1e-12)
    assert abs(arr.theta[0]) < abs(w_prog[0]) * 0.7


@pytest.mark.parametrize("model,raw", [
    ("SoftBounds", dict(dw_min_std=0.5, write_noise_std=3.0)),
    ("ExpStep", dict(dw_min=0.005)),
    ("PowStep", dict(n_states=33, dw_min=0.01)),
])
def test_program_kernel_matches_naive_write_verify(model, raw):
    arr = make(model, 6, seed=21, **raw)
    arr.init_weights(np.linspace(-0.3, 0.3, 6))
    arr.program(np.zeros(6), 3)  # a first call: the second uses the next counter
    targets = np.array([0.2, -0.25, 0.05, 5.0, -5.0, 0.0])
    W0 = arr.conductances.copy()
    devs = [device_dict(arr, c) for c in range(6)]
    p = arr.params
    arr.program(targets, 8)
    counter = K.PROGRAM_COUNTER + 1
    for c in range(6):
        w = naive.write_verify(model, devs[c], c, float(W0[c]), targets[c], 8, 21, counter,
                               p.dw_min, p.n_states)
        assert arr.conductances[c] == pytest.approx(w, rel=1e-12, abs=1e-15)
        wn = p.write_noise_std * p.dw_min * naive.normal_from_bits(
            naive.hash_sub(21, naive.STREAM_WRITE_NOISE, counter, c, 0))
        lo, hi = devs[c]["b_min"], devs[c]["b_max"]
        assert arr.theta[c] == pytest.approx(min(max(w + wn, lo), hi), rel=1e-12, abs=1e-15)


def test_pcm_drift_law():
    arr = make("ConstantStep", 6, seed=2, drift="pcm", w_max=2.0, w_min=-2.0, w_max_dtod=0.0,
               w_min_dtod=0.0)
    w0 = np.array([2.0, 1.0, 0.2, 0.02, -0.5, 0.0])
    arr.init_weights(w0)
    arr.drift(1e4)
    xi = arr.dev[1][K.R_NU_XI]
    nu = np.array([naive.pcm_nu(abs(w) / 2.0, x) for w, x in zip(w0, xi)])
    np.testing.assert_allclose(arr.theta, w0 * (1e4 / 20.0) ** -nu, rtol=1e-12)
    assert nu[3] > nu[0]  # lower conductance drifts faster


def test_public_docstrings_match_signatures():
    """numpydoc 'Parameters' of the public API name exactly the signature's parameters."""
    import inspect
    import re

    from hwsim.chip import devices as pkg

    objs = [DeviceArray, pkg.params_for, pkg.to_dict, pkg.model_name] + [
        getattr(DeviceArray, n) for n in dir(DeviceArray)
        if not n.startswith("_") and callable(getattr(DeviceArray, n))]
    for obj in objs:
        doc = inspect.getdoc(obj) or ""
        assert doc, obj
        if "Parameters\n----------" not in doc:
            continue
        block = doc.split("Parameters\n----------\n", 1)[1].split("\n\n")[0]
        block = re.split(r"\n(?:Returns|Raises|Attributes|Notes)\n", block)[0]
        documented = []
        for line in block.splitlines():
            m = re.match(r"^(\w+(?:, \w+)*) :", line)
            if m:
                documented += m.group(1).split(", ")
        params = [n for n in inspect.signature(obj).parameters if n != "self"]
        assert documented == params, obj


# ============================================================================ field cases

def test_D1_bounds_at_birth():  # case D1
    arr = make("ConstantStep", 64, seed=0, w_max=0.1, w_min=-0.1, dw_min_dtod=0.3,
               up_down_dtod=0.3, w_max_dtod=0.3, w_min_dtod=0.3)
    req = np.random.default_rng(0).uniform(-1, 1, 64)
    lo, hi = arr.bounds()
    n = arr.init_weights(req)
    assert np.all((arr.theta >= lo) & (arr.theta <= hi))
    expected = int(np.sum((req < lo) | (req > hi)))
    assert n == expected == arr.stats["init_clipped"] > 50
    assert len(np.unique(hi)) == 64  # each device its own bound


def test_D2_bounds_on_every_write():  # case D2
    arr = make("ConstantStep", 8 * 9, seed=1, w_max=0.1, w_min=-0.1, dw_min_dtod=0.3,
               w_max_dtod=0.3, w_min_dtod=0.3, dw_min_std=1.0, pulse_rounding="nearest",
               dw_min=0.01)
    rng = np.random.default_rng(2)
    arr.init_weights(rng.uniform(-1, 1, 72))
    D = arr.dev[1]
    lo, hi = D[K.R_B_MIN], D[K.R_B_MAX]
    signs = rng.choice([-1.0, 1.0], size=(10_000, 72)) * 0.01
    worst = 0.0
    for k in range(10_000):
        arr.apply_update(signs[k], 1.0, k)
        worst = max(worst, float(np.max(arr.theta - hi)), float(np.max(lo - arr.theta)))
    assert worst <= 0.0  # 8 weight columns and the bias column alike
    assert arr.stats["pulses"] == 720_000
    assert arr.stats["clipped_writes"] > 0


@pytest.mark.parametrize("model", PULSED)
def test_D5_switches_are_independent(model):  # case D5
    base = raw_for(model, dw_min=0.02, dw_min_std=0.5, write_noise_std=2.0,
                   read_noise="additive", read_noise_std=0.02, drift="power", drift_nu=0.05,
                   drift_nu_dtod=0.2, lifetime=300.0, n_states=41)
    off = dict(dw_min_std=0.0, write_noise_std=0.0, read_noise="none", drift="none",
               lifetime=0.0, n_states=0)

    def run(raw):
        arr = DeviceArray(params_for(model, raw), 40, seed=6)
        rng = np.random.default_rng(3)
        arr.init_weights(rng.uniform(-0.3, 0.3, 40))
        for _ in random_run(arr, 30, rng, dt=100.0):
            pass
        arr.drift(1e5)
        ref = arr.dev[7]  # drift reference: the law W = DREF·f(t − t_prog) is what D5 keeps
        ratio = np.divide(arr.conductances, ref, out=np.ones(40), where=ref != 0)
        return dict(write=arr.dev[6].copy(), read=arr.read(9, 0) - arr.theta, drift=ratio,
                    pulses=arr.stats["pulses"], W=arr.conductances.copy(), arr=arr)

    ref = run(base)
    for switch in off:
        other = run({**base, switch: off[switch]})
        if switch != "write_noise_std":  # programming noise stays on when others go off
            assert np.array_equal(other["write"], ref["write"]), switch
            assert np.any(other["write"] != 0)
        if switch != "read_noise":
            np.testing.assert_allclose(other["read"], ref["read"], atol=1e-12, err_msg=switch)
        if switch != "drift":
            np.testing.assert_allclose(other["drift"], ref["drift"], rtol=1e-9, err_msg=switch)
        assert other["pulses"] == ref["pulses"], switch
        if switch in ("write_noise_std", "read_noise"):  # neither touches the stored state
            assert np.array_equal(other["W"], ref["W"]), switch
    # and each switch does switch its own effect
    assert not np.allclose(run({**base, "drift": "none"})["drift"], ref["drift"])
    assert not np.any(run({**base, "write_noise_std": 0.0})["write"])
    assert not np.any(run({**base, "read_noise": "none"})["read"])
    assert not np.array_equal(run({**base, "dw_min_std": 0.0})["W"], ref["W"])
    assert not np.array_equal(run({**base, "lifetime": 0.0})["W"], ref["W"])


def test_D6_drift_is_felt_only_with_nu():  # device part of case D6
    for nu, changes in ((0.05, True), (0.0, False)):
        arr = make("ConstantStep", 10, seed=1, drift="power", drift_nu=nu)
        arr.init_weights(np.linspace(-0.5, 0.5, 10))
        before = arr.theta.copy()
        arr.drift(1e4)
        assert (not np.array_equal(arr.theta, before)) == changes


def test_D8_profile_and_direct_arrays_give_identical_dynamics():  # case D8
    raw = dict(dw_min=0.01, dw_min_std=0.4, write_noise_std=1.0, gamma_up=0.3, gamma_down=0.2)
    spread = dict(dw_min_dtod=0.3, up_down_dtod=0.05, w_max_dtod=0.2, w_min_dtod=0.2)
    a = make("LinearStep", 30, seed=5, **raw, **spread)   # through the profile
    b = make("LinearStep", 30, seed=99, **raw)             # no spread, other seed ...
    b.dev[0][K.I_SEED] = a.seed                            # ... same c2c streams,
    for name, values in a.device_parameters().items():     # then set directly on the array
        b.set_device_parameter(name, values)
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-0.5, 0.5, 30)
    a.init_weights(w0)
    b.init_weights(w0)
    for k in range(20):
        g = rng.normal(0, 0.1, 30)
        a.apply_update(g, 1.0, k)
        b.apply_update(g, 1.0, k)
    assert np.array_equal(a.theta, b.theta)
    assert a.stats == b.stats


@pytest.mark.parametrize("cid,model,raw", [pytest.param(*c, id=c[0]) for c in CONFIGS
                                           if c[0].endswith(("-all", "-pair"))
                                           or c[0] in ("Ideal", "fit-pcm", "fit-capacitor")])
def test_D9_state_round_trip_continues_bit_identically(cid, model, raw):  # case D9
    def cont(arr, rng_seed):
        rng = np.random.default_rng(rng_seed)
        reads = []
        for k in random_run(arr, 12, rng, t0=500.0, dt=40.0):
            reads.append(arr.read(k, k % 2).copy())
        arr.drift(2e3)
        return np.array(reads)

    a = DeviceArray(params_for(model, raw), 10, seed=4)
    rng = np.random.default_rng(1)
    a.init_weights(rng.uniform(-0.5, 0.5, 10))
    for _ in random_run(a, 12, rng, dt=40.0):
        pass
    snap = a.get_state()
    ra = cont(a, 7)
    b = DeviceArray(params_for(model, raw), 10, seed=4)
    b.set_state(snap)
    rb = cont(b, 7)
    assert np.array_equal(ra, rb)
    for k, v in a.get_state().items():
        assert np.array_equal(v, b.get_state()[k]), k
    assert a.stats == b.stats
    with pytest.raises(ValueError, match="shape"):
        DeviceArray(params_for(model, raw), 11, seed=4).set_state(snap)


@pytest.mark.parametrize("cid,model,raw", [pytest.param(*c, id=c[0]) for c in CONFIGS
                                           if not c[0].startswith("fit")])
def test_D10_float32_is_uniform(cid, model, raw):  # case D10
    a32 = DeviceArray(params_for(model, raw), 8, seed=2, dtype=np.float32)
    a64 = DeviceArray(params_for(model, raw), 8, seed=2)
    for arr in (a32, a64):
        rng = np.random.default_rng(0)
        arr.init_weights(rng.uniform(-0.5, 0.5, 8))
        for _ in random_run(arr, 5, rng, dt=100.0):
            pass
        arr.drift(1e3)
        arr.program(np.linspace(-0.2, 0.2, 8), 3)
    floats = [a for a in (a32.theta, *a32.dev) if a.dtype.kind == "f"]
    assert len(floats) == 8 and all(a.dtype == np.float32 for a in floats)
    assert a32.read(0, 0).dtype == np.float32 and a32.pulse_response(2).dtype == np.float32
    assert_in_bounds(a32)
    if model == "Ideal":
        np.testing.assert_allclose(a32.theta, a64.theta, atol=1e-6)


@pytest.mark.parametrize("model,raw", [
    ("ConstantStep", QUIET), ("SoftBounds", QUIET), ("ExpStep", QUIET),
    ("SoftBounds", dict(dw_min_std=2.0, write_noise_std=5.0)),
    ("PowStep", dict(n_states=5)), ("Ideal", {}),
    ("ExpStep", dict(FITS["pcm"][1])),
])
def test_D11_impossible_targets_terminate_and_are_counted(model, raw):  # case D11
    arr = make(model, 8, seed=3, **raw)
    lo, hi = arr.bounds()
    targets = np.array([2 * hi[0], 10 * lo[1], hi[2], lo[3], 1e300, -np.inf, 0.05, -0.05])
    if model == "Ideal":
        targets[5] = -1e300
    t = time.perf_counter()
    n = arr.program(targets, max_iterations=50)
    assert time.perf_counter() - t < 5
    beyond = int(np.sum((targets > hi) | (targets < lo)))
    assert n == beyond == arr.stats["program_clipped"]
    if model != "Ideal":
        assert beyond == 4
        assert_in_bounds(arr)
        if raw is QUIET:
            np.testing.assert_allclose(arr.theta[[6, 7]], [0.05, -0.05], atol=0.005 + 1e-12)
            assert arr.theta[0] > 0.9 * hi[0] and arr.theta[1] < 0.9 * lo[1]


@pytest.mark.parametrize("frozen", [False, True])
def test_D12_correlated_reads(frozen):  # case D12
    arr = make("ConstantStep", 2000, seed=1, read_noise="additive", read_noise_std=0.05,
               read_noise_frozen_per_step=frozen)
    r0, r1 = arr.read(5, 0) - arr.theta, arr.read(5, 1) - arr.theta
    nxt = arr.read(6, 0) - arr.theta
    assert abs(np.std(r0) - 0.05) < 0.005
    if frozen:
        assert np.array_equal(r0, r1)
    else:
        assert abs(np.corrcoef(r0, r1)[0, 1]) < 0.1
    assert abs(np.corrcoef(r0, nxt)[0, 1]) < 0.1  # a new step is a new draw either way


def test_pcm_read_noise_grows_as_conductance_falls():
    arr = make("ConstantStep", 4000, seed=1, read_noise="pcm", w_max=1.0, w_min=-1.0,
               w_max_dtod=0.0, w_min_dtod=0.0)
    arr.init_weights(np.repeat([0.05, 0.9], 2000))
    noise = np.array([arr.read(k, 0) - arr.theta for k in range(5)])
    rel_low = np.std(noise[:, :2000]) / 0.05
    rel_high = np.std(noise[:, 2000:]) / 0.9
    lnf = math.sqrt(math.log((20 + 250e-9) / (2 * 250e-9)))
    assert rel_low == pytest.approx(min(0.0088 / 0.05 ** 0.65, 0.2) * lnf, rel=0.05)
    assert rel_high == pytest.approx(0.0088 / 0.9 ** 0.65 * lnf, rel=0.05)
    assert rel_low > 2 * rel_high


def test_R3_pulse_counter_past_2_31():  # case R3
    arr = quiet("ConstantStep", 2)
    for start in (2**31 - 10, 2**40 + 3):
        arr.dev[4][K.ST_PULSES] = start
        arr.apply_update(np.array([-0.25, 0.0]), 1.0, 0)
        assert arr.stats["pulses"] == start + 25
        assert isinstance(arr.stats["pulses"], int)
    assert arr.dev[4].dtype == np.int64


# ============================================================================ API details

def test_number_of_states_reported():  # case D7 (the profile reports its states)
    arr = make("ConstantStep", 2, w_max=1.0, w_min=-1.0, dw_min=0.0016)
    assert arr.n_states() == pytest.approx(1250)
    assert make("ConstantStep", 2, n_states=16).n_states() == 16
    assert math.isinf(make("Ideal", 2).n_states())


def test_wrapper_validates_inputs():
    arr = quiet("ConstantStep", 3)
    with pytest.raises(ValueError, match="shape"):
        arr.apply_update(np.zeros(4), 1.0, 0)
    with pytest.raises(ValueError, match="eta"):
        arr.apply_update(np.zeros(3), -1.0, 0)
    with pytest.raises(ValueError, match="counter"):
        arr.apply_update(np.zeros(3), 1.0, -1)
    with pytest.raises(ValueError, match="seed"):
        DeviceArray(arr.params, 3, seed=-1)
    with pytest.raises(ValueError, match="dtype"):
        DeviceArray(arr.params, 3, seed=0, dtype=np.int32)
    with pytest.raises(ConfigError, match="registered"):
        DeviceArray(object(), 3, seed=0)


def test_smoke_check_rejects_nonfinite_model():
    """Parameters that escaped validation are still caught when the array is built: one up
    and one down pulse on every device must stay finite."""
    with pytest.raises(ConfigError, match="device.A_up = nan: must be a finite number"):
        REGISTRY["ExpStep"](A_up=math.nan)  # the constructor validates (style rule 6)
    p = REGISTRY["ExpStep"]()
    object.__setattr__(p, "A_up", math.nan)  # bypass validation on purpose
    with pytest.raises(ConfigError, match="non-finite"):
        DeviceArray(p, 3, seed=0)
    make("ExpStep", 3, A_up=1.0, gamma_up=1000.0, a=1.0, b=1.0)  # overflowing step: clipped


def test_ideal_update_is_exact_and_plain():
    arr = make("Ideal", 5)
    arr.init_weights(np.arange(5.0))
    g = np.array([0.1, -0.2, 1e-12, 3.0, 0.0])
    arr.apply_update(g, 0.7, 0)
    np.testing.assert_array_equal(arr.theta, np.arange(5.0) + (-0.7 * g))
