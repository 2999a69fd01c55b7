"""[[network.layers]]: the config records, shape inference, parameter counts and the routing
of dense-only lists to the MLP (issue 11). Independent values: the parameter counts of the
authors' CNNs (McCaughan, Oripov et al. 2023), hand-computed shapes, the `sizes` path."""

import numpy as np
import pytest

from hwsim.chip.layers import LayerNet, build_network, infer_shapes, io_widths
from hwsim.chip.network import MLP
from hwsim.config import NetworkConfig, RunConfig
from hwsim.exceptions import ConfigError
from hwsim.learn.trainer import build_chip

FASHION = [dict(type="conv2d", channels=16, kernel=3), dict(type="maxpool", size=2),
           dict(type="conv2d", channels=32, kernel=3), dict(type="maxpool", size=2),
           dict(type="conv2d", channels=32, kernel=3), dict(type="maxpool", size=2),
           dict(type="flatten"), dict(type="dense", units=10)]
CIFAR = [dict(type="conv2d", channels=16, kernel=3), dict(type="maxpool", size=2),
         dict(type="conv2d", channels=32, kernel=3), dict(type="maxpool", size=2),
         dict(type="conv2d", channels=64, kernel=3), dict(type="maxpool", size=2),
         dict(type="flatten"), dict(type="dense", units=10)]


def net_of(layers, shape, **kw):
    return build_network(NetworkConfig(layers=layers, activation="relu", **kw), shape)


def test_the_authors_cnns_have_14378_and_26154_parameters():
    f = net_of(FASHION, (28, 28), cost="cross_entropy")
    c = net_of(CIFAR, (3, 32, 32), cost="cross_entropy")
    assert isinstance(f, LayerNet) and f.n_params == 14_378
    assert c.n_params == 26_154
    # 28 → 26 → 13 → 11 → 5 → 3 → 1; 32 → 30 → 15 → 13 → 6 → 4 → 2 (hand computed)
    assert [s.out_shape for s in f.shapes][:6] == [
        (16, 26, 26), (16, 13, 13), (32, 11, 11), (32, 5, 5), (32, 3, 3), (32, 1, 1)]
    assert c.shapes[6].out_shape == (256,)
    # layer offsets: conv0 16·9 + 16, conv1 32·144 + 32, ...
    assert f.layer_slices(2)[0] == slice(160, 160 + 4608) and f.layer_slices(7)[1].stop == 14_378


def test_shapes_with_stride_padding_and_avgpool():
    s = infer_shapes([dict(type="conv2d", channels=3, kernel=3, stride=2, padding=1),
                      dict(type="avgpool", size=2, stride=1), dict(type="flatten"),
                      dict(type="dense", units=2)], (2, 9, 6))
    # (9 + 2 − 3)//2 + 1 = 5, (6 + 2 − 3)//2 + 1 = 3; pool 2 stride 1: 4 × 2
    assert [x.out_shape for x in s] == [(3, 5, 3), (3, 4, 2), (24,), (2,)]
    assert [x.n_w + x.n_b for x in s] == [3 * 2 * 9 + 3, 0, 0, 24 * 2 + 2]


@pytest.mark.parametrize("layers,shape,msg", [
    ([dict(type="conv2d", channels=2, kernel=5), dict(type="flatten"),
      dict(type="dense", units=2)], (4, 4),
     r"^network.layers\[0\].kernel = 5: larger than its input 4×4 \(padding 0\): allowed ≤ 4$"),
    ([dict(type="conv2d", channels=2, kernel=3), dict(type="dense", units=2)], (6, 6),
     r"^network.layers\[1\].type = 'dense': its input is 2×4×4 \(C×H×W\): put a flatten"),
    ([dict(type="flatten"), dict(type="maxpool", size=2), dict(type="dense", units=2)], (6, 6),
     r"^network.layers\[1\].type = 'maxpool': needs an image input"),
    ([dict(type="conv2d", channels=2, kernel=3)], (6, 6),
     r"^network.layers\[0\].type = 'conv2d': the last layer must be dense"),
    ([dict(type="conv2d", channels=2, kernel=3), dict(type="flatten"),
      dict(type="dense", units=2, activation="relu")], (6, 6),
     r"^network.layers\[2\].activation = 'relu': the last layer takes network.output_activation"),
])
def test_shape_errors_name_the_layer_field_and_what_is_allowed(layers, shape, msg):
    with pytest.raises(ConfigError, match=msg):
        net_of(layers, shape)


def test_config_errors_name_the_layer_field():
    cfg = RunConfig()
    for o, msg in (('network.layers=[{type="conv2d", channels=2}]',
                    r'network.layers\[0\].kernel = 0: must be ≥ 1 for type = "conv2d"'),
                   ('network.layers=[{type="dense", units=3, kernel=2}]',
                    r'network.layers\[0\].kernel = 2: is not used by type = "dense"'),
                   ('network.layers=[{type="dense", unitz=3}]',
                    r"network.layers\[0\].unitz = 3: unknown key; allowed: .*did you mean 'units'"),
                   ('network.layers=[{type="pool", size=2}]',
                    r'network.layers\[0\].type = "pool": must be one of'),
                   ("network.layers=3", r"network.layers = 3: must be a list of tables")):
        with pytest.raises(ConfigError, match=msg):
            cfg.with_overrides([o])
    with pytest.raises(ConfigError, match=r"network.layers = .*must end in a dense layer of at "
                       "least 2 units"):
        NetworkConfig(layers=[dict(type="dense", units=1)], cost="cross_entropy")
    with pytest.raises(ConfigError, match=r"^network.input_shape = \[\]: needed with "
                       "network.layers and task.name = 'files'"):
        io_widths(NetworkConfig(layers=FASHION), "files")
    assert io_widths(NetworkConfig(layers=FASHION), "fashion_mnist") == (784, 10)
    assert io_widths(NetworkConfig(layers=FASHION, input_shape=(1, 28, 28)), "files") == (784, 10)


def test_layers_round_trip_through_toml_and_keep_the_old_hash(tmp_path):
    from hwsim.chip.profiles import load_profile
    from hwsim.config import dump_config, load_config
    from hwsim.learn.trainer import defining_hash
    cfg = RunConfig.from_dict({"network": {"layers": FASHION, "input_shape": [1, 28, 28]}})
    dump_config(cfg, tmp_path / "c.toml")
    back = load_config(tmp_path / "c.toml")
    assert back.network.layers == cfg.network.layers and back.network.input_shape == (1, 28, 28)
    assert "[[network.layers]]" in (tmp_path / "c.toml").read_text()
    prof = load_profile("ideal")
    assert defining_hash(cfg, prof) != defining_hash(RunConfig(), prof)


def test_dense_only_layers_are_the_mlp_bit_for_bit():
    base = {"seed": 4, "task": {"name": "digits", "n_train": 200, "n_test": 50},
            "network": {"sizes": [64, 12, 10], "cost": "cross_entropy"},
            "mgd": {"batch": 4, "eta": 1.0}}
    lay = dict(base, network={"cost": "cross_entropy", "layers": [
        {"type": "dense", "units": 12}, {"type": "dense", "units": 10}]})
    flat = dict(lay, network=dict(lay["network"], layers=[{"type": "flatten"}]
                                  + lay["network"]["layers"]))
    first, _, ds = build_chip(RunConfig.from_dict(base))
    chips = [first] + [build_chip(RunConfig.from_dict(d), dataset=ds)[0] for d in (lay, flat)]
    assert all(type(c.network) is MLP and list(c.network.sizes) == [64, 12, 10] for c in chips)
    for c in chips:
        c.advance(60)
    assert np.array_equal(chips[0].theta, chips[1].theta)
    assert np.array_equal(chips[0].theta, chips[2].theta)
    with pytest.raises(ConfigError, match=r"network.layers\[0\].activation = 'tanh': a dense "
                       "stack has one hidden activation"):
        net_of([dict(type="dense", units=3, activation="tanh"), dict(type="dense", units=2)],
               (4,))


@pytest.mark.parametrize("name,shape,P", [("fashion_cnn", (1, 28, 28), 14_378),
                                          ("cifar10_cnn", (3, 32, 32), 26_154)])
def test_the_cnn_examples_load_and_have_the_papers_shapes(name, shape, P):
    from pathlib import Path

    from hwsim.config import load_config
    cfg = load_config(Path(__file__).parent.parent / "examples" / f"{name}.toml")
    assert cfg.network.input_shape == shape and cfg.mgd.batch == 1000
    net = build_network(cfg.network, ())
    assert net.n_params == P and list(net.sizes[[0, -1]]) == [int(np.prod(shape)), 10]
    assert cfg.network.cost == "cross_entropy" and net.output_activation == "softmax"
    if name == "cifar10_cnn":  # C̃ clamped to ±0.01 by the finest quantiser
        assert (cfg.mgd.amplitude, cfg.chip.cost_line.range, cfg.chip.cost_line.bits) == (
            0.001, 0.01, 52)
    else:
        assert (cfg.mgd.amplitude, cfg.mgd.eta) == (0.1, 10.0)
