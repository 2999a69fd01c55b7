"""Tests for hwsim.config: schema defaults, validation, overrides, round-trip and docs."""

import math
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from hwsim.config import (
    RunConfig, config_markdown, dump_config, iter_fields, load_config,
)
from hwsim.exceptions import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(fn, *args) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args)
    return str(info.value)


def get(cfg: RunConfig, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


# ---------------------------------------------------------------------------- defaults, round trip

def test_defaults_validate_and_match_constructor(tmp_path):
    cfg = load_config(write(tmp_path, ""))
    assert cfg == RunConfig() == RunConfig.from_dict({})
    assert cfg.sim.total_steps() == 10000
    assert cfg.network.sizes == (64, 32, 10)
    assert cfg.network.resolved_output_activation == "sigmoid"


def test_to_dict_is_complete_and_plain():
    d = RunConfig().to_dict()
    assert isinstance(d["network"]["sizes"], list)
    def flatten(sub, prefix=""):  # sections nest ([chip.cost_line])
        out = {}
        for k, v in sub.items():
            out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
        return out

    flat = flatten(d)
    assert set(flat) == {dotted for dotted, _ in iter_fields()}
    tomli_w.dumps(d)  # raises on anything TOML cannot hold


def test_round_trip(tmp_path):
    cfg = RunConfig().with_overrides({
        "seed": 7, "task.name": "parity", "task.bits": 6, "network.sizes": [6, 5, 2],
        "network.cost": "cross_entropy", "network.init": "uniform", "network.init_low": -0.5,
        "mgd.perturbation": "fdma", "mgd.amplitude": 0.1, "mgd.tau_hp": 2.5,
        "sim.dt": 0.1, "sim.time_limit_s": 1.0, "sim.stop_at_target": True, "sim.max_cost": 1e9,
    })
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    dump_config(cfg, first)
    again = load_config(first)
    assert again == cfg
    dump_config(again, second)
    assert first.read_bytes() == second.read_bytes()
    assert again.sim.steps == 0 and again.sim.total_steps() == 10


# ---------------------------------------------------------------------------- boundaries from metadata

def _below(x):
    return x - 1 if isinstance(x, int) else math.nextafter(x, -math.inf)


def _above(x):
    return x + 1 if isinstance(x, int) else math.nextafter(x, math.inf)


def _boundary_cases():
    """(dotted, value, accepted) for every bound and choice declared in the schema."""
    for dotted, f in iter_fields():
        m = f.metadata
        is_list = isinstance(f.default, tuple)
        wrap = (lambda v, d=f.default: list(d[:-1]) + [v]) if is_list else (lambda v: v)
        for choice in m.get("choices", ()):
            yield dotted, choice, True
        if "choices" in m:
            yield dotted, "no-such-choice", False
        if "ge" in m:
            yield dotted, wrap(m["ge"]), True
            yield dotted, wrap(_below(m["ge"])), False
        if "gt" in m:
            yield dotted, wrap(m["gt"]), False
            yield dotted, wrap(_above(m["gt"])), True
        if "le" in m:
            yield dotted, wrap(m["le"]), True
            yield dotted, wrap(_above(m["le"])), False
        if "lt" in m:
            yield dotted, wrap(m["lt"]), False
            yield dotted, wrap(_below(m["lt"])), True
        if "min_len" in m:
            yield dotted, list(f.default[-m["min_len"]:]), True
            yield dotted, list(f.default[-m["min_len"] + 1:]), False


BOUNDARY_CASES = list(_boundary_cases())
# Settings that another field must accompany to be valid (cross-field rules).
CONTEXT = {"mgd.mode": {"mgd.tau_x": 2}, "chip.inp_res": {"chip.inp_bound": 1.0},
           "chip.out_res": {"chip.out_bound": 1.0},
           "chip.cost_line.bits": {"chip.cost_line.range": 1.0},
           "chip.integrator.bits": {"chip.integrator.lsb": 1.0},
           "chip.dac_bits": {"chip.inp_bound": 1.0}, "chip.adc_bits": {"chip.out_bound": 1.0}}


@pytest.mark.parametrize("dotted,value,accepted", BOUNDARY_CASES,
                         ids=[f"{d}={v!r}-{'ok' if a else 'bad'}" for d, v, a in BOUNDARY_CASES])
def test_schema_boundaries(dotted, value, accepted):
    base = RunConfig().with_overrides(CONTEXT.get(dotted, {}))
    if accepted:
        got = get(base.with_overrides({dotted: value}), dotted)
        assert got == (tuple(value) if isinstance(value, list) else value)
    else:
        msg = error_of(base.with_overrides, {dotted: value})
        assert msg.startswith("<overrides>: ") and f"{dotted}" in msg and "must be" in msg


def test_every_bounded_field_has_boundary_cases():
    covered = {d for d, _, _ in BOUNDARY_CASES}
    for dotted, f in iter_fields():
        if set(f.metadata) & {"choices", "ge", "gt", "le", "lt", "min_len"}:
            assert dotted in covered


@pytest.mark.parametrize("dotted", [d for d, f in iter_fields() if f.type is not str])
def test_wrong_types_rejected(dotted):
    f = dict(iter_fields())[dotted]
    bad = [{"a": 1}, "text"] + ([1] if f.type is bool else [True])
    if f.type is float:
        bad += [math.nan, math.inf, -math.inf]
    for value in bad:
        assert f"{dotted} = " in error_of(RunConfig().with_overrides, {dotted: value})


# ---------------------------------------------------------------------------- case C1: unknown keys

# case C1
@pytest.mark.parametrize("text,where,near", [
    ("[mgd]\namplitud = 0.05\n", "mgd.amplitud", "amplitude"),
    ("[sim]\nstpes = 100\n", "sim.stpes", "steps"),
    ("sed = 1\n", "sed", "seed"),
    ("[mgdd]\neta = 1.0\n", "[mgdd]", "mgd"),
])
def test_unknown_keys_in_file_name_nearest(tmp_path, text, where, near):
    path = write(tmp_path, text)
    msg = error_of(load_config, path)
    assert msg.startswith(f"{path}: {where}: unknown ")
    assert f"did you mean '{near}'?" in msg and "(valid keys: " in msg


# case C1
def test_unknown_key_in_override_names_the_set_argument(tmp_path):
    msg = error_of(load_config, write(tmp_path, ""), ["mgd.amplitud=0.05"])
    assert msg.startswith("--set mgd.amplitud=0.05: mgd.amplitud: unknown key; "
                          "did you mean 'amplitude'? (valid keys: perturbation, mode, amplitude,")


# ---------------------------------------------------------------------------- case C2: int/float rules

# case C2
def test_non_integral_float_for_int_is_error(tmp_path):
    path = write(tmp_path, "[sim]\nsteps = 1000.7\n")
    assert error_of(load_config, path) == f"{path}: sim.steps = 1000.7: must be an integer in [0, 2**62]"


# case C2
def test_list_element_error_names_index(tmp_path):
    path = write(tmp_path, "[network]\nsizes = [64, 32.5, 10]\n")
    assert error_of(load_config, path) == f"{path}: network.sizes[1] = 32.5: must be an integer ≥ 1"


# case C2
def test_integral_float_accepted_as_int_and_int_as_float(tmp_path):
    cfg = load_config(write(tmp_path, "[sim]\nsteps = 1e3\n[mgd]\namplitude = 1\n"))
    assert cfg.sim.steps == 1000 and type(cfg.sim.steps) is int
    assert cfg.mgd.amplitude == 1.0 and type(cfg.mgd.amplitude) is float


# case C2
@pytest.mark.parametrize("text,expected", [
    ("[sim]\nsteps = true\n", "sim.steps = true: must be an integer in [0, 2**62]"),
    ("[mgd]\neta = nan\n", "mgd.eta = nan: must be a finite number ≥ 0.0"),
    ("[network]\ninit_low = -inf\n", "network.init_low = -inf: must be a finite number"),
    ('[task]\nname = "xr"\n',
     'task.name = "xr": must be one of "xor", "parity", "digits", "mnist", '
     '"fashion_mnist", "cifar10", "files"; did you mean "xor"?'),
    ("mgd = 3\n", "mgd = 3: must be a table [mgd]"),
])
def test_type_errors(tmp_path, text, expected):
    path = write(tmp_path, text)
    assert error_of(load_config, path) == f"{path}: {expected}"


# ---------------------------------------------------------------------------- file handling

def test_latin1_file_is_rejected_as_not_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes('[task]\nname = "d\u00e9"\n'.encode("latin-1"))
    msg = error_of(load_config, path)
    assert msg.startswith(f"{path}: TOML must be UTF-8")


def test_missing_file_and_bad_toml(tmp_path):
    missing = tmp_path / "nope.toml"
    assert error_of(load_config, missing) == f"{missing}: config file not found (looked in {tmp_path})"
    assert error_of(load_config, write(tmp_path, "[sim\n")).startswith(f"{tmp_path / 'x.toml'}: invalid TOML")


# ---------------------------------------------------------------------------- overrides

def test_override_values_parse_as_toml_or_bare_string(tmp_path):
    path = write(tmp_path, '[task]\nname = "xor"\n')
    cfg = load_config(path, ["task.name=digits", "mgd.amplitude=0.1", "network.sizes=[2,2,1]",
                             "sim.stop_at_target=true", "seed=3", "sim.max_cost=5e3"])
    assert (cfg.task.name, cfg.mgd.amplitude, cfg.network.sizes) == ("digits", 0.1, (2, 2, 1))
    assert cfg.sim.stop_at_target is True and cfg.seed == 3 and cfg.sim.max_cost == 5000.0


def test_override_errors_name_the_set_argument(tmp_path):
    path = write(tmp_path, "")
    assert error_of(load_config, path, ["sim.steps=-1"]) == \
        "--set sim.steps=-1: sim.steps = -1: must be an integer in [0, 2**62]"
    assert error_of(load_config, path, ["oops"]) == "--set oops: expected section.key=value"
    assert error_of(load_config, path, ["mgd=1"]).startswith("--set mgd=1: mgd is a section")
    # a cross-field error caused by an override blames the override, not the file
    msg = error_of(load_config, write(tmp_path, '[network]\noutput_activation = "tanh"\n'),
                   ["network.cost=cross_entropy"])
    assert msg.startswith("--set network.cost=cross_entropy: network.output_activation")


def test_overrides_apply_together_before_cross_field_rules():
    cfg = RunConfig().with_overrides({"network.output_activation": "tanh"})
    both = cfg.with_overrides({"network.cost": "cross_entropy", "network.output_activation": "softmax"})
    assert both.network.resolved_output_activation == "softmax"
    assert cfg == RunConfig().with_overrides({"network.output_activation": "tanh"})  # frozen, unchanged


# ---------------------------------------------------------------------------- cross-field rules

@pytest.mark.parametrize("overrides,expected", [
    ({"network.init_low": 1.0}, "network.init_high = 1.0: must be > network.init_low = 1.0"),
    ({"network.cost": "cross_entropy", "network.output_activation": "sigmoid"},
     'network.output_activation = "sigmoid": must be "auto" or "softmax"'),
    ({"network.cost": "cross_entropy", "network.sizes": [4, 1]},
     "network.sizes = [4, 1]: must end in at least 2 outputs"),
    ({"sim.steps": 500, "sim.time_limit_s": 1.0},
     "sim.steps = 500: must be 0 or omitted when sim.time_limit_s > 0"),
])
def test_cross_field_rules(overrides, expected):
    assert error_of(RunConfig().with_overrides, overrides).startswith(f"<overrides>: {expected}")


def test_auto_output_activation_resolves_with_cost():
    cfg = RunConfig().with_overrides({"network.cost": "cross_entropy"})
    assert cfg.network.output_activation == "auto"
    assert cfg.network.resolved_output_activation == "softmax"
    relu = RunConfig().with_overrides({"network.activation": "relu"})
    assert relu.network.resolved_output_activation == "relu"


# ---------------------------------------------------------------------------- time limit

@pytest.mark.parametrize("dt,limit,expected", [(0.1, 1.0, 10), (0.1, 0.3, 3), (0.1, 0.7, 7),
                                               (0.3, 1.0, 3), (1e-6, 0.01, 10000),
                                               (0.1, 0.05, 0),
                                               # never a whole step past the budget (case E2)
                                               (1e-6, 1000.0000006, 1_000_000_000),
                                               (1e-9, 10.0000000006, 10_000_000_000),
                                               (1e-6, 1000.0, 1_000_000_000)])
def test_time_limit_steps(tmp_path, dt, limit, expected):
    cfg = load_config(write(tmp_path, f"[sim]\ndt = {dt!r}\ntime_limit_s = {limit!r}\n"))
    assert cfg.sim.steps == 0 and cfg.sim.total_steps() == expected


def test_time_limit_accepts_explicit_zero_or_default_steps():
    for steps in (0, 10000):
        cfg = RunConfig().with_overrides({"sim.steps": steps, "sim.time_limit_s": 2.0, "sim.dt": 0.5})
        assert cfg.sim.total_steps() == 4


# ---------------------------------------------------------------------------- docs

def test_docs_file_is_generated_text():
    expected = config_markdown()
    assert (REPO / "docs" / "config.md").read_text(encoding="utf-8") == expected, \
        "docs/config.md is stale: run `python -m hwsim.config > docs/config.md`"


def test_docs_cover_every_key_and_the_metrics_rule():
    text = config_markdown()
    assert ("metrics.csv has one row at step 0, one at every multiple of `eval_every`, and one at "
            "the final step if it is not a multiple: 1 + ceil(steps / eval_every) rows for a run "
            "that completes.") in text
    for dotted, f in iter_fields():
        assert f"| `{f.name}` |" in text and f.metadata["doc"] in text
    for section in ("`[task]`", "`[network]`", "`[mgd]`", "`[sim]`"):
        assert f"## {section}" in text


def test_module_main_prints_docs():
    out = subprocess.run([sys.executable, "-m", "hwsim.config"], cwd=REPO, check=True,
                         capture_output=True).stdout.decode("utf-8")
    assert out == config_markdown()
