"""Tests for device profiles (hwsim.chip.profiles), `hwsim devices` and docs/devices.md."""

import math
import os
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

from hwsim.chip import profile_docs
from hwsim.chip import profiles as P
from hwsim.chip.devices import REGISTRY, DeviceArray, params_for
from hwsim.cli import ExitCode, main
from hwsim.exceptions import ConfigError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# The "Published fits" table of the device specification, as data: profile → (model, values).
# Shorthands of the table expanded: "w ±1" → w_max/w_min, "gamma x" → gamma_up/gamma_down,
# "w_max/min_dtod x" and "w_dtod x" → w_max_dtod/w_min_dtod, "gamma_dtod x" → both gamma dtods,
# "mult. noise" → mult_noise = true (rows without it: additive, mult_noise = false).
PUBLISHED = {
    "reram_es": ("ExpStep", dict(
        dw_min=0.00135, up_down=0.259359, w_max=1.0, w_min=-1.0, a=-0.5, b=-0.5,
        gamma_up=5.0, gamma_down=5.0, A_up=-1.18445, A_down=-0.081404, dw_min_dtod=0.2,
        up_down_dtod=0.05, w_max_dtod=0.3, w_min_dtod=0.3, dw_min_std=5.0,
        write_noise_std=75.0)),
    "reram_sb": ("SoftBounds", dict(
        dw_min=0.002, w_max=1.25, w_min=-0.75, dw_min_dtod=0.3, up_down_dtod=0.01,
        w_max_dtod=0.24, w_min_dtod=0.4, dw_min_std=3.75, write_noise_std=56.0,
        mult_noise=False)),
    "ecram_li": ("LinearStep", dict(
        mult_noise=True, dw_min=0.002, w_max=1.1724, w_min=-0.8276, gamma_up=0.1153,
        gamma_down=0.5085, dw_min_dtod=0.1, up_down_dtod=0.01, w_max_dtod=0.05, w_min_dtod=0.05,
        gamma_up_dtod=0.05, gamma_down_dtod=0.05, dw_min_std=0.3)),
    "ecram_mo": ("LinearStep", dict(
        mult_noise=True, dw_min=0.00028214, w_max=1.1714, w_min=-0.8286, gamma_up=0.4152,
        gamma_down=0.7342, dw_min_dtod=0.1, w_max_dtod=0.05, w_min_dtod=0.05, dw_min_std=2.0)),
    "capacitor": ("LinearStep", dict(
        mult_noise=False, dw_min=0.005, w_max=1.0, w_min=-1.0, gamma_up=0.05, gamma_down=0.05,
        dw_min_dtod=0.1, up_down_dtod=0.06, w_max_dtod=0.07, w_min_dtod=0.07, dw_min_std=0.3,
        lifetime=1e6, lifetime_dtod=0.3)),
    "pcm_pair": ("ExpStep", dict(
        one_sided=True, dw_min=0.01, w_min=0.0, w_max=2.0, a=-1.0, b=0.0, gamma_up=2.5,
        gamma_down=2.5, A_up=-27.235, A_down=-2.235, dw_min_dtod=0.2, w_max_dtod=0.1,
        dw_min_std=0.6, dw_min_std_add=0.042, dw_min_std_slope=0.108, reset=0.01,
        reset_dtod=0.02,
        # PCM drift and read noise (Nandakumar/Joshi laws, built into the model; t0 = 20 s)
        drift="pcm", read_noise="pcm", drift_t0=20.0, read_noise_frozen_per_step=True)),
    "rpu_spec": ("ConstantStep", dict(
        dw_min=0.0016, w_max=1.0, w_min=-1.0, dw_min_dtod=0.3, dw_min_std=0.3,
        up_down_dtod=0.01, w_max_dtod=0.3, w_min_dtod=0.3)),
    "idealized": ("ConstantStep", dict(
        dw_min=0.0002, w_max=1.0, w_min=-1.0, dw_min_dtod=0.3, dw_min_std=0.3, up_down=0.0,
        w_max_dtod=0.3, w_min_dtod=0.3)),
    "ideal": ("Ideal", {}),
}
# Published state counts: "≈1200" (1250 exactly), "10⁴", PCM (2 − 0)/0.01.
STATES = {"rpu_spec": 1250, "idealized": 10_000, "pcm_pair": 200, "ideal": math.inf}


def write(folder: Path, text: str, name: str = "dev.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return path


def error_of(fn, *args) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args)
    return str(info.value)


MINIMAL = 'name = "x"\nsource = "own measurement"\n[device]\nmodel = "ConstantStep"\n'


# ---------------------------------------------------------------------------- shipped profiles

def test_shipped_profiles_are_the_published_ones():
    assert P.list_profiles() == sorted(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_profile_loads_and_matches_published_table(name):
    p = P.load_profile(name)
    model, values = PUBLISHED[name]
    assert p.name == name == p.path.stem and p.model == model
    assert isinstance(p.params, REGISTRY[model])
    for key, value in values.items():
        got = getattr(p.params, key)
        assert got == value and type(got) is type(value), f"{name}: device.{key} = {got!r}"
    # The file sets exactly the table's values (plus, for the PCM pair, its refresh period
    # and frozen-per-step read noise, both hwsim choices stated in its notes).
    extra = {"refresh_every", "read_noise_frozen_per_step"} if name == "pcm_pair" else set()
    assert set(p.explicit) == set(values) | extra
    assert p.source.strip() and p.notes.strip() and p.description.strip()
    if name != "ideal":
        assert "doi:10." in p.source
    if name in STATES:
        assert p.n_states() == STATES[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("resolved", [False, True])
def test_shipped_profile_round_trips(tmp_path, name, resolved):
    p = P.load_profile(name)
    text = P.profile_to_toml(p, resolved=resolved)
    again = P.load_profile(write(tmp_path, text))
    assert again == p
    assert P.profile_to_toml(again, resolved=resolved) == text  # TOML → Profile → TOML stable
    if resolved:  # every parameter spelled out
        assert set(tomllib.loads(text)["device"]) == {"model"} | {
            f for f in p.params.__dataclass_fields__}
    else:  # only what the file set
        assert set(tomllib.loads(text)["device"]) == {"model", *p.explicit}


def test_pcm_pair_is_a_refreshed_one_sided_pair_with_pcm_drift_and_read_noise():
    p = P.load_profile("pcm_pair").params
    assert p.one_sided and p.refresh_every > 0
    assert p.has_drift() and p.has_read_noise() and p.drift_t0 == 20.0


# case D8
@pytest.mark.parametrize("name", ["reram_es", "ecram_li", "pcm_pair", "capacitor"])
def test_profile_and_direct_parameters_give_identical_dynamics(name):
    model, values = PUBLISHED[name]
    via_profile = P.load_profile(name).params
    direct = params_for(model, values | ({"refresh_every": via_profile.refresh_every}
                                         if name == "pcm_pair" else {}))
    assert via_profile == direct
    a = DeviceArray(via_profile, 16, 3).pulse_response(50)
    b = DeviceArray(direct, 16, 3).pulse_response(50)
    assert np.array_equal(a, b)


def test_package_data_covers_every_shipped_profile():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = cfg["tool"]["setuptools"]["package-data"]["hwsim"]
    for path in P.PROFILE_DIR.glob("*.toml"):
        rel = path.relative_to(REPO / "hwsim").as_posix()
        assert any(fnmatch(rel, g) for g in globs), rel


# ---------------------------------------------------------------------------- errors

# case C1
def test_typo_inside_profile_names_file_dotted_key_and_nearest(tmp_path):
    path = write(tmp_path, MINIMAL + "dw_mni = 0.01\n")
    msg = error_of(P.load_profile, path)
    assert msg.startswith(f"{path}: device.dw_mni: unknown key; did you mean 'dw_min'? "
                          "(valid keys: dw_min, ")


# case C1
def test_typo_in_metadata_and_table_names_nearest(tmp_path):
    msg = error_of(P.load_profile, write(tmp_path, MINIMAL + "[notes]\n"))
    assert msg.endswith(": notes = {}: must be a string")  # a metadata key is never a table
    msg = error_of(P.load_profile, write(tmp_path, MINIMAL.replace("source", "sorce")))
    assert ": sorce: unknown key; did you mean 'source'?" in msg
    msg = error_of(P.load_profile, write(tmp_path, MINIMAL.replace("[device]", "[devices]")))
    assert ": [devices]: unknown section; did you mean 'device'?" in msg
    msg = error_of(P.load_profile, write(tmp_path, MINIMAL.replace("model =", "modle =")))
    assert ": device.modle: unknown key; did you mean 'model'?" in msg


def test_parameter_of_another_model_says_which(tmp_path):
    msg = error_of(P.load_profile, write(tmp_path, MINIMAL + "gamma_up = 0.1\n"))
    assert ': device.gamma_up: not a parameter of model "ConstantStep" (it belongs to ' in msg
    assert "LinearStep" in msg and "ExpStep" in msg


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_nan_and_inf_rejected_naming_the_field(tmp_path, value):
    path = write(tmp_path, MINIMAL + f"dw_min = {value}\n")
    assert error_of(P.load_profile, path) == \
        f"{path}: device.dw_min = {value}: must be a finite number > 0.0"


@pytest.mark.parametrize("line,expected", [
    ("dw_min = -0.1", "device.dw_min = -0.1: must be a finite number > 0.0"),
    ('dw_min = "small"', 'device.dw_min = "small": must be a finite number > 0.0'),
    ("w_max = -2.0", "device.w_max = -2.0: must be > w_min"),
    ('pulse_rounding = "nearst"', 'did you mean "nearest"?'),
])
def test_bad_values_name_key_value_and_rule(tmp_path, line, expected):
    path = write(tmp_path, MINIMAL + line + "\n")
    msg = error_of(P.load_profile, path)
    assert msg.startswith(f"{path}: ") and expected in msg


def test_unknown_model_lists_valid_ones(tmp_path):
    path = write(tmp_path, MINIMAL.replace("ConstantStep", "ExpSteps"))
    msg = error_of(P.load_profile, path)
    assert msg.startswith(f'{path}: device.model = "ExpSteps": must be one of ')
    assert all(f'"{m}"' in msg for m in REGISTRY) and msg.endswith('did you mean "ExpStep"?')


@pytest.mark.parametrize("text,expected", [
    ('source = "s"\n[device]\nmodel = "Ideal"\n', "name: required key missing"),
    ('name = "n"\n[device]\nmodel = "Ideal"\n', "source: required key missing"),
    ('name = "n"\nsource = "  "\n[device]\nmodel = "Ideal"\n',
     'source = "  ": must be a non-empty string'),
    ('name = 3\nsource = "s"\n[device]\nmodel = "Ideal"\n', "name = 3: must be a non-empty string"),
    ('name = "n"\nsource = "s"\n', "[device]: required table missing"),
    ('name = "n"\nsource = "s"\n[device]\n', "device.model: required key missing (one of "),
    ('name = "n"\nsource = "s"\ndevice = 1\n', "device = 1: must be a table [device]"),
    ('name = "n"\nsource = "s"\n[device]\nmodel = "Ideal"\ndw_min = 0.1\n',
     'device.dw_min: not a parameter of model "Ideal"'),
    ('name = "n"\nsource = "s"\n[device\n', "invalid TOML"),
])
def test_metadata_and_structure_errors(tmp_path, text, expected):
    path = write(tmp_path, text)
    msg = error_of(P.load_profile, path)
    assert msg.startswith(f"{path}: ") and expected in msg, msg


def test_missing_file_and_unknown_name(tmp_path):
    assert error_of(P.load_profile, tmp_path / "nope.toml").endswith(
        f"nope.toml: device profile not found (looked in {tmp_path})")
    msg = error_of(P.load_profile, "reram_e")
    assert msg.startswith("reram_e: no shipped device profile of that name; did you mean "
                          f"'reram_es'? (searched {P.PROFILE_DIR} and the working folder ")
    assert "; shipped: capacitor, " in msg


def test_bom_is_tolerated_and_bytes_never_executed(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert P.load_profile(path).model == "ConstantStep"


def test_relative_lut_file_is_read_next_to_the_profile(tmp_path, monkeypatch):
    folder = tmp_path / "lab"
    write(folder, "# measured at 100 ns\nw,dw_up,dw_down\n-1,0.004,-0.001\n0,0.002,-0.002\n"
                  "1,0.001,-0.004\n", "steps.csv")
    path = write(folder, 'name = "lut"\nsource = "own"\n[device]\nmodel = "MeasuredLUT"\n'
                         'dw_min = 0.002\nw_max = 1.0\nw_min = -1.0\nlut_file = "steps.csv"\n')
    monkeypatch.chdir(tmp_path)  # not the profile's folder
    p = P.load_profile(path)
    assert p.params.lut_w == (-1.0, 0.0, 1.0) and p.params.lut_dw_up == (0.004, 0.002, 0.001)
    again = P.load_profile(write(tmp_path / "elsewhere", P.profile_to_toml(p, resolved=True)))
    assert again == p  # the resolved profile carries the table itself


# ---------------------------------------------------------------------------- case C3: UTF-8

C3_PROFILE = ('name = "HfO₂ – 3 µm"\nsource = "Müller et al."\nnotes = "Gerät B, 25 °C"\n'
              '[device]\nmodel = "ExpStep"\ndw_min = 0.002\nw_max = 1.0\nw_min = -1.0\n')

C3_SCRIPT = r"""
import sys, tomllib, tomli_w
from pathlib import Path
from hwsim.chip.profiles import load_profile, profile_from_dict, profile_to_dict, save_profile
from hwsim.config import RunConfig
src = Path(sys.argv[1])
p = load_profile(src)
assert p.name == "HfO\u2082 \u2013 3 \u00b5m" and p.source == "M\u00fcller et al.", p
save_profile(p, src.parent / "again.toml")
assert load_profile(src.parent / "again.toml") == p
run = RunConfig().to_dict()
run["device_profile"] = profile_to_dict(p, resolved=True)
cfg = src.parent / "config.toml"
cfg.write_bytes(tomli_w.dumps(run).encode("utf-8"))
back = tomllib.loads(cfg.read_bytes().decode("utf-8"))
assert profile_from_dict(back["device_profile"], str(cfg)) == p
assert RunConfig.from_dict({k: v for k, v in back.items() if k != "device_profile"}) == RunConfig()
print("round trip ok")
"""


# case C3
@pytest.mark.parametrize("utf8_mode", ["1", "0"])  # C locale as Python coerces it, and strict ASCII
def test_c3_non_ascii_profile_in_non_ascii_folder_under_lang_c(tmp_path, utf8_mode):
    path = write(tmp_path / "Geräte µ – Müller", C3_PROFILE)
    env = dict(os.environ, LANG="C", LC_ALL="C", PYTHONUTF8=utf8_mode,
               PYTHONCOERCECLOCALE=utf8_mode)
    env.pop("PYTHONIOENCODING", None)
    r = subprocess.run([sys.executable, "-c", C3_SCRIPT, str(path)], env=env,
                       capture_output=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == b"round trip ok", r.stderr.decode()
    for args in (["show", str(path)], ["validate", str(path)], ["list"]):
        r = subprocess.run([sys.executable, "-m", "hwsim", "devices", *args], env=env,
                           capture_output=True, timeout=300)
        assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode("utf-8")
    assert "pcm_pair" in out


# case C3
def test_c3_latin1_profile_says_toml_must_be_utf8(tmp_path):
    folder = tmp_path / "Geräte µ"
    folder.mkdir()
    path = folder / "latin1.toml"
    path.write_bytes(C3_PROFILE.replace("₂", "2").replace("–", "-").encode("latin-1"))
    msg = error_of(P.load_profile, path)
    assert msg.startswith(f"{path}: TOML must be UTF-8 (invalid byte 0xb5 at offset ")


# ---------------------------------------------------------------------------- CLI

def test_cli_list_reports_names_models_and_states(capsys):  # case D7 part
    assert main(["devices", "list"]) == ExitCode.OK
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln.split() for ln in out.splitlines()[1:]}
    assert set(lines) == set(PUBLISHED)
    for name, (model, _) in PUBLISHED.items():
        assert lines[name][1] == model
        assert lines[name][2] == P.format_states(P.load_profile(name).n_states())
    assert lines["pcm_pair"][2] == "200" and lines["ideal"][2] == "∞"
    assert lines["rpu_spec"][2] == "1250" and lines["idealized"][2] == "10000"


def test_cli_show_every_parameter_with_origin_and_states(capsys):  # case D7 part
    assert main(["devices", "show", "pcm_pair"]) == ExitCode.OK
    out = capsys.readouterr().out
    p = P.load_profile("pcm_pair")
    assert "states:      200  ((w_max - w_min) / dw_min)" in out
    assert p.source in out
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("device.")}
    assert set(rows) == {"device.model"} | {f"device.{f}" for f in p.params.__dataclass_fields__}
    assert rows["device.dw_min"][1:] == ["0.01", "weight", "units", "profile"]
    assert rows["device.up_down"][-1] == "default" and rows["device.one_sided"][1] == "true"
    assert rows["device.drift_t0"][1:] == ["20.0", "s", "profile"]
    # n_states() is what an array built from the profile reports
    assert DeviceArray(p.params, 2, 0).n_states() == p.n_states() == 200


def test_cli_show_file_and_ideal(tmp_path, capsys):
    path = write(tmp_path, MINIMAL + "dw_min = 0.004\nw_max = 1.0\nw_min = -1.0\n")
    assert main(["devices", "show", str(path)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "states:      500" in out and f"file:        {path}" in out
    assert main(["devices", "show", "ideal"]) == ExitCode.OK
    assert "states:      ∞" in capsys.readouterr().out


def test_cli_validate_ok_and_error(tmp_path, capsys):
    good = write(tmp_path, MINIMAL + "dw_min = 0.01\n")
    assert main(["devices", "validate", str(good)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {good}: x (ConstantStep, ") and "1 parameter set" in out
    bad = write(tmp_path, MINIMAL + "dw_mni = 0.01\n", "bad.toml")
    assert main(["devices", "validate", str(bad)]) == ExitCode.USAGE_ERROR
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert captured.out == "" and len(err) == 1
    assert err[0].startswith(f"hwsim: error: {bad}: device.dw_mni: unknown key; "
                             "did you mean 'dw_min'?")
    assert main(["devices", "validate", str(tmp_path / "missing.toml")]) == ExitCode.USAGE_ERROR
    assert "device profile not found" in capsys.readouterr().err


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data[:8] == b"\x89PNG\r\n\x1a\n" and b"IHDR" in data[:16] and data.endswith(
        b"IEND\xaeB`\x82")


def test_cli_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["devices", "plot", "reram_es", "--out", str(out), "--pulses", "60",
                 "--devices", "4", "--seed", "2"]) == ExitCode.OK
    assert _is_png(out)
    assert "wrote" in capsys.readouterr().out
    assert main(["devices", "plot", "reram_es", "--out", str(out), "--pulses", "0"]) == \
        ExitCode.USAGE_ERROR
    assert "--pulses 0: allowed 1 to 100000" in capsys.readouterr().err
    for bad, msg in ((["--pulses", "100000000"], "--pulses 100000000"),
                     (["--devices", "0"], "--devices 0"), (["--out", str(tmp_path / "x.txt")], "PNG")):
        args = ["devices", "plot", "reram_es", "--out", str(out)] + bad
        assert main(args) == ExitCode.USAGE_ERROR
        assert msg in capsys.readouterr().err
    assert main(["devices", "plot", "ideal", "--out", str(tmp_path / "no" / "x.png")]) == \
        ExitCode.USAGE_ERROR
    assert "cannot write the plot" in capsys.readouterr().err


def test_cli_plot_default_name_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["devices", "plot", "ideal", "--devices", "2"]) == ExitCode.OK
    assert _is_png(tmp_path / "ideal_pulse_response.png")


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_pulse_response_shape_and_bounds(tmp_path, name):
    from hwsim.analysis.device_plots import plot_pulse_response

    p = P.load_profile(name)
    traj = plot_pulse_response(p, tmp_path / "p.png", pulses=40, devices=3, seed=1)
    assert traj.shape == (81, 3) and np.isfinite(traj).all() and _is_png(tmp_path / "p.png")
    if name != "ideal":  # up pulses first: the mean ends the up phase above where it started
        assert traj[40].mean() > traj[0].mean() and traj[80].mean() < traj[40].mean()


def test_cli_needs_an_action(capsys):
    with pytest.raises(SystemExit) as info:
        main(["devices"])
    assert info.value.code == 2


# ---------------------------------------------------------------------------- docs

def test_docs_generated_part_is_current():
    text = (REPO / "docs" / "devices.md").read_text(encoding="utf-8")
    assert P.DOC_MARKER in text
    head = text.split(P.DOC_MARKER, 1)[0] + P.DOC_MARKER + "\n"
    assert head == P.devices_markdown(), \
        "docs/devices.md is stale: run `python -m hwsim.chip.profiles --write docs/devices.md`"
    assert "## Training on each shipped profile" in text.split(P.DOC_MARKER, 1)[1]


def test_docs_cover_every_model_field_and_profile():
    text = P.devices_markdown()
    for name, cls in REGISTRY.items():
        assert f"### `{name}`" in text
        for f in cls.__dataclass_fields__.values():
            assert f"| `{f.name}` |" in text and profile_docs.cell_text(f.metadata["doc"]) in text
    for name in P.list_profiles():
        assert f"| `{name}` |" in text
    assert "## Writing your own profile" in text and P.EXAMPLE_PROFILE.strip() in text


def test_docs_example_profile_is_valid(tmp_path):
    p = P.load_profile(write(tmp_path, P.EXAMPLE_PROFILE, "hfo2_3um.toml"))
    assert p.model == "ExpStep" and "µ" in p.description


def test_docs_measured_table_example_is_valid(tmp_path):
    write(tmp_path, P.EXAMPLE_LUT_CSV, "hfo2_3um_steps.csv")
    p = P.load_profile(write(tmp_path, P.EXAMPLE_LUT_PROFILE, "hfo2_3um_lut.toml"))
    assert p.model == "MeasuredLUT" and len(p.params.lut_w) == 5
    text = P.devices_markdown()
    assert P.EXAMPLE_LUT_CSV.strip() in text and P.EXAMPLE_LUT_PROFILE.strip() in text
    traj = DeviceArray(p.params, 3, 0).pulse_response(20)
    assert traj[20].mean() > traj[0].mean()


def test_write_devices_doc_keeps_hand_written_part(tmp_path):
    path = tmp_path / "devices.md"
    P.write_devices_doc(path)  # new file: generated part + placeholder
    assert "## Training on each shipped profile" in path.read_text(encoding="utf-8")
    path.write_text("old generated text\n" + P.DOC_MARKER + "\n## Mine\nmeasured: 0.97\n",
                    encoding="utf-8")
    P.write_devices_doc(path)
    text = path.read_text(encoding="utf-8")
    assert text == P.devices_markdown() + "## Mine\nmeasured: 0.97\n"


def test_module_main_prints_generated_part():
    r = subprocess.run([sys.executable, "-m", "hwsim.chip.profiles"], capture_output=True,
                       timeout=300, cwd=REPO)
    assert r.returncode == 0 and r.stdout.decode("utf-8") == P.devices_markdown()


def _documented_parameters(doc: str) -> list[str]:
    """Names in the numpydoc "Parameters" section of a (dedented) docstring."""
    lines = doc.splitlines()
    if "Parameters" not in lines:
        return []
    i = lines.index("Parameters") + 2  # skip the underline
    names = []
    while i < len(lines) and not (i + 1 < len(lines) and set(lines[i + 1]) == {"-"}):
        ln = lines[i]
        if ln and not ln[0].isspace():  # "name : type"; descriptions are indented
            names.append(ln.split(" : ")[0].strip())
        i += 1
    return names


@pytest.mark.parametrize("func", [
    P.load_profile, P.profile_from_dict, P.profile_to_dict, P.profile_to_toml, P.save_profile,
    P.list_profiles, P.profile_path, P.model_of, P.n_states, P.parameter_rows,
    P.profile_summaries, P.devices_markdown, P.write_devices_doc,
], ids=lambda f: f.__name__)
def test_numpydoc_parameters_match_signature(func):
    import inspect

    documented = _documented_parameters(inspect.getdoc(func) or "")
    assert documented == list(inspect.signature(func).parameters), func.__name__


def test_numpydoc_parameters_match_signature_device_plots():
    import inspect

    from hwsim.analysis import device_plots

    for func in (device_plots.pulse_response, device_plots.plot_pulse_response,
                 device_plots.default_pulses):
        documented = _documented_parameters(inspect.getdoc(func) or "")
        assert documented == list(inspect.signature(func).parameters), func.__name__


def test_c3_a_real_run_under_a_strict_ascii_locale(tmp_path):  # case C3
    """A non-ASCII profile in a non-ASCII folder, run and resumed through the CLI under a strict
    C locale (no UTF-8 mode): the run's config.toml holds the path, in UTF-8."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    folder = tmp_path / "Geräte µ"
    folder.mkdir()
    shutil.copy(root / "hwsim" / "devices" / "rpu_spec.toml", folder / "hfo2.toml")
    out = tmp_path / "Läufe µ"
    env = dict(os.environ, LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0")
    base = [sys.executable, "-m", "hwsim", "run"]
    r = subprocess.run([*base, str(root / "examples" / "xor.toml"), "--quiet", "--set",
                        f"chip.device={folder / 'hfo2.toml'}", "--set", "sim.steps=200",
                        "--out", str(out)], env=env, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-2000:]
    assert "Geräte µ/hfo2.toml" in (out / "config.toml").read_text(encoding="utf-8")
    r = subprocess.run([*base, "--resume", str(out), "--quiet", "--set", "sim.steps=400"],
                       env=env, capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-2000:]
