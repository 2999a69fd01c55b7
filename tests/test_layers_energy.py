"""A layer network in the energy model and the plot title: crossbar rows by hand."""

from pathlib import Path

from hwsim.chip.layers import crossbar_widths
from hwsim.config import load_config
from hwsim.energy import crossbar_rows
from hwsim.experiment import plot_title

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_fashion_cnn_crossbar_rows_by_hand():
    cfg = load_config(EXAMPLES / "fashion_cnn.toml")
    # Each weight layer occupies fan-in + 1 (bias) rows: 1·3·3, 16·3·3, 32·3·3 and 32 inputs.
    assert crossbar_widths(cfg.network, cfg.task.name) == [9, 144, 288, 32, 10]
    assert crossbar_rows(crossbar_widths(cfg.network, cfg.task.name)) == 10 + 145 + 289 + 33


def test_a_dense_stack_keeps_its_sizes():
    cfg = load_config(EXAMPLES / "digits.toml")
    assert crossbar_widths(cfg.network, cfg.task.name) == list(cfg.network.sizes)


def test_the_plot_title_names_the_layers():
    cfg = load_config(EXAMPLES / "fashion_cnn.toml")
    title, _ = plot_title(cfg)
    assert "conv3x3→16 maxpool2" in title and "dense10" in title
    assert str(list(cfg.network.sizes)) not in title
